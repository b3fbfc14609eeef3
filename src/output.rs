//! Verdicts as ECS-shaped JSON, one object per line (feature `json`).
//!
//! The format is a contract: external conformance checks compare `events[0].line`
//! and `events[1].line` (the write's and the execution's 1-based line numbers,
//! counted across all inputs in the order given), so those never change meaning.
//!
//! ```json
//! {"@timestamp":"2024-01-03T14:00:10.000Z",
//!  "event":{"kind":"signal","id":"9f2c…"},
//!  "rule":{"id":"ab75c24b-…","name":"Remote Execution via File Shares","severity":"medium","risk_score":47,"reference":"…"},
//!  "threat":[{"framework":"MITRE ATT&CK","tactic":{…},"technique":[{…,"subtechnique":[{…}]}]}],
//!  "host":{"id":"h1"},
//!  "file":{"path":"C:\\Windows\\evil.exe","hash":{"sha256":"…"}},
//!  "process":{"executable":"C:\\Windows\\evil.exe","pid":5000,"code_signature":{"trusted":false},"hash":{…}},
//!  "shareexec":{"verdict":"alert","semantics":"hardened","span_ms":10000,"join":{"host.id":"h1","path":"C:\\Windows\\evil.exe"}},
//!  "events":[{"stage":"write","@timestamp":"…","event.id":"f1","source":"a.ndjson","line":1},
//!            {"stage":"execution","@timestamp":"…","event.id":"p1","source":"a.ndjson","line":2}]}
//! ```
//!
//! (Shown grouped for reading: every object's keys are written in sorted order, the
//! same in every build, whatever serde_json's features.)
//!
//! A suppressed sequence (printed by the CLI with `--explain`) has the same shape
//! with `shareexec.verdict` `"suppressed"` and `shareexec.reason`; a late event has
//! `shareexec.verdict` `"late"` and one element in `events`.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use serde_json::{Map, Value, json};

use crate::event::Position;
use crate::input::format_rfc3339;
use crate::rule::{Mitre, Semantics};
use crate::verdict::{
    EventRef, Late, OwnedHashes, Sequence, Signature, Stage, Suppression, Verdict,
};

/// Where an event came from: the input's name and the 1-based line number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    /// The input's name (a file path, `-` for standard input).
    pub source: &'a str,
    /// 1-based line number, counted across all inputs in the order given.
    pub line: u64,
}

/// One verdict as one line of JSON; `locate` turns a [`Position`] back into a
/// [`Location`] (the CLI uses line numbers as positions).
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use shareexec::output::{Location, verdict_json};
/// use shareexec::{input::EcsRecord, Config, Detector, Rule};
///
/// let lines = [
///     r#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"file","type":"creation"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},"file":{"path":"C:\\x.exe","extension":"exe"}}"#,
///     r#"{"@timestamp":"2024-01-03T14:00:01Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":7,"executable":"C:\\x.exe"}}"#,
/// ];
/// let rule = Arc::new(Rule::elasticsearch());
/// let semantics = rule.semantics();
/// let mut detector = Detector::new(rule, Config::default()).unwrap();
/// for (n, line) in lines.iter().enumerate() {
///     for event in EcsRecord::parse(line.as_bytes()).unwrap().events(n as u64 + 1) {
///         detector.handle(event);
///     }
/// }
/// let alert = detector.poll_verdict().unwrap();
/// let json = verdict_json(&alert, semantics, &|line| Location { source: "events.ndjson", line });
/// let value: serde_json::Value = serde_json::from_str(&json).unwrap();
/// assert_eq!(value["events"][0]["line"], 1);
/// assert_eq!(value["events"][1]["line"], 2);
/// assert_eq!(value["threat"][0]["technique"][0]["subtechnique"][0]["id"], "T1021.002");
/// ```
pub fn verdict_json<'a>(
    verdict: &Verdict,
    semantics: Semantics,
    locate: &dyn Fn(Position) -> Location<'a>,
) -> String {
    let value = match verdict {
        Verdict::Alert(s) => sequence_value(s, "alert", None, semantics, locate),
        Verdict::Suppressed(Suppression { sequence, reason }) => sequence_value(
            sequence,
            "suppressed",
            Some(reason.as_str()),
            semantics,
            locate,
        ),
        Verdict::Late(l) => late_value(l, semantics, locate),
    };
    // Keys in sorted order whatever serde_json's features: another crate of the build
    // can turn on its `preserve_order` (the `evtx` feature does), and the same verdict
    // must give the same bytes in every build.
    let mut value = value;
    value.sort_all_objects();
    value.to_string()
}

