//! Memory bounds, eviction, clock skew, silent hosts, watermarks: deterministic
//! counts, never timings.

mod common;
use std::sync::Arc;

use common::*;
use shareexec::*;

fn detector(config: Config) -> Detector {
    Detector::new(
        Arc::new(Rule::elasticsearch()),
        config.with_hash_seed(Some(3)),
    )
    .unwrap()
}

fn drain(d: &mut Detector) -> Said {
    let mut said = Said::default();
    collect(d, &mut said);
    said
}

fn flood_path(n: usize) -> String {
    format!("C:\\Windows\\Temp\\flood{n:07}.exe")
}

/// One host floods unique executable writes within a minute: its own quota holds,
/// the evictions are counted, and another host's true positive in the same stream
/// is still detected.
#[test]
fn per_host_quota_contains_a_flood() {
    let mut d = detector(
        Config::default()
            .with_max_pending_per_host(1_000)
            .with_max_pending(5_000),
    );
    let victim = [
        w("f1", s(0), X).host(Some("victim")),
        p("p1", s(50), X).host(Some("victim")),
    ];
    d.handle(victim[0].event(1));
    for n in 0..200_000 {
        let path = flood_path(n);
        d.handle(write_at("attacker", &path, ms(n as i64 / 10)));
        assert!(d.stats().pending <= 1_001);
    }
    d.handle(victim[1].event(2));
    let said = drain(&mut d);
    assert_eq!(said.alerts, pairs(&[("f1", "p1")]));
    let st = d.stats();
    assert_eq!(st.evicted, 200_000 - 1_000);
    assert_eq!(
        st.pending, 1_000,
        "the attacker's newest 1 000; the victim's write was consumed"
    );
}

/// Many hosts together hit the global cap: the oldest entries go first, counted.
#[test]
fn global_cap_holds_across_hosts() {
    let mut d = detector(
        Config::default()
            .with_max_pending(500)
            .with_max_pending_per_host(100),
    );
    let hosts: Vec<String> = (0..50).map(|h| format!("host-{h}")).collect();
    for n in 0..10_000 {
        let path = flood_path(n);
        d.handle(write_at(&hosts[n % 50], &path, ms(n as i64)));
        assert!(d.stats().pending <= 500);
    }
    let st = d.stats();
    assert_eq!(st.pending, 500);
    assert_eq!(st.evicted, 10_000 - 500);
    assert_eq!(st.writes, 10_000);
}

/// Long paths hit the byte cap before the entry cap.
#[test]
fn byte_cap_holds() {
    let mut d = detector(Config::default().with_max_pending_bytes(1 << 20));
    let long = "A".repeat(30_000);
    for n in 0..200 {
        let path = format!("C:\\{long}\\{n}.exe");
        d.handle(write_at("h1", &path, ms(n)));
        assert!(d.pending_string_bytes() <= 1 << 20);
    }
    assert_eq!(d.stats().pending, (1 << 20) / 30_010);
    // A single write larger than the whole budget is refused, not stored.
    let huge = format!("C:\\{}.exe", "B".repeat(2 << 20));
    let before = d.stats().evicted;
    d.handle(write_at("h1", &huge, ms(500)));
    assert_eq!(d.stats().evicted, before + 1);
    assert!(d.pending_string_bytes() <= 1 << 20);
}

/// A host whose clock is a year ahead does not expire other hosts' pending writes.
#[test]
fn future_host_does_not_expire_others() {
    let year = 365 * 24 * 3600;
    let events = [
        w("f1", s(0), X),
        w("future", s(year), X).host(Some("skewed")),
        p("px", s(year + 1), X).host(Some("skewed")),
        p("p1", s(30), X),
    ];
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let said = run(sem, Span::ZERO, &events);
        let mut alerts = said.alerts.clone();
        alerts.sort();
        assert_eq!(alerts, pairs(&[("f1", "p1"), ("future", "px")]), "{sem:?}");
        assert!(said.late.is_empty(), "{sem:?}: clocks are per host");
    }
}

/// A host that falls silent has its pending writes released by the sweep once the
/// consensus clock (lower median of host clocks) passes it by the idle timeout.
#[test]
fn silent_host_is_swept() {
    let config = Config::default()
        .with_sweep_interval(100)
        .with_idle_host_timeout(Span::from_secs(300));
    let mut d = detector(config);
    d.handle(write_at("silent", "C:\\a.exe", s(0)));
    for n in 0..1_000 {
        let path = flood_path(n % 3);
        for h in ["b", "c", "d"] {
            d.handle(write_at(h, &path, s(n as i64)));
        }
    }
    let st = d.stats();
    assert_eq!(st.swept, 1, "{st:?}");
    assert_eq!(st.hosts, 3);
    // Writes of active hosts are never swept.
    assert_eq!(st.pending, 9);
}

/// With fewer than three hosts there is no majority to trust: nothing is swept,
/// and a year-ahead host never sweeps the others.
#[test]
fn sweep_needs_a_majority() {
    let mut d = detector(Config::default().with_sweep_interval(10));
    d.handle(write_at("a", "C:\\a.exe", s(0)));
    d.handle(write_at("b", "C:\\a.exe", s(1)));
    for n in 0..100 {
        let path = flood_path(n);
        d.handle(write_at("skewed", &path, s(365 * 24 * 3600 + n as i64)));
    }
    assert_eq!(d.stats().swept, 0);
}

