//! One Sysmon event as JSON → [`SysmonRecord`] → [`Event`]s.
//!
//! Three shapes are read, and may even be mixed in one document (see the [module
//! docs](super#sysmon) for the rules):
//!
//! - **winlogbeat / Elastic Agent**: `winlog.event_id`, `winlog.event_data.{Image, …}`,
//!   `winlog.computer_name`, `winlog.channel`, `winlog.provider_name`,
//!   `winlog.record_id`, `host.name`, `@timestamp` (winlogbeat 6's top-level `event_id`,
//!   `event_data`, `computer_name`, `log_name`, `source_name`, `record_number` too;
//!   after an ingest pipeline, `process.executable`, `process.pid` and `file.path`
//!   stand in for the `event_data` fields it renamed);
//! - **flat** (OTRF Security-Datasets, nxlog): `EventID`, `Image`, `TargetFilename`,
//!   `ProcessId`, `UtcTime`, `Computer` or `Hostname`, `Channel`, `SourceName` or
//!   `ProviderName`, `RecordNumber` / `EventRecordID` / `RecordID`, `@timestamp`;
//! - **evtx JSON** (the `evtx` crate's `records_json()`, `evtx_dump -o jsonl`):
//!   `Event.System.{EventID, Computer, Channel, Provider.#attributes.Name, EventRecordID,
//!   TimeCreated.#attributes.SystemTime}` and `Event.EventData.{…}`.
//!
//! Like the ECS decoder, this is a serde visitor over `serde_json`'s streaming parser:
//! no `serde_json::Value` tree, unknown fields skipped with `IgnoredAny`, kept strings
//! borrowed from the line unless they had JSON escapes, and the same slow pass for the
//! rare lines with a kept JSON number whose text matters or an unpaired surrogate
//! escape. Values are first collected as they are, then interpreted once the event id
//! is known, so that a record the rule never looks at cannot fail on a field it does
//! not need.

mod light;

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::common::{
    frame, frame_str, is_blank, json_column, json_message, truncated, without_bom,
};
use super::ecs::{NumberTokens, Skip, es_date_from_int, parse_es_date, without_lone_surrogates};
use super::rfc3339::{TimestampError, parse_rfc3339};
use crate::event::{
    CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, Position, ProcessEvent,
};
use crate::time::Timestamp;

// ---------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------

/// What a record is to the rule: the Sysmon event ids that become events, or
/// [`Other`](SysmonKind::Other).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SysmonKind {
    /// Sysmon event 1, *Process Create*: a process start (stage 2 candidate).
    ProcessCreate,
    /// Sysmon event 11, *FileCreate*: a file created or overwritten (stage 1 candidate).
    FileCreate,
    /// Sysmon event 23, *FileDelete* (archived): a file deletion (typed
    /// [`EventTypes::DELETION`], never a candidate).
    FileDelete,
    /// Sysmon event 26, *FileDeleteDetected*: as [`FileDelete`](SysmonKind::FileDelete),
    /// without the archive copy.
    FileDeleteDetected,
    /// Sysmon event 29, *FileExecutableDetected*: a file whose content starts with an
    /// MZ (PE) header was created (stage 1 candidate, with `file.Ext.header_bytes`
    /// `4d5a`).
    FileExecutableDetected,
    /// Any other event id, or a record of another channel or provider (the Security
    /// log's 4688, say): decoded, then no event.
    Other,
}

impl SysmonKind {
    /// The kind of a Sysmon record with event id `id`.
    pub const fn from_event_id(id: u32) -> SysmonKind {
        match id {
            1 => SysmonKind::ProcessCreate,
            11 => SysmonKind::FileCreate,
            23 => SysmonKind::FileDelete,
            26 => SysmonKind::FileDeleteDetected,
            29 => SysmonKind::FileExecutableDetected,
            _ => SysmonKind::Other,
        }
    }

    /// Whether records of this kind become a [`FileEvent`].
    pub const fn is_file(self) -> bool {
        matches!(
            self,
            SysmonKind::FileCreate
                | SysmonKind::FileDelete
                | SysmonKind::FileDeleteDetected
                | SysmonKind::FileExecutableDetected
        )
    }

    /// Whether records of this kind become a [`ProcessEvent`].
    pub const fn is_process(self) -> bool {
        matches!(self, SysmonKind::ProcessCreate)
    }

    /// The ECS `event.type` given to the event made from such a record.
    pub const fn event_types(self) -> EventTypes {
        match self {
            SysmonKind::ProcessCreate => EventTypes::START,
            SysmonKind::FileCreate | SysmonKind::FileExecutableDetected => EventTypes::CREATION,
            SysmonKind::FileDelete | SysmonKind::FileDeleteDetected => EventTypes::DELETION,
            SysmonKind::Other => EventTypes::NONE,
        }
    }
}

/// One decoded Sysmon record: the fields the rule and its alerts need, borrowed from
/// the line where the JSON text allows it.
///
/// Make it with [`SysmonRecord::parse`] (or [`decode_sysmon_line`] to skip blank
/// lines), then hand [`SysmonRecord::events`] to the detector. See the [module
/// docs](super#sysmon) for how each ECS field is derived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysmonRecord<'a> {
    event_id: u32,
    kind: SysmonKind,
    timestamp: Option<Timestamp>,
    record_id: Option<Cow<'a, str>>,
    computer: Option<Cow<'a, str>>,
    host_id: Option<Cow<'a, str>>,
    channel: Option<Cow<'a, str>>,
    provider: Option<Cow<'a, str>>,
    image: Option<Cow<'a, str>>,
    process_id: Option<i64>,
    target_filename: Option<Cow<'a, str>>,
    hashes: HashSlots<'a>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HashSlots<'a> {
    sha256: Option<Cow<'a, str>>,
    sha1: Option<Cow<'a, str>>,
    md5: Option<Cow<'a, str>>,
}

impl HashSlots<'_> {
    fn view(&self) -> Hashes<'_> {
        Hashes {
            sha256: self.sha256.as_deref(),
            sha1: self.sha1.as_deref(),
            md5: self.md5.as_deref(),
        }
    }

    fn into_owned(self) -> HashSlots<'static> {
        HashSlots {
            sha256: own(self.sha256),
            sha1: own(self.sha1),
            md5: own(self.md5),
        }
    }
}

/// What is wrong with a Sysmon line (see [`SysmonError`] for where).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SysmonErrorKind {
    /// The line is empty or holds only JSON whitespace, after a UTF-8 byte-order mark
    /// if any. [`decode_sysmon_line`] skips such lines instead of returning this,
    /// except for a line with the mark (the mark is no whitespace: a document is missing).
    #[error("blank line: no JSON document (a byte-order mark is not whitespace)")]
    Blank,
    /// The bytes are not UTF-8 (JSON text must be).
    #[error("not valid UTF-8")]
    InvalidUtf8,
    /// The line is not one JSON value: a syntax error, a raw control character inside
    /// a string, nesting 128 levels deep (the line's own object counting as one) in a
    /// value the decoder reads, text after the value…
    #[error("not valid JSON: {message}")]
    NotJson {
        /// `serde_json`'s description, without its position (see [`SysmonError::column`]).
        message: String,
    },
    /// The line is valid JSON but not an object.
    #[error("the line is {found}, not a JSON object")]
    NotAnObject {
        /// What it is instead: `an array`, `a string`, `null`…
        found: &'static str,
    },
    /// No event id in any of the shapes read (`EventID`, `winlog.event_id`,
    /// `Event.System.EventID`, `event_id`), or `null`/`""`: the record is not a
    /// Windows event.
    #[error("no event id (`EventID`, `winlog.event_id` or `Event.System.EventID`)")]
    MissingEventId,
    /// A record that would become an event (Sysmon 1, 11, 23, 26, 29) has no time:
    /// no `UtcTime`, `@timestamp` or `Event.System.TimeCreated.#attributes.SystemTime`.
    #[error(
        "no timestamp (`UtcTime`, `@timestamp` or `Event.System.TimeCreated.#attributes.SystemTime`)"
    )]
    MissingTimestamp,
    /// The timestamp a record's event would get is not a valid time: `UtcTime` is
    /// Sysmon's `YYYY-MM-DD hh:mm:ss.fff` in UTC (an explicit zone is also accepted),
    /// `@timestamp` is read as the ECS decoder reads it (RFC 3339, a year, or epoch
    /// milliseconds), `SystemTime` is RFC 3339 (see [`parse_rfc3339`]).
    #[error("`{field}` {text:?} is not a valid timestamp: {reason}")]
    BadTimestamp {
        /// The field as spelled in the record's shape (`UtcTime`, `@timestamp`…).
        field: &'static str,
        /// The offending text (its first 64 bytes at most).
        text: String,
        /// What is wrong with it.
        reason: TimestampError,
    },
    /// A field holds a value of the wrong type: an event id or `ProcessId` that is not
    /// a number, an `Image` that is an object… The event id is checked on every
    /// record; the channel and provider on records with an event id that makes events
    /// (1, 11, 23, 26, 29); the other fields only on records that make events (on other
    /// records a value of the wrong type is ignored).
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        /// The field as spelled in the record's shape (`winlog.event_data.ProcessId`,
        /// `EventID`…).
        field: &'static str,
        /// What it must be (`an integer`, `a string`…).
        expected: &'static str,
        /// What it was (`an object`, `a string that is not a number`…).
        found: &'static str,
    },
}

