#![no_std]
#![cfg_attr(not(feature = "ffi"), forbid(unsafe_code))]
#![cfg_attr(feature = "ffi", deny(unsafe_code))]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
//! Detects **Remote Execution via File Shares** — MITRE ATT&CK T1021.002, Elastic rule
//! `ab75c24b-2502-43a0-bf7c-e60e662c811e` — in a stream of endpoint events: the System process
//! (pid 4, i.e. a write that arrived over SMB) creates or changes an executable, and within 60
//! seconds a process starts from that same path on the same host, unless the process is signed by
//! a trusted vendor.
//!
//! The crate is a pure state machine in the *sans-IO* style of quinn-proto and str0m: typed events
//! go in, verdicts come out. It never reads a clock, a file, the network or the environment; time
//! comes only from event timestamps and from the embedder's explicit calls. Same input, same
//! output. (With `std`, the hash tables' key is random unless [`Config::hash_seed`] sets it;
//! no verdict depends on it.) It is `no_std` + `alloc` (the `std` feature is on by default), has no `unsafe` outside
//! the optional C ABI (module `ffi`, feature `ffi`), and never panics on any input.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use shareexec::{Config, Detector, Event, EventTypes, FileEvent, Origin, ProcessEvent, Rule, Timestamp, Verdict};
//!
//! let rule = Arc::new(Rule::elasticsearch()); // compiled once, shared by any number of detectors
//! let mut detector = Detector::new(rule, Config::default()).unwrap();
//! let at = |secs: i64| Origin { timestamp: Timestamp::from_millis(secs * 1000), ..Origin::default() };
//! let (host, exe) = (Some("host-1"), Some("C:\\Windows\\PSEXESVC.exe"));
//! detector.handle(Event::File(FileEvent { origin: at(0), host_id: host, os_type: Some("windows"),
//!     types: EventTypes::CREATION, pid: Some(4), path: exe, extension: Some("exe"), ..FileEvent::default() }));
//! detector.handle(Event::Process(ProcessEvent { origin: at(1), host_id: host, os_type: Some("windows"),
//!     types: EventTypes::START, executable: exe, ..ProcessEvent::default() }));
//! let Some(Verdict::Alert(alert)) = detector.poll_verdict() else { panic!("no alert") };
//! assert_eq!((alert.host_id.as_ref(), alert.span.as_nanos()), ("host-1", 1_000_000_000));
//! ```
//!
//! # How it fits together
//!
//! - [`Event`]s ([`FileEvent`], [`ProcessEvent`]) borrow from the caller's buffers; every field
//!   Elasticsearch could find missing is an `Option`, because a missing field makes a comparison
//!   false, which is not the same as `false` under `not`. Adapters: [`input`] (Elastic Defend ECS
//!   NDJSON, feature `json`).
//! - A [`Rule`] is the compiled detection: [`Semantics`], the stage predicates and a
//!   [`TrustPolicy`]. It is immutable and `Send + Sync`; share it in an `Arc`.
//! - A [`Detector`] owns all mutable state: pending writes per host, per-host clocks and reorder
//!   buffers, counters. [`Detector::handle`] takes events in arrival order;
//!   [`Detector::poll_verdict`] hands out [`Verdict`]s: [`Verdict::Alert`], [`Verdict::Suppressed`]
//!   (the policy trusted the execution; the reason says why), [`Verdict::Late`] (an event came too
//!   late to be ordered exactly, and was still used). [`Detector::advance`] takes a watermark,
//!   [`Detector::flush`] ends the input, [`Detector::next_deadline`] says when to advance next.
//!
//! # Semantics
//!
//! [`Semantics::Elasticsearch`] gives Elasticsearch's results on the time-sorted stream: exact
//! (case-sensitive) join keys and `==`, inclusive 60 s maxspan, stage 2 strictly after stage 1,
//! latest write wins, a match consumes the write, null keys never join, equal timestamps in arrival
//! order, the rule's own vendor list. [`Semantics::Hardened`] (the default) also catches the
//! evasions: paths join ignoring case (Windows does), `host.os.type` ignores case, a missing
//! `file.extension` is read off the path, equal timestamps follow `event.sequence`, and the
//! vendor list adds the threat-feed brief's four vendors. The [`semantics`] page lists every case,
//! with the test that pins it.
//!
//! # Streaming choices and bounds
//!
//! - **Lateness** ([`Config::max_lateness`]): events up to L behind their host's newest timestamp
//!   are ordered exactly; later ones are reported and still used.
//! - **Per-host time**: pending writes expire by their own host's clock, so a host with a wrong
//!   clock cannot expire another host's state; silent hosts are released by a sweep against the
//!   median host clock, or by [`Detector::advance`].
//! - **Bounded memory**: caps on pending writes (global, per host, bytes), on the reorder buffer and
//!   on hosts; when full, a host over its own quota (or flooding) gives up its own oldest entry,
//!   a quiet host's write the oldest of all, counted in [`Stats`]. The defaults stay under
//!   256 MiB ([`Config::memory_bound`]).
//! - **Keyed hashing** against hash flooding ([`Config::hash_seed`]), and deterministic alert ids
//!   ([`AlertId`]) so replays deduplicate.
//!
//! # Scale-out
//!
//! State partitions perfectly by `host.id`. [`partition`] gives a distributed engine the
//! routing key, a stable `key_hash` and Flink-style key groups; [`Detector::split`] and
//! [`Detector::merge`] move state between instances when the job is rescaled. The
//! `shareexec-timely` workspace member runs the detector on a timely dataflow cluster
//! (`docs/scale-out.md`).

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Ground floor: events, time, matching.
pub mod event;
pub mod fold;
pub mod time;
pub mod wildcard;

#[doc = include_str!("../docs/semantics.md")]
pub mod semantics {}

// The rule: predicates, trust, metadata.
pub mod render;
pub mod rule;
pub mod trust;

// The state machine and what it says.
mod config;
mod detector;
mod error;
mod hosts;
mod keys;
mod owned;
pub mod partition;
mod probe;
pub mod snapshot;
pub mod stable_hash;
mod stats;
mod verdict;
mod window;

// Input adapters.
#[cfg(feature = "json")]
pub mod input;
#[cfg(feature = "json")]
pub mod output;

// The C ABI.
#[cfg(feature = "ffi")]
pub mod ffi;

pub use config::{Config, HOST_BYTES, MAX_HOST_ID_BYTES, PENDING_ENTRY_BYTES};
pub use detector::Detector;
pub use error::ConfigError;
pub use event::{
    CodeSignature, Event, EventTypes, FileEvent, Hashes, Origin, Position, ProcessEvent,
};
pub use rule::{RULE, Rule, RuleMeta, Semantics};
pub use snapshot::SnapshotError;
pub use stats::Stats;
pub use time::{Span, Timestamp};
pub use trust::{
    Either, SignerPolicy, SignerPolicyBuilder, TrustNothing, TrustPolicy, TrustReason,
};
pub use verdict::{
    AlertId, EventRef, Late, OwnedHashes, Sequence, Signature, Stage, Suppression, Text, Verdict,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
