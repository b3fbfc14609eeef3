//! Deterministic allocation counts (never timings): the hot path allocates nothing
//! in steady state, and a pending write costs a bounded number of bytes.
//!
//! A counting global allocator (`tests/counting`) wraps the system one for this test
//! binary only, counting per thread.

use std::sync::Arc;

use shareexec::*;

mod counting;

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

const HOSTS: [&str; 4] = ["host-a", "host-b", "host-c", "host-d"];

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_704_290_400_000 + ms)
}

fn irrelevant(n: i64) -> Event<'static> {
    Event::File(FileEvent {
        origin: Origin {
            timestamp: ts(n),
            sequence: Some(n as u64),
            id: Some("e"),
            position: n as u64,
        },
        host_id: Some(HOSTS[n as usize % 4]),
        os_type: Some("windows"),
        types: EventTypes::CREATION,
        pid: Some(1234),
        path: Some("C:\\Users\\alice\\report.docx"),
        extension: Some("docx"),
        ..FileEvent::default()
    })
}

fn start_matching_nothing(n: i64) -> Event<'static> {
    Event::Process(ProcessEvent {
        origin: Origin {
            timestamp: ts(n),
            sequence: Some(n as u64),
            id: Some("e"),
            position: n as u64,
        },
        host_id: Some(HOSTS[n as usize % 4]),
        os_type: Some("windows"),
        types: EventTypes::START,
        executable: Some("C:\\Windows\\System32\\svchost.exe"),
        pid: Some(900),
        code_signature: CodeSignature {
            exists: Some(true),
            trusted: Some(true),
            subject_name: Some("Microsoft Windows"),
            status: None,
        },
        hash: Hashes::default(),
    })
}

fn steady_state_allocations(semantics: Semantics, lateness: Span) -> usize {
    // Sweeps (and their scratch space) happen during warm-up as well as after it.
    let config = Config::default()
        .with_max_lateness(lateness)
        .with_hash_seed(Some(5))
        .with_sweep_interval(1_000);
    let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
    // Warm up: hosts interned, buffers and pools at their working size.
    let mut n = 0;
    for _ in 0..20_000 {
        d.handle(irrelevant(n));
        d.handle(start_matching_nothing(n));
        d.drain_verdicts().for_each(drop);
        n += 1;
    }
    let before = counting::allocations();
    for _ in 0..20_000 {
        d.handle(irrelevant(n));
        d.handle(start_matching_nothing(n));
        d.drain_verdicts().for_each(drop);
        n += 1;
    }
    counting::allocations() - before
}

#[test]
fn no_allocation_per_event_in_steady_state() {
    assert_eq!(
        steady_state_allocations(Semantics::Elasticsearch, Span::ZERO),
        0
    );
    assert_eq!(steady_state_allocations(Semantics::Hardened, Span::ZERO), 0);
    assert_eq!(
        steady_state_allocations(Semantics::Elasticsearch, Span::from_secs(2)),
        0
    );
    assert_eq!(
        steady_state_allocations(Semantics::Hardened, Span::from_secs(2)),
        0
    );
}

/// Allocations of `rounds` SMB writes, each followed by its unsigned execution (an
/// alert) and, every other round, first by a trusted one (a suppression), in
/// steady state. Every string an alert can carry is present.
fn alert_path_allocations(semantics: Semantics, lateness: Span, rounds: usize) -> usize {
    let config = Config::default()
        .with_max_lateness(lateness)
        .with_hash_seed(Some(5))
        .with_sweep_interval(1_000);
    let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
    let paths: Vec<String> = (0..64)
        .map(|i| format!("C:\\Windows\\PSEXESVC-{i:02}.exe"))
        .collect();
    let hash = Hashes {
        sha256: Some("aa"),
        sha1: Some("bb"),
        md5: Some("cc"),
    };
    let mut n = 0i64;
    let round = |d: &mut Detector, n: &mut i64| {
        let path = paths[*n as usize % paths.len()].as_str();
        let host_id = Some(HOSTS[*n as usize % 4]);
        let origin = |k: i64| Origin {
            timestamp: ts(*n * 10 + k),
            sequence: Some((*n * 10 + k) as u64),
            id: Some("event-id"),
            position: (*n * 10 + k) as u64,
        };
        d.handle(Event::File(FileEvent {
            origin: origin(0),
            host_id,
            os_type: Some("windows"),
            types: EventTypes::CREATION,
            pid: Some(4),
            path: Some(path),
            extension: Some("exe"),
            header_bytes: Some("4d5a9000"),
            hash,
        }));
        let start = |k: i64, subject_name| {
            Event::Process(ProcessEvent {
                origin: origin(k),
                host_id,
                os_type: Some("windows"),
                types: EventTypes::START,
                executable: Some(path),
                pid: Some(7000),
                code_signature: CodeSignature {
                    exists: Some(true),
                    trusted: Some(true),
                    subject_name: Some(subject_name),
                    status: Some("trusted"),
                },
                hash,
            })
        };
        if *n % 2 == 0 {
            d.handle(start(
                1,
                "Microsoft Windows Hardware Compatibility Publisher",
            ));
        }
        d.handle(start(2, "Some Vendor"));
        d.drain_verdicts().for_each(drop);
        *n += 1;
    };
    for _ in 0..2_000 {
        round(&mut d, &mut n);
    }
    let before = counting::allocations();
    for _ in 0..rounds {
        round(&mut d, &mut n);
    }
    let allocations = counting::allocations() - before;
    d.flush();
    let st = d.stats();
    assert_eq!(
        (st.alerts, st.suppressed),
        (2_000 + rounds as u64, (2_000 + rounds as u64) / 2),
        "{st:?}"
    );
    allocations
}

