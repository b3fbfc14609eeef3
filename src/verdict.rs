//! What the detector says: alerts, suppressions and late events.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use crate::event::{CodeSignature, Hashes, Origin, Position};
use crate::rule::RuleMeta;
use crate::stable_hash::StableHasher;
use crate::time::{Span, Timestamp};
use crate::trust::TrustReason;

/// An owned, immutable string of a verdict. It reads like a `&str` (it derefs to
/// one, compares, hashes, prints and serializes as one), but the strings of one
/// [`Sequence`] share a single allocation: an alert costs one allocation for all of
/// its path, executable, event ids, signer and hashes, not one each. Cloning shares
/// the allocation too (a reference count, no copy).
///
/// # Example
///
/// ```
/// use shareexec::Text;
///
/// let t = Text::from("C:\\Windows\\PSEXESVC.exe");
/// assert_eq!(t, "C:\\Windows\\PSEXESVC.exe");
/// assert!(t.ends_with(".exe"));
/// assert_eq!(t.to_string(), "C:\\Windows\\PSEXESVC.exe");
/// ```
#[derive(Clone)]
pub struct Text {
    buf: Arc<str>,
    /// Where this string starts in `buf`.
    start: u32,
    /// Its length, or `WHOLE` for all of `buf` (a buffer too long for `u32`
    /// offsets is never shared, only held whole).
    len: u32,
}

const WHOLE: u32 = u32::MAX;

impl Text {
    /// The string as a `&str`.
    pub fn as_str(&self) -> &str {
        if self.len == WHOLE {
            return &self.buf;
        }
        let start = self.start as usize;
        self.buf.get(start..start + self.len as usize).unwrap_or("")
    }

    /// `buf[start..start + len]`, sharing `buf` (an own copy when the offsets do not
    /// fit the compact form: strings of 4 GiB, never in practice).
    #[inline]
    pub(crate) fn share(buf: &Arc<str>, start: usize, len: usize) -> Text {
        match (u32::try_from(start), u32::try_from(len)) {
            (Ok(start), Ok(len)) if len != WHOLE => Text {
                buf: buf.clone(),
                start,
                len,
            },
            _ => Text::from(buf.get(start..start + len).unwrap_or("")),
        }
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text {
            buf: Arc::from(s),
            start: 0,
            len: WHOLE,
        }
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text::from(s.as_str())
    }
}

impl From<Box<str>> for Text {
    fn from(s: Box<str>) -> Self {
        Text {
            buf: Arc::from(s),
            start: 0,
            len: WHOLE,
        }
    }
}

impl From<Arc<str>> for Text {
    fn from(buf: Arc<str>) -> Self {
        Text {
            buf,
            start: 0,
            len: WHOLE,
        }
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> core::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // As `str` hashes, so that `Borrow<str>` lookups work.
        self.as_str().hash(h);
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

/// Packs the strings of one verdict into one buffer, then hands out [`Text`]s that
/// share it: one allocation per verdict.
pub(crate) struct Packer<'s> {
    scratch: &'s mut String,
}

/// Where a string went in the packed buffer.
#[derive(Clone, Copy)]
pub(crate) struct Placed {
    start: usize,
    len: usize,
}

impl<'s> Packer<'s> {
    /// Starts packing into `scratch` (reused across verdicts: no allocation once it
    /// has grown to the longest verdict).
    pub(crate) fn new(scratch: &'s mut String) -> Self {
        scratch.clear();
        Packer { scratch }
    }

    pub(crate) fn put(&mut self, s: &str) -> Placed {
        let start = self.scratch.len();
        self.scratch.push_str(s);
        Placed {
            start,
            len: s.len(),
        }
    }

    pub(crate) fn put_opt(&mut self, s: Option<&str>) -> Option<Placed> {
        s.map(|s| self.put(s))
    }

