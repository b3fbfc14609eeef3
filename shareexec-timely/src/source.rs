//! Input partitions: one reader per file, giving each candidate event its epoch.
//!
//! Event time becomes timely time: an event's *epoch* is its `@timestamp` divided by
//! the epoch length. A partition promises, through its capability, that it will send
//! nothing before its **frontier** = (newest epoch read) − (lateness in epochs): an
//! event at most the lateness behind its partition's newest event is sent at its own
//! epoch, a later one at the frontier (the detector then reports it late, and still
//! uses it). The dataflow's frontier, the least over all partitions, is therefore the
//! watermark.
//!
//! Only candidates cross the network (writes and executions the rule can use, with a
//! `host.id`, see [`shareexec::partition::is_candidate`]), as their raw JSON line with
//! the worker that owns their host's key group.

use std::io::{self, BufRead};
use std::path::Path;

use serde::{Deserialize, Serialize};
use shareexec::Rule;
use shareexec::input::decode_line;
use shareexec::partition::{is_candidate, key_group, key_group_owner, key_hash};

use crate::checkpoint::PartState;
use crate::corpus::open;
use crate::options::Options;

/// A candidate event on its way to the worker that owns its host.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    /// The worker owning the host's key group.
    pub owner: u32,
    /// `@timestamp`, nanoseconds (the first sort key within an epoch).
    pub ts: i64,
    /// 1-based line number in its partition.
    pub line: u64,
    /// The partition's index.
    pub part: u32,
    /// The line itself, decoded again by the detecting worker.
    pub text: String,
}

impl Candidate {
    /// The order in which a worker feeds one epoch's events to its detector: by
    /// timestamp, then line, then partition. For partitions made round-robin from
    /// one time-ordered stream (line i in part i mod k) this is exactly the original
    /// order, so ties are broken as a single detector would break them.
    pub fn order_key(&self) -> (i64, u64, u32) {
        (self.ts, self.line, self.part)
    }

    /// The detector's `Position` for the event: partition and line in one number.
    pub fn position(&self) -> u64 {
        position(self.part, self.line)
    }
}

/// Partition and line in one `Position` (24 bits of partition, 40 of line).
pub fn position(part: u32, line: u64) -> u64 {
    (u64::from(part) << 40) | (line & ((1 << 40) - 1))
}

/// The partition and line of a `Position`.
pub fn locate(position: u64) -> (u32, u64) {
    ((position >> 40) as u32, position & ((1 << 40) - 1))
}

/// What one call to [`Partition::read`] ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// More to read.
    Open,
    /// Finished (end of file, or the stop epoch reached): where it stopped.
    Done(PartState),
}

/// One input partition being read.
pub struct Partition {
    /// Its index among all inputs.
    pub index: u32,
    reader: Box<dyn BufRead + Send>,
    buf: Vec<u8>,
    line: u64,
    max_seen: Option<u64>,
    frontier: u64,
    lateness: u64,
    /// Resuming: lines before it are skipped unread (all processed before the cut).
    skip_below: u64,
    /// Resuming: lines before it were read before the cut; only those at or after
    /// the cut's epoch are sent.
    held_below: u64,
    stop: Option<u64>,
    first_after: Option<u64>,
    /// Lines that were not valid events (skipped).
    pub bad_lines: u64,
    /// Lines read.
    pub lines: u64,
    /// Candidates sent.
    pub sent: u64,
}

impl Partition {
    /// Opens partition `index` at `path`; `resume` is where a checkpoint's reader
    /// stopped and `floor` the checkpoint's epoch.
    pub fn open(
        index: u32,
        path: &Path,
        options: &Options,
        resume: Option<(PartState, u64)>,
    ) -> io::Result<Partition> {
        let (skip_below, held_below, max_seen, floor) = match resume {
            Some((s, floor)) => (s.first_after, s.resume_line, s.max_seen, floor),
            None => (0, 0, None, 0),
        };
        let lateness = options.lateness_epochs();
        Ok(Partition {
            index,
            reader: open(path)?,
            buf: Vec::new(),
            line: 0,
            max_seen,
            frontier: floor.max(max_seen.map_or(0, |m| m.saturating_sub(lateness))),
            lateness,
            skip_below,
            held_below,
            stop: options.stop_at.map(|t| options.epoch_of(t)),
            first_after: None,
            bad_lines: 0,
            lines: 0,
            sent: 0,
        })
    }

    /// The least epoch this partition may still send at.
    pub fn frontier(&self) -> u64 {
        self.frontier
    }

    /// Reads up to `max_lines` lines, pushing `(epoch to send at, candidate)` to `out`.
    pub fn read(
        &mut self,
        max_lines: usize,
        options: &Options,
        rule: &Rule,
        peers: u32,
        out: &mut Vec<(u64, Candidate)>,
    ) -> io::Result<Status> {
        for _ in 0..max_lines {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                let end = self.line + 1;
                return Ok(Status::Done(self.state(end)));
            }
            self.line += 1;
            self.lines += 1;
            if self.line < self.skip_below {
                continue;
            }
            let text = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            let record = match decode_line(text) {
                Ok(Some(r)) => r,
                Ok(None) => continue,
                Err(_) => {
                    self.bad_lines += 1;
                    continue;
                }
            };
            let epoch = options.epoch_of(record.timestamp());
            let time = if self.line < self.held_below {
                // Read before the cut, but at or after its epoch: not processed yet.
                if epoch < self.frontier {
                    continue;
                }
                // ... and held back again when it is after this run's stop, too.
                if self.stop.is_some_and(|stop| epoch >= stop) {
                    self.first_after.get_or_insert(self.line);
                    continue;
                }
                epoch
            } else {
                let newest = self.max_seen.map_or(epoch, |m| m.max(epoch));
                let frontier = self.frontier.max(newest.saturating_sub(self.lateness));
                if self.stop.is_some_and(|stop| frontier >= stop) {
                    // This line would move the partition past the cut: stop before it.
                    return Ok(Status::Done(self.state(self.line)));
                }
                self.max_seen = Some(newest);
                self.frontier = frontier;
                let time = epoch.max(frontier);
                if self.stop.is_some_and(|stop| time >= stop) {
                    self.first_after.get_or_insert(self.line);
                    continue;
                }
                time
            };
            let position = position(self.index, self.line);
            let host = record
                .events(position)
                .find(|e| is_candidate(rule, e))
                .and_then(|e| e.host_id());
            let Some(host) = host else { continue };
            let groups = options.key_groups;
            let owner = key_group_owner(key_group(key_hash(host), groups), groups, peers);
            out.push((
                time,
                Candidate {
                    owner,
                    ts: record.timestamp().as_nanos(),
                    line: self.line,
                    part: self.index,
                    text: String::from_utf8_lossy(text).into_owned(),
                },
            ));
            self.sent += 1;
        }
        Ok(Status::Open)
    }

    fn state(&self, resume_line: u64) -> PartState {
        PartState {
            resume_line,
            first_after: self.first_after.unwrap_or(resume_line),
            max_seen: self.max_seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_round_trip() {
        for (part, line) in [(0, 1), (3, 250_000), (0xff_ffff, (1 << 40) - 1)] {
            assert_eq!(locate(position(part, line)), (part, line));
        }
    }
}