/// A Sysmon line that could not be decoded: what is wrong, and where if known.
///
/// The reader that split the input into lines adds the line number with
/// [`SysmonError::at_line`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysmonError {
    /// 1-based byte position in the line where the JSON parser stopped, for errors of
    /// the text itself ([`InvalidUtf8`](SysmonErrorKind::InvalidUtf8),
    /// [`NotJson`](SysmonErrorKind::NotJson), [`NotAnObject`](SysmonErrorKind::NotAnObject)).
    /// `None` for errors about a field's value, which name the field instead (values
    /// are interpreted after the whole line is read, once the event id is known).
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: SysmonErrorKind,
}

impl SysmonError {
    /// The same error, placed on line `line` of the input (numbering is the caller's;
    /// 1-based is customary).
    pub fn at_line(self, line: u64) -> SysmonLineError {
        SysmonLineError {
            line,
            column: self.column,
            kind: self.kind,
        }
    }
}

impl From<SysmonErrorKind> for SysmonError {
    fn from(kind: SysmonErrorKind) -> Self {
        SysmonError { column: None, kind }
    }
}

impl fmt::Display for SysmonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "column {c}: {}", self.kind),
            None => fmt::Display::fmt(&self.kind, f),
        }
    }
}

impl core::error::Error for SysmonError {}

/// A [`SysmonError`] with the line it happened on, as a reader of NDJSON reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysmonLineError {
    /// The line number the caller gave to [`SysmonError::at_line`].
    pub line: u64,
    /// 1-based byte position in the line, if known (see [`SysmonError::column`]).
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: SysmonErrorKind,
}

impl fmt::Display for SysmonLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.kind),
            None => write!(f, "line {}: {}", self.line, self.kind),
        }
    }
}

impl core::error::Error for SysmonLineError {}

/// Decodes one line of Sysmon JSON, skipping blank ones: `Ok(None)` for a line that is
/// empty or only JSON whitespace (space, tab, CR, LF), otherwise as
/// [`SysmonRecord::parse`].
///
/// # Errors
///
/// As [`SysmonRecord::parse`]: [`SysmonErrorKind::Blank`] only for a line of a UTF-8
/// byte-order mark and nothing but JSON whitespace (the mark is no whitespace: such a
/// line is reported, as a document that is missing).
pub fn decode_sysmon_line(line: &[u8]) -> Result<Option<SysmonRecord<'_>>, SysmonError> {
    if is_blank(line) {
        Ok(None)
    } else {
        SysmonRecord::parse(line).map(Some)
    }
}

/// [`decode_sysmon_line`] for a caller that wants only the record's
/// [`events`](SysmonRecord::events): `Ok(None)` also for a record of an event id the
/// rule never turns into an event (any but 1, 11, 23, 26 and 29), which is then checked
/// as [`SysmonRecord::parse`] checks it but not built. Errors and events are exactly
/// `decode_sysmon_line`'s; the work is less on the records that make no event (most
/// of a Sysmon log: registry, image loads, network connections, process access): about
/// half the instructions a line on the OTRF recordings, and no allocation.
///
/// # Errors
///
/// As [`decode_sysmon_line`].
///
/// # Example
///
/// ```
/// use shareexec::input::{decode_sysmon_events, decode_sysmon_line};
///
/// let registry = br#"{"EventID":13,"Channel":"Microsoft-Windows-Sysmon/Operational","TargetObject":"HKLM\\x"}"#;
/// assert!(decode_sysmon_events(registry).unwrap().is_none());
/// assert_eq!(decode_sysmon_line(registry).unwrap().unwrap().events(1).count(), 0);
/// let broken = br#"{"EventID":13,"TargetObject":"HKLM\x"}"#;
/// assert_eq!(decode_sysmon_events(broken).unwrap_err(), decode_sysmon_line(broken).unwrap_err());
/// ```
pub fn decode_sysmon_events(line: &[u8]) -> Result<Option<SysmonRecord<'_>>, SysmonError> {
    if is_blank(line) || makes_no_event(line) {
        Ok(None)
    } else {
        SysmonRecord::parse(line).map(Some)
    }
}

/// A cheap guess whether a line is a Windows event record in one of the shapes
/// [`SysmonRecord`] reads, rather than an Elastic Defend (ECS) document: for
/// auto-detecting an input's format from its first line.
///
/// True when the bytes contain `"EventID"` or `"EventData"` (flat and evtx shapes),
/// `"event_id"` together with `"winlog"` or `"event_data"` (nested winlogbeat shapes), or
/// `.event_id"`, the end of a dotted key such as `"winlog.event_id"` or
/// `"_source.winlog.event_id"` (flattened winlogbeat exports).
///
/// **Soundness limits**: this is a substring search, not a parse. It does not check
/// that the line is JSON, nor that the text is a key: a string *value* spelled exactly
/// `"EventID"` (or ending in `.event_id`) gives a false positive, a key spelled with
/// escapes (`"\u0045ventID"`) or a record whose only event id is under another name
/// gives a false negative, and a true result says nothing about the channel (a
/// Security-log 4688 record looks like Sysmon here; [`SysmonRecord::parse`] then makes
/// no event of it). Decide on more than one line, and let the decoder's errors have
/// the last word.
pub fn looks_like_sysmon(line: &[u8]) -> bool {
    SysmonSniffer::new().looks_like_sysmon(line)
}

/// [`looks_like_sysmon`] with its substring searchers built once: for callers that sniff
/// every line of a stream (building them costs about as much as searching a line).
///
/// # Example
/// ```
/// use shareexec::input::SysmonSniffer;
///
/// let sniffer = SysmonSniffer::new();
/// assert!(sniffer.looks_like_sysmon(br#"{"EventID":1,"Image":"C:\x.exe"}"#));
/// assert!(!sniffer.looks_like_sysmon(br#"{"event":{"category":"process"}}"#));
/// ```
#[derive(Clone, Debug)]
pub struct SysmonSniffer {
    /// The first search's AVX2 searcher, built once where the CPU has AVX2: the same
    /// search as `memchr::memchr2_iter` (which the sniffer uses elsewhere), without its
    /// per-call dispatch and setup (a line of Defend ECS has about four `E` and `_`, so
    /// the search is called about five times per line).
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::Two>,
}

/// [`SysmonSniffer::glimpse`] over `hits`, the positions of every `E` and `_` of `line` in
/// order: first, as fast as the bare test, whether `Event` or `event_id` occurs at all
/// (most ECS lines have neither); then, from that occurrence on, whether a quoted
/// `"EventID"` or `"EventData"` does.
fn glimpse_at(line: &[u8], mut hits: impl Iterator<Item = usize>) -> Glimpse {
    let word_at = |at: usize| match line.get(at..) {
        Some(rest @ [b'E', ..]) => rest.starts_with(b"Event"),
        Some(rest) => {
            rest.starts_with(b"_id")
                && at
                    .checked_sub(5)
                    .and_then(|from| line.get(from..at))
                    .is_some_and(|before| before == b"event")
        }
        None => false,
    };
    let sysmon_key_at = |at: usize| {
        let rest = line.get(at..).unwrap_or_default();
        (rest.starts_with(b"EventID\"") || rest.starts_with(b"EventData\""))
            && at.checked_sub(1).and_then(|q| line.get(q)) == Some(&b'"')
    };
    let Some(first) = hits.find(|&at| word_at(at)) else {
        return Glimpse::Neither;
    };
    if sysmon_key_at(first) || hits.any(sysmon_key_at) {
        Glimpse::Sysmon
    } else {
        Glimpse::Event
    }
}

/// What [`SysmonSniffer::glimpse`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Glimpse {
    /// Neither `Event` nor `event_id`: not Sysmon-shaped.
    Neither,
    /// A quoted `"EventID"` or `"EventData"`: Sysmon-shaped.
    Sysmon,
    /// `Event` or `event_id`, but not those: the per-quote pass decides.
    Event,
}

impl Default for SysmonSniffer {
    fn default() -> Self {
        Self::new()
    }
}

impl SysmonSniffer {
    /// A sniffer (no allocation).
    pub fn new() -> Self {
        SysmonSniffer {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::Two::new(b'E', b'_'),
        }
    }

    /// A sniffer that searches with `memchr::memchr2_iter` whatever the CPU (for the
    /// tests: both searches must give the definition's answer).
    #[cfg(test)]
    fn portable() -> Self {
        SysmonSniffer {
            #[cfg(target_arch = "x86_64")]
            avx2: None,
        }
    }

