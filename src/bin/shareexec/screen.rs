//! Screening threads: the per-line work that needs no detector state (the Sysmon
//! sniff and decode, `shareexec::input::Decoded::decode_sysmon`; the ECS prefilter and
//! the full decode of the ECS lines it does not skip, `shareexec::input::Screener`)
//! done on batches of lines ahead of the thread that detects and writes them in input
//! order.
//!
//! The input is shared: a worker reads the next batch whenever it is free, the
//! detecting thread whenever the batch it needs next is not screened yet (so it is busy
//! rather than waiting), and whoever reads a batch screens it. The order in which
//! batches were read is recorded as they are read, and the detecting thread takes them
//! in that order: each worker's come back on its own channel in the order it read
//! them, so no reordering is needed.
//! A batch is the reader's buffer of consecutive whole lines (`Lines::take_lines`:
//! the kernel's copy is the only one), and the buffers circulate: a run holds at most
//! `workers × (WORKER_AHEAD + 1) + OWN_AHEAD + 1` of them, and the spares.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvError, SyncSender, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError};
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
    polling: Polling,
}

impl<T> Inbox<T> {
    fn new(from: Receiver<T>) -> Self {
        Inbox {
            from,
            polling: Polling(true),
        }
    }

    /// The next message: [`Receiver::recv`], after polling for up to [`POLL_FOR`] if
    /// the last wait was short.
    fn receive(&mut self) -> Result<T, RecvError> {
        let from = &self.from;
        self.polling.run(
            (),
            |()| match from.try_recv() {
                Ok(message) => Ok(Ok(message)),
                Err(TryRecvError::Disconnected) => Ok(Err(RecvError)),
                Err(TryRecvError::Empty) => Err(()),
            },
            |()| from.recv(),
        )
    }
}

/// Whether polling before blocking has lately paid: a wait that outlasted
/// [`POLL_FOR`] turns it off, a short one back on.
struct Polling(bool);

