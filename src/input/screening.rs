//! The prefilter's decision about a line held apart from the line, so that lines can be
//! screened on other threads and fed to the detector in order on one.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use super::common::is_blank;
use super::ecs::{EcsError, EcsRecord};
use super::prefilter::{Decision, Prefilter, Raw, Scanned, Screen, Triage};
use super::sysmon::{SysmonError, decode_sysmon_events};
use crate::event::{
    CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, Position, ProcessEvent,
};
use crate::owned::OwnedEvent;
use crate::rule::Rule;
use crate::time::Timestamp;
use crate::trust::{SignerPolicy, TrustPolicy};

/// What the [`Prefilter`] decided about one line, with offsets into the line instead of
/// borrows of it: `Copy` and `Send`, so it can be computed on another thread by a
/// [`Screener`] and applied, in line order, by
/// [`EcsPipeline::feed_screened`](super::EcsPipeline::feed_screened).
///
/// Applying a `Screening` to its line does exactly what
/// [`EcsPipeline::feed`](super::EcsPipeline::feed) does with that line: the same
/// detector state, verdicts, errors and [`PipelineStats`](super::PipelineStats).
/// The screening is only a shortcut: the pipeline re-reads the few fields it needs from
/// the line itself, and anything that does not fit (another line's screening, a
/// screener of another mode) makes it screen the line again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Screening {
    /// The length of the line screened (a cheap check against misuse).
    pub(crate) line_len: usize,
    pub(crate) kind: Kind,
}

/// A byte range of the line (lines are at most 4 GiB here; longer ones are decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Bytes {
    start: u32,
    end: u32,
}

impl Bytes {
    /// The range of `part` (a slice of `line`) within `line`; `None` if it is not in it.
    fn within(line: &[u8], part: &[u8]) -> Option<Bytes> {
        // Address arithmetic only (no dereference): where `part` starts in `line`.
        let start = (part.as_ptr() as usize).checked_sub(line.as_ptr() as usize)?;
        let end = start.checked_add(part.len())?;
        (end <= line.len()).then_some(Bytes {
            start: u32::try_from(start).ok()?,
            end: u32::try_from(end).ok()?,
        })
    }

    pub(crate) fn of<'a>(&self, line: &'a [u8]) -> Option<&'a [u8]> {
        line.get(self.start as usize..self.end as usize)
    }
}

/// A screened event (a process start or a possible write) with ranges of the line
/// for its strings: all escape-free but the executable or path, whose escapes are
/// undone again when the event is rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventBytes {
    timestamp: Timestamp,
    sequence: Option<u64>,
    types: EventTypes,
    id: Option<Bytes>,
    host_id: Option<Bytes>,
    os_type: Option<Bytes>,
    pid: Option<i64>,
    /// `process.executable` or `file.path`: the raw body, and whether it holds escapes.
    path: Option<(Bytes, bool)>,
    /// A process's code signature subject and status; a file's extension and header
    /// bytes.
    more: [Option<Bytes>; 2],
    /// The process's or the file's `sha256`, `sha1`, `md5`.
    hash: [Option<Bytes>; 3],
    /// A process's `code_signature.exists` and `.trusted`.
    signature: [Option<bool>; 2],
}