/// The reorder buffer stays within its caps: when full it releases early, counted.
#[test]
fn buffer_cap_forces_release() {
    let config = Config::default()
        .with_max_lateness(Span::from_secs(300))
        .with_max_buffered(100);
    let mut d = detector(config);
    for n in 0..1_000 {
        let path = flood_path(n);
        d.handle(write_at("h1", &path, ms(n as i64)));
        assert!(d.stats().buffered <= 100);
    }
    assert_eq!(d.stats().forced, 900);
    d.flush();
    assert_eq!(d.stats().buffered, 0);
}

/// Too many hosts: idle ones are forgotten to make room; when none is idle a new
/// host's write cannot be kept, and that is counted.
#[test]
fn host_cap() {
    let mut d = detector(Config::default().with_max_hosts(10));
    let ids: Vec<String> = (0..30).map(|h| format!("host-{h}")).collect();
    for (n, h) in ids.iter().enumerate() {
        d.handle(write_at(h, "C:\\a.exe", s(n as i64)));
    }
    let st = d.stats();
    assert_eq!(st.hosts, 10);
    assert_eq!(st.pending, 10);
    assert_eq!(st.evicted, 20);
}

/// A watermark releases held events and expires pending writes; `next_deadline`
/// says when the next one matters.
#[test]
fn watermark_and_deadline() {
    let mut d = detector(Config::default().with_max_lateness(Span::from_secs(30)));
    assert_eq!(d.next_deadline(), None);
    let events = [w("f1", s(0), X), p("p1", s(10), X)];
    d.handle(events[0].event(1));
    d.handle(events[1].event(2));
    assert!(drain(&mut d).alerts.is_empty(), "both held: lateness 30 s");
    assert_eq!(d.next_deadline(), Some(s(0)));
    d.advance(s(5));
    assert!(
        drain(&mut d).alerts.is_empty(),
        "the write is released, the execution not yet"
    );
    assert_eq!(d.stats().pending, 1);
    assert_eq!(d.next_deadline(), Some(s(10)));
    d.advance(s(10));
    assert_eq!(drain(&mut d).alerts, pairs(&[("f1", "p1")]));
    // Older watermarks are ignored; events at or before the watermark are late.
    d.advance(s(1));
    d.handle(w("f2", s(9), X).event(3));
    assert_eq!(drain(&mut d).late, ["f2"]);
    assert_eq!(
        d.next_deadline(),
        Some(Timestamp(s(69).0 + 1)),
        "f2 expires after 60 s"
    );
    d.advance(s(70));
    assert_eq!(d.stats().pending, 0);
    assert_eq!(d.stats().expired, 1);
}

#[test]
fn config_is_validated() {
    let rule = Arc::new(Rule::hardened());
    let bad = Config::default().with_max_lateness(Span::from_secs(-1));
    assert_eq!(
        Detector::new(rule.clone(), bad).unwrap_err(),
        ConfigError::NegativeLateness(Span::from_secs(-1))
    );
    let bad = Config::default().with_max_pending(0);
    assert_eq!(
        Detector::new(rule.clone(), bad).unwrap_err(),
        ConfigError::ZeroCap("max_pending")
    );
    let bad = Config::default().with_max_lateness(Span::from_secs(600));
    assert!(matches!(
        Detector::new(rule.clone(), bad),
        Err(ConfigError::SweepTooEager { .. })
    ));
    assert!(
        Config::default().memory_bound() < 256 << 20,
        "defaults stay under 256 MiB"
    );
}

/// Alert ids are deterministic: the same sequence gets the same id in any run,
/// whatever the hash seed.
#[test]
fn alert_ids_are_stable() {
    let events = [w("f1", s(0), X), p("p1", s(10), X)];
    let ids: Vec<AlertId> = [1u64, 2]
        .iter()
        .map(|&seed| {
            let mut d = Detector::new(
                Arc::new(Rule::hardened()),
                Config::default().with_hash_seed(Some(seed)),
            )
            .unwrap();
            d.handle(events[0].event(1));
            d.handle(events[1].event(2));
            d.flush();
            match d.poll_verdict() {
                Some(Verdict::Alert(s)) => s.id,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[0].to_string().len(), 16);
}

/// A write's id and hashes ride with it into the alert; absurdly long ones are
/// dropped rather than stored.
#[test]
fn ids_and_hashes_are_carried() {
    let mut d = detector(Config::default());
    let long = "f".repeat(70_000);
    let mut write = write_at("h1", X, s(0));
    if let Event::File(f) = &mut write {
        f.origin.id = Some("w-1");
        f.hash = Hashes {
            sha256: Some("aa"),
            sha1: Some(&long),
            md5: Some("cc"),
        };
    }
    d.handle(write);
    let exec = p("p1", s(1), X);
    let mut exec = exec.event(9);
    if let Event::Process(p) = &mut exec {
        p.hash.sha256 = Some("dd");
    }
    d.handle(exec);
    let Some(Verdict::Alert(a)) = d.poll_verdict() else {
        panic!()
    };
    assert_eq!(a.write.id.as_deref(), Some("w-1"));
    assert_eq!(a.file_hash.sha256.as_deref(), Some("aa"));
    assert_eq!(
        a.file_hash.sha1, None,
        "70 000 bytes is past the carried limit"
    );
    assert_eq!(a.file_hash.md5.as_deref(), Some("cc"));
    assert_eq!(a.process_hash.sha256.as_deref(), Some("dd"));
    assert_eq!(a.execution.position, 9);
}
