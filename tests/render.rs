//! The SIEM renderings (`shareexec::render`): EQL and Sigma from the active rule and policy.
//!
//! The external validators (PyPI `eql` 1.0.1 and `sigma-cli`) run when `SHAREEXEC_PYTHON`
//! names a Python that has them (`.ci/python-tools.sh` makes one); without it those tests
//! say `skipped: SHAREEXEC_PYTHON not set` on stderr and pass.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use shareexec::render::{self, SigmaFields, eql_string, sigma_value, stable_uuid, yaml_string};
use shareexec::trust::{BRIEF_VENDORS, RULE_VENDORS};
use shareexec::{Rule, Semantics, SignerPolicy};

/// The query of Elastic rule ab75c24b-2502-43a0-bf7c-e60e662c811e, as published in
/// `rules/windows/lateral_movement_execution_via_file_shares_sequence.toml` (a copy).
const RULE_QUERY: &str = r#"
sequence with maxspan=1m
  [file where host.os.type == "windows" and event.type in ("creation", "change") and
   process.pid == 4 and (file.extension : ("exe", "scr", "pif", "com") or file.Ext.header_bytes : "4d5a*")] by host.id, file.path
  [process where host.os.type == "windows" and event.type == "start" and
    not (
      (process.code_signature.trusted == true and
        process.code_signature.subject_name : ("Veeam Software Group GmbH","Elasticsearch, Inc.","PDQ.com Corporation","CrowdStrike, Inc.","Microsoft Windows Hardware Compatibility Publisher","ZOHO Corporation Private Limited","BeyondTrust Corporation","CyberArk Software Ltd.","Sophos Ltd")) or
      (process.executable : ("?:\\Windows\\ccmsetup\\ccmsetup.exe","?:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta*.exe","?:\\Windows\\CAInvokerService.exe") and process.code_signature.trusted == true) or
      (process.executable : "G:\\SMS_*\\srvboot.exe" and process.code_signature.trusted == true and process.code_signature.subject_name : "Microsoft Corporation")
    )
  ] by host.id, process.executable
"#;

