//! Every case of `docs/semantics.md` as a named test, in both semantics.
//!
//! The cases follow the 45 probes that established how Elasticsearch evaluates the
//! rule (the same probes, as NDJSON with the oracle's expectations, run through the
//! ECS decoder in `tests/conformance.rs`). `es` is what Elasticsearch finds on the
//! time-sorted stream; `hardened` what the default semantics find.

mod common;
use common::*;
use shareexec::*;

/// Alerts only (no suppression, no late event), in both semantics at lateness 0.
macro_rules! case {
    ($(#[$doc:meta])* $name:ident, [$($ev:expr),* $(,)?], es = [$($e:expr),*], hardened = [$($h:expr),*]) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            let events = vec![$($ev),*];
            let sorted = |mut v: Vec<(String, String)>| { v.sort(); v };
            let es = run(Semantics::Elasticsearch, Span::ZERO, &events);
            assert_eq!(sorted(es.alerts.clone()), sorted(pairs(&[$($e),*])), "elasticsearch");
            assert!(es.suppressed.is_empty() && es.late.is_empty(), "elasticsearch: {es:?}");
            let hard = run(Semantics::Hardened, Span::ZERO, &events);
            assert_eq!(sorted(hard.alerts.clone()), sorted(pairs(&[$($h),*])), "hardened");
            assert!(hard.suppressed.is_empty() && hard.late.is_empty(), "hardened: {hard:?}");
        }
    };
}

/// The trust policy vouches for the execution in both semantics: no alert, one
/// suppression with the given reason.
macro_rules! suppressed {
    ($(#[$doc:meta])* $name:ident, [$($ev:expr),* $(,)?], reason = $reason:literal) => {
        $(#[$doc])*
        #[test]
        fn $name() {
            let events = vec![$($ev),*];
            for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
                let said = run(sem, Span::ZERO, &events);
                assert!(said.alerts.is_empty(), "{sem:?}: {said:?}");
                assert_eq!(said.suppressed.len(), 1, "{sem:?}: {said:?}");
                assert_eq!(said.suppressed[0].2, $reason, "{sem:?}");
            }
        }
    };
}

// --- The window -----------------------------------------------------------------

case!(/// A plain true positive.
    basic_tp, [w("f1", s(0), X), p("p1", s(10), X)], es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// maxspan is inclusive: exactly 60.000 s matches.
    maxspan_exact_60s, [w("f1", s(0), X), p("p1", s(60), X)], es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// 60.001 s is too late.
    maxspan_60s_plus_1ms, [w("f1", s(0), X), p("p1", ms(60_001), X)], es = [], hardened = []);
case!(/// 60 s + 1 ns is too late (nanosecond precision).
    maxspan_60s_plus_1ns, [w("f1", s(0), X), p("p1", Timestamp(s(60).0 + 1), X)], es = [], hardened = []);
case!(/// The latest write wins: one match, reporting the second write.
    two_writes_one_exec,
    [w("f1", s(0), X), w("f2", s(5), X).types(EventTypes::CHANGE), p("p1", s(10), X)],
    es = [("f2", "p1")], hardened = [("f2", "p1")]);
case!(/// The latest write is within 60 s even though the first is not.
    two_writes_first_expired, [w("f1", s(0), X), w("f2", s(30), X), p("p1", s(70), X)],
    es = [("f2", "p1")], hardened = [("f2", "p1")]);
case!(/// A match consumes the pending write: the second execution finds nothing.
    one_write_two_execs, [w("f1", s(0), X), p("p1", s(10), X), p("p2", s(20), X)],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// A new write re-arms the key.
    write_exec_write_exec, [w("f1", s(0), X), p("p1", s(10), X), w("f2", s(15), X), p("p2", s(20), X)],
    es = [("f1", "p1"), ("f2", "p2")], hardened = [("f1", "p1"), ("f2", "p2")]);
/// Stage 2 must come strictly after stage 1: an execution stamped before the write
/// does not match, whatever the arrival order (at lateness 0 it is also late).
#[test]
fn proc_earlier_than_file() {
    let events = [w("f1", s(10), X), p("p1", s(5), X)];
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let said = run(sem, Span::from_secs(5), &events);
        assert!(
            said.alerts.is_empty() && said.late.is_empty(),
            "{sem:?}: {said:?}"
        );
        let said = run(sem, Span::ZERO, &events);
        assert!(said.alerts.is_empty(), "{sem:?}: {said:?}");
        assert_eq!(said.late, ["p1"]);
    }
}

// --- Join keys ------------------------------------------------------------------

case!(/// Paths differing in case: Elasticsearch compares keys exactly; Windows does not,
    /// and neither does hardened (`EVIL.EXE` written, `evil.exe` started).
    case_diff_join,
    [w("f1", s(0), "C:\\Windows\\Temp\\EVIL.EXE"), p("p1", s(10), "c:\\windows\\temp\\evil.exe")],
    es = [], hardened = [("f1", "p1")]);
