//! The C ABI (feature `ffi`): embed the detector from C, C++, Go, Python… through
//! `include/shareexec.h`, which cbindgen generates from this file (see `docs/ffi.md`).
//!
//! A thin, mechanical layer over [`Detector`]: an opaque handle, events as C structs of
//! pointer + length strings with explicit presence flags, raw ECS JSON lines, verdicts as
//! borrowed views or ECS JSON copied into caller buffers, counters, time control, and a
//! trust policy as a C callback.
//!
//! Every exported function checks its pointers for NULL (and alignment), bounds its
//! input sizes, validates UTF-8, and catches panics at the boundary: nothing unwinds into
//! C. A handle is locked for the duration of each call, so a re-entrant call (from the
//! trust callback) or a concurrent one (from another thread) gets [`SHAREEXEC_BUSY`]
//! instead of undefined behaviour. What cannot be checked — dangling pointers, lengths
//! larger than the memory behind them, use after free — is documented in `docs/ffi.md`.
//!
//! [`SHAREEXEC_BUSY`]: shareexec_result::SHAREEXEC_BUSY
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]

use core::cell::{RefCell, UnsafeCell};
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicU8, Ordering};
use std::boxed::Box;
use std::format;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::string::{String, ToString};
use std::sync::Arc;
use std::vec::Vec;

use crate::input::{EcsErrorKind, decode_line};
use crate::output::{Location, verdict_json};
use crate::trust::{SignerPolicy, TrustPolicy, TrustReason};
use crate::verdict::{EventRef, OwnedHashes, Sequence, Signature, Stage, Verdict};
use crate::{
    CodeSignature, Config, Detector, Event, EventTypes, FileEvent, Hashes, Origin, ProcessEvent,
    Rule, Semantics, SnapshotError, Span, Timestamp,
};

// ---------------------------------------------------------------------------------------
// Version and limits.

/// Major version of the crate this header was generated from.
pub const SHAREEXEC_VERSION_MAJOR: u32 = 0;
/// Minor version of the crate this header was generated from.
pub const SHAREEXEC_VERSION_MINOR: u32 = 1;
/// Patch version of the crate this header was generated from.
pub const SHAREEXEC_VERSION_PATCH: u32 = 0;

const fn parse_u32(s: &str) -> u32 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut n = 0u32;
    while i < b.len() {
        n = n * 10 + (b[i] - b'0') as u32;
        i += 1;
    }
    n
}

// A version bump that forgets the constants above fails to compile.
const _: () = assert!(parse_u32(env!("CARGO_PKG_VERSION_MAJOR")) == SHAREEXEC_VERSION_MAJOR);
const _: () = assert!(parse_u32(env!("CARGO_PKG_VERSION_MINOR")) == SHAREEXEC_VERSION_MINOR);
const _: () = assert!(parse_u32(env!("CARGO_PKG_VERSION_PATCH")) == SHAREEXEC_VERSION_PATCH);

/// Longest string field accepted in an event struct, in bytes (1 MiB); longer ones are
/// refused with `SHAREEXEC_TOO_LARGE`. Reasons returned by a trust callback are cut to it.
pub const SHAREEXEC_MAX_STRING_BYTES: usize = 1 << 20;
/// Longest JSON line accepted by `shareexec_detector_feed_json`, in bytes (16 MiB, as the
/// command line's default `--max-line-bytes`).
pub const SHAREEXEC_MAX_LINE_BYTES: usize = 16 << 20;
/// Largest snapshot accepted by `shareexec_detector_restore` (and made by
/// `shareexec_detector_snapshot`), in bytes (1 GiB); larger ones are refused with
/// `SHAREEXEC_TOO_LARGE`.
pub const SHAREEXEC_MAX_SNAPSHOT_BYTES: usize = 1 << 30;

// ---------------------------------------------------------------------------------------
// Result codes.

/// What a call did. `SHAREEXEC_OK` is 0; every other value is a failure, described by
/// `shareexec_result_describe()` and, on a handle, by `shareexec_detector_last_error()`.
///
/// In C this is a `uint32_t`: new codes may be added in later versions, so treat unknown
/// values as failures.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum shareexec_result {
    /// Success.
    SHAREEXEC_OK = 0,
    /// A required pointer argument was NULL.
    SHAREEXEC_NULL_ARGUMENT = 1,
    /// A string (in an event struct, the configuration, or a JSON line) is not UTF-8.
    SHAREEXEC_INVALID_UTF8 = 2,
    /// The configuration cannot work (an unknown semantics or trust mode, a negative
    /// lateness, an idle-host timeout not above maxspan + lateness).
    SHAREEXEC_INVALID_CONFIG = 3,
    /// A JSON line is not a valid ECS document; the handle's last error says why and where.
    SHAREEXEC_PARSE_ERROR = 4,
    /// The caller's buffer is too small; the needed length was written to the length
    /// out-parameter, and nothing else was written.
    SHAREEXEC_BUFFER_TOO_SMALL = 5,
    /// No verdict: the queue is empty (from `shareexec_detector_poll`), or no verdict was
    /// polled yet (from `shareexec_detector_verdict_json`).
    SHAREEXEC_NO_VERDICT = 6,
    /// A bug: the library panicked and caught it. The handle is poisoned: every later
    /// call on it returns `SHAREEXEC_POISONED`; free it.
    SHAREEXEC_PANIC = 7,
    /// A string, line or snapshot is longer than `SHAREEXEC_MAX_STRING_BYTES`,
    /// `SHAREEXEC_MAX_LINE_BYTES` or `SHAREEXEC_MAX_SNAPSHOT_BYTES`.
    SHAREEXEC_TOO_LARGE = 8,
    /// The handle is in use by another call: a call from inside the trust callback on the
    /// handle that invoked it, or a concurrent call from another thread. Nothing was done.
    SHAREEXEC_BUSY = 9,
    /// An earlier call on this handle panicked (`SHAREEXEC_PANIC`); only
    /// `shareexec_detector_free` is still allowed.
    SHAREEXEC_POISONED = 10,
    /// `shareexec_detector_next_deadline`: nothing is waiting, no deadline.
    SHAREEXEC_NO_DEADLINE = 11,
    /// A pointer argument is not aligned for its type.
    SHAREEXEC_MISALIGNED_ARGUMENT = 12,
    /// `shareexec_detector_snapshot`: verdicts are waiting (poll them first; the handle's
    /// last error says so). `shareexec_detector_restore`: the bytes are not a snapshot
    /// this build can restore with this configuration (corrupted, truncated, foreign,
    /// another format version, other semantics, or more state than the caps allow).
    SHAREEXEC_SNAPSHOT_ERROR = 13,
}

use shareexec_result::*;

impl shareexec_result {
    fn describe(self) -> &'static core::ffi::CStr {
        match self {
            SHAREEXEC_OK => c"success",
            SHAREEXEC_NULL_ARGUMENT => c"a required pointer argument was NULL",
            SHAREEXEC_INVALID_UTF8 => c"a string is not valid UTF-8",
            SHAREEXEC_INVALID_CONFIG => c"the configuration is invalid",
            SHAREEXEC_PARSE_ERROR => c"the JSON line is not a valid ECS document",
            SHAREEXEC_BUFFER_TOO_SMALL => c"the buffer is too small; the needed length was written",
            SHAREEXEC_NO_VERDICT => c"no verdict",
            SHAREEXEC_PANIC => {
                c"internal error: the library panicked (a bug); the handle is poisoned, free it"
            }
            SHAREEXEC_TOO_LARGE => c"a string, line or snapshot is longer than the library accepts",
            SHAREEXEC_BUSY => c"the handle is in use by another call (re-entrant or concurrent)",
            SHAREEXEC_POISONED => c"an earlier call on this handle panicked; only free it",
            SHAREEXEC_NO_DEADLINE => c"no deadline: nothing is waiting",
            SHAREEXEC_MISALIGNED_ARGUMENT => c"a pointer argument is misaligned for its type",
            SHAREEXEC_SNAPSHOT_ERROR => {
                c"the snapshot cannot be taken (verdicts are waiting) or restored (invalid bytes)"
            }
        }
    }

    fn from_u32(code: u32) -> Option<Self> {
        const ALL: [shareexec_result; 14] = [
            SHAREEXEC_OK,
            SHAREEXEC_NULL_ARGUMENT,
            SHAREEXEC_INVALID_UTF8,
            SHAREEXEC_INVALID_CONFIG,
            SHAREEXEC_PARSE_ERROR,
            SHAREEXEC_BUFFER_TOO_SMALL,
            SHAREEXEC_NO_VERDICT,
            SHAREEXEC_PANIC,
            SHAREEXEC_TOO_LARGE,
            SHAREEXEC_BUSY,
            SHAREEXEC_POISONED,
            SHAREEXEC_NO_DEADLINE,
            SHAREEXEC_MISALIGNED_ARGUMENT,
            SHAREEXEC_SNAPSHOT_ERROR,
        ];
        ALL.into_iter().find(|r| *r as u32 == code)
    }
}

