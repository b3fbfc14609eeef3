//! Arbitrary sequences of events, watermarks and flushes against detectors of both
//! semantics with small caps, checking after every operation that:
//!
//! - nothing panics;
//! - the gauges stay within the caps (`pending`, `buffered`, `hosts`, string bytes);
//! - every alert or suppression has `0 <= span <= maxspan`, `span` equal to the
//!   execution time minus the write time, and keys that join under the semantics;
//! - every late verdict is more than `max_lateness` behind, or at or before the
//!   watermark;
//! - counters only grow, `events` counts the `handle` calls, and `alerts`,
//!   `suppressed` and `late` equal the verdicts of each kind seen so far;
//! - `flush` leaves nothing buffered, and after `advance(w)` nothing waits for a
//!   deadline at or before `w`;
//! - the verdicts do not depend on the hash seed (two seeds, same output).
#![no_main]

use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use shareexec::fold::eq_folded;
use shareexec::*;

/// 2024-01-03T14:00:00Z.
const T0: i64 = 1_704_290_400_000_000_000;
const MAXSPAN: Span = Span::from_secs(60);

const MAX_PENDING: usize = 16;
const MAX_PENDING_PER_HOST: usize = 4;
const MAX_HOSTS: usize = 4;
const MAX_BUFFERED: usize = 8;

/// Compiled once: building a rule's trust policy allocates.
static RULES: LazyLock<[Arc<Rule>; 2]> = LazyLock::new(|| {
    [
        Arc::new(Rule::new(Semantics::Elasticsearch)),
        Arc::new(Rule::new(Semantics::Hardened)),
    ]
});
static LONG_HOST: LazyLock<String> = LazyLock::new(|| "x".repeat(MAX_HOST_ID_BYTES + 1));
static LONG_PATH: LazyLock<String> = LazyLock::new(|| format!("C:\\{}.exe", "p".repeat(300)));
static LONG_ID: LazyLock<String> = LazyLock::new(|| "i".repeat(100));
/// Longer than any id or hash a pending write carries (`u16::MAX - 1` bytes).
static HUGE: LazyLock<String> = LazyLock::new(|| "f".repeat(u16::MAX as usize));

fn host(n: u8) -> Option<&'static str> {
    match n % 10 {
        0 => Some("h1"),
        1 => Some("h2"),
        2 => Some("H1"),
        3 => Some("h3"),
        4 => Some("h4"),
        5 => Some("h5"),
        6 => Some(""),
        7 => None,
        8 => Some(LONG_HOST.as_str()),
        _ => Some("h1"),
    }
}

fn os(n: u8) -> Option<&'static str> {
    [
        Some("windows"),
        Some("Windows"),
        Some("WINDOWS"),
        Some("linux"),
        None,
        Some(""),
        Some("windows"),
    ][n as usize % 7]
}

fn types(n: u8) -> EventTypes {
    let all = [
        EventTypes::CREATION,
        EventTypes::CHANGE,
        EventTypes::START,
        EventTypes::END,
        EventTypes::DELETION,
        EventTypes::INFO,
    ];
    all.iter()
        .enumerate()
        .filter(|(i, _)| n & (1 << i) != 0)
        .fold(EventTypes::NONE, |s, (_, t)| s | *t)
}

fn pid(n: u8) -> Option<i64> {
    [Some(4), Some(4), Some(5), None, Some(-4), Some(i64::MAX)][n as usize % 6]
}

fn path(n: u8) -> Option<&'static str> {
    match n % 16 {
        0 => None,
        1 | 15 => Some("C:\\a.exe"),
        2 => Some("c:\\A.EXE"),
        3 => Some("C:\\b.exe"),
        4 => Some("C:\\b"),
        5 => Some("C:\\ΣΑΣ.exe"),
        6 => Some("c:\\σας.exe"),
        7 => Some(""),
        8 => Some("C:\\Windows\\ccmsetup\\ccmsetup.exe"),
        9 => Some("G:\\SMS_x\\srvboot.exe"),
        10 => Some("C:\\dir.d\\x"),
        11 => Some(".exe"),
        12 => Some("C:\\K.scr"),
        13 => Some("c:\\\u{212A}.scr"),
        _ => Some(LONG_PATH.as_str()),
    }
}

