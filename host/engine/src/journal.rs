//! The journal: where the scheduler durably records finished steps and looks up cached
//! results. `weft-records` implements it over SQL; [`NoJournal`] records nothing (tests,
//! benchmarks of the bare scheduler).

use crate::report::{RunReport, StepReport};
use std::collections::BTreeMap;
use weft_artifacts::{ArtifactMeta, Digest};

/// The committed result of an earlier execution with the same cache key.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedResult {
    /// Run the outputs were computed in.
    pub run_id: String,
    /// Step id they were computed by.
    pub step: String,
    /// Its outputs by port.
    pub outputs: BTreeMap<String, ArtifactMeta>,
    /// The metrics it recorded (conditions downstream may read them).
    pub metrics: Vec<(String, f64)>,
}

/// A journal failed: the run cannot promise durability and stops.
#[derive(Debug, thiserror::Error)]
#[error("run records: {0}")]
pub struct JournalError(pub String);

/// Durable records of a run's steps.
#[async_trait::async_trait]
pub trait Journal: Send + Sync {
    /// Records the run's planned steps as it starts (or resumes: steps already recorded
    /// keep their rows; those that will run again lose their old attempts).
    async fn begin(&self, report: &RunReport) -> Result<(), JournalError>;

    /// The result of an earlier successful execution with this cache key, if any.
    async fn cached(&self, key: &Digest) -> Result<Option<CachedResult>, JournalError>;

    /// Commits finished steps — status, outputs, metrics, log, attempts, cache entry — in one
    /// transaction, after their outputs were published. When this returns `Ok`, the steps
    /// survive a crash of the process.
    async fn commit(&self, run_id: &str, steps: &[StepReport]) -> Result<(), JournalError>;

    /// Records the run's final status and the steps that ended without running (blocked,
    /// skipped, cancelled), after its last commit.
    async fn finish(&self, report: &RunReport) -> Result<(), JournalError>;

    /// Whether someone asked to cancel the run (polled while the run goes).
    async fn cancel_requested(&self, run_id: &str) -> Result<bool, JournalError>;

    /// Whether commits are thrown away (the scheduler then spares itself the commit task).
    fn discards_commits(&self) -> bool {
        false
    }
}

/// A journal that keeps nothing: no cache, no durability.
pub struct NoJournal;

#[async_trait::async_trait]
impl Journal for NoJournal {
    async fn begin(&self, _report: &RunReport) -> Result<(), JournalError> {
        Ok(())
    }

    async fn cached(&self, _key: &Digest) -> Result<Option<CachedResult>, JournalError> {
        Ok(None)
    }

    async fn commit(&self, _run_id: &str, _steps: &[StepReport]) -> Result<(), JournalError> {
        Ok(())
    }

    async fn finish(&self, _report: &RunReport) -> Result<(), JournalError> {
        Ok(())
    }

    async fn cancel_requested(&self, _run_id: &str) -> Result<bool, JournalError> {
        Ok(false)
    }

    fn discards_commits(&self) -> bool {
        true
    }
}