/// A static, NUL-terminated English description of a result code (any value: unknown
/// codes get "unknown result code"). Never NULL; never free it.
#[unsafe(no_mangle)]
pub extern "C" fn shareexec_result_describe(code: u32) -> *const c_char {
    boundary(c"internal error".as_ptr(), || {
        shareexec_result::from_u32(code)
            .map_or(c"unknown result code", shareexec_result::describe)
            .as_ptr()
    })
}

/// The library's version, `"MAJOR.MINOR.PATCH"`, static and NUL-terminated. Compare it
/// with `SHAREEXEC_VERSION_*` to check that the header matches the library linked.
#[unsafe(no_mangle)]
pub extern "C" fn shareexec_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

// ---------------------------------------------------------------------------------------
// Plain data.

/// A UTF-8 string as pointer + length in bytes.
///
/// Given to the library: `ptr == NULL` means the field is **missing** (whatever `len`
/// says), which is not the same as the empty string (`ptr != NULL`, `len == 0`): a
/// missing field makes the rule's comparisons false. The bytes need no NUL terminator,
/// must be valid UTF-8, and are only read during the call.
///
/// Given by the library: `ptr == NULL` means missing; otherwise the bytes are UTF-8 and
/// are followed by a NUL (not counted in `len`) for convenience, but `len` is
/// authoritative (a string may contain NUL). How long the bytes stay valid is documented
/// where the view is handed out.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_str {
    /// First byte, or NULL for a missing value.
    pub ptr: *const c_char,
    /// Length in bytes, without any terminator.
    pub len: usize,
}

impl shareexec_str {
    const MISSING: shareexec_str = shareexec_str {
        ptr: core::ptr::null(),
        len: 0,
    };
}

/// Which rule semantics (`shareexec_config.semantics`): the default, `HARDENED`.
pub const SHAREEXEC_SEMANTICS_DEFAULT: u32 = 0;
/// Hardened semantics: everything Elasticsearch finds plus the documented evasions
/// (case-insensitive path join, …) and the threat-feed brief's trusted vendors.
pub const SHAREEXEC_SEMANTICS_HARDENED: u32 = 1;
/// Elasticsearch's exact results, with exactly the rule's own trusted-vendor list.
pub const SHAREEXEC_SEMANTICS_ELASTICSEARCH: u32 = 2;

/// `shareexec_config.trust_mode`: the semantics' signer policy, and also the callback if
/// one is set (an execution is trusted when either trusts it; the signer policy is asked
/// first, so the callback only sees executions it does not trust).
pub const SHAREEXEC_TRUST_WITH_DEFAULT: u32 = 0;
/// `shareexec_config.trust_mode`: the callback alone replaces the signer policy (with no
/// callback, nothing is trusted: every completed sequence alerts).
pub const SHAREEXEC_TRUST_REPLACE_DEFAULT: u32 = 1;

/// A trust policy written in C, asked about each execution that completes a sequence.
///
/// - `user_data` is `shareexec_config.trust_user_data`, passed through untouched.
/// - `event` is a view of the execution, valid only during the call. Its strings are
///   NUL-terminated copies (see `shareexec_str`).
/// - Return nonzero to trust the execution (the sequence becomes a suppression, not an
///   alert), 0 otherwise. When trusting, you may set `*reason` (it starts missing) to a
///   UTF-8 text saying why; the library copies it right after the callback returns, so it
///   may point to a static string or to memory owned by `user_data`, but not to the
///   callback's own stack. A missing reason becomes "trusted by the embedder's policy";
///   invalid UTF-8 is replaced with U+FFFD; more than `SHAREEXEC_MAX_STRING_BYTES` is cut.
///
/// The callback runs on the thread that fed the event (during `feed_*`, `advance` or
/// `flush`). It must be pure (the same event gets the same answer), must not call any
/// function on the same handle (it gets `SHAREEXEC_BUSY`), and must not unwind (no C++
/// exception, no `longjmp` out of it): that aborts the process.
pub type shareexec_trust_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        event: *const shareexec_process_event,
        reason: *mut shareexec_str,
    ) -> i32,
>;

/// How to build a detector. Zero means "the default" in every field, so `{0}` (or a NULL
/// pointer to `shareexec_detector_new`) is the default configuration.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_config {
    /// `SHAREEXEC_SEMANTICS_*`.
    pub semantics: u32,
    /// `SHAREEXEC_TRUST_*`: how `trust_callback` combines with the signer policy.
    pub trust_mode: u32,
    /// A trust policy in C, or NULL.
    pub trust_callback: shareexec_trust_fn,
    /// Passed to `trust_callback` untouched; must stay valid until the handle is freed.
    pub trust_user_data: *mut c_void,
    /// How far behind its host's newest timestamp an event may arrive and still be
    /// ordered exactly, in nanoseconds (0: arrival order, no delay). Must not be negative.
    pub max_lateness_ns: i64,
    /// Idle-host timeout in nanoseconds (0: 600 s); must exceed 60 s + max lateness.
    pub idle_host_timeout_ns: i64,
    /// Most pending writes across all hosts (0: 500 000).
    pub max_pending: usize,
    /// Most pending writes of one host (0: 10 000).
    pub max_pending_per_host: usize,
    /// Most bytes of strings held by pending writes (0: 48 MiB).
    pub max_pending_bytes: usize,
    /// Most events held in the reorder buffer (0: 100 000).
    pub max_buffered: usize,
    /// Most bytes held by the reorder buffer (0: 48 MiB).
    pub max_buffered_bytes: usize,
    /// Most hosts tracked at once (0: 100 000).
    pub max_hosts: usize,
    /// Events between two idle-host sweeps (0: 65 536).
    pub sweep_interval: u64,
    /// Nonzero: use `hash_seed` as the hash tables' key. Zero: a random key.
    pub has_hash_seed: u8,
    /// The hash key when `has_hash_seed` is nonzero (keep it secret).
    pub hash_seed: u64,
    /// The input name written as `events[].source` in verdict JSON (missing: `"ffi"`).
    pub source: shareexec_str,
}

/// Time, order and identity of an event (in) or of an event a verdict names (out).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_origin {
    /// `@timestamp`, nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// Nonzero when `sequence` is present.
    pub has_sequence: u8,
    /// `event.sequence`.
    pub sequence: u64,
    /// `event.id` (or the document id), or missing.
    pub id: shareexec_str,
    /// Your own position for the event (a line number, an offset…), carried into
    /// verdicts untouched; verdict JSON writes it as `events[].line`.
    pub position: u64,
}

/// `file.hash.*` or `process.hash.*`: carried into alerts.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_hashes {
    /// `sha256`.
    pub sha256: shareexec_str,
    /// `sha1`.
    pub sha1: shareexec_str,
    /// `md5`.
    pub md5: shareexec_str,
}

/// `process.code_signature`; every part may be missing, and missing is not false.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_signature {
    /// Nonzero when `exists` is present.
    pub has_exists: u8,
    /// `exists` (nonzero: true).
    pub exists: u8,
    /// Nonzero when `trusted` is present.
    pub has_trusted: u8,
    /// `trusted` (nonzero: true).
    pub trusted: u8,
    /// `subject_name`.
    pub subject_name: shareexec_str,
    /// `status`.
    pub status: shareexec_str,
}

/// `event.type` `access` (a bit of `types`).
pub const SHAREEXEC_TYPE_ACCESS: u32 = 1 << 0;
/// `event.type` `admin`.
pub const SHAREEXEC_TYPE_ADMIN: u32 = 1 << 1;
/// `event.type` `allowed`.
pub const SHAREEXEC_TYPE_ALLOWED: u32 = 1 << 2;
/// `event.type` `change`: a file was modified (stage 1).
pub const SHAREEXEC_TYPE_CHANGE: u32 = 1 << 3;
/// `event.type` `connection`.
pub const SHAREEXEC_TYPE_CONNECTION: u32 = 1 << 4;
/// `event.type` `creation`: a file was created (stage 1).
pub const SHAREEXEC_TYPE_CREATION: u32 = 1 << 5;
/// `event.type` `deletion`.
pub const SHAREEXEC_TYPE_DELETION: u32 = 1 << 6;
/// `event.type` `denied`.
pub const SHAREEXEC_TYPE_DENIED: u32 = 1 << 7;
/// `event.type` `end`.
pub const SHAREEXEC_TYPE_END: u32 = 1 << 8;
/// `event.type` `error`.
pub const SHAREEXEC_TYPE_ERROR: u32 = 1 << 9;
/// `event.type` `group`.
pub const SHAREEXEC_TYPE_GROUP: u32 = 1 << 10;
/// `event.type` `info`.
pub const SHAREEXEC_TYPE_INFO: u32 = 1 << 11;
/// `event.type` `installation`.
pub const SHAREEXEC_TYPE_INSTALLATION: u32 = 1 << 12;
/// `event.type` `protocol`.
pub const SHAREEXEC_TYPE_PROTOCOL: u32 = 1 << 13;
/// `event.type` `start`: a process started (stage 2).
pub const SHAREEXEC_TYPE_START: u32 = 1 << 14;
/// `event.type` `user`.
pub const SHAREEXEC_TYPE_USER: u32 = 1 << 15;