fn ext(n: u8) -> Option<&'static str> {
    [
        Some("exe"),
        Some("EXE"),
        Some("dll"),
        Some(""),
        None,
        Some("scr"),
        Some("com"),
        Some("pif"),
    ][n as usize % 8]
}

fn header(n: u8) -> Option<&'static str> {
    [None, Some("4d5a9000"), Some("4D5A"), Some("0000"), Some("")][n as usize % 5]
}

fn id(n: u8) -> &'static str {
    match n {
        // Rarely: longer than a pending write carries (copying it is slow).
        255 => HUGE.as_str(),
        n => ["e1", "e2", "", "ΣΣ", LONG_ID.as_str()][n as usize % 5],
    }
}

fn hashes(n: u8) -> Hashes<'static> {
    let h = |sha256, sha1, md5| Hashes { sha256, sha1, md5 };
    match n {
        255 => h(Some(HUGE.as_str()), Some("cd34"), None),
        n => match n % 5 {
            0 => Hashes::default(),
            1 => h(Some("ab12"), None, None),
            2 => h(Some(""), Some("cd34"), Some("ef56")),
            3 => h(None, None, Some("ef56")),
            _ => h(Some("AB12"), Some(LONG_ID.as_str()), Some("")),
        },
    }
}

fn signature(n: u8) -> CodeSignature<'static> {
    let sig = |trusted, subject_name| CodeSignature {
        exists: Some(true),
        trusted,
        subject_name,
        status: None,
    };
    match n % 8 {
        0 => CodeSignature::default(),
        1 => sig(
            Some(true),
            Some("Microsoft Windows Hardware Compatibility Publisher"),
        ),
        2 => sig(Some(false), Some("Evil")),
        3 => sig(None, Some("Sophos Ltd")),
        4 => sig(Some(true), Some("Microsoft Corporation")),
        5 => sig(Some(true), Some("SOPHOS LTD")),
        6 => sig(Some(true), None),
        _ => sig(Some(true), Some("AO Kaspersky Lab")),
    }
}

/// A step of event time from the previous event: small, exact, backwards or far.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Dt {
    Same,
    Nanos(i8),
    Millis(i16),
    Secs(i8),
    Minutes(i8),
    Far(i32),
    Min,
    Max,
    Reset,
}

