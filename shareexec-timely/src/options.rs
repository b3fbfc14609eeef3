//! Command-line options: timely's own (`-w -n -p -h -r`) and ours.

use std::path::PathBuf;

use clap::Parser;
use shareexec::input::parse_rfc3339;
use shareexec::{Semantics, Span, Timestamp};

/// Detects Remote Execution via File Shares on a timely dataflow cluster, partitioned
/// by host.id.
///
/// Every process of the cluster runs the same command with its own `-p`. Input files
/// are the partitions: file i is read by worker i mod (workers in the cluster), so all
/// processes need the same list of paths (each reads only its own).
#[derive(Parser, Debug, Clone)]
#[command(version, disable_help_flag = true)]
pub struct Options {
    /// Worker threads per process (timely's `-w`).
    #[arg(short = 'w', long = "threads", default_value_t = 1)]
    pub threads: usize,
    /// Number of processes in the cluster (timely's `-n`).
    #[arg(short = 'n', long = "processes", default_value_t = 1)]
    pub processes: usize,
    /// This process's index, from 0 (timely's `-p`).
    #[arg(short = 'p', long = "process", default_value_t = 0)]
    pub process: usize,
    /// File with one `host:port` per process, in process order (timely's `-h`);
    /// default `localhost:2101`, `localhost:2102`, ...
    #[arg(short = 'h', long = "hostfile")]
    pub hostfile: Option<PathBuf>,
    /// Report connection progress (timely's `-r`).
    #[arg(short = 'r', long = "report")]
    pub report: bool,

    /// `hardened` (default) or `elasticsearch`.
    #[arg(long, default_value = "hardened", value_parser = parse_semantics)]
    pub semantics: Semantics,
    /// How far behind its partition's newest event an event may be and still be
    /// ordered exactly (`10s`, `500ms`, `2m`).
    #[arg(long, default_value = "10s", value_parser = parse_span)]
    pub max_lateness: Span,
    /// Event time per timely epoch: the granularity of progress tracking.
    #[arg(long, default_value = "1s", value_parser = parse_span)]
    pub epoch: Span,
    /// Key groups (the maximum parallelism): fixed for the life of a checkpoint.
    #[arg(long, default_value_t = shareexec::partition::DEFAULT_KEY_GROUPS)]
    pub key_groups: u32,
    /// Where alerts go: `-` (standard output, default), a file shared by the
    /// process's workers, or a path containing `{worker}`, one file per worker.
    #[arg(long, short = 'o', default_value = "-")]
    pub output: String,
    /// With `--stop-at`: the directory to save the checkpoint in (shared by all
    /// processes, e.g. a network file system).
    #[arg(long, requires = "stop_at")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Stop at this event time (RFC 3339; rounded down to an epoch): events before it
    /// are processed, the state is saved in `--checkpoint-dir`, nothing after it is
    /// read.
    #[arg(long, requires = "checkpoint_dir", value_parser = parse_time)]
    pub stop_at: Option<Timestamp>,
    /// Resume from a checkpoint saved by `--checkpoint-dir` (with any number of
    /// workers; the same inputs, semantics, lateness, epoch and key groups).
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,

    /// Input partitions: ECS NDJSON files, gzip-compressed or not.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
}

impl Options {
    /// Refuses shapes and settings that cannot work, before any connection is made:
    /// timely itself panics in its network thread on `-p` not below `-n` (and the
    /// process then hangs), and silently runs one worker for `-w 0`.
    pub fn validate(&self) -> Result<(), String> {
        if self.processes == 0 {
            return Err("-n (processes) must be at least 1".into());
        }
        if self.process >= self.processes {
            return Err(format!(
                "-p (this process's index) is {} but must be below -n ({}): processes are numbered from 0",
                self.process, self.processes
            ));
        }
        if self.threads == 0 {
            return Err("-w (workers per process) must be at least 1".into());
        }
        if self.key_groups == 0 {
            return Err("--key-groups must be at least 1".into());
        }
        if self.epoch <= Span::ZERO {
            return Err("--epoch must be longer than 0".into());
        }
        // The detectors' configuration (e.g. a lateness too long to add to the rule's
        // maxspan), checked here so that every process refuses it before connecting.
        self.detector_config()?
            .validate(self.maxspan())
            .map_err(|e| format!("--max-lateness: {e}"))
    }

    fn maxspan(&self) -> Span {
        shareexec::Rule::new(self.semantics).meta().maxspan
    }

    /// The configuration of every worker's detector. No option sets the idle-host
    /// timeout: a lateness its default (600 s) cannot cover raises it, as the
    /// `shareexec` CLI does; a lateness too long to add to the maxspan is an error.
    pub fn detector_config(&self) -> Result<shareexec::Config, String> {
        shareexec::Config::default()
            .with_max_lateness(self.max_lateness)
            .with_idle_host_timeout_covering(self.maxspan())
            .ok_or_else(|| {
                "--max-lateness is too long (the rule's maxspan, the lateness and 10 minutes \
                 must fit in 292 years)"
                    .to_string()
            })
    }

