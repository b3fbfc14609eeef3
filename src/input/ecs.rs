//! One Elastic Defend (ECS) JSON document per line → [`EcsRecord`] → [`Event`]s.
//!
//! The decoder is a hand-written serde visitor over `serde_json`'s streaming parser: no
//! `serde_json::Value` tree is built, unknown fields are skipped with
//! [`serde::de::IgnoredAny`], and the fields the rule needs are kept as
//! `Cow<str>` that borrow from the line unless the JSON string had escapes (every
//! Windows path has: `C:\\Windows`), in which case only that string is allocated.
//!
//! Two rare cases take a second, slower pass over the line (see `decode_slow`): a
//! kept field whose value is a JSON number with a fraction or an exponent (whose
//! original text matters: `@timestamp` epoch milliseconds, keywords), and a line that
//! `serde_json` refuses, which may hold an unpaired UTF-16 surrogate escape.
//!
//! The Elasticsearch coercions both decoders share are at the end of this file.
//!
//! See the [module docs](super) for the decoding rules.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::common::{frame, frame_str, is_blank, json_column, json_message, truncated};
use super::rfc3339::{TimestampError, parse_rfc3339};
use crate::event::{
    CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, Position, ProcessEvent,
};
use crate::fold::eq_folded;
use crate::time::Timestamp;

// ---------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------

/// Which of the rule's two event categories a document belongs to (`event.category`,
/// compared exactly, any element of the array).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Category {
    /// Neither `file` nor `process` (or `event.category` missing): the rule never
    /// looks at it.
    Other,
    /// `file`: a stage-1 (write) candidate.
    File,
    /// `process`: a stage-2 (execution) candidate.
    Process,
    /// Both `file` and `process`. Elasticsearch runs each stage's query separately, so
    /// such a document is a candidate for both stages;
    /// [`EcsRecord::events`] yields it as a process event and then as a file event.
    FileAndProcess,
}

impl Category {
    /// Whether a file event is made from the document.
    pub const fn is_file(self) -> bool {
        matches!(self, Category::File | Category::FileAndProcess)
    }

    /// Whether a process event is made from the document.
    pub const fn is_process(self) -> bool {
        matches!(self, Category::Process | Category::FileAndProcess)
    }
}

/// One decoded ECS document: the fields the rule and its alerts need, borrowed from
/// the line where the JSON text allows it.
///
/// Make it with [`EcsRecord::parse`] (or [`decode_line`] to skip blank lines), then
/// hand [`EcsRecord::events`] to the detector. Every field except the timestamp may be
/// missing; a JSON `null` is the same as missing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EcsRecord<'a> {
    timestamp: Timestamp,
    categories: u8,
    types: EventTypes,
    sequence: Option<u64>,
    event_id: Option<Cow<'a, str>>,
    top_id: Option<Cow<'a, str>>,
    doc_id: Option<Cow<'a, str>>,
    host_id: Option<Cow<'a, str>>,
    host_name: Option<Cow<'a, str>>,
    os_type: Option<Cow<'a, str>>,
    pid: Option<i64>,
    executable: Option<Cow<'a, str>>,
    process_name: Option<Cow<'a, str>>,
    sig_exists: Option<bool>,
    sig_trusted: Option<bool>,
    sig_subject: Option<Cow<'a, str>>,
    sig_status: Option<Cow<'a, str>>,
    process_hash: HashSlots<'a>,
    file_path: Option<Cow<'a, str>>,
    file_extension: Option<Cow<'a, str>>,
    header_bytes: Option<Cow<'a, str>>,
    file_hash: HashSlots<'a>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct HashSlots<'a> {
    sha256: Option<Cow<'a, str>>,
    sha1: Option<Cow<'a, str>>,
    md5: Option<Cow<'a, str>>,
}

impl<'a> HashSlots<'a> {
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

const CAT_FILE: u8 = 1;
const CAT_PROCESS: u8 = 2;

/// What is wrong with a line (see [`EcsError`] for where).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EcsErrorKind {
    /// The line is empty or holds only JSON whitespace, after a UTF-8 byte-order mark
    /// if any. [`decode_line`] skips such lines instead of returning this, except for
    /// a line with the mark (the mark is no whitespace: a document is missing).
    #[error("blank line: no JSON document (a byte-order mark is not whitespace)")]
    Blank,
    /// The bytes are not UTF-8 (JSON text must be).
    #[error("not valid UTF-8")]
    InvalidUtf8,
    /// The line is not one JSON value: a syntax error, a raw control character (such
    /// as NUL) inside a string, nesting 128 levels deep (the line's own object counting
    /// as one) in a value the decoder reads, text after the value…
    #[error("not valid JSON: {message}")]
    NotJson {
        /// `serde_json`'s description, without its position (see [`EcsError::column`]).
        message: String,
    },
    /// The line is valid JSON but not an object.
    #[error("the line is {found}, not a JSON object")]
    NotAnObject {
        /// What it is instead: `an array`, `a string`, `null`…
        found: &'static str,
    },
    /// No `@timestamp` (or `null`): Elasticsearch fails the whole query on such a
    /// document, so it is an error rather than an event without a time.
    #[error("`@timestamp` is missing")]
    MissingTimestamp,
    /// `@timestamp` is not a date this crate accepts (an RFC 3339 timestamp, a
    /// four-digit year, or epoch milliseconds: see the [module docs](super)), or one
    /// outside the nanosecond range.
    #[error(
        "`@timestamp` {text:?} is neither an RFC 3339 timestamp nor epoch milliseconds: {reason}"
    )]
    BadTimestamp {
        /// The offending text (its first 64 bytes at most).
        text: String,
        /// What is wrong with it.
        reason: TimestampError,
    },
    /// A field holds a value Elasticsearch could not index into its ECS type (a
    /// `process.pid` of `"abc"` or `{}`, a `process` that is a number…).
    #[error("`{field}` must be {expected}, found {found}")]
    WrongType {
        /// The field's dotted ECS name (`process.pid`, `process.code_signature`).
        field: &'static str,
        /// What it must be (`an integer`, `an object`…).
        expected: &'static str,
        /// What it was (`an object`, `a string that is not a number`…).
        found: &'static str,
    },
}

/// A line that could not be decoded: what is wrong, and where if known.
///
/// The reader that split the input into lines adds the line number with
/// [`EcsError::at_line`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EcsError {
    /// 1-based byte position in the line where the problem was found, or `None` when
    /// the problem has no one place (`@timestamp` missing, blank line). For UTF-8
    /// errors it is the first invalid byte; for the others it is where the JSON parser
    /// stopped: the offending byte or the one just before it, or the end of the value
    /// whose type is wrong.
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: EcsErrorKind,
}

impl EcsError {
    /// The same error, placed on line `line` of the input (numbering is the caller's;
    /// 1-based is customary).
    pub fn at_line(self, line: u64) -> LineError {
        LineError {
            line,
            column: self.column,
            kind: self.kind,
        }
    }
}

impl fmt::Display for EcsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "column {c}: {}", self.kind),
            None => fmt::Display::fmt(&self.kind, f),
        }
    }
}

impl core::error::Error for EcsError {}

/// An [`EcsError`] with the line it happened on, as a reader of NDJSON reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// The line number the caller gave to [`EcsError::at_line`].
    pub line: u64,
    /// 1-based byte position in the line, if known (see [`EcsError::column`]).
    pub column: Option<usize>,
    /// What is wrong.
    pub kind: EcsErrorKind,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column {
            Some(c) => write!(f, "line {}, column {c}: {}", self.line, self.kind),
            None => write!(f, "line {}: {}", self.line, self.kind),
        }
    }
}

impl core::error::Error for LineError {}

/// Decodes one NDJSON line, skipping blank ones: `Ok(None)` for a line that is empty
/// or only JSON whitespace (space, tab, CR, LF), otherwise as [`EcsRecord::parse`].
///
/// This is what a reader of NDJSON should call: blank lines (a trailing newline, a
/// CRLF file, a separator) are not events and not errors.
///
/// # Errors
///
/// As [`EcsRecord::parse`]: [`EcsErrorKind::Blank`] only for a line of a UTF-8
/// byte-order mark and nothing but JSON whitespace (the mark is no whitespace: such a
/// line is reported, as a document that is missing).
pub fn decode_line(line: &[u8]) -> Result<Option<EcsRecord<'_>>, EcsError> {
    if is_blank(line) {
        Ok(None)
    } else {
        EcsRecord::parse(line).map(Some)
    }
}