impl EventBytes {
    /// `scanned`'s process event (`file` false) or file event as ranges of `line`;
    /// `None` if a string is not in the line (cannot happen: the walk borrows from it).
    fn of(line: &[u8], scanned: &Scanned<'_, '_>, file: bool) -> Option<EventBytes> {
        let within = |s: Option<&[u8]>| match s {
            None => Some(None),
            Some(s) => Bytes::within(line, s).map(Some),
        };
        let raw = scanned.raw;
        let raw_path = if file { raw.file_path } else { raw.executable };
        let path = match raw_path {
            None => None,
            Some((body, escaped)) => Some((Bytes::within(line, body)?, escaped)),
        };
        let (r, f) = (&raw.rest, &raw.file);
        let (more, hash, signature) = if file {
            (
                [f.extension, f.header_bytes],
                [f.sha256, f.sha1, f.md5],
                [None, None],
            )
        } else {
            (
                [r.sig_subject, r.sig_status],
                [r.sha256, r.sha1, r.md5],
                [r.sig_exists, r.sig_trusted],
            )
        };
        Some(EventBytes {
            timestamp: scanned.timestamp,
            sequence: raw.sequence,
            types: raw.types,
            id: within(r.id())?,
            host_id: within(raw.host_id)?,
            os_type: within(raw.os_type)?,
            pid: r.pid,
            path,
            more: [within(more[0])?, within(more[1])?],
            hash: [within(hash[0])?, within(hash[1])?, within(hash[2])?],
            signature,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// [`Screen::Skip`]; `unvalidated` when the byte search alone decided.
    Skip { events: u8, unvalidated: bool },
    /// [`Screen::Execution`].
    Execution(EventBytes),
    /// [`Screen::Write`].
    Write(EventBytes),
    /// [`Screen::Decode`].
    Decode,
}

impl Screening {
    /// "Decode this line fully": always correct, never a shortcut.
    pub const fn decode(line_len: usize) -> Screening {
        Screening {
            line_len,
            kind: Kind::Decode,
        }
    }

    /// Whether the line will be decoded fully ([`Screen::Decode`]), whatever the
    /// detector holds.
    pub fn is_decode(&self) -> bool {
        self.kind == Kind::Decode
    }

    /// Whether the line is skipped ([`Screen::Skip`]).
    pub fn is_skip(&self) -> bool {
        matches!(self.kind, Kind::Skip { .. })
    }

    /// The [`Screen`] this stands for, rebuilt from `line` (`prefilter` unescapes an
    /// escaped `process.executable` into its scratch buffer); `None` if `line` is not
    /// the line screened.
    pub(crate) fn rebuild<'s>(
        &self,
        line: &'s [u8],
        position: Position,
        prefilter: &'s mut Prefilter,
    ) -> Option<Screen<'s>> {
        if line.len() != self.line_len {
            return None;
        }
        Some(match self.kind {
            Kind::Skip { events, .. } => Screen::Skip { events },
            Kind::Decode => Screen::Decode,
            Kind::Execution(e) | Kind::Write(e) => {
                let file = matches!(self.kind, Kind::Write(_));
                let text = |b: Option<Bytes>| -> Option<Option<&'s str>> {
                    match b {
                        None => Some(None),
                        Some(b) => Some(Some(core::str::from_utf8(b.of(line)?).ok()?)),
                    }
                };
                let origin = Origin {
                    timestamp: e.timestamp,
                    sequence: e.sequence,
                    id: text(e.id)?,
                    position,
                };
                let (host_id, os_type) = (text(e.host_id)?, text(e.os_type)?);
                let more = [text(e.more[0])?, text(e.more[1])?];
                let hash = Hashes {
                    sha256: text(e.hash[0])?,
                    sha1: text(e.hash[1])?,
                    md5: text(e.hash[2])?,
                };
                let path = match e.path {
                    None => None,
                    Some((body, false)) => text(Some(body))?,
                    Some((body, true)) => Some(prefilter.unescape_executable(body.of(line)?)?),
                };
                if file {
                    Screen::Write(FileEvent {
                        origin,
                        host_id,
                        os_type,
                        types: e.types,
                        pid: e.pid,
                        path,
                        extension: more[0],
                        header_bytes: more[1],
                        hash,
                    })
                } else {
                    Screen::Execution(ProcessEvent {
                        origin,
                        host_id,
                        os_type,
                        types: e.types,
                        executable: path,
                        pid: e.pid,
                        code_signature: CodeSignature {
                            exists: e.signature[0],
                            trusted: e.signature[1],
                            subject_name: more[0],
                            status: more[1],
                        },
                        hash,
                    })
                }
            }
        })
    }
}