const TYPES: [(u32, EventTypes); 16] = [
    (SHAREEXEC_TYPE_ACCESS, EventTypes::ACCESS),
    (SHAREEXEC_TYPE_ADMIN, EventTypes::ADMIN),
    (SHAREEXEC_TYPE_ALLOWED, EventTypes::ALLOWED),
    (SHAREEXEC_TYPE_CHANGE, EventTypes::CHANGE),
    (SHAREEXEC_TYPE_CONNECTION, EventTypes::CONNECTION),
    (SHAREEXEC_TYPE_CREATION, EventTypes::CREATION),
    (SHAREEXEC_TYPE_DELETION, EventTypes::DELETION),
    (SHAREEXEC_TYPE_DENIED, EventTypes::DENIED),
    (SHAREEXEC_TYPE_END, EventTypes::END),
    (SHAREEXEC_TYPE_ERROR, EventTypes::ERROR),
    (SHAREEXEC_TYPE_GROUP, EventTypes::GROUP),
    (SHAREEXEC_TYPE_INFO, EventTypes::INFO),
    (SHAREEXEC_TYPE_INSTALLATION, EventTypes::INSTALLATION),
    (SHAREEXEC_TYPE_PROTOCOL, EventTypes::PROTOCOL),
    (SHAREEXEC_TYPE_START, EventTypes::START),
    (SHAREEXEC_TYPE_USER, EventTypes::USER),
];

fn types_from_bits(bits: u32) -> EventTypes {
    // Unknown bits are ignored, as unknown `event.type` names are: they match nothing.
    TYPES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .fold(EventTypes::NONE, |acc, (_, t)| acc | *t)
}

fn types_to_bits(types: EventTypes) -> u32 {
    TYPES
        .iter()
        .filter(|(_, t)| types.intersects(*t))
        .fold(0, |acc, (bit, _)| acc | bit)
}

/// A file event (ECS `event.category: file`), the stage-1 candidate. Zero-initialise it
/// (`= {0}`): every string is then missing and every flag clear.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_file_event {
    /// Time, sequence, id and your position.
    pub origin: shareexec_origin,
    /// `host.id`: half of the join key (missing never joins).
    pub host_id: shareexec_str,
    /// `host.os.type`: must be `windows`.
    pub os_type: shareexec_str,
    /// `event.type` as a set of `SHAREEXEC_TYPE_*` bits (must hold CREATION or CHANGE).
    pub types: u32,
    /// Nonzero when `pid` is present.
    pub has_pid: u8,
    /// `process.pid` of the writer (4, the System process, for an SMB write).
    pub pid: i64,
    /// `file.path`: the other half of the join key (missing never joins).
    pub path: shareexec_str,
    /// `file.extension`, without the dot.
    pub extension: shareexec_str,
    /// `file.Ext.header_bytes` as hex (`4d5a…` is an MZ header).
    pub header_bytes: shareexec_str,
    /// `file.hash.*`.
    pub hash: shareexec_hashes,
}

/// A process event (ECS `event.category: process`), the stage-2 candidate. Zero-initialise
/// it (`= {0}`): every string is then missing and every flag clear.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_process_event {
    /// Time, sequence, id and your position.
    pub origin: shareexec_origin,
    /// `host.id`: half of the join key (missing never joins).
    pub host_id: shareexec_str,
    /// `host.os.type`: must be `windows`.
    pub os_type: shareexec_str,
    /// `event.type` as a set of `SHAREEXEC_TYPE_*` bits (must hold START).
    pub types: u32,
    /// `process.executable`: the other half of the join key (missing never joins).
    pub executable: shareexec_str,
    /// Nonzero when `pid` is present.
    pub has_pid: u8,
    /// `process.pid`.
    pub pid: i64,
    /// `process.code_signature`, which the trust policy judges.
    pub code_signature: shareexec_signature,
    /// `process.hash.*`.
    pub hash: shareexec_hashes,
}

/// `shareexec_verdict.kind`: no verdict (the struct is zeroed).
pub const SHAREEXEC_VERDICT_NONE: u32 = 0;
/// `shareexec_verdict.kind`: a sequence matched; raise an alert.
pub const SHAREEXEC_VERDICT_ALERT: u32 = 1;
/// `shareexec_verdict.kind`: a sequence matched but the trust policy vouched for the
/// execution; `reason` says why.
pub const SHAREEXEC_VERDICT_SUPPRESSED: u32 = 2;
/// `shareexec_verdict.kind`: a candidate event arrived more than the lateness behind its
/// host's newest timestamp; it was still used (see the `late_*` fields).
pub const SHAREEXEC_VERDICT_LATE: u32 = 3;

/// `shareexec_verdict.late_stage`: the late event was a write candidate.
pub const SHAREEXEC_STAGE_WRITE: u32 = 1;
/// `shareexec_verdict.late_stage`: the late event was an execution candidate.
pub const SHAREEXEC_STAGE_EXECUTION: u32 = 2;

/// One verdict, as borrowed views.
///
/// Filled by `shareexec_detector_poll`. Every string points into the handle and stays
/// valid until the next `shareexec_detector_poll` on the same handle or its
/// `shareexec_detector_free`, whichever comes first; copy what you keep longer. Fields
/// that do not apply to the `kind` are zero / missing.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct shareexec_verdict {
    /// `SHAREEXEC_VERDICT_*`.
    pub kind: u32,
    /// `host.id` (all kinds).
    pub host_id: shareexec_str,
    /// ALERT, SUPPRESSED: deterministic alert id (the same events always give the same id).
    pub alert_id: u64,
    /// ALERT, SUPPRESSED: `file.path` of the write.
    pub path: shareexec_str,
    /// ALERT, SUPPRESSED: `process.executable` of the execution.
    pub executable: shareexec_str,
    /// ALERT, SUPPRESSED: the write (stage 1).
    pub write: shareexec_origin,
    /// ALERT, SUPPRESSED: the execution (stage 2).
    pub execution: shareexec_origin,
    /// ALERT, SUPPRESSED: nonzero when `pid` is present.
    pub has_pid: u8,
    /// ALERT, SUPPRESSED: `process.pid` of the execution.
    pub pid: i64,
    /// ALERT, SUPPRESSED: `process.code_signature` of the execution.
    pub code_signature: shareexec_signature,
    /// ALERT, SUPPRESSED: `file.hash.*` of the write.
    pub file_hash: shareexec_hashes,
    /// ALERT, SUPPRESSED: `process.hash.*` of the execution.
    pub process_hash: shareexec_hashes,
    /// ALERT, SUPPRESSED: execution time minus write time, nanoseconds.
    pub span_ns: i64,
    /// SUPPRESSED: why the policy trusted the execution.
    pub reason: shareexec_str,
    /// LATE: `SHAREEXEC_STAGE_*`.
    pub late_stage: u32,
    /// LATE: the event.
    pub late_event: shareexec_origin,
    /// LATE: how far behind its host's clock it arrived (`Late::behind`), nanoseconds.
    pub late_behind_ns: i64,
}

/// Counters and gauges (`Stats` in Rust). Totals only grow; `pending`, `buffered` and
/// `hosts` are current values.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct shareexec_stats {
    /// Events handed to the detector.
    pub events: u64,
    /// Stage-1 candidates.
    pub writes: u64,
    /// Stage-2 candidates.
    pub executions: u64,
    /// Candidates without a join key (a null key never joins).
    pub unkeyed: u64,
    /// Sequences that alerted.
    pub alerts: u64,
    /// Sequences the trust policy suppressed.
    pub suppressed: u64,
    /// Pending writes released because their maxspan passed.
    pub expired: u64,
    /// Pending writes dropped to stay within the caps.
    pub evicted: u64,
    /// Pending writes released by the idle-host sweep.
    pub swept: u64,
    /// Candidates that arrived later than the lateness.
    pub late: u64,
    /// Buffered events released early because the reorder buffer was full.
    pub forced: u64,
    /// Writes pending now.
    pub pending: u64,
    /// Events held in the reorder buffer now.
    pub buffered: u64,
    /// Hosts tracked now.
    pub hosts: u64,
}

