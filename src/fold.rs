//! Unicode simple case folding, for `:` comparisons and for hardened join keys.
//!
//! Elasticsearch's `:` operator is case-insensitive, and Windows file systems compare
//! names without regard to case, so an attacker who writes `EVIL.EXE` and starts
//! `evil.exe` runs the same file. Folding maps every character to one canonical
//! character (never to several, which is what *simple* folding means): the folded
//! string has the same number of characters, so wildcards and lengths keep their sense.
//!
//! `core` offers `char::to_lowercase`, which agrees with simple case folding except for
//! the handful of characters listed in `SPECIAL`; those are applied first.

/// Characters whose simple case folding (Unicode `CaseFolding.txt`, statuses C and S)
/// differs from their single-character lowercase mapping.
const SPECIAL: &[(char, char)] = &[
    ('\u{00B5}', '\u{03BC}'), // MICRO SIGN -> GREEK SMALL LETTER MU
    ('\u{017F}', 's'),        // LATIN SMALL LETTER LONG S
    ('\u{0345}', '\u{03B9}'), // COMBINING GREEK YPOGEGRAMMENI -> IOTA
    ('\u{03C2}', '\u{03C3}'), // FINAL SIGMA -> SIGMA
    ('\u{03D0}', '\u{03B2}'), // BETA SYMBOL
    ('\u{03D1}', '\u{03B8}'), // THETA SYMBOL
    ('\u{03D5}', '\u{03C6}'), // PHI SYMBOL
    ('\u{03D6}', '\u{03C0}'), // PI SYMBOL
    ('\u{03F0}', '\u{03BA}'), // KAPPA SYMBOL
    ('\u{03F1}', '\u{03C1}'), // RHO SYMBOL
    ('\u{03F5}', '\u{03B5}'), // LUNATE EPSILON SYMBOL
    ('\u{1E9B}', '\u{1E61}'), // LONG S WITH DOT ABOVE
    ('\u{1E9E}', '\u{00DF}'), // CAPITAL SHARP S -> SHARP S
    ('\u{1FBE}', '\u{03B9}'), // GREEK PROSGEGRAMMENI -> IOTA
    ('\u{0130}', '\u{0130}'), // CAPITAL I WITH DOT ABOVE: no simple folding (full folding expands)
    ('\u{1C80}', '\u{0432}'), // CYRILLIC SMALL LETTER ROUNDED VE -> VE
    ('\u{1C81}', '\u{0434}'), // LONG-LEGGED DE -> DE
    ('\u{1C82}', '\u{043E}'), // NARROW O -> O
    ('\u{1C83}', '\u{0441}'), // WIDE ES -> ES
    ('\u{1C84}', '\u{0442}'), // TALL TE -> TE
    ('\u{1C85}', '\u{0442}'), // THREE-LEGGED TE -> TE
    ('\u{1C86}', '\u{044A}'), // TALL HARD SIGN -> HARD SIGN
    ('\u{1C87}', '\u{0463}'), // TALL YAT -> YAT
    ('\u{1C88}', '\u{A64B}'), // UNBLENDED UK -> MONOGRAPH UK
    ('\u{1FD3}', '\u{0390}'), // GREEK SMALL IOTA WITH DIALYTIKA AND OXIA (status S)
    ('\u{1FE3}', '\u{03B0}'), // GREEK SMALL UPSILON WITH DIALYTIKA AND OXIA (status S)
    ('\u{FB05}', '\u{FB06}'), // LATIN SMALL LIGATURE LONG S T -> ST (status S)
];

/// The simple case folding of `c`.
#[inline]
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    fold_non_ascii(c)
}

#[cold]
fn fold_non_ascii(c: char) -> char {
    if let Some(&(_, to)) = SPECIAL.iter().find(|(from, _)| *from == c) {
        return to;
    }
    // Cherokee: simple folding maps the small letters to the capital ones.
    match c {
        '\u{AB70}'..='\u{ABBF}' => return char::from_u32(c as u32 - 0xAB70 + 0x13A0).unwrap_or(c),
        '\u{13F8}'..='\u{13FD}' => return char::from_u32(c as u32 - 8).unwrap_or(c),
        '\u{13A0}'..='\u{13F5}' => return c,
        _ => {}
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// The characters of `s`, folded.
#[inline]
pub fn fold_chars(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars().map(fold_char)
}

/// Whether `a` and `b` are equal after simple case folding, without allocating.
#[inline]
pub fn eq_folded(a: &str, b: &str) -> bool {
    // Equal is equal folded: the common case, decided inline (against a literal
    // such as "windows", a couple of loads).
    a == b || eq_folded_slow(a, b)
}

fn eq_folded_slow(a: &str, b: &str) -> bool {
    // Folding maps each character to one character, so texts whose first characters
    // are ASCII and fold apart differ: "linux" against "windows" is decided here.
    if let (Some(x), Some(y)) = (a.as_bytes().first(), b.as_bytes().first())
        && x.is_ascii()
        && y.is_ascii()
        && !x.eq_ignore_ascii_case(y)
    {
        return false;
    }
    // Equal but for ASCII case is equal folded; otherwise two ASCII texts differ, and
    // only others need folding.
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    if a.is_ascii() && b.is_ascii() {
        return false;
    }
    fold_chars(a).eq(fold_chars(b))
}

/// Folded form of `s` as an owned string (for building policies, not for the hot path).
pub fn fold_string(s: &str) -> alloc::string::String {
    fold_chars(s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_like_case_folding_txt() {
        assert!(eq_folded("C:\\Windows\\EVIL.EXE", "c:\\windows\\evil.exe"));
        // The first-character shortcut: ASCII first characters that fold apart
        // differ; a non-ASCII one (KELVIN SIGN, LONG S) still folds.
        assert!(!eq_folded("linux", "windows") && !eq_folded("Windows", "xindows"));
        assert!(eq_folded("Windows", "wINDOWS") && eq_folded("\u{212A}.exe", "k.EXE"));
        assert!(eq_folded("k.exe", "\u{212A}.EXE") && eq_folded("\u{17F}x", "Sx"));
        assert!(!eq_folded("\u{212A}x", "ky") && !eq_folded("", "a") && !eq_folded("a", ""));
        assert!(eq_folded("ΣΑΣ", "σας"), "final sigma folds to sigma");
        assert!(eq_folded("STRASSE\u{1E9E}", "strasse\u{00DF}"));
        assert!(eq_folded("\u{212A}elvin", "kelvin"), "KELVIN SIGN");
        assert!(!eq_folded("İ", "i"), "U+0130 has no simple folding");
        assert!(eq_folded("\u{AB70}", "\u{13A0}"), "Cherokee folds to upper");
        assert!(!eq_folded("a", "ab"));
    }
}
