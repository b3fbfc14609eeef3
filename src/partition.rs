//! Partitioning for distributed engines: which instance owns which event.
//!
//! The detection's state partitions perfectly by `host.id`: a sequence joins a write
//! and an execution **of the same host**, and every piece of mutable state (pending
//! writes, clocks, reorder buffer) belongs to one host. So an engine that sends every
//! event of a host to the same [`Detector`](crate::Detector) instance finds exactly the
//! sequences one detector would find on the whole stream.
//!
//! The pieces, all pure functions that give the same answer on every machine, build and
//! run (never a randomly seeded hasher), so that a sender and a receiver, a job and its
//! restart, or a Rust and a Java process agree on where a host lives:
//!
//! - [`partition_key`]: the key to route an event by (its `host.id`, byte for byte,
//!   exactly what the detector joins on);
//! - [`key_hash`]: a stable 64-bit hash of the key (FNV-1a + `fmix64`, see
//!   [`stable_hash`](crate::stable_hash)), pinned by golden values in the tests;
//! - [`key_group`]: `key_hash % key_groups`, Flink's *key group*: the unit of state
//!   that moves when the job is rescaled. The number of key groups is the maximum
//!   parallelism (Flink's default is 128, [`DEFAULT_KEY_GROUPS`]) and must stay fixed
//!   for the life of the job's checkpoints;
//! - [`key_group_owner`] and [`key_group_range`]: which of `workers` instances owns a
//!   key group — contiguous ranges, with Flink's arithmetic, so a checkpoint written by
//!   `n` workers is re-split for `m` workers by key group.
//!
//! To move state between instances use [`Detector::split`](crate::Detector::split) (by
//! host, e.g. by key group) and [`Detector::merge`](crate::Detector::merge).
//!
//! # Example
//! ```
//! use shareexec::partition::{key_group, key_group_owner, key_group_range, key_hash, DEFAULT_KEY_GROUPS};
//!
//! let group = key_group(key_hash("6d14475b-f320-40e5-7b29-5d5fdeb8fc4c"), DEFAULT_KEY_GROUPS);
//! let owner = key_group_owner(group, DEFAULT_KEY_GROUPS, 3);
//! assert!(key_group_range(owner, 3, DEFAULT_KEY_GROUPS).contains(&group));
//! ```

use core::ops::Range;

use crate::event::Event;
use crate::rule::Rule;
use crate::stable_hash::StableHasher;
use crate::trust::TrustPolicy;

/// Flink's default maximum parallelism: 128 key groups.
pub const DEFAULT_KEY_GROUPS: u32 = 128;

/// The key an engine must route `event` by: its `host.id`, exactly as the detector
/// joins on it (case and all). `None` when the event has no `host.id`: such an event
/// can never be part of a sequence (a null key never joins), so it may go anywhere or
/// be dropped.
///
/// # Example
/// ```
/// use shareexec::{partition::partition_key, Event, FileEvent};
/// let e = Event::File(FileEvent { host_id: Some("h1"), ..FileEvent::default() });
/// assert_eq!(partition_key(&e), Some("h1"));
/// ```
pub fn partition_key<'a>(event: &Event<'a>) -> Option<&'a str> {
    event.host_id()
}

/// Whether `event` can change the detector's state or output under `rule`: a write or
/// an execution that passes the rule's predicates. An engine may drop every other
/// event before the exchange (most of a real stream): the verdicts stay the same,
/// except where the idle-host sweep decides. [`Stats::events`](crate::Stats::events)
/// then counts fewer events, and the sweep (and the host-cap scan), scheduled every
/// so many events, runs at other moments: a host whose clock trails the others by
/// more than [`Config::idle_host_timeout`](crate::Config::idle_host_timeout) may be
/// swept in one run and not in the other, and its write then joins in only one.
///
/// # Example
/// ```
/// use shareexec::{partition::is_candidate, Event, EventTypes, FileEvent, Rule};
/// let rule = Rule::hardened();
/// let noise = Event::File(FileEvent { host_id: Some("h1"), pid: Some(1234), ..FileEvent::default() });
/// assert!(!is_candidate(&rule, &noise));
/// ```
pub fn is_candidate<P: TrustPolicy>(rule: &Rule<P>, event: &Event<'_>) -> bool {
    match event {
        Event::File(f) => rule.is_write(f),
        Event::Process(p) => rule.is_execution(p),
    }
}

/// The stable 64-bit hash of a partition key: the same on every machine, build and
/// run. Defined as [`StableHasher::new().str(key).finish()`](StableHasher), i.e. FNV-1a
/// (64-bit) over the key's UTF-8 bytes, then the byte `0xff`, then the key's length as
/// 8 little-endian bytes, finished with MurmurHash3's `fmix64`. Golden values are
/// pinned by tests, so it can be reimplemented elsewhere (a Kafka partitioner, a JVM).
///
/// # Example
/// ```
/// use shareexec::partition::key_hash;
/// assert_eq!(key_hash("host-1"), key_hash("host-1"));
/// assert_ne!(key_hash("host-1"), key_hash("HOST-1"), "exactly what the detector joins on");
/// ```
pub fn key_hash(key: &str) -> u64 {
    StableHasher::new().str(key).finish()
}

