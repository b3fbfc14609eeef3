//! Host interning: each `host.id` becomes a small index, with the host's clocks,
//! its pending-write list and its reorder buffer.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cmp::Ordering;

use hashbrown::HashTable;

use crate::keys::KeyHasher;
use crate::owned::OwnedEvent;
use crate::stable_hash::StableHasher;
use crate::time::Timestamp;
use crate::verdict::AlertId;
use crate::window::HostList;

/// Bytes a held event costs beyond its owned copy: its heap entry with the heap's
/// slack (a heap is shrunk to twice its length when it falls to a quarter of its
/// capacity, so capacity stays under four times the length) and its store slot.
pub(crate) const HELD_OVERHEAD: usize =
    4 * core::mem::size_of::<Held>() + core::mem::size_of::<Option<OwnedEvent>>() + 4;

/// An event held for reordering: its sort key and where its copy is stored (the
/// copies live in one store, so a host's heap holds 40-byte entries).
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) key: OrderKey,
    pub(crate) copy: u32,
}

/// Where an event falls in the time-sorted stream: timestamp, then the semantics'
/// tiebreak, then arrival. A total order, so the result never depends on how inputs
/// interleave beyond what the semantics say.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OrderKey {
    pub(crate) timestamp: Timestamp,
    pub(crate) tiebreak: (bool, u64),
    pub(crate) arrival: u64,
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    // Reversed: `BinaryHeap` is a max-heap and we want the earliest first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// A host's reorder buffer: a binary max-heap of [`Held`] (whose order is reversed:
/// the earliest event on top). It is `alloc::collections::BinaryHeap`'s algorithm
/// step for step, so the layout (which snapshots write out) is the same; written
/// out here so that the key comparisons inline (the standard heap called `Ord::cmp`
/// out of line), and a push or pop on a heap of one, the usual case, is a `Vec`
/// push or pop.
#[derive(Debug, Default)]
pub(crate) struct HeldHeap {
    data: Vec<Held>,
}

impl HeldHeap {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The earliest held event.
    #[inline]
    pub(crate) fn peek(&self) -> Option<&Held> {
        self.data.first()
    }

    pub(crate) fn capacity(&self) -> usize {
        self.data.capacity()
    }

    pub(crate) fn shrink_to(&mut self, min_capacity: usize) {
        self.data.shrink_to(min_capacity);
    }

    /// Every held event, in heap (not sorted) order.
    pub(crate) fn iter(&self) -> core::slice::Iter<'_, Held> {
        self.data.iter()
    }

    /// The held events, in heap order.
    pub(crate) fn into_vec(self) -> Vec<Held> {
        self.data
    }

    #[inline]
    pub(crate) fn push(&mut self, item: Held) {
        let old_len = self.data.len();
        self.data.push(item);
        self.sift_up(0, old_len);
    }

    /// Takes the earliest held event.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Held> {
        let mut item = self.data.pop()?;
        if let Some(root) = self.data.first_mut() {
            core::mem::swap(&mut item, root);
            self.sift_down_to_bottom(0);
        }
        Some(item)
    }

    /// Moves the element at `pos` up while it is greater than its parent, not above
    /// `start`; where it ends.
    #[inline]
    fn sift_up(&mut self, start: usize, mut pos: usize) -> usize {
        while pos > start {
            let parent = (pos - 1) / 2;
            match (self.data.get(pos), self.data.get(parent)) {
                (Some(element), Some(above)) if element > above => {}
                _ => break,
            }
            self.data.swap(pos, parent);
            pos = parent;
        }
        pos
    }

    /// Moves the element at `pos` down to a leaf along the greater children, then
    /// up to its place (fewer comparisons than a plain sift down, as in `BinaryHeap`).
    fn sift_down_to_bottom(&mut self, start: usize) {
        let end = self.data.len();
        let mut pos = start;
        let mut child = 2 * pos + 1;
        while child <= end.saturating_sub(2) {
            // The greater of the two children (the right one on a tie, as `BinaryHeap`).
            if let (Some(left), Some(right)) = (self.data.get(child), self.data.get(child + 1))
                && left <= right
            {
                child += 1;
            }
            self.data.swap(pos, child);
            pos = child;
            child = 2 * pos + 1;
        }
        if end.checked_sub(1) == Some(child) {
            self.data.swap(pos, child);
            pos = child;
        }
        self.sift_up(start, pos);
    }
}

/// `a == b`, inlined for ids of 16 to 64 bytes (UUIDs, hostnames): compared 16
/// bytes at a time, the last 16 overlapping, where `==` calls `bcmp` out of line
/// and the lookup around it spills its registers to make the call.
#[inline(always)]
fn same_id(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if !(16..=64).contains(&n) {
        return a == b;
    }
    let word = |s: &[u8], at: usize| {
        s.get(at..at + 16)
            .and_then(|w| <[u8; 16]>::try_from(w).ok())
            .map(u128::from_ne_bytes)
    };
    let mut at = 0;
    while at + 16 < n {
        if word(a, at) != word(b, at) {
            return false;
        }
        at += 16;
    }
    word(a, n - 16) == word(b, n - 16)
}

/// One host's state.
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) id: Arc<str>,
    /// [`AlertId::host_seed`] of this host: hashing the id once per host rather
    /// than once per alert. (The id's table hash is not kept: it is recomputed on
    /// the rare table growth and host removal.)
    pub(crate) alert_seed: StableHasher,
    /// The newest timestamp that arrived for this host: lateness is measured from it.
    pub(crate) seen: Timestamp,
    /// The newest timestamp processed (released from the buffer) for this host:
    /// pending writes expire against it.
    pub(crate) now: Timestamp,
    pub(crate) list: HostList,
    pub(crate) buffer: HeldHeap,
    /// `seen` at the previous idle-host sweep: a host whose clock has not moved
    /// since is silent, however slow its clock.
    pub(crate) seen_at_sweep: Timestamp,
}

