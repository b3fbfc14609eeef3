//! Line framing and error plumbing shared by the ECS and Sysmon decoders.

use alloc::string::{String, ToString};

/// Whether a line holds only JSON whitespace (skipped, never an error).
pub(super) fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// `serde_json`'s message without its " at line L column C" suffix.
pub(super) fn json_message(e: &serde_json::Error) -> String {
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
pub(super) fn json_column(e: &serde_json::Error, text: &str) -> Option<usize> {
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

/// At most `max` bytes of `s`, cut at a character boundary.
pub(super) fn truncated(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

/// A line as text without its UTF-8 byte-order mark, and how many bytes the mark took
/// (so that error columns still count from the start of the line); or, for a line
/// that is not UTF-8, the 1-based column of the first bad byte.
pub(super) fn frame(line: &[u8]) -> Result<(&str, usize), usize> {
    let (line, base) = without_bom(line);
    core::str::from_utf8(line)
        .map(|text| (text, base))
        .map_err(|e| base + e.valid_up_to() + 1)
}

/// A line's bytes without its UTF-8 byte-order mark, and how many bytes the mark took:
/// [`frame`] before its UTF-8 check.
pub(super) fn without_bom(line: &[u8]) -> (&[u8], usize) {
    match line.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, 3),
        None => (line, 0),
    }
}

/// [`frame`] for a line already known to be UTF-8.
pub(super) fn frame_str(line: &str) -> (&str, usize) {
    match line.strip_prefix('\u{feff}') {
        Some(rest) => (rest, 3),
        None => (line, 0),
    }
}
