//! Tunables of a detector: lateness, caps, hashing.

use crate::time::Span;

/// How a [`Detector`](crate::Detector) orders input and bounds its memory.
///
/// The defaults keep the whole detector under 256 MiB whatever the input (see
/// [`Config::memory_bound`]): no stream, however hostile, makes it grow past that.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Config {
    /// How far behind its host's newest timestamp an event may arrive and still be
    /// ordered exactly. 0 (the default) processes events in arrival order with no
    /// delay; `L > 0` holds candidate events up to `L` of event time to sort them.
    pub max_lateness: Span,
    /// Most pending writes across all hosts.
    pub max_pending: usize,
    /// Most pending writes of one host: one host flooding SMB writes evicts its own
    /// oldest entries, never another host's.
    pub max_pending_per_host: usize,
    /// Most bytes of strings (paths and event ids) held by pending writes.
    pub max_pending_bytes: usize,
    /// Most events held in the reorder buffer, all hosts together.
    pub max_buffered: usize,
    /// Most bytes held by the reorder buffer (records and their strings).
    pub max_buffered_bytes: usize,
    /// Most hosts tracked at once; hosts with nothing pending are forgotten first.
    pub max_hosts: usize,
    /// A host whose clock trails the detector's consensus clock (the lower median of
    /// all host clocks) by more than this has its pending writes released by the
    /// periodic sweep. Must exceed `maxspan + max_lateness`.
    pub idle_host_timeout: Span,
    /// How many events pass between two idle-host sweeps (at least the number of
    /// tracked hosts, so a sweep's O(hosts) cost is spread over as many events).
    pub sweep_interval: u64,
    /// Key of the hash tables' hasher. Paths are attacker-chosen, so the key should
    /// be secret: `None` draws a random key where the `std` feature is on, and uses a
    /// fixed key without it (no_std has no randomness: supply one).
    pub hash_seed: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_lateness: Span::ZERO,
            max_pending: 500_000,
            max_pending_per_host: 10_000,
            max_pending_bytes: 48 << 20,
            max_buffered: 100_000,
            max_buffered_bytes: 48 << 20,
            max_hosts: 100_000,
            idle_host_timeout: Span::from_secs(600),
            sweep_interval: 1 << 16,
            hash_seed: None,
        }
    }
}

/// Heap bytes of one pending write at most, not counting its strings: the 72-byte
/// entry, its hash-table slot with the table's growth slack, and a free-list slot.
pub const PENDING_ENTRY_BYTES: usize = 96;
/// Heap bytes of one tracked host at most, not counting its id: the record, its
/// hash-table slot with slack, the id's reference-count header, and the smallest
/// reorder heap (four 40-byte entries).
pub const HOST_BYTES: usize = 128 + 4 * 40;
/// Longest `host.id` that joins. Agent ids are UUIDs and host names at most 255
/// bytes; a longer id is treated as a missing key (counted in `unkeyed`; where
/// Elasticsearch would join it), so that hosts stay small whatever the input.
pub const MAX_HOST_ID_BYTES: usize = 256;
/// Bytes of one held event's copy record, before its strings.
const HELD_COPY_BYTES: usize = 160;
/// Bytes kept by the pool of recycled string buffers at most.
const POOL_BYTES: usize = 4 << 20;
/// Pending writes are stored in chunks of this many 72-byte entries.
const ENTRY_CHUNK_BYTES: usize = 4096 * 72;
/// Bytes of the buffer a verdict's strings are packed in that the detector keeps for
/// the next verdict at most (a longer one is freed: the process event's strings, which
/// the caller sets, have no cap).
pub(crate) const VERDICT_SCRATCH_BYTES: usize = 64 << 10;

impl Config {
    /// An upper bound on the detector's heap use under this configuration, in bytes,
    /// not counting verdicts not yet taken (poll them).
    ///
    /// - pending writes: [`PENDING_ENTRY_BYTES`] each (plus one partly used chunk of
    ///   entries) and their strings, capped by `max_pending_bytes`;
    /// - the reorder buffer: `max_buffered_bytes` (copies, strings, heap entries and
    ///   heap slack are all charged to it), the store of copies at its peak (twice
    ///   `max_buffered` records of 160 bytes), and 4 MiB of recycled string buffers;
    /// - hosts: [`HOST_BYTES`] plus [`MAX_HOST_ID_BYTES`] each;
    /// - 64 KiB kept to pack the next verdict's strings in.
    ///
    /// The defaults give about 228 MiB, under 256 MiB.
    pub fn memory_bound(&self) -> usize {
        let entries = self
            .max_pending
            .saturating_mul(PENDING_ENTRY_BYTES)
            .saturating_add(ENTRY_CHUNK_BYTES);
        let buffer = self
            .max_buffered_bytes
            .saturating_add(self.max_buffered.saturating_mul(2 * HELD_COPY_BYTES))
            .saturating_add(POOL_BYTES);
        let hosts = self
            .max_hosts
            .saturating_mul(HOST_BYTES + MAX_HOST_ID_BYTES);
        entries
            .saturating_add(self.max_pending_bytes)
            .saturating_add(buffer)
            .saturating_add(hosts)
            .saturating_add(VERDICT_SCRATCH_BYTES)
    }
}

