//! The engine's journal over the records: steps are committed here as they finish.

use crate::Records;
use weft_artifacts::Digest;
use weft_engine::{CachedResult, Journal, JournalError, RunReport, StepReport};

fn err(e: crate::RecordsError) -> JournalError {
    JournalError(e.to_string())
}

#[async_trait::async_trait]
impl Journal for Records {
    async fn begin(&self, report: &RunReport) -> Result<(), JournalError> {
        self.insert_steps(report).await.map_err(err)
    }

    async fn cached(&self, key: &Digest) -> Result<Option<CachedResult>, JournalError> {
        self.cached_result(key).await.map_err(err)
    }

    async fn commit(&self, run_id: &str, steps: &[StepReport]) -> Result<(), JournalError> {
        self.commit_steps(run_id, steps).await.map_err(err)
    }

    async fn cancel_requested(&self, run_id: &str) -> Result<bool, JournalError> {
        self.cancel_flag(run_id).await.map_err(err)
    }
}
