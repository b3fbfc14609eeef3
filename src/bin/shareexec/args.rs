//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use shareexec::{SignerPolicy, Span};

/// Detects Remote Execution via File Shares (Elastic rule ab75c24b, MITRE ATT&CK
/// T1021.002) in Elastic Defend or Sysmon JSON events: an executable written by the
/// System process over SMB, then started within 60 s on the same host.
///
/// Alerts go to standard output, one JSON object per line; diagnostics and the
/// summary go to standard error. With no FILE, standard input is read when it is a
/// pipe or a file; otherwise (a terminal, /dev/null) the bundled sample dataset is
/// analysed.
#[derive(Debug, Parser)]
#[command(name = "shareexec", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub detect: DetectArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the detection for the active configuration, for a SIEM.
    Rule(RuleArgs),
}

#[derive(Debug, Args)]
pub struct RuleArgs {
    /// Query language.
    #[arg(long, value_enum, default_value_t = RuleFormat::Eql)]
    pub format: RuleFormat,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum RuleFormat {
    /// Elastic EQL (the rule's own query for `--semantics elasticsearch`).
    Eql,
    /// A Sigma correlation rule (temporal_ordered over two base rules).
    Sigma,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SemanticsArg {
    /// Elasticsearch's results exactly, with the rule's own vendor list.
    Elasticsearch,
    /// Elasticsearch's plus the documented evasions (case-insensitive paths, …).
    Hardened,
}

impl From<SemanticsArg> for shareexec::Semantics {
    fn from(s: SemanticsArg) -> Self {
        match s {
            SemanticsArg::Elasticsearch => shareexec::Semantics::Elasticsearch,
            SemanticsArg::Hardened => shareexec::Semantics::Hardened,
        }
    }
}

/// Semantics and trust policy, shared by detection and `rule`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// How faithfully to follow Elasticsearch; `elasticsearch` also means the rule's
    /// own trusted-vendor list, `hardened` adds the threat-feed brief's four.
    #[arg(long, value_enum, default_value_t = SemanticsArg::Hardened)]
    pub semantics: SemanticsArg,
    /// Also trust executions signed (and trusted) by this subject (`:` pattern; repeatable).
    #[arg(long = "trust-vendor", value_name = "SUBJECT")]
    pub trust_vendor: Vec<String>,
    /// Stop trusting this subject, as listed by `shareexec rule` (compared ignoring case; a
    /// subject not on the list is reported and removes nothing; repeatable).
    #[arg(long = "distrust-vendor", value_name = "SUBJECT")]
    pub distrust_vendor: Vec<String>,
}

impl PolicyArgs {
    pub fn policy(&self) -> SignerPolicy {
        let base = match self.semantics {
            SemanticsArg::Elasticsearch => SignerPolicy::builder(),
            SemanticsArg::Hardened => {
                SignerPolicy::builder().vendors(shareexec::trust::BRIEF_VENDORS.iter().copied())
            }
        };
        let b = self.trust_vendor.iter().fold(base, |b, v| b.vendor(v));
        // A subject that is not on the list (a typo) removes nothing: say so, rather
        // than leave the vendor trusted in silence.
        let trusted = b.clone().build();
        for v in &self.distrust_vendor {
            if !trusted.vendors().any(|t| shareexec::fold::eq_folded(t, v)) {
                eprintln!(
                    "shareexec: warning: --distrust-vendor {v:?} matches no trusted vendor; \
                     nothing was removed (`shareexec rule` lists them)"
                );
            }
        }
        self.distrust_vendor
            .iter()
            .fold(b, |b, v| b.remove_vendor(v))
            .build()
    }

