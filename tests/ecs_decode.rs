//! Decoding Elastic Defend (ECS) NDJSON lines and RFC 3339 timestamps through the
//! public API (`shareexec::input`).
#![cfg(feature = "json")]

mod support;
use std::path::{Path, PathBuf};
use support::read_maybe_gz;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use shareexec::input::{
    Category, EcsError, EcsErrorKind, EcsRecord, Hashes, TimestampError, decode_line, parse_rfc3339,
};
use shareexec::{CodeSignature, Event, EventTypes, Timestamp};

// ---------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------

#[track_caller]
fn ok(line: &str) -> EcsRecord<'_> {
    match EcsRecord::parse(line.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("{line}\n  -> {e}"),
    }
}

/// [`ok`] for a line built on the spot.
#[track_caller]
fn okf(line: &str) -> EcsRecord<'static> {
    ok(line).into_owned()
}

#[track_caller]
fn err(line: &[u8]) -> EcsError {
    match EcsRecord::parse(line) {
        Ok(r) => panic!("{} decoded as {r:?}", String::from_utf8_lossy(line)),
        Err(e) => e,
    }
}

#[track_caller]
fn wrong_field(line: &str) -> (&'static str, &'static str, &'static str) {
    match err(line.as_bytes()).kind {
        EcsErrorKind::WrongType {
            field,
            expected,
            found,
        } => (field, expected, found),
        other => panic!("{line}: expected WrongType, got {other:?}"),
    }
}

const TS: &str = r#""@timestamp":"2024-01-03T14:00:00Z""#;

fn ts(text: &str) -> Result<i64, TimestampError> {
    parse_rfc3339(text).map(Timestamp::as_nanos)
}

const NS: i64 = 1_000_000_000;
/// 2024-01-03T14:00:00Z
const T0: i64 = 1_704_290_400 * NS;

/// A complete file-write document, nested form.
fn nested_file_doc() -> Value {
    json!({
        "@timestamp": "2024-01-03T14:00:00.123456789Z",
        "id": "top",
        "event": {"category": ["file"], "type": ["creation", "change"], "sequence": 77, "id": "ev-1",
                  "action": "creation", "kind": "event"},
        "host": {"id": "h1", "name": "WS1", "os": {"type": "windows", "family": "windows"}},
        "process": {"pid": 4, "name": "System", "executable": "System",
                    "code_signature": {"exists": true, "trusted": true, "subject_name": "Microsoft Windows", "status": "trusted"},
                    "hash": {"sha256": "aa", "sha1": "bb", "md5": "cc"},
                    "parent": {"pid": 0, "name": "x"}},
        "file": {"path": "C:\\Windows\\Temp\\evil.exe", "extension": "exe", "name": "evil.exe",
                 "Ext": {"header_bytes": "4d5a9000", "original": {"path": "ignored"}},
                 "hash": {"sha256": "dd", "sha1": "ee", "md5": "ff"}},
        "user": {"name": "SYSTEM"}
    })
}

/// Rewrites `v` so that some objects are spelled as dotted keys of their parent,
/// following `choices` (cycled): the same document in another spelling.
fn respell(v: &Value, choices: &[bool], next: &mut usize) -> Value {
    let Value::Object(map) = v else {
        return v.clone();
    };
    let mut out = Map::new();
    for (k, child) in map {
        let child = respell(child, choices, next);
        let flatten = !choices.is_empty() && choices[*next % choices.len()];
        *next += 1;
        match child {
            Value::Object(inner) if flatten && !inner.is_empty() => {
                for (ik, iv) in inner {
                    out.insert(format!("{k}.{ik}"), iv);
                }
            }
            other => {
                out.insert(k.clone(), other);
            }
        }
    }
    Value::Object(out)
}

fn decode_value(v: &Value) -> EcsRecord<'static> {
    let text = serde_json::to_string(v).unwrap();
    EcsRecord::parse(text.as_bytes())
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .into_owned()
}

// ---------------------------------------------------------------------------------------
// spellings: nested, dotted, mixed
// ---------------------------------------------------------------------------------------

#[test]
fn nested_dotted_and_mixed_spellings_decode_identically() {
    let nested = nested_file_doc();
    let reference = decode_value(&nested);
    assert_eq!(reference.category(), Category::File);
    assert_eq!(reference.file_path(), Some(r"C:\Windows\Temp\evil.exe"));

    let all_dotted = respell(&nested, &[true], &mut 0);
    assert!(all_dotted.get("process.code_signature.trusted").is_some());
    assert_eq!(decode_value(&all_dotted), reference);

    for pattern in [
        &[false, true][..],
        &[true, false],
        &[true, true, false],
        &[false, false, true],
    ] {
        let mixed = respell(&nested, pattern, &mut 0);
        assert_eq!(decode_value(&mixed), reference, "{mixed}");
    }

    // Hand-written mixtures at every level.
    let lines = [
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event.category":"file","event":{"type":"creation"},"host.os.type":"windows","host":{"id":"h1"},"process":{"pid":4},"file.path":"C:\\a.exe","file.Ext":{"header_bytes":"4d5a"},"file":{"extension":"exe"}}"#,
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file","type":"creation"},"host":{"os.type":"windows","id":"h1"},"process.pid":4,"file":{"path":"C:\\a.exe","Ext.header_bytes":"4d5a","extension":"exe"}}"#,
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":["file"],"type":["creation"]},"host":{"os":{"type":"windows"},"id":"h1"},"process":{"pid":4},"file":{"path":"C:\\a.exe","Ext":{"header_bytes":"4d5a"},"extension":"exe"}}"#,
    ];
    let events: Vec<_> = lines
        .iter()
        .map(|l| {
            let r = ok(l);
            let e = r.file_event(1).map(|f| format!("{f:?}"));
            e.unwrap()
        })
        .collect();
    assert!(events.windows(2).all(|w| w[0] == w[1]), "{events:#?}");
}

#[test]
fn code_signature_dotted_inside_process() {
    let a = ok(
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"process"},"process":{"code_signature.trusted":true,"code_signature.subject_name":"Elasticsearch, Inc."}}"#,
    );
    let b = ok(
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"process"},"process.code_signature":{"trusted":true,"subject_name":"Elasticsearch, Inc."}}"#,
    );
    assert_eq!(a, b);
    assert_eq!(
        a.code_signature(),
        CodeSignature {
            exists: None,
            trusted: Some(true),
            subject_name: Some("Elasticsearch, Inc."),
            status: None,
        }
    );
}

#[test]
fn full_document_fields_and_events() {
    let rec = decode_value(&nested_file_doc());
    assert_eq!(rec.timestamp(), Timestamp(T0 + 123_456_789));
    assert_eq!(rec.sequence(), Some(77));
    assert_eq!(rec.id(), Some("ev-1"), "event.id is preferred");
    assert_eq!(rec.event_id(), Some("ev-1"));
    assert_eq!(rec.top_level_id(), Some("top"));
    assert_eq!(rec.document_id(), None);
    assert_eq!(rec.host_id(), Some("h1"));
    assert_eq!(rec.host_name(), Some("WS1"));
    assert_eq!(rec.os_type(), Some("windows"));
    assert_eq!(rec.process_pid(), Some(4));
    assert_eq!(rec.process_name(), Some("System"));
    assert_eq!(rec.process_executable(), Some("System"));
    assert_eq!(rec.file_extension(), Some("exe"));
    assert_eq!(rec.file_header_bytes(), Some("4d5a9000"));
    assert_eq!(rec.event_types(), EventTypes::CREATION | EventTypes::CHANGE);
    assert_eq!(
        rec.process_hash(),
        Hashes {
            sha256: Some("aa"),
            sha1: Some("bb"),
            md5: Some("cc")
        }
    );
    assert_eq!(
        rec.file_hash(),
        Hashes {
            sha256: Some("dd"),
            sha1: Some("ee"),
            md5: Some("ff")
        }
    );
    let events: Vec<Event<'_>> = rec.events(42).collect();
    let [Event::File(f)] = events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(f.origin.position, 42);
    assert_eq!(f.origin.id, Some("ev-1"));
    assert_eq!(f.origin.sequence, Some(77));
    assert_eq!(f.origin.timestamp, rec.timestamp());
    assert_eq!(f.pid, Some(4));
    assert_eq!(f.path, Some(r"C:\Windows\Temp\evil.exe"));
    assert_eq!(f.header_bytes, Some("4d5a9000"));
    assert_eq!(f.types, EventTypes::CREATION | EventTypes::CHANGE);
    assert!(rec.process_event(42).is_none());
}