    /// Whether `line` contains `Event` or `event_id`, in one pass over the bytes `E`
    /// and `_`: every occurrence of `Event` starts with an `E`, and every occurrence of
    /// `event_id` has its `_` after `event`. (One pass for the two bytes, rare in ECS
    /// text but for `_` in a few keys, cost less than half of a `memmem` search for
    /// each word.) Both searchers visit every `E` and `_` of the line in order.
    ///
    /// [`Glimpse::Sysmon`] when the pass meets a quoted `"EventID"` or `"EventData"`,
    /// the first needles of [`looks_like_sysmon`]: the line is Sysmon-shaped, and the
    /// per-quote pass, which would find that same occurrence, is not needed (it cost a
    /// Sysmon line 2 800 instructions, the flat shapes holding `EventID` after a dozen
    /// other keys).
    fn glimpse(&self, line: &[u8]) -> Glimpse {
        #[cfg(target_arch = "x86_64")]
        if let Some(two) = &self.avx2 {
            return glimpse_at(line, two.iter(line));
        }
        glimpse_at(line, memchr::memchr2_iter(b'E', b'_', line))
    }

    /// Exactly [`looks_like_sysmon`].
    pub fn looks_like_sysmon(&self, line: &[u8]) -> bool {
        // Every needle holds `Event` or `event_id`, which ECS documents rarely do: one
        // vectorized search rejects those lines before any per-quote work (and accepts
        // the lines with a quoted `"EventID"` or `"EventData"`).
        match self.glimpse(line) {
            Glimpse::Neither => return false,
            Glimpse::Sysmon => return true,
            Glimpse::Event => {}
        }
        // One pass over the quotes (memchr) instead of a scan per needle: the CLI sniffs
        // every line in `auto` mode, and a naive search per needle had cost more than
        // decoding the line. Every needle starts or ends with a quote, so checking at
        // each quote finds exactly the occurrences the definition names.
        let (mut event_id, mut winlog_branch) = (false, false);
        for quote in memchr::memchr_iter(b'"', line) {
            let (before, after) = (&line[..quote], &line[quote + 1..]);
            if after.starts_with(b"EventID\"")
                || after.starts_with(b"EventData\"")
                || before.ends_with(b".event_id")
            {
                return true;
            }
            event_id |= after.starts_with(b"event_id\"");
            winlog_branch |= after.starts_with(b"winlog\"") || after.starts_with(b"event_data\"");
            if event_id && winlog_branch {
                return true;
            }
        }
        false
    }
}

impl<'a> SysmonRecord<'a> {
    /// Decodes one Sysmon event in JSON (one NDJSON line, with or without its line
    /// end; a pretty-printed document works too).
    ///
    /// A leading UTF-8 byte-order mark is skipped. Every line must be UTF-8, one JSON
    /// object, with an event id; a record that becomes an event (Sysmon 1, 11, 23, 26,
    /// 29) must also have a valid time and the right types in the fields read. See the
    /// [module docs](super#sysmon) for the shapes and the mapping.
    ///
    /// # Example
    ///
    /// ```
    /// use shareexec::input::{SysmonKind, SysmonRecord};
    /// use shareexec::{Event, EventTypes};
    ///
    /// let line = br#"{"EventID":11,"Channel":"Microsoft-Windows-Sysmon/Operational",
    ///     "Hostname":"WS1.corp.local","UtcTime":"2020-08-27 11:40:56.396","Image":"System",
    ///     "TargetFilename":"C:\\Windows\\PSEXESVC.exe","RecordNumber":42}"#;
    /// let record = SysmonRecord::parse(line)?;
    /// assert_eq!(record.kind(), SysmonKind::FileCreate);
    ///
    /// let events: Vec<Event<'_>> = record.events(7).collect();
    /// let [Event::File(write)] = events[..] else { panic!("one file event") };
    /// assert_eq!(write.pid, Some(4)); // Image "System" without a ProcessId
    /// assert_eq!(write.host_id, Some("ws1.corp.local"));
    /// assert_eq!(write.extension, Some("exe"));
    /// assert_eq!(write.types, EventTypes::CREATION);
    /// assert_eq!(write.origin.id, Some("42"));
    /// # Ok::<(), shareexec::input::SysmonError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`SysmonError`] for any line that is not such a record, including a blank one
    /// ([`SysmonErrorKind::Blank`]; use [`decode_sysmon_line`] to skip those). Never
    /// panics.
    pub fn parse(line: &'a [u8]) -> Result<SysmonRecord<'a>, SysmonError> {
        match frame(line) {
            Ok((text, base)) => Self::parse_text(text, base),
            Err(column) => Err(SysmonError {
                column: Some(column),
                kind: SysmonErrorKind::InvalidUtf8,
            }),
        }
    }

    /// [`SysmonRecord::parse`] for a line already known to be UTF-8.
    ///
    /// # Errors
    ///
    /// As [`SysmonRecord::parse`].
    pub fn parse_str(line: &'a str) -> Result<SysmonRecord<'a>, SysmonError> {
        let (text, base) = frame_str(line);
        Self::parse_text(text, base)
    }

    fn parse_text(text: &'a str, base: usize) -> Result<SysmonRecord<'a>, SysmonError> {
        if is_blank(text.as_bytes()) {
            return Err(SysmonErrorKind::Blank.into());
        }
        let mut needs_texts = false;
        let result = decode(text, base, false, &mut needs_texts);
        let json_error = matches!(
            result,
            Err(SysmonError {
                kind: SysmonErrorKind::NotJson { .. },
                ..
            })
        );
        if !needs_texts && !json_error {
            return result;
        }
        decode_slow(text, base, needs_texts).unwrap_or(result)
    }

    /// The Windows event id (`EventID`, `winlog.event_id`, `Event.System.EventID`).
    pub fn event_id(&self) -> u32 {
        self.event_id
    }

    /// What the record is to the rule: [`SysmonKind::Other`] for event ids that make
    /// no event and for records of another channel or provider.
    pub fn kind(&self) -> SysmonKind {
        self.kind
    }

    /// Whether the record is from Sysmon: its channel or provider names Sysmon, or it
    /// names neither (a Sysmon-only export).
    pub fn is_sysmon(&self) -> bool {
        is_sysmon(self.channel.as_deref(), self.provider.as_deref())
    }

    /// The event time: `UtcTime`, else `@timestamp`, else `System.TimeCreated`'s
    /// `SystemTime`. Always present on records that make events; on the others, `None`
    /// when missing or invalid.
    pub fn timestamp(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// The record number (`winlog.record_id`, `RecordNumber`, `EventRecordID`,
    /// `RecordID`, `System.EventRecordID`), as text: the events' [`Origin::id`].
    pub fn record_id(&self) -> Option<&str> {
        self.record_id.as_deref()
    }

    /// The computer name as logged (`Computer`, `winlog.computer_name`,
    /// `System.Computer`; else the collector's `Hostname` / `host.name`).
    pub fn host_name(&self) -> Option<&str> {
        self.computer.as_deref()
    }

    /// `host.id` of the events: [`host_name`](Self::host_name) lower-cased (Sysmon has
    /// no agent id; this is also what the reference converter writes).
    pub fn host_id(&self) -> Option<&str> {
        self.host_id.as_deref()
    }

    /// The channel (`Channel`, `winlog.channel`, `System.Channel`, `log_name`).
    pub fn channel(&self) -> Option<&str> {
        self.channel.as_deref()
    }

    /// The provider (`SourceName`, `ProviderName`, `winlog.provider_name`,
    /// `System.Provider.#attributes.Name`, `source_name`).
    pub fn provider(&self) -> Option<&str> {
        self.provider.as_deref()
    }

    /// `Image`: the new process (event 1) or the process that wrote or deleted the file
    /// (the others). `System` for the System process.
    pub fn image(&self) -> Option<&str> {
        self.image.as_deref()
    }

    /// The file name of [`image`](Self::image) (after the last `\` or `/`), for
    /// alerts: ECS `process.name`.
    pub fn process_name(&self) -> Option<&str> {
        self.image.as_deref().map(base_name)
    }

    /// `ProcessId` as logged (some exports drop it for the System process).
    pub fn process_id(&self) -> Option<i64> {
        self.process_id
    }

    /// The events' `process.pid`: 4 when [`image`](Self::image) is `System` (any ASCII
    /// case), since only the System process has that image, whether or not the export
    /// kept `ProcessId`; otherwise [`process_id`](Self::process_id).
    pub fn pid(&self) -> Option<i64> {
        match self.image.as_deref() {
            Some(image) if image.eq_ignore_ascii_case("System") => Some(4),
            _ => self.process_id,
        }
    }

    /// Whether [`pid`](Self::pid) was inferred from `Image` rather than read from
    /// `ProcessId` (which is missing or disagrees).
    pub fn pid_inferred(&self) -> bool {
        self.pid() != self.process_id
    }

    /// `TargetFilename`: the file created or deleted (`file.path`).
    pub fn target_filename(&self) -> Option<&str> {
        self.target_filename.as_deref()
    }

    /// `file.extension` as this adapter derives it (Sysmon has no such field): the
    /// suffix after the last `.` of the last component of
    /// [`target_filename`](Self::target_filename), `None` when there is no dot or
    /// nothing after it. `C:\a.b\evil.EXE` gives `EXE`.
    pub fn file_extension(&self) -> Option<&str> {
        self.target_filename.as_deref().and_then(extension)
    }

    /// The `Hashes` field (`SHA256=…,MD5=…,IMPHASH=…`) as `sha256`/`sha1`/`md5`,
    /// lower-cased as ECS writes them (`IMPHASH` and unknown algorithms are dropped).
    /// Read on records that make events (Sysmon 1, 23, 26, 29; event 11 has none);
    /// empty on the others.
    pub fn hashes(&self) -> Hashes<'_> {
        self.hashes.view()
    }

    /// Time and identity of the record, with the caller's `position` (the time is
    /// the epoch when the record has none; records that make events always have one).
    pub fn origin(&self, position: Position) -> Origin<'_> {
        Origin {
            timestamp: self.timestamp.unwrap_or_default(),
            sequence: None,
            id: self.record_id(),
            position,
        }
    }

    /// The record as a file event, for Sysmon 11 and 29 (type `creation`; 29 with
    /// `file.Ext.header_bytes` `4d5a`) and 23 and 26 (type `deletion`).
    pub fn file_event(&self, position: Position) -> Option<FileEvent<'_>> {
        if !self.kind.is_file() {
            return None;
        }
        Some(FileEvent {
            origin: self.origin(position),
            host_id: self.host_id(),
            os_type: Some("windows"),
            types: self.kind.event_types(),
            pid: self.pid(),
            path: self.target_filename(),
            extension: self.file_extension(),
            header_bytes: (self.kind == SysmonKind::FileExecutableDetected).then_some("4d5a"),
            hash: self.hashes(),
        })
    }

    /// The record as a process event, for Sysmon 1 (type `start`). Sysmon logs no code
    /// signature on process creation, so every part of `code_signature` is missing
    /// (which the rule's exclusions treat as not trusted).
    pub fn process_event(&self, position: Position) -> Option<ProcessEvent<'_>> {
        if !self.kind.is_process() {
            return None;
        }
        Some(ProcessEvent {
            origin: self.origin(position),
            host_id: self.host_id(),
            os_type: Some("windows"),
            types: self.kind.event_types(),
            executable: self.image(),
            pid: self.pid(),
            code_signature: CodeSignature::default(),
            hash: self.hashes(),
        })
    }

