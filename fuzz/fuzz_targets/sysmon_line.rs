//! Sysmon line decoding on arbitrary bytes: never panics; decoded events are
//! well-formed (a process create is a start, a file event has a type; a missing
//! `TargetFilename` is a missing path, which never joins); decoding into a
//! `Decoded` (as the CLI's screening threads do) gives the same events or error; and
//! so does `decode_sysmon_events`, whose light pass builds no record of an event id
//! that makes no event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shareexec::input::{Decoded, decode_sysmon_events, decode_sysmon_line, looks_like_sysmon};
use shareexec::{Event, EventTypes};

fuzz_target!(|data: &[u8]| {
    let _ = looks_like_sysmon(data);
    let here = decode_sysmon_line(data);
    let mut decoded = Decoded::new();
    let kept = decoded.decode_sysmon(data).map_err(Clone::clone);
    assert_eq!(kept, here.as_ref().map(drop).map_err(Clone::clone));
    let there: Result<Vec<Event<'_>>, _> = decoded
        .sysmon_events(data, 1)
        .expect("a decode is held")
        .map(Iterator::collect)
        .map_err(Clone::clone);
    let want: Result<Vec<Event<'_>>, _> = match &here {
        Ok(record) => Ok(record.iter().flat_map(|r| r.events(1)).collect()),
        Err(e) => Err(e.clone()),
    };
    assert_eq!(there, want);
    let light_record = decode_sysmon_events(data);
    let light: Result<Vec<Event<'_>>, _> = match &light_record {
        Ok(record) => Ok(record.iter().flat_map(|r| r.events(1)).collect()),
        Err(e) => Err(e.clone()),
    };
    assert_eq!(light, want);
    let Ok(Some(record)) = here else {
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