#[test]
fn process_document_to_process_event() {
    let rec = ok(
        r#"{"@timestamp":"2024-01-03T14:00:10Z","event":{"category":["process"],"type":["start"]},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":5000,"executable":"C:\\Windows\\Temp\\evil.exe","code_signature":{"exists":false}}}"#,
    );
    let events: Vec<_> = rec.events(3).collect();
    let [Event::Process(p)] = events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(p.executable, Some(r"C:\Windows\Temp\evil.exe"));
    assert_eq!(p.pid, Some(5000));
    assert_eq!(p.types, EventTypes::START);
    assert_eq!(p.code_signature.exists, Some(false));
    assert_eq!(p.code_signature.trusted, None, "missing is not false");
    assert_eq!(p.origin.timestamp, Timestamp(T0 + 10 * NS));
    assert_eq!(p.origin.id, None);
}

// ---------------------------------------------------------------------------------------
// values
// ---------------------------------------------------------------------------------------

#[test]
fn escaped_backslash_and_unicode_paths() {
    let rec = ok(
        r#"{"@timestamp":"2024-01-03T14:00:00Z","file":{"path":"C:\\Users\\Jos\u00e9\\\u0041.exe"},"process":{"executable":"\\\\?\\C:\\x.exe","name":"plain"},"host":{"id":"Zoë"}}"#,
    );
    assert_eq!(rec.file_path(), Some(r"C:\Users\José\A.exe"));
    assert_eq!(rec.process_executable(), Some(r"\\?\C:\x.exe"));
    assert_eq!(rec.process_name(), Some("plain"));
    assert_eq!(rec.host_id(), Some("Zoë"));
}

#[test]
fn escaped_keys_are_unescaped_before_routing() {
    let rec = ok(
        r#"{"\u0040timestamp":"2024-01-03T14:00:00Z","process\u002epid":"\u0034","file":{"\u0070ath":"x"}}"#,
    );
    assert_eq!(rec.timestamp(), Timestamp(T0));
    assert_eq!(rec.process_pid(), Some(4));
    assert_eq!(rec.file_path(), Some("x"));
}

