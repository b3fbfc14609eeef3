//! The detector against a naive, obviously correct reference model.
//!
//! The model sorts the whole stream (timestamp, the semantics' tiebreak, arrival),
//! then for each execution scans backwards for the latest earlier write of the same
//! key that no alert has consumed, and checks the maxspan. It shares nothing with the
//! detector but the stage predicates and the trust policy (tested on their own).

use std::collections::BTreeSet;
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
    trusted_signer: bool,
    relevant: bool,
}

impl Ev {
    fn event(&self, position: u64) -> Event<'static> {
        let origin = Origin {
            timestamp: Timestamp(self.ts),
            sequence: self.seq,
            id: None,
            position,
        };
        let os = Some(if self.relevant { "windows" } else { "linux" });
        if self.write {
            Event::File(FileEvent {
                origin,
                host_id: Some(self.host),
                os_type: os,
                types: EventTypes::CREATION,
                pid: Some(4),
                path: Some(self.path),
                extension: Some("exe"),
                header_bytes: None,
                hash: Hashes::default(),
            })
        } else {
            Event::Process(ProcessEvent {
                origin,
                host_id: Some(self.host),
                os_type: os,
                types: EventTypes::START,
                executable: Some(self.path),
                pid: Some(100),
                code_signature: CodeSignature {
                    exists: Some(true),
                    trusted: Some(true),
                    subject_name: Some(if self.trusted_signer {
                        "Sophos Ltd"
                    } else {
                        "Evil Corp"
                    }),
                    status: None,
                },
                hash: Hashes::default(),
            })
        }
    }
}

/// (write position, execution position, suppressed?)
type Outcome = BTreeSet<(u64, u64, bool)>;

fn fold(s: &str) -> String {
    shareexec::fold::fold_string(s)
}

fn model(events: &[Ev], semantics: Semantics) -> Outcome {
    let rule = Rule::new(semantics);
    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| {
        let e = &events[i];
        let tiebreak = match (semantics, e.seq) {
            (Semantics::Elasticsearch, _) => (false, 0),
            (_, Some(s)) => (false, s),
            (_, None) => (true, 0),
        };
        (e.ts, tiebreak, i)
    });
    let key = |e: &Ev| match semantics {
        Semantics::Elasticsearch => (e.host.to_string(), e.path.to_string()),
        _ => (e.host.to_string(), fold(e.path)),
    };
    let candidate = |i: usize| {
        let ev = events[i].event(i as u64);
        match ev {
            Event::File(f) => rule.is_write(&f),
            Event::Process(p) => rule.is_execution(&p),
            _ => false,
        }
    };
    let mut consumed = BTreeSet::new();
    let mut out = Outcome::new();
    for (k, &i) in order.iter().enumerate() {
        let e = &events[i];
        if e.write || !candidate(i) {
            continue;
        }
        // The latest earlier candidate write of the same key.
        let Some(&w) = order[..k]
            .iter()
            .rev()
            .find(|&&j| events[j].write && candidate(j) && key(&events[j]) == key(e))
        else {
            continue;
        };
        if consumed.contains(&w) || e.ts - events[w].ts > 60 * SEC {
            continue;
        }
        let Event::Process(p) = e.event(i as u64) else {
            unreachable!()
        };
        let trusted = rule.assess(&p).is_some();
        out.insert((w as u64, i as u64, trusted));
        if !trusted {
            consumed.insert(w);
        }
    }
    out
}

fn run(events: &[Ev], arrival: &[usize], semantics: Semantics, lateness: Span) -> (Outcome, Stats) {
    let config = Config::default()
        .with_max_lateness(lateness)
        .with_hash_seed(Some(1));
    let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
    let mut out = Outcome::new();
    let mut take = |d: &mut Detector| {
        for v in d.drain_verdicts() {
            match v {
                Verdict::Alert(s) => {
                    assert!(out.insert((s.write.position, s.execution.position, false)))
                }
                Verdict::Suppressed(s) => {
                    assert!(out.insert((
                        s.sequence.write.position,
                        s.sequence.execution.position,
                        true
                    )))
                }
                Verdict::Late(l) => panic!("unexpected late event {l:?}"),
                _ => {}
            }
        }
    };
    for &i in arrival {
        d.handle(events[i].event(i as u64));
        take(&mut d);
    }
    d.flush();
    take(&mut d);
    (out, d.stats())
}

fn ev_strategy(seq_mode: u8) -> impl Strategy<Value = Ev> {
    (
        any::<bool>(),
        prop::sample::select(vec!["h1", "h2"]),
        prop::sample::select(vec!["C:\\a.exe", "C:\\A.EXE", "C:\\b.exe"]),
        // Coarse steps hit equal timestamps and the 60 s boundary often.
        (0i64..40).prop_map(|t| t * 5 * SEC),
        prop_oneof![Just(0i64), Just(1), Just(-1)],
        any::<bool>(),
        prop::bool::weighted(0.9),
        0u64..8,
    )
        .prop_map(
            move |(write, host, path, ts, nudge, trusted_signer, relevant, seq)| Ev {
                write,
                host,
                path,
                ts: ts + nudge,
                seq: match seq_mode {
                    0 => None,
                    1 => Some(seq),
                    _ => (seq % 2 == 0).then_some(seq),
                },
                trusted_signer,
                relevant,
            },
        )
}

