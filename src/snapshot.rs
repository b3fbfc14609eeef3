//! Checkpoints: a detector's whole state as bytes, and back.
//!
//! [`Detector::snapshot`] writes a compact, versioned binary image of everything a
//! detector holds — hosts and their clocks, pending writes in insertion order, events
//! held for reordering with their sort keys, counters, the watermark and the sweep
//! schedule — and [`Detector::restore`] rebuilds a detector from it. Splitting any
//! stream at any point with a snapshot and a restore gives the same verdicts as not
//! splitting it (property-tested), so a hunt over rotated log files, or a stream
//! processor's checkpoint, continues the open sequences.
//!
//! The format is this crate's own (no dependency, `no_std`): a magic number, a
//! format version, the semantics, then the state in LEB128 varints and
//! length-prefixed strings, and a stable checksum of all of it. Decoding never
//! panics: a corrupted, truncated, wrong-version or foreign image is a typed
//! [`SnapshotError`]. The hash seed is not saved (a restored detector draws its own):
//! verdicts never depend on it.
//!
//! For rescaling a partitioned deployment, [`Detector::split`] cuts the state by host
//! into several snapshots of the same format (e.g. one per key group, see
//! [`partition`](crate::partition)) and [`Detector::merge`] adds one to a detector
//! holding other hosts; merging every part rebuilds the original state exactly.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::config::Config;
use crate::detector::Detector;
use crate::event::{CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, ProcessEvent};
use crate::hosts::{HELD_OVERHEAD, OrderKey};
use crate::owned::OwnedEvent;
use crate::rule::{Rule, Semantics};
use crate::stable_hash::StableHasher;
use crate::stats::Stats;
use crate::time::{Span, Timestamp};
use crate::trust::TrustPolicy;

/// The first bytes of every snapshot.
pub const MAGIC: [u8; 4] = *b"SXCK";
/// The format version this build writes (it also reads [`OLDEST_FORMAT_VERSION`] and up).
///
/// Version 2 added the lateness the state was held under, so that a restore with
/// another lateness keeps every host's release horizon (see [`Detector::restore`]).
pub const FORMAT_VERSION: u32 = 2;
/// The oldest format version this build reads.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// The largest counter (and arrival number) a snapshot may hold, and a merge sums
/// to: the detector counts on from it with plain additions.
const COUNTER_LIMIT: u64 = i64::MAX as u64;

/// Why a snapshot could not be taken or restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// Verdicts are waiting: take them first (they are not part of the state).
    #[error("{0} verdicts not taken yet: poll them before taking a snapshot")]
    VerdictsNotTaken(usize),
    /// Not a shareexec snapshot.
    #[error("not a shareexec snapshot (bad magic number)")]
    BadMagic,
    /// Written by a format this build does not read.
    #[error(
        "snapshot format version {found} is not supported (this build reads version {FORMAT_VERSION})"
    )]
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// The bytes end too early.
    #[error("snapshot truncated at byte {at}")]
    Truncated {
        /// Where the data ran out.
        at: usize,
    },
    /// The checksum does not match the content.
    #[error("snapshot corrupted: checksum mismatch")]
    ChecksumMismatch,
    /// The content is inconsistent.
    #[error("snapshot corrupted at byte {at}: {what}")]
    Corrupt {
        /// What was wrong.
        what: &'static str,
        /// Where.
        at: usize,
    },
    /// Taken under other semantics than the rule it is restored with.
    #[error("snapshot taken with {found} semantics cannot be restored with {expected} semantics")]
    SemanticsMismatch {
        /// The snapshot's semantics.
        found: &'static str,
        /// The rule's semantics.
        expected: &'static str,
    },
    /// The state does not fit the configuration's caps.
    #[error("snapshot holds more than the configuration allows ({what})")]
    OverCaps {
        /// Which cap.
        what: &'static str,
    },
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::ConfigError),
    /// [`Detector::merge`]: the same host is in both detectors (parts to merge must
    /// hold disjoint hosts, as [`Detector::split`] makes them).
    #[error("host {0:?} is in both detectors: parts to merge must hold disjoint hosts")]
    DuplicateHost(String),
}

