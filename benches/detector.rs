//! Throughput of `Detector::handle` (plus draining verdicts) on a realistic mix of
//! typed events, at three steady-state sizes of the pending-write window, each beside
//! bare-loop baselines, so the ratio detector / baseline is visible in one run:
//!
//! - `bare_loop`: the issue's bare loop, word for word ("a bare typed loop —
//!   predicate plus one hashbrown/foldhash lookup per event"): a hand-written
//!   predicate and ONE `hashbrown`/`foldhash` lookup per candidate, keyed by the
//!   `(host.id, path)` string pair exactly as the event carries it (a write inserts
//!   both strings, boxed). This is the yardstick of the issue's target
//!   (detector ≥ 0.8× the bare loop);
//! - `baseline`: a hand-written predicate and one `hashbrown` lookup of
//!   `(host index, path)` per candidate, host indices prepared outside the loop
//!   (so no host lookup at all is timed: stricter than the issue's bare loop);
//! - `baseline_interning`: the same, but each candidate's `host.id` is looked up in
//!   a second map (as the detector has to intern hosts): two lookups per candidate.
//!
//! All three are kept so that nothing is hidden: `baseline` is the floor of a join
//! that is handed its host indices for free, `bare_loop` what the issue measured.
//!
//! Each pending size is a criterion group (`pending_1k`, `pending_100k`,
//! `pending_1M`) holding the baselines, `elasticsearch` and `hardened` (both at
//! lateness 0). Run one with e.g. `cargo bench --bench detector -- pending_1k/`.
//! Criterion reports each one's throughput (events/s); after each group the bench
//! also prints the ratios detector / baseline of the same run (mean time per batch
//! over every timed batch, warm-up included), e.g.
//! `pending_1k: elasticsearch 0.80x bare_loop, 0.42x baseline, 0.71x baseline_interning`.
//!
//! Instruction counts (deterministic, unlike times on a shared machine): with
//! `SHAREEXEC_BENCH_COUNT=NAME` (one of `bare_loop`, `baseline`,
//! `baseline_interning`, `elasticsearch`, `hardened`; `SHAREEXEC_BENCH_PENDING`
//! sets the pending size, default 1 000) the bench binary skips criterion, runs
//! that variant over every batch once to warm up and then `COUNT_ROUNDS` times
//! through `measured_batch`, and prints how many events it measured. Under callgrind:
//!
//! ```text
//! cargo bench --bench detector --no-run
//! SHAREEXEC_BENCH_COUNT=elasticsearch valgrind --tool=callgrind \
//!     --toggle-collect='*measured_batch*' target/release/deps/detector-HASH
//! ```
//!
//! then instructions per event = the total `Ir` / the events printed.
//!
//! The mix, in each of `BATCHES` different batches of `BATCH` events over `HOSTS`
//! Windows hosts (plus Linux ones):
//! ~60 % irrelevant events (Windows file events by other pids, file deletions by the
//! System process, Linux file events by pid 4, Linux process starts, Windows process
//! ends), ~36 % Windows process starts of ordinary binaries that match no pending
//! write, 2 % SMB writes (pid 4, `.exe`, MZ header) and 2 % their executions up to a
//! quarter batch later (3 in 4 unsigned: alert; 1 in 4 by a trusted signer:
//! suppressed, the write stays pending until the batch comes round again).
//!
//! Events carry ids, `event.sequence` and, for executables, a `sha256`.
//!
//! The detector is fed with `handle_ref(&event)`, reading the events where they lie
//! as the baselines do (and as `handle(event)` does with an event a decoder has just
//! built): `handle(*e)` would add a 200-byte copy of every pre-built event, out of
//! a 450 KB batch, that no real caller pays.
//!
//! Steady state: before measuring, each detector (and each baseline map) gets `n`
//! pending writes on distinct paths across the same hosts. The batches are fed in
//! turn; before each (untimed) its events are re-stamped, so that every host's clock
//! moves forward while the whole run spans far less than the 60 s maxspan (the
//! pre-filled writes never expire and the window stays at `n`: checked after each
//! bench), and warmed, so that events and strings are in cache as a decoder would
//! leave them, while the detector's tables are as cold as a real stream keeps them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use hashbrown::{Equivalent, HashMap};
use shareexec::{
    CodeSignature, Config, Detector, Event, EventTypes, FileEvent, Hashes, Origin, ProcessEvent,
    Rule, Semantics, Span, Timestamp,
};