/// Events plus an arrival order in which none arrives more than `lateness` behind
/// its host's newest timestamp: each event is delayed by up to `lateness`.
fn stream(lateness_secs: i64) -> impl Strategy<Value = (Vec<Ev>, Vec<usize>)> {
    (0u8..3).prop_flat_map(move |seq_mode| {
        prop::collection::vec(
            (ev_strategy(seq_mode), 0..=lateness_secs * SEC, any::<u16>()),
            0..60,
        )
        .prop_map(|items| {
            let mut arrival: Vec<usize> = (0..items.len()).collect();
            arrival.sort_by_key(|&i| (items[i].0.ts + items[i].1, items[i].2));
            (items.into_iter().map(|(e, _, _)| e).collect(), arrival)
        })
    })
}

/// The events in arrival order, renumbered, so the model sees arrival as index.
fn in_arrival_order(events: &[Ev], arrival: &[usize]) -> Vec<Ev> {
    arrival.iter().map(|&i| events[i].clone()).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn equals_model_in_arrival_order((events, _) in stream(0)) {
        let sorted = { let mut e = events.clone(); e.sort_by_key(|e| e.ts); e };
        let arrival: Vec<usize> = (0..sorted.len()).collect();
        for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
            let (got, stats) = run(&sorted, &arrival, sem, Span::ZERO);
            prop_assert_eq!(&got, &model(&sorted, sem), "{:?}", sem);
            prop_assert_eq!(stats.late, 0);
        }
    }

    #[test]
    fn equals_model_within_lateness((events, arrival) in stream(20)) {
        let events = in_arrival_order(&events, &arrival);
        let arrival: Vec<usize> = (0..events.len()).collect();
        for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
            let (got, stats) = run(&events, &arrival, sem, Span::from_secs(20));
            prop_assert_eq!(&got, &model(&events, sem), "{:?}", sem);
            prop_assert_eq!(stats.late, 0);
            prop_assert_eq!(stats.buffered, 0, "flush releases everything");
        }
    }

    #[test]
    fn arrival_permutations_within_lateness_agree((events, arrival) in stream(20), numbered in any::<bool>()) {
        // Same events, two arrival orders within L: identical verdicts once the order
        // does not rest on arrival: distinct timestamps, or (hardened) a sequence
        // number on every event.
        let mut events = events;
        let sorted: Vec<usize> = {
            let mut a: Vec<usize> = (0..events.len()).collect();
            a.sort_by_key(|&i| (events[i].ts, i));
            a
        };
        for (rank, &i) in sorted.iter().enumerate() {
            if numbered { events[i].seq = Some(rank as u64); } else { events[i].ts += 3 * i as i64; } // nudges are ±1 ns: stays distinct
        }
        let sorted: Vec<usize> = {
            let mut a: Vec<usize> = (0..events.len()).collect();
            a.sort_by_key(|&i| (events[i].ts, events[i].seq));
            a
        };
        let sems: &[Semantics] = if numbered { &[Semantics::Hardened] } else { &[Semantics::Elasticsearch, Semantics::Hardened] };
        for &sem in sems {
            let a = run(&events, &arrival, sem, Span::from_secs(20)).0;
            let b = run(&events, &sorted, sem, Span::from_secs(20)).0;
            prop_assert_eq!(a, b, "{:?}", sem);
        }
    }

    #[test]
    fn hardened_finds_what_elasticsearch_finds((events, _) in stream(0)) {
        // Consistently spelled stream (one spelling per file), sequence numbers
        // agreeing with arrival: every execution ES alerts on, hardened alerts on.
        let mut events = events;
        for e in &mut events {
            if e.path == "C:\\A.EXE" { e.path = "C:\\a.exe"; }
        }
        events.sort_by_key(|e| e.ts);
        // A sensor numbers all of a host's events or none of them.
        let numbered = events.iter().all(|e| e.seq.is_some());
        for (n, e) in events.iter_mut().enumerate() { e.seq = numbered.then_some(n as u64); }
        let arrival: Vec<usize> = (0..events.len()).collect();
        let es = run(&events, &arrival, Semantics::Elasticsearch, Span::ZERO).0;
        let hard = run(&events, &arrival, Semantics::Hardened, Span::ZERO).0;
        let alerted = |o: &Outcome| o.iter().filter(|x| !x.2).map(|x| x.1).collect::<BTreeSet<_>>();
        prop_assert!(alerted(&hard).is_superset(&alerted(&es)), "es {:?} hardened {:?}", es, hard);
        prop_assert!(hard.is_superset(&es));
    }
}
