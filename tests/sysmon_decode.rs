//! Decoding Sysmon JSON (winlogbeat, OTRF flat, evtx JSON) and `.evtx` files through the
//! public API, and running the detector on real and reconstructed recordings
//! (`tests/fixtures/sysmon/README.md` says where each fixture comes from).
#![cfg(feature = "json")]

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use serde_json::{Value, json};
use shareexec::input::{
    SysmonErrorKind, SysmonKind, SysmonRecord, TimestampError, decode_line, decode_sysmon_events,
    decode_sysmon_line, looks_like_sysmon, parse_rfc3339,
};
use shareexec::*;

mod support;
use support::fixture as read;

fn lines(bytes: &[u8]) -> impl Iterator<Item = (u64, &[u8])> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .map(|(n, l)| (n as u64 + 1, l))
}

#[track_caller]
fn ok(line: &str) -> SysmonRecord<'_> {
    match SysmonRecord::parse(line.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("{line}\n  -> {e}"),
    }
}

/// [`ok`] for a line built on the spot.
#[track_caller]
fn okf(line: String) -> SysmonRecord<'static> {
    ok(&line).into_owned()
}

#[track_caller]
fn err(line: &[u8]) -> shareexec::input::SysmonError {
    match SysmonRecord::parse(line) {
        Ok(r) => panic!("{} decoded as {r:?}", String::from_utf8_lossy(line)),
        Err(e) => e,
    }
}

#[track_caller]
fn wrong_field(line: &str) -> (&'static str, &'static str, &'static str) {
    match err(line.as_bytes()).kind {
        SysmonErrorKind::WrongType {
            field,
            expected,
            found,
        } => (field, expected, found),
        other => panic!("{line}: expected WrongType, got {other:?}"),
    }
}

fn ts(rfc3339: &str) -> Timestamp {
    parse_rfc3339(rfc3339).unwrap()
}

/// What a run of the detector said: (write, execution) positions of alerts.
#[derive(Debug, Default)]
struct Run {
    alerts: Vec<(u64, u64)>,
    suppressed: usize,
    late: usize,
    events: usize,
}

fn detector(rule: Rule) -> Detector {
    Detector::new(Arc::new(rule), Config::default().with_hash_seed(Some(7))).unwrap()
}

fn take(d: &mut Detector, run: &mut Run) {
    for v in d.drain_verdicts() {
        match v {
            Verdict::Alert(s) => run.alerts.push((s.write.position, s.execution.position)),
            Verdict::Suppressed(_) => run.suppressed += 1,
            Verdict::Late(_) => run.late += 1,
            _ => {}
        }
    }
}

/// Every line of a Sysmon NDJSON stream through the decoder and the detector; any
/// decoding error fails the test.
fn detect_sysmon(ndjson: &[u8], rule: Rule) -> Run {
    let mut d = detector(rule);
    let mut run = Run::default();
    for (n, line) in lines(ndjson) {
        let Some(record) = decode_sysmon_line(line).unwrap_or_else(|e| panic!("{}", e.at_line(n)))
        else {
            continue;
        };
        for event in record.events(n) {
            run.events += 1;
            d.handle(event);
        }
        take(&mut d, &mut run);
    }
    d.flush();
    take(&mut d, &mut run);
    run
}

fn detect_ecs(ndjson: &[u8], rule: Rule) -> Run {
    let mut d = detector(rule);
    let mut run = Run::default();
    for (n, line) in lines(ndjson) {
        let Some(record) = decode_line(line).unwrap_or_else(|e| panic!("{}", e.at_line(n))) else {
            continue;
        };
        for event in record.events(n) {
            run.events += 1;
            d.handle(event);
        }
        take(&mut d, &mut run);
    }
    d.flush();
    take(&mut d, &mut run);
    run
}

fn both_rules() -> [(&'static str, Rule); 2] {
    [
        ("elasticsearch", Rule::elasticsearch()),
        ("hardened", Rule::hardened()),
    ]
}

// ---------------------------------------------------------------------------------------
// The reconstructed PsExec true positive, in every shape
// ---------------------------------------------------------------------------------------

const TP_HOST: &str = "04246w-win10.threebeesco.com";
const TP_EXE: &str = r"C:\Windows\PSEXESVC.exe";
const TP_SHAPES: [&str; 3] = [
    "sysmon/psexec-tp.winlogbeat.ndjson",
    "sysmon/psexec-tp.otrf.ndjson",
    "sysmon/psexec-tp.evtx.ndjson",
];

/// The two events every shape must give, positions 1 and 2.
fn tp_events() -> [Event<'static>; 2] {
    let write = FileEvent {
        origin: Origin {
            timestamp: ts("2020-08-27T11:40:56.396Z"),
            sequence: None,
            id: Some("100001"),
            position: 1,
        },
        host_id: Some(TP_HOST),
        os_type: Some("windows"),
        types: EventTypes::CREATION,
        pid: Some(4),
        path: Some(TP_EXE),
        extension: Some("exe"),
        header_bytes: None,
        hash: Hashes::default(),
    };
    let exec = ProcessEvent {
        origin: Origin {
            timestamp: ts("2020-08-27T11:40:56.610Z"),
            sequence: None,
            id: Some("100002"),
            position: 2,
        },
        host_id: Some(TP_HOST),
        os_type: Some("windows"),
        types: EventTypes::START,
        executable: Some(TP_EXE),
        pid: None,
        code_signature: CodeSignature::default(),
        hash: Hashes::default(),
    };
    [Event::File(write), Event::Process(exec)]
}

#[test]
fn tp_every_shape_decodes_to_the_same_two_events() {
    for shape in TP_SHAPES {
        let bytes = read(shape);
        let mut events = Vec::new();
        let mut records = Vec::new();
        for (n, line) in lines(&bytes) {
            if let Some(r) = decode_sysmon_line(line).unwrap() {
                records.push(r.clone().into_owned());
                events.extend(
                    r.events(n)
                        .collect::<Vec<_>>()
                        .iter()
                        .map(|e| format!("{e:?}")),
                );
            }
        }
        let want: Vec<String> = tp_events().iter().map(|e| format!("{e:?}")).collect();
        assert_eq!(events, want, "{shape}");
        let [write, exec] = &records[..] else {
            panic!("{shape}: two records")
        };
        assert_eq!(write.kind(), SysmonKind::FileCreate, "{shape}");
        assert_eq!(write.event_id(), 11);
        assert_eq!(write.image(), Some("System"));
        assert_eq!(write.process_id(), Some(4), "{shape}");
        assert!(!write.pid_inferred());
        assert_eq!(write.host_name(), Some(TP_HOST), "{shape}");
        assert_eq!(
            write.channel(),
            Some("Microsoft-Windows-Sysmon/Operational")
        );
        assert_eq!(write.provider(), Some("Microsoft-Windows-Sysmon"));
        assert!(write.is_sysmon());
        assert_eq!(exec.kind(), SysmonKind::ProcessCreate);
        assert_eq!(exec.event_id(), 1);
        assert_eq!(exec.process_name(), Some("PSEXESVC.exe"));
        assert_eq!(exec.process_id(), None);
        assert!(exec.hashes().is_empty());
        assert!(
            lines(&bytes).all(|(_, l)| l.is_empty() || looks_like_sysmon(l)),
            "{shape}"
        );
    }
}

#[test]
fn tp_alerts_in_both_modes_in_every_shape() {
    for (mode, rule) in both_rules() {
        for shape in TP_SHAPES {
            let run = detect_sysmon(&read(shape), rule.clone());
            assert_eq!(run.alerts, [(1, 2)], "{shape}, {mode}");
            assert_eq!((run.suppressed, run.late, run.events), (0, 0, 2));
        }
        let defend = read("tp/psexec-defend.ndjson");
        let run = detect_ecs(&defend, rule.clone());
        assert_eq!(run.alerts, [(1, 2)], "defend, {mode}");
        assert!(lines(&defend).all(|(_, l)| l.is_empty() || !looks_like_sysmon(l)));
    }
}

#[test]
fn tp_alert_names_the_records() {
    let bytes = read("sysmon/psexec-tp.evtx.ndjson");
    let mut d = detector(Rule::elasticsearch());
    for (n, line) in lines(&bytes) {
        if let Some(r) = decode_sysmon_line(line).unwrap() {
            r.events(n).for_each(|e| d.handle(e));
        }
    }
    d.flush();
    let Some(Verdict::Alert(alert)) = d.poll_verdict() else {
        panic!("no alert")
    };
    assert_eq!(alert.host_id.as_ref(), TP_HOST);
    assert_eq!(alert.write.id.as_deref(), Some("100001"));
    assert_eq!(alert.execution.id.as_deref(), Some("100002"));
    assert_eq!(alert.span.as_nanos(), 214_000_000);
    assert_eq!(alert.code_signature, Signature::default());
}

/// A Sysmon write with its extension derived, against the same write with no extension
/// and no header: the derived extension is what lets Elasticsearch semantics match.
#[test]
fn derived_extension_is_what_elasticsearch_semantics_matches() {
    let bytes = read("sysmon/psexec-tp.otrf.ndjson");
    let text = String::from_utf8(bytes).unwrap();
    let renamed = text.replace("PSEXESVC.exe", "PSEXESVC");
    let run = detect_sysmon(renamed.as_bytes(), Rule::elasticsearch());
    assert!(
        run.alerts.is_empty(),
        "no extension, no MZ marker: no write"
    );
}

// ---------------------------------------------------------------------------------------
// Real recordings (OTRF Security-Datasets, MIT)
// ---------------------------------------------------------------------------------------

const HARD_NEGATIVE: &str = "sysmon/otrf__cmd_psexec_lsa_secrets_dump.sysmon.ndjson.gz";
const HALF_SEQUENCE: &str = "sysmon/otrf__covenant_copy_smb_CreateRequest.sysmon.ndjson.gz";

#[test]
fn otrf_every_line_decodes_and_sniffs_as_sysmon() {
    for (path, lines_want, ids_want) in [
        (
            HARD_NEGATIVE,
            241,
            &[
                (1, 4),
                (3, 2),
                (5, 4),
                (7, 130),
                (9, 3),
                (10, 38),
                (11, 7),
                (12, 14),
                (13, 23),
                (17, 7),
                (18, 7),
                (22, 2),
            ][..],
        ),
        (
            HALF_SEQUENCE,
            412,
            &[
                (3, 3),
                (5, 3),
                (7, 1),
                (10, 79),
                (11, 5),
                (12, 245),
                (13, 76),
            ][..],
        ),
    ] {
        let bytes = read(path);
        let mut ids = std::collections::BTreeMap::<u32, usize>::new();
        let mut n_lines = 0;
        for (n, line) in lines(&bytes) {
            let Some(r) =
                decode_sysmon_line(line).unwrap_or_else(|e| panic!("{path}: {}", e.at_line(n)))
            else {
                continue;
            };
            n_lines += 1;
            *ids.entry(r.event_id()).or_default() += 1;
            assert!(looks_like_sysmon(line), "{path}:{n}");
            assert!(r.is_sysmon());
            assert!(
                r.timestamp().is_some(),
                "{path}:{n}: every Sysmon event has UtcTime"
            );
            assert_eq!(
                r.record_id().is_some(),
                path == HALF_SEQUENCE,
                "nxlog's RecordNumber"
            );
        }
        assert_eq!(n_lines, lines_want, "{path}");
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), ids_want, "{path}");
    }
}