case!(/// Non-ASCII paths fold too (simple case folding), in hardened only.
    case_diff_join_unicode,
    [w("f1", s(0), "C:\\Users\\ΣΟΦΙΑ\\ÉTÉ.EXE"), p("p1", s(10), "c:\\users\\σοφια\\été.exe")],
    es = [], hardened = [("f1", "p1")]);
case!(/// `host.id` is an agent identifier, compared exactly in both semantics.
    case_diff_host, [w("f1", s(0), X).host(Some("H1")), p("p1", s(10), X)], es = [], hardened = []);
case!(/// Different hosts never join.
    wrong_host, [w("f1", s(0), X), p("p1", s(10), X).host(Some("h2"))], es = [], hardened = []);
case!(/// A null key never joins, not even with another null.
    null_host_both, [w("f1", s(0), X).host(None), p("p1", s(10), X).host(None)], es = [], hardened = []);
case!(/// Sequences of different hosts are independent.
    two_hosts_interleaved,
    [w("a1", s(0), X), w("b1", s(1), X).host(Some("h2")), p("b2", s(2), X).host(Some("h2")), p("a2", s(3), X)],
    es = [("b1", "b2"), ("a1", "a2")], hardened = [("b1", "b2"), ("a1", "a2")]);

// --- Equal timestamps -------------------------------------------------------------

case!(/// Equal timestamps, write first: matches.
    same_timestamp_file_first, [w("f1", s(0), X), p("p1", s(0), X)], es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// Equal timestamps, execution first and no `event.sequence`: arrival order
    /// decides (Elasticsearch's storage order stands behind it), so no match.
    same_timestamp_proc_first, [p("p1", s(0), X), w("f1", s(0), X)], es = [], hardened = []);
case!(/// Equal timestamps with `event.sequence`: Elasticsearch (no tiebreaker in the
    /// rule) goes by arrival; hardened by sequence, which puts the write first.
    same_ts_sequence_tiebreak, [p("p1", s(0), X).seq(2), w("f1", s(0), X).seq(1)],
    es = [], hardened = [("f1", "p1")]);

// --- Stage 1 predicates -------------------------------------------------------------

case!(/// An MZ header (upper-case hex) makes an executable without an executable extension.
    header_only, [w("f1", s(0), "C:\\x\\payload.dat").ext(Some("dat")).header(Some("4D5A9000")),
                  p("p1", s(10), "C:\\x\\payload.dat")],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// `:` ignores case on the extension.
    ext_upper, [w("f1", s(0), "C:\\x\\A.EXE").ext(Some("EXE")).header(None), p("p1", s(10), "C:\\x\\A.EXE")],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// Every listed extension counts: scr, pif, com.
    ext_scr_pif_com,
    [w("f1", s(0), "C:\\a.scr").ext(Some("scr")).header(None), p("p1", s(1), "C:\\a.scr"),
     w("f2", s(2), "C:\\a.pif").ext(Some("PIF")).header(None), p("p2", s(3), "C:\\a.pif"),
     w("f3", s(4), "C:\\a.com").ext(Some("com")).header(None), p("p3", s(5), "C:\\a.com")],
    es = [("f1", "p1"), ("f2", "p2"), ("f3", "p3")], hardened = [("f1", "p1"), ("f2", "p2"), ("f3", "p3")]);
case!(/// Neither an executable extension nor an MZ header.
    ext_no_header_dll, [w("f1", s(0), "C:\\x\\a.dll").ext(Some("dll")).header(Some("00000000")),
                        p("p1", s(10), "C:\\x\\a.dll")], es = [], hardened = []);
case!(/// `file.extension` missing: Elasticsearch sees no extension; hardened reads it
    /// off `file.path` (sensors that omit the field cannot hide an `.exe`).
    ext_missing_taken_from_path, [w("f1", s(0), X).ext(None).header(None), p("p1", s(10), X)],
    es = [], hardened = [("f1", "p1")]);
case!(/// The writer must be the System process.
    pid_not_4, [w("f1", s(0), X).pid(Some(1234)), p("p1", s(10), X)], es = [], hardened = []);
case!(/// A write without a pid is not the System process.
    pid_missing, [w("f1", s(0), X).pid(None), p("p1", s(10), X)], es = [], hardened = []);
case!(/// Deletion is not creation or change.
    deletion_type, [w("f1", s(0), X).types(EventTypes::DELETION), p("p1", s(10), X)], es = [], hardened = []);