// ---------------------------------------------------------------------------------------
// Strings handed to C: NUL-terminated copies in a per-handle arena.

#[derive(Clone, Copy)]
struct Slot {
    offset: usize,
    len: usize,
    present: bool,
}

/// Copies strings into one buffer, each followed by a NUL; views are taken once all are
/// in (so the buffer no longer moves).
fn put(arena: &mut Vec<u8>, s: Option<&str>) -> Slot {
    match s {
        None => Slot {
            offset: 0,
            len: 0,
            present: false,
        },
        Some(s) => {
            let offset = arena.len();
            arena.extend_from_slice(s.as_bytes());
            arena.push(0);
            Slot {
                offset,
                len: s.len(),
                present: true,
            }
        }
    }
}

fn view(arena: &[u8], slot: Slot) -> shareexec_str {
    if slot.present {
        shareexec_str {
            ptr: arena.as_ptr().wrapping_add(slot.offset).cast(),
            len: slot.len,
        }
    } else {
        shareexec_str::MISSING
    }
}

struct OriginSlots {
    timestamp_ns: i64,
    sequence: Option<u64>,
    id: Slot,
    position: u64,
}

impl OriginSlots {
    fn put(arena: &mut Vec<u8>, e: &EventRef) -> Self {
        OriginSlots {
            timestamp_ns: e.timestamp.as_nanos(),
            sequence: e.sequence,
            id: put(arena, e.id.as_deref()),
            position: e.position,
        }
    }
    fn view(&self, arena: &[u8]) -> shareexec_origin {
        shareexec_origin {
            timestamp_ns: self.timestamp_ns,
            has_sequence: self.sequence.is_some().into(),
            sequence: self.sequence.unwrap_or(0),
            id: view(arena, self.id),
            position: self.position,
        }
    }
}

struct SignatureSlots {
    exists: Option<bool>,
    trusted: Option<bool>,
    subject_name: Slot,
    status: Slot,
}

impl SignatureSlots {
    fn put(arena: &mut Vec<u8>, s: &CodeSignature<'_>) -> Self {
        SignatureSlots {
            exists: s.exists,
            trusted: s.trusted,
            subject_name: put(arena, s.subject_name),
            status: put(arena, s.status),
        }
    }
    fn view(&self, arena: &[u8]) -> shareexec_signature {
        shareexec_signature {
            has_exists: self.exists.is_some().into(),
            exists: self.exists.unwrap_or(false).into(),
            has_trusted: self.trusted.is_some().into(),
            trusted: self.trusted.unwrap_or(false).into(),
            subject_name: view(arena, self.subject_name),
            status: view(arena, self.status),
        }
    }
}

struct HashSlots([Slot; 3]);

impl HashSlots {
    fn put(arena: &mut Vec<u8>, h: &Hashes<'_>) -> Self {
        HashSlots([put(arena, h.sha256), put(arena, h.sha1), put(arena, h.md5)])
    }
    fn view(&self, arena: &[u8]) -> shareexec_hashes {
        shareexec_hashes {
            sha256: view(arena, self.0[0]),
            sha1: view(arena, self.0[1]),
            md5: view(arena, self.0[2]),
        }
    }
}

fn borrow_hashes(h: &OwnedHashes) -> Hashes<'_> {
    Hashes {
        sha256: h.sha256.as_deref(),
        sha1: h.sha1.as_deref(),
        md5: h.md5.as_deref(),
    }
}

fn borrow_signature(s: &Signature) -> CodeSignature<'_> {
    CodeSignature {
        exists: s.exists,
        trusted: s.trusted,
        subject_name: s.subject_name.as_deref(),
        status: s.status.as_deref(),
    }
}

const NO_ORIGIN: shareexec_origin = shareexec_origin {
    timestamp_ns: 0,
    has_sequence: 0,
    sequence: 0,
    id: shareexec_str::MISSING,
    position: 0,
};
const NO_HASHES: shareexec_hashes = shareexec_hashes {
    sha256: shareexec_str::MISSING,
    sha1: shareexec_str::MISSING,
    md5: shareexec_str::MISSING,
};
const NO_SIGNATURE: shareexec_signature = shareexec_signature {
    has_exists: 0,
    exists: 0,
    has_trusted: 0,
    trusted: 0,
    subject_name: shareexec_str::MISSING,
    status: shareexec_str::MISSING,
};
const NO_VERDICT: shareexec_verdict = shareexec_verdict {
    kind: SHAREEXEC_VERDICT_NONE,
    host_id: shareexec_str::MISSING,
    alert_id: 0,
    path: shareexec_str::MISSING,
    executable: shareexec_str::MISSING,
    write: NO_ORIGIN,
    execution: NO_ORIGIN,
    has_pid: 0,
    pid: 0,
    code_signature: NO_SIGNATURE,
    file_hash: NO_HASHES,
    process_hash: NO_HASHES,
    span_ns: 0,
    reason: shareexec_str::MISSING,
    late_stage: 0,
    late_event: NO_ORIGIN,
    late_behind_ns: 0,
};

fn sequence_view(
    arena: &mut Vec<u8>,
    kind: u32,
    s: &Sequence,
    reason: Option<&str>,
) -> shareexec_verdict {
    arena.clear();
    let host = put(arena, Some(&s.host_id));
    let path = put(arena, Some(&s.path));
    let exe = put(arena, Some(&s.executable));
    let write = OriginSlots::put(arena, &s.write);
    let execution = OriginSlots::put(arena, &s.execution);
    let sig = SignatureSlots::put(arena, &borrow_signature(&s.code_signature));
    let file_hash = HashSlots::put(arena, &borrow_hashes(&s.file_hash));
    let process_hash = HashSlots::put(arena, &borrow_hashes(&s.process_hash));
    let reason = put(arena, reason);
    let a: &[u8] = arena;
    shareexec_verdict {
        kind,
        host_id: view(a, host),
        alert_id: s.id.0,
        path: view(a, path),
        executable: view(a, exe),
        write: write.view(a),
        execution: execution.view(a),
        has_pid: s.pid.is_some().into(),
        pid: s.pid.unwrap_or(0),
        code_signature: sig.view(a),
        file_hash: file_hash.view(a),
        process_hash: process_hash.view(a),
        span_ns: s.span.as_nanos(),
        reason: view(a, reason),
        ..NO_VERDICT
    }
}

fn verdict_view(arena: &mut Vec<u8>, v: &Verdict) -> shareexec_verdict {
    match v {
        Verdict::Alert(s) => sequence_view(arena, SHAREEXEC_VERDICT_ALERT, s, None),
        Verdict::Suppressed(s) => sequence_view(
            arena,
            SHAREEXEC_VERDICT_SUPPRESSED,
            &s.sequence,
            Some(s.reason.as_str()),
        ),
        Verdict::Late(l) => {
            arena.clear();
            let host = put(arena, Some(&l.host_id));
            let event = OriginSlots::put(arena, &l.event);
            let a: &[u8] = arena;
            shareexec_verdict {
                kind: SHAREEXEC_VERDICT_LATE,
                host_id: view(a, host),
                late_stage: match l.stage {
                    Stage::Write => SHAREEXEC_STAGE_WRITE,
                    _ => SHAREEXEC_STAGE_EXECUTION,
                },
                late_event: event.view(a),
                late_behind_ns: l.behind.as_nanos(),
                ..NO_VERDICT
            }
        }
    }
}

fn process_view(arena: &mut Vec<u8>, p: &ProcessEvent<'_>) -> shareexec_process_event {
    arena.clear();
    let id = put(arena, p.origin.id);
    let host = put(arena, p.host_id);
    let os = put(arena, p.os_type);
    let exe = put(arena, p.executable);
    let sig = SignatureSlots::put(arena, &p.code_signature);
    let hash = HashSlots::put(arena, &p.hash);
    let a: &[u8] = arena;
    shareexec_process_event {
        origin: shareexec_origin {
            timestamp_ns: p.origin.timestamp.as_nanos(),
            has_sequence: p.origin.sequence.is_some().into(),
            sequence: p.origin.sequence.unwrap_or(0),
            id: view(a, id),
            position: p.origin.position,
        },
        host_id: view(a, host),
        os_type: view(a, os),
        types: types_to_bits(p.types),
        executable: view(a, exe),
        has_pid: p.pid.is_some().into(),
        pid: p.pid.unwrap_or(0),
        code_signature: sig.view(a),
        hash: hash.view(a),
    }
}

// ---------------------------------------------------------------------------------------
// Reading what C gives.