impl<'a> EcsRecord<'a> {
    /// Decodes one ECS JSON document (one NDJSON line, with or without its line end).
    ///
    /// A leading UTF-8 byte-order mark is skipped. Whatever the document's category,
    /// the whole line is checked: it must be UTF-8, one JSON object, with an
    /// `@timestamp`, and every field this crate reads must have a type Elasticsearch
    /// could index. See the [module docs](super) for nested/dotted keys, coercions,
    /// duplicates and nulls.
    ///
    /// # Example
    ///
    /// ```
    /// use shareexec::input::{Category, EcsRecord};
    /// use shareexec::Event;
    ///
    /// let line = br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":["file"],"type":["creation"]},
    ///     "host.id":"h1","host":{"os":{"type":"windows"}},"process.pid":"4",
    ///     "file":{"path":"C:\\Windows\\evil.exe","extension":"exe"}}"#;
    /// let record = EcsRecord::parse(line)?;
    /// assert_eq!(record.category(), Category::File);
    /// assert_eq!(record.file_path(), Some(r"C:\Windows\evil.exe"));
    ///
    /// let events: Vec<Event<'_>> = record.events(7).collect();
    /// let [Event::File(write)] = events[..] else { panic!("one file event") };
    /// assert_eq!(write.pid, Some(4));
    /// assert_eq!(write.host_id, Some("h1"));
    /// assert_eq!(write.origin.position, 7);
    /// # Ok::<(), shareexec::input::EcsError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// An [`EcsError`] for any line that is not such a document, including a blank
    /// one ([`EcsErrorKind::Blank`]; use [`decode_line`] to skip those). Never panics.
    pub fn parse(line: &'a [u8]) -> Result<EcsRecord<'a>, EcsError> {
        match frame(line) {
            Ok((text, base)) => Self::parse_text(text, base),
            Err(column) => Err(EcsError {
                column: Some(column),
                kind: EcsErrorKind::InvalidUtf8,
            }),
        }
    }

    /// [`EcsRecord::parse`] for a line already known to be UTF-8.
    ///
    /// # Errors
    ///
    /// As [`EcsRecord::parse`].
    pub fn parse_str(line: &'a str) -> Result<EcsRecord<'a>, EcsError> {
        let (text, base) = frame_str(line);
        Self::parse_text(text, base)
    }

    fn parse_text(text: &'a str, base: usize) -> Result<EcsRecord<'a>, EcsError> {
        if is_blank(text.as_bytes()) {
            return Err(EcsError {
                column: None,
                kind: EcsErrorKind::Blank,
            });
        }
        let mut needs_texts = false;
        let result = decode(text, base, false, &mut needs_texts);
        let json_error = matches!(
            result,
            Err(EcsError {
                kind: EcsErrorKind::NotJson { .. },
                ..
            })
        );
        if !needs_texts && !json_error {
            return result;
        }
        decode_slow(text, base, needs_texts).unwrap_or(result)
    }

    /// `@timestamp`.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The document's category as the rule sees it (`event.category`).
    pub fn category(&self) -> Category {
        match self.categories & (CAT_FILE | CAT_PROCESS) {
            CAT_FILE => Category::File,
            CAT_PROCESS => Category::Process,
            0 => Category::Other,
            _ => Category::FileAndProcess,
        }
    }

    /// `event.type`, as a set: every value given, in any spelling (values outside ECS's
    /// list are dropped).
    pub fn event_types(&self) -> EventTypes {
        self.types
    }

    /// `event.sequence`: Elastic Defend's per-host counter.
    pub fn sequence(&self) -> Option<u64> {
        self.sequence
    }

    /// The identity an alert names the event by: `event.id` if present, else the
    /// top-level `id`, else the search hit's `_id`.
    pub fn id(&self) -> Option<&str> {
        self.event_id
            .as_deref()
            .or(self.top_id.as_deref())
            .or(self.doc_id.as_deref())
    }

    /// `event.id` alone.
    pub fn event_id(&self) -> Option<&str> {
        self.event_id.as_deref()
    }

    /// The top-level `id` alone (exports and test fixtures carry the document id there).
    pub fn top_level_id(&self) -> Option<&str> {
        self.top_id.as_deref()
    }

    /// `_id` of a search hit (`{"_id": …, "_source": {…}}`), alone.
    pub fn document_id(&self) -> Option<&str> {
        self.doc_id.as_deref()
    }

    /// `host.id`: half of both join keys.
    pub fn host_id(&self) -> Option<&str> {
        self.host_id.as_deref()
    }

    /// `host.name`, for alerts.
    pub fn host_name(&self) -> Option<&str> {
        self.host_name.as_deref()
    }

    /// `host.os.type`. When the document gives several values, the first equal to
    /// `windows`, else the first equal to it ignoring case, else the first (see the
    /// [module docs](super)).
    pub fn os_type(&self) -> Option<&str> {
        self.os_type.as_deref()
    }

    /// `process.pid`: the writer for a file event, the new process for a process event.
    /// When the document gives several values, 4 if any is 4, else the first (see the
    /// [module docs](super)).
    pub fn process_pid(&self) -> Option<i64> {
        self.pid
    }

    /// `process.executable`.
    pub fn process_executable(&self) -> Option<&str> {
        self.executable.as_deref()
    }

    /// `process.name`, for alerts.
    pub fn process_name(&self) -> Option<&str> {
        self.process_name.as_deref()
    }

    /// `process.code_signature.{exists, trusted, subject_name, status}`.
    pub fn code_signature(&self) -> CodeSignature<'_> {
        CodeSignature {
            exists: self.sig_exists,
            trusted: self.sig_trusted,
            subject_name: self.sig_subject.as_deref(),
            status: self.sig_status.as_deref(),
        }
    }

    /// `process.hash.{sha256, sha1, md5}`, for alerts.
    pub fn process_hash(&self) -> Hashes<'_> {
        self.process_hash.view()
    }

    /// `file.path`.
    pub fn file_path(&self) -> Option<&str> {
        self.file_path.as_deref()
    }

    /// `file.extension`.
    pub fn file_extension(&self) -> Option<&str> {
        self.file_extension.as_deref()
    }

    /// `file.Ext.header_bytes`.
    pub fn file_header_bytes(&self) -> Option<&str> {
        self.header_bytes.as_deref()
    }

    /// `file.hash.{sha256, sha1, md5}`, for alerts.
    pub fn file_hash(&self) -> Hashes<'_> {
        self.file_hash.view()
    }

    /// Time, sequence and identity of the document, with the caller's `position`.
    pub fn origin(&self, position: Position) -> Origin<'_> {
        Origin {
            timestamp: self.timestamp,
            sequence: self.sequence,
            id: self.id(),
            position,
        }
    }

    /// The document as a file (stage 1) event, if its category includes `file`.
    pub fn file_event(&self, position: Position) -> Option<FileEvent<'_>> {
        if !self.category().is_file() {
            return None;
        }
        Some(FileEvent {
            origin: self.origin(position),
            host_id: self.host_id(),
            os_type: self.os_type(),
            types: self.types,
            pid: self.pid,
            path: self.file_path(),
            extension: self.file_extension(),
            header_bytes: self.file_header_bytes(),
            hash: self.file_hash(),
        })
    }

    /// The document as a process (stage 2) event, if its category includes `process`.
    pub fn process_event(&self, position: Position) -> Option<ProcessEvent<'_>> {
        if !self.category().is_process() {
            return None;
        }
        Some(ProcessEvent {
            origin: self.origin(position),
            host_id: self.host_id(),
            os_type: self.os_type(),
            types: self.types,
            executable: self.process_executable(),
            pid: self.pid,
            code_signature: self.code_signature(),
            hash: self.process_hash(),
        })
    }

    /// The events to hand the detector, all with `position`: none for
    /// [`Category::Other`], one for `File` or `Process`, and for `FileAndProcess` the
    /// process event **first**, then the file event, so that the document can end a
    /// sequence begun by an earlier write and begin one for a later execution but
    /// never match itself (Elasticsearch requires stage 2 strictly after stage 1).
    pub fn events(&self, position: Position) -> impl Iterator<Item = Event<'_>> {
        self.process_event(position)
            .map(Event::Process)
            .into_iter()
            .chain(self.file_event(position).map(Event::File))
    }

    /// A copy that owns all its strings, to keep past the line's buffer.
    pub fn into_owned(self) -> EcsRecord<'static> {
        EcsRecord {
            timestamp: self.timestamp,
            categories: self.categories,
            types: self.types,
            sequence: self.sequence,
            event_id: own(self.event_id),
            top_id: own(self.top_id),
            doc_id: own(self.doc_id),
            host_id: own(self.host_id),
            host_name: own(self.host_name),
            os_type: own(self.os_type),
            pid: self.pid,
            executable: own(self.executable),
            process_name: own(self.process_name),
            sig_exists: self.sig_exists,
            sig_trusted: self.sig_trusted,
            sig_subject: own(self.sig_subject),
            sig_status: own(self.sig_status),
            process_hash: self.process_hash.into_owned(),
            file_path: own(self.file_path),
            file_extension: own(self.file_extension),
            header_bytes: own(self.header_bytes),
            file_hash: self.file_hash.into_owned(),
        }
    }
}

