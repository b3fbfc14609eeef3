//! Scale-out: detectors partitioned by key group find exactly what one detector finds,
//! and splitting / merging state at any point (rescaling) changes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;
use shareexec::partition::{key_group, key_group_owner, key_hash, partition_key};
use shareexec::*;

const SEC: i64 = 1_000_000_000;
const HOSTS: [&str; 7] = ["h1", "h2", "h3", "h4", "h5", "HOST-6", "host-6"];

#[derive(Clone, Debug)]
struct Ev {
    write: bool,
    host: Option<&'static str>,
    path: &'static str,
    ts: i64,
    seq: Option<u64>,
    trusted: bool,
}

impl Ev {
    fn event(&self, position: u64) -> Event<'static> {
        let origin = Origin {
            timestamp: Timestamp(self.ts),
            sequence: self.seq,
            id: Some(["e1", "e2", "e3"][position as usize % 3]),
            position,
        };
        if self.write {
            Event::File(FileEvent {
                origin,
                host_id: self.host,
                os_type: Some("windows"),
                types: EventTypes::CREATION,
                pid: Some(4),
                path: Some(self.path),
                extension: Some("exe"),
                ..FileEvent::default()
            })
        } else {
            Event::Process(ProcessEvent {
                origin,
                host_id: self.host,
                os_type: Some("windows"),
                types: EventTypes::START,
                executable: Some(self.path),
                code_signature: CodeSignature {
                    trusted: Some(true),
                    subject_name: Some(if self.trusted { "Sophos Ltd" } else { "Evil" }),
                    ..CodeSignature::default()
                },
                ..ProcessEvent::default()
            })
        }
    }
}

fn ev() -> impl Strategy<Value = Ev> {
    (
        any::<bool>(),
        prop::option::weighted(0.95, prop::sample::select(HOSTS.to_vec())),
        // Paths of several lengths (and of equal length, folding alike or not): the
        // per-host path-length filter must cover every pending write after a restore
        // or a merge, or a later execution would miss its write.
        prop::sample::select(vec![
            "C:\\a.exe",
            "C:\\A.EXE",
            "C:\\b.exe",
            "C:\\dir\\long.exe",
            "C:\\Windows\\Temp\\x.exe",
        ]),
        // Few distinct times: many ties, where order (and the arrival tiebreak) matters.
        0i64..15,
        prop::option::of(0u64..4),
        any::<bool>(),
    )
        .prop_map(|(write, host, path, t, seq, trusted)| Ev {
            write,
            host,
            path,
            ts: t * 3 * SEC,
            seq,
            trusted,
        })
}

fn config(lateness: i64) -> Config {
    Config::default().with_max_lateness(Span::from_secs(lateness))
}

fn detector(sem: Semantics, lateness: i64) -> Detector {
    Detector::new(Arc::new(Rule::new(sem)), config(lateness)).unwrap()
}

/// The worker that owns `event` among `workers`, as an engine routes it.
fn route(event: &Event<'_>, groups: u32, workers: usize) -> usize {
    partition_key(event).map_or(0, |host| {
        key_group_owner(key_group(key_hash(host), groups), groups, workers as u32) as usize
    })
}

/// Verdicts per host, in the order they were made (the order within a host is part
/// of what must not change).
#[derive(Default, Debug, PartialEq)]
struct ByHost(BTreeMap<Arc<str>, Vec<Verdict>>);

impl ByHost {
    fn take(&mut self, d: &mut Detector) {
        for v in d.drain_verdicts() {
            let host = match &v {
                Verdict::Alert(s) => s.host_id.clone(),
                Verdict::Suppressed(s) => s.sequence.host_id.clone(),
                Verdict::Late(l) => l.host_id.clone(),
                _ => unreachable!(),
            };
            self.0.entry(host).or_default().push(v);
        }
    }
}

/// The counters summed over detectors (gauges included).
fn total(ds: &[Detector]) -> [u64; 14] {
    let mut t = [0; 14];
    for d in ds {
        let s = d.stats();
        let v = [
            s.events,
            s.writes,
            s.executions,
            s.unkeyed,
            s.alerts,
            s.suppressed,
            s.expired,
            s.evicted,
            s.swept,
            s.late,
            s.forced,
            s.pending,
            s.buffered,
            s.hosts,
        ];
        for (a, b) in t.iter_mut().zip(v) {
            *a += b;
        }
    }
    t
}