/// A failed call: its code and the handle's last-error message.
struct Fail {
    code: shareexec_result,
    message: String,
}

impl Fail {
    fn new(code: shareexec_result, message: impl Into<String>) -> Self {
        Fail {
            code,
            message: message.into(),
        }
    }
}

/// Checks that `ptr` is non-NULL and aligned for `T`.
fn check_ptr<T>(ptr: *const T, name: &str) -> Result<(), Fail> {
    if ptr.is_null() {
        Err(Fail::new(
            SHAREEXEC_NULL_ARGUMENT,
            format!("{name} is NULL"),
        ))
    } else if !ptr.is_aligned() {
        Err(Fail::new(
            SHAREEXEC_MISALIGNED_ARGUMENT,
            format!("{name} is misaligned"),
        ))
    } else {
        Ok(())
    }
}

/// Reads a string the caller gave.
///
/// # Safety
/// Unless `s.ptr` is NULL, `s.ptr` must point to `s.len` readable bytes for `'a` (checked:
/// `s.len` is at most `SHAREEXEC_MAX_STRING_BYTES`).
unsafe fn read_str<'a>(s: shareexec_str, field: &str) -> Result<Option<&'a str>, Fail> {
    if s.ptr.is_null() {
        return Ok(None);
    }
    if s.len > SHAREEXEC_MAX_STRING_BYTES {
        return Err(Fail::new(
            SHAREEXEC_TOO_LARGE,
            format!(
                "{field} is {} bytes, more than SHAREEXEC_MAX_STRING_BYTES ({SHAREEXEC_MAX_STRING_BYTES})",
                s.len
            ),
        ));
    }
    // SAFETY: the caller's contract (above); u8 needs no alignment, and len is bounded
    // far below isize::MAX.
    let bytes = unsafe { core::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len) };
    core::str::from_utf8(bytes).map(Some).map_err(|e| {
        Fail::new(
            SHAREEXEC_INVALID_UTF8,
            format!(
                "{field} is not valid UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

fn flag(b: u8) -> bool {
    b != 0
}

fn opt<T>(present: u8, value: T) -> Option<T> {
    flag(present).then_some(value)
}

/// # Safety
/// The strings of `o` must satisfy [`read_str`]'s contract.
unsafe fn read_origin<'a>(o: &shareexec_origin, what: &str) -> Result<Origin<'a>, Fail> {
    Ok(Origin {
        timestamp: Timestamp::from_nanos(o.timestamp_ns),
        sequence: opt(o.has_sequence, o.sequence),
        // SAFETY: forwarded contract.
        id: unsafe { read_str(o.id, &format!("{what}.origin.id"))? },
        position: o.position,
    })
}

/// # Safety
/// The strings of `h` must satisfy [`read_str`]'s contract.
unsafe fn read_hashes<'a>(h: &shareexec_hashes, what: &str) -> Result<Hashes<'a>, Fail> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok(Hashes {
            sha256: read_str(h.sha256, &format!("{what}.sha256"))?,
            sha1: read_str(h.sha1, &format!("{what}.sha1"))?,
            md5: read_str(h.md5, &format!("{what}.md5"))?,
        })
    }
}

/// # Safety
/// The strings of `e` must satisfy [`read_str`]'s contract.
unsafe fn read_file_event<'a>(e: &shareexec_file_event) -> Result<FileEvent<'a>, Fail> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok(FileEvent {
            origin: read_origin(&e.origin, "file_event")?,
            host_id: read_str(e.host_id, "file_event.host_id")?,
            os_type: read_str(e.os_type, "file_event.os_type")?,
            types: types_from_bits(e.types),
            pid: opt(e.has_pid, e.pid),
            path: read_str(e.path, "file_event.path")?,
            extension: read_str(e.extension, "file_event.extension")?,
            header_bytes: read_str(e.header_bytes, "file_event.header_bytes")?,
            hash: read_hashes(&e.hash, "file_event.hash")?,
        })
    }
}

/// # Safety
/// The strings of `e` must satisfy [`read_str`]'s contract.
unsafe fn read_process_event<'a>(e: &shareexec_process_event) -> Result<ProcessEvent<'a>, Fail> {
    let s = &e.code_signature;
    // SAFETY: forwarded contract.
    unsafe {
        Ok(ProcessEvent {
            origin: read_origin(&e.origin, "process_event")?,
            host_id: read_str(e.host_id, "process_event.host_id")?,
            os_type: read_str(e.os_type, "process_event.os_type")?,
            types: types_from_bits(e.types),
            executable: read_str(e.executable, "process_event.executable")?,
            pid: opt(e.has_pid, e.pid),
            code_signature: CodeSignature {
                exists: opt(s.has_exists, flag(s.exists)),
                trusted: opt(s.has_trusted, flag(s.trusted)),
                subject_name: read_str(
                    s.subject_name,
                    "process_event.code_signature.subject_name",
                )?,
                status: read_str(s.status, "process_event.code_signature.status")?,
            },
            hash: read_hashes(&e.hash, "process_event.hash")?,
        })
    }
}

// ---------------------------------------------------------------------------------------
// The trust policy.

struct CallbackPolicy {
    callback: unsafe extern "C" fn(
        *mut c_void,
        *const shareexec_process_event,
        *mut shareexec_str,
    ) -> i32,
    user_data: *mut c_void,
    scratch: RefCell<Vec<u8>>,
}

impl TrustPolicy for CallbackPolicy {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        // The handle is locked during the call, so the policy is never re-entered.
        let mut scratch = self.scratch.try_borrow_mut().ok()?;
        let event = process_view(&mut scratch, process);
        let mut reason = shareexec_str::MISSING;
        // SAFETY: the embedder gave this function pointer and user data for this purpose;
        // `event` and `reason` live across the call.
        let trusted = unsafe { (self.callback)(self.user_data, &event, &mut reason) } != 0;
        if !trusted {
            return None;
        }
        let text = if reason.ptr.is_null() {
            String::from("trusted by the embedder's policy")
        } else {
            let len = reason.len.min(SHAREEXEC_MAX_STRING_BYTES);
            // SAFETY: the callback's contract: `reason` points to `len` readable bytes
            // until we copy them, now.
            let bytes = unsafe { core::slice::from_raw_parts(reason.ptr.cast::<u8>(), len) };
            String::from_utf8_lossy(bytes).into_owned()
        };
        Some(TrustReason::new(text))
    }
}

/// The signer policy of the semantics, the C callback, or both.
struct FfiPolicy {
    signer: Option<SignerPolicy>,
    callback: Option<CallbackPolicy>,
}

impl TrustPolicy for FfiPolicy {
    fn assess(&self, process: &ProcessEvent<'_>) -> Option<TrustReason> {
        self.signer
            .as_ref()
            .and_then(|s| s.assess(process))
            .or_else(|| self.callback.as_ref().and_then(|c| c.assess(process)))
    }
}

// ---------------------------------------------------------------------------------------
// The handle.

const IDLE: u8 = 0;
const BUSY: u8 = 1;
const POISONED: u8 = 2;

/// An opaque detector: create it with `shareexec_detector_new` (or `_restore`),
/// free it with `shareexec_detector_free`.
///
/// One handle may be used from any thread, one call at a time: a call that overlaps
/// another on the same handle (concurrent, or from inside the trust callback) returns
/// `SHAREEXEC_BUSY` and does nothing. Different handles are independent.
pub struct shareexec_detector {
    state: AtomicU8,
    inner: UnsafeCell<Inner>,
}

struct Inner {
    detector: Detector<FfiPolicy>,
    semantics: Semantics,
    source: Box<str>,
    /// The verdict the last poll returned, which its views borrow from.
    current: Option<Verdict>,
    /// Its JSON, made on first request.
    json: Option<String>,
    /// The strings of the current verdict's views.
    arena: Vec<u8>,
    /// The last call's error message, NUL-terminated (just a NUL after success).
    error: Vec<u8>,
}

impl Inner {
    fn set_error(&mut self, message: &str) {
        self.error.clear();
        self.error
            .extend(message.bytes().map(|b| if b == 0 { b'?' } else { b }));
        self.error.push(0);
    }
}

/// Runs `f`, turning a panic into `on_panic`.
fn boundary<R>(on_panic: R, f: impl FnOnce() -> R) -> R {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(on_panic)
}

