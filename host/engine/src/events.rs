//! Progress events a run emits while it goes, for live displays.

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
}

/// One change of one step's state.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEvent {
    /// Step id.
    pub step: String,
    /// Its new state.
    pub state: StepState,
}