/// One detector over the whole stream, with a watermark after event `advance_at`.
fn whole(
    sem: Semantics,
    lateness: i64,
    events: &[Ev],
    advance: Option<(usize, i64)>,
) -> (ByHost, [u64; 14]) {
    let mut d = detector(sem, lateness);
    let mut out = ByHost::default();
    for (i, e) in events.iter().enumerate() {
        d.handle(e.event(i as u64));
        out.take(&mut d);
        if let Some((at, w)) = advance.filter(|a| a.0 == i) {
            let _ = at;
            d.advance(Timestamp(w * SEC));
            out.take(&mut d);
        }
    }
    d.flush();
    out.take(&mut d);
    let t = total(std::slice::from_ref(&d));
    (out, t)
}

/// Feeds `events[range]` to `workers` detectors, each event to its owner.
fn feed(
    ds: &mut [Detector],
    groups: u32,
    events: &[Ev],
    from: usize,
    advance: Option<(usize, i64)>,
    out: &mut ByHost,
) {
    for (i, e) in events.iter().enumerate() {
        let i = from + i;
        let event = e.event(i as u64);
        let w = route(&event, groups, ds.len());
        ds[w].handle(event);
        out.take(&mut ds[w]);
        if let Some((_, w)) = advance.filter(|a| a.0 == i) {
            for d in ds.iter_mut() {
                d.advance(Timestamp(w * SEC));
                out.take(d);
            }
        }
    }
}

fn finish(ds: &mut [Detector], out: &mut ByHost) {
    for d in ds.iter_mut() {
        d.flush();
        out.take(d);
    }
}

/// Re-splits the state of `ds` by key group for `workers` new detectors: each old
/// detector splits, each new one restores its first part and merges the others.
fn rescale(
    ds: &[Detector],
    sem: Semantics,
    lateness: i64,
    groups: u32,
    workers: usize,
) -> Vec<Detector> {
    let rule = Arc::new(Rule::new(sem));
    let mut parts: Vec<Vec<Vec<u8>>> = vec![Vec::new(); workers];
    for d in ds {
        let split = d
            .split(workers, |host| {
                key_group_owner(key_group(key_hash(host), groups), groups, workers as u32) as usize
            })
            .unwrap();
        for (w, bytes) in split.into_iter().enumerate() {
            parts[w].push(bytes);
        }
    }
    parts
        .into_iter()
        .map(|mine| {
            let mut d = Detector::restore(rule.clone(), config(lateness), &mine[0]).unwrap();
            for bytes in &mine[1..] {
                d.merge(bytes).unwrap();
            }
            d
        })
        .collect()
}