// ---------------------------------------------------------------- writing

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn u64(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.buf.push(byte);
                return;
            }
            self.buf.push(byte | 0x80);
        }
    }
    fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u64(0),
            Some(v) => {
                self.u64(1);
                self.u64(v);
            }
        }
    }
    fn opt_i64(&mut self, v: Option<i64>) {
        match v {
            None => self.u64(0),
            Some(v) => {
                self.u64(1);
                self.i64(v);
            }
        }
    }
    fn opt_bool(&mut self, v: Option<bool>) {
        self.u64(match v {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
    }
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            None => self.u64(0),
            Some(s) => {
                self.u64(1);
                self.str(s);
            }
        }
    }
    fn hashes(&mut self, h: &Hashes<'_>) {
        self.opt_str(h.sha256);
        self.opt_str(h.sha1);
        self.opt_str(h.md5);
    }
    fn origin(&mut self, o: &Origin<'_>) {
        self.i64(o.timestamp.as_nanos());
        self.opt_u64(o.sequence);
        self.opt_str(o.id);
        self.u64(o.position);
    }
    fn event(&mut self, e: &Event<'_>) {
        match e {
            Event::File(f) => {
                self.u64(0);
                self.origin(&f.origin);
                self.opt_str(f.host_id);
                self.opt_str(f.os_type);
                self.u64(u64::from(f.types.bits()));
                self.opt_i64(f.pid);
                self.opt_str(f.path);
                self.opt_str(f.extension);
                self.opt_str(f.header_bytes);
                self.hashes(&f.hash);
            }
            Event::Process(p) => {
                self.u64(1);
                self.origin(&p.origin);
                self.opt_str(p.host_id);
                self.opt_str(p.os_type);
                self.u64(u64::from(p.types.bits()));
                self.opt_str(p.executable);
                self.opt_i64(p.pid);
                let s = &p.code_signature;
                self.opt_bool(s.exists);
                self.opt_bool(s.trusted);
                self.opt_str(s.subject_name);
                self.opt_str(s.status);
                self.hashes(&p.hash);
            }
        }
    }
    fn stats(&mut self, s: &Stats) {
        for v in [
            s.events,
            s.writes,
            s.executions,
            s.unkeyed,
            s.alerts,
            s.suppressed,
            s.expired,
            s.evicted,
            s.swept,
            s.late,
            s.forced,
        ] {
            self.u64(v);
        }
    }
}

