//! The engine's journal over the records: steps are committed here as they finish.

use crate::Records;
use weft_artifacts::Digest;
use weft_engine::{CachedResult, Journal, JournalError, RunReport, StepReport};

impl Records {
    /// The error for the engine, naming the file or server: a full disk or a damaged file
    /// must say where.
    fn err(&self, e: crate::RecordsError) -> JournalError {
        JournalError(format!("{e} ({})", self.location()))
    }
}

#[async_trait::async_trait]
impl Journal for Records {
    async fn begin(&self, report: &RunReport) -> Result<(), JournalError> {
        self.insert_steps(report).await.map_err(|e| self.err(e))
    }

    async fn cached(&self, key: &Digest) -> Result<Option<CachedResult>, JournalError> {
        self.cached_result(key).await.map_err(|e| self.err(e))
    }

    async fn commit(&self, run_id: &str, steps: &[StepReport]) -> Result<(), JournalError> {
        self.commit_steps(run_id, steps).await.map_err(|e| self.err(e))
    }

    async fn finish(&self, report: &RunReport) -> Result<(), JournalError> {
        self.finish_run(report).await.map_err(|e| self.err(e))
    }

    async fn cancel_requested(&self, run_id: &str) -> Result<bool, JournalError> {
        self.cancel_flag(run_id).await.map_err(|e| self.err(e))
    }
}