fn own(s: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    s.map(|s| Cow::Owned(s.into_owned()))
}

/// One pass of the decoder over `text` (the line without its byte-order mark, `base`
/// bytes into it). `counting` is the slow pass, which hands each JSON number its
/// original text. `needs_texts` says whether the pass met a kept number it could not
/// read without that text (only the fast pass can).
fn decode<'t>(
    text: &'t str,
    base: usize,
    counting: bool,
    needs_texts: &mut bool,
) -> Result<EcsRecord<'t>, EcsError> {
    let mut builder = Builder {
        numbers: counting.then(|| NumberTokens::new(text)),
        ..Builder::default()
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let result = BranchSeed {
        b: &mut builder,
        nodes: ROOT,
        path: "",
        in_array: false,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    *needs_texts = builder.needs_texts;
    if let Err(e) = result {
        let kind = match builder.error.take() {
            Some(kind) => kind,
            None => EcsErrorKind::NotJson {
                message: json_message(&e),
            },
        };
        let error = EcsError {
            column: json_column(&e, text).map(|c| c + base),
            kind,
        };
        return Err(error);
    }
    if !builder.has_timestamp {
        let error = EcsError {
            column: None,
            kind: EcsErrorKind::MissingTimestamp,
        };
        return Err(error);
    }
    Ok(builder.rec)
}

/// The slow pass, for the rare lines the fast one could not finish: a kept JSON number
/// whose text matters (`needs_texts`), or a JSON error, which may be an unpaired
/// surrogate escape. Such escapes (`"\ud800"`; NTFS names are unvalidated UTF-16) are
/// valid JSON to Elasticsearch's parser, and Lucene indexes each as U+FFFD; `serde_json`
/// refuses them in the strings it decodes, so they are first rewritten as `\ufffd`,
/// which has the same length (error columns stay right). `None`: the fast pass's error
/// stands (a JSON error without such escapes).
///
/// The slow pass skips values as the fast one does ([`Skip`]): it accepts and refuses
/// them alike (a skipped `1e400`, a skipped value nested past `serde_json`'s limit of
/// 128 for the values it reads).
fn decode_slow(
    text: &str,
    base: usize,
    needs_texts: bool,
) -> Option<Result<EcsRecord<'_>, EcsError>> {
    match without_lone_surrogates(text) {
        Some(fixed) => Some(decode(&fixed, base, true, &mut false).map(EcsRecord::into_owned)),
        None if needs_texts => Some(decode(text, base, true, &mut false)),
        None => None,
    }
}

// ---------------------------------------------------------------------------------------
// The field tree
// ---------------------------------------------------------------------------------------

/// A leaf field the decoder keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Field {
    Timestamp,
    Category,
    Type,
    Sequence,
    EventId,
    TopId,
    DocId,
    HostId,
    HostName,
    OsType,
    Pid,
    Executable,
    ProcessName,
    SigExists,
    SigTrusted,
    SigSubject,
    SigStatus,
    ProcessSha256,
    ProcessSha1,
    ProcessMd5,
    FilePath,
    FileExtension,
    HeaderBytes,
    FileSha256,
    FileSha1,
    FileMd5,
}

/// How a leaf's JSON value is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// ECS `keyword`.
    Str,
    /// ECS `boolean`.
    Bool,
    /// ECS `long`, kept as `i64`.
    Int,
    /// ECS `long`, kept as `u64` (`event.sequence`).
    Unsigned,
    /// `@timestamp`.
    Time,
    /// `event.category` / `event.type`: keyword, usually an array.
    Set,
}

impl Field {
    /// Multi-valued fields: every value given (arrays, dotted and nested spellings,
    /// repeated keys, arrays of objects) counts, as in the multi-valued field
    /// Elasticsearch indexes, and `null` adds nothing. `event.category` and `event.type`
    /// are sets (the union); `process.pid` and `host.os.type`, single values in the typed
    /// event, keep the value the rule's `==` would match if any does (see
    /// [`Builder::add_pid`], [`Builder::add_os_type`]).
    fn is_multi(self) -> bool {
        matches!(
            self,
            Field::Category | Field::Type | Field::Pid | Field::OsType
        )
    }

    fn shape(self) -> Shape {
        match self {
            Field::Timestamp => Shape::Time,
            Field::Category | Field::Type => Shape::Set,
            Field::Sequence => Shape::Unsigned,
            Field::Pid => Shape::Int,
            Field::SigExists | Field::SigTrusted => Shape::Bool,
            _ => Shape::Str,
        }
    }
}

impl Shape {
    fn expected(self) -> &'static str {
        match self {
            Shape::Str => "a string",
            Shape::Bool => "a boolean",
            Shape::Int => "an integer",
            Shape::Unsigned => "a non-negative integer",
            Shape::Time => "an RFC 3339 date string or epoch milliseconds",
            Shape::Set => "a string or an array of strings",
        }
    }
}

pub(super) struct Node {
    pub(super) name: &'static str,
    /// Full dotted name, for errors.
    path: &'static str,
    kind: Kind,
}

enum Kind {
    /// The children, and their [`Slots`].
    Branch(&'static [Node], &'static Slots),
    Leaf(Field),
    /// `_source` of a search hit: the document itself.
    Root,
}

macro_rules! leaf {
    ($name:literal, $path:literal, $field:ident) => {
        Node {
            name: $name,
            path: $path,
            kind: Kind::Leaf(Field::$field),
        }
    };
}

macro_rules! branch {
    ($name:literal, $path:literal, [$($child:expr),* $(,)?]) => {
        Node {
            name: $name,
            path: $path,
            kind: Kind::Branch(&[$($child),*], const { &Slots::of(&[$($child),*]) }),
        }
    };
}

pub(super) static ROOT: &[Node] = &[
    leaf!("@timestamp", "@timestamp", Timestamp),
    branch!(
        "event",
        "event",
        [
            leaf!("category", "event.category", Category),
            leaf!("type", "event.type", Type),
            leaf!("sequence", "event.sequence", Sequence),
            leaf!("id", "event.id", EventId),
        ]
    ),
    branch!(
        "host",
        "host",
        [
            leaf!("id", "host.id", HostId),
            leaf!("name", "host.name", HostName),
            branch!("os", "host.os", [leaf!("type", "host.os.type", OsType)]),
        ]
    ),
    branch!(
        "process",
        "process",
        [
            leaf!("pid", "process.pid", Pid),
            leaf!("executable", "process.executable", Executable),
            leaf!("name", "process.name", ProcessName),
            branch!(
                "code_signature",
                "process.code_signature",
                [
                    leaf!("exists", "process.code_signature.exists", SigExists),
                    leaf!("trusted", "process.code_signature.trusted", SigTrusted),
                    leaf!(
                        "subject_name",
                        "process.code_signature.subject_name",
                        SigSubject
                    ),
                    leaf!("status", "process.code_signature.status", SigStatus),
                ]
            ),
            branch!(
                "hash",
                "process.hash",
                [
                    leaf!("sha256", "process.hash.sha256", ProcessSha256),
                    leaf!("sha1", "process.hash.sha1", ProcessSha1),
                    leaf!("md5", "process.hash.md5", ProcessMd5),
                ]
            ),
        ]
    ),
    branch!(
        "file",
        "file",
        [
            leaf!("path", "file.path", FilePath),
            leaf!("extension", "file.extension", FileExtension),
            branch!(
                "Ext",
                "file.Ext",
                [leaf!("header_bytes", "file.Ext.header_bytes", HeaderBytes)]
            ),
            branch!(
                "hash",
                "file.hash",
                [
                    leaf!("sha256", "file.hash.sha256", FileSha256),
                    leaf!("sha1", "file.hash.sha1", FileSha1),
                    leaf!("md5", "file.hash.md5", FileMd5),
                ]
            ),
        ]
    ),
    leaf!("id", "id", TopId),
    leaf!("_id", "_id", DocId),
    Node {
        name: "_source",
        path: "_source",
        kind: Kind::Root,
    },
];