    /// The events to hand the detector, all with `position`: one for Sysmon 1, 11,
    /// 23, 26 and 29, none for the others.
    pub fn events(&self, position: Position) -> impl Iterator<Item = Event<'_>> {
        self.process_event(position)
            .map(Event::Process)
            .into_iter()
            .chain(self.file_event(position).map(Event::File))
    }

    /// A copy that owns all its strings, to keep past the line's buffer.
    pub fn into_owned(self) -> SysmonRecord<'static> {
        SysmonRecord {
            event_id: self.event_id,
            kind: self.kind,
            timestamp: self.timestamp,
            record_id: own(self.record_id),
            computer: own(self.computer),
            host_id: own(self.host_id),
            channel: own(self.channel),
            provider: own(self.provider),
            image: own(self.image),
            process_id: self.process_id,
            target_filename: own(self.target_filename),
            hashes: self.hashes.into_owned(),
        }
    }
}

fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    s.map(|s| Cow::Owned(s.into_owned()))
}

/// One pass over `text` (see the ECS decoder's `decode`): `counting` is the slow pass,
/// which has the original text of every JSON number. `needs_texts` says whether a kept
/// field got a JSON float, whose text only the slow pass has.
fn decode<'t>(
    text: &'t str,
    base: usize,
    counting: bool,
    needs_texts: &mut bool,
) -> Result<SysmonRecord<'t>, SysmonError> {
    let mut builder = Builder {
        numbers: counting.then(|| NumberTokens::new(text)),
        ..Builder::default()
    };
    let result = collect(&mut builder, text);
    *needs_texts = builder.needs_texts;
    if let Err(e) = result {
        let kind = match builder.error.take() {
            Some(kind) => kind,
            None => SysmonErrorKind::NotJson {
                message: json_message(&e),
            },
        };
        let error = SysmonError {
            column: json_column(&e, text).map(|c| c + base),
            kind,
        };
        return Err(error);
    }
    builder.finish().map_err(SysmonError::from)
}

/// One pass of serde_json over the document `text` (nothing after it but whitespace),
/// its fields collected into `builder` as the tree routes them: the full decode's fast
/// and slow passes and the light pass differ only in how `builder` is set up.
fn collect<'t>(builder: &mut Builder<'t>, text: &'t str) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_str(text);
    BranchSeed {
        b: builder,
        nodes: ROOT,
        root: true,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
}

/// The light pass: whether `line` is certainly a record that
/// [`SysmonRecord::parse`] would decode without error into a record of an event id the
/// rule never turns into an event (any but 1, 11, 23, 26 and 29), so that no record
/// need be built. Any doubt is `false`: the full decode then runs.
///
/// The event id comes from the byte walk ([`light::event_id`]) where it is sure, else
/// from [`fast_pass_event_id`]. Why the full decode agrees when either gives a
/// non-candidate id: the line is UTF-8 (the walk checks every non-ASCII byte it meets,
/// and meets every byte; the fallback runs on framed text), its fast pass succeeds on
/// the text and collects that event id with no JSON float in a leaf (so it makes no
/// slow pass); everything else it reads for a record of another id is read leniently
/// (`strict` off), which never fails.
fn makes_no_event(line: &[u8]) -> bool {
    let id = light::event_id(without_bom(line).0).or_else(|| {
        let (text, _) = frame(line).ok()?;
        fast_pass_event_id(text)
    });
    matches!(id, Some(Ok(id)) if SysmonKind::from_event_id(id) == SysmonKind::Other)
}

/// The event id the full decode's fast pass would collect from `text`, by that same
/// pass (the same parser calls, the same routing, each leaf's value read the same
/// way) keeping nothing else: `Some(Ok(id))`, `Some(Err(()))` when the event id is
/// missing or not a number; `None` when the pass fails (the full decode then makes the
/// error, or its slow pass recovers) or a leaf holds a JSON float (the full decode then
/// makes its slow pass, whose verdict this pass does not presume).
fn fast_pass_event_id(text: &str) -> Option<Result<u32, ()>> {
    let mut builder = Builder {
        light: true,
        ..Builder::default()
    };
    let parsed = collect(&mut builder, text);
    if parsed.is_err() || builder.error.is_some() || builder.needs_texts {
        return None;
    }
    Some(builder.event_id().map_err(drop))
}

/// The slow pass (see the ECS decoder's `decode_slow`): unpaired surrogate escapes
/// become `\ufffd` (as Lucene indexes them), JSON numbers get their text. `None`: the
/// fast pass's error stands.
fn decode_slow(
    text: &str,
    base: usize,
    needs_texts: bool,
) -> Option<Result<SysmonRecord<'_>, SysmonError>> {
    match without_lone_surrogates(text) {
        Some(fixed) => Some(decode(&fixed, base, true, &mut false).map(SysmonRecord::into_owned)),
        None if needs_texts => Some(decode(text, base, true, &mut false)),
        None => None,
    }
}

fn is_sysmon(channel: Option<&str>, provider: Option<&str>) -> bool {
    let names_sysmon = |s: &str| contains_ignore_ascii_case(s, "sysmon");
    match (channel, provider) {
        (None, None) => true,
        (c, p) => c.is_some_and(names_sysmon) || p.is_some_and(names_sysmon),
    }
}

