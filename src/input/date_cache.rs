//! The prefilter's memory of the last `@timestamp` second it read: a stream's
//! timestamps share their date and time to the second for thousands of lines, and
//! reading the calendar again for each cost more than a tenth of the prefilter's walk
//! of a whole line.

use super::ecs::parse_es_date;
use crate::time::Timestamp;

/// `YYYY-MM-DDTHH:MM:SS`: the part of an RFC 3339 timestamp before its fraction and
/// zone.
const SECOND: usize = 19;

const NANOS_PER_SEC: i128 = 1_000_000_000;

/// Reads `@timestamp` texts exactly as [`parse_es_date`] does (`Some` where it says
/// `Ok`), remembering the last second it read in full.
///
/// A text that starts with the remembered 19 bytes and ends in a zone `Z` (after an
/// optional fraction) is the same second: the date and time fields, their checks and
/// the seconds since the epoch depend on those 19 bytes alone, and a `Z` offset is 0.
/// Its value is that second plus the fraction, read as `parse_rfc3339` reads it (the
/// first nine digits, at least one), with the same range check of the total. Any other
/// text goes to `parse_es_date`; a success whose text has that shape becomes the
/// remembered second. (Such a text parsed by any path of `parse_es_date` was parsed by
/// RFC 3339: its other two forms, a four-digit year and epoch milliseconds, are digits
/// only, and this text ends in `Z`.)
#[derive(Clone, Debug, Default)]
pub(super) struct DateCache {
    /// The remembered text's first 19 bytes, and its second (seconds since the epoch).
    second: Option<([u8; SECOND], i64)>,
}

impl DateCache {
    /// `parse_es_date(text).ok()` for the text whose UTF-8 is `bytes`; `None` if they
    /// are not UTF-8. Bytes, so that the prefilter needs no `&str` of the body: a text
    /// of the remembered second is its 19 bytes (UTF-8, from a text read in full) and
    /// an ASCII tail, so it is UTF-8 too, and any other is checked before
    /// `parse_es_date` reads it.
    pub(super) fn parse(&mut self, bytes: &[u8]) -> Option<Timestamp> {
        let (head, tail) = (bytes.get(..SECOND), bytes.get(SECOND..));
        if let (Some((prefix, secs)), Some(head), Some(tail)) = (&self.second, head, tail)
            && head == prefix
            && let Some(nanos) = fraction_then_z(tail)
        {
            let total = i128::from(*secs) * NANOS_PER_SEC + i128::from(nanos);
            return i64::try_from(total).ok().map(Timestamp);
        }
        let parsed = parse_es_date(core::str::from_utf8(bytes).ok()?).ok()?;
        if let (Some(head), Some(nanos)) = (head, tail.and_then(fraction_then_z)) {
            let secs = (i128::from(parsed.0) - i128::from(nanos)) / NANOS_PER_SEC;
            let prefix = head.try_into().ok();
            self.second = prefix.zip(i64::try_from(secs).ok());
        }
        Some(parsed)
    }
}

