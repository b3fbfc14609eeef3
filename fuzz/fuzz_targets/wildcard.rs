//! `Wildcard::matches` in both case modes (ASCII, as Elasticsearch's `:`; Unicode
//! simple case folding) against a recursive reference on short inputs over a small,
//! case-folding-heavy alphabet; no panic on arbitrary strings; `eq_folded` symmetric,
//! reflexive, equal to the char-by-char folded comparison, and to matching a
//! Unicode-mode pattern without wildcards.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use shareexec::fold::{eq_folded, fold_char};
use shareexec::wildcard::{CaseMode, Wildcard};

/// Characters whose folding is interesting (final sigma, Kelvin sign, sharp s,
/// dotted capital I, Cherokee, micro sign, long s), plus the wildcards.
const ALPHABET: &[char] = &[
    'a', 'b', 'A', 'B', '*', '?', 'Σ', 'σ', 'ς', 'k', 'K', '\u{212A}', 'ß', '\u{1E9E}', 'İ', 'i',
    '\u{13A0}', '\u{AB70}', 'µ', 'μ', 's', 'ſ', '\\', '.',
];

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    pattern: Vec<u8>,
    text: Vec<u8>,
    raw_pattern: &'a str,
    raw_text: &'a str,
}

fn chars(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()])
        .collect()
}

fn fold(case: CaseMode, c: char) -> char {
    match case {
        CaseMode::Ascii => c.to_ascii_lowercase(),
        _ => fold_char(c),
    }
}

/// Recursive, obviously correct, exponential: only for short inputs.
fn reference(case: CaseMode, p: &[char], t: &[char]) -> bool {
    match p.split_first() {
        None => t.is_empty(),
        Some(('*', rest)) => (0..=t.len()).any(|i| reference(case, rest, &t[i..])),
        Some(('?', rest)) => !t.is_empty() && reference(case, rest, &t[1..]),
        Some((c, rest)) => {
            t.first().is_some_and(|x| fold(case, *x) == fold(case, *c))
                && reference(case, rest, &t[1..])
        }
    }
}

const MODES: [CaseMode; 2] = [CaseMode::Ascii, CaseMode::Unicode];

fn folded_eq_reference(a: &str, b: &str) -> bool {
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

fn check_fold(a: &str, b: &str) {
    let ab = eq_folded(a, b);
    assert_eq!(ab, eq_folded(b, a), "eq_folded not symmetric: {a:?} {b:?}");
    assert_eq!(
        ab,
        folded_eq_reference(a, b),
        "eq_folded vs folded chars: {a:?} {b:?}"
    );
    assert!(eq_folded(a, a), "eq_folded not reflexive: {a:?}");
    if !a.contains(['*', '?']) {
        assert_eq!(
            Wildcard::with_case(a, CaseMode::Unicode).matches(b),
            ab,
            "literal pattern vs eq_folded: {a:?} {b:?}"
        );
    }
}

fuzz_target!(|input: Input<'_>| {
    let pattern = chars(&input.pattern, 8);
    let text = chars(&input.text, 10);
    let (pc, tc): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    for case in MODES {
        let w = Wildcard::with_case(&pattern, case);
        assert_eq!(
            w.matches(&text),
            reference(case, &pc, &tc),
            "{case:?}: pattern {pattern:?} text {text:?}"
        );
        assert_eq!(w.as_str(), pattern);
    }
    check_fold(&pattern, &text);

    // Arbitrary strings: no panic; the reference where it stays cheap.
    let (rp, rt): (Vec<char>, Vec<char>) = (
        input.raw_pattern.chars().collect(),
        input.raw_text.chars().collect(),
    );
    for case in MODES {
        let got = Wildcard::with_case(input.raw_pattern, case).matches(input.raw_text);
        if rp.len() <= 8 && rt.len() <= 12 {
            assert_eq!(
                got,
                reference(case, &rp, &rt),
                "{case:?}: pattern {:?} text {:?}",
                input.raw_pattern,
                input.raw_text
            );
        }
    }
    check_fold(input.raw_pattern, input.raw_text);
    check_fold(input.raw_text, &text);
});
