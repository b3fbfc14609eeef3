//! The rule as Sigma: two base rules and a `temporal_ordered` correlation.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{sigma_value, span_text, stable_uuid, yaml_string};
use crate::rule::{EXECUTABLE_EXTENSIONS, MZ_HEADER, RULE, Rule, SYSTEM_PID, Semantics};
use crate::trust::SignerPolicy;

/// Which names the Sigma rules give the fields that the Sigma taxonomy knows.
///
/// Everything else keeps its ECS name in both: the taxonomy (built on Sysmon and the
/// Windows event log) has no field for the code signature of a started process, the
/// file's header bytes, `event.type` or the agent's `host.id`, and the Elastic backends'
/// ECS pipelines (`ecs_windows`) pass dotted ECS names through unchanged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigmaFields {
    /// Sigma taxonomy names where the taxonomy has the field: `ProcessId` (the writer's
    /// pid), `TargetFilename` (the written path) and `Image` (the started executable),
    /// which a backend's pipeline maps (`ecs_windows`: to `process.pid`, `file.path`,
    /// `process.executable`).
    #[default]
    Taxonomy,
    /// ECS names throughout (`process.pid`, `file.path`, `process.executable`), as in the
    /// reference port: the rules then run on Elastic Defend data with no field mapping.
    Ecs,
}

struct Names {
    pid: &'static str,
    written: &'static str,
    executable: &'static str,
}

impl SigmaFields {
    fn names(self) -> Names {
        match self {
            SigmaFields::Ecs => Names {
                pid: "process.pid",
                written: "file.path",
                executable: "process.executable",
            },
            SigmaFields::Taxonomy => Names {
                pid: "ProcessId",
                written: "TargetFilename",
                executable: "Image",
            },
        }
    }
}

/// The rule as Sigma rules, with Sigma taxonomy field names; see [`sigma_with`].
///
/// # Example
/// ```
/// use shareexec::{Rule, render};
/// let yaml = render::sigma(&Rule::elasticsearch());
/// assert!(yaml.contains("type: temporal_ordered"));
/// assert!(yaml.contains("Image|exists: true"));
/// ```
pub fn sigma(rule: &Rule<SignerPolicy>) -> String {
    sigma_with(rule, SigmaFields::Taxonomy)
}

