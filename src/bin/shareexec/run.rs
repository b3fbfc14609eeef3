//! The detection run: inputs → decoder → detector → JSON lines.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use shareexec::input::format_rfc3339;
use shareexec::input::{
    EcsPipeline, Prefiltering, SysmonErrorKind, SysmonSniffer, decode_sysmon_events,
};
use shareexec::output::{Location, verdict_json};
use shareexec::{Config, Detector, Semantics, Stats, Verdict};

use crate::args::{DetectArgs, InputFormat, OutputFormat, PrefilterMode};
use crate::lines::{Line, Lines};
use crate::screen::{Pool, Pre, Step};
use crate::state;
use shareexec::input::Decoded;

/// The bundled sample dataset (see `data/README.md`).
const SAMPLE: &[u8] = include_bytes!("../../../data/sample.ndjson");
const SAMPLE_NAME: &str = "data/sample.ndjson";

/// How a run ended.
pub enum Outcome {
    /// Every input was read (bad lines, if any, were skipped and reported).
    Done,
    /// `--strict` and a bad line.
    BadLine,
}

/// Bad lines reported in full on stderr; beyond this, only counted.
const REPORTED_BAD_LINES: u64 = 100;

struct Run {
    /// The detector, behind the ECS line pipeline (prefilter on or off).
    pipeline: EcsPipeline,
    semantics: Semantics,
    explain: bool,
    /// Human-readable lines instead of JSON.
    text: bool,
    /// (first global line number, name) of each input, in order.
    sources: Vec<(u64, String)>,
    out: io::BufWriter<io::StdoutLock<'static>>,
    line: u64,
    bad_lines: u64,
    bytes: u64,
    /// `--input-format auto` sniffs every line (a stream may mix shapes).
    sniffer: SysmonSniffer,
    /// The screening threads (`--threads`), if any.
    pool: Option<Pool>,
}

impl Run {
    /// The input (first global line number, name) that global line `line` is in.
    fn source(&self, line: u64) -> Option<&(u64, String)> {
        let i = self
            .sources
            .partition_point(|(start, _)| *start <= line)
            .saturating_sub(1);
        self.sources.get(i)
    }

    fn locate(&self, line: u64) -> Location<'_> {
        let source = self.source(line).map_or("-", |(_, name)| name.as_str());
        Location { source, line }
    }

    /// A line as people read it, like the bad-line messages: `FILE:N`, the line within
    /// its input, followed by ` (line M)`, the line across all inputs, when they differ.
    fn place(&self, line: u64) -> String {
        match self.source(line) {
            Some((start, name)) if *start <= line => {
                let local = line - start + 1;
                if local == line {
                    format!("{name}:{line}")
                } else {
                    format!("{name}:{local} (line {line})")
                }
            }
            _ => format!("-:{line}"),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        while let Some(v) = self.pipeline.detector_mut().poll_verdict() {
            if !self.explain && !matches!(v, Verdict::Alert(_)) {
                continue;
            }
            let text = if self.text {
                verdict_text(&v, &|line| self.place(line))
            } else {
                verdict_json(&v, self.semantics, &|line| self.locate(line))
            };
            self.out.write_all(text.as_bytes())?;
            self.out.write_all(b"\n")?;
        }
        Ok(())
    }
}

