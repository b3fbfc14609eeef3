//! Checkpoints: a consistent cut of the whole cluster at an epoch boundary, saved so
//! that any number of workers can resume from it.
//!
//! A directory holds:
//!
//! - `manifest.json` — the cut's epoch and everything that must not change across
//!   the restart (inputs, semantics, lateness, epoch length, key groups), written by
//!   worker 0;
//! - `part-P.json` — for each input partition, where its reader stopped: the first
//!   line it did not read, the first line it read but held back (its epoch is at or
//!   after the cut) and its newest epoch, written by the partition's reader;
//! - `state-wW-kgG.sxck` — worker W's detector state for key group G (a
//!   [`shareexec::Detector::split`] part); worker W also puts its counters in key
//!   group 0's file;
//! - `done-wW` — written last by worker W: a checkpoint is complete when every
//!   worker's marker is there.
//!
//! On resume, worker W of the new cluster merges every `state-*-kgG.sxck` file of the
//! key groups it now owns ([`shareexec::partition::key_group_range`]), whatever
//! worker wrote it.

use std::fs;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shareexec::partition::{key_group, key_hash};
use shareexec::{Config, Detector, Rule};

use crate::options::Options;

/// What must not change between the run that saved a checkpoint and the run that
/// resumes from it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Format of this directory.
    pub format: u32,
    /// The cut: every event of an earlier epoch was processed, none of a later one.
    pub stop_epoch: u64,
    /// Epoch length, nanoseconds.
    pub epoch_ns: i64,
    /// Lateness, nanoseconds.
    pub lateness_ns: i64,
    /// `hardened` or `elasticsearch`.
    pub semantics: String,
    /// Key groups.
    pub key_groups: u32,
    /// Workers of the run that saved it.
    pub workers: usize,
    /// File names of the input partitions, in order.
    pub inputs: Vec<String>,
}

impl Manifest {
    /// The manifest of a run with `options` and `workers`, stopping at `stop_epoch`.
    pub fn new(options: &Options, workers: usize, stop_epoch: u64) -> Manifest {
        Manifest {
            format: 1,
            stop_epoch,
            epoch_ns: options.epoch.as_nanos(),
            lateness_ns: options.max_lateness.as_nanos(),
            semantics: options.semantics.name().into(),
            key_groups: options.key_groups,
            workers,
            inputs: options
                .inputs
                .iter()
                .map(|p| {
                    p.file_name()
                        .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into())
                })
                .collect(),
        }
    }
}

/// Where one input partition's reader stopped.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartState {
    /// The first line (1-based) not read.
    pub resume_line: u64,
    /// The first line read but held back because its epoch is at or after the cut
    /// (`resume_line` if none): lines before it were all processed.
    pub first_after: u64,
    /// The newest epoch read (drives the partition's frontier).
    pub max_seen: Option<u64>,
}

fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, bytes).map_err(|e| at(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| at(path, e))
}

fn json_err(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// An error about `path`, naming it.
fn at(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Checks that `dir` can take a new checkpoint: missing, or an empty directory.
/// Anything in it would mix with the new checkpoint (an older run's state files of
/// other workers or key groups are merged on resume).
pub fn check_empty(dir: &Path) -> io::Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(()),
            Some(_) => Err(invalid(format!(
                "--checkpoint-dir {} is not empty: use a new directory for each checkpoint",
                dir.display()
            ))),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(at(dir, e)),
    }
}

/// Saves the manifest (worker 0).
pub fn save_manifest(dir: &Path, manifest: &Manifest) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
    let text = serde_json::to_vec_pretty(manifest).map_err(json_err)?;
    write_atomic(&dir.join("manifest.json"), &text)
}

/// Saves a partition's read position.
pub fn save_part(dir: &Path, part: usize, state: &PartState) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
    let text = serde_json::to_vec(state).map_err(json_err)?;
    write_atomic(&dir.join(format!("part-{part}.json")), &text)
}

