//! The prefilter changes nothing: every fixture corpus through `EcsPipeline` with the
//! prefilter off, validating and fast, under four configurations, gives the same
//! verdicts in the same order, the same counters and the same detector state
//! (byte-identical snapshots), and the same errors on every line (validating) or on
//! every line that is not skipped (fast). Every line the scanner accepts
//! agrees with the decoder (claim 1 of `shareexec::input::Prefilter`), and every line
//! it skips makes no candidate (claims 0 and 2). Plus a property test over generated
//! and mutated lines.

use std::sync::Arc;

use proptest::prelude::*;
use shareexec::input::{Decoded, EcsPipeline, Fed, Prefilter, Prefiltering, Screening};
use shareexec::{Config, Detector, Rule, Semantics, Span};

mod support;
use support::prefilter::check_line;

fn configs() -> Vec<(Semantics, Span)> {
    vec![
        (Semantics::Elasticsearch, Span::ZERO),
        (Semantics::Hardened, Span::ZERO),
        (Semantics::Elasticsearch, Span::from_secs(10)),
        (Semantics::Hardened, Span::from_secs(10)),
    ]
}

#[derive(PartialEq)]
struct Outcome {
    verdicts: Vec<String>,
    /// Per line: how it was fed, and the error text if any.
    lines: Vec<(Fed, Option<String>)>,
    snapshot: Vec<u8>,
    stats: shareexec::Stats,
    fast: u64,
    skipped: u64,
    unvalidated: u64,
}

fn run(lines: &[&[u8]], semantics: Semantics, lateness: Span, mode: Prefiltering) -> Outcome {
    run_as(lines, semantics, lateness, mode, Feeding::Direct)
}

/// How `run_as` feeds the pipeline.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Feeding {
    /// `feed`.
    Direct,
    /// Every line screened on another thread by the pipeline's `Screener`, then
    /// `feed_screened`.
    Screened,
    /// The same with `screen_and_decode`, then `feed_decoded`.
    Decoded,
}

/// `run`, fed as `feeding` says.
fn run_as(
    lines: &[&[u8]],
    semantics: Semantics,
    lateness: Span,
    mode: Prefiltering,
    feeding: Feeding,
) -> Outcome {
    let config = Config::default()
        .with_max_lateness(lateness)
        .with_hash_seed(Some(7));
    let detector = Detector::new(Arc::new(Rule::new(semantics)), config).expect("config");
    let mut pipeline = EcsPipeline::new(detector, mode);
    let mut screener = pipeline.screener();
    let screenings: Vec<(Screening, Decoded)> = std::thread::scope(|s| {
        s.spawn(move || match feeding {
            Feeding::Direct => Vec::new(),
            Feeding::Screened => lines
                .iter()
                .map(|l| (screener.screen(l), Decoded::new()))
                .collect(),
            Feeding::Decoded => lines
                .iter()
                .map(|l| {
                    let mut decoded = Decoded::new();
                    (screener.screen_and_decode(l, &mut decoded), decoded)
                })
                .collect(),
        })
        .join()
        .expect("screening thread")
    });
    let mut verdicts = Vec::new();
    let mut fed = Vec::new();
    for (n, line) in lines.iter().enumerate() {
        let position = n as u64 + 1;
        let result = match (screenings.get(n), feeding) {
            (Some((screening, _)), Feeding::Screened) => {
                pipeline.feed_screened(line, position, screening)
            }
            (Some((screening, decoded)), _) => {
                pipeline.feed_decoded(line, position, screening, decoded)
            }
            (None, _) => pipeline.feed(line, position),
        };
        fed.push(match result {
            Ok(how) => (how, None),
            Err(e) => (Fed::Decoded, Some(e.to_string())),
        });
        verdicts.extend(
            pipeline
                .detector_mut()
                .drain_verdicts()
                .map(|v| format!("{v:?}")),
        );
    }
    pipeline.detector_mut().flush();
    verdicts.extend(
        pipeline
            .detector_mut()
            .drain_verdicts()
            .map(|v| format!("{v:?}")),
    );
    let stats = pipeline.stats();
    Outcome {
        verdicts,
        lines: fed,
        snapshot: pipeline.detector().snapshot().expect("snapshot"),
        stats: pipeline.detector().stats(),
        fast: stats.fast,
        skipped: stats.skipped,
        unvalidated: stats.unvalidated,
    }
}

