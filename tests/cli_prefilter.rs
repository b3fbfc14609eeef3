//! `shareexec --prefilter on|off|auto`: the same output on every fixture corpus (ECS
//! and Sysmon, through the automatic format detection), in the default configuration
//! and at Elasticsearch semantics with lateness 0 — `auto` the same bad lines too;
//! `--stats` reports the skipped lines.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod support;

use support::{BIN, ROOT};

fn fixtures() -> Vec<PathBuf> {
    support::fixture_corpora()
        .into_iter()
        // The library-level test (tests/prefilter.rs) runs the 100k corpus; six runs
        // of the (unoptimized) binary over it would take minutes.
        .filter(|p| !p.to_string_lossy().contains("defend-100k"))
        .collect()
}

/// (stdout, stderr's stats object without the prefilter's own fields and the time).
fn run(file: &Path, extra: &[&str], prefilter: &str) -> (String, serde_json::Value) {
    let out = Command::new(BIN)
        .args(extra)
        .args(["--explain", "--stats", "--output-format", "json"])
        .args(["--prefilter", prefilter])
        .arg(file)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let mut stats: serde_json::Value = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .unwrap_or_else(|| panic!("no stats for {}: {stderr}", file.display()));
    let object = stats.as_object_mut().unwrap();
    object.remove("seconds");
    object.remove("prefilter");
    object.remove("skipped_lines");
    object.remove("unvalidated_skipped_lines");
    object.remove("fast_path_lines");
    (String::from_utf8(out.stdout).unwrap(), stats)
}

#[test]
fn the_prefilter_changes_no_output_on_any_fixture() {
    let mut files = 0;
    for file in fixtures() {
        for extra in [
            &[][..],
            &["--semantics", "elasticsearch", "--max-lateness", "0"][..],
        ] {
            let mut off = run(&file, extra, "off");
            let mut on = run(&file, extra, "on");
            let mut auto = run(&file, extra, "auto");
            // `on` does not validate what it skips: bad lines among them are not
            // reported (the oracle outputs among the fixtures have no `@timestamp`).
            // `auto` reports every one. Everything else is the same.
            let bad = |run: &mut (String, serde_json::Value)| {
                run.1
                    .as_object_mut()
                    .unwrap()
                    .remove("bad_lines")
                    .unwrap()
                    .as_u64()
                    .unwrap()
            };
            let (bad_off, bad_on, bad_auto) = (bad(&mut off), bad(&mut on), bad(&mut auto));
            assert!(bad_on <= bad_off, "{}", file.display());
            assert_eq!(bad_auto, bad_off, "{}", file.display());
            if !file.to_string_lossy().contains(".oracle") {
                assert_eq!(bad_on, bad_off, "{}", file.display());
            }
            assert_eq!(off, on, "{} {extra:?}", file.display());
            assert_eq!(off, auto, "{} {extra:?}", file.display());
        }
        files += 1;
    }
    assert!(files > 55, "{files}");
}

#[test]
fn stats_count_the_skipped_lines() {
    let file = Path::new(ROOT).join("tests/fixtures/gen/defend-20k.ndjson.gz");
    let stats = |args: &[&str]| -> serde_json::Value {
        let out = Command::new(BIN)
            .args(args)
            .args(["--stats", "--output-format", "json"])
            .arg(&file)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        serde_json::from_str(stderr.lines().rev().find(|l| l.starts_with('{')).unwrap()).unwrap()
    };
    let auto = stats(&["--semantics", "elasticsearch", "--max-lateness", "0"]);
    assert_eq!(auto["prefilter"], "validating");
    assert!(auto["skipped_lines"].as_u64().unwrap() > 10_000, "{auto}");
    assert_eq!(auto["unvalidated_skipped_lines"], 0, "{auto}");
    assert!(auto["fast_path_lines"].as_u64().unwrap() > 1_000, "{auto}");
    let on = stats(&["--prefilter", "on"]);
    assert_eq!(on["prefilter"], "fast");
    assert!(
        on["unvalidated_skipped_lines"].as_u64().unwrap() > 5_000,
        "{on}"
    );
    // Hardened, lateness 10 s: every line of the corpus is plain enough for the scan:
    // each is skipped or handed over whole (process starts and possible writes), none
    // needs the full decode.
    assert!(
        on["fast_path_lines"].as_u64().unwrap() >= on["detector"]["executions"].as_u64().unwrap(),
        "{on}"
    );
    assert_eq!(
        on["fast_path_lines"].as_u64().unwrap() + on["skipped_lines"].as_u64().unwrap(),
        on["lines"].as_u64().unwrap(),
        "hardened, lateness 10 s: {on}"
    );
    let off = stats(&["--prefilter", "off"]);
    assert_eq!(off["prefilter"], "off");
    assert_eq!(off["skipped_lines"], 0);
}