/// Screens lines on any thread: a [`Prefilter`] configured as its
/// [`EcsPipeline`](super::EcsPipeline) configures its own, and the pipeline's rule.
/// Made by [`EcsPipeline::screener`](super::EcsPipeline::screener); clone one per
/// thread.
///
/// # Example
///
/// Screen on a worker thread, feed in order on this one:
///
/// ```
/// use std::sync::Arc;
/// use shareexec::input::{EcsPipeline, Fed, Prefiltering};
/// use shareexec::{Config, Detector, Rule};
///
/// let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
/// let mut pipeline = EcsPipeline::new(detector, Prefiltering::Fast);
/// let start = br#"{"@timestamp":"2024-01-03T14:00:02Z","event":{"category":"process","type":"start"},
///     "host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:\\x.exe"}}"#;
/// let lines: Vec<&[u8]> = vec![
///     br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"network","type":"info"}}"#,
///     start,
///     start,
/// ];
/// let mut screener = pipeline.screener();
/// let screenings = std::thread::scope(|s| {
///     s.spawn(|| lines.iter().map(|l| screener.screen(l)).collect::<Vec<_>>()).join().unwrap()
/// });
/// let fed: Vec<Fed> = lines.iter().zip(&screenings).zip(1..)
///     .map(|((l, s), n)| pipeline.feed_screened(l, n, s).unwrap())
///     .collect();
/// // Process starts are handed over whole from the screening (no decode).
/// assert_eq!(fed, [Fed::Skipped, Fed::Fast, Fed::Fast]);
/// ```
#[derive(Clone, Debug)]
pub struct Screener<P: TrustPolicy = SignerPolicy> {
    /// `None`: the pipeline's prefilter is off (every line is decoded).
    pub(crate) prefilter: Option<Prefilter>,
    pub(crate) rule: Arc<Rule<P>>,
}

impl<P: TrustPolicy> Screener<P> {
    /// [`screen`](Self::screen), and when that says "decode" (the line is not skipped
    /// and is no process start the detector may take from the screening), the full
    /// decode too, into `decoded` (its buffers are reused); when the screening read a
    /// process start or a possible write whole, a copy of that event: the decoding
    /// thread then only hands the events over
    /// ([`EcsPipeline::feed_decoded`](super::EcsPipeline::feed_decoded)), without
    /// checking and copying the event's strings out of the line again.
    pub fn screen_and_decode(&mut self, line: &[u8], decoded: &mut Decoded) -> Screening {
        decoded.clear();
        let screening = self.screen_keeping(line, Some(decoded));
        // An owned event locates its strings with 32-bit offsets: a line over 4 GiB is
        // left to the decoding thread.
        if screening.is_decode() && !is_blank(line) && u32::try_from(line.len()).is_ok() {
            decoded.line_len = Some(line.len());
            match EcsRecord::parse(line) {
                Ok(record) => {
                    for event in record.events(0) {
                        let text = decoded.spare.pop().unwrap_or_default();
                        decoded.events.push(OwnedEvent::new(&event, text));
                    }
                }
                Err(error) => decoded.error = Some(error),
            }
        }
        screening
    }

    /// What the pipeline's prefilter decides about `line` (as
    /// [`Prefilter::screen`] would), held apart from the line. Never panics.
    pub fn screen(&mut self, line: &[u8]) -> Screening {
        self.screen_keeping(line, None)
    }

    /// [`screen`](Self::screen); with `keep`, a process start or possible write read
    /// whole is also copied into it (its `events`, with `screened_len` set), so that
    /// the thread that applies the screening does not rebuild the event from the line.
    fn screen_keeping(&mut self, line: &[u8], keep: Option<&mut Decoded>) -> Screening {
        let decode = Screening::decode(line.len());
        let Some(prefilter) = &mut self.prefilter else {
            return decode;
        };
        let mut raw = Raw::default();
        let scanned = match prefilter.triage(line, &mut raw) {
            Triage::Skip => {
                return Screening {
                    line_len: line.len(),
                    kind: Kind::Skip {
                        events: 0,
                        unvalidated: true,
                    },
                };
            }
            Triage::Decode => return decode,
            Triage::Scanned(scanned) => scanned,
        };
        // The event read whole, by its byte ranges; not in the line (cannot happen: the
        // walk borrows from it), the full decode, which is always correct. The event's
        // text is made only here, for an event handed over (see `Scanned`).
        let decision = scanned.decide(&self.rule);
        let (kind, event) = match decision {
            Decision::Skip { events } => {
                let kind = Kind::Skip {
                    events,
                    unvalidated: false,
                };
                (kind, None)
            }
            Decision::Execution | Decision::Write => {
                let file = decision == Decision::Write;
                let bytes = EventBytes::of(line, &scanned, file);
                match (bytes, scanned.into_screened()) {
                    (Some(bytes), Some(s)) if file => {
                        (Kind::Write(bytes), Some(Event::File(s.file_event(0))))
                    }
                    (Some(bytes), Some(s)) => (
                        Kind::Execution(bytes),
                        Some(Event::Process(s.process_event(0))),
                    ),
                    _ => (Kind::Decode, None),
                }
            }
            Decision::Decode => (Kind::Decode, None),
        };
        // An owned event locates its strings with 32-bit offsets: not for a line over
        // 4 GiB (none of whose strings could be located then).
        if let (Some(decoded), Some(event), true) = (keep, event, u32::try_from(line.len()).is_ok())
        {
            let text = decoded.spare.pop().unwrap_or_default();
            decoded.events.push(OwnedEvent::new(&event, text));
            decoded.screened_len = Some(line.len());
        }
        Screening {
            line_len: line.len(),
            kind,
        }
    }
}

