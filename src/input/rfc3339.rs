//! RFC 3339 timestamps to [`Timestamp`] (nanoseconds since the Unix epoch), with no
//! calendar library: plain days-from-civil arithmetic, no allocation, no panic.
//! [`parse_rfc3339`] says what is accepted.

use crate::time::Timestamp;

/// Why a text is not an RFC 3339 timestamp [`parse_rfc3339`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimestampError {
    /// The text does not have the RFC 3339 shape: byte `at` (0-based) is not what
    /// the grammar expects there (`at` equal to the length means the text ended early).
    #[error("expected {expected} at byte {at}")]
    Syntax {
        /// 0-based byte offset into the text.
        at: usize,
        /// What the grammar wanted there, for people.
        expected: &'static str,
    },
    /// A field is well-formed but outside its range (month 13, day 31 in April,
    /// 24 o'clock, second 60, an offset of 24 hours…).
    #[error("{field} out of range")]
    FieldRange {
        /// Which field: `month`, `day`, `hour`, `minute`, `second`, `offset hour`
        /// or `offset minute`.
        field: &'static str,
    },
    /// A valid instant that `i64` nanoseconds cannot hold (before 1677-09-21 or after
    /// 2262-04-11, the range of Elasticsearch's `date_nanos`).
    #[error(
        "outside the representable range 1677-09-21T00:12:43.145224192Z..=2262-04-11T23:47:16.854775807Z"
    )]
    OutOfRange,
}

/// Parses an RFC 3339 timestamp into nanoseconds since the Unix epoch.
///
/// Accepted: `YYYY-MM-DD` `T` `HH:MM:SS` \[`.` fraction\] zone, where
///
/// - the date/time separator is `T`, `t` or a single space (RFC 3339 §5.6 allows the
///   lower case and, in its note, the space);
/// - the fraction has one or more digits; digits beyond the ninth (below one nanosecond)
///   are accepted and **truncated**, i.e. the instant is rounded down to the nanosecond
///   (Elasticsearch's `date_nanos` would refuse more than nine digits; refusing an event
///   over sub-nanosecond precision would lose it for nothing);
/// - the zone is `Z`, `z`, or a numeric offset `+HH:MM` / `-HH:MM` (`-00:00` means UTC);
///   the offset is subtracted, so `2024-01-03T19:30:00+05:30` is `2024-01-03T14:00:00Z`.
///
/// Rejected: a missing zone, the offset forms `+HHMM` and `+HH`, a leap second (`:60`,
/// which Elasticsearch's parser refuses too), impossible dates (`2023-02-29`, `-04-31`),
/// and instants outside the `i64` nanosecond range, 1677-09-21T00:12:43.145224192Z to
/// 2262-04-11T23:47:16.854775807Z (the range of Elasticsearch's `date_nanos`).
///
/// # Example
///
/// ```
/// use shareexec::input::parse_rfc3339;
/// use shareexec::Timestamp;
///
/// assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Ok(Timestamp(1_500_000_000)));
/// assert_eq!(
///     parse_rfc3339("2024-01-03T19:30:00+05:30"),
///     parse_rfc3339("2024-01-03T14:00:00Z"),
/// );
/// assert!(parse_rfc3339("2262-04-12T00:00:00Z").is_err());
/// ```
///
/// # Errors
///
/// [`TimestampError`] says what is wrong; the function never panics.
pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimestampError> {
    let mut c = Cursor {
        bytes: text.as_bytes(),
        at: 0,
    };
    let year = c.digits(4, "a four-digit year")?;
    c.expect(b"-", "'-' after the year")?;
    let month = c.digits(2, "a two-digit month")?;
    c.expect(b"-", "'-' after the month")?;
    let day = c.digits(2, "a two-digit day")?;
    c.expect(b"Tt ", "'T' between the date and the time")?;
    let hour = c.digits(2, "a two-digit hour")?;
    c.expect(b":", "':' after the hour")?;
    let minute = c.digits(2, "two-digit minutes")?;
    c.expect(b":", "':' after the minutes")?;
    let second = c.digits(2, "two-digit seconds")?;
    let nanos = if c.eat(b'.') { c.fraction()? } else { 0 };
    let zone_at = c.at;
    let offset_secs = match c.next() {
        Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = c.digits(2, "a two-digit offset hour")?;
            c.expect(b":", "':' in the offset")?;
            let om = c.digits(2, "two-digit offset minutes")?;
            check(oh <= 23, "offset hour")?;
            check(om <= 59, "offset minute")?;
            let secs = i64::from(oh * 3600 + om * 60);
            if sign == b'-' { -secs } else { secs }
        }
        _ => {
            return Err(TimestampError::Syntax {
                at: zone_at,
                expected: "'Z' or a '+HH:MM'/'-HH:MM' offset",
            });
        }
    };
    if c.at != c.bytes.len() {
        return Err(TimestampError::Syntax {
            at: c.at,
            expected: "the end of the timestamp",
        });
    }

    check((1..=12).contains(&month), "month")?;
    check(day >= 1 && day <= days_in_month(year, month), "day")?;
    check(hour <= 23, "hour")?;
    check(minute <= 59, "minute")?;
    check(second <= 59, "second")?;

    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    // i128: the last second of the range, times 10^9, overflows i64 before the fraction
    // brings it back in.
    let total = i128::from(secs) * 1_000_000_000 + i128::from(nanos);
    i64::try_from(total)
        .map(Timestamp)
        .map_err(|_| TimestampError::OutOfRange)
}