fn advance_strategy() -> impl Strategy<Value = Option<(usize, i64)>> {
    prop::option::of((0usize..60, 0i64..50))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    /// k detectors, each owning the key groups of its range, find exactly the
    /// verdicts of one detector (same alert ids, same order within each host), and
    /// their counters add up to its counters.
    #[test]
    fn partitioned_by_key_group_equals_one_detector(
        events in prop::collection::vec(ev(), 0..60),
        workers in 1usize..6,
        groups in prop::sample::select(vec![1u32, 4, 128]),
        sem in prop::sample::select(vec![Semantics::Elasticsearch, Semantics::Hardened]),
        lateness in prop::sample::select(vec![0i64, 20]),
        advance in advance_strategy(),
    ) {
        let (expected, expected_totals) = whole(sem, lateness, &events, advance);
        let mut ds: Vec<Detector> = (0..workers).map(|_| detector(sem, lateness)).collect();
        let mut got = ByHost::default();
        feed(&mut ds, groups, &events, 0, advance, &mut got);
        finish(&mut ds, &mut got);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(total(&ds), expected_totals);
    }

    /// Rescaling twice at random points (1 -> k1 -> k2 detectors, splitting and
    /// merging state by key group) gives the verdicts and counters of the
    /// uninterrupted run.
    #[test]
    fn split_and_merge_anywhere_equal_the_uninterrupted_run(
        events in prop::collection::vec(ev(), 0..60),
        cuts in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
        k1 in 1usize..5,
        k2 in 1usize..5,
        groups in prop::sample::select(vec![4u32, 128]),
        sem in prop::sample::select(vec![Semantics::Elasticsearch, Semantics::Hardened]),
        lateness in prop::sample::select(vec![0i64, 20]),
        advance in advance_strategy(),
    ) {
        let (expected, expected_totals) = whole(sem, lateness, &events, advance);
        let (a, b) = (cuts.0.index(events.len() + 1), cuts.1.index(events.len() + 1));
        let (a, b) = (a.min(b), a.max(b));
        let mut got = ByHost::default();
        let mut ds = vec![detector(sem, lateness)];
        feed(&mut ds, groups, &events[..a], 0, advance, &mut got);
        let mut ds = rescale(&ds, sem, lateness, groups, k1);
        feed(&mut ds, groups, &events[a..b], a, advance, &mut got);
        let mut ds = rescale(&ds, sem, lateness, groups, k2);
        feed(&mut ds, groups, &events[b..], b, advance, &mut got);
        finish(&mut ds, &mut got);
        prop_assert_eq!(&got, &expected);
        prop_assert_eq!(total(&ds), expected_totals);
    }
}

/// A detector with pending writes and held events on several hosts.
fn busy() -> Detector {
    let mut d = detector(Semantics::Hardened, 20);
    for i in 0..40u64 {
        let e = Ev {
            write: i % 3 != 2,
            host: Some(HOSTS[i as usize % 4]),
            path: "C:\\a.exe",
            ts: i as i64 * SEC,
            seq: Some(i),
            trusted: false,
        };
        d.handle(e.event(i));
        d.drain_verdicts().for_each(drop);
    }
    assert!(d.stats().buffered > 0 && d.stats().pending > 0 && d.stats().hosts == 4);
    d
}

#[test]
fn split_into_one_part_is_the_snapshot() {
    let d = busy();
    assert_eq!(d.split(1, |_| 0).unwrap(), vec![d.snapshot().unwrap()]);
    assert_eq!(
        d.split(0, |_| 7).unwrap(),
        vec![d.snapshot().unwrap()],
        "0 parts count as 1, parts wrap"
    );
}

#[test]
fn split_parts_hold_disjoint_hosts_and_counters_once() {
    let d = busy();
    let rule = Arc::new(Rule::hardened());
    let parts = d.split(3, |h| if h == "h1" { 2 } else { 0 }).unwrap();
    let restored: Vec<Detector> = parts
        .iter()
        .map(|p| Detector::restore(rule.clone(), config(20), p).unwrap())
        .collect();
    let ids = |d: &Detector| {
        let mut v: Vec<String> = d.host_ids().map(String::from).collect();
        v.sort();
        v
    };
    assert_eq!(ids(&restored[0]), ["h2", "h3", "h4"]);
    assert!(ids(&restored[1]).is_empty());
    assert_eq!(ids(&restored[2]), ["h1"]);
    assert_eq!(restored[0].stats().events, 40, "counters go to part 0");
    assert_eq!(restored[2].stats().events, 0);
    assert_eq!(total(&restored), total(std::slice::from_ref(&d)));
    // Merged back in another order: the same state, byte for byte.
    let mut back = Detector::restore(rule, config(20), &parts[1]).unwrap();
    back.merge(&parts[0]).unwrap();
    back.merge(&parts[2]).unwrap();
    assert_eq!(back.stats(), d.stats());
    let again = back.split(3, |h| if h == "h1" { 2 } else { 0 }).unwrap();
    assert_eq!(again, parts);
}