/// A line decoded in full by [`Screener::screen_and_decode`] (on any thread): the
/// decoder's result, with the events' strings copied (one buffer per event, reused by
/// the next line decoded into the same `Decoded`); or the one event its screening
/// read whole, copied the same way.
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use shareexec::input::{Decoded, EcsPipeline, Fed, Prefiltering};
/// use shareexec::{Config, Detector, Rule};
///
/// let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
/// let mut pipeline = EcsPipeline::new(detector, Prefiltering::Validating);
/// let lines: [&[u8]; 2] = [
///     br#"{"@timestamp":"2024-01-03T14:00:01Z","event":{"category":"file","type":"creation"},
///         "host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},
///         "file":{"path":"C:\\x.exe","extension":"exe"},"message":"caf\u00e9"}"#,
///     br#"{"@timestamp":"2024-01-03T14:00:02Z","event":{"category":"process","type":"start"},
///         "host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:\\x.exe"}}"#,
/// ];
/// let mut screener = pipeline.screener();
/// // On a worker thread: screen, and decode what is not skipped.
/// let work: Vec<_> = std::thread::scope(|s| {
///     s.spawn(|| {
///         lines.iter().map(|l| {
///             let mut decoded = Decoded::new();
///             (screener.screen_and_decode(l, &mut decoded), decoded)
///         }).collect()
///     }).join().unwrap()
/// });
/// // Here, in order: only the detector's work is left. The write (with a `\u` escape,
/// // which the scan leaves to the decoder) was decoded; the process start was read
/// // whole by the screening itself.
/// let mut fed = Vec::new();
/// for (n, (line, (screening, decoded))) in lines.iter().zip(&work).enumerate() {
///     fed.push(pipeline.feed_decoded(line, n as u64 + 1, screening, decoded).unwrap());
/// }
/// assert_eq!(fed, [Fed::Decoded, Fed::Fast]);
/// assert!(work[0].1.is_decoded() && !work[1].1.is_decoded());
/// pipeline.detector_mut().flush();
/// assert!(pipeline.detector_mut().poll_verdict().unwrap().as_alert().is_some());
/// ```
#[derive(Debug, Default)]
pub struct Decoded {
    /// The length of the line decoded; `None` when none was.
    pub(crate) line_len: Option<usize>,
    /// The length of the line whose screening read its event whole (`events` holds
    /// that event); `None` when it did not.
    pub(crate) screened_len: Option<usize>,
    pub(crate) error: Option<EcsError>,
    // A `Vec` (allocated once, then reused): a `Decoded` is kept per line slot of a
    // batch, so its own size counts.
    pub(crate) events: Vec<OwnedEvent>,
    /// The length of the line [`decode_sysmon`](Self::decode_sysmon) decoded (`events`
    /// holds its events) or failed on (`sysmon_error`); `None` when it did not.
    sysmon_len: Option<usize>,
    /// Boxed: rare, and the size of a `Decoded` counts (see `events`).
    sysmon_error: Option<alloc::boxed::Box<SysmonError>>,
    /// Buffers of earlier events, for reuse.
    spare: Vec<String>,
}

impl Decoded {
    /// Empty, no line decoded.
    pub fn new() -> Decoded {
        Decoded::default()
    }

    /// Forgets the line decoded. Its buffers are kept for the next one, but for those
    /// of a big line (over 4 KiB): memory is not pinned by one line decoded once.
    pub fn clear(&mut self) {
        const KEEP_CAPACITY: usize = 4096;
        self.line_len = None;
        self.screened_len = None;
        self.error = None;
        self.sysmon_len = None;
        self.sysmon_error = None;
        self.spare.extend(
            self.events
                .drain(..)
                .map(OwnedEvent::into_text)
                .filter(|text| text.capacity() <= KEEP_CAPACITY),
        );
    }