#[test]
fn hard_negative_and_half_sequence_stay_silent() {
    for (mode, rule) in both_rules() {
        let run = detect_sysmon(&read(HARD_NEGATIVE), rule.clone());
        assert_eq!(
            (run.alerts.len(), run.suppressed, run.events),
            (0, 0, 11),
            "hard negative, {mode}"
        );
        let run = detect_sysmon(&read(HALF_SEQUENCE), rule.clone());
        assert_eq!(
            (run.alerts.len(), run.suppressed, run.events),
            (0, 0, 5),
            "half sequence, {mode}"
        );
    }
}

#[test]
fn hard_negative_facts() {
    let bytes = read(HARD_NEGATIVE);
    let records: Vec<_> = lines(&bytes)
        .filter_map(|(_, l)| decode_sysmon_line(l).unwrap())
        .filter(|r| r.kind() != SysmonKind::Other)
        .collect();
    let write = records
        .iter()
        .find(|r| r.target_filename() == Some(r"C:\Windows\PSEXESVC.exe"))
        .unwrap();
    assert_eq!(
        write.pid(),
        Some(7256),
        "written by the local PsExec.exe, not System"
    );
    assert_eq!(write.host_id(), Some("workstation5"));
    assert_eq!(write.host_name(), Some("WORKSTATION5"));
    assert_eq!(write.timestamp(), Some(ts("2020-10-19T07:30:46.400Z")));
    let exec = records
        .iter()
        .find(|r| {
            r.kind() == SysmonKind::ProcessCreate && r.image() == Some(r"C:\Windows\PSEXESVC.exe")
        })
        .unwrap();
    assert_eq!(exec.timestamp(), Some(ts("2020-10-19T07:30:46.435Z")));
    assert_eq!(exec.pid(), Some(1460));
    assert_eq!(exec.record_id(), None, "this export has no record numbers");
    let h = exec.hashes();
    assert_eq!(
        h.sha256,
        Some("141b2190f51397dbd0dfde0e3904b264c91b6f81febc823ff0c33da980b69944")
    );
    assert_eq!(h.sha1, Some("a17c21b909c56d93d978014e63fb06926eaea8e7"));
    assert_eq!(h.md5, Some("75b55bb34dac9d02740b9ad6b6820360"));
    let Some(Event::Process(p)) = exec.events(9).next() else {
        panic!()
    };
    assert_eq!(p.hash, h);
    assert_eq!(p.code_signature, CodeSignature::default());
}

#[test]
fn half_sequence_facts() {
    let bytes = read(HALF_SEQUENCE);
    let write = lines(&bytes)
        .filter_map(|(_, l)| decode_sysmon_line(l).unwrap())
        .find(|r| r.target_filename() == Some(r"C:\ProgramData\GruntHTTP.exe"))
        .unwrap();
    assert_eq!(write.process_id(), None, "the export dropped ProcessId");
    assert_eq!(write.image(), Some("System"));
    assert_eq!(write.pid(), Some(4));
    assert!(write.pid_inferred());
    assert_eq!(write.host_id(), Some("workstation6.theshire.local"));
    assert_eq!(write.record_id(), Some("3956859"));
    // UtcTime, not the collector's skewed `@timestamp` (18:53:33.407Z).
    assert_eq!(write.timestamp(), Some(ts("2020-09-22T18:53:30.880Z")));
    let Some(Event::File(f)) = write.events(1).next() else {
        panic!()
    };
    assert_eq!(
        (f.pid, f.extension, f.header_bytes),
        (Some(4), Some("exe"), None)
    );
}

/// The decoder against the reference converter (`to_ecs.py`, whose output is in
/// `tests/fixtures/realdata/`): the same events, field for field, except `event.type`
/// (the converter types an overwrite `change`; both are stage-1 types) and the code
/// signature (the converter joins Sysmon 7 records; Sysmon 1 has none).
#[test]
fn same_events_as_the_reference_converter() {
    for (sysmon, converted) in [
        (
            HARD_NEGATIVE,
            "realdata/otrf-security-datasets__cmd_psexec_lsa_secrets_dump.ndjson",
        ),
        (
            HALF_SEQUENCE,
            "realdata/otrf-security-datasets__covenant_copy_smb_CreateRequest.ndjson",
        ),
    ] {
        let key = |e: &Event<'_>| match e {
            Event::File(f) => {
                assert!(
                    f.types
                        .intersects(EventTypes::CREATION | EventTypes::CHANGE)
                );
                format!(
                    "file {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    e.origin().timestamp,
                    f.host_id,
                    f.os_type,
                    f.pid,
                    f.path,
                    f.extension,
                    f.header_bytes,
                    f.hash
                )
            }
            Event::Process(p) => {
                assert_eq!(p.types, EventTypes::START);
                format!(
                    "process {:?} {:?} {:?} {:?} {:?} {:?}",
                    e.origin().timestamp,
                    p.host_id,
                    p.os_type,
                    p.pid,
                    p.executable,
                    p.hash
                )
            }
            _ => unreachable!(),
        };
        let bytes = read(sysmon);
        let ours: BTreeSet<String> = lines(&bytes)
            .filter_map(|(_, l)| decode_sysmon_line(l).unwrap())
            .flat_map(|r| r.events(0).map(|e| key(&e)).collect::<Vec<_>>())
            .collect();
        let bytes = read(converted);
        let theirs: BTreeSet<String> = lines(&bytes)
            .filter_map(|(_, l)| decode_line(l).unwrap())
            .flat_map(|r| r.events(0).map(|e| key(&e)).collect::<Vec<_>>())
            .collect();
        assert_eq!(ours, theirs, "{sysmon}");
        assert!(!ours.is_empty());
    }
}

