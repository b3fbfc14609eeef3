//! Test support shared by integration tests that read fixture files or run the
//! `shareexec` binary (`mod support;`). Event builders live in `tests/common`.
#![allow(dead_code)]

#[cfg(feature = "json")]
pub mod prefilter;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The repository root (tests run the binary from here, so relative paths work).
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The `shareexec` binary Cargo built for this test run.
#[cfg(feature = "cli")]
pub const BIN: &str = env!("CARGO_BIN_EXE_shareexec");

/// `tests/fixtures`, absolute.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

/// A fixture file's bytes, gunzipped when its name ends in `.gz`; `path` is relative to
/// `tests/fixtures`.
pub fn fixture(path: &str) -> Vec<u8> {
    read_maybe_gz(&Path::new(FIXTURES).join(path))
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