/// A write and its alert cost exactly two allocations, whatever they carry: the
/// pending write's one (path, id and hashes in one string) and the verdict's one
/// (every string of the sequence shares it, see `Text`); a suppression costs one.
/// Before the strings were shared, a round here cost 19 (the write's one, then 12
/// per sequence: path, executable, two event ids, signer name and status, six
/// hashes, a box each).
#[test]
fn allocations_per_alert() {
    const ROUNDS: usize = 1_000;
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        for lateness in [Span::ZERO, Span::from_secs(2)] {
            // Per round: the write, its alert, and half a suppression.
            assert_eq!(
                alert_path_allocations(semantics, lateness, ROUNDS),
                ROUNDS * 2 + ROUNDS / 2,
                "{semantics:?}, lateness {lateness}"
            );
        }
    }
}

/// Heap bytes of the detector per pending write, beyond the path's own bytes.
#[test]
fn bytes_per_pending_entry() {
    const N: usize = 200_000;
    let paths: Vec<String> = (0..N)
        .map(|i| format!("C:\\Windows\\Temp\\payload{i:08}.exe"))
        .collect();
    let path_bytes: usize = paths.iter().map(String::len).sum();
    let config = Config::default()
        .with_max_pending(N)
        .with_max_pending_per_host(N)
        .with_hash_seed(Some(5));
    let before = counting::live_bytes();
    let mut d = Detector::new(Arc::new(Rule::hardened()), config).unwrap();
    for (i, path) in paths.iter().enumerate() {
        d.handle(Event::File(FileEvent {
            origin: Origin {
                timestamp: ts(i as i64 / 100),
                ..Origin::default()
            },
            host_id: Some(HOSTS[i % 4]),
            os_type: Some("windows"),
            types: EventTypes::CREATION,
            pid: Some(4),
            path: Some(path),
            extension: Some("exe"),
            ..FileEvent::default()
        }));
    }
    d.flush();
    assert_eq!(d.stats().pending as usize, N);
    let grown = (counting::live_bytes() - before) as usize;
    let per_entry = (grown - path_bytes) as f64 / N as f64;
    eprintln!("bytes per pending entry beyond the path: {per_entry:.1}");
    assert!(per_entry <= 100.0, "{per_entry:.1} bytes per entry");
    drop(d);
}

/// A Sysmon record of an event id that makes no event (97.5 % of the OTRF recordings:
/// registry, image loads, process access…) is checked by `decode_sysmon_events` without
/// a single allocation: its event id is read by the byte walk, in place.
#[cfg(feature = "json")]
#[test]
fn no_allocation_per_sysmon_record_that_makes_no_event() {
    use shareexec::input::decode_sysmon_events;
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for name in [
        "otrf__cmd_psexec_lsa_secrets_dump.sysmon.ndjson.gz",
        "otrf__covenant_copy_smb_CreateRequest.sysmon.ndjson.gz",
    ] {
        let path = format!(
            "{}/tests/fixtures/sysmon/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let raw = std::fs::read(&path).unwrap();
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&raw[..]), &mut text).unwrap();
        lines.extend(
            text.split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .map(<[u8]>::to_vec),
        );
    }
    let (mut skipped, mut allocations) = (0, 0);
    for line in &lines {
        let before = counting::allocations();
        let none = matches!(decode_sysmon_events(line), Ok(None));
        let after = counting::allocations();
        if none {
            skipped += 1;
            allocations += after - before;
        }
    }
    assert_eq!(skipped, 637, "of {} lines", lines.len());
    assert_eq!(allocations, 0);
}
