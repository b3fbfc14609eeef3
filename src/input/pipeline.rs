//! ECS NDJSON lines into a detector, with the prefilter off, validating, or fast.

use super::common::is_blank;
use super::ecs::{EcsError, EcsRecord};
use super::prefilter::{Prefilter, Raw, Screen, Triage};
use super::screening::{Decoded, Kind, Screener, Screening};
use crate::detector::Detector;
use crate::event::{Event, Position};
use crate::trust::{SignerPolicy, TrustPolicy};

/// How an [`EcsPipeline`] uses the [`Prefilter`]. The detector's state and verdicts
/// are the same in all three.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Prefiltering {
    /// Every non-blank line is decoded (and so validated) in full.
    Off,
    /// Skips only lines the scanner walked and accepted, which are lines the decoder
    /// accepts (claim 1 of the [`Prefilter`] docs): every line the decoder would refuse
    /// is still decoded and reported, so the errors are the same as with `Off` too.
    #[default]
    Validating,
    /// Also skips, without any parse, lines in which `"file"` and `"process"` occur
    /// only as keys ([`lacks_rule_category`](super::lacks_rule_category), claim 0):
    /// the fastest, but such a line is **not validated**, so a bad one is not reported
    /// ([`PipelineStats::unvalidated`] counts them).
    Fast,
}

/// How [`EcsPipeline::feed`] dealt with a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fed {
    /// Empty or JSON whitespace only: nothing to do (as [`decode_line`](super::decode_line)).
    Blank,
    /// The prefilter proved the line holds no candidate; it was not decoded, only
    /// counted as the events it holds (see [`Prefiltering`] for what was validated).
    Skipped,
    /// A process start or a possible write handed over whole from the prefilter's scan,
    /// without the full decode.
    Fast,
    /// Decoded fully and handed over.
    Decoded,
}

/// Line counts of an [`EcsPipeline`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PipelineStats {
    /// Lines fed, blank ones included.
    pub lines: u64,
    /// Lines the prefilter skipped (all of them, validated or not).
    pub skipped: u64,
    /// Of those, the lines skipped without any parse ([`Prefiltering::Fast`] only):
    /// **not validated**.
    pub unvalidated: u64,
    /// Process starts and possible writes handed over whole from the scan, without the
    /// full decode.
    pub fast: u64,
    /// Lines decoded fully (accepted or not).
    pub decoded: u64,
}

/// ECS NDJSON lines in, a [`Detector`] fed: the library form of what the `shareexec`
/// command does with an ECS line, with the [`Prefilter`] off, validating or fast (see
/// [`Prefiltering`]).
///
/// With the prefilter **off**, every non-blank line is decoded by
/// [`EcsRecord::parse`] and its events handed to the detector. Otherwise a line the
/// prefilter proves irrelevant is skipped (the detector only counts its events, see
/// [`Detector::count_irrelevant`]), and a process start or a possible write the scanner
/// could read whole is handed over from the scan; every other line is decoded as with
/// it off. The
/// detector's state and verdicts are the same either way.
///
/// **The trade-off** is validation: [`Prefiltering::Validating`] skips only lines the
/// decoder would accept, so it reports the same bad lines as `Off`;
/// [`Prefiltering::Fast`] also skips lines it has not parsed at all, and a bad line
/// among those is not reported ([`PipelineStats::unvalidated`] counts them).
///
/// # Example
///
/// ```
/// use std::sync::Arc;
/// use shareexec::input::{EcsPipeline, Fed, Prefiltering};
/// use shareexec::{Config, Detector, Rule};
///
/// let detector = Detector::new(Arc::new(Rule::elasticsearch()), Config::default()).unwrap();
/// let mut pipeline = EcsPipeline::new(detector, Prefiltering::Validating);
/// let lines: [&[u8]; 3] = [
///     br#"{"@timestamp":"2024-01-03T14:00:00Z","event":{"category":"network","type":"info"}}"#,
///     br#"{"@timestamp":"2024-01-03T14:00:01Z","event":{"category":"file","type":"creation"},
///         "host":{"id":"h1","os":{"type":"windows"}},"process":{"pid":4},
///         "file":{"path":"C:\\Windows\\evil.exe","extension":"exe"}}"#,
///     br#"{"@timestamp":"2024-01-03T14:00:02Z","event":{"category":"process","type":"start"},
///         "host":{"id":"h1","os":{"type":"windows"}},"process":{"executable":"C:\\Windows\\evil.exe"}}"#,
/// ];
/// let fed: Vec<Fed> = lines.iter().zip(1..).map(|(l, n)| pipeline.feed(l, n).unwrap()).collect();
/// // The write and the start are read whole by the prefilter's scan: no full decode.
/// assert_eq!(fed, [Fed::Skipped, Fed::Fast, Fed::Fast]);
/// assert!(pipeline.detector_mut().poll_verdict().unwrap().as_alert().is_some());
/// assert_eq!(pipeline.stats().skipped, 1);
/// ```
#[derive(Debug)]
pub struct EcsPipeline<P: TrustPolicy = SignerPolicy> {
    detector: Detector<P>,
    prefilter: Option<Prefilter>,
    mode: Prefiltering,
    stats: PipelineStats,
}