/// The rule as three Sigma rules in one YAML stream (documents separated by `---`).
///
/// 1. `smb_exe_write` (`logsource: product windows, category file_event`): a Windows file
///    event of type `creation` or `change` by pid 4 (the System process: the write came
///    over SMB) whose `file.extension` is an executable's, or whose
///    `file.Ext.header_bytes` starts with `4d5a` (MZ).
/// 2. `smb_exe_start` (`category process_creation`): a Windows process `start` that none
///    of the policy's exclusions trusts: `filter_signer` (the vendors), `filter_path`
///    (paths that name no signer) and `filter_signed_path*` (paths with their signer),
///    each requiring `process.code_signature.trusted: true`;
///    `condition: selection and join_keys and not 1 of filter_*`.
/// 3. A correlation of type `temporal_ordered` over the two (referenced by id, with the
///    name in a comment), `group-by` `host.id` and `exe_path`, an alias that maps
///    `exe_path` to each base rule's path field, `timespan: 1m`, and `generate: false`
///    (the base rules alone are not alerts).
///
/// Choices, following the reference port: `==` and `in` of the Elastic rule become
/// `|cased` (Sigma matches ignoring case by default, as EQL's `:` does); both base rules
/// require their join keys (`|exists: true`), because Elasticsearch never joins a missing
/// key while a Sigma `group-by` would group missing with missing; pattern strings keep
/// their `*` and `?` wildcards ([`sigma_value`]) and every string is quoted for YAML as
/// needed ([`yaml_string`]). Field names follow `fields` ([`SigmaFields`]).
///
/// Each rule's `id` is a [`stable_uuid`] of its own content (the correlation's therefore
/// also of the base rules' ids), so the same policy always renders the same ids and a
/// changed vendor list changes the ids of the rules it changes. Nothing depends on a
/// clock: the rules carry no `date`.
///
/// [`Semantics::Hardened`] differs from [`Semantics::Elasticsearch`] where Sigma can say
/// so: `host.os.type` without `|cased`, and a `selection_path_ext` that reads the
/// extension off the written path (`|endswith: .exe`, …) when `file.extension` does not
/// exist. A comment heading the correlation lists what Sigma cannot express: joins
/// ignoring case (a backend compares `group-by` values as it does), the `event.sequence`
/// tiebreak, sub-second windows and strict order for equal timestamps (Sigma `timespan`
/// is whole seconds and backends accept equal timestamps in either order), and the
/// sequence's latest-write-wins and consume-on-match.
///
/// # Example
/// ```
/// use shareexec::{Rule, render::{self, SigmaFields}};
/// let yaml = render::sigma_with(&Rule::hardened(), SigmaFields::Ecs);
/// assert!(yaml.contains("process.executable|exists: true"));
/// assert!(yaml.contains("- AO Kaspersky Lab")); // the recommended policy's vendors
/// assert_eq!(yaml, render::sigma_with(&Rule::hardened(), SigmaFields::Ecs)); // deterministic
/// ```
pub fn sigma_with(rule: &Rule<SignerPolicy>, fields: SigmaFields) -> String {
    let names = fields.names();
    let hardened = !matches!(rule.semantics(), Semantics::Elasticsearch);

    let (write_name, write_body) = write_rule(&names, hardened);
    let write_id = stable_uuid(&["sigma base rule", &write_body]);
    let (start_name, start_body) = start_rule(rule.policy(), &names, hardened);
    let start_id = stable_uuid(&["sigma base rule", &start_body]);
    let correlation_body = correlation(
        [
            (&write_id, write_name, names.written),
            (&start_id, start_name, names.executable),
        ],
        rule.semantics(),
    );
    let correlation_id = stable_uuid(&["sigma correlation", &correlation_body]);

    let mut out = String::new();
    out.push_str(&header(rule.semantics(), fields));
    out.push_str(&with_id(&write_body, &write_id));
    out.push_str("---\n");
    out.push_str(&with_id(&start_body, &start_id));
    out.push_str("---\n");
    out.push_str(COMMENT_LIMITS);
    if hardened {
        out.push_str(COMMENT_HARDENED);
    }
    out.push_str(&with_id(&correlation_body, &correlation_id));
    out
}

const COMMENT_LIMITS: &str = "\
# What Sigma cannot express of the EQL sequence: `timespan` is whole seconds and backends
# accept equal timestamps in either order (EQL: stage 2 strictly after stage 1, to the
# nanosecond); a correlation neither keeps only the latest write of a key nor consumes
# the write on a match (EQL does both).
";

const COMMENT_HARDENED: &str = "\
# Hardened semantics, not expressible here: paths join ignoring case (the backend
# compares group-by values as it does, usually exactly: join on lowercased fields if it
# can), and equal timestamps are ordered by event.sequence.
";

fn header(semantics: Semantics, fields: SigmaFields) -> String {
    format!(
        "# {} ({}, MITRE ATT&CK {}), rendered by shareexec\n\
         # from Semantics::{} and its trust policy, with {} field names.\n",
        RULE.name,
        RULE.id,
        RULE.subtechnique.id,
        match semantics {
            Semantics::Elasticsearch => "Elasticsearch",
            _ => "Hardened",
        },
        match fields {
            SigmaFields::Ecs => "ECS",
            SigmaFields::Taxonomy => "Sigma taxonomy (ECS where it has none)",
        },
    )
}

/// Inserts `id: …` after the body's first line (its `title`).
fn with_id(body: &str, id: &str) -> String {
    let (title, rest) = body.split_once('\n').unwrap_or((body, ""));
    format!("{title}\nid: {id}\n{rest}")
}

/// `key: value` at `indent`, or `key:` and one `- item` per value when there are several.
fn field(out: &mut String, indent: usize, key: &str, values: &[String]) {
    let pad = " ".repeat(indent);
    match values {
        [one] => out.push_str(&format!("{pad}{key}: {one}\n")),
        _ => {
            out.push_str(&format!("{pad}{key}:\n"));
            for v in values {
                out.push_str(&format!("{pad}    - {v}\n"));
            }
        }
    }
}

fn quoted<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items.into_iter().map(yaml_string).collect()
}

