//! What one step execution produced: staged outputs or a classified failure, plus its
//! log and metrics (kept in both cases, so a failed step can be diagnosed).

use std::time::Duration;
use weft_artifacts::Staged;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    /// `log.emit` at a level (`trace`..`error`).
    Emit(&'static str),
    /// The guest's stdout.
    Stdout,
    /// The guest's stderr.
    Stderr,
    /// A note from the host (truncation, limits).
    Host,
}

impl LogStream {
    /// Short label for display.
    pub fn label(self) -> &'static str {
        match self {
            LogStream::Emit(level) => level,
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::Host => "host",
        }
    }
}

/// One line of a step's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// Source and level.
    pub stream: LogStream,
    /// The text.
    pub message: String,
}

/// An output written by a successful step, staged and ready to publish.
#[derive(Debug)]
pub struct StagedOutput {
    /// The output port.
    pub port: String,
    /// Its declared media type.
    pub media_type: String,
    /// The bytes, hashed and staged.
    pub staged: Staged,
}

/// Why a step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepFailure {
    /// The step said its inputs or parameters are wrong.
    #[error("bad input: {0}")]
    BadInput(String),
    /// The step failed in a way it says a retry may fix.
    #[error("failed: {0}")]
    Failed(String),
    /// The wall-clock limit passed.
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    /// The memory limit was hit.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// The fuel budget ran out.
    #[error("ran out of fuel (CPU budget of {0} units)")]
    OutOfFuel(u64),
    /// The guest trapped (panicked, hit `unreachable`, ...); carries the guest's last stderr.
    #[error("crashed: {0}")]
    Trapped(String),
    /// The step returned success without creating a declared output.
    #[error("did not write its declared output `{0}`")]
    MissingOutput(String),
    /// The host failed around the step (store error, ...).
    #[error("host error: {0}")]
    Host(String),
    /// Stopped from outside: the run was cancelled or ran out of time.
    #[error("cancelled")]
    Cancelled,
}

impl StepFailure {
    /// Whether running the step again could succeed (only failures the step calls
    /// transient, and host-side errors).
    pub fn is_retryable(&self) -> bool {
        matches!(self, StepFailure::Failed(_) | StepFailure::Host(_))
    }
}

/// Everything one execution produced.
#[derive(Debug)]
pub struct StepOutcome {
    /// The staged outputs, or why the step failed.
    pub result: Result<Vec<StagedOutput>, StepFailure>,
    /// Log lines (emitted, then stdout, then stderr), capped.
    pub log: Vec<LogLine>,
    /// Metrics recorded, in first-recorded order; a re-recorded name keeps its last value.
    pub metrics: Vec<(String, f64)>,
    /// Time from instantiation to return.
    pub duration: Duration,
}