/// The key group of a key hash: `hash % key_groups` (a `key_groups` of 0 counts as 1).
///
/// # Example
/// ```
/// use shareexec::partition::{key_group, key_hash};
/// assert!(key_group(key_hash("host-1"), 128) < 128);
/// assert_eq!(key_group(1000, 128), 1000 % 128);
/// ```
pub fn key_group(hash: u64, key_groups: u32) -> u32 {
    (hash % u64::from(key_groups.max(1))) as u32
}

/// Which of `workers` instances (numbered from 0) owns key group `group` of
/// `key_groups`: `group * workers / key_groups`, as Flink computes it. Owners get
/// contiguous ranges ([`key_group_range`]). A `workers` of 0 counts as 1; a group out
/// of range goes to the last worker.
///
/// # Example
/// ```
/// use shareexec::partition::key_group_owner;
/// assert_eq!(key_group_owner(0, 128, 2), 0);
/// assert_eq!(key_group_owner(63, 128, 2), 0);
/// assert_eq!(key_group_owner(64, 128, 2), 1);
/// ```
pub fn key_group_owner(group: u32, key_groups: u32, workers: u32) -> u32 {
    let (groups, workers) = (u64::from(key_groups.max(1)), u64::from(workers.max(1)));
    let group = u64::from(group).min(groups - 1);
    (group * workers / groups) as u32
}

/// The key groups that `worker` of `workers` owns: exactly the groups `g` with
/// [`key_group_owner`]`(g, key_groups, workers) == worker`. Empty when there are more
/// workers than key groups and this one gets none, or when `worker >= workers`.
///
/// # Example
/// ```
/// use shareexec::partition::key_group_range;
/// assert_eq!(key_group_range(0, 3, 128), 0..43);
/// assert_eq!(key_group_range(1, 3, 128), 43..86);
/// assert_eq!(key_group_range(2, 3, 128), 86..128);
/// ```
pub fn key_group_range(worker: u32, workers: u32, key_groups: u32) -> Range<u32> {
    let (groups, workers) = (u64::from(key_groups.max(1)), u64::from(workers.max(1)));
    let worker = u64::from(worker);
    if worker >= workers {
        return 0..0;
    }
    // The smallest g with g * workers / groups >= w is ceil(w * groups / workers).
    let start = (worker * groups).div_ceil(workers);
    let end = ((worker + 1) * groups).div_ceil(workers);
    start as u32..end as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_is_pinned() {
        // Golden values: these must never change (state and routing depend on them;
        // other implementations are checked against them). Same on every machine.
        // (Computed independently from the documented definition, in Python.)
        assert_eq!(key_hash(""), 0xe5dc_7d6d_69a7_ecb1);
        assert_eq!(key_hash("host-1"), 0x0b6f_a38d_55a6_320c);
        assert_eq!(
            key_hash("6d14475b-f320-40e5-7b29-5d5fdeb8fc4c"),
            0x4323_4459_dbad_c8b8
        );
        // Multi-byte UTF-8, and a length over one byte (the 8 length bytes matter).
        assert_eq!(key_hash("\u{fc}"), 0x3e4e_6525_6515_8edc);
        assert_eq!(key_hash(&"h".repeat(300)), 0x7bf2_596e_5d3a_2099);
        assert_eq!(key_group(0x3e4e_6525_6515_8edc, DEFAULT_KEY_GROUPS), 92);
        assert_eq!(key_group(key_hash(""), DEFAULT_KEY_GROUPS), 49);
        assert_eq!(key_group(key_hash("host-1"), DEFAULT_KEY_GROUPS), 12);
        assert_eq!(
            key_group(
                key_hash("6d14475b-f320-40e5-7b29-5d5fdeb8fc4c"),
                DEFAULT_KEY_GROUPS
            ),
            56
        );
    }

    #[test]
    fn ranges_and_owners_agree() {
        for groups in [1u32, 2, 7, 128, 1000] {
            for workers in 1u32..=12 {
                let mut next = 0;
                for w in 0..workers {
                    let r = key_group_range(w, workers, groups);
                    assert_eq!(r.start, next, "contiguous");
                    next = r.end;
                    for g in r {
                        assert_eq!(key_group_owner(g, groups, workers), w);
                    }
                }
                assert_eq!(next, groups, "covers every group");
            }
        }
        assert_eq!(key_group_range(5, 2, 128), 0..0);
        assert_eq!(key_group_owner(500, 128, 2), 1);
    }
}