// ---------------------------------------------------------------- reading

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn corrupt(&self, what: &'static str) -> SnapshotError {
        SnapshotError::Corrupt { what, at: self.at }
    }
    fn byte(&mut self) -> Result<u8, SnapshotError> {
        let b = *self
            .buf
            .get(self.at)
            .ok_or(SnapshotError::Truncated { at: self.at })?;
        self.at += 1;
        Ok(b)
    }
    fn u64(&mut self) -> Result<u64, SnapshotError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.corrupt("varint overflows 64 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt("varint longer than 10 bytes"))
    }
    /// A counter: at most `i64::MAX`, so that counting on from it cannot overflow
    /// (no detector counts 2^63 events; a larger value is a crafted image).
    fn counter(&mut self) -> Result<u64, SnapshotError> {
        let v = self.u64()?;
        if v > COUNTER_LIMIT {
            return Err(self.corrupt("counter out of range"));
        }
        Ok(v)
    }
    fn u32(&mut self) -> Result<u32, SnapshotError> {
        u32::try_from(self.u64()?).map_err(|_| self.corrupt("value out of range"))
    }
    fn i64(&mut self) -> Result<i64, SnapshotError> {
        let v = self.u64()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }
    fn tag(&mut self, max: u64) -> Result<u64, SnapshotError> {
        let t = self.u64()?;
        if t > max {
            return Err(self.corrupt("unknown tag"));
        }
        Ok(t)
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, SnapshotError> {
        Ok(if self.tag(1)? == 1 {
            Some(self.u64()?)
        } else {
            None
        })
    }
    fn opt_i64(&mut self) -> Result<Option<i64>, SnapshotError> {
        Ok(if self.tag(1)? == 1 {
            Some(self.i64()?)
        } else {
            None
        })
    }
    fn opt_bool(&mut self) -> Result<Option<bool>, SnapshotError> {
        Ok(match self.tag(2)? {
            0 => None,
            1 => Some(false),
            _ => Some(true),
        })
    }
    fn str(&mut self) -> Result<&'a str, SnapshotError> {
        let len = usize::try_from(self.u64()?).map_err(|_| self.corrupt("length out of range"))?;
        let end = self
            .at
            .checked_add(len)
            .ok_or_else(|| self.corrupt("length out of range"))?;
        let bytes = self
            .buf
            .get(self.at..end)
            .ok_or(SnapshotError::Truncated { at: self.buf.len() })?;
        let s = core::str::from_utf8(bytes).map_err(|_| self.corrupt("string is not UTF-8"))?;
        self.at = end;
        Ok(s)
    }
    fn opt_str(&mut self) -> Result<Option<&'a str>, SnapshotError> {
        Ok(if self.tag(1)? == 1 {
            Some(self.str()?)
        } else {
            None
        })
    }
    fn hashes(&mut self) -> Result<Hashes<'a>, SnapshotError> {
        Ok(Hashes {
            sha256: self.opt_str()?,
            sha1: self.opt_str()?,
            md5: self.opt_str()?,
        })
    }
    fn origin(&mut self) -> Result<Origin<'a>, SnapshotError> {
        Ok(Origin {
            timestamp: Timestamp(self.i64()?),
            sequence: self.opt_u64()?,
            id: self.opt_str()?,
            position: self.u64()?,
        })
    }
    fn types(&mut self) -> Result<EventTypes, SnapshotError> {
        let bits = self.u32()?;
        EventTypes::from_bits(bits).ok_or_else(|| self.corrupt("unknown event type bits"))
    }
    fn event(&mut self) -> Result<Event<'a>, SnapshotError> {
        Ok(match self.tag(1)? {
            0 => Event::File(FileEvent {
                origin: self.origin()?,
                host_id: self.opt_str()?,
                os_type: self.opt_str()?,
                types: self.types()?,
                pid: self.opt_i64()?,
                path: self.opt_str()?,
                extension: self.opt_str()?,
                header_bytes: self.opt_str()?,
                hash: self.hashes()?,
            }),
            _ => Event::Process(ProcessEvent {
                origin: self.origin()?,
                host_id: self.opt_str()?,
                os_type: self.opt_str()?,
                types: self.types()?,
                executable: self.opt_str()?,
                pid: self.opt_i64()?,
                code_signature: CodeSignature {
                    exists: self.opt_bool()?,
                    trusted: self.opt_bool()?,
                    subject_name: self.opt_str()?,
                    status: self.opt_str()?,
                },
                hash: self.hashes()?,
            }),
        })
    }
    fn stats(&mut self) -> Result<Stats, SnapshotError> {
        let mut s = Stats::default();
        for v in [
            &mut s.events,
            &mut s.writes,
            &mut s.executions,
            &mut s.unkeyed,
            &mut s.alerts,
            &mut s.suppressed,
            &mut s.expired,
            &mut s.evicted,
            &mut s.swept,
            &mut s.late,
            &mut s.forced,
        ] {
            *v = self.counter()?;
        }
        Ok(s)
    }
}

fn semantics_code(s: Semantics) -> u64 {
    match s {
        Semantics::Elasticsearch => 0,
        _ => 1,
    }
}

impl<P: TrustPolicy> Detector<P> {
    /// The detector's whole state as bytes (see the [module docs](crate::snapshot)).
    ///
    /// Take every verdict first: verdicts not yet taken are not part of the state,
    /// so this fails with [`SnapshotError::VerdictsNotTaken`] rather than lose them.
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::{Config, Detector, Rule};
    /// let rule = Arc::new(Rule::hardened());
    /// let detector = Detector::new(rule.clone(), Config::default()).unwrap();
    /// let bytes = detector.snapshot().unwrap();
    /// let restored = Detector::restore(rule, Config::default(), &bytes).unwrap();
    /// assert_eq!(restored.stats(), detector.stats());
    /// ```
    pub fn snapshot(&self) -> Result<Vec<u8>, SnapshotError> {
        // One writer for both: a snapshot is a split into one part.
        let mut parts = self.split(1, |_| 0)?;
        Ok(parts.pop().unwrap_or_default())
    }