impl Config {
    /// This configuration with an [`idle_host_timeout`](Config::idle_host_timeout) that
    /// [`validate`](Self::validate) accepts for a rule of `maxspan`: unchanged if it
    /// already exceeds `maxspan + max_lateness`, else that sum plus 10 minutes (the
    /// default's slack over the rule's 60 s). For a caller that lets its users set the
    /// lateness but not the timeout (the CLI). `None` if the sum does not fit in a
    /// [`Span`] (292 years).
    ///
    /// # Example
    /// ```
    /// use shareexec::{Config, Span};
    ///
    /// let maxspan = Span::from_secs(60);
    /// let config = Config::default().with_max_lateness(Span::from_secs(3600));
    /// assert!(config.validate(maxspan).is_err());
    /// let config = config.with_idle_host_timeout_covering(maxspan).unwrap();
    /// assert_eq!(config.idle_host_timeout, Span::from_secs(60 + 3600 + 600));
    /// assert!(config.validate(maxspan).is_ok());
    /// ```
    #[must_use]
    pub fn with_idle_host_timeout_covering(mut self, maxspan: Span) -> Option<Self> {
        let needed = maxspan.0.checked_add(self.max_lateness.0)?;
        let timeout = needed.checked_add(Span::from_secs(600).0)?;
        if self.idle_host_timeout.0 <= needed {
            self.idle_host_timeout = Span(timeout);
        }
        Some(self)
    }

    /// Checks that the configuration can work with a rule of `maxspan`.
    pub fn validate(&self, maxspan: Span) -> Result<(), crate::ConfigError> {
        use crate::ConfigError::*;
        if self.max_lateness < Span::ZERO {
            return Err(NegativeLateness(self.max_lateness));
        }
        for (name, cap) in [
            ("max_pending", self.max_pending),
            ("max_pending_per_host", self.max_pending_per_host),
            ("max_pending_bytes", self.max_pending_bytes),
            ("max_buffered", self.max_buffered),
            ("max_buffered_bytes", self.max_buffered_bytes),
            ("max_hosts", self.max_hosts),
        ] {
            if cap == 0 {
                return Err(ZeroCap(name));
            }
        }
        let needed = Span(maxspan.0.saturating_add(self.max_lateness.0));
        if self.idle_host_timeout <= needed {
            return Err(SweepTooEager {
                timeout: self.idle_host_timeout,
                needed,
            });
        }
        Ok(())
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $field:ident: $ty:ty;)*) => {
        impl Config {
            $( $(#[$doc])* #[must_use] pub fn $name(mut self, value: $ty) -> Self { self.$field = value; self } )*
        }
    };
}

setters! {
    /// Sets [`max_lateness`](Config::max_lateness).
    with_max_lateness: max_lateness: Span;
    /// Sets [`max_pending`](Config::max_pending).
    with_max_pending: max_pending: usize;
    /// Sets [`max_pending_per_host`](Config::max_pending_per_host).
    with_max_pending_per_host: max_pending_per_host: usize;
    /// Sets [`max_pending_bytes`](Config::max_pending_bytes).
    with_max_pending_bytes: max_pending_bytes: usize;
    /// Sets [`max_buffered`](Config::max_buffered).
    with_max_buffered: max_buffered: usize;
    /// Sets [`max_buffered_bytes`](Config::max_buffered_bytes).
    with_max_buffered_bytes: max_buffered_bytes: usize;
    /// Sets [`max_hosts`](Config::max_hosts).
    with_max_hosts: max_hosts: usize;
    /// Sets [`idle_host_timeout`](Config::idle_host_timeout).
    with_idle_host_timeout: idle_host_timeout: Span;
    /// Sets [`sweep_interval`](Config::sweep_interval).
    with_sweep_interval: sweep_interval: u64;
    /// Sets [`hash_seed`](Config::hash_seed).
    with_hash_seed: hash_seed: Option<u64>;
}
