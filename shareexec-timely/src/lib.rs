//! The shareexec detector on a [timely dataflow](https://github.com/TimelyDataflow/timely-dataflow)
//! cluster, partitioned by `host.id`.
//!
//! - [`source`]: input partitions (ECS NDJSON files, gzip or not) are read by the
//!   workers they are assigned to; each event gets a timely timestamp, its *epoch*
//!   (event time in units of `--epoch`), and each partition's capability trails its
//!   newest epoch by the lateness, so the dataflow frontier is the watermark.
//! - [`detect`]: events are exchanged by the owner of their key group
//!   (`key_hash(host.id) % key_groups`), one [`shareexec::Detector`] per worker; each
//!   completed epoch is fed in a deterministic order and the detector advanced to the
//!   frontier; alerts are written as ECS JSON lines.
//! - [`checkpoint`]: stop at a frontier, save each worker's detector split by key
//!   group plus each partition's read position; restart with any number of workers.
//!
//! See `docs/scale-out.md` in the repository for how to run it.

pub mod checkpoint;
pub mod corpus;
pub mod detect;
pub mod options;
pub mod source;
