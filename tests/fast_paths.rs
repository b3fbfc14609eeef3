//! The detector's shortcuts against exhaustive small cases, so that a shortcut that
//! changes an outcome fails here with the arrival order that shows it:
//!
//! - held process starts are released without rebuilding the event when no write
//!   awaits them, and with the full event when one does, including a write that
//!   arrived after them at the same timestamp and sorts before them (`event.sequence`);
//! - a host without pending writes skips the `(host, path)` lookup;
//! - expiry reads the timestamp of a host's oldest write from the host, which must
//!   follow late writes that become the oldest and consumed writes that were.

mod common;

use common::*;
use shareexec::*;

const T: i64 = 100;
const SOPHOS: &str = "Sophos Ltd";

/// (write id, execution id) pairs.
type Pairs = Vec<(String, String)>;

/// What the time-sorted stream says: sort by timestamp, the semantics' tiebreak
/// and arrival, then let each execution join the latest earlier write of its path
/// unless an alert consumed it. Alerts and suppressions in processing order.
fn reference(semantics: Semantics, arrived: &[Ev]) -> (Pairs, Pairs) {
    let mut order: Vec<usize> = (0..arrived.len()).collect();
    order.sort_by_key(|&i| {
        let e = &arrived[i];
        let tiebreak = match (semantics, e.seq) {
            (Semantics::Elasticsearch, _) => (false, 0),
            (_, Some(s)) => (false, s),
            (_, None) => (true, 0),
        };
        (e.ts, tiebreak, i)
    });
    let (mut alerts, mut suppressed) = (Vec::new(), Vec::new());
    let mut pending: Option<usize> = None;
    for &i in &order {
        let e = &arrived[i];
        if e.path != Some(X) {
            continue;
        }
        if e.file {
            pending = Some(i);
            continue;
        }
        let Some(w) = pending else { continue };
        if e.ts.since(arrived[w].ts) > Span::from_secs(60) {
            continue;
        }
        let pair = (arrived[w].id.to_string(), e.id.to_string());
        if e.sig.subject_name == Some(SOPHOS) {
            suppressed.push(pair);
        } else {
            alerts.push(pair);
            pending = None;
        }
    }
    (alerts, suppressed)
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// Two writes and two executions (one by a signer the recommended and the rule's
/// lists trust, so suppressed) of one path, all at `T`, after an older write of the
/// path; then an unrelated start that moves the host's clock on. Every arrival order
/// of the four, every assignment of `event.sequence` (and none, and some missing).
#[test]
fn ties_at_one_timestamp_in_every_arrival_and_sequence_order() {
    let ties = [
        w("w1", s(T), X),
        w("w2", s(T), X),
        p("p1", s(T), X),
        p("p2", s(T), X).signed(Some(true), Some(SOPHOS)),
    ];
    let mut numberings: Vec<Vec<Option<u64>>> = permutations(4)
        .into_iter()
        .map(|p| p.into_iter().map(|s| Some(s as u64)).collect())
        .collect();
    numberings.push(vec![None; 4]);
    numberings.push(vec![Some(1), None, Some(0), None]);
    numberings.push(vec![None, Some(2), None, Some(1)]);
    let mut runs = 0;
    for numbering in &numberings {
        for arrival in permutations(4) {
            let mut events = vec![w("w0", s(T - 5), X).seq(0)];
            for &i in &arrival {
                let mut e = ties[i].clone();
                e.seq = numbering[i].map(|s| s + 10);
                events.push(e);
            }
            events.push(p("later", s(T + 3), "C:\\other.exe").seq(99));
            for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
                let expected = reference(semantics, &events);
                for lateness in [Span::ZERO, Span::from_secs(2), Span::from_secs(5)] {
                    let said = run(semantics, lateness, &events);
                    let suppressed: Pairs = said
                        .suppressed
                        .iter()
                        .map(|(w, x, _)| (w.clone(), x.clone()))
                        .collect();
                    assert_eq!(
                        (&said.alerts, &suppressed),
                        (&expected.0, &expected.1),
                        "{semantics:?} lateness {lateness:?} arrival {:?}",
                        events.iter().map(|e| (e.id, e.seq)).collect::<Vec<_>>()
                    );
                    assert!(said.late.is_empty());
                    runs += 1;
                }
            }
        }
    }
    assert_eq!(runs, 27 * 24 * 2 * 3);
}

