//! Test support shared by integration tests that read fixture files or run the
//! `shareexec` binary (`mod support;`). Event builders live in `tests/common`.
#![allow(dead_code)]

#[cfg(feature = "json")]
pub mod prefilter;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root (tests run the binary from here, so relative paths work).
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `shareexec` binary Cargo built for this test run.
#[cfg(feature = "cli")]
pub const BIN: &str = env!("CARGO_BIN_EXE_shareexec");

/// `tests/fixtures`, absolute.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// Where the `n`th line of `text` ends: the index of its `\n` (lines counted from 0).
pub fn line_end(text: &[u8], n: usize) -> usize {
    text.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .nth(n)
        .expect("the text has that many lines")
        .0
}

/// A fixture file's bytes, gunzipped when its name ends in `.gz`; `path` is relative to
/// `tests/fixtures`.
pub fn fixture(path: &str) -> Vec<u8> {
    read_maybe_gz(&Path::new(FIXTURES).join(path))
}

/// Every fixture corpus: the `.ndjson` and `.ndjson.gz` files under `tests/fixtures`
/// (sorted, depth first), then the bundled sample `data/sample.ndjson`.
pub fn fixture_corpora() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.to_string_lossy();
            if path.is_dir() {
                walk(&path, out);
            } else if name.ends_with(".ndjson") || name.ends_with(".ndjson.gz") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(Path::new(FIXTURES), &mut out);
    out.push(Path::new(ROOT).join("data/sample.ndjson"));
    out
}

/// What a run of the binary showed, comparable across runs: exit status, standard
/// output, and standard error with the run's time taken out of `--stats`.
pub fn observed(out: Output) -> (Option<i32>, String, String) {
    let stderr = String::from_utf8(out.stderr).unwrap();
    let stderr: Vec<String> = stderr
        .lines()
        .map(
            |line| match serde_json::from_str::<serde_json::Value>(line) {
                Ok(serde_json::Value::Object(mut stats)) if line.starts_with('{') => {
                    assert!(stats.remove("seconds").is_some(), "{line}");
                    serde_json::Value::Object(stats).to_string()
                }
                _ => line.to_string(),
            },
        )
        .collect();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        stderr.join("\n"),
    )
}

/// A file's bytes, gunzipped when its name ends in `.gz`.
pub fn read_maybe_gz(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// The `shareexec` binary started from the repository root with `args`, its standard
/// input a pipe (returned: the caller writes, and closes it by dropping it) and its
/// outputs piped (`capture`) or discarded.
#[cfg(feature = "cli")]
pub fn spawn_piped(
    args: &[&str],
    capture: bool,
) -> (std::process::Child, std::process::ChildStdin) {
    let out = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::piped())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

/// Runs the `shareexec` binary (only in test crates that Cargo builds it for) from the
/// repository root with `args`, feeding `stdin` (none: stdin is `/dev/null`).
#[cfg(feature = "cli")]
pub fn shareexec(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(ROOT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let Some(input) = stdin else {
        return command.stdin(Stdio::null()).output().unwrap();
    };
    let mut child = command.stdin(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Written from another thread while the output is read here: a child that writes
    // much before it has read all of its input must not block both of us.
    let writer = std::thread::spawn(move || {
        // A child that exits early (bad arguments) closes its stdin: not our failure.
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}
