//! The EQL `:` operator: case-insensitive wildcard matching over whole strings.
//!
//! `*` matches any run of characters (also none), `?` exactly one character; every
//! other character matches itself ignoring case. The whole string must match:
//! `"Sophos Ltd"` does not match `"Sophos Ltd."`.
//!
//! **Which case is ignored** is a [`CaseMode`]. Elasticsearch's case-insensitive
//! wildcard adds the other case of ASCII letters only (`AutomatonQueries`:
//! "for now we only work with ASCII characters"), so [`CaseMode::Ascii`] is what `:`
//! means there, and what trust exclusions always use: a look-alike such as the
//! KELVIN SIGN in `CAInvo\u{212A}erService.exe` must never widen what is trusted.
//! [`CaseMode::Unicode`] (simple case folding, [`crate::fold`]) is for the hardened
//! stage predicates, where it can only add detections: NTFS compares names through
//! an upper-case table, so `payload.ſcr` *is* `payload.scr`.
//! Elasticsearch compiles `:` into a `case_insensitive` wildcard query, which treats
//! `?` as a wildcard; the stock Python `eql` engine does not (SEMANTICS.md).

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::fold::fold_char;

/// Which characters compare ignoring case.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CaseMode {
    /// ASCII letters only, as Elasticsearch's `:`.
    #[default]
    Ascii,
    /// Unicode simple case folding.
    Unicode,
}

impl CaseMode {
    #[inline]
    fn fold(self, c: char) -> char {
        match self {
            CaseMode::Ascii => c.to_ascii_lowercase(),
            CaseMode::Unicode => fold_char(c),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Char(char),
    AnyOne,
    AnyRun,
}

/// What a pattern's tokens amount to, for the shapes that can be matched on bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// No wildcard: the whole text equals the pattern.
    Literal,
    /// No wildcard but one `*` at the end: the text starts with the pattern's first
    /// `len` bytes.
    Prefix(usize),
    /// Anything else: the token matcher.
    General,
}

/// A compiled `:` pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wildcard {
    text: Box<str>,
    tokens: Box<[Token]>,
    case: CaseMode,
    /// Set only for patterns whose every literal character is ASCII (see
    /// [`matches`](Self::matches) for why that makes the byte comparison exact).
    shape: Shape,
}

impl Wildcard {
    /// Compiles `pattern` (`*` and `?` are wildcards; there is no escape, as in EQL
    /// `:`), ignoring the case of ASCII letters as Elasticsearch does.
    pub fn new(pattern: &str) -> Wildcard {
        Wildcard::with_case(pattern, CaseMode::Ascii)
    }