impl<P: TrustPolicy> EcsPipeline<P> {
    /// Feeds `detector`, with the prefilter used as `mode` says.
    pub fn new(detector: Detector<P>, mode: Prefiltering) -> Self {
        EcsPipeline {
            detector,
            prefilter: (mode != Prefiltering::Off)
                .then(|| Prefilter::new().with_validation(mode == Prefiltering::Validating)),
            mode,
            stats: PipelineStats::default(),
        }
    }

    /// How the prefilter is used.
    pub fn prefiltering(&self) -> Prefiltering {
        self.mode
    }

    /// Decodes (or screens) one NDJSON line and hands its events to the detector, all
    /// at `position`. Poll the detector afterwards.
    ///
    /// # Errors
    ///
    /// The decoder's error for a line it refuses (nothing reaches the detector). A
    /// skipped line is never an error.
    pub fn feed(&mut self, line: &[u8], position: Position) -> Result<Fed, EcsError> {
        self.stats.lines += 1;
        if is_blank(line) {
            return Ok(Fed::Blank);
        }
        let EcsPipeline {
            detector,
            prefilter,
            stats,
            ..
        } = self;
        let mut raw = Raw::default();
        let screen = prefilter
            .as_mut()
            .map(|prefilter| match prefilter.triage(line, &mut raw) {
                Triage::Skip => (Screen::Skip { events: 0 }, true),
                Triage::Decode => (Screen::Decode, false),
                Triage::Scanned(scanned) => (scanned.screen(detector.rule(), position), false),
            });
        apply(detector, stats, line, position, screen)
    }

    /// A [`Screener`] for this pipeline: screens lines on any thread as
    /// [`feed`](Self::feed) would here (same prefilter mode, same rule), for
    /// [`feed_screened`](Self::feed_screened).
    pub fn screener(&self) -> Screener<P> {
        Screener {
            prefilter: self.prefilter.clone(),
            rule: self.detector.rule().clone(),
        }
    }

