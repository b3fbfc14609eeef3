//! Builders for typed events in tests, shaped like the oracle's probe cases.
#![allow(dead_code)]

use std::sync::Arc;

use shareexec::*;

pub const X: &str = "C:\\Windows\\Temp\\evil.exe";

/// Milliseconds after 2024-01-03T14:00:00Z.
pub fn ms(ms: i64) -> Timestamp {
    Timestamp(1_704_290_400_000_000_000 + ms * 1_000_000)
}

pub fn s(secs: i64) -> Timestamp {
    ms(secs * 1000)
}

/// A System (pid 4) write of an `.exe` by `host` to `path` at `ts`, borrowing its
/// strings (for streams built in loops, where `Ev`'s `'static` strings do not fit).
pub fn write_at<'a>(host: &'a str, path: &'a str, ts: Timestamp) -> Event<'a> {
    Event::File(FileEvent {
        origin: Origin {
            timestamp: ts,
            ..Default::default()
        },
        host_id: Some(host),
        os_type: Some("windows"),
        types: EventTypes::CREATION,
        pid: Some(4),
        path: Some(path),
        extension: Some("exe"),
        ..Default::default()
    })
}

/// An unsigned Windows process start of `exe` on `host` at `ts` (as [`write_at`]).
pub fn start_at<'a>(host: &'a str, exe: &'a str, ts: Timestamp) -> Event<'a> {
    Event::Process(ProcessEvent {
        origin: Origin {
            timestamp: ts,
            ..Default::default()
        },
        host_id: Some(host),
        os_type: Some("windows"),
        types: EventTypes::START,
        executable: Some(exe),
        ..Default::default()
    })
}

/// An owned description of one event; `event()` borrows it.
#[derive(Clone, Debug)]
pub struct Ev {
    pub id: &'static str,
    pub ts: Timestamp,
    pub file: bool,
    pub host: Option<&'static str>,
    pub os: Option<&'static str>,
    pub types: EventTypes,
    pub pid: Option<i64>,
    pub path: Option<&'static str>,
    pub ext: Option<&'static str>,
    pub header: Option<&'static str>,
    pub seq: Option<u64>,
    pub sig: CodeSignature<'static>,
}

/// A System (pid 4) write of an `.exe` with an MZ header, like the probe cases' `F`.
pub fn w(id: &'static str, ts: Timestamp, path: &'static str) -> Ev {
    Ev {
        id,
        ts,
        file: true,
        host: Some("h1"),
        os: Some("windows"),
        types: EventTypes::CREATION,
        pid: Some(4),
        path: Some(path),
        ext: Some("exe"),
        header: Some("4d5a9000"),
        seq: None,
        sig: CodeSignature::default(),
    }
}

/// A process start signed by an untrusted "Evil" subject, like the probe cases' `P`.
pub fn p(id: &'static str, ts: Timestamp, exe: &'static str) -> Ev {
    Ev {
        id,
        ts,
        file: false,
        host: Some("h1"),
        os: Some("windows"),
        types: EventTypes::START,
        pid: Some(5000),
        path: Some(exe),
        ext: None,
        header: None,
        seq: None,
        sig: CodeSignature {
            trusted: Some(false),
            subject_name: Some("Evil"),
            ..Default::default()
        },
    }
}

impl Ev {
    pub fn host(mut self, h: Option<&'static str>) -> Self {
        self.host = h;
        self
    }
    pub fn os(mut self, os: Option<&'static str>) -> Self {
        self.os = os;
        self
    }
    pub fn types(mut self, t: EventTypes) -> Self {
        self.types = t;
        self
    }
    pub fn pid(mut self, pid: Option<i64>) -> Self {
        self.pid = pid;
        self
    }
    pub fn ext(mut self, e: Option<&'static str>) -> Self {
        self.ext = e;
        self
    }
    pub fn header(mut self, h: Option<&'static str>) -> Self {
        self.header = h;
        self
    }
    pub fn seq(mut self, s: u64) -> Self {
        self.seq = Some(s);
        self
    }
    pub fn signed(mut self, trusted: Option<bool>, subject: Option<&'static str>) -> Self {
        self.sig = CodeSignature {
            trusted,
            subject_name: subject,
            ..Default::default()
        };
        self
    }
    pub fn unsigned(mut self) -> Self {
        self.sig = CodeSignature::default();
        self
    }

    pub fn event(&self, position: u64) -> Event<'_> {
        let origin = Origin {
            timestamp: self.ts,
            sequence: self.seq,
            id: Some(self.id),
            position,
        };
        if self.file {
            Event::File(FileEvent {
                origin,
                host_id: self.host,
                os_type: self.os,
                types: self.types,
                pid: self.pid,
                path: self.path,
                extension: self.ext,
                header_bytes: self.header,
                hash: Hashes::default(),
            })
        } else {
            Event::Process(ProcessEvent {
                origin,
                host_id: self.host,
                os_type: self.os,
                types: self.types,
                executable: self.path,
                pid: self.pid,
                code_signature: self.sig,
                hash: Hashes::default(),
            })
        }
    }
}

/// What a run said, by event id: alerts, suppressions, late events.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Said {
    pub alerts: Vec<(String, String)>,
    pub suppressed: Vec<(String, String, String)>,
    pub late: Vec<String>,
}

pub fn id(r: &EventRef) -> String {
    r.id.as_deref().unwrap_or("?").to_string()
}

pub fn collect<P: TrustPolicy>(d: &mut Detector<P>, said: &mut Said) {
    while let Some(v) = d.poll_verdict() {
        match v {
            Verdict::Alert(s) => said.alerts.push((id(&s.write), id(&s.execution))),
            Verdict::Suppressed(s) => said.suppressed.push((
                id(&s.sequence.write),
                id(&s.sequence.execution),
                s.reason.as_str().to_string(),
            )),
            Verdict::Late(l) => said.late.push(id(&l.event)),
            _ => {}
        }
    }
}

pub fn run_with(rule: Rule, config: Config, events: &[Ev]) -> (Said, Stats) {
    let mut d = Detector::new(Arc::new(rule), config.with_hash_seed(Some(7))).unwrap();
    let mut said = Said::default();
    for (n, e) in events.iter().enumerate() {
        d.handle(e.event(n as u64 + 1));
        collect(&mut d, &mut said);
    }
    d.flush();
    collect(&mut d, &mut said);
    (said, d.stats())
}

pub fn run(semantics: Semantics, lateness: Span, events: &[Ev]) -> Said {
    run_with(
        Rule::new(semantics),
        Config::default().with_max_lateness(lateness),
        events,
    )
    .0
}

pub fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}
