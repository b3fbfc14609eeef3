//! The timely cluster against one detector: real processes on localhost, the committed
//! 20 000-event corpus split round-robin so that every host's events are spread over
//! several input partitions (and so over several reading workers).

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shareexec::input::{decode_line, parse_rfc3339};
use shareexec::{Config, Detector, Rule, Semantics, Span, Timestamp, Verdict};
use shareexec_timely::corpus::{read_all, write_parts};

const BIN: &str = env!("CARGO_BIN_EXE_shareexec-timely");

fn corpus() -> Vec<u8> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gen/defend-20k.ndjson.gz");
    read_all(&path).unwrap()
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The alert ids one detector finds on the whole stream, in input order.
fn reference(text: &[u8], semantics: Semantics) -> Vec<String> {
    let config = Config::default().with_max_lateness(Span::from_secs(10));
    let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
    let mut ids = Vec::new();
    let mut take = |d: &mut Detector| {
        for v in d.drain_verdicts() {
            if let Verdict::Alert(s) = v {
                ids.push(s.id.to_string());
            }
        }
    };
    for (n, line) in text.split(|&b| b == b'\n').enumerate() {
        if let Some(record) = decode_line(line).unwrap() {
            for e in record.events(n as u64 + 1) {
                d.handle(e);
            }
        }
        take(&mut d);
    }
    d.flush();
    take(&mut d);
    assert_eq!(d.stats().late, 0, "the corpus is within the lateness");
    ids
}

/// `n` ports that were free a moment ago.
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

fn wait(mut children: Vec<Child>) {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut pending: Vec<usize> = (0..children.len()).collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for i in pending {
            match children[i].try_wait().unwrap() {
                Some(status) => {
                    if !status.success() {
                        children.iter_mut().for_each(|c| drop(c.kill()));
                        panic!("process {i} failed: {status}");
                    }
                }
                None => still.push(i),
            }
        }
        pending = still;
        if Instant::now() > deadline {
            children.iter_mut().for_each(|c| drop(c.kill()));
            panic!("the cluster did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `processes` x `threads` workers over `parts` with `extra` options; returns the
/// alert ids of all processes' outputs, each with its execution's timestamp.
fn cluster(
    dir: &Path,
    run: &str,
    processes: usize,
    threads: usize,
    parts: &[PathBuf],
    extra: &[String],
) -> Vec<(String, Timestamp)> {
    let hostfile = dir.join(format!("{run}-hosts.txt"));
    let hosts: String = free_ports(processes)
        .iter()
        .map(|p| format!("127.0.0.1:{p}\n"))
        .collect();
    std::fs::write(&hostfile, hosts).unwrap();
    // One output per process; one per worker (`{worker}`) when a single process has several.
    let per_worker = processes == 1 && threads > 1;
    let outputs: Vec<PathBuf> = (0..processes)
        .map(|p| match per_worker {
            true => dir.join(format!("{run}-alerts-w{{worker}}.ndjson")),
            false => dir.join(format!("{run}-alerts-p{p}.ndjson")),
        })
        .collect();
    let children = (0..processes)
        .map(|p| {
            let mut cmd = Command::new(BIN);
            cmd.args([
                "-n",
                &processes.to_string(),
                "-p",
                &p.to_string(),
                "-w",
                &threads.to_string(),
            ]);
            if processes > 1 {
                cmd.arg("-h").arg(&hostfile);
            }
            cmd.arg("-o").arg(&outputs[p]).args(extra).args(parts);
            cmd.stdin(Stdio::null()).spawn().unwrap()
        })
        .collect();
    wait(children);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{run}-alerts-")))
        })
        .collect();
    files.sort();
    let expected_files = if per_worker { threads } else { processes };
    assert_eq!(files.len(), expected_files, "{files:?}");
    let mut ids = Vec::new();
    for out in files {
        for line in std::fs::read_to_string(out).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["shareexec"]["verdict"], "alert");
            let exec = parse_rfc3339(v["events"][1]["@timestamp"].as_str().unwrap()).unwrap();
            ids.push((
                v["shareexec"]["alert_id"].as_str().unwrap().to_string(),
                exec,
            ));
        }
    }
    ids
}

