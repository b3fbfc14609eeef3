//! The prefilter on arbitrary bytes: never panics, and changes nothing. The input is
//! NDJSON (its first byte picks the semantics and the lateness); it goes through an
//! `EcsPipeline` with the prefilter on and one with it off, which must end with the
//! same verdicts, the same detector state (snapshots) and the same errors on every
//! line not skipped; and each mode must give exactly the same when the lines are
//! screened and decoded ahead (`Screener::screen_and_decode`, `feed_decoded`). Each
//! line is also checked against the decoder: a line the byte
//! search skips makes no event; a line the scanner accepts is one the decoder accepts,
//! with the same fields; a skip makes no candidate; a fast-path event is the full
//! event.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use shareexec::input::{
    Category, Decoded, EcsPipeline, EcsRecord, Fed, Prefilter, Prefiltering, Screen,
    lacks_rule_category,
};
use shareexec::{Config, Detector, Event, Rule, Semantics, Span};

fn check_line(prefilter: &mut Prefilter, line: &[u8], rule: &Rule) {
    let decoded = EcsRecord::parse(line);
    if lacks_rule_category(line)
        && let Ok(record) = &decoded
    {
        assert_eq!(record.category(), Category::Other, "claim 0");
    }
    let Some(s) = prefilter.scan(line) else {
        return;
    };
    let record = decoded.expect("claim 1: the scanner accepted a line the decoder refuses");
    assert_eq!(s.timestamp, record.timestamp());
    assert_eq!(s.sequence, record.sequence());
    assert_eq!(s.category, record.category());
    assert_eq!(s.types, record.event_types());
    assert_eq!(s.host_id, record.host_id());
    assert_eq!(s.os_type, record.os_type());
    assert_eq!(s.executable, record.process_executable());
    if let Some(full) = record.process_event(3) {
        assert_eq!(s.process_event(3), full, "claim 1");
    }
    if let Some(full) = record.file_event(3) {
        assert_eq!(s.file_event(3), full, "claim 1");
    }
    let events: Vec<Event<'_>> = record.events(3).collect();
    match s.screen(rule, 3) {
        Screen::Skip { events: n } => {
            assert_eq!(usize::from(n), events.len(), "claim 2");
            for e in &events {
                match e {
                    Event::File(f) => assert!(!rule.is_write(f), "claim 2"),
                    Event::Process(p) => assert!(!rule.is_execution(p), "claim 2"),
                    _ => {}
                }
            }
        }
        Screen::Execution(fast) => {
            let [Event::Process(full)] = events[..] else {
                panic!("claim 3: not one process event")
            };
            assert_eq!(fast, full, "claim 3");
        }
        Screen::Write(fast) => {
            let [Event::File(full)] = events[..] else {
                panic!("claim 3: not one file event")
            };
            assert_eq!(fast, full, "claim 3");
        }
        Screen::Decode => {}
        other => panic!("a screen this target does not know: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, text)) = data.split_first() else {
        return;
    };
    let semantics = if mode & 1 == 0 {
        Semantics::Elasticsearch
    } else {
        Semantics::Hardened
    };
    let lateness = Span::from_millis(i64::from(mode >> 1) * 100);
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    // `ahead`: every line screened and decoded first by the pipeline's `Screener` (as
    // a screening thread running ahead would), then fed with `feed_decoded`.
    let run_as = |mode: Prefiltering, ahead: bool| {
        let config = Config::default()
            .with_hash_seed(Some(1))
            .with_max_lateness(lateness)
            .with_sweep_interval(4)
            .with_max_hosts(3);
        let detector = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
        let mut pipeline = EcsPipeline::new(detector, mode);
        let mut screener = pipeline.screener();
        let work: Vec<_> = if ahead {
            lines
                .iter()
                .map(|line| {
                    let mut decoded = Decoded::new();
                    (screener.screen_and_decode(line, &mut decoded), decoded)
                })
                .collect()
        } else {
            Vec::new()
        };
        let mut verdicts = Vec::new();
        let mut fed = Vec::new();
        for (n, line) in lines.iter().enumerate() {
            let result = match work.get(n) {
                Some((screening, decoded)) => {
                    pipeline.feed_decoded(line, n as u64, screening, decoded)
                }
                None => pipeline.feed(line, n as u64),
            };
            fed.push(result.map_err(|e| e.to_string()));
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
        (verdicts, fed, pipeline.detector().snapshot().unwrap(), stats)
    };
    let run = |mode: Prefiltering| {
        let direct = run_as(mode, false);
        assert!(direct == run_as(mode, true), "feed_decoded differs from feed");
        direct
    };
    let off = run(Prefiltering::Off);
    for mode in [Prefiltering::Validating, Prefiltering::Fast] {
        let on = run(mode);
        assert_eq!(off.0, on.0, "verdicts");
        assert!(off.2 == on.2, "detector state");
        for (a, b) in off.1.iter().zip(&on.1) {
            // Validating: the same errors on every line; fast: on lines not skipped.
            if mode == Prefiltering::Validating || b != &Ok(Fed::Skipped) {
                assert_eq!(a.as_ref().err(), b.as_ref().err(), "errors");
            }
        }
    }
    let mut prefilter = Prefilter::new();
    for line in &lines {
        check_line(&mut prefilter, line, &Rule::new(semantics));
    }
});
