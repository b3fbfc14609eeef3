//! A hash that is the same on every machine, build and run.
//!
//! Used where a value leaves the process: alert ids (replays must deduplicate) and,
//! later, partition keys. Never used for hash tables fed by attacker-chosen keys —
//! those use a keyed hasher (see [`Config::hash_seed`](crate::Config::hash_seed)).
//!
//! FNV-1a over the bytes, each field followed by a separator byte and its length so
//! that `("ab","c")` and `("a","bc")` differ, finished with the MurmurHash3 `fmix64`
//! avalanche so that every input bit affects every output bit.

/// Incremental stable 64-bit hasher.
#[derive(Clone, Copy, Debug)]
pub struct StableHasher(u64);

impl Default for StableHasher {
    fn default() -> Self {
        StableHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl StableHasher {
    /// A new hasher.
    pub fn new() -> Self {
        Self::default()
    }

    fn byte(&mut self, b: u8) {
        self.0 ^= u64::from(b);
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }

    /// Adds a byte string as one field.
    pub fn bytes(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.byte(b);
        }
        self.byte(0xff);
        self.u64(bytes.len() as u64)
    }

    /// Adds a string as one field.
    pub fn str(self, s: &str) -> Self {
        self.bytes(s.as_bytes())
    }

    /// Adds an optional string (missing differs from empty).
    pub fn opt_str(self, s: Option<&str>) -> Self {
        match s {
            Some(s) => self.u64(1).str(s),
            None => self.u64(0),
        }
    }

    /// Adds a number as one field.
    pub fn u64(mut self, v: u64) -> Self {
        for b in v.to_le_bytes() {
            self.byte(b);
        }
        self
    }

    /// The 64-bit result.
    pub fn finish(self) -> u64 {
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_and_field_separated() {
        let a = StableHasher::new().str("ab").str("c").finish();
        let b = StableHasher::new().str("a").str("bc").finish();
        assert_ne!(a, b);
        // Pinned: this value must never change between versions (ids leave the process).
        assert_eq!(StableHasher::new().finish(), 0xefd0_1f60_ba99_2926);
        assert_eq!(
            StableHasher::new().str("shareexec").finish(),
            0x277a_c6e9_d977_1bc8
        );
    }
}