/// Exactly the same alerts: none missing, none extra, no duplicates.
fn assert_same(got: &[String], expected: &[String]) {
    let got_set: BTreeSet<_> = got.iter().collect();
    let expected_set: BTreeSet<_> = expected.iter().collect();
    assert_eq!(expected_set.len(), expected.len());
    assert_eq!(got_set.len(), got.len(), "duplicate alerts");
    assert_eq!(
        got_set,
        expected_set,
        "missing: {:?}, extra: {:?}",
        expected_set.difference(&got_set),
        got_set.difference(&expected_set)
    );
}

/// Splits the corpus into `k` round-robin parts and checks that hosts really are spread.
fn parts(dir: &Path, text: &[u8], k: usize) -> Vec<PathBuf> {
    let paths = write_parts(text, 1, Span::ZERO, k, &dir.join("part")).unwrap();
    let mut parts_of_host: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    for (i, p) in paths.iter().enumerate() {
        for line in std::fs::read(p).unwrap().split(|&b| b == b'\n') {
            if let Some(host) = decode_line(line)
                .unwrap()
                .and_then(|r| r.host_id().map(String::from))
            {
                parts_of_host.entry(host).or_default().insert(i);
            }
        }
    }
    assert!(parts_of_host.len() > 20);
    assert!(
        parts_of_host.values().all(|p| p.len() == k),
        "every host in every part"
    );
    paths
}

#[test]
fn two_processes_of_two_workers_find_exactly_what_one_detector_finds() {
    let text = corpus();
    let expected = reference(&text, Semantics::Hardened);
    assert!(expected.len() >= 30);
    let dir = scratch("cluster");
    let parts = parts(&dir, &text, 4);
    let got: Vec<String> = cluster(&dir, "run", 2, 2, &parts, &[])
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_same(&got, &expected);
}