/// Windows hosts (the pre-filled writes are spread over them).
const HOSTS: usize = 1_000;
/// Linux hosts (irrelevant events only).
const LINUX_HOSTS: usize = 100;
/// Events per timed batch: small enough that the events and their strings stay in
/// cache across the batch, as they would coming out of a decoder one by one.
const BATCH: usize = 2_048;
/// Distinct batches, fed in turn: the join keys probed vary over the run as in a real
/// stream (a single batch would probe the same few hundred table slots every time).
const BATCHES: usize = 64;
/// Event time between two consecutive events (a batch spans about 8 µs).
const STEP_NS: i64 = 4;
/// 2024-01-03T14:00:00Z: the pre-filled writes are at `T0 + i` ns.
const T0: i64 = 1_704_290_400_000_000_000;
/// Pending writes held during the run.
const SIZES: [(usize, &str); 3] = [(1_000, "1k"), (100_000, "100k"), (1_000_000, "1M")];
const MAXSPAN_NS: i64 = 60_000_000_000;
/// Rounds over all `BATCHES` measured in the instruction-count mode.
const COUNT_ROUNDS: usize = 2;

/// Deterministic SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn uuid(n: u64) -> String {
    let mut r = Rng(n.wrapping_mul(0x2545_f491_4f6c_dd1d));
    let (a, b) = (r.next(), r.next());
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// A made-up `sha256`: 64 hex digits.
fn sha256(n: u64) -> String {
    let mut r = Rng(n);
    (0..4).map(|_| format!("{:016x}", r.next())).collect()
}

/// One event, owned; `event()` borrows it.
struct Spec {
    file: bool,
    /// Index into `Corpus::hosts` (Windows hosts first, then Linux ones).
    host: u32,
    os: &'static str,
    types: EventTypes,
    pid: i64,
    path: String,
    ext: Option<&'static str>,
    header: Option<&'static str>,
    id: String,
    seq: u64,
    sig: CodeSignature<'static>,
    /// `file.hash.sha256` / `process.hash.sha256`; empty for none.
    sha256: String,
}

impl Spec {
    fn event<'a>(&'a self, hosts: &'a [String], position: u64) -> Event<'a> {
        // Timestamps are set by `restamp` before every batch.
        let origin = Origin {
            timestamp: Timestamp(0),
            sequence: Some(self.seq),
            id: Some(&self.id),
            position,
        };
        let host_id = Some(hosts[self.host as usize].as_str());
        let hash = Hashes {
            sha256: (!self.sha256.is_empty()).then_some(self.sha256.as_str()),
            ..Default::default()
        };
        if self.file {
            Event::File(FileEvent {
                origin,
                host_id,
                os_type: Some(self.os),
                types: self.types,
                pid: Some(self.pid),
                path: Some(&self.path),
                extension: self.ext,
                header_bytes: self.header,
                hash,
            })
        } else {
            Event::Process(ProcessEvent {
                origin,
                host_id,
                os_type: Some(self.os),
                types: self.types,
                executable: Some(&self.path),
                pid: Some(self.pid),
                code_signature: self.sig,
                hash,
            })
        }
    }
}

const MZ: &str = "4d5a90000300000004000000ffff0000";
const MICROSOFT: CodeSignature<'static> = CodeSignature {
    exists: Some(true),
    trusted: Some(true),
    subject_name: Some("Microsoft Windows"),
    status: Some("trusted"),
};
/// In the rule's own trust list, so both semantics suppress.
const TRUSTED_VENDOR: CodeSignature<'static> = CodeSignature {
    exists: Some(true),
    trusted: Some(true),
    subject_name: Some("Microsoft Windows Hardware Compatibility Publisher"),
    status: Some("trusted"),
};

