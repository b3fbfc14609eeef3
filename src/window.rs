//! Pending writes: the writes waiting for their execution, per host, in time order,
//! with expiry by each host's own clock and eviction to stay within the caps.
//!
//! Layout (why it is cheap): entries live in a slab of fixed-size chunks (so growth
//! never doubles the whole store, and a 72-byte entry stays 72 bytes) and are found through a
//! `hashbrown::HashTable` of slab indices, so the key is stored once, inside the
//! entry. Each entry sits on two intrusive doubly linked lists of slab indices: its
//! host's list in processing (= time) order, which expiry pops from the front, and a
//! global list in insertion order, which capacity eviction pops from the front when
//! the inserting host has nothing of its own to give up. Neither list copies a key.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use hashbrown::HashTable;

use crate::event::{Hashes, Origin};
use crate::keys::KeyHasher;
use crate::time::{Span, Timestamp};

pub(crate) const NIL: u32 = u32::MAX;

/// Longest event id or hash a pending write carries into its alert; longer ones are
/// dropped (reported as missing) so one field cannot inflate an entry.
pub(crate) const MAX_CARRIED: usize = u16::MAX as usize - 1;
const ABSENT: u16 = u16::MAX;
const HAS_SEQUENCE: u32 = 1 << 31;

/// One pending write.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The write's path, then its event id, sha256, sha1 and md5, in one allocation.
    text: Box<str>,
    /// Length of the path in `text` (low 31 bits) and whether `sequence` is present
    /// (top bit): packing keeps the entry at 72 bytes.
    meta: u32,
    /// Lengths of id, sha256, sha1, md5 (`ABSENT` when missing).
    carried: [u16; 4],
    pub(crate) host: u32,
    pub(crate) timestamp: Timestamp,
    sequence: u64,
    pub(crate) position: u64,
    host_prev: u32,
    host_next: u32,
    all_prev: u32,
    all_next: u32,
}

impl Entry {
    fn new(host: u32, path: &str, origin: &Origin<'_>, hash: &Hashes<'_>) -> Option<Entry> {
        let path_len = u32::try_from(path.len())
            .ok()
            .filter(|&l| l & HAS_SEQUENCE == 0)?;
        let fields = [origin.id, hash.sha256, hash.sha1, hash.md5];
        fn kept(f: Option<&str>) -> Option<&str> {
            f.filter(|f| f.len() <= MAX_CARRIED)
        }
        let mut text = String::with_capacity(
            path.len()
                + fields
                    .iter()
                    .map(|f| kept(*f).map_or(0, str::len))
                    .sum::<usize>(),
        );
        text.push_str(path);
        let mut carried = [ABSENT; 4];
        for (slot, field) in carried.iter_mut().zip(fields) {
            if let Some(f) = kept(field) {
                text.push_str(f);
                *slot = f.len() as u16;
            }
        }
        Some(Entry {
            text: text.into_boxed_str(),
            meta: path_len
                | if origin.sequence.is_some() {
                    HAS_SEQUENCE
                } else {
                    0
                },
            carried,
            host,
            timestamp: origin.timestamp,
            sequence: origin.sequence.unwrap_or(0),
            position: origin.position,
            host_prev: NIL,
            host_next: NIL,
            all_prev: NIL,
            all_next: NIL,
        })
    }

    fn path_len(&self) -> usize {
        (self.meta & !HAS_SEQUENCE) as usize
    }

    pub(crate) fn path(&self) -> &str {
        self.text.get(..self.path_len()).unwrap_or("")
    }

    pub(crate) fn sequence(&self) -> Option<u64> {
        (self.meta & HAS_SEQUENCE != 0).then_some(self.sequence)
    }

    /// The carried strings (id, sha256, sha1, md5), in one walk of the lengths.
    fn carried(&self) -> [Option<&str>; 4] {
        let mut out = [None; 4];
        let mut start = self.path_len();
        for (field, &len) in out.iter_mut().zip(&self.carried) {
            if len != ABSENT {
                let end = start + len as usize;
                *field = self.text.get(start..end);
                start = end;
            }
        }
        out
    }