/// [`Slots`] of [`ROOT`].
pub(super) static ROOT_SLOTS: Slots = Slots::of(ROOT);

/// The nodes of a list by their names' first two bytes, for the prefilter: a key
/// names a node, or starts with its name and a dot, only if the key starts with the
/// node's first two bytes, so the one node in the key's slot (if any) is the only one
/// to compare it with. (Every name has at least two bytes, checked at compile time, so
/// a shorter key matches none.)
pub(super) struct Slots([u8; 64]);

impl Slots {
    /// In a slot: no node.
    pub(super) const EMPTY: u8 = 0;
    /// In a slot: several nodes (compare the key with each).
    pub(super) const SHARED: u8 = u8::MAX;

    const fn of(nodes: &[Node]) -> Slots {
        assert!(
            nodes.len() < Slots::SHARED as usize - 1,
            "too many nodes for a slot"
        );
        let mut slots = [Slots::EMPTY; 64];
        let mut i = 0;
        while i < nodes.len() {
            let name = nodes[i].name.as_bytes();
            assert!(name.len() >= 2, "a node name shorter than two bytes");
            let slot = Slots::slot(name[0], name[1]);
            slots[slot] = if slots[slot] == Slots::EMPTY {
                i as u8 + 1
            } else {
                Slots::SHARED
            };
            i += 1;
        }
        Slots(slots)
    }

    /// The slot of a name (or key) by its first two bytes.
    #[inline(always)]
    const fn slot(first: u8, second: u8) -> usize {
        (first as usize * 31 + second as usize) % 64
    }

    /// What the slot of `first`, `second` holds: [`EMPTY`](Self::EMPTY),
    /// [`SHARED`](Self::SHARED), or the index of its one node plus one.
    #[inline(always)]
    pub(super) fn get(&self, first: u8, second: u8) -> u8 {
        self.0[Slots::slot(first, second)]
    }
}

/// Where a key (possibly dotted) leads from a given object.
#[derive(Clone, Copy)]
pub(super) enum Route {
    /// Not a field this crate reads: skip the value.
    Unknown,
    /// An object of the tree: its value must be an object (or null).
    Branch(&'static str, &'static [Node], &'static Slots),
    /// A leaf: its value is read.
    Leaf(Field, &'static str),
    /// The key continues past a leaf (`process.pid.x`): the leaf would have to be an
    /// object, which Elasticsearch's mapping refuses.
    PastLeaf(Field, &'static str),
}

pub(super) fn route(nodes: &'static [Node], key: &str) -> Route {
    let mut nodes = nodes;
    let mut found = Route::Unknown;
    for segment in key.split('.') {
        if let Route::Leaf(field, path) = found {
            return Route::PastLeaf(field, path);
        }
        let Some(node) = nodes.iter().find(|n| n.name == segment) else {
            return Route::Unknown;
        };
        found = node_route(node);
        if let Route::Branch(_, children, _) = found {
            nodes = children;
        }
    }
    found
}

/// Where a key naming exactly `node` leads (one segment of [`route`]).
pub(super) fn node_route(node: &'static Node) -> Route {
    match node.kind {
        Kind::Branch(children, slots) => Route::Branch(node.path, children, slots),
        Kind::Root => Route::Branch(node.path, ROOT, &ROOT_SLOTS),
        Kind::Leaf(field) => Route::Leaf(field, node.path),
    }
}

// ---------------------------------------------------------------------------------------
// The visitors
// ---------------------------------------------------------------------------------------

/// `process.pid` of the System process, the only value of the field the rule tests.
const SYSTEM_PID: i64 = 4;

#[derive(Default)]
struct Builder<'a> {
    rec: EcsRecord<'a>,
    has_timestamp: bool,
    /// How `rec.os_type` compares with `windows`: 2 exactly, 1 case-insensitively, 0 not.
    os_rank: u8,
    /// The typed reason a visitor gave up (serde errors are strings; this keeps the type).
    error: Option<EcsErrorKind>,
    /// The slow pass: the line's number tokens, in document order.
    numbers: Option<NumberTokens<'a>>,
    /// The fast pass met a kept number it cannot read without its JSON text.
    needs_texts: bool,
}

impl<'a> Builder<'a> {
    fn fail<E: de::Error>(&mut self, kind: EcsErrorKind) -> E {
        self.error = Some(kind);
        E::custom("see EcsErrorKind")
    }

    fn wrong<E: de::Error>(
        &mut self,
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    ) -> E {
        self.fail(EcsErrorKind::WrongType {
            field,
            expected,
            found,
        })
    }

    /// The original text of the JSON number being read, in the slow pass (every number
    /// of the document, kept or skipped, takes its token here, in order); `None` in the
    /// fast pass.
    fn number_text(&mut self) -> Option<&'a str> {
        self.numbers.as_mut().and_then(NumberTokens::next)
    }

    /// A skipper for a value of no interest, stepping past its numbers in the slow pass.
    fn skip(&mut self) -> Skip<'_, 'a> {
        Skip(self.numbers.as_mut())
    }

    fn str_slot(&mut self, field: Field) -> Option<&mut Option<Cow<'a, str>>> {
        let r = &mut self.rec;
        Some(match field {
            Field::EventId => &mut r.event_id,
            Field::TopId => &mut r.top_id,
            Field::DocId => &mut r.doc_id,
            Field::HostId => &mut r.host_id,
            Field::HostName => &mut r.host_name,
            Field::OsType => &mut r.os_type,
            Field::Executable => &mut r.executable,
            Field::ProcessName => &mut r.process_name,
            Field::SigSubject => &mut r.sig_subject,
            Field::SigStatus => &mut r.sig_status,
            Field::ProcessSha256 => &mut r.process_hash.sha256,
            Field::ProcessSha1 => &mut r.process_hash.sha1,
            Field::ProcessMd5 => &mut r.process_hash.md5,
            Field::FilePath => &mut r.file_path,
            Field::FileExtension => &mut r.file_extension,
            Field::HeaderBytes => &mut r.header_bytes,
            Field::FileSha256 => &mut r.file_hash.sha256,
            Field::FileSha1 => &mut r.file_hash.sha1,
            Field::FileMd5 => &mut r.file_hash.md5,
            Field::Timestamp
            | Field::Category
            | Field::Type
            | Field::Sequence
            | Field::Pid
            | Field::SigExists
            | Field::SigTrusted => return None,
        })
    }

    /// One value of a keyword field: `host.os.type` collects it, the others keep the last.
    #[inline]
    fn keyword(&mut self, field: Field, value: Cow<'a, str>) {
        if field == Field::OsType {
            self.add_os_type(value);
        } else if let Some(slot) = self.str_slot(field) {
            *slot = Some(value);
        }
    }

    /// One value of `host.os.type`, which the typed event holds once: the rule tests
    /// `host.os.type == "windows"` (exact in Elasticsearch semantics, case-insensitive in
    /// hardened), true for a multi-valued field when any value matches. So the value kept
    /// is the first equal to `windows`, else the first equal to it ignoring case (as
    /// [`eq_folded`] compares), else the first value.
    fn add_os_type(&mut self, value: Cow<'a, str>) {
        let rank = if value == "windows" {
            2
        } else if eq_folded(&value, "windows") {
            1
        } else {
            0
        };
        if self.rec.os_type.is_none() || rank > self.os_rank {
            self.rec.os_type = Some(value);
            self.os_rank = rank;
        }
    }

