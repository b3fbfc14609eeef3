//! The alert JSON byte for byte: every verdict kind (alert, suppressed, late), every
//! optional field (hashes, code signature, pid, event id and sequence), escapes in
//! every string, on the bundled sample and the semantic cases, in both semantics.
//!
//! The format is a contract (`src/output.rs`), and the renderer writes it from typed
//! views whose fields are declared in sorted key order: these files pin the bytes it
//! wrote when it still built a `serde_json::Value` tree and sorted it, so that any
//! change to a key, an order, a number's or a string's spelling shows up here.
//! After an intended format change, regenerate them with
//! `SHAREEXEC_BLESS=1 cargo test --all-features --test output_golden` and review the diff.
#![cfg(feature = "cli")]

mod support;

use std::path::Path;

/// The inputs, in order (line numbers count across them, so the order is part of the
/// expected output).
fn inputs() -> Vec<String> {
    let mut cases: Vec<String> = std::fs::read_dir(Path::new(support::FIXTURES).join("cases"))
        .expect("tests/fixtures/cases")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ndjson"))
        .map(|p| {
            format!(
                "tests/fixtures/cases/{}",
                p.file_name().unwrap().to_string_lossy()
            )
        })
        .collect();
    cases.sort();
    let mut all = vec![
        "data/sample.ndjson".to_string(),
        "tests/fixtures/golden/escapes_and_hashes.ndjson".to_string(),
    ];
    all.extend(cases);
    all
}

fn check(semantics: &str) {
    let inputs = inputs();
    let mut args = vec!["--explain", "--max-lateness", "0", "--semantics", semantics];
    args.extend(inputs.iter().map(String::as_str));
    let out = support::shareexec(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let golden = Path::new(support::FIXTURES).join(format!("golden/alerts-{semantics}.golden"));
    if std::env::var_os("SHAREEXEC_BLESS").is_some() {
        std::fs::write(&golden, &out.stdout).unwrap();
    }
    let expected = std::fs::read(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
    let (got, want) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(expected).unwrap(),
    );
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{semantics}: verdict {} differs", n + 1);
    }
    assert_eq!(
        got.lines().count(),
        want.lines().count(),
        "{semantics}: verdict count"
    );
    assert_eq!(got, want);
}

#[test]
fn elasticsearch_verdicts_are_byte_identical() {
    check("elasticsearch");
}

#[test]
fn hardened_verdicts_are_byte_identical() {
    check("hardened");
}