    pub(crate) fn id(&self) -> Option<&str> {
        // The id comes first: no walk.
        match self.carried[0] {
            ABSENT => None,
            len => {
                let start = self.path_len();
                self.text.get(start..start + len as usize)
            }
        }
    }

    pub(crate) fn hash(&self) -> Hashes<'_> {
        let [_, sha256, sha1, md5] = self.carried();
        Hashes { sha256, sha1, md5 }
    }

    /// [`origin`](Self::origin) and [`hash`](Self::hash) together, in one walk.
    pub(crate) fn origin_and_hash(&self) -> (Origin<'_>, Hashes<'_>) {
        let [id, sha256, sha1, md5] = self.carried();
        (
            Origin {
                timestamp: self.timestamp,
                sequence: self.sequence(),
                id,
                position: self.position,
            },
            Hashes { sha256, sha1, md5 },
        )
    }

    pub(crate) fn origin(&self) -> Origin<'_> {
        Origin {
            timestamp: self.timestamp,
            sequence: self.sequence(),
            id: self.id(),
            position: self.position,
        }
    }

    fn string_bytes(&self) -> usize {
        self.text.len()
    }
}

/// The bytes a write would occupy as a pending entry's strings.
pub(crate) fn entry_string_bytes(path: &str, origin: &Origin<'_>, hash: &Hashes<'_>) -> usize {
    [origin.id, hash.sha256, hash.sha1, hash.md5]
        .iter()
        .flatten()
        .filter(|f| f.len() <= MAX_CARRIED)
        .map(|f| f.len())
        .sum::<usize>()
        + path.len()
}

/// The ends and length of one host's list, and the timestamp of its head (its
/// oldest write), so that the expiry check of every in-order candidate reads only
/// the host, never the slab.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HostList {
    head: u32,
    tail: u32,
    pub(crate) len: u32,
    /// A filter of the host's pending paths: bit `KeyHasher::path_class` of every
    /// path inserted since the list was last empty (removals leave their bit: it
    /// can only say "maybe"). A process start whose class bit is clear has no
    /// pending write: most starts skip the hashing and the table lookup. It sits
    /// in what was padding, so the host does not grow; 0 exactly when `len` is 0.
    pub(crate) classes: u32,
    /// The head's timestamp, when `len > 0`.
    head_ts: Timestamp,
}

impl Default for HostList {
    fn default() -> Self {
        HostList {
            head: NIL,
            tail: NIL,
            len: 0,
            classes: 0,
            head_ts: Timestamp::MIN,
        }
    }
}

/// Entries per slab chunk: growth adds 4 096 × 72 bytes at a time.
const CHUNK: usize = 4096;

/// A slab in fixed-size chunks: indices are stable, growth is linear.
///
/// A chunk's memory is reserved whole when it is started (so the allocation, and what
/// `bytes_per_pending_entry` counts, does not change as it fills) but written only as
/// slots are handed out: the pages of a fresh chunk past its last slot are never
/// touched, and a detector holding 90 writes keeps ~6 KiB of them resident, not the
/// 288 KiB that writing every slot of the first chunk as `None` made resident.
#[derive(Debug, Default)]
struct Slab {
    /// Each chunk holds `CHUNK` slots of capacity; the last one's length is
    /// `used % CHUNK` (every earlier one is full).
    chunks: Vec<Vec<Option<Entry>>>,
    /// Slots handed out so far (all below it exist).
    used: usize,
}

impl Slab {
    fn get(&self, slot: u32) -> Option<&Entry> {
        let slot = slot as usize;
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)?.as_ref()
    }

    fn get_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        let slot = slot as usize;
        self.chunks
            .get_mut(slot / CHUNK)?
            .get_mut(slot % CHUNK)?
            .as_mut()
    }

    fn cell(&mut self, slot: u32) -> Option<&mut Option<Entry>> {
        let slot = slot as usize;
        self.chunks.get_mut(slot / CHUNK)?.get_mut(slot % CHUNK)
    }

    /// Stores `entry` in a slot that was handed out before (from the free list).
    fn put(&mut self, slot: u32, entry: Entry) {
        if let Some(cell) = self.cell(slot) {
            *cell = Some(entry);
        }
    }

    /// Stores `entry` in a new slot.
    fn push(&mut self, entry: Entry) -> Option<u32> {
        let slot = u32::try_from(self.used).ok().filter(|&s| s != NIL)?;
        if self.used / CHUNK == self.chunks.len() {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        // Slots are handed out in order, so the new one is the end of the last chunk.
        self.chunks.last_mut()?.push(Some(entry));
        self.used += 1;
        Some(slot)
    }

    fn take(&mut self, slot: u32) -> Option<Entry> {
        self.cell(slot)?.take()
    }
}