    /// One value of `process.pid`, which the typed event holds once: the rule's only use
    /// of it is `process.pid == 4`, true for a multi-valued field when any value is 4.
    /// So the value kept is 4 if any value is, else the first value.
    fn add_pid(&mut self, pid: i64) {
        if self.rec.pid.is_none() || pid == SYSTEM_PID {
            self.rec.pid = Some(pid);
        }
    }

    fn set_bool(&mut self, field: Field, value: Option<bool>) {
        match field {
            Field::SigExists => self.rec.sig_exists = value,
            Field::SigTrusted => self.rec.sig_trusted = value,
            _ => {}
        }
    }

    /// A `null` (or a value Elasticsearch indexes as none: `""` for an integer): adds
    /// nothing to a multi-valued field, clears a single-valued one (it is the last value).
    fn null(&mut self, field: Field) {
        if !field.is_multi() {
            self.clear(field);
        }
    }

    /// Clears a single-valued leaf.
    fn clear(&mut self, field: Field) {
        match field {
            Field::Timestamp => self.has_timestamp = false,
            Field::Sequence => self.rec.sequence = None,
            Field::SigExists | Field::SigTrusted => self.set_bool(field, None),
            _ => {
                if let Some(slot) = self.str_slot(field) {
                    *slot = None;
                }
            }
        }
    }

    /// Adds one keyword to `event.category` or `event.type`.
    fn add_to_set(&mut self, field: Field, value: &str) {
        match field {
            Field::Category => match value {
                "file" => self.rec.categories |= CAT_FILE,
                "process" => self.rec.categories |= CAT_PROCESS,
                _ => {}
            },
            Field::Type => {
                self.rec.types.insert_str(value);
            }
            _ => {}
        }
    }

    /// An integer for `process.pid` / `event.sequence`, after Elasticsearch's coercion
    /// (range checked here).
    fn set_int<E: de::Error>(
        &mut self,
        field: Field,
        path: &'static str,
        value: i128,
    ) -> Result<(), E> {
        let shape = field.shape();
        match field {
            Field::Pid => match i64::try_from(value) {
                Ok(v) => self.add_pid(v),
                Err(_) => return Err(self.wrong(path, shape.expected(), "a number out of range")),
            },
            Field::Sequence => match u64::try_from(value) {
                Ok(v) => self.rec.sequence = Some(v),
                Err(_) if value < 0 => {
                    return Err(self.wrong(path, shape.expected(), "a negative number"));
                }
                Err(_) => return Err(self.wrong(path, shape.expected(), "a number out of range")),
            },
            _ => {}
        }
        Ok(())
    }

    fn set_timestamp(&mut self, ts: Timestamp) {
        self.rec.timestamp = ts;
        self.has_timestamp = true;
    }
}

/// An object of the tree (or the document itself, `path == ""`).
struct BranchSeed<'b, 'a> {
    b: &'b mut Builder<'a>,
    nodes: &'static [Node],
    path: &'static str,
    /// An element of an array given for the object.
    in_array: bool,
}

impl<'a> DeserializeSeed<'a> for BranchSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl BranchSeed<'_, '_> {
    fn not_object<E: de::Error>(self, found: &'static str) -> Result<(), E> {
        if self.path.is_empty() {
            Err(self.b.fail(EcsErrorKind::NotAnObject { found }))
        } else if found == "null" {
            Ok(()) // `"process": null` (or `[null]`) is no process fields at all
        } else if self.in_array {
            let found = match found {
                "a boolean" => "an array holding a boolean",
                "a number" => "an array holding a number",
                _ => "an array holding a string",
            };
            Err(self.b.wrong(self.path, "an object", found))
        } else {
            Err(self.b.wrong(self.path, "an object", found))
        }
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
                Route::Unknown => map.next_value_seed(b.skip())?,
                Route::Branch(path, nodes, _) => map.next_value_seed(BranchSeed {
                    b: &mut *b,
                    nodes,
                    path,
                    in_array: false,
                })?,
                Route::Leaf(field, path) => map.next_value_seed(LeafSeed {
                    b: &mut *b,
                    field,
                    path,
                })?,
                Route::PastLeaf(field, path) => {
                    if map.next_value_seed(SkipNonNull(b.numbers.as_mut()))? {
                        return Err(b.wrong(path, field.shape().expected(), "an object"));
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
        self.not_object("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_object("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_object("a number")
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_object("a string")
    }

    /// An array of objects is flattened, as Elasticsearch does: each object merges into
    /// the branch like a repeated key (`"code_signature": [{…}]` is the object; nested
    /// arrays flatten; `null` elements are nothing). Any other element is an error.
    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.path.is_empty() {
            return self.not_object("an array");
        }
        let BranchSeed { b, nodes, path, .. } = self;
        while seq
            .next_element_seed(BranchSeed {
                b: &mut *b,
                nodes,
                path,
                in_array: true,
            })?
            .is_some()
        {}
        Ok(())
    }
}

/// A key: routed through the tree while the parser still holds it (no allocation,
/// escaped or not).
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
        Ok(route(self.0, key))
    }
}

/// The value of a leaf field.
struct LeafSeed<'b, 'a> {
    b: &'b mut Builder<'a>,
    field: Field,
    path: &'static str,
}

impl<'a> DeserializeSeed<'a> for LeafSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'a> LeafSeed<'_, 'a> {
    fn wrong<E: de::Error>(self, found: &'static str) -> E {
        self.b
            .wrong(self.path, self.field.shape().expected(), found)
    }

    /// A string value: a keyword field keeps it (borrowed if it can be), any other
    /// field reads it in place.
    fn string<E: de::Error>(self, value: Cow<'a, str>) -> Result<(), E> {
        if self.field.shape() == Shape::Str {
            self.b.keyword(self.field, value);
            Ok(())
        } else {
            text(self.b, self.field, self.path, &value)
        }
    }

    /// A JSON integer (`token`, its text, in the slow pass).
    fn integer<E: de::Error>(self, n: i128, token: Option<&'a str>) -> Result<(), E> {
        let field = self.field;
        match field.shape() {
            Shape::Int | Shape::Unsigned => self.b.set_int(field, self.path, n),
            // A keyword field indexes a JSON integer as its text.
            Shape::Str => {
                let text = token.map_or_else(|| Cow::Owned(n.to_string()), Cow::Borrowed);
                self.b.keyword(field, text);
                Ok(())
            }
            // No ECS category or type is a number: the set gains nothing.
            Shape::Set => Ok(()),
            Shape::Bool => Err(self.wrong("a number")),
            Shape::Time => match es_date_from_int(n) {
                Ok(ts) => {
                    self.b.set_timestamp(ts);
                    Ok(())
                }
                Err(reason) => Err(self.b.fail(EcsErrorKind::BadTimestamp {
                    text: n.to_string(),
                    reason,
                })),
            },
        }
    }
}