// ---------------------------------------------------------------------------------------
// Shapes and mapping details
// ---------------------------------------------------------------------------------------

fn flat(eid: u32, fields: Value) -> String {
    let mut doc = json!({
        "EventID": eid,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": "WS1.Corp.Local",
        "UtcTime": "2024-01-03 14:00:00.123",
    });
    for (k, v) in fields.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc.to_string()
}

#[test]
fn event_ids_and_types() {
    let cases = [
        (1, Some(SysmonKind::ProcessCreate), EventTypes::START),
        (11, Some(SysmonKind::FileCreate), EventTypes::CREATION),
        (23, Some(SysmonKind::FileDelete), EventTypes::DELETION),
        (
            26,
            Some(SysmonKind::FileDeleteDetected),
            EventTypes::DELETION,
        ),
        (
            29,
            Some(SysmonKind::FileExecutableDetected),
            EventTypes::CREATION,
        ),
        (7, None, EventTypes::NONE),
        (4688, None, EventTypes::NONE),
    ];
    for (eid, kind, types) in cases {
        let line = flat(
            eid,
            json!({"Image": "C:\\x\\a.exe", "TargetFilename": "C:\\t\\b.EXE", "ProcessId": "42",
                   "Hashes": "SHA1=AA,MD5=BB,SHA256=CC,IMPHASH=DD"}),
        );
        let r = ok(&line);
        assert_eq!(r.kind(), kind.unwrap_or(SysmonKind::Other), "{eid}");
        assert_eq!(r.kind().event_types(), types);
        let events: Vec<_> = r.events(5).collect();
        match (kind, &events[..]) {
            (None, []) => {}
            (Some(SysmonKind::ProcessCreate), [Event::Process(p)]) => {
                assert_eq!(p.types, types);
                assert_eq!(p.executable, Some(r"C:\x\a.exe"));
                assert_eq!(p.pid, Some(42));
                assert_eq!(p.host_id, Some("ws1.corp.local"));
                assert_eq!(p.os_type, Some("windows"));
                assert_eq!(p.hash.sha256, Some("cc"));
                assert_eq!(p.origin.timestamp, ts("2024-01-03T14:00:00.123Z"));
                assert_eq!(p.origin.position, 5);
            }
            (Some(k), [Event::File(f)]) => {
                assert_eq!(f.types, types, "{eid}");
                assert_eq!(f.path, Some(r"C:\t\b.EXE"));
                assert_eq!(f.extension, Some("EXE"));
                assert_eq!(f.pid, Some(42));
                let mz = k == SysmonKind::FileExecutableDetected;
                assert_eq!(f.header_bytes, mz.then_some("4d5a"));
                let hashed = k != SysmonKind::FileCreate;
                assert_eq!(f.hash.md5, hashed.then_some("bb"), "{eid}");
                assert_eq!(f.hash.sha1, hashed.then_some("aa"));
            }
            other => panic!("{eid}: {other:?}"),
        }
    }
}

#[test]
fn sysmon_29_alone_is_a_write_in_both_modes() {
    let write = flat(
        29,
        json!({"Image": "System", "TargetFilename": "C:\\Windows\\evil.dll", "RecordNumber": 1}),
    );
    let exec = flat(
        1,
        json!({"Image": "C:\\Windows\\evil.dll", "UtcTime": "2024-01-03 14:00:59.000",
               "ProcessId": 9}),
    );
    let stream = format!("{write}\n{exec}\n");
    for (mode, rule) in both_rules() {
        let run = detect_sysmon(stream.as_bytes(), rule);
        assert_eq!(
            run.alerts,
            [(1, 2)],
            "{mode}: the MZ header matches, not the extension"
        );
    }
    // A deletion is never a write.
    let stream = stream.replacen("\"EventID\":29", "\"EventID\":26", 1);
    assert!(
        detect_sysmon(stream.as_bytes(), Rule::hardened())
            .alerts
            .is_empty()
    );
}

#[test]
fn system_image_is_pid_4() {
    for (fields, pid, inferred) in [
        (json!({"Image": "System"}), Some(4), true),
        (json!({"Image": "SYSTEM", "ProcessId": null}), Some(4), true),
        (json!({"Image": "System", "ProcessId": "4"}), Some(4), false),
        (json!({"Image": "System", "ProcessId": ""}), Some(4), true),
        (json!({"Image": "System", "ProcessId": 0}), Some(4), true),
        (
            json!({"Image": "C:\\System", "ProcessId": "-"}),
            None,
            false,
        ),
        (
            json!({"Image": "C:\\a.exe", "ProcessId": 4}),
            Some(4),
            false,
        ),
        (json!({"ProcessId": " 77 "}), Some(77), false),
    ] {
        let line = flat(11, fields.clone());
        let r = ok(&line);
        assert_eq!((r.pid(), r.pid_inferred()), (pid, inferred), "{fields}");
        let Some(Event::File(f)) = r.events(0).next() else {
            panic!()
        };
        assert_eq!(f.pid, pid);
    }
}

#[test]
fn extension_is_derived_from_the_last_component() {
    for (path, ext) in [
        (r"C:\Windows\PSEXESVC.exe", Some("exe")),
        (r"C:\dir.d\noext", None),
        (r"C:\dir\trailing.", None),
        (r"\\host\C$\x.tar.SCR", Some("SCR")),
        ("C:/mixed/sep.pif", Some("pif")),
        ("", None),
    ] {
        let line = flat(11, json!({ "TargetFilename": path }));
        let r = ok(&line);
        assert_eq!(r.file_extension(), ext, "{path}");
    }
    let r = okf(flat(11, json!({})));
    assert_eq!((r.target_filename(), r.file_extension()), (None, None));
}

#[test]
fn winlogbeat_shapes() {
    // winlogbeat 7: numbers where 8 has strings.
    let r = ok(
        r#"{"@timestamp":"2030-01-01T00:00:00Z","winlog":{"event_id":11,"record_id":5,
        "channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"DC01.X",
        "event_data":{"UtcTime":"2024-01-03 14:00:00.000","ProcessId":"4","Image":"System",
        "TargetFilename":"C:\\a.exe"}},"host":{"name":"ignored-when-computer-name"}}"#,
    );
    assert_eq!(r.kind(), SysmonKind::FileCreate);
    assert_eq!(r.record_id(), Some("5"));
    assert_eq!(r.host_id(), Some("dc01.x"));
    assert_eq!(
        r.timestamp(),
        Some(ts("2024-01-03T14:00:00Z")),
        "UtcTime wins"
    );
    // host.name when there is no computer name; dotted keys.
    let r = ok(
        r#"{"winlog.event_id":"1","winlog.event_data.UtcTime":"2024-01-03 14:00:00.000",
        "host.name":"Box","winlog.event_data.Image":"C:\\b.exe"}"#,
    );
    assert_eq!(
        (r.kind(), r.host_id(), r.host_name()),
        (SysmonKind::ProcessCreate, Some("box"), Some("Box"))
    );
    assert_eq!(r.image(), Some(r"C:\b.exe"));
    // winlogbeat 6.
    let r = ok(
        r#"{"@timestamp":"2024-01-03T14:00:01Z","event_id":11,"computer_name":"W6",
        "log_name":"Microsoft-Windows-Sysmon/Operational","source_name":"Microsoft-Windows-Sysmon",
        "record_number":"99","event_data":{"UtcTime":"2024-01-03 14:00:00.000","Image":"System",
        "TargetFilename":"C:\\c.exe"}}"#,
    );
    assert_eq!(r.kind(), SysmonKind::FileCreate);
    assert_eq!(
        (r.channel(), r.record_id(), r.pid()),
        (
            Some("Microsoft-Windows-Sysmon/Operational"),
            Some("99"),
            Some(4)
        )
    );
    // A search hit.
    let r = ok(
        r#"{"_id":"x","_source":{"winlog":{"event_id":1,"event_data":{"UtcTime":"2024-01-03 14:00:00.000"}}}}"#,
    );
    assert_eq!(r.kind(), SysmonKind::ProcessCreate);
}