fn normalize(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn es(policy: SignerPolicy) -> Rule {
    Rule::with_policy(Semantics::Elasticsearch, policy)
}

/// Strings that need every escape: quotes, backslashes before wildcards and letters, a
/// UNC prefix, YAML indicators, control characters, non-ASCII, a reserved YAML word.
const TRICKY_VENDOR: &str = "Contoso \"Quoted\" \\ Ltd: #1";
const TRICKY_PATH: &str = r"\\fileserver\deploy$\*\agent?.exe";
const TRICKY_SIGNER: &str = "O'Brien\tSoftware\nGmbH — Ünïcode";

fn tricky_policy() -> SignerPolicy {
    SignerPolicy::builder()
        .vendor(TRICKY_VENDOR)
        .vendor("yes")
        .vendor("-dash")
        .path(r"C:\Tools\*")
        .path_signed_by(TRICKY_PATH, TRICKY_SIGNER)
        .path_signed_by(r"D:\Agents\run.exe", TRICKY_SIGNER)
        .build()
}

// ---------------------------------------------------------------- (a) the rule's own text

#[test]
fn elasticsearch_eql_is_the_rule_text_whitespace_aside() {
    let eql = Rule::elasticsearch().to_eql();
    assert_eq!(normalize(&eql), normalize(RULE_QUERY));
    // Stronger: it is the published text byte for byte.
    assert_eq!(eql, RULE_QUERY.trim_start());
    assert_eq!(render::eql(&Rule::elasticsearch()), eql);
}

#[test]
fn eql_is_deterministic_and_new_gives_the_same() {
    assert_eq!(
        Rule::new(Semantics::Elasticsearch).to_eql(),
        Rule::elasticsearch().to_eql()
    );
    assert_eq!(Rule::hardened().to_eql(), Rule::default().to_eql());
}

// ---------------------------------------------------------------- (b) the policy drives it

#[test]
fn added_and_removed_vendors_appear() {
    let policy = SignerPolicy::builder()
        .vendor("Contoso Ltd")
        .remove_vendor("sophos ltd")
        .build();
    let eql = es(policy.clone()).to_eql();
    assert!(
        eql.contains(r#""CyberArk Software Ltd.","Contoso Ltd")) or"#),
        "{eql}"
    );
    assert!(!eql.contains("Sophos"), "{eql}");
    // Everything else is the rule's text.
    let expected = normalize(RULE_QUERY).replace(r#""Sophos Ltd""#, r#""Contoso Ltd""#);
    assert_eq!(normalize(&eql), expected);

    let yaml = render::sigma(&es(policy));
    assert!(yaml.contains("            - Contoso Ltd\n"), "{yaml}");
    assert!(!yaml.contains("Sophos"), "{yaml}");
}

#[test]
fn hardened_renders_the_recommended_vendors() {
    let eql = Rule::hardened().to_eql();
    let yaml = Rule::hardened().to_sigma();
    for vendor in RULE_VENDORS.iter().chain(BRIEF_VENDORS) {
        assert!(eql.contains(&eql_string(vendor)), "{vendor} in {eql}");
        assert!(
            yaml.contains(&format!("- {}\n", yaml_string(vendor))),
            "{vendor}"
        );
    }
    let elastic = Rule::elasticsearch().to_eql();
    for vendor in BRIEF_VENDORS {
        assert!(!elastic.contains(vendor));
    }
}

#[test]
fn paths_and_signed_paths_appear_grouped_by_signer() {
    let policy = SignerPolicy::builder()
        .remove_path(r"?:\Windows\CAInvokerService.exe")
        .path(r"C:\Program Files\Contoso\agent.exe")
        .path_signed_by(r"C:\Deploy\*.exe", "Contoso Ltd")
        .path_signed_by(r"E:\SMS_*\srvboot.exe", "Microsoft Corporation")
        .build();
    let eql = es(policy.clone()).to_eql();
    assert!(!eql.contains("CAInvokerService"), "{eql}");
    assert!(
        eql.contains(r#"(process.executable : ("?:\\Windows\\ccmsetup\\ccmsetup.exe","?:\\Windows\\SoftwareDistribution\\Download\\Install\\AM_Delta*.exe","C:\\Program Files\\Contoso\\agent.exe") and process.code_signature.trusted == true) or"#),
        "{eql}"
    );
    assert!(
        eql.contains(r#"(process.executable : ("G:\\SMS_*\\srvboot.exe","E:\\SMS_*\\srvboot.exe") and process.code_signature.trusted == true and process.code_signature.subject_name : "Microsoft Corporation") or"#),
        "{eql}"
    );
    assert!(
        eql.contains(r#"(process.executable : "C:\\Deploy\\*.exe" and process.code_signature.trusted == true and process.code_signature.subject_name : "Contoso Ltd")"#),
        "{eql}"
    );

    let yaml = render::sigma(&es(policy));
    for needle in [
        "    filter_signed_path_1:\n        Image:\n            - 'G:\\SMS_*\\srvboot.exe'\n            - 'E:\\SMS_*\\srvboot.exe'\n",
        "    filter_signed_path_2:\n        Image: 'C:\\Deploy\\\\*.exe'\n        process.code_signature.trusted: true\n        process.code_signature.subject_name: Contoso Ltd\n",
        "            - 'C:\\Program Files\\Contoso\\agent.exe'\n",
    ] {
        assert!(yaml.contains(needle), "{needle} in {yaml}");
    }
}

#[test]
fn empty_policy_renders_no_exclusions() {
    let rule = es(SignerPolicy::empty_builder().build());
    let eql = rule.to_eql();
    assert!(!eql.contains("not ("), "{eql}");
    assert!(
        eql.ends_with(
            "  [process where host.os.type == \"windows\" and event.type == \"start\"] by host.id, process.executable\n"
        ),
        "{eql}"
    );
    let yaml = render::sigma(&rule);
    assert!(!yaml.contains("filter_"), "{yaml}");
    assert!(
        yaml.contains("    condition: selection and join_keys\n"),
        "{yaml}"
    );

    // One vendor, one path: single strings, not lists.
    let one = es(SignerPolicy::empty_builder()
        .vendor("Solo Ltd")
        .path(r"C:\a.exe")
        .build())
    .to_eql();
    assert!(
        one.contains(r#"process.code_signature.subject_name : "Solo Ltd") or"#),
        "{one}"
    );
    assert!(
        one.contains(
            r#"(process.executable : "C:\\a.exe" and process.code_signature.trusted == true)"#
        ),
        "{one}"
    );
}

#[test]
fn hardened_eql_renders_what_eql_can_and_comments_the_rest() {
    let eql = Rule::hardened().to_eql();
    let (comments, query) = eql.split_at(eql.find("sequence with").unwrap());
    assert!(comments.lines().all(|l| l.starts_with("//")), "{comments}");
    for said in [
        "ignoring case",
        "tiebreaker",
        "event.sequence",
        "by` key must be a field",
    ] {
        assert!(comments.contains(said), "{said}");
    }
    assert!(!query.contains("host.os.type =="), "{query}");
    assert_eq!(query.matches(r#"host.os.type : "windows""#).count(), 2);
    assert!(query.contains(
        r#"(file.extension == null and file.path : ("*.exe", "*.scr", "*.pif", "*.com"))"#
    ));
    // The keys stay exact: EQL cannot join ignoring case.
    assert!(query.contains("] by host.id, file.path\n"));
    assert!(query.ends_with("] by host.id, process.executable\n"));
    // Hardened with the rule's own vendor list: the same query apart from the hardening.
    let plain = Rule::with_policy(Semantics::Hardened, SignerPolicy::elastic_rule()).to_eql();
    let plain = &plain[plain.find("sequence with").unwrap()..];
    let expected = normalize(RULE_QUERY)
        .replace(r#"host.os.type == "windows""#, r#"host.os.type : "windows""#)
        .replace(
            r#"("exe", "scr", "pif", "com") or"#,
            r#"("exe", "scr", "pif", "com") or (file.extension == null and file.path : ("*.exe", "*.scr", "*.pif", "*.com")) or"#,
        );
    assert_eq!(normalize(plain), expected);
}

// ---------------------------------------------------------------- (c) escaping

#[test]
fn eql_string_escapes() {
    assert_eq!(eql_string(""), r#""""#);
    assert_eq!(eql_string(r"a\b"), r#""a\\b""#);
    assert_eq!(eql_string(r#"say "x""#), r#""say \"x\"""#);
    assert_eq!(eql_string("l1\nl2\r\t\u{8}\u{c}"), r#""l1\nl2\r\t\b\f""#);
    assert_eq!(eql_string("Ünï — *?"), "\"Ünï — *?\"");
    let eql = es(tricky_policy()).to_eql();
    assert!(eql.contains(r#""Contoso \"Quoted\" \\ Ltd: #1""#), "{eql}");
    assert!(
        eql.contains(r#""\\\\fileserver\\deploy$\\*\\agent?.exe""#),
        "{eql}"
    );
    assert!(
        eql.contains(r#""O'Brien\tSoftware\nGmbH — Ünïcode""#),
        "{eql}"
    );
    // No raw line break inside any string literal: every line has balanced quotes.
    for line in eql.lines() {
        let unescaped = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(unescaped.matches('"').count() % 2, 0, "{line}");
    }
}

#[test]
fn yaml_string_quotes_what_needs_it() {
    let cases: &[(&str, &str)] = &[
        ("Sophos Ltd", "Sophos Ltd"),
        ("Elasticsearch, Inc.", "Elasticsearch, Inc."),
        ("PDQ.com Corporation", "PDQ.com Corporation"),
        ("", "''"),
        ("yes", "'yes'"),
        ("Off", "'Off'"),
        ("null", "'null'"),
        ("~", "'~'"),
        ("123", "'123'"),
        ("1e3", "'1e3'"),
        ("0x1F", "'0x1F'"),
        ("2026-11-26", "'2026-11-26'"),
        ("12:30", "'12:30'"),
        (".inf", "'.inf'"),
        ("a: b", "'a: b'"),
        ("a #b", "'a #b'"),
        ("key:", "'key:'"),
        ("-dash", "'-dash'"),
        ("[x]", "'[x]'"),
        ("{x}", "'{x}'"),
        ("*star", "'*star'"),
        ("&anchor", "'&anchor'"),
        ("!tag", "'!tag'"),
        ("|", "'|'"),
        (">", "'>'"),
        ("%x", "'%x'"),
        ("@x", "'@x'"),
        ("`x", "'`x'"),
        (" lead", "' lead'"),
        ("trail ", "'trail '"),
        ("it's", "'it''s'"),
        (r"C:\Windows\x.exe", r"'C:\Windows\x.exe'"),
        (r"?:\Windows\*.exe", r"'?:\Windows\*.exe'"),
        ("\"q\"", "'\"q\"'"),
        ("Ünïcode — ok", "'Ünïcode — ok'"),
        ("line\nbreak", "\"line\\nbreak\""),
        ("cr\r", "\"cr\\r\""),
        ("tab\t", "\"tab\\t\""),
        ("nul\0", "\"nul\\0\""),
        ("bell\u{7}", "\"bell\\x07\""),
        ("del\u{7f}", "\"del\\x7F\""),
        ("nel\u{85}", "\"nel\\x85\""),
        ("ls\u{2028}ps\u{2029}", "\"ls\\u2028ps\\u2029\""),
        ("bom\u{feff}", "\"bom\\uFEFF\""),
        ("back\\slash\nquote\"", "\"back\\\\slash\\nquote\\\"\""),
        (
            "02ab0a74-f0db-438b-9c0b-dc7527a2cf3c",
            "02ab0a74-f0db-438b-9c0b-dc7527a2cf3c",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(&yaml_string(input), want, "{input:?}");
    }
}

#[test]
fn sigma_value_escapes_backslashes_before_wildcards_only() {
    assert_eq!(
        sigma_value(r"?:\Windows\ccmsetup\ccmsetup.exe"),
        r"?:\Windows\ccmsetup\ccmsetup.exe"
    );
    assert_eq!(sigma_value(r"C:\Tools\*"), r"C:\Tools\\*");
    assert_eq!(sigma_value(r"C:\Tools\?.exe"), r"C:\Tools\\?.exe");
    assert_eq!(sigma_value(r"\\server\share"), r"\\\server\share");
    assert_eq!(sigma_value(r"trailing\"), r"trailing\");
    assert_eq!(sigma_value(r"a\\*"), r"a\\\\*");
    let yaml = render::sigma(&es(tricky_policy()));
    for needle in [
        "            - 'Contoso \"Quoted\" \\ Ltd: #1'\n",
        "            - 'yes'\n",
        "            - '-dash'\n",
        "            - 'C:\\Tools\\\\*'\n",
        "            - '\\\\\\fileserver\\deploy$\\\\*\\agent?.exe'\n",
        "        process.code_signature.subject_name: \"O'Brien\\tSoftware\\nGmbH — Ünïcode\"\n",
    ] {
        assert!(yaml.contains(needle), "{needle} in {yaml}");
    }
}

// ---------------------------------------------------------------- Sigma structure and ids

fn documents(yaml: &str) -> Vec<&str> {
    yaml.split("\n---\n").collect()
}

fn id_of(doc: &str) -> &str {
    doc.lines()
        .find_map(|l| l.strip_prefix("id: "))
        .expect("every rule has an id")
}

#[test]
fn sigma_has_two_base_rules_and_a_temporal_ordered_correlation() {
    let yaml = render::sigma(&Rule::elasticsearch());
    let docs = documents(&yaml);
    assert_eq!(docs.len(), 3);
    let (write, start, corr) = (docs[0], docs[1], docs[2]);
    assert!(write.contains("    product: windows\n    category: file_event\n"));
    assert!(start.contains("    product: windows\n    category: process_creation\n"));
    for needle in [
        "        event.category|cased: file\n",
        "        host.os.type|cased: windows\n",
        "        event.type|cased:\n            - creation\n            - change\n",
        "        ProcessId: 4\n",
        "        file.extension:\n            - exe\n            - scr\n            - pif\n            - com\n",
        "        file.Ext.header_bytes|startswith: '4d5a'\n",
        "        host.id|exists: true\n        TargetFilename|exists: true\n",
        "    condition: selection and 1 of selection_* and join_keys\n",
    ] {
        assert!(write.contains(needle), "{needle} in {write}");
    }
    assert!(!write.contains("selection_path_ext"));
    for needle in [
        "    filter_signer:\n        process.code_signature.trusted: true\n        process.code_signature.subject_name:\n            - Veeam Software Group GmbH\n",
        "    filter_path:\n        Image:\n            - '?:\\Windows\\ccmsetup\\ccmsetup.exe'\n",
        "    filter_signed_path:\n        Image: 'G:\\SMS_*\\srvboot.exe'\n        process.code_signature.trusted: true\n        process.code_signature.subject_name: Microsoft Corporation\n",
        "        host.id|exists: true\n        Image|exists: true\n",
        "    condition: selection and join_keys and not 1 of filter_*\n",
    ] {
        assert!(start.contains(needle), "{needle} in {start}");
    }
    let (w, s) = (id_of(write), id_of(start));
    for needle in [
        "    type: temporal_ordered\n".to_string(),
        format!("    rules:\n        - {w} # smb_exe_write\n        - {s} # smb_exe_start\n"),
        "    group-by:\n        - host.id\n        - exe_path\n".to_string(),
        format!(
            "    aliases:\n        exe_path:\n            {w}: TargetFilename # smb_exe_write\n            {s}: Image # smb_exe_start\n"
        ),
        "    timespan: 1m\n".to_string(),
        "    generate: false\n".to_string(),
        "level: medium\n".to_string(),
    ] {
        assert!(corr.contains(&needle), "{needle} in {corr}");
    }
    let ecs = render::sigma_with(&Rule::elasticsearch(), SigmaFields::Ecs);
    assert!(ecs.contains("        process.pid: 4\n"));
    assert!(ecs.contains(": file.path # smb_exe_write\n"));
    assert!(ecs.contains(": process.executable # smb_exe_start\n"));
    assert!(!ecs.contains("Image") && !ecs.contains("TargetFilename"));
}

#[test]
fn sigma_hardened_differences() {
    let yaml = render::sigma(&Rule::hardened());
    assert!(yaml.contains("        host.os.type: windows\n"));
    assert!(!yaml.contains("host.os.type|cased"));
    assert!(yaml.contains(
        "    selection_path_ext:\n        file.extension|exists: false\n        TargetFilename|endswith:\n            - '.exe'\n            - '.scr'\n            - '.pif'\n            - '.com'\n"
    ));
    assert!(yaml.contains("# Hardened semantics, not expressible here: paths join ignoring case"));
}

#[test]
fn sigma_ids_are_stable_uuids_of_the_content() {
    let uuid_shape = |id: &str| {
        let groups: Vec<_> = id.split('-').map(str::len).collect();
        groups == [8, 4, 4, 4, 12]
            && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
            && &id[14..15] == "8"
    };
    let a = render::sigma(&Rule::elasticsearch());
    assert_eq!(a, render::sigma(&Rule::elasticsearch()));
    let ids: Vec<&str> = documents(&a).into_iter().map(id_of).collect();
    assert!(ids.iter().all(|id| uuid_shape(id)), "{ids:?}");
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);

    // A vendor change changes stage 2 and the correlation, not stage 1.
    let b = render::sigma(&es(SignerPolicy::builder().vendor("Contoso Ltd").build()));
    let other: Vec<&str> = documents(&b).into_iter().map(id_of).collect();
    assert_eq!(ids[0], other[0]);
    assert_ne!(ids[1], other[1]);
    assert_ne!(ids[2], other[2]);

    // Pinned: the ids are part of the SIEM's state; they must not drift between builds.
    assert_eq!(
        stable_uuid(&["sigma base rule", "x"]),
        "426ba3da-23a5-8021-9ef5-a05b283372fd"
    );
    assert_ne!(stable_uuid(&["a", "bc"]), stable_uuid(&["ab", "c"]));
}

// ---------------------------------------------------------------- (d) external validators

/// The Python with `eql` and `sigma-cli`, from `SHAREEXEC_PYTHON`; `None` (after saying so
/// on stderr, past the test harness's capture) when it is not set.
fn python(test: &str) -> Option<PathBuf> {
    match std::env::var_os("SHAREEXEC_PYTHON") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped: SHAREEXEC_PYTHON not set (bash .ci/python-tools.sh makes one)"
            );
            None
        }
    }
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("render")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn validate_py() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/render/validate.py")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn rules_under_test() -> Vec<(&'static str, Rule)> {
    vec![
        ("elasticsearch", Rule::elasticsearch()),
        ("hardened", Rule::hardened()),
        ("tricky", es(tricky_policy())),
        (
            "tricky_hardened",
            Rule::with_policy(Semantics::Hardened, tricky_policy()),
        ),
        ("empty", es(SignerPolicy::empty_builder().build())),
        (
            "single",
            es(SignerPolicy::empty_builder()
                .vendor("Solo Ltd")
                .path_signed_by(r"C:\a.exe", "Solo Ltd")
                .build()),
        ),
    ]
}

#[test]
fn eql_parses_with_python_eql() {
    let Some(python) = python("eql_parses_with_python_eql") else {
        return;
    };
    let dir = scratch("eql");
    let rules = rules_under_test();
    let files: Vec<PathBuf> = rules
        .iter()
        .map(|(name, rule)| {
            let path = dir.join(format!("{name}.eql"));
            std::fs::write(&path, rule.to_eql()).expect("write query");
            path
        })
        .collect();
    let out = run(Command::new(&python)
        .arg(validate_py())
        .arg("eql")
        .args(&files));
    let parsed: Vec<Vec<String>> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("literals JSON"))
        .collect();
    assert_eq!(parsed.len(), rules.len(), "{out}");
    for ((name, rule), literals) in rules.iter().zip(&parsed) {
        // Every string the policy holds reads back exactly: the escaping is right.
        let policy = rule.policy();
        let mut expected: Vec<&str> = policy.vendors().collect();
        expected.extend(policy.paths().flat_map(|(p, s)| [Some(p), s]).flatten());
        for want in expected {
            assert!(
                literals.iter().any(|l| l == want),
                "{name}: {want:?} not among the parsed literals {literals:?}"
            );
        }
        assert!(literals.iter().any(|l| l == "4d5a*"), "{name}");
    }
}

#[test]
fn sigma_passes_sigma_check_and_reads_back() {
    let Some(python) = python("sigma_passes_sigma_check_and_reads_back") else {
        return;
    };
    let dir = scratch("sigma");
    let mut rendered = Vec::new();
    for (name, rule) in rules_under_test() {
        for fields in [SigmaFields::Taxonomy, SigmaFields::Ecs] {
            let path = dir.join(format!("{name}_{fields:?}.yml"));
            std::fs::write(&path, render::sigma_with(&rule, fields)).expect("write rules");
            // The exact check command, one file at a time (files rendered from different
            // policies share titles and stage-1 ids). The ATT&CK and D3FEND tag validators
            // download MITRE data at run time, so they are left out: no network here.
            let tricky = name.starts_with("tricky");
            let mut check = Command::new(&python);
            check.args(["-m", "sigma.cli.main", "check", "--fail-on-error"]);
            // The tricky policy's control characters are flagged by design.
            check.arg(if tricky {
                "--pass-on-issues"
            } else {
                "--fail-on-issues"
            });
            check
                .args(["--exclude", "attacktag", "--exclude", "d3_fendtag"])
                .arg(&path);
            let out = run(&mut check);
            assert!(
                out.contains("Found 0 errors, 0 condition errors"),
                "{name}: {out}"
            );
            if !tricky {
                assert!(out.contains("No validation issues found."), "{name}: {out}");
            }
            rendered.push((name, rule.clone(), fields, path));
        }
    }

    // pySigma reads back what the policy says, wildcards and all.
    let out = run(Command::new(&python)
        .arg(validate_py())
        .arg("sigma-values")
        .args(rendered.iter().map(|(.., path)| path)));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), rendered.len(), "{out}");
    let strings = |x: &serde_json::Value| -> Vec<String> {
        x.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(String::from))
            .collect()
    };
    for ((name, rule, fields, _), line) in rendered.iter().zip(lines) {
        let v: serde_json::Value = serde_json::from_str(line).expect("sigma JSON");
        let corr = &v["remote_exec_via_file_shares"];
        assert_eq!(corr["type"], "temporal_ordered", "{line}");
        assert_eq!(
            corr["rules"],
            serde_json::json!(["smb_exe_write", "smb_exe_start"])
        );
        assert_eq!(corr["timespan"], 60);
        assert_eq!(corr["generate"], false);
        let (written, executable) = match fields {
            SigmaFields::Ecs => ("file.path", "process.executable"),
            _ => ("TargetFilename", "Image"),
        };
        assert_eq!(
            corr["aliases"]["exe_path"],
            serde_json::json!({"smb_exe_write": written, "smb_exe_start": executable})
        );
        assert_eq!(corr["group-by"], serde_json::json!(["host.id", "exe_path"]));

        let write = &v["smb_exe_write"]["detections"];
        let hardened = rule.semantics() == Semantics::Hardened;
        assert_eq!(
            write.get("selection_path_ext").is_some(),
            hardened,
            "{name}: {line}"
        );
        if hardened {
            let suffixes =
                strings(&write["selection_path_ext"][format!("{written}|SigmaEndswithModifier")]);
            assert_eq!(suffixes, [".exe", ".scr", ".pif", ".com"], "{name}");
        }

        let start = &v["smb_exe_start"]["detections"];
        let vendors: Vec<String> = rule.policy().vendors().map(String::from).collect();
        assert_eq!(
            vendors.is_empty(),
            start.get("filter_signer").is_none(),
            "{name}: {line}"
        );
        if !vendors.is_empty() {
            assert_eq!(
                strings(&start["filter_signer"]["process.code_signature.subject_name"]),
                vendors,
                "{name}"
            );
        }
        let (mut paths, mut signed) = (Vec::new(), Vec::new());
        for (filter, items) in start.as_object().expect("detections") {
            if filter.starts_with("filter_path") {
                paths.extend(strings(&items[executable]).into_iter().map(|p| (p, None)));
            } else if filter.starts_with("filter_signed_path") {
                let signer = strings(&items["process.code_signature.subject_name"]);
                assert_eq!(signer.len(), 1, "{name}: {filter}");
                for p in strings(&items[executable]) {
                    signed.push((p, Some(signer[0].clone())));
                }
            }
        }
        paths.extend(signed);
        let mut want: Vec<(String, Option<String>)> = rule
            .policy()
            .paths()
            .map(|(p, s)| (p.to_string(), s.map(String::from)))
            .collect();
        paths.sort();
        want.sort();
        assert_eq!(paths, want, "{name}: {line}");
    }
}

#[test]
fn yaml_strings_read_back_with_pyyaml() {
    let Some(python) = python("yaml_strings_read_back_with_pyyaml") else {
        return;
    };
    let mut strings: Vec<String> = [
        "",
        "yes",
        "No",
        "ON",
        "y",
        "null",
        "~",
        "true",
        "123",
        "-1",
        "1e3",
        "0x1F",
        "0o17",
        "1_000",
        "12:30",
        "2026-11-26",
        "2026-11-26T10:00:00Z",
        ".inf",
        ".NaN",
        "a: b",
        "a #b",
        "key:",
        "-dash",
        "- item",
        "? q",
        "[x]",
        "{x}",
        "*a",
        "&a",
        "!a",
        "|",
        ">",
        "%a",
        "@a",
        "`a",
        " lead",
        "trail ",
        "it's",
        "\"q\"",
        "line\nbreak",
        "cr\r",
        "tab\t",
        "nul\0",
        "\u{7}\u{1b}\u{7f}\u{85}\u{a0}",
        "\u{2028}\u{2029}\u{feff}\u{fffe}",
        "Ünïcode — ✓ 𝄞",
        r"C:\Windows\x.exe",
        r"\\server\share\*",
        "<<",
        "=",
        "back\\slash\nquote\"",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    strings.extend(
        RULE_VENDORS
            .iter()
            .chain(BRIEF_VENDORS)
            .map(|s| s.to_string()),
    );
    strings.extend(
        (0u32..0x100)
            .filter_map(char::from_u32)
            .map(|c| format!("{c}x{c}")),
    );
    let dir = scratch("yaml");
    let yaml: String = strings
        .iter()
        .map(|s| format!("- {}\n", yaml_string(s)))
        .collect();
    std::fs::write(dir.join("strings.yml"), yaml).expect("write yaml");
    std::fs::write(
        dir.join("strings.json"),
        serde_json::to_string(&strings).expect("json"),
    )
    .expect("write json");
    let out = run(Command::new(&python)
        .arg(validate_py())
        .arg("yaml")
        .arg(dir.join("strings.json"))
        .arg(dir.join("strings.yml")));
    assert!(out.contains(&format!("\"ok\": {}", strings.len())), "{out}");
}
