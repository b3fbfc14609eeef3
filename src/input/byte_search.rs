//! The search for one byte, with the CPU's searcher chosen once.
//!
//! `memchr::memchr` picks its searcher (AVX2 where the CPU has it) and sets it up on
//! every call. The line reader searches for `\n` once per line and the prefilter's
//! unescape for `\` once per run of an escaped path: short haystacks, where that
//! per-call work showed in the instruction counts. [`ByteSearch`] builds `memchr`'s
//! AVX2 searcher once, where the CPU has AVX2, and falls back to `memchr::memchr`
//! elsewhere; both give the same answers (tested here on every length across the
//! vector widths).

/// `memchr::memchr(BYTE, ..)`, with its AVX2 searcher built once where the CPU has AVX2.
///
/// The byte is a parameter of the type, not a field: the prefilter's results carry
/// a copy of its search, and a byte more made their moves `memcpy` calls (+0.2 % of
/// the CLI's instructions).
///
/// Public for the `shareexec` binary's line reader; not part of the crate's stable API.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct ByteSearch<const BYTE: u8> {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl<const BYTE: u8> Default for ByteSearch<BYTE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const BYTE: u8> ByteSearch<BYTE> {
    /// A search for `BYTE`.
    pub fn new() -> Self {
        ByteSearch {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(BYTE),
        }
    }

    /// The same search through `memchr::memchr` whatever the CPU (for the tests: both
    /// must give the same answers).
    #[cfg(test)]
    pub(crate) fn portable() -> Self {
        ByteSearch {
            #[cfg(target_arch = "x86_64")]
            avx2: None,
        }
    }

    /// The index of the first `BYTE` in `haystack`.
    #[inline(always)]
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(haystack);
        }
        memchr::memchr(BYTE, haystack)
    }
}

/// Haystacks for testing a search for `byte`: every length up to 300 and a few around
/// 512 (the vector widths, 16, 32 and 128 bytes, and their loops' tails), at 33
/// alignments, with `byte` nowhere, first, second, in the middle or last (and again
/// three bytes later: the first is the answer), among `other` bytes every seventh.
#[cfg(test)]
pub(crate) fn haystacks(byte: u8, other: u8) -> impl Iterator<Item = alloc::vec::Vec<u8>> {
    let buf: alloc::vec::Vec<u8> = (0..600u32)
        .map(|i| if i % 7 == 0 { other } else { b'x' })
        .collect();
    (0..33).flat_map(move |start| {
        let buf = buf.clone();
        (0usize..300)
            .chain([511, 512, 513, 567])
            .flat_map(move |len| {
                let buf = buf.clone();
                [
                    None,
                    Some(0),
                    Some(1),
                    Some(len / 2),
                    Some(len.saturating_sub(1)),
                ]
                .into_iter()
                .filter_map(move |at| {
                    let mut hay = buf.get(start..start + len)?.to_vec();
                    if let Some(place) = at.filter(|&a| a < len) {
                        hay[place] = byte;
                        if let Some(later) = hay.get_mut(place + 3) {
                            *later = byte;
                        }
                    }
                    Some(hay)
                })
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finds_what_memchr_finds<const BYTE: u8>(other: u8) {
        let (fast, portable) = (ByteSearch::<BYTE>::new(), ByteSearch::<BYTE>::portable());
        let mut checked = 0;
        for hay in haystacks(BYTE, other) {
            let expected = memchr::memchr(BYTE, &hay);
            assert_eq!(fast.find(&hay), expected, "{hay:?}");
            assert_eq!(portable.find(&hay), expected, "{hay:?}");
            checked += 1;
        }
        assert!(checked > 40_000);
    }

    #[test]
    fn newline_and_backslash_found_as_memchr_finds_them() {
        finds_what_memchr_finds::<b'\n'>(b'\r');
        finds_what_memchr_finds::<b'\\'>(b'"');
    }
}
