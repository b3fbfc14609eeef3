//! The prefilter's claims (0–3 of `shareexec::input::Prefilter`) checked on one line
//! against the decoder, shared by the prefilter tests.

use shareexec::input::{Category, EcsRecord, Prefilter, Screen, lacks_rule_category};
use shareexec::{Event, Rule};

/// Claims 0–3 on one line, against the decoder: a line the byte search skips makes no
/// event of the rule's categories (0); a line the scanner accepts, the decoder accepts
/// with the same values (1); a skip is exact (2); a fast-path event is the full event
/// (3).
pub fn check_line(prefilter: &mut Prefilter, line: &[u8], rule: &Rule) {
    let decoded = EcsRecord::parse(line);
    if lacks_rule_category(line)
        && let Ok(record) = &decoded
    {
        assert_eq!(
            record.category(),
            Category::Other,
            "claim 0: {}",
            String::from_utf8_lossy(line)
        );
    }
    let Some(scanned) = prefilter.scan(line) else {
        return;
    };
    let record = decoded.unwrap_or_else(|e| {
        panic!(
            "claim 1: scanner accepted a line the decoder refuses ({e}): {}",
            String::from_utf8_lossy(line)
        )
    });
    let text = String::from_utf8_lossy(line);
    assert_eq!(scanned.timestamp, record.timestamp(), "{text}");
    assert_eq!(scanned.sequence, record.sequence(), "{text}");
    assert_eq!(scanned.category, record.category(), "{text}");
    assert_eq!(scanned.types, record.event_types(), "{text}");
    assert_eq!(scanned.host_id, record.host_id(), "{text}");
    assert_eq!(scanned.os_type, record.os_type(), "{text}");
    assert_eq!(scanned.executable, record.process_executable(), "{text}");
    if record.category().is_process() {
        let full = record.process_event(5).expect("a process event");
        assert_eq!(scanned.process_event(5), full, "claim 1: {text}");
    }
    if record.category().is_file() {
        let full = record.file_event(5).expect("a file event");
        assert_eq!(scanned.file_event(5), full, "claim 1: {text}");
    }
    let events: Vec<Event<'_>> = record.events(5).collect();
    match scanned.screen(rule, 5) {
        Screen::Skip { events: n } => {
            assert_eq!(usize::from(n), events.len(), "claim 2: {text}");
            for e in &events {
                match e {
                    Event::File(f) => assert!(!rule.is_write(f), "claim 2: {text}"),
                    Event::Process(p) => assert!(!rule.is_execution(p), "claim 2: {text}"),
                    _ => unreachable!(),
                }
            }
        }
        Screen::Execution(fast) => {
            let [Event::Process(full)] = events[..] else {
                panic!("claim 3: not one process event: {text}")
            };
            assert_eq!(fast, full, "claim 3: {text}");
            assert!(rule.is_execution(&full), "claim 3: {text}");
        }
        Screen::Write(fast) => {
            let [Event::File(full)] = events[..] else {
                panic!("claim 3: not one file event: {text}")
            };
            assert_eq!(fast, full, "claim 3: {text}");
        }
        Screen::Decode => {}
        other => panic!("a screen this check does not know: {other:?}"),
    }
}