/// A winlogbeat / Elastic Agent document after Elasticsearch's Sysmon ingest pipeline,
/// which renamed `Image`, `ProcessId` and `TargetFilename` to ECS fields.
#[test]
fn winlogbeat_after_an_ingest_pipeline() {
    let write = json!({
        "@timestamp": "2020-08-27T11:40:56.396Z",
        "event": {"category": ["file"], "type": ["creation"], "code": "11", "module": "sysmon"},
        "host": {"name": "04246w-win10"},
        "process": {"executable": "System", "pid": 4, "name": "System"},
        "file": {"path": TP_EXE, "extension": "exe"},
        "winlog": {"event_id": "11", "channel": "Microsoft-Windows-Sysmon/Operational",
                   "computer_name": TP_HOST, "record_id": "100001",
                   "event_data": {"RuleName": "-"}}
    })
    .to_string();
    let exec = json!({
        "@timestamp": "2020-08-27T11:40:56.610Z",
        "event": {"category": ["process"], "type": ["start"], "code": "1"},
        "host": {"name": "04246w-win10"},
        "process": {"executable": TP_EXE, "name": "PSEXESVC.exe",
                    "parent": {"executable": "C:\\Windows\\System32\\services.exe"}},
        "winlog": {"event_id": 1, "channel": "Microsoft-Windows-Sysmon/Operational",
                   "computer_name": TP_HOST, "record_id": 100002}
    })
    .to_string();
    let events: Vec<String> = [&write, &exec]
        .iter()
        .enumerate()
        .flat_map(|(n, l)| {
            let r = ok(l);
            r.events(n as u64 + 1)
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
        })
        .collect();
    let want: Vec<String> = tp_events().iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(events, want);
    // The Sysmon field wins over the ECS one.
    let r = okf(flat(
        11,
        json!({"Image": "C:\\a.exe", "process": {"executable": "System"},
        "TargetFilename": "C:\\t.exe", "file": {"path": "C:\\other.exe"}, "ProcessId": 9,
        "process.pid": 4}),
    ));
    assert_eq!(
        (r.image(), r.pid(), r.target_filename()),
        (Some(r"C:\a.exe"), Some(9), Some(r"C:\t.exe"))
    );
}

#[test]
fn evtx_json_variants() {
    // EventID with Qualifiers (an element with attributes renders as #attributes/#text).
    let r = ok(
        r##"{"Event":{"System":{"EventID":{"#attributes":{"Qualifiers":0},"#text":11},
        "Computer":"E1","TimeCreated":{"#attributes":{"SystemTime":"2024-01-03T14:00:05.1234567Z"}},
        "EventRecordID":12},"EventData":{"Image":"System","TargetFilename":"C:\\e.exe"}}}"##,
    );
    assert_eq!(r.kind(), SysmonKind::FileCreate);
    assert_eq!(
        r.timestamp(),
        Some(ts("2024-01-03T14:00:05.1234567Z")),
        "SystemTime fallback"
    );
    assert_eq!(r.record_id(), Some("12"));
    // `separate_json_attributes(true)` and no `Event` wrapper.
    let r = ok(
        r#"{"System":{"EventID":29,"Provider_attributes":{"Name":"Microsoft-Windows-Sysmon"},
        "TimeCreated_attributes":{"SystemTime":"2024-01-03T14:00:05Z"}},
        "EventData":{"UtcTime":"2024-01-03 14:00:04.000","Image":"System","TargetFilename":"C:\\f"}}"#,
    );
    assert_eq!(r.kind(), SysmonKind::FileExecutableDetected);
    assert_eq!(r.provider(), Some("Microsoft-Windows-Sysmon"));
    assert_eq!(r.timestamp(), Some(ts("2024-01-03T14:00:04Z")));
    // Pretty-printed (evtx's default `indent(true)`).
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&flat(1, json!({}))).unwrap())
            .unwrap();
    assert!(pretty.contains('\n'));
    assert_eq!(ok(&pretty).kind(), SysmonKind::ProcessCreate);
}

