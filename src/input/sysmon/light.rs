//! The light pass's byte walk: the event id of a Sysmon record, read without
//! serde_json where that is certain to give what serde_json's fast pass gives.
//!
//! [`event_id`] walks the JSON text once, routes every key through the decoder's own
//! tree ([`route`]) and checks every value as the decoder's fast pass would read it,
//! keeping only the event id. It is a subset of that pass: whatever it is not sure
//! of (a `\u` escape of a surrogate, a number with a fraction or an exponent where the fast pass
//! reads it as a number, an integer beyond 18 digits, an event id that is not a plain
//! string or integer, deep nesting, anything that is not JSON) gives up (`None`), and
//! the caller runs the serde_json pass. So when it answers, the fast pass would have
//! succeeded (the same text is valid JSON to it), collected the same event id (the
//! same routing, the last value wins), and found no JSON float in a leaf (which would
//! make the full decode's slow pass).
//!
//! It walks bytes, not text, and checks UTF-8 itself, so that a record it answers for
//! needs no `from_utf8` of the whole line (about 5 % of a Sysmon line's work): every
//! byte outside a string is a JSON token byte (ASCII) or the walk gives up, and every
//! non-ASCII run inside a string is checked by [`utf8_run`] (whose docs say why runs
//! checked one by one make a UTF-8 line). An answer therefore also says the line is
//! UTF-8.

use super::{Builder, Field, Node, ROOT, Raw, Route, route};
use crate::input::cursor::Cursor;
use alloc::borrow::Cow;

/// Nesting the walk follows before it gives up (serde_json's `deserialize_any` allows
/// 127 levels; its `IgnoredAny` has no limit).
const MAX_DEPTH: u32 = 64;

/// The event id `text` (one JSON document, its byte-order mark removed) would give the
/// decoder's fast pass, if the walk is sure of it: `Some(Ok(id))`, or `Some(Err(()))`
/// for a document that is certainly valid (UTF-8 included) but whose event id is
/// missing or not a number (the caller then decodes it in full); `None` when unsure,
/// and for any text that is not UTF-8.
pub(super) fn event_id(text: &[u8]) -> Option<Result<u32, ()>> {
    let mut walk = Walk {
        cursor: Cursor::new(text),
        depth: 0,
        event_id: None,
    };
    walk.ws();
    walk.object(ROOT)?;
    walk.ws();
    if walk.i != walk.b.len() {
        return None;
    }
    let mut builder = Builder::default();
    if let Some(slot) = builder.slots.get_mut(Field::EventId.index()) {
        *slot = walk.event_id.map(|raw| (raw, "EventID"));
    }
    Some(builder.event_id().map_err(drop))
}

struct Walk<'a> {
    /// The text's bytes and the position in them (`self.b`, `self.i`, `self.peek()`…
    /// through `Deref`).
    cursor: Cursor<'a>,
    depth: u32,
    /// The last event id value met (`None` after a `null` one, as the fast pass's slot).
    event_id: Option<Raw<'a>>,
}

impl<'a> core::ops::Deref for Walk<'a> {
    type Target = Cursor<'a>;

    #[inline(always)]
    fn deref(&self) -> &Cursor<'a> {
        &self.cursor
    }
}

impl core::ops::DerefMut for Walk<'_> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.cursor
    }
}

impl<'a> Walk<'a> {
    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// A string at the cursor, checked as both of serde_json's string readers check
    /// it (no control byte; the simple escapes, and `\u` escapes of characters that
    /// are not surrogates; UTF-8); a surrogate escape gives up. Its raw text and whether
    /// it held escapes.
    #[inline(always)]
    fn string(&mut self) -> Option<(&'a [u8], bool)> {
        self.cursor.string::<true, true>()
    }

    /// A number token that serde_json reads as a 64-bit integer whichever way it reads
    /// it: no fraction, no exponent, no `-0`, at most 18 digits. Its text.
    #[inline(always)]
    fn integer(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let digits = self.i;
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        let len = self.i - digits;
        let zero = self.b.get(digits) == Some(&b'0');
        if matches!(self.peek(), Some(b'.' | b'e' | b'E' | b'0'..=b'9'))
            || len > 18
            || (negative && zero)
        {
            return None;
        }
        self.b.get(start..self.i)
    }

