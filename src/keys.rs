//! Join keys: `(host.id, path)` hashed and compared exactly (Elasticsearch) or with
//! simple case folding (hardened), with a keyed hasher.

use core::hash::{BuildHasher, Hasher};

use foldhash::fast::FixedState;

use crate::fold::{eq_folded, fold_char};

/// Bytes of folded text hashed per `write` (see [`KeyHasher::path`]).
const FOLD_BLOCK: usize = 128;

/// How paths compare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathMatch {
    /// Byte for byte (Elasticsearch `by` keys on keyword fields).
    Exact,
    /// After simple case folding (Windows file systems ignore case).
    Folded,
}

/// Hashes join keys with a secret seed: paths are attacker-chosen.
#[derive(Clone, Debug)]
pub(crate) struct KeyHasher {
    state: FixedState,
    paths: PathMatch,
}

impl KeyHasher {
    pub(crate) fn new(seed: u64, paths: PathMatch) -> Self {
        KeyHasher {
            state: FixedState::with_seed(seed),
            paths,
        }
    }

    // Inlined into the host lookup of every candidate (the long-input hashing it
    // calls stays out of line).
    #[inline]
    pub(crate) fn host(&self, id: &str) -> u64 {
        let mut h = self.state.build_hasher();
        h.write(id.as_bytes());
        h.finish()
    }

    pub(crate) fn path(&self, host: u32, path: &str) -> u64 {
        let mut h = self.state.build_hasher();
        h.write_u32(host);
        match self.paths {
            PathMatch::Exact => h.write(path.as_bytes()),
            PathMatch::Folded => {
                // Hash the folded text in blocks of exactly `FOLD_BLOCK` bytes (the last
                // one shorter), without allocating. The blocks depend only on the folded
                // bytes, so the all-ASCII fast path (folding is ASCII lowercase, done a
                // block at a time) and the general path (a character at a time, a
                // character's bytes may straddle two blocks) hash equal texts alike:
                // `K.EXE` and `\u{212A}.exe` (KELVIN SIGN) both fold to `k.exe`.
                let mut buf = [0u8; FOLD_BLOCK];
                if path.is_ascii() {
                    for block in path.as_bytes().chunks(FOLD_BLOCK) {
                        let out = &mut buf[..block.len()];
                        lower_ascii(out, block);
                        h.write(out);
                    }
                } else {
                    let mut n = 0;
                    for c in path.chars() {
                        let mut utf8 = [0u8; 4];
                        for &b in fold_char(c).encode_utf8(&mut utf8).as_bytes() {
                            if n == FOLD_BLOCK {
                                h.write(&buf);
                                n = 0;
                            }
                            buf[n] = b;
                            n += 1;
                        }
                    }
                    if n > 0 {
                        h.write(&buf[..n]);
                    }
                }
            }
        }
        h.write_u8(0xff);
        h.finish()
    }

    /// One bit of 32 that equal paths (as [`path_eq`](Self::path_eq) compares them)
    /// always share: their length in bytes (exact) or in characters (folded:
    /// simple case folding maps each character to one character), modulo 32.
    /// Far cheaper than [`path`](Self::path): it filters lookups (see
    /// `HostList::classes`), it never decides a match.
    ///
    /// Always inlined (it is asked for every process start of a host with pending
    /// writes); counting the characters of a non-ASCII path goes out of line.
    #[inline(always)]
    pub(crate) fn path_class(&self, path: &str) -> u32 {
        let n = match self.paths {
            PathMatch::Exact => path.len(),
            // An ASCII path has as many characters as bytes, and `is_ascii` reads
            // a word at a time where `chars().count()` classifies every byte.
            PathMatch::Folded if ascii(path.as_bytes()) => path.len(),
            PathMatch::Folded => chars(path),
        };
        1 << (n % 32)
    }

    pub(crate) fn path_eq(&self, a: &str, b: &str) -> bool {
        match self.paths {
            PathMatch::Exact => a == b,
            PathMatch::Folded => eq_folded(a, b),
        }
    }
}

/// `dst` = `src` in ASCII lowercase, for ASCII `src` of `dst`'s length: 16 bytes
/// at a time (the last 16 overlapping, written twice alike), then 8, then one at a
/// time only under 8, where the byte loop the compiler made of
/// `to_ascii_lowercase` spent some 10 instructions on each byte of a path's tail.
#[inline(always)]
fn lower_ascii(dst: &mut [u8], src: &[u8]) {
    /// Per byte of an ASCII word (every byte under 0x80, so no addition carries
    /// out of its byte): `+ 0x3f` sets the high bit from `A` up, `+ 0x25` from the
    /// byte after `Z` up; in between, 0x20 is or-ed in.
    macro_rules! lower {
        ($t:ty, $n:literal, $at:expr) => {{
            let at = $at;
            if let (Some(s), Some(d)) = (src.get(at..at + $n), dst.get_mut(at..at + $n))
                && let Ok(s) = <[u8; $n]>::try_from(s)
            {
                let w = <$t>::from_ne_bytes(s);
                let ones = <$t>::from_ne_bytes([1; $n]);
                let upper =
                    w.wrapping_add(ones * 0x3f) & !w.wrapping_add(ones * 0x25) & (ones * 0x80);
                d.copy_from_slice(&(w | upper >> 2).to_ne_bytes());
            }
        }};
    }
    let n = src.len().min(dst.len());
    if n >= 16 {
        let mut at = 0;
        while at + 16 < n {
            lower!(u128, 16, at);
            at += 16;
        }
        lower!(u128, 16, n - 16);
    } else if n >= 8 {
        lower!(u64, 8, 0);
        lower!(u64, 8, n - 8);
    } else {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = s.to_ascii_lowercase();
        }
    }
}

