//! A position in one line of JSON text and the token steps every byte walk makes:
//! whitespace, one expected byte, `:` after a key, `,` or the end of a container,
//! literals, digit runs. Shared by the ECS prefilter's walk ([`super::prefilter`]) and
//! the Sysmon light pass's ([`super::sysmon`]), which reach it through `Deref`, so that
//! their own code reads `self.peek()`, `self.i` as before.
//!
//! Everything here is checked indexing: a cursor past the end reads `None`, never
//! panics.

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
