//! The detection for a SIEM: the active [`Rule`] rendered as Elasticsearch EQL and as Sigma.
//!
//! The embedded [`Detector`](crate::Detector) and the SIEM should run the **same** detection:
//! the same vendor list, the same path exclusions, the same semantics. These renderers
//! read the rule's [`Semantics`] and its [`SignerPolicy`] (through
//! [`SignerPolicy::vendors`] and [`SignerPolicy::paths`]) and write the query text, so a
//! policy change made for the detector is one call away from the SIEM.
//!
//! - [`eql`] (also [`Rule::to_eql`]): an Elasticsearch EQL `sequence` query. For
//!   [`Rule::elasticsearch()`] it is the Elastic rule's own query text. For
//!   [`Semantics::Hardened`] it renders what EQL can say (`host.os.type :` ignoring case,
//!   the extension read off `file.path` when `file.extension` is missing) and lists what
//!   it cannot in `//` comments at the top (see [`eql`]).
//! - [`sigma`] (also [`Rule::to_sigma`]) and [`sigma_with`]: three Sigma rules in one
//!   multi-document YAML stream: the SMB write, the execution, and a `temporal_ordered`
//!   correlation joining them by host and path within the maxspan.
//!
//! The output is deterministic: the same rule renders the same text on every machine,
//! and the Sigma rule ids are derived from the rules' content with a stable hash
//! ([`stable_uuid`]).
//!
//! The escaping helpers are public because they are the part most worth testing:
//! [`eql_string`] (an EQL string literal), [`yaml_string`] (a YAML scalar) and
//! [`sigma_value`] (a `:` pattern as a Sigma value).

use alloc::string::String;
use core::fmt::Write as _;

use crate::rule::Rule;
use crate::stable_hash::StableHasher;
use crate::time::Span;
use crate::trust::SignerPolicy;

#[cfg(doc)]
use crate::rule::Semantics;

mod eql;
mod sigma;

pub use self::eql::eql;
pub use self::sigma::{SigmaFields, sigma, sigma_with};

impl Rule<SignerPolicy> {
    /// This rule as an Elasticsearch EQL query; see [`render::eql`](eql).
    ///
    /// # Example
    /// ```
    /// use shareexec::Rule;
    /// let query = Rule::elasticsearch().to_eql();
    /// assert!(query.starts_with("sequence with maxspan=1m"));
    /// ```
    pub fn to_eql(&self) -> String {
        eql(self)
    }

    /// This rule as Sigma rules (Sigma taxonomy field names); see [`render::sigma`](sigma).
    ///
    /// # Example
    /// ```
    /// use shareexec::Rule;
    /// let yaml = Rule::hardened().to_sigma();
    /// assert_eq!(yaml.matches("\n---\n").count(), 2); // three documents
    /// ```
    pub fn to_sigma(&self) -> String {
        sigma(self)
    }
}

/// `s` as a double-quoted EQL string literal.
///
/// `"` and `\` are escaped, and so are the characters that Elasticsearch's and the
/// Python `eql` grammar refuse raw in a string (line feed, carriage return) or offer
/// an escape for (tab, backspace, form feed). Everything else is written as is: both
/// grammars accept any other character inside `"…"`. The literal is not a pattern
/// escape: in a `:` comparison `*` and `?` stay wildcards (EQL has no way to escape them,
/// and [`SignerPolicy`] patterns use them as wildcards too).
///
/// # Example
/// ```
/// use shareexec::render::eql_string;
/// assert_eq!(eql_string(r"G:\SMS_*\srvboot.exe"), r#""G:\\SMS_*\\srvboot.exe""#);
/// assert_eq!(eql_string("say \"hi\"\n"), r#""say \"hi\"\n""#);
/// ```
pub fn eql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` as a YAML scalar that every YAML 1.1 and 1.2 parser reads back as the string `s`.
///
/// Three forms, the first that fits:
/// - **plain** (unquoted) for simple text: it starts with an ASCII letter or `_`, holds only
///   ASCII letters, digits, spaces and `_ - . , ( ) / +`, does not end in a space, and is
///   not a word YAML 1.1 reads as a boolean or null (`yes`, `No`, `ON`, `null`, `y`, …);
///   or it is a UUID (`8-4-4-4-12` hex digits, never a number or a date);
/// - **single-quoted** when every character is printable and not a line break (`'` is
///   doubled; backslashes, `:`, `#`, `*` and the like need nothing more);
/// - **double-quoted** otherwise, with `\\`, `\"`, `\n`, `\r`, `\t`, `\0` and `\xNN` /
///   `\uNNNN` escapes for control characters, the Unicode line separators and the BOM.
///
/// # Example
/// ```
/// use shareexec::render::yaml_string;
/// assert_eq!(yaml_string("Sophos Ltd"), "Sophos Ltd");
/// assert_eq!(yaml_string("yes"), "'yes'");
/// assert_eq!(yaml_string(r"?:\Windows\x.exe"), r"'?:\Windows\x.exe'");
/// assert_eq!(yaml_string("O'Brien: #1"), "'O''Brien: #1'");
/// assert_eq!(yaml_string("tab\there"), "\"tab\\there\"");
/// ```
pub fn yaml_string(s: &str) -> String {
    if is_plain_safe(s) {
        return String::from(s);
    }
    if s.chars().all(single_quotable) {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('\'');
        for c in s.chars() {
            if c == '\'' {
                out.push('\'');
            }
            out.push(c);
        }
        out.push('\'');
        return out;
    }
    let mut out = String::with_capacity(s.len() + 8);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if single_quotable(c) => out.push(c),
            c if u32::from(c) <= 0xff => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c if u32::from(c) <= 0xffff => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08X}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// Words YAML 1.1 resolves to booleans or null (compared ignoring ASCII case).