impl Host {
    pub(crate) fn is_idle(&self) -> bool {
        self.list.len == 0 && self.buffer.is_empty()
    }
}

/// All tracked hosts.
#[derive(Debug)]
pub(crate) struct Hosts {
    table: HashTable<u32>,
    slots: Vec<Option<Host>>,
    free: Vec<u32>,
    len: usize,
    /// [`AlertId::seed`] of the rule: each host's `alert_seed` continues it.
    alert_seed: StableHasher,
}

impl Hosts {
    /// No hosts; `alert_seed` is [`AlertId::seed`] of the detector's rule.
    pub(crate) fn new(alert_seed: StableHasher) -> Self {
        Hosts {
            table: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            alert_seed,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn find(&self, keys: &KeyHasher, id: &str) -> Option<u32> {
        let hash = keys.host(id);
        let slots = &self.slots;
        self.table
            .find(hash, |&s| {
                slots
                    .get(s as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(|h| same_id(h.id.as_bytes(), id.as_bytes()))
            })
            .copied()
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&Host> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut Host> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    /// Starts tracking `id` (which must not be tracked yet).
    pub(crate) fn insert(
        &mut self,
        keys: &KeyHasher,
        id: &str,
        seen: Timestamp,
        now: Timestamp,
    ) -> Option<u32> {
        let hash = keys.host(id);
        let host = Host {
            id: Arc::from(id),
            alert_seed: AlertId::host_seed(self.alert_seed, id),
            seen,
            now,
            list: HostList::default(),
            buffer: HeldHeap::default(),
            seen_at_sweep: Timestamp::MIN,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                *self.slots.get_mut(s as usize)? = Some(host);
                s
            }
            None => {
                if self.slots.len() >= crate::window::NIL as usize {
                    return None;
                }
                self.slots.push(Some(host));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.table.insert_unique(hash, slot, |&s| {
            slots
                .get(s as usize)
                .and_then(Option::as_ref)
                .map_or(0, |h| keys.host(&h.id))
        });
        self.len += 1;
        Some(slot)
    }

    /// Stops tracking the host in `slot`.
    pub(crate) fn remove(&mut self, keys: &KeyHasher, slot: u32) -> Option<Host> {
        let hash = keys.host(&self.get(slot)?.id);
        if let Ok(e) = self.table.find_entry(hash, |&s| s == slot) {
            e.remove();
        }
        let host = self.slots.get_mut(slot as usize).and_then(Option::take)?;
        self.free.push(slot);
        self.len -= 1;
        Some(host)
    }

    /// One past the highest slot ever used: iterate `0..slot_bound()` and skip empty
    /// slots to visit every host without allocating (removal during the walk is safe).
    pub(crate) fn slot_bound(&self) -> u32 {
        self.slots.len() as u32
    }

    /// Slots of every tracked host.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, h)| h.is_some())
            .map(|(i, _)| i as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BinaryHeap;

    /// `HeldHeap` is `BinaryHeap` step for step: the same elements in the same
    /// places after every push and pop (snapshots write the layout out), and so the
    /// same pops, over random interleavings with ties on every part of the key.
    #[test]
    fn held_heap_is_binary_heap() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for round in 0..200 {
            let (mut ours, mut std) = (HeldHeap::default(), BinaryHeap::new());
            for op in 0..(round * 3 + 1) {
                if next(3) > 0 {
                    let key = OrderKey {
                        timestamp: Timestamp(next(4) as i64),
                        tiebreak: (next(2) == 0, next(3)),
                        arrival: next(5),
                    };
                    ours.push(Held { key, copy: op });
                    std.push(Held { key, copy: op });
                } else {
                    let (a, b) = (ours.pop(), std.pop());
                    assert_eq!(a.map(|h| (h.key, h.copy)), b.map(|h| (h.key, h.copy)));
                }
                let layout = |h: &mut dyn Iterator<Item = &Held>| {
                    h.map(|h| (h.key, h.copy)).collect::<Vec<_>>()
                };
                assert_eq!(layout(&mut ours.iter()), layout(&mut std.iter()), "{round}");
                assert_eq!(
                    ours.peek().map(|h| h.copy),
                    std.peek().map(|h| h.copy),
                    "{round}"
                );
            }
            while let Some(b) = std.pop() {
                assert_eq!(ours.pop().map(|h| (h.key, h.copy)), Some((b.key, b.copy)));
            }
            assert!(ours.is_empty());
        }
    }

    /// `same_id` is `==` at every length and every differing byte.
    #[test]
    fn same_id_is_eq() {
        for n in 0..80usize {
            let a: Vec<u8> = (0..n).map(|i| (i * 7 + 1) as u8).collect();
            assert!(same_id(&a, &a.clone()), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_id(&a, &b), "{n} {at}");
            }
            let mut longer = a.clone();
            longer.push(0);
            assert!(!same_id(&a, &longer) && !same_id(&longer, &a), "{n}");
        }
    }

    #[test]
    fn sizes_fit_the_memory_bound() {
        // `Config::memory_bound` counts these; a change here must update it.
        assert_eq!(core::mem::size_of::<Held>(), 40);
        assert!(
            core::mem::size_of::<Option<Host>>() + 16 + 16 <= 128,
            "{}",
            core::mem::size_of::<Option<Host>>()
        );
    }
}