/// A held start at `T` and a write of its path that arrives after it at `T`: the
/// write joins it only if it sorts first (hardened: a smaller `event.sequence`, or a
/// sequence against none; Elasticsearch: never, arrival decides).
#[test]
fn write_arriving_after_a_held_start_at_the_same_timestamp() {
    let cases: [(Option<u64>, Option<u64>, bool, bool); 5] = [
        // (start's sequence, write's sequence, hardened alerts, ES alerts)
        (Some(5), Some(4), true, false),
        (Some(5), Some(6), false, false),
        (None, Some(6), true, false),
        (Some(5), None, false, false),
        (None, None, false, false),
    ];
    for (start_seq, write_seq, hardened, es) in cases {
        let mut start = p("x", s(T), X);
        start.seq = start_seq;
        let mut write = w("w", s(T), X);
        write.seq = write_seq;
        let events = [start, write, p("later", s(T + 1), "C:\\other.exe")];
        for (semantics, alerts) in [
            (Semantics::Hardened, hardened),
            (Semantics::Elasticsearch, es),
        ] {
            let said = run(semantics, Span::ZERO, &events);
            let expected = if alerts { pairs(&[("w", "x")]) } else { vec![] };
            assert_eq!(
                said.alerts, expected,
                "{semantics:?} {start_seq:?} {write_seq:?}"
            );
        }
    }
}

/// Hosts without pending writes skip the lookup; a host with one still joins, and
/// another host's write of the same path does not.
#[test]
fn hosts_without_pending_writes() {
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        let events = [
            p("a0", s(1), X).host(Some("a")),
            w("wb", s(2), X).host(Some("b")),
            p("a1", s(3), X).host(Some("a")),
            p("c1", s(3), X).host(Some("c")),
            p("b1", s(4), X).host(Some("b")),
            p("b2", s(5), X).host(Some("b")),
        ];
        let said = run(semantics, Span::ZERO, &events);
        assert_eq!(said.alerts, pairs(&[("wb", "b1")]), "{semantics:?}");
    }
}

/// Expiry follows the oldest write of a host as late writes become it and as
/// consumed writes stop being it (`pending` and `expired` show when each goes).
#[test]
fn expiry_follows_the_oldest_write() {
    const B: &str = "C:\\Windows\\Temp\\b.exe";
    const C: &str = "C:\\Windows\\Temp\\c.exe";
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        let config = Config::default();
        // A late write becomes the oldest: it expires first, 61 s after itself.
        let (said, stats) = run_with(
            Rule::new(semantics),
            config.clone(),
            &[
                w("wa", s(100), X),
                w("wb", s(90), B),
                p("tick", s(151), C),
                p("xa", s(155), X),
            ],
        );
        assert_eq!(said.late, ["wb"], "{semantics:?}");
        assert_eq!(said.alerts, pairs(&[("wa", "xa")]), "{semantics:?}");
        assert_eq!((stats.expired, stats.pending), (1, 0), "{semantics:?}");

        // The oldest write is consumed: the next one's own age decides.
        let events = [
            w("w1", s(0), X),
            w("w2", s(30), B),
            p("x1", s(40), X),
            p("tick", s(89), C),
        ];
        let (said, stats) = run_with(Rule::new(semantics), config.clone(), &events);
        assert_eq!(said.alerts, pairs(&[("w1", "x1")]), "{semantics:?}");
        assert_eq!((stats.expired, stats.pending), (0, 1), "{semantics:?}");
        let mut later = events.to_vec();
        later.push(p("tock", s(91), C));
        let (_, stats) = run_with(Rule::new(semantics), config.clone(), &later);
        assert_eq!((stats.expired, stats.pending), (1, 0), "{semantics:?}");
    }
}
