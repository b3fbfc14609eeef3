//! Checkpoints: splitting any stream at any point with a snapshot and a restore gives
//! the verdicts of the uninterrupted run; bad snapshots are typed errors.

use std::sync::Arc;

use proptest::prelude::*;
use shareexec::*;

const SEC: i64 = 1_000_000_000;

#[derive(Clone, Debug)]
struct Ev {
    write: bool,
    host: &'static str,
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
            id: Some("e"),
            position,
        };
        if self.write {
            Event::File(FileEvent {
                origin,
                host_id: Some(self.host),
                os_type: Some("windows"),
                types: EventTypes::CREATION,
                pid: Some(4),
                path: Some(self.path),
                extension: Some("exe"),
                hash: Hashes {
                    sha256: Some("ab"),
                    ..Hashes::default()
                },
                ..FileEvent::default()
            })
        } else {
            Event::Process(ProcessEvent {
                origin,
                host_id: Some(self.host),
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
        prop::sample::select(vec!["h1", "h2", "h3"]),
        prop::sample::select(vec!["C:\\a.exe", "C:\\A.EXE", "C:\\b.exe"]),
        0i64..60,
        prop::option::of(0u64..50),
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

fn detector(sem: Semantics, lateness: i64) -> Detector {
    let config = Config::default()
        .with_max_lateness(Span::from_secs(lateness))
        .with_sweep_interval(7);
    Detector::new(Arc::new(Rule::new(sem)), config).unwrap()
}

fn run(d: &mut Detector, events: &[Ev], from: usize, out: &mut Vec<Verdict>) {
    for (i, e) in events.iter().enumerate() {
        d.handle(e.event((from + i) as u64));
        out.extend(d.drain_verdicts());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn split_anywhere_gives_identical_verdicts(
        events in prop::collection::vec(ev(), 0..50),
        split in any::<prop::sample::Index>(),
        sem in prop::sample::select(vec![Semantics::Elasticsearch, Semantics::Hardened]),
        lateness in prop::sample::select(vec![0i64, 20]),
        watermark in prop::option::of(0i64..200),
    ) {
        let cut = split.index(events.len() + 1);
        let mut whole = detector(sem, lateness);
        let mut expected = Vec::new();
        run(&mut whole, &events, 0, &mut expected);
        if let Some(w) = watermark { whole.advance(Timestamp(w * SEC)); expected.extend(whole.drain_verdicts()); }
        whole.flush();
        expected.extend(whole.drain_verdicts());

        let mut first = detector(sem, lateness);
        let mut got = Vec::new();
        run(&mut first, &events[..cut], 0, &mut got);
        let bytes = first.snapshot().unwrap();
        let config = Config::default().with_max_lateness(Span::from_secs(lateness)).with_sweep_interval(7);
        let mut second = Detector::restore(Arc::new(Rule::new(sem)), config, &bytes).unwrap();
        prop_assert_eq!(second.stats(), first.stats());
        prop_assert_eq!(second.snapshot().unwrap(), bytes, "a restored detector snapshots to the same bytes");
        run(&mut second, &events[cut..], cut, &mut got);
        if let Some(w) = watermark { second.advance(Timestamp(w * SEC)); got.extend(second.drain_verdicts()); }
        second.flush();
        got.extend(second.drain_verdicts());
        prop_assert_eq!(got, expected);
        prop_assert_eq!(second.stats(), whole.stats());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Detector::restore(Arc::new(Rule::hardened()), Config::default(), &bytes);
        let mut with_magic = shareexec::snapshot::MAGIC.to_vec();
        with_magic.extend(&bytes);
        let _ = Detector::restore(Arc::new(Rule::hardened()), Config::default(), &with_magic);
    }
}

/// `n` events a second apart on two hosts, two writes to each start, one path.
fn alternating(n: usize) -> Vec<Ev> {
    (0..n)
        .map(|i| Ev {
            write: i % 3 != 2,
            host: ["h1", "h2"][i % 2],
            path: "C:\\a.exe",
            ts: i as i64 * SEC,
            seq: Some(i as u64),
            trusted: false,
        })
        .collect()
}

fn busy_snapshot() -> Vec<u8> {
    let mut d = detector(Semantics::Hardened, 20);
    run(&mut d, &alternating(40), 0, &mut Vec::new());
    assert!(d.stats().buffered > 0 && d.stats().pending > 0);
    d.snapshot().unwrap()
}

/// Every truncation and every single-byte corruption is a typed error.
#[test]
fn corrupted_or_truncated_snapshots_are_errors() {
    let bytes = busy_snapshot();
    let rule = Arc::new(Rule::hardened());
    for len in 0..bytes.len() {
        assert!(
            Detector::restore(rule.clone(), Config::default(), &bytes[..len]).is_err(),
            "truncated at {len}"
        );
    }
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x5a;
        assert!(
            Detector::restore(rule.clone(), Config::default(), &bad).is_err(),
            "byte {i} flipped"
        );
    }
    let mut wrong = bytes.clone();
    wrong[4] = 9;
    assert_eq!(
        Detector::restore(rule.clone(), Config::default(), &wrong).unwrap_err(),
        SnapshotError::UnsupportedVersion { found: 9 }
    );
    assert_eq!(
        Detector::restore(rule.clone(), Config::default(), b"NOPE0000000000").unwrap_err(),
        SnapshotError::BadMagic
    );
    assert!(matches!(
        Detector::restore(Arc::new(Rule::elasticsearch()), Config::default(), &bytes),
        Err(SnapshotError::SemanticsMismatch {
            found: "hardened",
            expected: "elasticsearch"
        })
    ));
    assert_eq!(
        Detector::restore(rule, Config::default().with_max_hosts(1), &bytes).unwrap_err(),
        SnapshotError::OverCaps { what: "max_hosts" }
    );
}

/// Verdicts not taken are not part of the state: a snapshot refuses rather than lose them.
#[test]
fn snapshot_refuses_untaken_verdicts() {
    let mut d = detector(Semantics::Elasticsearch, 0);
    let w = Ev {
        write: true,
        host: "h1",
        path: "C:\\a.exe",
        ts: 0,
        seq: None,
        trusted: false,
    };
    let p = Ev {
        write: false,
        ..w.clone()
    };
    d.handle(w.event(1));
    d.handle(p.event(2));
    assert_eq!(
        d.snapshot().unwrap_err(),
        SnapshotError::VerdictsNotTaken(1)
    );
    d.poll_verdict().unwrap();
    assert!(d.snapshot().is_ok());
}

/// A host holding more pending writes than the restoring configuration allows a host
/// is refused, like every other cap (and so is a merge of it); at the cap it is taken.
#[test]
fn restore_and_merge_check_the_per_host_quota() {
    let rule = Arc::new(Rule::elasticsearch());
    // Elasticsearch semantics at lateness 0: the writes are pending at once, none is
    // held for reordering or tie order.
    let config = Config::default().with_max_lateness(Span::ZERO);
    let mut d = Detector::new(rule.clone(), config.clone()).unwrap();
    for (n, path) in ["C:\\a.exe", "C:\\b.exe", "C:\\c.exe"]
        .into_iter()
        .enumerate()
    {
        let w = Ev {
            write: true,
            host: "h1",
            path,
            ts: n as i64,
            seq: None,
            trusted: false,
        };
        d.handle(w.event(n as u64 + 1));
    }
    let one = Ev {
        write: true,
        host: "h2",
        path: "C:\\a.exe",
        ts: 0,
        seq: None,
        trusted: false,
    };
    d.handle(one.event(9));
    assert_eq!(d.stats().pending, 4, "{:?}", d.stats());
    let bytes = d.snapshot().unwrap();
    let tight = config.clone().with_max_pending_per_host(2);
    assert_eq!(
        Detector::restore(rule.clone(), tight.clone(), &bytes).unwrap_err(),
        SnapshotError::OverCaps {
            what: "max_pending_per_host"
        }
    );
    let mut other = Detector::new(rule.clone(), tight).unwrap();
    let before = other.snapshot().unwrap();
    assert_eq!(
        other.merge(&bytes).unwrap_err(),
        SnapshotError::OverCaps {
            what: "max_pending_per_host"
        }
    );
    assert!(
        other.snapshot().unwrap() == before,
        "a failed merge changes nothing"
    );
    let at_cap = config.with_max_pending_per_host(3);
    assert_eq!(
        Detector::restore(rule, at_cap, &bytes)
            .unwrap()
            .stats()
            .pending,
        4
    );
}

/// A restore under another lateness keeps each host's release horizon: after a `flush`
/// (which moves the host's clock to its newest event plus the lateness), a smaller
/// lateness does not make an event newer than everything released late, and a larger
/// one does not take an event older than what was released as in time.
#[test]
fn restore_under_another_lateness_keeps_the_release_horizon() {
    let ms = |ms: i64| ms * 1_000_000;
    let write = |host| Ev {
        write: true,
        host,
        path: "C:\\a.exe",
        ts: ms(120),
        seq: None,
        trusted: false,
    };
    let start = |host, at| Ev {
        write: false,
        host,
        path: "C:\\a.exe",
        ts: ms(at),
        seq: None,
        trusted: false,
    };
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let mut first = detector(sem, 10);
        run(&mut first, &[write("h1")], 0, &mut Vec::new());
        first.flush();
        assert_eq!(first.drain_verdicts().count(), 0);
        let bytes = first.snapshot().unwrap();
        for (lateness, at, late, alerts) in [(0, 330, 0, 1), (10, 330, 0, 1), (20, 100, 1, 0)] {
            let config = Config::default()
                .with_max_lateness(Span::from_secs(lateness))
                .with_sweep_interval(7);
            let mut second = Detector::restore(Arc::new(Rule::new(sem)), config, &bytes).unwrap();
            let mut got = Vec::new();
            run(&mut second, &[start("h1", at)], 1, &mut got);
            second.flush();
            got.extend(second.drain_verdicts());
            let what = format!("{sem:?}, lateness {lateness} s, start at {at} ms: {got:?}");
            assert_eq!(second.stats().late, late, "{what}");
            assert_eq!(second.stats().alerts, alerts, "{what}");
        }
    }
}

/// Format version 1 (before the lateness was recorded) still restores, its clocks
/// taken as they are.
#[test]
fn version_1_snapshots_still_restore() {
    let mut d = detector(Semantics::Hardened, 0);
    run(&mut d, &alternating(12), 0, &mut Vec::new());
    let v2 = d.snapshot().unwrap();
    // Magic, version 2, the semantics' code, the lateness (0: one byte), the rest, and
    // the checksum of everything before it.
    assert_eq!(&v2[..4], &shareexec::snapshot::MAGIC);
    assert_eq!((v2[4], v2[6]), (2, 0));
    let mut v1 = v2[..4].to_vec();
    v1.push(1);
    v1.push(v2[5]);
    v1.extend_from_slice(&v2[7..v2.len() - 8]);
    let sum = shareexec::stable_hash::StableHasher::new()
        .bytes(&v1)
        .finish();
    v1.extend_from_slice(&sum.to_le_bytes());
    let config = Config::default().with_sweep_interval(7);
    let restored = Detector::restore(Arc::new(Rule::hardened()), config, &v1).unwrap();
    assert_eq!(restored.stats(), d.stats());
    assert_eq!(
        restored.snapshot().unwrap(),
        v2,
        "read as version 1, written as 2"
    );
    let mut v3 = v2.clone();
    v3[4] = 3;
    let body = v3.len() - 8;
    let sum = shareexec::stable_hash::StableHasher::new()
        .bytes(&v3[..body])
        .finish();
    v3[body..].copy_from_slice(&sum.to_le_bytes());
    assert!(matches!(
        Detector::restore(Arc::new(Rule::hardened()), Config::default(), &v3),
        Err(SnapshotError::UnsupportedVersion { found: 3 })
    ));
}