impl<'a> Visitor<'a> for LeafSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field.shape().expected())
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'a str) -> Result<(), E> {
        self.string(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        // An escaped string, in the parser's scratch buffer: copied only if kept.
        text(self.b, self.field, self.path, v)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<(), E> {
        self.string(Cow::Owned(v))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        let field = self.field;
        match field.shape() {
            Shape::Bool => {
                self.b.set_bool(field, Some(v));
                Ok(())
            }
            Shape::Str => self.string(Cow::Borrowed(if v { "true" } else { "false" })),
            Shape::Set => Ok(()),
            Shape::Int | Shape::Unsigned | Shape::Time => Err(self.wrong("a boolean")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        let token = self.b.number_text();
        self.integer(i128::from(v), token)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        let token = self.b.number_text();
        self.integer(i128::from(v), token)
    }

    /// A JSON number with a fraction or an exponent (or `-0`, or an integer beyond
    /// 64 bits): `serde_json` hands over an `f64`. Integer fields take it as Jackson
    /// does; the others need the number's original text, which only the slow pass has.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let token = self.b.number_text();
        let field = self.field;
        match field.shape() {
            Shape::Int | Shape::Unsigned => match long_from_f64(v, token) {
                FromFloat::Long(n) => self.b.set_int(field, self.path, i128::from(n)),
                FromFloat::OutOfRange => Err(self.wrong("a number out of range")),
                FromFloat::NeedsText => {
                    self.b.needs_texts = true;
                    Ok(())
                }
            },
            Shape::Set => Ok(()),
            Shape::Bool => Err(self.wrong("a number")),
            // A keyword indexes the number's text; a date parses it (epoch millis).
            Shape::Str | Shape::Time => match token {
                Some(token) => self.string(Cow::Borrowed(token)),
                None => {
                    self.b.needs_texts = true;
                    Ok(())
                }
            },
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.b.null(self.field);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        let LeafSeed { b, field, path } = self;
        if field.shape() == Shape::Set {
            while seq
                .next_element_seed(SetElementSeed {
                    b: &mut *b,
                    field,
                    path,
                })?
                .is_some()
            {}
            return Ok(());
        }
        if field.is_multi() {
            // Every element is a value (nested arrays flatten, `null`s add nothing).
            while seq
                .next_element_seed(LeafSeed {
                    b: &mut *b,
                    field,
                    path,
                })?
                .is_some()
            {}
            return Ok(());
        }
        // A one-element array is the value itself (Elasticsearch indexes arrays as
        // multi-valued fields); an empty one is missing; several values are refused.
        b.clear(field);
        if seq
            .next_element_seed(LeafSeed {
                b: &mut *b,
                field,
                path,
            })?
            .is_some()
            && seq.next_element_seed(b.skip())?.is_some()
        {
            return Err(b.wrong(path, field.shape().expected(), "an array of several values"));
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'a>>(self, _: A) -> Result<(), A::Error> {
        Err(self.wrong("an object"))
    }
}

/// A leaf's string value that need not outlive the call: a keyword field copies it,
/// the others read it with Elasticsearch's coercions.
fn text<E: de::Error>(
    b: &mut Builder<'_>,
    field: Field,
    path: &'static str,
    v: &str,
) -> Result<(), E> {
    let shape = field.shape();
    match shape {
        Shape::Str => {
            b.keyword(field, Cow::Owned(v.to_owned()));
            Ok(())
        }
        Shape::Set => {
            b.add_to_set(field, v);
            Ok(())
        }
        Shape::Bool => match v {
            "true" => {
                b.set_bool(field, Some(true));
                Ok(())
            }
            "false" | "" => {
                b.set_bool(field, Some(false));
                Ok(())
            }
            _ => Err(b.wrong(
                path,
                shape.expected(),
                "a string other than \"true\" or \"false\"",
            )),
        },
        Shape::Int | Shape::Unsigned => match es_long_from_str(v) {
            Ok(Some(n)) => b.set_int(field, path, i128::from(n)),
            Ok(None) => {
                b.null(field);
                Ok(())
            }
            Err(found) => Err(b.wrong(path, shape.expected(), found)),
        },
        Shape::Time => match parse_es_date(v) {
            Ok(ts) => {
                b.set_timestamp(ts);
                Ok(())
            }
            Err(reason) => Err(b.fail(EcsErrorKind::BadTimestamp {
                text: truncated(v, 64).to_owned(),
                reason,
            })),
        },
    }
}

/// One element of `event.category` / `event.type` (arrays nest and flatten, as in
/// Elasticsearch).
struct SetElementSeed<'b, 'a> {
    b: &'b mut Builder<'a>,
    field: Field,
    path: &'static str,
}

impl<'a> DeserializeSeed<'a> for SetElementSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'a> Visitor<'a> for SetElementSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.b.add_to_set(self.field, v);
        Ok(())
    }

    // Numbers, booleans and nulls are values no category or type equals.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.b.number_text();
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.b.number_text();
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.b.number_text();
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        let SetElementSeed { b, field, path } = self;
        while seq
            .next_element_seed(SetElementSeed {
                b: &mut *b,
                field,
                path,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'a>>(self, _: A) -> Result<(), A::Error> {
        Err(self.b.wrong(
            self.path,
            Shape::Set.expected(),
            "an array holding an object",
        ))
    }
}

// ---------------------------------------------------------------------------------------
// The slow pass, and Elasticsearch's coercions (shared with the Sysmon decoder)
// ---------------------------------------------------------------------------------------

/// The number tokens of a JSON text, handed out in document order: the slow pass's way
/// to the original text of a number `serde_json` only gives as an `f64`. The pass must
/// take exactly one token per number the parser reads, kept or skipped (see [`Skip`]).
/// The text is valid JSON up to where the parser is, so a token is a maximal run of
/// number characters outside strings.
pub(super) struct NumberTokens<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> NumberTokens<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        NumberTokens { text, at: 0 }
    }

    /// The next number token.
    pub(super) fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        let mut i = self.at;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    i += 1;
                    loop {
                        match bytes.get(i) {
                            None => break,
                            Some(b'\\') => i += 2,
                            Some(b'"') => {
                                i += 1;
                                break;
                            }
                            Some(_) => i += 1,
                        }
                    }
                }
                b'-' | b'0'..=b'9' => {
                    let start = i;
                    while matches!(
                        bytes.get(i),
                        Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
                    ) {
                        i += 1;
                    }
                    self.at = i;
                    return self.text.get(start..i);
                }
                _ => i += 1,
            }
        }
        self.at = i;
        None
    }
}

/// Skips a value of no interest. The fast pass skips with [`IgnoredAny`] (`serde_json`
/// then neither decodes strings nor converts numbers); the slow pass skips it the same
/// way, as a [`RawValue`] (the same `serde_json` skip, which checks a number's grammar
/// but not its size and has no nesting limit), and steps its number tokens past the
/// value's. So a skipped value is accepted or refused alike in both passes: a `1e400`
/// nobody reads is no error in either (the slow pass once read every skipped number as
/// an `f64`, and refused it).
pub(super) struct Skip<'c, 'a>(pub(super) Option<&'c mut NumberTokens<'a>>);

impl<'de> DeserializeSeed<'de> for Skip<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0 {
            None => IgnoredAny::deserialize(deserializer).map(|_| ()),
            Some(numbers) => step_over(numbers, deserializer).map(drop),
        }
    }
}

/// [`Skip`], saying whether the value was anything but `null`.
struct SkipNonNull<'c, 'a>(Option<&'c mut NumberTokens<'a>>);

impl<'de> DeserializeSeed<'de> for SkipNonNull<'_, '_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        match self.0 {
            None => Option::<IgnoredAny>::deserialize(deserializer).map(|v| v.is_some()),
            Some(numbers) => step_over(numbers, deserializer).map(|raw| raw != "null"),
        }
    }
}

/// The slow pass's skip: the value's raw JSON text, taken by `serde_json` as it skips
/// the value, and as many of `numbers`' tokens as the value holds (a number token of a
/// whole JSON value is one of the document's). Its text.
fn step_over<'de, D: Deserializer<'de>>(
    numbers: &mut NumberTokens<'_>,
    deserializer: D,
) -> Result<&'de str, D::Error> {
    let raw = <&'de RawValue>::deserialize(deserializer)?.get();
    let mut inside = NumberTokens::new(raw);
    while inside.next().is_some() {
        numbers.next();
    }
    Ok(raw)
}

/// `text` with every unpaired UTF-16 surrogate escape (`\ud800` not followed by a low
/// surrogate escape, a lone `\udc00`) replaced by `\ufffd`, which is what Lucene
/// indexes for it; `None` if there is none. Paired escapes (`\ud83d\ude00`) stay.
/// The replacement has the same length, so positions in the text do not move.
pub(super) fn without_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut fixed: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            i += 1;
            continue;
        }
        let Some(unit) = hex_escape(bytes, i) else {
            i += 2; // `\\`, `\"`, `\n`…: the escaped byte is not an escape itself
            continue;
        };
        let paired = (0xD800..=0xDBFF).contains(&unit)
            && hex_escape(bytes, i + 6).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low));
        if paired {
            i += 12;
            continue;
        }
        if (0xD800..=0xDFFF).contains(&unit)
            && let Some(digits) = fixed
                .get_or_insert_with(|| bytes.to_vec())
                .get_mut(i + 2..i + 6)
        {
            digits.copy_from_slice(b"fffd");
        }
        i += 6;
    }
    // Only ASCII hex digits were replaced by ASCII: still UTF-8.
    fixed.and_then(|f| String::from_utf8(f).ok())
}

/// The code unit of a `\uXXXX` escape at `at`.
fn hex_escape(bytes: &[u8], at: usize) -> Option<u16> {
    let escape = bytes.get(at..at + 6)?;
    if !escape.starts_with(br"\u") {
        return None;
    }
    escape.get(2..)?.iter().try_fold(0u16, |n, &h| {
        let digit = char::from(h).to_digit(16)?;
        Some(n * 16 + u16::try_from(digit).ok()?)
    })
}