    /// The one allocation: the packed strings, shared.
    pub(crate) fn finish(self) -> Arc<str> {
        Arc::from(self.scratch.as_str())
    }
}

impl Placed {
    // Inlined: an alert makes nine of these, each a reference count increment.
    #[inline]
    pub(crate) fn text(self, buf: &Arc<str>) -> Text {
        Text::share(buf, self.start, self.len)
    }
}

/// One event of a sequence, owned, as an alert reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EventRef {
    /// `@timestamp`.
    pub timestamp: Timestamp,
    /// `event.sequence`, if the event had one.
    pub sequence: Option<u64>,
    /// The event's id, if it had one.
    pub id: Option<Text>,
    /// The caller's position for the event, passed through untouched.
    pub position: Position,
}

impl EventRef {
    pub(crate) fn from_origin(o: &Origin<'_>) -> Self {
        EventRef {
            timestamp: o.timestamp,
            sequence: o.sequence,
            id: o.id.map(Text::from),
            position: o.position,
        }
    }
}

/// `process.code_signature` of the execution, owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Signature {
    /// `exists`.
    pub exists: Option<bool>,
    /// `trusted`.
    pub trusted: Option<bool>,
    /// `subject_name`.
    pub subject_name: Option<Text>,
    /// `status`.
    pub status: Option<Text>,
}

impl From<&CodeSignature<'_>> for Signature {
    fn from(s: &CodeSignature<'_>) -> Self {
        Signature {
            exists: s.exists,
            trusted: s.trusted,
            subject_name: s.subject_name.map(Text::from),
            status: s.status.map(Text::from),
        }
    }
}

/// `file.hash.*` or `process.hash.*`, owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OwnedHashes {
    /// `sha256`.
    pub sha256: Option<Text>,
    /// `sha1`.
    pub sha1: Option<Text>,
    /// `md5`.
    pub md5: Option<Text>,
}

impl OwnedHashes {
    /// Whether no hash is present.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.sha1.is_none() && self.md5.is_none()
    }
}

impl From<&Hashes<'_>> for OwnedHashes {
    fn from(h: &Hashes<'_>) -> Self {
        OwnedHashes {
            sha256: h.sha256.map(Text::from),
            sha1: h.sha1.map(Text::from),
            md5: h.md5.map(Text::from),
        }
    }
}

/// A deterministic alert identifier: the same rule, host, path and pair of events
/// always give the same id, on every machine, so replays and at-least-once
/// pipelines can deduplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AlertId(pub u64);

impl AlertId {
    /// The hasher after the rule's id: the same for every alert of a detector, so it
    /// is computed once (see [`derive`](Self::derive)).
    pub(crate) fn seed(rule: &RuleMeta) -> StableHasher {
        StableHasher::new().str(rule.id)
    }

    /// The hasher after the rule's id and `host`: the same for every alert of a
    /// host, so each tracked host keeps it (see [`derive`](Self::derive)).
    pub(crate) fn host_seed(seed: StableHasher, host: &str) -> StableHasher {
        seed.str(host)
    }