#[test]
fn every_fixture_corpus_gives_the_same_results_with_the_prefilter_on_and_off() {
    let files = support::fixture_corpora();
    assert!(files.len() > 60, "fixtures found: {}", files.len());
    let (mut skipped, mut fast, mut total, mut skipped_invalid) = (0u64, 0u64, 0u64, 0u64);
    for path in &files {
        let text = support::read_maybe_gz(path);
        let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
        let name = path.display();
        for (c, (semantics, lateness)) in configs().into_iter().enumerate() {
            let off = run(&lines, semantics, lateness, Prefiltering::Off);
            // Screened (and decoded) ahead, on another thread, and fed with
            // `feed_screened` (`feed_decoded`): exactly `feed`, line by line, in every
            // mode. `feed_decoded` falls back to `feed_screened` on every line it has
            // no decode for, so it runs both; `feed_screened` alone in one config.
            let ahead = |mode, on: &Outcome| {
                let what = format!("{name} ({semantics:?}, lateness {lateness:?}, {mode:?})");
                let feedings: &[Feeding] = if c == 0 {
                    &[Feeding::Screened, Feeding::Decoded]
                } else {
                    &[Feeding::Decoded]
                };
                for &feeding in feedings {
                    let other = run_as(&lines, semantics, lateness, mode, feeding);
                    assert!(*on == other, "{feeding:?} differs from feed: {what}");
                }
            };
            ahead(Prefiltering::Off, &off);
            for mode in [Prefiltering::Validating, Prefiltering::Fast] {
                let on = run(&lines, semantics, lateness, mode);
                ahead(mode, &on);
                let what = format!("{name} ({semantics:?}, lateness {lateness:?}, {mode:?})");
                assert_eq!(off.verdicts, on.verdicts, "verdicts: {what}");
                assert_eq!(off.stats, on.stats, "stats: {what}");
                assert!(off.snapshot == on.snapshot, "detector state: {what}");
                for (n, ((how_off, err_off), (how_on, err_on))) in
                    off.lines.iter().zip(&on.lines).enumerate()
                {
                    match how_on {
                        Fed::Skipped if mode == Prefiltering::Fast => {
                            // Not validated: the only difference allowed, and counted.
                            if err_off.is_some() {
                                skipped_invalid += 1;
                            }
                        }
                        Fed::Skipped => {
                            assert_eq!(err_off, &None, "validated skip, line {}: {what}", n + 1)
                        }
                        _ => assert_eq!(
                            (err_off, how_off == &Fed::Blank),
                            (err_on, how_on == &Fed::Blank),
                            "line {}: {what}",
                            n + 1
                        ),
                    }
                }
                assert_eq!(off.skipped + off.fast, 0);
                if mode == Prefiltering::Validating {
                    assert_eq!(on.unvalidated, 0);
                }
                skipped += on.skipped;
                fast += on.fast;
                total += lines.len() as u64;
            }
        }
        let rules = [Rule::elasticsearch(), Rule::hardened()];
        let mut prefilter = Prefilter::new();
        for line in &lines {
            for rule in &rules {
                check_line(&mut prefilter, line, rule);
            }
        }
    }
    // The prefilter did work (not a test that cannot fail by doing nothing).
    assert!(skipped > total / 3, "skipped {skipped} of {total}");
    assert!(fast > 10_000, "fast path {fast}");
    eprintln!(
        "lines {total}, skipped {skipped}, fast {fast}, skipped lines the decoder refuses {skipped_invalid}"
    );
}

