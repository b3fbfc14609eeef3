//! Streaming line reader: bounded line length, gzip detected by its magic bytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// One input's lines, read without holding more than one line (and never more than
/// `max` bytes of it).
pub struct Lines {
    reader: Box<dyn BufRead>,
    max: usize,
    buf: Vec<u8>,
    /// Bytes of the reader's buffer handed out in place by the last call, consumed at
    /// the next one.
    pending: usize,
    /// Bytes consumed from the (decompressed) stream so far.
    pub consumed: u64,
}

/// What one read gave.
pub enum Line<'a> {
    /// A line, without its `\n` (and `\r`).
    Text(&'a [u8]),
    /// A line longer than the limit; its bytes were skipped.
    TooLong(u64),
}

impl Lines {
    pub fn new(mut read: Box<dyn Read>, max: usize) -> io::Result<Lines> {
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
        let read: Box<dyn Read> = Box::new(io::Cursor::new(magic[..have].to_vec()).chain(read));
        let raw = BufReader::with_capacity(1 << 16, read);
        let reader: Box<dyn BufRead> = if gz {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        Ok(Lines {
            reader,
            max,
            buf: Vec::new(),
            pending: 0,
            consumed: 0,
        })
    }

    pub fn open(path: &Path, max: usize) -> io::Result<Lines> {
        Lines::new(Box::new(File::open(path)?), max)
    }

    pub fn from_bytes(bytes: &'static [u8], max: usize) -> io::Result<Lines> {
        Lines::new(Box::new(bytes), max)
    }

    /// The next line, or `None` at the end.
    /// The whole lines (none over the limit) that the reader's buffer already holds,
    /// appended to `data` in one copy: `on_line(start, end)` gets each one's range in
    /// `data` (without its `\n` and `\r`, exactly what [`next_line`](Self::next_line)
    /// would give) and says whether to take another. Returns how many it took: 0 when
    /// the next line is not whole in the buffer, is too long, or the input is over —
    /// [`next_line`](Self::next_line) reads that one. (The screening threads' batches
    /// are filled this way: one copy per buffer instead of one per line.)
    pub fn take_buffered(
        &mut self,
        data: &mut Vec<u8>,
        mut on_line: impl FnMut(usize, usize) -> bool,
    ) -> io::Result<usize> {
        if self.pending > 0 {
            self.reader.consume(self.pending);
            self.pending = 0;
        }
        let chunk = self.reader.fill_buf()?;
        let base = data.len();
        let (mut at, mut taken) = (0, 0);
        while let Some(i) = chunk.get(at..).and_then(|rest| memchr::memchr(b'\n', rest)) {
            if i > self.max {
                break;
            }
            let line = chunk.get(at..at + i).unwrap_or_default();
            let body = line.strip_suffix(b"\r").unwrap_or(line).len();
            taken += 1;
            let more = on_line(base + at, base + at + body);
            at += i + 1;
            if !more {
                break;
            }
        }
        data.extend_from_slice(chunk.get(..at).unwrap_or_default());
        self.reader.consume(at);
        self.consumed += at as u64;
        Ok(taken)
    }

    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        if self.pending > 0 {
            self.reader.consume(self.pending);
            self.pending = 0;
        }
        // The common case: the whole line is in the reader's buffer; hand it out in
        // place (no copy), and consume it at the next call.
        let found = {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                return Ok(None);
            }
            memchr::memchr(b'\n', chunk)
        };
        if let Some(i) = found
            && i <= self.max
        {
            self.pending = i + 1;
            self.consumed += (i + 1) as u64;
            // Nothing was consumed since the last `fill_buf`: the same bytes.
            let chunk = self.reader.fill_buf()?;
            let line = chunk.get(..i).unwrap_or_default();
            return Ok(Some(Line::Text(line.strip_suffix(b"\r").unwrap_or(line))));
        }
        self.buf.clear();
        let mut skipped: u64 = 0;
        let mut any = false;
        loop {
            let chunk = self.reader.fill_buf()?;
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (take, done) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            let body = &chunk[..if done { take - 1 } else { take }];
            if skipped > 0 || self.buf.len() + body.len() > self.max {
                skipped += (self.buf.len() + body.len()) as u64;
                self.buf.clear();
            } else {
                self.buf.extend_from_slice(body);
            }
            self.reader.consume(take);
            self.consumed += take as u64;
            if done {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        if skipped > 0 {
            return Ok(Some(Line::TooLong(skipped)));
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        Ok(Some(Line::Text(&self.buf)))
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

    /// Lines read a buffer at a time by `take_buffered` (a few per call, as a batch
    /// takes them), with `next_line` for the rest, are exactly `next_line`'s lines and
    /// count the same bytes: CRLF and LF, empty lines, lines across buffer refills,
    /// lines over the limit, and a last line without its newline.
    #[test]
    fn take_buffered_reads_what_next_line_reads() {
        let mut input = Vec::new();
        let mut seed = 7u64;
        for k in 0..600 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = match k % 7 {
                // At the limit and one past it.
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
        for per_call in [1usize, 3, 1000] {
            let mut l = Lines::from_bytes(input, 30_000).unwrap();
            let (mut data, mut got) = (Vec::new(), Vec::new());
            loop {
                let mut ranges = Vec::new();
                let taken = l
                    .take_buffered(&mut data, |start, end| {
                        ranges.push((start, end));
                        ranges.len() < per_call
                    })
                    .unwrap();
                assert_eq!(taken, ranges.len());
                for (start, end) in ranges {
                    got.push(String::from_utf8_lossy(&data[start..end]).into_owned());
                }
                if taken == 0 {
                    match l.next_line().unwrap() {
                        Some(Line::Text(t)) => got.push(String::from_utf8_lossy(t).into_owned()),
                        Some(Line::TooLong(n)) => got.push(format!("<{n}>")),
                        None => break,
                    }
                }
            }
            assert_eq!(got, all(input, 30_000), "{per_call} per call");
            assert_eq!(l.consumed, input.len() as u64);
        }
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
        assert!(all(b"", 3).is_empty());
    }
}