    /// Members of an object until its `}` (the `{` eaten, whitespace skipped), each
    /// key given to `member` with the cursor on its value.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.enter()?;
        if self.peek()? == b'}' {
            self.i += 1;
        } else {
            loop {
                let (key, escaped) = self.string()?;
                if escaped {
                    return None;
                }
                self.colon()?;
                member(self, key)?;
                if self.next_or_close(b'}')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Elements of an array until its `]` (the `[` eaten, whitespace skipped), the
    /// first one's index 0.
    fn elements(&mut self, mut element: impl FnMut(&mut Self, usize) -> Option<()>) -> Option<()> {
        self.enter()?;
        if self.peek()? == b']' {
            self.i += 1;
        } else {
            let mut n = 0;
            loop {
                element(self, n)?;
                n += 1;
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An object of the decoder's tree (the decoder's `BranchSeed::visit_map`).
    fn object(&mut self, nodes: &'static [Node]) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        self.members(|w, key| match route(nodes, key) {
            Route::Unknown => w.skip(),
            Route::Branch(children) => w.branch(children),
            Route::Leaf(Field::EventId, _) => w.event_id_value(),
            Route::Leaf(..) => w.leaf(),
        })
    }

    /// A branch's value that is not the document itself (`BranchSeed`, not at the
    /// root): an object of the tree; an array, whose objects merge into the branch; any
    /// other value, read as the fast pass reads it and holding nothing.
    fn branch(&mut self, nodes: &'static [Node]) -> Option<()> {
        match self.peek()? {
            b'{' => self.object(nodes),
            b'[' => {
                self.i += 1;
                self.ws();
                self.elements(|w, _| w.branch(nodes))
            }
            _ => self.scalar().map(drop),
        }
    }

    /// A scalar read as a value (serde's `deserialize_any`): a string (no surrogate
    /// escape), an integer as [`integer`](Self::integer), `true`, `false` or `null`.
    /// Whether it was `null`.
    #[inline(always)]
    fn scalar(&mut self) -> Option<bool> {
        match self.peek()? {
            b'"' => self.string().map(|_| false),
            b't' => self.literal(b"true").map(|()| false),
            b'f' => self.literal(b"false").map(|()| false),
            b'n' => self.literal(b"null").map(|()| true),
            _ => self.integer().map(|_| false),
        }
    }

    /// A leaf's value other than the event id's (the decoder's `LeafSeed`): a scalar;
    /// an array, its first element a leaf's value and the rest skipped; an object, its
    /// `#text` member a leaf's value and the rest skipped.
    fn leaf(&mut self) -> Option<()> {
        match self.peek()? {
            b'[' => {
                self.i += 1;
                self.ws();
                self.elements(|w, n| if n == 0 { w.leaf() } else { w.skip() })
            }
            b'{' => {
                self.i += 1;
                self.ws();
                self.members(|w, key| if key == b"#text" { w.leaf() } else { w.skip() })
            }
            _ => self.scalar().map(drop),
        }
    }

    /// The event id's value: a string without escapes or an integer (then kept), or
    /// `null` (then no event id, as the fast pass's slot); anything else gives up.
    fn event_id_value(&mut self) -> Option<()> {
        self.event_id = match self.peek()? {
            b'"' => match self.string()? {
                // The text is UTF-8 and the quotes ASCII: this never fails.
                (text, false) => Some(Raw::Str(Cow::Borrowed(core::str::from_utf8(text).ok()?))),
                (_, true) => return None,
            },
            b'n' => {
                self.literal(b"null")?;
                None
            }
            b'-' | b'0'..=b'9' => Some(Raw::Int(
                core::str::from_utf8(self.integer()?).ok()?.parse().ok()?,
            )),
            _ => return None,
        };
        Some(())
    }

    /// Any value, checked and skipped as serde's `IgnoredAny` checks it (numbers by
    /// their grammar alone, whatever their size).
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'{' => {
                self.i += 1;
                self.ws();
                self.members(|w, _| w.skip())
            }
            b'[' => {
                self.i += 1;
                self.ws();
                self.elements(|w, _| w.skip())
            }
            b'-' | b'0'..=b'9' => self.number_grammar(),
            _ => self.scalar().map(drop),
        }
    }