/// A date as Elasticsearch's default `date` format, `strict_date_optional_time||epoch_millis`,
/// reads a text (a JSON string, or a JSON number's text: `DateFieldMapper` parses
/// `textOrNull()`), within this crate's subset of the first format:
///
/// 1. an RFC 3339 timestamp ([`parse_rfc3339`]);
/// 2. four digits, which `strict_date_optional_time` reads as a year (its month, day and
///    time are optional, its zone defaults to UTC): `2024` is `2024-01-01T00:00:00Z`; a
///    negative year is out of range;
/// 3. epoch milliseconds as `EpochTime`'s `epoch_millis` parser takes them: an optional
///    `-`, 1 to 19 digits (at most `i64::MAX`), an optional `.` followed by 0 to 6
///    digits of fraction (nanoseconds of the millisecond); the sign applies to the
///    fraction too (`-1.5` is 1.5 ms before the epoch). Converted exactly, by text.
///
/// Other dates `strict_date_optional_time` would take (`2024-01-03`, no zone, `+HHMM`
/// offsets…) are refused with the RFC 3339 error, as before.
pub(super) fn parse_es_date(text: &str) -> Result<Timestamp, TimestampError> {
    let rfc3339 = match parse_rfc3339(text) {
        Ok(ts) => return Ok(ts),
        Err(e) => e,
    };
    let (negative, digits) = match text.strip_prefix("-") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit()) {
        return if negative {
            Err(TimestampError::OutOfRange)
        } else {
            year_start(digits)
        };
    }
    match epoch_millis(negative, digits) {
        Some(result) => result,
        // A number's text (a JSON number, or a string of one) is meant as epoch
        // milliseconds: say what that form takes, not what RFC 3339 expected at byte 1.
        None if looks_numeric(digits) => Err(not_epoch_millis(text, digits)),
        None => Err(rfc3339),
    }
}

/// Whether `digits` (after a sign) starts with a digit and holds only what a JSON
/// number holds: digits, `.`, and an exponent's `e` or `E` with its sign (a `-`
/// elsewhere makes a date such as `2024-01-03`, left to the RFC 3339 error).
fn looks_numeric(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.first().is_some_and(u8::is_ascii_digit)
        && b.iter().enumerate().all(|(i, &c)| match c {
            b'0'..=b'9' | b'.' | b'e' | b'E' => true,
            b'+' | b'-' => i
                .checked_sub(1)
                .and_then(|j| b.get(j))
                .is_some_and(|c| matches!(c, b'e' | b'E')),
            _ => false,
        })
}

/// Where `text` (`digits` after its sign) leaves `epoch_millis`'s shape: at most 19
/// digits, then optionally `.` and at most 6.
fn not_epoch_millis(text: &str, digits: &str) -> TimestampError {
    const EXPECTED: &str =
        "epoch milliseconds (at most 19 digits, then at most 6 after a `.`, no exponent)";
    let sign = text.len() - digits.len();
    let int = digits.bytes().take_while(u8::is_ascii_digit).count();
    let at = if int > 19 {
        19
    } else if digits.as_bytes().get(int) == Some(&b'.') {
        let fraction = digits
            .get(int + 1..)
            .unwrap_or_default()
            .bytes()
            .take_while(u8::is_ascii_digit)
            .count();
        int + 1 + fraction.min(6)
    } else {
        int
    };
    TimestampError::Syntax {
        at: sign + at,
        expected: EXPECTED,
    }
}

/// A JSON integer for a date: its text read by [`parse_es_date`], without formatting it.
pub(super) fn es_date_from_int(n: i128) -> Result<Timestamp, TimestampError> {
    match n {
        1000..=9999 => year_start(&n.to_string()),
        -9999..=-1000 => Err(TimestampError::OutOfRange),
        _ => {
            // `epoch_millis` takes at most `i64::MAX` milliseconds either side.
            if n.unsigned_abs() > i64::MAX.unsigned_abs().into() {
                return Err(TimestampError::OutOfRange);
            }
            n.checked_mul(1_000_000)
                .and_then(|ns| i64::try_from(ns).ok())
                .map(Timestamp)
                .ok_or(TimestampError::OutOfRange)
        }
    }
}

/// January 1st, 00:00 UTC, of a four-digit year.
fn year_start(year: &str) -> Result<Timestamp, TimestampError> {
    let mut text = [0u8; 20];
    text[..4].copy_from_slice(year.as_bytes().get(..4).unwrap_or(b"0000"));
    text[4..].copy_from_slice(b"-01-01T00:00:00Z");
    core::str::from_utf8(&text)
        .map_err(|_| TimestampError::OutOfRange)
        .and_then(parse_rfc3339)
}

/// `Some` when `digits` (after the sign) has `epoch_millis`'s shape.
fn epoch_millis(negative: bool, digits: &str) -> Option<Result<Timestamp, TimestampError>> {
    // (Bytes, not `split_once('.')`: another caller of the `char` searcher can make the
    // compiler stop inlining it into `route`, the decoder's hottest loop.)
    let (int, fraction) = match digits.bytes().position(|b| b == b'.') {
        Some(dot) => (
            digits.get(..dot).unwrap_or_default(),
            digits.get(dot + 1..).unwrap_or_default(),
        ),
        None => (digits, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(1..=19).contains(&int.len())
        || fraction.len() > 6
        || !all_digits(int)
        || !all_digits(fraction)
    {
        return None;
    }
    let millis: u64 = int.parse().ok()?;
    if millis > i64::MAX.unsigned_abs() {
        return Some(Err(TimestampError::OutOfRange));
    }
    let mut nanos_of_milli: u32 = 0;
    for i in 0..6 {
        let digit = fraction.as_bytes().get(i).map_or(0, |b| b - b'0');
        nanos_of_milli = nanos_of_milli * 10 + u32::from(digit);
    }
    let nanos = i128::from(millis) * 1_000_000 + i128::from(nanos_of_milli);
    let nanos = if negative { -nanos } else { nanos };
    Some(
        i64::try_from(nanos)
            .map(Timestamp)
            .map_err(|_| TimestampError::OutOfRange),
    )
}

/// Elasticsearch's coercion of a JSON string into a `long` (`AbstractXContentParser.toLong`,
/// `Numbers.toLong`: `Long.parseLong`, else `new BigDecimal(text)` truncated toward zero),
/// exactly, by text, never through a float:
///
/// - `""` is null (`Ok(None)`);
/// - otherwise the whole text must be an optional `+`/`-`, digits with an optional
///   `.` and fraction (at least one digit in all: `4.`, `.5`), and an optional exponent
///   (`e`/`E`, optional sign, digits): `"4"`, `"+4"`, `"4.0"`, `"4e0"`, `"4.9"` (4),
///   `"-4.9"` (-4), `"3.99999999999999999999"` (3), `"4e-1"` (0). No whitespace
///   (`" 4"` is refused, as `BigDecimal` refuses it), no `0x`, `NaN` or `Infinity`;
/// - the truncated value must fit an `i64`.
///
/// Departures, all on text no sensor writes: only ASCII digits (Java also takes other
/// Unicode decimal digits); no limit on the length; and the value is exact where recent
/// Elasticsearch versions shortcut on `BigDecimal`'s scale (more than 19 fraction digits
/// net of the exponent gives 0 there, a scale below -19 is out of range even for a zero
/// such as `"0e20"`), as the earlier versions, which compared the value, did not.
pub(super) fn es_long_from_str(s: &str) -> Result<Option<i64>, &'static str> {
    const NOT_A_NUMBER: &str = "a string that is not a number";
    const OUT_OF_RANGE: &str = "a number out of range";
    if s.is_empty() {
        return Ok(None);
    }
    let bytes = s.as_bytes();
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        bytes.get(start..*at).unwrap_or_default()
    };
    let mut at = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            at = 1;
            true
        }
        Some(b'+') => {
            at = 1;
            false
        }
        _ => false,
    };
    let int = digits(&mut at);
    let fraction = if bytes.get(at) == Some(&b'.') {
        at += 1;
        digits(&mut at)
    } else {
        &[]
    };
    if int.is_empty() && fraction.is_empty() {
        return Err(NOT_A_NUMBER);
    }
    let mut exponent: i64 = 0;
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        let negative_exponent = match bytes.get(at) {
            Some(b'-') => {
                at += 1;
                true
            }
            Some(b'+') => {
                at += 1;
                false
            }
            _ => false,
        };
        let e = digits(&mut at);
        let significant = e.get(e.iter().take_while(|&&d| d == b'0').count()..);
        // `BigDecimal` allows ten significant exponent digits.
        match significant {
            Some(sig) if !e.is_empty() && sig.len() <= 10 => {
                exponent = sig.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0'));
                if negative_exponent {
                    exponent = -exponent;
                }
            }
            _ => return Err(NOT_A_NUMBER),
        }
    }
    if at != bytes.len() {
        return Err(NOT_A_NUMBER);
    }
    // `BigDecimal`'s scale must fit an `int`.
    let fraction_len = i64::try_from(fraction.len()).map_err(|_| NOT_A_NUMBER)?;
    if i32::try_from(fraction_len - exponent).is_err() {
        return Err(NOT_A_NUMBER);
    }
    // The value is `int ++ fraction` × 10^(exponent - fraction_len); its integer part
    // has `int.len() + exponent` digits.
    let int_len = i64::try_from(int.len()).map_err(|_| NOT_A_NUMBER)? + exponent;
    let mut magnitude: u128 = 0;
    let mut taken: i64 = 0;
    for &d in int.iter().chain(fraction) {
        if taken >= int_len {
            break;
        }
        taken += 1;
        magnitude = magnitude * 10 + u128::from(d - b'0');
        if magnitude > 1 << 63 {
            return Err(OUT_OF_RANGE);
        }
    }
    if magnitude != 0 {
        // Trailing zeros of a positive exponent (`4e2`).
        while taken < int_len {
            taken += 1;
            magnitude *= 10;
            if magnitude > 1 << 63 {
                return Err(OUT_OF_RANGE);
            }
        }
    }
    let value = if negative {
        -i128::try_from(magnitude).map_err(|_| OUT_OF_RANGE)?
    } else {
        i128::try_from(magnitude).map_err(|_| OUT_OF_RANGE)?
    };
    i64::try_from(value).map(Some).map_err(|_| OUT_OF_RANGE)
}