/// Locks the handle, runs `f` on its state, records the outcome as the last error, and
/// unlocks it (or poisons it if `f` panicked).
///
/// # Safety
/// `handle` must be NULL or a live handle from `shareexec_detector_new` or `_restore`.
unsafe fn with_handle(
    handle: *const shareexec_detector,
    f: impl FnOnce(&mut Inner) -> Result<shareexec_result, Fail>,
) -> shareexec_result {
    if handle.is_null() {
        return SHAREEXEC_NULL_ARGUMENT;
    }
    if !handle.is_aligned() {
        return SHAREEXEC_MISALIGNED_ARGUMENT;
    }
    // SAFETY: the caller's contract; only shared references to the handle are ever made.
    let h = unsafe { &*handle };
    match h
        .state
        .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Acquire)
    {
        Ok(_) => {}
        Err(POISONED) => return SHAREEXEC_POISONED,
        Err(_) => return SHAREEXEC_BUSY,
    }
    // SAFETY: the state lock gives this call exclusive access until it is released.
    let inner = unsafe { &mut *h.inner.get() };
    let outcome = catch_unwind(AssertUnwindSafe(|| match f(inner) {
        Ok(code) => {
            inner.set_error("");
            code
        }
        Err(fail) => {
            inner.set_error(&fail.message);
            fail.code
        }
    }));
    match outcome {
        Ok(code) => {
            h.state.store(IDLE, Ordering::Release);
            code
        }
        Err(_) => {
            h.state.store(POISONED, Ordering::Release);
            SHAREEXEC_PANIC
        }
    }
}

/// Builds a handle's state from `config`: a fresh detector, or one restoring `snapshot`.
fn build_inner(config: &shareexec_config, snapshot: Option<&[u8]>) -> Result<Inner, Fail> {
    let semantics = match config.semantics {
        SHAREEXEC_SEMANTICS_DEFAULT | SHAREEXEC_SEMANTICS_HARDENED => Semantics::Hardened,
        SHAREEXEC_SEMANTICS_ELASTICSEARCH => Semantics::Elasticsearch,
        other => {
            return Err(Fail::new(
                SHAREEXEC_INVALID_CONFIG,
                format!("unknown semantics {other}"),
            ));
        }
    };
    let callback = config.trust_callback.map(|callback| CallbackPolicy {
        callback,
        user_data: config.trust_user_data,
        scratch: RefCell::new(Vec::new()),
    });
    let signer = match config.trust_mode {
        SHAREEXEC_TRUST_WITH_DEFAULT => Some(match semantics {
            Semantics::Elasticsearch => SignerPolicy::elastic_rule(),
            _ => SignerPolicy::recommended(),
        }),
        SHAREEXEC_TRUST_REPLACE_DEFAULT => None,
        other => {
            return Err(Fail::new(
                SHAREEXEC_INVALID_CONFIG,
                format!("unknown trust mode {other}"),
            ));
        }
    };
    let mut c = Config::default();
    let or = |v: usize, d: usize| if v == 0 { d } else { v };
    c.max_lateness = Span::from_nanos(config.max_lateness_ns);
    if config.idle_host_timeout_ns != 0 {
        c.idle_host_timeout = Span::from_nanos(config.idle_host_timeout_ns);
    }
    c.max_pending = or(config.max_pending, c.max_pending);
    c.max_pending_per_host = or(config.max_pending_per_host, c.max_pending_per_host);
    c.max_pending_bytes = or(config.max_pending_bytes, c.max_pending_bytes);
    c.max_buffered = or(config.max_buffered, c.max_buffered);
    c.max_buffered_bytes = or(config.max_buffered_bytes, c.max_buffered_bytes);
    c.max_hosts = or(config.max_hosts, c.max_hosts);
    if config.sweep_interval != 0 {
        c.sweep_interval = config.sweep_interval;
    }
    c.hash_seed = opt(config.has_hash_seed, config.hash_seed);
    // SAFETY: the caller's contract on `config.source`.
    let source = unsafe { read_str(config.source, "config.source")? }.unwrap_or("ffi");
    let rule = Rule::with_policy(semantics, FfiPolicy { signer, callback });
    // The rule is not shared: each handle owns its own (the C callback's user data makes
    // it neither Send nor Sync in Rust's terms; docs/ffi.md states the C-side contract).
    #[allow(clippy::arc_with_non_send_sync)]
    let rule = Arc::new(rule);
    let detector = match snapshot {
        None => Detector::new(rule, c)
            .map_err(|e| Fail::new(SHAREEXEC_INVALID_CONFIG, e.to_string()))?,
        Some(bytes) => Detector::restore(rule, c, bytes).map_err(|e| match e {
            SnapshotError::Config(e) => Fail::new(SHAREEXEC_INVALID_CONFIG, e.to_string()),
            e => Fail::new(SHAREEXEC_SNAPSHOT_ERROR, e.to_string()),
        })?,
    };
    Ok(Inner {
        detector,
        semantics,
        source: source.into(),
        current: None,
        json: None,
        arena: Vec::new(),
        error: Vec::from([0]),
    })
}

/// Creates a detector.
///
/// `config` may be NULL for the defaults (hardened semantics, the recommended trust list,
/// no lateness, default caps). On success `*out` is the new handle; on failure it is set
/// to NULL and the result says why (`SHAREEXEC_INVALID_CONFIG`, `SHAREEXEC_INVALID_UTF8`
/// for `config->source`…).
///
/// # Safety
/// `config` is NULL or points to a readable `shareexec_config` whose `source` satisfies
/// the `shareexec_str` contract; `out` is NULL (refused) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_new(
    config: *const shareexec_config,
    out: *mut *mut shareexec_detector,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    boundary(SHAREEXEC_PANIC, || unsafe { create(config, out, None) })
}

/// Creates a detector holding the state of a snapshot made by
/// `shareexec_detector_snapshot`: `len` bytes at `bytes`, only read during the call.
///
/// `config` is handled exactly as by `shareexec_detector_new` (NULL for the defaults).
/// The semantics must be the snapshot's, and the caps must hold its state; the other
/// settings (trust policy, lateness, caps, source…) may differ from the snapshotted
/// detector's and apply from now on. The hash seed is not part of a snapshot.
///
/// On success `*out` is the new handle; on failure it is set to NULL and the result says
/// why: `SHAREEXEC_SNAPSHOT_ERROR` when the bytes are corrupted, truncated, not a
/// shareexec snapshot, of another format version, taken under other semantics, or hold
/// more than the caps allow; `SHAREEXEC_TOO_LARGE` when `len` is over
/// `SHAREEXEC_MAX_SNAPSHOT_BYTES`; `SHAREEXEC_INVALID_CONFIG` and the like as for
/// `shareexec_detector_new`. There is no handle to carry a message on failure, so no
/// more detailed text is available than `shareexec_result_describe()`.
///
/// # Safety
/// As `shareexec_detector_new`; `bytes` is NULL (refused) or points to `len` readable
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_restore(
    config: *const shareexec_config,
    bytes: *const u8,
    len: usize,
    out: *mut *mut shareexec_detector,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    boundary(SHAREEXEC_PANIC, || unsafe {
        create(config, out, Some((bytes, len)))
    })
}

/// `shareexec_detector_new` (no snapshot) and `shareexec_detector_restore`.
///
/// # Safety
/// Their contracts.
unsafe fn create(
    config: *const shareexec_config,
    out: *mut *mut shareexec_detector,
    snapshot: Option<(*const u8, usize)>,
) -> shareexec_result {
    if let Err(fail) = check_ptr(out, "out") {
        return fail.code;
    }
    // SAFETY: checked non-NULL and aligned; the caller's contract.
    unsafe { out.write(core::ptr::null_mut()) };
    let config = if config.is_null() {
        DEFAULT_CONFIG
    } else if !config.is_aligned() {
        return SHAREEXEC_MISALIGNED_ARGUMENT;
    } else {
        // SAFETY: the caller's contract; every bit pattern is a valid config.
        unsafe { config.read() }
    };
    let snapshot = match snapshot {
        None => None,
        Some((bytes, len)) => {
            if let Err(fail) = check_ptr(bytes, "bytes") {
                return fail.code;
            }
            if len > SHAREEXEC_MAX_SNAPSHOT_BYTES {
                return SHAREEXEC_TOO_LARGE;
            }
            // SAFETY: the caller's contract; len is bounded below isize::MAX.
            Some(unsafe { core::slice::from_raw_parts(bytes, len) })
        }
    };
    match build_inner(&config, snapshot) {
        Ok(inner) => {
            let handle = Box::new(shareexec_detector {
                state: AtomicU8::new(IDLE),
                inner: UnsafeCell::new(inner),
            });
            // SAFETY: as above.
            unsafe { out.write(Box::into_raw(handle)) };
            SHAREEXEC_OK
        }
        Err(fail) => fail.code,
    }
}