impl Dt {
    fn apply(self, t: Timestamp) -> Timestamp {
        match self {
            Dt::Same => t,
            Dt::Nanos(n) => t.saturating_add(Span(n as i64)),
            Dt::Millis(n) => t.saturating_add(Span::from_millis(n as i64)),
            Dt::Secs(n) => t.saturating_add(Span::from_secs(n as i64)),
            Dt::Minutes(n) => t.saturating_add(Span::from_secs(n as i64 * 60)),
            Dt::Far(n) => t.saturating_add(Span::from_secs(n as i64)),
            Dt::Min => Timestamp::MIN,
            Dt::Max => Timestamp::MAX,
            Dt::Reset => Timestamp(T0),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Common {
    dt: Dt,
    host: u8,
    os: u8,
    types: u8,
    pid: u8,
    seq: Option<u8>,
    id: Option<u8>,
    hash: u8,
}

#[derive(Arbitrary, Debug)]
enum Op {
    File {
        c: Common,
        path: u8,
        ext: u8,
        header: u8,
    },
    Process {
        c: Common,
        exe: u8,
        sig: u8,
    },
    Advance(Dt),
    Flush,
}

#[derive(Arbitrary, Debug)]
struct Input {
    lateness: u8,
    idle: u8,
    sweep: u8,
    bytes: u8,
    ops: Vec<Op>,
}

impl Input {
    fn config(&self) -> Config {
        let lateness = [
            0,
            1,
            1_000_000,
            1_000_000_000,
            30_000_000_000,
            60_000_000_000,
            61_000_000_000,
            300_000_000_000,
        ][self.lateness as usize % 8];
        let idle_extra =
            [1, 1_000_000_000, 60_000_000_000, 600_000_000_000][self.idle as usize % 4];
        let sweep = match self.sweep % 17 {
            0 => 1 << 16,
            n => n as u64,
        };
        let (pending_bytes, buffered_bytes) =
            [(64, 256), (256, 4_096), (1 << 20, 1 << 20), (32, 1)][self.bytes as usize % 4];
        Config::default()
            .with_max_lateness(Span(lateness))
            .with_idle_host_timeout(Span(MAXSPAN.0 + lateness + idle_extra))
            .with_sweep_interval(sweep)
            .with_max_pending(MAX_PENDING)
            .with_max_pending_per_host(MAX_PENDING_PER_HOST)
            .with_max_pending_bytes(pending_bytes)
            .with_max_buffered(MAX_BUFFERED)
            .with_max_buffered_bytes(buffered_bytes)
            .with_max_hosts(MAX_HOSTS)
    }
}

/// One concrete step, timestamps resolved.
enum Step {
    Event(Event<'static>),
    Advance(Timestamp),
    Flush,
}

fn steps(ops: &[Op]) -> Vec<Step> {
    let mut clock = Timestamp(T0);
    let mut out = Vec::with_capacity(ops.len());
    for (n, op) in ops.iter().enumerate() {
        let mut origin = |c: &Common| {
            clock = c.dt.apply(clock);
            Origin {
                timestamp: clock,
                sequence: c.seq.map(u64::from),
                id: c.id.map(id),
                position: n as u64,
            }
        };
        out.push(match op {
            Op::File {
                c,
                path: p,
                ext: e,
                header: h,
            } => Step::Event(Event::File(FileEvent {
                origin: origin(c),
                host_id: host(c.host),
                os_type: os(c.os),
                types: types(c.types),
                pid: pid(c.pid),
                path: path(*p),
                extension: ext(*e),
                header_bytes: header(*h),
                hash: hashes(c.hash),
            })),
            Op::Process { c, exe, sig } => Step::Event(Event::Process(ProcessEvent {
                origin: origin(c),
                host_id: host(c.host),
                os_type: os(c.os),
                types: types(c.types),
                executable: path(*exe),
                pid: pid(c.pid),
                code_signature: signature(*sig),
                hash: hashes(c.hash),
            })),
            Op::Advance(dt) => Step::Advance(dt.apply(clock)),
            Op::Flush => Step::Flush,
        });
    }
    out
}

struct Run {
    d: Detector,
    semantics: Semantics,
    prev: Stats,
    handled: u64,
    alerts: u64,
    suppressed: u64,
    late: u64,
    log: Vec<Verdict>,
    /// The newest watermark given.
    watermark: Option<Timestamp>,
}

impl Run {
    fn new(semantics: Semantics, config: Config, seed: u64) -> Run {
        let d = Detector::new(
            RULES[(semantics == Semantics::Hardened) as usize].clone(),
            config.with_hash_seed(Some(seed)),
        )
        .expect("the fuzz configurations are valid");
        let prev = d.stats();
        Run {
            d,
            semantics,
            prev,
            handled: 0,
            alerts: 0,
            suppressed: 0,
            late: 0,
            log: Vec::new(),
            watermark: None,
        }
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Event(e) => {
                self.d.handle(*e);
                self.handled += 1;
            }
            Step::Advance(w) => {
                self.d.advance(*w);
                self.watermark = self.watermark.max(Some(*w));
            }
            Step::Flush => self.d.flush(),
        }
        let deadline = self.d.next_deadline();
        while let Some(v) = self.d.poll_verdict() {
            self.check_verdict(&v);
            self.log.push(v);
        }
        self.check_stats();
        match step {
            Step::Flush => assert_eq!(self.d.stats().buffered, 0, "flush leaves nothing buffered"),
            // Everything up to the watermark is processed or expired: what waits is
            // later (at the end of time, MAX, nothing can be later).
            Step::Advance(w) if *w < Timestamp::MAX => {
                if let Some(d) = deadline {
                    assert!(d > *w, "next_deadline {d:?} not after advance({w:?})");
                }
            }
            _ => {}
        }
    }

    fn check_sequence(&self, s: &Sequence) {
        assert!(
            s.span >= Span::ZERO && s.span <= MAXSPAN,
            "span out of range: {s:?}"
        );
        assert!(
            s.write.timestamp <= s.execution.timestamp,
            "write after execution: {s:?}"
        );
        assert_eq!(
            s.span,
            s.execution.timestamp.since(s.write.timestamp),
            "{s:?}"
        );
        assert!(s.host_id.len() <= MAX_HOST_ID_BYTES, "{s:?}");
        match self.semantics {
            Semantics::Elasticsearch => assert_eq!(s.path, s.executable, "exact join: {s:?}"),
            _ => assert!(eq_folded(&s.path, &s.executable), "folded join: {s:?}"),
        }
    }

    fn check_verdict(&mut self, v: &Verdict) {
        match v {
            Verdict::Alert(s) => {
                self.check_sequence(s);
                self.alerts += 1;
            }
            Verdict::Suppressed(s) => {
                self.check_sequence(&s.sequence);
                self.suppressed += 1;
            }
            Verdict::Late(l) => {
                // More than the lateness behind, or at or before the watermark (where
                // `watermark + lateness` saturates at `Timestamp::MAX`, only the latter).
                assert!(
                    l.behind > self.d.config().max_lateness
                        || self.watermark.is_some_and(|w| l.event.timestamp <= w),
                    "late but within lateness and after the watermark: {l:?}"
                );
                self.late += 1;
            }
            other => panic!("unknown verdict {other:?}"),
        }
    }

    fn check_stats(&mut self) {
        let st = self.d.stats();
        let cfg = self.d.config();
        assert!(st.pending <= cfg.max_pending as u64, "{st:?}");
        assert!(st.buffered <= cfg.max_buffered as u64, "{st:?}");
        assert!(st.hosts <= cfg.max_hosts as u64, "{st:?}");
        assert!(
            self.d.pending_string_bytes() <= cfg.max_pending_bytes,
            "{} bytes",
            self.d.pending_string_bytes()
        );
        let p = self.prev;
        let grows = [
            ("events", p.events, st.events),
            ("writes", p.writes, st.writes),
            ("executions", p.executions, st.executions),
            ("unkeyed", p.unkeyed, st.unkeyed),
            ("alerts", p.alerts, st.alerts),
            ("suppressed", p.suppressed, st.suppressed),
            ("expired", p.expired, st.expired),
            ("evicted", p.evicted, st.evicted),
            ("swept", p.swept, st.swept),
            ("late", p.late, st.late),
            ("forced", p.forced, st.forced),
        ];
        for (name, before, now) in grows {
            assert!(now >= before, "counter {name} went down: {before} -> {now}");
        }
        assert_eq!(st.events, self.handled, "events counts handle calls");
        assert_eq!(st.alerts, self.alerts, "alerts counter vs alert verdicts");
        assert_eq!(
            st.suppressed, self.suppressed,
            "suppressed counter vs suppression verdicts"
        );
        assert_eq!(st.late, self.late, "late counter vs late verdicts");
        self.prev = st;
    }
}

fuzz_target!(|input: Input| {
    let config = input.config();
    let steps = steps(&input.ops);
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        let mut a = Run::new(semantics, config.clone(), 1);
        let mut b = Run::new(semantics, config.clone(), 0x9e37_79b9_7f4a_7c15);
        for step in &steps {
            a.step(step);
            b.step(step);
        }
        assert_eq!(
            a.log, b.log,
            "{semantics:?}: verdicts depend on the hash seed"
        );
        assert_eq!(
            a.d.stats(),
            b.d.stats(),
            "{semantics:?}: stats depend on the hash seed"
        );
    }
});
