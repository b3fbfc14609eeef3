//! Streaming line reader: bounded line length, gzip detected by its magic bytes.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use shareexec::input::byte_search::ByteSearch;

/// Bytes read from the input at a time (and the size a batch's buffer starts at).
const CHUNK: usize = 64 << 10;

/// One input's lines, read without holding more than one line (and never more than
/// `max` bytes of it) beyond the current buffer.
///
/// The buffer is the reader's own (no `BufReader`): [`take_lines`](Self::take_lines)
/// hands it whole to a batch, swapping in the batch's spent one, so the bytes the
/// kernel copied in are screened where they landed; only the unfinished line at its
/// end is copied over.
pub struct Lines {
    read: Box<dyn Read + Send>,
    /// `buf[head..filled]`: read and not handed out yet. `buf.len()` is how far reads
    /// may fill (kept initialized: a read needs initialized bytes).
    buf: Vec<u8>,
    head: usize,
    filled: usize,
    /// The input has ended (a read returned 0).
    eof: bool,
    max: usize,
    /// Bytes consumed from the (decompressed) stream so far.
    pub consumed: u64,
    /// The input is gzip: `consumed` counts decompressed bytes, not the input's.
    pub compressed: bool,
    /// The search for `\n` (its searcher built once, not on each line).
    newline: ByteSearch<b'\n'>,
    /// A read may wait indefinitely (standard input, a pipe, a terminal: anything but
    /// a regular file or bytes in memory).
    pub may_wait: bool,
}

/// What one read gave.
pub enum Line<'a> {
    /// A line, without its `\n` (and `\r`).
    Text(&'a [u8]),
    /// A line longer than the limit; its bytes were skipped.
    TooLong(u64),
}

/// What [`Lines::take_lines`] gave.
pub enum Taken {
    /// One or more whole lines (each given to `on_line`), in the buffer now in the
    /// caller's hands.
    Lines,
    /// A line over the limit (its length); its bytes were skipped.
    TooLong(u64),
    /// The input is over.
    End,
}

