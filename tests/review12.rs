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

/// The crate docs' "Bounded memory" bullet said "when full, the inserting host's
/// oldest entry goes first"; docs/semantics.md says a quiet host's write under the
/// global cap evicts the oldest write of all (another host's). The latter is what
/// happens.
#[test]
fn global_cap_evicts_the_oldest_of_all_for_a_quiet_host() {
    let mut d = detector(
        Semantics::Elasticsearch,
        Config::default().with_max_pending(4),
    );
    let paths: Vec<String> = (0..8).map(|n| format!("C:\\p{n}.exe")).collect();
    d.handle(write_at("busy", &paths[0], at(0)));
    d.handle(write_at("quiet", &paths[1], at(1)));
    d.handle(write_at("busy", &paths[2], at(2)));
    d.handle(write_at("busy", &paths[3], at(3)));
    // Full: quiet (1 of 4, below the average of 2) inserts; busy's p0 goes.
    d.handle(write_at("quiet", &paths[4], at(4)));
    assert_eq!(d.stats().evicted, 1);
    for (host, path, alerts) in [
        ("busy", 0, 0),
        ("quiet", 1, 1),
        ("busy", 2, 1),
        ("quiet", 4, 1),
    ] {
        d.handle(start_at(host, &paths[path], at(10)));
        assert_eq!(take(&mut d).alerts, alerts, "{host} {path}");
    }
}

/// A host at its own quota that receives a late write older than all it holds: the
/// quota gives up "its own oldest" — which the late write itself is. It evicted the
/// host's oldest *pending* write instead (a newer, live one), unlike the time-sorted
/// stream, where the late write came first and went first.
#[test]
fn late_write_at_quota_is_the_one_given_up() {
    let mut d = detector(
        Semantics::Elasticsearch,
        Config::default().with_max_pending_per_host(2),
    );
    let paths: Vec<String> = (0..3).map(|n| format!("C:\\p{n}.exe")).collect();
    d.handle(write_at("h", &paths[1], at(10)));
    d.handle(write_at("h", &paths[2], at(20)));
    // Late (lateness 0), older than both pending writes.
    d.handle(write_at("h", &paths[0], at(5)));
    let out = take(&mut d);
    assert_eq!(out.late, 1);
    assert_eq!(d.stats().evicted, 1);
    // Which one went: the arriving older p0, not p1 (at 10).
    for (path, alerts) in [(0, 0), (1, 1), (2, 1)] {
        d.handle(start_at("h", &paths[path], at(30)));
        assert_eq!(take(&mut d).alerts, alerts, "p{path}");
    }
}

// ------------------------------------------------------------ crafted snapshots

fn leb(buf: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// A version-2 snapshot of no hosts (hardened), with the given arrival counter and
/// event counter; the checksum is the documented stable hash, so anyone can write one.
fn crafted(arrival: u64, events: u64) -> Vec<u8> {
    let mut b = shareexec::snapshot::MAGIC.to_vec();
    leb(&mut b, 2); // version
    leb(&mut b, 1); // hardened
    leb(&mut b, 0); // lateness 0 (zigzag)
    leb(&mut b, arrival);
    leb(&mut b, events);
    for _ in 0..10 {
        leb(&mut b, 0); // other counters
    }
    leb(&mut b, 0); // no watermark
    leb(&mut b, u64::MAX); // next sweep
    leb(&mut b, 0); // next host scan
    leb(&mut b, 0); // hosts
    leb(&mut b, 0); // pending
    let sum = shareexec::stable_hash::StableHasher::new()
        .bytes(&b)
        .finish();
    b.extend_from_slice(&sum.to_le_bytes());
    b
}

/// "Never panics on any input": a checksum-valid snapshot whose counters are at the
/// end of their range made the next `handle` overflow `arrival += 1` (a panic in a
/// debug build, a wrapped tiebreak in release). Counters over `i64::MAX` are now
/// refused as corrupt, and merges stop summing there.
#[test]
fn restored_counters_at_their_limit_do_not_overflow() {
    let rule = Arc::new(Rule::hardened());
    let top = i64::MAX as u64;
    for (arrival, events) in [(u64::MAX, 0), (0, u64::MAX), (top + 1, 0)] {
        let bytes = crafted(arrival, events);
        assert!(
            matches!(
                Detector::restore(rule.clone(), Config::default(), &bytes),
                Err(SnapshotError::Corrupt { .. })
            ),
            "arrival {arrival}, events {events}"
        );
    }
    let bytes = crafted(top, top);
    let mut d = Detector::restore(rule.clone(), Config::default(), &bytes).unwrap();
    // A merge of another such image stops at the limit rather than at u64::MAX.
    d.merge(&bytes).unwrap();
    d.merge(&bytes).unwrap();
    assert_eq!(d.stats().events, top);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        d.handle(write_at("h", EXE, at(0)));
        d.handle(start_at("h", EXE, at(1)));
        d.flush();
        take(&mut d)
    }));
    assert_eq!(r.ok().map(|o| o.alerts), Some(1));
}
