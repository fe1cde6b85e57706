//! Progress events a run emits while it goes, for live displays.

use crate::report::Reuse;
use std::time::Duration;

/// Where a step is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum StepState {
    /// Waiting for its inputs.
    Waiting,
    /// Handed to the executor.
    Running,
    /// Finished and its outputs published.
    Succeeded(Duration),
    /// Failed; the message says why.
    Failed(String),
    /// Never ran because a step it depends on failed.
    Blocked(String),
    /// Not run: its condition was false, or a step it needs was skipped.
    Skipped(String),
    /// An attempt failed in a way a retry may fix; attempt number `attempt` starts after `delay`.
    Retrying {
        /// The attempt about to start (2 for the first retry).
        attempt: u32,
        /// The wait before it.
        delay: Duration,
        /// Why the last attempt failed.
        error: String,
    },
    /// Not executed: its outputs were reused (a cache hit, or committed before a resume).
    Reused(Reuse),
    /// Stopped or never started: the run was cancelled or ran out of time.
    Cancelled,
}

/// One change of one step's state.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// Step id.
    pub step: String,
    /// Its new state.
    pub state: StepState,
    /// The metrics it recorded, in order, when it succeeded or was reused (else empty).
    pub metrics: Vec<(String, f64)>,
}
