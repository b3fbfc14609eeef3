//! A sound byte-level prefilter for ECS NDJSON: decides, without the full decode, that
//! a line cannot be a candidate of either stage, and reads a process start's join key
//! and clock fields so that the detector can be asked whether the full event matters.

use alloc::string::String;
use memchr::memmem::Finder;

use super::byte_search::ByteSearch;
use super::cursor::Cursor;
use super::date_cache::DateCache;
use super::ecs::{Category, Field, Node, ROOT, ROOT_SLOTS, Route, Slots, node_route, route};
use crate::event::{CodeSignature, EventTypes, FileEvent, Hashes, Origin, Position, ProcessEvent};
use crate::rule::Rule;
use crate::time::Timestamp;
use crate::trust::TrustPolicy;

/// Deeper than this the scanner gives up (`serde_json` refuses 128).
const MAX_DEPTH: u32 = 64;
/// Longer number tokens make the scanner give up (an `f64` overflows past 309 digits).
const MAX_NUMBER: usize = 40;

const CAT_FILE: u8 = 1;
const CAT_PROCESS: u8 = 2;

/// A sound byte-level prefilter for ECS NDJSON: decides, without the full decode, that
/// a line cannot be a candidate of either stage, and reads a process start or a possible
/// write whole, so that it needs no full decode either.
///
/// # What it does
///
/// [`Prefilter::scan`] walks the JSON text of one line once, token by token, with no
/// allocation: string bodies are skipped eight bytes at a time (a SWAR search for `"`,
/// `\`, control bytes and non-ASCII bytes, each run of the last checked to be UTF-8
/// where it is met, so that the line needs no UTF-8 pass of its own), keys are routed
/// through **the decoder's own field tree** (the same `route` function, so nested,
/// dotted, mixed spellings and `_source` are understood exactly as
/// [`EcsRecord::parse`] understands them), and the fields of the
/// candidate predicates, of the detector's clock and of a process event are kept:
/// `@timestamp`, `event.category`, `event.type`, `event.sequence`, `host.id`,
/// `host.os.type`, `process.executable`, the event's id (`event.id`, `id`, `_id`),
/// `process.pid`, `process.code_signature.{exists, trusted, subject_name, status}`,
/// `process.hash.{sha256, sha1, md5}`, `file.path`, `file.extension`,
/// `file.Ext.header_bytes` and `file.hash.{sha256, sha1, md5}`. The other fields the decoder reads are
/// type-checked (so that a line the scanner accepts is one the decoder accepts) and
/// skipped.
///
/// It gives up — returns `None`, meaning "decode this line fully" — on anything
/// unusual: any `\u` escape anywhere, an escape in a key or in a kept field other than
/// `process.executable`, a field of the decoder's tree given twice (a repeated key, or a
/// dotted and a nested spelling of one field), a branch of the tree (`process`,
/// `host.os`, `_source`…) whose value is not an object, an array for a field other than
/// `event.category`/`event.type`, a category or type array holding anything but strings,
/// numbers with an exponent or longer than 40 bytes, a `process.pid`/`event.sequence`
/// that is not a plain integer, an `@timestamp` that is not a string Elasticsearch
/// reads, a missing `@timestamp`, nesting deeper than 64, a raw control byte inside a
/// string, and any JSON syntax error.
///
/// Before the walk, [`lacks_rule_category`] looks for a cheaper certainty: a line in
/// which `"file"` and `"process"` appear only as keys makes no event at all, whatever
/// else it holds (most of a Defend stream: network, registry, library, authentication
/// events), and needs no parse. The same search sends a line with a `\u` (on which the
/// walk would give up) straight to the decoder. That search runs one vectorised
/// substring search (`memchr::memmem`: SSE2 on every x86-64, AVX2 where the CPU has it
/// and `std` is on) per needle (`"file"`, `"process"`, `\u`); the needles are built
/// once per `Prefilter`, without allocating. It never stops at the backslashes of Windows
/// paths: only at the needles themselves. A [validating](Prefilter::with_validation)
/// prefilter skips no line on the search alone, and the walk gives up at a `\u` by
/// itself, so it does not search at all: it walks every line.
///
/// # Soundness
///
/// **Claim 0 (no category).** If [`lacks_rule_category`]`(line)`, then
/// [`EcsRecord::events`] of [`EcsRecord::parse`]`(line)` is empty or the parse fails:
/// either way the full path hands the detector nothing, exactly as a skip with
/// `events: 0` does.
///
/// *Argument.* Suppose the parse succeeds with category `file` (`process` is the same).
/// Then the line is JSON text, and some JSON string token routed to `event.category`
/// decodes to `file`.
///
/// 1. *No `\u` escape in the line.* Outside strings JSON has no backslash, and inside a
///    string backslashes pair up from the left end of each run (the byte before a run
///    is not a backslash, and an escape takes its backslash and one byte, or `\u` and
///    four hex digits: no backslash is left half-used at a run's start). So a backslash
///    escapes the byte after it exactly when the run of backslashes before it has even
///    length, and a `\u` escape is a `\u` whose backslash ends an odd run. The search
///    visits every occurrence of `\u`, counts that run backwards from it, and answers
///    false on an odd one: it answered true, so there is none. (`C:\\users` is an even
///    run, no escape; were an even run taken for one, the line would only be decoded
///    needlessly.)
/// 2. *The token's raw text is `"file"`.* Every other JSON escape decodes to one of
///    `" \ / \b \f \n \r \t`, never a letter; so the token's raw body is exactly
///    `file`, and the bytes `"file"` occur at it.
/// 3. *The search visits that occurrence.* It visits every occurrence of the needle
///    `"file"`: after each, it resumes at that occurrence's closing quote (not past it),
///    and two occurrences share at most a quote, since the letters between hold none
///    (`"file"file"` holds two; the second starts at the first's closing quote).
/// 4. *It sees an unescaped opening quote.* The token's opening quote is structural:
///    JSON puts `[`, `,`, `:` or whitespace before it, never a backslash, so the run of
///    backslashes before it is empty (even) and the search does not set it aside. An
///    occurrence the search does set aside is one whose quote is escaped (`"x\"file"`,
///    inside another string): not a token. Taking it for a value anyway would only make
///    the search answer `false` on more lines (a walk instead of a skip), never `true`
///    on a line with a `file` value: claim 0 needs every real value seen, and a
///    spurious one can only cancel a skip.
/// 5. *It sees a value.* The token is a value (an array element or a member's value),
///    so JSON puts `,`, `]` or `}` after it (past whitespace), never `:`: the search
///    returned false. ∎
///
/// Note what this does *not* need: the line to be valid. A skipped line the decoder
/// would refuse is not reported (the trade-off below). The search answers exactly as
/// the earlier eight-byte SWAR loop did on every input, valid or not (the unit property
/// tests `sight_equals_the_reference*` compare the two): that loop walked the line
/// pairing backslashes from the left of each run, the same rule as 1 and 4.
///
/// **Claim 1 (agreement).** If `scan(line)` returns `Some(s)`, then
/// [`EcsRecord::parse`]`(line)` returns `Ok(r)` with `r.timestamp() == s.timestamp`,
/// `r.sequence() == s.sequence`, `r.category() == s.category`,
/// `r.event_types() == s.types`, `r.host_id() == s.host_id`, `r.os_type() ==
/// s.os_type` and `r.process_executable() == s.executable`; and when the record has a
/// process event, `r.process_event(p) == s.process_event(p)`, and when it has a file
/// event, `r.file_event(p) == s.file_event(p)`, for every position `p`.
///
/// *Argument.* The scanner accepts a subset of RFC 8259 JSON: an object at the top,
/// strict number, literal and string grammar (escapes limited to `\" \\ \/ \b \f \n \r
/// \t`, no raw control bytes), whitespace only where JSON allows it, nothing after the
/// object; and the line after an optional byte-order mark (stripped first, exactly as
/// the decoder's framing strips it) is UTF-8, as the framing requires. The walk checks
/// that itself: outside strings it accepts only the ASCII bytes of the grammar above, so
/// every non-ASCII byte of an accepted line lies in a string body; there the search
/// stops at the first non-ASCII byte of each run, and the run up to the next `"`, `\`
/// or control byte is checked with `core::str::from_utf8` (`utf8_run`), the walk giving
/// up when it is not UTF-8 (overlong forms, surrogates, code points past U+10FFFF, stray
/// or missing continuation bytes). The bytes before and after a run are ASCII, so every
/// byte of the line is an ASCII byte or lies in a run checked whole: the line is the
/// concatenation of UTF-8 pieces, hence UTF-8. Conversely a run of a UTF-8 line starts
/// and ends at character boundaries, so it passes: the walk accepts exactly the lines
/// the former whole-line check followed by the walk accepted, with the same fields
/// (the unit property test `scan_equals_the_whole_line_check` compares the two). A kept
/// string is made a `&str` by `from_utf8` on its body alone, which cannot fail then,
/// and an escaped `process.executable` or `file.path` is unescaped, which cannot fail
/// either (`host.id`, `host.os.type` and those two when the [`Screened`] is made, after
/// the walk: for [`Prefilter::scan`], and in [`Prefilter::screen`] only for an event
/// handed over; the other keywords of the events only when
/// [`Screened::process_event`] or [`Screened::file_event`] makes the event, since
/// most lines are skipped without it); `@timestamp`, `event.category` and `event.type`
/// are read as bytes, which equal a name's bytes exactly when the text equals the
/// name. `serde_json` accepts every such text (nesting stays under its limit of 128;
/// numbers without exponent of at most 40 bytes never overflow an `f64`). Keys hold no escapes, so their text is the key the decoder
/// routes, and both route it with the same function over the same tree from the same
/// node, so each value reaches the same place in both. In the decoder, a value of an
/// unknown key is skipped (it can only fail on syntax, accepted above); a branch's
/// object recurses (the scanner accepts only objects there: the decoder's
/// array-flattening and `null` cases never arise); a leaf's value is read per its
/// shape, and the scanner accepts only values the decoder reads without error: a string
/// or `null` for a keyword it keeps (escape-free except `process.executable` and
/// `file.path`); a
/// string, number, boolean or `null` for a keyword
/// it does not keep (the decoder indexes numbers and booleans as their text); `true`,
/// `false` or `null` for a boolean; a plain integer of at most 18 digits (19 for the
/// non-negative `event.sequence`) or `null` for an integer, which fits the field's type;
/// a string without escapes that the decoder's own function `parse_es_date` reads, for
/// `@timestamp` (read through a cache of the last second, property-tested equal to
/// it); and for `event.category`/`event.type`, an escape-free string or a flat array
/// of them, whose union both compute with the same exact
/// comparisons (`EventTypes::insert_str`, `"file"`/`"process"`). Every leaf is seen at
/// most once (otherwise the scanner gives up), so the decoder's rules for repeated and
/// multi-valued fields (union, first-`windows`, last-wins) all reduce to "the one value
/// given", which is what the scanner keeps. A `@timestamp` was seen, so the decoder's
/// `MissingTimestamp` does not apply. `process.executable` may hold the simple escapes;
/// the scanner undoes them as JSON defines, as `serde_json` does. ∎
///
/// **Claim 2 (skip).** If [`Screened::screen`] says [`Screen::Skip`]` { events: n }`,
/// then [`EcsRecord::events`] yields exactly `n` events, and [`Rule::is_write`] and
/// [`Rule::is_execution`] are false for each of them; so handing the detector those
/// events is the same as [`Detector::count_irrelevant`]`(n)` (both only count `n`
/// events: see `Detector::handle`, which returns before touching any other state for a
/// non-candidate).
///
/// *Argument.* By claim 1 the record's category, types and `host.os.type` are the
/// scanner's. ([`Prefilter::screen`] decides before the [`Screened`] is made, on the
/// walk's category, types, pid and `host.os.type` body made text, the same four
/// values: its decision is `Screened::screen`'s, see `Scanned`.) `events()` yields one event per category among `file` and `process`. The
/// process event is `ProcessEvent { os_type, types, .. }` and `is_execution` reads only
/// those two fields, so the scanner evaluates it exactly (on an event with the same
/// two fields). `is_write` is a conjunction that includes `pid = 4` (`Rule::is_writer`,
/// which `is_write` itself calls), `is_windows(os_type)` and
/// `types ∩ {creation, change} ≠ ∅`; the scanner evaluates that necessary part exactly
/// (the pid is the file event's, by claim 1; `is_windows` through `is_execution` of an
/// event of type `start` with the same `os_type`), and skips only when it is false. ∎
///
/// **Claim 3 (whole events).** If `screen` says [`Screen::Execution`]`(e)`, then the
/// record's category is exactly `process`, and `events()` yields one event, the process
/// event `e`; if it says [`Screen::Write`]`(e)`, the category is exactly `file` and
/// `events()` yields the file event `e` alone. Either way handing the detector `e` is
/// handing it the full decode.
///
/// *Argument.* The category is exactly `process` (or `file`: screen checks it), so
/// `events()` yields `r.process_event(position)` (or `r.file_event(position)`) alone,
/// which is `e` by claim 1: the event is built from the same fields by the same rules
/// (`id` = `event.id`, else `id`, else `_id`; a boolean, integer or escape-free keyword
/// given once is its own value, `null` is none; the executable and the path are
/// unescaped as JSON defines; the decoder's multi-value rules never apply, since every
/// leaf was seen at most once). ∎
///
/// # What is given up
///
/// A line skipped by [`lacks_rule_category`] is **not validated at all**: had it been
/// invalid, the full path would have reported an error (and handed the detector
/// nothing, as the skip does). [`with_validation`](Prefilter::with_validation) turns
/// those skips off. A line skipped after the walk was validated: claim 1 makes the
/// scanner at least as strict as the decoder on every line it accepts (the
/// equivalence tests, the property tests and the `prefilter` fuzz target check exactly
/// that), so the decoder would have accepted it too. What a skipped line would have
/// said, had it been decoded (its id, its other fields), is never computed.
/// [`EcsPipeline`](super::EcsPipeline) counts skipped lines, and the unvalidated ones.
///
/// `\u` escapes anywhere, tabs inside strings and the other rare shapes listed above
/// take the full path: correct, just not faster.
///
/// # Example
///
/// ```
/// use shareexec::input::{Category, Prefilter, Screen};
/// use shareexec::Rule;
///
/// let rule = Rule::elasticsearch();
/// let mut prefilter = Prefilter::new();
/// let dns = br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":["network"],"type":["protocol"]}}"#;
/// let scanned = prefilter.scan(dns).expect("a plain line");
/// assert_eq!(scanned.category, Category::Other);
/// assert_eq!(scanned.screen(&rule, 1), Screen::Skip { events: 0 });
///
/// let start = br#"{"@timestamp":"2024-01-03T14:00:00Z","event.category":"process",
///     "event":{"type":["start"]},"host":{"id":"h1","os.type":"windows"},
///     "process":{"executable":"C:\\Windows\\x.exe","pid":1234}}"#;
/// let Screen::Execution(event) = prefilter.scan(start).unwrap().screen(&rule, 2) else { panic!() };
/// assert_eq!(event.executable, Some(r"C:\Windows\x.exe"));
/// ```
///
/// [`EcsRecord::parse`]: super::EcsRecord::parse
/// [`EcsRecord::events`]: super::EcsRecord::events
/// [`Rule::is_write`]: crate::Rule::is_write
/// [`Rule::is_execution`]: crate::Rule::is_execution
/// [`Detector::count_irrelevant`]: crate::Detector::count_irrelevant
///
/// The value itself is a reusable scanner with a scratch buffer for an escaped
/// `process.executable` (no allocation per line once it has grown).
#[derive(Clone, Debug)]
pub struct Prefilter {
    scratch: String,
    /// The same for an escaped `file.path`.
    path_scratch: String,
    /// The byte search's needles, built once.
    sighter: Sighter,
    /// Whether every skip must come from the validating walk.
    validate: bool,
    /// Whether the last [`screen`](Prefilter::screen) skipped without a walk.
    unvalidated: bool,
    /// The last `@timestamp` second read.
    dates: DateCache,
    /// The search for the backslashes of an escaped path.
    backslash: ByteSearch<b'\\'>,
}

