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
//! - **Arrays of objects** are flattened, as Elasticsearch does: `"code_signature":
//!   [{…}]` is the object, several objects merge like an object given twice (below),
//!   nested arrays flatten and `null` elements are nothing. Any other element
//!   (`"process": [4]`) is an error.
//! - **Fields given several times**: a repeated key, the dotted and the nested spelling
//!   of one field (`"process.pid":4` and `"process":{"pid":5}`), several objects of an
//!   array are, to Elasticsearch, one multi-valued field holding every value (it would
//!   index `process.pid` as `[4, 5]`, and `process.pid == 4` matches). The typed event
//!   holds one value per field, so:
//!   - `event.category` and `event.type` hold the **union** of every value given;
//!   - `process.pid` is **4 if any value is 4** (the rule's only test of it is
//!     `process.pid == 4`), else the first value given;
//!   - `host.os.type` is the first value equal to `windows`, else the first equal to it
//!     ignoring case (what hardened semantics compares), else the first value;
//!   - for these four, arrays of several values are values too (`"pid": [4, 1234]` is
//!     4, `"os": {"type": ["windows", "x"]}` is `windows`), and `null` (or, for the pid,
//!     `""` or `[]`) adds nothing;
//!   - every other field keeps the **last** value given; objects given twice merge.
//!
//!   (Elasticsearch itself refuses a document with a repeated key; this decoder keeps
//!   the event rather than dropping it.)
//! - **`null`** is the same as missing: in a multi-valued field it adds nothing, in
//!   the others, being the last value, it clears an earlier one. A `null` object
//!   (`"process": null`) contributes nothing.
//! - **`@timestamp`** is required: without it Elasticsearch fails the whole query, so a
//!   document without one is an error ([`EcsErrorKind::MissingTimestamp`]), not an
//!   event. Its text (a JSON string's, or a JSON number's as written) is read as
//!   Elasticsearch's default `date` format, `strict_date_optional_time||epoch_millis`,
//!   reads it, within a subset of the first format: an RFC 3339 timestamp (see
//!   [`parse_rfc3339`]); four digits, which `strict_date_optional_time` reads as a year
//!   (`"2024"` or `2024` is `2024-01-01T00:00:00Z`); else **epoch milliseconds** as
//!   `epoch_millis` takes them: an optional `-`, 1 to 19 digits, an optional `.` with up
//!   to 6 digits of fraction (`"1704290400000"`, `1704290400000.5`, `"-1.5"`, `-0`),
//!   converted exactly, by text. Exponents (`1.7e12`) and the other forms
//!   `strict_date_optional_time` takes (a date alone, no zone) are refused.
//! - **`event.category`** and **`event.type`** are a string or an array of strings
//!   (nested arrays flatten); elements are compared exactly. Other scalars in them are
//!   values that match nothing. A document whose categories include both `file` and
//!   `process` is a candidate for both stages (see [`Category::FileAndProcess`]).
//! - **Keyword fields** (`host.id`, paths, names…) are strings; a JSON number or
//!   boolean is taken as its text, as Elasticsearch indexes it: for a number, its JSON
//!   text as written (`1.50` is `"1.50"`, `-0` is `"-0"`). `""` is a value, not missing.
//! - **Strings** may hold unpaired UTF-16 surrogate escapes (`"\ud800"`: NTFS names are
//!   unvalidated UTF-16), which Elasticsearch's JSON parser accepts and Lucene indexes
//!   as U+FFFD: each is read as U+FFFD (`"\ud800\ude00"`, a pair, is one character).
//! - **`process.pid`** and **`event.sequence`** are integers, coerced as Elasticsearch
//!   does at index time:
//!   - a JSON string is parsed exactly, by text, as `Long.parseLong` and then
//!     `BigDecimal` read it, truncated toward zero: an optional `+` or `-`, digits with
//!     an optional `.` and fraction, an optional exponent. `"4"`, `"+4"`, `"4.0"`,
//!     `"4."`, `"4e0"` and `"40e-1"` are 4, `"4.9"` is 4, `"-4.9"` is -4, and
//!     `"3.99999999999999999999"` is 3. Anything else is an error: whitespace
//!     (`" 4"`, `"4 "`), `0x10`, `NaN`, `Infinity`, `4_0`. `""` is missing. (Only ASCII
//!     digits: Java also takes other Unicode decimal digits. And recent Elasticsearch
//!     versions shortcut on `BigDecimal`'s scale, reading a string with more than 19
//!     fraction digits net of its exponent as 0, where this decoder, like the earlier
//!     versions, truncates the value.)
//!   - a JSON number with a fraction or an exponent is read as Elasticsearch's JSON
//!     parser (Jackson) reads it for a `long`: as a double, truncated toward zero
//!     (`4.7` is 4, `4e0` is 4; `3.99999999999999999999`, whose nearest double is 4.0,
//!     is 4), an error beyond ±2^63.
//!   - the value must fit an `i64` (`u64` for `event.sequence`, which must not be
//!     negative).
//! - **`process.code_signature.exists` / `.trusted`** are booleans, or the strings
//!   `"true"`/`"false"`; `""` is false, as in Elasticsearch.
//! - **Arrays** for a single-valued field: one element is that value, an empty array
//!   is missing, more than one is an error (the multi-valued fields are above).
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
//!
//! # Prefilter
//!
//! Most lines of an endpoint stream cannot be part of a sequence, and about half of the
//! rest are process starts that match nothing. [`EcsPipeline`] feeds a detector from
//! NDJSON lines and, with its [`Prefilter`] on, avoids the full decode for both, with
//! the same detector state and verdicts as the full path:
//!
//! 1. [`lacks_rule_category`], a byte search (no parse): a line in which `"file"` and
//!    `"process"` occur only as keys, and that has no `\u` escape, makes no event at
//!    all. It is skipped.
//! 2. [`Prefilter::scan`], a single validating pass over the JSON tokens that routes
//!    keys through this decoder's own field tree (nested, dotted, mixed, `_source`),
//!    reads `@timestamp`, `event.category`, `event.type`, `event.sequence`, `host.id`,
//!    `host.os.type`, `process.executable` exactly as the decoder would, and gives up
//!    (full decode) on `\u` escapes, repeated fields, arrays of objects on the path,
//!    odd types and anything else unusual. [`Screened::screen`] then decides: no
//!    candidate of either stage, skip (the detector counts the events the line holds,
//!    [`Detector::count_irrelevant`](crate::Detector::count_irrelevant)); a possible
//!    write or a process start, step 3.
//! 3. The scan also keeps every field of a process and of a file event (ids, pid, code
//!    signature, path, extension, header bytes, hashes; escape-free but for the
//!    executable and the path), so a process start or a possible write is handed to
//!    the detector whole, from the scan, without the full decode, in every semantics
//!    and at any lateness. Lines with both categories, `\u` escapes or anything the
//!    scan gives up on are decoded.
//!
//! The proofs are in the [`Prefilter`] docs; tests run every fixture corpus both ways
//! and compare verdicts, counters and detector snapshots, and a fuzz target does the
//! same on arbitrary input. **The trade-off** is validation: in
//! [`Prefiltering::Validating`] mode (the default) step 1 does not skip, it only
//! routes, so every skipped line was walked and accepted by the scanner, which accepts
//! only lines the decoder accepts: the bad lines reported are the same as without the
//! prefilter. [`Prefiltering::Fast`] also takes step 1's skips, unvalidated: a bad
//! line among them is not reported ([`PipelineStats::unvalidated`] counts them).
//! Sysmon lines are always decoded: no prefilter is proven for them.
//!
//! **On other threads.** Steps 1 and 2 need nothing from the detector, only the line
//! and the rule, so they can run ahead of it: [`EcsPipeline::screener`] gives a
//! [`Screener`] (clone one per thread) whose [`Screening`] of a line holds offsets
//! instead of borrows (`Copy`, `Send`); [`EcsPipeline::feed_screened`] applies it, in
//! line order, with exactly the results of [`EcsPipeline::feed`] (tested on every
//! fixture corpus and the adversarial streams). [`Screener::screen_and_decode`] also
//! does the full decode of the lines it does not skip, into a [`Decoded`] (owned
//! events), for [`EcsPipeline::feed_decoded`]: then the detecting thread only hands
//! events over. The command line does this with `--threads`.
//!
//! # Sysmon
//!
//! [`SysmonRecord::parse`] (or [`decode_sysmon_line`]) decodes one Sysmon event as JSON
//! collectors ship it, in any of three shapes: **winlogbeat / Elastic Agent**
//! (`winlog.event_id`, `winlog.event_data.*`, `winlog.computer_name`, `winlog.channel`,
//! `winlog.record_id`, `@timestamp`; winlogbeat 6's top-level `event_id`/`event_data`
//! too), **flat** as in the OTRF Security-Datasets (`EventID`, `Image`, `Computer` or
//! `Hostname`, `Channel`, `SourceName`, `RecordNumber`…, all at the top level), and
//! the **`evtx` crate's JSON** (`{"Event": {"System": {…}, "EventData": {…}}}`). Keys may
//! be nested or dotted, as in the ECS decoder; a search hit's `_source` is read.
//! Documents that went through an Elasticsearch ingest pipeline, which renames
//! `winlog.event_data.Image`, `.ProcessId` and `.TargetFilename` to
//! `process.executable`, `process.pid` and `file.path`, are read through those ECS
//! fields when the Sysmon ones are missing (their hashes are not read).
//!
//! ```
//! use shareexec::input::{SysmonKind, SysmonRecord};
//!
//! let winlogbeat = br#"{"@timestamp":"2020-08-27T11:40:57.001Z","winlog":{"event_id":"1",
//!     "channel":"Microsoft-Windows-Sysmon/Operational","computer_name":"WS1","record_id":"7",
//!     "event_data":{"UtcTime":"2020-08-27 11:40:56.610","ProcessId":"1460",
//!     "Image":"C:\\Windows\\PSEXESVC.exe","Hashes":"MD5=75B5,SHA256=141B"}}}"#;
//! let record = SysmonRecord::parse(winlogbeat)?;
//! assert_eq!(record.kind(), SysmonKind::ProcessCreate);
//! assert_eq!(record.process_name(), Some("PSEXESVC.exe"));
//! assert_eq!(record.hashes().sha256, Some("141b"));
//! assert_eq!(record.events(1).count(), 1);
//! # Ok::<(), shareexec::input::SysmonError>(())
//! ```
//!
//! The mapping to [`Event`](crate::Event)s (the adapter's choices are marked *choice*):
//!
//! | Sysmon | event | `event.type` | notes |
//! | --- | --- | --- | --- |
//! | 1 Process Create | process | `start` | `process.executable` = `Image`; no `code_signature` at all (Sysmon has none on process creation, so the policy sees every part missing); `process.hash.*` from `Hashes` |
//! | 11 FileCreate | file | `creation` | `file.path` = `TargetFilename` (covers creation and overwrite, both candidates) |
//! | 29 FileExecutableDetected | file | `creation` | as 11, plus `file.Ext.header_bytes` `4d5a` (Sysmon logs 29 only for files with an MZ header) and `file.hash.*` |
//! | 23 FileDelete, 26 FileDeleteDetected | file | `deletion` | never a candidate, but typed correctly; `file.hash.*` |
//! | anything else, or another channel | none | | decoded (so the line is valid or not) and dropped |
//!
//! A caller that wants only the events (as the CLI) decodes with
//! [`decode_sysmon_events`]: the same events and errors as [`decode_sysmon_line`], but a
//! record of an event id that makes no event (registry, image loads, process access:
//! most of a Sysmon log) is checked as the full decode checks it but not built: only its
//! event id is read, by a byte walk where that is sure to agree with serde_json (47 %
//! fewer instructions a line on the OTRF recordings, where 97 % of the records are such).
//!
//! - **Channel** (*choice*): a record is Sysmon when its channel or provider contains
//!   `sysmon` (ASCII case-insensitive), or when it names neither (a Sysmon-only export).
//!   A Security-log 4688 or a System-log 7045 in the same stream makes no event.
//! - **Time**: Sysmon's own `UtcTime` (`2020-10-19 07:30:46.400`, UTC without a zone),
//!   in preference to collector times, which may be skewed; if it is missing (or
//!   `""`), `@timestamp` (read as in the ECS decoder: RFC 3339, a year, or epoch
//!   milliseconds as a number or a string such as `"1598528456396"`), then
//!   `System.TimeCreated.#attributes.SystemTime`. A record that makes an event and has
//!   none is [`SysmonErrorKind::MissingTimestamp`]; an invalid `UtcTime` is an error,
//!   not a reason to fall back.
//! - **`host.id`** (*choice*): Sysmon has no agent id, so it is the computer name
//!   (`Computer`, `winlog.computer_name`, `System.Computer`; else `Hostname`,
//!   `host.name`), lower-cased, as the reference converter writes it.
//!   `host.os.type` is `windows`.
//! - **`process.pid`**: `ProcessId` (an integer or a decimal string; `""` and `"-"` are
//!   missing), except that `Image` `System` is pid 4 whatever `ProcessId` says (some
//!   exports drop it for the System process; only the System process has that image).
//! - **`file.extension`** (*choice*): Sysmon has no such field; it is derived from
//!   `TargetFilename`, the suffix after the last `.` of the last path component (none
//!   when there is no dot or nothing follows it), so that the rule's
//!   `file.extension : ("exe", …)` can match under Elasticsearch semantics too.
//! - **Identity**: the record number (`winlog.record_id`, `RecordNumber`,
//!   `EventRecordID`, `RecordID`, `System.EventRecordID`) is the events'
//!   [`Origin::id`](crate::Origin::id). There is no `event.sequence`.
//! - **Hashes**: `SHA256=…,SHA1=…,MD5=…` parts of `Hashes`, lower-cased as ECS writes
//!   them; `IMPHASH` is dropped.
//! - **Validation**: every line must be UTF-8, one JSON object, and carry an event id
//!   (a number or a decimal string, [`SysmonErrorKind::MissingEventId`] otherwise).
//!   The other fields are interpreted only on records that make events: there, a
//!   field of the wrong type (`ProcessId` `"abc"`, an `Image` object) is a
//!   [`SysmonErrorKind::WrongType`] naming the field as spelled in the record; on other
//!   records such fields are ignored. `null` is missing; a one-element array is its
//!   element; an evtx element with attributes (`{"#attributes": …, "#text": 4111}`) is
//!   its text; a number where a string is read is its JSON text; a branch that is not
//!   an object (OTRF's `host`, the collector's name) is skipped, and the objects of an
//!   array given for a branch merge into it. Repeated fields keep the last value.
//!   Unpaired surrogate escapes are U+FFFD, as in the ECS decoder. Decoding never
//!   panics.
//! - **Detection** of the format: [`looks_like_sysmon`] is a cheap substring sniff (it
//!   also knows dotted winlogbeat keys such as `"winlog.event_id"`); see its limits.
//!
//! With the `evtx` feature, `EvtxReader` reads `.evtx` files (the Windows event log
//! format) through the `evtx` crate and decodes each record the same way.

#[doc(hidden)]
pub mod byte_search;
mod common;
mod cursor;
mod date_cache;
mod ecs;
#[cfg(feature = "evtx")]
mod evtx;
mod pipeline;
mod prefilter;
mod rfc3339;
mod screening;
mod sysmon;

#[cfg(feature = "evtx")]
#[cfg_attr(docsrs, doc(cfg(feature = "evtx")))]
pub use self::evtx::{EvtxJsonRecord, EvtxReadError, EvtxReader};
pub use crate::event::Hashes;
pub use ecs::{Category, EcsError, EcsErrorKind, EcsRecord, LineError, decode_line};
pub use pipeline::{EcsPipeline, Fed, PipelineStats, Prefiltering};
pub use prefilter::{Prefilter, Screen, Screened, lacks_rule_category};
pub use rfc3339::{TimestampError, format_rfc3339, parse_rfc3339};
pub use screening::{Decoded, Screener, Screening};
pub use sysmon::{
    SysmonError, SysmonErrorKind, SysmonKind, SysmonLineError, SysmonRecord, SysmonSniffer,
    decode_sysmon_events, decode_sysmon_line, looks_like_sysmon,
};