fn patterns<'a>(items: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    items
        .into_iter()
        .map(|p| yaml_string(&sigma_value(p)))
        .collect()
}

fn one(value: &str) -> Vec<String> {
    alloc::vec![String::from(value)]
}

/// The metadata every rule shares, after `title` (and the `id` inserted later).
fn meta(out: &mut String, name: &str, description: &str) {
    out.push_str(&format!("name: {}\n", yaml_string(name)));
    out.push_str("status: experimental\n");
    out.push_str(&format!("description: {}\n", yaml_string(description)));
    out.push_str("references:\n");
    out.push_str(&format!("    - {}\n", yaml_string(RULE.reference)));
    out.push_str("author: shareexec\n");
    out.push_str("tags:\n");
    out.push_str(&format!(
        "    - {}\n",
        yaml_string(&attack_tag(RULE.tactic.name))
    ));
    out.push_str(&format!(
        "    - {}\n",
        yaml_string(&attack_tag(RULE.subtechnique.id))
    ));
}

/// `Lateral Movement` → `attack.lateral-movement`, `T1021.002` → `attack.t1021.002`.
fn attack_tag(name: &str) -> String {
    let mut tag = String::from("attack.");
    for c in name.chars() {
        tag.push(if c == ' ' {
            '-'
        } else {
            c.to_ascii_lowercase()
        });
    }
    tag
}

fn os_type(hardened: bool) -> &'static str {
    if hardened {
        "host.os.type"
    } else {
        "host.os.type|cased"
    }
}

fn write_rule(names: &Names, hardened: bool) -> (&'static str, String) {
    let name = "smb_exe_write";
    let mut out =
        String::from("title: Executable Written by the System Process (SMB Share Write)\n");
    meta(
        &mut out,
        name,
        &format!(
            "Stage 1 of Elastic rule {} ({}): the System process (pid {SYSTEM_PID}, i.e. a write \
             that arrived over SMB) creates or changes a file that is an executable by \
             extension or by MZ header.",
            RULE.id, RULE.name
        ),
    );
    out.push_str("logsource:\n    product: windows\n    category: file_event\n");
    out.push_str("detection:\n    selection:\n");
    field(&mut out, 8, "event.category|cased", &one("file"));
    field(&mut out, 8, os_type(hardened), &one("windows"));
    field(
        &mut out,
        8,
        "event.type|cased",
        &quoted(["creation", "change"]),
    );
    field(&mut out, 8, names.pid, &one(&format!("{SYSTEM_PID}")));
    out.push_str("    selection_ext:\n");
    field(
        &mut out,
        8,
        "file.extension",
        &patterns(EXECUTABLE_EXTENSIONS.iter().copied()),
    );
    if hardened {
        // The detector reads a missing extension off the path.
        out.push_str("    selection_path_ext:\n");
        field(&mut out, 8, "file.extension|exists", &one("false"));
        let suffixes: Vec<String> = EXECUTABLE_EXTENSIONS
            .iter()
            .map(|e| format!(".{e}"))
            .collect();
        field(
            &mut out,
            8,
            &format!("{}|endswith", names.written),
            &patterns(suffixes.iter().map(String::as_str)),
        );
    }
    out.push_str("    selection_mz:\n");
    let header_prefix = MZ_HEADER.strip_suffix('*').unwrap_or(MZ_HEADER);
    field(
        &mut out,
        8,
        "file.Ext.header_bytes|startswith",
        &patterns([header_prefix]),
    );
    out.push_str(
        "    # Elasticsearch never joins a missing key; a Sigma group-by would, so require them\n",
    );
    out.push_str("    join_keys:\n");
    field(&mut out, 8, "host.id|exists", &one("true"));
    field(
        &mut out,
        8,
        &format!("{}|exists", names.written),
        &one("true"),
    );
    out.push_str("    condition: selection and 1 of selection_* and join_keys\n");
    out.push_str("falsepositives:\n    - Software deployment over admin shares\nlevel: low\n");
    (name, out)
}