case!(/// `event.type` arrays match on any element.
    multi_type_array,
    [w("f1", s(0), X).types(EventTypes::INFO | EventTypes::CHANGE), p("p1", s(10), X).types(EventTypes::INFO | EventTypes::START)],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// `==` is case-sensitive in Elasticsearch: `Windows` is not `windows`. Hardened ignores case.
    os_type_case, [w("f1", s(0), X).os(Some("Windows")), p("p1", s(10), X).os(Some("Windows"))],
    es = [], hardened = [("f1", "p1")]);
case!(/// `host.os.type` missing: no match.
    os_type_missing, [w("f1", s(0), X).os(None), p("p1", s(10), X)], es = [], hardened = []);
case!(/// Stage 2 must be a process event: a file event typed `start` is not one.
    file_event_start_type,
    [w("f1", s(0), X), { let mut e = p("p1", s(10), X); e.file = true; e.pid = Some(4); e.types = EventTypes::START; e }],
    es = [], hardened = []);
case!(/// A process event that is not a start does not execute anything.
    process_end_type, [w("f1", s(0), X), p("p1", s(10), X).types(EventTypes::END)], es = [], hardened = []);

// --- Stage 2: the trust policy ------------------------------------------------------

case!(/// No `code_signature` at all: `not (trusted == true and …)` is true, so it alerts
    /// (the Python engine's three-valued logic silently drops it).
    no_signature_at_all, [w("f1", s(0), X), p("p1", s(10), X).unsigned()], es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// A listed signer without `trusted`: missing is not true, so it alerts.
    trusted_missing_subject_excluded, [w("f1", s(0), X), p("p1", s(10), X).signed(None, Some("Sophos Ltd"))],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// A listed signer, explicitly untrusted: alerts.
    trusted_false_subject_excluded, [w("f1", s(0), X), p("p1", s(10), X).signed(Some(false), Some("Sophos Ltd"))],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// `:` without `*` is a whole-string match: `Sophos Ltd.` is not `Sophos Ltd`.
    trusted_signer_prefix, [w("f1", s(0), X), p("p1", s(10), X).signed(Some(true), Some("Sophos Ltd."))],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// Trusted but unlisted signer: alerts.
    trusted_unknown_signer, [w("f1", s(0), X), p("p1", s(10), X).signed(Some(true), Some("Evil Corp"))],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// The path exclusions need `trusted == true`.
    ccmsetup_qmark_untrusted,
    [w("f1", s(0), "C:\\Windows\\ccmsetup\\ccmsetup.exe"), p("p1", s(10), "C:\\Windows\\ccmsetup\\ccmsetup.exe").signed(Some(false), Some("X"))],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);
case!(/// The SCCM exclusion names drive G: only.
    srvboot_c,
    [w("f1", s(0), "C:\\SMS_ABC\\srvboot.exe"), p("p1", s(10), "C:\\SMS_ABC\\srvboot.exe").signed(Some(true), Some("Microsoft Corporation"))],
    es = [("f1", "p1")], hardened = [("f1", "p1")]);

suppressed!(/// A trusted listed signer.
    trusted_excluded_signer, [w("f1", s(0), X), p("p1", s(10), X).signed(Some(true), Some("Sophos Ltd"))],
    reason = "trusted signer \"Sophos Ltd\"");
suppressed!(/// `:` ignores case on the signer.
    trusted_excluded_signer_case, [w("f1", s(0), X), p("p1", s(10), X).signed(Some(true), Some("SOPHOS LTD"))],
    reason = "trusted signer \"Sophos Ltd\"");
suppressed!(/// `?` is a wildcard in Elasticsearch (one character: the drive letter).
    ccmsetup_qmark,
    [w("f1", s(0), "C:\\Windows\\ccmsetup\\ccmsetup.exe"),
     p("p1", s(10), "C:\\Windows\\ccmsetup\\ccmsetup.exe").signed(Some(true), Some("Microsoft Corporation"))],
    reason = "trusted executable \"?:\\Windows\\ccmsetup\\ccmsetup.exe\"");
suppressed!(/// `?` and `*` together.
    am_delta,
    [w("f1", s(0), "D:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta_Patch_1.exe"),
     p("p1", s(10), "D:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta_Patch_1.exe").signed(Some(true), Some("Microsoft Corporation"))],
    reason = "trusted executable \"?:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta*.exe\"");
suppressed!(/// The SCCM boot image on G:, trusted and signed by Microsoft (case-insensitive).
    srvboot_g,
    [w("f1", s(0), "G:\\SMS_ABC\\srvboot.exe"),
     p("p1", s(10), "G:\\SMS_ABC\\srvboot.exe").signed(Some(true), Some("microsoft corporation"))],
    reason = "trusted executable \"G:\\SMS_*\\srvboot.exe\" signed by \"Microsoft Corporation\"");
