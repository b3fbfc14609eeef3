//! Typed events, borrowed from the caller's buffers.
//!
//! Every field Elasticsearch might find missing is an `Option` here, because the rule
//! treats a missing field differently from `false` or from an empty string: a comparison
//! with a missing field is false, so `not (trusted == true and …)` is *true* for a process
//! without a code signature, and that process alerts.
//!
//! Events borrow (`&'a str`) so an adapter can hand over slices of the line it is
//! parsing; the detector copies only what it must keep (a pending write's path, a
//! buffered event) and nothing for an event that cannot matter.

use crate::time::Timestamp;

/// Where an event came from, as the caller counts it: an opaque number the detector
/// carries into verdicts untouched (a line number, a byte offset, a Kafka offset…).
pub type Position = u64;

/// The `event.type` values of ECS, as a set (ECS makes `event.type` an array).
///
/// Elasticsearch compares `event.type in ("creation", "change")` and `event.type ==
/// "start"` against each element, case-sensitively; [`EventTypes::insert_str`] keeps
/// that exactness and ignores values outside the ECS list (they cannot match either).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EventTypes(u32);

macro_rules! event_types {
    ($($(#[$doc:meta])* $name:ident = $bit:expr, $text:literal;)*) => {
        impl EventTypes {
            $( $(#[$doc])* pub const $name: EventTypes = EventTypes(1 << $bit); )*
            const NAMES: &'static [(&'static str, EventTypes)] = &[$(($text, EventTypes::$name)),*];
        }
    };
}

event_types! {
    /// `access`
    ACCESS = 0, "access";
    /// `admin`
    ADMIN = 1, "admin";
    /// `allowed`
    ALLOWED = 2, "allowed";
    /// `change` — a file was modified (stage 1).
    CHANGE = 3, "change";
    /// `connection`
    CONNECTION = 4, "connection";
    /// `creation` — a file was created (stage 1).
    CREATION = 5, "creation";
    /// `deletion`
    DELETION = 6, "deletion";
    /// `denied`
    DENIED = 7, "denied";
    /// `end`
    END = 8, "end";
    /// `error`
    ERROR = 9, "error";
    /// `group`
    GROUP = 10, "group";
    /// `info`
    INFO = 11, "info";
    /// `installation`
    INSTALLATION = 12, "installation";
    /// `protocol`
    PROTOCOL = 13, "protocol";
    /// `start` — a process started (stage 2).
    START = 14, "start";
    /// `user`
    USER = 15, "user";
}

impl EventTypes {
    /// No type at all (the field is missing or holds only unknown values).
    pub const NONE: EventTypes = EventTypes(0);

    /// The ECS type named exactly `text` (case-sensitive, as Elasticsearch's `in`).
    pub fn parse(text: &str) -> Option<EventTypes> {
        EventTypes::NAMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, t)| *t)
    }

    /// The set holding each ECS type named in `texts`; other values are ignored.
    pub fn from_strs<'s>(texts: impl IntoIterator<Item = &'s str>) -> EventTypes {
        let mut set = EventTypes::NONE;
        for t in texts {
            set.insert_str(t);
        }
        set
    }

    /// Adds the ECS type named `text`; returns whether it was one.
    pub fn insert_str(&mut self, text: &str) -> bool {
        self.insert_bytes(text.as_bytes())
    }

    /// [`insert_str`](Self::insert_str) for the text whose UTF-8 is `text` (a name
    /// equals a text exactly when their bytes are equal; bytes that are not UTF-8
    /// equal no name): for the prefilter, which reads values as bytes.
    pub(crate) fn insert_bytes(&mut self, text: &[u8]) -> bool {
        match EventTypes::NAMES
            .iter()
            .find(|(name, _)| name.as_bytes() == text)
            .map(|(_, t)| *t)
        {
            Some(t) => {
                *self = self.union(t);
                true
            }
            None => false,
        }
    }

    /// Both sets together.
    pub const fn union(self, other: EventTypes) -> EventTypes {
        EventTypes(self.0 | other.0)
    }

    /// Whether any element of `other` is in `self` (ECS "any element matches").
    pub const fn intersects(self, other: EventTypes) -> bool {
        self.0 & other.0 != 0
    }

    /// The set as bits (for checkpoints and foreign interfaces; stable: the bit of
    /// each type never changes).
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The set with these bits, if every bit names an ECS type.
    pub const fn from_bits(bits: u32) -> Option<EventTypes> {
        if bits >> EventTypes::NAMES.len() == 0 {
            Some(EventTypes(bits))
        } else {
            None
        }
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names of the types in the set, in ECS order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        EventTypes::NAMES
            .iter()
            .filter(move |(_, t)| self.intersects(*t))
            .map(|(n, _)| *n)
    }
}

impl core::ops::BitOr for EventTypes {
    type Output = EventTypes;
    fn bitor(self, rhs: EventTypes) -> EventTypes {
        self.union(rhs)
    }
}

