//! Join keys: `(host.id, path)` hashed and compared exactly (Elasticsearch) or with
//! simple case folding (hardened), with a keyed hasher.

use core::hash::{BuildHasher, Hasher};

use foldhash::fast::FixedState;

use crate::fold::{eq_folded, fold_char};

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
                // Hash the folded text in chunks, without allocating.
                let mut buf = [0u8; 64];
                let mut n = 0;
                for c in path.chars() {
                    let f = fold_char(c);
                    if n + f.len_utf8() > buf.len() {
                        h.write(&buf[..n]);
                        n = 0;
                    }
                    n += f.encode_utf8(&mut buf[n..]).len();
                }
                h.write(&buf[..n]);
            }
        }
        h.write_u8(0xff);
        h.finish()
    }

    pub(crate) fn path_eq(&self, a: &str, b: &str) -> bool {
        match self.paths {
            PathMatch::Exact => a == b,
            PathMatch::Folded => eq_folded(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
