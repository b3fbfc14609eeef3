//! The sans-IO state machine: events in, verdicts out.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::iter::FusedIterator;

use crate::config::{Config, MAX_HOST_ID_BYTES, VERDICT_SCRATCH_BYTES};
use crate::error::ConfigError;
use crate::event::{Event, Origin};
use crate::hosts::{HELD_OVERHEAD, Held, Hosts, OrderKey};
use crate::keys::{KeyHasher, PathMatch};
use crate::owned::{OwnedEvent, TextPool};
use crate::rule::{Rule, RuleMeta, Semantics};
use crate::stable_hash::StableHasher;
use crate::stats::Stats;
use crate::time::{Span, Timestamp};
use crate::trust::{SignerPolicy, TrustPolicy};
use crate::verdict::{
    AlertId, EventRef, Late, OwnedHashes, Packer, Placed, Sequence, Signature, Stage, Suppression,
    Verdict,
};
use crate::window::{Entry, Window, entry_string_bytes};

/// Detects the rule in a stream of events.
///
/// Feed events with [`handle`](Detector::handle) in arrival order, then take what it
/// concluded with [`poll_verdict`](Detector::poll_verdict) (or
/// [`drain_verdicts`](Detector::drain_verdicts)) until it returns `None`. At the end
/// of the input call [`flush`](Detector::flush) and poll again. If events may stop
/// arriving for a while, tell the detector how far time has gone with
/// [`advance`](Detector::advance) (a watermark), and ask
/// [`next_deadline`](Detector::next_deadline) when to do so next.
///
/// The detector reads no clock and performs no I/O: its output depends only on the
/// events and calls it receives (and, for hash-table layout only, on the hash seed).
/// It never panics on any input; memory stays within [`Config::memory_bound`].
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use shareexec::*;
///
/// let mut detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
/// let origin = |s: i64| Origin { timestamp: Timestamp::from_millis(s * 1000), ..Default::default() };
/// detector.handle(Event::File(FileEvent {
///     origin: origin(0), host_id: Some("h1"), os_type: Some("windows"),
///     types: EventTypes::CREATION, pid: Some(4),
///     path: Some("C:\\Windows\\evil.exe"), extension: Some("exe"), ..Default::default()
/// }));
/// detector.handle(Event::Process(ProcessEvent {
///     origin: origin(10), host_id: Some("h1"), os_type: Some("windows"),
///     types: EventTypes::START, executable: Some("C:\\WINDOWS\\EVIL.EXE"), ..Default::default()
/// }));
/// detector.flush(); // end of input: release what is held (see "Latency" in the crate docs)
/// let alert = detector.poll_verdict().unwrap();
/// assert_eq!(alert.as_alert().unwrap().path.as_ref(), "C:\\Windows\\evil.exe");
/// ```
pub struct Detector<P = SignerPolicy> {
    pub(crate) rule: Arc<Rule<P>>,
    pub(crate) config: Config,
    pub(crate) keys: KeyHasher,
    pub(crate) hosts: Hosts,
    pub(crate) window: Window,
    pub(crate) pool: TextPool,
    /// Copies of held events; hosts' heaps point into it. A free cell (in
    /// `held_free`) is `None` or a released copy without its text.
    pub(crate) held: Vec<Option<OwnedEvent>>,
    pub(crate) held_free: Vec<u32>,
    pub(crate) out: VecDeque<Verdict>,
    pub(crate) stats: Stats,
    pub(crate) arrival: u64,
    pub(crate) buffered: usize,
    pub(crate) buffered_bytes: usize,
    pub(crate) watermark: Option<Timestamp>,
    pub(crate) next_sweep: u64,
    pub(crate) next_host_scan: u64,
    pub(crate) scratch: Vec<Timestamp>,
    /// Builds the sequences of verdicts.
    pub(crate) sequences: SequenceMaker,
}

/// A pending write found for a key: its slot in the window and the key's hash.
#[derive(Clone, Copy)]
struct Found {
    entry: u32,
    hash: u64,
}

/// What building a verdict's [`Sequence`] reuses from one to the next.
pub(crate) struct SequenceMaker {
    rule: &'static RuleMeta,
    /// Where a sequence's strings are packed before their one allocation.
    scratch: String,
}

