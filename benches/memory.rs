//! Memory per pending write at 1 000 000 pending entries, both semantics: heap bytes
//! (a counting global allocator: exact and deterministic) and resident memory growth
//! (`/proc/self/statm`, Linux only: what the operating system actually charges,
//! allocator slack and page granularity included).
//!
//! Run with `cargo bench --bench memory`. The 1 000 000 writes are spread over 1 000
//! hosts with realistic paths, event ids and `sha256` hashes (which a pending write
//! carries into its alert). Everything the events borrow is built before the first
//! measurement, so the growth is the detector's alone; "beyond the strings" subtracts
//! the strings the entries must keep (path, id, hash), leaving the per-entry overhead
//! that `tests/alloc.rs` bounds (<= 100 bytes).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use shareexec::{
    Config, Detector, Event, EventTypes, FileEvent, Hashes, Origin, Rule, Semantics, Timestamp,
};

struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts live bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const ENTRIES: usize = 1_000_000;
const HOSTS: usize = 1_000;

/// Resident set size in bytes, if the platform says.
fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // The page size is 4 KiB on every Linux target this is run on; statm counts pages.
    Some(pages * 4096)
}

struct Strings {
    hosts: Vec<String>,
    paths: Vec<String>,
    ids: Vec<String>,
    hashes: Vec<String>,
}

impl Strings {
    fn new() -> Strings {
        Strings {
            hosts: (0..HOSTS)
                .map(|h| format!("{h:08x}-3b1c-4d2e-8f00-{:012x}", h * 7919))
                .collect(),
            paths: (0..ENTRIES)
                .map(|i| format!("C:\\Windows\\Temp\\staged\\{i:07}\\payload.exe"))
                .collect(),
            ids: (0..ENTRIES).map(|i| format!("ev-{i:016x}")).collect(),
            hashes: (0..ENTRIES)
                .map(|i| format!("{:064x}", (i as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15)))
                .collect(),
        }
    }

    /// The bytes a pending entry must keep whatever its layout.
    fn kept_bytes(&self) -> usize {
        [&self.paths, &self.ids, &self.hashes]
            .iter()
            .flat_map(|v| v.iter())
            .map(String::len)
            .sum()
    }
}

fn fill(semantics: Semantics, s: &Strings) -> (isize, Option<isize>, Detector) {
    let config = Config::default()
        .with_max_pending(ENTRIES)
        .with_max_pending_per_host(ENTRIES)
        .with_max_pending_bytes(1 << 34)
        .with_hash_seed(Some(0x5eed));
    let (heap0, rss0) = (LIVE_BYTES.load(Ordering::Relaxed), rss());
    let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).expect("valid config");
    for i in 0..ENTRIES {
        d.handle(Event::File(FileEvent {
            origin: Origin {
                timestamp: Timestamp(1_704_290_400_000_000_000 + i as i64),
                sequence: Some(i as u64),
                id: Some(&s.ids[i]),
                position: i as u64,
            },
            host_id: Some(&s.hosts[i % HOSTS]),
            os_type: Some("windows"),
            types: EventTypes::CREATION,
            pid: Some(4),
            path: Some(&s.paths[i]),
            extension: Some("exe"),
            header_bytes: None,
            hash: Hashes {
                sha256: Some(&s.hashes[i]),
                ..Hashes::default()
            },
        }));
    }
    d.flush();
    assert_eq!(d.stats().pending, ENTRIES as u64, "{:?}", d.stats());
    assert_eq!(d.drain_verdicts().count(), 0);
    let heap = LIVE_BYTES.load(Ordering::Relaxed) - heap0;
    let rss = rss0.zip(rss()).map(|(a, b)| b as isize - a as isize);
    (heap, rss, d)
}

/// Set in the child processes: each semantics is measured in a fresh process, since
/// memory a previous detector gave back would be reused without growing the RSS.
const CHILD: &str = "SHAREEXEC_MEMORY_BENCH_SEMANTICS";

fn main() {
    if let Ok(which) = std::env::var(CHILD) {
        let semantics = match which.as_str() {
            "elasticsearch" => Semantics::Elasticsearch,
            _ => Semantics::Hardened,
        };
        measure(semantics);
        return;
    }
    // `cargo bench` passes `--bench`; a filter that names neither this bench nor a
    // semantics skips it (as criterion benches do).
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    println!("memory at {ENTRIES} pending writes over {HOSTS} hosts");
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        if !wanted(&format!("memory/{}", semantics.name())) {
            continue;
        }
        let exe = std::env::current_exe().expect("own path");
        let status = std::process::Command::new(exe)
            .env(CHILD, semantics.name())
            .status()
            .expect("run the measurement");
        assert!(status.success(), "{status}");
    }
}

fn measure(semantics: Semantics) {
    let strings = Strings::new();
    let kept = strings.kept_bytes() as f64 / ENTRIES as f64;
    let (heap, rss, d) = fill(semantics, &strings);
    let per = |b: isize| b as f64 / ENTRIES as f64;
    print!(
        "memory/{:<14} heap {:>6.1} B/entry ({:>5.1} beyond the {kept:.0} bytes of strings it keeps)",
        semantics.name(),
        per(heap),
        per(heap) - kept
    );
    match rss {
        Some(r) => println!(
            "; RSS +{:.1} MiB = {:>6.1} B/entry ({:>5.1} beyond)",
            r as f64 / (1 << 20) as f64,
            per(r),
            per(r) - kept
        ),
        None => println!("; RSS not available on this platform"),
    }
    drop(d);
}