impl Default for Prefilter {
    fn default() -> Self {
        Prefilter {
            scratch: String::new(),
            path_scratch: String::new(),
            sighter: Sighter::new(),
            validate: false,
            unvalidated: false,
            dates: DateCache::default(),
            backslash: ByteSearch::new(),
        }
    }
}

/// What [`Prefilter::scan`] read from a line it fully understood: exactly the values
/// [`EcsRecord`](super::EcsRecord) would hold for these fields (claim 1 of the
/// [`Prefilter`] docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screened<'a> {
    /// `@timestamp`.
    pub timestamp: Timestamp,
    /// `event.sequence`.
    pub sequence: Option<u64>,
    /// `event.category`, as the rule sees it.
    pub category: Category,
    /// `event.type`.
    pub types: EventTypes,
    /// `host.id`.
    pub host_id: Option<&'a str>,
    /// `host.os.type`.
    pub os_type: Option<&'a str>,
    /// `process.executable`, unescaped.
    pub executable: Option<&'a str>,
    /// `process.executable` as it is in the line, and whether it holds escapes (for a
    /// [`Screening`](super::Screening), which keeps offsets into the line).
    pub(crate) raw_executable: Option<(&'a [u8], bool)>,
    /// The process event's other fields.
    pub(crate) rest: Rest<'a>,
    /// `file.path`, unescaped.
    pub(crate) file_path: Option<&'a str>,
    /// `file.path` as it is in the line, and whether it holds escapes.
    pub(crate) raw_file_path: Option<(&'a [u8], bool)>,
    /// The file event's other fields.
    pub(crate) file: FileRest<'a>,
}

/// What to do with a line, by [`Screened::screen`].
// A return value, moved once: boxing the event would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Screen<'a> {
    /// No candidate: the full decode would hand the detector `events` events (0, 1 or
    /// 2), none of which it would look at past counting them.
    Skip {
        /// How many events the full decode makes of the line.
        events: u8,
    },
    /// A process start (category exactly `process`, and a stage-2 candidate): the whole
    /// event the full decode would make (claim 3), to hand the detector instead.
    Execution(ProcessEvent<'a>),
    /// A possible write (category exactly `file`, by the System process (pid 4), Windows,
    /// type `creation` or `change`): the whole event the full decode would make (claim 3), to hand the
    /// detector instead.
    Write(FileEvent<'a>),
    /// Possibly a write: decode fully.
    Decode,
}

impl Prefilter {
    /// A prefilter with empty scratch buffers.
    pub fn new() -> Self {
        Prefilter::default()
    }

    /// With `on` true, [`screen`](Self::screen) skips only lines its validating walk
    /// accepted (lines the decoder accepts, claim 1), never on the byte search alone:
    /// every line the decoder would refuse then reaches the decoder. Off by default
    /// (the byte search's skips are the cheapest).
    #[must_use]
    pub fn with_validation(mut self, on: bool) -> Self {
        self.validate = on;
        self
    }

    /// Whether the last [`screen`](Self::screen) said [`Screen::Skip`] on the byte
    /// search alone, without validating the line.
    pub fn last_skip_unvalidated(&self) -> bool {
        self.unvalidated
    }

    /// The whole prefilter on one line: [`lacks_rule_category`] first (a byte search
    /// that skips most irrelevant lines without a parse; not when
    /// [validating](Self::with_validation), which walks every line), then
    /// [`scan`](Self::scan) and
    /// [`Screened::screen`]; [`Screen::Decode`] when the scanner gives up.
    /// Blank lines are [`Screen::Decode`] (the decoder's framing decides about them).
    pub fn screen<'s, P: TrustPolicy>(
        &'s mut self,
        line: &'s [u8],
        rule: &Rule<P>,
        position: Position,
    ) -> Screen<'s> {
        let mut raw = Raw::default();
        match self.triage(line, &mut raw) {
            Triage::Skip => Screen::Skip { events: 0 },
            Triage::Decode => Screen::Decode,
            Triage::Scanned(scanned) => scanned.screen(rule, position),
        }
    }

    /// The part of [`screen`](Self::screen) that does not depend on the rule: the byte
    /// search, then the walk if it is needed. Sets `unvalidated`.
    pub(crate) fn triage<'s, 'r>(
        &'s mut self,
        line: &'s [u8],
        raw: &'r mut Raw<'s>,
    ) -> Triage<'s, 'r> {
        self.unvalidated = false;
        // Validating, the byte search could only send a line with a `\u` to the
        // decoder, which the walk does too (it gives up at the first `\u`): every line
        // is walked, and the search would be three passes over it for nothing.
        if self.validate {
            return match self.walk::<true>(line, raw) {
                Some(scanned) => Triage::Scanned(scanned),
                None => Triage::Decode,
            };
        }
        // `sight`, in the order that reads the least: a line with a category value is
        // walked whatever else it holds (the walk gives up at a `\u` by itself, and on a
        // line it accepts the search would have found none: claim 0, step 1), so the
        // `\u` search runs only on lines that may be skipped.
        let s = &self.sighter;
        if !(has_value(&s.file, line) || has_value(&s.process, line)) {
            if has_unicode_escape(&s.escape, line) {
                return Triage::Decode;
            }
            if !super::common::is_blank(line) {
                self.unvalidated = true;
                return Triage::Skip;
            }
        }
        match self.walk::<true>(line, raw) {
            Some(scanned) => Triage::Scanned(scanned),
            None => Triage::Decode,
        }
    }

    /// `body` (a `process.executable` or `file.path` the walk accepted) unescaped into
    /// the scratch buffer; `None` if it is not a body the walk accepts.
    pub(crate) fn unescape_executable(&mut self, body: &[u8]) -> Option<&str> {
        unescape(body, &mut self.scratch, &self.backslash)?;
        Some(self.scratch.as_str())
    }

    /// Reads `line` (one NDJSON line, with or without a byte-order mark) if it is plain
    /// enough to be read without the full decoder; `None` otherwise ("decode it").
    /// Blank lines are `None` too (the decoder's framing handles them). Never panics.
    pub fn scan<'s>(&'s mut self, line: &'s [u8]) -> Option<Screened<'s>> {
        self.scan_with::<true>(line)
    }

    /// [`scan`](Self::scan), with `UTF8_IN_WALK` false as it was before the walk checked
    /// UTF-8 itself: the whole line checked first (`core::str::from_utf8`), the walk
    /// then blind to non-ASCII bytes. Kept as the reference the property tests compare
    /// the walk's own check with (`scan_equals_the_whole_line_check`).
    #[inline(always)]
    fn scan_with<'s, const UTF8_IN_WALK: bool>(
        &'s mut self,
        line: &'s [u8],
    ) -> Option<Screened<'s>> {
        let mut raw = Raw::default();
        self.walk::<UTF8_IN_WALK>(line, &mut raw)?.into_screened()
    }

    /// The walk over `line` and its `@timestamp`: everything [`scan`](Self::scan)
    /// decides, before any kept string is made text (see [`Scanned`]). The fields are
    /// kept in the caller's `raw` (reset first), which the result borrows: the walk's
    /// few hundred bytes of fields are not copied from frame to frame.
    #[inline(always)]
    fn walk<'s, 'r, const UTF8_IN_WALK: bool>(
        &'s mut self,
        line: &'s [u8],
        raw: &'r mut Raw<'s>,
    ) -> Option<Scanned<'s, 'r>> {
        *raw = Raw::default();
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if !UTF8_IN_WALK {
            core::str::from_utf8(line).ok()?;
        }
        let mut w = Walker::<UTF8_IN_WALK> {
            cursor: Cursor::new(line),
            depth: 0,
            raw,
        };
        w.ws();
        w.object(ROOT, &ROOT_SLOTS)?;
        w.ws();
        if w.i != line.len() {
            return None;
        }
        let raw = w.raw;
        let timestamp = self.dates.parse(raw.timestamp?)?;
        Some(Scanned {
            timestamp,
            raw,
            scratch: &mut self.scratch,
            path_scratch: &mut self.path_scratch,
            backslash: self.backslash,
        })
    }
}

/// What the walk of [`Prefilter::scan`] read from a line it accepted, before any of
/// its kept strings is made text: `host.id`, `host.os.type`, `process.executable` and
/// `file.path` are still the bodies in the line (the last two possibly escaped).
///
/// Most lines are skipped, and a skip reads none of those strings but `host.os.type`
/// (and that only for a `file` or `process` line): so the pipeline decides on this
/// ([`Scanned::screen`]) and makes the [`Screened`] text, two `from_utf8` calls and
/// an unescape or two, only for a line whose event it hands over. Making it text
/// cannot fail ([`Scanned::into_screened`]), so the decision is exactly
/// [`Screened::screen`]'s on [`Prefilter::scan`]'s result.
pub(crate) struct Scanned<'s, 'r> {
    /// `@timestamp`, read.
    pub(crate) timestamp: Timestamp,
    /// The walk's fields.
    pub(crate) raw: &'r Raw<'s>,
    /// The prefilter's buffers for an escaped `process.executable` and `file.path`.
    scratch: &'s mut String,
    path_scratch: &'s mut String,
    backslash: ByteSearch<b'\\'>,
}