pub fn run(args: &DetectArgs) -> io::Result<Outcome> {
    let rule = Arc::new(args.policy.rule());
    let config = Config::default().with_max_lateness(args.max_lateness);
    // The CLI has no option for the idle-host timeout: a lateness its default (600 s)
    // cannot cover raises it (else the library refuses the configuration).
    let Some(mut config) = config.with_idle_host_timeout_covering(rule.meta().maxspan) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--max-lateness is too long (the rule's maxspan, the lateness and 10 minutes \
             must fit in 292 years)",
        ));
    };
    if let Some(n) = args.max_pending {
        config = config.with_max_pending(n);
    }
    if let Some(n) = args.max_pending_per_host {
        config = config.with_max_pending_per_host(n);
    }
    if let Some(n) = args.max_hosts {
        config = config.with_max_hosts(n);
    }
    let semantics = rule.semantics();
    // Checked before a state file is read, so that a configuration error is not taken
    // for the state file's. (The options cannot make one: caps of 0 are refused by the
    // argument parser, and a long lateness raises the idle-host timeout above.)
    config
        .validate(rule.meta().maxspan)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let resumed = match &args.state {
        Some(path) => state::load(path, rule.clone(), config.clone())?,
        None => None,
    };
    let (detector, line, sources) = match resumed {
        Some(r) => (r.detector, r.lines, r.sources),
        None => (
            Detector::new(rule, config)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            0,
            Vec::new(),
        ),
    };
    let prefilter = match args.prefilter {
        PrefilterMode::Auto => Prefiltering::Validating,
        PrefilterMode::On => Prefiltering::Fast,
        PrefilterMode::Off => Prefiltering::Off,
    };
    let mut run = Run {
        pipeline: EcsPipeline::new(detector, prefilter),
        semantics,
        explain: args.explain,
        text: match args.output_format {
            OutputFormat::Auto => io::stdout().is_terminal(),
            OutputFormat::Json => false,
            OutputFormat::Text => true,
        },
        sources,
        out: io::BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        line,
        bad_lines: 0,
        bytes: 0,
        sniffer: SysmonSniffer::new(),
        pool: None,
    };
    // By default the detecting thread and one screening thread per other core (at
    // most 8): it reads and screens batches too while it would wait, so every core is busy.
    let threads = args.threads.map_or_else(
        || {
            std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(9)
                - 1
        },
        usize::from,
    );
    if threads > 0 {
        let screener = run.pipeline.screener();
        run.pool = Some(Pool::new(threads, args.input_format, &screener)?);
    }
    let started = Instant::now();
    let sample = args.files.is_empty() && !stdin_has_input();
    let inputs: Vec<&Path> = if args.files.is_empty() {
        vec![Path::new("-")]
    } else {
        args.files.iter().map(|p| p.as_path()).collect()
    };
    let read = read_inputs(&mut run, args, &inputs, sample);
    // Every run reports all it can, even when an input failed: what earlier inputs
    // left held for reordering is decided and printed before the error is.
    run.pipeline.detector_mut().flush();
    run.emit()?;
    let outcome = match read {
        Ok(outcome) => outcome,
        Err(e) => {
            run.out.flush()?;
            summarize(&run, args, started);
            return Err(e);
        }
    };
    // With --state the pending writes (open sequences), clocks and counters carry
    // over to the next run (not after a failed input or a --strict stop: that run is
    // to be repeated).
    if let (Some(path), Outcome::Done) = (&args.state, &outcome) {
        state::save(path, run.pipeline.detector(), run.line, &run.sources)?;
    }
    run.out.flush()?;
    summarize(&run, args, started);
    Ok(outcome)
}

/// Reads every input in order; stops at the first I/O error or, with `--strict`, at
/// the first bad line.
fn read_inputs(
    run: &mut Run,
    args: &DetectArgs,
    inputs: &[&Path],
    sample: bool,
) -> io::Result<Outcome> {
    for &path in inputs {
        let (name, lines, size) = if sample {
            eprintln!(
                "shareexec: no input given (standard input is a terminal or /dev/null): analysing the \
                 bundled sample {SAMPLE_NAME} ({} bytes). Pass FILE... or pipe events in; --help for options.",
                SAMPLE.len()
            );
            (
                SAMPLE_NAME.to_string(),
                Lines::from_bytes(SAMPLE, args.max_line_bytes)?,
                None,
            )
        } else if cfg!(feature = "evtx")
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            #[cfg(feature = "evtx")]
            {
                let name = path.display().to_string();
                run.sources.push((run.line + 1, name.clone()));
                if !read_evtx(run, args, &name, path)? {
                    return Ok(Outcome::BadLine);
                }
            }
            continue;
        } else if path == Path::new("-") {
            (
                "-".to_string(),
                Lines::new(Box::new(io::stdin()), args.max_line_bytes)?,
                None,
            )
        } else {
            let lines = Lines::open(path, args.max_line_bytes)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            (
                path.display().to_string(),
                lines,
                std::fs::metadata(path).ok().map(|m| m.len()),
            )
        };
        run.sources.push((run.line + 1, name.clone()));
        let progress = progress_bar(args, size, lines.compressed);
        let Some(consumed) = read_input(run, args, &name, lines, progress.as_ref())? else {
            return Ok(Outcome::BadLine);
        };
        run.bytes += consumed;
        if let Some(p) = progress {
            p.finish_and_clear();
        }
    }
    Ok(Outcome::Done)
}

