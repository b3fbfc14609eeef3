//! Counters, readable at any time with [`Detector::stats`](crate::Detector::stats).

/// What the detector has seen and done. Totals only grow; gauges (`pending`,
/// `buffered`, `hosts`) are current values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Stats {
    /// Events handed to the detector.
    pub events: u64,
    /// Stage-1 candidates: writes that pass the rule's file predicate.
    pub writes: u64,
    /// Stage-2 candidates: process starts that pass the rule's process predicate.
    pub executions: u64,
    /// Candidates without a join key (`host.id` or path missing, or a `host.id` longer
    /// than [`MAX_HOST_ID_BYTES`](crate::MAX_HOST_ID_BYTES)): a null key never joins.
    pub unkeyed: u64,
    /// Sequences that alerted.
    pub alerts: u64,
    /// Sequences the trust policy suppressed.
    pub suppressed: u64,
    /// Pending writes released because their maxspan passed.
    pub expired: u64,
    /// Writes dropped to stay within the caps: pending writes evicted (oldest first),
    /// writes refused (larger than the byte budget, or of a new host when `max_hosts`
    /// are tracked and none is idle).
    pub evicted: u64,
    /// Pending writes released by the idle-host sweep.
    pub swept: u64,
    /// Candidates that arrived more than the lateness behind their host's clock, or at
    /// or before the watermark ([`Detector::advance`](crate::Detector::advance)).
    pub late: u64,
    /// Buffered events released early because the reorder buffer was full.
    pub forced: u64,
    /// Writes pending now.
    pub pending: u64,
    /// Events held in the reorder buffer now.
    pub buffered: u64,
    /// Hosts tracked now.
    pub hosts: u64,
}
