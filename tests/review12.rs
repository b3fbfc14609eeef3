//! Review 12: the library as a Rust embedder uses it — the streaming claims of
//! docs/semantics.md, the rustdoc of `Detector`, `Config`, the snapshot module and
//! `partition`, and unusual call orders and extreme inputs.

use std::sync::Arc;

use shareexec::*;

const EXE: &str = "C:\\Windows\\Temp\\evil.exe";

fn at(secs: i64) -> Timestamp {
    Timestamp(1_704_290_400_000_000_000 + secs * 1_000_000_000)
}

fn write_at<'a>(host: &'a str, path: &'a str, ts: Timestamp) -> Event<'a> {
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

fn start_at<'a>(host: &'a str, path: &'a str, ts: Timestamp) -> Event<'a> {
    Event::Process(ProcessEvent {
        origin: Origin {
            timestamp: ts,
            ..Default::default()
        },
        host_id: Some(host),
        os_type: Some("windows"),
        types: EventTypes::START,
        executable: Some(path),
        ..Default::default()
    })
}

fn detector(semantics: Semantics, config: Config) -> Detector {
    Detector::new(
        Arc::new(Rule::new(semantics)),
        config.with_hash_seed(Some(12)),
    )
    .unwrap()
}

#[derive(Debug, Default, PartialEq)]
struct Out {
    alerts: usize,
    late: usize,
    suppressed: usize,
}

fn take(d: &mut Detector) -> Out {
    let mut out = Out::default();
    for v in d.drain_verdicts() {
        match v {
            Verdict::Alert(_) => out.alerts += 1,
            Verdict::Late(_) => out.late += 1,
            Verdict::Suppressed(_) => out.suppressed += 1,
            _ => {}
        }
    }
    out
}

/// `next_deadline`: "the earliest watermark at which `advance` would process a held
/// event or expire a pending write". An embedder's timer loop
/// (`while let Some(t) = next_deadline() { advance(t) }`) must end.
#[test]
fn deadline_loop_ends_at_the_end_of_time() {
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        let mut d = detector(semantics, Config::default());
        d.handle(write_at("h", EXE, Timestamp(i64::MAX - 10)));
        d.handle(write_at("g", EXE, Timestamp(i64::MIN)));
        take(&mut d);
        let mut rounds = 0;
        while let Some(t) = d.next_deadline() {
            d.advance(t);
            take(&mut d);
            rounds += 1;
            assert!(rounds < 10, "{semantics:?}: deadline {t:?} never passes");
        }
    }
}

/// `flush` rustdoc: "Afterwards, an event older than what its host released counts as
/// late (under Hardened also one at the newest released timestamp)". The rustdoc
/// said only "older"; an event at the same timestamp is late under Hardened.
#[test]
fn after_flush_older_events_are_late() {
    for (semantics, late_at_same) in [(Semantics::Elasticsearch, 0), (Semantics::Hardened, 1)] {
        let mut d = detector(
            semantics,
            Config::default().with_max_lateness(Span::from_secs(30)),
        );
        d.handle(write_at("h", EXE, at(0)));
        d.flush();
        take(&mut d);
        // Another host's clock is not moved by h's flush.
        d.handle(start_at("other", EXE, at(-100)));
        // Same timestamp as the released write.
        d.handle(start_at("h", EXE, at(0)));
        d.flush();
        let out = take(&mut d);
        assert_eq!(out.late, late_at_same, "{semantics:?}: {out:?}");
        assert_eq!(out.alerts, 1, "{semantics:?}: a late start still joins");
        // Older: late in both.
        d.handle(write_at("h", EXE, at(-1)));
        assert_eq!(take(&mut d).late, 1, "{semantics:?}");
        // Flushing twice changes nothing.
        let before = d.stats();
        d.flush();
        d.flush();
        assert_eq!(d.stats(), before);
        assert_eq!(take(&mut d), Out::default());
    }
}