const DEFAULT_CONFIG: shareexec_config = shareexec_config {
    semantics: 0,
    trust_mode: 0,
    trust_callback: None,
    trust_user_data: core::ptr::null_mut(),
    max_lateness_ns: 0,
    idle_host_timeout_ns: 0,
    max_pending: 0,
    max_pending_per_host: 0,
    max_pending_bytes: 0,
    max_buffered: 0,
    max_buffered_bytes: 0,
    max_hosts: 0,
    sweep_interval: 0,
    has_hash_seed: 0,
    hash_seed: 0,
    source: shareexec_str::MISSING,
};

/// Frees a detector and everything it owns (pending state, queued verdicts, views).
///
/// `shareexec_detector_free(NULL)` does nothing. A call while another call on the same
/// handle is running (from the trust callback or another thread) is ignored (the handle
/// is not freed). Freeing a handle twice, or using it after freeing, cannot be detected
/// and is undefined behaviour: set your pointer to NULL after freeing.
///
/// # Safety
/// `detector` is NULL or a live handle from `shareexec_detector_new` or `_restore`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_free(detector: *mut shareexec_detector) {
    boundary((), || {
        if detector.is_null() || !detector.is_aligned() {
            return;
        }
        // SAFETY: the caller's contract.
        let h = unsafe { &*detector };
        let locked = h
            .state
            .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Acquire)
            .is_ok()
            || h.state
                .compare_exchange(POISONED, BUSY, Ordering::Acquire, Ordering::Acquire)
                .is_ok();
        if locked {
            // SAFETY: made by Box::into_raw in `create`, and locked: no
            // other call is using it.
            drop(unsafe { Box::from_raw(detector) });
        }
    })
}

/// The last call's error message on this handle: NUL-terminated, `""` after a
/// successful call. Valid until the next call on the handle (copy it to keep it). Says
/// what and where for `SHAREEXEC_PARSE_ERROR` ("column 17: …") and which field for
/// `SHAREEXEC_INVALID_UTF8` / `SHAREEXEC_TOO_LARGE`.
///
/// NULL for a NULL handle or one in use by another call; a static text for a poisoned
/// handle. (`SHAREEXEC_BUSY` and `SHAREEXEC_POISONED` results leave no message.)
///
/// # Safety
/// `detector` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_last_error(
    detector: *const shareexec_detector,
) -> *const c_char {
    boundary(core::ptr::null(), || {
        if detector.is_null() || !detector.is_aligned() {
            return core::ptr::null();
        }
        // SAFETY: the caller's contract.
        let h = unsafe { &*detector };
        match h
            .state
            .compare_exchange(IDLE, BUSY, Ordering::Acquire, Ordering::Acquire)
        {
            Ok(_) => {
                // SAFETY: locked; the pointer stays valid until the next call mutates
                // `error`, as documented.
                let ptr = unsafe { (*h.inner.get()).error.as_ptr().cast() };
                h.state.store(IDLE, Ordering::Release);
                ptr
            }
            Err(POISONED) => SHAREEXEC_POISONED.describe().as_ptr(),
            Err(_) => core::ptr::null(),
        }
    })
}

/// Feeds one file event, in arrival order. Follow with `shareexec_detector_poll` until
/// it returns `SHAREEXEC_NO_VERDICT`.
///
/// Fails (feeding nothing) on a NULL or misaligned pointer, a string that is not UTF-8
/// (`SHAREEXEC_INVALID_UTF8`) or longer than `SHAREEXEC_MAX_STRING_BYTES`
/// (`SHAREEXEC_TOO_LARGE`); the last error names the field. The event's strings are only
/// read during the call.
///
/// # Safety
/// `detector` is NULL or a live handle; `event` is NULL or points to a readable
/// `shareexec_file_event` whose non-NULL strings point to `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_feed_file(
    detector: *mut shareexec_detector,
    event: *const shareexec_file_event,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(event, "event")?;
            let event = read_file_event(&*event)?;
            inner.detector.handle(Event::File(event));
            Ok(SHAREEXEC_OK)
        })
    }
}

/// Feeds one process event, in arrival order; as `shareexec_detector_feed_file`. The
/// trust callback, if any, may be called during this call.
///
/// # Safety
/// As `shareexec_detector_feed_file`, with a `shareexec_process_event`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_feed_process(
    detector: *mut shareexec_detector,
    event: *const shareexec_process_event,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(event, "event")?;
            let event = read_process_event(&*event)?;
            inner.detector.handle(Event::Process(event));
            Ok(SHAREEXEC_OK)
        })
    }
}

/// Feeds one Elastic Defend (ECS) NDJSON line: `len` bytes at `line`, without the
/// newline (a trailing `\n` or `\r\n` is accepted too). `position` is your position for
/// it (a line number…), carried into verdicts.
///
/// A blank line is skipped (`SHAREEXEC_OK`). A line that is not UTF-8 gives
/// `SHAREEXEC_INVALID_UTF8`; one that is not a valid ECS document (bad JSON, no
/// `@timestamp`, a field of the wrong type) `SHAREEXEC_PARSE_ERROR`; one longer than
/// `SHAREEXEC_MAX_LINE_BYTES` `SHAREEXEC_TOO_LARGE`. In each case nothing is fed and
/// `shareexec_detector_last_error` says what is wrong and at which column; the detector
/// is unaffected, so go on with the next line. The bytes are only read during the call.
///
/// # Safety
/// `detector` is NULL or a live handle; `line` is NULL (refused) or points to `len`
/// readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_feed_json(
    detector: *mut shareexec_detector,
    line: *const u8,
    len: usize,
    position: u64,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(line, "line")?;
            if len > SHAREEXEC_MAX_LINE_BYTES {
                return Err(Fail::new(
                    SHAREEXEC_TOO_LARGE,
                    format!(
                        "the line is {len} bytes, more than SHAREEXEC_MAX_LINE_BYTES ({SHAREEXEC_MAX_LINE_BYTES})"
                    ),
                ));
            }
            // SAFETY: the caller's contract; len is bounded far below isize::MAX.
            let bytes = core::slice::from_raw_parts(line, len);
            match decode_line(bytes) {
                Ok(None) => Ok(SHAREEXEC_OK),
                Ok(Some(record)) => {
                    for event in record.events(position) {
                        inner.detector.handle(event);
                    }
                    Ok(SHAREEXEC_OK)
                }
                Err(e) => {
                    let code = match e.kind {
                        EcsErrorKind::InvalidUtf8 => SHAREEXEC_INVALID_UTF8,
                        _ => SHAREEXEC_PARSE_ERROR,
                    };
                    Err(Fail::new(code, e.to_string()))
                }
            }
        })
    }
}

/// Takes the oldest verdict not yet taken and describes it in `*out`.
///
/// Returns `SHAREEXEC_OK` with a verdict, or `SHAREEXEC_NO_VERDICT` when there is none
/// (then `*out` is zeroed, `kind == SHAREEXEC_VERDICT_NONE`). The strings in `*out` are
/// borrowed from the handle: valid until the next `shareexec_detector_poll` on it or its
/// `shareexec_detector_free`. The verdict also stays the one `shareexec_detector_verdict_json`
/// renders until then. Call it after every feed, `advance` and `flush` until it returns
/// `SHAREEXEC_NO_VERDICT`: verdicts wait in an unbounded queue until taken.
///
/// # Safety
/// `detector` is NULL or a live handle; `out` is NULL (refused; no verdict is taken) or
/// writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_poll(
    detector: *mut shareexec_detector,
    out: *mut shareexec_verdict,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(out, "out")?;
            inner.json = None;
            inner.current = inner.detector.poll_verdict();
            match &inner.current {
                Some(v) => {
                    out.write(verdict_view(&mut inner.arena, v));
                    Ok(SHAREEXEC_OK)
                }
                None => {
                    inner.arena.clear();
                    out.write(NO_VERDICT);
                    Ok(SHAREEXEC_NO_VERDICT)
                }
            }
        })
    }
}