/// The strings every event borrows.
struct Corpus {
    hosts: Vec<String>,
    specs: Vec<Spec>,
}

impl Corpus {
    fn new() -> Corpus {
        let hosts: Vec<String> = (0..(HOSTS + LINUX_HOSTS) as u64).map(uuid).collect();
        let mut rng = Rng(42);
        let mut seq = vec![0u64; HOSTS + LINUX_HOSTS];
        let mut next_seq = |h: usize| {
            seq[h] += 1;
            seq[h]
        };
        let binaries: Vec<String> = [
            "C:\\Windows\\System32\\svchost.exe",
            "C:\\Windows\\System32\\conhost.exe",
            "C:\\Windows\\System32\\RuntimeBroker.exe",
            "C:\\Windows\\System32\\taskhostw.exe",
            "C:\\Windows\\System32\\backgroundTaskHost.exe",
            "C:\\Windows\\System32\\cmd.exe",
            "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
            "C:\\Windows\\System32\\SearchProtocolHost.exe",
            "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
            "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain((0..290).map(|k| {
            format!(
                "C:\\Program Files\\Vendor{:03}\\bin\\agent{}.exe",
                k / 3,
                k % 3
            )
        }))
        .collect();

        let linux_host = |rng: &mut Rng| (HOSTS + rng.below(LINUX_HOSTS)) as u32;
        let mut specs = Vec::with_capacity(BATCH * BATCHES);
        for b in 0..BATCHES {
            let mut slots: Vec<Option<Spec>> = (0..BATCH).map(|_| None).collect();
            // 2 % writes, each followed by its execution up to a quarter batch later.
            let pairs = BATCH / 50;
            for j in 0..pairs {
                let h = rng.below(HOSTS);
                let path = format!("C:\\Windows\\PSEXESVC-{:05}.exe", b * pairs + j);
                let mut w = rng.below(BATCH * 3 / 4);
                while slots[w].is_some() {
                    w += 1;
                }
                let mut x = w + 1 + rng.below(BATCH / 4);
                while x < BATCH && slots[x].is_some() {
                    x += 1;
                }
                if x >= BATCH {
                    continue;
                }
                slots[w] = Some(Spec {
                    file: true,
                    host: h as u32,
                    os: "windows",
                    types: EventTypes::CREATION,
                    pid: 4,
                    path: path.clone(),
                    ext: Some("exe"),
                    header: Some(MZ),
                    id: String::new(),
                    seq: 0,
                    sig: CodeSignature::default(),
                    sha256: String::new(),
                });
                slots[x] = Some(Spec {
                    file: false,
                    host: h as u32,
                    os: "windows",
                    types: EventTypes::START,
                    pid: 7000 + j as i64,
                    path,
                    ext: None,
                    header: None,
                    id: String::new(),
                    seq: 0,
                    sig: if j % 4 == 3 {
                        TRUSTED_VENDOR
                    } else {
                        CodeSignature::default()
                    },
                    sha256: String::new(),
                });
            }
            for (i, slot) in slots.into_iter().enumerate() {
                let mut spec = slot.unwrap_or_else(|| {
                    let h = rng.below(HOSTS) as u32;
                    let r = rng.below(96);
                    let blank = |file, host, os, types, pid, path: String| Spec {
                        file,
                        host,
                        os,
                        types,
                        pid,
                        path,
                        ext: None,
                        header: None,
                        id: String::new(),
                        seq: 0,
                        sig: CodeSignature::default(),
                        sha256: String::new(),
                    };
                    match r {
                        // Windows file events by other processes.
                        0..=29 => {
                            let ext = *rng.pick(&["dll", "tmp", "log", "exe", "pf", "dat"]);
                            let mut s = blank(
                                true,
                                h,
                                "windows",
                                *rng.pick(&[EventTypes::CREATION, EventTypes::CHANGE]),
                                *rng.pick(&[1_234, 888, 4_242, 5_120, 612]),
                                format!(
                                    "C:\\Users\\user{}\\AppData\\Local\\Temp\\f{}.{ext}",
                                    h % 50,
                                    rng.below(10_000)
                                ),
                            );
                            s.ext = Some(ext);
                            s.header = (ext == "exe" || ext == "dll").then_some(MZ);
                            s
                        }
                        // Deletions by the System process.
                        30..=34 => {
                            let mut s = blank(
                                true,
                                h,
                                "windows",
                                EventTypes::DELETION,
                                4,
                                format!("C:\\Windows\\Temp\\old{}.exe", rng.below(1_000)),
                            );
                            s.ext = Some("exe");
                            s
                        }
                        // Linux file events (pid 4 is a kernel thread there).
                        35..=42 => {
                            let mut s = blank(
                                true,
                                linux_host(&mut rng),
                                "linux",
                                EventTypes::CREATION,
                                *rng.pick(&[4, 1, 911]),
                                format!("/var/tmp/x{}.exe", rng.below(1_000)),
                            );
                            s.ext = Some("exe");
                            s
                        }
                        // Linux process starts.
                        43..=50 => blank(
                            false,
                            linux_host(&mut rng),
                            "linux",
                            EventTypes::START,
                            rng.below(60_000) as i64,
                            rng.pick(&["/usr/bin/bash", "/usr/sbin/sshd", "/usr/bin/python3"])
                                .to_string(),
                        ),
                        // Windows process ends.
                        51..=59 => {
                            let mut s = blank(
                                false,
                                h,
                                "windows",
                                EventTypes::END,
                                rng.below(60_000) as i64,
                                rng.pick(&binaries).clone(),
                            );
                            s.sig = MICROSOFT;
                            s
                        }
                        // Windows process starts that complete no sequence.
                        _ => {
                            let mut s = blank(
                                false,
                                h,
                                "windows",
                                EventTypes::START,
                                rng.below(60_000) as i64,
                                rng.pick(&binaries).clone(),
                            );
                            s.sig = MICROSOFT;
                            s
                        }
                    }
                });
                spec.seq = next_seq(spec.host as usize);
                spec.id = format!("ev-{:016x}", rng.next() ^ i as u64);
                // Executables carry their hash, as Elastic Defend reports it.
                if spec.os == "windows" && (!spec.file || spec.pid == 4) {
                    spec.sha256 =
                        sha256(spec.path.len() as u64 ^ (spec.host as u64) << 20 ^ i as u64);
                }
                specs.push(spec);
            }
        }
        Corpus { hosts, specs }
    }

    fn events(&self) -> Vec<Event<'_>> {
        self.specs
            .iter()
            .enumerate()
            .map(|(i, s)| s.event(&self.hosts, i as u64))
            .collect()
    }

    fn host_indices(&self) -> Vec<u32> {
        self.specs.iter().map(|s| s.host).collect()
    }

    fn prefill_path(i: usize) -> String {
        format!("C:\\Windows\\Temp\\staged\\{i:07}\\payload.exe")
    }

    fn prefill_id(i: usize) -> String {
        format!("pf-{i:016x}")
    }
}