/// A failed merge leaves the detector exactly as it was.
#[test]
fn failed_merges_change_nothing() {
    let d = busy();
    let before = d.snapshot().unwrap();
    let rule = Arc::new(Rule::hardened());
    let mut target = Detector::restore(rule.clone(), config(20), &before).unwrap();

    // The same hosts again.
    assert_eq!(
        target.merge(&before).unwrap_err(),
        SnapshotError::DuplicateHost("h1".into())
    );
    assert_eq!(target.snapshot().unwrap(), before);

    // Over a cap: 4 hosts here, 1 more there, room for 4.
    let mut one = detector(Semantics::Hardened, 20);
    one.handle(
        Ev {
            write: true,
            host: Some("h9"),
            path: "C:\\z.exe",
            ts: 0,
            seq: None,
            trusted: false,
        }
        .event(0),
    );
    one.flush(); // from the reorder buffer to the pending writes
    assert_eq!(one.stats().pending, 1);
    let extra = one.snapshot().unwrap();
    let mut small = Detector::restore(rule.clone(), config(20).with_max_hosts(4), &before).unwrap();
    assert_eq!(
        small.merge(&extra).unwrap_err(),
        SnapshotError::OverCaps { what: "max_hosts" }
    );
    let mut tight = Detector::restore(
        rule.clone(),
        config(20).with_max_pending(d.stats().pending as usize),
        &before,
    )
    .unwrap();
    assert_eq!(
        tight.merge(&extra).unwrap_err(),
        SnapshotError::OverCaps {
            what: "max_pending"
        }
    );
    assert_eq!(tight.snapshot().unwrap(), before);

    // Foreign or corrupt bytes, other semantics.
    assert_eq!(
        target.merge(b"SXCK").unwrap_err(),
        SnapshotError::Truncated { at: 4 }
    );
    let es = Detector::new(Arc::new(Rule::elasticsearch()), config(20)).unwrap();
    assert!(matches!(
        target.merge(&es.snapshot().unwrap()),
        Err(SnapshotError::SemanticsMismatch { .. })
    ));
    assert_eq!(target.snapshot().unwrap(), before);

    // And a merge that fits goes through.
    target.merge(&extra).unwrap();
    assert_eq!(target.stats().hosts, 5);
}

/// The merged watermark is the lower one (none if either side has none); the
/// arrival counter the higher one.
#[test]
fn merge_keeps_the_weaker_watermark() {
    let rule = Arc::new(Rule::hardened());
    let at = |host: &'static str, s: i64| {
        Ev {
            write: true,
            host: Some(host),
            path: "C:\\a.exe",
            ts: s * SEC,
            seq: None,
            trusted: false,
        }
        .event(0)
    };
    let mut a = detector(Semantics::Hardened, 0);
    a.handle(at("h1", 100));
    a.advance(Timestamp(100 * SEC));
    let mut b = detector(Semantics::Hardened, 0);
    b.handle(at("h2", 10));
    b.advance(Timestamp(10 * SEC));
    a.merge(&b.snapshot().unwrap()).unwrap();
    a.drain_verdicts().for_each(drop);
    // An event at 50 s is late for h1 (its own floor) but not for h2 or a new host.
    a.handle(at("h1", 50));
    a.handle(at("h2", 50));
    a.handle(at("h3", 50));
    let late: Vec<_> = a
        .drain_verdicts()
        .filter_map(|v| match v {
            Verdict::Late(l) => Some(l.host_id),
            _ => None,
        })
        .collect();
    assert_eq!(late, [Arc::from("h1")]);
    // With a side that never had a watermark, none: events at 5 s are not late for new hosts.
    let fresh = Detector::new(rule, config(0)).unwrap();
    a.merge(&fresh.snapshot().unwrap()).unwrap();
    a.handle(at("h4", 5));
    assert!(a.drain_verdicts().next().is_none());
}

