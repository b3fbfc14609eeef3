//! Input adapters: Elastic Defend (ECS) NDJSON to typed [`Event`](crate::Event)s.
//!
//! One JSON document per line goes through [`decode_line`] (or [`EcsRecord::parse`])
//! into an [`EcsRecord`], whose [`events`](EcsRecord::events) go to the detector. No
//! JSON tree is built: a serde visitor routes the fields the rule needs and skips the
//! rest, and strings borrow from the line unless they had JSON escapes.
//!
//! ```
//! use shareexec::input::decode_line;
//!
//! let input = b"{\"@timestamp\":\"2024-01-03T14:00:10Z\",\"event\":{\"category\":\"process\",\"type\":\"start\"},\"process.executable\":\"C:\\\\evil.exe\"}\n\n";
//! let mut events = 0;
//! for (n, line) in input.split(|&b| b == b'\n').enumerate() {
//!     let record = decode_line(line).map_err(|e| e.at_line(n as u64 + 1))?;
//!     if let Some(record) = record {
//!         events += record.events(n as u64 + 1).count();
//!     }
//! }
//! assert_eq!(events, 1);
//! # Ok::<(), shareexec::input::LineError>(())
//! ```
//!
//! # Decoding rules
//!
//! The rules follow what Elasticsearch would have indexed, since the rule's reference
//! semantics are Elasticsearch's (see `SEMANTICS.md`).
//!
//! - **Nested and dotted keys** are the same field, at any level and in any mixture:
//!   `{"process":{"pid":4}}`, `{"process.pid":4}`, `{"process":{"code_signature.trusted":true}}`
//!   and `{"file.Ext":{"header_bytes":"4d5a"}}` all work. Names are case-sensitive
//!   (`file.Ext`, not `file.ext`). Unknown fields are skipped, whatever their value.
//! - **Duplicates**: a field given twice (a repeated key, or the dotted and the nested
//!   spelling of the same field) keeps the **last** value; objects given twice merge.
//!   (Elasticsearch itself refuses a document with a repeated key; this decoder keeps
//!   the event rather than dropping it.)
//! - **`null`** is the same as missing (and, being the last value, clears an earlier one).
//!   A `null` object (`"process": null`) contributes nothing.
//! - **`@timestamp`** is required: without it Elasticsearch fails the whole query, so a
//!   document without one is an error ([`EcsErrorKind::MissingTimestamp`]), not an
//!   event. It is an RFC 3339 string (see [`parse_rfc3339`]) or, as Elasticsearch's
//!   `date` type also allows, a JSON integer of epoch milliseconds.
//! - **`event.category`** and **`event.type`** are a string or an array of strings
//!   (nested arrays flatten); elements are compared exactly. Other scalars in them are
//!   values that match nothing. A document whose categories include both `file` and
//!   `process` is a candidate for both stages (see [`Category::FileAndProcess`]).
//! - **Keyword fields** (`host.id`, paths, names…) are strings; a JSON integer or
//!   boolean is taken as its text, as Elasticsearch indexes it. `""` is a value, not
//!   missing.
//! - **`process.pid`** and **`event.sequence`** are integers; as Elasticsearch coerces,
//!   a numeric string (`"4"`) is its number, a fraction is truncated (`4.5` is 4),
//!   and `""` is missing. `event.sequence` must not be negative.
//! - **`process.code_signature.exists` / `.trusted`** are booleans, or the strings
//!   `"true"`/`"false"`; `""` is false, as in Elasticsearch.
//! - **Arrays** for a single-valued field: one element is that value, an empty array
//!   is missing, more than one is an error.
//! - **Identity**: an event is named by `event.id` if present, else the top-level
//!   `id`, else `_id` (see [`EcsRecord::id`]). A search hit `{"_id": …, "_source": {…}}`
//!   is decoded as its `_source`.
//! - **Errors**: a line that is not UTF-8, not one JSON object (raw NUL or other
//!   control characters inside strings included), or holds a rule field with a type
//!   Elasticsearch could not index (`"process":{"pid":{}}`, a pid of `"abc"`) is an
//!   [`EcsError`] naming the field, whatever the document's category. Decoding never
//!   panics. A leading UTF-8 byte-order mark is skipped.
//! - **Blank lines** (empty or JSON whitespace only) are skipped by [`decode_line`]
//!   (`Ok(None)`), not errors.
//!
//! Other categories are decoded the same way (so a line is valid or not whatever its
//! category) and then produce no event.

mod ecs;
mod rfc3339;

pub use crate::event::Hashes;
pub use ecs::{Category, EcsError, EcsErrorKind, EcsRecord, LineError, decode_line};
pub use rfc3339::{TimestampError, format_rfc3339, parse_rfc3339};
