//! Adversarial review of the CLI's shared reader (`--threads N`: every screening
//! thread reads the input in turn, the detecting thread too while the batch it needs
//! is not ready): standard input delivered slowly, in pieces of a byte to a few
//! kilobytes with pauses between them, gives for every thread count from 0 to 8 the
//! same exit status, standard output and standard error (bad lines, summary,
//! `--stats` but its time, `--explain`), with and without a `--strict` stop.
#![cfg(all(feature = "cli", feature = "json"))]

mod support;

use std::io::Write;
use std::process::Output;
use std::time::Duration;

use support::observed;

/// Runs the binary with `args`, writing `input` to its standard input in pieces of
/// 1..=`max` bytes (pseudo-random), each after a pause of up to `pause_us`.
fn run_trickled(args: &[&str], input: &[u8], max: usize, pause_us: u64) -> Output {
    let (child, mut stdin) = support::spawn_piped(args, true);
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m.max(1)
        };
        let mut at = 0;
        while at < input.len() {
            let n = (1 + next(max as u64) as usize).min(input.len() - at);
            // A child that stopped early (`--strict`) closes its stdin: not a failure.
            if stdin.write_all(&input[at..at + n]).is_err() || stdin.flush().is_err() {
                return;
            }
            at += n;
            std::thread::sleep(Duration::from_micros(next(pause_us + 1)));
        }
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

#[test]
fn review_trickled_stdin_gives_the_same_output_for_every_thread_count() {
    let text = support::fixture("gen/defend-20k.ndjson.gz");
    // The first 2 500 lines: enough for batches read by every thread.
    let cut = support::line_end(&text, 2_499);
    let plain = &text[..=cut];
    let line_1800 = support::line_end(plain, 1_799);
    let mut bad = plain.to_vec();
    bad.splice(
        line_1800 + 1..line_1800 + 1,
        b"{\"@timestamp\": oops}\n".iter().copied(),
    );
    let cases: [(&[&str], &[u8], usize, u64); 3] = [
        (&[], plain, 4_000, 300),
        (&["--strict"], &bad, 4_000, 300),
        // A byte at a time for the first kilobytes' worth of reads.
        (&[], &plain[..40_000], 1, 0),
    ];
    for (extra, input, max, pause) in cases {
        let mut reference = None;
        for threads in 0..=8u16 {
            let threads_arg = threads.to_string();
            let mut args = vec![
                "--threads",
                &threads_arg,
                "--explain",
                "--stats",
                "--output-format",
                "json",
                "--no-progress",
            ];
            args.extend_from_slice(extra);
            let out = observed(run_trickled(&args, input, max, pause));
            match &reference {
                None => {
                    if extra.contains(&"--strict") {
                        assert_eq!(out.0, Some(2), "{}", out.2);
                        assert!(out.2.contains("-:1801 (line 1801)"), "{}", out.2);
                    } else {
                        assert_eq!(out.0, Some(0), "{}", out.2);
                    }
                    reference = Some(out);
                }
                Some(single) => assert!(
                    out == *single,
                    "--threads {threads} {extra:?} (pieces of 1..={max}) differs from \
                     --threads 0:\n{}\n---\n{}",
                    out.2,
                    single.2
                ),
            }
        }
    }
}
