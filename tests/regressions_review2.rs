//! Regression tests from the second review (decoders, output, CLI): each test here
//! failed on the code as reviewed (unless marked `COVERAGE`) and pins the fix.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use shareexec::input::{EcsRecord, SysmonRecord, looks_like_sysmon};
use shareexec::{Event, EventTypes};

mod support;
use support::BIN;

/// An SMB write of C:\Windows\evil.exe by pid 4 on host h1.
const WRITE: &str = r#"{"@timestamp":"2024-01-03T14:00:00.000Z","event":{"category":["file"],"type":["creation"]},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4,"name":"System"},"file":{"path":"C:\\Windows\\evil.exe","extension":"exe"},"id":"w1"}"#;

/// The execution of that file one second later, unsigned.
fn exec_with_args(args: &str) -> String {
    format!(
        r#"{{"@timestamp":"2024-01-03T14:00:01.000Z","event":{{"category":["process"],"type":["start"]}},"host":{{"id":"h1","os":{{"type":"windows"}}}},"process":{{"pid":5000,"executable":"C:\\Windows\\evil.exe","args":{args}}},"id":"x1"}}"#
    )
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    support::shareexec(args, Some(input))
}

fn alerts(out: &Output) -> usize {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(r#""verdict":"alert""#))
        .count()
}

fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("shareexec-review2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

// ---------------------------------------------------------------------------------------
// CLI: per-line format sniffing lets event content turn an ECS line into a bad Sysmon line
// ---------------------------------------------------------------------------------------

/// `--input-format auto` (the default) sniffs every line with `looks_like_sysmon`, a
/// substring search for `"EventID"`. Elastic Defend's `process.args` holds the
/// command-line arguments unquoted, so an attacker who starts the dropped binary as
/// `evil.exe EventID` turns the execution into a "Sysmon" line without an event id:
/// a bad line, and the alert is gone.
#[test]
fn auto_format_sniff_lets_process_args_hide_an_execution() {
    let clean = format!(
        "{WRITE}\n{}\n",
        exec_with_args(r#"["C:\\Windows\\evil.exe"]"#)
    );
    let out = run_stdin(&["--output-format", "json"], clean.as_bytes());
    assert_eq!(
        alerts(&out),
        1,
        "baseline: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let evasive = format!(
        "{WRITE}\n{}\n",
        exec_with_args(r#"["C:\\Windows\\evil.exe","EventID"]"#)
    );
    assert!(looks_like_sysmon(
        evasive.lines().nth(1).unwrap().as_bytes()
    ));
    let out = run_stdin(&["--output-format", "json"], evasive.as_bytes());
    assert_eq!(
        alerts(&out),
        1,
        "an argument spelled EventID made the execution a bad line: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// CLI: gzip detection looks only at the first read
// ---------------------------------------------------------------------------------------

/// `Lines::new` decides gzip from `fill_buf()` of the first read. On a pipe the first
/// read can return a single byte (a writer that flushes early, a network stream), so
/// `0x1f` alone fails `starts_with([0x1f, 0x8b])` and the gzip stream is read as text.
#[test]
fn gzip_on_stdin_split_after_first_byte_is_not_detected() {
    let plain = format!("{WRITE}\n{}\n", exec_with_args(r#"["x"]"#));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(plain.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();

    let (child, mut stdin) = support::spawn_piped(&["--output-format", "json"], true);
    stdin.write_all(&gz[..1]).unwrap();
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stdin.write_all(&gz[1..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        alerts(&out),
        1,
        "gzip not recognised when the first read is short: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

// ---------------------------------------------------------------------------------------
// CLI: an I/O error on a later input drops the alerts of the earlier ones
// ---------------------------------------------------------------------------------------

/// `run` opens inputs lazily and returns on the first I/O error with `?`, before
/// `detector.flush()`: everything still held in the reorder buffer (the CLI's default
/// lateness is 10 s, so the tail of every input) is lost, and so are its alerts.
#[test]
fn missing_second_file_loses_alerts_of_the_first() {
    let a = temp_file(
        "a.ndjson",
        format!("{WRITE}\n{}\n", exec_with_args(r#"["x"]"#)).as_bytes(),
    );
    let alone = Command::new(BIN)
        .args(["--output-format", "json"])
        .arg(&a)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(alerts(&alone), 1);

    let with_missing = Command::new(BIN)
        .args(["--output-format", "json"])
        .arg(&a)
        .arg("/nonexistent/shareexec-review2.ndjson")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(with_missing.status.code(), Some(1));
    assert_eq!(
        alerts(&with_missing),
        1,
        "the alert of a.ndjson, fully read, was never emitted"
    );
}

// ---------------------------------------------------------------------------------------
// CLI: exit codes and broken pipes
// ---------------------------------------------------------------------------------------

/// A configuration the detector refuses because of command-line flags is a usage error
/// (exit 2 per the README), but `run` maps `ConfigError` to an `io::Error` and exits 1.
/// (A long `--max-lateness` such as `10m`, refused then, now runs: `tests/cli.rs`,
/// `long_lateness_runs`.)
#[test]
fn invalid_flag_combination_exits_1_not_usage_error_2() {
    for flags in [
        &["--max-lateness", "9223372000s"][..],
        &["--max-pending", "0"][..],
        &["--max-hosts", "0"][..],
    ] {
        let out = run_stdin(flags, b"");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{flags:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `shareexec rule` prints with `print!`, which panics (exit 101) when standard output
/// is a closed pipe (`shareexec rule | head -0`, a consumer that exits early); the
/// detection path treats EPIPE as success.
#[test]
fn rule_subcommand_panics_on_broken_pipe() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(BIN)
        .args(["rule", "--format", "sigma"])
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_ne!(out.status.code(), Some(101));
}

/// COVERAGE (passes): the detection path exits 0 on EPIPE, without panicking.
#[test]
fn coverage_detection_broken_pipe_exits_0() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let input = temp_file(
        "pipe.ndjson",
        format!("{WRITE}\n{}\n", exec_with_args(r#"["x"]"#)).as_bytes(),
    );
    let out = Command::new(BIN)
        .args(["--output-format", "json"])
        .arg(&input)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

// ---------------------------------------------------------------------------------------
// ECS decoding vs what Elasticsearch indexes
// ---------------------------------------------------------------------------------------

fn file_event_pid(line: &str) -> Option<i64> {
    let rec = EcsRecord::parse(line.as_bytes()).expect("decodes");
    let events: Vec<Event<'_>> = rec.events(1).collect();
    match events.as_slice() {
        [Event::File(f)] => f.pid,
        other => panic!("expected one file event, got {other:?}"),
    }
}

/// `@timestamp` is an ECS `date` with the default format
/// `strict_date_optional_time||epoch_millis`. Elasticsearch indexes epoch milliseconds
/// given as a JSON string (`"1704290400000"`) or as a JSON number with a fraction part
/// (`1704290400000.0`), since it parses the number's text with those formats. The
/// decoder accepts only an integer number and calls the others bad lines: events lost.
#[test]
fn epoch_millis_forms_elasticsearch_accepts_are_rejected() {
    let want = EcsRecord::parse(br#"{"@timestamp":1704290400000}"#)
        .unwrap()
        .timestamp();
    let mut refused = Vec::new();
    for ts in [r#""1704290400000""#, "1704290400000.0"] {
        let line = format!(r#"{{"@timestamp":{ts}}}"#);
        match EcsRecord::parse(line.as_bytes()) {
            Ok(r) if r.timestamp() == want => {}
            other => refused.push(format!("{ts}: {other:?}")),
        }
    }
    assert!(refused.is_empty(), "{refused:#?}");
}

/// Elasticsearch's string-to-long coercion (`Numbers.toLong`) parses a decimal string
/// with `BigDecimal` and truncates it exactly: "3.99999999999999999999" is 3. The
/// decoder goes through `f64`, which rounds it to 4.0 first: a process that is not
/// the System process becomes pid 4, a stage-1 candidate (false alert).
#[test]
fn decimal_pid_string_rounds_through_f64_to_4() {
    let line = r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file","type":"creation"},"process":{"pid":"3.99999999999999999999"},"file":{"path":"C:\\x.exe"}}"#;
    assert_eq!(file_event_pid(line), Some(3));
}

/// Elasticsearch expands dotted keys into the object tree and *adds* values: a field
/// spelled both dotted and nested (`"process.pid":4` and `"process":{"pid":5}`) is
/// not a duplicate key to its JSON parser, it is indexed multi-valued `[4, 5]`, and
/// `process.pid == 4` matches. The decoder keeps only the last value (5): a missed
/// alert. Fixed: a multi-valued pid (spellings or arrays) is 4 when any value is 4.
#[test]
fn dotted_and_nested_pid_keep_only_the_last_value() {
    let line = r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file","type":"creation"},"process.pid":4,"process":{"pid":5},"file":{"path":"C:\\x.exe"}}"#;
    let array = r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file","type":"creation"},"process":{"pid":[4,5]},"file":{"path":"C:\\x.exe"}}"#;
    assert_eq!(
        EcsRecord::parse(array.as_bytes()).map(|r| r.process_pid()),
        Ok(Some(4))
    );
    let pid = EcsRecord::parse(line.as_bytes()).map(|r| r.process_pid());
    assert!(
        pid.is_err() || pid == Ok(Some(4)),
        "silently pid {pid:?}: Elasticsearch indexes [4, 5] and matches pid == 4"
    );
}

/// Same for `event.type`, a set: the dotted `start` and the nested `info` are indexed
/// together (`["start", "info"]`, `event.type == "start"` is true), but the decoder
/// clears the set on the second spelling.
#[test]
fn dotted_and_nested_event_type_are_not_merged() {
    let line = r#"{"@timestamp":"2024-01-03T14:00:00Z","event.type":"start","event":{"category":"process","type":"info"},"process":{"executable":"C:\\x.exe"}}"#;
    let rec = EcsRecord::parse(line.as_bytes()).unwrap();
    assert!(
        rec.event_types().intersects(EventTypes::START),
        "event.type lost `start`: {:?}",
        rec.event_types().names().collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------
// Sysmon
// ---------------------------------------------------------------------------------------

/// The Sysmon decoder's `@timestamp` fallback has the same gap: epoch millis as a
/// string are refused.
#[test]
fn sysmon_at_timestamp_epoch_millis_string_is_rejected() {
    let line = r#"{"EventID":11,"Computer":"WS1","@timestamp":"1598528456396","Image":"System","TargetFilename":"C:\\Windows\\x.exe"}"#;
    let rec = SysmonRecord::parse(line.as_bytes());
    assert!(rec.is_ok(), "{rec:?}");
}

/// Elasticsearch (Jackson) accepts a JSON string with an unpaired surrogate escape
/// (`\ud800`; NTFS names are unvalidated UTF-16, so a file can be named that way) and
/// Lucene indexes it with U+FFFD: the write and the execution of such a file join and
/// alert. The decoder parses from `&str`, where serde_json refuses the escape, so both
/// lines are bad lines and an attacker-chosen file name evades the rule.
#[test]
fn lone_surrogate_in_path_makes_the_event_a_bad_line() {
    let line = r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file","type":"creation"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},"file":{"path":"C:\\Windows\\\ud800evil.exe","extension":"exe"}}"#;
    let rec = EcsRecord::parse(line.as_bytes());
    assert!(rec.is_ok(), "{rec:?}");
}

/// Any ECS object field may be given as an array of objects; Elasticsearch flattens a
/// one-element array to the object. The decoder accepts a one-element array for a leaf
/// (`"pid":[4]`) but refuses one for an object (`"code_signature":[{…}]`): the
/// execution becomes a bad line (a missed alert when unsigned or untrusted).
#[test]
fn one_element_array_of_object_is_refused() {
    let line = r#"{"@timestamp":"2024-01-03T14:00:01Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:\\x.exe","code_signature":[{"exists":true,"trusted":false,"subject_name":"Evil"}]}}"#;
    let rec = EcsRecord::parse(line.as_bytes());
    assert_eq!(rec.map(|r| r.code_signature().trusted), Ok(Some(false)));
}

/// The Sysmon decoder reads dotted keys (`"winlog.event_id"`, as a flattened winlogbeat
/// export has them), but `--input-format auto` only sniffs `"event_id"` with a quote
/// before it: such lines go to the ECS decoder, which finds a valid `@timestamp`, no
/// category, and drops them *silently* (not even a bad line).
#[test]
fn dotted_winlogbeat_sysmon_is_silently_dropped_in_auto_mode() {
    let w = r#"{"@timestamp":"2020-08-27T11:40:56.500Z","winlog.event_id":"11","winlog.channel":"Microsoft-Windows-Sysmon/Operational","winlog.computer_name":"WS1","winlog.event_data.UtcTime":"2020-08-27 11:40:56.396","winlog.event_data.ProcessId":"4","winlog.event_data.Image":"System","winlog.event_data.TargetFilename":"C:\\Windows\\PSEXESVC.exe"}"#;
    let x = r#"{"@timestamp":"2020-08-27T11:40:57.000Z","winlog.event_id":"1","winlog.channel":"Microsoft-Windows-Sysmon/Operational","winlog.computer_name":"WS1","winlog.event_data.UtcTime":"2020-08-27 11:40:56.610","winlog.event_data.ProcessId":"5340","winlog.event_data.Image":"C:\\Windows\\PSEXESVC.exe"}"#;
    let input = format!("{w}\n{x}\n");
    let forced = run_stdin(
        &["--output-format", "json", "--input-format", "sysmon"],
        input.as_bytes(),
    );
    assert_eq!(
        alerts(&forced),
        1,
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let auto = run_stdin(&["--output-format", "json"], input.as_bytes());
    assert_eq!(
        alerts(&auto),
        1,
        "auto mode: {}",
        String::from_utf8_lossy(&auto.stderr)
    );
}

/// COVERAGE (passes): an empty input between two others does not shift `source` or
/// `line` of the alert's events.
#[test]
fn coverage_empty_middle_input_keeps_sources_and_lines() {
    let a = temp_file("m-a.ndjson", format!("{WRITE}\n").as_bytes());
    let e = temp_file("m-empty.ndjson", b"");
    let b = temp_file(
        "m-b.ndjson",
        format!("{}\n", exec_with_args(r#"["x"]"#)).as_bytes(),
    );
    let out = Command::new(BIN)
        .args(["--output-format", "json"])
        .args([&a, &e, &b])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(v["events"][0]["line"], 1);
    assert_eq!(v["events"][1]["line"], 2);
    assert_eq!(v["events"][0]["source"], a.display().to_string());
    assert_eq!(v["events"][1]["source"], b.display().to_string());
}