/// Saves `worker`'s detector split by key group: one file per key group that holds
/// hosts, and key group 0's always (it carries the counters).
pub fn save_detector(
    dir: &Path,
    worker: usize,
    key_groups: u32,
    detector: &Detector,
) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(|e| at(dir, e))?;
    let group_of = |host: &str| key_group(key_hash(host), key_groups) as usize;
    let mut used = vec![false; key_groups.max(1) as usize];
    used[0] = true;
    for host in detector.host_ids() {
        used[group_of(host)] = true;
    }
    let parts = detector
        .split(used.len(), group_of)
        .map_err(|e| io::Error::other(e.to_string()))?;
    for (group, bytes) in parts.iter().enumerate() {
        if used[group] {
            write_atomic(&dir.join(format!("state-w{worker}-kg{group}.sxck")), bytes)?;
        }
    }
    Ok(())
}

/// Marks `worker`'s part of the checkpoint complete.
pub fn save_done(dir: &Path, worker: usize) -> io::Result<()> {
    write_atomic(&dir.join(format!("done-w{worker}")), b"")
}

/// A complete checkpoint, opened for resuming.
#[derive(Debug)]
pub struct Checkpoint {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl Checkpoint {
    /// Opens the checkpoint in `dir` for a run with `options`: it must be complete and
    /// made with the same inputs, semantics, lateness, epoch and key groups.
    pub fn open(dir: &Path, options: &Options) -> io::Result<Checkpoint> {
        let path = dir.join("manifest.json");
        let text = fs::read(&path).map_err(|e| at(&path, e))?;
        let manifest: Manifest =
            serde_json::from_slice(&text).map_err(|e| at(&path, json_err(e)))?;
        let mine = Manifest::new(options, manifest.workers, manifest.stop_epoch);
        if mine != manifest {
            return Err(invalid(format!(
                "checkpoint {} was made with other settings or inputs:\n  saved: {manifest:?}\n  now:   {mine:?}",
                dir.display()
            )));
        }
        for w in 0..manifest.workers {
            if !dir.join(format!("done-w{w}")).exists() {
                return Err(invalid(format!(
                    "checkpoint {} is incomplete: worker {w} did not finish saving",
                    dir.display()
                )));
            }
        }
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            manifest,
        })
    }

    /// Where partition `part`'s reader stopped.
    pub fn part(&self, part: usize) -> io::Result<PartState> {
        let path = self.dir.join(format!("part-{part}.json"));
        let text = fs::read(&path).map_err(|e| at(&path, e))?;
        serde_json::from_slice(&text).map_err(|e| at(&path, json_err(e)))
    }

    /// The state files of key groups `groups`, in a fixed order.
    pub fn state_files(&self, groups: &Range<u32>) -> io::Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| at(&self.dir, e))? {
            let name = entry.map_err(|e| at(&self.dir, e))?.file_name();
            let name = name.to_string_lossy();
            let Some(rest) = name.strip_prefix("state-w") else {
                continue;
            };
            let Some((w, g)) = rest
                .strip_suffix(".sxck")
                .and_then(|r| r.split_once("-kg"))
                .and_then(|(w, g)| Some((w.parse::<usize>().ok()?, g.parse::<u32>().ok()?)))
            else {
                continue;
            };
            if groups.contains(&g) {
                found.push((g, w, self.dir.join(&*name)));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, _, p)| p).collect())
    }

    /// A detector holding the saved state of key groups `groups`: the first file
    /// restored, the others merged into it (a fresh detector when there is none).
    pub fn detector(
        &self,
        rule: Arc<Rule>,
        config: Config,
        groups: &Range<u32>,
    ) -> io::Result<Detector> {
        let err = |path: &Path, e: shareexec::SnapshotError| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        };
        let mut detector: Option<Detector> = None;
        for path in self.state_files(groups)? {
            let bytes = fs::read(&path).map_err(|e| at(&path, e))?;
            match &mut detector {
                None => {
                    detector = Some(
                        Detector::restore(rule.clone(), config.clone(), &bytes)
                            .map_err(|e| err(&path, e))?,
                    )
                }
                Some(d) => d.merge(&bytes).map_err(|e| err(&path, e))?,
            }
        }
        match detector {
            Some(d) => Ok(d),
            None => Detector::new(rule, config).map_err(|e| invalid(e.to_string())),
        }
    }
}