#[test]
fn the_fast_path_and_the_skips_count_as_the_full_path() {
    // A stream where sweeps and host scans matter: many hosts, small intervals.
    let mut text = String::new();
    for i in 0..4000u64 {
        let host = i % 37;
        let ts = 1_704_290_400_000u64 + i * 10 + if host == 3 { 0 } else { i };
        let line = match i % 5 {
            0 => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":"file","type":"creation"}},"host":{{"id":"h{host}","os":{{"type":"windows"}}}},"process":{{"pid":4}},"file":{{"path":"C:\\x{}.exe","extension":"exe"}}}}"#,
                i % 11
            ),
            1 | 2 => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":"process","type":"start","sequence":{i}}},"host":{{"id":"h{host}","os":{{"type":"windows"}}}},"process":{{"executable":"C:\\x{}.exe","pid":{i}}},"id":"e{i}"}}"#,
                i % 13
            ),
            3 => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":"process","type":"end"}},"host":{{"id":"h{host}","os":{{"type":"windows"}}}}}}"#
            ),
            _ => format!(
                r#"{{"@timestamp":"{ts}","event":{{"category":"network","type":"start"}},"host":{{"id":"h{host}"}}}}"#
            ),
        };
        text.push_str(&line);
        text.push('\n');
    }
    let lines: Vec<&[u8]> = text.lines().map(str::as_bytes).collect();
    for (semantics, lateness) in configs() {
        let config = |n| {
            Config::default()
                .with_max_lateness(lateness)
                .with_hash_seed(Some(1))
                .with_max_hosts(n)
                .with_sweep_interval(50)
        };
        let go = |mode: Prefiltering| {
            let rule = Arc::new(Rule::new(semantics));
            let mut p = EcsPipeline::new(Detector::new(rule, config(20)).unwrap(), mode);
            let mut out = Vec::new();
            for (n, l) in lines.iter().enumerate() {
                p.feed(l, n as u64).unwrap();
                out.extend(p.detector_mut().drain_verdicts().map(|v| format!("{v:?}")));
            }
            (out, p.detector().snapshot().unwrap(), p.stats())
        };
        let off = go(Prefiltering::Off);
        for mode in [Prefiltering::Validating, Prefiltering::Fast] {
            let on = go(mode);
            assert_eq!(off.0, on.0, "{semantics:?} {lateness:?} {mode:?}");
            assert!(off.1 == on.1, "state {semantics:?} {lateness:?} {mode:?}");
            assert!(on.2.skipped >= 1600, "{:?}", on.2);
            if semantics == Semantics::Elasticsearch && lateness == Span::ZERO {
                assert!(on.2.fast > 100, "{:?}", on.2);
            }
        }
    }
}

