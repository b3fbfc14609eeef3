//! The rule as an Elasticsearch EQL `sequence` query.

use alloc::string::String;
use alloc::vec::Vec;

use super::{eql_string, span_text};
use crate::rule::{EXECUTABLE_EXTENSIONS, MZ_HEADER, RULE, Rule, SYSTEM_PID, Semantics};
use crate::trust::SignerPolicy;

/// What EQL cannot say about [`Semantics::Hardened`]; written as `//` comments above the
/// query. Both Elasticsearch's grammar and the Python `eql` grammar skip `//` and `/* */`.
const HARDENED_PREAMBLE: &str = "\
// Remote Execution via File Shares (Elastic rule ab75c24b-2502-43a0-bf7c-e60e662c811e),
// rendered by shareexec from Semantics::Hardened and its trust policy.
// Rendered below, unlike the Elastic rule: host.os.type is compared with `:` (ignores case),
// and a missing file.extension is read off file.path (`file.path : \"*.exe\"`, ...).
// Not expressible in EQL; the shareexec detector does these and this query does not:
// - Paths join ignoring case (EVIL.EXE written, evil.exe started). Elasticsearch compares
//   `by` keys exactly, and a `by` key must be a field, not a function such as `toLower`.
//   To close the gap, join on a lowercased copy of file.path and process.executable
//   (e.g. keyword fields with a lowercase normalizer) instead of the raw fields.
// - Equal timestamps are ordered by event.sequence. The query cannot say this: give the
//   rule (the EQL search) event.sequence as its tiebreaker field; Elasticsearch may still
//   place events without event.sequence differently from the detector, which puts them
//   after those with one.
// - Case folding: the detector folds with Unicode simple case folding; Elasticsearch's
//   case-insensitive matching differs on a few exotic characters (e.g. U+017F, U+212A).
";