impl Lines {
    pub fn new(mut read: Box<dyn Read + Send>, max: usize) -> io::Result<Lines> {
        // Sniff the gzip magic on the first two bytes, however the source delivers
        // them (a pipe may hand over one byte at a time).
        let mut magic = [0u8; 2];
        let mut have = 0;
        while have < magic.len() {
            match read.read(&mut magic[have..]) {
                Ok(0) => break,
                Ok(n) => have += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let gz = magic[..have] == [0x1f, 0x8b];
        let read: Box<dyn Read + Send> =
            Box::new(io::Cursor::new(magic[..have].to_vec()).chain(read));
        let read: Box<dyn Read + Send> = if gz {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
                CHUNK, read,
            )))
        } else {
            read
        };
        Ok(Lines {
            read,
            max,
            buf: vec![0; CHUNK],
            head: 0,
            filled: 0,
            eof: false,
            consumed: 0,
            compressed: gz,
            newline: ByteSearch::new(),
            may_wait: true,
        })
    }

    pub fn open(path: &Path, max: usize) -> io::Result<Lines> {
        let file = File::open(path)?;
        let regular = file.metadata()?.is_file();
        let mut lines = Lines::new(Box::new(file), max)?;
        lines.may_wait = !regular;
        Ok(lines)
    }

    pub fn from_bytes(bytes: &'static [u8], max: usize) -> io::Result<Lines> {
        let mut lines = Lines::new(Box::new(bytes), max)?;
        lines.may_wait = false;
        Ok(lines)
    }

    /// Reads more after `buf[..filled]`: moves the unread bytes to the front first, and
    /// doubles the buffer when they fill it. Sets `eof` when the input is over.
    fn refill(&mut self) -> io::Result<()> {
        if self.head > 0 {
            self.buf.copy_within(self.head..self.filled, 0);
            self.filled -= self.head;
            self.head = 0;
        }
        // A buffer a long line made big is not kept for the short ones after it.
        if self.filled < CHUNK && self.buf.len() > 4 * CHUNK {
            self.buf.truncate(CHUNK);
            self.buf.shrink_to_fit();
        }
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len().max(CHUNK) * 2, 0);
        }
        loop {
            match self
                .read
                .read(self.buf.get_mut(self.filled..).unwrap_or_default())
            {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.filled += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes the next line whole in `buf[head..]`: the index of its `\n` (`None`: the
    /// line runs to the end of the input, or the input is over when `head == filled`),
    /// or `Err(Ok(n))` when it is longer than `max` (then skipped: its `n` bytes are
    /// gone, none of them held beyond the buffer).
    fn whole_line(&mut self) -> Result<Option<usize>, io::Result<u64>> {
        let mut searched = 0; // `buf[head..head + searched]` holds no `\n`
        loop {
            let unread = self
                .buf
                .get(self.head + searched..self.filled)
                .unwrap_or_default();
            if let Some(i) = self.newline.find(unread) {
                let end = self.head + searched + i;
                if end - self.head > self.max {
                    let n = (end - self.head) as u64;
                    self.consumed += n + 1;
                    self.head = end + 1;
                    return Err(Ok(n));
                }
                return Ok(Some(end));
            }
            searched = self.filled - self.head;
            if searched > self.max {
                return Err(self.skip_long_line());
            }
            if self.eof {
                return Ok(None);
            }
            self.refill().map_err(Err)?;
        }
    }

    /// Skips the rest of a line already known to be longer than `max`, reading a
    /// buffer at a time: its length.
    fn skip_long_line(&mut self) -> io::Result<u64> {
        let mut n = (self.filled - self.head) as u64;
        self.consumed += n;
        (self.head, self.filled) = (0, 0);
        loop {
            if let Some(i) = self
                .newline
                .find(self.buf.get(..self.filled).unwrap_or_default())
            {
                self.consumed += i as u64 + 1;
                self.head = i + 1;
                return Ok(n + i as u64);
            }
            n += self.filled as u64;
            self.consumed += self.filled as u64;
            self.filled = 0;
            if self.eof {
                return Ok(n);
            }
            self.refill()?;
        }
    }

    /// The next line, or `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        let end = match self.whole_line() {
            Ok(end) => end,
            Err(Ok(n)) => return Ok(Some(Line::TooLong(n))),
            Err(Err(e)) => return Err(e),
        };
        let start = self.head;
        let (stop, next) = match end {
            Some(end) => (end, end + 1),
            None if start == self.filled => return Ok(None),
            // The last line, without a newline.
            None => (self.filled, self.filled),
        };
        self.consumed += (next - start) as u64;
        self.head = next;
        let line = self.buf.get(start..stop).unwrap_or_default();
        Ok(Some(Line::Text(line.strip_suffix(b"\r").unwrap_or(line))))
    }

    /// Whole lines for a batch, in their buffer: `on_line(start, end)` gets each one's
    /// range (without its `\n` and `\r`, exactly what [`next_line`](Self::next_line)
    /// would give) and says whether to take another. Then the buffer holding them
    /// becomes `data`, and `data`'s old buffer (its contents are dropped, its
    /// allocation reused) becomes the reader's, with the bytes not taken copied in.
    /// Reads when the next line is not whole yet; a line over the limit is skipped and
    /// reported alone, as is the input's end.
    pub fn take_lines(
        &mut self,
        data: &mut Vec<u8>,
        mut on_line: impl FnMut(usize, usize) -> bool,
    ) -> io::Result<Taken> {
        let mut end = match self.whole_line() {
            Ok(Some(end)) => Some(end),
            Ok(None) if self.head == self.filled => return Ok(Taken::End),
            Ok(None) => None,
            Err(Ok(n)) => return Ok(Taken::TooLong(n)),
            Err(Err(e)) => return Err(e),
        };
        // The first line is whole; take it and the whole lines after it.
        loop {
            let start = self.head;
            let (stop, next) = match end {
                Some(end) => (end, end + 1),
                None => (self.filled, self.filled),
            };
            let line = self.buf.get(start..stop).unwrap_or_default();
            let body = line.strip_suffix(b"\r").unwrap_or(line).len();
            self.consumed += (next - start) as u64;
            self.head = next;
            if !on_line(start, start + body) {
                break;
            }
            let unread = self.buf.get(self.head..self.filled).unwrap_or_default();
            end = match self.newline.find(unread) {
                Some(i) if i <= self.max => Some(self.head + i),
                _ => break,
            };
        }
        // Hand the buffer over; keep the bytes not taken in `data`'s old one.
        std::mem::swap(&mut self.buf, data);
        let rest = data.get(self.head..self.filled).unwrap_or_default();
        let room = CHUNK.max(2 * rest.len());
        if self.buf.len() < room {
            self.buf.resize(room, 0);
        }
        if let Some(to) = self.buf.get_mut(..rest.len()) {
            to.copy_from_slice(rest);
        }
        (self.head, self.filled) = (0, rest.len());
        Ok(Taken::Lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &'static [u8], max: usize) -> Vec<String> {
        let mut l = Lines::from_bytes(input, max).unwrap();
        let mut out = Vec::new();
        while let Some(line) = l.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Line::TooLong(n) => format!("<{n}>"),
            });
        }
        out
    }

    /// Lines taken a buffer at a time by `take_lines` (a few per call, as a batch
    /// takes them, the buffers swapped as batches swap them) are exactly `next_line`'s
    /// lines and count the same bytes: CRLF and LF, empty lines, lines across buffer
    /// refills, lines at and one past the limit, and a last line without its newline.
    /// The input is delivered a random number of bytes per read (as a pipe does).
    #[test]
    fn take_lines_reads_what_next_line_reads() {
        /// Hands out at most `step(seed)` bytes per read.
        struct Trickle(&'static [u8], u64);
        impl Read for Trickle {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.1 = self.1.wrapping_mul(6364136223846793005).wrapping_add(1);
                let n = ((self.1 >> 33) as usize % 100_000 + 1)
                    .min(out.len())
                    .min(self.0.len());
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut input = Vec::new();
        let mut seed = 7u64;
        for k in 0..600 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = match k % 7 {
                // At the limit and one past it (with and without a `\r`).
                _ if k % 100 == 50 => 30_000 + k / 300,
                0 => 0,
                1 => (seed >> 33) as usize % 50_000,
                _ => (seed >> 33) as usize % 1_500,
            };
            input.extend((0..len).map(|i| b'a' + (i % 26) as u8));
            input.extend_from_slice(if seed & 1 == 0 { b"\r\n" } else { b"\n" });
        }
        input.extend_from_slice(b"last, no newline\r");
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());
        let expected = all(input, 30_000);
        for (per_call, trickle) in [(1usize, false), (3, true), (1000, false), (1000, true)] {
            let read: Box<dyn Read + Send> = if trickle {
                Box::new(Trickle(input, per_call as u64))
            } else {
                Box::new(input)
            };
            let mut l = Lines::new(read, 30_000).unwrap();
            let (mut data, mut got) = (Vec::new(), Vec::new());
            loop {
                let mut ranges = Vec::new();
                match l
                    .take_lines(&mut data, |start, end| {
                        ranges.push((start, end));
                        ranges.len() < per_call
                    })
                    .unwrap()
                {
                    Taken::Lines => assert!(!ranges.is_empty()),
                    Taken::TooLong(n) => got.push(format!("<{n}>")),
                    Taken::End => break,
                }
                for (start, end) in ranges {
                    got.push(String::from_utf8_lossy(&data[start..end]).into_owned());
                }
                // The caller scribbles over the spent buffer before handing it back.
                data.iter_mut().for_each(|b| *b = b'#');
            }
            assert_eq!(got, expected, "{per_call} per call, trickle {trickle}");
            assert_eq!(l.consumed, input.len() as u64);
        }
    }

    /// A gzip input says so: its `consumed` counts decompressed bytes, which the progress
    /// bar must not measure against the compressed file's size.
    #[test]
    fn gzip_input_is_marked_compressed() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&b"{}\n".repeat(1000)).unwrap();
        let gz: &'static [u8] = Vec::leak(gz.finish().unwrap());
        let mut l = Lines::from_bytes(gz, 100).unwrap();
        assert!(l.compressed);
        while l.next_line().unwrap().is_some() {}
        assert_eq!(l.consumed, 3000);
        assert!(!Lines::from_bytes(b"{}\n", 100).unwrap().compressed);
    }

    /// `next_line` alone on an input delivered in pieces: the same lines.
    #[test]
    fn next_line_reads_the_same_lines_in_any_pieces() {
        let input: &'static [u8] = b"a\r\n\nbbbbbbbbbb\ncc\r\nddd";
        for piece in 1..input.len() {
            let chunks: Vec<Vec<u8>> = input.chunks(piece).map(<[u8]>::to_vec).collect();
            let read: Box<dyn Read + Send> = Box::new(Pieces(chunks.into_iter().rev().collect()));
            let mut l = Lines::new(read, 5).unwrap();
            let mut got = Vec::new();
            while let Some(line) = l.next_line().unwrap() {
                got.push(match line {
                    Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    Line::TooLong(n) => format!("<{n}>"),
                });
            }
            assert_eq!(got, ["a", "", "<10>", "cc", "ddd"], "pieces of {piece}");
            assert_eq!(l.consumed, input.len() as u64);
        }
    }

    /// Reads hand out one piece each.
    struct Pieces(Vec<Vec<u8>>);
    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let Some(mut piece) = self.0.pop() else {
                return Ok(0);
            };
            let n = piece.len().min(out.len());
            out[..n].copy_from_slice(&piece[..n]);
            if n < piece.len() {
                self.0.push(piece.split_off(n));
            }
            Ok(n)
        }
    }

    /// What the lines of `input` are, by definition: the pieces between `\n`s (the
    /// last one only if not empty); a piece longer than `max` (its `\r` counted) is
    /// `<len>`, else itself without one trailing `\r`.
    fn reference(input: &[u8], max: usize) -> Vec<String> {
        let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if pieces.last().is_some_and(|p| p.is_empty()) {
            pieces.pop();
        }
        pieces
            .into_iter()
            .map(|p| match p.len() > max {
                true => format!("<{}>", p.len()),
                false => String::from_utf8_lossy(p.strip_suffix(b"\r").unwrap_or(p)).into_owned(),
            })
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        /// Both ways of reading, against the definition, on lines of random lengths
        /// around the limit and around the buffer's size, delivered in random pieces.
        #[test]
        fn both_readers_match_the_definition(
            shape in proptest::collection::vec((0usize..4, 0usize..3), 0..24),
            max in 0usize..200,
            cut in proptest::prop_oneof![1usize..300, 60_000usize..70_000],
            per_call in 1usize..5,
        ) {
            let mut input = Vec::new();
            for (k, (kind, end)) in shape.iter().enumerate() {
                let len = match kind {
                    0 => k % 5,
                    1 => max.saturating_sub(1) + k % 3,
                    2 => CHUNK - 2 + k % 4,
                    _ => 2 * CHUNK + k,
                };
                input.extend((0..len).map(|i| b'a' + ((i + k) % 26) as u8));
                input.extend_from_slice([&b"\n"[..], b"\r\n", b""][*end]);
            }
            let input: &'static [u8] = Box::leak(input.into_boxed_slice());
            let expected = reference(input, max);
            /// Hands out at most `.1` bytes per read.
            struct Steps(&'static [u8], usize);
            impl Read for Steps {
                fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                    let n = self.1.min(out.len()).min(self.0.len());
                    out[..n].copy_from_slice(&self.0[..n]);
                    self.0 = &self.0[n..];
                    Ok(n)
                }
            }
            let pieces = || -> Box<dyn Read + Send> { Box::new(Steps(input, cut)) };
            let mut l = Lines::new(pieces(), max).unwrap();
            let mut got = Vec::new();
            while let Some(line) = l.next_line().unwrap() {
                got.push(match line {
                    Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    Line::TooLong(n) => format!("<{n}>"),
                });
            }
            proptest::prop_assert_eq!(&got, &expected);
            proptest::prop_assert_eq!(l.consumed, input.len() as u64);
            let mut l = Lines::new(pieces(), max).unwrap();
            let (mut data, mut got) = (Vec::new(), Vec::new());
            loop {
                let mut ranges = Vec::new();
                match l.take_lines(&mut data, |start, end| {
                    ranges.push((start, end));
                    ranges.len() < per_call
                }).unwrap() {
                    Taken::Lines => proptest::prop_assert!(!ranges.is_empty()),
                    Taken::TooLong(n) => got.push(format!("<{n}>")),
                    Taken::End => break,
                }
                for (start, end) in ranges {
                    got.push(String::from_utf8_lossy(&data[start..end]).into_owned());
                }
                data.iter_mut().for_each(|b| *b = b'#');
            }
            proptest::prop_assert_eq!(&got, &expected);
            proptest::prop_assert_eq!(l.consumed, input.len() as u64);
        }
    }

    /// The buffer grows for a long line and shrinks back after it: a run's memory is
    /// not pinned by one big line.
    #[test]
    fn a_long_lines_buffer_is_given_back() {
        let mut input = vec![b'x'; 1 << 20];
        input.push(b'\n');
        for _ in 0..(4 * CHUNK / 10) {
            input.extend_from_slice(b"short one\n");
        }
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());
        let mut l = Lines::from_bytes(input, 2 << 20).unwrap();
        assert!(matches!(l.next_line().unwrap(), Some(Line::Text(t)) if t.len() == 1 << 20));
        assert!(l.buf.len() > 1 << 20);
        while let Some(Line::Text(t)) = l.next_line().unwrap() {
            assert_eq!(t, b"short one");
        }
        assert!(l.buf.len() <= 4 * CHUNK, "{} bytes held", l.buf.len());
    }

    #[test]
    fn long_lines_across_buffer_refills() {
        let mut input = Vec::new();
        for n in [10usize, 70_000, 5, 200_000, 3] {
            input.extend(std::iter::repeat_n(b'a', n));
            input.extend_from_slice(b"\r\n");
        }
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());
        let lens: Vec<usize> = {
            let mut l = Lines::from_bytes(input, 100_000).unwrap();
            let mut out = Vec::new();
            while let Some(line) = l.next_line().unwrap() {
                out.push(match line {
                    Line::Text(t) => t.len(),
                    Line::TooLong(n) => 1_000_000 + n as usize,
                });
            }
            assert_eq!(l.consumed, input.len() as u64);
            out
        };
        assert_eq!(lens, [10, 70_000, 5, 1_000_000 + 200_001, 3]);
    }

    #[test]
    fn splits_and_bounds_lines() {
        assert_eq!(all(b"a\nbb\r\n\nccc", 100), ["a", "bb", "", "ccc"]);
        assert_eq!(all(b"a\nbbbbbb\ncc\n", 3), ["a", "<6>", "cc"]);
        // The limit counts a `\r` (it is part of the line until the line is whole).
        assert_eq!(
            all(b"abc\nabcd\nab\r\nabc\r\nabc", 3),
            ["abc", "<4>", "ab", "<4>", "abc"]
        );
        assert_eq!(all(b"abcd", 3), ["<4>"]);
        assert!(all(b"", 3).is_empty());
    }
}