/// Reads one input to its end: the bytes read, or `None` when `--strict` stopped at a
/// bad line.
fn read_input(
    run: &mut Run,
    args: &DetectArgs,
    name: &str,
    mut lines: Lines,
    progress: Option<&indicatif::ProgressBar>,
) -> io::Result<Option<u64>> {
    if let Some(mut pool) = run.pool.take() {
        let read = read_input_screened(run, args, name, lines, progress, &mut pool);
        run.pool = Some(pool);
        return read;
    }
    let mut local = 0u64;
    while let Some(line) = lines.next_line().map_err(|e| named(name, e))? {
        local += 1;
        if !handle_line(run, args, name, local, line, None)? {
            return Ok(None);
        }
        if let Some(p) = progress
            && run.line.is_multiple_of(4096)
        {
            p.set_position(lines.consumed);
        }
    }
    Ok(Some(lines.consumed))
}

/// `read_input` with the screening threads: the same lines, handled in the same
/// order, with the same results.
fn read_input_screened(
    run: &mut Run,
    args: &DetectArgs,
    name: &str,
    lines: Lines,
    progress: Option<&indicatif::ProgressBar>,
    pool: &mut Pool,
) -> io::Result<Option<u64>> {
    pool.start(lines)?;
    let mut local = 0u64;
    let end = loop {
        let batch = match pool.next()? {
            Step::Batch(batch) => batch,
            Step::End(end) => break end,
        };
        let mut stopped = false;
        for (line, pre) in batch.lines() {
            local += 1;
            if !handle_line(run, args, name, local, line, pre)? {
                stopped = true;
                break;
            }
        }
        pool.recycle(batch);
        if stopped {
            // The run ends here: nothing waits for a read under way.
            pool.stop()?;
            return Ok(None);
        }
        if let Some(p) = progress {
            p.set_position(pool.consumed());
        }
    };
    let consumed = pool.take_input()?.map_or(0, |l| l.consumed);
    end.map(|()| Some(consumed)).map_err(|e| named(name, e))
}

/// A read error of input `name`, named like a missing file (writing the output can
/// fail too, so the name is added where the input is read, not where its lines go).
fn named(name: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{name}: {e}"))
}

/// Decodes and hands over one line (`pre`: what a screening thread found about it),
/// reports it if it is bad, and writes the verdicts; false when `--strict` stops here.
fn handle_line(
    run: &mut Run,
    args: &DetectArgs,
    name: &str,
    local: u64,
    line: Line<'_>,
    pre: Option<(&Pre, &Decoded)>,
) -> io::Result<bool> {
    run.line += 1;
    let error = match line {
        Line::TooLong(n) => Some(format!(
            "line is {n} bytes, longer than --max-line-bytes {}",
            args.max_line_bytes
        )),
        Line::Text(text) => decode_and_handle(run, args.input_format, text, pre)
            .err()
            .map(|e| match utf16_hint(local, text) {
                Some(hint) => format!("{e} ({hint})"),
                None => e,
            }),
    };
    if let Some(error) = error
        && !bad_line(run, args, name, local, &error)?
    {
        return Ok(false);
    }
    run.emit()?;
    Ok(true)
}

