//! Read-only questions an input pipeline may ask the detector before it pays for a full
//! decode, and the one bookkeeping call that stands for events it never decoded.
//!
//! [`EcsPipeline`](crate::input::EcsPipeline) uses [`Detector::count_irrelevant`] for
//! the lines its prefilter skips (see [`crate::input::Prefilter`] for the proof that
//! ties it to the decoder). Its process starts no longer need
//! [`Detector::execution_needs_full_event`]: the prefilter's scan reads them whole.
//! The question stays for pipelines of their own that read only a process start's
//! join key and clock fields.

use crate::config::MAX_HOST_ID_BYTES;
use crate::detector::Detector;
use crate::event::ProcessEvent;
use crate::trust::TrustPolicy;

impl<P: TrustPolicy> Detector<P> {
    /// Counts `n` events that are not candidates of either stage, without handing them
    /// over: exactly what [`handle`](Self::handle) does with such an event (it counts
    /// it, in [`Stats::events`](crate::Stats::events) and in the arrival order, and
    /// returns before reading or changing anything else).
    ///
    /// Use it for events an input pipeline proved irrelevant without decoding them, so
    /// that the counters and the event-count-driven maintenance (the idle-host sweep
    /// every `sweep_interval` events) stay exactly where they would have been.
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::{Config, Detector, Rule};
    /// let mut detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
    /// detector.count_irrelevant(3);
    /// assert_eq!(detector.stats().events, 3);
    /// ```
    pub fn count_irrelevant(&mut self, n: u64) {
        self.stats.events = self.stats.events.wrapping_add(n);
        self.arrival = self.arrival.wrapping_add(n);
    }

    /// Whether handling the full process event could differ from handling `event`, a
    /// copy of it that lacks the fields only a match reads: `origin.id`, `pid`,
    /// `code_signature` and `hash` (everything else — timestamp, sequence, position,
    /// host id, `host.os.type`, types, executable — equal to the full event's).
    /// Read-only. `false` means: handle `event` instead of the full one, and the
    /// detector ends in the same state with the same verdicts.
    ///
    /// `true` (decode the line fully) when the event:
    /// - would be **late** (its `Late` verdict names the event by id), or
    /// - would be **held** for reordering (the held copy is kept whole and may match
    ///   when released, and its size counts against the buffer caps) — which is every
    ///   in-order candidate at a lateness above zero, and in hardened semantics every
    ///   candidate that does not trail its host's clock; so the fast path pays only at
    ///   lateness 0 under Elasticsearch semantics, or
    /// - comes while its host **holds** events (conservative: the order against them
    ///   reads the sequence), or
    /// - is from a host **not yet tracked** (conservative), or
    /// - finds a **pending write** under its `(host, path)` key, compared as the
    ///   semantics compare paths (a match, or a suppression, reads every field).
    ///
    /// # Why `false` is exact
    ///
    /// Follow [`handle`](Self::handle) with either event. It reads `types` and
    /// `os_type` for [`Rule::is_execution`](crate::Rule::is_execution) (equal), then
    /// the host id and executable (equal): a non-candidate or unkeyed event is counted
    /// identically and dropped (we answer `false` for those). The host is tracked (else
    /// `true`), so no host is created. `admit` reads the timestamp: not late (else
    /// `true`), so `seen` moves identically and no verdict is made; `releasable` at the
    /// new `seen` holds (else `true`) and the host's buffer is empty (else `true`), so
    /// `admit` takes its in-order branch: the event is processed at once, not copied,
    /// and nothing is released. `process` moves the host's `now` and expires writes by
    /// timestamp only, then looks the executable up among the host's pending writes
    /// (`pending_write`: the host's path-class filter, then the same `window.find` this
    /// method asks, so it finds an entry only where `window.find` does): there was no
    /// entry before expiry (else `true`), and expiry only removes, so there is none
    /// after, and it returns before reading any other field. `maybe_sweep` reads
    /// counters and host clocks, equal in both runs. No step read `origin.id`, `pid`,
    /// `code_signature` or `hash`. ∎
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::*;
    /// let mut d = Detector::new(Arc::new(Rule::elasticsearch()), Config::default()).unwrap();
    /// let at = |ms| Origin { timestamp: Timestamp::from_millis(ms), ..Origin::default() };
    /// let start = |ms, exe| ProcessEvent { origin: at(ms), host_id: Some("h"),
    ///     os_type: Some("windows"), types: EventTypes::START, executable: Some(exe),
    ///     ..ProcessEvent::default() };
    /// assert!(d.execution_needs_full_event(&start(1, "C:\\a.exe")), "host not yet tracked");
    /// d.handle(Event::Process(start(1, "C:\\a.exe")));
    /// assert!(!d.execution_needs_full_event(&start(2, "C:\\a.exe")), "nothing pending");
    /// d.handle(Event::File(FileEvent { origin: at(3), host_id: Some("h"), os_type: Some("windows"),
    ///     types: EventTypes::CREATION, pid: Some(4), path: Some("C:\\a.exe"),
    ///     extension: Some("exe"), ..FileEvent::default() }));
    /// assert!(d.execution_needs_full_event(&start(4, "C:\\a.exe")), "a write is pending");
    /// assert!(!d.execution_needs_full_event(&start(4, "C:\\b.exe")));
    /// ```
    pub fn execution_needs_full_event(&self, event: &ProcessEvent<'_>) -> bool {
        if !self.rule.is_execution(event) {
            return false;
        }
        let (Some(host_id), Some(executable)) = (event.host_id, event.executable) else {
            return false;
        };
        if host_id.len() > MAX_HOST_ID_BYTES {
            return false;
        }
        let Some(slot) = self.hosts.find(&self.keys, host_id) else {
            return true;
        };
        let Some(host) = self.hosts.get(slot) else {
            return true;
        };
        let ts = event.origin.timestamp;
        let late = ts < host.seen.saturating_sub(self.config.max_lateness)
            || self.watermark.is_some_and(|w| ts <= w);
        if late || !host.buffer.is_empty() || !self.releasable(ts, host.seen.max(ts)) {
            return true;
        }
        self.window.find(&self.keys, slot, executable).is_some()
    }
}