    /// A detector for `rule` and `config` holding the state in `bytes` (made by
    /// [`snapshot`](Self::snapshot)). The rule's semantics must be the snapshot's;
    /// the caps must hold the state.
    ///
    /// The configuration may differ from the one the state was held under. With
    /// another [`max_lateness`](Config::max_lateness), each host keeps its release
    /// horizon (what it has processed, after which nothing may sort): an event is
    /// late after the restore exactly when it would have been before it, and from
    /// there on the new lateness applies as the host's clock moves. (Format version
    /// 1, which did not record the lateness, is taken as held under the new one.)
    pub fn restore(
        rule: Arc<Rule<P>>,
        config: Config,
        bytes: &[u8],
    ) -> Result<Self, SnapshotError> {
        let (body, sum) = bytes
            .split_at_checked(bytes.len().saturating_sub(8))
            .unwrap_or((&[], &[]));
        if !bytes.starts_with(&MAGIC) {
            return Err(if bytes.len() < MAGIC.len() {
                SnapshotError::Truncated { at: bytes.len() }
            } else {
                SnapshotError::BadMagic
            });
        }
        let mut r = Reader {
            buf: body,
            at: MAGIC.len(),
        };
        let version = r.u32()?;
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(SnapshotError::UnsupportedVersion { found: version });
        }
        let stored = u64::from_le_bytes(
            sum.try_into()
                .map_err(|_| SnapshotError::Truncated { at: bytes.len() })?,
        );
        if StableHasher::new().bytes(body).finish() != stored {
            return Err(SnapshotError::ChecksumMismatch);
        }
        let semantics = r.tag(1)?;
        if semantics != semantics_code(rule.semantics()) {
            let name = |c| if c == 0 { "elasticsearch" } else { "hardened" };
            return Err(SnapshotError::SemanticsMismatch {
                found: name(semantics),
                expected: rule.semantics().name(),
            });
        }
        // Version 1 did not record the lateness: its clocks are taken as they are.
        let held_under = match version {
            1 => None,
            _ => Some(Span(r.i64()?)),
        };
        let mut d = Detector::new(rule, config)?;
        // A host's release horizon is its clock minus the lateness (nothing before it
        // may be held; `flush` moves the clock to the newest held event plus the
        // lateness). Under another lateness the clocks move by the difference, so the
        // horizons stay where they were: a smaller lateness does not make events
        // newer than everything released late, a larger one does not reopen what was.
        let shift = held_under.map_or(0, |l| d.config.max_lateness.0.saturating_sub(l.0));
        let shifted = |t: Timestamp| {
            if t == Timestamp::MIN {
                t
            } else {
                Timestamp(t.0.saturating_add(shift))
            }
        };
        d.arrival = r.counter()?;
        d.stats = r.stats()?;
        d.watermark = r.opt_i64()?.map(Timestamp);
        d.next_sweep = r.u64()?;
        d.next_host_scan = r.u64()?;
        let hosts = r.u64()?;
        if hosts > d.config.max_hosts as u64 {
            return Err(SnapshotError::OverCaps { what: "max_hosts" });
        }
        let mut slots = Vec::new();
        for _ in 0..hosts {
            let id = r.str()?;
            if id.len() > crate::config::MAX_HOST_ID_BYTES || d.hosts.find(&d.keys, id).is_some() {
                return Err(r.corrupt("invalid or repeated host id"));
            }
            let (seen, now, seen_at_sweep) = (
                shifted(Timestamp(r.i64()?)),
                Timestamp(r.i64()?),
                shifted(Timestamp(r.i64()?)),
            );
            let slot = d
                .hosts
                .insert(&d.keys, id, seen, now)
                .ok_or(SnapshotError::OverCaps { what: "max_hosts" })?;
            if let Some(h) = d.hosts.get_mut(slot) {
                h.seen_at_sweep = seen_at_sweep;
            }
            slots.push(slot);
            let held = r.u64()?;
            for _ in 0..held {
                let timestamp = Timestamp(r.i64()?);
                let tiebreak = (r.tag(1)? == 1, r.u64()?);
                let key = OrderKey {
                    timestamp,
                    tiebreak,
                    arrival: r.u64()?,
                };
                let event = r.event()?;
                if d.buffered >= d.config.max_buffered {
                    return Err(SnapshotError::OverCaps {
                        what: "max_buffered",
                    });
                }
                let mut copy = OwnedEvent::new(&event, String::new());
                // Charged its exact length: never more than where it was held, so a
                // snapshot restores under the caps it was taken under.
                copy.shrink_text();
                // As `hold`: a copy that would not read back exactly is never stored.
                if !copy.is_exact() {
                    return Err(r.corrupt("a held event with over 4 GiB of strings"));
                }
                let bytes = copy.bytes() + HELD_OVERHEAD;
                // The bytes cap too, as `hold` and `merge` keep it: a restored detector
                // stays within `Config::memory_bound`.
                if d.buffered_bytes.saturating_add(bytes) > d.config.max_buffered_bytes {
                    return Err(SnapshotError::OverCaps {
                        what: "max_buffered_bytes",
                    });
                }
                d.store_held(slot, key, copy, bytes);
            }
        }
        let pending = r.u64()?;
        if pending > d.config.max_pending as u64 {
            return Err(SnapshotError::OverCaps {
                what: "max_pending",
            });
        }
        for _ in 0..pending {
            let host = usize::try_from(r.u64()?)
                .ok()
                .and_then(|h| slots.get(h).copied());
            let host = host.ok_or_else(|| r.corrupt("pending write of an unknown host"))?;
            let path = r.str()?;
            let origin = r.origin()?;
            let hash = r.hashes()?;
            if d.window.find(&d.keys, host, path).is_some() {
                return Err(r.corrupt("repeated pending write"));
            }
            let Some(h) = d.hosts.get_mut(host) else {
                continue;
            };
            d.window
                .insert(&d.keys, &mut h.list, host, path, &origin, &hash)
                .ok_or(SnapshotError::OverCaps {
                    what: "max_pending",
                })?;
        }
        if d.window.string_bytes() > d.config.max_pending_bytes {
            return Err(SnapshotError::OverCaps {
                what: "max_pending_bytes",
            });
        }
        // A host over its own quota would only shed its surplus at its next write,
        // and a merge (which restores its part under this configuration) would take
        // it in: refused like every other cap.
        let per_host = d.config.max_pending_per_host;
        if (0..d.hosts.slot_bound())
            .filter_map(|slot| d.hosts.get(slot))
            .any(|h| h.list.len as usize > per_host)
        {
            return Err(SnapshotError::OverCaps {
                what: "max_pending_per_host",
            });
        }
        if r.at != body.len() {
            return Err(r.corrupt("trailing bytes"));
        }
        Ok(d)
    }
}