/// All pending writes.
#[derive(Debug, Default)]
pub(crate) struct Window {
    slab: Slab,
    free: Vec<u32>,
    table: HashTable<u32>,
    all_head: u32,
    all_tail: u32,
    len: usize,
    string_bytes: usize,
    hosts_with_entries: usize,
}

impl Window {
    pub(crate) fn new() -> Self {
        Window {
            all_head: NIL,
            all_tail: NIL,
            ..Default::default()
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn string_bytes(&self) -> usize {
        self.string_bytes
    }

    /// How many hosts have at least one pending write.
    pub(crate) fn hosts_with_entries(&self) -> usize {
        self.hosts_with_entries
    }

    pub(crate) fn get(&self, slot: u32) -> Option<&Entry> {
        self.slab.get(slot)
    }

    fn entry_mut(&mut self, slot: u32) -> Option<&mut Entry> {
        self.slab.get_mut(slot)
    }

    /// The slot holding `(host, path)`, if a write is pending for it.
    pub(crate) fn find(&self, keys: &KeyHasher, host: u32, path: &str) -> Option<u32> {
        let hash = keys.path(host, path);
        self.find_hashed(keys, hash, host, path)
    }

    /// [`find`](Self::find) with `hash` = `keys.path(host, path)` already computed.
    pub(crate) fn find_hashed(
        &self,
        keys: &KeyHasher,
        hash: u64,
        host: u32,
        path: &str,
    ) -> Option<u32> {
        let slab = &self.slab;
        self.table
            .find(hash, |&s| {
                slab.get(s)
                    .is_some_and(|e| e.host == host && keys.path_eq(e.path(), path))
            })
            .copied()
    }

    /// Adds a pending write for `(host, path)`, which must have none (the caller
    /// removes the one it replaces: the latest write wins). Returns the slot, or
    /// `None` when the path is too long to store (over 2 GiB) or the slab is full.
    pub(crate) fn insert(
        &mut self,
        keys: &KeyHasher,
        list: &mut HostList,
        host: u32,
        path: &str,
        origin: &Origin<'_>,
        hash: &Hashes<'_>,
    ) -> Option<u32> {
        self.insert_hashed(keys, list, host, path, keys.path(host, path), origin, hash)
    }

    /// [`insert`](Self::insert) with `key_hash` = `keys.path(host, path)` already
    /// computed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn insert_hashed(
        &mut self,
        keys: &KeyHasher,
        list: &mut HostList,
        host: u32,
        path: &str,
        key_hash: u64,
        origin: &Origin<'_>,
        hash: &Hashes<'_>,
    ) -> Option<u32> {
        let entry = Entry::new(host, path, origin, hash)?;
        let bytes = entry.string_bytes();
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab.put(s, entry);
                s
            }
            None => self.slab.push(entry)?,
        };
        let slab = &self.slab;
        // The hash is not stored in the entry (8 bytes each): recompute it on growth.
        self.table.insert_unique(key_hash, slot, |&s| {
            slab.get(s).map_or(0, |e| keys.path(e.host, e.path()))
        });
        self.len += 1;
        self.string_bytes += bytes;
        self.link(list, slot);
        list.classes |= keys.path_class(path);
        Some(slot)
    }

    /// Removes the entry in `slot` and returns it.
    pub(crate) fn remove(
        &mut self,
        keys: &KeyHasher,
        list: &mut HostList,
        slot: u32,
    ) -> Option<Entry> {
        let hash = self.get(slot).map(|e| keys.path(e.host, e.path()))?;
        self.remove_hashed(list, slot, hash)
    }

    /// [`remove`](Self::remove) with `hash` = the entry's `keys.path(host, path)`
    /// already computed (by the lookup that found it).
    pub(crate) fn remove_hashed(
        &mut self,
        list: &mut HostList,
        slot: u32,
        hash: u64,
    ) -> Option<Entry> {
        self.get(slot)?;
        self.unlink(list, slot);
        if let Ok(found) = self.table.find_entry(hash, |&s| s == slot) {
            found.remove();
        }
        let entry = self.slab.take(slot)?;
        self.free.push(slot);
        self.len -= 1;
        self.string_bytes -= entry.string_bytes();
        Some(entry)
    }

    /// Every pending write in insertion order (oldest first).
    pub(crate) fn in_insertion_order(&self) -> impl Iterator<Item = &Entry> + '_ {
        let mut at = self.all_head;
        core::iter::from_fn(move || {
            let e = self.get(at)?;
            at = e.all_next;
            Some(e)
        })
    }

    /// The host's oldest pending write.
    pub(crate) fn host_head(&self, list: &HostList) -> Option<u32> {
        (list.head != NIL).then_some(list.head)
    }

    /// The oldest pending write of all, by insertion.
    pub(crate) fn global_head(&self) -> Option<u32> {
        (self.all_head != NIL).then_some(self.all_head)
    }

    /// Removes the host's writes that `now` has put out of reach: `now - ts > maxspan`.
    /// The list is in time order, so this stops at the first live entry; when
    /// nothing expires it reads only the list.
    ///
    /// Always inlined: called for every candidate, it most often reads the list's
    /// length (or its head's timestamp) and returns; only removal goes out of line.
    #[inline(always)]
    pub(crate) fn expire(
        &mut self,
        keys: &KeyHasher,
        list: &mut HostList,
        now: Timestamp,
        maxspan: Span,
    ) -> u64 {
        let mut n = 0;
        while list.len > 0 && out_of_reach(now, list.head_ts, maxspan) {
            if self.remove(keys, list, list.head).is_none() {
                break;
            }
            n += 1;
        }
        n
    }

    /// Removes every pending write of a host.
    pub(crate) fn clear_host(&mut self, keys: &KeyHasher, list: &mut HostList) -> u64 {
        let mut n = 0;
        while let Some(slot) = self.host_head(list) {
            self.remove(keys, list, slot);
            n += 1;
        }
        n
    }

    /// Links a new entry: at the end of the global list (insertion order), and in
    /// its host's list at its place in time order. Writes arrive in time order, so
    /// the walk back from the tail stops at once except for late or forced writes.
    fn link(&mut self, list: &mut HostList, slot: u32) {
        let Some(ts) = self.get(slot).map(|e| e.timestamp) else {
            return;
        };
        let mut after = list.tail;
        while let Some(e) = self.get(after) {
            if e.timestamp <= ts {
                break;
            }
            after = e.host_prev;
        }
        let before = match self.get(after) {
            Some(e) => e.host_next,
            None => list.head,
        };
        let all_tail = self.all_tail;
        if let Some(e) = self.entry_mut(slot) {
            e.host_prev = after;
            e.host_next = before;
            e.all_prev = all_tail;
            e.all_next = NIL;
        }
        match self.entry_mut(after) {
            Some(p) => p.host_next = slot,
            None => {
                list.head = slot;
                list.head_ts = ts;
            }
        }
        match self.entry_mut(before) {
            Some(n) => n.host_prev = slot,
            None => list.tail = slot,
        }
        if list.len == 0 {
            self.hosts_with_entries += 1;
        }
        list.len += 1;
        match self.entry_mut(all_tail) {
            Some(t) => t.all_next = slot,
            None => self.all_head = slot,
        }
        self.all_tail = slot;
    }

    fn unlink(&mut self, list: &mut HostList, slot: u32) {
        let Some(e) = self.get(slot) else { return };
        let (hp, hn, ap, an) = (e.host_prev, e.host_next, e.all_prev, e.all_next);
        match self.entry_mut(hp) {
            Some(p) => p.host_next = hn,
            None => {
                list.head = hn;
                if let Some(next) = self.get(hn) {
                    list.head_ts = next.timestamp;
                }
            }
        }
        match self.entry_mut(hn) {
            Some(n) => n.host_prev = hp,
            None => list.tail = hp,
        }
        list.len = list.len.saturating_sub(1);
        if list.len == 0 {
            self.hosts_with_entries = self.hosts_with_entries.saturating_sub(1);
            list.classes = 0;
        }
        match self.entry_mut(ap) {
            Some(p) => p.all_next = an,
            None => self.all_head = an,
        }
        match self.entry_mut(an) {
            Some(n) => n.all_prev = ap,
            None => self.all_tail = ap,
        }
    }
}

