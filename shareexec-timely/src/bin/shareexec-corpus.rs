//! `shareexec-corpus`: makes a test corpus for the cluster from an ECS NDJSON file —
//! repeated with shifted timestamps, and split round-robin into parts so that every
//! host's events are spread over all parts.
//!
//! ```sh
//! shareexec-corpus --repeat 10 --shift 10m --parts 4 --prefix /tmp/big/part tests/fixtures/gen/defend-100k.ndjson.gz
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shareexec::Span;
use shareexec_timely::corpus::{read_all, write_parts};
use shareexec_timely::options::parse_span;

/// Repeats an ECS NDJSON file with shifted timestamps and splits it round-robin.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// How many times to repeat the input (repetition k is shifted by k x `--shift`,
    /// and its top-level ids get the suffix `-k`).
    #[arg(long, default_value_t = 1)]
    repeat: u32,
    /// Time shift between repetitions; longer than the input's time span.
    #[arg(long, default_value = "10m", value_parser = parse_span)]
    shift: Span,
    /// Number of parts (line i goes to part i mod parts).
    #[arg(long, default_value_t = 1)]
    parts: usize,
    /// Output path prefix: writes PREFIX-0.ndjson, PREFIX-1.ndjson, ...
    #[arg(long)]
    prefix: PathBuf,
    /// The input (gzip or not).
    input: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let run = || -> std::io::Result<Vec<PathBuf>> {
        if let Some(dir) = args.prefix.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = read_all(&args.input)?;
        write_parts(&text, args.repeat, args.shift, args.parts, &args.prefix)
    };
    match run() {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("shareexec-corpus: {}: {e}", args.input.display());
            ExitCode::from(1)
        }
    }
}