/// Hands out the batches in turn, re-stamped with strictly increasing timestamps
/// and warmed (events and their strings read once), all untimed: as a decoder
/// would hand over each event, hot in cache.
struct Feed {
    next_ns: i64,
    batch: usize,
}

impl Feed {
    fn after_prefill(n: usize) -> Feed {
        Feed {
            next_ns: T0 + n as i64 + 1_000_000,
            batch: 0,
        }
    }

    /// The next batch and the index of its first event.
    fn next<'e, 'a>(&mut self, events: &'e mut [Event<'a>]) -> (usize, &'e [Event<'a>]) {
        let first = self.batch * BATCH;
        self.batch = (self.batch + 1) % BATCHES;
        let batch = &mut events[first..first + BATCH];
        for (i, e) in batch.iter_mut().enumerate() {
            let ts = Timestamp(self.next_ns + i as i64 * STEP_NS);
            match e {
                Event::File(f) => f.origin.timestamp = ts,
                Event::Process(p) => p.origin.timestamp = ts,
                _ => {}
            }
        }
        self.next_ns += BATCH as i64 * STEP_NS;
        let mut sum = 0u64;
        // One byte per 32 (and the last): every cache line of every string.
        let mut touch = |s: Option<&str>| {
            let b = s.unwrap_or("").as_bytes();
            for i in (0..b.len()).step_by(32).chain(b.len().checked_sub(1)) {
                sum = sum.wrapping_add(u64::from(b[i]));
            }
        };
        for e in batch.iter() {
            touch(e.origin().id);
            touch(e.host_id());
            match e {
                Event::File(f) => {
                    for s in [
                        f.os_type,
                        f.path,
                        f.extension,
                        f.header_bytes,
                        f.hash.sha256,
                    ] {
                        touch(s);
                    }
                }
                Event::Process(p) => {
                    let sig = &p.code_signature;
                    for s in [
                        p.os_type,
                        p.executable,
                        sig.subject_name,
                        sig.status,
                        p.hash.sha256,
                    ] {
                        touch(s);
                    }
                }
                _ => {}
            }
        }
        black_box(sum);
        (first, batch)
    }

    /// Event time elapsed since the pre-filled writes.
    fn elapsed(&self) -> Span {
        Span(self.next_ns - T0)
    }
}