/// Counts and reports a bad line (or `.evtx` record), `local` within its input `name`,
/// the first [`REPORTED_BAD_LINES`] one by one; false when `--strict` stops the run
/// here (after the verdicts decided so far).
fn bad_line(
    run: &mut Run,
    args: &DetectArgs,
    name: &str,
    local: u64,
    error: &str,
) -> io::Result<bool> {
    run.bad_lines += 1;
    if run.bad_lines <= REPORTED_BAD_LINES || args.strict {
        eprintln!("shareexec: {name}:{local} (line {}): {error}", run.line);
    } else if run.bad_lines == REPORTED_BAD_LINES + 1 {
        eprintln!("shareexec: more bad lines follow; only counting them from now on");
    }
    if args.strict {
        run.emit()?;
        return Ok(false);
    }
    Ok(true)
}

fn decode_and_handle(
    run: &mut Run,
    format: InputFormat,
    text: &[u8],
    pre: Option<(&Pre, &Decoded)>,
) -> Result<(), String> {
    let position = run.line;
    let sysmon = match (pre, format) {
        (Some((pre, _)), _) => pre.sysmon,
        (None, InputFormat::Auto) => run.sniffer.looks_like_sysmon(text),
        (None, InputFormat::Ecs) => false,
        (None, InputFormat::Sysmon) => true,
    };
    if sysmon {
        // Decoded by a screening thread (`Decoded::decode_sysmon`).
        if let Some(decoded) = pre.and_then(|(_, decoded)| decoded.sysmon_events(text, position)) {
            return match decoded {
                Ok(events) => {
                    events.for_each(|e| run.pipeline.detector_mut().handle(e));
                    Ok(())
                }
                Err(e) => Err(e.to_string()),
            };
        }
        match decode_sysmon_events(text) {
            Ok(record) => {
                record
                    .iter()
                    .flat_map(|r| r.events(position))
                    .for_each(|e| run.pipeline.detector_mut().handle(e));
                return Ok(());
            }
            // The sniff is a substring test, and attacker-chosen values (a command
            // line holding `EventID`) can trip it: in `auto`, a line that has no
            // event id is not Sysmon, so it is read as ECS.
            Err(e) if format == InputFormat::Auto && e.kind == SysmonErrorKind::MissingEventId => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    match pre {
        // Screened (and decoded, unless skipped) as ECS by a screening thread.
        Some((pre, decoded)) if !pre.sysmon => {
            run.pipeline
                .feed_decoded(text, position, &pre.screening, decoded)
        }
        _ => run.pipeline.feed(text, position),
    }
    .map(drop)
    .map_err(|e| e.to_string())
}

/// Reads a Windows event log file: each record counts as one line.
#[cfg(feature = "evtx")]
fn read_evtx(run: &mut Run, args: &DetectArgs, name: &str, path: &Path) -> io::Result<bool> {
    let mut reader = shareexec::input::EvtxReader::open(path)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{name}: {e}")))?;
    for (n, record) in reader.sysmon_records().enumerate() {
        run.line += 1;
        match record {
            Ok(record) => {
                for event in record.events(run.line) {
                    run.pipeline.detector_mut().handle(event);
                }
            }
            Err(e) => {
                if !bad_line(run, args, name, n as u64 + 1, &e.to_string())? {
                    return Ok(false);
                }
            }
        }
        run.emit()?;
    }
    // The bytes read, as for the other inputs (`--stats`).
    run.bytes += std::fs::metadata(path).map_or(0, |m| m.len());
    Ok(true)
}

/// A progress bar on a terminal for a file of `size` bytes. The position is counted in
/// the bytes the lines came from, so a gzip file (`compressed`), whose decompressed size
/// is unknown, gets a count without a total.
fn progress_bar(
    args: &DetectArgs,
    size: Option<u64>,
    compressed: bool,
) -> Option<indicatif::ProgressBar> {
    let size = size?;
    if args.no_progress || !io::stderr().is_terminal() {
        return None;
    }
    let (bar, template) = if compressed {
        (
            indicatif::ProgressBar::no_length(),
            "{spinner} {bytes} decompressed {bytes_per_sec}",
        )
    } else {
        (
            indicatif::ProgressBar::new(size),
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
    };
    let style = indicatif::ProgressStyle::with_template(template)
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

fn summarize(run: &Run, args: &DetectArgs, started: Instant) {
    let st: Stats = run.pipeline.detector().stats();
    let lines = run.pipeline.stats();
    eprintln!(
        "shareexec: {} lines, {} alerts, {} suppressed, {} late, {} bad lines ({} semantics, lateness {})",
        run.line,
        st.alerts,
        st.suppressed,
        st.late,
        run.bad_lines,
        run.semantics.name(),
        args.max_lateness
    );
    if args.stats {
        let summary = serde_json::json!({
            "lines": run.line,
            "bad_lines": run.bad_lines,
            "bytes": run.bytes,
            "seconds": started.elapsed().as_secs_f64(),
            "semantics": run.semantics.name(),
            "prefilter": format!("{:?}", run.pipeline.prefiltering()).to_lowercase(),
            "skipped_lines": lines.skipped,
            "unvalidated_skipped_lines": lines.unvalidated,
            "fast_path_lines": lines.fast,
            "detector": st,
        });
        eprintln!("{summary}");
    }
}

/// Why the first line of an input is not UTF-8 when the input is UTF-16 (what Windows
/// PowerShell 5's `>` and `Out-File` write): every line of it is then bad, and the
/// per-line error alone does not say why.
fn utf16_hint(local: u64, text: &[u8]) -> Option<&'static str> {
    (local == 1 && (text.starts_with(b"\xFF\xFE") || text.starts_with(b"\xFE\xFF"))).then_some(
        "the input starts with a UTF-16 byte-order mark: shareexec reads UTF-8; in PowerShell, \
         write with `Out-File -Encoding utf8` or convert with `Get-Content x | Set-Content -Encoding utf8 y`",
    )
}

/// `text` with control characters escaped: host ids and paths come from telemetry,
/// and must not drive the reader's terminal.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// One verdict as one line for a person reading a terminal.
fn verdict_text(verdict: &Verdict, place: &dyn Fn(u64) -> String) -> String {
    let at = |position| printable(&place(position));
    let sequence = |s: &shareexec::Sequence| {
        let signer = match (&s.code_signature.subject_name, s.code_signature.trusted) {
            (Some(name), Some(true)) => format!("signed by {} (trusted)", printable(name)),
            (Some(name), _) => format!("signed by {} (not trusted)", printable(name)),
            (None, _) => "no signature".to_string(),
        };
        format!(
            "{}  host {}  {}  written {} -> started {} ({:.3} s later, {signer})",
            format_rfc3339(s.execution.timestamp),
            printable(&s.host_id),
            printable(&s.path),
            at(s.write.position),
            at(s.execution.position),
            s.span.as_nanos() as f64 / 1e9,
        )
    };
    match verdict {
        Verdict::Alert(s) => format!("ALERT       {}", sequence(s)),
        Verdict::Suppressed(s) => format!(
            "suppressed  {}  [{}]",
            sequence(&s.sequence),
            printable(s.reason.as_str())
        ),
        Verdict::Late(l) => format!(
            "late        {}  host {}  {} arrived {:.3} s behind its host's clock",
            at(l.event.position),
            printable(&l.host_id),
            if l.stage == shareexec::Stage::Write {
                "write"
            } else {
                "execution"
            },
            l.behind.as_nanos() as f64 / 1e9
        ),
        other => format!("{other:?}"),
    }
}

/// Whether standard input can carry events: a pipe, a file or a socket. A terminal, or
/// `/dev/null` as a job runner or an IDE gives it (both character devices), or a
/// closed standard input cannot, so a bare `shareexec` analyses the sample there too.
fn stdin_has_input() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
            return false;
        };
        std::fs::File::from(fd)
            .metadata()
            .is_ok_and(|m| !m.file_type().is_char_device())
    }
    #[cfg(not(unix))]
    {
        !io::stdin().is_terminal()
    }
}
