//! Owned copies of events, for the reorder buffer: one string buffer per event,
//! recycled through a pool so that buffering allocates nothing in steady state.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use crate::event::{CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, ProcessEvent};

/// An empty range marks a missing string (a present empty string is `u32::MAX..u32::MAX`).
const MISSING: Range<u32> = 0..0;
const EMPTY: Range<u32> = u32::MAX..u32::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Process,
}

/// An [`Event`] with its strings copied into one buffer.
#[derive(Debug)]
pub(crate) struct OwnedEvent {
    kind: Kind,
    text: String,
    // Common: id, host_id, os_type, sha256, sha1, md5. File: path, extension,
    // header_bytes. Process: executable, subject_name, status.
    strs: [Range<u32>; 9],
    timestamp: crate::time::Timestamp,
    sequence: Option<u64>,
    position: u64,
    types: EventTypes,
    pid: Option<i64>,
    exists: Option<bool>,
    trusted: Option<bool>,
}

fn push(text: &mut String, s: Option<&str>) -> Range<u32> {
    match s {
        None => MISSING,
        Some("") => EMPTY,
        Some(s) => {
            let start = text.len() as u32;
            text.push_str(s);
            start..text.len() as u32
        }
    }
}

fn get<'a>(text: &'a str, r: &Range<u32>) -> Option<&'a str> {
    if *r == MISSING {
        None
    } else if *r == EMPTY {
        Some("")
    } else {
        text.get(r.start as usize..r.end as usize)
    }
}

impl OwnedEvent {
    /// Copies `event` into `text` (a recycled buffer, cleared here).
    pub(crate) fn new(event: &Event<'_>, text: String) -> Self {
        let mut copy = Self::vacant(text);
        copy.fill(event);
        copy
    }

    /// A copy of nothing, keeping `text` (a recycled buffer) for [`fill`](Self::fill).
    pub(crate) fn vacant(text: String) -> Self {
        OwnedEvent {
            kind: Kind::File,
            text,
            strs: [MISSING; 9],
            timestamp: crate::time::Timestamp(0),
            sequence: None,
            position: 0,
            types: EventTypes::default(),
            pid: None,
            exists: None,
            trusted: None,
        }
    }

    /// Makes this a copy of `event`, reusing its buffer (cleared here). Where the
    /// copy is stored, this writes it in place: a copy is some 150 bytes to move.
    pub(crate) fn fill(&mut self, event: &Event<'_>) {
        let text = &mut self.text;
        text.clear();
        let o = event.origin();
        let common = |text: &mut String| [push(text, o.id), push(text, event.host_id())];
        match event {
            Event::File(f) => {
                let [id, host] = common(text);
                self.strs = [
                    id,
                    host,
                    push(text, f.os_type),
                    push(text, f.hash.sha256),
                    push(text, f.hash.sha1),
                    push(text, f.hash.md5),
                    push(text, f.path),
                    push(text, f.extension),
                    push(text, f.header_bytes),
                ];
                self.kind = Kind::File;
                self.types = f.types;
                self.pid = f.pid;
                self.exists = None;
                self.trusted = None;
            }
            Event::Process(p) => {
                let [id, host] = common(text);
                self.strs = [
                    id,
                    host,
                    push(text, p.os_type),
                    push(text, p.hash.sha256),
                    push(text, p.hash.sha1),
                    push(text, p.hash.md5),
                    push(text, p.executable),
                    push(text, p.code_signature.subject_name),
                    push(text, p.code_signature.status),
                ];
                self.kind = Kind::Process;
                self.types = p.types;
                self.pid = p.pid;
                self.exists = p.code_signature.exists;
                self.trusted = p.code_signature.trusted;
            }
        }
        self.timestamp = o.timestamp;
        self.sequence = o.sequence;
        self.position = o.position;
    }

    /// Whether every string's offsets fit the `u32` ranges (below the `EMPTY`
    /// marker): else the copy does not read back as the event it was filled from.
    pub(crate) fn is_exact(&self) -> bool {
        self.text.len() < EMPTY.start as usize
    }

    /// [`fill`](Self::fill), then [`bytes`](Self::bytes).
    #[inline]
    pub(crate) fn fill_bytes(&mut self, event: &Event<'_>) -> usize {
        self.fill(event);
        self.bytes()
    }

    /// The event's timestamp (without rebuilding the event).
    pub(crate) fn timestamp(&self) -> crate::time::Timestamp {
        self.timestamp
    }

