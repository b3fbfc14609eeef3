//! Errors of the core.

use crate::time::Span;

/// A [`Config`](crate::Config) that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_lateness` is negative.
    #[error("max_lateness must not be negative (got {0})")]
    NegativeLateness(Span),
    /// A cap is zero.
    #[error("{0} must be at least 1")]
    ZeroCap(&'static str),
    /// `idle_host_timeout` would sweep writes that can still match.
    #[error("idle_host_timeout ({timeout}) must exceed maxspan + max_lateness ({needed})")]
    SweepTooEager {
        /// The configured timeout.
        timeout: Span,
        /// `maxspan + max_lateness`.
        needed: Span,
    },
}