impl<'s> Scanned<'s, '_> {
    /// `event.category`, as the rule sees it.
    pub(crate) fn category(&self) -> Category {
        match self.raw.categories {
            0 => Category::Other,
            CAT_FILE => Category::File,
            CAT_PROCESS => Category::Process,
            _ => Category::FileAndProcess,
        }
    }

    /// The [`Screened`] of the line: the kept strings made text. Never `None` (claim 1:
    /// the walk accepted every kept body, so each is UTF-8 and its escapes are the
    /// simple ones `unescape` undoes); `None` would only mean "decode the line".
    pub(crate) fn into_screened(self) -> Option<Screened<'s>> {
        let category = self.category();
        let (raw, backslash) = (self.raw, self.backslash);
        let text = |raw: Option<(&'s [u8], bool)>, scratch: &'s mut String| match raw {
            None => Some(None),
            Some((body, false)) => Some(Some(core::str::from_utf8(body).ok()?)),
            Some((body, true)) => {
                unescape(body, scratch, &backslash)?;
                Some(Some(&**scratch))
            }
        };
        let executable = text(raw.executable, self.scratch)?;
        let file_path = text(raw.file_path, self.path_scratch)?;
        Some(Screened {
            timestamp: self.timestamp,
            sequence: raw.sequence,
            category,
            types: raw.types,
            host_id: utf8(raw.host_id)?,
            os_type: os_type_text(raw.os_type)?,
            executable,
            raw_executable: raw.executable,
            rest: raw.rest,
            file_path,
            raw_file_path: raw.file_path,
            file: raw.file,
        })
    }

    /// [`Screened::screen`] of [`into_screened`](Self::into_screened), which it
    /// equals (the unit property test `lazy_screen_equals_the_screened_one`): the
    /// decision reads only the category, the types, the pid and, for a process line or
    /// a file line created or changed by the System process, `host.os.type` (as text:
    /// [`os_type_text`]); the text of the other kept
    /// strings is made only for an event handed over. `into_screened` never fails, so
    /// a skip or a "decode" here is the one `Screened::screen` makes.
    pub(crate) fn decide<P: TrustPolicy>(&self, rule: &Rule<P>) -> Decision {
        let category = self.category();
        if category == Category::Other {
            // Neither predicate can hold (both need a category), and the line makes no
            // event: `decide` says this whatever `host.os.type` is (and reads none).
            return Decision::Skip { events: 0 };
        }
        decide(rule, category, self.raw.types, self.raw.rest.pid, || {
            os_type_text(self.raw.os_type)
        })
    }

    /// [`Screened::screen`] of [`into_screened`](Self::into_screened) (see
    /// [`decide`](Self::decide)), making the text only for an event handed over.
    pub(crate) fn screen<P: TrustPolicy>(self, rule: &Rule<P>, position: Position) -> Screen<'s> {
        match self.decide(rule) {
            Decision::Skip { events } => Screen::Skip { events },
            Decision::Decode => Screen::Decode,
            Decision::Execution => self.into_screened().map_or(Screen::Decode, |s| {
                Screen::Execution(s.process_event(position))
            }),
            Decision::Write => self
                .into_screened()
                .map_or(Screen::Decode, |s| Screen::Write(s.file_event(position))),
        }
    }
}

/// What [`Screened::screen`] decides, without the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Skip { events: u8 },
    Execution,
    Write,
    Decode,
}

/// The decision of [`Screened::screen`] on a line of `category`, `types`, `pid` and
/// `os_type` (claims 2 and 3), `os_type` asked for only where a predicate reads it (a
/// process line, or a file line created or changed by the System process): `None` from
/// it, which never comes from a line the walk accepted (claim 1), means "decode the
/// line".
fn decide<'t, P: TrustPolicy>(
    rule: &Rule<P>,
    category: Category,
    types: EventTypes,
    pid: Option<i64>,
    os_type: impl Fn() -> Option<Option<&'t str>>,
) -> Decision {
    // `is_execution` reads only `os_type` and `types`, both exact here: it is asked
    // about an event with those two fields alone, and the whole event is made only
    // for a line handed over.
    let is_execution = |types| {
        os_type().map(|os_type| {
            rule.is_execution(&ProcessEvent {
                os_type,
                types,
                ..ProcessEvent::default()
            })
        })
    };
    let execution = if category.is_process() {
        match is_execution(types) {
            Some(execution) => execution,
            None => return Decision::Decode,
        }
    } else {
        false
    };
    // `is_write`'s necessary part: the pid (most file events are by other processes:
    // skipped here, without making the event), the types, then `is_windows(os_type)`
    // through the one public predicate that reads it alone (the order of a conjunction
    // of pure tests does not change it).
    let may_write = if category.is_file()
        && Rule::<P>::is_writer(pid)
        && types.intersects(EventTypes::CREATION | EventTypes::CHANGE)
    {
        match is_execution(EventTypes::START) {
            Some(windows) => windows,
            None => return Decision::Decode,
        }
    } else {
        false
    };
    match (execution, may_write) {
        (false, false) => Decision::Skip {
            events: u8::from(category.is_file()) + u8::from(category.is_process()),
        },
        (true, false) if !category.is_file() => Decision::Execution,
        (false, true) if !category.is_process() => Decision::Write,
        _ => Decision::Decode,
    }
}

/// A kept body as text: `Some(None)` for none, `None` if it is not UTF-8 (never, for a
/// body the walk accepted: claim 1).
fn utf8(body: Option<&[u8]>) -> Option<Option<&str>> {
    match body {
        None => Some(None),
        Some(body) => core::str::from_utf8(body).ok().map(Some),
    }
}

/// [`utf8`] of a `host.os.type` body, without the `from_utf8` call for the values
/// Elastic Defend sends (nearly every line): the same text, from a constant (a
/// `Screened`'s `os_type` may then borrow from it rather than from the line: nothing
/// locates it in the line, `Screening` takes the walk's body).
#[inline(always)]
fn os_type_text(body: Option<&[u8]>) -> Option<Option<&str>> {
    match body {
        Some(b"windows") => Some(Some("windows")),
        Some(b"linux") => Some(Some("linux")),
        Some(b"macos") => Some(Some("macos")),
        _ => utf8(body),
    }
}

impl<'a> Screened<'a> {
    /// How many events [`EcsRecord::events`](super::EcsRecord::events) makes of the
    /// line: one per category among `file` and `process`.
    pub fn events(&self) -> u8 {
        u8::from(self.category.is_file()) + u8::from(self.category.is_process())
    }

    /// Time, sequence and id, as the decoder's `EcsRecord::origin`.
    fn origin(&self, position: Position) -> Origin<'a> {
        Origin {
            timestamp: self.timestamp,
            sequence: self.sequence,
            id: text(self.rest.id()),
            position,
        }
    }

    /// The file event the full decode makes of the line (if its category includes
    /// `file`), every field, at `position` (claim 1).
    pub fn file_event(&self, position: Position) -> FileEvent<'a> {
        let (rest, file) = (&self.rest, &self.file);
        FileEvent {
            origin: self.origin(position),
            host_id: self.host_id,
            os_type: self.os_type,
            types: self.types,
            pid: rest.pid,
            path: self.file_path,
            extension: text(file.extension),
            header_bytes: text(file.header_bytes),
            hash: Hashes {
                sha256: text(file.sha256),
                sha1: text(file.sha1),
                md5: text(file.md5),
            },
        }
    }

    /// The process event the full decode makes of the line (if its category includes
    /// `process`), every field, at `position` (claim 1).
    pub fn process_event(&self, position: Position) -> ProcessEvent<'a> {
        let rest = &self.rest;
        ProcessEvent {
            origin: self.origin(position),
            host_id: self.host_id,
            os_type: self.os_type,
            types: self.types,
            executable: self.executable,
            pid: rest.pid,
            code_signature: CodeSignature {
                exists: rest.sig_exists,
                trusted: rest.sig_trusted,
                subject_name: text(rest.sig_subject),
                status: text(rest.sig_status),
            },
            hash: Hashes {
                sha256: text(rest.sha256),
                sha1: text(rest.sha1),
                md5: text(rest.md5),
            },
        }
    }

    /// Skip, whole event or full decode, under `rule` (claims 2 and 3 of the
    /// [`Prefilter`] docs).
    pub fn screen<P: TrustPolicy>(&self, rule: &Rule<P>, position: Position) -> Screen<'a> {
        match decide(rule, self.category, self.types, self.rest.pid, || {
            Some(self.os_type)
        }) {
            Decision::Skip { events } => Screen::Skip { events },
            Decision::Execution => Screen::Execution(self.process_event(position)),
            Decision::Write => Screen::Write(self.file_event(position)),
            Decision::Decode => Screen::Decode,
        }
    }
}

/// What [`Prefilter::triage`] made of a line.
// A return value, moved once: boxing would cost an allocation per line.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Triage<'a, 'r> {
    /// The byte search alone proved the line makes no event (not validated).
    Skip,
    /// Decode it fully.
    Decode,
    /// The walk read it.
    Scanned(Scanned<'a, 'r>),
}

/// The fields the walk keeps, as bodies in the line (checked: every non-ASCII run of
/// a body is UTF-8, every escape a simple one).
#[derive(Default)]
pub(crate) struct Raw<'a> {
    /// `@timestamp`'s body.
    timestamp: Option<&'a [u8]>,
    pub(crate) sequence: Option<u64>,
    categories: u8,
    pub(crate) types: EventTypes,
    /// `host.id`'s body (escape-free).
    pub(crate) host_id: Option<&'a [u8]>,
    /// `host.os.type`'s body (escape-free).
    pub(crate) os_type: Option<&'a [u8]>,
    /// The raw body, and whether it holds escapes.
    pub(crate) executable: Option<(&'a [u8], bool)>,
    /// `file.path`: the raw body, and whether it holds escapes.
    pub(crate) file_path: Option<(&'a [u8], bool)>,
    /// The rest of a process event's fields.
    pub(crate) rest: Rest<'a>,
    /// The rest of a file event's fields.
    pub(crate) file: FileRest<'a>,
    /// Leaves seen, by `Field` discriminant: a second sighting gives up.
    seen: u32,
}

/// The fields of a process event beyond those the prefilter's decisions read: kept so
/// that a process start can be handed over whole, without the full decode. Each is the
/// decoder's value (claim 1): plain strings (no escapes), integers and booleans only.
/// The strings are kept as their bodies, made text ([`text`]) only when the event is
/// made: most lines are skipped, and a `&str` of a short body costs a `from_utf8` call
/// (about a hundred instructions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Rest<'a> {
    pub(crate) event_id: Option<&'a [u8]>,
    pub(crate) top_id: Option<&'a [u8]>,
    pub(crate) doc_id: Option<&'a [u8]>,
    pub(crate) pid: Option<i64>,
    pub(crate) sig_exists: Option<bool>,
    pub(crate) sig_trusted: Option<bool>,
    pub(crate) sig_subject: Option<&'a [u8]>,
    pub(crate) sig_status: Option<&'a [u8]>,
    pub(crate) sha256: Option<&'a [u8]>,
    pub(crate) sha1: Option<&'a [u8]>,
    pub(crate) md5: Option<&'a [u8]>,
}

/// The fields of a file event beyond the shared ones (id, pid, host, time, types) and
/// the path: kept so that a write can be handed over whole. Escape-free strings only,
/// kept as their bodies (as in [`Rest`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct FileRest<'a> {
    pub(crate) extension: Option<&'a [u8]>,
    pub(crate) header_bytes: Option<&'a [u8]>,
    pub(crate) sha256: Option<&'a [u8]>,
    pub(crate) sha1: Option<&'a [u8]>,
    pub(crate) md5: Option<&'a [u8]>,
}

impl<'a> Rest<'a> {
    /// The event's id, as the decoder picks it (`EcsRecord::id`).
    pub(crate) fn id(&self) -> Option<&'a [u8]> {
        self.event_id.or(self.top_id).or(self.doc_id)
    }
}

/// A kept string body (of a line [`Prefilter::scan`] accepted) as text. The walk checked
/// the body (every non-ASCII run of it is UTF-8, every other byte ASCII), so `from_utf8`
/// does not fail here: it is only the safe way to the `&str`.
fn text(body: Option<&[u8]>) -> Option<&str> {
    body.and_then(|body| core::str::from_utf8(body).ok())
}

/// The walk over one line. With `UTF8_IN_WALK` (always, but in the tests' reference),
/// string bodies are searched for non-ASCII bytes too, and each run of them is checked
/// to be UTF-8 where the walk meets it ([`utf8_run`]): the walk then accepts only lines
/// that are UTF-8 (claim 1), without a pass over the whole line first.
struct Walker<'a, 'r, const UTF8_IN_WALK: bool> {
    /// The line and the position in it (`self.b`, `self.i`, `self.peek()`… through
    /// `Deref`).
    cursor: Cursor<'a>,
    depth: u32,
    raw: &'r mut Raw<'a>,
}

impl<'a, const UTF8_IN_WALK: bool> core::ops::Deref for Walker<'a, '_, UTF8_IN_WALK> {
    type Target = Cursor<'a>;

    #[inline(always)]
    fn deref(&self) -> &Cursor<'a> {
        &self.cursor
    }
}