    /// Timely's configuration, from its own options.
    pub fn timely_config(&self) -> Result<timely::Config, String> {
        self.validate()?;
        let mut args = vec![
            "-w".to_string(),
            self.threads.to_string(),
            "-n".to_string(),
            self.processes.to_string(),
            "-p".to_string(),
            self.process.to_string(),
        ];
        if let Some(h) = &self.hostfile {
            args.push("-h".into());
            args.push(h.display().to_string());
        }
        if self.report {
            args.push("-r".into());
        }
        timely::Config::from_args(args.into_iter())
    }

    /// The epoch of an event time (times before 1970 are epoch 0).
    pub fn epoch_of(&self, t: Timestamp) -> u64 {
        let g = self.epoch.as_nanos().max(1);
        t.as_nanos().max(0).div_euclid(g) as u64
    }

    /// The last instant of the epochs before `epoch`: the watermark when the frontier
    /// is at `epoch`.
    pub fn watermark_before(&self, epoch: u64) -> Option<Timestamp> {
        let start = i64::try_from(epoch)
            .ok()?
            .checked_mul(self.epoch.as_nanos().max(1))?;
        (epoch > 0).then(|| Timestamp(start - 1))
    }

    /// The lateness in whole epochs, rounded up.
    pub fn lateness_epochs(&self) -> u64 {
        let g = self.epoch.as_nanos().max(1);
        (self.max_lateness.as_nanos().max(0) as u64).div_ceil(g as u64)
    }
}

fn parse_semantics(s: &str) -> Result<Semantics, String> {
    match s {
        "hardened" => Ok(Semantics::Hardened),
        "elasticsearch" => Ok(Semantics::Elasticsearch),
        _ => Err("expected `hardened` or `elasticsearch`".into()),
    }
}

/// `0`, `500ms`, `10s`, `2m`, `1h`.
pub fn parse_span(s: &str) -> Result<Span, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: i64 = n.parse().map_err(|_| format!("not a duration: {s:?}"))?;
    let ms = match unit {
        "ms" => 1,
        "s" | "" => 1000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("unknown unit in {s:?} (ms, s, m, h)")),
    };
    n.checked_mul(ms)
        .and_then(|ms| ms.checked_mul(1_000_000))
        .map(Span)
        .ok_or_else(|| format!("duration too long: {s:?}"))
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    parse_rfc3339(s).map_err(|e| format!("{s:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(args: &[&str]) -> Options {
        Options::try_parse_from(
            ["shareexec-timely"]
                .iter()
                .chain(args)
                .chain(&["in.ndjson"]),
        )
        .unwrap()
    }

    #[test]
    fn durations() {
        assert_eq!(parse_span("10s"), Ok(Span::from_secs(10)));
        assert_eq!(parse_span("500ms"), Ok(Span::from_millis(500)));
        assert_eq!(parse_span("2m"), Ok(Span::from_secs(120)));
        assert_eq!(parse_span("0"), Ok(Span::ZERO));
        assert!(parse_span("ten").is_err() && parse_span("1d").is_err());
    }

    #[test]
    fn epochs_and_watermarks() {
        let o = options(&["--epoch", "1s", "--max-lateness", "2500ms"]);
        assert_eq!(o.lateness_epochs(), 3, "rounded up: never late by rounding");
        assert_eq!(o.epoch_of(Timestamp(1_999_999_999)), 1);
        assert_eq!(o.epoch_of(Timestamp(-5)), 0);
        assert_eq!(o.watermark_before(2), Some(Timestamp(1_999_999_999)));
        assert_eq!(o.watermark_before(0), None);
        assert!(options(&["--resume", "x"]).resume.is_some());
        assert!(
            Options::try_parse_from(["x", "--stop-at", "2024-01-03T14:00:30Z", "in"]).is_err(),
            "--stop-at needs --checkpoint-dir"
        );
    }

    /// A lateness the default idle-host timeout (600 s) cannot cover raises it; one too
    /// long to add to the rule's maxspan is refused naming the option.
    #[test]
    fn long_lateness_raises_the_idle_host_timeout() {
        let o = options(&["--max-lateness", "20m"]);
        assert_eq!(o.validate(), Ok(()));
        let config = o.detector_config().unwrap();
        assert_eq!(config.idle_host_timeout, Span::from_secs(60 + 1200 + 600));
        assert_eq!(
            options(&["--max-lateness", "10s"])
                .detector_config()
                .unwrap()
                .idle_host_timeout,
            Span::from_secs(600),
            "a lateness the default covers keeps it"
        );
        let err = options(&["--max-lateness", "9223372000s"])
            .validate()
            .unwrap_err();
        assert!(err.contains("--max-lateness is too long"), "{err}");
    }

    #[test]
    fn timely_options_pass_through() {
        assert!(options(&["-w", "3"]).timely_config().is_ok());
        let o = options(&["-n", "2", "-p", "1", "-h", "/nonexistent/hosts.txt"]);
        assert!(
            o.timely_config().is_err(),
            "an unreadable host file is an error"
        );
    }
}