impl Polling {
    /// `attempt` until it gives a result, for up to [`POLL_FOR`] if polling pays (the
    /// clock is read once per 64 attempts, an attempt taking ~30 ns here); then
    /// `block` with what the last attempt handed back.
    fn run<S, R>(
        &mut self,
        mut state: S,
        mut attempt: impl FnMut(S) -> Result<R, S>,
        block: impl FnOnce(S) -> R,
    ) -> R {
        let started = Instant::now();
        if self.0 {
            let mut attempts = 0u32;
            loop {
                match attempt(state) {
                    Ok(done) => return done,
                    Err(back) => state = back,
                }
                std::hint::spin_loop();
                attempts += 1;
                if attempts.is_multiple_of(64) && started.elapsed() >= POLL_FOR {
                    break;
                }
            }
        }
        let done = block(state);
        self.0 = started.elapsed() < POLL_FOR;
        done
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
    /// Whether `pre` and `decoded` are this batch's screening (a worker reading an
    /// input that may wait hands some batches over unscreened: `work`).
    screened: bool,
}

impl Batch {
    /// Forgets the lines. `data` keeps its bytes: it is the spent buffer the reader
    /// takes in exchange for its next one (see `Lines::take_lines`).
    fn clear(&mut self) {
        self.entries.clear();
        self.pre.clear();
        self.screened = false;
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
        batch.screened = true;
        let Batch {
            data,
            entries,
            pre,
            decoded,
            screened: _,
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

/// Batches a worker may have screened ahead of the detecting thread (in its channel),
/// besides the one it is screening: enough to cover the detecting thread's uneven pace,
/// few enough to keep a run's memory low.
const WORKER_AHEAD: usize = 1;

/// Batches the detecting thread may screen ahead of the one it waits for.
const OWN_AHEAD: usize = 2;

/// From an input that may wait (standard input, a pipe) only the workers read, and
/// each hands this many sixteenths of a fair share of its batches to the detecting
/// thread unscreened (one worker: 3 in 4). Measured on 1 000 000 Defend lines through
/// `cat |` on 2 cores, medians of 6-8 interleaved runs: 11/16 0.995-1.08 s, 16/16
/// 0.91-0.93, 20/16 0.79-0.83, 24/16 0.75-0.85, 28/16 0.82; the detecting thread
/// reading them all, as before: 0.81-0.98 s. The reader of a pipe also pays the
/// pipe's copy, and its writer needs the CPU too.
const HANDED_SHARE: u64 = 24;

/// Who holds a batch of the input being read, in input order.
enum Turn {
    /// This worker screens it; it comes back on the worker's channel, whose batches
    /// are in input order.
    Worker(usize),
    /// The detecting thread screened it (it is in `Pool::own`, in input order).
    Own,
    /// The input ended here: at its end (`Ok`) or at a read error.
    End(io::Result<()>),
}

/// The input of a pool, which every thread reads: whoever is free reads the next
/// batch, under this lock, so each thread screens bytes it has just read itself (the
/// kernel's copy, or the decompression of a gzip input, is done by the thread that
/// screens them, not all by the detecting thread).
#[derive(Default)]
struct Input {
    /// The input being read (`None` between inputs).
    lines: Option<Lines>,
    /// Whether a batch may be read: the input is set and has not ended (nor been
    /// stopped: `Shared::stopped`).
    open: bool,
    /// A read of the input may wait indefinitely (`Lines::may_wait`): then only the
    /// workers read it, and they hand part of the batches over unscreened.
    may_wait: bool,
}

/// The order in which batches were read, and spent batches: under a lock of its own,
/// held only briefly, so that the detecting thread never waits for a read to take
/// its next batch.
#[derive(Default)]
struct Queue {
    /// The batches read and not yet handed to the detecting thread, oldest first.
    turns: VecDeque<Turn>,
    /// Spent batches, for reuse.
    spare: Vec<Batch>,
    /// Bytes of the input read so far.
    consumed: u64,
    /// The detecting thread waits for a turn (`Shared::recorded`).
    waiting: bool,
}

#[derive(Default)]
struct Shared {
    input: Mutex<Input>,
    /// No batch is to be read (a `--strict` stop): set without the input's lock, which
    /// a worker blocked reading a pipe may hold for as long as the pipe is silent.
    stopped: AtomicBool,
    /// The pool is being dropped: the workers return (set without the lock too).
    shutdown: AtomicBool,
    /// Wakes the workers when an input opens (or the pool is dropped).
    opened: Condvar,
    queue: Mutex<Queue>,
    /// Wakes the detecting thread when a turn is recorded.
    recorded: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> io::Result<MutexGuard<'_, T>> {
    mutex.lock().map_err(|_| worker_failed())
}

/// Reads the next batch of the open input (the caller holds its lock) into a spare
/// batch, and records its turn (`who`) and, when the input ended, the end, in the order
/// read. The batch if it holds lines; `None` if no input is open or it held no more.
fn read_batch(shared: &Shared, input: &mut Input, who: Turn) -> io::Result<Option<Batch>> {
    if !input.open || shared.stopped.load(Ordering::Acquire) {
        return Ok(None);
    }
    let queue = &shared.queue;
    let Some(lines) = input.lines.as_mut() else {
        return Ok(None);
    };
    let mut batch = lock(queue)?.spare.pop().unwrap_or_default();
    batch.clear();
    let end = batch.fill(lines);
    let mut queue = lock(queue)?;
    queue.consumed = lines.consumed;
    let batch = if batch.entries.is_empty() {
        queue.spare.push(batch);
        None
    } else {
        queue.turns.push_back(who);
        Some(batch)
    };
    if let Some(end) = end {
        input.open = false;
        queue.turns.push_back(Turn::End(end));
    }
    if queue.waiting {
        shared.recorded.notify_one();
    }
    Ok(batch)
}

struct Worker {
    done: Option<Inbox<Batch>>,
    thread: Option<JoinHandle<()>>,
}

/// A worker's loop: read a batch, screen it, send it; wait while no input is open.
fn work(me: usize, workers: u64, shared: &Shared, screen: &mut Screen, done: &mut Outbox<Batch>) {
    // Batches read, and of those handed over unscreened (from an input that may wait).
    let (mut read, mut handed) = (0u64, 0u64);
    let Ok(mut input) = shared.input.lock() else {
        return;
    };
    loop {
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        if !input.open || shared.stopped.load(Ordering::Acquire) {
            input = match shared.opened.wait(input) {
                Ok(input) => input,
                Err(_) => return,
            };
            continue;
        }
        let may_wait = input.may_wait;
        let Ok(batch) = read_batch(shared, &mut input, Turn::Worker(me)) else {
            return;
        };
        drop(input);
        if let Some(mut batch) = batch {
            // From an input that may wait the detecting thread does not read (it would
            // block while batches are ready: `Pool::input_may_wait`), so it gets its
            // share of the screening here: `HANDED_SHARE` sixteenths of a fair share.
            read += 1;
            if may_wait && handed * 16 * (workers + 1) < read * HANDED_SHARE {
                handed += 1;
            } else {
                screen.batch(&mut batch);
            }
            if done.send(batch).is_err() {
                return;
            }
        }
        input = match shared.input.lock() {
            Ok(input) => input,
            Err(_) => return,
        };
    }
}

/// The sending end of a worker's channel, which polls for room before it blocks while
/// the waits are short (as [`Inbox`] does for the receiving end): a worker ahead of the
/// detecting thread would otherwise sleep until that thread takes a batch, and the
/// detecting thread would pay the wake-up; one that waits long (the detecting thread is
/// the slower) must not spin.
struct Outbox<T> {
    to: SyncSender<T>,
    polling: Polling,
}

impl<T> Outbox<T> {
    fn new(to: SyncSender<T>) -> Self {
        Outbox {
            to,
            polling: Polling(true),
        }
    }

    /// [`SyncSender::send`], after polling for room for up to [`POLL_FOR`] if the last
    /// wait was short; `Err` if the receiver is gone.
    fn send(&mut self, message: T) -> Result<(), ()> {
        let to = &self.to;
        self.polling.run(
            message,
            |message| match to.try_send(message) {
                Ok(()) => Ok(Ok(())),
                Err(TrySendError::Disconnected(_)) => Ok(Err(())),
                Err(TrySendError::Full(back)) => Err(back),
            },
            |message| to.send(message).map_err(drop),
        )
    }
}

/// What trying to read a batch on the detecting thread gave.
enum OwnRead {
    /// A batch was read and screened (or the input's end recorded).
    Read,
    /// Another thread is reading (or has just read a batch).
    Busy,
    /// No input is open.
    Closed,
    /// A worker died reading (the input's lock is poisoned).
    Failed,
}

/// What [`Pool::next`] gives.
pub enum Step {
    /// The next batch of the input, screened.
    Batch(Batch),
    /// The input ended: at its end (`Ok`) or at this read error; every batch before it
    /// was given.
    End(io::Result<()>),
}

/// The screening threads of a run and the input they read, for the detecting thread.
///
/// Every thread reads: a worker reads the next batch of the input whenever it has
/// screened one (and its channel has room), the detecting thread whenever the batch it
/// needs next is not screened yet, and it screens what it read. So the threads share
/// the work by how fast each one is, whatever the input (ECS or Sysmon, plain or gzip)
/// and the detector's pace, and each screens bytes it has just read. Batches are
/// handed to the detecting thread in the order they were read. An input whose reads
/// may wait indefinitely (`Lines::may_wait`: standard input, a pipe) is the exception:
/// the detecting thread reads it only when no batch is on its way, and the workers hand
/// it part of theirs unscreened instead ([`HANDED_SHARE`]).
pub struct Pool {
    workers: Vec<Worker>,
    shared: Arc<Shared>,
    /// The detecting thread's own screening.
    inline: Screen,
    /// Batches the detecting thread read and screened, oldest first.
    own: VecDeque<Batch>,
    /// A read of the input may wait indefinitely (`Lines::may_wait`): then the
    /// detecting thread reads only when no batch is on its way, never ahead of one it
    /// waits for (it would hold that batch, and its alerts, until the writer writes).
    input_may_wait: bool,
}

impl Pool {
    /// `threads` screening threads beside the detecting thread, each with a clone of
    /// `screener`.
    pub fn new(threads: usize, format: InputFormat, screener: &Screener) -> io::Result<Pool> {
        let shared: Arc<Shared> = Default::default();
        let count = threads as u64;
        let mut workers = Vec::with_capacity(threads);
        for n in 0..threads {
            let (outbox, done) = sync_channel::<Batch>(WORKER_AHEAD);
            let mut screen = Screen {
                format,
                sniffer: SysmonSniffer::new(),
                screener: screener.clone(),
            };
            let shared = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("screen-{n}"))
                .spawn(move || {
                    work(n, count, &shared, &mut screen, &mut Outbox::new(outbox));
                })?;
            workers.push(Worker {
                done: Some(Inbox::new(done)),
                thread: Some(thread),
            });
        }
        Ok(Pool {
            workers,
            shared,
            inline: Screen {
                format,
                sniffer: SysmonSniffer::new(),
                screener: screener.clone(),
            },
            own: VecDeque::new(),
            input_may_wait: false,
        })
    }

    /// Starts reading `lines`: the workers start at once. Then [`next`](Self::next)
    /// until it gives [`Step::End`] (or [`stop`](Self::stop)), then
    /// [`take_input`](Self::take_input).
    pub fn start(&mut self, lines: Lines) -> io::Result<()> {
        // Under the input's lock no read is under way: a batch a worker was reading
        // when the last input was stopped has its turn now, and is dropped here.
        let shared = Arc::clone(&self.shared);
        let mut input = lock(&shared.input)?;
        self.drop_turns()?;
        self.input_may_wait = lines.may_wait;
        input.may_wait = lines.may_wait;
        self.shared.stopped.store(false, Ordering::Release);
        lock(&self.shared.queue)?.consumed = 0;
        input.lines = Some(lines);
        input.open = true;
        drop(input);
        self.shared.opened.notify_all();
        Ok(())
    }

    /// The next batch of the input, screened (waits for a worker, or reads and screens
    /// batches itself meanwhile), or the input's end.
    pub fn next(&mut self) -> io::Result<Step> {
        let mut busy_since = None;
        loop {
            let turn = lock(&self.shared.queue)?.turns.pop_front();
            match turn {
                Some(Turn::End(end)) => return Ok(Step::End(end)),
                Some(Turn::Own) => {
                    return self
                        .own
                        .pop_front()
                        .map(Step::Batch)
                        .ok_or_else(worker_failed);
                }
                Some(Turn::Worker(n)) => return self.batch_of_worker(n).map(Step::Batch),
                // Nothing read yet: read a batch here, or, while a worker reads (it
                // may wait long on a pipe), wait for its turn. If no input is open its
                // end is queued, unless there is no input at all. A failure to read (a
                // worker died holding the input's lock) comes out after the batches
                // read before it.
                None => match self.read_own()? {
                    OwnRead::Read => busy_since = None,
                    OwnRead::Busy => {
                        let since = *busy_since.get_or_insert_with(Instant::now);
                        if since.elapsed() < POLL_FOR && !self.input_may_wait {
                            std::hint::spin_loop();
                        } else {
                            self.await_turn()?;
                        }
                    }
                    end @ (OwnRead::Closed | OwnRead::Failed) => {
                        if lock(&self.shared.queue)?.turns.is_empty() {
                            return Err(match end {
                                OwnRead::Failed => worker_failed(),
                                _ => io::Error::other("no input is being read"),
                            });
                        }
                    }
                },
            }
        }
    }

    /// Worker `n`'s next batch; while it is not screened yet, reads and screens batches
    /// here (up to [`OWN_AHEAD`], and only from an input whose reads cannot wait
    /// indefinitely).
    fn batch_of_worker(&mut self, n: usize) -> io::Result<Batch> {
        let mut batch = loop {
            match self.inbox(n)?.from.try_recv() {
                Ok(batch) => break batch,
                Err(TryRecvError::Disconnected) => return Err(worker_failed()),
                Err(TryRecvError::Empty) => {}
            }
            if self.own.len() >= OWN_AHEAD
                || self.input_may_wait
                || !matches!(self.read_own()?, OwnRead::Read)
            {
                break self.inbox(n)?.receive().map_err(|_| worker_failed())?;
            }
        };
        // Handed over unscreened (from an input that may wait: `work`).
        if !batch.screened {
            self.inline.batch(&mut batch);
        }
        Ok(batch)
    }

    fn inbox(&mut self, n: usize) -> io::Result<&mut Inbox<Batch>> {
        self.workers
            .get_mut(n)
            .and_then(|w| w.done.as_mut())
            .ok_or_else(worker_failed)
    }

    /// Reads a batch here and screens it, unless another thread holds the input (it
    /// reads: the batch the detecting thread needs is on its way, or its turn is), no
    /// input is open, or a worker died reading (the batches read before are on their
    /// way, and the error comes when they are out: `next`).
    fn read_own(&mut self) -> io::Result<OwnRead> {
        let mut input = match self.shared.input.try_lock() {
            Ok(input) => input,
            Err(TryLockError::WouldBlock) => return Ok(OwnRead::Busy),
            Err(TryLockError::Poisoned(_)) => return Ok(OwnRead::Failed),
        };
        if !input.open || self.shared.stopped.load(Ordering::Acquire) {
            return Ok(OwnRead::Closed);
        }
        // A worker may have recorded a turn since the caller looked (turns are recorded
        // under the input's lock, so none can be now): a read that may wait is not
        // started ahead of a batch already read.
        if self.input_may_wait && !lock(&self.shared.queue)?.turns.is_empty() {
            return Ok(OwnRead::Busy);
        }
        let batch = read_batch(&self.shared, &mut input, Turn::Own)?;
        drop(input);
        if let Some(mut batch) = batch {
            self.inline.batch(&mut batch);
            self.own.push_back(batch);
        }
        Ok(OwnRead::Read)
    }

    /// Waits until a turn is recorded, or a moment: a worker that reads records one
    /// when its read ends; one that died reading never will (then `read_own` says so).
    fn await_turn(&self) -> io::Result<()> {
        let mut queue = lock(&self.shared.queue)?;
        if queue.turns.is_empty() {
            queue.waiting = true;
            queue = self
                .shared
                .recorded
                .wait_timeout(queue, Duration::from_millis(10))
                .map_err(|_| worker_failed())?
                .0;
            queue.waiting = false;
        }
        Ok(())
    }

    /// Bytes of the input consumed so far (by every thread).
    pub fn consumed(&self) -> u64 {
        lock(&self.shared.queue).map_or(0, |q| q.consumed)
    }

    /// Gives a processed batch's buffers back for reuse (a buffer a long line made
    /// big is given back to the allocator).
    pub fn recycle(&mut self, mut batch: Batch) {
        if batch.data.len() > 2 * BATCH_BYTES {
            batch.data = Vec::new();
        }
        if let Ok(mut queue) = lock(&self.shared.queue) {
            queue.spare.push(batch);
        }
    }

    /// Stops reading the input and drops the batches read (after a `--strict` stop),
    /// without waiting for a read under way (a worker may be blocked reading a pipe
    /// that stays open: the run must end anyway; its batch is dropped by the next
    /// [`start`](Self::start)).
    pub fn stop(&mut self) -> io::Result<()> {
        self.shared.stopped.store(true, Ordering::Release);
        self.drop_turns()
    }

    /// Drops the batches whose turns are recorded (each worker's are on its channel,
    /// or about to be: it sends what it read before it reads again).
    fn drop_turns(&mut self) -> io::Result<()> {
        let turns: Vec<Turn> = lock(&self.shared.queue)?.turns.drain(..).collect();
        for turn in turns {
            match turn {
                Turn::Worker(n) => {
                    let batch = self.inbox(n)?.receive().map_err(|_| worker_failed())?;
                    self.recycle(batch);
                }
                Turn::Own => {
                    if let Some(batch) = self.own.pop_front() {
                        self.recycle(batch);
                    }
                }
                Turn::End(_) => {}
            }
        }
        Ok(())
    }

    /// The input, back (after its end or [`stop`](Self::stop)); waits for a read
    /// under way, and drops what it read.
    pub fn take_input(&mut self) -> io::Result<Option<Lines>> {
        let shared = Arc::clone(&self.shared);
        let mut input = lock(&shared.input)?;
        self.drop_turns()?;
        input.open = false;
        Ok(input.lines.take())
    }
}

impl Drop for Pool {
    /// Stops the workers. Never waits for a read under way: a worker blocked reading a
    /// pipe that stays open would hold up the end of the run (after a `--strict` stop or
    /// a write error) for as long as the pipe is silent. Then its thread is left to the
    /// end of the process; otherwise every worker is joined.
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.stopped.store(true, Ordering::Release);
        let idle = match self.shared.input.try_lock() {
            Ok(mut input) => {
                input.open = false;
                true
            }
            Err(TryLockError::Poisoned(input)) => {
                input.into_inner().open = false;
                true
            }
            Err(TryLockError::WouldBlock) => false,
        };
        self.shared.opened.notify_all();
        for worker in &mut self.workers {
            worker.done = None; // a worker blocked sending gives up
        }
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take()
                && (idle || thread.is_finished())
            {
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
            let lines =
                Lines::new(Box::new(Failing(io::Cursor::new(data.clone()))), 1 << 20).unwrap();
            pool.start(lines).unwrap();
            let (seen, end) =
                read_all(&mut pool, |pre| {
                    // No `@timestamp`: the validating prefilter sends them to the decoder,
                    // which refuses them.
                    assert!(pre.is_some_and(|(p, d)| !p.sysmon
                        && p.screening.is_decode()
                        && d.is_decoded()));
                });
            let seen: Vec<String> = seen
                .into_iter()
                .map(|l| String::from_utf8(l).unwrap())
                .collect();
            let error = end.unwrap_err();
            assert_eq!(error.to_string(), "disk on fire");
            assert_eq!(seen.len(), 20_000, "{threads} threads");
            assert!(
                seen.iter()
                    .zip(0..)
                    .all(|(l, n)| *l == format!("{{\"n\":{n}}}"))
            );
            assert!(pool.take_input().unwrap().is_some());
            assert!(pool.next().is_err(), "no input: an error, not a wait");
        }
    }

    /// Hands out at most a pseudo-random 1..=`max` bytes per read, as a pipe does
    /// (`max` 1: a byte at a time).
    pub(super) struct Pieces {
        pub(super) data: io::Cursor<Vec<u8>>,
        pub(super) seed: u64,
        pub(super) max: u64,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.seed = self.seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            let n = (1 + (self.seed >> 33) % self.max) as usize;
            let n = n.min(buf.len());
            self.data.read(&mut buf[..n])
        }
    }