fn prefilled(semantics: Semantics, corpus: &Corpus, n: usize) -> Detector {
    let config = Config::default()
        .with_max_pending(n + 100_000)
        .with_max_pending_per_host(n / HOSTS + 10_000)
        .with_max_pending_bytes(1 << 34)
        .with_hash_seed(Some(0x5eed));
    let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).expect("valid config");
    for i in 0..n {
        let (path, id) = (Corpus::prefill_path(i), Corpus::prefill_id(i));
        d.handle(Event::File(FileEvent {
            origin: Origin {
                timestamp: Timestamp(T0 + i as i64),
                sequence: None,
                id: Some(&id),
                position: 0,
            },
            host_id: Some(&corpus.hosts[i % HOSTS]),
            os_type: Some("windows"),
            types: EventTypes::CREATION,
            pid: Some(4),
            path: Some(&path),
            extension: Some("exe"),
            header_bytes: Some(MZ),
            hash: Hashes {
                sha256: Some(&sha256(i as u64)),
                ..Default::default()
            },
        }));
        d.drain_verdicts().for_each(drop);
    }
    d.flush();
    d.drain_verdicts().for_each(drop);
    assert_eq!(d.stats().pending, n as u64);
    d
}

/// A borrowed `(host, path)` that looks up `(u32, Box<str>)` keys.
struct Key<'a>(u32, &'a str);

impl Hash for Key<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Exactly as the tuple `(u32, Box<str>)` hashes.
        self.0.hash(h);
        self.1.hash(h);
    }
}

impl Equivalent<(u32, Box<str>)> for Key<'_> {
    fn equivalent(&self, key: &(u32, Box<str>)) -> bool {
        self.0 == key.0 && self.1 == &*key.1
    }
}

/// The bare loop: the rule's predicates written by hand, one map lookup per
/// candidate, host ids already interned (the indices are prepared outside the loop).
struct Baseline {
    pending: HashMap<(u32, Box<str>), i64, foldhash::fast::RandomState>,
    /// `host.id` to index, for the variant that interns hosts as the detector must.
    host_ids: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
}

impl Baseline {
    fn prefilled(n: usize, hosts: &[String]) -> Baseline {
        let mut pending = HashMap::with_hasher(foldhash::fast::RandomState::default());
        for i in 0..n {
            pending.insert(
                ((i % HOSTS) as u32, Corpus::prefill_path(i).into_boxed_str()),
                T0 + i as i64,
            );
        }
        let mut host_ids = HashMap::with_hasher(foldhash::fast::RandomState::default());
        for (i, h) in hosts.iter().take(HOSTS).enumerate() {
            host_ids.insert(h.as_str().into(), i as u32);
        }
        Baseline { pending, host_ids }
    }