/// A restored or merged host's path-length filter covers every pending write it
/// brought: writes of many lengths on one host, cut out by `split`, restored, merged
/// into another host's detector, then each
/// path executed once: every one alerts, exactly as without the cut.
#[test]
fn moved_hosts_find_writes_of_every_path_length() {
    let paths: Vec<String> = (0..40)
        .map(|n| format!("C:\\{}.exe", "p".repeat(n + 1)))
        .collect();
    let leak = |s: &String| -> &'static str { Box::leak(s.clone().into_boxed_str()) };
    let write = |host: &'static str, path: &'static str, s: i64| Ev {
        write: true,
        host: Some(host),
        path,
        ts: s * SEC,
        seq: None,
        trusted: false,
    };
    let exec = |host: &'static str, path: &'static str, s: i64| Ev {
        write: false,
        ..write(host, path, s)
    };
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let rule = Arc::new(Rule::new(sem));
        let mut d = detector(sem, 0);
        let mut other = detector(sem, 0);
        for (i, p) in paths.iter().enumerate() {
            d.handle(write("h1", leak(p), i as i64).event(i as u64));
            other.handle(write("h2", "C:\\a.exe", i as i64).event(i as u64));
        }
        d.flush();
        other.flush();
        d.drain_verdicts().for_each(drop);
        other.drain_verdicts().for_each(drop);
        assert_eq!(d.stats().pending, 40);
        let parts = d.split(2, |h| usize::from(h == "h1")).unwrap();
        let mut restored = Detector::restore(rule.clone(), config(0), &parts[1]).unwrap();
        let mut merged =
            Detector::restore(rule.clone(), config(0), &other.snapshot().unwrap()).unwrap();
        merged.merge(&parts[1]).unwrap();
        for target in [&mut d, &mut restored, &mut merged] {
            for (i, p) in paths.iter().enumerate() {
                target.handle(exec("h1", leak(p), 45 + i as i64).event(100 + i as u64));
            }
            target.flush();
            let alerts = target
                .drain_verdicts()
                .filter(|v| v.as_alert().is_some())
                .count();
            assert_eq!(alerts, 40, "{sem:?}");
        }
    }
}

/// `restore` refuses held events over `max_buffered_bytes` (a restored detector must
/// stay within `Config::memory_bound`, as a merge does).
#[test]
fn restore_checks_the_held_bytes_cap() {
    let d = busy();
    let held = d.stats().buffered as usize;
    assert!(held > 0);
    let bytes = d.snapshot().unwrap();
    let rule = Arc::new(Rule::hardened());
    // Room for the count, not for the bytes (each held event costs well over 100).
    let tight = config(20).with_max_buffered_bytes(100 * held);
    assert_eq!(
        Detector::restore(rule, tight, &bytes).unwrap_err(),
        SnapshotError::OverCaps {
            what: "max_buffered_bytes"
        }
    );
}

/// A split part keeps the idle-host sweep schedule: its counters are zero (they go to
/// part 0), so its next sweep must be as many events away as the original's, not
/// the original's whole event count later. A part holding every host then behaves
/// exactly like the original: same sweeps, same hosts.
#[test]
fn split_parts_keep_the_sweep_schedule() {
    let config = || config(0).with_sweep_interval(50);
    let rule = Arc::new(Rule::hardened());
    let at = |host: &'static str, s: i64, write: bool| Ev {
        write,
        host: Some(host),
        path: if write { "C:\\w.exe" } else { "C:\\other.exe" },
        ts: s * SEC,
        seq: None,
        trusted: false,
    };
    let mut d = Detector::new(rule.clone(), config()).unwrap();
    // h4 writes once, then falls silent; h1..h3 go on.
    d.handle(at("h4", 0, true).event(0));
    for i in 1..1000u64 {
        let host = ["h1", "h2", "h3"][i as usize % 3];
        d.handle(at(host, i as i64 / 10, false).event(i));
    }
    d.drain_verdicts().for_each(drop);
    assert_eq!(d.stats().hosts, 4);
    let parts = d.split(2, |_| 1).unwrap();
    let mut part = Detector::restore(rule, config(), &parts[1]).unwrap();
    assert_eq!(part.stats().events, 0, "counters in part 0");
    // The others run 15 minutes ahead of h4's clock, over a few sweep intervals.
    for target in [&mut d, &mut part] {
        for i in 0..200u64 {
            let host = ["h1", "h2", "h3"][i as usize % 3];
            target.handle(at(host, 1000 + i as i64, false).event(1000 + i));
        }
        target.drain_verdicts().for_each(drop);
    }
    assert_eq!(d.stats().hosts, 3, "the original swept h4");
    assert_eq!(d.stats().swept, 1);
    assert_eq!(part.stats().hosts, d.stats().hosts);
    assert_eq!(part.stats().swept, d.stats().swept);
}
