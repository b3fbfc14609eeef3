//! The `shareexec` binary end to end: conformance on committed fixtures, bad input,
//! exit codes, line numbering across inputs.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::Output;

mod support;
use support::ROOT;

fn run_bin(args: &[&str]) -> Output {
    support::shareexec(args, None)
}

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    support::shareexec(args, Some(input))
}

fn verdicts(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// (events[0].line, events[1].line) of each alert: the external conformance contract.
fn alert_lines(out: &Output) -> BTreeSet<(u64, u64)> {
    verdicts(out)
        .iter()
        .filter(|v| v["shareexec"]["verdict"] == "alert")
        .map(|v| {
            (
                v["events"][0]["line"].as_u64().unwrap(),
                v["events"][1]["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn oracle(path: &str) -> BTreeSet<(u64, u64)> {
    std::fs::read_to_string(format!("{ROOT}/{path}"))
        .unwrap()
        .lines()
        .map(|l| {
            let m: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                m["file.line"].as_u64().unwrap(),
                m["process.line"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// 100 000 generated Elastic Defend events (gen.py seed 11, gzip): `elasticsearch`
/// reproduces Elastic's engine exactly; `hardened` finds a superset.
#[test]
fn generated_100k_matches_the_oracle() {
    let input = "tests/fixtures/gen/defend-100k.ndjson.gz";
    let es = run_bin(&[
        "--semantics",
        "elasticsearch",
        "--max-lateness",
        "10s",
        input,
    ]);
    assert!(es.status.success(), "{}", stderr(&es));
    let want = oracle("tests/fixtures/gen/defend-100k.oracle-es.ndjson");
    assert_eq!(want.len(), 232);
    let got = alert_lines(&es);
    assert_eq!(
        got,
        want,
        "missing {:?} extra {:?}",
        want.difference(&got),
        got.difference(&want)
    );
    let hard = run_bin(&[
        "--semantics",
        "hardened",
        "--max-lateness",
        "10s",
        "--explain",
        input,
    ]);
    let hard_execs: BTreeSet<u64> = verdicts(&hard)
        .iter()
        .filter(|v| v["events"].as_array().is_some_and(|e| e.len() == 2))
        .map(|v| v["events"][1]["line"].as_u64().unwrap())
        .collect();
    assert!(want.iter().all(|(_, e)| hard_execs.contains(e)));
    assert!(alert_lines(&hard).len() > want.len());
}

/// A lateness beyond what the library's default idle-host timeout (600 s) covers:
/// the CLI raises the timeout itself (it has no option for it) instead of refusing
/// the run with an error about a setting the user cannot reach; a lateness too long
/// to represent with the rule's maxspan is refused, naming the option.
#[test]
fn long_lateness_runs() {
    let input = "tests/fixtures/gen/defend-20k.ndjson.gz";
    let want = oracle("tests/fixtures/gen/defend-20k.oracle-es.ndjson");
    for lateness in ["9m", "541s", "1h", "100000h"] {
        let out = run_bin(&[
            "--semantics",
            "elasticsearch",
            "--max-lateness",
            lateness,
            input,
        ]);
        assert!(out.status.success(), "{lateness}: {}", stderr(&out));
        assert_eq!(alert_lines(&out), want, "{lateness}");
    }
    for lateness in ["9223372036854775807ns", "9223372000s"] {
        let out = run_bin(&["--max-lateness", lateness, "data/sample.ndjson"]);
        assert_eq!(out.status.code(), Some(2), "{lateness}");
        assert!(
            stderr(&out).contains("--max-lateness is too long"),
            "{}",
            stderr(&out)
        );
    }
}

/// The bundled sample: its stored Elasticsearch result, and the run a newcomer sees.
#[test]
fn sample_matches_its_oracle() {
    let out = run_bin(&["--semantics", "elasticsearch", "data/sample.ndjson"]);
    assert_eq!(alert_lines(&out), oracle("data/sample.oracle-es.ndjson"));
    // No FILE, and /dev/null on stdin (a job runner, an IDE, `cargo run --release`
    // started by a script): the bundled sample, as on a terminal, and it says so.
    let out = run_bin(&[]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("bundled sample"), "{}", stderr(&out));
    let explicit = run_bin(&["data/sample.ndjson"]);
    assert!(!alert_lines(&explicit).is_empty());
    assert_eq!(alert_lines(&out), alert_lines(&explicit));
    // No FILE and a pipe on stdin: the pipe is read, even when it is empty.
    let out = run_with_stdin(&[], b"");
    assert!(out.status.success());
    assert!(verdicts(&out).is_empty());
    assert!(stderr(&out).contains("0 lines"), "{}", stderr(&out));
}

/// Bad lines are skipped and reported with their line numbers; the run goes on and
/// nothing pending is lost, even with a bad line between a write and its execution.
#[test]
fn bad_lines_are_skipped_and_reported() {
    let write = r#"{"@timestamp":"2024-01-03T14:00:00Z","id":"w","event":{"category":"file","type":"creation"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},"file":{"path":"C:\\x.exe","extension":"exe"}}"#;
    let exec = r#"{"@timestamp":"2024-01-03T14:00:05Z","id":"p","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":9,"executable":"C:\\x.exe"}}"#;
    let input = format!(
        "{write}\nnot json\n{{\"event\":{{\"category\":\"file\"}}}}\n{{\"@timestamp\":\"yesterday\"}}\n\u{0}\n{exec}\n"
    );
    let out = run_with_stdin(&["-"], input.as_bytes());
    assert!(out.status.success());
    assert_eq!(alert_lines(&out), BTreeSet::from([(1, 6)]));
    let err = stderr(&out);
    for line in [
        "-:2 (line 2)",
        "-:3 (line 3)",
        "-:4 (line 4)",
        "-:5 (line 5)",
    ] {
        assert!(err.contains(line), "{line} not in {err}");
    }
    assert!(err.contains("4 bad lines"), "{err}");
    // --strict stops at the first one with exit code 2.
    let out = run_with_stdin(&["--strict", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(verdicts(&out).is_empty());
}

/// Line numbers count across all inputs in the order given; `source` names the file.
#[test]
fn line_numbers_span_inputs() {
    let dir = std::env::temp_dir().join(format!("shareexec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sample = std::fs::read(format!("{ROOT}/data/sample.ndjson")).unwrap();
    let cut = support::line_end(&sample, 999) + 1;
    let (a, b) = (dir.join("a.ndjson"), dir.join("b.ndjson.gz"));
    std::fs::write(&a, &sample[..cut]).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&sample[cut..]).unwrap();
    std::fs::write(&b, gz.finish().unwrap()).unwrap();
    let out = run_bin(&[
        "--semantics",
        "elasticsearch",
        a.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert_eq!(alert_lines(&out), oracle("data/sample.oracle-es.ndjson"));
    let sources: BTreeSet<String> = verdicts(&out)
        .iter()
        .flat_map(|v| {
            v["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["source"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(sources.len(), 2, "{sources:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--explain` adds suppressed sequences with the trust reason.
#[test]
fn explain_shows_suppressions() {
    let out = run_bin(&["--explain", "data/sample.ndjson"]);
    let suppressed: Vec<_> = verdicts(&out)
        .into_iter()
        .filter(|v| v["shareexec"]["verdict"] == "suppressed")
        .collect();
    assert!(!suppressed.is_empty());
    assert!(suppressed.iter().all(|v| {
        v["shareexec"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("trusted ")
    }));
}

#[test]
fn exit_codes_and_stats() {
    let out = run_bin(&["no/such/file.ndjson"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no/such/file.ndjson"));
    let out = run_bin(&["--max-lateness", "ten"]);
    assert_eq!(out.status.code(), Some(2));
    // A cap of 0 is refused naming the option (not the library's field).
    for option in ["--max-pending", "--max-pending-per-host", "--max-hosts"] {
        let out = run_bin(&[option, "0", "data/sample.ndjson"]);
        assert_eq!(out.status.code(), Some(2), "{option}");
        assert!(
            stderr(&out).contains(&format!("'{option} <N>'")),
            "{}",
            stderr(&out)
        );
    }
    let out = run_bin(&["--stats", "data/sample.ndjson"]);
    let last = stderr(&out).lines().last().unwrap().to_string();
    let stats: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(stats["lines"], 2500);
    assert_eq!(
        stats["detector"]["alerts"].as_u64().unwrap() as usize,
        alert_lines(&out).len()
    );
}

/// A damaged `.evtx` record is a bad line like any other: `FILE:N (line M)` where N counts
/// the file's records, and `--stats` counts the file's bytes.
#[test]
fn damaged_evtx_records_are_bad_lines() {
    if !cfg!(feature = "evtx") {
        return;
    }
    let original = std::fs::read(format!(
        "{ROOT}/tests/fixtures/evtx/ID11,13,17,18-PSexec as system execution.evtx"
    ))
    .unwrap();
    let mut damaged = original.clone();
    // Records start with `**\0\0`; garble the body of the third and fourth.
    let records: Vec<usize> = original
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"**\0\0")
        .map(|(i, _)| i)
        .collect();
    for &at in &records[2..4] {
        damaged[at + 30..at + 60].fill(0xAB);
    }
    let dir = std::env::temp_dir().join(format!("shareexec-evtx-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("damaged.evtx");
    std::fs::write(&path, &damaged).unwrap();
    let name = path.to_str().unwrap();
    let out = run_bin(&["--stats", name]);
    std::fs::remove_dir_all(&dir).ok();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    for n in [3, 4] {
        assert!(
            err.contains(&format!("{name}:{n} (line {n}): record {n}: ")),
            "{err}"
        );
    }
    let stats: serde_json::Value = serde_json::from_str(err.lines().last().unwrap()).unwrap();
    assert_eq!(stats["bad_lines"], 2);
    assert_eq!(stats["bytes"], damaged.len());
}

/// UTF-16 input (what Windows PowerShell 5's `>` writes) makes every line bad: the first
/// line's error says why, on every thread count.
#[test]
fn utf16_input_is_named() {
    let mut input = vec![0xFF, 0xFE];
    for b in "{\"a\":1}\n{\"b\":2}\n".bytes() {
        input.extend([b, 0]);
    }
    for threads in ["0", "2"] {
        let out = run_with_stdin(&["--threads", threads, "-"], &input);
        let err = stderr(&out);
        assert_eq!(err.matches("UTF-16 byte-order mark").count(), 1, "{err}");
        assert!(
            err.contains("-:1 (line 1): column 1: not valid UTF-8 (the input starts"),
            "{err}"
        );
    }
    let plain = run_with_stdin(&["-"], b"\xFF\n");
    assert!(!stderr(&plain).contains("UTF-16"), "{}", stderr(&plain));
}

/// Real recordings (hard negative, half sequences): silent in both semantics.
#[test]
fn real_data_hard_negatives_stay_silent() {
    let mut files: Vec<String> = std::fs::read_dir(format!("{ROOT}/tests/fixtures/realdata"))
        .unwrap()
        .map(|e| e.unwrap().path().to_string_lossy().into_owned())
        .filter(|p| p.contains(".ndjson"))
        .collect();
    files.sort();
    for sem in ["elasticsearch", "hardened"] {
        let mut args = vec!["--semantics", sem];
        args.extend(files.iter().map(String::as_str));
        let out = run_bin(&args);
        assert!(out.status.success());
        assert!(alert_lines(&out).is_empty(), "{sem}");
        assert!(stderr(&out).contains(" 0 bad lines"), "{}", stderr(&out));
    }
}

/// The README's two ECS sample lines are a true positive, reported at lines 1 and 2.
#[test]
fn readme_sample_lines_alert() {
    readme_pair_alerts_in_both_semantics(
        "### Input: Elastic Defend (ECS) NDJSON",
        "{\"@timestamp\"",
    );
}

/// `shareexec rule` renders the active configuration: the rule's own query for
/// `--semantics elasticsearch`, and the adjusted vendor list when asked.
#[test]
fn rule_subcommand_renders_the_active_policy() {
    let out = run_bin(&["rule", "--semantics", "elasticsearch"]);
    assert!(out.status.success());
    let eql = String::from_utf8(out.stdout).unwrap();
    assert!(eql.starts_with("sequence with maxspan=1m"), "{eql}");
    assert!(eql.contains("\"Sophos Ltd\"") && !eql.contains("Adobe"));
    let out = run_bin(&[
        "rule",
        "--trust-vendor",
        "Contoso Ltd",
        "--distrust-vendor",
        "Sophos Ltd",
    ]);
    let eql = String::from_utf8(out.stdout).unwrap();
    assert!(
        eql.contains("\"Contoso Ltd\"")
            && eql.contains("\"Adobe Inc.\"")
            && !eql.contains("Sophos")
    );
    let out = run_bin(&["rule", "--format", "sigma"]);
    let sigma = String::from_utf8(out.stdout).unwrap();
    assert!(
        sigma.contains("type: temporal_ordered") && sigma.contains("timespan: 1m"),
        "{sigma}"
    );
}

/// The real PsExec true positive (written from the facts of a public recording) in
/// Elastic Defend shape and in three Sysmon shapes: one alert, in both modes, at
/// lines 1 and 2. Sysmon carries no code signature, so the policy sees "unknown".
#[test]
fn psexec_true_positive_in_every_shape() {
    for file in [
        "tests/fixtures/tp/psexec-defend.ndjson",
        "tests/fixtures/sysmon/psexec-tp.winlogbeat.ndjson",
        "tests/fixtures/sysmon/psexec-tp.otrf.ndjson",
        "tests/fixtures/sysmon/psexec-tp.evtx.ndjson",
    ] {
        for sem in ["elasticsearch", "hardened"] {
            let out = run_bin(&["--semantics", sem, file]);
            assert_eq!(
                alert_lines(&out),
                BTreeSet::from([(1, 2)]),
                "{file} {sem}: {}",
                stderr(&out)
            );
            let v = &verdicts(&out)[0];
            assert_eq!(v["file"]["path"], "C:\\Windows\\PSEXESVC.exe");
            assert_eq!(v["events"][0]["@timestamp"], "2020-08-27T11:40:56.396Z");
        }
    }
}

/// Real Sysmon recordings (the PsExec hard negative, the SMB half sequence) and the
/// CC0 `.evtx` files: every record decodes, nothing alerts.
#[test]
fn real_sysmon_and_evtx_stay_silent() {
    let mut files = vec![
        "tests/fixtures/sysmon/otrf__cmd_psexec_lsa_secrets_dump.sysmon.ndjson.gz",
        "tests/fixtures/sysmon/otrf__covenant_copy_smb_CreateRequest.sysmon.ndjson.gz",
    ];
    if cfg!(feature = "evtx") {
        files.push("tests/fixtures/evtx/ID11,13,17,18-PSexec as system execution.evtx");
        files.push(
            "tests/fixtures/evtx/ID4688,4697,5140-5145 PSexec remote execution + admin share.evtx",
        );
    }
    for sem in ["elasticsearch", "hardened"] {
        let mut args = vec!["--semantics", sem];
        args.extend(&files);
        let out = run_bin(&args);
        assert!(out.status.success());
        assert!(alert_lines(&out).is_empty(), "{sem}");
        assert!(stderr(&out).contains(" 0 bad lines"), "{}", stderr(&out));
    }
}

/// The README's two Sysmon sample lines are a true positive too.
#[test]
fn readme_sysmon_lines_alert() {
    readme_pair_alerts_in_both_semantics("### Input: Sysmon", "{\"SourceName\"");
}

/// `--output-format text` (the default on a terminal): one line per verdict for a person.
#[test]
fn text_output_for_people() {
    let out = run_bin(&["--output-format", "text", "--explain", "data/sample.ndjson"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let alerts = text.lines().filter(|l| l.starts_with("ALERT ")).count();
    let json = run_bin(&["data/sample.ndjson"]);
    assert_eq!(alerts, alert_lines(&json).len());
    assert!(
        text.lines()
            .any(|l| l.starts_with("suppressed ") && l.contains("[trusted signer")),
        "{text}"
    );
    assert!(text.contains("written data/sample.ndjson:"));
}

/// `--state`: three runs over three consecutive pieces of the sample find exactly
/// what one run over the whole finds, with the same line numbers; a damaged state
/// file is an error, not a fresh start.
#[test]
fn state_carries_sequences_across_runs() {
    let dir = std::env::temp_dir().join(format!("shareexec-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sample = std::fs::read_to_string(format!("{ROOT}/data/sample.ndjson")).unwrap();
    let lines: Vec<&str> = sample.lines().collect();
    let state = dir.join("hunt.state");
    let mut found = BTreeSet::new();
    for (i, chunk) in lines.chunks(900).enumerate() {
        let part = dir.join(format!("part{i}.ndjson"));
        std::fs::write(&part, chunk.join("\n") + "\n").unwrap();
        let out = run_bin(&[
            "--semantics",
            "elasticsearch",
            "--state",
            state.to_str().unwrap(),
            part.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        found.extend(alert_lines(&out));
    }
    assert_eq!(found, oracle("data/sample.oracle-es.ndjson"));
    std::fs::write(
        &state,
        b"{\"format\":\"shareexec-cli-state\",\"version\":1}\ngarbage",
    )
    .unwrap();
    let out = run_bin(&["--state", state.to_str().unwrap(), "data/sample.ndjson"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a usable state file"),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The first two lines starting with `prefix` after the README heading `section` are a
/// write and its execution: piped to the binary they alert, in both semantics.
fn readme_pair_alerts_in_both_semantics(section: &str, prefix: &str) {
    let readme = std::fs::read_to_string(format!("{ROOT}/README.md")).unwrap();
    let block = readme.split(section).nth(1).unwrap();
    let lines: Vec<&str> = block
        .lines()
        .filter(|l| l.starts_with(prefix))
        .take(2)
        .collect();
    assert_eq!(lines.len(), 2, "{section}");
    let input = format!("{}\n{}\n", lines[0], lines[1]);
    for sem in ["elasticsearch", "hardened"] {
        let out = run_with_stdin(&["--semantics", sem, "-"], input.as_bytes());
        assert_eq!(
            alert_lines(&out),
            BTreeSet::from([(1, 2)]),
            "{section}, {sem}: {}",
            stderr(&out)
        );
    }
}

/// Every object of every alert has its keys in sorted order, whatever features the
/// build has: `--all-features` turns on serde_json's `preserve_order` (through evtx),
/// and the same input must give the same bytes from every build.
#[test]
fn alert_json_keys_are_sorted_in_every_build() {
    fn sorted(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => {
                map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b) && map.values().all(sorted)
            }
            serde_json::Value::Array(items) => items.iter().all(sorted),
            _ => true,
        }
    }
    let out = run_bin(&["--explain", "--output-format", "json", "data/sample.ndjson"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().count() > 10);
    for line in text.lines() {
        // Parsed keeping the order written (serde_json::Map keeps insertion order only
        // with `preserve_order`; check the text itself too).
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(sorted(&value), "{line}");
        let keys: Vec<usize> = ["\"@timestamp\"", "\"event\"", "\"rule\"", "\"shareexec\""]
            .iter()
            .filter_map(|k| line.find(k))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{line}");
    }
}