    #[inline]
    fn is_write(f: &FileEvent<'_>) -> bool {
        f.os_type == Some("windows")
            && f.types
                .intersects(EventTypes::CREATION | EventTypes::CHANGE)
            && f.pid == Some(4)
            && (f.extension.is_some_and(|e| {
                ["exe", "scr", "pif", "com"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            }) || f
                .header_bytes
                .is_some_and(|h| h.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("4d5a"))))
    }

    #[inline]
    fn is_execution(p: &ProcessEvent<'_>) -> bool {
        p.os_type == Some("windows") && p.types.intersects(EventTypes::START)
    }

    /// Host indices prepared outside the loop: one map lookup per candidate.
    fn run(&mut self, events: &[Event<'_>], hosts: &[u32]) -> u64 {
        Self::join(&mut self.pending, events, |i, _| Some(hosts[i]))
    }

    /// Host ids interned in the loop: two map lookups per candidate.
    fn run_interning(&mut self, events: &[Event<'_>]) -> u64 {
        let ids = &mut self.host_ids;
        Self::join(&mut self.pending, events, |_, id| {
            let id = id?;
            if let Some(&h) = ids.get(id) {
                return Some(h);
            }
            let h = ids.len() as u32;
            ids.insert(id.into(), h);
            Some(h)
        })
    }

    #[inline(always)]
    fn join(
        pending: &mut HashMap<(u32, Box<str>), i64, foldhash::fast::RandomState>,
        events: &[Event<'_>],
        mut host: impl FnMut(usize, Option<&str>) -> Option<u32>,
    ) -> u64 {
        let mut alerts = 0;
        for (i, e) in events.iter().enumerate() {
            match e {
                Event::File(f) => {
                    if !Self::is_write(f) {
                        continue;
                    }
                    if let (Some(h), Some(path)) = (host(i, f.host_id), f.path) {
                        pending.insert((h, Box::from(path)), f.origin.timestamp.0);
                    }
                }
                Event::Process(p) => {
                    if !Self::is_execution(p) {
                        continue;
                    }
                    if let (Some(h), Some(exe)) = (host(i, p.host_id), p.executable) {
                        let key = Key(h, exe);
                        if let Some(&w) = pending.get(&key)
                            && p.origin.timestamp.0 - w <= MAXSPAN_NS
                        {
                            pending.remove(&key);
                            alerts += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        alerts
    }
}

/// A borrowed `(host.id, path)` that looks up `(Box<str>, Box<str>)` keys.
struct StrKey<'a>(&'a str, &'a str);

impl Hash for StrKey<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // Exactly as the tuple `(Box<str>, Box<str>)` hashes.
        self.0.hash(h);
        self.1.hash(h);
    }
}

impl Equivalent<(Box<str>, Box<str>)> for StrKey<'_> {
    fn equivalent(&self, key: &(Box<str>, Box<str>)) -> bool {
        self.1 == &*key.1 && self.0 == &*key.0
    }
}

/// The issue's bare loop: the predicate plus ONE `hashbrown`/`foldhash` lookup per
/// candidate, keyed by the `(host.id, path)` strings the event carries (no host
/// interning, no precomputed index).
struct BareLoop {
    pending: HashMap<(Box<str>, Box<str>), i64, foldhash::fast::RandomState>,
}

impl BareLoop {
    fn prefilled(n: usize, hosts: &[String]) -> BareLoop {
        let mut pending = HashMap::with_hasher(foldhash::fast::RandomState::default());
        for i in 0..n {
            pending.insert(
                (
                    hosts[i % HOSTS].as_str().into(),
                    Corpus::prefill_path(i).into_boxed_str(),
                ),
                T0 + i as i64,
            );
        }
        BareLoop { pending }
    }

    fn run(&mut self, events: &[Event<'_>]) -> u64 {
        let pending = &mut self.pending;
        let mut alerts = 0;
        for e in events {
            match e {
                Event::File(f) => {
                    if !Baseline::is_write(f) {
                        continue;
                    }
                    if let (Some(h), Some(path)) = (f.host_id, f.path) {
                        pending.insert((Box::from(h), Box::from(path)), f.origin.timestamp.0);
                    }
                }
                Event::Process(p) => {
                    if !Baseline::is_execution(p) {
                        continue;
                    }
                    if let (Some(h), Some(exe)) = (p.host_id, p.executable) {
                        let key = StrKey(h, exe);
                        if let Some(&w) = pending.get(&key)
                            && p.origin.timestamp.0 - w <= MAXSPAN_NS
                        {
                            pending.remove(&key);
                            alerts += 1;
                        }
                    }
                }
                _ => {}
            }
        }
        alerts
    }
}

/// The baselines, in the order the ratio line names them.
const BASELINES: [&str; 3] = ["bare_loop", "baseline", "baseline_interning"];

/// Time and batches measured per bench of a group, for the ratio line.
#[derive(Default)]
struct Tally(RefCell<BTreeMap<&'static str, (Duration, u64)>>);

impl Tally {
    fn add(&self, name: &'static str, time: Duration, batches: u64) {
        let mut t = self.0.borrow_mut();
        let e = t.entry(name).or_default();
        e.0 += time;
        e.1 += batches;
    }

    /// `group: elasticsearch 0.80x bare_loop, 0.42x baseline, 0.71x baseline_interning;
    /// hardened …`
    /// (throughput ratios: > 1 is faster than the baseline).
    fn report(&self, group: &str) {
        let t = self.0.borrow();
        let per_batch = |name| {
            t.get(name)
                .filter(|(_, n)| *n > 0)
                .map(|(d, n)| d.as_secs_f64() / *n as f64)
        };
        let mut line = String::new();
        for detector in ["elasticsearch", "hardened"] {
            let Some(time) = per_batch(detector) else {
                continue;
            };
            let ratios: Vec<String> = BASELINES
                .iter()
                .filter_map(|b| per_batch(b).map(|base| format!("{:.2}x {b}", base / time)))
                .collect();
            if !ratios.is_empty() {
                line += &format!(
                    "{}{detector} {}",
                    if line.is_empty() { "" } else { "; " },
                    ratios.join(", ")
                );
            }
        }
        if !line.is_empty() {
            println!("{group}: {line}");
        }
    }
}

fn bench(c: &mut Criterion) {
    let corpus = Corpus::new();
    let mut events = corpus.events();
    let hosts = corpus.host_indices();

    for (n, label) in SIZES {
        let tally = Tally::default();
        let mut group = c.benchmark_group(format!("pending_{label}"));
        group
            .throughput(Throughput::Elements(BATCH as u64))
            .sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));

        {
            let mut bare: Option<BareLoop> = None;
            let mut feed = Feed::after_prefill(n);
            group.bench_function("bare_loop", |b| {
                let bare = bare.get_or_insert_with(|| BareLoop::prefilled(n, &corpus.hosts));
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (_, batch) = feed.next(&mut events);
                        let start = Instant::now();
                        black_box(bare.run(black_box(batch)));
                        total += start.elapsed();
                    }
                    tally.add("bare_loop", total, iters);
                    total
                })
            });
            assert!(bare.is_none_or(|b| b.pending.len() >= n));
        }

        for interning in [false, true] {
            // Filled on first use, so that benches left out by a filter cost nothing.
            let mut base: Option<Baseline> = None;
            let mut feed = Feed::after_prefill(n);
            let name = if interning {
                "baseline_interning"
            } else {
                "baseline"
            };
            group.bench_function(name, |b| {
                let base = base.get_or_insert_with(|| Baseline::prefilled(n, &corpus.hosts));
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (first, batch) = feed.next(&mut events);
                        let hosts = &hosts[first..first + BATCH];
                        let start = Instant::now();
                        black_box(if interning {
                            base.run_interning(black_box(batch))
                        } else {
                            base.run(black_box(batch), hosts)
                        });
                        total += start.elapsed();
                    }
                    tally.add(name, total, iters);
                    total
                })
            });
            assert!(base.is_none_or(|b| b.pending.len() >= n && b.host_ids.len() == HOSTS));
        }