    /// Compiles `pattern` with the given case sensitivity.
    pub fn with_case(pattern: &str, case: CaseMode) -> Wildcard {
        let mut tokens: Vec<Token> = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            let t = match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyOne,
                c => Token::Char(case.fold(c)),
            };
            // `**` is `*`: collapsing keeps matching linear in practice.
            if t == Token::AnyRun && tokens.last() == Some(&Token::AnyRun) {
                continue;
            }
            tokens.push(t);
        }
        let shape = match pattern.split_once('*') {
            _ if !pattern.is_ascii() || pattern.contains('?') => Shape::General,
            None => Shape::Literal,
            Some((head, "")) => Shape::Prefix(head.len()),
            Some(_) => Shape::General,
        };
        Wildcard {
            text: pattern.into(),
            tokens: tokens.into(),
            case,
            shape,
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern holds no wildcard (a case-insensitive equality).
    pub fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Char(_)))
    }

    /// Whether `text` matches the whole pattern, ignoring case.
    ///
    /// Greedy matching with one backtrack point (the last `*`): O(len(text) ×
    /// len(pattern)) in the worst case, never recursive, never allocating.
    ///
    /// An all-ASCII pattern that is a literal (a vendor name, an extension) or a
    /// literal with one trailing `*` (the `MZ` header, `4d5a*`) is compared on bytes,
    /// ignoring ASCII case: these are the patterns every candidate event meets. That
    /// is exact under [`CaseMode::Ascii`], which changes ASCII letters only: each
    /// pattern character must meet one text character that equals it ignoring ASCII
    /// case, and for an ASCII pattern character that is the same single byte. Under
    /// [`CaseMode::Unicode`] a non-ASCII text character may fold to an ASCII one (the
    /// KELVIN SIGN to `k`), so the byte path is taken only for ASCII text there, where
    /// simple case folding is ASCII lowercasing; other text takes the token matcher.
    pub fn matches(&self, text: &str) -> bool {
        if self.shape != Shape::General && (self.case == CaseMode::Ascii || text.is_ascii()) {
            let (t, p) = (text.as_bytes(), self.text.as_bytes());
            return match self.shape {
                Shape::Literal => t.eq_ignore_ascii_case(p),
                Shape::Prefix(n) => t
                    .get(..n)
                    .zip(p.get(..n))
                    .is_some_and(|(t, p)| t.eq_ignore_ascii_case(p)),
                Shape::General => self.matches_tokens(text),
            };
        }
        self.matches_tokens(text)
    }

    /// [`matches`](Self::matches) by the tokens, for every pattern.
    fn matches_tokens(&self, text: &str) -> bool {
        let p = &self.tokens;
        let next_char = |at: usize| text.get(at..).and_then(|rest| rest.chars().next());
        let (mut pi, mut ti) = (0usize, 0usize);
        // Backtrack point: the pattern index after the last `*`, and where in the text
        // that `*` stopped absorbing characters.
        let mut star: Option<(usize, usize)> = None;
        while let Some(c) = next_char(ti) {
            match p.get(pi) {
                Some(Token::AnyRun) => {
                    pi += 1;
                    star = Some((pi, ti));
                    continue;
                }
                Some(Token::AnyOne) => {
                    pi += 1;
                    ti += c.len_utf8();
                    continue;
                }
                Some(Token::Char(pc)) if *pc == self.case.fold(c) => {
                    pi += 1;
                    ti += c.len_utf8();
                    continue;
                }
                _ => {}
            }
            // Mismatch: let the last `*` absorb one more character, or fail.
            let Some((star_pi, star_ti)) = star else {
                return false;
            };
            let absorbed = next_char(star_ti).map_or(1, char::len_utf8);
            pi = star_pi;
            ti = star_ti + absorbed;
            star = Some((star_pi, ti));
        }
        // Text exhausted: only `*` may remain in the pattern.
        p.get(pi..)
            .unwrap_or(&[])
            .iter()
            .all(|t| *t == Token::AnyRun)
    }
}

/// Several patterns, any of which may match (`field : ("a", "b*")`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WildcardSet {
    patterns: Vec<Wildcard>,
}

