//! A position in one line of JSON text and the token steps every byte walk makes:
//! whitespace, one expected byte, `:` after a key, `,` or the end of a container,
//! literals, digit runs. Shared by the ECS prefilter's walk ([`super::prefilter`]) and
//! the Sysmon light pass's ([`super::sysmon`]), which reach it through `Deref`, so that
//! their own code reads `self.peek()`, `self.i` as before.
//!
//! Everything here is checked indexing: a cursor past the end reads `None`, never
//! panics.

use super::prefilter::{find_special, utf8_run};

/// The text and the index of the next byte to read.
pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Cursor { b, i: 0 }
    }

    #[inline(always)]
    pub(super) fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Skips JSON whitespace (the four bytes serde_json skips). Compact NDJSON has none
    /// between tokens, and this runs several times per member: one comparison settles
    /// that case.
    #[inline(always)]
    pub(super) fn ws(&mut self) {
        if self.peek().is_some_and(|c| c <= b' ') {
            self.ws_loop();
        }
    }

    fn ws_loop(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    /// `c` at the cursor, stepped over; `None` if another byte (or none) is there.
    #[inline(always)]
    pub(super) fn eat(&mut self, c: u8) -> Option<()> {
        if self.peek()? == c {
            self.i += 1;
            Some(())
        } else {
            None
        }
    }

    /// The `:` after a key, and the whitespace JSON allows around it: as `ws`, `eat(b':')`,
    /// `ws`, with the common case (a colon right after the key) first.
    #[inline(always)]
    pub(super) fn colon(&mut self) -> Option<()> {
        if self.peek() == Some(b':') {
            self.i += 1;
        } else {
            self.ws();
            self.eat(b':')?;
        }
        self.ws();
        Some(())
    }

    /// After a member or element: skips whitespace, then `,` (more follow: `false`) or
    /// `close` (the container ends: `true`); anything else is not JSON.
    #[inline(always)]
    pub(super) fn next_or_close(&mut self, close: u8) -> Option<bool> {
        self.ws();
        match self.peek()? {
            b',' => {
                self.i += 1;
                self.ws();
                Some(false)
            }
            c if c == close => {
                self.i += 1;
                Some(true)
            }
            _ => None,
        }
    }

    /// A run of ASCII digits (possibly empty), stepped over.
    #[inline(always)]
    pub(super) fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    /// A JSON string at the cursor, checked and stepped over: its raw body and whether it
    /// holds escapes. `None` (give up) on a raw control byte, an escape JSON does not
    /// have, an unterminated string, and:
    /// - `HIGH`: non-ASCII text is found here and checked to be UTF-8 ([`utf8_run`]);
    ///   without it the caller has checked the whole line, and such bytes are content;
    /// - `UNICODE`: a `\u` escape of a character that is not a surrogate is taken (a
    ///   surrogate gives up); without it every `\u` gives up.
    #[inline(always)]
    pub(super) fn string<const HIGH: bool, const UNICODE: bool>(
        &mut self,
    ) -> Option<(&'a [u8], bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            let j = find_special::<HIGH>(self.b, self.i)?;
            match *self.b.get(j)? {
                b'"' => {
                    self.i = j + 1;
                    return Some((self.b.get(start..j)?, escaped));
                }
                b'\\' => {
                    self.i = escape_end::<UNICODE>(self.b, j)?;
                    escaped = true;
                }
                // Non-ASCII text: checked, and stepped over, up to the next `"`, `\` or
                // control byte.
                0x80.. => self.i = utf8_run(self.b, j)?,
                // A raw control byte: not JSON.
                _ => return None,
            }
        }
    }

    /// [`string`](Self::string) without `\u` escapes, checked and stepped over, its body
    /// not kept (most skipped values are strings: this is the walks' hottest loop).
    #[inline(always)]
    pub(super) fn skip_string<const HIGH: bool>(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let j = find_special::<HIGH>(self.b, self.i)?;
            match *self.b.get(j)? {
                b'"' => {
                    self.i = j + 1;
                    return Some(());
                }
                b'\\' => self.i = escape_end::<false>(self.b, j)?,
                0x80.. => self.i = utf8_run(self.b, j)?,
                _ => return None,
            }
        }
    }

    /// `word` at the cursor, stepped over; `None` if the text differs.
    pub(super) fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }
}

/// The index just past the escape whose backslash is at `j`: one of JSON's simple
/// escapes, or with `UNICODE` a `\u` escape of a character that is not a surrogate
/// (`\u003c`, as Go's and nxlog's encoders write `<`: both of serde_json's string
/// readers take it; a surrogate, which only the one that decodes pairs them, gives up).
#[inline(always)]
fn escape_end<const UNICODE: bool>(b: &[u8], j: usize) -> Option<usize> {
    match *b.get(j + 1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(j + 2),
        b'u' if UNICODE => {
            let mut code = 0u32;
            for &h in b.get(j + 2..j + 6)? {
                code = code * 16 + char::from(h).to_digit(16)?;
            }
            (!(0xD800..=0xDFFF).contains(&code)).then_some(j + 6)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn steps() {
        let mut c = Cursor::new(b" \t\r\n: 12x,]");
        c.ws();
        assert_eq!(c.peek(), Some(b':'));
        assert_eq!(c.colon(), Some(()));
        c.digits();
        assert_eq!(c.i, 8);
        assert_eq!(c.eat(b'y'), None);
        assert_eq!(c.literal(b"x"), Some(()));
        assert_eq!(c.next_or_close(b']'), Some(false));
        assert_eq!(c.next_or_close(b']'), Some(true));
        assert_eq!(c.peek(), None);
        assert_eq!(c.literal(b"null"), None);
        assert_eq!(c.next_or_close(b']'), None);
        // Form feed is no JSON whitespace.
        let mut c = Cursor::new(b"\x0c1");
        c.ws();
        assert_eq!(c.i, 0);
    }
}