        for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
            let mut d: Option<Detector> = None;
            let mut feed = Feed::after_prefill(n);
            group.bench_function(semantics.name(), |b| {
                let d = d.get_or_insert_with(|| prefilled(semantics, &corpus, n));
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let (_, batch) = feed.next(&mut events);
                        let start = Instant::now();
                        for e in black_box(batch) {
                            d.handle_ref(e);
                            for v in d.drain_verdicts() {
                                black_box(v);
                            }
                        }
                        total += start.elapsed();
                    }
                    tally.add(semantics.name(), total, iters);
                    total
                })
            });
            // The steady state held: nothing pre-filled expired or was evicted.
            let Some(st) = d.map(|d| d.stats()) else {
                continue;
            };
            assert!(
                feed.elapsed() < Span(MAXSPAN_NS),
                "the run outlived the maxspan: {}",
                feed.elapsed()
            );
            assert_eq!((st.expired, st.evicted, st.swept), (0, 0, 0), "{st:?}");
            assert!(
                st.pending >= n as u64 && st.alerts > 0 && st.suppressed > 0,
                "{st:?}"
            );
        }
        group.finish();
        tally.report(&format!("pending_{label}"));
    }
}

/// The variant the instruction-count mode runs.
enum Subject {
    Bare(BareLoop),
    Base(Baseline, Vec<u32>, bool),
    Detector(Box<Detector>),
}