#[test]
fn pid_coercions() {
    let pid = |v: &str| {
        let line = format!(r#"{{{TS},"process":{{"pid":{v}}}}}"#);
        EcsRecord::parse(line.as_bytes()).map(|r| r.process_pid())
    };
    assert_eq!(pid("4"), Ok(Some(4)));
    assert_eq!(pid(r#""4""#), Ok(Some(4)), "Elasticsearch coerces strings");
    assert_eq!(pid(r#""+4""#), Ok(Some(4)));
    assert_eq!(pid(r#""4.0""#), Ok(Some(4)));
    assert_eq!(pid("4.7"), Ok(Some(4)), "fractions truncate");
    assert_eq!(pid("-4.7"), Ok(Some(-4)));
    assert_eq!(pid("4e0"), Ok(Some(4)));
    assert_eq!(pid(r#""\u0034""#), Ok(Some(4)), "escaped numeric string");
    assert_eq!(pid(r#""""#), Ok(None), "empty string is null");
    assert_eq!(pid("null"), Ok(None));
    assert_eq!(pid("[4]"), Ok(Some(4)), "one-element array");
    assert_eq!(pid("[]"), Ok(None));
    assert_eq!(pid("-1"), Ok(Some(-1)));
    assert_eq!(pid("9223372036854775807"), Ok(Some(i64::MAX)));
    // Strings are truncated exactly, by text, as Elasticsearch's BigDecimal coercion.
    assert_eq!(pid(r#""3.99999999999999999999""#), Ok(Some(3)));
    assert_eq!(pid(r#""4.99999999999999999999""#), Ok(Some(4)));
    assert_eq!(pid(r#""4e0""#), Ok(Some(4)));
    assert_eq!(pid(r#""40e-1""#), Ok(Some(4)));
    assert_eq!(pid(r#""0.4e1""#), Ok(Some(4)));
    assert_eq!(pid(r#""4.""#), Ok(Some(4)));
    assert_eq!(pid(r#"".5""#), Ok(Some(0)));
    assert_eq!(pid(r#""-0.5""#), Ok(Some(0)));
    assert_eq!(pid(r#""00004""#), Ok(Some(4)));
    assert_eq!(pid(r#""1e-2147483647""#), Ok(Some(0)));
    assert_eq!(pid(r#""9223372036854775807.9""#), Ok(Some(i64::MAX)));
    assert_eq!(pid(r#""-9.2233720368547758089999e18""#), Ok(Some(i64::MIN)));
    // JSON numbers with a fraction go through a double, as Jackson reads them.
    assert_eq!(pid("3.99999999999999999999"), Ok(Some(4)));
    assert_eq!(pid("-0"), Ok(Some(0)));
    assert_eq!(pid("-9223372036854775808.0"), Ok(Some(i64::MIN)));
    for bad in [
        r#""abc""#,
        r#""4 ""#,
        r#"" 4""#,
        r#""NaN""#,
        r#""inf""#,
        r#""0x4""#,
        r#""4e""#,
        r#""e4""#,
        r#"".""#,
        r#""-""#,
        r#""4_0""#,
        r#""1e-2147483648""#,
        r#""9223372036854775808""#,
        r#""9.223372036854775808e18""#,
        r#""2e100""#,
        r#""-2e100""#,
        "{}",
        r#"{"value":4}"#,
        "true",
        "[4,{}]",
        "9223372036854775808",
        "-9223372036854775809",
        "1e300",
    ] {
        match pid(bad) {
            Err(EcsError {
                kind: EcsErrorKind::WrongType { field, .. },
                column,
            }) => {
                assert_eq!(field, "process.pid", "{bad}");
                assert!(column.is_some(), "{bad}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn booleans_and_their_string_forms() {
    let trusted = |v: &str| {
        let line = format!(r#"{{{TS},"process":{{"code_signature":{{"trusted":{v}}}}}}}"#);
        EcsRecord::parse(line.as_bytes()).map(|r| r.code_signature().trusted)
    };
    assert_eq!(trusted("true"), Ok(Some(true)));
    assert_eq!(trusted("false"), Ok(Some(false)));
    assert_eq!(trusted(r#""true""#), Ok(Some(true)));
    assert_eq!(trusted(r#""false""#), Ok(Some(false)));
    assert_eq!(
        trusted(r#""""#),
        Ok(Some(false)),
        "Elasticsearch: \"\" is false"
    );
    assert_eq!(trusted("null"), Ok(None));
    assert_eq!(trusted("[true]"), Ok(Some(true)));
    for bad in [r#""TRUE""#, r#""yes""#, "1", "0", "{}", "[true,false]"] {
        let Err(EcsError {
            kind: EcsErrorKind::WrongType { field, .. },
            ..
        }) = trusted(bad)
        else {
            panic!("{bad}: {:?}", trusted(bad))
        };
        assert_eq!(field, "process.code_signature.trusted");
    }
    let exists = okf(&format!(
        r#"{{{TS},"process.code_signature.exists":"true"}}"#
    ));
    assert_eq!(exists.code_signature().exists, Some(true));
}

#[test]
fn keyword_fields_take_integers_and_booleans_as_text() {
    let rec = okf(&format!(
        r#"{{{TS},"host":{{"id":12345,"name":true}},"file.extension":"","process":{{"name":[ "one" ]}}}}"#
    ));
    assert_eq!(rec.host_id(), Some("12345"));
    assert_eq!(rec.host_name(), Some("true"));
    assert_eq!(rec.file_extension(), Some(""), "empty string is a value");
    assert_eq!(rec.process_name(), Some("one"));
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"file":{{"path":{{}}}}}}"#)).0,
        "file.path"
    );
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"file":{{"path":["a","b"]}}}}"#)).0,
        "file.path"
    );
}

/// A kept number whose text matters (a keyword given as a float) makes the slow pass,
/// which hands each number read its own text: numbers in skipped values, before and
/// between the read ones, at any depth and of any size, take none of them, and make no
/// error (they are skipped as the fast pass skips them).
#[test]
fn skipped_numbers_leave_the_read_ones_their_texts() {
    let rec = okf(&format!(
        r#"{{{TS},"x":[1e400,2.5,{{"y":-0.0}}],"host":{{"id":1.25,"z":7E3,"name":3.5}},"w":[[[9.75]]],"file":{{"path":-4.5e1,"size":1e999}},"process":{{"pid":4.0,"name":0.125}}}}"#
    ));
    assert_eq!(rec.host_id(), Some("1.25"));
    assert_eq!(rec.host_name(), Some("3.5"));
    assert_eq!(rec.file_path(), Some("-4.5e1"));
    assert_eq!(rec.process_name(), Some("0.125"));
    // The same with a lone surrogate, which makes the slow pass on its own.
    let rec = okf(&format!(
        r#"{{{TS},"x":[1e400,"\ud800",2.5],"host":{{"id":1.25}},"process":{{"name":"\udc00"}}}}"#
    ));
    assert_eq!(rec.host_id(), Some("1.25"));
    assert_eq!(rec.process_name(), Some("\u{fffd}"));
    // A read number beyond `f64` is still an error, in either pass.
    assert!(
        err(format!(r#"{{{TS},"host":{{"id":1.5}},"process":{{"pid":1e400}}}}"#).as_bytes())
            .to_string()
            .contains("number out of range")
    );
}

#[test]
fn category_scalar_array_and_case() {
    let cat = |v: &str| ok(&format!(r#"{{{TS},"event":{{"category":{v}}}}}"#)).category();
    assert_eq!(cat(r#""file""#), Category::File);
    assert_eq!(cat(r#"["file"]"#), Category::File);
    assert_eq!(cat(r#"["network","file"]"#), Category::File);
    assert_eq!(cat(r#""process""#), Category::Process);
    assert_eq!(cat(r#"[["process"]]"#), Category::Process, "arrays flatten");
    assert_eq!(cat(r#"["process","file"]"#), Category::FileAndProcess);
    assert_eq!(cat(r#""File""#), Category::Other, "exact comparison");
    assert_eq!(cat(r#""network""#), Category::Other);
    assert_eq!(cat("[]"), Category::Other);
    assert_eq!(cat("null"), Category::Other);
    assert_eq!(cat(r#"[1,true,null,"file"]"#), Category::File);
    assert_eq!(ok(&format!("{{{TS}}}")).category(), Category::Other);
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"event":{{"category":{{"x":1}}}}}}"#)).0,
        "event.category"
    );
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"event":{{"category":[{{"x":1}}]}}}}"#)).0,
        "event.category"
    );
}

#[test]
fn event_type_scalar_array_and_unknowns() {
    let types = |v: &str| ok(&format!(r#"{{{TS},"event":{{"type":{v}}}}}"#)).event_types();
    assert_eq!(types(r#""start""#), EventTypes::START);
    assert_eq!(types(r#"["start"]"#), EventTypes::START);
    assert_eq!(
        types(r#"["creation","bogus","change"]"#),
        EventTypes::CREATION | EventTypes::CHANGE
    );
    assert_eq!(types(r#""Start""#), EventTypes::NONE);
    assert_eq!(types("null"), EventTypes::NONE);
    assert_eq!(types("7"), EventTypes::NONE);
}

#[test]
fn other_categories_give_no_event_but_are_validated() {
    let rec = ok(
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":["network"],"type":["start"]},"process":{"pid":4}}"#,
    );
    assert_eq!(rec.category(), Category::Other);
    assert_eq!(rec.events(1).count(), 0);
    assert!(rec.file_event(1).is_none() && rec.process_event(1).is_none());
    // Invalid lines stay errors whatever the category.
    err(br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":["network"]},"x":[1,}"#);
    err(br#"{"event":{"category":["network"]}}"#);
    err(br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"registry"},"process":{"pid":"abc"}}"#);
}

#[test]
fn file_and_process_document_yields_process_then_file() {
    let rec = ok(
        r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":["file","process"],"type":["creation","start"]},"host.id":"h","process":{"pid":4,"executable":"C:\\x.exe"},"file.path":"C:\\x.exe"}"#,
    );
    assert_eq!(rec.category(), Category::FileAndProcess);
    let kinds: Vec<&str> = rec
        .events(9)
        .map(|e| match e {
            Event::Process(_) => "process",
            Event::File(_) => "file",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["process", "file"]);
    assert!(rec.events(9).all(|e| e.origin().position == 9));
}

#[test]
fn identity_preference() {
    let id = |body: &str| ok(&format!("{{{TS}{body}}}")).id().map(str::to_owned);
    assert_eq!(id(r#","id":"a","event":{"id":"b"}"#), Some("b".into()));
    assert_eq!(id(r#","event.id":"b","id":"a""#), Some("b".into()));
    assert_eq!(id(r#","id":"a""#), Some("a".into()));
    assert_eq!(id(r#","id":"a","_id":"c""#), Some("a".into()));
    assert_eq!(id(r#","_id":"c""#), Some("c".into()));
    assert_eq!(id(""), None);
}

#[test]
fn search_hit_with_source() {
    let rec = ok(
        r#"{"_index":".ds-logs-endpoint.events.file-default","_id":"doc-7","_score":null,"_source":{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file"},"file.path":"C:\\a.exe"},"sort":[1]}"#,
    );
    assert_eq!(rec.document_id(), Some("doc-7"));
    assert_eq!(rec.id(), Some("doc-7"));
    assert_eq!(rec.category(), Category::File);
    assert_eq!(rec.file_path(), Some(r"C:\a.exe"));
}

#[test]
fn sequence_number_or_string() {
    let seq = |v: &str| {
        let line = format!(r#"{{{TS},"event":{{"sequence":{v}}}}}"#);
        EcsRecord::parse(line.as_bytes()).map(|r| r.sequence())
    };
    assert_eq!(seq("12"), Ok(Some(12)));
    assert_eq!(seq(r#""12""#), Ok(Some(12)));
    assert_eq!(seq("18446744073709551615"), Ok(Some(u64::MAX)));
    assert_eq!(seq("null"), Ok(None));
    for bad in ["-1", r#""x""#, "{}"] {
        assert!(
            matches!(
                seq(bad),
                Err(EcsError {
                    kind: EcsErrorKind::WrongType {
                        field: "event.sequence",
                        ..
                    },
                    ..
                })
            ),
            "{bad}: {:?}",
            seq(bad)
        );
    }
}

#[test]
fn duplicates_last_wins_and_null_clears() {
    let rec = okf(&format!(
        r#"{{{TS},"process":{{"pid":6}},"process.pid":5,"host":{{"id":"a"}},"host":{{"id":"b","name":"n"}}}}"#
    ));
    assert_eq!(rec.process_pid(), Some(6), "multi-valued pid: the first");
    assert_eq!(rec.host_id(), Some("b"));
    assert_eq!(rec.host_name(), Some("n"));
    let rec = okf(&format!(
        r#"{{{TS},"process.pid":5,"process":{{"pid":4}},"host":{{"id":"a"}},"host":{{"name":"n"}}}}"#
    ));
    assert_eq!(rec.process_pid(), Some(4));
    assert_eq!(rec.host_id(), Some("a"), "objects merge");
    let rec = okf(&format!(
        r#"{{{TS},"file.path":"x","file":{{"path":null}},"process":null,"event.type":["start"],"event.type":"end"}}"#
    ));
    assert_eq!(rec.file_path(), None);
    assert_eq!(
        rec.event_types(),
        EventTypes::START | EventTypes::END,
        "event.type values from every spelling are unioned"
    );
    let rec = ok(r#"{"@timestamp":"1970-01-01T00:00:00Z","@timestamp":"2024-01-03T14:00:00Z"}"#);
    assert_eq!(rec.timestamp(), Timestamp(T0));
}

#[test]
fn unknown_fields_of_any_shape_are_skipped() {
    let rec = ok(
        r#"{"a":{"b":[1,2,{"c":[[],{}]}],"d":null},"@timestamp":"2024-01-03T14:00:00Z","process":{"parent":{"pid":"not a number","executable":{}},"args":["x","y"],"pid.extra":null,"Pid":{}},"file.ext":{"header_bytes":4},"process..pid":[],"":1,"z":1e300,"w":-0.0,"v":"\ud83d\ude00","file":{"Ext":{"header_bytes":"4d5a","code_signature":[{"trusted":"maybe"}]}}}"#,
    );
    assert_eq!(rec.process_pid(), None);
    assert_eq!(rec.file_header_bytes(), Some("4d5a"));
}

// ---------------------------------------------------------------------------------------
// what Elasticsearch indexes: multi-valued fields, arrays of objects, dates, number
// texts, unpaired surrogates
// ---------------------------------------------------------------------------------------

#[test]
fn multi_valued_pid_keeps_4_if_any_value_is_4_else_the_first() {
    let pid = |fields: &str| okf(&format!("{{{TS},{fields}}}")).process_pid();
    assert_eq!(pid(r#""process":{"pid":[4,1234]}"#), Some(4));
    assert_eq!(pid(r#""process":{"pid":[1234,4]}"#), Some(4));
    assert_eq!(pid(r#""process":{"pid":[1234,5678]}"#), Some(1234));
    assert_eq!(pid(r#""process":{"pid":[[1234],[null,"4.0"]]}"#), Some(4));
    assert_eq!(pid(r#""process.pid":4,"process":{"pid":5}"#), Some(4));
    assert_eq!(pid(r#""process":{"pid":5},"process.pid":4"#), Some(4));
    assert_eq!(pid(r#""process":{"pid":5,"pid":4}"#), Some(4));
    assert_eq!(pid(r#""process":{"pid":5,"pid":6}"#), Some(5));
    assert_eq!(pid(r#""process":[{"pid":5},{"pid":4}]"#), Some(4));
    assert_eq!(
        pid(r#""process":{"pid":4},"process.pid":null"#),
        Some(4),
        "null adds nothing"
    );
    assert_eq!(pid(r#""process":{"pid":4},"process.pid":"""#), Some(4));
    assert_eq!(pid(r#""process":{"pid":[null,"",[]]}"#), None);
    // Every value must still be one Elasticsearch can index.
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"process":{{"pid":[4,"x"]}}}}"#)).0,
        "process.pid"
    );
    // event.sequence stays single-valued.
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"event":{{"sequence":[1,2]}}}}"#)).0,
        "event.sequence"
    );
}

#[test]
fn multi_valued_os_type_keeps_a_windows_value() {
    let os = |v: &str| {
        okf(&format!(r#"{{{TS},"host":{{"os":{{"type":{v}}}}}}}"#))
            .os_type()
            .map(str::to_owned)
    };
    assert_eq!(os(r#"["windows","x"]"#).as_deref(), Some("windows"));
    assert_eq!(os(r#"["x","windows"]"#).as_deref(), Some("windows"));
    assert_eq!(
        os(r#"["x","Windows","windows"]"#).as_deref(),
        Some("windows"),
        "exact beats case-insensitive"
    );
    assert_eq!(
        os(r#"["x","WINDOWS","Windows"]"#).as_deref(),
        Some("WINDOWS"),
        "case-insensitive beats other values, for hardened semantics"
    );
    assert_eq!(os(r#"["linux","macos"]"#).as_deref(), Some("linux"));
    assert_eq!(os("[null,7,true]").as_deref(), Some("7"));
    let rec = okf(&format!(
        r#"{{{TS},"host.os.type":"linux","host":{{"os":{{"type":"windows"}}}},"host.os":{{"type":null}}}}"#
    ));
    assert_eq!(rec.os_type(), Some("windows"));
    // Other keywords keep the last value and refuse several in an array.
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"host":{{"id":["a","b"]}}}}"#)).0,
        "host.id"
    );
}

#[test]
fn category_and_type_values_from_every_spelling_are_unioned() {
    let rec = okf(&format!(
        r#"{{{TS},"event.type":"start","event":{{"category":"process","type":["info"]}},"event.category":["file"],"event":{{"type":null,"category":7}}}}"#
    ));
    assert_eq!(rec.event_types(), EventTypes::START | EventTypes::INFO);
    assert_eq!(rec.category(), Category::FileAndProcess);
    let rec = okf(&format!(
        r#"{{{TS},"event":[{{"type":"start"}},{{"type":"end"}}],"event":{{"type":[]}}}}"#
    ));
    assert_eq!(rec.event_types(), EventTypes::START | EventTypes::END);
}

#[test]
fn arrays_of_objects_are_flattened() {
    let rec = okf(&format!(
        r#"{{{TS},"process":{{"code_signature":[{{"exists":true,"trusted":false,"subject_name":"Evil"}}]}}}}"#
    ));
    assert_eq!(
        rec.code_signature(),
        CodeSignature {
            exists: Some(true),
            trusted: Some(false),
            subject_name: Some("Evil"),
            status: None,
        }
    );
    let rec = okf(&format!(
        r#"{{{TS},"process":[{{"pid":5,"code_signature":[[{{"trusted":true}}],null,{{"trusted":false,"status":"x"}}]}},{{"pid":4}}],"host":[{{"os":[{{"type":"linux"}},{{"type":"windows"}}]}}]}}"#
    ));
    assert_eq!(
        rec.code_signature().trusted,
        Some(false),
        "later objects merge over earlier ones, like repeated keys"
    );
    assert_eq!(rec.code_signature().status, Some("x"));
    assert_eq!(rec.process_pid(), Some(4));
    assert_eq!(rec.os_type(), Some("windows"));
    assert_eq!(ok(&format!(r#"{{{TS},"process":[]}}"#)).process_pid(), None);
    assert_eq!(
        wrong_field(&format!(r#"{{{TS},"process":[[true]]}}"#)),
        ("process", "an object", "an array holding a boolean")
    );
}

#[test]
fn timestamps_as_elasticsearch_default_date_format_reads_them() {
    let ts = |v: &str| {
        EcsRecord::parse(format!(r#"{{"@timestamp":{v}}}"#).as_bytes())
            .map(|r| r.timestamp().as_nanos())
    };
    assert_eq!(ts(r#""1704290400000""#), Ok(T0));
    assert_eq!(ts("1704290400000.0"), Ok(T0));
    assert_eq!(ts("1704290400000.5"), Ok(T0 + 500_000));
    assert_eq!(ts(r#""1704290400000.123456""#), Ok(T0 + 123_456));
    assert_eq!(
        ts("1704290400000.123456"),
        Ok(T0 + 123_456),
        "by text, not through an f64"
    );
    assert_eq!(ts("1704290400000.99999"), Ok(T0 + 999_990));
    assert_eq!(ts(r#""1704290400000.""#), Ok(T0));
    assert_eq!(ts(r#""01704290400000""#), Ok(T0));
    assert_eq!(ts(r#""\u0031704290400000""#), Ok(T0), "escaped");
    assert_eq!(ts("-0"), Ok(0));
    assert_eq!(ts("-0.0"), Ok(0));
    assert_eq!(ts(r#""-0""#), Ok(0));
    assert_eq!(ts(r#""-1.5""#), Ok(-1_500_000));
    assert_eq!(ts("-1.5"), Ok(-1_500_000));
    assert_eq!(ts("999"), Ok(999_000_000), "three digits are epoch millis");
    let new_year = ts(r#""2024-01-01T00:00:00Z""#);
    assert_eq!(ts(r#""2024""#), new_year, "four digits are a year");
    assert_eq!(ts("2024"), new_year);
    for bad in [
        r#""1704290400000.1234567""#,
        "1.7042904e12",
        "17042904000000e-1",
        r#""+1704290400000""#,
        r#"" 1704290400000""#,
        r#""1704290400000 ""#,
        r#"".5""#,
        r#""12345678901234567890""#,
        r#""1e3""#,
        r#""-""#,
        r#""1704290400000.-5""#,
    ] {
        assert!(
            matches!(
                ts(bad),
                Err(EcsError {
                    kind: EcsErrorKind::BadTimestamp { .. },
                    ..
                })
            ),
            "{bad}: {:?}",
            ts(bad)
        );
    }
    // Outside the nanosecond range, or a year before 1678.
    for v in [
        r#""9223372036854775807""#,
        r#""9223372036854775808""#,
        "92233720368547758.07",
        "1000",
        r#""1677""#,
        r#""-2024""#,
        "-2024",
    ] {
        assert!(
            matches!(
                ts(v),
                Err(EcsError {
                    kind: EcsErrorKind::BadTimestamp {
                        reason: TimestampError::OutOfRange,
                        ..
                    },
                    ..
                })
            ),
            "{v}: {:?}",
            ts(v)
        );
    }
}

#[test]
fn keyword_fields_take_numbers_as_their_json_text() {
    let rec = okf(&format!(
        r#"{{{TS},"host":{{"id":1.5,"name":1.50}},"file.path":-0,"file":{{"extension":1E+2}},"process":{{"name":18446744073709551616,"executable":[2.5e-3]}}}}"#
    ));
    assert_eq!(rec.host_id(), Some("1.5"));
    assert_eq!(rec.host_name(), Some("1.50"));
    assert_eq!(rec.file_path(), Some("-0"));
    assert_eq!(rec.file_extension(), Some("1E+2"));
    assert_eq!(rec.process_name(), Some("18446744073709551616"));
    assert_eq!(rec.process_executable(), Some("2.5e-3"));
    // Numbers anywhere else (skipped fields, sets, strings that look like numbers,
    // keys) do not shift the texts.
    let line = format!(
        r#"{{"a":[1.25,{{"b":-2e5,"5":"6.5"}},"3.5"],{TS},"7.5":7,"host":{{"id":1.5,"z":[8,9.5],"name":"x\"1.0"}},"event":{{"category":[1.5,"file"],"type":2,"sequence":3.9}},"process":{{"pid":4.9,"pid.x":null}},"file":{{"path":0.1}},"id":-7e-1}}"#
    );
    let rec = ok(&line);
    assert_eq!(rec.host_id(), Some("1.5"));
    assert_eq!(rec.host_name(), Some("x\"1.0"));
    assert_eq!(rec.process_pid(), Some(4));
    assert_eq!(rec.sequence(), Some(3));
    assert_eq!(rec.file_path(), Some("0.1"));
    assert_eq!(rec.top_level_id(), Some("-7e-1"));
    assert_eq!(rec.category(), Category::File);
}

#[test]
fn unpaired_surrogate_escapes_are_replacement_characters() {
    let rec = ok(
        r#"{"@timestamp":"2024-01-03T14:00:00Z","file":{"path":"C:\\Windows\\\ud800evil.exe"},"process":{"executable":"a\udc00b\ud800\ud800\udc00c\ud83d"},"host.id":"h\ud83d\ude00","x\udfff":{"y":"\ud800"},"u":"\udbff"}"#,
    );
    assert_eq!(rec.file_path(), Some("C:\\Windows\\\u{fffd}evil.exe"));
    assert_eq!(
        rec.process_executable(),
        Some("a\u{fffd}b\u{fffd}\u{10000}c\u{fffd}")
    );
    assert_eq!(rec.host_id(), Some("h\u{1f600}"));
    // An escaped backslash followed by `u` is no escape.
    let rec = ok(r#"{"@timestamp":"2024-01-03T14:00:00Z","file":{"path":"C:\\ud800"}}"#);
    assert_eq!(rec.file_path(), Some(r"C:\ud800"));
    // Another error on the line is still reported, at its own column.
    let bad = r#"{"@timestamp":"2024-01-03T14:00:00Z","file":{"path":"\ud800"},"x":tru}"#;
    let e = err(bad.as_bytes());
    assert!(matches!(e.kind, EcsErrorKind::NotJson { .. }), "{e:?}");
    assert_eq!(e.column, err(bad.replace("d800", "fffd").as_bytes()).column);
    // Unpaired surrogates in skipped strings with a JSON float in a kept field.
    let rec = ok(r#"{"@timestamp":1704290400000.5,"note":"\ud800","host":{"id":2.5}}"#);
    assert_eq!(rec.host_id(), Some("2.5"));
    assert_eq!(rec.timestamp(), Timestamp(T0 + 500_000));
}

// ---------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------

#[test]
fn missing_timestamp() {
    for line in [
        r#"{"event":{"category":"file"}}"#,
        r#"{"@timestamp":null,"event":{"category":"file"}}"#,
        r#"{"@timestamp":"2024-01-03T14:00:00Z","@timestamp":null}"#,
        r#"{"timestamp":"2024-01-03T14:00:00Z"}"#,
        "{}",
    ] {
        let e = err(line.as_bytes());
        assert_eq!(e.kind, EcsErrorKind::MissingTimestamp, "{line}");
        assert_eq!(e.column, None);
    }
}

#[test]
fn bad_timestamps() {
    for (text, reason) in [
        (
            "2024-13-01T00:00:00Z",
            TimestampError::FieldRange { field: "month" },
        ),
        (
            "2024-01-03",
            TimestampError::Syntax {
                at: 10,
                expected: "'T' between the date and the time",
            },
        ),
        ("2262-04-12T00:00:00Z", TimestampError::OutOfRange),
    ] {
        let line = format!(r#"{{"@timestamp":"{text}"}}"#);
        match err(line.as_bytes()).kind {
            EcsErrorKind::BadTimestamp { text: t, reason: r } => {
                assert_eq!(t, text);
                assert_eq!(r, reason, "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
    // Long garbage is cut in the error.
    let long = "x".repeat(1000);
    let line = format!(r#"{{"@timestamp":"{long}"}}"#);
    let EcsErrorKind::BadTimestamp { text, .. } = err(line.as_bytes()).kind else {
        panic!()
    };
    assert_eq!(text.len(), 64);
    // Non-string, non-number timestamps are the wrong type.
    for v in ["true", "{}", "[1,2]"] {
        let line = format!(r#"{{"@timestamp":{v}}}"#);
        assert_eq!(wrong_field(&line).0, "@timestamp", "{v}");
    }
    // Integers are epoch milliseconds, as Elasticsearch's `date` takes them.
    let rec = ok(r#"{"@timestamp":1704290400123}"#);
    assert_eq!(rec.timestamp(), Timestamp(T0 + 123_000_000));
    assert!(matches!(
        err(br#"{"@timestamp":9223372036854775807}"#).kind,
        EcsErrorKind::BadTimestamp {
            reason: TimestampError::OutOfRange,
            ..
        }
    ));
}

#[test]
fn wrong_types_name_the_field() {
    let cases = [
        (r#""process":4"#, "process", "an object", "a number"),
        (r#""process":"x""#, "process", "an object", "a string"),
        (
            r#""process":[4]"#,
            "process",
            "an object",
            "an array holding a number",
        ),
        (
            r#""process":[{"pid":4},"x"]"#,
            "process",
            "an object",
            "an array holding a string",
        ),
        (
            r#""process":{"pid":{}}"#,
            "process.pid",
            "an integer",
            "an object",
        ),
        (
            r#""process.pid.x":1"#,
            "process.pid",
            "an integer",
            "an object",
        ),
        (
            r#""process":{"pid":{"x":1}}"#,
            "process.pid",
            "an integer",
            "an object",
        ),
        (
            r#""host":{"os":"windows"}"#,
            "host.os",
            "an object",
            "a string",
        ),
        (
            r#""host.os.type":{}"#,
            "host.os.type",
            "a string",
            "an object",
        ),
        (
            r#""process.code_signature":true"#,
            "process.code_signature",
            "an object",
            "a boolean",
        ),
        (r#""file":{"Ext":1}"#, "file.Ext", "an object", "a number"),
        (
            r#""file.Ext":{"header_bytes":{}}"#,
            "file.Ext.header_bytes",
            "a string",
            "an object",
        ),
        (r#""process":{"hash":{"sha256":false}}"#, "", "", ""),
    ];
    for (body, field, expected, found) in cases {
        let line = format!("{{{TS},{body}}}");
        if field.is_empty() {
            // booleans are a keyword's text: accepted
            ok(&line);
            continue;
        }
        assert_eq!(wrong_field(&line), (field, expected, found), "{line}");
    }
    let e = err(format!(r#"{{{TS},"process":{{"pid":"abc"}}}}"#).as_bytes());
    assert_eq!(
        e.to_string(),
        format!(
            "column {}: `process.pid` must be an integer, found a string that is not a number",
            e.column.unwrap()
        )
    );
}

#[test]
fn not_an_object() {
    for (line, found) in [
        ("[]", "an array"),
        ("null", "null"),
        ("4", "a number"),
        (r#""x""#, "a string"),
        ("true", "a boolean"),
    ] {
        assert_eq!(
            err(line.as_bytes()).kind,
            EcsErrorKind::NotAnObject { found },
            "{line}"
        );
    }
}

#[test]
fn invalid_json_is_an_error() {
    for line in [
        &b"{"[..],
        b"{\"@timestamp\":\"2024-01-03T14:00:00Z\"",
        b"{\"@timestamp\":\"2024-01-03T14:00:00Z\"} x",
        b"{\"@timestamp\":\"2024-01-03T14:00:00Z\"}{}",
        b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",}",
        b"{'@timestamp':1}",
        b"{\"a\":01}",
        b"{\"a\":\"\\x\"}",
        b"{\"a\":NaN}",
        b"\x0b{}",
    ] {
        let e = err(line);
        assert!(
            matches!(e.kind, EcsErrorKind::NotJson { .. }),
            "{}: {e:?}",
            String::from_utf8_lossy(line)
        );
        assert!(e.column.is_some());
        let EcsErrorKind::NotJson { message } = &e.kind else {
            unreachable!()
        };
        assert!(!message.contains(" at line "), "{message}");
    }
}

#[test]
fn invalid_utf8_is_an_error_with_its_column() {
    let mut line = br#"{"@timestamp":"2024-01-03T14:00:00Z","x":""#.to_vec();
    let at = line.len();
    line.extend_from_slice(b"\xff\xfe\"}");
    let e = err(&line);
    assert_eq!(e.kind, EcsErrorKind::InvalidUtf8);
    assert_eq!(e.column, Some(at + 1));
    // In a kept field, in a key, truncated multi-byte sequence at the end.
    err(b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"file\":{\"path\":\"C:\\\\\xc3\"}}");
    err(b"{\"\xe2\x82\":1}");
    err(b"{\"@timestamp\":\"2024-01-03T14:00:00Z\"}\xf0\x9f");
    // Surrogates encoded as UTF-8 (CESU) are not UTF-8.
    err(b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"x\":\"\xed\xa0\x80\"}");
}

#[test]
fn nul_bytes() {
    // Raw NUL inside a string is a control character JSON forbids.
    let line = b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"x\":\"a\0b\"}";
    let e = err(line);
    assert!(matches!(e.kind, EcsErrorKind::NotJson { .. }), "{e:?}");
    let nul = line.iter().position(|&b| b == 0).unwrap();
    // serde_json stops at the NUL or just before it.
    let col = e.column.unwrap();
    assert!(
        col == nul || col == nul + 1,
        "column {col}, NUL at {}",
        nul + 1
    );
    err(b"{\"@timestamp\":\"2024-01-03T14:00:00Z\"}\0");
    err(b"\0");
    err(b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"file\":{\"path\":\"\0\"}}");
    // An escaped NUL is a valid character of a string.
    let rec = ok(r#"{"@timestamp":"2024-01-03T14:00:00Z","file":{"path":"a\u0000b"}}"#);
    assert_eq!(rec.file_path(), Some("a\0b"));
}

#[test]
fn error_columns_point_into_the_line() {
    let line = format!(r#"{{{TS},"process":{{"pid":"abc"}},"zzz":1}}"#);
    let e = err(line.as_bytes());
    let col = e.column.unwrap();
    let pid_value = line.find("\"abc\"").unwrap();
    assert!(
        (pid_value + 1..=pid_value + 6).contains(&col),
        "column {col}, value at {}",
        pid_value + 1
    );
    let e = err(b"{\"a\":1,}");
    assert_eq!(e.column, Some(8));
    // With a byte-order mark the column still counts from the line's first byte.
    let e = err(b"\xEF\xBB\xBF{\"a\":1,}");
    assert_eq!(e.column, Some(11));
}

#[test]
fn line_error_display() {
    let e = err(br#"{"a":1,}"#).at_line(12);
    assert_eq!(e.line, 12);
    assert!(
        e.to_string()
            .starts_with("line 12, column 8: not valid JSON: "),
        "{e}"
    );
    let e = err(b"{}").at_line(3);
    assert_eq!(e.to_string(), "line 3: `@timestamp` is missing");
    let boxed: Box<dyn std::error::Error> = Box::new(e);
    assert!(boxed.to_string().contains("line 3"));
}

#[test]
fn blank_lines() {
    for line in [&b""[..], b" ", b"\t\r\n", b"\r", b"   \n"] {
        assert_eq!(decode_line(line), Ok(None));
        assert_eq!(
            EcsRecord::parse(line).unwrap_err().kind,
            EcsErrorKind::Blank
        );
    }
    // A byte-order mark is no whitespace: a line of one and blanks is a missing
    // document, reported (the one `Blank` error `decode_line` gives), in both decoders.
    for line in [&b"\xEF\xBB\xBF"[..], b"\xEF\xBB\xBF \r"] {
        assert_eq!(decode_line(line).unwrap_err().kind, EcsErrorKind::Blank);
        assert_eq!(
            shareexec::input::decode_sysmon_line(line).unwrap_err().kind,
            shareexec::input::SysmonErrorKind::Blank
        );
    }
    // Other whitespace is not JSON whitespace.
    assert!(decode_line("\u{a0}".as_bytes()).is_err());
    assert!(decode_line(b"\x0c").is_err());
    // Line ends around a document are fine.
    let rec = decode_line(b" {\"@timestamp\":\"2024-01-03T14:00:00Z\"}\r\n").unwrap();
    assert_eq!(rec.unwrap().timestamp(), Timestamp(T0));
}

#[test]
fn byte_order_mark_is_skipped() {
    let rec = ok("\u{feff}{\"@timestamp\":\"2024-01-03T14:00:00Z\"}");
    assert_eq!(rec.timestamp(), Timestamp(T0));
    let rec = EcsRecord::parse_str("\u{feff}{\"@timestamp\":\"2024-01-03T14:00:00Z\"}").unwrap();
    assert_eq!(rec.timestamp(), Timestamp(T0));
}

#[test]
fn huge_line() {
    let big = "A".repeat(8 << 20);
    let path = format!("C:\\\\{}", "d\\\\".repeat(100_000));
    let line = format!(
        r#"{{"blob":"{big}","arr":[{arr}],"@timestamp":"2024-01-03T14:00:00Z","event":{{"category":"file"}},"file":{{"path":"{path}"}}}}"#,
        arr = "1,".repeat(200_000) + "1"
    );
    let rec = ok(&line);
    assert_eq!(rec.file_path().map(str::len), Some(3 + 200_000));
    assert_eq!(rec.events(0).count(), 1);
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for open in ["[", "{\"a\":", "{\"process\":"] {
        let mut line = String::from("{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"x\":");
        line.push_str(&open.repeat(100_000));
        let e = err(line.as_bytes());
        assert!(matches!(e.kind, EcsErrorKind::NotJson { .. }), "{e:?}");
    }
    let mut line = String::new();
    for _ in 0..100_000 {
        line.push_str("{\"_source\":");
    }
    assert!(matches!(
        err(line.as_bytes()).kind,
        EcsErrorKind::NotJson { .. }
    ));
}

#[test]
fn into_owned_outlives_the_buffer() {
    let owned = {
        let buf = String::from(
            r#"{"@timestamp":"2024-01-03T14:00:00Z","event.category":"file","host.id":"h1","file.path":"C:\\a.exe"}"#,
        );
        EcsRecord::parse(buf.as_bytes()).unwrap().into_owned()
    };
    assert_eq!(owned.host_id(), Some("h1"));
    assert_eq!(owned.file_path(), Some(r"C:\a.exe"));
}

// ---------------------------------------------------------------------------------------
// RFC 3339
// ---------------------------------------------------------------------------------------

#[test]
fn rfc3339_offsets() {
    assert_eq!(ts("2024-01-03T14:00:00Z"), Ok(T0));
    assert_eq!(ts("2024-01-03T19:30:00+05:30"), Ok(T0));
    assert_eq!(ts("2024-01-03T06:00:00-08:00"), Ok(T0));
    assert_eq!(ts("2024-01-03T14:00:00+00:00"), Ok(T0));
    assert_eq!(ts("2024-01-03T14:00:00-00:00"), Ok(T0));
    assert_eq!(ts("2024-01-04T13:59:00+23:59"), Ok(T0));
    // Crossing a day and a year boundary through the offset.
    assert_eq!(ts("2023-12-31T23:00:00-01:00"), ts("2024-01-01T00:00:00Z"));
    assert_eq!(ts("1970-01-01T05:30:00+05:30"), Ok(0));
    assert_eq!(
        ts("2024-01-03T14:00:00+24:00"),
        Err(TimestampError::FieldRange {
            field: "offset hour"
        })
    );
    assert_eq!(
        ts("2024-01-03T14:00:00+05:60"),
        Err(TimestampError::FieldRange {
            field: "offset minute"
        })
    );
    for bad in [
        "2024-01-03T14:00:00",
        "2024-01-03T14:00:00+0530",
        "2024-01-03T14:00:00+05",
        "2024-01-03T14:00:00 Z",
        "2024-01-03T14:00:00ZZ",
        "2024-01-03T14:00:00UTC",
        "2024-01-03T14:00:00+5:30",
    ] {
        assert!(
            matches!(ts(bad), Err(TimestampError::Syntax { .. })),
            "{bad}: {:?}",
            ts(bad)
        );
    }
}

#[test]
fn rfc3339_fraction_digits() {
    let expected = [
        0,
        100_000_000,
        120_000_000,
        123_000_000,
        123_400_000,
        123_450_000,
        123_456_000,
        123_456_700,
        123_456_780,
        123_456_789,
    ];
    let digits = "123456789";
    assert_eq!(ts("2024-01-03T14:00:00Z"), Ok(T0));
    for (n, want) in expected.iter().enumerate().skip(1) {
        let text = format!("2024-01-03T14:00:00.{}Z", &digits[..n]);
        assert_eq!(ts(&text), Ok(T0 + want), "{text}");
    }
    // Beyond nine digits: truncated, never rounded up.
    assert_eq!(
        ts("2024-01-03T14:00:00.1234567899999Z"),
        Ok(T0 + 123_456_789)
    );
    assert_eq!(
        ts("2024-01-03T14:00:00.999999999999Z"),
        Ok(T0 + 999_999_999)
    );
    assert_eq!(
        ts(&format!("2024-01-03T14:00:00.{}Z", "0".repeat(10_000))),
        Ok(T0)
    );
    assert_eq!(ts("2024-01-03T14:00:00.000000000Z"), Ok(T0));
    assert_eq!(ts("2024-01-03T14:00:00.000000001Z"), Ok(T0 + 1));
    assert!(matches!(
        ts("2024-01-03T14:00:00.Z"),
        Err(TimestampError::Syntax { at: 20, .. })
    ));
    assert!(ts("2024-01-03T14:00:00,5Z").is_err());
}

#[test]
fn rfc3339_separators_and_case() {
    assert_eq!(ts("2024-01-03t14:00:00z"), Ok(T0));
    assert_eq!(ts("2024-01-03 14:00:00Z"), Ok(T0));
    assert_eq!(ts("2024-01-03 14:00:00.5+00:00"), Ok(T0 + NS / 2));
    for bad in [
        "2024-01-03_14:00:00Z",
        "2024-01-03  14:00:00Z",
        "2024/01/03T14:00:00Z",
        "20240103T140000Z",
        " 2024-01-03T14:00:00Z",
        "2024-01-03T14:00:00Z ",
        "2024-1-03T14:00:00Z",
        "02024-01-03T14:00:00Z",
        "+2024-01-03T14:00:00Z",
        "2024-01-03T14:00Z",
        "２０２４-01-03T14:00:00Z",
        "",
        "Z",
        "2024-01-03T14:00:00Z\0",
    ] {
        assert!(
            matches!(ts(bad), Err(TimestampError::Syntax { .. })),
            "{bad:?}: {:?}",
            ts(bad)
        );
    }
}

#[test]
fn rfc3339_calendar_edges() {
    assert_eq!(ts("2024-02-29T00:00:00Z"), Ok(1_709_164_800 * NS));
    assert_eq!(ts("2000-02-29T00:00:00Z"), Ok(951_782_400 * NS));
    assert_eq!(
        ts("2024-03-01T00:00:00Z").unwrap() - ts("2024-02-28T00:00:00Z").unwrap(),
        2 * 86_400 * NS
    );
    assert_eq!(
        ts("2023-03-01T00:00:00Z").unwrap() - ts("2023-02-28T00:00:00Z").unwrap(),
        86_400 * NS
    );
    assert_eq!(ts("2024-12-31T23:59:59Z"), Ok(1_735_689_599 * NS));
    for (bad, field) in [
        ("2023-02-29T00:00:00Z", "day"),
        ("1900-02-29T00:00:00Z", "day"),
        ("2100-02-29T00:00:00Z", "day"),
        ("2024-04-31T00:00:00Z", "day"),
        ("2024-01-32T00:00:00Z", "day"),
        ("2024-01-00T00:00:00Z", "day"),
        ("2024-00-01T00:00:00Z", "month"),
        ("2024-13-01T00:00:00Z", "month"),
        ("2024-01-01T24:00:00Z", "hour"),
        ("2024-01-01T00:60:00Z", "minute"),
        ("2016-12-31T23:59:60Z", "second"),
    ] {
        assert_eq!(ts(bad), Err(TimestampError::FieldRange { field }), "{bad}");
    }
}

#[test]
fn rfc3339_epoch_and_before() {
    assert_eq!(ts("1970-01-01T00:00:00Z"), Ok(0));
    assert_eq!(ts("1970-01-01T00:00:00.000000001Z"), Ok(1));
    assert_eq!(ts("1969-12-31T23:59:59.999999999Z"), Ok(-1));
    assert_eq!(ts("1969-12-31T23:59:59Z"), Ok(-NS));
    assert_eq!(ts("1969-07-20T20:17:40Z"), Ok(-14_182_940 * NS));
    assert_eq!(ts("1900-01-01T00:00:00Z"), Ok(-2_208_988_800 * NS));
    assert_eq!(ts("1677-09-21T00:12:43.145224192Z"), Ok(i64::MIN));
    assert_eq!(
        ts("1677-09-21T00:12:43.145224191Z"),
        Err(TimestampError::OutOfRange)
    );
    assert_eq!(ts("1600-01-01T00:00:00Z"), Err(TimestampError::OutOfRange));
    assert_eq!(ts("0000-01-01T00:00:00Z"), Err(TimestampError::OutOfRange));
}

#[test]
fn rfc3339_year_2262_overflow() {
    assert_eq!(ts("2262-04-11T23:47:16.854775807Z"), Ok(i64::MAX));
    assert_eq!(
        ts("2262-04-11T23:47:16.854775808Z"),
        Err(TimestampError::OutOfRange)
    );
    assert_eq!(ts("2262-04-11T23:47:17Z"), Err(TimestampError::OutOfRange));
    assert_eq!(ts("2263-01-01T00:00:00Z"), Err(TimestampError::OutOfRange));
    assert_eq!(
        ts("9999-12-31T23:59:59.999999999Z"),
        Err(TimestampError::OutOfRange)
    );
    // Out of range in local time, in range once the offset is applied.
    assert_eq!(ts("2262-04-12T05:17:16.854775807+05:30"), Ok(i64::MAX));
    assert_eq!(ts("1677-09-20T20:12:43.145224192-04:00"), Ok(i64::MIN));
}

#[test]
fn rfc3339_error_messages() {
    assert_eq!(
        TimestampError::Syntax {
            at: 4,
            expected: "'-' after the year"
        }
        .to_string(),
        "expected '-' after the year at byte 4"
    );
    assert_eq!(
        ts("2024:01-03T14:00:00Z"),
        Err(TimestampError::Syntax {
            at: 4,
            expected: "'-' after the year"
        })
    );
}

/// Reference formatter: nanoseconds → RFC 3339 with the given offset (minutes),
/// fraction digits (0–12, digits past nine are `extra`), separator and zone letter.
fn format_rfc3339(
    ns: i64,
    offset_min: i64,
    digits: usize,
    extra: &str,
    sep: char,
    zulu: char,
) -> String {
    let secs = ns.div_euclid(NS);
    let frac = ns.rem_euclid(NS);
    let local = secs + offset_min * 60;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let sod = local.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}{sep}{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if digits > 0 {
        let all = format!("{frac:09}{extra}");
        s.push('.');
        s.push_str(&all[..digits.min(all.len())]);
    }
    if offset_min == 0 && zulu != '+' {
        s.push(zulu);
    } else {
        let sign = if offset_min < 0 { '-' } else { '+' };
        let a = offset_min.abs();
        s.push_str(&format!("{sign}{:02}:{:02}", a / 60, a % 60));
    }
    s
}

/// H. Hinnant's `civil_from_days`.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[test]
fn reference_formatter_sanity() {
    assert_eq!(
        format_rfc3339(0, 0, 0, "", 'T', 'Z'),
        "1970-01-01T00:00:00Z"
    );
    assert_eq!(
        format_rfc3339(-1, 0, 9, "", 'T', 'Z'),
        "1969-12-31T23:59:59.999999999Z"
    );
    assert_eq!(
        format_rfc3339(T0, 330, 3, "", 'T', 'Z'),
        "2024-01-03T19:30:00.000+05:30"
    );
    assert_eq!(
        format_rfc3339(i64::MAX, 0, 9, "", 'T', 'Z'),
        "2262-04-11T23:47:16.854775807Z"
    );
}

proptest! {
    // No regression files: failures print the minimal input, which belongs in a unit test.
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn rfc3339_round_trip(
        ns in any::<i64>(),
        offset_min in -(23 * 60 + 59)..=(23 * 60 + 59i64),
        digits in 0usize..=12,
        extra in "[0-9]{3}",
        sep in prop::sample::select(vec!['T', 't', ' ']),
        zulu in prop::sample::select(vec!['Z', 'z', '+']),
    ) {
        let text = format_rfc3339(ns, offset_min, digits, &extra, sep, zulu);
        let kept = 10i64.pow(9 - digits.min(9) as u32);
        let expected = ns.div_euclid(NS) as i128 * NS as i128 + (ns.rem_euclid(NS) / kept * kept) as i128;
        prop_assert_eq!(ts(&text), Ok(expected as i64), "{}", text);
    }

    #[test]
    fn rfc3339_never_panics(s in ".{0,40}") {
        let _ = parse_rfc3339(&s);
    }

    #[test]
    fn rfc3339_near_miss_never_panics(s in "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?([Zz]|[+-][0-9]{2}:[0-9]{2})") {
        if let Err(e) = parse_rfc3339(&s) {
            prop_assert!(!matches!(e, TimestampError::Syntax { .. }), "{}: {:?}", s, e);
        }
    }

    #[test]
    fn decode_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = EcsRecord::parse(&bytes);
        let _ = decode_line(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_documents(
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut text = serde_json::to_string(&nested_file_doc()).unwrap().into_bytes();
        let at = pos.index(text.len());
        text[at] = byte;
        let _ = EcsRecord::parse(&text);
        let _ = EcsRecord::parse(&text[..cut.index(text.len())]);
    }

    #[test]
    fn any_respelling_decodes_identically(choices in prop::collection::vec(any::<bool>(), 1..40)) {
        let nested = nested_file_doc();
        let respelled = respell(&nested, &choices, &mut 0);
        prop_assert_eq!(decode_value(&respelled), decode_value(&nested));
    }

    #[test]
    fn random_values_in_rule_fields_never_panic(
        doc in prop::collection::btree_map(
            prop::sample::select(vec![
                "@timestamp", "event", "event.category", "event.type", "event.sequence", "event.id",
                "id", "_id", "_source", "host", "host.id", "host.os", "host.os.type", "process",
                "process.pid", "process.pid.x", "process.code_signature", "process.code_signature.trusted",
                "process.code_signature.exists", "process.hash", "file", "file.Ext", "file.Ext.header_bytes",
                "file.path", "file.hash.md5", "unknown",
            ]),
            json_value(),
            0..8,
        )
    ) {
        let v = Value::Object(doc.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        let text = serde_json::to_string(&v).unwrap();
        if let Ok(rec) = EcsRecord::parse(text.as_bytes()) {
            let _ = rec.events(0).count();
        }
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        (-1e20f64..1e20).prop_map(|f| json!(f)),
        prop::sample::select(vec![
            "",
            "4",
            "4.5",
            "true",
            "false",
            "file",
            "process",
            "start",
            "creation",
            "windows",
            "2024-01-03T14:00:00Z",
            "2262-04-12T00:00:00Z",
            "C:\\x.exe",
            "abc",
            "-1",
            "1e400",
        ])
        .prop_map(|s| Value::String(s.to_owned())),
        ".{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "pid",
                    "type",
                    "category",
                    "id",
                    "os",
                    "trusted",
                    "path",
                    "Ext",
                    "header_bytes",
                    "code_signature",
                    "x",
                    "_source",
                    "@timestamp",
                ]),
                inner,
                0..4
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

// ---------------------------------------------------------------------------------------
// fixtures
// ---------------------------------------------------------------------------------------

fn ndjson_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".ndjson") || name.ends_with(".ndjson.gz")
        })
        .collect();
    files.sort();
    files
}

/// Decodes every line of every file; returns (files, lines, events).
fn decode_all(dir: &Path) -> (usize, usize, usize) {
    let (mut files, mut lines, mut events) = (0, 0, 0);
    for path in ndjson_files(dir) {
        files += 1;
        let data = read_maybe_gz(&path);
        for (n, line) in data.split(|&b| b == b'\n').enumerate() {
            match decode_line(line) {
                Ok(None) => {}
                Ok(Some(rec)) => {
                    lines += 1;
                    events += rec.events(n as u64 + 1).count();
                }
                Err(e) => panic!("{}: {}", path.display(), e.at_line(n as u64 + 1)),
            }
        }
    }
    (files, lines, events)
}

#[test]
fn case_fixtures_decode_without_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cases");
    let (files, lines, events) = decode_all(&dir);
    if files == 0 {
        eprintln!("no fixtures in {}: skipped", dir.display());
        return;
    }
    assert!(
        lines > 0 && events > 0,
        "{files} files, {lines} lines, {events} events"
    );
}

#[test]
fn realdata_fixtures_decode_without_errors() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/realdata");
    let (files, lines, events) = decode_all(&dir);
    if files == 0 {
        eprintln!("no fixtures in {}: skipped", dir.display());
        return;
    }
    eprintln!("realdata: {files} files, {lines} documents, {events} events");
    assert!(lines > 0);
}

proptest::proptest! {
    /// The alert formatter and the parser agree on every representable instant.
    #[test]
    fn format_then_parse_round_trips(nanos in -9_223_372_036_854_775_807i64..=i64::MAX) {
        let t = shareexec::Timestamp(nanos);
        let text = shareexec::input::format_rfc3339(t);
        proptest::prop_assert_eq!(shareexec::input::parse_rfc3339(&text).unwrap(), t, "{}", text);
    }
}
