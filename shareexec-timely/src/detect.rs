//! One worker: its input partitions, the exchange by key group, its detector.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use shareexec::input::decode_line;
use shareexec::output::{Location, verdict_json};
use shareexec::partition::key_group_range;
use shareexec::{Detector, Rule, Stats, Verdict};
use timely::dataflow::ProbeHandle;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::core::UnorderedInput;
use timely::dataflow::operators::{Operator, Probe};
use timely::worker::Worker;

use crate::checkpoint::{self, Checkpoint, Manifest};
use crate::options::Options;
use crate::source::{Candidate, Partition, Status, locate};

/// Where a worker writes its alerts (shared by the workers of a process unless the
/// path names `{worker}`).
pub type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

/// What a worker did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Summary {
    /// Lines read by this worker's partitions.
    pub lines: u64,
    /// Lines that were not valid events.
    pub bad_lines: u64,
    /// Candidates this worker's partitions sent.
    pub sent: u64,
    /// The detector's counters at the end (its host's events only).
    pub stats: Stats,
}

/// Lines each partition reads between two steps of the dataflow.
const BATCH: usize = 4096;
/// How far (in epochs) the readers may run ahead of the detectors.
const SLACK: u64 = 600;
/// Longest a waiting worker parks before looking again.
const PARK: std::time::Duration = std::time::Duration::from_millis(5);

/// Runs one worker to the end of its inputs (or to the stop epoch).
pub fn run(worker: &mut Worker, options: &Options, sink: Sink) -> io::Result<Summary> {
    let (index, peers) = (worker.index(), worker.peers());
    let rule = Arc::new(Rule::new(options.semantics));
    let config = options
        .detector_config()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let resume = match &options.resume {
        Some(dir) => Some(Checkpoint::open(dir, options)?),
        None => None,
    };
    let floor = resume.as_ref().map_or(0, |c| c.manifest.stop_epoch);
    if options
        .stop_at
        .is_some_and(|t| options.epoch_of(t) <= floor)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--stop-at must be after the checkpoint resumed from",
        ));
    }
    if options.resume.is_some() && options.resume == options.checkpoint_dir {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--checkpoint-dir must differ from --resume",
        ));
    }
    let groups = key_group_range(index as u32, peers as u32, options.key_groups);
    let mut detector = match &resume {
        Some(c) => c.detector(rule.clone(), config.clone(), &groups)?,
        None => Detector::new(rule.clone(), config.clone()).map_err(io::Error::other)?,
    };
    if let Some(w) = options.watermark_before(floor) {
        detector.advance(w);
        detector.drain_verdicts().for_each(drop);
    }

    let mut parts = Vec::new();
    for (i, path) in options.inputs.iter().enumerate() {
        if i % peers == index {
            let state = match &resume {
                Some(c) => Some((c.part(i)?, floor)),
                None => None,
            };
            let part = Partition::open(i as u32, path, options, state)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            parts.push(part);
        }
    }
    let names: Arc<Vec<String>> = Arc::new(
        options
            .inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    );

    let summary = Rc::new(RefCell::new(Summary::default()));
    let probe = ProbeHandle::new();
    let (mut input, root) = worker.dataflow::<u64, _, _>(|scope| {
        let (input, stream) = scope
            .new_unordered_input::<timely::container::CapacityContainerBuilder<Vec<Candidate>>>();
        let mut state = DetectState {
            detector,
            stash: BTreeMap::new(),
            advanced_to: floor,
            options: options.clone(),
            names,
            sink,
            index,
            summary: summary.clone(),
            semantics: rule.semantics(),
        };
        stream
            .unary_frontier::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
                Exchange::new(|c: &Candidate| u64::from(c.owner)),
                "Detect",
                move |cap, _info| {
                    // Held until the end-of-input work is done, so that the probe says
                    // "done" only after the last alerts and the checkpoint are written.
                    let mut alive = Some(cap);
                    move |(input, frontier), output| {
                        input.for_each_stamp(|cap, data| {
                            let Some(&t) = cap.least() else { return };
                            let entry = state.stash.entry(t).or_insert_with(|| {
                                (cap.retain_least(output.output_index()), Vec::new())
                            });
                            for batch in data {
                                entry.1.append(batch);
                            }
                        });
                        let result = state.progress(frontier.frontier().first().copied());
                        if let Err(e) = result {
                            eprintln!("shareexec-timely: worker {}: {e}", state.index);
                            std::process::exit(1);
                        }
                        match (frontier.frontier().first(), alive.as_mut()) {
                            // Follow the input frontier (the probe measures progress).
                            (Some(f), Some(cap)) => cap.downgrade(f),
                            _ => drop(alive.take()),
                        }
                    }
                },
            )
            .probe_with(&probe);
        input
    });

    // Each partition holds its own capability at its frontier.
    let mut caps: Vec<Option<_>> = parts
        .iter()
        .map(|p| Some(root.delayed(&p.frontier())))
        .collect();
    drop(root);
    let mut batch = Vec::new();
    let mut by_time: BTreeMap<u64, Vec<Candidate>> = BTreeMap::new();
    loop {
        let mut open = false;
        for (p, cap) in parts.iter_mut().zip(caps.iter_mut()) {
            let Some(c) = cap else { continue };
            let status = p.read(BATCH, options, &rule, peers as u32, &mut batch)?;
            for (time, candidate) in batch.drain(..) {
                by_time.entry(time).or_default().push(candidate);
            }
            for (time, mut candidates) in std::mem::take(&mut by_time) {
                let at = c.delayed(&time);
                input
                    .activate()
                    .session(&at)
                    .give_container(&mut candidates);
            }
            match status {
                Status::Open => {
                    c.downgrade(&p.frontier());
                    open = true;
                }
                Status::Done(state) => {
                    if let Some(dir) = &options.checkpoint_dir {
                        checkpoint::save_part(dir, p.index as usize, &state)?;
                    }
                    *cap = None;
                }
            }
        }
        if !open {
            break;
        }
        worker.step();
        // Back-pressure: do not run too far ahead of the detectors.
        let least = caps
            .iter()
            .flatten()
            .map(|c| *c.time())
            .min()
            .unwrap_or(u64::MAX);
        let behind = least.saturating_sub(SLACK);
        worker.step_or_park_while(Some(PARK), || probe.less_than(&behind));
    }
    drop(caps);
    // Waiting for the other workers: park rather than spin (cores may be shared).
    worker.step_or_park_while(Some(PARK), || !probe.done());

    let mut s = *summary.borrow();
    for p in &parts {
        s.lines += p.lines;
        s.bad_lines += p.bad_lines;
        s.sent += p.sent;
    }
    if let (Some(dir), Some(stop)) = (&options.checkpoint_dir, options.stop_at) {
        if index == 0 {
            checkpoint::save_manifest(dir, &Manifest::new(options, peers, options.epoch_of(stop)))?;
        }
        checkpoint::save_done(dir, index)?;
    }
    Ok(s)
}