    /// Where `process.executable` lies in the text (read with
    /// [`text_at`](Self::text_at), after the text is taken); missing for a file
    /// event.
    #[inline]
    pub(crate) fn executable_range(&self) -> Range<u32> {
        match self.kind {
            Kind::Process => self.strs[6].clone(),
            Kind::File => MISSING,
        }
    }

    /// The string at `range` of a copy's `text` (see
    /// [`executable_range`](Self::executable_range)).
    #[inline]
    pub(crate) fn text_at<'a>(text: &'a str, range: &Range<u32>) -> Option<&'a str> {
        get(text, range)
    }

    /// Whether this is a copy of a process event.
    pub(crate) fn is_process(&self) -> bool {
        self.kind == Kind::Process
    }

    /// The event, borrowing from this copy.
    pub(crate) fn event(&self) -> Event<'_> {
        self.event_at(self.position)
    }

    /// The event at another caller position.
    pub(crate) fn event_at(&self, position: u64) -> Event<'_> {
        let s = |i: usize| get(&self.text, &self.strs[i]);
        let origin = Origin {
            timestamp: self.timestamp,
            sequence: self.sequence,
            id: s(0),
            position,
        };
        let hash = Hashes {
            sha256: s(3),
            sha1: s(4),
            md5: s(5),
        };
        match self.kind {
            Kind::File => Event::File(FileEvent {
                origin,
                host_id: s(1),
                os_type: s(2),
                types: self.types,
                pid: self.pid,
                path: s(6),
                extension: s(7),
                header_bytes: s(8),
                hash,
            }),
            Kind::Process => Event::Process(ProcessEvent {
                origin,
                host_id: s(1),
                os_type: s(2),
                types: self.types,
                executable: s(6),
                pid: self.pid,
                code_signature: CodeSignature {
                    exists: self.exists,
                    trusted: self.trusted,
                    subject_name: s(7),
                    status: s(8),
                },
                hash,
            }),
        }
    }

    /// Heap and inline bytes this copy holds.
    pub(crate) fn bytes(&self) -> usize {
        core::mem::size_of::<Self>() + self.text.capacity()
    }

    /// Frees the text's spare capacity: a copy rebuilt from a snapshot then costs no
    /// more than it did where it was held (in a buffer of at least its length).
    pub(crate) fn shrink_text(&mut self) {
        self.text.shrink_to_fit();
    }

    /// Gives the string buffer back for reuse.
    pub(crate) fn into_text(self) -> String {
        self.text
    }

    /// Gives a vacant copy (one whose text was taken) a recycled buffer for
    /// [`fill`](Self::fill).
    #[inline]
    pub(crate) fn set_text(&mut self, text: String) {
        self.text = text;
    }

    /// Takes the string buffer for reuse, leaving this copy's strings empty (it is
    /// about to be dropped: taking avoids moving the whole copy out first).
    pub(crate) fn take_text(&mut self) -> String {
        core::mem::take(&mut self.text)
    }
}

/// Recycled string buffers (bounded, so a burst does not pin memory).
#[derive(Debug, Default)]
pub(crate) struct TextPool {
    free: Vec<String>,
}

impl TextPool {
    // At most 1 024 buffers of 4 KiB: the 4 MiB that `Config::memory_bound` counts.
    const KEEP: usize = 1024;
    const MAX_CAPACITY: usize = 4096;

    pub(crate) fn take(&mut self) -> String {
        self.free.pop().unwrap_or_default()
    }

    pub(crate) fn give(&mut self, s: String) {
        if self.free.len() < Self::KEEP && s.capacity() <= Self::MAX_CAPACITY {
            self.free.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_record_fits_the_memory_bound() {
        assert!(core::mem::size_of::<Option<OwnedEvent>>() <= 160);
    }

    #[test]
    fn round_trips_missing_and_empty() {
        let p = ProcessEvent {
            origin: Origin {
                timestamp: crate::Timestamp(5),
                sequence: Some(3),
                id: Some(""),
                position: 9,
            },
            host_id: Some("h"),
            os_type: None,
            types: EventTypes::START,
            executable: Some("C:\\x.exe"),
            pid: Some(1),
            code_signature: CodeSignature {
                exists: Some(true),
                trusted: None,
                subject_name: Some("S"),
                status: None,
            },
            hash: Hashes {
                sha256: Some("ab"),
                sha1: None,
                md5: Some(""),
            },
        };
        let e = Event::Process(p);
        let o = OwnedEvent::new(&e, String::new());
        assert_eq!(o.event(), e);
        let f = Event::File(FileEvent {
            path: Some("p"),
            ..Default::default()
        });
        assert_eq!(OwnedEvent::new(&f, o.into_text()).event(), f);
    }
}
