//! Reading inputs, and making test corpora: round-robin parts (so that every host's
//! events are spread over several partitions) and repetitions shifted in time.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use shareexec::Span;
use shareexec::input::{format_rfc3339, parse_rfc3339};

/// A buffered reader of `path`, decompressed when it starts with the gzip magic.
pub fn open(path: &Path) -> io::Result<Box<dyn BufRead + Send>> {
    let mut file = BufReader::with_capacity(1 << 16, File::open(path)?);
    let gz = file.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(file)
    })
}

/// The whole of `path` (decompressed).
pub fn read_all(path: &Path) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open(path)?.read_to_end(&mut out)?;
    Ok(out)
}

/// Writes the non-blank lines of `text`, `times` times, into `parts` files
/// `prefix-0.ndjson` ... (zero-padded: `prefix-00` ... with 10 parts or more) round-robin: line i (counting across repetitions) goes to
/// part i mod parts. Repetition k has every `@timestamp` shifted by k × `shift` and
/// every top-level `id` suffixed with `-k` (k > 0), so its alerts are new ones.
/// Returns the part paths.
pub fn write_parts(
    text: &[u8],
    times: u32,
    shift: Span,
    parts: usize,
    prefix: &Path,
) -> io::Result<Vec<PathBuf>> {
    let parts = parts.max(1);
    // Zero-padded, so that a shell glob lists the parts in order.
    let width = (parts - 1).to_string().len();
    let paths: Vec<PathBuf> = (0..parts)
        .map(|p| PathBuf::from(format!("{}-{p:0width$}.ndjson", prefix.display())))
        .collect();
    let mut outs = paths
        .iter()
        .map(|p| File::create(p).map(|f| BufWriter::with_capacity(1 << 16, f)))
        .collect::<io::Result<Vec<_>>>()?;
    let mut i = 0usize;
    for k in 0..times {
        for line in text.split(|&b| b == b'\n') {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let out = &mut outs[i % parts];
            i += 1;
            if k == 0 {
                out.write_all(line)?;
            } else {
                out.write_all(&shifted(line, k, shift)?)?;
            }
            out.write_all(b"\n")?;
        }
    }
    for mut out in outs {
        out.flush()?;
    }
    Ok(paths)
}

fn shifted(line: &[u8], k: u32, shift: Span) -> io::Result<Vec<u8>> {
    let bad = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let mut doc: serde_json::Value =
        serde_json::from_slice(line).map_err(|e| bad(e.to_string()))?;
    if let Some(ts) = doc.get_mut("@timestamp") {
        let t = ts
            .as_str()
            .ok_or_else(|| bad("@timestamp is not a string".into()))
            .and_then(|s| parse_rfc3339(s).map_err(|e| bad(e.to_string())))?;
        let by = shift.as_nanos().saturating_mul(i64::from(k));
        *ts = serde_json::Value::String(format_rfc3339(shareexec::Timestamp(t.as_nanos() + by)));
    }
    if let Some(serde_json::Value::String(id)) = doc.get_mut("id") {
        id.push_str(&format!("-{k}"));
    }
    serde_json::to_vec(&doc).map_err(|e| bad(e.to_string()))
}