const YAML_RESERVED: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

fn is_plain_safe(s: &str) -> bool {
    if is_uuid(s) {
        return true;
    }
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_')
        && !s.ends_with(' ')
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, ' ' | '_' | '-' | '.' | ',' | '(' | ')' | '/' | '+')
        })
        && !YAML_RESERVED.iter().any(|w| w.eq_ignore_ascii_case(s))
}

fn is_uuid(s: &str) -> bool {
    let groups = [8, 4, 4, 4, 12];
    let mut parts = s.split('-');
    groups.iter().all(|&n| {
        parts
            .next()
            .is_some_and(|p| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
    }) && parts.next().is_none()
}

/// Printable in YAML's sense and not a line break: may stand raw in a single-quoted scalar.
fn single_quotable(c: char) -> bool {
    matches!(u32::from(c),
        0x20..=0x7e | 0xa0..=0x2027 | 0x202a..=0xd7ff | 0xe000..=0xfefe | 0xff00..=0xfffd | 0x1_0000..)
}

/// A `:` pattern (`*` and `?` wildcards, every other character literal, as in
/// [`SignerPolicy`]) as a Sigma string value with the same meaning.
///
/// Sigma also treats `*` and `?` as wildcards, and uses `\` to escape `*`, `?` and `\`
/// itself; a backslash before any other character is literal. So a backslash is
/// doubled exactly when it is followed by `*`, `?` or another backslash, and Windows
/// paths otherwise keep their familiar single backslashes. Quote the result for YAML
/// with [`yaml_string`].
///
/// # Example
/// ```
/// use shareexec::render::sigma_value;
/// assert_eq!(sigma_value(r"G:\SMS_*\srvboot.exe"), r"G:\SMS_*\srvboot.exe");
/// assert_eq!(sigma_value(r"C:\Tools\*"), r"C:\Tools\\*");
/// assert_eq!(sigma_value(r"\\server\share\x.exe"), r"\\\server\share\x.exe");
/// ```
pub fn sigma_value(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '\\' && matches!(chars.peek(), Some('*' | '?' | '\\')) {
            out.push('\\');
        }
    }
    out
}

/// A UUID derived from `parts` with the crate's [stable hash](crate::stable_hash):
/// the same parts give the same UUID on every machine and build, different parts
/// (almost surely) a different one. It is a version 8 (custom) RFC 9562 UUID, in the
/// usual lowercase `8-4-4-4-12` form. The Sigma renderer names its rules with it.
///
/// # Example
/// ```
/// use shareexec::render::stable_uuid;
/// let id = stable_uuid(&["sigma", "rule body"]);
/// assert_eq!(id, stable_uuid(&["sigma", "rule body"]));
/// assert_ne!(id, stable_uuid(&["sigma", "rule body!"]));
/// assert_eq!((id.len(), &id[14..15]), (36, "8"));
/// ```
pub fn stable_uuid(parts: &[&str]) -> String {
    let hash = |salt: u64| {
        parts
            .iter()
            .fold(
                StableHasher::new().str("shareexec uuid").u64(salt),
                |h, p| h.str(p),
            )
            .finish()
    };
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hash(1).to_be_bytes());
    bytes[8..].copy_from_slice(&hash(2).to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 9562 variant
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A maxspan in the unit syntax EQL and Sigma share (`1m`, `90s`, `1500ms`).
fn span_text(span: Span) -> String {
    const MS: i64 = 1_000_000;
    let n = span.as_nanos();
    let mut out = String::new();
    let _ = if n % (3_600_000 * MS) == 0 && n != 0 {
        write!(out, "{}h", n / (3_600_000 * MS))
    } else if n % (60_000 * MS) == 0 && n != 0 {
        write!(out, "{}m", n / (60_000 * MS))
    } else if n % (1_000 * MS) == 0 {
        write!(out, "{}s", n / (1_000 * MS))
    } else {
        // Neither language has a unit below the millisecond: round up, so the window
        // never shrinks.
        write!(
            out,
            "{}ms",
            n.div_euclid(MS) + i64::from(n.rem_euclid(MS) != 0)
        )
    };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(span_text(Span::from_secs(60)), "1m");
        assert_eq!(span_text(Span::from_secs(90)), "90s");
        assert_eq!(span_text(Span::from_secs(7200)), "2h");
        assert_eq!(span_text(Span::from_millis(1500)), "1500ms");
        assert_eq!(span_text(Span::from_nanos(1)), "1ms");
    }

    #[test]
    fn yaml_forms() {
        assert_eq!(yaml_string(""), "''");
        assert_eq!(yaml_string("Elasticsearch, Inc."), "Elasticsearch, Inc.");
        assert_eq!(yaml_string("NULL"), "'NULL'");
        assert_eq!(yaml_string("4d5a"), "'4d5a'");
        assert_eq!(yaml_string("a "), "'a '");
        assert_eq!(yaml_string("- x"), "'- x'");
        assert_eq!(yaml_string("a\u{2028}b"), "\"a\\u2028b\"");
        assert_eq!(yaml_string("\u{1}\u{85}\u{feff}"), "\"\\x01\\x85\\uFEFF\"");
        assert_eq!(
            yaml_string("02ab0a74-f0db-438b-9c0b-dc7527a2cf3c"),
            "02ab0a74-f0db-438b-9c0b-dc7527a2cf3c"
        );
        assert_eq!(yaml_string("2026-11-26"), "'2026-11-26'");
    }
}