fn mitre(m: &Mitre) -> Value {
    json!({"id": m.id, "name": m.name, "reference": m.reference})
}

fn hashes(h: &OwnedHashes) -> Option<Value> {
    if h.is_empty() {
        return None;
    }
    let mut m = Map::new();
    for (k, v) in [("sha256", &h.sha256), ("sha1", &h.sha1), ("md5", &h.md5)] {
        if let Some(v) = v {
            m.insert(k.into(), Value::String(v.to_string()));
        }
    }
    Some(Value::Object(m))
}

fn signature(s: &Signature) -> Value {
    let mut m = Map::new();
    if let Some(v) = s.exists {
        m.insert("exists".into(), v.into());
    }
    if let Some(v) = s.trusted {
        m.insert("trusted".into(), v.into());
    }
    if let Some(v) = &s.subject_name {
        m.insert("subject_name".into(), v.to_string().into());
    }
    if let Some(v) = &s.status {
        m.insert("status".into(), v.to_string().into());
    }
    Value::Object(m)
}

fn event_value<'a>(stage: Stage, e: &EventRef, locate: &dyn Fn(Position) -> Location<'a>) -> Value {
    let at = locate(e.position);
    let mut m = Map::new();
    m.insert(
        "stage".into(),
        (if stage == Stage::Write {
            "write"
        } else {
            "execution"
        })
        .into(),
    );
    m.insert("@timestamp".into(), format_rfc3339(e.timestamp).into());
    if let Some(id) = &e.id {
        m.insert("event.id".into(), id.to_string().into());
    }
    if let Some(seq) = e.sequence {
        m.insert("event.sequence".into(), seq.into());
    }
    m.insert("source".into(), at.source.into());
    m.insert("line".into(), at.line.into());
    Value::Object(m)
}

fn sequence_value<'a>(
    s: &Sequence,
    verdict: &str,
    reason: Option<&str>,
    semantics: Semantics,
    locate: &dyn Fn(Position) -> Location<'a>,
) -> Value {
    let rule = s.rule;
    let mut file = json!({"path": &*s.path});
    if let Some(h) = hashes(&s.file_hash) {
        file["hash"] = h;
    }
    let mut process =
        json!({"executable": &*s.executable, "code_signature": signature(&s.code_signature)});
    if let Some(pid) = s.pid {
        process["pid"] = pid.into();
    }
    if let Some(h) = hashes(&s.process_hash) {
        process["hash"] = h;
    }
    let mut ours = json!({
        "verdict": verdict,
        "alert_id": s.id.to_string(),
        "semantics": semantics.name(),
        "span_ms": s.span.as_nanos() as f64 / 1e6,
        "join": {"host.id": &*s.host_id, "path": &*s.path},
    });
    if let Some(r) = reason {
        ours["reason"] = r.into();
    }
    json!({
        "@timestamp": format_rfc3339(s.execution.timestamp),
        "event": {"kind": "signal", "id": s.id.to_string()},
        "rule": {
            "id": rule.id, "name": rule.name, "severity": rule.severity,
            "risk_score": rule.risk_score, "reference": rule.reference,
        },
        "threat": [{
            "framework": "MITRE ATT&CK",
            "tactic": mitre(&rule.tactic),
            "technique": [{
                "id": rule.technique.id, "name": rule.technique.name, "reference": rule.technique.reference,
                "subtechnique": [mitre(&rule.subtechnique)],
            }],
        }],
        "host": {"id": &*s.host_id},
        "file": file,
        "process": process,
        "shareexec": ours,
        "events": vec![event_value(Stage::Write, &s.write, locate), event_value(Stage::Execution, &s.execution, locate)],
    })
}

fn late_value<'a>(
    l: &Late,
    semantics: Semantics,
    locate: &dyn Fn(Position) -> Location<'a>,
) -> Value {
    let events: Vec<Value> = vec![event_value(l.stage, &l.event, locate)];
    json!({
        "@timestamp": format_rfc3339(l.event.timestamp),
        "host": {"id": &*l.host_id},
        "shareexec": {
            "verdict": "late",
            "semantics": semantics.name(),
            "behind_ms": l.behind.as_nanos() as f64 / 1e6,
        },
        "events": events,
    })
}