    /// Whether a line was decoded in full as ECS ([`Screener::screen_and_decode`]); false
    /// after [`decode_sysmon`](Self::decode_sysmon), whose decode
    /// [`sysmon_events`](Self::sysmon_events) tells.
    pub fn is_decoded(&self) -> bool {
        self.line_len.is_some()
    }

    /// Decodes `line` as one Sysmon event in JSON, as
    /// [`decode_sysmon_line`](super::decode_sysmon_line) does, on any thread, and keeps
    /// copies of its events (buffers reused, as for ECS lines) for
    /// [`sysmon_events`](Self::sysmon_events) to hand over on the detecting thread.
    /// Forgets what it held first. A line of 4 GiB or more is not decoded here (its
    /// events' strings could not be located with 32-bit offsets): `Ok`, and
    /// `sysmon_events` gives `None`, so that the detecting thread decodes it.
    ///
    /// # Errors
    ///
    /// The error of `decode_sysmon_line`, which is also kept for `sysmon_events`.
    ///
    /// # Example
    ///
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::input::Decoded;
    /// use shareexec::{Config, Detector, Rule};
    ///
    /// let lines: [&[u8]; 2] = [
    ///     br#"{"EventID":11,"UtcTime":"2024-01-03 14:00:01.000","Computer":"h1","ProcessId":4,"Image":"System","TargetFilename":"C:\\x.exe"}"#,
    ///     br#"{"EventID":1,"UtcTime":"2024-01-03 14:00:02.000","Computer":"h1","ProcessId":7,"Image":"C:\\x.exe"}"#,
    /// ];
    /// // On a worker thread: decode.
    /// let work: Vec<Decoded> = std::thread::scope(|s| {
    ///     s.spawn(|| {
    ///         lines.iter().map(|l| {
    ///             let mut decoded = Decoded::new();
    ///             decoded.decode_sysmon(l).unwrap();
    ///             decoded
    ///         }).collect()
    ///     }).join().unwrap()
    /// });
    /// // Here, in order: hand the events over.
    /// let mut detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
    /// for (n, (line, decoded)) in lines.iter().zip(&work).enumerate() {
    ///     for event in decoded.sysmon_events(line, n as u64 + 1).unwrap().unwrap() {
    ///         detector.handle(event);
    ///     }
    /// }
    /// detector.flush();
    /// assert!(detector.poll_verdict().unwrap().as_alert().is_some());
    /// ```
    pub fn decode_sysmon(&mut self, line: &[u8]) -> Result<(), &SysmonError> {
        self.clear();
        if u32::try_from(line.len()).is_err() {
            return Ok(());
        }
        match decode_sysmon_events(line) {
            Ok(record) => {
                for event in record.iter().flat_map(|r| r.events(0)) {
                    let text = self.spare.pop().unwrap_or_default();
                    self.events.push(OwnedEvent::new(&event, text));
                }
                if !self.events.iter().all(OwnedEvent::is_exact) {
                    self.clear();
                    return Ok(());
                }
                self.sysmon_len = Some(line.len());
                Ok(())
            }
            Err(error) => {
                self.sysmon_len = Some(line.len());
                Err(self.sysmon_error.insert(alloc::boxed::Box::new(error)))
            }
        }
    }

    /// What [`decode_sysmon`](Self::decode_sysmon) made of `line`: its events, at
    /// `position` and in order, to hand to the detector as
    /// [`decode_sysmon_line`](super::decode_sysmon_line)'s would be; or its error.
    /// `None` when this holds no Sysmon decode of a line of `line`'s length (decode
    /// `line` itself then).
    #[allow(clippy::type_complexity)]
    pub fn sysmon_events(
        &self,
        line: &[u8],
        position: Position,
    ) -> Option<Result<impl Iterator<Item = Event<'_>> + '_, &SysmonError>> {
        if self.sysmon_len != Some(line.len()) {
            return None;
        }
        Some(match &self.sysmon_error {
            Some(error) => Err(&**error),
            None => Ok(self.events.iter().map(move |e| e.event_at(position))),
        })
    }
}