impl SequenceMaker {
    /// The verdict's sequence. Its strings are packed into one shared allocation
    /// (`scratch` is reused), and the alert id hashing starts from the host's
    /// `alert_seed` ([`AlertId::host_seed`]).
    fn make(
        &mut self,
        host_id: Arc<str>,
        alert_seed: StableHasher,
        write: &Entry,
        exe: &str,
        p: &crate::event::ProcessEvent<'_>,
        span: Span,
    ) -> Sequence {
        let (w, wh) = write.origin_and_hash();
        let (e, eh, sig) = (&p.origin, &p.hash, &p.code_signature);
        let mut pack = Packer::new(&mut self.scratch);
        let path = pack.put(write.path());
        // Under Elasticsearch semantics (and mostly under hardened) the executable is
        // the path byte for byte: one copy serves both.
        let executable = if exe == write.path() {
            path
        } else {
            pack.put(exe)
        };
        let ids = [pack.put_opt(w.id), pack.put_opt(e.id)];
        let signer = [pack.put_opt(sig.subject_name), pack.put_opt(sig.status)];
        let hashes = [
            pack.put_opt(wh.sha256),
            pack.put_opt(wh.sha1),
            pack.put_opt(wh.md5),
            pack.put_opt(eh.sha256),
            pack.put_opt(eh.sha1),
            pack.put_opt(eh.md5),
        ];
        let buf = pack.finish();
        // Kept for the next verdict, unless an outsized one (the process event's
        // strings have no cap) grew it past what `Config::memory_bound` counts.
        if self.scratch.capacity() > VERDICT_SCRATCH_BYTES {
            self.scratch = String::new();
        }
        let text = |p: Option<Placed>| p.map(|p| p.text(&buf));
        let event_ref = |o: &Origin<'_>, id| EventRef {
            timestamp: o.timestamp,
            sequence: o.sequence,
            id: text(id),
            position: o.position,
        };
        let write_ref = event_ref(&w, ids[0]);
        let exec_ref = event_ref(e, ids[1]);
        Sequence {
            id: AlertId::derive(alert_seed, write.path(), &write_ref, &exec_ref),
            host_id,
            path: path.text(&buf),
            executable: executable.text(&buf),
            write: write_ref,
            execution: exec_ref,
            pid: p.pid,
            code_signature: Signature {
                exists: sig.exists,
                trusted: sig.trusted,
                subject_name: text(signer[0]),
                status: text(signer[1]),
            },
            file_hash: OwnedHashes {
                sha256: text(hashes[0]),
                sha1: text(hashes[1]),
                md5: text(hashes[2]),
            },
            process_hash: OwnedHashes {
                sha256: text(hashes[3]),
                sha1: text(hashes[4]),
                md5: text(hashes[5]),
            },
            span,
            rule: self.rule,
        }
    }
}