fn start_rule(policy: &SignerPolicy, names: &Names, hardened: bool) -> (&'static str, String) {
    let name = "smb_exe_start";
    let mut out = String::from(
        "title: Process Start Not Trusted by the Signer Policy (Remote Execution via File Shares, stage 2)\n",
    );
    meta(
        &mut out,
        name,
        &format!(
            "Stage 2 of Elastic rule {} ({}): a process start on Windows that the trust \
             policy's signer and path exclusions do not exclude.",
            RULE.id, RULE.name
        ),
    );
    out.push_str("logsource:\n    product: windows\n    category: process_creation\n");
    out.push_str("detection:\n    selection:\n");
    field(&mut out, 8, "event.category|cased", &one("process"));
    field(&mut out, 8, os_type(hardened), &one("windows"));
    field(&mut out, 8, "event.type|cased", &one("start"));

    let mut filters = 0usize;
    let vendors = patterns(policy.vendors());
    if !vendors.is_empty() {
        filters += 1;
        out.push_str("    filter_signer:\n");
        field(&mut out, 8, "process.code_signature.trusted", &one("true"));
        field(&mut out, 8, "process.code_signature.subject_name", &vendors);
    }
    let unsigned = patterns(policy.paths().filter(|(_, s)| s.is_none()).map(|(p, _)| p));
    if !unsigned.is_empty() {
        filters += 1;
        out.push_str("    filter_path:\n");
        field(&mut out, 8, names.executable, &unsigned);
        field(&mut out, 8, "process.code_signature.trusted", &one("true"));
    }
    let mut signers: Vec<&str> = Vec::new();
    for (_, signer) in policy.paths() {
        if let Some(s) = signer
            && !signers.contains(&s)
        {
            signers.push(s);
        }
    }
    let numbered = signers.len() > 1;
    for (i, signer) in signers.iter().enumerate() {
        filters += 1;
        if numbered {
            out.push_str(&format!("    filter_signed_path_{}:\n", i + 1));
        } else {
            out.push_str("    filter_signed_path:\n");
        }
        let paths = patterns(
            policy
                .paths()
                .filter(|(_, s)| *s == Some(*signer))
                .map(|(p, _)| p),
        );
        field(&mut out, 8, names.executable, &paths);
        field(&mut out, 8, "process.code_signature.trusted", &one("true"));
        field(
            &mut out,
            8,
            "process.code_signature.subject_name",
            &patterns([*signer]),
        );
    }
    out.push_str(
        "    # Elasticsearch never joins a missing key; a Sigma group-by would, so require them\n",
    );
    out.push_str("    join_keys:\n");
    field(&mut out, 8, "host.id|exists", &one("true"));
    field(
        &mut out,
        8,
        &format!("{}|exists", names.executable),
        &one("true"),
    );
    if filters == 0 {
        out.push_str("    condition: selection and join_keys\n");
    } else {
        out.push_str("    condition: selection and join_keys and not 1 of filter_*\n");
    }
    out.push_str(
        "falsepositives:\n    - Software not covered by the trust policy's exclusions\nlevel: low\n",
    );
    (name, out)
}

fn correlation(base: [(&String, &str, &str); 2], semantics: Semantics) -> String {
    let mut out = String::from("title: Remote Execution via File Shares\n");
    meta(
        &mut out,
        "remote_exec_via_file_shares",
        &format!(
            "Elastic rule {} ({}, semantics {}): an executable written by the System process \
             over SMB and then started on the same host from the same path within {}.",
            RULE.id,
            RULE.name,
            semantics.name(),
            span_text(RULE.maxspan)
        ),
    );
    out.push_str("correlation:\n    type: temporal_ordered\n    rules:\n");
    for (id, name, _) in &base {
        out.push_str(&format!("        - {id} # {name}\n"));
    }
    out.push_str("    group-by:\n        - host.id\n        - exe_path\n");
    out.push_str("    aliases:\n        exe_path:\n");
    for (id, name, path) in &base {
        out.push_str(&format!(
            "            {id}: {} # {name}\n",
            yaml_string(path)
        ));
    }
    out.push_str(&format!("    timespan: {}\n", span_text(RULE.maxspan)));
    out.push_str("    generate: false\n");
    out.push_str("falsepositives:\n    - Software deployment over admin shares\n");
    out.push_str(&format!("level: {}\n", yaml_string(RULE.severity)));
    out
}