impl Subject {
    fn run(&mut self, first: usize, batch: &[Event<'_>]) -> u64 {
        match self {
            Subject::Bare(b) => b.run(batch),
            Subject::Base(b, hosts, false) => b.run(batch, &hosts[first..first + BATCH]),
            Subject::Base(b, _, true) => b.run_interning(batch),
            Subject::Detector(d) => {
                let mut verdicts = 0;
                for e in batch {
                    d.handle_ref(e);
                    for v in d.drain_verdicts() {
                        black_box(v);
                        verdicts += 1;
                    }
                }
                verdicts
            }
        }
    }
}

/// The only code callgrind counts (`--toggle-collect='*measured_batch*'`).
#[inline(never)]
fn measured_batch(subject: &mut Subject, first: usize, batch: &[Event<'_>]) -> u64 {
    subject.run(first, black_box(batch))
}

/// Instruction-count mode (see the header): no criterion, no timing.
fn count(name: &str) {
    let n: usize = std::env::var("SHAREEXEC_BENCH_PENDING")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let corpus = Corpus::new();
    let mut events = corpus.events();
    let mut subject = match name {
        "bare_loop" => Subject::Bare(BareLoop::prefilled(n, &corpus.hosts)),
        "baseline" | "baseline_interning" => Subject::Base(
            Baseline::prefilled(n, &corpus.hosts),
            corpus.host_indices(),
            name == "baseline_interning",
        ),
        "elasticsearch" => {
            Subject::Detector(Box::new(prefilled(Semantics::Elasticsearch, &corpus, n)))
        }
        "hardened" => Subject::Detector(Box::new(prefilled(Semantics::Hardened, &corpus, n))),
        other => panic!("SHAREEXEC_BENCH_COUNT: unknown variant {other:?}"),
    };
    let mut feed = Feed::after_prefill(n);
    let mut sum = 0;
    // Warm-up: every batch once, uncounted (tables reach their steady size).
    for _ in 0..BATCHES {
        let (first, batch) = feed.next(&mut events);
        sum += subject.run(first, batch);
    }
    for _ in 0..COUNT_ROUNDS * BATCHES {
        let (first, batch) = feed.next(&mut events);
        sum += measured_batch(&mut subject, first, batch);
    }
    assert!(feed.elapsed() < Span(MAXSPAN_NS));
    println!(
        "{name} at {n} pending: {} events measured ({sum} matches in all)",
        COUNT_ROUNDS * BATCHES * BATCH
    );
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(name) = std::env::var("SHAREEXEC_BENCH_COUNT") {
        count(&name);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