/// The rule as an Elasticsearch EQL query, from its semantics and its trust policy.
///
/// The structure is the Elastic rule's: a `sequence with maxspan=1m` of the SMB write
/// (`by host.id, file.path`) and the execution (`by host.id, process.executable`), the
/// execution filtered by `not (…)` of the policy's exclusions:
/// - the trusted vendors, `process.code_signature.trusted == true and
///   process.code_signature.subject_name : (…)`;
/// - the trusted paths that name no signer, `process.executable : (…) and trusted == true`;
/// - for each signer that path exclusions name, `process.executable : (…) and trusted ==
///   true and subject_name : "signer"`.
///
/// A list of one is written as a single string; an empty group is left out, and a policy
/// with no exclusions at all renders no `not (…)`. Strings are escaped with
/// [`eql_string`]; `*` and `?` in the policy's patterns stay wildcards, as in the
/// detector.
///
/// For [`Rule::elasticsearch()`] the output is the Elastic rule's query text itself
/// (`rule.eql`, byte for byte). [`Semantics::Elasticsearch`] with another policy changes
/// only the lists. [`Semantics::Hardened`] renders what EQL can say of it:
/// - `host.os.type : "windows"` instead of `==`: the OS type compared ignoring case;
/// - `file.extension : (…) or (file.extension == null and file.path : ("*.exe", …))`:
///   the extension read off the path when the field is missing (exactly the detector's
///   rule: the path's last component ends in `.exe`, ignoring case);
///
/// and says in `//` comments at the top what EQL cannot: paths joined ignoring case
/// (Elasticsearch compares `by` keys exactly and accepts only fields as keys, so no
/// `toLower`; a lowercased copy of the fields at index time would do), equal timestamps
/// ordered by `event.sequence` (a search or rule setting, the tiebreaker field, not part
/// of the query), and the small differences between Unicode simple case folding and
/// Elasticsearch's case-insensitive matching.
///
/// # Example
/// ```
/// use shareexec::{Rule, Semantics, SignerPolicy, render};
/// let policy = SignerPolicy::builder().vendor("Contoso \"Tools\" Ltd").build();
/// let query = render::eql(&Rule::with_policy(Semantics::Elasticsearch, policy));
/// assert!(query.contains(r#""Sophos Ltd","Contoso \"Tools\" Ltd")"#));
///
/// let hardened = render::eql(&Rule::hardened());
/// assert!(hardened.starts_with("//"));
/// assert!(hardened.contains(r#"host.os.type : "windows""#));
/// ```
pub fn eql(rule: &Rule<SignerPolicy>) -> String {
    let hardened = !matches!(rule.semantics(), Semantics::Elasticsearch);
    let os = if hardened {
        r#"host.os.type : "windows""#
    } else {
        r#"host.os.type == "windows""#
    };
    let extensions: Vec<String> = EXECUTABLE_EXTENSIONS
        .iter()
        .map(|e| eql_string(e))
        .collect();
    let mut extension = alloc::format!("file.extension : {}", list(&extensions, ", "));
    if hardened {
        let from_path: Vec<String> = EXECUTABLE_EXTENSIONS
            .iter()
            .map(|e| eql_string(&alloc::format!("*.{e}")))
            .collect();
        extension.push_str(" or\n     (file.extension == null and file.path : ");
        extension.push_str(&list(&from_path, ", "));
        extension.push(')');
    }

    let mut q = String::new();
    if hardened {
        q.push_str(HARDENED_PREAMBLE);
    }
    q.push_str("sequence with maxspan=");
    q.push_str(&span_text(RULE.maxspan));
    q.push('\n');
    q.push_str("  [file where ");
    q.push_str(os);
    q.push_str(r#" and event.type in ("creation", "change") and"#);
    q.push('\n');
    q.push_str(&alloc::format!(
        "   process.pid == {SYSTEM_PID} and ({extension} or file.Ext.header_bytes : {})] by host.id, file.path\n",
        eql_string(MZ_HEADER)
    ));
    q.push_str("  [process where ");
    q.push_str(os);
    q.push_str(r#" and event.type == "start""#);
    let exclusions = exclusions(rule.policy());
    if exclusions.is_empty() {
        q.push_str("] by host.id, process.executable\n");
        return q;
    }
    q.push_str(" and\n    not (\n");
    for (i, clause) in exclusions.iter().enumerate() {
        q.push_str("      ");
        q.push_str(clause);
        q.push_str(if i + 1 < exclusions.len() {
            " or\n"
        } else {
            "\n"
        });
    }
    q.push_str("    )\n  ] by host.id, process.executable\n");
    q
}

/// The `not (…)` clauses of a policy, in the rule's order: vendors, unsigned paths, then
/// signed paths grouped by signer (in order of first appearance).
fn exclusions(policy: &SignerPolicy) -> Vec<String> {
    const TRUSTED: &str = "process.code_signature.trusted == true";
    let mut clauses = Vec::new();
    let vendors: Vec<String> = policy.vendors().map(eql_string).collect();
    if !vendors.is_empty() {
        clauses.push(alloc::format!(
            "({TRUSTED} and\n        process.code_signature.subject_name : {})",
            list(&vendors, ",")
        ));
    }
    let unsigned: Vec<String> = policy
        .paths()
        .filter(|(_, signer)| signer.is_none())
        .map(|(path, _)| eql_string(path))
        .collect();
    if !unsigned.is_empty() {
        clauses.push(alloc::format!(
            "(process.executable : {} and {TRUSTED})",
            list(&unsigned, ",")
        ));
    }
    let mut signers: Vec<&str> = Vec::new();
    for (_, signer) in policy.paths() {
        if let Some(s) = signer
            && !signers.contains(&s)
        {
            signers.push(s);
        }
    }
    for signer in signers {
        let paths: Vec<String> = policy
            .paths()
            .filter(|(_, s)| *s == Some(signer))
            .map(|(path, _)| eql_string(path))
            .collect();
        clauses.push(alloc::format!(
            "(process.executable : {} and {TRUSTED} and process.code_signature.subject_name : {})",
            list(&paths, ","),
            eql_string(signer)
        ));
    }
    clauses
}

/// `"a"` for one item, `("a", "b")` for several (joined with `sep`).
fn list(items: &[String], sep: &str) -> String {
    match items {
        [one] => one.clone(),
        _ => {
            let mut out = String::from("(");
            out.push_str(&items.join(sep));
            out.push(')');
            out
        }
    }
}