suppressed!(/// `:` ignores case on the path too.
    srvboot_g_lower,
    [w("f1", s(0), "g:\\sms_abc\\SRVBOOT.EXE"),
     p("p1", s(10), "g:\\sms_abc\\SRVBOOT.EXE").signed(Some(true), Some("Microsoft Corporation"))],
    reason = "trusted executable \"G:\\SMS_*\\srvboot.exe\" signed by \"Microsoft Corporation\"");

/// The brief's extra vendors: the rule's own list (Elasticsearch) alerts, the
/// recommended list (hardened) suppresses.
#[test]
fn brief_vendor_only_in_recommended_policy() {
    let events = [
        w("f1", s(0), X),
        p("p1", s(10), X).signed(Some(true), Some("Adobe Inc.")),
    ];
    let es = run(Semantics::Elasticsearch, Span::ZERO, &events);
    assert_eq!(es.alerts, pairs(&[("f1", "p1")]));
    let hard = run(Semantics::Hardened, Span::ZERO, &events);
    assert!(hard.alerts.is_empty());
    assert_eq!(
        hard.suppressed,
        vec![(
            "f1".into(),
            "p1".into(),
            "trusted signer \"Adobe Inc.\"".into()
        )]
    );
}

/// A suppressed execution is not a stage-2 event: the write stays pending and a
/// later untrusted execution of the same file alerts.
#[test]
fn suppression_does_not_consume() {
    let events = [
        w("f1", s(0), X),
        p("p1", s(10), X).signed(Some(true), Some("Sophos Ltd")),
        p("p2", s(20), X),
    ];
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let said = run(sem, Span::ZERO, &events);
        assert_eq!(said.suppressed.len(), 1);
        assert_eq!(said.alerts, pairs(&[("f1", "p2")]), "{sem:?}");
    }
}

// --- Out-of-order delivery ---------------------------------------------------------------

/// The execution arrives before the write but is later in time: Elasticsearch
/// sorts, and so does the detector when the lateness covers the delay. At lateness
/// 0 the write is late: reported, and still used: Elasticsearch semantics had
/// already processed the execution, so the sequence is lost; hardened still held the
/// execution (an equal-timestamp event could have preceded it), so it matches.
#[test]
fn out_of_order_arrival() {
    let events = [p("p1", s(10), X), w("f1", s(0), X)];
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let said = run(sem, Span::from_secs(10), &events);
        assert_eq!(said.alerts, pairs(&[("f1", "p1")]), "{sem:?}");
        assert!(said.late.is_empty());
    }
    let said = run(Semantics::Elasticsearch, Span::ZERO, &events);
    assert!(said.alerts.is_empty());
    assert_eq!(said.late, ["f1"]);
    let said = run(Semantics::Hardened, Span::ZERO, &events);
    assert_eq!(said.alerts, pairs(&[("f1", "p1")]));
    assert_eq!(said.late, ["f1"]);
}

/// A later event arriving first must not expire a pending write that the sorted
/// stream still matches (the Python engine loses this one) when the lateness covers
/// the delay. At lateness 0 the execution is late and reported; Elasticsearch
/// semantics had already processed `z` and expired the write, hardened still held
/// `z` (an equal-timestamp event could have followed it) and so still matches.
#[test]
fn late_arrival_does_not_expire() {
    let events = [
        w("f1", s(0), X),
        w("z", s(100), "C:\\other.exe"),
        p("p1", s(10), X),
    ];
    for sem in [Semantics::Elasticsearch, Semantics::Hardened] {
        let said = run(sem, Span::from_secs(90), &events);
        assert_eq!(said.alerts, pairs(&[("f1", "p1")]), "{sem:?}");
        assert!(said.late.is_empty());
    }
    let said = run(Semantics::Elasticsearch, Span::ZERO, &events);
    assert!(said.alerts.is_empty());
    assert_eq!(said.late, ["p1"], "reported, never silent");
    let said = run(Semantics::Hardened, Span::ZERO, &events);
    assert_eq!(said.alerts, pairs(&[("f1", "p1")]));
    assert_eq!(said.late, ["p1"]);
}

/// A late execution still joins a pending write when it can (used as well as possible).
#[test]
fn late_execution_still_joins() {
    let events = [
        w("f1", s(0), X),
        w("z", s(30), "C:\\other.exe"),
        p("p1", s(10), X),
    ];
    let said = run(Semantics::Elasticsearch, Span::ZERO, &events);
    assert_eq!(said.late, ["p1"]);
    assert_eq!(said.alerts, pairs(&[("f1", "p1")]));
}

/// A late write older than the pending one does not replace it (latest write wins
/// by time, not by arrival).
#[test]
fn late_older_write_does_not_replace() {
    let events = [w("f2", s(5), X), w("f1", s(0), X), p("p1", s(10), X)];
    let said = run(Semantics::Elasticsearch, Span::ZERO, &events);
    assert_eq!(said.late, ["f1"]);
    assert_eq!(said.alerts, pairs(&[("f2", "p1")]));
}
