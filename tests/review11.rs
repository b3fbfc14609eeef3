//! Review 11: documentation claims checked against the code, as a new user would
//! read them (README, docs/semantics.md, docs/bad-input.md, docs/ffi.md).
#![cfg(feature = "cli")]

use std::process::Output;

mod support;

const WRITE: &str = r#"{"@timestamp":"2024-01-03T14:00:00.120Z","event":{"category":["file"],"type":["creation"]},"host":{"id":"HOST","os":{"type":"windows"}},"process":{"pid":4},"file":{"path":"C:\\Windows\\x.exe","extension":"exe"}}"#;
const START: &str = r#"{"@timestamp":"2024-01-03T14:00:00.330Z","event":{"category":["process"],"type":["start"]},"host":{"id":"HOST","os":{"type":"windows"}},"process":{"pid":3120,"executable":"C:\\Windows\\x.exe"}}"#;

fn run_with_stdin(args: &[&str], input: &[u8]) -> Output {
    support::shareexec(args, Some(input))
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stats(out: &Output) -> serde_json::Value {
    let err = String::from_utf8_lossy(&out.stderr);
    serde_json::from_str(err.lines().last().unwrap()).unwrap()
}

/// docs/semantics.md: "`host.id` longer than 256 bytes (`MAX_HOST_ID_BYTES`) never
/// joins and is counted as `unkeyed`" (the page said 1 024 bytes; the constant is 256).
#[test]
fn host_id_longer_than_max_host_id_bytes_never_joins() {
    assert_eq!(shareexec::MAX_HOST_ID_BYTES, 256);
    for (len, alerts, unkeyed) in [(256, 1, 0), (257, 0, 2)] {
        let host = "h".repeat(len);
        let input = format!(
            "{}\n{}\n",
            WRITE.replace("HOST", &host),
            START.replace("HOST", &host)
        );
        let out = run_with_stdin(&["--stats", "-"], input.as_bytes());
        assert_eq!(out.status.code(), Some(0));
        let s = stats(&out);
        assert_eq!(s["detector"]["alerts"], alerts, "host.id of {len} bytes");
        assert_eq!(s["detector"]["unkeyed"], unkeyed, "host.id of {len} bytes");
    }
}

/// `--output-format text` names each event as `FILE:N` like the bad-line messages do,
/// with N the line within that file (and the global line when it differs), not the
/// line counted across all inputs under the name of the file that holds it.
#[test]
fn text_output_names_the_line_within_its_file() {
    let dir = std::env::temp_dir().join(format!("shareexec-review11-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = dir.join("first.ndjson");
    let second = dir.join("second.ndjson");
    std::fs::write(&first, format!("{}\n", WRITE.replace("HOST", "h0"))).unwrap();
    // Line 1 of second.ndjson (line 2 overall) is the write, line 2 (3 overall) the start.
    std::fs::write(
        &second,
        format!(
            "{}\n{}\n",
            WRITE.replace("HOST", "h1"),
            START.replace("HOST", "h1")
        ),
    )
    .unwrap();
    let (a, b) = (first.to_str().unwrap(), second.to_str().unwrap());
    let out = support::shareexec(&["--output-format", "text", a, b], None);
    let text = stdout(&out);
    assert!(
        text.contains(&format!("written {b}:1 (line 2) -> started {b}:2 (line 3)")),
        "{text}"
    );
    // The JSON keeps the global numbering, its stable contract.
    let json = support::shareexec(&["--output-format", "json", a, b], None);
    let v: serde_json::Value = serde_json::from_str(stdout(&json).trim()).unwrap();
    assert_eq!(v["events"][0]["line"], 2);
    assert_eq!(v["events"][1]["line"], 3);
    // With one input the two numbers agree and only one is shown.
    let one = support::shareexec(&["--output-format", "text", b], None);
    assert!(
        stdout(&one).contains(&format!("written {b}:1 -> started {b}:2 ")),
        "{}",
        stdout(&one)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A lateness of 9 minutes or more works (the CLI raises the idle-host timeout, for
/// which it has no option), also when resuming with `--state`; a lateness too long to
/// represent is a usage error that names `--max-lateness`, also with `--state` (where a
/// configuration error used to be blamed on the state file, exit code 1); a cap of 0
/// names its option.
#[test]
fn lateness_and_cap_errors_name_the_option() {
    let input = format!("{WRITE}\n{START}\n").replace("HOST", "h");
    let dir = std::env::temp_dir().join(format!("shareexec-review11-l-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("hunt.state");
    let state = state.to_str().unwrap();
    let first = run_with_stdin(&["--state", state, "-"], input.as_bytes());
    assert_eq!(first.status.code(), Some(0));
    for extra in [&[][..], &["--state", state][..]] {
        for (lateness, code) in [("8m", 0), ("9m", 0), ("1h", 0), ("9223372000s", 2)] {
            let mut args = vec!["--max-lateness", lateness];
            args.extend_from_slice(extra);
            args.push("-");
            let out = run_with_stdin(&args, input.as_bytes());
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
            if code != 0 {
                assert!(
                    err.contains("--max-lateness is too long"),
                    "{args:?}: {err}"
                );
                assert!(!err.contains("state"), "{args:?}: {err}");
            }
        }
    }
    let out = run_with_stdin(&["--max-pending", "0", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("'--max-pending <N>'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A read error inside an input (here a truncated gzip file) names the input, as a
/// missing file does, with or without screening threads; what came before it is
/// still reported, and the exit code is 1.
#[test]
fn a_read_error_names_its_input() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("shareexec-review11-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.ndjson");
    std::fs::write(&good, format!("{WRITE}\n{START}\n").replace("HOST", "h")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!("{WRITE}\n").repeat(200).as_bytes())
        .unwrap();
    let gz = gz.finish().unwrap();
    let truncated = dir.join("truncated.ndjson.gz");
    std::fs::write(&truncated, &gz[..gz.len() / 2]).unwrap();
    let (good, truncated) = (good.to_str().unwrap(), truncated.to_str().unwrap());
    for threads in ["0", "2"] {
        let out = support::shareexec(&["--threads", threads, good, truncated], None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(stdout(&out).lines().count(), 1, "{err}");
        assert!(
            err.lines()
                .any(|l| l.starts_with(&format!("shareexec: {truncated}: "))),
            "--threads {threads}: {err}"
        );
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `--distrust-vendor` with a subject that is not on the trusted list (a typo, a
/// trailing period: `Sophos Ltd.` for `Sophos Ltd`) removes nothing; a security tool
/// says so on standard error instead of leaving the vendor trusted in silence.
#[test]
fn distrusting_an_unlisted_vendor_is_reported() {
    let signed = START.replace("HOST", "h").replace(
        r#""pid":3120,"#,
        r#""pid":3120,"code_signature":{"trusted":true,"subject_name":"Sophos Ltd"},"#,
    );
    let input = format!("{}\n{signed}\n", WRITE.replace("HOST", "h"));
    // Listed (compared ignoring case): removed, no warning, the execution alerts.
    let out = run_with_stdin(&["--distrust-vendor", "sophos ltd", "-"], input.as_bytes());
    assert_eq!(stdout(&out).lines().count(), 1);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"));
    // Not listed: nothing removed (the execution stays suppressed), and a warning.
    for args in [
        &["--distrust-vendor", "Sophos Ltd.", "-"][..],
        &["rule", "--distrust-vendor", "Sophos Ltd."][..],
    ] {
        let out = run_with_stdin(args, input.as_bytes());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            err.contains(r#"warning: --distrust-vendor "Sophos Ltd." matches no trusted vendor"#),
            "{args:?}: {err}"
        );
    }
    let out = run_with_stdin(&["--distrust-vendor", "Sophos Ltd.", "-"], input.as_bytes());
    assert_eq!(stdout(&out).lines().count(), 0);
}

/// `WildcardSet::remove` removes every pattern equal to the text ignoring case (its
/// rustdoc said: only the exact spelling when there is one).
#[test]
fn wildcard_set_remove_ignores_case_always() {
    let mut set = shareexec::wildcard::WildcardSet::new(["Sophos Ltd", "SOPHOS LTD", "Other"]);
    assert_eq!(set.remove("Sophos Ltd"), 2);
    assert_eq!(set.texts().collect::<Vec<_>>(), ["Other"]);
}

/// docs/bad-input.md: a value the decoder reads may nest 127 levels deep, counting the
/// line's own object; at 128 the line is refused ("recursion limit exceeded"). The page
/// said "deeper than 128", one more than `serde_json` allows. ECS and Sysmon alike.
#[test]
fn nesting_limit_is_127_levels_counting_the_line() {
    // `{"host":{"id":[[…"a"…]]}}`: the line, `host`, then `arrays` arrays.
    let ecs = |arrays: usize| {
        format!(
            r#"{{"@timestamp":"2024-01-03T14:00:00Z","host":{{"id":{}"a"{}}}}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    };
    // `{"Hostname":[[…"h"…]], …}`: the line, then `arrays` arrays.
    let sysmon = |arrays: usize| {
        format!(
            r#"{{"EventID":11,"Hostname":{}"h"{},"UtcTime":"2020-08-27 11:40:56.396","ProcessId":"4","Image":"System","TargetFilename":"C:\\a.exe"}}"#,
            "[".repeat(arrays),
            "]".repeat(arrays)
        )
    };
    for (line, levels) in [
        (ecs(125), 127),
        (ecs(126), 128),
        (sysmon(126), 127),
        (sysmon(127), 128),
    ] {
        for prefilter in ["off", "auto"] {
            let out = run_with_stdin(
                &["--stats", "--prefilter", prefilter, "-"],
                format!("{line}\n").as_bytes(),
            );
            let err = String::from_utf8_lossy(&out.stderr);
            let refused = levels > 127;
            assert_eq!(
                stats(&out)["bad_lines"],
                u64::from(refused),
                "{levels}: {err}"
            );
            assert_eq!(
                err.contains("recursion limit exceeded"),
                refused,
                "{levels}: {err}"
            );
        }
    }
}

/// README: "Blank lines are skipped silently". A line of a byte-order mark and blanks is
/// the one "blank" line that is reported (the mark is no JSON whitespace: a document is
/// missing, docs/bad-input.md); its message says why, instead of a bare "blank line"
/// that contradicts the README.
#[test]
fn a_line_of_only_a_byte_order_mark_is_reported_with_the_reason() {
    let input = format!("\u{feff}\n \t\r\n\n{WRITE}\n{START}\n").replace("HOST", "h");
    for format in ["auto", "ecs", "sysmon"] {
        let out = run_with_stdin(
            &["--stats", "--input-format", format, "-"],
            input.as_bytes(),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("-:1 (line 1): "), "{format}: {err}");
        assert!(err.contains("byte-order mark"), "{format}: {err}");
        assert!(
            !err.contains("(line 2)") && !err.contains("(line 3)"),
            "{format}: {err}"
        );
    }
}

/// docs/ffi.md, "Latency": under Elasticsearch semantics with no lateness a verdict
/// comes out during the feed call itself; under hardened the execution waits for a
/// later-timestamped event of its host (or `advance`, or `flush`).
#[cfg(feature = "ffi")]
#[test]
fn ffi_latency_as_documented() {
    use shareexec::ffi::shareexec_result::*;
    use shareexec::ffi::*;
    let feed = |d: *mut shareexec_detector, line: &str, n: u64| {
        // SAFETY: a live handle and a line of `len` bytes.
        let rc = unsafe { shareexec_detector_feed_json(d, line.as_ptr(), line.len(), n) };
        assert_eq!(rc, SHAREEXEC_OK);
    };
    let poll = |d: *mut shareexec_detector| {
        let mut v = std::mem::MaybeUninit::<shareexec_verdict>::zeroed();
        // SAFETY: a live handle and a writable verdict.
        unsafe { shareexec_detector_poll(d, v.as_mut_ptr()) }
    };
    let (write, start) = (WRITE.replace("HOST", "h"), START.replace("HOST", "h"));
    let later = START
        .replace("HOST", "h")
        .replace("14:00:00.330Z", "14:00:01.000Z")
        .replace("x.exe", "other.exe");
    for (semantics, at_once) in [
        (SHAREEXEC_SEMANTICS_ELASTICSEARCH, true),
        (SHAREEXEC_SEMANTICS_HARDENED, false),
    ] {
        // SAFETY: an all-zero config is the documented default.
        let mut config: shareexec_config = unsafe { std::mem::zeroed() };
        config.semantics = semantics;
        let mut d = std::ptr::null_mut();
        // SAFETY: a readable config and a writable out-pointer.
        assert_eq!(
            unsafe { shareexec_detector_new(&config, &mut d) },
            SHAREEXEC_OK
        );
        feed(d, &write, 1);
        feed(d, &start, 2);
        let first = poll(d);
        assert_eq!(first == SHAREEXEC_OK, at_once, "semantics {semantics}");
        if !at_once {
            assert_eq!(first, SHAREEXEC_NO_VERDICT);
            feed(d, &later, 3);
            assert_eq!(
                poll(d),
                SHAREEXEC_OK,
                "released by a later event of the host"
            );
        }
        assert_eq!(poll(d), SHAREEXEC_NO_VERDICT);
        // SAFETY: the live handle, freed once.
        unsafe { shareexec_detector_free(d) };
    }
}

/// `--state` help: "an event of the next run older than the end of this one by more
/// than the lateness counts as late". `flush` (run at the end of every run) moves each
/// host's lateness clock to its newest event *plus the run's lateness*; a next run with
/// a smaller `--max-lateness` (which `--state`, like `Detector::restore`, allows) then
/// counted as late an event newer than everything the first run saw (the alert was
/// still found; the `late` verdict and counter were spurious). Snapshot format 2 records
/// the lateness, and a restore under another one shifts the clocks to keep each host's
/// release horizon.
#[test]
fn state_resumed_with_smaller_lateness_does_not_make_newer_events_late() {
    let dir = std::env::temp_dir().join(format!("shareexec-review11-st-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("hunt.state");
    let state = state.to_str().unwrap();
    let write = format!("{}\n", WRITE.replace("HOST", "h"));
    let start = format!("{}\n", START.replace("HOST", "h"));
    let first = run_with_stdin(&["--state", state, "-"], write.as_bytes());
    assert_eq!(first.status.code(), Some(0));
    // The execution (14:00:00.330) is newer than anything the first run saw (.120).
    let second = run_with_stdin(
        &["--state", state, "--max-lateness", "0", "--stats", "-"],
        start.as_bytes(),
    );
    std::fs::remove_dir_all(&dir).ok();
    let s = stats(&second);
    assert_eq!(s["detector"]["alerts"], 1);
    assert_eq!(
        s["detector"]["late"],
        0,
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
}