    /// [`feed`](Self::feed) with the prefilter's work already done (by a [`Screener`]
    /// of this pipeline, on `line`, possibly on another thread): the same detector
    /// state, verdicts, errors and counts as `feed(line, position)`. Feed lines in
    /// order, as with `feed`; poll the detector afterwards.
    ///
    /// A screening that does not fit is not trusted: one made for a line of another
    /// length is screened again here, and one that skipped a line without validating it
    /// counts as "decode" unless this pipeline is [`Prefiltering::Fast`]. (A screening of
    /// another line of the same length, or under another rule, is the caller's error: it
    /// may skip a candidate.)
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed).
    pub fn feed_screened(
        &mut self,
        line: &[u8],
        position: Position,
        screening: &Screening,
    ) -> Result<Fed, EcsError> {
        let EcsPipeline {
            detector,
            prefilter,
            stats,
            mode,
        } = self;
        let Some(prefilter) = prefilter else {
            return self.feed(line, position);
        };
        let unvalidated = matches!(
            screening.kind,
            Kind::Skip {
                unvalidated: true,
                ..
            }
        );
        if unvalidated && *mode != Prefiltering::Fast {
            stats.lines += 1;
            if is_blank(line) {
                return Ok(Fed::Blank);
            }
            return apply(
                detector,
                stats,
                line,
                position,
                Some((Screen::Decode, false)),
            );
        }
        let Some(screen) = screening.rebuild(line, position, prefilter) else {
            return self.feed(line, position);
        };
        stats.lines += 1;
        if is_blank(line) {
            return Ok(Fed::Blank);
        }
        apply(detector, stats, line, position, Some((screen, unvalidated)))
    }

    /// [`feed_screened`](Self::feed_screened) with the full decode already done too (by
    /// [`Screener::screen_and_decode`] of this pipeline, on `line`, possibly on another
    /// thread): the same detector state, verdicts, errors and counts as
    /// `feed(line, position)`. Feed lines in order; poll the detector afterwards.
    ///
    /// `decoded` is used only where `feed` would decode the line fully and both it and
    /// `screening` were made of a line of this length; otherwise this is
    /// `feed_screened`.
    ///
    /// # Errors
    ///
    /// As [`feed`](Self::feed) (the decoder's error, as the screening thread met it).
    pub fn feed_decoded(
        &mut self,
        line: &[u8],
        position: Position,
        screening: &Screening,
        decoded: &Decoded,
    ) -> Result<Fed, EcsError> {
        // Where `feed` decodes in full: the prefilter is off, or it says "decode".
        let full = self.prefilter.is_none() || screening.is_decode();
        let fits = decoded.line_len == Some(line.len()) && screening.line_len == line.len();
        if !full || !fits || is_blank(line) {
            // A process start or write the screening read whole, copied by the
            // screening thread: handed over as `feed_screened` would after rebuilding
            // it from the line (`apply`'s arms for `Screen::Execution` and `Write`).
            let whole = matches!(screening.kind, Kind::Execution(_) | Kind::Write(_));
            if whole
                && self.prefilter.is_some()
                && decoded.screened_len == Some(line.len())
                && screening.line_len == line.len()
                && let [event] = decoded.events.as_slice()
            {
                self.stats.lines += 1;
                self.stats.fast += 1;
                self.detector.handle(event.event_at(position));
                return Ok(Fed::Fast);
            }
            return self.feed_screened(line, position, screening);
        }
        self.stats.lines += 1;
        self.stats.decoded += 1;
        if let Some(error) = &decoded.error {
            return Err(error.clone());
        }
        for event in &decoded.events {
            self.detector.handle(event.event_at(position));
        }
        Ok(Fed::Decoded)
    }

    /// Line counts so far.
    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// The detector.
    pub fn detector(&self) -> &Detector<P> {
        &self.detector
    }

    /// The detector, to poll verdicts, advance, flush, or hand it other events.
    pub fn detector_mut(&mut self) -> &mut Detector<P> {
        &mut self.detector
    }

    /// The detector, pipeline dropped.
    pub fn into_detector(self) -> Detector<P> {
        self.detector
    }
}

/// The pipeline's work on one non-blank line after the prefilter's `screen` (and
/// whether a skip was unvalidated), or without one.
fn apply<P: TrustPolicy>(
    detector: &mut Detector<P>,
    stats: &mut PipelineStats,
    line: &[u8],
    position: Position,
    screen: Option<(Screen<'_>, bool)>,
) -> Result<Fed, EcsError> {
    match screen {
        Some((Screen::Skip { events }, unvalidated)) => {
            detector.count_irrelevant(u64::from(events));
            stats.skipped += 1;
            if unvalidated {
                stats.unvalidated += 1;
            }
            return Ok(Fed::Skipped);
        }
        // The whole event, as the decoder would make it (claim 3 of the prefilter).
        Some((Screen::Execution(event), _)) => {
            detector.handle(Event::Process(event));
            stats.fast += 1;
            return Ok(Fed::Fast);
        }
        Some((Screen::Write(event), _)) => {
            detector.handle(Event::File(event));
            stats.fast += 1;
            return Ok(Fed::Fast);
        }
        _ => {}
    }
    stats.decoded += 1;
    let record = EcsRecord::parse(line)?;
    for event in record.events(position) {
        detector.handle(event);
    }
    Ok(Fed::Decoded)
}