/// The detecting operator's state.
struct DetectState {
    detector: Detector,
    /// Candidates by epoch, with a capability held for each epoch not yet processed.
    stash: BTreeMap<
        u64,
        (
            Option<timely::dataflow::operators::Capability<u64>>,
            Vec<Candidate>,
        ),
    >,
    advanced_to: u64,
    options: Options,
    names: Arc<Vec<String>>,
    sink: Sink,
    index: usize,
    summary: Rc<RefCell<Summary>>,
    semantics: shareexec::Semantics,
}

impl DetectState {
    /// Feeds every epoch before the frontier (`None`: the end) in order, advances the
    /// detector to the frontier, writes the alerts; at the end flushes, or saves the
    /// checkpoint.
    fn progress(&mut self, frontier: Option<u64>) -> io::Result<()> {
        let ended = frontier.is_none() && self.advanced_to != u64::MAX;
        let done: Vec<u64> = self
            .stash
            .keys()
            .copied()
            .take_while(|&t| frontier.is_none_or(|f| t < f))
            .collect();
        let mut lines = Vec::new();
        for t in done {
            let Some((_cap, mut candidates)) = self.stash.remove(&t) else {
                continue;
            };
            candidates.sort_unstable_by_key(Candidate::order_key);
            for c in &candidates {
                let Ok(Some(record)) = decode_line(c.text.as_bytes()) else {
                    continue;
                };
                for event in record.events(c.position()) {
                    self.detector.handle(event);
                }
                self.take(&mut lines);
            }
        }
        match frontier {
            Some(f) if f > self.advanced_to => {
                if let Some(w) = self.options.watermark_before(f) {
                    self.detector.advance(w);
                }
                self.advanced_to = f;
            }
            Some(_) => {}
            None if ended => {
                match (self.options.checkpoint_dir.clone(), self.options.stop_at) {
                    (Some(dir), Some(stop)) => {
                        // The cut: everything before the stop epoch has been fed.
                        if let Some(w) = self.options.watermark_before(self.options.epoch_of(stop))
                        {
                            self.detector.advance(w);
                        }
                        self.take(&mut lines);
                        checkpoint::save_detector(
                            &dir,
                            self.index,
                            self.options.key_groups,
                            &self.detector,
                        )?;
                    }
                    _ => self.detector.flush(),
                }
                self.advanced_to = u64::MAX;
                self.summary.borrow_mut().stats = self.detector.stats();
            }
            None => {}
        }
        self.take(&mut lines);
        if !lines.is_empty() {
            let mut out = self
                .sink
                .lock()
                .map_err(|_| io::Error::other("output lock poisoned"))?;
            out.write_all(&lines)?;
            out.flush()?;
        }
        Ok(())
    }

    /// Takes the detector's verdicts; alerts become JSON lines.
    fn take(&mut self, lines: &mut Vec<u8>) {
        let names = &self.names;
        let locate = |position: u64| {
            let (part, line) = locate(position);
            Location {
                source: names.get(part as usize).map_or("?", String::as_str),
                line,
            }
        };
        while let Some(v) = self.detector.poll_verdict() {
            if let Verdict::Alert(_) = v {
                lines.extend_from_slice(verdict_json(&v, self.semantics, &locate).as_bytes());
                lines.push(b'\n');
            }
        }
    }
}

/// Opens the output for a process (`-`, a file) or, when the path names `{worker}`,
/// for one worker.
pub fn open_sink(output: &str, worker: Option<usize>) -> io::Result<Sink> {
    let out: Box<dyn Write + Send> = if output == "-" {
        Box::new(io::stdout())
    } else {
        let path = match worker {
            Some(w) => PathBuf::from(output.replace("{worker}", &w.to_string())),
            None => PathBuf::from(output),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        Box::new(io::BufWriter::new(std::fs::File::create(path)?))
    };
    Ok(Arc::new(Mutex::new(out)))
}
