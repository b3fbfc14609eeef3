//! `shareexec-timely`: the detector on a timely dataflow cluster (see the crate docs and
//! `docs/scale-out.md`).

use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use shareexec_timely::detect::{self, Summary};
use shareexec_timely::options::Options;

fn main() -> ExitCode {
    let options = Options::parse();
    let config = match options.timely_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shareexec-timely: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(dir) = &options.checkpoint_dir {
        // Checked before the cluster connects, so before any process writes there: an
        // older checkpoint's files (state of other workers or key groups) would be
        // merged into this one's on resume.
        if let Err(e) = shareexec_timely::checkpoint::check_empty(dir) {
            eprintln!("shareexec-timely: {e}");
            return ExitCode::from(2);
        }
    }
    let per_worker = options.output.contains("{worker}");
    let shared = if per_worker {
        None
    } else {
        match detect::open_sink(&options.output, None) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("shareexec-timely: {}: {e}", options.output);
                return ExitCode::from(1);
            }
        }
    };
    let started = Instant::now();
    let opts = options.clone();
    let guards = timely::execute(config, move |worker| {
        let sink = match &shared {
            Some(s) => s.clone(),
            None => detect::open_sink(&opts.output, Some(worker.index())).unwrap_or_else(|e| {
                eprintln!("shareexec-timely: {}: {e}", opts.output);
                std::process::exit(1)
            }),
        };
        // A worker that cannot go on ends its process: returning would leave the other
        // workers of the cluster waiting for its progress forever.
        detect::run(worker, &opts, sink).unwrap_or_else(|e| {
            eprintln!("shareexec-timely: worker {}: {e}", worker.index());
            std::process::exit(1)
        })
    });
    let guards = match guards {
        Ok(g) => g,
        Err(e) => {
            eprintln!("shareexec-timely: {e}");
            return ExitCode::from(1);
        }
    };
    let mut total = Summary::default();
    let mut failed = false;
    for result in guards.join() {
        match result {
            Ok(s) => {
                total.lines += s.lines;
                total.bad_lines += s.bad_lines;
                total.sent += s.sent;
                total.stats.alerts += s.stats.alerts;
                total.stats.late += s.stats.late;
                total.stats.hosts += s.stats.hosts;
            }
            Err(e) => {
                eprintln!("shareexec-timely: {e}");
                failed = true;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "shareexec-timely: process {} of {}: {} lines ({} bad), {} candidates sent, {} alerts, {} late, {} hosts, {:.2} s, {:.0} lines/s",
        options.process,
        options.processes,
        total.lines,
        total.bad_lines,
        total.sent,
        total.stats.alerts,
        total.stats.late,
        total.stats.hosts,
        secs,
        total.lines as f64 / secs.max(1e-9),
    );
    if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
