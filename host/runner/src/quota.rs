//! A run's byte quotas on a worker: the budgets a step writes against (what is left of the
//! run's `run-output-bytes`, the tenant's `stored-bytes`), and the commit that refuses a
//! result past the run's quota, which is then committed as the step's failure.

use crate::Runner;
use crate::worker::{RunPlan, Shared};
use std::sync::{Arc, PoisonError, Weak};
use weft_engine::{StepReport, StepStatus};
use weft_records::{Claim, Committed, RecordsError};
use weft_task::{Admission, ByteBudget, Permit, StepFailure, StepTask};

/// Commits `report` with `claim`'s fence; a result that would take the run past its
/// `run-output-bytes` is committed as the step's failure instead (the quota is checked in
/// the commit, so it holds over every worker). Also the status committed.
pub(crate) async fn commit(
    runner: &Runner,
    claim: &Claim,
    plan: &RunPlan,
    report: StepReport,
) -> Result<(Committed, StepStatus), RecordsError> {
    let committed = runner.records.commit_claimed(claim, &plan.plan, &report).await?;
    let Committed::OverQuota(message) = committed else {
        return Ok((committed, report.status));
    };
    let failed = over_quota(report, message);
    // A failure adds no bytes: this commit is recorded, or fenced.
    let committed = runner.records.commit_claimed(claim, &plan.plan, &failed).await?;
    Ok((committed, failed.status))
}

/// `report` as the failure of a step whose outputs do not fit its run's quota: they are
/// not recorded (the bytes stay in the store, unreferenced), nor is it cached.
fn over_quota(mut report: StepReport, message: String) -> StepReport {
    let failure = StepFailure::Quota(message).to_string();
    report.status = StepStatus::Failed;
    report.outputs.clear();
    report.cache_key = None;
    if let Some(last) = report.attempts.last_mut() {
        last.status = StepStatus::Failed;
        last.error = Some(failure.clone());
    }
    report.error = Some(failure);
    report
}

/// The byte budgets a step of `claim`'s run writes against: what is left of the run's
/// `run-output-bytes` (one budget for the run's steps this worker executes at once, so
/// they cannot each write the whole rest), and the tenant's `stored-bytes` as this worker
/// counts them. `None` when the store cannot be counted now (give the step back).
pub(crate) async fn budgets(
    shared: &Shared,
    runner: &Runner,
    claim: &Claim,
) -> anyhow::Result<Option<Vec<Arc<ByteBudget>>>> {
    let bytes = runner.records.run_bytes(&claim.run_id).await?;
    let mut budgets = Vec::new();
    if let Some(limit) = bytes.output_limit {
        let mut runs = shared.run_budgets.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (claim.tenant.clone(), claim.run_id.clone());
        let budget = match runs.get(&key).and_then(Weak::upgrade) {
            Some(budget) => budget,
            None => {
                runs.retain(|_, b| b.strong_count() > 0);
                let budget = Arc::new(ByteBudget::new("run-output-bytes", "per run", limit, bytes.produced));
                runs.insert(key, Arc::downgrade(&budget));
                budget
            }
        };
        budgets.push(budget);
    }
    if let Some(limit) = bytes.stored_limit {
        match shared.stored.budget(runner, &claim.tenant, limit).await {
            Ok(budget) => budgets.push(budget),
            Err(e) => {
                tracing::warn!(run = %claim.run_id, step = %claim.step, "cannot count the tenant's stored bytes: {e:#}");
                return Ok(None);
            }
        }
    }
    Ok(Some(budgets))
}

/// Admits a step at once, its writes counted against what was left of its run's
/// `run-output-bytes` when it began and against its tenant's `stored-bytes` as this worker
/// counts them: a write past either fails it where it is. What steps of the run on other
/// workers add meanwhile is counted at commit ([`commit`]); what other workers stored, at
/// this worker's next count of the store ([`StoredBytes`]).
pub(crate) struct Budgeted(pub(crate) Vec<Arc<ByteBudget>>);

#[async_trait::async_trait]
impl Admission for Budgeted {
    async fn admit(&self, _task: &StepTask) -> Result<Permit, StepFailure> {
        Ok(Box::new(()))
    }

    fn budgets(&self) -> Vec<Arc<ByteBudget>> {
        self.0.clone()
    }
}
