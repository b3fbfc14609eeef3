//! The smallest useful embedding: Elastic Defend NDJSON on stdin, alerts on stdout.
//!
//! ```sh
//! cargo run --release --example stream_ecs < data/sample.ndjson
//! ```
//!
//! An agent or pipeline does the same with its own transport: decode, `handle`,
//! poll verdicts after every event, `flush` at the end.

use std::io::{self, BufRead, Write};
use std::sync::Arc;

use shareexec::input::decode_line;
use shareexec::output::{Location, verdict_json};
use shareexec::{Config, Detector, Rule, Span};

fn main() -> io::Result<()> {
    let rule = Arc::new(Rule::hardened());
    let semantics = rule.semantics();
    let config = Config::default().with_max_lateness(Span::from_secs(10));
    let mut detector = Detector::new(rule, config).expect("the default configuration is valid");
    let locate = |line| Location {
        source: "stdin",
        line,
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    for (n, line) in io::stdin().lock().split(b'\n').enumerate() {
        let line = line?;
        let line_no = n as u64 + 1;
        match decode_line(&line) {
            Ok(Some(record)) => record
                .events(line_no)
                .for_each(|event| detector.handle(event)),
            Ok(None) => {} // blank line
            Err(e) => eprintln!("{}", e.at_line(line_no)),
        }
        for verdict in detector.drain_verdicts() {
            writeln!(out, "{}", verdict_json(&verdict, semantics, &locate))?;
        }
    }
    detector.flush();
    for verdict in detector.drain_verdicts() {
        writeln!(out, "{}", verdict_json(&verdict, semantics, &locate))?;
    }
    eprintln!("{:?}", detector.stats());
    Ok(())
}
