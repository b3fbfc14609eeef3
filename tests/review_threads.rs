//! Review of the screening threads (`Screener`, `feed_screened`, `feed_decoded`,
//! `shareexec --threads N`): adversarial inputs the other tests do not build.
//!
//! - `Decoded` reused line after line (as the CLI reuses one per batch slot) with
//!   hand-made tricky lines (byte-order marks, escaped and `\/` executables, blank and
//!   BOM-only lines, duplicate keys, two-category lines, bad JSON, non-UTF-8) gives
//!   exactly what `feed` gives, in every mode and semantics.
//! - The CLI gives the same output with 0 and 2 screening threads on such lines spread
//!   over a file, a gzipped file and standard input, with CRLF line ends and Sysmon
//!   look-alikes (the sniff says Sysmon, the line has no event id: read as ECS).
//! - A `Decoded` must not pin the buffer of a big line it decoded once.
#![cfg(all(feature = "cli", feature = "json"))]

mod counting;
mod support;

use support::observed;

use std::io::Write;
use std::sync::Arc;

use shareexec::input::{Decoded, EcsPipeline, Fed, PipelineStats, Prefiltering};
use shareexec::{Config, Detector, Rule, Semantics, Span};

#[global_allocator]
static GLOBAL: counting::Counting = counting::Counting;

fn live() -> isize {
    counting::live_bytes()
}

const BOM: &str = "\u{feff}";

