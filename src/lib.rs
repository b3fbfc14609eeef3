#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs)]
//! CRATE_DOCS_PLACEHOLDER

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

// Ground floor: events, time, matching.
pub mod event;
pub mod fold;
pub mod time;
pub mod wildcard;

// The rule: predicates, trust, metadata.
pub mod rule;
pub mod trust;

// The state machine and what it says.
mod config;
mod detector;
mod error;
mod hosts;
mod keys;
mod owned;
pub mod stable_hash;
mod stats;
mod verdict;
mod window;


pub use config::{Config, HOST_BYTES, MAX_HOST_ID_BYTES, PENDING_ENTRY_BYTES};
pub use detector::Detector;
pub use error::ConfigError;
pub use event::{CodeSignature, Event, EventTypes, FileEvent, Origin, Position, ProcessEvent};
pub use rule::{RULE, Rule, RuleMeta, Semantics};
pub use stats::Stats;
pub use time::{Span, Timestamp};
pub use trust::{Either, SignerPolicy, SignerPolicyBuilder, TrustNothing, TrustPolicy, TrustReason};
pub use verdict::{AlertId, EventRef, Late, Sequence, Signature, Stage, Suppression, Verdict};
