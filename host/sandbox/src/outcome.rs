//! What one step execution produced: staged outputs or a classified failure, plus its
//! log and metrics (kept in both cases, so a failed step can be diagnosed).

use std::time::Duration;
use weft_artifacts::Staged;
use weft_task::{LogLine, StepFailure};

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

/// At most `max` bytes of `text` (on a character boundary), for quoting a guest's string.
pub(crate) fn clip(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
