//! What the detector says: alerts, suppressions and late events.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::fmt;

use crate::event::{CodeSignature, Hashes, Origin, Position};
use crate::rule::RuleMeta;
use crate::stable_hash::StableHasher;
use crate::time::{Span, Timestamp};
use crate::trust::TrustReason;

/// One event of a sequence, owned, as an alert reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EventRef {
    /// `@timestamp`.
    pub timestamp: Timestamp,
    /// `event.sequence`, if the event had one.
    pub sequence: Option<u64>,
    /// The event's id, if it had one.
    pub id: Option<Box<str>>,
    /// The caller's position for the event, passed through untouched.
    pub position: Position,
}

impl EventRef {
    pub(crate) fn from_origin(o: &Origin<'_>) -> Self {
        EventRef {
            timestamp: o.timestamp,
            sequence: o.sequence,
            id: o.id.map(Box::from),
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
    pub subject_name: Option<Box<str>>,
    /// `status`.
    pub status: Option<Box<str>>,
}

impl From<&CodeSignature<'_>> for Signature {
    fn from(s: &CodeSignature<'_>) -> Self {
        Signature {
            exists: s.exists,
            trusted: s.trusted,
            subject_name: s.subject_name.map(Box::from),
            status: s.status.map(Box::from),
        }
    }
}

/// `file.hash.*` or `process.hash.*`, owned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OwnedHashes {
    /// `sha256`.
    pub sha256: Option<Box<str>>,
    /// `sha1`.
    pub sha1: Option<Box<str>>,
    /// `md5`.
    pub md5: Option<Box<str>>,
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
            sha256: h.sha256.map(Box::from),
            sha1: h.sha1.map(Box::from),
            md5: h.md5.map(Box::from),
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
    pub(crate) fn derive(
        rule: &RuleMeta,
        host: &str,
        path: &str,
        write: &EventRef,
        exec: &EventRef,
    ) -> Self {
        let event = |h: StableHasher, e: &EventRef| {
            h.u64(e.timestamp.as_nanos() as u64)
                .u64(e.sequence.map_or(0, |s| s.wrapping_add(1)))
                .opt_str(e.id.as_deref())
        };
        let h = StableHasher::new().str(rule.id).str(host).str(path);
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
    pub path: Box<str>,
    /// `process.executable` of the execution, as started (differs from `path` only
    /// in case, and only under hardened semantics).
    pub executable: Box<str>,
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
    /// How far behind its host's newest timestamp it arrived.
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