fn contains_ignore_ascii_case(haystack: &str, needle: &str) -> bool {
    haystack
        .as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The last component of a Windows or POSIX path.
fn base_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

fn extension(path: &str) -> Option<&str> {
    let (_, ext) = base_name(path).rsplit_once('.')?;
    (!ext.is_empty()).then_some(ext)
}

/// Sysmon's `UtcTime`: `YYYY-MM-DD hh:mm:ss.fff`, UTC without a zone. A text that
/// already ends in a zone (`Z`, `+hh:mm`, `-hh:mm`) is read as RFC 3339.
fn parse_utc_time(text: &str) -> Result<Timestamp, TimestampError> {
    const MAX: usize = 63;
    let bytes = text.as_bytes();
    let len = bytes.len();
    let zoned = matches!(bytes.last(), Some(b'Z' | b'z'))
        || (len >= 6 && matches!(bytes[len - 6], b'+' | b'-') && bytes[len - 3] == b':');
    if !zoned && len <= MAX {
        let mut buf = [0u8; MAX + 1];
        buf[..len].copy_from_slice(bytes);
        buf[len] = b'Z';
        // A `str` followed by an ASCII byte is still UTF-8.
        if let Ok(with_zone) = core::str::from_utf8(&buf[..=len]) {
            return parse_rfc3339(with_zone);
        }
    }
    parse_rfc3339(text)
}

// ---------------------------------------------------------------------------------------
// The field tree
// ---------------------------------------------------------------------------------------

/// A value the decoder collects, before the event id says how to read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    EventId,
    RecordId,
    Computer,
    HostName,
    Channel,
    Provider,
    UtcTime,
    AtTimestamp,
    SystemTime,
    Image,
    ProcessId,
    TargetFilename,
    Hashes,
    /// ECS `process.executable`, `process.pid`, `file.path`: what an Elasticsearch
    /// ingest pipeline renames the `winlog.event_data` fields to.
    EcsExecutable,
    EcsPid,
    EcsFilePath,
}

const FIELDS: usize = 16;

impl Field {
    const fn index(self) -> usize {
        self as usize
    }
}

struct Node {
    name: &'static str,
    kind: Kind,
}

enum Kind {
    Branch(&'static [Node]),
    /// A leaf, with the field's name as spelled in this shape (for errors).
    Leaf(Field, &'static str),
    /// `_source` of a search hit: the document itself.
    Root,
}

macro_rules! leaf {
    ($name:literal, $path:expr, $field:ident) => {
        Node {
            name: $name,
            kind: Kind::Leaf(Field::$field, $path),
        }
    };
}

macro_rules! branch {
    ($name:literal, $nodes:expr) => {
        Node {
            name: $name,
            kind: Kind::Branch($nodes),
        }
    };
}

/// `EventData` / `winlog.event_data` / `event_data`.
macro_rules! data_fields {
    ($prefix:literal) => {
        [
            leaf!("UtcTime", concat!($prefix, "UtcTime"), UtcTime),
            leaf!("Image", concat!($prefix, "Image"), Image),
            leaf!("ProcessId", concat!($prefix, "ProcessId"), ProcessId),
            leaf!(
                "TargetFilename",
                concat!($prefix, "TargetFilename"),
                TargetFilename
            ),
            leaf!("Hashes", concat!($prefix, "Hashes"), Hashes),
        ]
    };
}

static WINLOG_DATA: &[Node] = &data_fields!("winlog.event_data.");
static BEAT6_DATA: &[Node] = &data_fields!("event_data.");
static EVENT_DATA: &[Node] = &data_fields!("EventData.");

static WINLOG: &[Node] = &[
    leaf!("event_id", "winlog.event_id", EventId),
    leaf!("record_id", "winlog.record_id", RecordId),
    leaf!("computer_name", "winlog.computer_name", Computer),
    leaf!("channel", "winlog.channel", Channel),
    leaf!("provider_name", "winlog.provider_name", Provider),
    branch!("event_data", WINLOG_DATA),
];

static HOST: &[Node] = &[leaf!("name", "host.name", HostName)];

static ECS_PROCESS: &[Node] = &[
    leaf!("executable", "process.executable", EcsExecutable),
    leaf!("pid", "process.pid", EcsPid),
];

static ECS_FILE: &[Node] = &[leaf!("path", "file.path", EcsFilePath)];

static PROVIDER_ATTRIBUTES: &[Node] =
    &[leaf!("Name", "System.Provider.#attributes.Name", Provider)];

static TIME_ATTRIBUTES: &[Node] = &[leaf!(
    "SystemTime",
    "System.TimeCreated.#attributes.SystemTime",
    SystemTime
)];

static SYSTEM: &[Node] = &[
    leaf!("EventID", "System.EventID", EventId),
    leaf!("EventRecordID", "System.EventRecordID", RecordId),
    leaf!("Computer", "System.Computer", Computer),
    leaf!("Channel", "System.Channel", Channel),
    branch!("Provider", &[branch!("#attributes", PROVIDER_ATTRIBUTES)]),
    branch!("TimeCreated", &[branch!("#attributes", TIME_ATTRIBUTES)]),
    // `ParserSettings::separate_json_attributes(true)`.
    branch!("Provider_attributes", PROVIDER_ATTRIBUTES),
    branch!("TimeCreated_attributes", TIME_ATTRIBUTES),
];

static EVENT: &[Node] = &[branch!("System", SYSTEM), branch!("EventData", EVENT_DATA)];

static ROOT: &[Node] = &[
    // flat (OTRF / nxlog)
    leaf!("UtcTime", "UtcTime", UtcTime),
    leaf!("Image", "Image", Image),
    leaf!("ProcessId", "ProcessId", ProcessId),
    leaf!("TargetFilename", "TargetFilename", TargetFilename),
    leaf!("Hashes", "Hashes", Hashes),
    leaf!("EventID", "EventID", EventId),
    leaf!("RecordNumber", "RecordNumber", RecordId),
    leaf!("EventRecordID", "EventRecordID", RecordId),
    leaf!("RecordID", "RecordID", RecordId),
    leaf!("Computer", "Computer", Computer),
    leaf!("Hostname", "Hostname", HostName),
    leaf!("Channel", "Channel", Channel),
    leaf!("SourceName", "SourceName", Provider),
    leaf!("ProviderName", "ProviderName", Provider),
    leaf!("@timestamp", "@timestamp", AtTimestamp),
    // winlogbeat 7+, Elastic Agent
    branch!("winlog", WINLOG),
    branch!("host", HOST),
    // the same after an Elasticsearch ingest pipeline (fallbacks)
    branch!("process", ECS_PROCESS),
    branch!("file", ECS_FILE),
    // winlogbeat 6
    leaf!("event_id", "event_id", EventId),
    leaf!("record_number", "record_number", RecordId),
    leaf!("computer_name", "computer_name", Computer),
    leaf!("log_name", "log_name", Channel),
    leaf!("source_name", "source_name", Provider),
    branch!("event_data", BEAT6_DATA),
    // evtx JSON, wrapped in `Event` or not
    branch!("Event", EVENT),
    branch!("System", SYSTEM),
    branch!("EventData", EVENT_DATA),
    // a search hit
    Node {
        name: "_source",
        kind: Kind::Root,
    },
];

/// Where a key (possibly dotted) leads from a given object.
#[derive(Clone, Copy)]
enum Route {
    /// Not a field this decoder reads: skip the value.
    Unknown,
    /// An object of the tree.
    Branch(&'static [Node]),
    /// A leaf: its value is collected.
    Leaf(Field, &'static str),
}

fn route(nodes: &'static [Node], key: &[u8]) -> Route {
    // Most keys are one segment, and no name holds a `.`: the whole key is looked up
    // first, and only a key with a `.` in it is split (`split` costs more than the
    // lookup; this was 30 % of decoding a Sysmon line).
    if let Some(node) = find_node(nodes, key) {
        return node_route(node);
    }
    if !has_dot(key) {
        return Route::Unknown;
    }
    let mut nodes = nodes;
    let mut found = Route::Unknown;
    for segment in key.split(|&b| b == b'.') {
        if let Route::Leaf(..) = found {
            return Route::Unknown;
        }
        let Some(node) = find_node(nodes, segment) else {
            return Route::Unknown;
        };
        found = node_route(node);
        if let Route::Branch(children) = found {
            nodes = children;
        }
    }
    found
}

/// Whether `key` holds a `.`: eight bytes at a time (SWAR; the lowest flagged byte is
/// exact, and any flag means a `.`), the rest one by one. Most keys are not dotted and
/// no name of the tree, and a byte loop over each cost more than its routing.
#[inline(always)]
fn has_dot(key: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut chunks = key.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word) ^ (LO * u64::from(b'.'));
        if x.wrapping_sub(LO) & !x & HI != 0 {
            return true;
        }
    }
    chunks.remainder().contains(&b'.')
}

/// `ROOT`'s names by first byte: bit `i` of entry `b` is set when `ROOT[i]`'s name
/// starts with `b`. The flat shapes put all their keys at the root (30 a line in the
/// OTRF recordings), most of them names of no field read here: a key's one or two
/// candidates are found without comparing it with all of `ROOT`'s 29 names.
static ROOT_BY_FIRST_BYTE: [u64; 256] = by_first_byte(ROOT);

const fn by_first_byte(nodes: &[Node]) -> [u64; 256] {
    assert!(nodes.len() <= 64, "one bit per node");
    let mut table = [0u64; 256];
    let mut i = 0;
    while i < nodes.len() {
        // A name is never empty (an empty one fails this at compile time).
        let first = nodes[i].name.as_bytes()[0];
        table[first as usize] |= 1 << i;
        i += 1;
    }
    table
}

/// The node of `nodes` named `key`.
#[inline(always)]
fn find_node(nodes: &'static [Node], key: &[u8]) -> Option<&'static Node> {
    if core::ptr::eq(nodes, ROOT) {
        let &first = key.first()?;
        let mut candidates = ROOT_BY_FIRST_BYTE[usize::from(first)];
        while candidates != 0 {
            let node = nodes.get(candidates.trailing_zeros() as usize)?;
            if node.name.as_bytes() == key {
                return Some(node);
            }
            candidates &= candidates - 1;
        }
        return None;
    }
    nodes.iter().find(|n| same_name(n.name, key))
}

/// `name == key`, the length and the first byte compared before the rest: most keys
/// are no name of the level, and most names of a key's length start with another byte
/// (a `memcmp` call for each cost more than the lookup).
#[inline(always)]
fn same_name(name: &str, key: &[u8]) -> bool {
    let name = name.as_bytes();
    name.len() == key.len() && name.first() == key.first() && name == key
}

/// Where `node` leads.
fn node_route(node: &Node) -> Route {
    match node.kind {
        Kind::Branch(children) => Route::Branch(children),
        Kind::Root => Route::Branch(ROOT),
        Kind::Leaf(field, path) => Route::Leaf(field, path),
    }
}

// ---------------------------------------------------------------------------------------
// Collecting
// ---------------------------------------------------------------------------------------

/// A leaf's JSON value, as found.
#[derive(Clone, Debug)]
enum Raw<'a> {
    Str(Cow<'a, str>),
    Int(i128),
    /// A number with a fraction or an exponent (or `-0`, or an integer beyond 64 bits),
    /// with its JSON text in the slow pass.
    Float(Option<&'a str>),
    Bool(bool),
    /// A value no field can take: what it was, for the error.
    Bad(&'static str),
}

impl Raw<'_> {
    fn found(&self) -> &'static str {
        match self {
            Raw::Str(_) => "a string",
            Raw::Int(_) => "an integer",
            Raw::Float(_) => "a fractional number",
            Raw::Bool(_) => "a boolean",
            Raw::Bad(found) => found,
        }
    }
}

#[derive(Default)]
struct Builder<'a> {
    slots: [Option<(Raw<'a>, &'static str)>; FIELDS],
    /// The typed reason a visitor gave up (serde errors are strings; this keeps the type).
    error: Option<SysmonErrorKind>,
    /// The slow pass: the line's number tokens, in document order.
    numbers: Option<NumberTokens<'a>>,
    /// The fast pass collected a JSON float, whose text only the slow pass has.
    needs_texts: bool,
    /// The light pass ([`makes_no_event`]): only the event id is kept.
    light: bool,
}

fn wrong(field: &'static str, expected: &'static str, found: &'static str) -> SysmonErrorKind {
    SysmonErrorKind::WrongType {
        field,
        expected,
        found,
    }
}

impl<'a> Builder<'a> {
    fn take(&mut self, field: Field) -> Option<(Raw<'a>, &'static str)> {
        self.slots.get_mut(field.index()).and_then(Option::take)
    }

    /// A keyword: a string, or a number or boolean taken as its text. With `strict`
    /// off, a value of another type is missing instead of an error.
    fn text(
        &mut self,
        field: Field,
        strict: bool,
    ) -> Result<Option<Cow<'a, str>>, SysmonErrorKind> {
        match self.take(field) {
            None => Ok(None),
            Some((Raw::Str(s), _)) => Ok(Some(s)),
            Some((Raw::Int(n), _)) => Ok(Some(Cow::Owned(n.to_string()))),
            Some((Raw::Bool(b), _)) => Ok(Some(Cow::Borrowed(if b { "true" } else { "false" }))),
            // A number with a fraction or an exponent: its JSON text, as Elasticsearch
            // indexes a number in a keyword field.
            Some((Raw::Float(Some(t)), _)) => Ok(Some(Cow::Borrowed(t))),
            Some((raw, path)) if strict => Err(wrong(path, "a string", raw.found())),
            Some(_) => Ok(None),
        }
    }

    /// [`text`](Self::text) of `field`, else of `fallback`.
    fn text_or(
        &mut self,
        field: Field,
        fallback: Field,
        strict: bool,
    ) -> Result<Option<Cow<'a, str>>, SysmonErrorKind> {
        match self.text(field, strict)? {
            Some(value) => Ok(Some(value)),
            None => self.text(fallback, strict),
        }
    }