/// `s.is_ascii()`, inlined for 16 to 64 bytes (most paths): their 16-byte words
/// (the last one overlapping) or-ed together, then one test of the high bits, where
/// `is_ascii` is a call reading 8 bytes at a time.
#[inline(always)]
fn ascii(s: &[u8]) -> bool {
    let n = s.len();
    if !(16..=64).contains(&n) {
        return s.is_ascii();
    }
    let word = |at: usize| {
        s.get(at..at + 16)
            .and_then(|w| <[u8; 16]>::try_from(w).ok())
            .map_or(u128::MAX, u128::from_ne_bytes)
    };
    let mut any = word(n - 16);
    let mut at = 0;
    while at + 16 < n {
        any |= word(at);
        at += 16;
    }
    any & u128::from_ne_bytes([0x80; 16]) == 0
}

/// Characters in `s` (out of line: see [`KeyHasher::path_class`]).
#[inline(never)]
fn chars(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    /// `lower_ascii` is `to_ascii_lowercase` at every length, for every ASCII byte
    /// at every position.
    #[test]
    fn lower_ascii_is_to_ascii_lowercase() {
        for n in 0..140usize {
            for b in 0..128u8 {
                let src: alloc::vec::Vec<u8> = (0..n)
                    .map(|i| {
                        if i % 7 == 3 {
                            b
                        } else {
                            (i as u8).wrapping_mul(13).wrapping_add(b) & 0x7f
                        }
                    })
                    .collect();
                let mut dst = alloc::vec![0xffu8; n];
                lower_ascii(&mut dst, &src);
                assert_eq!(dst, src.to_ascii_lowercase(), "{n} {b}");
            }
        }
    }

    /// `ascii` is `is_ascii` at every length and every position of a high bit.
    #[test]
    fn ascii_is_is_ascii() {
        for n in 0..80usize {
            let a: alloc::vec::Vec<u8> = (0..n).map(|i| (i * 5 + 32) as u8 & 0x7f).collect();
            assert!(ascii(&a), "{n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] |= 0x80;
                assert!(!ascii(&b), "{n} {at}");
            }
        }
    }

    #[test]
    fn folded_keys_hash_alike() {
        let k = KeyHasher::new(7, PathMatch::Folded);
        let long = "C:\\Ünïcödé\\".repeat(20);
        assert_eq!(k.path(1, &long), k.path(1, &long.to_uppercase()));
        assert_eq!(k.path(1, "C:\\A.EXE"), k.path(1, "c:\\a.exe"));
        assert_ne!(k.path(1, "C:\\A.EXE"), k.path(2, "c:\\a.exe"));
        let e = KeyHasher::new(7, PathMatch::Exact);
        assert_ne!(e.path(1, "C:\\A.EXE"), e.path(1, "c:\\a.exe"));
        assert!(k.path_eq("ΣX", "σx") && !e.path_eq("ΣX", "σx"));
        assert_eq!(k.path_class("ΣX"), k.path_class("σx"));
        assert_eq!(k.path_class("C:\\\u{212A}.EXE"), k.path_class("c:\\k.exe"));
        assert_ne!(e.path_class("C:\\\u{212A}.EXE"), e.path_class("c:\\k.exe"));
        // Non-ASCII text folding to ASCII hashes as the ASCII text, whatever the
        // block boundaries (multi-byte characters straddle them).
        assert_eq!(k.path(1, "C:\\\u{212A}.EXE"), k.path(1, "c:\\k.exe"));
        for pad in 0..FOLD_BLOCK + 3 {
            let a = format!(
                "{}\u{212A}\u{17F}ΣX{}",
                "A".repeat(pad),
                "b".repeat(FOLD_BLOCK)
            );
            let b = format!("{}kSσx{}", "a".repeat(pad), "B".repeat(FOLD_BLOCK));
            assert_eq!(k.path(3, &a), k.path(3, &a.to_lowercase()), "{pad}");
            assert!(k.path_eq(&a, &b));
            assert_eq!(k.path_class(&a), k.path_class(&b), "{pad}");
            assert_eq!(k.path(3, &a), k.path(3, &b), "{pad}");
            let ascii = format!("{}K.EXE", "A".repeat(pad));
            let kelvin = format!("{}\u{212A}.exe", "a".repeat(pad));
            assert_eq!(k.path(3, &ascii), k.path(3, &kelvin), "{pad}");
        }
    }
}