    fn screener() -> Screener {
        let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
        EcsPipeline::new(detector, Prefiltering::Validating).screener()
    }

    /// Every line of the pool's current input, in order, until its end.
    fn read_all(
        pool: &mut Pool,
        mut check: impl FnMut(Option<(&Pre, &Decoded)>),
    ) -> (Vec<Vec<u8>>, io::Result<()>) {
        let mut seen = Vec::new();
        let end = loop {
            let batch = match pool.next().unwrap() {
                Step::Batch(batch) => batch,
                Step::End(end) => break end,
            };
            for (line, pre) in batch.lines() {
                check(pre);
                match line {
                    Line::Text(text) => seen.push(text.to_vec()),
                    Line::TooLong(n) => seen.push(format!("<{n}>").into_bytes()),
                }
            }
            pool.recycle(batch);
        };
        (seen, end)
    }

    fn numbered(n: usize, width: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..n {
            data.extend_from_slice(
                format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % width)).as_bytes(),
            );
        }
        data
    }

    /// One pool reads input after input (as the CLI does with several files): each
    /// one's lines come out whole and in order, whatever the read sizes, with the
    /// bytes consumed counted; an empty input, one without a final newline and a gzip
    /// one included. Every thread reads, so this also checks the order in which batches
    /// read by different threads are handed over.
    #[test]
    fn inputs_in_turn_each_come_out_whole_and_in_order() {
        let plain = numbered(30_000, 300);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &plain).unwrap();
        let gz = gz.finish().unwrap();
        let mut unterminated = numbered(5_000, 40);
        unterminated.pop();
        let inputs: [(&[u8], u64); 5] = [
            (&plain, 1 << 16),
            (b"", 7),
            (&unterminated, 3),
            (&gz, 1 << 12),
            (&plain, 100_000),
        ];
        for threads in [0, 1, 3] {
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener()).unwrap();
            for (n, &(data, max)) in inputs.iter().enumerate() {
                let reader = Pieces {
                    data: io::Cursor::new(data.to_vec()),
                    seed: n as u64,
                    max,
                };
                pool.start(Lines::new(Box::new(reader), 1 << 20).unwrap())
                    .unwrap();
                let (seen, end) = read_all(&mut pool, |_| {});
                end.unwrap();
                let text = if n == 3 { &plain } else { data };
                let expected: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
                let expected = match expected.split_last() {
                    Some(([], rest)) => rest.to_vec(),
                    _ => expected,
                };
                assert_eq!(seen.len(), expected.len(), "input {n}, {threads} threads");
                assert!(seen.iter().zip(&expected).all(|(a, b)| a == b), "input {n}");
                let lines = pool.take_input().unwrap().unwrap();
                assert_eq!(lines.consumed, text.len() as u64, "input {n}");
            }
        }
    }

    /// Gives `data` in pieces, then waits (as a pipe whose writer is silent) until
    /// `release` is sent, then ends.
    struct Silent {
        data: io::Cursor<Vec<u8>>,
        release: std::sync::mpsc::Receiver<()>,
    }

    impl Read for Silent {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let max = buf.len().min(3000);
            match self.data.read(&mut buf[..max])? {
                0 => {
                    let _ = self.release.recv();
                    Ok(0)
                }
                n => Ok(n),
            }
        }
    }

    /// Every line an input has delivered comes out while the writer is silent: no
    /// thread holds a batch that is read and screened behind a read that waits (the
    /// alerts of a live stream must not wait for its next line).
    #[test]
    fn lines_delivered_come_out_while_the_input_waits() {
        for (threads, lines) in [0, 1, 2, 3]
            .into_iter()
            .cycle()
            .zip((1..40).map(|n| n * 97))
        {
            let data = numbered(lines, 200);
            let expected: Vec<&[u8]> = data
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            let (release, wait) = std::sync::mpsc::channel();
            let reader = Silent {
                data: io::Cursor::new(data.clone()),
                release: wait,
            };
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener()).unwrap();
            pool.start(Lines::new(Box::new(reader), 1 << 20).unwrap())
                .unwrap();
            // If the lines do not come out, the watchdog ends the input after 2 s (and
            // says so), so that the test fails instead of hanging.
            let released = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let watchdog = {
                let (released, release) = (released.clone(), release.clone());
                std::thread::spawn(move || {
                    std::thread::sleep(std::time::Duration::from_secs(2));
                    released.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = release.send(());
                })
            };
            let mut seen = 0;
            while seen < expected.len() {
                let Step::Batch(batch) = pool.next().unwrap() else {
                    panic!("{threads} threads: the input ended early");
                };
                for (line, _) in batch.lines() {
                    let Line::Text(text) = line else { panic!() };
                    assert_eq!(text, expected[seen]);
                    seen += 1;
                }
                pool.recycle(batch);
            }
            assert!(
                !released.load(std::sync::atomic::Ordering::SeqCst),
                "{threads} threads: lines held until the input went on"
            );
            let _ = release.send(());
            let _ = release.send(());
            assert!(matches!(pool.next().unwrap(), Step::End(Ok(()))));
            drop(watchdog);
        }
    }

    /// A `--strict` stop in the middle of an input drops what was read ahead of it and
    /// leaves the pool ready for another input, which comes out whole.
    #[test]
    fn a_stopped_input_leaves_the_pool_ready_for_the_next() {
        let first = numbered(50_000, 100);
        let second = numbered(20_000, 10);
        for threads in [0, 1, 3] {
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener()).unwrap();
            pool.start(Lines::new(Box::new(io::Cursor::new(first.clone())), 1 << 20).unwrap())
                .unwrap();
            for _ in 0..3 {
                let Step::Batch(batch) = pool.next().unwrap() else {
                    panic!("the first input ended early");
                };
                pool.recycle(batch);
            }
            // Time for the workers to read and screen ahead (the stop must drop what
            // they did; the test holds without it, but may then not exercise that).
            std::thread::sleep(std::time::Duration::from_millis(50));
            pool.stop().unwrap();
            // Once the input is taken back (which waits for a read under way), nothing
            // read before the stop is left in a worker's channel (it would be taken
            // for a batch of the next input, or block that worker).
            assert!(pool.take_input().unwrap().is_some());
            std::thread::sleep(std::time::Duration::from_millis(20));
            for n in 0..threads {
                assert!(matches!(
                    pool.inbox(n).unwrap().from.try_recv(),
                    Err(TryRecvError::Empty)
                ));
            }
            assert!(pool.own.is_empty());
            pool.start(Lines::new(Box::new(io::Cursor::new(second.clone())), 1 << 20).unwrap())
                .unwrap();
            let (seen, end) = read_all(&mut pool, |_| {});
            end.unwrap();
            let expected: Vec<&[u8]> = second
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .collect();
            assert_eq!(seen.len(), expected.len(), "{threads} threads");
            assert!(seen.iter().zip(&expected).all(|(a, b)| a == b));
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

/// Adversarial review of the shared reader (every thread reads the input under
/// `Input`'s lock, turns recorded in `Queue`): order, loss, leaks between inputs,
/// `stop` with batches in flight and workers blocked sending, the bound on batches
/// alive, and a reader that panics in a worker.
#[cfg(test)]
mod review_shared_reader {
    use std::io::Read;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use shareexec::input::{EcsPipeline, Prefiltering};
    use shareexec::{Config, Detector, Rule};

    use super::*;

    fn screener() -> Screener {
        let detector = Detector::new(Arc::new(Rule::hardened()), Config::default()).unwrap();
        EcsPipeline::new(detector, Prefiltering::Validating).screener()
    }

    /// A small deterministic generator.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 33) % n.max(1)
        }
    }

    /// The lines `Lines` gives for `data` (`\n` ends, a `\r` before it dropped, a last
    /// line without `\n` kept).
    fn expected_lines(data: &[u8]) -> Vec<Vec<u8>> {
        let mut lines: Vec<Vec<u8>> = data
            .split(|&b| b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .collect();
        if data.is_empty() || data.ends_with(b"\n") {
            lines.pop();
        }
        lines
    }

    /// An input: `n` numbered lines tagged with `tag` (so a line of one input can not
    /// pass for a line of another), some CRLF, some empty, lengths varied.
    fn input(tag: u64, n: u64, rng: &mut Lcg) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..n {
            match rng.below(10) {
                0 => {}
                _ => {
                    let pad = "x".repeat(rng.below(400) as usize);
                    data.extend_from_slice(
                        format!("{{\"in\":{tag},\"n\":{i},\"p\":\"{pad}\"}}").as_bytes(),
                    );
                }
            }
            data.extend_from_slice(if rng.below(4) == 0 { b"\r\n" } else { b"\n" });
        }
        if rng.below(3) == 0 {
            data.extend_from_slice(format!("{{\"in\":{tag},\"last\":1}}").as_bytes());
        }
        data
    }

    /// The next step, the detecting thread taking its time now and then (so workers
    /// fill their channels and block sending).
    fn next_lines(pool: &mut Pool, rng: &mut Lcg, slow: bool) -> Option<Vec<Vec<u8>>> {
        if slow && rng.below(4) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        }
        match pool.next().unwrap() {
            Step::End(end) => {
                end.unwrap();
                None
            }
            Step::Batch(batch) => {
                let lines = batch
                    .lines()
                    .map(|(line, _)| match line {
                        Line::Text(text) => text.to_vec(),
                        Line::TooLong(n) => format!("<{n}>").into_bytes(),
                    })
                    .collect();
                pool.recycle(batch);
                Some(lines)
            }
        }
    }

    /// Batches a pool has made: once every one is back, all are spares.
    fn batches_made(pool: &Pool) -> usize {
        lock(&pool.shared.queue).unwrap().spare.len()
    }

    /// One pool per thread count (0..=8) reads a long series of inputs: empty ones, one
    /// line, a few, many; delivered a byte at a time or in bigger pieces; each read to
    /// its end or stopped (`--strict`) after a few batches, at once or after a pause
    /// that lets the workers fill their channels. Every input's lines come out whole,
    /// in order, once, none of an earlier input among them (every line is tagged with
    /// its input), the bytes consumed counted; a stopped input's lines up to the stop
    /// are its first ones. And the pool never made more batches than the design's
    /// bound: `workers × (WORKER_AHEAD + 1) + OWN_AHEAD + 1`.
    #[test]
    fn review_inputs_in_a_row_with_stops_come_out_whole_for_every_thread_count() {
        let screener = screener();
        for threads in 0..=8usize {
            let mut rng = Lcg(threads as u64 + 11);
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener).unwrap();
            for tag in 0..24u64 {
                let n = match rng.below(5) {
                    0 => 0,
                    1 => 1,
                    2 => 1 + rng.below(50),
                    _ => 500 + rng.below(4_000),
                };
                let data = input(tag, n, &mut rng);
                // A byte at a time only for small inputs (it is slow).
                let max = match rng.below(3) {
                    0 if data.len() < 40_000 => 1,
                    0 | 1 => 1 + rng.below(5_000),
                    _ => 1 << 20,
                };
                let reader = super::tests::Pieces {
                    data: io::Cursor::new(data.clone()),
                    seed: tag,
                    max,
                };
                let expected = expected_lines(&data);
                pool.start(Lines::new(Box::new(reader), 1 << 20).unwrap())
                    .unwrap();
                let slow = rng.below(2) == 0;
                let stop_after = match rng.below(3) {
                    0 => Some(rng.below(4)),
                    _ => None,
                };
                let mut seen: Vec<Vec<u8>> = Vec::new();
                let mut batches = 0;
                let ended = loop {
                    if stop_after == Some(batches) {
                        if slow {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        pool.stop().unwrap();
                        break false;
                    }
                    match next_lines(&mut pool, &mut rng, slow) {
                        None => break true,
                        Some(lines) => seen.extend(lines),
                    }
                    batches += 1;
                };
                let what = format!(
                    "{threads} threads, input {tag} ({} lines, reads of 1..={max}, stop after \
                     {stop_after:?}, slow {slow})",
                    expected.len()
                );
                if ended {
                    assert_eq!(seen.len(), expected.len(), "{what}");
                    assert!(seen == expected, "{what}: lines differ");
                } else {
                    assert!(seen.len() <= expected.len(), "{what}");
                    assert!(seen[..] == expected[..seen.len()], "{what}: lines differ");
                }
                // Once the input is taken back (which waits for a read under way),
                // nothing is left in flight: no turn, no batch of the detecting
                // thread's, none in a worker's channel.
                let lines = pool.take_input().unwrap().unwrap();
                assert!(lock(&pool.shared.queue).unwrap().turns.is_empty(), "{what}");
                assert!(pool.own.is_empty(), "{what}");
                for n in 0..threads {
                    assert!(
                        matches!(
                            pool.inbox(n).unwrap().from.try_recv(),
                            Err(TryRecvError::Empty)
                        ),
                        "{what}: worker {n} has a batch left"
                    );
                }
                if ended {
                    assert_eq!(lines.consumed, data.len() as u64, "{what}");
                }
                let bound = threads * (WORKER_AHEAD + 1) + OWN_AHEAD + 1;
                let made = batches_made(&pool);
                assert!(made <= bound, "{what}: {made} batches made, bound {bound}");
            }
        }
    }

    /// A detecting thread much slower than the workers (they all wait to send): the
    /// batches alive stay within `workers × (WORKER_AHEAD + 1) + OWN_AHEAD + 1`.
    #[test]
    fn review_batches_alive_stay_within_the_bound_behind_a_slow_detecting_thread() {
        let screener = screener();
        let mut rng = Lcg(5);
        let data = input(0, 30_000, &mut rng);
        for threads in [1, 2, 4, 8] {
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener).unwrap();
            pool.start(Lines::new(Box::new(io::Cursor::new(data.clone())), 1 << 20).unwrap())
                .unwrap();
            let mut seen = 0;
            loop {
                // Each batch waited for: every worker is ahead.
                std::thread::sleep(Duration::from_micros(300));
                match pool.next().unwrap() {
                    Step::End(end) => break end.unwrap(),
                    Step::Batch(batch) => {
                        seen += batch.lines().count();
                        pool.recycle(batch);
                    }
                }
            }
            assert_eq!(seen, expected_lines(&data).len());
            let bound = threads * (WORKER_AHEAD + 1) + OWN_AHEAD + 1;
            let made = batches_made(&pool);
            assert!(
                made <= bound,
                "{threads} threads: {made} batches made, bound {bound}"
            );
        }
    }

    /// Gives `data`; then a read by a worker panics, and one by the detecting thread
    /// gives an empty line a millisecond later (so that a worker gets to read: the
    /// detecting thread reads only while no batch is ready), up to `fillers` of them.
    struct Panicking {
        data: io::Cursor<Vec<u8>>,
        fillers: u32,
        in_worker: Arc<AtomicBool>,
    }

    impl Read for Panicking {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let max = buf.len().min(4096);
            let n = self.data.read(&mut buf[..max])?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let name = std::thread::current().name().map(str::to_owned);
            if name.as_deref().is_some_and(|n| n.starts_with("screen-")) {
                self.in_worker.store(true, Ordering::SeqCst);
                panic!("review: the reader panics in a worker");
            }
            if self.fillers == 0 {
                return Ok(0);
            }
            self.fillers -= 1;
            std::thread::sleep(Duration::from_millis(1));
            buf[0] = b'\n';
            Ok(1)
        }
    }

    /// A worker that panics while it reads (it holds the input's lock: the lock is
    /// poisoned) is an error for the detecting thread: never a panic of its own, nor a
    /// wait; every line before it came out, in order; after it the pool still answers
    /// (errors) and drops without hanging.
    #[test]
    fn review_a_worker_panicking_in_a_read_is_an_error_not_a_panic_or_a_hang() {
        let screener = screener();
        let mut rng = Lcg(9);
        let mut data = input(0, 3_000, &mut rng);
        if !data.ends_with(b"\n") {
            data.push(b'\n');
        }
        let expected = expected_lines(&data);
        for threads in (1..=8).cycle().take(24) {
            let in_worker = Arc::new(AtomicBool::new(false));
            let mut pool = Pool::new(threads, InputFormat::Auto, &screener).unwrap();
            let reader = Panicking {
                data: io::Cursor::new(data.clone()),
                fillers: 10_000,
                in_worker: in_worker.clone(),
            };
            pool.start(Lines::new(Box::new(reader), 1 << 20).unwrap())
                .unwrap();
            let mut seen: Vec<Vec<u8>> = Vec::new();
            let end = catch_unwind(AssertUnwindSafe(|| {
                loop {
                    match pool.next() {
                        Err(e) => break Err(e),
                        Ok(Step::End(end)) => break Ok(end),
                        Ok(Step::Batch(batch)) => {
                            seen.extend(batch.lines().map(|(line, _)| match line {
                                Line::Text(text) => text.to_vec(),
                                Line::TooLong(n) => format!("<{n}>").into_bytes(),
                            }));
                            pool.recycle(batch);
                        }
                    }
                }
            }));
            assert!(
                in_worker.load(Ordering::SeqCst),
                "{threads} threads: no worker read"
            );
            let end = end.unwrap_or_else(|_| panic!("{threads} threads: the pool panicked"));
            assert!(end.is_err(), "{threads} threads: {end:?}");
            assert!(seen.len() >= expected.len(), "{threads} threads");
            assert!(seen[..expected.len()] == expected[..], "{threads} threads");
            assert!(seen[expected.len()..].iter().all(Vec::is_empty));
            // Every read after it is an error too (the lock is poisoned); a stop, which
            // takes no lock of the input, neither panics nor waits.
            assert!(catch_unwind(AssertUnwindSafe(|| pool.next().is_err())).unwrap_or(false));
            assert!(catch_unwind(AssertUnwindSafe(|| pool.stop().is_ok())).unwrap_or(false));
            drop(pool);
        }
    }
}