/// JSON lines built from the pieces the decoder treats specially.
fn line_strategy() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("event.category"),
        Just("event.type"),
        Just("event.sequence"),
        Just("host.id"),
        Just("host.os.type"),
        Just("process.executable"),
        Just("process.pid"),
        Just("process.code_signature.trusted"),
        Just("file.path"),
        Just("file.extension"),
        Just("_source.event.category"),
        Just("id"),
        Just("message"),
    ];
    let value = prop_oneof![
        Just(r#""process""#.to_string()),
        Just(r#""file""#.to_string()),
        Just(r#"["file","process"]"#.to_string()),
        Just(r#""start""#.to_string()),
        Just(r#"["creation","info"]"#.to_string()),
        Just(r#""change""#.to_string()),
        Just(r#""windows""#.to_string()),
        Just(r#""Windows""#.to_string()),
        Just(r#""C:\\a.exe""#.to_string()),
        Just(r#""proc\u0065ss""#.to_string()),
        Just("4".to_string()),
        Just("-0".to_string()),
        Just("4.5".to_string()),
        Just("1e2".to_string()),
        Just("null".to_string()),
        Just("true".to_string()),
        Just("[]".to_string()),
        Just(r#"{"a":"file"}"#.to_string()),
        Just(r#"[{"x":1}]"#.to_string()),
        "[a-z]{0,6}".prop_map(|s| format!("\"{s}\"")),
    ];
    let member = (key, value, prop::bool::ANY).prop_map(|(k, v, nested)| {
        let mut parts: Vec<&str> = k.split('.').collect();
        if nested && parts.len() > 1 {
            let last = parts.pop().unwrap_or_default();
            let mut s = String::new();
            for p in &parts {
                s.push_str(&format!("\"{p}\":{{"));
            }
            s.push_str(&format!("\"{last}\":{v}"));
            s.push_str(&"}".repeat(parts.len()));
            s
        } else {
            format!("\"{k}\":{v}")
        }
    });
    let ts = prop_oneof![
        Just(r#""@timestamp":"2024-01-03T14:00:00Z""#.to_string()),
        Just(r#""@timestamp":"1704290400000""#.to_string()),
        Just(r#""@timestamp":1704290400000"#.to_string()),
        Just(String::new()),
    ];
    (ts, prop::collection::vec(member, 0..7), " ?").prop_map(|(ts, members, ws)| {
        let mut all = members;
        if !ts.is_empty() {
            all.push(ts);
        }
        format!("{{{}}}", all.join(&format!(",{ws}")))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn generated_lines_satisfy_the_claims(line in line_strategy()) {
        let mut p = Prefilter::new();
        for rule in [Rule::elasticsearch(), Rule::hardened()] {
            check_line(&mut p, line.as_bytes(), &rule);
        }
    }

    #[test]
    fn mutated_lines_satisfy_the_claims(
        line in line_strategy(),
        at in any::<prop::sample::Index>(),
        byte in prop_oneof![Just(b'"'), Just(b'\\'), Just(b':'), Just(b','), Just(b' '),
            Just(b'{'), Just(b']'), Just(b'\t'), Just(0u8), Just(0xffu8), any::<u8>()],
        delete in prop::bool::ANY,
    ) {
        let mut bytes = line.into_bytes();
        let i = at.index(bytes.len() + 1);
        if delete && i < bytes.len() {
            bytes.remove(i);
        } else {
            bytes.insert(i, byte);
        }
        let mut p = Prefilter::new();
        for rule in [Rule::elasticsearch(), Rule::hardened()] {
            check_line(&mut p, &bytes, &rule);
        }
    }
}

#[test]
fn screenings_that_do_not_fit_are_not_trusted() {
    let new = |mode| {
        let detector =
            Detector::new(Arc::new(Rule::elasticsearch()), Config::default()).expect("config");
        EcsPipeline::new(detector, mode)
    };
    // An unvalidated skip (made by a fast screener) is not taken by a validating
    // pipeline: the bad line is reported, as `feed` reports it.
    let bad: &[u8] = br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"network"}"#;
    let skip = new(Prefiltering::Fast).screener().screen(bad);
    assert!(skip.is_skip());
    let mut validating = new(Prefiltering::Validating);
    let expected = validating.feed(bad, 1).map_err(|e| e.to_string());
    assert!(expected.is_err());
    assert_eq!(
        validating
            .feed_screened(bad, 2, &skip)
            .map_err(|e| e.to_string()),
        expected
    );
    let mut fast = new(Prefiltering::Fast);
    assert_eq!(fast.feed_screened(bad, 1, &skip).ok(), Some(Fed::Skipped));
    assert_eq!(fast.stats().unvalidated, 1);

    // Another line's screening (of another length) is screened again: the write and
    // its execution still meet.
    let write: &[u8] = br#"{"@timestamp":"2024-01-03T14:00:01Z","event":{"category":"file","type":"creation"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},"file":{"path":"C:\\x.exe","extension":"exe"}}"#;
    let start: &[u8] = br#"{"@timestamp":"2024-01-03T14:00:02Z","event":{"category":"process","type":"start"},"host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:\\x.exe"}}"#;
    let network: &[u8] = br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"network"}}"#;
    for mode in [Prefiltering::Validating, Prefiltering::Fast] {
        let mut pipeline = new(mode);
        let wrong = pipeline.screener().screen(network);
        assert!(wrong.is_skip());
        // Both screened again here: a write and a process start, each handed over
        // whole from the scan.
        assert_eq!(
            pipeline.feed_screened(write, 1, &wrong).ok(),
            Some(Fed::Fast)
        );
        assert_eq!(
            pipeline.feed_screened(start, 2, &wrong).ok(),
            Some(Fed::Fast)
        );
        let alert = pipeline.detector_mut().poll_verdict().expect("a verdict");
        assert!(alert.as_alert().is_some(), "{mode:?}: {alert:?}");
        assert_eq!(pipeline.stats().skipped, 0);
    }
}