/// The nanoseconds of `tail` when it is an optional fraction (`.` and at least one
/// digit; digits past the ninth are ignored) followed by `Z` or `z` and nothing else:
/// as `parse_rfc3339` reads the end of a UTC timestamp.
///
/// One pass over the digits, each checked and the first nine read; `n` digits read
/// are the value times `10^(9 - n)` (the missing places are zeros), as a loop over all
/// nine places, reading `0` past the end, computed (the property test
/// `equals_parse_es_date` compares the whole cache with `parse_es_date`).
fn fraction_then_z(tail: &[u8]) -> Option<u32> {
    /// `10^(9 - n)`, by `n` digits read.
    const SCALE: [u32; 10] = [
        1_000_000_000,
        100_000_000,
        10_000_000,
        1_000_000,
        100_000,
        10_000,
        1_000,
        100,
        10,
        1,
    ];
    let (zone, body) = tail.split_last()?;
    if !matches!(zone, b'Z' | b'z') {
        return None;
    }
    let Some(digits) = body.strip_prefix(b".") else {
        return body.is_empty().then_some(0);
    };
    if digits.is_empty() {
        return None;
    }
    let mut nanos = 0;
    for (place, &d) in digits.iter().enumerate() {
        let d = d.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        if place < 9 {
            nanos = nanos * 10 + u32::from(d);
        }
    }
    Some(nanos * SCALE.get(digits.len().min(9)).copied()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn a_second_is_read_once_and_reused() {
        let mut dates = DateCache::default();
        let first = dates.parse(b"2024-01-03T14:00:00.001Z");
        assert!(dates.second.is_some());
        assert_eq!(first, parse_es_date("2024-01-03T14:00:00.001Z").ok());
        assert_eq!(
            dates.parse(b"2024-01-03T14:00:00.5z"),
            parse_es_date("2024-01-03T14:00:00.5z").ok()
        );
        // Not the shape: read in full, remembered second kept.
        let kept = dates.second;
        assert_eq!(
            dates.parse(b"1704290400000"),
            parse_es_date("1704290400000").ok()
        );
        assert_eq!(dates.second, kept);
        assert_eq!(dates.parse(b"2024-01-03T14:00:00.Z"), None);
        assert_eq!(
            dates.parse(b"2024-01-03T14:00:00.1234567891Z"),
            parse_es_date("2024-01-03T14:00:00.1234567891Z").ok()
        );
        // Not UTF-8: nothing, whether or not the remembered second's bytes lead.
        assert!(dates.second.is_some());
        for bad in [
            &b"2024-01-03T14:00:00.5\xffZ"[..],
            b"2024-01-03T14:00:00\xc3",
            b"2024-01-03T14:00:0\xc3\xa9Z",
            b"\xed\xa0\x80",
        ] {
            assert_eq!(dates.parse(bad), None, "{bad:?}");
        }
        // The same second with an ASCII tail is still read from memory.
        assert_eq!(
            dates.parse(b"2024-01-03T14:00:00.25Z"),
            parse_es_date("2024-01-03T14:00:00.25Z").ok()
        );
    }

    fn prefixes() -> Vec<String> {
        let mut all = Vec::new();
        for date in [
            "2024-01-03",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "0000-01-01",
            "9999-12-31",
            "1970-01-01",
            "2262-04-11",
            "2262-04-12",
            "1677-09-21",
        ] {
            for sep in ["T", "t", " ", "x"] {
                for time in [
                    "14:00:00", "14:00:01", "14:00:09", "23:59:59", "23:47:16", "00:12:43",
                    "24:00:00", "12:60:00", "1:00:000",
                ] {
                    all.push(format!("{date}{sep}{time}"));
                }
            }
        }
        all
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// Any sequence of texts, remembered seconds included, reads as `parse_es_date`.
        #[test]
        fn equals_parse_es_date(
            a in proptest::sample::select(prefixes()),
            edit in (0..SECOND, proptest::sample::select(b"0159T:-".to_vec())),
            texts in proptest::collection::vec(
                (
                    proptest::bool::ANY,
                    proptest::sample::select(alloc::vec![
                        "Z", "z", ".5Z", ".001Z", ".123456789Z", ".1234567891Z", ".999999999999z",
                        ".Z", "", ".5", "Zx", ".12a3Z", "+00:00", "-01:30", ".5+01:00", "ZZ",
                        "0", ".", "Z\u{e9}", ".\u{663}Z",
                    ]),
                ),
                1..12,
            )
        ) {
            // Two seconds per case, one byte apart, so that a remembered one comes back
            // and the other differs from it anywhere.
            let mut b = a.clone().into_bytes();
            b[edit.0] = edit.1;
            let b = String::from_utf8(b).unwrap_or_default();
            let mut dates = DateCache::default();
            for (first, suffix) in texts {
                let text = format!("{}{suffix}", if first { &a } else { &b });
                proptest::prop_assert_eq!(
                    dates.parse(text.as_bytes()),
                    parse_es_date(&text).ok(),
                    "{}",
                    text
                );
            }
        }
    }
}