/// Writes the last polled verdict as one line of ECS JSON (the command line's alert
/// format; positions appear as `events[].line`, `config.source` as `events[].source`)
/// into `buf`, NUL-terminated, and its length without the NUL into `*len`.
///
/// When `cap` is smaller than the length + 1, writes nothing to `buf`, sets `*len` to the
/// length, and returns `SHAREEXEC_BUFFER_TOO_SMALL`: allocate `*len + 1` bytes and call
/// again (the verdict stays current). `buf` may be NULL when `cap` is 0, to ask the size.
/// Returns `SHAREEXEC_NO_VERDICT` if the last poll found none (or there was none yet).
///
/// # Safety
/// `detector` is NULL or a live handle; `buf` points to `cap` writable bytes (or is
/// NULL with `cap == 0`); `len` is NULL (refused) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_verdict_json(
    detector: *mut shareexec_detector,
    buf: *mut c_char,
    cap: usize,
    len: *mut usize,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(len, "len")?;
            if buf.is_null() && cap != 0 {
                return Err(Fail::new(
                    SHAREEXEC_NULL_ARGUMENT,
                    "buf is NULL but cap is not 0",
                ));
            }
            let Some(verdict) = &inner.current else {
                len.write(0);
                return Err(Fail::new(
                    SHAREEXEC_NO_VERDICT,
                    "no current verdict: poll one first",
                ));
            };
            let source = &*inner.source;
            let semantics = inner.semantics;
            let json = inner.json.get_or_insert_with(|| {
                verdict_json(verdict, semantics, &|line| Location { source, line })
            });
            len.write(json.len());
            if cap <= json.len() {
                return Err(Fail::new(
                    SHAREEXEC_BUFFER_TOO_SMALL,
                    format!(
                        "the JSON needs {} bytes with its NUL; cap is {cap}",
                        json.len() + 1
                    ),
                ));
            }
            core::ptr::copy_nonoverlapping(json.as_ptr(), buf.cast::<u8>(), json.len());
            buf.add(json.len()).write(0);
            Ok(SHAREEXEC_OK)
        })
    }
}

/// Writes the detector's whole state (hosts, pending writes, events held for reordering,
/// counters, watermark) as a snapshot into `buf`, and its length into `*len`; give the
/// bytes to `shareexec_detector_restore` to continue the stream, in this process or
/// another, with the same verdicts as if it had not been split. The bytes are a
/// versioned, checksummed binary image (not text, no NUL terminator).
///
/// When `cap` is smaller than the length, writes nothing to `buf`, sets `*len` to the
/// length, and returns `SHAREEXEC_BUFFER_TOO_SMALL`: allocate `*len` bytes and call again
/// (with no call in between that changes the state: feeding, `advance` or `flush`). `buf`
/// may be NULL when `cap` is 0, to ask the size. Each call encodes the state afresh, in
/// time proportional to it.
///
/// Verdicts are not part of the state: while some wait to be polled, returns
/// `SHAREEXEC_SNAPSHOT_ERROR` (`*len` is 0, the last error says how many) and writes
/// nothing; poll until `SHAREEXEC_NO_VERDICT` and call again. Returns
/// `SHAREEXEC_TOO_LARGE` if the snapshot would exceed `SHAREEXEC_MAX_SNAPSHOT_BYTES`
/// (`*len` is its length). The detector is unaffected by the call.
///
/// # Safety
/// `detector` is NULL or a live handle; `buf` points to `cap` writable bytes (or is
/// NULL with `cap == 0`); `len` is NULL (refused) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_snapshot(
    detector: *const shareexec_detector,
    buf: *mut u8,
    cap: usize,
    len: *mut usize,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(len, "len")?;
            if buf.is_null() && cap != 0 {
                return Err(Fail::new(
                    SHAREEXEC_NULL_ARGUMENT,
                    "buf is NULL but cap is not 0",
                ));
            }
            let bytes = match inner.detector.snapshot() {
                Ok(bytes) => bytes,
                Err(e) => {
                    len.write(0);
                    return Err(Fail::new(SHAREEXEC_SNAPSHOT_ERROR, e.to_string()));
                }
            };
            len.write(bytes.len());
            if bytes.len() > SHAREEXEC_MAX_SNAPSHOT_BYTES {
                return Err(Fail::new(
                    SHAREEXEC_TOO_LARGE,
                    format!(
                        "the snapshot is {} bytes, more than SHAREEXEC_MAX_SNAPSHOT_BYTES ({SHAREEXEC_MAX_SNAPSHOT_BYTES})",
                        bytes.len()
                    ),
                ));
            }
            if cap < bytes.len() {
                return Err(Fail::new(
                    SHAREEXEC_BUFFER_TOO_SMALL,
                    format!("the snapshot needs {} bytes; cap is {cap}", bytes.len()),
                ));
            }
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf, bytes.len());
            Ok(SHAREEXEC_OK)
        })
    }
}

/// Copies the counters into `*out`.
///
/// # Safety
/// `detector` is NULL or a live handle; `out` is NULL (refused) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_stats(
    detector: *const shareexec_detector,
    out: *mut shareexec_stats,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(out, "out")?;
            let s = inner.detector.stats();
            out.write(shareexec_stats {
                events: s.events,
                writes: s.writes,
                executions: s.executions,
                unkeyed: s.unkeyed,
                alerts: s.alerts,
                suppressed: s.suppressed,
                expired: s.expired,
                evicted: s.evicted,
                swept: s.swept,
                late: s.late,
                forced: s.forced,
                pending: s.pending,
                buffered: s.buffered,
                hosts: s.hosts,
            });
            Ok(SHAREEXEC_OK)
        })
    }
}

/// Declares that every event up to `watermark_ns` (inclusive, nanoseconds since the
/// epoch) has arrived, for every host: held events up to it are processed and pending
/// writes it puts out of reach expire. Watermarks only move forward (an older one is
/// ignored). Follow with `shareexec_detector_poll`.
///
/// # Safety
/// `detector` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_advance(
    detector: *mut shareexec_detector,
    watermark_ns: i64,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            inner.detector.advance(Timestamp::from_nanos(watermark_ns));
            Ok(SHAREEXEC_OK)
        })
    }
}

/// End of input: processes every event held for reordering (pending writes stay; more
/// input may follow). Follow with `shareexec_detector_poll`.
///
/// # Safety
/// `detector` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_flush(
    detector: *mut shareexec_detector,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            inner.detector.flush();
            Ok(SHAREEXEC_OK)
        })
    }
}

/// The earliest watermark at which `shareexec_detector_advance` would process a held
/// event or expire a pending write, into `*deadline_ns`; `SHAREEXEC_NO_DEADLINE` when
/// nothing waits (`*deadline_ns` is then 0). Costs O(hosts).
///
/// # Safety
/// `detector` is NULL or a live handle; `deadline_ns` is NULL (refused) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn shareexec_detector_next_deadline(
    detector: *const shareexec_detector,
    deadline_ns: *mut i64,
) -> shareexec_result {
    // SAFETY: forwarded contract.
    unsafe {
        with_handle(detector, |inner| {
            check_ptr(deadline_ns, "deadline_ns")?;
            match inner.detector.next_deadline() {
                Some(t) => {
                    deadline_ns.write(t.as_nanos());
                    Ok(SHAREEXEC_OK)
                }
                None => {
                    deadline_ns.write(0);
                    Ok(SHAREEXEC_NO_DEADLINE)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_detector() -> *mut shareexec_detector {
        let mut d = core::ptr::null_mut();
        // SAFETY: valid pointers.
        assert_eq!(
            unsafe { shareexec_detector_new(core::ptr::null(), &mut d) },
            SHAREEXEC_OK
        );
        d
    }

    #[test]
    fn a_panic_is_caught_and_poisons_the_handle() {
        let d = new_detector();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        // SAFETY: a live handle.
        let r = unsafe { with_handle(d, |_| panic!("boom")) };
        std::panic::set_hook(hook);
        assert_eq!(r, SHAREEXEC_PANIC);
        // SAFETY: a live handle.
        unsafe {
            assert_eq!(shareexec_detector_flush(d), SHAREEXEC_POISONED);
            let msg = core::ffi::CStr::from_ptr(shareexec_detector_last_error(d));
            assert!(msg.to_str().unwrap().contains("panicked"));
            shareexec_detector_free(d);
        }
    }

    #[test]
    fn a_nested_call_is_busy() {
        let d = new_detector();
        // SAFETY: a live handle.
        let inner = unsafe { with_handle(d, |_| Ok(shareexec_detector_flush(d))) };
        assert_eq!(inner, SHAREEXEC_BUSY);
        // SAFETY: a live handle; the nested free is ignored, the outer one frees.
        unsafe {
            with_handle(d, |_| {
                shareexec_detector_free(d);
                Ok(SHAREEXEC_OK)
            });
            shareexec_detector_free(d);
        }
    }

    #[test]
    fn every_code_is_described() {
        for code in 0..=SHAREEXEC_SNAPSHOT_ERROR as u32 {
            let r = shareexec_result::from_u32(code).unwrap();
            assert_eq!(r as u32, code);
            assert!(!r.describe().is_empty());
        }
        assert!(shareexec_result::from_u32(SHAREEXEC_SNAPSHOT_ERROR as u32 + 1).is_none());
    }

    #[test]
    fn type_bits_round_trip() {
        let all = TYPES.iter().fold(0, |a, (b, _)| a | b);
        assert_eq!(types_to_bits(types_from_bits(u32::MAX)), all);
        assert_eq!(
            types_from_bits(SHAREEXEC_TYPE_START | SHAREEXEC_TYPE_CHANGE),
            EventTypes::START | EventTypes::CHANGE
        );
    }
}