// ---------------------------------------------------------------- split and merge

/// Sums the totals of two counter sets (the gauges are recomputed by `stats()`).
fn add_totals(a: &mut Stats, b: &Stats) {
    for (x, y) in [
        (&mut a.events, b.events),
        (&mut a.writes, b.writes),
        (&mut a.executions, b.executions),
        (&mut a.unkeyed, b.unkeyed),
        (&mut a.alerts, b.alerts),
        (&mut a.suppressed, b.suppressed),
        (&mut a.expired, b.expired),
        (&mut a.evicted, b.evicted),
        (&mut a.swept, b.swept),
        (&mut a.late, b.late),
        (&mut a.forced, b.forced),
    ] {
        *x = x.saturating_add(y).min(COUNTER_LIMIT);
    }
}

impl<P: TrustPolicy> Detector<P> {
    /// The `host.id` of every tracked host (in no particular order): what
    /// [`split`](Self::split) distributes.
    pub fn host_ids(&self) -> impl Iterator<Item = &str> + '_ {
        self.hosts
            .slots()
            .filter_map(|s| self.hosts.get(s))
            .map(|h| &*h.id)
    }

    /// Splits the state by host into `parts` snapshots (for rescaling): host `h` and
    /// everything it holds (clocks, pending writes, held events) goes to part
    /// `part_of(h) % parts`. Each part is an ordinary snapshot: restore it with
    /// [`restore`](Self::restore), combine parts with [`merge`](Self::merge).
    ///
    /// The detector-wide values go to every part: the watermark, the arrival counter
    /// (a tiebreak for held events), the sweep schedule (in the other parts as the
    /// same number of events from their zero count). The counters
    /// ([`Stats`] totals) go to part 0 only and are zero in the others, so merging
    /// every part gives back this detector's counters exactly, never a multiple.
    /// `split(1, |_| 0)` is byte for byte [`snapshot`](Self::snapshot).
    ///
    /// Like `snapshot`, it fails with [`SnapshotError::VerdictsNotTaken`] while
    /// verdicts wait to be taken.
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::partition::{key_group, key_group_owner, key_hash};
    /// use shareexec::{Config, Detector, Rule};
    ///
    /// let rule = Arc::new(Rule::hardened());
    /// let detector = Detector::new(rule.clone(), Config::default()).unwrap();
    /// // ... handle events ...
    /// // Rescale to 3 workers owning key groups of 128, as the engine routes events:
    /// let parts = detector
    ///     .split(3, |host| key_group_owner(key_group(key_hash(host), 128), 128, 3) as usize)
    ///     .unwrap();
    /// let mut worker0 = Detector::restore(rule.clone(), Config::default(), &parts[0]).unwrap();
    /// // ... or put them back together:
    /// worker0.merge(&parts[1]).unwrap();
    /// worker0.merge(&parts[2]).unwrap();
    /// assert_eq!(worker0.stats(), detector.stats());
    /// ```
    pub fn split(
        &self,
        parts: usize,
        mut part_of: impl FnMut(&str) -> usize,
    ) -> Result<Vec<Vec<u8>>, SnapshotError> {
        if !self.out.is_empty() {
            return Err(SnapshotError::VerdictsNotTaken(self.out.len()));
        }
        let parts = parts.max(1);
        // Each live slot's part and its dense number within the part.
        let mut place: Vec<Option<(usize, u64)>> = Vec::new();
        let mut hosts_in: Vec<Vec<u32>> = (0..parts).map(|_| Vec::new()).collect();
        for slot in 0..self.hosts.slot_bound() {
            let at = self.hosts.get(slot).and_then(|h| {
                let part = part_of(&h.id) % parts;
                let list = hosts_in.get_mut(part)?;
                list.push(slot);
                Some((part, list.len() as u64 - 1))
            });
            place.push(at);
        }
        let mut pending = alloc::vec![0u64; parts];
        for e in self.window.in_insertion_order() {
            if let Some(Some((part, _))) = place.get(e.host as usize) {
                pending[*part] += 1;
            }
        }
        // A whole snapshot (one part) is the common case: reserve for its strings.
        let capacity = match parts {
            1 => 64 + self.window.string_bytes() * 2,
            _ => 0,
        };
        let mut writers: Vec<Writer> = (0..parts)
            .map(|_| Writer {
                buf: Vec::with_capacity(capacity),
            })
            .collect();
        for (part, w) in writers.iter_mut().enumerate() {
            w.buf.extend_from_slice(&MAGIC);
            w.u64(u64::from(FORMAT_VERSION));
            w.u64(semantics_code(self.rule.semantics()));
            w.i64(self.config.max_lateness.as_nanos());
            w.u64(self.arrival);
            w.stats(&if part == 0 {
                self.stats
            } else {
                Stats::default()
            });
            w.opt_i64(self.watermark.map(Timestamp::as_nanos));
            // The schedules count events (`stats.events`): a part whose counters are
            // zero gets the same distance to its next sweep and host scan, not the
            // whole event count more.
            let schedule = |at: u64| match part {
                0 => at,
                _ => at.saturating_sub(self.stats.events),
            };
            w.u64(schedule(self.next_sweep));
            w.u64(schedule(self.next_host_scan));
            // Hosts, densely renumbered within the part; their held events in heap
            // order (any order restores the same heap: the keys are total).
            let slots = hosts_in.get(part).map(Vec::as_slice).unwrap_or(&[]);
            w.u64(slots.len() as u64);
            for &slot in slots {
                let Some(h) = self.hosts.get(slot) else {
                    continue;
                };
                w.str(&h.id);
                w.i64(h.seen.as_nanos());
                w.i64(h.now.as_nanos());
                w.i64(h.seen_at_sweep.as_nanos());
                w.u64(h.buffer.len() as u64);
                for held in h.buffer.iter() {
                    w.i64(held.key.timestamp.as_nanos());
                    w.u64(u64::from(held.key.tiebreak.0));
                    w.u64(held.key.tiebreak.1);
                    w.u64(held.key.arrival);
                    match self.held.get(held.copy as usize).and_then(Option::as_ref) {
                        Some(copy) => w.event(&copy.event()),
                        None => w.event(&Event::File(FileEvent::default())),
                    }
                }
            }
            w.u64(pending.get(part).copied().unwrap_or(0));
        }
        // Pending writes in insertion order (the order global eviction follows), each
        // to its host's part; restoring them in that order rebuilds each host's
        // time-ordered list.
        for e in self.window.in_insertion_order() {
            let Some(Some((part, host))) = place.get(e.host as usize).copied() else {
                continue;
            };
            let Some(w) = writers.get_mut(part) else {
                continue;
            };
            w.u64(host);
            w.str(e.path());
            w.origin(&e.origin());
            w.hashes(&e.hash());
        }
        Ok(writers
            .into_iter()
            .map(|mut w| {
                let sum = StableHasher::new().bytes(&w.buf).finish();
                w.buf.extend_from_slice(&sum.to_le_bytes());
                w.buf
            })
            .collect())
    }

    /// Adds the state in `bytes` (a [`snapshot`](Self::snapshot) or a part of a
    /// [`split`](Self::split)) to this detector. The hosts must be disjoint.
    ///
    /// Per-host state moves as it is. The detector-wide values combine so that, for
    /// future input, the result behaves as one detector that had seen both hosts' events:
    ///
    /// - **watermark**: the *lower* of the two (none if either has none): a watermark
    ///   promises that every event up to it has arrived, and only the lower promise
    ///   holds for the union. Each host keeps its own floors, so a host from the side
    ///   with the higher watermark still treats events at or before it as late;
    /// - **arrival counter** (the last tiebreak among held events of equal time): the
    ///   higher, so every later event sorts after everything either side holds;
    /// - **counters**: summed (a split puts them in one part, so merging all parts
    ///   counts each event once); **sweep schedule** (idle-host sweep and host scan,
    ///   counted in events): as many events after the summed count as the later of
    ///   the two was after its own;
    /// - **caps**: the combined state must fit this detector's configuration.
    ///
    /// Merging every part of a `split` (in any order, starting from a
    /// [`restore`](Self::restore) of one of them) rebuilds the original state
    /// exactly. Under memory pressure one difference remains: pending writes of the
    /// merged side are appended to the global eviction order, after this detector's.
    ///
    /// Everything is checked before anything changes: on error this detector is
    /// untouched — nothing it holds is lost.
    ///
    /// # Errors
    /// Any [`restore`](Self::restore) error of `bytes` (under this detector's rule and
    /// configuration); [`SnapshotError::DuplicateHost`] when a host is in both;
    /// [`SnapshotError::OverCaps`] when the union exceeds a cap.
    ///
    /// # Example
    /// ```
    /// use std::sync::Arc;
    /// use shareexec::{Config, Detector, Rule, SnapshotError};
    /// let rule = Arc::new(Rule::hardened());
    /// let mut a = Detector::new(rule.clone(), Config::default()).unwrap();
    /// let b = Detector::new(rule, Config::default()).unwrap();
    /// a.merge(&b.snapshot().unwrap()).unwrap();
    /// assert!(matches!(a.merge(b"not a snapshot"), Err(SnapshotError::BadMagic)));
    /// ```
    pub fn merge(&mut self, bytes: &[u8]) -> Result<(), SnapshotError> {
        let mut other = Detector::restore(self.rule.clone(), self.config.clone(), bytes)?;
        // Checks first: nothing below may fail halfway.
        for id in other.host_ids() {
            if self.hosts.find(&self.keys, id).is_some() {
                return Err(SnapshotError::DuplicateHost(id.into()));
            }
        }
        let over = |a: usize, b: usize, cap: usize| a.saturating_add(b) > cap;
        let c = &self.config;
        let checks = [
            (
                over(self.hosts.len(), other.hosts.len(), c.max_hosts)
                    || u64::from(self.hosts.slot_bound()) + other.hosts.len() as u64
                        >= u64::from(crate::window::NIL),
                "max_hosts",
            ),
            (
                over(self.window.len(), other.window.len(), c.max_pending),
                "max_pending",
            ),
            (
                over(
                    self.window.string_bytes(),
                    other.window.string_bytes(),
                    c.max_pending_bytes,
                ),
                "max_pending_bytes",
            ),
            (
                over(self.buffered, other.buffered, c.max_buffered),
                "max_buffered",
            ),
            (
                over(
                    self.buffered_bytes,
                    other.buffered_bytes,
                    c.max_buffered_bytes,
                ),
                "max_buffered_bytes",
            ),
        ];
        if let Some((_, what)) = checks.into_iter().find(|(over, _)| *over) {
            return Err(SnapshotError::OverCaps { what });
        }
        // Hosts, with their held events.
        let mut slot_of: Vec<Option<u32>> = Vec::new();
        for from in 0..other.hosts.slot_bound() {
            let moved = other.hosts.get_mut(from).map(|h| {
                let held = core::mem::take(&mut h.buffer);
                (h.id.clone(), h.seen, h.now, h.seen_at_sweep, held)
            });
            let Some((id, seen, now, seen_at_sweep, held)) = moved else {
                slot_of.push(None);
                continue;
            };
            let slot = self.hosts.insert(&self.keys, &id, seen, now);
            slot_of.push(slot);
            let Some(slot) = slot else { continue };
            if let Some(h) = self.hosts.get_mut(slot) {
                h.seen_at_sweep = seen_at_sweep;
            }
            for held in held.into_vec() {
                let copy = other
                    .held
                    .get_mut(held.copy as usize)
                    .and_then(Option::take);
                if let Some(copy) = copy {
                    let bytes = copy.bytes() + HELD_OVERHEAD;
                    self.store_held(slot, held.key, copy, bytes);
                }
            }
        }
        // Pending writes, in the other side's insertion order.
        for e in other.window.in_insertion_order() {
            let Some(slot) = slot_of.get(e.host as usize).copied().flatten() else {
                continue;
            };
            let Some(h) = self.hosts.get_mut(slot) else {
                continue;
            };
            if self
                .window
                .insert(
                    &self.keys,
                    &mut h.list,
                    slot,
                    e.path(),
                    &e.origin(),
                    &e.hash(),
                )
                .is_none()
            {
                // Cannot happen (the entry was stored once already); counted, not hidden.
                self.stats.evicted += 1;
            }
        }
        self.arrival = self.arrival.max(other.arrival);
        self.watermark = match (self.watermark, other.watermark) {
            (Some(a), Some(b)) => Some(a.min(b)),
            _ => None,
        };
        // The schedules count events: the merged one is as far after the summed event
        // count as the later of the two was after its own; when both are due, it
        // stays due (the higher of the two, both at most the sum). Merging the parts
        // of a `split` gives back the original's exactly.
        let (mine, theirs) = (self.stats.events, other.stats.events);
        let later = |a: u64, b: u64| {
            if a <= mine && b <= theirs {
                a.max(b)
            } else {
                mine.saturating_add(theirs)
                    .saturating_add(a.saturating_sub(mine).max(b.saturating_sub(theirs)))
            }
        };
        self.next_sweep = later(self.next_sweep, other.next_sweep);
        self.next_host_scan = later(self.next_host_scan, other.next_host_scan);
        add_totals(&mut self.stats, &other.stats);
        Ok(())
    }
}
