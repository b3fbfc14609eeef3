//! Every row of docs/bad-input.md: the bad line sits between a pending write (line 1)
//! and its execution (line 3); the alert survives, the line is reported (or, for the
//! accepted rows, decoded as documented), and the exit code is 0.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_shareexec");

const WRITE: &str = r#"{"@timestamp":"2024-01-03T14:00:00Z","id":"w","event":{"category":"file","type":"creation"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},"file":{"path":"C:\\x.exe","extension":"exe"}}"#;
const EXEC: &str = r#"{"@timestamp":"2024-01-03T14:00:05Z","id":"p","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":9,"executable":"C:\\x.exe"}}"#;

struct Run {
    code: Option<i32>,
    alerts: Vec<(u64, u64)>,
    stderr: String,
}

fn run(middle: &[u8], extra: &[&str]) -> Run {
    let mut input = Vec::new();
    input.extend_from_slice(WRITE.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(middle);
    input.push(b'\n');
    input.extend_from_slice(EXEC.as_bytes());
    input.push(b'\n');
    let mut child = Command::new(BIN)
        .args(["--semantics", "elasticsearch", "--output-format", "json"])
        .args(extra)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["events"][0]["line"].as_u64().unwrap(),
                v["events"][1]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    Run {
        code: out.status.code(),
        alerts,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A rejected line: reported at line 2 with `message`, skipped, the alert survives.
fn rejected(middle: &[u8], message: &str) {
    let r = run(middle, &[]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.alerts, [(1, 3)], "{}", r.stderr);
    assert!(
        r.stderr.contains("-:2 (line 2): ") && r.stderr.contains(message),
        "want {message:?} in {}",
        r.stderr
    );
    assert!(r.stderr.contains("1 bad lines"), "{}", r.stderr);
    let strict = run(middle, &["--strict"]);
    assert_eq!(strict.code, Some(2));
}

/// An accepted line: no error, and it decodes to `alerts` together with the others.
fn accepted(middle: &[u8], alerts: &[(u64, u64)]) {
    let r = run(middle, &[]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.alerts, alerts, "{}", r.stderr);
    assert!(r.stderr.contains(" 0 bad lines"), "{}", r.stderr);
}

#[test]
fn not_json() {
    rejected(b"not json", "not valid JSON");
}

#[test]
fn not_an_object() {
    rejected(b"[1,2]", "is an array, not a JSON object");
    rejected(b"\"x\"", "not a JSON object");
}

#[test]
fn missing_timestamp() {
    rejected(
        br#"{"event":{"category":"file"}}"#,
        "`@timestamp` is missing",
    );
}

#[test]
fn invalid_timestamp() {
    rejected(
        br#"{"@timestamp":"yesterday"}"#,
        "is neither an RFC 3339 timestamp nor epoch milliseconds",
    );
    rejected(br#"{"@timestamp":"2300-01-01T00:00:00Z"}"#, "`@timestamp`");
    // A number that is not epoch milliseconds says what that form takes (it said what
    // RFC 3339 expected at byte 1).
    for (number, at) in [("1.7e12", 3), ("1704290400000.1234567", 20), ("-1.5e3", 4)] {
        rejected(
            format!(r#"{{"@timestamp":{number}}}"#).as_bytes(),
            &format!(
                "`@timestamp` \"{number}\" is neither an RFC 3339 timestamp nor epoch milliseconds: \
                 expected epoch milliseconds (at most 19 digits, then at most 6 after a `.`, no \
                 exponent) at byte {at}"
            ),
        );
    }
    // A date without its time keeps the RFC 3339 reason.
    rejected(
        br#"{"@timestamp":"2024-01-03"}"#,
        "expected 'T' between the date and the time at byte 10",
    );
}

#[test]
fn wrong_field_types() {
    rejected(
        br#"{"@timestamp":"2024-01-03T14:00:01Z","process":{"pid":{}}}"#,
        "`process.pid` must be an integer",
    );
    rejected(
        br#"{"@timestamp":"2024-01-03T14:00:01Z","process":{"pid":"four"}}"#,
        "`process.pid`",
    );
}

#[test]
fn invalid_utf8() {
    rejected(
        b"{\"@timestamp\":\"2024-01-03T14:00:01Z\",\"a\":\"\xff\"}",
        "not valid UTF-8",
    );
}

#[test]
fn nul_byte() {
    rejected(
        b"{\"@timestamp\":\"2024-01-03T14:00:01Z\",\"a\":\"\x00\"}",
        "control character",
    );
}

#[test]
fn huge_line() {
    let mut huge = br#"{"@timestamp":"2024-01-03T14:00:01Z","a":""#.to_vec();
    huge.resize(17_000_000, b'x');
    rejected(&huge, "longer than --max-line-bytes 16777216");
}

#[test]
fn deep_nesting() {
    let deep = format!(
        r#"{{"@timestamp":"2024-01-03T14:00:01Z","a":{}}}"#,
        "[".repeat(100_000)
    );
    rejected(deep.as_bytes(), "not valid JSON");
    // Past 128 levels inside a field the decoder reads: refused, without a stack
    // overflow.
    let read = format!(
        r#"{{"@timestamp":"2024-01-03T14:00:01Z","event":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    rejected(read.as_bytes(), "recursion limit exceeded");
    // Any depth inside a field nobody reads: checked without recursion, accepted.
    let skipped = format!(
        r#"{{"@timestamp":"2024-01-03T14:00:01Z","a":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    accepted(skipped.as_bytes(), &[(1, 3)]);
}

/// A number beyond `f64`: an error where a field read holds it; accepted wherever a
/// skipped field holds it, whatever else the line holds. (Until 0.x a field read
/// holding a number whose text matters, a keyword such as `host.id` given as `1.5` or
/// `@timestamp` as fractional epoch milliseconds, made the decoder read every number
/// again, skipped ones included, and refuse the line; and so did a skipped value
/// nested deeper than `serde_json`'s limit of 128.)
#[test]
fn number_beyond_f64() {
    let read = br#"{"@timestamp":"2024-01-03T14:00:01Z","event":{"category":"process","type":"start"},"host":{"id":"h2","os":{"type":"windows"}},"process":{"pid":1e400}}"#;
    rejected(read, "number out of range");
    let skipped = br#"{"@timestamp":"2024-01-03T14:00:01Z","x":1e400,"event":{"category":"process","type":"start"},"host":{"id":"h2","os":{"type":"windows"}},"process":{"pid":7,"executable":"C:\\y.exe"}}"#;
    accepted(skipped, &[(1, 3)]);
    let skipped_beside_a_keyword_number = br#"{"@timestamp":"2024-01-03T14:00:01Z","x":1e400,"event":{"category":"process","type":"start"},"host":{"id":1.5,"os":{"type":"windows"}},"process":{"pid":7,"executable":"C:\\y.exe"}}"#;
    accepted(skipped_beside_a_keyword_number, &[(1, 3)]);
    let skipped_beside_an_epoch_fraction = br#"{"@timestamp":1704290401000.5,"x":{"y":[1,-1E+400]},"event":{"category":"process","type":"start"},"host":{"id":"h2","os":{"type":"windows"}},"process":{"pid":7,"executable":"C:\\y.exe"}}"#;
    accepted(skipped_beside_an_epoch_fraction, &[(1, 3)]);
    // A keyword number read while a deep value is skipped.
    let deep = format!(
        r#"{{"@timestamp":"2024-01-03T14:00:01Z","host":{{"id":1.5}},"a":{}1e400{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    accepted(deep.as_bytes(), &[(1, 3)]);
}

/// Mixed dotted and nested keys are merged: this line is the execution itself.
#[test]
fn mixed_dotted_and_nested_keys() {
    let mixed = br#"{"@timestamp":"2024-01-03T14:00:04Z","event.category":"process","event":{"type":"start"},"host.id":"h1","host":{"os.type":"windows"},"process.executable":"C:\\x.exe","process":{"pid":7}}"#;
    accepted(mixed, &[(1, 2)]);
}

/// Duplicate keys: the last value wins (here the duplicate makes it an execution of
/// the written path).
#[test]
fn duplicate_keys() {
    let dup = br#"{"@timestamp":"2024-01-03T14:00:04Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:\\other.exe","executable":"C:\\x.exe"}}"#;
    accepted(dup, &[(1, 2)]);
}

/// Strings for numbers and booleans are coerced as Elasticsearch does at index time.
#[test]
fn coerced_strings() {
    let w = br#"{"@timestamp":"2024-01-03T14:00:01Z","id":"w2","event":{"category":"file","type":"change"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":"4"},"file":{"path":"C:\\x.exe","extension":"exe"}}"#;
    accepted(w, &[(2, 3)]);
}

#[test]
fn blank_line_and_other_categories() {
    accepted(b"", &[(1, 3)]);
    accepted(
        br#"{"@timestamp":"2024-01-03T14:00:02Z","event":{"category":"network","type":"start"}}"#,
        &[(1, 3)],
    );
}

/// Arrays of objects are flattened, as Elasticsearch does: this execution's signature
/// (`trusted` in one object, the subject in another) is a trusted rule vendor, so it is
/// suppressed and does not consume the write; line 3 alerts.
#[test]
fn arrays_of_objects() {
    let split = br#"{"@timestamp":"2024-01-03T14:00:04Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":8,"executable":"C:\\x.exe","code_signature":[{"trusted":true},{"subject_name":"Sophos Ltd"}]}}"#;
    accepted(split, &[(1, 3)]);
}

/// A lone UTF-16 surrogate escape is read as U+FFFD, not refused: this execution
/// alerts (and consumes the write).
#[test]
fn lone_surrogate_escape() {
    let lone = br#"{"@timestamp":"2024-01-03T14:00:04Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":8,"name":"a\ud800b","executable":"C:\\x.exe"}}"#;
    accepted(lone, &[(1, 2)]);
}

/// `@timestamp` as epoch milliseconds (14:00:04Z), a number, a string or with a
/// fraction: accepted, so this execution alerts.
#[test]
fn epoch_millis_timestamp() {
    for ts in ["1704290404000", "\"1704290404000\"", "1704290404000.5"] {
        let line = format!(
            r#"{{"@timestamp":{ts},"event":{{"category":"process","type":"start"}},"host":{{"id":"h1","os":{{"type":"windows"}}}},"process":{{"pid":8,"executable":"C:\\x.exe"}}}}"#
        );
        accepted(line.as_bytes(), &[(1, 2)]);
    }
}

/// An event more than `--max-lateness` (10 s) behind its host's clock: the host's
/// clock is moved to 14:00:30 by this line, so the execution (14:00:05) is late; it is
/// counted, and still joins the write that precedes it.
#[test]
fn late_event_is_used_and_counted() {
    let ahead = br#"{"@timestamp":"2024-01-03T14:00:30Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":8,"executable":"C:\\other.exe"}}"#;
    let r = run(ahead, &[]);
    assert_eq!(r.code, Some(0));
    assert_eq!(r.alerts, [(1, 3)], "{}", r.stderr);
    assert!(r.stderr.contains(" 1 late, 0 bad lines"), "{}", r.stderr);
}

/// A line of only a UTF-8 byte-order mark: reported, saying why it is not skipped as
/// a blank line.
#[test]
fn byte_order_mark_alone() {
    rejected(b"\xEF\xBB\xBF", "a byte-order mark is not whitespace");
}