impl WildcardSet {
    /// Compiles each pattern, ignoring the case of ASCII letters.
    pub fn new<'s>(patterns: impl IntoIterator<Item = &'s str>) -> Self {
        WildcardSet::with_case(patterns, CaseMode::Ascii)
    }

    /// Compiles each pattern with the given case sensitivity.
    pub fn with_case<'s>(patterns: impl IntoIterator<Item = &'s str>, case: CaseMode) -> Self {
        WildcardSet {
            patterns: patterns
                .into_iter()
                .map(|p| Wildcard::with_case(p, case))
                .collect(),
        }
    }

    /// Whether any pattern matches `text`.
    pub fn matches(&self, text: &str) -> bool {
        self.patterns.iter().any(|p| p.matches(text))
    }

    /// The first pattern that matches `text`.
    pub fn find(&self, text: &str) -> Option<&Wildcard> {
        self.patterns.iter().find(|p| p.matches(text))
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[Wildcard] {
        &self.patterns
    }

    /// Adds a pattern.
    pub fn push(&mut self, pattern: &str) {
        self.patterns.push(Wildcard::new(pattern));
    }

    /// Removes every pattern equal to `pattern` ignoring case (Unicode simple case
    /// folding; the exact spelling included); returns how many went.
    pub fn remove(&mut self, pattern: &str) -> usize {
        let before = self.patterns.len();
        self.patterns
            .retain(|p| !crate::fold::eq_folded(p.as_str(), pattern));
        before - self.patterns.len()
    }

    /// The patterns as text (for rendering the rule).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|p| p.as_str())
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

/// A reference implementation for tests: recursive, obviously correct, slow.
#[cfg(test)]
fn naive(p: &[char], t: &[char]) -> bool {
    naive_with(CaseMode::Unicode, p, t)
}

/// [`naive`] with either case mode.
#[cfg(test)]
fn naive_with(case: CaseMode, p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| naive_with(case, rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && naive_with(case, rest, &t[1..]),
        Some((c, rest)) => {
            t.first().is_some_and(|x| case.fold(*x) == case.fold(*c))
                && naive_with(case, rest, &t[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rule_patterns() {
        let ccm = Wildcard::new("?:\\Windows\\ccmsetup\\ccmsetup.exe");
        assert!(ccm.matches("C:\\Windows\\ccmsetup\\ccmsetup.exe"));
        assert!(ccm.matches("d:\\WINDOWS\\CCMSETUP\\ccmsetup.EXE"));
        assert!(!ccm.matches("CC:\\Windows\\ccmsetup\\ccmsetup.exe"));
        let am =
            Wildcard::new("?:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta*.exe");
        assert!(
            am.matches(
                "D:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta_Patch_1.exe"
            )
        );
        assert!(am.matches("D:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta.exe"));
        let hdr = Wildcard::new("4d5a*");
        assert!(hdr.matches("4D5A90000300"));
        assert!(hdr.matches("4d5a"));
        assert!(!hdr.matches("004d5a"));
        let sophos = Wildcard::new("Sophos Ltd");
        assert!(sophos.matches("SOPHOS LTD"));
        assert!(!sophos.matches("Sophos Ltd."));
        assert!(Wildcard::new("G:\\SMS_*\\srvboot.exe").matches("g:\\sms_abc\\SRVBOOT.EXE"));
        assert!(Wildcard::new("").matches(""));
        assert!(Wildcard::new("*").matches(""));
        assert!(!Wildcard::new("?").matches(""));
        assert!(Wildcard::new("a*b*c").matches("aXbYbZc"));
        assert!(!Wildcard::new("a*b*c").matches("aXbYbZ"));
    }

    #[test]
    fn shapes() {
        assert_eq!(Wildcard::new("Sophos Ltd").shape, Shape::Literal);
        assert_eq!(Wildcard::new("4d5a*").shape, Shape::Prefix(4));
        assert_eq!(Wildcard::new("*").shape, Shape::Prefix(0));
        for general in ["a*b", "**", "a?", "é", "é*", "*a"] {
            assert_eq!(Wildcard::new(general).shape, Shape::General, "{general}");
        }
        // Under Unicode folding, non-ASCII text that folds to ASCII still matches.
        let exe = Wildcard::with_case("exe", CaseMode::Unicode);
        assert!(exe.matches("EXE"));
        assert!(Wildcard::with_case("sk*", CaseMode::Unicode).matches("\u{17F}\u{212A}x"));
        assert!(!Wildcard::new("sk*").matches("\u{17F}\u{212A}x"));
    }

    #[test]
    fn ascii_mode_is_elasticsearch() {
        // Elasticsearch folds ASCII only: a KELVIN SIGN is not a `k`.
        let pat = "?:\\Windows\\CAInvokerService.exe";
        let lookalike = "C:\\Windows\\CAInvo\u{212A}erService.exe";
        assert!(!Wildcard::new(pat).matches(lookalike));
        assert!(Wildcard::with_case(pat, CaseMode::Unicode).matches(lookalike));
        assert!(Wildcard::new(pat).matches("c:\\WINDOWS\\cainvokerservice.EXE"));
        assert!(!Wildcard::new("scr").matches("\u{17F}cr"));
        assert!(
            !Wildcard::new("σ").matches("Σ"),
            "non-ASCII letters are compared exactly"
        );
    }

    /// Every character of Unicode against the ASCII letters its fold could meet,
    /// as a literal and with a trailing `*`, as text and as pattern, in both modes:
    /// the byte paths must agree with the definition wherever a non-ASCII character
    /// folds to an ASCII one (which characters those are is read off `fold_char`,
    /// not assumed), and no ASCII character may fold outside ASCII.
    #[test]
    fn byte_paths_agree_for_every_char() {
        let mut to_ascii = Vec::new();
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let f = fold_char(c);
            if c.is_ascii() {
                assert!(f.is_ascii(), "{c:?} folds outside ASCII");
            } else if f.is_ascii() {
                to_ascii.push(c);
            }
            for case in [CaseMode::Ascii, CaseMode::Unicode] {
                let folded = case.fold(c);
                if !folded.is_ascii() {
                    continue;
                }
                let mut text = [0u8; 4];
                let text = c.encode_utf8(&mut text);
                for p in [folded.to_ascii_lowercase(), folded.to_ascii_uppercase()] {
                    // The ASCII letter as the pattern, `c` as the text; and the
                    // other way round (a pattern that is not all ASCII).
                    for (pattern, text, tc) in [
                        (alloc::format!("{p}"), &*text, c),
                        (alloc::format!("{p}*"), &*text, c),
                        (alloc::format!("{c}"), &*alloc::format!("{p}"), p),
                        (alloc::format!("{c}*"), &*alloc::format!("{p}"), p),
                    ] {
                        let w = Wildcard::with_case(&pattern, case);
                        let pc: Vec<char> = pattern.chars().collect();
                        assert_eq!(
                            w.matches(text),
                            naive_with(case, &pc, &[tc]),
                            "{pattern:?} {text:?} {case:?}"
                        );
                    }
                }
            }
        }
        // The characters the Unicode-mode guard (`text.is_ascii()`) exists for.
        assert_eq!(to_ascii, ['\u{17F}', '\u{212A}']);
    }

    /// A character of the wider alphabet for `byte_paths_agree_wide`: ASCII
    /// letters and wildcards, Latin (controls, Latin-1, Extended-A and B),
    /// combining marks, and the characters whose folding is special (to ASCII,
    /// to no simple folding, to ß, to Greek).
    fn wide_char() -> impl Strategy<Value = char> {
        prop_oneof![
            4 => proptest::sample::select(b"aAkKsSiIx*?".to_vec()).prop_map(char::from),
            3 => proptest::sample::select(alloc::vec![
                '\u{212A}', '\u{017F}', '\u{0130}', '\u{0131}', '\u{1E9E}', '\u{00DF}',
                '\u{0345}', '\u{00B5}', '\u{FB05}', '\u{212B}',
            ]),
            2 => (0u32..=0x24F).prop_map(|c| char::from_u32(c).unwrap_or('a')),
            1 => (0x300u32..=0x36F).prop_map(|c| char::from_u32(c).unwrap_or('a')),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        /// The byte paths against the definition over a wide alphabet: patterns are
        /// built from the text (each character replaced by its Unicode fold, in
        /// either ASCII case, where that is ASCII) so that they often match, then
        /// cut and ended with nothing, `*`, `**` or `?`.
        #[test]
        fn byte_paths_agree_wide(
            t in proptest::collection::vec(wide_char(), 0..6),
            cut in 0usize..7,
            upper in proptest::collection::vec(any::<bool>(), 6),
            tail in 0usize..4,
            case in proptest::sample::select(alloc::vec![CaseMode::Ascii, CaseMode::Unicode]),
        ) {
            let mut p: alloc::string::String = t
                .iter()
                .take(cut)
                .zip(&upper)
                .map(|(&c, &up)| {
                    let f = fold_char(c);
                    match (f.is_ascii(), up) {
                        (true, true) => f.to_ascii_uppercase(),
                        (true, false) => f,
                        (false, _) => c,
                    }
                })
                .collect();
            p.push_str(["", "*", "**", "?"][tail]);
            let text: alloc::string::String = t.iter().collect();
            let pc: Vec<char> = p.chars().collect();
            let w = Wildcard::with_case(&p, case);
            prop_assert_eq!(w.matches(&text), naive_with(case, &pc, &t), "{:?} {:?} {:?}", p, text, case);
            prop_assert_eq!(w.matches(&text), w.matches_tokens(&text));
        }
    }

    proptest! {
        #[test]
        fn agrees_with_naive(p in "[ab?*Σσς]{0,8}", t in "[abABΣσς]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(Wildcard::with_case(&p, CaseMode::Unicode).matches(&t), naive(&pc, &tc));
        }

        /// The byte paths (literal, trailing `*`) against the definition, in both
        /// modes: texts with letters of either case, non-ASCII letters, and the
        /// characters that fold to ASCII ones under Unicode (KELVIN SIGN, long s).
        #[test]
        fn byte_paths_agree_with_naive(
            head in "[akKsS?é]{0,6}",
            star in any::<bool>(),
            t in "[akKsSé\u{212A}\u{17F}]{0,8}",
        ) {
            let p = if star { alloc::format!("{head}*") } else { head };
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            for case in [CaseMode::Ascii, CaseMode::Unicode] {
                let w = Wildcard::with_case(&p, case);
                prop_assert_eq!(w.matches(&t), naive_with(case, &pc, &tc), "{:?} {:?}", p, case);
                prop_assert_eq!(w.matches(&t), w.matches_tokens(&t));
            }
        }
    }
}