/// A deterministic stream of tricky lines (a small LCG picks them).
fn tricky_lines(n: usize) -> Vec<Vec<u8>> {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |m: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    let paths = [
        r#""C:\\Windows\\x.exe""#,
        r#""C:\\Users\\a\\b.exe""#,
        // The same path as the first with `\/` escapes where a `/` stands.
        r#""C:/x.exe""#,
        r#""C:\/x.exe""#,
        r#""""#,
    ];
    let hosts = ["h1", "h2", "H1"];
    let mut out = Vec::with_capacity(n);
    let mut second = 0u64;
    for i in 0..n {
        second += next(3);
        let ts = format!(
            "2024-01-03T14:{:02}:{:02}.{:03}Z",
            second / 60 % 60,
            second % 60,
            next(1000)
        );
        let host = hosts[next(3) as usize];
        let path = paths[next(paths.len() as u64) as usize];
        let bom = if next(5) == 0 { BOM } else { "" };
        let write = |extra: &str| {
            format!(
                r#"{bom}{{"@timestamp":"{ts}","event":{{"category":"file","type":"creation"{extra}}},"host":{{"id":"{host}","os":{{"type":"windows"}}}},"process":{{"pid":4}},"file":{{"path":{path},"extension":"exe"}}}}"#
            )
        };
        let start = |extra: &str| {
            format!(
                r#"{bom}{{"@timestamp":"{ts}","event":{{"category":"process","type":"start"}},"host":{{"id":"{host}","os":{{"type":"windows"}}}},"process":{{"executable":{path},"pid":77}}{extra}}}"#
            )
        };
        let line = match next(16) {
            0 | 1 => write(""),
            2..=4 => start(""),
            // The sniff says Sysmon (a value "EventID"); no event id: read as ECS.
            5 => start(r#","tags":["EventID"]"#),
            6 => write(r#","action":"EventData""#),
            7 => ["", "   ", "\t", BOM, "\u{feff} "][next(5) as usize].to_string(),
            8 => [
                "{",
                "null",
                "[]",
                "{}",
                r#"{"@timestamp":"x"}"#,
                r#"{"process":1}"#,
            ][next(6) as usize]
                .to_string(),
            // Duplicate key: the walk gives up, the decoder decides.
            9 => start(r#","event":{"category":"network"}"#),
            10 => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":["file","process"],"type":["creation","start"]}},"host":{{"id":"{host}","os":{{"type":"windows"}}}},"process":{{"pid":4,"executable":{path}}},"file":{{"path":{path}}}}}"#
            ),
            11 => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":"network","type":"info"}},"pad":"{}"}}"#,
                "p".repeat(next(600) as usize)
            ),
            12 => start(&format!(r#","event.sequence":{i}"#)),
            // No host id.
            13 => start("").replace(&format!(r#""id":"{host}","#), ""),
            _ => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":"registry","type":"change"}},"host":{{"id":"{host}"}}}}"#
            ),
        };
        let mut bytes = line.into_bytes();
        if next(40) == 0 {
            bytes.extend_from_slice(b"\xff\xfe"); // not UTF-8
        }
        out.push(bytes);
    }
    out
}

#[derive(Debug, PartialEq)]
struct Outcome {
    fed: Vec<Result<Fed, String>>,
    verdicts: Vec<String>,
    stats: PipelineStats,
    snapshot: Vec<u8>,
}

/// Feeds `lines`: `batch` 0 with `feed`; otherwise in batches of `batch` lines, each
/// screened (and decoded, with `decode`) first into reused slots, as the CLI does.
fn feed_all(
    lines: &[Vec<u8>],
    semantics: Semantics,
    lateness: Span,
    mode: Prefiltering,
    batch: usize,
    decode: bool,
) -> Outcome {
    let config = Config::default()
        .with_max_lateness(lateness)
        .with_hash_seed(Some(3));
    let detector = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
    let mut pipeline = EcsPipeline::new(detector, mode);
    let mut screener = pipeline.screener();
    let mut slots: Vec<Decoded> = (0..batch).map(|_| Decoded::new()).collect();
    let mut outcome = Outcome {
        fed: Vec::new(),
        verdicts: Vec::new(),
        stats: PipelineStats::default(),
        snapshot: Vec::new(),
    };
    let mut position = 0u64;
    let chunk = batch.max(1);
    for part in lines.chunks(chunk) {
        let screenings: Vec<_> = if batch == 0 {
            Vec::new()
        } else {
            part.iter()
                .zip(slots.iter_mut())
                .map(|(line, slot)| {
                    if decode {
                        screener.screen_and_decode(line, slot)
                    } else {
                        screener.screen(line)
                    }
                })
                .collect()
        };
        for (n, line) in part.iter().enumerate() {
            position += 1;
            let result = match (screenings.get(n), decode) {
                (None, _) => pipeline.feed(line, position),
                (Some(s), false) => pipeline.feed_screened(line, position, s),
                (Some(s), true) => pipeline.feed_decoded(line, position, s, &slots[n]),
            };
            outcome.fed.push(result.map_err(|e| e.to_string()));
            while let Some(v) = pipeline.detector_mut().poll_verdict() {
                outcome.verdicts.push(format!("{v:?}"));
            }
        }
    }
    pipeline.detector_mut().flush();
    while let Some(v) = pipeline.detector_mut().poll_verdict() {
        outcome.verdicts.push(format!("{v:?}"));
    }
    outcome.stats = pipeline.stats();
    outcome.snapshot = pipeline.detector().snapshot().unwrap();
    outcome
}

#[test]
fn review_reused_decoded_slots_give_exactly_feed_on_tricky_lines() {
    let lines = tricky_lines(1500);
    let configs = [
        (Semantics::Hardened, Span::from_millis(10_000)),
        (Semantics::Elasticsearch, Span::ZERO),
        (Semantics::Elasticsearch, Span::from_millis(2_000)),
    ];
    for (semantics, lateness) in configs {
        for mode in [
            Prefiltering::Off,
            Prefiltering::Validating,
            Prefiltering::Fast,
        ] {
            let direct = feed_all(&lines, semantics, lateness, mode, 0, false);
            assert!(direct.verdicts.len() > 10, "{semantics:?} {mode:?}");
            if semantics == Semantics::Elasticsearch
                && lateness == Span::ZERO
                && mode != Prefiltering::Off
            {
                assert!(direct.stats.fast > 50, "the fast path is exercised");
            }
            for (batch, decode) in [(7, false), (7, true), (64, true)] {
                let other = feed_all(&lines, semantics, lateness, mode, batch, decode);
                assert!(
                    other == direct,
                    "{semantics:?} {lateness:?} {mode:?} batch {batch} decode {decode}: \
                     stats {:?} vs {:?}",
                    other.stats,
                    direct.stats
                );
            }
        }
    }
}

#[test]
fn review_cli_threads_equal_on_tricky_lines_over_file_gz_and_stdin() {
    let lines = tricky_lines(3000);
    // CRLF on some lines, and no newline at the very end.
    let mut text = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        text.extend_from_slice(line);
        text.extend_from_slice(if n % 3 == 0 { b"\r\n" } else { b"\n" });
    }
    text.pop();
    let cut = |k: usize| support::line_end(&text, k) + 1;
    let (a, b) = (cut(1000), cut(2000));
    assert!(text.len() - b > 64 << 10, "stdin spans several batches");
    let dir = std::env::temp_dir().join(format!("shareexec-review-threads-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("one.ndjson");
    let gz = dir.join("two.ndjson.gz");
    std::fs::write(&plain, &text[..a]).unwrap();
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(&text[a..b]).unwrap();
    std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
    // Standard input from a file: `support::shareexec` writes all of stdin before it
    // reads stdout, which deadlocks once the child's output fills the pipe.
    let stdin = dir.join("three.ndjson");
    std::fs::write(&stdin, &text[b..]).unwrap();
    let (plain, gz) = (
        plain.to_string_lossy().into_owned(),
        gz.to_string_lossy().into_owned(),
    );
    let configs: &[&[&str]] = &[
        &[],
        &["--prefilter", "on"],
        &[
            "--semantics",
            "elasticsearch",
            "--max-lateness",
            "0",
            "--prefilter",
            "on",
        ],
        &[
            "--semantics",
            "elasticsearch",
            "--max-lateness",
            "0",
            "--max-line-bytes",
            "400",
        ],
        &["--input-format", "sysmon"],
    ];
    for args in configs {
        let run = |threads: &str| {
            let mut all = vec!["--threads", threads, "--explain", "--stats"];
            all.extend_from_slice(&["--output-format", "json", "--no-progress"]);
            all.extend_from_slice(args);
            all.extend_from_slice(&[plain.as_str(), gz.as_str(), "-"]);
            let out = std::process::Command::new(support::BIN)
                .args(&all)
                .stdin(std::fs::File::open(&stdin).unwrap())
                .output()
                .unwrap();
            observed(out)
        };
        let single = run("0");
        assert_eq!(single.0, Some(0), "{args:?}: {}", single.2);
        let screened = run("2");
        assert!(
            screened == single,
            "--threads 2 {args:?} differs:\n{}\n---\n{}",
            screened.2,
            single.2
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `Decoded::clear` keeps every event buffer for the next line, whatever its size:
/// the CLI keeps one `Decoded` per slot of each of its `2 × threads + 1` batches, so a
/// big line decoded once in a slot stays pinned there, and slots accumulate them.
/// Measured with 40 lines of a 12 MiB `process.executable`, each after `i` short lines
/// (so it lands in another slot): 622 MB RSS with `--threads 1`, 94 MB with 0.
#[test]
fn review_decoded_does_not_pin_a_big_lines_buffer() {
    let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
    let pipeline = EcsPipeline::new(detector, Prefiltering::Validating);
    // Writes with a `\u` escape: lines a screening thread decodes in full (the scan
    // reads plain process starts and writes whole).
    let write = |name: &str| {
        format!(
            r#"{{"@timestamp":"2024-01-03T14:00:02Z","event":{{"category":"file","type":"creation"}},"host":{{"id":"h1","os":{{"type":"windows"}}}},"process":{{"pid":4}},"file":{{"path":"C:/{name}.exe","extension":"exe"}},"note":"\u0041"}}"#
        )
        .into_bytes()
    };
    let big = write(&"a".repeat(4 << 20));
    let small = write("x");
    let mut screener = pipeline.screener();
    let mut decoded = Decoded::new();
    // Warm up with the small line so the slot's steady state is counted before.
    let _ = screener.screen_and_decode(&small, &mut decoded);
    let before = live();
    let _ = screener.screen_and_decode(&big, &mut decoded);
    assert!(decoded.is_decoded());
    let _ = screener.screen_and_decode(&small, &mut decoded);
    assert!(decoded.is_decoded());
    let pinned = live() - before;
    assert!(
        pinned < 64 << 10,
        "after a small line, the Decoded still holds {pinned} more bytes than before the big one"
    );
}

/// `feed_decoded` checks only `decoded`'s line length, never the screening's: a pair
/// whose screening is of another line (of another length, which `feed_screened`
/// would notice and screen again) is trusted as soon as the decoded line has this
/// length. Here the decoded write (same length, other path) replaces the line's own
/// write: the alert `feed` gives is lost.
#[test]
fn review_feed_decoded_checks_the_screening_length_too() {
    let new = || {
        let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
        EcsPipeline::new(detector, Prefiltering::Validating)
    };
    // A `\u` escape makes the screening say "decode" (the scan reads plain writes
    // whole).
    let write = |path: &str| {
        format!(
            r#"{{"@timestamp":"2024-01-03T14:00:01Z","event":{{"category":"file","type":"creation"}},"host":{{"id":"h1","os":{{"type":"windows"}}}},"process":{{"pid":4}},"file":{{"path":"{path}","extension":"exe"}},"note":"\u0041"}}"#
        )
        .into_bytes()
    };
    let start = br#"{"@timestamp":"2024-01-03T14:00:02Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:/x.exe"}}"#;
    let (line, other, longer) = (write("C:/x.exe"), write("C:/y.exe"), write("C:/long.exe"));
    let mut direct = new();
    direct.feed(&line, 1).unwrap();
    direct.feed(start, 2).unwrap();
    direct.detector_mut().flush();
    assert!(
        direct
            .detector_mut()
            .poll_verdict()
            .is_some_and(|v| v.as_alert().is_some())
    );

    let mut misused = new();
    let mut screener = misused.screener();
    let mut decoded = Decoded::new();
    let _ = screener.screen_and_decode(&other, &mut decoded);
    let screening = screener.screen(&longer); // "decode", for a line of another length
    assert!(screening.is_decode() && decoded.is_decoded());
    misused
        .feed_decoded(&line, 1, &screening, &decoded)
        .unwrap();
    misused.feed(start, 2).unwrap();
    misused.detector_mut().flush();
    assert!(
        misused
            .detector_mut()
            .poll_verdict()
            .is_some_and(|v| v.as_alert().is_some()),
        "the write was replaced by another line's decode"
    );
}