/// Stop the cluster at a frontier with its state saved, resume with another number of
/// workers (the state re-split by key group) and stop again only 7 s later (inside the
/// lateness, so lines held back at the first cut are held back again), resume on yet
/// another shape to the end: the alerts of the three runs together are exactly the
/// uninterrupted run's, and each run's alerts are the executions before its cut.
#[test]
fn checkpoints_and_rescaling_equal_the_uninterrupted_run() {
    let text = corpus();
    let expected = reference(&text, Semantics::Elasticsearch);
    let dir = scratch("checkpoint");
    let parts = parts(&dir, &text, 3);
    let (ck1, ck2) = (dir.join("ck1"), dir.join("ck2"));
    let (ck1, ck2) = (ck1.display().to_string(), ck2.display().to_string());
    let (cut1, cut2) = ("2024-01-03T14:00:29Z", "2024-01-03T14:00:36Z");
    let args = |more: &[&str]| -> Vec<String> {
        ["--semantics", "elasticsearch"]
            .iter()
            .chain(more)
            .map(|s| s.to_string())
            .collect()
    };
    let a = args(&["--checkpoint-dir", &ck1, "--stop-at", cut1]);
    let b = args(&[
        "--resume",
        &ck1,
        "--checkpoint-dir",
        &ck2,
        "--stop-at",
        cut2,
    ]);
    let c = args(&["--resume", &ck2]);
    let first = cluster(&dir, "a", 2, 2, &parts, &a);
    let second = cluster(&dir, "b", 1, 3, &parts, &b);
    let third = cluster(&dir, "c", 2, 1, &parts, &c);
    let t = |s: &str| parse_rfc3339(s).unwrap();
    for (run, from, to) in [
        (&first, Timestamp::MIN, t(cut1)),
        (&second, t(cut1), t(cut2)),
        (&third, t(cut2), Timestamp::MAX),
    ] {
        assert!(!run.is_empty(), "every run finds some");
        for (_, exec) in run {
            assert!(
                *exec >= from && *exec < to,
                "{exec:?} outside [{from:?}, {to:?})"
            );
        }
    }
    let all: Vec<String> = [first, second, third]
        .into_iter()
        .flatten()
        .map(|(id, _)| id)
        .collect();
    assert_same(&all, &expected);

    // A checkpoint only resumes the job it was made for.
    let status = Command::new(BIN)
        .args(["--resume", &ck2, "--key-groups", "64", "-o"])
        .arg(dir.join("x.ndjson"))
        .args(&parts)
        .args(["--semantics", "elasticsearch"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success());
}

/// Runs the binary with `args` (and a one-part corpus); it must end within a minute
/// (a hang is a failure, not a stuck CI): its exit code and standard error.
fn run_briefly(args: &[&str]) -> (Option<i32>, String) {
    let dir = scratch(&format!("briefly-{}", args.join("_").replace('/', "")));
    let input = dir.join("in.ndjson");
    std::fs::write(&input, &corpus()[..]).unwrap();
    let mut child = Command::new(BIN)
        .args(args)
        .arg("-o")
        .arg(dir.join("out.ndjson"))
        .arg(&input)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{args:?}: still running after a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    (status.code(), err)
}

/// Impossible cluster shapes and settings are refused at once with a clear message
/// (`-p` not below `-n` used to panic in timely's network thread and hang).
#[test]
fn bad_arguments_are_refused_at_once() {
    for (args, says) in [
        (&["-n", "2", "-p", "2"][..], "-p"),
        (&["-n", "0"][..], "-n"),
        (&["-w", "0"][..], "-w"),
        (&["--key-groups", "0"][..], "--key-groups"),
        (&["--epoch", "0"][..], "--epoch"),
        (&["--max-lateness", "9223372000s"][..], "--max-lateness"),
    ] {
        let (code, err) = run_briefly(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

/// A checkpoint problem names the directory: a missing or incomplete one to resume
/// from, and a checkpoint directory that already holds files (an older checkpoint's
/// state files would be merged into the new one's on resume).
#[test]
fn checkpoint_directory_errors_are_clear() {
    let dir = scratch("ckerr");
    let missing = dir.join("missing").display().to_string();
    let (code, err) = run_briefly(&["--resume", &missing]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&missing), "{err}");

    let used = dir.join("used");
    std::fs::create_dir_all(&used).unwrap();
    std::fs::write(used.join("state-w3-kg5.sxck"), b"old").unwrap();
    let used = used.display().to_string();
    let cut = ["--stop-at", "2024-01-03T14:00:30Z"];
    let (code, err) = run_briefly(&[&["--checkpoint-dir", &used][..], &cut].concat());
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains(&used) && err.contains("not empty"), "{err}");

    let (code, err) = run_briefly(&["--resume", &used]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&used), "{err}");
}

/// A process that fails (here: its input partition is missing) ends the whole
/// cluster: it exits 1 naming the file, and the other process, losing its peer,
/// exits nonzero too instead of waiting forever.
#[test]
fn a_failing_process_ends_the_cluster() {
    let dir = scratch("failing");
    let good = dir.join("good.ndjson");
    std::fs::write(&good, &corpus()[..]).unwrap();
    let missing = dir.join("missing.ndjson");
    let hostfile = dir.join("hosts.txt");
    let hosts: String = free_ports(2)
        .iter()
        .map(|p| format!("127.0.0.1:{p}\n"))
        .collect();
    std::fs::write(&hostfile, hosts).unwrap();
    let mut children: Vec<Child> = (0..2)
        .map(|p| {
            Command::new(BIN)
                .args(["-n", "2", "-p", &p.to_string(), "-h"])
                .arg(&hostfile)
                .arg("-o")
                .arg(dir.join(format!("out-{p}.ndjson")))
                // Partition 1 (missing) is read by worker 1, in process 1.
                .arg(&good)
                .arg(&missing)
                .env("RUST_BACKTRACE", "0")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut codes = [None, None];
    while codes.iter().any(Option::is_none) {
        for (child, code) in children.iter_mut().zip(&mut codes) {
            if code.is_none() {
                *code = child.try_wait().unwrap().map(|s| s.code());
            }
        }
        if Instant::now() > deadline {
            children.iter_mut().for_each(|c| drop(c.kill()));
            panic!("the cluster is still running: {codes:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut err = String::new();
    std::io::Read::read_to_string(&mut children[1].stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(codes[1], Some(Some(1)), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(
        codes[0].is_some_and(|c| c != Some(0)),
        "process 0: {codes:?}"
    );
}
