//! `shareexec --threads N`: screening lines on other threads changes nothing. Every
//! fixture corpus, in one run per configuration (so line numbers run across files and
//! batches span file ends), gives the same exit status, standard output and standard
//! error (bad lines, summary, `--stats` but its time) with 0, 1 and 3 screening
//! threads; so do standard input, `--strict` stops, over-long lines and `--state`.

mod support;

use std::path::Path;
use std::process::Output;

use support::{ROOT, observed, shareexec};

fn run(args: &[&str], files: &[String], threads: u16, stdin: Option<&[u8]>) -> Output {
    let threads = threads.to_string();
    let mut all: Vec<&str> = vec!["--threads", &threads, "--explain", "--stats"];
    all.extend_from_slice(&["--output-format", "json", "--no-progress"]);
    all.extend_from_slice(args);
    all.extend(files.iter().map(String::as_str));
    shareexec(&all, stdin)
}

#[test]
fn every_thread_count_gives_the_same_output_on_every_fixture() {
    let mut files: Vec<String> = support::fixture_corpora()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        // Minutes for the unoptimised binary; the library test covers it.
        .filter(|name| !name.contains("defend-100k"))
        .collect();
    // The oracle outputs (bad lines: no `@timestamp`) last, so that the over-long lines
    // of `--max-line-bytes` below are among the first 100 bad lines, which alone are
    // reported one by one.
    files.sort_by_key(|name| name.contains(".oracle"));
    assert!(files.len() > 55, "{}", files.len());
    let configs: &[&[&str]] = &[
        &[],
        &["--prefilter", "on"],
        &["--prefilter", "off"],
        &["--semantics", "elasticsearch", "--max-lateness", "0"],
        &[
            "--semantics",
            "elasticsearch",
            "--max-lateness",
            "0",
            "--prefilter",
            "on",
        ],
        &["--input-format", "ecs"],
        &["--input-format", "sysmon"],
        // Over-long lines among screened ones.
        &["--max-line-bytes", "1200"],
    ];
    for args in configs {
        let single = observed(run(args, &files, 0, None));
        assert_eq!(single.0, Some(0), "{args:?}: {}", single.2);
        // Sysmon-only reading refuses the ECS corpora (bad lines), so fewer verdicts.
        let floor = if args.contains(&"sysmon") { 1 } else { 100 };
        assert!(
            single.1.lines().count() >= floor,
            "{args:?}: verdicts expected"
        );
        if args.contains(&"--max-line-bytes") {
            assert!(
                single.2.contains("longer than --max-line-bytes"),
                "{args:?}"
            );
        }
        for threads in [1, 3] {
            let screened = observed(run(args, &files, threads, None));
            assert!(
                screened == single,
                "--threads {threads} {args:?} differs from --threads 0:\n{}\n---\n{}",
                screened.2,
                single.2
            );
        }
    }
}

#[test]
fn strict_stops_at_the_same_line_with_lines_in_flight() {
    // A bad line deep in a long input: batches after it are in flight when it stops.
    let mut text = support::read_maybe_gz(Path::new(&format!(
        "{ROOT}/tests/fixtures/gen/defend-20k.ndjson.gz"
    )));
    let cut = support::line_end(&text, 12_000);
    text.splice(
        cut + 1..cut + 1,
        b"{\"@timestamp\": oops}\n".iter().copied(),
    );
    let single = observed(run(&["--strict"], &["-".into()], 0, Some(&text)));
    assert_eq!(single.0, Some(2));
    assert!(single.2.contains("-:12002 (line 12002)"), "{}", single.2);
    for threads in [1, 3] {
        let screened = observed(run(&["--strict"], &["-".into()], threads, Some(&text)));
        assert!(screened == single, "--threads {threads}: {}", screened.2);
    }
}

#[test]
fn state_carried_over_is_the_same() {
    let dir = std::env::temp_dir().join(format!("shareexec-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = format!("{ROOT}/tests/fixtures/gen/defend-20k.ndjson.gz");
    let mut states = Vec::new();
    for threads in [0, 3] {
        let state = dir.join(format!("state-{threads}"));
        let state = state.to_string_lossy().into_owned();
        let out = observed(run(
            &["--state", &state],
            std::slice::from_ref(&file),
            threads,
            None,
        ));
        assert_eq!(out.0, Some(0), "{}", out.2);
        states.push((out, std::fs::read(&state).unwrap()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(states[0] == states[1], "state or output differs");
}

/// `--strict` ends the run at the bad line even while a screening thread waits for
/// more of an input that is still open (a pipe whose writer is silent): the run must
/// not wait for the writer. The writer here keeps its end open until the run is over
/// (or 20 s passed).
#[test]
fn strict_stop_does_not_wait_for_a_silent_pipe() {
    use std::io::Write;
    use std::time::{Duration, Instant};

    let text = support::read_maybe_gz(Path::new(&format!(
        "{ROOT}/tests/fixtures/gen/defend-20k.ndjson.gz"
    )));
    let mut head: Vec<u8> = text
        .split_inclusive(|&b| b == b'\n')
        .take(100)
        .flatten()
        .copied()
        .collect();
    head.extend_from_slice(b"not json\n");
    for threads in ["0", "1", "2", "3"] {
        let (mut child, mut stdin) = support::spawn_piped(
            &["--strict", "--threads", threads, "--no-progress", "-"],
            false,
        );
        stdin.write_all(&head).unwrap();
        stdin.flush().unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(20) {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(stdin);
        let status = status.unwrap_or_else(|| {
            child.kill().unwrap();
            panic!("--threads {threads}: still running 20 s after the bad line")
        });
        assert_eq!(status.code(), Some(2), "--threads {threads}");
    }
}