    /// The id of an alert; `host_seed` is [`AlertId::host_seed`] of [`AlertId::seed`]
    /// of its rule and its host.
    pub(crate) fn derive(
        host_seed: StableHasher,
        path: &str,
        write: &EventRef,
        exec: &EventRef,
    ) -> Self {
        let event = |h: StableHasher, e: &EventRef| {
            h.u64(e.timestamp.as_nanos() as u64)
                .u64(e.sequence.map_or(0, |s| s.wrapping_add(1)))
                .opt_str(e.id.as_deref())
        };
        let h = host_seed.str(path);
        AlertId(event(event(h, write), exec).finish())
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A completed sequence: an SMB write of an executable, then its execution within
/// the maxspan, by a process the trust policy did not vouch for.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Sequence {
    /// Deterministic id (see [`AlertId`]).
    pub id: AlertId,
    /// `host.id`, the first join key.
    pub host_id: Arc<str>,
    /// `file.path` of the write, as written.
    pub path: Text,
    /// `process.executable` of the execution, as started (differs from `path` only
    /// in case, and only under hardened semantics).
    pub executable: Text,
    /// The write (stage 1).
    pub write: EventRef,
    /// The execution (stage 2).
    pub execution: EventRef,
    /// `process.pid` of the execution.
    pub pid: Option<i64>,
    /// `process.code_signature` of the execution.
    pub code_signature: Signature,
    /// `file.hash.*` of the write, when it carried them.
    pub file_hash: OwnedHashes,
    /// `process.hash.*` of the execution, when it carried them.
    pub process_hash: OwnedHashes,
    /// Execution time minus write time (0 ≤ span ≤ maxspan).
    pub span: Span,
    /// The rule's metadata.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub rule: &'static RuleMeta,
}

/// A sequence the trust policy vouched for: no alert, but analysts can see it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Suppression {
    /// The sequence that would have alerted.
    pub sequence: Sequence,
    /// Why the policy trusted the execution.
    #[cfg_attr(feature = "serde", serde(serialize_with = "ser_reason"))]
    pub reason: TrustReason,
}

#[cfg(feature = "serde")]
fn ser_reason<S: serde::Serializer>(r: &TrustReason, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(r.as_str())
}

/// Which stage a late event was a candidate for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Stage {
    /// Stage 1, the write.
    Write,
    /// Stage 2, the execution.
    Execution,
}

/// A candidate event that arrived more than the configured lateness behind its
/// host's newest timestamp. It was still used (a late write is kept, a late
/// execution still joins a pending write), but sequences it would have formed with
/// events already processed are lost: this verdict says so.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Late {
    /// `host.id`.
    pub host_id: Arc<str>,
    /// Which stage it was a candidate for.
    pub stage: Stage,
    /// The event.
    pub event: EventRef,
    /// How far behind its host's clock it arrived: the host's newest timestamp,
    /// except where [`flush`](crate::Detector::flush) or
    /// [`advance`](crate::Detector::advance) moved the clock past it (to the newest
    /// released timestamp plus the lateness, or the watermark plus the lateness and
    /// 1 ns; under [`Semantics::Hardened`](crate::Semantics::Hardened) `flush` adds
    /// 1 ns too).
    pub behind: Span,
}

/// One output of the detector.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Verdict {
    /// A sequence matched: raise an alert.
    Alert(Sequence),
    /// A sequence matched but the trust policy vouched for the execution.
    Suppressed(Suppression),
    /// A candidate event arrived too late to be ordered exactly.
    Late(Late),
}

impl Verdict {
    /// The alert, if this is one.
    pub fn as_alert(&self) -> Option<&Sequence> {
        match self {
            Verdict::Alert(s) => Some(s),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rule::Rule;

    /// Alert ids leave the process (replays deduplicate on them): the per-host
    /// seed is only a cache, and the id stays the stable hash of the rule id, host,
    /// path and both events' timestamp, sequence and id, in that order.
    #[test]
    fn alert_id_is_the_stable_hash_of_its_fields() {
        let meta = Rule::hardened().meta();
        let at = |ns: i64, sequence: Option<u64>, id: Option<&str>| EventRef {
            timestamp: Timestamp(ns),
            sequence,
            id: id.map(Text::from),
            position: 0,
        };
        let (write, exec) = (at(5, None, Some("w")), at(9, Some(0), None));
        let id = AlertId::derive(
            AlertId::host_seed(AlertId::seed(meta), "host-1"),
            "C:\\x.exe",
            &write,
            &exec,
        );
        let expected = StableHasher::new()
            .str(meta.id)
            .str("host-1")
            .str("C:\\x.exe")
            .u64(5)
            .u64(0)
            .opt_str(Some("w"))
            .u64(9)
            .u64(1)
            .opt_str(None)
            .finish();
        assert_eq!(id, AlertId(expected));
    }
}
