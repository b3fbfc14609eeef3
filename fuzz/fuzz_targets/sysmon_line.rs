//! Sysmon line decoding on arbitrary bytes: never panics; decoded events are
//! well-formed (a process create is a start, a file event has a type; a missing
//! `TargetFilename` is a missing path, which never joins).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shareexec::input::{decode_sysmon_line, looks_like_sysmon};
use shareexec::{Event, EventTypes};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_sysmon(data);
    let Ok(Some(record)) = decode_sysmon_line(data) else {
        return;
    };
    for event in record.events(1) {
        match event {
            Event::Process(p) => assert!(p.types.intersects(EventTypes::START)),
            Event::File(f) => assert!(!f.types.is_empty(), "a Sysmon file event is typed"),
            _ => {}
        }
    }
});