impl<const UTF8_IN_WALK: bool> core::ops::DerefMut for Walker<'_, '_, UTF8_IN_WALK> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cursor
    }
}

impl<'a, const UTF8_IN_WALK: bool> Walker<'a, '_, UTF8_IN_WALK> {
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A string at the cursor: its raw body and whether it holds (simple) escapes; a
    /// `\u` gives up.
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.cursor.string::<UTF8_IN_WALK, false>()
    }

    /// A string at the cursor, checked and skipped (as [`string`](Self::string)).
    #[inline(always)]
    fn skip_string(&mut self) -> Option<()> {
        self.cursor.skip_string::<UTF8_IN_WALK>()
    }

    /// A string without escapes, as its raw body. Inlined: it reads every key, and a
    /// call per key (saving and restoring the walker's registers) cost a quarter of it.
    #[inline(always)]
    fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        match self.string()? {
            (body, false) => Some(body),
            (_, true) => None,
        }
    }

    /// A number token (no exponent, at most [`MAX_NUMBER`] bytes).
    fn number(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        let token = self.b.get(start..self.i)?;
        (token.len() <= MAX_NUMBER).then_some(token)
    }

    /// `true`, `false` or `null` at the cursor; `Some(None)` for `null`.
    fn boolean_or_null(&mut self) -> Option<Option<bool>> {
        match self.peek()? {
            b't' => self.literal(b"true").map(|()| Some(true)),
            b'f' => self.literal(b"false").map(|()| Some(false)),
            b'n' => self.literal(b"null").map(|()| None),
            _ => None,
        }
    }

    /// Any JSON value, checked and skipped: [`skip_value`](Self::skip_value), with its
    /// commonest case, a string, inlined at the caller (most skipped values are
    /// strings, and a call for each cost as much as scanning it).
    #[inline(always)]
    fn skip_any(&mut self) -> Option<()> {
        if self.peek()? == b'"' {
            self.skip_string()
        } else {
            self.skip_value()
        }
    }

    /// Any JSON value, checked and skipped.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                self.enter()?;
                self.i += 1;
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                } else {
                    loop {
                        self.skip_string()?;
                        self.colon()?;
                        self.skip_any()?;
                        if self.next_or_close(b'}')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Some(())
            }
            b'[' => {
                self.enter()?;
                self.i += 1;
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                } else {
                    loop {
                        self.skip_any()?;
                        if self.next_or_close(b']')? {
                            break;
                        }
                    }
                }
                self.depth -= 1;
                Some(())
            }
            b't' | b'f' | b'n' => self.boolean_or_null().map(drop),
            b'-' | b'0'..=b'9' => self.number().map(drop),
            _ => None,
        }
    }

    /// An object of the decoder's tree at the cursor, its keys routed as the decoder
    /// routes them.
    fn object(&mut self, nodes: &'static [Node], slots: &'static Slots) -> Option<()> {
        self.eat(b'{')?;
        self.enter()?;
        self.ws();
        if self.peek()? == b'}' {
            self.i += 1;
            self.depth -= 1;
            return Some(());
        }
        loop {
            // A key's bytes: routing reads no text (but for a dotted key, below).
            let key = match self.string()? {
                (key, false) => key,
                (_, true) => return None,
            };
            self.colon()?;
            match route_key(nodes, slots, key)? {
                Route::Unknown => self.skip_any()?,
                Route::Branch(_, children, slots) => self.object(children, slots)?,
                Route::Leaf(field, _) => self.leaf(field)?,
                Route::PastLeaf(..) => return None,
            }
            if self.next_or_close(b'}')? {
                break;
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// A leaf's value: kept, or checked to be one the decoder reads without error.
    fn leaf(&mut self, field: Field) -> Option<()> {
        let bit = 1u32 << (field as u32);
        if self.raw.seen & bit != 0 {
            return None;
        }
        self.raw.seen |= bit;
        match field {
            Field::Timestamp => {
                // Read after the walk, by the prefilter's `DateCache` (from the bytes: a
                // text it has seen to the second needs no `&str`).
                self.raw.timestamp = Some(self.plain_bytes()?);
            }
            Field::Category | Field::Type => self.set(field)?,
            Field::Sequence => {
                if self.peek()? == b'n' {
                    self.literal(b"null")?;
                } else {
                    let token = self.number()?;
                    self.raw.sequence = Some(plain_integer(token, 19)?.try_into().ok()?);
                }
            }
            Field::Pid => {
                if self.peek()? == b'n' {
                    self.literal(b"null")?;
                } else {
                    self.raw.rest.pid = Some(plain_integer(self.number()?, 18)?.try_into().ok()?);
                }
            }
            Field::SigExists => self.raw.rest.sig_exists = self.boolean_or_null()?,
            Field::SigTrusted => self.raw.rest.sig_trusted = self.boolean_or_null()?,
            // Keywords of the process event, kept: an escape-free string or `null`
            // only (a number or boolean, which the decoder would index as its text,
            // gives up).
            Field::EventId
            | Field::TopId
            | Field::DocId
            | Field::SigSubject
            | Field::SigStatus
            | Field::ProcessSha256
            | Field::ProcessSha1
            | Field::ProcessMd5
            | Field::FileExtension
            | Field::HeaderBytes
            | Field::FileSha256
            | Field::FileSha1
            | Field::FileMd5 => {
                let value = if self.peek()? == b'n' {
                    self.literal(b"null")?;
                    None
                } else {
                    Some(self.plain_bytes()?)
                };
                let (rest, file) = (&mut self.raw.rest, &mut self.raw.file);
                *match field {
                    Field::EventId => &mut rest.event_id,
                    Field::TopId => &mut rest.top_id,
                    Field::DocId => &mut rest.doc_id,
                    Field::SigSubject => &mut rest.sig_subject,
                    Field::SigStatus => &mut rest.sig_status,
                    Field::ProcessSha256 => &mut rest.sha256,
                    Field::ProcessSha1 => &mut rest.sha1,
                    Field::ProcessMd5 => &mut rest.md5,
                    Field::FileExtension => &mut file.extension,
                    Field::HeaderBytes => &mut file.header_bytes,
                    Field::FileSha256 => &mut file.sha256,
                    Field::FileSha1 => &mut file.sha1,
                    _ => &mut file.md5,
                } = value;
            }
            Field::HostId | Field::OsType | Field::Executable | Field::FilePath => {
                if self.peek()? == b'n' {
                    self.literal(b"null")?;
                } else if field == Field::Executable {
                    self.raw.executable = Some(self.string()?);
                } else if field == Field::FilePath {
                    self.raw.file_path = Some(self.string()?);
                } else {
                    // Kept as the body: made text only for an event handed over
                    // (`Scanned`), but for `host.os.type` on a `file` or `process` line.
                    let text = Some(self.plain_bytes()?);
                    if field == Field::HostId {
                        self.raw.host_id = text;
                    } else {
                        self.raw.os_type = text;
                    }
                }
            }
            // Other keywords: any scalar (the decoder indexes numbers and booleans as
            // their text); not kept.
            _ => match self.peek()? {
                b'"' | b't' | b'f' | b'n' | b'-' | b'0'..=b'9' => self.skip_any()?,
                _ => return None,
            },
        }
        Some(())
    }

    /// `event.category` / `event.type`: an escape-free string or a flat array of them.
    fn set(&mut self, field: Field) -> Option<()> {
        if self.peek()? == b'[' {
            self.i += 1;
            self.ws();
            if self.peek()? == b']' {
                self.i += 1;
                return Some(());
            }
            loop {
                let value = self.plain_bytes()?;
                self.add(field, value);
                if self.next_or_close(b']')? {
                    return Some(());
                }
            }
        }
        let value = self.plain_bytes()?;
        self.add(field, value);
        Some(())
    }

    /// The decoder's `add_to_set`, exactly: on the value's bytes, which equal a name's
    /// exactly when the text does (a checked body is the UTF-8 of its text).
    fn add(&mut self, field: Field, value: &[u8]) {
        if field == Field::Category {
            match value {
                b"file" => self.raw.categories |= CAT_FILE,
                b"process" => self.raw.categories |= CAT_PROCESS,
                _ => {}
            }
        } else {
            self.raw.types.insert_bytes(value);
        }
    }
}

/// `Some(route(nodes, key))` for the key whose bytes are `k` (`None` only if a dotted
/// key were not UTF-8, which a key the walk checked never is: the walk then gives
/// up), with a shortcut for the common cases. `route` splits the key
/// at dots and looks the first segment up by name (names are unique in a node list),
/// answering `Unknown` when no node has it. The first segment equals a node's name
/// exactly when the key starts with the name followed by a dot or the end. So: no such
/// node, `Unknown`; the key is the name, `node_route(node)` (what `route` itself
/// computes for a one-segment key); a dotted key, `route` itself.
/// `slots` is `nodes`' [`Slots`]: only the node in the key's slot can match it, so the
/// key is compared with that one alone, and a key of an empty slot (most keys of a
/// Defend document are not in the tree) with none.
#[inline(always)]
fn route_key(nodes: &'static [Node], slots: &Slots, k: &[u8]) -> Option<Route> {
    let (Some(&first), Some(&second)) = (k.first(), k.get(1)) else {
        // Shorter than every name (see `Slots`).
        return Some(Route::Unknown);
    };
    let candidates = match slots.get(first, second) {
        Slots::EMPTY => return Some(Route::Unknown),
        Slots::SHARED => nodes,
        one => nodes
            .get(usize::from(one) - 1..usize::from(one))
            .unwrap_or_default(),
    };
    for node in candidates {
        let name = node.name.as_bytes();
        // Byte by byte: names are short, and a library `memcmp` call costs more.
        if k.len() < name.len() || !name.iter().zip(k).all(|(a, b)| a == b) {
            continue;
        }
        return match k.get(name.len()) {
            None => Some(node_route(node)),
            // The key is text (a string body the walk checked), so this never fails.
            Some(b'.') => Some(route(nodes, core::str::from_utf8(k).ok()?)),
            Some(_) => continue,
        };
    }
    Some(Route::Unknown)
}

/// A number token that is a plain integer (no fraction) of at most `max` digits (`max`
/// ≤ 19: callers pass 18 or 19).
///
/// One pass over the digits, each checked and added: at most 19 digits are below
/// 10^19, within a `u64`, so no step overflows (the former check pass and checked fold,
/// `plain_integer_checked`, are kept in the tests; `plain_integer_equals_the_checked_one`
/// compares them).
fn plain_integer(token: &[u8], max: usize) -> Option<i128> {
    let (negative, digits) = match token.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None => (false, token),
    };
    if digits.is_empty() || digits.len() > max.min(19) {
        return None;
    }
    // `-0` is an `f64` to `serde_json`: leave it to the decoder.
    if negative && digits == b"0" {
        return None;
    }
    let mut magnitude = 0u64;
    for &d in digits {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        magnitude = magnitude * 10 + u64::from(d);
    }
    let magnitude = i128::from(magnitude);
    Some(if negative { -magnitude } else { magnitude })
}

/// Undoes JSON's simple escapes (the scanner gave up on any other) into `out`.
///
/// The body is checked to be UTF-8 once; the text between escapes is then copied a
/// run at a time, found by `memchr` through the prefilter's prebuilt searcher
/// ([`ByteSearch`]) (a path holds a backslash every few bytes, and a byte loop with a
/// UTF-8 check per run cost several times more).
fn unescape(body: &[u8], out: &mut String, backslash: &ByteSearch<b'\\'>) -> Option<()> {
    out.clear();
    let mut rest = core::str::from_utf8(body).ok()?;
    while let Some(at) = backslash.find(rest.as_bytes()) {
        // `at` and `at + 2` are character boundaries: `\` and the escaped byte are
        // ASCII (anything else gives up below).
        out.push_str(rest.get(..at)?);
        out.push(match *rest.as_bytes().get(at + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => return None,
        });
        rest = rest.get(at + 2..)?;
    }
    out.push_str(rest);
    Some(())
}

/// Whether `line` certainly makes no event (category neither `file` nor `process`),
/// by a byte search, without a parse: true when the line has no `\u` escape and every
/// `"file"` or `"process"` in it (with an unescaped opening quote) is followed, after
/// JSON whitespace, by `:`, i.e. is a key, never a value. See claim 0 of the
/// [`Prefilter`] docs.
///
/// With `std`, the search's needles are built on the first call and shared; without
/// it, on every call (a few thousand instructions, no allocation): a [`Prefilter`]
/// keeps its own, and [`Prefilter::screen`] runs the same search.
///
/// # Example
/// ```
/// use shareexec::input::lacks_rule_category;
/// assert!(lacks_rule_category(br#"{"event":{"category":"network"},"process":{"pid":4}}"#));
/// assert!(!lacks_rule_category(br#"{"event":{"category":["process"]}}"#));
/// assert!(!lacks_rule_category(br#"{"event":{"category":"proc\u0065ss"}}"#));
/// ```
pub fn lacks_rule_category(line: &[u8]) -> bool {
    #[cfg(feature = "std")]
    let sighter = Sighter::shared();
    // Without `std` there is no lazy static: the needles are built per call (cheap,
    // no allocation; [`Prefilter::screen`] keeps its own).
    #[cfg(not(feature = "std"))]
    let sighter = &Sighter::new();
    sight(sighter, line) == Sight::NoCategory
}

/// What the byte search saw in a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sight {
    /// No `\u`, and no `"file"`/`"process"` value: no event (claim 0).
    NoCategory,
    /// Decode fully without walking: a `\u` (the walk would give up on it). (Decoding
    /// is always correct; this only saves the walk.)
    Decode,
    /// Walk it ([`Prefilter::scan`]).
    Walk,
}