fn check(ok: bool, field: &'static str) -> Result<(), TimestampError> {
    if ok {
        Ok(())
    } else {
        Err(TimestampError::FieldRange { field })
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`). Exact for every year this module accepts (0000–9999).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = i64::from((month + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

struct Cursor<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let b = self.bytes.get(self.at).copied();
        if b.is_some() {
            self.at += 1;
        }
        b
    }

    fn eat(&mut self, want: u8) -> bool {
        if self.bytes.get(self.at) == Some(&want) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, any_of: &[u8], expected: &'static str) -> Result<(), TimestampError> {
        match self.bytes.get(self.at) {
            Some(b) if any_of.contains(b) => {
                self.at += 1;
                Ok(())
            }
            _ => Err(TimestampError::Syntax {
                at: self.at,
                expected,
            }),
        }
    }

    fn digit(&self) -> Option<u32> {
        match self.bytes.get(self.at) {
            Some(b) if b.is_ascii_digit() => Some(u32::from(b - b'0')),
            _ => None,
        }
    }

    /// Exactly `n` ASCII digits (n ≤ 4, so no overflow).
    fn digits(&mut self, n: usize, expected: &'static str) -> Result<u32, TimestampError> {
        let mut value = 0;
        for _ in 0..n {
            let d = self.digit().ok_or(TimestampError::Syntax {
                at: self.at,
                expected,
            })?;
            value = value * 10 + d;
            self.at += 1;
        }
        Ok(value)
    }

    /// One or more digits after the '.', as nanoseconds; digits past the ninth are
    /// consumed and dropped (truncation).
    fn fraction(&mut self) -> Result<u32, TimestampError> {
        let mut nanos = 0;
        let mut count = 0usize;
        while let Some(d) = self.digit() {
            if count < 9 {
                nanos = nanos * 10 + d;
            }
            count += 1;
            self.at += 1;
        }
        if count == 0 {
            return Err(TimestampError::Syntax {
                at: self.at,
                expected: "a digit after '.'",
            });
        }
        for _ in count..9 {
            nanos *= 10;
        }
        Ok(nanos)
    }
}

/// Formats `t` as RFC 3339 in UTC (`2024-01-03T14:00:00.123Z`): three fraction
/// digits, or six or nine when the instant needs them, so that parsing the text
/// gives `t` back exactly.
///
/// # Example
/// ```
/// use shareexec::input::{format_rfc3339, parse_rfc3339};
/// let t = parse_rfc3339("2024-01-03T14:00:00.000000001Z").unwrap();
/// assert_eq!(format_rfc3339(t), "2024-01-03T14:00:00.000000001Z");
/// assert_eq!(format_rfc3339(parse_rfc3339("1969-12-31T23:59:59.5Z").unwrap()), "1969-12-31T23:59:59.500Z");
/// ```
pub fn format_rfc3339(t: Timestamp) -> alloc::string::String {
    let nanos = t.as_nanos();
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    let fraction = if frac % 1_000_000 == 0 {
        alloc::format!("{:03}", frac / 1_000_000)
    } else if frac % 1_000 == 0 {
        alloc::format!("{:06}", frac / 1_000)
    } else {
        alloc::format!("{frac:09}")
    };
    alloc::format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{fraction}Z")
}

/// Inverse of `days_from_civil` (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_civil_anchors() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
    }

    #[test]
    fn range_ends_exactly() {
        assert_eq!(
            parse_rfc3339("2262-04-11T23:47:16.854775807Z"),
            Ok(Timestamp::MAX)
        );
        assert_eq!(
            parse_rfc3339("2262-04-11T23:47:16.854775808Z"),
            Err(TimestampError::OutOfRange)
        );
        assert_eq!(
            parse_rfc3339("1677-09-21T00:12:43.145224192Z"),
            Ok(Timestamp::MIN)
        );
        assert_eq!(
            parse_rfc3339("1677-09-21T00:12:43.145224191Z"),
            Err(TimestampError::OutOfRange)
        );
    }
}