#[test]
fn timestamp_sources_and_preference() {
    let base = |extra: &str| format!(r#"{{"EventID":11{extra}}}"#);
    // UtcTime over @timestamp over SystemTime.
    let r = okf(base(
        r#","@timestamp":"2030-01-01T00:00:00Z","UtcTime":"2024-01-03 14:00:00.5""#,
    ));
    assert_eq!(r.timestamp(), Some(ts("2024-01-03T14:00:00.5Z")));
    let r = okf(base(
        r##","@timestamp":"2030-01-01T00:00:00Z","System":{"TimeCreated":{"#attributes":{"SystemTime":"2031-01-01T00:00:00Z"}}}"##,
    ));
    assert_eq!(r.timestamp(), Some(ts("2030-01-01T00:00:00Z")));
    let r = okf(base(r#","@timestamp":1704290400000"#));
    assert_eq!(
        r.timestamp(),
        Some(ts("2024-01-03T14:00:00Z")),
        "epoch millis"
    );
    let r = okf(base(r#","UtcTime":"","@timestamp":"2030-01-01T00:00:00Z""#));
    assert_eq!(
        r.timestamp(),
        Some(ts("2030-01-01T00:00:00Z")),
        "empty UtcTime is missing"
    );
    let r = okf(base(r#","UtcTime":"2024-01-03T14:00:00+01:00""#));
    assert_eq!(
        r.timestamp(),
        Some(ts("2024-01-03T13:00:00Z")),
        "an explicit zone is honoured"
    );
    // Errors on records that make events.
    assert_eq!(
        err(base("").as_bytes()).kind,
        SysmonErrorKind::MissingTimestamp
    );
    let e = err(base(
        r#","UtcTime":"2024-02-30 00:00:00.000","@timestamp":"2030-01-01T00:00:00Z""#,
    )
    .as_bytes());
    assert_eq!(
        e.kind,
        SysmonErrorKind::BadTimestamp {
            field: "UtcTime",
            text: "2024-02-30 00:00:00.000".into(),
            reason: TimestampError::FieldRange { field: "day" }
        },
        "a bad UtcTime is not a reason to fall back"
    );
    assert_eq!(e.column, None);
    assert!(matches!(
        err(base(r#","@timestamp":"yesterday""#).as_bytes()).kind,
        SysmonErrorKind::BadTimestamp {
            field: "@timestamp",
            ..
        }
    ));
    assert!(matches!(
        err(br##"{"Event":{"System":{"EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"1601-01-01T00:00:00.0000000Z"}}}}}"##).kind,
        SysmonErrorKind::BadTimestamp { field: "System.TimeCreated.#attributes.SystemTime", reason: TimestampError::OutOfRange, .. }
    ));
    assert_eq!(
        wrong_field(&base(r#","UtcTime":12"#)),
        ("UtcTime", "a date string", "an integer")
    );
    // Records that make no event need no time, and a bad one is no error.
    for eid in [3, 4688] {
        let r = okf(format!(r#"{{"EventID":{eid},"UtcTime":"garbage"}}"#));
        assert_eq!((r.kind(), r.timestamp()), (SysmonKind::Other, None));
    }
}

#[test]
fn channel_and_provider_filter() {
    let with = |extra: &str| flat(1, serde_json::from_str(extra).unwrap());
    for (extra, sysmon) in [
        (r#"{}"#, true),
        (r#"{"Channel": null}"#, true),
        (r#"{"Channel": "Security"}"#, false),
        (
            r#"{"Channel": null, "SourceName": "Microsoft-Windows-Kernel-General"}"#,
            false,
        ),
        (
            r#"{"Channel": "Microsoft-Windows-Sysmon/Operational", "SourceName": "x"}"#,
            true,
        ),
        (
            r#"{"Channel": "ForwardedEvents", "SourceName": "Microsoft-Windows-Sysmon"}"#,
            true,
        ),
        (r#"{"Channel": "SYSMON"}"#, true),
    ] {
        let line = with(extra);
        let r = ok(&line);
        assert_eq!(r.is_sysmon(), sysmon, "{extra}");
        assert_eq!(r.events(0).count(), usize::from(sysmon), "{extra}");
        assert_eq!(r.event_id(), 1);
    }
    // A Security-log 4688 with a hexadecimal ProcessId, as in the evtx CC0 file: no event,
    // no error.
    let r = ok(
        r#"{"Event":{"System":{"EventID":4688,"Channel":"Security","Computer":"X"},
        "EventData":{"ProcessId":"0x238","NewProcessName":"C:\\Windows\\PSEXESVC.exe"}}}"#,
    );
    assert_eq!(
        (r.kind(), r.process_id(), r.events(0).count()),
        (SysmonKind::Other, None, 0)
    );
    // A non-Sysmon event 1 with a field Sysmon would refuse is no error either.
    let r = ok(r#"{"EventID":1,"Channel":"System","ProcessId":{"a":1}}"#);
    assert_eq!(r.kind(), SysmonKind::Other);
}

#[test]
fn values_nulls_arrays_duplicates() {
    let r = okf(flat(
        11,
        json!({"Image": ["System"], "TargetFilename": ["C:\\a.exe"], "ProcessId": [4]}),
    ));
    assert_eq!((r.pid(), r.target_filename()), (Some(4), Some(r"C:\a.exe")));
    let r = okf(flat(11, json!({"TargetFilename": [], "Image": null})));
    assert_eq!((r.target_filename(), r.image()), (None, None));
    let r = ok(
        r#"{"EventID":11,"UtcTime":"2024-01-03 14:00:00.000","TargetFilename":"C:\\a","TargetFilename":"C:\\b"}"#,
    );
    assert_eq!(r.target_filename(), Some(r"C:\b"), "last wins");
    // Keywords may be integers; a computer name that is a number is its text.
    let r = okf(flat(11, json!({"Computer": 12345, "RecordNumber": 7})));
    assert_eq!((r.host_id(), r.record_id()), (Some("12345"), Some("7")));
    // Unicode computer names are lower-cased by Unicode rules.
    let r = okf(flat(11, json!({"Computer": "ÄRZTE-PC"})));
    assert_eq!(r.host_id(), Some("ärzte-pc"));
    // OTRF's `host` is the collector's name, a string: skipped.
    let r = okf(flat(
        11,
        json!({"host": "wec.internal.cloudapp.net", "Computer": null, "Hostname": "WS6"}),
    ));
    assert_eq!(r.host_id(), Some("ws6"));
    // A leading byte-order mark.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(flat(1, json!({})).as_bytes());
    assert_eq!(
        SysmonRecord::parse(&bom).unwrap().kind(),
        SysmonKind::ProcessCreate
    );
}

#[test]
fn hashes_field() {
    for (text, sha256, sha1, md5) in [
        (
            "SHA1=AB,MD5=CD,SHA256=EF,IMPHASH=01",
            Some("ef"),
            Some("ab"),
            Some("cd"),
        ),
        ("SHA256=ef", Some("ef"), None, None),
        (
            "sha256=EF, md5 = CD ,junk,=x,SHA1=",
            Some("ef"),
            None,
            Some("cd"),
        ),
        ("", None, None, None),
    ] {
        let r = okf(flat(1, json!({ "Hashes": text })));
        let h = r.hashes();
        assert_eq!((h.sha256, h.sha1, h.md5), (sha256, sha1, md5), "{text}");
    }
    // Not read on records that make no event.
    assert!(
        okf(flat(7, json!({"Hashes": "SHA256=EF"})))
            .hashes()
            .is_empty()
    );
}

#[test]
fn malformed_lines_are_typed_errors() {
    assert_eq!(err(b"").kind, SysmonErrorKind::Blank);
    assert!(decode_sysmon_line(b" \t\r\n").unwrap().is_none());
    let e = err(b"{\"EventID\":1,\"Image\":\"\xff\"}");
    assert_eq!((e.kind, e.column), (SysmonErrorKind::InvalidUtf8, Some(23)));
    let e = err(br#"{"EventID":1,"#);
    assert!(matches!(e.kind, SysmonErrorKind::NotJson { .. }), "{e}");
    assert!(e.column.is_some());
    assert!(matches!(
        err(br#"{"EventID":1} x"#).kind,
        SysmonErrorKind::NotJson { .. }
    ));
    assert_eq!(
        err(b"[1]").kind,
        SysmonErrorKind::NotAnObject { found: "an array" }
    );
    assert_eq!(
        err(b"null").kind,
        SysmonErrorKind::NotAnObject { found: "null" }
    );
    assert_eq!(err(b"{}").kind, SysmonErrorKind::MissingEventId);
    assert_eq!(
        err(br#"{"EventID":null}"#).kind,
        SysmonErrorKind::MissingEventId
    );
    assert_eq!(
        err(br#"{"winlog":{"event_id":""}}"#).kind,
        SysmonErrorKind::MissingEventId
    );
    assert_eq!(
        wrong_field(r#"{"EventID":"eleven"}"#),
        (
            "EventID",
            "a non-negative integer",
            "a string that is not such a number"
        )
    );
    assert_eq!(
        wrong_field(r#"{"winlog":{"event_id":-1}}"#),
        (
            "winlog.event_id",
            "a non-negative integer",
            "a number out of range"
        )
    );
    assert_eq!(
        wrong_field(r#"{"EventID":{"a":1}}"#),
        ("EventID", "a non-negative integer", "an object")
    );
    assert_eq!(
        wrong_field(r#"{"EventID":11.5}"#),
        ("EventID", "a non-negative integer", "a fractional number")
    );
    assert_eq!(
        wrong_field(&flat(
            11,
            json!({"winlog": {"event_data": {"ProcessId": "abc"}}})
        )),
        (
            "winlog.event_data.ProcessId",
            "an integer",
            "a string that is not an integer"
        )
    );
    assert_eq!(
        wrong_field(&flat(1, json!({"EventData": {"Image": {"x": 1}}}))),
        ("EventData.Image", "a string", "an object")
    );
    assert_eq!(
        wrong_field(&flat(11, json!({"TargetFilename": ["a", "b"]}))),
        ("TargetFilename", "a string", "an array of several values")
    );
    assert_eq!(
        wrong_field(&flat(11, json!({"ProcessId": 1e30}))),
        ("ProcessId", "an integer", "a fractional number")
    );
    assert_eq!(
        wrong_field(&flat(11, json!({"ProcessId": 18446744073709551615u64}))),
        ("ProcessId", "an integer", "a number out of range")
    );
    assert_eq!(
        wrong_field(&flat(1, json!({"Channel": ["a", "b"]}))),
        ("Channel", "a string", "an array of several values")
    );
    // Errors carry the line number for the CLI.
    let e = err(b"{}").at_line(12);
    assert_eq!(
        e.to_string(),
        "line 12: no event id (`EventID`, `winlog.event_id` or `Event.System.EventID`)"
    );
    let e = err(b"{").at_line(3);
    assert!(
        e.to_string()
            .starts_with("line 3, column 1: not valid JSON"),
        "{e}"
    );
}

#[test]
fn sniffing() {
    assert!(looks_like_sysmon(br#"{"EventID":1}"#));
    assert!(looks_like_sysmon(br#"{"Event":{"EventData":{}}}"#));
    assert!(looks_like_sysmon(br#"{"winlog":{"event_id":"1"}}"#));
    assert!(looks_like_sysmon(br#"{"event_id":1,"event_data":{}}"#));
    assert!(!looks_like_sysmon(br#"{"event_id":1}"#));
    assert!(!looks_like_sysmon(b""));
    // Documented limits: a value spelled like the key, a key spelled with escapes.
    assert!(looks_like_sysmon(br#"{"note":"EventID"}"#));
    assert!(!looks_like_sysmon(br#"{"\u0045ventID":1}"#));
    // ECS documents in the repository's fixtures do not look like Sysmon.
    for path in [
        "cases/basic_tp.ndjson",
        "realdata/otrf-security-datasets__cmd_psexec_lsa_secrets_dump.ndjson",
        "gen/defend-20k.ndjson.gz",
    ] {
        let bytes = read(path);
        assert!(lines(&bytes).all(|(_, l)| !looks_like_sysmon(l)), "{path}");
    }
}

#[test]
fn at_timestamp_as_elasticsearch_default_date_format_reads_it() {
    let at = |v: &str| {
        SysmonRecord::parse(format!(r#"{{"EventID":11,"@timestamp":{v}}}"#).as_bytes())
            .map(|r| r.timestamp())
    };
    let t0 = ts("2024-01-03T14:00:00Z");
    assert_eq!(at(r#""1704290400000""#), Ok(Some(t0)));
    assert_eq!(at("1704290400000.0"), Ok(Some(t0)));
    assert_eq!(
        at(r#""1704290400000.000001""#),
        Ok(Some(Timestamp(t0.as_nanos() + 1)))
    );
    assert_eq!(
        at("1704290400000.000001"),
        Ok(Some(Timestamp(t0.as_nanos() + 1))),
        "by text"
    );
    assert_eq!(at("-0"), Ok(Some(Timestamp(0))));
    assert_eq!(at(r#""2024""#), Ok(Some(ts("2024-01-01T00:00:00Z"))));
    for bad in [r#""1.7e12""#, "1.7e12", r#""1704290400000.1234567""#] {
        assert!(
            matches!(
                at(bad).map_err(|e| e.kind),
                Err(SysmonErrorKind::BadTimestamp {
                    field: "@timestamp",
                    ..
                })
            ),
            "{bad}: {:?}",
            at(bad)
        );
    }
    // Not needed by a record that makes no event, and no error there.
    let r = ok(r#"{"EventID":3,"@timestamp":1.7e12}"#);
    assert_eq!(r.timestamp(), None);
}

#[test]
fn keywords_take_numbers_as_their_json_text() {
    let r = okf(flat(
        11,
        json!({"TargetFilename": 1.5, "RecordNumber": 1e2, "Image": "System"}),
    ));
    assert_eq!(r.target_filename(), Some("1.5"));
    assert_eq!(r.record_id(), Some("100.0"), "serde_json writes 1e2 so");
    // The JSON text, not a float's: `1.50`, `-0`.
    let r = ok(
        r#"{"x":[0.5,{"y":-1e3}],"EventID":11,"UtcTime":"2024-01-03 14:00:00","host":7.5,"Computer":-0,"TargetFilename":1.50}"#,
    );
    assert_eq!(r.host_name(), Some("-0"));
    assert_eq!(r.target_filename(), Some("1.50"));
    // Numbers stay wrong where a number is not taken.
    assert_eq!(
        wrong_field(&flat(11, json!({"ProcessId": 4.5}))),
        ("ProcessId", "an integer", "a fractional number")
    );
}

#[test]
fn unpaired_surrogate_escapes_and_arrays_of_objects() {
    let r = ok(
        r#"{"EventID":11,"UtcTime":"2024-01-03 14:00:00","Image":"System","TargetFilename":"C:\\Windows\\\ud800x.exe","note\udc00":"\ud800"}"#,
    );
    assert_eq!(r.target_filename(), Some("C:\\Windows\\\u{fffd}x.exe"));
    assert_eq!(r.file_extension(), Some("exe"));
    // Arrays of objects merge into the branch; other elements are skipped.
    let r = ok(
        r#"{"winlog":[{"event_id":11,"event_data":[{"UtcTime":"2024-01-03 14:00:00"},"x",7,null,[{"TargetFilename":"C:\\a.exe"}]]},{"computer_name":"WS1"}]}"#,
    );
    assert_eq!(r.kind(), SysmonKind::FileCreate);
    assert_eq!(r.target_filename(), Some(r"C:\a.exe"));
    assert_eq!(r.host_id(), Some("ws1"));
    assert!(matches!(
        err(b"[1]").kind,
        SysmonErrorKind::NotAnObject { .. }
    ));
}

#[test]
fn sniffing_dotted_winlogbeat_keys() {
    assert!(looks_like_sysmon(br#"{"winlog.event_id":"11"}"#));
    assert!(looks_like_sysmon(
        br#"{"_source.winlog.event_id":11,"winlog.channel":"x"}"#
    ));
    assert!(!looks_like_sysmon(br#"{"sysmon_event_id":"11"}"#));
    assert!(!looks_like_sysmon(
        br#"{"process":{"args":["x.event_id\"",".event_id x"]}}"#
    ));
}

#[test]
fn borrowed_and_owned() {
    let line = flat(1, json!({"Image": "plain"}));
    let r = ok(&line);
    let owned: SysmonRecord<'static> = r.clone().into_owned();
    assert_eq!(owned, r);
    let events_a: Vec<_> = r.events(3).map(|e| format!("{e:?}")).collect();
    let events_b: Vec<_> = owned.events(3).map(|e| format!("{e:?}")).collect();
    assert_eq!(events_a, events_b);
}

// ---------------------------------------------------------------------------------------
// Never panics
// ---------------------------------------------------------------------------------------

/// `decode_sysmon_events` against `decode_sysmon_line`: the same error, or the same
/// events; `Ok(None)` only where the full decode makes no event. Returns whether the
/// line took the light pass's shortcut (`Ok(None)` for a line that is not blank).
#[track_caller]
fn events_only_agrees(line: &[u8]) -> bool {
    let full = decode_sysmon_line(line);
    let light = decode_sysmon_events(line);
    let shown = String::from_utf8_lossy(line);
    match (&full, &light) {
        (Err(a), Err(b)) => assert_eq!(a, b, "{shown}"),
        (Ok(a), Ok(b)) => {
            let want: Vec<Event<'_>> = a.iter().flat_map(|r| r.events(1)).collect();
            let got: Vec<Event<'_>> = b.iter().flat_map(|r| r.events(1)).collect();
            assert_eq!(got, want, "{shown}");
            if let Some(b) = b {
                assert_eq!(
                    Some(b),
                    a.as_ref(),
                    "a record built is the full one: {shown}"
                );
            }
        }
        _ => panic!("{shown}: full {full:?}, events only {light:?}"),
    }
    matches!((&full, &light), (Ok(Some(_)), Ok(None)))
}

/// Every line of every fixture corpus (Sysmon, ECS, the true positives in every
/// shape) decodes to the same events or error with and without the light pass, and
/// the Sysmon recordings' many records of other event ids take its shortcut.
#[test]
fn events_only_decode_agrees_on_every_fixture_line() {
    let mut shortcuts = 0;
    let mut lines_seen = 0;
    for path in support::fixture_corpora() {
        let bytes = support::read_maybe_gz(&path);
        for (_, line) in lines(&bytes) {
            lines_seen += 1;
            shortcuts += usize::from(events_only_agrees(line));
        }
    }
    // The OTRF recordings alone hold 637 records of ids that make no event.
    assert!(
        lines_seen > 100_000 && shortcuts >= 637,
        "{shortcuts} of {lines_seen}"
    );
}

/// Cases the property test found: a float in any leaf makes the full decoder's slow
/// pass, which the light pass leaves to it. (Until the slow pass skipped values as the
/// fast one does, it read skipped numbers as numbers too, and refused these lines for
/// the skipped `1e400`.)
#[test]
fn events_only_decode_leaves_a_slow_pass_to_the_full_decoder() {
    for doc in [
        r##"{"host":{"#text":1e400},"EventID":13.0,"EventID":"13"}"##,
        r##"{"Event.System":{"#text":1e400},"TargetFilename":13.0,"EventID":"13"}"##,
        r##"{"x":1e400,"Image":1.5,"EventID":13}"##,
    ] {
        assert!(decode_sysmon_line(doc.as_bytes()).is_ok(), "{doc}");
        assert!(!events_only_agrees(doc.as_bytes()), "{doc}");
    }
    // Without the float in a leaf, the shortcut is taken.
    let doc = r##"{"x":1e400,"Image":"C:\\x.exe","EventID":13}"##;
    assert!(decode_sysmon_line(doc.as_bytes()).is_ok());
    assert!(events_only_agrees(doc.as_bytes()));
}

/// In the slow pass each number read gets its own text: numbers in skipped values
/// (before, between, nested, beyond `f64`) take none, and make no error.
#[test]
fn skipped_numbers_leave_the_read_ones_their_texts() {
    let doc = r##"{"x":[1e400,2.5,{"y":-0.0}],"EventID":1,"UtcTime":"2024-01-03 14:00:00.000","Computer":1.25,"z":[[[9.75]]],"Image":{"a":-1E+999,"#text":0.5},"ProcessId":4}"##;
    let rec = decode_sysmon_line(doc.as_bytes()).unwrap().unwrap();
    assert_eq!(rec.host_name(), Some("1.25"));
    assert_eq!(rec.image(), Some("0.5"));
    assert_eq!(rec.process_id(), Some(4));
    // A number read beyond `f64` is still an error.
    let doc = r##"{"EventID":1,"Computer":1.25,"ProcessId":1e400}"##;
    assert!(decode_sysmon_line(doc.as_bytes()).is_err());
}

/// The light pass checks UTF-8 itself (the byte walk skips the whole line's
/// `from_utf8`): a record of another event id with a bad sequence anywhere in it, in
/// a key, a skipped value, a leaf, `#text` or the event id, is the full decoder's
/// error (the same column), and one with good non-ASCII text takes the shortcut.
#[test]
fn events_only_decode_checks_utf8_itself() {
    let bad: [&[u8]; 9] = [
        b"\xff",
        b"\x80",
        b"\xc3",             // a lead byte with no continuation
        b"\xc3(",            // a lead byte, then ASCII
        b"\xc0\x80",         // overlong
        b"\xed\xa0\x80",     // an encoded surrogate
        b"\xf4\x90\x80\x80", // beyond U+10FFFF
        b"\xe6\x97",         // cut short at the string's end
        b"\xf0\x9f\x98",     // cut short at the string's end
    ];
    let good: [&[u8]; 4] = [
        "é".as_bytes(),
        "日本".as_bytes(),
        "😀".as_bytes(),
        "aé日😀z".as_bytes(),
    ];
    let shapes: [&[u8]; 7] = [
        br#"{"EventID":13,"TargetObject":"HKLM\\~"}"#,
        br#"{"EventID":13,"x~":"y"}"#,
        br#"{"EventID":13,"Image":"C:\\~.exe"}"#,
        br##"{"EventID":13,"Image":{"#text":"~","y":"~"}}"##,
        br##"{"EventID":13,"Event":{"EventData":{"Data":[{"@Name":"Image","#text":"~"}]}}}"##,
        br#"{"x":["a","~",1],"EventID":"13"}"#,
        br#"{"EventID":"13~"}"#,
    ];
    let fill = |shape: &[u8], seq: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        for &b in shape {
            if b == b'~' {
                out.extend_from_slice(seq);
            } else {
                out.push(b);
            }
        }
        out
    };
    for shape in shapes {
        for seq in bad {
            let line = fill(shape, seq);
            let e = decode_sysmon_line(&line).unwrap_err();
            assert_eq!(e.kind, SysmonErrorKind::InvalidUtf8, "{line:?}");
            assert!(!events_only_agrees(&line), "{line:?}");
        }
    }
    for shape in &shapes[..6] {
        for seq in good {
            let line = fill(shape, seq);
            assert!(
                events_only_agrees(&line),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
    }
    // With a byte-order mark, too.
    let line = [b"\xEF\xBB\xBF".as_slice(), &fill(shapes[0], "é".as_bytes())].concat();
    assert!(events_only_agrees(&line));
    let line = [b"\xEF\xBB\xBF".as_slice(), &fill(shapes[0], b"\xff")].concat();
    assert!(!events_only_agrees(&line));
    // The bad byte is the 37th after the mark.
    assert_eq!(
        decode_sysmon_events(&line).unwrap_err().column,
        Some(3 + 37)
    );
}

/// JSON values the light pass must read exactly as the full one does: a float out of
/// range (an error only where the value is parsed), lone surrogates (an error the slow
/// pass recovers from), escapes, `#text` objects, arrays, nulls, numbers as text.
const TRICKY_VALUES: &[&str] = &[
    "1e400",
    "-1e400",
    "1.5",
    "-0",
    "18446744073709551616",
    r##""\ud800""##,
    r##""\udc00x""##,
    r##""\ud83d\ude00""##,
    r##""C:\\Windows\\x.exe""##,
    r##""a\"b""##,
    r##""\u0041""##,
    r##""\x""##,
    "\"a\u{1}b\"",
    r##"{"#text":"x"}"##,
    r##"{"#text":1e400}"##,
    r##"{"#attributes":{"Name":"x"},"#text":"\ud800"}"##,
    r##"{"a":1}"##,
    r##"[]"##,
    r##"["x"]"##,
    r##"["x","y"]"##,
    r##"[1e400]"##,
    r##"[[1]]"##,
    "null",
    "true",
    r##""""##,
    r##""  ""##,
    r##""13""##,
    r##""11""##,
    "13",
    "11",
    "1",
    "13.0",
    "-13",
    "4294967296",
    "tru",
    "01",
];

const EVENT_IDS: &[&str] = &[
    "13",
    "12",
    "7",
    "10",
    "3",
    "1",
    "11",
    "23",
    "26",
    "29",
    r##""13""##,
    r##"" 13 ""##,
    "13.0",
    "-1",
    "4294967296",
    "1e400",
    r##""""##,
    "null",
    "[13]",
    "[13,1]",
    r##"{"#text":13}"##,
    r##""\u0031\u0033""##,
    r##""\ud800""##,
];

fn raw_document() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        prop::sample::select(TRICKY_VALUES).prop_map(str::to_string),
        json_value().prop_map(|v| v.to_string()),
    ];
    (
        prop::sample::select(EVENT_IDS),
        prop::collection::vec((prop::sample::select(KEYS), value), 0..8),
        0usize..9,
    )
        .prop_map(|(eid, fields, at)| {
            // Raw text, so that duplicate keys and values serde_json cannot hold survive.
            let mut members: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("{}:{v}", Value::from(k)))
                .collect();
            members.insert(at.min(members.len()), format!(r#""EventID":{eid}"#));
            format!("{{{}}}", members.join(","))
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Documents of every shape's keys, with event ids and values chosen where the
    /// light pass could go wrong.
    #[test]
    fn events_only_decode_agrees_on_arbitrary_documents(doc in raw_document()) {
        events_only_agrees(doc.as_bytes());
    }

    /// Real records, candidate or not, with bytes overwritten.
    #[test]
    fn events_only_decode_agrees_on_mutated_real_lines(
        line in any::<prop::sample::Index>(),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        thread_local!(static LINES: Vec<Vec<u8>> = [HARD_NEGATIVE, HALF_SEQUENCE]
            .iter()
            .flat_map(|p| read(p).split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect::<Vec<_>>())
            .collect());
        let mut bytes = LINES.with(|l| l[line.index(l.len())].clone());
        for (at, b) in cuts {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        events_only_agrees(&bytes);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e20f64..1e20).prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(Value::from("2024-01-03 14:00:00.000")),
        Just(Value::from("System")),
        Just(Value::from("SHA256=AB,MD5=cd")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["#text", "#attributes", "Name", "SystemTime", "x"]),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

const KEYS: &[&str] = &[
    "EventID",
    "Image",
    "ProcessId",
    "TargetFilename",
    "UtcTime",
    "Hashes",
    "Computer",
    "Hostname",
    "Channel",
    "SourceName",
    "RecordNumber",
    "@timestamp",
    "host",
    "host.name",
    "winlog",
    "winlog.event_id",
    "winlog.event_data",
    "winlog.event_data.ProcessId",
    "Event",
    "Event.System",
    "Event.EventData",
    "System",
    "EventData",
    "event_id",
    "event_data",
    "_source",
];

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = SysmonRecord::parse(&bytes);
        let _ = decode_sysmon_line(&bytes);
        let _ = looks_like_sysmon(&bytes);
        if let Ok(Some(r)) = decode_sysmon_line(&bytes) {
            let _ = r.events(0).count();
        }
    }

    #[test]
    fn arbitrary_fields_never_panic(
        fields in prop::collection::vec((prop::sample::select(KEYS), json_value()), 0..8),
        eid in prop::sample::select(vec![1u32, 11, 23, 26, 29, 7]),
    ) {
        let mut doc = serde_json::Map::new();
        doc.insert("EventID".into(), eid.into());
        for (k, v) in fields {
            doc.insert(k.to_string(), v);
        }
        let text = Value::Object(doc).to_string();
        if let Ok(r) = SysmonRecord::parse(text.as_bytes()) {
            for e in r.events(1) {
                // Events of records that make them always carry the record's time.
                prop_assert_eq!(Some(e.origin().timestamp), r.timestamp());
            }
        }
    }

    #[test]
    fn mutated_real_lines_never_panic(
        line in 0usize..241,
        cuts in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        thread_local!(static LINES: Vec<Vec<u8>> = read(HARD_NEGATIVE)
            .split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect());
        let mut bytes = LINES.with(|l| l[line % l.len()].clone());
        for (at, b) in cuts {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        if let Ok(r) = SysmonRecord::parse(&bytes) {
            let _ = r.events(0).count();
        }
    }
}

// ---------------------------------------------------------------------------------------
// .evtx files (CC0, mdecrevoisier/EVTX-to-MITRE-Attack)
// ---------------------------------------------------------------------------------------

#[cfg(feature = "evtx")]
mod evtx_files {
    use super::*;
    use shareexec::input::{EvtxReadError, EvtxReader};
    use support::FIXTURES;

    const SYSMON_EVTX: &str = "evtx/ID11,13,17,18-PSexec as system execution.evtx";
    const SECURITY_EVTX: &str =
        "evtx/ID4688,4697,5140-5145 PSexec remote execution + admin share.evtx";

    fn path(p: &str) -> String {
        format!("{FIXTURES}/{p}")
    }

    fn records(p: &str) -> Vec<SysmonRecord<'static>> {
        let mut log = EvtxReader::open(path(p)).unwrap();
        log.sysmon_records()
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{p}: {e}"))
    }

    fn run(records: &[SysmonRecord<'_>], rule: Rule) -> Run {
        let mut d = detector(rule);
        let mut run = Run::default();
        for (n, r) in records.iter().enumerate() {
            for e in r.events(n as u64 + 1) {
                run.events += 1;
                d.handle(e);
            }
            take(&mut d, &mut run);
        }
        d.flush();
        take(&mut d, &mut run);
        run
    }

    #[test]
    fn sysmon_file_yields_the_psexec64_write_and_no_alert() {
        let records = records(SYSMON_EVTX);
        assert_eq!(records.len(), 15);
        assert!(records.iter().all(SysmonRecord::is_sysmon));
        let writes: Vec<_> = records
            .iter()
            .filter(|r| r.kind() == SysmonKind::FileCreate)
            .collect();
        assert_eq!(writes.len(), 1);
        let w = writes[0];
        assert_eq!(w.target_filename(), Some(r"C:\Windows\PSEXESVC.exe"));
        assert_eq!(w.image(), Some(r"C:\TOOLS\PsExec64.exe"));
        assert_eq!(w.pid(), Some(2124), "a local writer, not System");
        assert_eq!(w.host_id(), Some("fs03vuln.offsec.lan"));
        assert_eq!(w.record_id(), Some("48595"));
        assert_eq!(w.timestamp(), Some(ts("2021-12-04T21:19:16.757Z")));
        let Some(Event::File(f)) = w.events(0).next() else {
            panic!()
        };
        assert_eq!((f.types, f.extension), (EventTypes::CREATION, Some("exe")));
        for (mode, rule) in both_rules() {
            let run = run(&records, rule);
            assert_eq!((run.alerts.len(), run.suppressed), (0, 0), "{mode}");
            assert_eq!(run.events, 3, "{mode}: two Sysmon 1, one Sysmon 11");
        }
    }

    #[test]
    fn security_file_parses_and_makes_no_event() {
        let records = records(SECURITY_EVTX);
        assert_eq!(records.len(), 30);
        assert!(
            records
                .iter()
                .all(|r| r.kind() == SysmonKind::Other && !r.is_sysmon())
        );
        assert!(records.iter().any(|r| r.event_id() == 4688));
        assert_eq!(run(&records, Rule::hardened()).events, 0);
    }

    #[test]
    fn json_records_are_one_line_each_and_decode_alike() {
        let mut log = EvtxReader::open(path(SYSMON_EVTX)).unwrap();
        let json: Vec<_> = log.json_records().collect::<Result<_, _>>().unwrap();
        assert_eq!(json.len(), 15);
        for (n, j) in json.iter().enumerate() {
            assert!(!j.json.contains('\n'));
            assert!(looks_like_sysmon(j.json.as_bytes()));
            // The saved log is renumbered from 1; the record keeps its EventRecordID.
            assert_eq!(j.record_id, n as u64 + 1);
            let r = j.decode().unwrap();
            assert_eq!(r.record_id(), Some((48593 + n).to_string().as_str()));
        }
        let from_bytes: Vec<_> = EvtxReader::from_bytes(read(SYSMON_EVTX))
            .unwrap()
            .sysmon_records()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(from_bytes, records(SYSMON_EVTX));
    }

    #[test]
    fn not_an_evtx_file_is_an_open_error() {
        let e = EvtxReader::from_bytes(b"{\"EventID\":1}".to_vec()).unwrap_err();
        assert!(matches!(e, EvtxReadError::Open { .. }), "{e}");
        assert_eq!(e.record(), None);
        let e = EvtxReader::open(path("evtx/does-not-exist.evtx")).unwrap_err();
        assert!(matches!(e, EvtxReadError::Open { .. }), "{e}");
    }

    /// Damaged logs: every truncation and a sweep of byte flips give records or typed
    /// errors, never a panic.
    #[test]
    fn damaged_files_give_errors_not_panics() {
        let original = read(SYSMON_EVTX);
        let mut outcomes = (0usize, 0usize);
        let mut check = |bytes: Vec<u8>| {
            let Ok(mut log) = EvtxReader::from_bytes(bytes) else {
                outcomes.1 += 1;
                return;
            };
            for r in log.sysmon_records() {
                match r {
                    Ok(r) => {
                        outcomes.0 += 1;
                        let _ = r.events(0).count();
                    }
                    Err(e) => {
                        outcomes.1 += 1;
                        let _ = e.to_string();
                    }
                }
            }
        };
        for len in (0..original.len()).step_by(4093) {
            check(original[..len].to_vec());
        }
        for (i, at) in (0x1000..original.len()).step_by(97).enumerate() {
            let mut bytes = original.clone();
            bytes[at] ^= 1 << (i % 8);
            check(bytes);
        }
        assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
    }
}

/// `Decoded::decode_sysmon` (on a screening thread) then `sysmon_events` give exactly
/// what `decode_sysmon_line` gives: the same events in the same order, or the same
/// error; on every line of every fixture corpus (Sysmon or not), on edge lines, and
/// with one `Decoded` reused from line to line, as the CLI's batches reuse theirs.
#[test]
fn decoded_on_another_thread_equals_decoding_here() {
    use shareexec::input::Decoded;
    let mut corpus: Vec<Vec<u8>> = support::fixture_corpora()
        .iter()
        .flat_map(|p| {
            support::read_maybe_gz(p)
                .split(|&b| b == b'\n')
                .map(<[u8]>::to_vec)
                .collect::<Vec<_>>()
        })
        .collect();
    corpus.extend(
        [
            &b""[..],
            b"   ",
            b"{}",
            b"[]",
            b"{\"EventID\":1}",
            b"{\"EventID\":\"x\"}",
            b"{\"EventID\":11,\"UtcTime\":\"nope\"}",
            b"{\"EventID\":1,\"UtcTime\":\"2024-01-03 14:00:02.000\",\"Computer\":\"h\",\"Image\":\"C:\\\\a.exe\"",
            b"\xff\xfe{\"EventID\":1}",
        ]
        .map(<[u8]>::to_vec),
    );
    // Every event id the rule reads, with every field it reads, and empty.
    for eid in [1, 11, 23, 26, 29] {
        corpus.push(flat(eid, json!({})).into_bytes());
        corpus.push(
            flat(
                eid,
                json!({
                    "ProcessId": 4, "Image": "C:\\Windows\\x.exe", "TargetFilename": "C:\\x.exe",
                    "Hashes": "SHA256=AB,MD5=CD,SHA1=EF", "Signed": "true", "Signature": "Microsoft Windows",
                    "SignatureStatus": "Valid", "RecordID": 7, "ProcessGuid": "{1}"
                }),
            )
            .into_bytes(),
        );
    }
    let mut decoded = Decoded::new();
    let (mut events, mut records, mut errors) = (0, 0, 0);
    for (n, line) in corpus.iter().enumerate() {
        let position = n as u64 + 1;
        let here = decode_sysmon_line(line);
        let kept = decoded.decode_sysmon(line).map_err(Clone::clone);
        assert_eq!(
            kept,
            here.as_ref().map(drop).map_err(Clone::clone),
            "line {position}"
        );
        let there: Result<Vec<Event<'_>>, _> = decoded
            .sysmon_events(line, position)
            .expect("held")
            .map(Iterator::collect)
            .map_err(Clone::clone);
        let want: Result<Vec<Event<'_>>, _> = match &here {
            Ok(record) => Ok(record.iter().flat_map(|r| r.events(position)).collect()),
            Err(e) => Err(e.clone()),
        };
        if let Ok(w) = &want {
            events += w.len();
            records += 1;
        } else {
            errors += 1;
        }
        assert_eq!(there, want, "line {position}");
        // Not for a line of another length.
        let longer = [line.as_slice(), b" "].concat();
        assert!(decoded.sysmon_events(&longer, position).is_none());
    }
    // Most Sysmon records are of event ids the rule does not read (no event).
    assert!(
        events >= 30 && records > 500 && errors > 100,
        "{events} events of {records} records, {errors} errors"
    );
    decoded.clear();
    assert!(decoded.sysmon_events(b"", 1).is_none());
}