    fn event_id(&mut self) -> Result<u32, SysmonErrorKind> {
        const EXPECTED: &str = "a non-negative integer";
        let (raw, path) = self
            .take(Field::EventId)
            .ok_or(SysmonErrorKind::MissingEventId)?;
        match raw {
            Raw::Int(n) => {
                u32::try_from(n).map_err(|_| wrong(path, EXPECTED, "a number out of range"))
            }
            Raw::Str(s) if s.trim().is_empty() => Err(SysmonErrorKind::MissingEventId),
            Raw::Str(s) => s
                .trim()
                .parse::<u32>()
                .map_err(|_| wrong(path, EXPECTED, "a string that is not such a number")),
            other => Err(wrong(path, EXPECTED, other.found())),
        }
    }

    /// `ProcessId`: an integer or a decimal string; `""` and `"-"` are missing.
    fn process_id(&mut self, field: Field, strict: bool) -> Result<Option<i64>, SysmonErrorKind> {
        const EXPECTED: &str = "an integer";
        let Some((raw, path)) = self.take(field) else {
            return Ok(None);
        };
        let result = match raw {
            Raw::Int(n) => i64::try_from(n)
                .map(Some)
                .map_err(|_| wrong(path, EXPECTED, "a number out of range")),
            Raw::Str(s) => match s.trim() {
                "" | "-" => Ok(None),
                t => t
                    .parse::<i64>()
                    .map(Some)
                    .map_err(|_| wrong(path, EXPECTED, "a string that is not an integer")),
            },
            other => Err(wrong(path, EXPECTED, other.found())),
        };
        match result {
            Err(_) if !strict => Ok(None),
            r => r,
        }
    }

    /// `UtcTime`, else `@timestamp`, else `SystemTime`. An invalid time is an error
    /// (not a reason to fall back) when `strict`; missing when not.
    fn timestamp(&mut self, strict: bool) -> Result<Option<Timestamp>, SysmonErrorKind> {
        let sources = [Field::UtcTime, Field::AtTimestamp, Field::SystemTime];
        for field in sources {
            let Some((raw, path)) = self.take(field) else {
                continue;
            };
            let parsed = match &raw {
                Raw::Str(s) if s.trim().is_empty() => continue,
                Raw::Str(s) => {
                    let result = match field {
                        Field::UtcTime => parse_utc_time(s),
                        // Elasticsearch's default `date` format: RFC 3339, a year, or
                        // epoch milliseconds (`"1598528456396"`).
                        Field::AtTimestamp => parse_es_date(s),
                        _ => parse_rfc3339(s),
                    };
                    result.map_err(|reason| SysmonErrorKind::BadTimestamp {
                        field: path,
                        text: truncated(s, 64).to_owned(),
                        reason,
                    })
                }
                // `@timestamp`, as in Elasticsearch, may be a number: its text is read
                // the same way (epoch milliseconds, possibly with a fraction).
                Raw::Int(n) if field == Field::AtTimestamp => {
                    es_date_from_int(*n).map_err(|reason| SysmonErrorKind::BadTimestamp {
                        field: path,
                        text: n.to_string(),
                        reason,
                    })
                }
                Raw::Float(Some(t)) if field == Field::AtTimestamp => {
                    parse_es_date(t).map_err(|reason| SysmonErrorKind::BadTimestamp {
                        field: path,
                        text: truncated(t, 64).to_owned(),
                        reason,
                    })
                }
                other => Err(wrong(
                    path,
                    if field == Field::AtTimestamp {
                        "a date string or epoch milliseconds"
                    } else {
                        "a date string"
                    },
                    other.found(),
                )),
            };
            match parsed {
                Ok(ts) => return Ok(Some(ts)),
                Err(e) if strict => return Err(e),
                Err(_) => continue,
            }
        }
        if strict {
            Err(SysmonErrorKind::MissingTimestamp)
        } else {
            Ok(None)
        }
    }