/// The byte searchers behind [`sight`]: one vectorised substring searcher
/// (`memchr::memmem`: SSE2 on every x86-64, AVX2 when the CPU has it and `std` is on)
/// per needle, built once and kept in the [`Prefilter`]. Building them allocates
/// nothing.
#[derive(Clone, Debug)]
struct Sighter {
    /// `\u` (a `\` then a `u`).
    escape: Finder<'static>,
    /// `"file"` and `"process"`, quotes included.
    file: Finder<'static>,
    process: Finder<'static>,
}

impl Sighter {
    fn new() -> Self {
        Sighter {
            escape: Finder::new(b"\\u"),
            file: Finder::new(b"\"file\""),
            process: Finder::new(b"\"process\""),
        }
    }

    /// One per process, for [`lacks_rule_category`] (which has no [`Prefilter`] to
    /// borrow them from).
    #[cfg(feature = "std")]
    fn shared() -> &'static Sighter {
        static SHARED: std::sync::OnceLock<Sighter> = std::sync::OnceLock::new();
        SHARED.get_or_init(Sighter::new)
    }
}

/// The byte search behind [`lacks_rule_category`] and [`Prefilter::screen`]: whether
/// the line has a `\u` escape, and whether it holds the word `file` or `process` as a
/// value (quoted, not followed by `:`). See claim 0 of the [`Prefilter`] docs for why it
/// never misses a `"file"` or `"process"` value.
///
/// One `memmem` pass per needle (each pass stops at the first value it finds):
/// `"file"`, `"process"`, then `\u`. (Nothing else is worth a pass: every line with a
/// category is walked, whatever its types.)
fn sight(s: &Sighter, line: &[u8]) -> Sight {
    let category = has_value(&s.file, line) || has_value(&s.process, line);
    if has_unicode_escape(&s.escape, line) {
        Sight::Decode
    } else if category {
        Sight::Walk
    } else {
        Sight::NoCategory
    }
}

/// Whether `word` (a needle `"…"`: quotes at both ends, letters between) occurs in
/// `line` with an unescaped opening quote and no `:` after it (past JSON whitespace).
///
/// Every occurrence is visited: two occurrences can share at most a quote (the
/// letters between hold none), so resuming the search at an occurrence's closing
/// quote skips none (`"file"file"` has two).
fn has_value(word: &Finder<'_>, line: &[u8]) -> bool {
    let len = word.needle().len();
    let mut from = 0;
    while let Some(hit) = line.get(from..).and_then(|rest| word.find(rest)) {
        let open = from + hit;
        let close = open + len - 1;
        let mut k = close + 1;
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = line.get(k) {
            k += 1;
        }
        if line.get(k) != Some(&b':') && !escaped(line, open) {
            return true;
        }
        from = close;
    }
    false
}

/// Whether `line` holds a `\u` escape: a `\u` whose backslash ends an odd run of
/// backslashes (inside a JSON string the run pairs up from its left end, so an odd run
/// leaves its last backslash to escape the `u`; `C:\\users` is an even run, no escape).
fn has_unicode_escape(escape: &Finder<'_>, line: &[u8]) -> bool {
    let mut from = 0;
    while let Some(hit) = line.get(from..).and_then(|rest| escape.find(rest)) {
        let slash = from + hit;
        // The backslash at `slash` escapes the `u` iff the one before it does not
        // escape it, i.e. iff the byte at `slash` is not itself escaped.
        if !escaped(line, slash) {
            return true;
        }
        from = slash + 2;
    }
    false
}

/// Whether the byte at `at` is escaped: preceded by an odd run of backslashes. Linear
/// over the line in total: a run is counted only for the one byte right after it.
fn escaped(line: &[u8], at: usize) -> bool {
    let before = line.get(..at).unwrap_or_default();
    before.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1
}

