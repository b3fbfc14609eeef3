//! ECS line decoding on arbitrary bytes: never panics; whatever decodes feeds a
//! detector of each semantics without breaking its invariants.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use shareexec::input::decode_line;
use shareexec::{Config, Detector, Rule, Semantics, Verdict};

fuzz_target!(|data: &[u8]| {
    let Ok(Some(record)) = decode_line(data) else {
        return;
    };
    for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
        let mut d = Detector::new(
            Arc::new(Rule::new(semantics)),
            Config::default().with_hash_seed(Some(1)),
        )
        .unwrap();
        // The line twice: a write of its own path can only be followed by itself.
        for position in [1, 2] {
            for event in record.events(position) {
                d.handle(event);
            }
        }
        d.flush();
        for v in d.drain_verdicts() {
            if let Verdict::Alert(s) = v {
                assert!(s.write.timestamp <= s.execution.timestamp);
                assert!(s.write.position <= s.execution.position);
            }
        }
    }
});