    fn finish(mut self) -> Result<SysmonRecord<'a>, SysmonErrorKind> {
        let event_id = self.event_id()?;
        let candidate = SysmonKind::from_event_id(event_id) != SysmonKind::Other;
        let channel = self.text(Field::Channel, candidate)?;
        let provider = self.text(Field::Provider, candidate)?;
        let kind = if is_sysmon(channel.as_deref(), provider.as_deref()) {
            SysmonKind::from_event_id(event_id)
        } else {
            SysmonKind::Other
        };
        let strict = kind != SysmonKind::Other;
        let record_id = self.text(Field::RecordId, strict)?;
        let computer = match self.text(Field::Computer, strict)? {
            Some(c) => Some(c),
            None => self.text(Field::HostName, strict)?,
        };
        let host_id = computer.as_ref().map(|c| lower(c));
        let image = self.text_or(Field::Image, Field::EcsExecutable, strict)?;
        let process_id = match self.process_id(Field::ProcessId, strict)? {
            Some(pid) => Some(pid),
            None => self.process_id(Field::EcsPid, strict)?,
        };
        let target_filename = self.text_or(Field::TargetFilename, Field::EcsFilePath, strict)?;
        let hashes = self.text(Field::Hashes, strict)?;
        let timestamp = self.timestamp(strict)?;
        let hashes = match (kind, hashes) {
            (
                SysmonKind::ProcessCreate
                | SysmonKind::FileDelete
                | SysmonKind::FileDeleteDetected
                | SysmonKind::FileExecutableDetected,
                Some(h),
            ) => parse_hashes(&h),
            _ => HashSlots::default(),
        };
        Ok(SysmonRecord {
            event_id,
            kind,
            timestamp,
            record_id,
            computer,
            host_id,
            channel,
            provider,
            image,
            process_id,
            target_filename,
            hashes,
        })
    }
}

/// `s` lower-cased, borrowed when lower-casing changes nothing.
fn lower<'a>(s: &Cow<'a, str>) -> Cow<'a, str> {
    // Host names are ASCII: there Unicode's lower case is ASCII's, and a byte test
    // costs less than a character's case mapping.
    if s.is_ascii() {
        return if s.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(s.to_ascii_lowercase())
        } else {
            s.clone()
        };
    }
    let unchanged = s.chars().all(|c| {
        let mut l = c.to_lowercase();
        l.next() == Some(c) && l.next().is_none()
    });
    if unchanged {
        s.clone()
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` → lower-cased slots (borrowed from the line when
/// already lower-case and the line's text had no escapes).
fn parse_hashes<'a>(text: &Cow<'a, str>) -> HashSlots<'a> {
    match text {
        Cow::Borrowed(t) => hash_slots(t, Cow::Borrowed),
        Cow::Owned(t) => hash_slots(t, |v| Cow::Owned(v.to_owned())),
    }
}

fn hash_slots<'t, 'a>(text: &'t str, keep: impl Fn(&'t str) -> Cow<'a, str>) -> HashSlots<'a> {
    let mut slots = HashSlots::default();
    for part in text.split(',') {
        let Some((algo, value)) = part.split_once('=') else {
            continue;
        };
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        let slot = match algo.trim() {
            a if a.eq_ignore_ascii_case("SHA256") => &mut slots.sha256,
            a if a.eq_ignore_ascii_case("SHA1") => &mut slots.sha1,
            a if a.eq_ignore_ascii_case("MD5") => &mut slots.md5,
            _ => continue,
        };
        *slot = Some(if value.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(value.to_ascii_lowercase())
        } else {
            keep(value)
        });
    }
    slots
}

// ---------------------------------------------------------------------------------------
// The visitors
// ---------------------------------------------------------------------------------------

/// An object of the tree (or the document itself, `root`).
struct BranchSeed<'b, 'a> {
    b: &'b mut Builder<'a>,
    nodes: &'static [Node],
    root: bool,
}

impl<'a> DeserializeSeed<'a> for BranchSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl BranchSeed<'_, '_> {
    /// The document must be an object; an inner branch that is not one (OTRF's `host`
    /// is the collector's name, a string) holds none of the fields read.
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<(), E> {
        if self.root {
            self.b.error = Some(SysmonErrorKind::NotAnObject { found });
            Err(E::custom("see SysmonErrorKind"))
        } else {
            Ok(())
        }
    }

    /// A number where a branch was expected (its token is taken in the slow pass).
    fn number<E: de::Error>(self) -> Result<(), E> {
        if let Some(numbers) = self.b.numbers.as_mut() {
            numbers.next();
        }
        self.not_object("a number")
    }
}

impl<'a> Visitor<'a> for BranchSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'a>>(self, mut map: A) -> Result<(), A::Error> {
        let BranchSeed { b, nodes, .. } = self;
        while let Some(route) = map.next_key_seed(KeySeed(nodes))? {
            match route {
                Route::Unknown => {
                    map.next_value_seed(Skip(b.numbers.as_mut()))?;
                }
                Route::Branch(nodes) => map.next_value_seed(BranchSeed {
                    b: &mut *b,
                    nodes,
                    root: false,
                })?,
                Route::Leaf(field, path) => {
                    let keep = !b.light || field == Field::EventId;
                    let value = map.next_value_seed(LeafSeed {
                        numbers: b.numbers.as_mut(),
                        keep,
                    })?;
                    // Set for a leaf the light pass does not keep too: the full pass
                    // keeps it, and then makes its slow pass (whose verdict the light
                    // pass must not presume).
                    if matches!(value, Some(Raw::Float(None))) {
                        b.needs_texts = true;
                    }
                    if !keep {
                        continue;
                    }
                    if let Some(slot) = b.slots.get_mut(field.index()) {
                        *slot = value.map(|v| (v, path));
                    }
                }
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_object("null")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.not_object("null")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_object("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.number()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.number()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.number()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_object("a string")
    }

    /// An array for a branch: its objects merge into the branch like a repeated key,
    /// as Elasticsearch flattens arrays of objects (nested arrays flatten too); other
    /// elements are skipped like any branch that is not an object.
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.root {
            return self.not_object("an array");
        }
        let BranchSeed { b, nodes, .. } = self;
        while seq
            .next_element_seed(BranchSeed {
                b: &mut *b,
                nodes,
                root: false,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// A key: routed through the tree while the parser still holds it.
struct KeySeed(&'static [Node]);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Route;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Route, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Route;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Route, E> {
        Ok(route(self.0, key.as_bytes()))
    }
}

/// Whether a key is `#text` (an XML element's text in evtx JSON).
struct TextKey;

impl<'de> DeserializeSeed<'de> for TextKey {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for TextKey {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == "#text")
    }
}

/// The value of a leaf field, collected as it is (`None` for `null`). Holds the slow
/// pass's number tokens.
struct LeafSeed<'c, 'a> {
    numbers: Option<&'c mut NumberTokens<'a>>,
    /// Whether the value is kept: when not (a field the light pass does not read), a
    /// string with escapes is parsed all the same (the same checks, the same errors)
    /// but not copied out.
    keep: bool,
}

impl<'a> LeafSeed<'_, 'a> {
    /// The text of the number being read, in the slow pass.
    fn number_text(&mut self) -> Option<&'a str> {
        self.numbers.as_mut().and_then(|numbers| numbers.next())
    }
}

impl<'a> DeserializeSeed<'a> for LeafSeed<'_, 'a> {
    type Value = Option<Raw<'a>>;

    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for LeafSeed<'_, 'a> {
    type Value = Option<Raw<'a>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<Self::Value, E> {
        Ok(Some(Raw::Str(Cow::Borrowed(v))))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(if self.keep {
            Raw::Str(Cow::Owned(v.to_owned()))
        } else {
            Raw::Bad("a string")
        }))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Raw::Str(Cow::Owned(v))))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(Raw::Bool(v)))
    }

    fn visit_i64<E: de::Error>(mut self, v: i64) -> Result<Self::Value, E> {
        self.number_text();
        Ok(Some(Raw::Int(i128::from(v))))
    }

    fn visit_u64<E: de::Error>(mut self, v: u64) -> Result<Self::Value, E> {
        self.number_text();
        Ok(Some(Raw::Int(i128::from(v))))
    }

    fn visit_f64<E: de::Error>(mut self, _: f64) -> Result<Self::Value, E> {
        Ok(Some(Raw::Float(self.number_text())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    /// A one-element array is its element, an empty one is missing, more is refused.
    fn visit_seq<A: SeqAccess<'a>>(mut self, mut seq: A) -> Result<Self::Value, A::Error> {
        let keep = self.keep;
        let Some(first) = seq.next_element_seed(LeafSeed {
            numbers: self.numbers.as_deref_mut(),
            keep,
        })?
        else {
            return Ok(None);
        };
        if seq
            .next_element_seed(Skip(self.numbers.as_deref_mut()))?
            .is_some()
        {
            while seq
                .next_element_seed(Skip(self.numbers.as_deref_mut()))?
                .is_some()
            {}
            return Ok(Some(Raw::Bad("an array of several values")));
        }
        Ok(first)
    }

    /// An XML element rendered with attributes (`{"#attributes": {…}, "#text": 4111}`)
    /// is its `#text`; any other object is no value a field can take.
    fn visit_map<A: MapAccess<'a>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut text = None;
        let mut has_text = false;
        while let Some(is_text) = map.next_key_seed(TextKey)? {
            if is_text {
                text = map.next_value_seed(LeafSeed {
                    numbers: self.numbers.as_deref_mut(),
                    keep: self.keep,
                })?;
                has_text = true;
            } else {
                map.next_value_seed(Skip(self.numbers.as_deref_mut()))?;
            }
        }
        Ok(if has_text {
            text
        } else {
            Some(Raw::Bad("an object"))
        })
    }
}