/// What identifies an event to a person reading an alert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The event's `@timestamp`.
    pub timestamp: Timestamp,
    /// `event.sequence`: Elastic Defend's per-host counter, the natural tiebreaker
    /// for equal timestamps.
    pub sequence: Option<u64>,
    /// The event's identifier (`event.id` or the document `_id`), if any.
    pub id: Option<&'a str>,
    /// The caller's own position for the event (see [`Position`]).
    pub position: Position,
}

/// `file.hash.*` or `process.hash.*`: not used by the rule, carried into alerts so
/// they can be enriched with threat intelligence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Hashes<'a> {
    /// `sha256`, as written (normally lower-case hex).
    pub sha256: Option<&'a str>,
    /// `sha1`.
    pub sha1: Option<&'a str>,
    /// `md5`.
    pub md5: Option<&'a str>,
}

impl Hashes<'_> {
    /// Whether no hash is present.
    pub fn is_empty(&self) -> bool {
        self.sha256.is_none() && self.sha1.is_none() && self.md5.is_none()
    }
}

/// A file event (ECS `event.category: file`): candidate for stage 1, the write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileEvent<'a> {
    /// Time, sequence, id and caller position.
    pub origin: Origin<'a>,
    /// `host.id`: half of the join key. Missing never joins.
    pub host_id: Option<&'a str>,
    /// `host.os.type`: must be `windows`.
    pub os_type: Option<&'a str>,
    /// `event.type`: must contain `creation` or `change`.
    pub types: EventTypes,
    /// `process.pid` of the writer: must be 4, the System process (an SMB write).
    pub pid: Option<i64>,
    /// `file.path`: the other half of the join key. Missing never joins.
    pub path: Option<&'a str>,
    /// `file.extension`, without the dot.
    pub extension: Option<&'a str>,
    /// `file.Ext.header_bytes`: the file's first bytes as hex (`4d5a…` is an MZ header).
    pub header_bytes: Option<&'a str>,
    /// `file.hash.*`, kept with the pending write and reported in its alert.
    pub hash: Hashes<'a>,
}

/// `process.code_signature`: every part may be missing, and missing is not `false`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CodeSignature<'a> {
    /// `exists`: whether the binary carries a signature.
    pub exists: Option<bool>,
    /// `trusted`: whether the signature chains to a trusted root.
    pub trusted: Option<bool>,
    /// `subject_name`: the signer.
    pub subject_name: Option<&'a str>,
    /// `status`: e.g. `trusted`, `errorExpired`.
    pub status: Option<&'a str>,
}

/// A process event (ECS `event.category: process`): candidate for stage 2, the execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessEvent<'a> {
    /// Time, sequence, id and caller position.
    pub origin: Origin<'a>,
    /// `host.id`: half of the join key. Missing never joins.
    pub host_id: Option<&'a str>,
    /// `host.os.type`: must be `windows`.
    pub os_type: Option<&'a str>,
    /// `event.type`: must contain `start`.
    pub types: EventTypes,
    /// `process.executable`: the other half of the join key. Missing never joins.
    pub executable: Option<&'a str>,
    /// `process.pid`.
    pub pid: Option<i64>,
    /// `process.code_signature`, which the trust policy judges.
    pub code_signature: CodeSignature<'a>,
    /// `process.hash.*`, reported in alerts.
    pub hash: Hashes<'a>,
}

/// One event for the detector.
///
/// Events of other categories never reach the detector: an adapter drops them (the
/// rule's stages are `file where …` and `process where …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A file event (stage 1 candidate).
    File(FileEvent<'a>),
    /// A process event (stage 2 candidate).
    Process(ProcessEvent<'a>),
}

impl<'a> Event<'a> {
    /// Time, sequence, id and caller position of the event.
    pub fn origin(&self) -> &Origin<'a> {
        match self {
            Event::File(f) => &f.origin,
            Event::Process(p) => &p.origin,
        }
    }

    /// `host.id` of the event.
    pub fn host_id(&self) -> Option<&'a str> {
        match self {
            Event::File(f) => f.host_id,
            Event::Process(p) => p.host_id,
        }
    }
}

impl<'a> From<FileEvent<'a>> for Event<'a> {
    fn from(e: FileEvent<'a>) -> Self {
        Event::File(e)
    }
}

impl<'a> From<ProcessEvent<'a>> for Event<'a> {
    fn from(e: ProcessEvent<'a>) -> Self {
        Event::Process(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_exact_and_any_element_matches() {
        let t = EventTypes::from_strs(["info", "change", "bogus"]);
        assert!(t.intersects(EventTypes::CREATION | EventTypes::CHANGE));
        assert!(!t.intersects(EventTypes::START));
        assert_eq!(
            EventTypes::parse("Creation"),
            None,
            "`in` is case-sensitive"
        );
        assert_eq!(
            t.names().collect::<alloc::vec::Vec<_>>(),
            ["change", "info"]
        );
    }
}
