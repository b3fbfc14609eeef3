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

use serde::Serialize;

use crate::event::Position;
use crate::input::format_rfc3339;
use crate::rule::{Mitre, Semantics};
use crate::verdict::{EventRef, Late, OwnedHashes, Sequence, Stage, Suppression, Verdict};

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
    let semantics = semantics.name();
    // Serialized straight from borrowed views, whose fields are declared in sorted key
    // order: the same bytes as building a `serde_json::Value` and sorting its objects
    // (which the golden test `tests/output_golden.rs` pins), at a tenth of the cost: an
    // alert had cost as much as screening 15 lines.
    let text = match verdict {
        Verdict::Alert(s) => {
            serde_json::to_string(&SequenceDoc::new(s, "alert", None, semantics, locate))
        }
        Verdict::Suppressed(Suppression { sequence, reason }) => {
            serde_json::to_string(&SequenceDoc::new(
                sequence,
                "suppressed",
                Some(reason.as_str()),
                semantics,
                locate,
            ))
        }
        Verdict::Late(l) => serde_json::to_string(&LateDoc::new(l, semantics, locate)),
    };
    // Serializing these views cannot fail: every map key is a string and every number
    // finite (a span is a whole number of nanoseconds).
    text.unwrap_or_default()
}

// The documents below declare their fields in sorted key order (bytewise, as
// `Value::sort_all_objects` sorts), so that serde writes every object's keys sorted,
// the same in every build whatever serde_json's features.

/// An alert or a suppressed sequence.
#[derive(Serialize)]
struct SequenceDoc<'v, 'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    event: SignalDoc,
    events: [EventDoc<'v, 'a>; 2],
    file: FileDoc<'v>,
    host: HostDoc<'v>,
    process: ProcessDoc<'v>,
    rule: RuleDoc,
    shareexec: OursDoc<'v>,
    threat: [ThreatDoc; 1],
}

impl<'v, 'a> SequenceDoc<'v, 'a> {
    fn new(
        s: &'v Sequence,
        verdict: &'static str,
        reason: Option<&'v str>,
        semantics: &'static str,
        locate: &dyn Fn(Position) -> Location<'a>,
    ) -> Self {
        let rule = s.rule;
        let id = s.id.to_string();
        SequenceDoc {
            timestamp: format_rfc3339(s.execution.timestamp),
            event: SignalDoc {
                id: id.clone(),
                kind: "signal",
            },
            events: [
                EventDoc::new(Stage::Write, &s.write, locate),
                EventDoc::new(Stage::Execution, &s.execution, locate),
            ],
            file: FileDoc {
                hash: HashDoc::new(&s.file_hash),
                path: &s.path,
            },
            host: HostDoc { id: &s.host_id },
            process: ProcessDoc {
                code_signature: SignatureDoc {
                    exists: s.code_signature.exists,
                    status: s.code_signature.status.as_deref(),
                    subject_name: s.code_signature.subject_name.as_deref(),
                    trusted: s.code_signature.trusted,
                },
                executable: &s.executable,
                hash: HashDoc::new(&s.process_hash),
                pid: s.pid,
            },
            rule: RuleDoc {
                id: rule.id,
                name: rule.name,
                reference: rule.reference,
                risk_score: rule.risk_score,
                severity: rule.severity,
            },
            shareexec: OursDoc {
                alert_id: id,
                join: JoinDoc {
                    host_id: &s.host_id,
                    path: &s.path,
                },
                reason,
                semantics,
                span_ms: millis(s.span.as_nanos()),
                verdict,
            },
            threat: [ThreatDoc {
                framework: "MITRE ATT&CK",
                tactic: MitreDoc::from(&rule.tactic),
                technique: [TechniqueDoc {
                    id: rule.technique.id,
                    name: rule.technique.name,
                    reference: rule.technique.reference,
                    subtechnique: [MitreDoc::from(&rule.subtechnique)],
                }],
            }],
        }
    }
}

/// A late event.
#[derive(Serialize)]
struct LateDoc<'v, 'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    events: [EventDoc<'v, 'a>; 1],
    host: HostDoc<'v>,
    shareexec: LateOursDoc,
}