/// A summary (the state itself can be millions of entries).
impl<P: TrustPolicy> core::fmt::Debug for Detector<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Detector")
            .field("semantics", &self.rule.semantics())
            .field("config", &self.config)
            .field("pending", &self.window.len())
            .field("buffered", &self.buffered)
            .field("hosts", &self.hosts.len())
            .field("verdicts_waiting", &self.out.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<P: TrustPolicy> Detector<P> {
    /// A detector for `rule` with `config`.
    ///
    /// Fails when the configuration is inconsistent (see [`ConfigError`]).
    pub fn new(rule: Arc<Rule<P>>, config: Config) -> Result<Self, ConfigError> {
        config.validate(rule.meta().maxspan)?;
        let paths = match rule.semantics() {
            Semantics::Elasticsearch => PathMatch::Exact,
            _ => PathMatch::Folded,
        };
        let seed = config.hash_seed.unwrap_or_else(default_seed);
        let alert_seed = AlertId::seed(rule.meta());
        Ok(Detector {
            sequences: SequenceMaker {
                rule: rule.meta(),
                scratch: String::new(),
            },
            keys: KeyHasher::new(seed, paths),
            next_sweep: config.sweep_interval,
            rule,
            config,
            hosts: Hosts::new(alert_seed),
            window: Window::new(),
            pool: TextPool::default(),
            held: Vec::new(),
            held_free: Vec::new(),
            out: VecDeque::new(),
            stats: Stats::default(),
            arrival: 0,
            buffered: 0,
            buffered_bytes: 0,
            watermark: None,
            next_host_scan: 0,
            scratch: Vec::new(),
        })
    }

    /// The compiled rule.
    pub fn rule(&self) -> &Arc<Rule<P>> {
        &self.rule
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Counters and gauges, current.
    pub fn stats(&self) -> Stats {
        Stats {
            pending: self.window.len() as u64,
            buffered: self.buffered as u64,
            hosts: self.hosts.len() as u64,
            ..self.stats
        }
    }

    /// Bytes of strings held by pending writes (bounded by `max_pending_bytes`).
    pub fn pending_string_bytes(&self) -> usize {
        self.window.string_bytes()
    }

    /// Takes the oldest verdict not yet taken.
    ///
    /// Call it after every [`handle`](Self::handle), [`advance`](Self::advance) and
    /// [`flush`](Self::flush) until it returns `None`; verdicts wait in an unbounded
    /// queue until taken, so a caller that never polls grows it.
    pub fn poll_verdict(&mut self) -> Option<Verdict> {
        self.out.pop_front()
    }

    /// Takes every verdict not yet taken, oldest first. Those not iterated are
    /// dropped with the iterator, as with `Vec::drain`.
    ///
    /// Cheap to call after every event: with nothing waiting it costs a length check
    /// (`VecDeque::drain` costs some tens of instructions even when empty).
    pub fn drain_verdicts(
        &mut self,
    ) -> impl ExactSizeIterator<Item = Verdict> + DoubleEndedIterator + FusedIterator + '_ {
        Drained { out: &mut self.out }
    }

    /// Feeds one event, in arrival order.
    ///
    /// Events that cannot be part of a sequence cost a few comparisons and are
    /// forgotten. A candidate is held until its host's clock passes it by the
    /// configured lateness (under [`Semantics::Hardened`], by more than the lateness:
    /// an event of the same timestamp may still sort before it by `event.sequence`),
    /// so at lateness 0 an in-order candidate is processed at once under
    /// Elasticsearch semantics, and under Hardened when its host shows a newer
    /// timestamp (or at [`advance`](Self::advance) or [`flush`](Self::flush)). One
    /// that arrives later than the lateness is still used and reported as
    /// [`Verdict::Late`].
    ///
    /// Follow with [`poll_verdict`](Self::poll_verdict) until it returns `None`.
    #[inline]
    pub fn handle(&mut self, event: Event<'_>) {
        self.handle_ref(&event);
    }

    /// [`handle`](Self::handle) for an event the caller keeps (in a batch, behind a
    /// pointer): the same, without copying the event (some 200 bytes) into the call.
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::*;
    ///
    /// let mut detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
    /// let batch = [Event::File(FileEvent { host_id: Some("h1"), ..Default::default() })];
    /// for event in &batch {
    ///     detector.handle_ref(event);
    ///     for verdict in detector.drain_verdicts() {
    ///         println!("{verdict:?}");
    ///     }
    /// }
    /// assert_eq!(detector.stats().events, 1);
    /// ```
    #[inline]
    pub fn handle_ref(&mut self, event: &Event<'_>) {
        // Inlined into the caller: the stage predicates read the few fields they need
        // where the caller keeps the event, and only candidates (a minority) are
        // passed on, by reference.
        self.stats.events += 1;
        self.arrival += 1;
        let stage = match event {
            Event::File(f) if self.rule.is_write(f) => Stage::Write,
            Event::Process(p) if self.rule.is_execution(p) => Stage::Execution,
            _ => return,
        };
        self.candidate(stage, event);
    }

    /// A stage-1 or stage-2 candidate, just counted in `events`.
    #[inline(never)]
    fn candidate(&mut self, stage: Stage, event: &Event<'_>) {
        let (host_id, key) = match event {
            Event::File(f) => {
                self.stats.writes += 1;
                (f.host_id, f.path)
            }
            Event::Process(p) => {
                self.stats.executions += 1;
                (p.host_id, p.executable)
            }
        };
        let (Some(host_id), Some(_)) = (host_id, key) else {
            self.stats.unkeyed += 1;
            return;
        };
        if host_id.len() > MAX_HOST_ID_BYTES {
            self.stats.unkeyed += 1;
            return;
        }
        let slot = match self.hosts.find(&self.keys, host_id) {
            Some(slot) => slot,
            None => {
                match self.track_host(host_id) {
                    Some(slot) => slot,
                    None => {
                        // No room for another host: a write cannot be kept.
                        if stage == Stage::Write {
                            self.stats.evicted += 1;
                        }
                        return;
                    }
                }
            }
        };
        self.admit(slot, stage, event);
        self.maybe_sweep();
    }

    /// Admits a candidate of a tracked host: late, in order, or held for reordering.
    ///
    /// The common case (in order, nothing held: always so under Elasticsearch
    /// semantics at lateness 0) is processed here with the host at hand: its clocks
    /// move and a start looks up its pending write without fetching the host again
    /// (`process` would, out of line). Late and held events go on out of line.
    #[inline(always)]
    fn admit(&mut self, slot: u32, stage: Stage, event: &Event<'_>) {
        let lateness = self.config.max_lateness;
        let maxspan = self.rule.meta().maxspan;
        let ts = event.origin().timestamp;
        let Some(host) = self.hosts.get_mut(slot) else {
            return;
        };
        // Late: more than the lateness behind the host's clock, or at or before a
        // watermark (checked directly: `seen` saturates at the end of time).
        let before_watermark = self.watermark.is_some_and(|w| ts <= w);
        if ts < host.seen.saturating_sub(lateness) || before_watermark {
            self.admit_late(slot, stage, event);
            return;
        }
        host.seen = host.seen.max(ts);
        // `releasable(ts, seen)`, with the host still at hand.
        let horizon = host.seen.saturating_sub(lateness);
        let releasable = match self.rule.semantics() {
            Semantics::Elasticsearch => ts <= horizon,
            _ => ts < horizon,
        };
        if !(releasable && host.buffer.is_empty()) {
            self.admit_held(slot, event, releasable);
            return;
        }
        // Processed at once (what `process` does). Processing holds nothing, so
        // there is nothing to release after it either.
        if ts > host.now {
            host.now = ts;
            self.stats.expired += self
                .window
                .expire(&self.keys, &mut host.list, host.now, maxspan);
        }
        let (now, classes) = (host.now, host.list.classes);
        match event {
            Event::File(f) => self.process_write(slot, f, now, classes),
            Event::Process(p) => {
                let Some(exe) = p.executable else { return };
                let Some(found) = self.pending_write(classes, slot, exe) else {
                    return;
                };
                self.process_match(slot, p, exe, found);
            }
        }
    }

    /// A late candidate: reported, then processed (it may still join).
    #[inline(never)]
    fn admit_late(&mut self, slot: u32, stage: Stage, event: &Event<'_>) {
        let origin = event.origin();
        let Some(host) = self.hosts.get(slot) else {
            return;
        };
        let behind = host.seen.since(origin.timestamp);
        let host_id = host.id.clone();
        self.stats.late += 1;
        self.out.push_back(Verdict::Late(Late {
            host_id,
            stage,
            event: EventRef::from_origin(origin),
            behind,
        }));
        self.process(slot, event);
    }

    /// A candidate in time but not processable at once (it may still be preceded,
    /// or its host holds earlier events): processed now if nothing held sorts
    /// before it and it is releasable, else held; then what has become releasable
    /// is released. The host's `seen` has already moved; `releasable` is
    /// [`releasable`](Self::releasable) of the event at it.
    #[inline(never)]
    fn admit_held(&mut self, slot: u32, event: &Event<'_>, releasable: bool) {
        let key = self.order_key(event.origin());
        let first = self
            .hosts
            .get(slot)
            .is_some_and(|h| h.buffer.peek().is_none_or(|top| key < top.key));
        if releasable && first {
            self.process(slot, event);
        } else if self.hold(slot, key, event) && !releasable {
            // Held within the caps: `hold` released what the host's clock had passed
            // before pushing this event, which is not releasable either, so nothing
            // is (the usual case at lateness 0 under hardened semantics).
            return;
        }
        self.release(slot);
    }

    fn order_key(&self, origin: &Origin<'_>) -> OrderKey {
        let tiebreak = match (self.rule.semantics(), origin.sequence) {
            (Semantics::Elasticsearch, _) => (false, 0),
            // Hardened: equal timestamps in `event.sequence` order, events without
            // one after those with one, then by arrival.
            (_, Some(seq)) => (false, seq),
            (_, None) => (true, 0),
        };
        OrderKey {
            timestamp: origin.timestamp,
            tiebreak,
            arrival: self.arrival,
        }
    }

    /// Whether an event at `ts` may be processed when its host has seen `seen`:
    /// nothing that can still arrive in time would sort before it.
    pub(crate) fn releasable(&self, ts: Timestamp, seen: Timestamp) -> bool {
        let horizon = seen.saturating_sub(self.config.max_lateness);
        match self.rule.semantics() {
            // Equal timestamps sort by arrival: a later arrival goes after.
            Semantics::Elasticsearch => ts <= horizon,
            // Equal timestamps may still arrive with a smaller `event.sequence`.
            _ => ts < horizon,
        }
    }

    fn host_floor(&self) -> (Timestamp, Timestamp) {
        match self.watermark {
            Some(w) => (
                w.saturating_add(self.config.max_lateness)
                    .saturating_add(Span(1)),
                w,
            ),
            None => (Timestamp::MIN, Timestamp::MIN),
        }
    }

    fn track_host(&mut self, id: &str) -> Option<u32> {
        if self.hosts.len() >= self.config.max_hosts {
            if self.stats.events < self.next_host_scan {
                return None;
            }
            self.forget_idle_hosts();
            // Scanning costs O(hosts): spread it over at least as many events.
            self.next_host_scan = self.stats.events.saturating_add(self.hosts.len() as u64);
            if self.hosts.len() >= self.config.max_hosts {
                return None;
            }
        }
        let (seen, now) = self.host_floor();
        self.hosts.insert(&self.keys, id, seen, now)
    }

    /// Forgets every host with nothing pending or held, whatever its clock (also
    /// one at the end of time: such hosts would otherwise fill `max_hosts` for good).
    fn forget_idle_hosts(&mut self) {
        for slot in 0..self.hosts.slot_bound() {
            if self.hosts.get(slot).is_some_and(|h| h.is_idle()) {
                self.hosts.remove(&self.keys, slot);
            }
        }
    }

    /// Copies an event into its host's reorder buffer, within the buffer's caps.
    /// True if it fitted: then what was releasable before it has been released.
    /// Inlined into `admit_held`, its one caller on the hot path (hardened
    /// semantics hold every in-order candidate at lateness 0): a call of its own
    /// cost more than the copy's bookkeeping.
    #[inline(always)]
    fn hold(&mut self, slot: u32, key: OrderKey, event: &Event<'_>) -> bool {
        // The copy is written where it will be stored (a copy is some 150 bytes to
        // move), in a cell of the store taken now; it leaves it again (rarely) when
        // it does not fit. Which cell holds a copy is never visible.
        let text = self.pool.take();
        let index = match self.held_free.pop() {
            Some(i) => i,
            None => {
                self.held.push(None);
                (self.held.len() - 1) as u32
            }
        };
        let Some(cell) = self.held.get_mut(index as usize) else {
            return false;
        };
        // A released copy's cell keeps it, vacant (see `release_one`): it is filled
        // again where it lies, every field written, without building a vacant
        // copy first.
        let copy = match cell {
            Some(copy) => {
                copy.set_text(text);
                copy
            }
            None => cell.insert(OwnedEvent::vacant(text)),
        };
        let bytes = copy.fill_bytes(event) + HELD_OVERHEAD;
        // A copy whose text outgrows its `u32` offsets (an event of 4 GiB of strings) is
        // never stored: it would not read back exactly.
        let fits = copy.is_exact()
            && self.buffered < self.config.max_buffered
            && self.buffered_bytes.saturating_add(bytes) <= self.config.max_buffered_bytes;
        if fits {
            // What the host's clock has just passed sorts before this event (it is
            // at or before the horizon, this one after it): release it first, so the
            // heap is at its smallest when this one goes in (in order, it is empty).
            self.release(slot);
            self.push_held(slot, key, index, bytes);
            return true;
        }
        let Some(copy) = self.held.get_mut(index as usize).and_then(Option::take) else {
            return false;
        };
        self.held_free.push(index);
        // Over the caps: process early (counted) whichever comes first of this host's
        // earliest held event and this one, until this one fits or has gone.
        while !copy.is_exact()
            || self.buffered >= self.config.max_buffered
            || self.buffered_bytes.saturating_add(bytes) > self.config.max_buffered_bytes
        {
            self.stats.forced += 1;
            let earlier_held = self
                .hosts
                .get(slot)
                .and_then(|h| h.buffer.peek())
                .is_some_and(|top| top.key < key);
            if !earlier_held || !self.release_one(slot) {
                // The event itself, which the copy equals when it is exact.
                self.process(slot, event);
                self.pool.give(copy.into_text());
                return false;
            }
        }
        self.store_held(slot, key, copy, bytes);
        false
    }

    /// Puts a copy in the store and its key in the host's heap.
    pub(crate) fn store_held(&mut self, slot: u32, key: OrderKey, copy: OwnedEvent, bytes: usize) {
        let index = match self.held_free.pop() {
            Some(i) => {
                if let Some(cell) = self.held.get_mut(i as usize) {
                    *cell = Some(copy);
                }
                i
            }
            None => {
                self.held.push(Some(copy));
                (self.held.len() - 1) as u32
            }
        };
        self.push_held(slot, key, index, bytes);
    }

    /// Puts the key of the copy stored in `index` in the host's heap.
    fn push_held(&mut self, slot: u32, key: OrderKey, index: u32, bytes: usize) {
        let Some(host) = self.hosts.get_mut(slot) else {
            return;
        };
        host.buffer.push(Held { key, copy: index });
        self.buffered += 1;
        self.buffered_bytes += bytes;
    }

    /// Processes the host's earliest held event; false if none.
    fn release_one(&mut self, slot: u32) -> bool {
        let Some(top) = self.hosts.get_mut(slot).and_then(|h| h.buffer.pop()) else {
            return false;
        };
        let index = top.copy as usize;
        let Some(Some(copy)) = self.held.get_mut(index) else {
            return false;
        };
        self.held_free.push(top.copy);
        self.buffered -= 1;
        self.buffered_bytes -= copy.bytes() + HELD_OVERHEAD;
        // A process start that no pending write awaits (most of them) only moves its
        // host's clock: its timestamp and executable are read from the copy (the
        // text taken out of it, as it goes back to the pool anyway), without setting
        // the store aside. Only a start that finds its write, and a write, are
        // rebuilt into events (see `process_stored`).
        if copy.is_process() {
            let ts = copy.timestamp();
            let exe = copy.executable_range();
            let text = copy.take_text();
            let classes = self.clock(slot, ts).map_or(0, |(_, classes)| classes);
            let found = match OwnedEvent::text_at(&text, &exe) {
                Some(exe) => self.pending_write(classes, slot, exe),
                None => None,
            };
            match found {
                None => self.pool.give(text),
                Some(found) => {
                    if let Some(Some(copy)) = self.held.get_mut(index) {
                        copy.set_text(text);
                    }
                    // What `process` would do next: its clock has just moved, and the
                    // lookup would find `found` again (not repeated: a hash of the path).
                    self.process_stored(slot, index, Some(found));
                }
            }
        } else {
            self.process_stored(slot, index, None);
        }
        // A burst must not pin its heap: keep capacity under 4x what is held.
        if let Some(host) = self.hosts.get_mut(slot) {
            let (len, cap) = (host.buffer.len(), host.buffer.capacity());
            if cap > 4 && len < cap / 4 {
                host.buffer.shrink_to(len * 2);
            }
        }
        true
    }

    /// Processes the copy stored in `index` as an event: a write, or a start whose
    /// clock has moved and which found the pending write `found`. The copy is
    /// processed where it is stored rather than moved out (it is some 150 bytes):
    /// the store is set aside meanwhile, as processing never reads it. Its text
    /// then goes back to the pool; the cell keeps the copy without it, so nothing
    /// is dropped now and `hold` refills it in place. Only the heaps say which
    /// cells hold events.
    #[inline(never)]
    fn process_stored(&mut self, slot: u32, index: usize, found: Option<Found>) {
        let held = core::mem::take(&mut self.held);
        if let Some(Some(copy)) = held.get(index) {
            match (found, copy.event()) {
                (Some(found), Event::Process(p)) => {
                    if let Some(exe) = p.executable {
                        self.process_match(slot, &p, exe, found);
                    }
                }
                (None, event) => self.process(slot, &event),
                (Some(_), Event::File(_)) => {}
            }
        }
        self.held = held;
        if let Some(Some(copy)) = self.held.get_mut(index) {
            self.pool.give(copy.take_text());
        }
    }

    /// Processes every held event of the host that can no longer be preceded.
    fn release(&mut self, slot: u32) {
        while let Some(host) = self.hosts.get(slot) {
            let ready = host
                .buffer
                .peek()
                .is_some_and(|top| self.releasable(top.key.timestamp, host.seen));
            if !ready || !self.release_one(slot) {
                break;
            }
        }
    }

    /// Moves the host's processing clock to `ts` if that is later, expiring the
    /// writes this puts out of reach. The host's clock and the path classes of its
    /// pending writes (`HostList::classes`, read while the host is at hand: 0 for
    /// none), or `None` for no host.
    #[inline(always)]
    fn clock(&mut self, slot: u32, ts: Timestamp) -> Option<(Timestamp, u32)> {
        let maxspan = self.rule.meta().maxspan;
        let host = self.hosts.get_mut(slot)?;
        if ts > host.now {
            host.now = ts;
            self.stats.expired += self
                .window
                .expire(&self.keys, &mut host.list, host.now, maxspan);
        }
        Some((host.now, host.list.classes))
    }

    /// The pending write of `(host, path)`, if any, with the key's hash (for
    /// [`Window::remove_hashed`]: a match consumes it); `classes` are the host's
    /// (`HostList::classes`, from [`clock`](Self::clock)). A host without pending
    /// writes (most hosts, most of the time), or none of this path's length class
    /// (most process starts of a host that has some), has none for this path
    /// either: no hashing, no lookup.
    #[inline(always)]
    fn pending_write(&self, classes: u32, slot: u32, path: &str) -> Option<Found> {
        if classes == 0 || classes & self.keys.path_class(path) == 0 {
            return None;
        }
        let hash = self.keys.path(slot, path);
        let entry = self.window.find_hashed(&self.keys, hash, slot, path)?;
        Some(Found { entry, hash })
    }

    /// The heart: one candidate event, in the time-sorted order of its host.
    ///
    /// Kept small: most candidates are process starts that no pending write awaits,
    /// which only move their host's clock, and that is all this decides (no copy of
    /// the origin, few registers to save). Writes and starts that find a pending
    /// write go on out of line.
    #[inline]
    fn process(&mut self, slot: u32, event: &Event<'_>) {
        let origin = event.origin();
        let Some((now, classes)) = self.clock(slot, origin.timestamp) else {
            return;
        };
        match event {
            Event::File(f) => self.process_write(slot, f, now, classes),
            Event::Process(p) => {
                let Some(exe) = p.executable else { return };
                let Some(found) = self.pending_write(classes, slot, exe) else {
                    return;
                };
                self.process_match(slot, p, exe, found);
            }
        }
    }

    /// A write, processed at host time `now` (`classes` as [`clock`](Self::clock)).
    #[inline(never)]
    fn process_write(
        &mut self,
        slot: u32,
        f: &crate::event::FileEvent<'_>,
        now: Timestamp,
        classes: u32,
    ) {
        let maxspan = self.rule.meta().maxspan;
        let origin = f.origin;
        let Some(path) = f.path else { return };
        if now.since(origin.timestamp) > maxspan {
            // A late write already out of reach of any later execution.
            self.stats.expired += 1;
            return;
        }
        // The key is hashed once, for the lookup, the removal and the insertion.
        let key_hash = if let Some(existing) = self.pending_write(classes, slot, path) {
            // The latest write wins; a late, older write does not replace it.
            if self
                .window
                .get(existing.entry)
                .is_some_and(|e| !self.ordered(&e.origin(), &origin))
            {
                return;
            }
            if let Some(host) = self.hosts.get_mut(slot) {
                self.window
                    .remove_hashed(&mut host.list, existing.entry, existing.hash);
            }
            existing.hash
        } else {
            self.keys.path(slot, path)
        };
        if !self.make_room(
            slot,
            origin.timestamp,
            entry_string_bytes(path, &origin, &f.hash),
        ) {
            self.stats.evicted += 1;
            return;
        }
        let Some(host) = self.hosts.get_mut(slot) else {
            return;
        };
        if self
            .window
            .insert_hashed(
                &self.keys,
                &mut host.list,
                slot,
                path,
                key_hash,
                &origin,
                &f.hash,
            )
            .is_none()
        {
            self.stats.evicted += 1;
        }
    }

    /// A process start `p` of `exe` for which the write in `found` is pending.
    #[inline(never)]
    fn process_match(
        &mut self,
        slot: u32,
        p: &crate::event::ProcessEvent<'_>,
        exe: &str,
        found: Found,
    ) {
        let maxspan = self.rule.meta().maxspan;
        let origin = p.origin;
        let Some(write) = self.window.get(found.entry) else {
            return;
        };
        let write_origin = write.origin();
        let span = origin.timestamp.since(write.timestamp);
        if !self.ordered(&write_origin, &origin) || span > maxspan {
            return;
        }
        // The host id is shared (`Arc`) only when a verdict is made: never on
        // the per-event path.
        let Some((host_id, alert_seed)) =
            self.hosts.get(slot).map(|h| (h.id.clone(), h.alert_seed))
        else {
            return;
        };
        let sequence = self
            .sequences
            .make(host_id, alert_seed, write, exe, p, span);
        match self.rule.assess(p) {
            None => {
                self.stats.alerts += 1;
                self.out.push_back(Verdict::Alert(sequence));
                // A match consumes the pending write.
                if let Some(host) = self.hosts.get_mut(slot) {
                    self.window
                        .remove_hashed(&mut host.list, found.entry, found.hash);
                }
            }
            Some(reason) => {
                // The execution is not a stage-2 event at all: the write
                // stays pending for the next execution.
                self.stats.suppressed += 1;
                self.out
                    .push_back(Verdict::Suppressed(Suppression { sequence, reason }));
            }
        }
    }

    /// Whether `write` comes before `exec` in the semantics' order. Always true for
    /// events processed in order; decides for late events.
    fn ordered(&self, write: &Origin<'_>, exec: &Origin<'_>) -> bool {
        match write.timestamp.cmp(&exec.timestamp) {
            core::cmp::Ordering::Less => true,
            core::cmp::Ordering::Greater => false,
            core::cmp::Ordering::Equal => {
                match (self.rule.semantics(), write.sequence, exec.sequence) {
                    (Semantics::Elasticsearch, _, _) => true,
                    (_, Some(w), Some(e)) => w <= e,
                    (_, None, Some(_)) => false,
                    (_, _, None) => true,
                }
            }
        }
    }

    /// Evicts pending writes until one of `bytes` at `ts` fits (see the victim rule
    /// inside). False if it can never fit, or if it is itself the host's oldest.
    fn make_room(&mut self, slot: u32, ts: Timestamp, bytes: usize) -> bool {
        if bytes > self.config.max_pending_bytes {
            return false;
        }
        loop {
            let Some(host) = self.hosts.get(slot) else {
                return false;
            };
            let own = host.list.len as usize;
            let over_host = own >= self.config.max_pending_per_host;
            let over_all = self.window.len() >= self.config.max_pending
                || self.window.string_bytes().saturating_add(bytes) > self.config.max_pending_bytes;
            if !over_host && !over_all {
                return true;
            }
            // Over its own quota, a host gives up its own oldest write. When only the
            // global caps are hit, a host holding more than the average of the hosts
            // with pending writes (a flood) also pays with its own; any other host
            // takes the oldest write of all, so floods cannot make a quiet host evict
            // the write it is about to run.
            let above_average =
                own > 0 && own.saturating_mul(self.window.hosts_with_entries()) > self.window.len();
            let victim = if over_host || above_average {
                let head = self.window.host_head(&host.list);
                // A late write older than all its host holds is that host's oldest:
                // it is the one given up (as in the time-sorted stream, where it
                // came first and went first).
                if head
                    .and_then(|h| self.window.get(h))
                    .is_some_and(|e| ts < e.timestamp)
                {
                    return false;
                }
                head
            } else {
                self.window.global_head()
            };
            let Some(victim) = victim else { return false };
            let Some(owner) = self.window.get(victim).map(|e| e.host) else {
                return false;
            };
            let Some(owner_host) = self.hosts.get_mut(owner) else {
                return false;
            };
            self.window.remove(&self.keys, &mut owner_host.list, victim);
            self.stats.evicted += 1;
        }
    }

    /// Declares that every event up to `watermark` (inclusive) has arrived, for
    /// every host: held events up to it are processed, pending writes it puts out of
    /// reach expire, and events at or before it that arrive later are late.
    ///
    /// Watermarks only move forward; an older one is ignored. O(hosts): call it on a
    /// timer ([`next_deadline`](Self::next_deadline)), not after every event. Follow
    /// with [`poll_verdict`](Self::poll_verdict) until it returns `None`.
    pub fn advance(&mut self, watermark: Timestamp) {
        if self.watermark.is_some_and(|w| watermark <= w) {
            return;
        }
        self.watermark = Some(watermark);
        let (seen_floor, _) = self.host_floor();
        let maxspan = self.rule.meta().maxspan;
        for slot in 0..self.hosts.slot_bound() {
            // Everything up to the watermark has arrived: release it, even at the end
            // of time where `seen - lateness` arithmetic saturates.
            while self
                .hosts
                .get(slot)
                .and_then(|h| h.buffer.peek())
                .is_some_and(|top| top.key.timestamp <= watermark)
            {
                self.release_one(slot);
            }
            if let Some(host) = self.hosts.get_mut(slot) {
                host.seen = host.seen.max(seen_floor);
                host.now = host.now.max(watermark);
                self.stats.expired +=
                    self.window
                        .expire(&self.keys, &mut host.list, host.now, maxspan);
            }
        }
    }

    /// Processes every held event (end of input). Afterwards, an event older than
    /// what its host released counts as late (under [`Semantics::Hardened`] also one
    /// at the newest released timestamp: it might sort before it by
    /// `event.sequence`). Pending writes stay: more input may follow.
    ///
    /// Follow with [`poll_verdict`](Self::poll_verdict) until it returns `None`.
    pub fn flush(&mut self) {
        // Elasticsearch orders equal timestamps by arrival, so an event at the newest
        // released timestamp may still follow; hardened may have sorted it earlier.
        let margin = match self.rule.semantics() {
            Semantics::Elasticsearch => Span::ZERO,
            _ => Span(1),
        };
        let lateness = self.config.max_lateness;
        for slot in 0..self.hosts.slot_bound() {
            let newest = self
                .hosts
                .get(slot)
                .and_then(|h| h.buffer.iter().map(|held| held.key.timestamp).max());
            while self.release_one(slot) {}
            if let (Some(newest), Some(host)) = (newest, self.hosts.get_mut(slot)) {
                host.seen = host
                    .seen
                    .max(newest.saturating_add(lateness).saturating_add(margin));
            }
        }
    }

    /// The earliest watermark at which [`advance`](Self::advance) would process a
    /// held event or expire a pending write; `None` when nothing waits. O(hosts).
    ///
    /// Calling `advance(next_deadline())` until it returns `None` ends: a pending
    /// write within `maxspan` of [`Timestamp::MAX`] (which no watermark puts out of
    /// reach) has no deadline.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        let maxspan = self.rule.meta().maxspan;
        self.hosts
            .slots()
            .filter_map(|s| self.hosts.get(s))
            .flat_map(|h| {
                let held = h.buffer.peek().map(|top| top.key.timestamp);
                let expiry = self
                    .window
                    .host_head(&h.list)
                    .and_then(|s| self.window.get(s))
                    // A write so close to the end of time that no watermark puts it
                    // out of reach never expires: no deadline (a saturated one would
                    // be returned again after every `advance`).
                    .and_then(|e| e.timestamp.0.checked_add(maxspan.0)?.checked_add(1))
                    .map(Timestamp);
                held.into_iter().chain(expiry)
            })
            .min()
            // Never at or before the watermark, which `advance` would ignore (only a
            // state restored from a crafted snapshot holds anything there).
            .and_then(|t| match self.watermark {
                Some(w) if t <= w => w.0.checked_add(1).map(Timestamp),
                _ => Some(t),
            })
    }

    /// Every `sweep_interval` events (at least one per tracked host), releases the
    /// writes of hosts whose clock trails the consensus clock by more than
    /// `idle_host_timeout`. The consensus clock is the lower median of all host
    /// clocks, so hosts with wrong clocks move it only when they are the majority.
    fn maybe_sweep(&mut self) {
        if self.stats.events < self.next_sweep {
            return;
        }
        let interval = self
            .config
            .sweep_interval
            .max(self.hosts.len() as u64)
            .max(1);
        self.next_sweep = self.stats.events.saturating_add(interval);
        self.sweep_idle_hosts();
    }

    fn sweep_idle_hosts(&mut self) {
        let mut clocks = core::mem::take(&mut self.scratch);
        clocks.clear();
        clocks.extend(
            self.hosts
                .slots()
                .filter_map(|s| self.hosts.get(s))
                .map(|h| h.seen),
        );
        if clocks.len() >= 3 {
            let mid = (clocks.len() - 1) / 2;
            let (_, consensus, _) = clocks.select_nth_unstable(mid);
            let cutoff = consensus.saturating_sub(self.config.idle_host_timeout);
            for slot in 0..self.hosts.slot_bound() {
                // Silent: behind the consensus by the timeout, and its clock has not
                // moved since the last sweep (a host that is merely slow keeps moving).
                let silent = self.hosts.get_mut(slot).is_some_and(|h| {
                    let stalled = h.seen == h.seen_at_sweep;
                    h.seen_at_sweep = h.seen;
                    stalled && h.seen < cutoff
                });
                if !silent {
                    continue;
                }
                while self.release_one(slot) {}
                if let Some(host) = self.hosts.get_mut(slot) {
                    self.stats.swept += self.window.clear_host(&self.keys, &mut host.list);
                }
                self.hosts.remove(&self.keys, slot);
            }
        }
        self.scratch = clocks;
    }
}