    /// A number token by JSON's grammar (serde_json's `ignore_integer`, `ignore_decimal`
    /// and `ignore_exponent`): an optional `-`, `0` or a digit run not starting with `0`,
    /// an optional fraction, an optional exponent.
    fn number_grammar(&mut self) -> Option<()> {
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
            self.peek()?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.peek()?.is_ascii_digit().then_some(())?;
            self.digits();
        }
        // A digit right after the token (`01`) is not JSON.
        (!self.peek().is_some_and(|c| c.is_ascii_digit())).then_some(())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::super::fast_pass_event_id;
    use super::event_id;
    use alloc::format;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;
    use std::io::Read;

    /// Every line of the Sysmon recordings and true positives in the fixtures.
    fn fixture_lines() -> Vec<String> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sysmon");
        let mut lines = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains(".ndjson"))
            .collect();
        paths.sort();
        for path in paths {
            let raw = std::fs::read(&path).unwrap();
            let mut text = String::new();
            if path.extension().is_some_and(|e| e == "gz") {
                flate2::read::GzDecoder::new(&raw[..])
                    .read_to_string(&mut text)
                    .unwrap();
            } else {
                text = String::from_utf8(raw).unwrap();
            }
            lines.extend(text.lines().map(str::to_string));
        }
        lines
    }

    /// The walk answers only what the fast pass answers, and on real recordings it
    /// answers for every line (none holds a `\u` escape or a float where one is read).
    #[test]
    fn walk_agrees_with_the_fast_pass_on_the_recordings() {
        let lines = fixture_lines();
        assert!(lines.len() > 650, "{}", lines.len());
        let mut answered = 0;
        for line in &lines {
            if let Some(walked) = event_id(line.as_bytes()) {
                answered += 1;
                assert_eq!(Some(walked), fast_pass_event_id(line), "{line}");
            }
        }
        for line in lines.iter().filter(|l| event_id(l.as_bytes()).is_none()) {
            std::eprintln!("unanswered: {line}");
        }
        assert_eq!(answered, lines.len());
    }

    /// Pieces of documents where the walk could go wrong: every shape's keys, the
    /// event id in every form, values the fast pass reads as numbers or skips, escapes,
    /// nesting, broken JSON.
    const PIECES: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"",
        "\"EventID\"",
        "\"event_id\"",
        "\"winlog\"",
        "\"winlog.event_id\"",
        "\"Event\"",
        "\"System\"",
        "\"Event.System.EventID\"",
        "\"_source\"",
        "\"EventData\"",
        "\"Data\"",
        "\"Image\"",
        "\"ProcessId\"",
        "\"#text\"",
        "\"#attributes\"",
        "\"host\"",
        "\"x\"",
        "13",
        "1",
        "11",
        "-0",
        "-13",
        "0",
        "01",
        "1.5",
        "1e400",
        "-1e400",
        "1E2",
        "18446744073709551616",
        "123456789012345678",
        "1234567890123456789",
        "\"13\"",
        "\" 13 \"",
        "\"\"",
        "\"a\\\"b\"",
        "\"C:\\\\x.exe\"",
        "\"\\u0031\"",
        "\"\\ud800\"",
        "\"\\x\"",
        "\"a\u{1}b\"",
        "\"é\"",
        "true",
        "false",
        "null",
        "tru",
        "-",
        ".5",
        "1.",
        "1e",
    ];

    const KEYS: &[&str] = &[
        "\"EventID\"",
        "\"EventID\"",
        "\"EventID\"",
        "\"event_id\"",
        "\"winlog\"",
        "\"winlog.event_id\"",
        "\"Event\"",
        "\"System\"",
        "\"Event.System.EventID\"",
        "\"_source\"",
        "\"EventData\"",
        "\"Image\"",
        "\"ProcessId\"",
        "\"UtcTime\"",
        "\"host\"",
        "\"Keywords\"",
        "\"x\"",
        "\"#text\"",
    ];

    /// JSON values (all valid), read or skipped differently by the fast pass.
    const VALUES: &[&str] = &[
        "13",
        "13",
        "7",
        "1",
        "11",
        "0",
        "-13",
        "-0",
        "1.5",
        "1e400",
        "-1e400",
        "1E2",
        "0.0",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "123456789012345678",
        "1234567890123456789",
        "\"13\"",
        "\"13\"",
        "\" 13 \"",
        "\"+13\"",
        "\"\"",
        "\"a\\\"b\"",
        "\"C:\\\\x.exe\"",
        "\"\\u0031\\u0033\"",
        "\"\\u003c\"",
        "\"\\ud800\"",
        "\"\\ud83d\\ude00\"",
        "\"é\"",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "[13]",
        "[1e400]",
        "{\"#text\":13}",
        "{\"a\":[1,{\"b\":1e400}]}",
    ];

    /// JSON values the walk reads where the fast pass reads a value.
    const READABLE: &[&str] = &[
        "13",
        "7",
        "1",
        "11",
        "0",
        "-13",
        "123456789012345678",
        "\"13\"",
        "\" 13 \"",
        "\"+13\"",
        "\"\"",
        "\"a\\\"b\"",
        "\"C:\\\\x.exe\"",
        "\"\\u003c\"",
        "\"é\"",
        "true",
        "false",
        "null",
        "[]",
        "{}",
        "[13]",
        "[13,1e400]",
        "{\"#text\":13,\"x\":1e400}",
    ];

    /// Hand-written edges of serde_json's grammar and of the decoder's routing.
    const EDGES: &[&str] = &[
        "{\"EventID\":13}",
        " \t\r\n{\"EventID\":13} \t\r\n",
        "\u{feff}{\"EventID\":13}",
        "{\"EventID\":13}\u{c}",
        "\u{c}{\"EventID\":13}",
        "{\"EventID\":13}x",
        "{\"EventID\":13}{}",
        "{\"EventID\":13,}",
        "{\"EventID\":13,\"x\":[1,]}",
        "{\"EventID\":13,\"x\":{\"a\":1,}}",
        "{\"EventID\":13,\"x\":[,1]}",
        "{\"EventID\":13,\"x\":{]}",
        "{\"EventID\":13,\"x\":[}",
        "{ }",
        "{\"EventID\" : 13 , \"x\" : [ ] , \"y\" : { } }",
        "{\"EventID\":-0}",
        "{\"EventID\":0}",
        "{\"EventID\":00}",
        "{\"EventID\":-}",
        "{\"EventID\":+13}",
        "{\"EventID\":013}",
        "{\"EventID\":13.0}",
        "{\"EventID\":1.3e1}",
        "{\"EventID\":-13}",
        "{\"EventID\":999999999999999999}",
        "{\"EventID\":-999999999999999999}",
        "{\"EventID\":4294967295}",
        "{\"EventID\":4294967296}",
        "{\"EventID\":\"4294967296\"}",
        "{\"EventID\":\" 13\\t\"}",
        "{\"EventID\":\"\\u0031\\u0033\"}",
        "{\"EventID\":\"1\\u00333\"}",
        "{\"EventID\":\"\"}",
        "{\"EventID\":\"  \"}",
        "{\"EventID\":\"\u{a0}13\u{3000}\"}",
        "{\"EventID\":\"٣\"}",
        "{\"EventID\":\"+13\"}",
        "{\"EventID\":\"-0\"}",
        "{\"EventID\":\"013\"}",
        "{\"EventID\":\"13\u{7f}\"}",
        "{\"EventID\":\"13\u{1f}\"}",
        "{\"EventID\":true}",
        "{\"EventID\":nul}",
        "{\"EventID\":nulll}",
        "{\"EventID\":null}",
        "{\"EventID\":13,\"EventID\":null}",
        "{\"EventID\":null,\"EventID\":13}",
        "{\"EventID\":13,\"EventID\":\"1\"}",
        "{\"EventID\":[13]}",
        "{\"EventID\":{\"#text\":13}}",
        "{\"\\u0045ventID\":13}",
        "{\"EventID\":13,\"\\u0045ventID\":1}",
        "{\"EventID\":13,\"x\":\"\\ud800\"}",
        "{\"EventID\":13,\"x\":\"\\udc00\"}",
        "{\"EventID\":13,\"x\":\"\\ud83d\\ude00\"}",
        "{\"EventID\":13,\"x\":\"\\uD7FF\\uE000\\uFFFF\\u0000\"}",
        "{\"EventID\":13,\"x\":\"\\uABCG\"}",
        "{\"EventID\":13,\"x\":\"\\u12\"}",
        "{\"EventID\":13,\"x\":\"\\U0041\"}",
        "{\"EventID\":13,\"x\":\"\\a\"}",
        "{\"EventID\":13,\"x\":\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"}",
        "{\"EventID\":13,\"x\":\"\u{7f}\u{80}\u{10ffff}\"}",
        "{\"EventID\":13,\"x\":\"\t\"}",
        "{\"EventID\":13,\"x\u{0}\":1}",
        "{\"EventID\":13,\"x\":1e400,\"y\":-1E-400,\"z\":123456789012345678901234567890}",
        "{\"EventID\":13,\"x\":1.}",
        "{\"EventID\":13,\"x\":.5}",
        "{\"EventID\":13,\"x\":1e}",
        "{\"EventID\":13,\"x\":1e+}",
        "{\"EventID\":13,\"x\":01}",
        "{\"EventID\":13,\"x\":-01}",
        "{\"EventID\":13,\"x\":0.5e5e5}",
        "{\"EventID\":13,\"x\":1-2}",
        "{\"EventID\":13,\"x\":-}",
        "{\"EventID\":13,\"x\":tru}",
        "{\"EventID\":13,\"x\":True}",
        "{\"EventID\":13,\"Image\":-0}",
        "{\"EventID\":13,\"Image\":1e5}",
        "{\"EventID\":13,\"Image\":18446744073709551615}",
        "{\"EventID\":13,\"Image\":18446744073709551616}",
        "{\"EventID\":13,\"Image\":-9223372036854775808}",
        "{\"EventID\":13,\"Image\":-9223372036854775809}",
        "{\"EventID\":13,\"Image\":[1.5]}",
        "{\"EventID\":13,\"Image\":[[1.5]]}",
        "{\"EventID\":13,\"Image\":[1,1.5]}",
        "{\"EventID\":13,\"Image\":[1.5,1]}",
        "{\"EventID\":13,\"Image\":{\"#text\":1.5}}",
        "{\"EventID\":13,\"Image\":{\"#text\":1,\"#text\":2.5}}",
        "{\"EventID\":13,\"Image\":{\"x\":2.5,\"#text\":1}}",
        "{\"EventID\":13,\"Image\":{\"\\u0023text\":2.5}}",
        "{\"EventID\":13,\"host\":1.5}",
        "{\"EventID\":13,\"host\":\"\\u00e9\"}",
        "{\"EventID\":13,\"host\":[[[\"a\"]],1,null,true]}",
        "{\"EventID\":13,\"host\":{\"name\":1.5}}",
        "{\"_source\":{\"winlog\":{\"event_id\":13}}}",
        "{\"_source\":[{\"EventID\":13},{\"EventID\":1}]}",
        "{\"_source\":\"x\",\"EventID\":13}",
        "{\"_source\":null,\"EventID\":13}",
        "{\"_source.winlog.event_id\":13}",
        "{\"winlog.event_id\":13}",
        "{\"winlog\":{\"event_id\":13},\"winlog.event_id\":\"1\"}",
        "{\"winlog\":[[{\"event_id\":13}]]}",
        "{\"winlog\":13,\"EventID\":5}",
        "{\"Event\":{\"System\":{\"EventID\":13}}}",
        "{\"Event\":{\"System\":[{\"EventID\":13},{\"EventID\":null}]}}",
        "{\"Event.System.EventID\":13}",
        "{\"Event.System\":{\"EventID\":13}}",
        "{\"EventID.x\":13}",
        "{\".EventID\":13}",
        "{\"EventID.\":13}",
        "{\"\":13,\"EventID\":5}",
        "{\"Image\":{\"EventID\":1},\"EventID\":5}",
        "{\"x\":{\"EventID\":1},\"EventID\":5}",
        "[{\"EventID\":13}]",
        "\"EventID\"",
        "13",
        "null",
        "",
    ];

    /// A small deterministic generator (xorshift) for the differential test.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'s>(&mut self, from: &[&'s str]) -> &'s str {
            from[self.below(from.len())]
        }

        fn ws(&mut self, out: &mut String) {
            if self.below(4) == 0 {
                out.push_str(self.pick(&[" ", "\t", "\n", "\r", "  ", "\u{c}", "\u{b}"]));
            }
        }

        fn value(&mut self, depth: u32, out: &mut String) {
            self.ws(out);
            match self.below(if depth > 4 { 6 } else { 9 }) {
                0 | 1 => out.push_str(self.pick(&[
                    "0",
                    "-0",
                    "13",
                    "-13",
                    "7",
                    "1",
                    "01",
                    "-",
                    "1.5",
                    "1e400",
                    "-1E-2",
                    "0.0",
                    "999999999999999999",
                    "-999999999999999999",
                    "1234567890123456789",
                    "-1234567890123456789",
                    "18446744073709551616",
                    "-9223372036854775809",
                    "4294967295",
                    "4294967296",
                    "1.",
                    "1e",
                    "+1",
                    ".5",
                ])),
                2 | 3 => out.push_str(self.pick(&[
                    "\"13\"",
                    "\" 13 \"",
                    "\"\"",
                    "\"x\"",
                    "\"\\u0031\\u0033\"",
                    "\"\\u00e9\"",
                    "\"\\uD800\"",
                    "\"\\udc00x\"",
                    "\"\\ud83d\\ude00\"",
                    "\"\\/\\b\\f\"",
                    "\"\\x\"",
                    "\"a\u{1}\"",
                    "\"\u{7f}é\"",
                    "\"C:\\\\a.exe\"",
                    "\"\\\"\"",
                    "\"\\uFFFF\"",
                    "\"\\u00G0\"",
                    "\"unterminated",
                ])),
                4 => out.push_str(self.pick(&["true", "false", "null", "nul", "tru", "nulls"])),
                5 => out.push_str(self.pick(&["[]", "{}", "[ ]", "{ }", "[,]", "{,}"])),
                6 | 7 => {
                    out.push('{');
                    let n = self.below(4);
                    for k in 0..n {
                        if k > 0 {
                            out.push(',');
                        }
                        self.ws(out);
                        out.push_str(self.pick(&[
                            "\"EventID\"",
                            "\"EventID\"",
                            "\"event_id\"",
                            "\"winlog\"",
                            "\"winlog.event_id\"",
                            "\"Event\"",
                            "\"System\"",
                            "\"_source\"",
                            "\"Event.System.EventID\"",
                            "\"EventData\"",
                            "\"Image\"",
                            "\"ProcessId\"",
                            "\"#text\"",
                            "\"host\"",
                            "\"x\"",
                            "\"\"",
                            "\"\\u0045ventID\"",
                            "\"Event\\/x\"",
                            "\"_source.EventID\"",
                        ]));
                        self.ws(out);
                        out.push(':');
                        self.value(depth + 1, out);
                    }
                    if n > 0 && self.below(16) == 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    out.push('}');
                }
                _ => {
                    out.push('[');
                    let n = self.below(4);
                    for k in 0..n {
                        if k > 0 {
                            out.push(',');
                        }
                        self.value(depth + 1, out);
                    }
                    if n > 0 && self.below(16) == 0 {
                        out.push(',');
                    }
                    self.ws(out);
                    out.push(']');
                }
            }
            self.ws(out);
        }

        /// A document: an object of generated members, mutated now and then.
        fn document(&mut self) -> String {
            let mut out = String::new();
            self.ws(&mut out);
            out.push('{');
            let n = self.below(5);
            for k in 0..n {
                if k > 0 {
                    out.push(',');
                }
                let key = self.pick(&[
                    "\"EventID\"",
                    "\"winlog\"",
                    "\"Event\"",
                    "\"System\"",
                    "\"_source\"",
                    "\"Image\"",
                    "\"x\"",
                    "\"host\"",
                    "\"winlog.event_id\"",
                    "\"event_id\"",
                ]);
                out.push_str(key);
                out.push(':');
                self.value(0, &mut out);
            }
            out.push('}');
            self.ws(&mut out);
            if self.below(2) == 0 {
                let mut chars: Vec<char> = out.chars().collect();
                for _ in 0..=self.below(3) {
                    let at = self.below(chars.len() + 1);
                    match self.below(3) {
                        0 if at < chars.len() => {
                            chars.remove(at);
                        }
                        1 if at < chars.len() => chars.insert(at, chars[at]),
                        _ => {
                            let c = self.pick(&[
                                ",", "]", "}", "{", "[", "\"", "\\", "-", "0", "9", "e", ".", " ",
                                "\u{7f}", "\u{1}", "é", "\u{feff}", "n", ":", "u",
                            ]);
                            chars.insert(at, c.chars().next().unwrap());
                        }
                    }
                }
                out = chars.into_iter().collect();
            }
            out
        }
    }

    /// The walk against the fast pass on hand-written edges and on generated documents,
    /// most of them valid JSON, many mutated; it must answer on a good share of them.
    #[test]
    fn walk_agrees_on_edges_and_generated_documents() {
        for text in EDGES {
            if let Some(walked) = event_id(text.as_bytes()) {
                assert_eq!(Some(walked), fast_pass_event_id(text), "{text:?}");
            }
        }
        // Nesting at and past the walk's limit, and long strings (the eight-byte steps of
        // the string search) with a control byte, an escape or a quote at every place.
        let mut built = Vec::new();
        for depth in [62, 63, 64, 65, 126, 127, 128] {
            let (open, close) = ("[".repeat(depth), "]".repeat(depth));
            built.push(format!("{{\"x\":{open}{close},\"EventID\":13}}"));
            built.push(format!("{{\"Image\":{open}1{close},\"EventID\":13}}"));
            built.push(format!("{{\"host\":{open}{{}}{close},\"EventID\":13}}"));
        }
        for at in 0..24 {
            for special in ["\u{1}", "\u{1f}", "\\\\", "\\u0041", "\\\"", "\u{7f}", "é"] {
                let mut s = "abcdefghijklmnopqrstuvwx".to_string();
                s.insert_str(at, special);
                built.push(format!("{{\"x\":\"{s}\",\"EventID\":\"{s}\"}}"));
                built.push(format!("{{\"{s}\":1,\"EventID\":\"13{s}\"}}"));
            }
        }
        for text in &built {
            if let Some(walked) = event_id(text.as_bytes()) {
                assert_eq!(Some(walked), fast_pass_event_id(text), "{text:?}");
            }
        }
        let mut g = Gen(0x9E37_79B9_7F4A_7C15);
        let (mut answered, mut valid) = (0, 0);
        for _ in 0..20_000 {
            let text = g.document();
            let fast = fast_pass_event_id(&text);
            valid += usize::from(fast.is_some());
            if let Some(walked) = event_id(text.as_bytes()) {
                answered += 1;
                assert_eq!(Some(walked), fast, "{text:?}");
            }
        }
        assert!(
            answered > 2_000 && valid > answered,
            "{answered} of {valid}"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 20_000,
            failure_persistence: None,
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Raw concatenations of pieces, most of them not JSON.
        #[test]
        fn walk_answers_only_what_the_fast_pass_answers(
            parts in proptest::collection::vec(proptest::sample::select(PIECES), 0..24)
        ) {
            let text = parts.concat();
            if let Some(walked) = event_id(text.as_bytes()) {
                proptest::prop_assert_eq!(Some(walked), fast_pass_event_id(&text), "{}", text);
            }
        }

        /// Well-formed documents of keys the decoder routes (and others), each value a
        /// JSON value the fast pass reads or skips in its own way, nested in a branch,
        /// an array or a `#text` object now and then.
        #[test]
        fn walk_agrees_on_documents(
            members in proptest::collection::vec(
                (
                    proptest::sample::select(KEYS),
                    proptest::sample::select(VALUES),
                    proptest::sample::select(READABLE),
                    0u8..5,
                ),
                0..8,
            )
        ) {
            let body: Vec<String> = members
                .iter()
                // A key the decoder skips takes any value; the others mostly one the
                // walk reads (so that it answers often), now and then any.
                .map(|&(key, any, readable, wrap)| {
                    let skipped = key == "\"x\"" || key == "\"Keywords\"";
                    (key, if skipped || wrap == 1 { any } else { readable }, wrap)
                })
                .map(|(key, value, wrap)| match wrap {
                    0 | 1 => format!("{key}:{value}"),
                    2 => format!("{key}:[{value},{value}]"),
                    3 => format!("{key}:{{\"EventID\":{value},\"Image\":{value}}}"),
                    _ => format!("{key}:{{\"#text\":{value}}}"),
                })
                .collect();
            let text = format!("{{{}}}", body.join(","));
            if let Some(walked) = event_id(text.as_bytes()) {
                proptest::prop_assert_eq!(Some(walked), fast_pass_event_id(&text), "{}", text);
            }
        }
    }
}