/// The index of the first `"`, `\` or control byte (< 0x20), and with `HIGH` of the
/// first non-ASCII byte (≥ 0x80) too, at or after `i`; eight bytes at a time (SWAR: the
/// lowest flagged byte of each test is exact, since borrows only run upward; a byte's
/// own high bit, the non-ASCII test, borrows nothing).
#[inline(always)]
pub(super) fn find_special<const HIGH: bool>(b: &[u8], mut i: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().ok()?);
        let q = x ^ (LO * u64::from(b'"'));
        let s = x ^ (LO * u64::from(b'\\'));
        let high = if HIGH { x } else { 0 };
        let hits = ((q.wrapping_sub(LO) & !q)
            | (s.wrapping_sub(LO) & !s)
            | (x.wrapping_sub(LO * 0x20) & !x)
            | high)
            & HI;
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || c < 0x20 || (HIGH && c >= 0x80) {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// A run of string content from the non-ASCII byte at `j` to the next `"`, `\` or
/// control byte, checked to be UTF-8: that byte's index; `None` if the run is not UTF-8
/// or the line ends first (the string is then unterminated: the walk gives up anyway,
/// as it did before at the same string).
///
/// The byte before `j` is ASCII (the walk reached `j` past an opening quote, an escape
/// or ASCII content) and so is the one at the returned index: in a UTF-8 line both are
/// character boundaries, so the run is UTF-8 when the line is; and a line whose every
/// non-ASCII byte lies in such a run, every other byte being ASCII, is UTF-8 when every
/// run is. The run goes on past ASCII content, so that text with many non-ASCII
/// characters is checked by one `from_utf8` call, not one per character. Not inlined:
/// non-ASCII text is rare in logs, and the string loops stay small without it.
#[inline(never)]
pub(super) fn utf8_run(b: &[u8], j: usize) -> Option<usize> {
    let end = find_special::<false>(b, j)?;
    core::str::from_utf8(b.get(j..end)?).ok()?;
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::EcsRecord;
    use alloc::format;
    use alloc::vec::Vec;

    /// The former byte search (an eight-byte SWAR loop that pairs backslashes from the
    /// left of each run), kept as the reference [`sight`] must agree with.
    fn sight_reference(line: &[u8]) -> Sight {
        let (mut file, mut process, mut write, mut start) = (false, false, false, false);
        let mut i = 0;
        while let Some(j) = find_candidate(line, i) {
            if line.get(j) == Some(&b'\\') {
                // Backslashes pair up from the left of each run, as in a JSON string, so
                // an unescaped quote is never stepped over.
                if line.get(j + 1) == Some(&b'u') {
                    return Sight::Decode;
                }
                i = j + 2;
                continue;
            }
            i = j + 1;
            if line.get(j) != Some(&b'"') {
                continue;
            }
            let rest = line.get(j + 1..).unwrap_or_default();
            let (len, seen) = if rest.starts_with(b"file\"") {
                (5, &mut file)
            } else if rest.starts_with(b"process\"") {
                (8, &mut process)
            } else if rest.starts_with(b"creation\"") {
                (9, &mut write)
            } else if rest.starts_with(b"change\"") {
                (7, &mut write)
            } else if rest.starts_with(b"start\"") {
                (6, &mut start)
            } else {
                continue;
            };
            let mut k = j + 1 + len;
            while let Some(b' ' | b'\t' | b'\n' | b'\r') = line.get(k) {
                k += 1;
            }
            if line.get(k) == Some(&b':') {
                // A key: its closing quote and the colon hold no pattern start.
                i = k + 1;
            } else {
                // A value (or invalid JSON): the search goes on from its closing quote.
                *seen = true;
                i = j + len;
            }
        }
        // The former loop also told likely writes and starts apart (by the values
        // `"creation"`, `"change"`, `"start"`); every line with a category is walked
        // now, so only the category matters.
        let _ = (write, start);
        if file || process {
            Sight::Walk
        } else {
            Sight::NoCategory
        }
    }

    /// The index of the first byte at or after `i` that is `\`, or `"` followed by `f`,
    /// `p`, `c` or `s` (the start of a possible `"file"`, `"process"`, `"creation"`,
    /// `"change"` or `"start"`); it may also stop at other
    /// bytes (the caller checks), never past one of those. Eight positions at a time: the
    /// SWAR zero-byte test flags every zero byte (and possibly bytes above one), so a
    /// flagged-bit AND of two tests has no false negatives.
    #[inline]
    fn find_candidate(b: &[u8], mut i: usize) -> Option<usize> {
        const LO: u64 = 0x0101_0101_0101_0101;
        const HI: u64 = 0x8080_8080_8080_8080;
        #[inline(always)]
        fn zero(v: u64) -> u64 {
            v.wrapping_sub(LO) & !v & HI
        }
        while let Some(chunk) = b.get(i..i + 9) {
            let x = u64::from_le_bytes(chunk.get(..8)?.try_into().ok()?);
            let y = u64::from_le_bytes(chunk.get(1..)?.try_into().ok()?);
            let quote = zero(x ^ (LO * u64::from(b'"')));
            let next = zero(y ^ (LO * u64::from(b'f')))
                | zero(y ^ (LO * u64::from(b'p')))
                | zero(y ^ (LO * u64::from(b'c')))
                | zero(y ^ (LO * u64::from(b's')));
            let hits = (quote & next) | zero(x ^ (LO * u64::from(b'\\')));
            if hits != 0 {
                return Some(i + (hits.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        while let Some(&c) = b.get(i) {
            if c == b'"' || c == b'\\' {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    fn naive(b: &[u8], i: usize, high: bool) -> Option<usize> {
        (i..b.len())
            .find(|&j| matches!(b[j], b'"' | b'\\') || b[j] < 0x20 || (high && b[j] >= 0x80))
    }

    #[test]
    fn find_special_matches_naive() {
        let samples: &[&[u8]] = &[
            b"abcdefghijklmnop\"",
            b"\x7f\x80\xff\xe0\x9f abc\\def\"",
            b"0123456\x1f89",
            b"\xa2\xa2\xa2\xa2\xa2\xa2\xa2\xa2\xa2\"",
            b"",
            b"short",
        ];
        for s in samples {
            for i in 0..=s.len() {
                assert_eq!(
                    find_special::<false>(s, i),
                    naive(s, i, false),
                    "{s:?} at {i}"
                );
                assert_eq!(
                    find_special::<true>(s, i),
                    naive(s, i, true),
                    "{s:?} at {i}"
                );
            }
        }
        // Every byte at every place of every length up to three steps: in the eight-byte
        // steps and in the byte loop after them.
        for byte in 0u8..=255 {
            for len in 1..=24 {
                for pos in 0..len {
                    let mut v = alloc::vec![b'x'; len];
                    v[pos] = byte;
                    for from in [0, pos] {
                        let at = format!("{byte} at {pos} of {len} from {from}");
                        assert_eq!(
                            find_special::<false>(&v, from),
                            naive(&v, from, false),
                            "{at}"
                        );
                        assert_eq!(
                            find_special::<true>(&v, from),
                            naive(&v, from, true),
                            "{at}"
                        );
                    }
                }
            }
        }
    }

    const BASE: &str = r#""@timestamp":"2024-01-03T14:00:00.5Z""#;

    /// Checks claim 1 on `line`; the scanner's category, types and event count.
    fn agrees(line: &str) -> Option<Seen> {
        let mut p = Prefilter::new();
        let s = p.scan(line.as_bytes())?;
        let r = EcsRecord::parse(line.as_bytes()).expect("the scanner accepted it");
        assert_same_fields(&s, &r, line);
        Some(Seen {
            category: s.category,
            types: s.types,
            events: s.events(),
        })
    }

    /// Claim 1 on the fields `Screened` exposes: the scanner's are the decoder's.
    fn assert_same_fields(s: &Screened<'_>, r: &EcsRecord<'_>, line: impl core::fmt::Display) {
        assert_eq!(s.timestamp, r.timestamp(), "{line}");
        assert_eq!(s.sequence, r.sequence(), "{line}");
        assert_eq!(s.category, r.category(), "{line}");
        assert_eq!(s.types, r.event_types(), "{line}");
        assert_eq!(s.host_id, r.host_id(), "{line}");
        assert_eq!(s.os_type, r.os_type(), "{line}");
        assert_eq!(s.executable, r.process_executable(), "{line}");
    }

    struct Seen {
        category: Category,
        types: EventTypes,
        events: u8,
    }

    fn start(body: &str) -> String {
        format!("{{{BASE},{body}}}")
    }

    /// `route_key`'s shortcuts (the two-byte set, the byte loop) answer as `route` on
    /// every node list of the tree, for every name, dotted path and near miss.
    #[test]
    fn route_key_equals_route() {
        fn same(a: Route, b: Route) -> bool {
            match (a, b) {
                (Route::Unknown, Route::Unknown) => true,
                (Route::Branch(p, n, m), Route::Branch(q, o, k)) => {
                    p == q && core::ptr::eq(n, o) && core::ptr::eq(m, k)
                }
                (Route::Leaf(f, p), Route::Leaf(g, q))
                | (Route::PastLeaf(f, p), Route::PastLeaf(g, q)) => f == g && p == q,
                _ => false,
            }
        }
        let mut lists: Vec<(&'static [Node], &'static Slots)> = alloc::vec![(ROOT, &ROOT_SLOTS)];
        let mut keys: Vec<String> = ["", "x", "e", "ev", "eve", ".", "..", "a.b", "_", "@"]
            .iter()
            .map(|k| String::from(*k))
            .collect();
        let mut seen = 0;
        while let Some((nodes, _)) = lists.get(seen).copied() {
            seen += 1;
            for node in nodes {
                let name = node.name;
                for key in [
                    String::from(name),
                    format!("{name}.x"),
                    format!("{name}x"),
                    format!("x{name}"),
                    format!("{name}."),
                    format!("{name}.id"),
                    format!("{name}.os.type"),
                    String::from(&name[..1]),
                    String::from(&name[..name.len() - 1]),
                ] {
                    keys.push(key);
                }
                if let Route::Branch(_, children, child_slots) = node_route(node)
                    && !lists.iter().any(|(l, _)| core::ptr::eq(*l, children))
                {
                    lists.push((children, child_slots));
                }
            }
        }
        assert!(lists.len() > 5, "the walk reached every branch");
        for (nodes, slots) in &lists {
            for key in &keys {
                assert!(
                    same(
                        route_key(nodes, slots, key.as_bytes())
                            .unwrap_or(Route::PastLeaf(Field::Timestamp, "route_key gave up")),
                        route(nodes, key)
                    ),
                    "{key}"
                );
            }
        }
    }

    #[test]
    fn nested_dotted_and_mixed_spellings_agree() {
        for body in [
            r#""event":{"category":["process"],"type":["start"]},"host":{"id":"h","os":{"type":"windows"}},"process":{"executable":"C:\\a.exe"}"#,
            r#""event.category":"process","event.type":"start","host.id":"h","host.os.type":"windows","process.executable":"C:\\a.exe""#,
            r#""event":{"category":"process","kind":"x"},"event.type":["start"],"host":{"os.type":"windows","id":"h"},"process":{"executable":"C:\\a.exe"}"#,
        ] {
            let s = agrees(&start(body)).expect("plain");
            assert_eq!(s.category, Category::Process);
            assert!(s.types.intersects(EventTypes::START));
        }
    }

    #[test]
    fn whitespace_and_key_order_agree() {
        let line = "\u{feff} { \"process\" : { \"executable\" : \"C:\\\\a.exe\" } ,\n\t\"host\":{\"os\":{\"type\":\"windows\"},\"id\":\"h\"}, \"event\" : { \"type\" : [ \"start\" , \"info\" ] , \"category\" : [ ] } ,\r\"@timestamp\" : \"1704290400000\" } \r\n";
        let s = agrees(line).expect("plain");
        assert_eq!(s.category, Category::Other);
        assert_eq!(s.types, EventTypes::START | EventTypes::INFO);
    }

    #[test]
    fn scalar_and_array_categories_agree() {
        for cat in [r#""file""#, r#"["file"]"#, r#"["x","file"]"#] {
            let s = agrees(&start(&format!(
                r#""event":{{"category":{cat},"type":"creation"}}"#
            )))
            .expect("plain");
            assert_eq!(s.category, Category::File);
        }
        let s = agrees(&start(r#""event":{"category":["file","process"]}"#)).unwrap();
        assert_eq!(s.category, Category::FileAndProcess);
        assert_eq!(s.events, 2);
    }

    #[test]
    fn source_of_a_search_hit_agrees() {
        let line = format!(
            r#"{{"_index":"x","_id":"1","_source":{{{BASE},"event":{{"category":"process","type":"start"}},"host.id":"h"}}}}"#
        );
        let s = agrees(&line).expect("plain");
        assert_eq!(s.category, Category::Process);
        let dotted = format!(r#"{{"_source.event.category":"file",{BASE}}}"#);
        assert_eq!(agrees(&dotted).unwrap().category, Category::File);
    }

    #[test]
    fn escaped_executable_is_unescaped() {
        let line = start(r#""process":{"executable":"C:\\dir\/a \"b\".exe"}"#);
        let mut p = Prefilter::new();
        assert_eq!(
            p.scan(line.as_bytes()).unwrap().executable,
            Some(r#"C:\dir/a "b".exe"#)
        );
        agrees(&line).unwrap();
    }

    #[test]
    fn gives_up_on_doubt() {
        let doubtful = [
            // `\u` anywhere, even in a value nobody reads.
            start(r#""message":"caf\u00e9""#),
            start(r#""ev\u0065nt":{"type":"start"}"#),
            // Escapes in keys or kept fields (other than the executable).
            start(r#""host":{"id":"a\"b"}"#),
            start(r#""event":{"type":"st\/art"}"#),
            // Repeats, dotted + nested.
            start(r#""host.id":"a","host":{"id":"b"}"#),
            start(r#""event.type":"start","event.type":"end""#),
            format!(r#"{{{BASE},{BASE}}}"#),
            // Branch that is not an object, arrays of objects, null branches.
            start(r#""process":[{"executable":"x"}]"#),
            start(r#""process":null"#),
            start(r#""host":"name""#),
            // Odd types for read fields.
            start(r#""process":{"pid":"4"}"#),
            start(r#""process":{"pid":4.0}"#),
            start(r#""process":{"pid":-0}"#),
            start(r#""process.code_signature.trusted":"true""#),
            start(r#""event":{"sequence":-1}"#),
            start(r#""event":{"category":[["file"]]}"#),
            start(r#""event":{"category":[1]}"#),
            start(r#""host.os.type":["windows"]"#),
            start(r#""file.path":{"a":1}"#),
            start(r#""process.pid.x":1"#),
            // Numbers with exponents, too long.
            start(r#""size":1e3"#),
            // A kept keyword of the process event that is not a string (the decoder
            // would index its text).
            start(r#""event":{"id":7}"#),
            start(r#""_id":3"#),
            start(r#""process":{"hash":{"sha1":true}}"#),
            start(r#""file":{"extension":1.50}"#),
            start(r#""file":{"path":true}"#),
            start(r#""file":{"Ext":{"header_bytes":12}}"#),
            start(r#""process":{"code_signature":{"subject_name":1}}"#),
            // A kept keyword with an escape.
            start(r#""process":{"code_signature":{"subject_name":"a"b"}}"#),
            start(&format!(r#""size":{}"#, "9".repeat(41))),
            // Timestamps.
            r#"{"@timestamp":1704290400000}"#.into(),
            r#"{"@timestamp":"yesterday"}"#.into(),
            r#"{"event":{"type":"start"}}"#.into(),
            // Syntax.
            start(r#""a":tru"#),
            start(r#""a":01"#),
            start(r#""a":1.}"#),
            start("\"a\":\"x\ty\""),
            start(r#""a":[1,]"#),
            format!("{{{BASE}}}x"),
            format!("[{{{BASE}}}]"),
            "   ".into(),
            String::new(),
        ];
        for line in &doubtful {
            assert!(
                Prefilter::new().scan(line.as_bytes()).is_none(),
                "should give up: {line}"
            );
        }
        let mut deep = String::from("{\"@timestamp\":\"2024\",\"x\":");
        deep.push_str(&"[".repeat(70));
        deep.push_str(&"]".repeat(70));
        deep.push('}');
        assert!(Prefilter::new().scan(deep.as_bytes()).is_none());
        assert!(
            Prefilter::new()
                .scan(b"{\"@timestamp\":\"2024\",\"a\":\"\xff\"}")
                .is_none()
        );
    }

    #[test]
    fn accepted_odd_but_valid_values_agree() {
        for body in [
            r#""file":{"extension":"exe","path":"C:\\x","hash":{"md5":null},"size":1.50}"#,
            r#""file":{"Ext":{"header_bytes":"4d5a"},"hash":{"sha256":"ab","sha1":"cd"}}"#,
            r#""process":{"pid":null,"code_signature":{"trusted":false,"exists":null}}"#,
            r#""event":{"sequence":9999999999999999999,"id":"7"}"#,
            r#""host":{"id":null},"process.executable":null"#,
            r#""process":{"pid":-12,"name":""},"id":"x","_id":null"#,
            r#""process":{"name":3,"hash":{"sha256":"ab","md5":null},"code_signature":{"subject_name":"S","status":"trusted"}}"#,
            r#""a":{"b":[1,{"c":[]},"d",null,true,-0.5]},"event":{"type":[]}"#,
        ] {
            agrees(&start(body)).unwrap_or_else(|| panic!("accepted: {body}"));
        }
    }

    #[test]
    fn byte_search_sights() {
        let cases: &[(&[u8], Sight)] = &[
            (
                br#"{"process":{"pid":4},"file" :{"path":"x"},"event":{"category":"network"}}"#,
                Sight::NoCategory,
            ),
            (
                br#"{"event":{"category":"registry","type":"change"}}"#,
                Sight::NoCategory,
            ),
            (
                br#"{"event":{"category":["file"],"type":["creation"]}}"#,
                Sight::Walk,
            ),
            (
                br#"{"event":{"category":"file" ,"type": "change" }}"#,
                Sight::Walk,
            ),
            (
                br#"{"event":{"category":"file","type":"deletion"}}"#,
                Sight::Walk,
            ),
            (
                br#"{"event":{"category":["process"],"type":["start"]}}"#,
                Sight::Walk,
            ),
            (br#"{"a":"\u0041"}"#, Sight::Decode),
            (
                br#"{"event":{"category":"file","type":"change"},"a":"\u0041"}"#,
                Sight::Decode,
            ),
            // An escaped quote does not start a token; an escaped backslash before a
            // real quote does not hide it.
            (br#"{"a":"x\"file","b":1}"#, Sight::NoCategory),
            (br#"{"a":"x\\","event.category":"process"}"#, Sight::Walk),
            (br#"{"a":["x\\\\","file"]}"#, Sight::Walk),
            // Even runs before a `u` are no escape; odd runs are, whatever their length.
            (br#"{"a":"C:\\users","b":"x"}"#, Sight::NoCategory),
            (br#"{"a":"C:\\\\users"}"#, Sight::NoCategory),
            (br#"{"a":"C:\\\u0041"}"#, Sight::Decode),
            (br#"\u"#, Sight::Decode),
            // Overlapping occurrences: the second starts at the first's closing quote.
            (br#"{"a":"file"process"}"#, Sight::Walk),
            (br#"{"a":"start"process" ,"b":"start"}"#, Sight::Walk),
            (br#"{"a":"x\"file"process"}"#, Sight::Walk),
            (br#"{"a":"file"file":1}"#, Sight::Walk),
            // A key, then the same word as a value; whitespace before the colon.
            (br#"{"file" :"file"}"#, Sight::Walk),
            (b"{\"process\"\t\r\n :1}", Sight::NoCategory),
            // At the very start and end of the line.
            (br#""file""#, Sight::Walk),
            (br#""process" "#, Sight::Walk),
            (br#""file":"#, Sight::NoCategory),
            (b"", Sight::NoCategory),
            (br#"\"file""#, Sight::NoCategory),
            (br#"\\"file""#, Sight::Walk),
        ];
        let sighter = Sighter::new();
        for (line, sight) in cases {
            let text = String::from_utf8_lossy(line);
            assert_eq!(super::sight(&sighter, line), *sight, "{text}");
            assert_eq!(sight_reference(line), *sight, "reference: {text}");
            assert_eq!(
                lacks_rule_category(line),
                *sight == Sight::NoCategory,
                "{text}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// The vectorised search agrees with the former SWAR loop on lines built from
        /// the bytes and words it reacts to (quotes, backslash runs, `u`, colons, JSON
        /// whitespace, the five words, with and without quotes around them).
        #[test]
        fn sight_equals_the_reference(
            parts in proptest::collection::vec(
                proptest::sample::select(alloc::vec![
                    "\"", "\\", "\\\\", "u", ":", " ", "\t", "\n", ",", "{", "}", "[", "]",
                    "x", "file", "process", "creation", "change", "start",
                    "\"file\"", "\"process\"", "\"creation\"", "\"change\"", "\"start\"",
                    "\"file", "process\"", "\\u", "\\\"", "f", "p", "c", "s", "e",
                ]),
                0..40,
            )
        ) {
            let line = parts.concat();
            let sighter = Sighter::new();
            proptest::prop_assert_eq!(
                super::sight(&sighter, line.as_bytes()),
                sight_reference(line.as_bytes()),
                "{}", line
            );
        }

        /// The same on arbitrary bytes, long enough for the vectorised paths.
        #[test]
        fn sight_equals_the_reference_on_bytes(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(b"\"\\u: fpcs".to_vec()),
                    proptest::prelude::any::<u8>(),
                ],
                0..200,
            ),
            words in proptest::collection::vec((0usize..200, 0usize..10), 0..6),
        ) {
            let mut line = bytes;
            for (at, w) in words {
                let word: &[u8] = [
                    &b"\"file\""[..], b"\"process\"", b"\"creation\"", b"\"change\"",
                    b"\"start\"", b"\\u", b"\"file\":", b"\"process\" :", b"\\\"file\"",
                    b"\"start\"process\"",
                ][w];
                let at = at.min(line.len());
                line.splice(at..at, word.iter().copied());
            }
            let sighter = Sighter::new();
            proptest::prop_assert_eq!(
                super::sight(&sighter, &line),
                sight_reference(&line),
                "{:?}", String::from_utf8_lossy(&line)
            );
        }
    }

    #[test]
    fn screen_decisions() {
        let es = Rule::elasticsearch();
        let hardened = Rule::hardened();
        let screen = |body: &str, rule: &Rule| {
            let line = start(body);
            let mut p = Prefilter::new();
            let s = p.scan(line.as_bytes()).expect("plain");
            match s.screen(rule, 9) {
                Screen::Skip { events } => Screen::Skip { events },
                Screen::Execution(e) => {
                    assert_eq!(e.origin.position, 9);
                    Screen::Execution(ProcessEvent::default())
                }
                Screen::Write(e) => {
                    assert_eq!(e.origin.position, 9);
                    Screen::Write(FileEvent::default())
                }
                Screen::Decode => Screen::Decode,
            }
        };
        let exec = Screen::Execution(ProcessEvent::default());
        let start_win = r#""event":{"category":"process","type":"start"},"host.os.type":"windows""#;
        assert_eq!(screen(start_win, &es), exec);
        let start_upper =
            r#""event":{"category":"process","type":"start"},"host.os.type":"Windows""#;
        assert_eq!(screen(start_upper, &es), Screen::Skip { events: 1 });
        assert_eq!(screen(start_upper, &hardened), exec);
        let end = r#""event":{"category":"process","type":"end"},"host.os.type":"windows""#;
        assert_eq!(screen(end, &es), Screen::Skip { events: 1 });
        let write = r#""event":{"category":"file","type":"change"},"host.os.type":"windows","process":{"pid":4}"#;
        assert_eq!(screen(write, &es), Screen::Write(FileEvent::default()));
        assert_eq!(
            screen(write, &hardened),
            Screen::Write(FileEvent::default())
        );
        // A file event by another process, or by none given, is no write: skipped
        // without its event being made.
        for pid in [
            r#","process":{"pid":1234}"#,
            r#","process.pid":-4"#,
            r#","process":{"pid":null}"#,
            "",
        ] {
            let other = format!(
                r#""event":{{"category":"file","type":"creation"}},"host.os.type":"windows"{pid}"#
            );
            assert_eq!(screen(&other, &es), Screen::Skip { events: 1 }, "{other}");
            assert_eq!(
                screen(&other, &hardened),
                Screen::Skip { events: 1 },
                "{other}"
            );
        }
        let linux = r#""event":{"category":"file","type":"creation"},"host.os.type":"linux""#;
        assert_eq!(screen(linux, &es), Screen::Skip { events: 1 });
        let both =
            r#""event":{"category":["file","process"],"type":"start"},"host.os.type":"windows""#;
        assert_eq!(screen(both, &es), Screen::Decode);
        let both_no =
            r#""event":{"category":["file","process"],"type":"info"},"host.os.type":"windows""#;
        assert_eq!(screen(both_no, &es), Screen::Skip { events: 2 });
        assert_eq!(screen(r#""x":1"#, &es), Screen::Skip { events: 0 });
    }

    /// UTF-8 the walk must accept: one to four bytes, the bounds of each length and of
    /// the surrogate gap, a byte-order mark's character inside a string.
    const VALID_UTF8: &[&[u8]] = &[
        b"\xc2\x80",
        b"\xc3\xa9",
        b"\xdf\xbf",
        b"\xe0\xa0\x80",
        b"\xe2\x82\xac",
        b"\xed\x9f\xbf",
        b"\xee\x80\x80",
        b"\xef\xbb\xbf",
        b"\xef\xbf\xbf",
        b"\xf0\x90\x80\x80",
        b"\xf0\x9d\x84\x9e",
        b"\xf4\x8f\xbf\xbf",
    ];

    /// Bytes that are not UTF-8: lone continuation bytes, overlong forms, surrogates,
    /// code points past U+10FFFF, bytes no UTF-8 holds (0xF5–0xFF, 0xC0, 0xC1),
    /// sequences cut short (by ASCII, by another lead byte, or by the end of the line).
    const INVALID_UTF8: &[&[u8]] = &[
        b"\x80",
        b"\xbf",
        b"\xc0\x80",
        b"\xc1\xbf",
        b"\xe0\x80\x80",
        b"\xe0\x9f\xbf",
        b"\xf0\x80\x80\x80",
        b"\xf0\x8f\xbf\xbf",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf5\x80\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xfe",
        b"\xff",
        b"\xc3",
        b"\xe2\x82",
        b"\xf0\x9f\x98",
        b"\xc3\xc3\xa9",
        b"\xe2\x28\xa1",
        b"\xc3\xa9\x80",
    ];

    /// How many places [`utf8_line`] fills.
    const SLOTS: usize = 15;

    /// A Defend-like line with `slots` spliced in: a key, a skipped string, a category
    /// and a type value, `host.id`, `host.os.type`, `process.executable`, a kept keyword
    /// of the process (`code_signature.subject_name`), `file.path`, `file.extension`,
    /// the end of `@timestamp`, the top-level `id`, the key and value of a skipped
    /// object, and the space between two members (outside any string).
    fn utf8_line(bom: bool, slots: &[Vec<u8>]) -> Vec<u8> {
        let parts: [&[u8]; SLOTS] = [
            b"{\"k",
            b"\":1,\"message\":\"",
            b"\",\"event\":{\"category\":[\"",
            b"\",\"process\"],\"type\":[\"start\",\"",
            b"\"]},\"host\":{\"id\":\"",
            b"\",\"os\":{\"type\":\"",
            b"\"}},\"process\":{\"executable\":\"C:\\\\",
            b"\",\"code_signature\":{\"subject_name\":\"",
            b"\"},\"pid\":4},\"file\":{\"path\":\"D:\\\\",
            b"\",\"extension\":\"",
            b"\"},\"@timestamp\":\"2024-01-03T14:00:00.5Z",
            b"\",\"id\":\"",
            b"\",\"data\":{\"",
            b"\":[\"",
            b"\",1]},",
        ];
        let mut line = Vec::new();
        if bom {
            line.extend_from_slice(b"\xef\xbb\xbf");
        }
        for (i, part) in parts.iter().enumerate() {
            line.extend_from_slice(part);
            if let Some(slot) = slots.get(i) {
                line.extend_from_slice(slot);
            }
        }
        line.extend_from_slice(b"\"z\":0}");
        line
    }

    /// The walk's own UTF-8 check against the whole-line check it replaced, on one
    /// line: the same answer, the same fields; nothing accepted that is not UTF-8 past
    /// the byte-order mark; and what is accepted is read as the decoder reads it
    /// (claim 1). Returns whether the line was accepted.
    fn utf8_check_agrees(line: &[u8]) -> bool {
        let mut p = Prefilter::new();
        let mut reference = Prefilter::new();
        let new = p.scan_with::<true>(line);
        let old = reference.scan_with::<false>(line);
        assert_eq!(new, old, "{:?}", String::from_utf8_lossy(line));
        let Some(s) = new else {
            return false;
        };
        let body = line.strip_prefix(b"\xef\xbb\xbf").unwrap_or(line);
        assert!(core::str::from_utf8(body).is_ok(), "{line:?}");
        let r = EcsRecord::parse(line).expect("the scanner accepted it");
        assert_same_fields(&s, &r, format!("{line:?}"));
        if let Some(full) = r.process_event(5) {
            assert_eq!(s.process_event(5), full, "{line:?}");
        }
        if let Some(full) = r.file_event(5) {
            assert_eq!(s.file_event(5), full, "{line:?}");
        }
        true
    }

    /// Every valid and every invalid sequence, alone and between ASCII, in every place
    /// of the line, with and without a byte-order mark: valid text is accepted wherever
    /// a string may hold it (and rejected between members, where JSON allows none),
    /// invalid bytes are rejected everywhere; and a line cut inside a sequence.
    #[test]
    fn utf8_is_checked_where_the_walk_meets_it() {
        // The line with every place empty (but the timestamp's, which must stay a date)
        // is accepted: a rejection below comes from the bytes put in.
        let plain: Vec<Vec<u8>> = (0..SLOTS).map(|_| Vec::new()).collect();
        assert!(utf8_check_agrees(&utf8_line(false, &plain)));
        assert!(utf8_check_agrees(&utf8_line(true, &plain)));
        for slot in 0..SLOTS {
            for (valid, seqs) in [(true, VALID_UTF8), (false, INVALID_UTF8)] {
                for seq in seqs {
                    for (before, after) in
                        [(&b""[..], &b""[..]), (b"abcdefghi", b"xy"), (b"a", b"")]
                    {
                        for bom in [false, true] {
                            let mut slots = plain.clone();
                            slots[slot] = [before, seq, after].concat();
                            let line = utf8_line(bom, &slots);
                            // The timestamp's place takes no text (it is a date), and
                            // the place between members takes no string.
                            let expected = valid && slot != 10 && slot != SLOTS - 1;
                            assert_eq!(
                                utf8_check_agrees(&line),
                                expected,
                                "slot {slot}: {:?}",
                                String::from_utf8_lossy(&line)
                            );
                        }
                    }
                }
            }
        }
        // In the line's last bytes (the search's byte loop, past its eight-byte steps):
        // a value and a key at the end.
        for (valid, seqs) in [(true, VALID_UTF8), (false, INVALID_UTF8)] {
            for seq in seqs {
                let head = &b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",\""[..];
                let value = [head, b"a\":\"", seq, b"\"}"].concat();
                let key = [head, seq, b"\":1}"].concat();
                assert_eq!(utf8_check_agrees(&value), valid, "{value:?}");
                assert_eq!(utf8_check_agrees(&key), valid, "{key:?}");
            }
        }
        // Cut inside a sequence at the line's end, or in an unterminated string.
        for seq in VALID_UTF8 {
            for cut in 1..seq.len() {
                let mut line = utf8_line(false, &plain);
                line.truncate(line.len() - 1);
                line.extend_from_slice(&seq[..cut]);
                assert!(!utf8_check_agrees(&line));
                let mut open =
                    Vec::from(&b"{\"@timestamp\":\"2024-01-03T14:00:00Z\",\"a\":\"x"[..]);
                open.extend_from_slice(&seq[..cut]);
                assert!(!utf8_check_agrees(&open));
            }
        }
        // A long run of non-ASCII text, across the search's eight-byte steps, and one
        // with a bad byte at each place of it.
        let run: Vec<u8> = "é€𝄞ü日本語テキスト".repeat(3).into_bytes();
        let mut slots = plain.clone();
        slots[1] = run.clone();
        assert!(utf8_check_agrees(&utf8_line(false, &slots)));
        for at in 0..run.len() {
            let mut bad = run.clone();
            bad[at] = 0xff;
            slots[1] = bad;
            assert!(!utf8_check_agrees(&utf8_line(false, &slots)), "{at}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(10_000))]

        /// The walk's UTF-8 check equals the whole-line check (`utf8_check_agrees`) on
        /// lines with valid non-ASCII text in any place, escapes, and invalid bytes in
        /// one place (or none), sometimes cut short anywhere.
        #[test]
        fn scan_equals_the_whole_line_check(
            bom in proptest::bool::ANY,
            escapes in proptest::bool::weighted(0.125),
            slots in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        3 => proptest::sample::select(VALID_UTF8.to_vec()),
                        2 => proptest::sample::select(alloc::vec![
                            &b"a"[..], b"Zq9", b" ", b"file", b"start", b"01234567",
                        ]),
                        1 => proptest::sample::select(alloc::vec![
                            &b"\\\\"[..], b"\\\"", b"\\/", b"\\n", b"\\t",
                        ]),
                    ],
                    0..4,
                ),
                SLOTS,
            ),
            bad_slot in 0..SLOTS + 4,
            bad in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(INVALID_UTF8.to_vec()),
                    proptest::sample::select(VALID_UTF8.to_vec()),
                ],
                1..4,
            ),
            cut in proptest::option::weighted(0.1, proptest::prelude::any::<proptest::sample::Index>()),
        ) {
            // Escapes only where the walk takes them (skipped strings, the executable and
            // the path), but in one case out of eight: lines are then mostly accepted.
            let mut slots: Vec<Vec<u8>> = slots
                .into_iter()
                .enumerate()
                .map(|(i, pieces)| {
                    pieces
                        .into_iter()
                        .filter(|p| escapes || [1, 6, 8, 13].contains(&i) || !p.starts_with(b"\\"))
                        .collect::<Vec<_>>()
                        .concat()
                })
                .collect();
            // The timestamp's place (a date) and the place between members (no string)
            // take only the bad bytes.
            slots[10].clear();
            slots[SLOTS - 1].clear();
            if let Some(slot) = slots.get_mut(bad_slot) {
                let at = bad.len() % (slot.len() + 1);
                slot.splice(at..at, bad.concat());
            }
            let mut line = utf8_line(bom, &slots);
            if let Some(cut) = cut {
                line.truncate(cut.index(line.len()));
            }
            utf8_check_agrees(&line);
        }
    }

    /// The former `plain_integer` (a check pass, then a checked fold), kept as the
    /// reference the one-pass reading must equal.
    fn plain_integer_checked(token: &[u8], max: usize) -> Option<i128> {
        let (negative, digits) = match token.strip_prefix(b"-") {
            Some(rest) => (true, rest),
            None => (false, token),
        };
        if digits.is_empty() || digits.len() > max || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        // `-0` is an `f64` to `serde_json`: leave it to the decoder.
        if negative && digits == b"0" {
            return None;
        }
        // At most 19 digits (callers pass `max` ≤ 19): below 10^19, within a `u64`.
        let magnitude = i128::from(digits.iter().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?);
        Some(if negative { -magnitude } else { magnitude })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]

        /// `plain_integer` reads what the checked fold read (or refuses what it refused)
        /// on tokens of digits, signs, fractions and other bytes, up to 22 long, with
        /// every `max` callers may pass and those around them.
        #[test]
        fn plain_integer_equals_the_checked_one(
            token in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(b"0123456789".to_vec()),
                    1 => proptest::sample::select(b"-.e+/: a\xff".to_vec()),
                ],
                0..22,
            ),
            max in 0usize..=19,
        ) {
            proptest::prop_assert_eq!(
                plain_integer(&token, max),
                plain_integer_checked(&token, max),
                "{:?} {}", String::from_utf8_lossy(&token), max
            );
        }
    }

    #[test]
    fn plain_integer_at_its_bounds() {
        for (token, max, want) in [
            (
                &b"9999999999999999999"[..],
                19,
                Some(9_999_999_999_999_999_999),
            ),
            (
                b"-9999999999999999999",
                19,
                Some(-9_999_999_999_999_999_999),
            ),
            (b"18446744073709551615", 19, None),
            (b"999999999999999999", 18, Some(999_999_999_999_999_999)),
            (b"9999999999999999999", 18, None),
            (b"-0", 19, None),
            (b"0", 19, Some(0)),
            (b"00", 19, Some(0)),
            (b"", 19, None),
            (b"-", 19, None),
            (b"1.0", 19, None),
        ] {
            assert_eq!(plain_integer(token, max), want, "{token:?}");
            assert_eq!(plain_integer_checked(token, max), want, "{token:?}");
        }
    }

    /// `unescape` with the search for `\\` built once is `unescape` with the portable
    /// search, on every haystack of `byte_search::haystacks`.
    #[test]
    fn unescape_with_either_search() {
        let (fast, portable) = (ByteSearch::<b'\\'>::new(), ByteSearch::<b'\\'>::portable());
        let mut checked = 0;
        for hay in crate::input::byte_search::haystacks(b'\\', b'"') {
            let (mut a, mut b) = (String::new(), String::new());
            assert_eq!(
                unescape(&hay, &mut a, &fast).map(|()| a),
                unescape(&hay, &mut b, &portable).map(|()| b),
                "{hay:?}"
            );
            checked += 1;
        }
        assert!(checked > 40_000);
    }

    /// A line of the shapes the lazy screen distinguishes: a category, a type, and
    /// (each given or not) `host.os.type`, `host.id`, `process.executable` and
    /// `file.path`, from values that are plain, escaped, non-ASCII, of other case, or
    /// no string at all.
    fn lazy_line(picks: &[usize; 6]) -> String {
        const CATEGORIES: &[&str] = &[
            r#""process""#,
            r#""file""#,
            r#"["file","process"]"#,
            r#""network""#,
            r#"["registry"]"#,
            "[]",
            "null",
        ];
        const TYPES: &[&str] = &[
            r#""start""#,
            r#""creation""#,
            r#"["change","info"]"#,
            r#""end""#,
            r#""deletion""#,
            "[]",
        ];
        const OS_TYPES: &[&str] = &[
            "",
            r#""os":{"type":"windows"}"#,
            r#""os":{"type":"Windows"}"#,
            r#""os":{"type":"linux"}"#,
            r#""os":{"type":"macos"}"#,
            r#""os":{"type":"WINDOWS "}"#,
            r#""os":{"type":"windowsx"}"#,
            r#""os":{"type":"wïndows"}"#,
            r#""os":{"type":"win\/dows"}"#,
            r#""os":{"type":null}"#,
            r#""os":{"type":""}"#,
            r#""os.type":"windows""#,
        ];
        const HOST_IDS: &[&str] = &[
            "",
            r#""id":"h1""#,
            r#""id":"hôte-7""#,
            r#""id":null"#,
            r#""id":"a\"b""#,
            r#""id":"日本""#,
        ];
        const EXECUTABLES: &[&str] = &[
            "",
            r#","executable":"C:\\Windows\\x.exe""#,
            r#","executable":"C:/é/x.exe""#,
            r#","executable":null"#,
            r#","executable":"a\u0041""#,
        ];
        const PATHS: &[&str] = &[
            "",
            r#","file":{"path":"C:\\Windows\\PSEXESVC.exe","extension":"exe"}"#,
            r#","file":{"path":"/tmp/ü","extension":"sh"}"#,
            r#","file":{"path":null}"#,
        ];
        let pick = |list: &[&'static str], i: usize| list[i % list.len()];
        let host: Vec<&str> = [pick(HOST_IDS, picks[3]), pick(OS_TYPES, picks[2])]
            .into_iter()
            .filter(|member| !member.is_empty())
            .collect();
        format!(
            r#"{{"@timestamp":"2024-01-03T14:00:00.5Z","event":{{"category":{},"type":{}}},"host":{{{}}},"process":{{"pid":4{}}}{}}}"#,
            pick(CATEGORIES, picks[0]),
            pick(TYPES, picks[1]),
            host.join(","),
            pick(EXECUTABLES, picks[4]),
            pick(PATHS, picks[5]),
        )
    }

    /// Every decision path of [`Scanned`] on `line` against the eager one it replaced
    /// ([`Screened::screen`] of [`Prefilter::scan`]): the prefilter's `screen` (the
    /// walk, then `Scanned::screen`), and a screener's screening (`Scanned::decide`,
    /// then the event's text and byte ranges), rebuilt from the line and as the event
    /// it copied; both rules.
    fn lazy_screen_agrees(line: &[u8]) -> Screen<'static> {
        let mut first = None;
        use crate::input::{Decoded, EcsPipeline, Prefiltering};
        use crate::{Config, Detector};
        for rule in [Rule::elasticsearch(), Rule::hardened()] {
            let mut p = Prefilter::new().with_validation(true);
            let eager = match p.scan(line) {
                Some(s) => {
                    // The fields (`host.os.type` from a constant, too) are the decoder's.
                    let r = EcsRecord::parse(line).expect("the scanner accepted it");
                    assert_same_fields(&s, &r, String::from_utf8_lossy(line));
                    s.screen(&rule, 7)
                }
                None => Screen::Decode,
            };
            let mut lazy = Prefilter::new().with_validation(true);
            assert_eq!(
                lazy.screen(line, &rule, 7),
                eager,
                "{}",
                String::from_utf8_lossy(line)
            );
            let detector = Detector::new(alloc::sync::Arc::new(rule), Config::default()).unwrap();
            let pipeline = EcsPipeline::new(detector, Prefiltering::Validating);
            let mut screener = pipeline.screener();
            let mut decoded = Decoded::new();
            let screening = screener.screen_and_decode(line, &mut decoded);
            let mut again = Prefilter::new();
            let rebuilt = screening.rebuild(line, 7, &mut again);
            assert_eq!(rebuilt, Some(eager), "{}", String::from_utf8_lossy(line));
            let copied = match (decoded.screened_len, decoded.events.as_slice()) {
                (Some(_), [event]) => Some(event.event_at(7)),
                _ => None,
            };
            let handed = match eager {
                Screen::Execution(e) => Some(crate::Event::Process(e)),
                Screen::Write(e) => Some(crate::Event::File(e)),
                _ => None,
            };
            assert_eq!(copied, handed, "{}", String::from_utf8_lossy(line));
            first.get_or_insert(match eager {
                Screen::Execution(_) => Screen::Execution(ProcessEvent::default()),
                Screen::Write(_) => Screen::Write(FileEvent::default()),
                Screen::Skip { events } => Screen::Skip { events },
                Screen::Decode => Screen::Decode,
            });
        }
        first.unwrap_or(Screen::Decode)
    }

    /// The walk keeps its fields in the caller's `Raw`: one that held another line's
    /// fields (a field seen, which a second sighting gives up on) reads the next line
    /// exactly as a fresh one does.
    #[test]
    fn walk_resets_the_callers_fields() {
        let lines: Vec<String> = (0..7 * 6 * 12 * 6)
            .step_by(37)
            .map(|n| lazy_line(&[n % 7, n / 7 % 6, n / 42 % 12, n / 504 % 6, n % 5, n % 4]))
            .collect();
        let mut accepted = 0;
        for (first, second) in lines.iter().zip(lines.iter().rev()) {
            // One `Raw` for both lines (it borrows from both, as do the prefilters).
            let mut raw = Raw::default();
            let mut prefilters = [Prefilter::new(), Prefilter::new(), Prefilter::new()];
            let [p1, p2, p3] = &mut prefilters;
            let _ = p1.walk::<true>(first.as_bytes(), &mut raw);
            let again = p2
                .walk::<true>(second.as_bytes(), &mut raw)
                .and_then(Scanned::into_screened);
            let fresh = p3.scan(second.as_bytes());
            accepted += usize::from(fresh.is_some());
            assert_eq!(again, fresh, "{first} then {second}");
        }
        assert!(accepted > lines.len() / 4, "{accepted} of {}", lines.len());
    }

    #[test]
    fn lazy_screen_equals_the_screened_one_on_every_shape() {
        // Every combination.
        let mut picks = [0usize; 6];
        let mut kinds = [0u32; 6];
        for n in 0..7 * 6 * 12 * 6 * 5 * 4 {
            let mut m = n;
            for (i, radix) in [7, 6, 12, 6, 5, 4].into_iter().enumerate() {
                picks[i] = m % radix;
                m /= radix;
            }
            kinds[match lazy_screen_agrees(lazy_line(&picks).as_bytes()) {
                Screen::Execution(_) => 0,
                Screen::Write(_) => 1,
                Screen::Skip { events: 0 } => 2,
                Screen::Skip { .. } => 3,
                _ => 4,
            }] += 1;
        }
        // Every decision is made, on many lines each (the elasticsearch rule's).
        assert!(kinds[..5].iter().all(|&k| k >= 50), "{kinds:?}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2_000))]

        /// `lazy_screen_agrees` on the lines of `lazy_line`, with invalid UTF-8 or a
        /// cut at one place (or none).
        #[test]
        fn lazy_screen_equals_the_screened_one(
            picks in proptest::array::uniform6(0usize..64),
            bad in proptest::option::of(proptest::sample::select(INVALID_UTF8.to_vec())),
            at in proptest::prelude::any::<proptest::sample::Index>(),
            cut in proptest::bool::weighted(0.1),
        ) {
            let mut line = lazy_line(&picks).into_bytes();
            let at = at.index(line.len());
            if cut {
                line.truncate(at);
            } else if let Some(bad) = bad {
                line.splice(at..at, bad.iter().copied());
            }
            lazy_screen_agrees(&line);
        }
    }
}
