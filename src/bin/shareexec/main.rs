//! `shareexec`: the detector as a command-line tool (feature `cli`).
//!
//! Exit codes: 0 when every input was read (bad lines are reported on stderr and
//! skipped), 1 on an I/O error (e.g. a missing file), 2 on a usage error or, with
//! `--strict`, at the first bad line.

mod args;
mod lines;
mod run;
mod screen;
mod state;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    match cli.command {
        Some(args::Command::Rule(rule)) => {
            let compiled = rule.policy.rule();
            let text = match rule.format {
                args::RuleFormat::Eql => shareexec::render::eql(&compiled),
                args::RuleFormat::Sigma => shareexec::render::sigma(&compiled),
            };
            let mut out = std::io::stdout().lock();
            let written = out
                .write_all(text.as_bytes())
                .and_then(|()| {
                    if text.ends_with('\n') {
                        Ok(())
                    } else {
                        out.write_all(b"\n")
                    }
                })
                .and_then(|()| out.flush());
            match written {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    eprintln!("shareexec: {e}");
                    ExitCode::from(1)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        None => match run::run(&cli.detect) {
            Ok(run::Outcome::Done) => ExitCode::SUCCESS,
            Ok(run::Outcome::BadLine) => ExitCode::from(2),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
            // An inconsistent configuration is a usage error.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
                eprintln!("shareexec: {e}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("shareexec: {e}");
                ExitCode::from(1)
            }
        },
    }
}