    pub fn rule(&self) -> shareexec::Rule {
        shareexec::Rule::with_policy(self.semantics.into(), self.policy())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Decide per line: Sysmon shapes are recognised, everything else is ECS.
    Auto,
    /// Elastic Defend / ECS documents.
    Ecs,
    /// Sysmon events (winlogbeat, OTRF flat, or evtx JSON shapes).
    Sysmon,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PrefilterMode {
    /// Skip only ECS lines the prefilter has validated: the same output, bad lines
    /// included, as `off`.
    Auto,
    /// Also skip ECS lines that cannot be candidates without parsing them at all
    /// (fastest; a bad line among them is not reported, only counted).
    On,
    /// Decode and validate every line.
    Off,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// `text` on a terminal, `json` otherwise.
    Auto,
    /// One ECS-shaped JSON object per line (the stable format).
    Json,
    /// One line per verdict, for a person.
    Text,
}

#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Input files (NDJSON, optionally gzip-compressed; `.evtx` with the `evtx`
    /// feature); `-` for standard input. Line numbers count across all of them.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// How late an event may arrive behind its host's newest timestamp and still be
    /// ordered exactly (e.g. `10s`, `500ms`, `2m`, `0`). Later events are still used
    /// and counted as late. The library's default is 0 (lowest latency); files are
    /// read in bulk, where order matters more than latency, hence 10 s here. A host
    /// whose clock trails the others' by more than 10 minutes (or than the rule's 60 s
    /// + this + 10 minutes, if longer) has its pending writes released.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub max_lateness: Span,
    /// Also print suppressed sequences (with the trust reason) and late events.
    #[arg(long)]
    pub explain: bool,
    /// Stop at the first bad line (exit code 2) instead of skipping it.
    #[arg(long)]
    pub strict: bool,
    /// Print a JSON summary of counters on standard error at the end.
    #[arg(long)]
    pub stats: bool,
    /// Input format.
    #[arg(long = "input-format", value_enum, default_value_t = InputFormat::Auto)]
    pub input_format: InputFormat,
    /// Byte-level prefilter for ECS lines (Sysmon lines are always decoded): lines
    /// that cannot be part of a sequence are skipped without being decoded, and process
    /// starts and possible writes are read whole by the prefilter's scan. Alerts are the same in every
    /// mode; `auto` reports
    /// the same bad lines as `off`, `on` skips some unvalidated (`--stats` counts them).
    #[arg(long, value_enum, default_value_t = PrefilterMode::Auto)]
    pub prefilter: PrefilterMode,
    /// Threads that read and screen lines (Sysmon sniff and decode, ECS prefilter, full
    /// decode) beside the one that detects and writes in input order (which reads and
    /// screens too while it would wait): the output is the same for every value.
    /// 0: everything on one thread. Default: the number of cores minus one, at most 8.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(0..=256))]
    pub threads: Option<u16>,
    /// Cap on pending writes, all hosts together.
    #[arg(long, value_name = "N", value_parser = at_least_one())]
    pub max_pending: Option<usize>,
    /// Cap on pending writes of one host.
    #[arg(long, value_name = "N", value_parser = at_least_one())]
    pub max_pending_per_host: Option<usize>,
    /// Cap on tracked hosts.
    #[arg(long, value_name = "N", value_parser = at_least_one())]
    pub max_hosts: Option<usize>,
    /// Longest line accepted; longer lines are bad lines (their bytes are skipped, not buffered).
    #[arg(long, value_name = "BYTES", default_value_t = 16 << 20)]
    pub max_line_bytes: usize,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Continue from (and save to) this checkpoint: open sequences (pending writes),
    /// host clocks, counters and line numbering carry over between runs, e.g. across
    /// rotated log files. Loaded if it exists; saved atomically at the end, after
    /// everything held for reordering has been decided (so an event of the next run
    /// older than the end of this one by more than the lateness counts as late).
    #[arg(long, value_name = "PATH")]
    pub state: Option<PathBuf>,
    /// Output: `json` (one ECS object per line), `text` (one line per verdict for a
    /// person), or `auto`: text when standard output is a terminal, JSON otherwise.
    #[arg(long = "output-format", value_enum, default_value_t = OutputFormat::Auto)]
    pub output_format: OutputFormat,
}

/// A count of at least 1 (a cap of 0 would refuse everything; the library rejects it):
/// refused by clap, naming the option, rather than by the library, naming its field.
fn at_least_one() -> clap::builder::RangedU64ValueParser<usize> {
    clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
}

/// `10s`, `500ms`, `250us`, `100ns`, `2m`, `1h`, or `0`.
pub fn parse_duration(text: &str) -> Result<Span, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(Span::ZERO);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` needs a unit: ns, us, ms, s, m or h"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` does not start with a number"))?;
    let per: i64 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{text}`: use ns, us, ms, s, m or h"
            ));
        }
    };
    n.checked_mul(per)
        .map(Span)
        .ok_or_else(|| format!("`{text}` is too long a duration"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Span::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Span::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Span::ZERO));
        assert_eq!(parse_duration("2m"), Ok(Span::from_secs(120)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10 parsecs").is_err());
        assert!(parse_duration("99999999999999h").is_err());
    }
}
