//! Event time: nanoseconds since the Unix epoch, as Elasticsearch's `date_nanos` keeps it.
//!
//! The detector never reads a clock. Every instant it knows comes from an event's
//! `@timestamp` or from an explicit [`Detector::advance`](crate::Detector::advance) call.

use core::fmt;

/// An instant: nanoseconds since 1970-01-01T00:00:00Z (negative before it).
///
/// `i64` nanoseconds span the years 1677–2262, the same range as Elasticsearch's
/// `date_nanos` field type, so every timestamp Elasticsearch can store fits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The earliest representable instant.
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant.
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        Timestamp(nanos)
    }

    /// From milliseconds since the epoch, saturating at the ends of the range.
    pub const fn from_millis(millis: i64) -> Self {
        Timestamp(millis.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// `self + d`, saturating instead of overflowing (time never wraps).
    pub const fn saturating_add(self, d: Span) -> Self {
        Timestamp(self.0.saturating_add(d.0))
    }

    /// `self - d`, saturating instead of overflowing.
    pub const fn saturating_sub(self, d: Span) -> Self {
        Timestamp(self.0.saturating_sub(d.0))
    }

    /// The span from `earlier` to `self` (negative if `earlier` is later), saturating.
    pub const fn since(self, earlier: Timestamp) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ns", self.0)
    }
}

/// A length of event time in nanoseconds (may be negative when it is a difference).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct Span(pub i64);

impl Span {
    /// Zero length.
    pub const ZERO: Span = Span(0);

    /// From nanoseconds.
    pub const fn from_nanos(nanos: i64) -> Self {
        Span(nanos)
    }
    /// From milliseconds, saturating.
    pub const fn from_millis(millis: i64) -> Self {
        Span(millis.saturating_mul(1_000_000))
    }
    /// From seconds, saturating.
    pub const fn from_secs(secs: i64) -> Self {
        Span(secs.saturating_mul(1_000_000_000))
    }
    /// Nanoseconds.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n % 1_000_000_000 == 0 {
            write!(f, "{}s", n / 1_000_000_000)
        } else if n % 1_000_000 == 0 {
            write!(f, "{}ms", n / 1_000_000)
        } else {
            write!(f, "{}ns", n)
        }
    }
}
