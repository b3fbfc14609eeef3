//! Screening threads: the per-line work that needs no detector state (the Sysmon
//! sniff and decode, `shareexec::input::Decoded::decode_sysmon`; the ECS prefilter and
//! the full decode of the ECS lines it does not skip, `shareexec::input::Screener`)
//! done on batches of lines ahead of the thread that detects and writes them in input
//! order.
//!
//! Batches go to the detecting thread itself (11/16 of a fair share: it screens them when
//! it reaches them, or while it would wait for a worker, so that it is busy too rather
//! than waking up once per batch) and round robin to the workers, whose results come
//! back in the order sent, so batches are received in the order they were read
//! without any reordering; each worker has its own channels.
//! A batch is the reader's buffer of consecutive whole lines (`Lines::take_lines`:
//! the kernel's copy is the only one), and the buffers circulate: a run holds at most
//! `workers + 3` of them.

use std::io;
use std::sync::mpsc::{Receiver, RecvError, Sender, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use shareexec::input::{Decoded, Screener, Screening, SysmonErrorKind, SysmonSniffer};

use crate::args::InputFormat;
use crate::lines::{Line, Lines, Taken};

/// At most about this many bytes of per-line records (`LINE_COST` each) per batch,
/// beside its buffer of lines (the reader's, `lines::CHUNK` unless a long line made it
/// bigger): big enough that a batch's channel hops cost nothing next to screening it,
/// small enough to keep the memory of a run low whatever the lines.
const BATCH_BYTES: usize = 64 << 10;

/// How long a thread polls for its next batch before it blocks, when polling has lately
/// paid (see [`Inbox`]): more than a batch takes to screen (60-80 µs here).
const POLL_FOR: Duration = Duration::from_micros(100);

/// The receiving end of a channel of batches, which polls before it blocks while the
/// waits are short.
///
/// Blocking costs the sleeper's wake-up and the waker's system call: on these 2-core
/// VMs the ~3 000 of them in a run of 1 000 000 Defend lines cost ~0.07 s of system time
/// and the waits' wall time (measured with `/usr/bin/time -v`). Polling costs the
/// CPU it spins on, which a thread that waits long (a worker beside a detecting thread
/// that detects slowly or reads a slow pipe) must not waste: so a wait that
/// outlasted [`POLL_FOR`] turns polling off, and a short one turns it back on.
struct Inbox<T> {
    from: Receiver<T>,
    poll: bool,
}

impl<T> Inbox<T> {
    fn new(from: Receiver<T>) -> Self {
        Inbox { from, poll: true }
    }

    /// The next message: [`Receiver::recv`], after polling for up to [`POLL_FOR`] if
    /// the last wait was short.
    fn receive(&mut self) -> Result<T, RecvError> {
        let started = Instant::now();
        if self.poll {
            let mut polls = 0u32;
            loop {
                match self.from.try_recv() {
                    Ok(message) => return Ok(message),
                    Err(TryRecvError::Disconnected) => return Err(RecvError),
                    Err(TryRecvError::Empty) => std::hint::spin_loop(),
                }
                polls += 1;
                // The clock is read once per 64 polls (a poll takes ~30 ns here).
                if polls.is_multiple_of(64) && started.elapsed() >= POLL_FOR {
                    break;
                }
            }
        }
        let message = self.from.recv();
        self.poll = started.elapsed() < POLL_FOR;
        message
    }
}

/// The bytes a batch holds per line besides the line itself.
const LINE_COST: usize =
    std::mem::size_of::<Entry>() + std::mem::size_of::<Pre>() + std::mem::size_of::<Decoded>();

/// One line of a batch.
#[derive(Clone, Copy)]
enum Entry {
    /// `data[start..end]`.
    Text { start: usize, end: usize },
    /// A line over `--max-line-bytes` (its length); not screened.
    TooLong(u64),
}

/// What a worker found about a line.
#[derive(Clone, Copy)]
pub struct Pre {
    /// Read as Sysmon: the sniff said yes (under `--input-format auto`; fixed otherwise)
    /// and, in `auto`, the line has an event id; `Decoded::decode_sysmon` decoded it.
    pub sysmon: bool,
    /// The ECS prefilter's decision (only meaningful when `sysmon` is false).
    pub screening: Screening,
}

/// Consecutive lines of one input, and after screening, what was found about each.
#[derive(Default)]
pub struct Batch {
    data: Vec<u8>,
    entries: Vec<Entry>,
    pre: Vec<Pre>,
    /// The ECS lines decoded in full, by entry (buffers reused batch after batch).
    decoded: Vec<Decoded>,
}

impl Batch {
    /// Forgets the lines. `data` keeps its bytes: it is the spent buffer the reader
    /// takes in exchange for its next one (see `Lines::take_lines`).
    fn clear(&mut self) {
        self.entries.clear();
        self.pre.clear();
    }

    /// Takes the reader's buffer with the whole lines it holds (their records at most
    /// about `BATCH_BYTES`), or one line over the limit: `None` then, else how the input
    /// ended (`Ok` at its end, or the read error; the lines before it were all in
    /// earlier batches).
    fn fill(&mut self, lines: &mut Lines) -> Option<io::Result<()>> {
        let entries = &mut self.entries;
        // The lines' bytes are bounded by the reader's buffer; their records are
        // bounded here (a buffer of empty or tiny lines holds tens of thousands). Every
        // other whole line of the buffer is taken: those left are copied into the next
        // buffer.
        let taken = lines.take_lines(&mut self.data, |start, end| {
            entries.push(Entry::Text { start, end });
            entries.len() * LINE_COST < BATCH_BYTES
        });
        match taken {
            Ok(Taken::Lines) => None,
            Ok(Taken::TooLong(n)) => {
                self.entries.push(Entry::TooLong(n));
                None
            }
            Ok(Taken::End) => Some(Ok(())),
            Err(e) => Some(Err(e)),
        }
    }

    /// The lines with what was found about each (a worker has screened the batch).
    pub fn lines(&self) -> impl Iterator<Item = (Line<'_>, Option<(&Pre, &Decoded)>)> {
        self.entries
            .iter()
            .zip(self.pre.iter().zip(&self.decoded))
            .map(|(entry, pre)| match *entry {
                Entry::Text { start, end } => (
                    Line::Text(self.data.get(start..end).unwrap_or_default()),
                    Some(pre),
                ),
                Entry::TooLong(n) => (Line::TooLong(n), None),
            })
    }
}

/// What a worker needs to screen a line exactly as the detecting thread would.
struct Screen {
    format: InputFormat,
    sniffer: SysmonSniffer,
    screener: Screener,
}

impl Screen {
    fn batch(&mut self, batch: &mut Batch) {
        let Batch {
            data,
            entries,
            pre,
            decoded,
        } = batch;
        pre.clear();
        if decoded.len() < entries.len() {
            decoded.resize_with(entries.len(), Decoded::new);
        }
        for (entry, decoded) in entries.iter().zip(decoded.iter_mut()) {
            let text = match *entry {
                Entry::Text { start, end } => data.get(start..end).unwrap_or_default(),
                Entry::TooLong(_) => &[],
            };
            let sniffed = match self.format {
                InputFormat::Auto => self.sniffer.looks_like_sysmon(text),
                InputFormat::Ecs => false,
                InputFormat::Sysmon => true,
            };
            // A Sysmon line is decoded here too; in `auto`, one without an event id is
            // read as ECS, as the detecting thread would (`run::decode_and_handle`).
            let sysmon = sniffed
                && match decoded.decode_sysmon(text) {
                    Err(e) => {
                        self.format != InputFormat::Auto
                            || e.kind != SysmonErrorKind::MissingEventId
                    }
                    Ok(()) => true,
                };
            let screening = if sysmon {
                Screening::decode(text.len())
            } else {
                self.screener.screen_and_decode(text, decoded)
            };
            pre.push(Pre { sysmon, screening });
        }
    }
}

struct Worker {
    jobs: Option<Sender<Batch>>,
    done: Inbox<Batch>,
    thread: Option<JoinHandle<()>>,
}

/// Where a batch in flight is being screened.
enum Slot {
    /// By this worker.
    Worker(usize),
    /// By the detecting thread, when it comes to it or while it would wait for a
    /// worker (`true` once screened).
    Inline(Batch, bool),
}

/// The screening threads of a run, and the batches in flight between them and the
/// detecting thread.
pub struct Pool {
    workers: Vec<Worker>,
    /// The detecting thread's own share.
    inline: Screen,
    /// Each batch in flight, oldest first.
    in_flight: std::collections::VecDeque<Slot>,
    /// The next worker, round robin.
    next: usize,
    /// Batches given out, and of those, kept by the detecting thread.
    given: u64,
    inline_given: u64,
    spare: Vec<Batch>,
}

impl Pool {
    /// `threads` screening threads beside the detecting thread, each with a clone of
    /// `screener`.
    pub fn new(threads: usize, format: InputFormat, screener: &Screener) -> io::Result<Pool> {
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            let (jobs, inbox) = channel::<Batch>();
            let (outbox, done) = channel::<Batch>();
            let mut screen = Screen {
                format,
                sniffer: SysmonSniffer::new(),
                screener: screener.clone(),
            };
            let thread = std::thread::Builder::new()
                .name(format!("screen-{n}"))
                .spawn(move || {
                    let mut inbox = Inbox::new(inbox);
                    while let Ok(mut batch) = inbox.receive() {
                        screen.batch(&mut batch);
                        if outbox.send(batch).is_err() {
                            break;
                        }
                    }
                })?;
            workers.push(Worker {
                jobs: Some(jobs),
                done: Inbox::new(done),
                thread: Some(thread),
            });
        }
        Ok(Pool {
            workers,
            inline: Screen {
                format,
                sniffer: SysmonSniffer::new(),
                screener: screener.clone(),
            },
            in_flight: Default::default(),
            next: 0,
            given: 0,
            inline_given: 0,
            spare: Vec::new(),
        })
    }

    /// Reads the next batch of `lines` and hands it to a worker. `None` while the
    /// input goes on, else how it ended (at its end, or a read error: the lines read
    /// before the error are in flight).
    pub fn read_ahead(&mut self, lines: &mut Lines) -> io::Result<Option<io::Result<()>>> {
        let mut batch = self.spare.pop().unwrap_or_default();
        batch.clear();
        let end = batch.fill(lines);
        if batch.entries.is_empty() {
            self.spare.push(batch);
        } else {
            // The detecting thread takes 11/16 of a fair share of the batches: it also
            // reads (the kernel's copy, which instruction counts barely show), detects
            // and writes. Set by `perf` per thread on 2 cores, 1 000 000 Defend lines:
            // at 7/8 it had 60 % of the run's CPU time and the screening thread
            // waited; at 5/8, 52 % (wall 0.77 -> 0.71 s), while it still copied every
            // line into its batch. Without that copy (`Lines::take_lines`), 5/8 gave
            // it 45.5 %, 6/8 49.4-52.4 %, 11/16 49.8-50.4 %.
            let fair = self.workers.len() as u64 + 1;
            let inline = self.inline_given * fair * 16 < self.given * 11;
            self.given += 1;
            let n = if inline {
                self.inline_given += 1;
                self.workers.len()
            } else {
                let n = self.next;
                self.next = (n + 1) % self.workers.len().max(1);
                n
            };
            match self.workers.get(n) {
                None => self.in_flight.push_back(Slot::Inline(batch, false)),
                Some(worker) => {
                    let sent = worker.jobs.as_ref().map(|jobs| jobs.send(batch));
                    if !matches!(sent, Some(Ok(()))) {
                        return Err(worker_failed());
                    }
                    self.in_flight.push_back(Slot::Worker(n));
                }
            }
        }
        Ok(end)
    }

    /// Batches in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Batches in flight that keep every worker busy: one each, one for the
    /// detecting thread, and one more read ahead (measured: deeper queues only cost
    /// memory).
    pub fn depth(&self) -> usize {
        self.workers.len() + 2
    }

    /// The oldest batch in flight, screened (waits for it, or screens it here);
    /// `None` if none is.
    pub fn next_screened(&mut self) -> io::Result<Option<Batch>> {
        match self.in_flight.pop_front() {
            None => Ok(None),
            Some(Slot::Inline(mut batch, screened)) => {
                if !screened {
                    self.inline.batch(&mut batch);
                }
                Ok(Some(batch))
            }
            Some(Slot::Worker(n)) => {
                let Some(worker) = self.workers.get_mut(n) else {
                    return Err(worker_failed());
                };
                let done = &mut worker.done;
                // Rather than wait for the worker, screen a later batch of our own.
                loop {
                    match done.from.try_recv() {
                        Ok(batch) => return Ok(Some(batch)),
                        Err(TryRecvError::Disconnected) => return Err(worker_failed()),
                        Err(TryRecvError::Empty) => {}
                    }
                    let own = self.in_flight.iter_mut().find_map(|slot| match slot {
                        Slot::Inline(batch, screened @ false) => Some((batch, screened)),
                        _ => None,
                    });
                    let Some((batch, screened)) = own else {
                        break;
                    };
                    self.inline.batch(batch);
                    *screened = true;
                }
                done.receive().map(Some).map_err(|_| worker_failed())
            }
        }
    }

    /// Gives a processed batch's buffers back for reuse (a buffer a long line made
    /// big is given back to the allocator).
    pub fn recycle(&mut self, mut batch: Batch) {
        if batch.data.len() > 2 * BATCH_BYTES {
            batch.data = Vec::new();
        }
        self.spare.push(batch);
    }

    /// Drops the batches in flight (after a `--strict` stop).
    pub fn discard_in_flight(&mut self) -> io::Result<()> {
        while let Some(batch) = self.next_screened()? {
            self.recycle(batch);
        }
        Ok(())
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            worker.jobs = None; // the worker's loop ends
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

fn worker_failed() -> io::Error {
    io::Error::other("a screening thread stopped unexpectedly")
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use shareexec::input::{EcsPipeline, Prefiltering};
    use shareexec::{Config, Detector, Rule};

    use super::*;

    /// Gives `data`, then fails.
    struct Failing(io::Cursor<Vec<u8>>);

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.0.read(buf)? {
                0 => Err(io::Error::other("disk on fire")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn lines_before_a_read_error_are_all_screened_in_order_then_the_error() {
        let mut data = Vec::new();
        for n in 0..20_000 {
            data.extend_from_slice(format!("{{\"n\":{n}}}\n").as_bytes());
        }
        data.extend_from_slice(b"{\"last\":1"); // no newline: a partial line
        let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
        let screener = EcsPipeline::new(detector, Prefiltering::Validating).screener();
        for threads in [0, 1, 3] {
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener).unwrap();
            let mut lines =
                Lines::new(Box::new(Failing(io::Cursor::new(data.clone()))), 1 << 20).unwrap();
            let mut seen = Vec::new();
            let mut end = None;
            while end.is_none() {
                end = pool.read_ahead(&mut lines).unwrap();
                while pool.in_flight() >= pool.depth() || (end.is_some() && pool.in_flight() > 0) {
                    let batch = pool.next_screened().unwrap().unwrap();
                    for (line, pre) in batch.lines() {
                        let Line::Text(text) = line else { panic!() };
                        // No `@timestamp`: the validating prefilter sends them to the
                        // decoder, which refuses them.
                        assert!(pre.is_some_and(|(p, d)| !p.sysmon
                            && p.screening.is_decode()
                            && d.is_decoded()));
                        seen.push(String::from_utf8(text.to_vec()).unwrap());
                    }
                    pool.recycle(batch);
                }
            }
            let error = end.unwrap().unwrap_err();
            assert_eq!(error.to_string(), "disk on fire");
            assert_eq!(seen.len(), 20_000, "{threads} threads");
            assert!(
                seen.iter()
                    .zip(0..)
                    .all(|(l, n)| *l == format!("{{\"n\":{n}}}"))
            );
            assert!(pool.next_screened().unwrap().is_none());
        }
    }
}

/// Review tests (adversarial review of the screening threads): the memory a batch
/// holds must be bounded by `BATCH_BYTES`, whatever the lines are like.
#[cfg(test)]
mod review_tests {
    use std::io;

    use super::*;

    /// A batch read from `text` by one `fill`: the batch, and whether the input ended.
    fn fill_once(text: Vec<u8>) -> (Batch, bool) {
        let mut lines = Lines::new(Box::new(io::Cursor::new(text)), 1 << 20).unwrap();
        let mut batch = Batch::default();
        let end = batch.fill(&mut lines);
        (batch, end.is_some())
    }

    /// Empty lines (`\n`, or `\r\n`) add no bytes to `data`, so `fill` never sees the
    /// batch as full: it reads the whole input into one batch, 16 bytes of `Entry` (and
    /// then ~0.5 KiB of `Pre` + `Decoded` on the worker) per input byte. Measured: a
    /// 20 MB file of newlines takes 10.5 GB RSS with `--threads 1` (7 MB with 0).
    #[test]
    fn review_empty_lines_do_not_make_an_unbounded_batch() {
        let (batch, ended) = fill_once(vec![b'\n'; 1_000_000]);
        assert!(
            !ended && batch.entries.len() <= BATCH_BYTES,
            "one batch took {} empty lines (input ended: {ended})",
            batch.entries.len()
        );
    }

    /// The per-line records of a batch (`Entry`, `Pre`, `Decoded`) are not counted in
    /// `BATCH_BYTES`: a batch of 1-byte lines holds 16 Ki entries, ~0.5 KiB each once
    /// screened, i.e. ~8 MiB per batch instead of 32 KiB, times `2 × threads + 1`
    /// batches. Measured: 5 M lines `1` → 284 MB RSS with `--threads 8`, 7.7 MB with 0.
    #[test]
    fn review_a_batch_of_tiny_lines_holds_about_batch_bytes() {
        let (batch, ended) = fill_once(b"1\n".repeat(200_000));
        assert!(!ended);
        let per_line = std::mem::size_of::<Entry>()
            + std::mem::size_of::<Pre>()
            + std::mem::size_of::<Decoded>();
        let held = batch.data.len() + batch.entries.len() * per_line;
        assert!(
            held <= 4 * BATCH_BYTES,
            "{} lines of {} bytes each held: {held} bytes, BATCH_BYTES is {BATCH_BYTES}",
            batch.entries.len(),
            per_line
        );
    }
}
