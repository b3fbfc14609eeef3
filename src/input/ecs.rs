//! One Elastic Defend (ECS) JSON document per line → [`EcsRecord`] → [`Event`]s.
//!
//! The decoder is a hand-written serde visitor over `serde_json`'s streaming parser: no
//! `serde_json::Value` tree is built, unknown fields are skipped with
//! [`serde::de::IgnoredAny`], and the fields the rule needs are kept as
//! `Cow<str>` that borrow from the line unless the JSON string had escapes (every
//! Windows path has: `C:\\Windows`), in which case only that string is allocated.
//!
//! See the [module docs](super) for the decoding rules.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::rfc3339::{TimestampError, parse_rfc3339};
use crate::event::{
    CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, Position, ProcessEvent,
};
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
    /// The line is empty or holds only JSON whitespace. [`decode_line`] skips such
    /// lines instead of returning this.
    #[error("blank line")]
    Blank,
    /// The bytes are not UTF-8 (JSON text must be).
    #[error("not valid UTF-8")]
    InvalidUtf8,
    /// The line is not one JSON value: a syntax error, a raw control character (such
    /// as NUL) inside a string, nesting deeper than 128, text after the value…
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
    /// `@timestamp` is a string but not an RFC 3339 timestamp this crate accepts.
    #[error("`@timestamp` {text:?} is not a valid RFC 3339 timestamp: {reason}")]
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
/// As [`EcsRecord::parse`], except never [`EcsErrorKind::Blank`].
pub fn decode_line(line: &[u8]) -> Result<Option<EcsRecord<'_>>, EcsError> {
    if is_blank(line) {
        Ok(None)
    } else {
        EcsRecord::parse(line).map(Some)
    }
}

fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
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
        let (line, base) = match line.strip_prefix(b"\xEF\xBB\xBF") {
            Some(rest) => (rest, 3),
            None => (line, 0),
        };
        match core::str::from_utf8(line) {
            Ok(text) => Self::parse_text(text, base),
            Err(e) => Err(EcsError {
                column: Some(base + e.valid_up_to() + 1),
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
        match line.strip_prefix('\u{feff}') {
            Some(rest) => Self::parse_text(rest, 3),
            None => Self::parse_text(line, 0),
        }
    }

    fn parse_text(text: &'a str, base: usize) -> Result<EcsRecord<'a>, EcsError> {
        if is_blank(text.as_bytes()) {
            return Err(EcsError {
                column: None,
                kind: EcsErrorKind::Blank,
            });
        }
        let mut builder = Builder::default();
        let mut de = serde_json::Deserializer::from_str(text);
        let result = BranchSeed {
            b: &mut builder,
            nodes: ROOT,
            path: "",
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        if let Err(e) = result {
            let kind = match builder.error.take() {
                Some(kind) => kind,
                None => EcsErrorKind::NotJson {
                    message: json_message(&e),
                },
            };
            return Err(EcsError {
                column: json_column(&e, text).map(|c| c + base),
                kind,
            });
        }
        if !builder.has_timestamp {
            return Err(EcsError {
                column: None,
                kind: EcsErrorKind::MissingTimestamp,
            });
        }
        Ok(builder.rec)
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

    /// `event.type`, as a set (values outside ECS's list are dropped).
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

    /// `host.os.type`.
    pub fn os_type(&self) -> Option<&str> {
        self.os_type.as_deref()
    }

    /// `process.pid`: the writer for a file event, the new process for a process event.
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

/// `serde_json`'s message without its " at line L column C" suffix.
fn json_message(e: &serde_json::Error) -> String {
    let mut message = e.to_string();
    if e.line() != 0
        && let Some(at) = message.rfind(" at line ")
    {
        message.truncate(at);
    }
    message
}

/// `serde_json` reports (line, column) with a 1-based line and a byte column; turn it
/// into a 1-based byte position within `text` (a "line" may hold raw newlines inside
/// JSON whitespace).
fn json_column(e: &serde_json::Error, text: &str) -> Option<usize> {
    let line = e.line();
    if line == 0 {
        return None;
    }
    let start = if line == 1 {
        0
    } else {
        text.bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .nth(line - 2)
            .map_or(0, |(i, _)| i + 1)
    };
    Some((start + e.column()).max(1))
}

// ---------------------------------------------------------------------------------------
// The field tree
// ---------------------------------------------------------------------------------------

/// A leaf field the decoder keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
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

struct Node {
    name: &'static str,
    /// Full dotted name, for errors.
    path: &'static str,
    kind: Kind,
}

enum Kind {
    Branch(&'static [Node]),
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
        Node { name: $name, path: $path, kind: Kind::Branch(&[$($child),*]) }
    };
}

static ROOT: &[Node] = &[
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

/// Where a key (possibly dotted) leads from a given object.
#[derive(Clone, Copy)]
enum Route {
    /// Not a field this crate reads: skip the value.
    Unknown,
    /// An object of the tree: its value must be an object (or null).
    Branch(&'static str, &'static [Node]),
    /// A leaf: its value is read.
    Leaf(Field, &'static str),
    /// The key continues past a leaf (`process.pid.x`): the leaf would have to be an
    /// object, which Elasticsearch's mapping refuses.
    PastLeaf(Field, &'static str),
}

fn route(nodes: &'static [Node], key: &str) -> Route {
    let mut nodes = nodes;
    let mut found = Route::Unknown;
    for segment in key.split('.') {
        if let Route::Leaf(field, path) = found {
            return Route::PastLeaf(field, path);
        }
        let Some(node) = nodes.iter().find(|n| n.name == segment) else {
            return Route::Unknown;
        };
        found = match node.kind {
            Kind::Branch(children) => {
                nodes = children;
                Route::Branch(node.path, children)
            }
            Kind::Root => {
                nodes = ROOT;
                Route::Branch(node.path, ROOT)
            }
            Kind::Leaf(field) => Route::Leaf(field, node.path),
        };
    }
    found
}

// ---------------------------------------------------------------------------------------
// The visitors
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct Builder<'a> {
    rec: EcsRecord<'a>,
    has_timestamp: bool,
    /// The typed reason a visitor gave up (serde errors are strings; this keeps the type).
    error: Option<EcsErrorKind>,
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

    fn set_str(&mut self, field: Field, value: Option<Cow<'a, str>>) {
        if let Some(slot) = self.str_slot(field) {
            *slot = value;
        }
    }

    fn set_bool(&mut self, field: Field, value: Option<bool>) {
        match field {
            Field::SigExists => self.rec.sig_exists = value,
            Field::SigTrusted => self.rec.sig_trusted = value,
            _ => {}
        }
    }

    /// Clears a leaf (JSON `null`, an empty array, or an empty numeric string).
    fn clear(&mut self, field: Field) {
        match field {
            Field::Timestamp => self.has_timestamp = false,
            Field::Category => self.rec.categories = 0,
            Field::Type => self.rec.types = EventTypes::NONE,
            Field::Sequence => self.rec.sequence = None,
            Field::Pid => self.rec.pid = None,
            Field::SigExists | Field::SigTrusted => self.set_bool(field, None),
            _ => self.set_str(field, None),
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
    /// (fractions truncated, range checked).
    fn set_int<E: de::Error>(
        &mut self,
        field: Field,
        path: &'static str,
        value: i128,
    ) -> Result<(), E> {
        let shape = field.shape();
        match field {
            Field::Pid => match i64::try_from(value) {
                Ok(v) => self.rec.pid = Some(v),
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
            Ok(()) // `"process": null` is no process fields at all
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
                Route::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
                Route::Branch(path, nodes) => map.next_value_seed(BranchSeed {
                    b: &mut *b,
                    nodes,
                    path,
                })?,
                Route::Leaf(field, path) => map.next_value_seed(LeafSeed {
                    b: &mut *b,
                    field,
                    path,
                })?,
                Route::PastLeaf(field, path) => {
                    if map.next_value::<Option<IgnoredAny>>()?.is_some() {
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

    fn visit_seq<A: SeqAccess<'a>>(self, _: A) -> Result<(), A::Error> {
        self.not_object("an array")
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
            self.b.set_str(self.field, Some(value));
            Ok(())
        } else {
            text(self.b, self.field, self.path, &value)
        }
    }

    fn integer<E: de::Error>(self, n: i128) -> Result<(), E> {
        let field = self.field;
        match field.shape() {
            Shape::Int | Shape::Unsigned => self.b.set_int(field, self.path, n),
            // A keyword field indexes a JSON integer as its text.
            Shape::Str => {
                self.b.set_str(field, Some(Cow::Owned(n.to_string())));
                Ok(())
            }
            // No ECS category or type is a number: the set holds nothing.
            Shape::Set => {
                self.b.clear(field);
                Ok(())
            }
            Shape::Bool => Err(self.wrong("a number")),
            // `date` fields also take epoch milliseconds.
            Shape::Time => match i64::try_from(n)
                .ok()
                .and_then(|ms| ms.checked_mul(1_000_000))
            {
                Some(ns) => {
                    self.b.set_timestamp(Timestamp(ns));
                    Ok(())
                }
                None => Err(self.b.fail(EcsErrorKind::BadTimestamp {
                    text: n.to_string(),
                    reason: TimestampError::OutOfRange,
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
            Shape::Set => {
                self.b.clear(field);
                Ok(())
            }
            Shape::Int | Shape::Unsigned | Shape::Time => Err(self.wrong("a boolean")),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.integer(i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.integer(i128::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let field = self.field;
        match field.shape() {
            // Elasticsearch truncates fractions into integer fields.
            Shape::Int | Shape::Unsigned => match int_from_f64(v) {
                Some(n) => self.b.set_int(field, self.path, n),
                None => Err(self.wrong("a number out of range")),
            },
            Shape::Set => {
                self.b.clear(field);
                Ok(())
            }
            // A keyword would keep the number's original text, which is lost here.
            Shape::Str | Shape::Bool | Shape::Time => Err(self.wrong("a fractional number")),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.b.clear(self.field);
        Ok(())
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_seq<A: SeqAccess<'a>>(self, mut seq: A) -> Result<(), A::Error> {
        let LeafSeed { b, field, path } = self;
        if field.shape() == Shape::Set {
            b.clear(field);
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
            && seq.next_element::<IgnoredAny>()?.is_some()
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
            b.set_str(field, Some(Cow::Owned(v.to_owned())));
            Ok(())
        }
        Shape::Set => {
            b.clear(field);
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
        Shape::Int | Shape::Unsigned => match int_from_str(v) {
            Ok(Some(n)) => b.set_int(field, path, n),
            Ok(None) => {
                b.clear(field);
                Ok(())
            }
            Err(found) => Err(b.wrong(path, shape.expected(), found)),
        },
        Shape::Time => match parse_rfc3339(v) {
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
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
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

/// Elasticsearch's string-to-long coercion: `""` is null, an integer literal is
/// itself, a decimal literal is truncated; anything else is refused.
fn int_from_str(s: &str) -> Result<Option<i128>, &'static str> {
    if s.is_empty() {
        return Ok(None);
    }
    if let Ok(n) = s.parse::<i128>() {
        return Ok(Some(n));
    }
    match s.parse::<f64>() {
        Ok(f) => int_from_f64(f)
            .map(Some)
            .ok_or("a string that is not a finite number"),
        Err(_) => Err("a string that is not a number"),
    }
}

/// Truncation toward zero; `None` for NaN and infinities (range is checked later).
fn int_from_f64(f: f64) -> Option<i128> {
    // `as` saturates at i128's ends, far outside any target range.
    f.is_finite().then_some(f as i128)
}

/// At most `max` bytes of `s`, cut at a character boundary.
fn truncated(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
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
            Route::Branch("file.Ext", _)
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
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncated("ééé", 3), "é");
        assert_eq!(truncated("abc", 64), "abc");
    }
}
