//! Snapshot decoding on arbitrary bytes: never panics; anything that restores
//! snapshots again to an image that restores to the same state.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use shareexec::{Config, Detector, Rule, Semantics};

fuzz_target!(|data: &[u8]| {
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        let rule = Arc::new(Rule::new(semantics));
        let config = Config::default().with_max_lateness(shareexec::Span::from_secs(30));
        let Ok(d) = Detector::restore(rule.clone(), config.clone(), data) else {
            continue;
        };
        let again = d
            .snapshot()
            .expect("a restored detector has no verdicts waiting");
        let d2 = Detector::restore(rule, config, &again).expect("a snapshot restores");
        assert_eq!(d.stats(), d2.stats());
        assert_eq!(d2.snapshot().unwrap(), again);
    }
});