/// What [`Detector::drain_verdicts`] returns: pops from the queue as it goes, and
/// clears what is left when dropped.
struct Drained<'a> {
    out: &'a mut VecDeque<Verdict>,
}

impl Iterator for Drained<'_> {
    type Item = Verdict;

    #[inline]
    fn next(&mut self) -> Option<Verdict> {
        self.out.pop_front()
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.out.len(), Some(self.out.len()))
    }
}

impl DoubleEndedIterator for Drained<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Verdict> {
        self.out.pop_back()
    }
}

impl ExactSizeIterator for Drained<'_> {}
impl FusedIterator for Drained<'_> {}

impl Drop for Drained<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.out.is_empty() {
            self.out.clear();
        }
    }
}

#[cfg(feature = "std")]
fn default_seed() -> u64 {
    use core::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

#[cfg(not(feature = "std"))]
fn default_seed() -> u64 {
    0x243f_6a88_85a3_08d3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventTypes, FileEvent, ProcessEvent};
    use alloc::format;
    use alloc::string::ToString;

    fn write(path: &str, ms: i64) -> Event<'_> {
        Event::File(FileEvent {
            origin: Origin {
                timestamp: Timestamp::from_millis(1_000_000 + ms),
                ..Origin::default()
            },
            host_id: Some("h"),
            os_type: Some("windows"),
            types: EventTypes::CREATION,
            pid: Some(4),
            path: Some(path),
            extension: Some("exe"),
            ..FileEvent::default()
        })
    }

    fn start(path: &str, ms: i64) -> Event<'_> {
        Event::Process(ProcessEvent {
            origin: Origin {
                timestamp: Timestamp::from_millis(1_000_000 + ms),
                ..Origin::default()
            },
            host_id: Some("h"),
            os_type: Some("windows"),
            types: EventTypes::START,
            executable: Some(path),
            ..ProcessEvent::default()
        })
    }

    fn alerts(d: &mut Detector) -> alloc::vec::Vec<alloc::string::String> {
        d.flush();
        d.drain_verdicts()
            .filter_map(|v| v.as_alert().map(|s| s.executable.to_string()))
            .collect()
    }

    /// The path-class filter (`HostList::classes`) never hides a match: equal paths
    /// share a class however their bytes differ, whatever else the host holds, and
    /// after its list has emptied and filled again.
    #[test]
    fn path_classes_never_hide_a_match() {
        for semantics in [Semantics::Elasticsearch, Semantics::Hardened] {
            let config = Config::default().with_hash_seed(Some(3));
            let mut d = Detector::new(Arc::new(Rule::new(semantics)), config).unwrap();
            // Every class set, then a same-class miss and a hit.
            let fillers: alloc::vec::Vec<_> = (0..40)
                .map(|n| format!("C:\\{}.exe", "x".repeat(n)))
                .collect();
            for (i, f) in fillers.iter().enumerate() {
                d.handle(write(f, i as i64));
            }
            d.handle(write("C:\\a.exe", 100));
            d.handle(start("C:\\b.exe", 101));
            d.handle(start("C:\\a.exe", 102));
            assert_eq!(alerts(&mut d), ["C:\\a.exe"], "{semantics:?}");
            // The list empties (expiry), then holds one path again.
            d.handle(start("C:\\zz.exe", 200_000));
            d.flush();
            assert_eq!(d.stats().pending, 0);
            d.handle(write("C:\\\u{212A}.EXE", 200_001));
            d.handle(start("c:\\k.exe", 200_002));
            d.handle(start("C:\\\u{212A}.EXE", 200_003));
            let expected: &[&str] = match semantics {
                // Folded: 8 bytes against 10, but the same 8 characters.
                Semantics::Hardened => &["c:\\k.exe"],
                _ => &["C:\\\u{212A}.EXE"],
            };
            assert_eq!(alerts(&mut d), expected, "{semantics:?}");
        }
    }
}