/// Whether a write at `ts` is out of reach at `now`: `now - ts > maxspan`, exactly.
///
/// Computed as `now > ts + maxspan`, cheaper than the difference in 128 bits on the
/// path of every candidate: a sum beyond the range of `i64` lies beyond every `now`
/// when `maxspan` is positive, before every `now` when it is negative.
#[inline(always)]
pub(crate) fn out_of_reach(now: Timestamp, ts: Timestamp, maxspan: Span) -> bool {
    match ts.0.checked_add(maxspan.0) {
        Some(limit) => now.0 > limit,
        None => maxspan.0 < 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunk is reserved whole but written only up to its last slot handed out
    /// (pages past it stay untouched), slots freed and handed out again reuse it, and
    /// the next chunk starts only when one is full.
    #[test]
    fn slab_chunks_are_written_only_as_far_as_slots_are_handed_out() {
        let origin = Origin::default();
        let entry = |n: u32| Entry::new(n, "C:\\x.exe", &origin, &Hashes::default()).unwrap();
        let mut slab = Slab::default();
        for n in 0..3 {
            assert_eq!(slab.push(entry(n)), Some(n));
        }
        assert_eq!(slab.chunks.len(), 1);
        assert_eq!(slab.chunks[0].len(), 3);
        assert_eq!(slab.chunks[0].capacity(), CHUNK);
        assert_eq!(slab.take(1).map(|e| e.host), Some(1));
        assert!(slab.get(1).is_none());
        slab.put(1, entry(7));
        assert_eq!(slab.get(1).map(|e| e.host), Some(7));
        assert_eq!(slab.chunks[0].len(), 3);
        for n in 3..CHUNK as u32 + 1 {
            assert_eq!(slab.push(entry(n)), Some(n));
        }
        assert_eq!(slab.chunks.len(), 2);
        assert_eq!(slab.chunks[0].len(), CHUNK);
        assert_eq!(slab.chunks[1].len(), 1);
        assert_eq!(slab.get(CHUNK as u32).map(|e| e.host), Some(CHUNK as u32));
        assert!(slab.get(CHUNK as u32 + 1).is_none());
    }

    /// `out_of_reach` is the exact difference, at the ends of the range too.
    #[test]
    fn out_of_reach_is_the_exact_difference() {
        let edges = [
            i64::MIN,
            i64::MIN + 1,
            -60_000_000_000,
            -1,
            0,
            1,
            60_000_000_000,
            i64::MAX - 1,
            i64::MAX,
        ];
        for &now in &edges {
            for &ts in &edges {
                for &span in &edges {
                    let exact = i128::from(now) - i128::from(ts) > i128::from(span);
                    assert_eq!(
                        out_of_reach(Timestamp(now), Timestamp(ts), Span(span)),
                        exact,
                        "{now} {ts} {span}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn out_of_reach_agrees(now: i64, ts: i64, span: i64) {
            let exact = i128::from(now) - i128::from(ts) > i128::from(span);
            proptest::prop_assert_eq!(out_of_reach(Timestamp(now), Timestamp(ts), Span(span)), exact);
        }
    }

    #[test]
    fn entry_is_72_bytes() {
        // `Config::memory_bound` and the bytes-per-entry test rely on it.
        assert_eq!(core::mem::size_of::<Option<Entry>>(), 72);
    }
}