#[cfg(test)]
mod tests {

    /// The definition, literally: a substring search per needle.
    fn looks_like_sysmon_by_definition(line: &[u8]) -> bool {
        let contains = |needle: &[u8]| line.windows(needle.len()).any(|w| w == needle);
        contains(br#""EventID""#)
            || contains(br#""EventData""#)
            || (contains(br#""event_id""#)
                && (contains(br#""winlog""#) || contains(br#""event_data""#)))
            || contains(br#".event_id""#)
    }

    proptest::proptest! {
        #[test]
        fn has_dot_equals_contains(key in proptest::collection::vec(
            proptest::sample::select(alloc::vec![b'.', b'a', b'/', b'-', 0x2e ^ 0x80, 0, 0xff]),
            0..40,
        )) {
            proptest::prop_assert_eq!(has_dot(&key), key.contains(&b'.'));
        }
    }

    proptest::proptest! {
        // Cheap cases, and a needle needs a few parts in a row: many cases.
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]
        #[test]
        fn sniff_equals_its_definition(
            parts in proptest::collection::vec(
                proptest::sample::select(alloc::vec![
                    "\"", "EventID", "EventData", "event_id", "winlog", "event_data", ".",
                    "Event", "ID", "x", ":", "{", "}", "\\", "_source", "winlog.event_id",
                    // Pieces of the words the first search looks for, around its bytes.
                    "E", "Even", "vent", "_", "_id", "id", "event", "even",
                    // Long stretches without them: lines past the vector searches'
                    // widths (16, 32, 64 bytes) and their loops' tails.
                    "\"data_stream\":{\"type\":\"logs\",\"namespace\":\"default\"},",
                ]),
                0..24,
            )
        ) {
            let line = parts.concat();
            let by_definition = looks_like_sysmon_by_definition(line.as_bytes());
            proptest::prop_assert_eq!(looks_like_sysmon(line.as_bytes()), by_definition, "{}", line);
            proptest::prop_assert_eq!(
                SysmonSniffer::default().looks_like_sysmon(line.as_bytes()),
                by_definition,
                "{}", line
            );
            proptest::prop_assert_eq!(
                SysmonSniffer::portable().looks_like_sysmon(line.as_bytes()),
                by_definition,
                "{}", line
            );
        }
    }

    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    /// `route` as it was, segment by segment for every key: the reference the one-segment
    /// shortcut must agree with.
    fn route_by_segments(nodes: &'static [Node], key: &str) -> Route {
        let mut nodes = nodes;
        let mut found = Route::Unknown;
        for segment in key.split('.') {
            if let Route::Leaf(..) = found {
                return Route::Unknown;
            }
            let Some(node) = nodes.iter().find(|n| n.name == segment) else {
                return Route::Unknown;
            };
            found = match node.kind {
                Kind::Branch(children) => {
                    nodes = children;
                    Route::Branch(children)
                }
                Kind::Root => {
                    nodes = ROOT;
                    Route::Branch(ROOT)
                }
                Kind::Leaf(field, path) => Route::Leaf(field, path),
            };
        }
        found
    }

    fn same_route(a: Route, b: Route) -> bool {
        match (a, b) {
            (Route::Unknown, Route::Unknown) => true,
            (Route::Branch(x), Route::Branch(y)) => core::ptr::eq(x, y),
            (Route::Leaf(f, p), Route::Leaf(g, q)) => f == g && p == q,
            _ => false,
        }
    }

    /// Every name of the tree, alone, dotted with every other, with a prefix or suffix,
    /// empty segments: the shortcut routes every key as the segment-by-segment walk.
    #[test]
    fn route_equals_route_by_segments() {
        fn names(nodes: &'static [Node], out: &mut Vec<&'static str>, depth: usize) {
            for n in nodes {
                if !out.contains(&n.name) {
                    out.push(n.name);
                }
                if let Kind::Branch(children) = n.kind
                    && depth < 6
                {
                    names(children, out, depth + 1);
                }
            }
        }
        let mut all = Vec::new();
        names(ROOT, &mut all, 0);
        assert!(all.len() > 40, "{}", all.len());
        let mut keys: Vec<String> = vec![String::new(), ".".into(), "..".into(), "x".into()];
        for a in &all {
            keys.push((*a).into());
            keys.push(format!("{a}."));
            keys.push(format!(".{a}"));
            keys.push(format!("{a}x"));
            keys.push(a.to_lowercase());
            for b in &all {
                keys.push(format!("{a}.{b}"));
                keys.push(format!("{a}..{b}"));
            }
        }
        keys.push("Event.System.TimeCreated.#attributes.SystemTime".into());
        keys.push("_source._source.winlog.event_data.Image".into());
        keys.push("winlog.event_data.Image.x".into());
        let mut checked = 0;
        for nodes in [ROOT, SYSTEM, EVENT, WINLOG, EVENT_DATA, BEAT6_DATA] {
            for key in &keys {
                assert!(
                    same_route(route(nodes, key.as_bytes()), route_by_segments(nodes, key)),
                    "{key:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// `lower` as the definition: Unicode lower case, borrowed when nothing changes.
    #[test]
    fn lower_equals_unicode_lower_case() {
        let cases = [
            "",
            "ws1",
            "WS1.Corp.Local",
            "mordordc.theshire.local",
            "A",
            "z",
            "@[`{",
            "İstanbul",
            "ǅ",
            "KELVIN\u{212A}",
            "straße",
            "ΣΑΣ",
            "mixed-Ü",
            "\u{7f}\u{80}",
        ];
        for case in cases {
            let borrowed: Cow<'_, str> = Cow::Borrowed(case);
            let got = lower(&borrowed);
            assert_eq!(got, case.to_lowercase(), "{case:?}");
            assert_eq!(
                matches!(got, Cow::Borrowed(_)),
                case.to_lowercase() == case,
                "{case:?}: borrowed when unchanged"
            );
        }
        for b in 0u8..=127 {
            let one = String::from(char::from(b));
            assert_eq!(lower(&Cow::Borrowed(one.as_str())), one.to_lowercase());
        }
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route(ROOT, b"winlog.event_data.Image"),
            Route::Leaf(Field::Image, "winlog.event_data.Image")
        ));
        assert!(matches!(
            route(ROOT, b"Event.System.TimeCreated.#attributes.SystemTime"),
            Route::Leaf(Field::SystemTime, _)
        ));
        assert!(matches!(
            route(ROOT, b"_source.EventID"),
            Route::Leaf(Field::EventId, "EventID")
        ));
        assert!(matches!(route(ROOT, b"Image.x"), Route::Unknown));
        assert!(matches!(route(ROOT, b"image"), Route::Unknown));
        assert!(matches!(route(ROOT, b""), Route::Unknown));
    }

    #[test]
    fn field_indices_fit() {
        assert_eq!(Field::EcsFilePath.index() + 1, FIELDS);
    }

    #[test]
    fn utc_time() {
        assert_eq!(
            parse_utc_time("2020-08-27 11:40:56.396"),
            parse_rfc3339("2020-08-27T11:40:56.396Z")
        );
        assert_eq!(
            parse_utc_time("2020-08-27T11:40:56.396+00:00"),
            parse_rfc3339("2020-08-27T11:40:56.396Z")
        );
        assert_eq!(
            parse_utc_time("2020-08-27 11:40:56-01:30"),
            parse_rfc3339("2020-08-27T13:10:56Z")
        );
        assert!(parse_utc_time("2020-08-27 11:40:56.396 junk").is_err());
        assert!(parse_utc_time("2020-08-27 11:40:56.396+").is_err());
        assert!(parse_utc_time("-1:00").is_err());
        assert!(parse_utc_time("").is_err());
        let long = "2020-08-27 11:40:56.3961111111111111111111111111111111111111111111111111111";
        assert!(long.len() > 63);
        assert!(parse_utc_time(long).is_err());
    }

    #[test]
    fn hashes_borrow_when_lower_case() {
        let text = Cow::Borrowed("SHA256=abc,MD5=DEF,IMPHASH=01,bogus,SHA1=");
        let h = parse_hashes(&text);
        assert!(matches!(h.sha256, Some(Cow::Borrowed("abc"))));
        assert!(matches!(&h.md5, Some(Cow::Owned(s)) if s == "def"));
        assert_eq!(h.sha1, None);
    }

    #[test]
    fn extensions() {
        assert_eq!(extension(r"C:\Windows\PSEXESVC.exe"), Some("exe"));
        assert_eq!(extension(r"C:\a.b\noext"), None);
        assert_eq!(extension(r"C:\a\trailing."), None);
        assert_eq!(extension("/tmp/x.tar.gz"), Some("gz"));
        assert_eq!(extension(".bashrc"), Some("bashrc"));
        assert_eq!(base_name("System"), "System");
    }
}