impl<'v, 'a> LateDoc<'v, 'a> {
    fn new(
        l: &'v Late,
        semantics: &'static str,
        locate: &dyn Fn(Position) -> Location<'a>,
    ) -> Self {
        LateDoc {
            timestamp: format_rfc3339(l.event.timestamp),
            events: [EventDoc::new(l.stage, &l.event, locate)],
            host: HostDoc { id: &l.host_id },
            shareexec: LateOursDoc {
                behind_ms: millis(l.behind.as_nanos()),
                semantics,
                verdict: "late",
            },
        }
    }
}

/// Nanoseconds as fractional milliseconds (serialized as serde_json writes an `f64`).
fn millis(nanos: i64) -> f64 {
    nanos as f64 / 1e6
}

#[derive(Serialize)]
struct SignalDoc {
    id: String,
    kind: &'static str,
}

#[derive(Serialize)]
struct EventDoc<'v, 'a> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    #[serde(rename = "event.id", skip_serializing_if = "Option::is_none")]
    id: Option<&'v str>,
    #[serde(rename = "event.sequence", skip_serializing_if = "Option::is_none")]
    sequence: Option<u64>,
    line: u64,
    source: &'a str,
    stage: &'static str,
}

impl<'v, 'a> EventDoc<'v, 'a> {
    fn new(stage: Stage, e: &'v EventRef, locate: &dyn Fn(Position) -> Location<'a>) -> Self {
        let at = locate(e.position);
        EventDoc {
            timestamp: format_rfc3339(e.timestamp),
            id: e.id.as_deref(),
            sequence: e.sequence,
            line: at.line,
            source: at.source,
            stage: if stage == Stage::Write {
                "write"
            } else {
                "execution"
            },
        }
    }
}

#[derive(Serialize)]
struct FileDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<HashDoc<'a>>,
    path: &'a str,
}

#[derive(Serialize)]
struct HashDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    md5: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha1: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
}

impl<'a> HashDoc<'a> {
    /// `None` when no hash is present (the object is left out, not written empty).
    fn new(h: &'a OwnedHashes) -> Option<Self> {
        (!h.is_empty()).then_some(HashDoc {
            md5: h.md5.as_deref(),
            sha1: h.sha1.as_deref(),
            sha256: h.sha256.as_deref(),
        })
    }
}

#[derive(Serialize)]
struct HostDoc<'a> {
    id: &'a str,
}

#[derive(Serialize)]
struct ProcessDoc<'a> {
    code_signature: SignatureDoc<'a>,
    executable: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hash: Option<HashDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pid: Option<i64>,
}

/// Always written, `{}` when nothing is known.
#[derive(Serialize)]
struct SignatureDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    exists: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trusted: Option<bool>,
}

#[derive(Serialize)]
struct RuleDoc {
    id: &'static str,
    name: &'static str,
    reference: &'static str,
    risk_score: u8,
    severity: &'static str,
}

#[derive(Serialize)]
struct OursDoc<'a> {
    alert_id: String,
    join: JoinDoc<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    semantics: &'static str,
    span_ms: f64,
    verdict: &'static str,
}

#[derive(Serialize)]
struct JoinDoc<'a> {
    #[serde(rename = "host.id")]
    host_id: &'a str,
    path: &'a str,
}

#[derive(Serialize)]
struct LateOursDoc {
    behind_ms: f64,
    semantics: &'static str,
    verdict: &'static str,
}

#[derive(Serialize)]
struct ThreatDoc {
    framework: &'static str,
    tactic: MitreDoc,
    technique: [TechniqueDoc; 1],
}

#[derive(Serialize)]
struct TechniqueDoc {
    id: &'static str,
    name: &'static str,
    reference: &'static str,
    subtechnique: [MitreDoc; 1],
}

#[derive(Serialize)]
struct MitreDoc {
    id: &'static str,
    name: &'static str,
    reference: &'static str,
}

impl From<&Mitre> for MitreDoc {
    fn from(m: &Mitre) -> Self {
        MitreDoc {
            id: m.id,
            name: m.name,
            reference: m.reference,
        }
    }
}