/// What a JSON number that `serde_json` read as an `f64` is as a `long`.
#[derive(Debug, PartialEq, Eq)]
enum FromFloat {
    Long(i64),
    OutOfRange,
    /// Only the number's text can say (the fast pass does not have it).
    NeedsText,
}

/// Jackson's `getLongValue()` on a JSON number with a fraction or an exponent, which is
/// what Elasticsearch does with one in a `long` field (`NumberFieldMapper` calls
/// `parser.longValue(coerce)`; a number token is not a string, so no `BigDecimal`): the
/// number as a `double`, refused below -2^63 or above 2^63, then cast (`(long)`
/// truncates toward zero and saturates, as Rust's `as` does). `4.9` is 4, `-0` is 0,
/// `1e300` is out of range. Also reached by integer tokens beyond 64 bits, which
/// Jackson reads exactly and refuses: they all round past ±2^63 except those just
/// below `i64::MIN`, which round to -2^63 exactly, hence `token` for that one value.
fn long_from_f64(v: f64, token: Option<&str>) -> FromFloat {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if !(-TWO_POW_63..=TWO_POW_63).contains(&v) {
        return FromFloat::OutOfRange;
    }
    if v == -TWO_POW_63 {
        match token {
            None => return FromFloat::NeedsText,
            Some(t) if !t.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) => {
                return FromFloat::OutOfRange;
            }
            Some(_) => {}
        }
    }
    FromFloat::Long(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unescaped_strings_borrow_escaped_ones_allocate() {
        let line = br#"{"@timestamp":"2024-01-03T14:00:00Z","host":{"id":"h1"},"file":{"path":"C:\\x.exe"}}"#;
        let rec = EcsRecord::parse(line).unwrap();
        assert!(matches!(rec.host_id, Some(Cow::Borrowed("h1"))));
        assert!(matches!(&rec.file_path, Some(Cow::Owned(p)) if p == r"C:\x.exe"));
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route(ROOT, "process.code_signature.trusted"),
            Route::Leaf(Field::SigTrusted, _)
        ));
        assert!(matches!(
            route(ROOT, "file.Ext"),
            Route::Branch("file.Ext", _, _)
        ));
        assert!(matches!(route(ROOT, "file.ext"), Route::Unknown));
        assert!(matches!(
            route(ROOT, "process.pid.x"),
            Route::PastLeaf(Field::Pid, _)
        ));
        assert!(matches!(
            route(ROOT, "_source.host.id"),
            Route::Leaf(Field::HostId, "host.id")
        ));
        assert!(matches!(route(ROOT, "process..pid"), Route::Unknown));
        assert!(matches!(route(ROOT, ""), Route::Unknown));
    }

    #[test]
    fn slow_pass_agrees_with_the_fast_one() {
        for line in [
            r#"{"@timestamp":"2024-01-03T14:00:00Z","a":[1,-2.5e3,{"b":[3,"4",null]}],"event":{"category":["file",7],"type":"creation","sequence":"12"},"host":{"id":5,"os":{"type":["x","windows"]}},"process":{"pid":[1234,4],"name":true,"x":0},"file":[{"path":"C:\\a.exe"},{"extension":"exe"}],"id":-3}"#,
            r#"{"process.pid.x":null,"@timestamp":1704290400000,"z":"\"5\\","k5":{"6":7}}"#,
        ] {
            let mut needs = false;
            let fast = decode(line, 0, false, &mut needs);
            assert!(!needs);
            assert!(fast.is_ok(), "{fast:?}");
            assert_eq!(decode(line, 0, true, &mut needs), fast);
        }
    }

    #[test]
    fn number_tokens_skip_strings() {
        let mut t = NumberTokens::new(r#"{"1":-2.5e+3,"a\"3":[4,"5\\",6E0],"b":true}"#);
        let tokens: alloc::vec::Vec<_> = core::iter::from_fn(|| t.next()).collect();
        assert_eq!(tokens, ["-2.5e+3", "4", "6E0"]);
    }

    #[test]
    fn lone_surrogates() {
        let fixed = |s: &str| without_lone_surrogates(s);
        assert_eq!(fixed(r#""\ud83d\ude00 \u0041 \\ud800""#), None);
        assert_eq!(
            fixed(r#""\ud800\ud800\udc00\uDC00x\uDBFF""#).as_deref(),
            Some(r#""\ufffd\ud800\udc00\ufffdx\ufffd""#)
        );
        assert_eq!(fixed(r#""\ud800\u"#).as_deref(), Some(r#""\ufffd\u"#));
        assert_eq!(fixed(r#"\ud80"#), None);
    }

    #[test]
    fn long_coercion_by_text() {
        assert_eq!(es_long_from_str("3.99999999999999999999"), Ok(Some(3)));
        assert_eq!(es_long_from_str("-4.9e0"), Ok(Some(-4)));
        assert_eq!(
            es_long_from_str("1e18"),
            Ok(Some(1_000_000_000_000_000_000))
        );
        assert_eq!(es_long_from_str("0e99999"), Ok(Some(0)));
        assert_eq!(es_long_from_str("0.5e-0000000000001"), Ok(Some(0)));
        assert!(es_long_from_str("1e19").is_err());
        assert_eq!(es_long_from_str("1e00000000001"), Ok(Some(10)));
        assert!(
            es_long_from_str("0e12345678901").is_err(),
            "eleven significant exponent digits"
        );
        assert!(es_long_from_str("+-4").is_err());
        assert_eq!(long_from_f64(-0.0, None), FromFloat::Long(0));
        assert_eq!(long_from_f64(9.3e18, None), FromFloat::OutOfRange);
        assert_eq!(
            long_from_f64(9_223_372_036_854_775_808.0, None),
            FromFloat::Long(i64::MAX)
        );
        assert_eq!(
            long_from_f64(-9_223_372_036_854_775_808.0, None),
            FromFloat::NeedsText
        );
        assert_eq!(
            long_from_f64(-9_223_372_036_854_775_808.0, Some("-9223372036854775809")),
            FromFloat::OutOfRange
        );
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncated("ééé", 3), "é");
        assert_eq!(truncated("abc", 64), "abc");
    }
}
