//! `--state PATH`: the detector's checkpoint plus the CLI's own line numbering, so
//! that a hunt over rotated files continues open sequences and keeps counting lines.
//!
//! File layout: one JSON header line (`{"format":"shareexec-cli-state","version":1,
//! "lines":N,"sources":[[first_line,"name"],…]}`), then the detector's binary
//! snapshot (see `shareexec::snapshot`).

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Arc;

use shareexec::{Config, Detector, Rule};

const FORMAT: &str = "shareexec-cli-state";
const VERSION: u64 = 1;

pub struct Resumed {
    pub detector: Detector,
    pub lines: u64,
    pub sources: Vec<(u64, String)>,
}

fn invalid(path: &Path, what: impl std::fmt::Display) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: not a usable state file: {what}", path.display()),
    )
}

/// The saved state, or `None` when `path` does not exist yet.
pub fn load(path: &Path, rule: Arc<Rule>, config: Config) -> io::Result<Option<Resumed>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    let newline = bytes
        .iter()
        .position(|&b| b == b'\n')
        .ok_or_else(|| invalid(path, "no header"))?;
    let header: serde_json::Value = serde_json::from_slice(&bytes[..newline])
        .map_err(|e| invalid(path, format!("header: {e}")))?;
    if header["format"] != FORMAT || header["version"] != VERSION {
        return Err(invalid(path, "unknown format or version"));
    }
    let lines = header["lines"]
        .as_u64()
        .ok_or_else(|| invalid(path, "no line count"))?;
    let sources = header["sources"]
        .as_array()
        .ok_or_else(|| invalid(path, "no sources"))?
        .iter()
        .map(|s| Some((s.get(0)?.as_u64()?, s.get(1)?.as_str()?.to_string())))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| invalid(path, "bad sources"))?;
    let detector =
        Detector::restore(rule, config, &bytes[newline + 1..]).map_err(|e| invalid(path, e))?;
    eprintln!(
        "shareexec: resumed from {} after line {lines}",
        path.display()
    );
    Ok(Some(Resumed {
        detector,
        lines,
        sources,
    }))
}

/// Writes the state next to `path`, then renames it over `path` (atomic on POSIX):
/// a crash leaves the previous state whole.
pub fn save(
    path: &Path,
    detector: &Detector,
    lines: u64,
    sources: &[(u64, String)],
) -> io::Result<()> {
    let snapshot = detector
        .snapshot()
        .map_err(|e| io::Error::other(format!("checkpoint: {e}")))?;
    let header = serde_json::json!({"format": FORMAT, "version": VERSION, "lines": lines, "sources": sources});
    let tmp = path.with_extension("tmp-shareexec");
    let mut file = fs::File::create(&tmp)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", tmp.display())))?;
    file.write_all(header.to_string().as_bytes())?;
    file.write_all(b"\n")?;
    file.write_all(&snapshot)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}
