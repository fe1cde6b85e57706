//! Admission: who decides when a ready step may execute, and which byte quotas its writes
//! count against — a shared server's fair share of its slots between tenants and its
//! per-tenant quotas. The runner wraps its executor with one ([`Admitted`]); a local run has none.

use crate::{ByteBudget, Executor, StepBudget, StepFailure, StepTask, TaskResult};
use std::sync::Arc;

/// Held while an admitted step executes; dropping it gives the slot back.
pub type Permit = Box<dyn Send>;

/// Decides when steps may execute, and checks what they produced.
#[async_trait::async_trait]
pub trait Admission: Send + Sync {
    /// Waits until `task` may execute (returns early, with `Cancelled`, when the run is
    /// interrupted); the permit is held while it executes. An error fails the step.
    async fn admit(&self, task: &StepTask) -> Result<Permit, StepFailure>;

    /// The byte quotas the step's writes count against.
    fn budgets(&self) -> Vec<Arc<ByteBudget>>;
}

/// An executor whose steps pass an [`Admission`] first.
pub struct Admitted {
    /// What executes the steps.
    pub inner: Arc<dyn Executor>,
    /// What admits them.
    pub admission: Arc<dyn Admission>,
}

#[async_trait::async_trait]
impl Executor for Admitted {
    async fn execute(&self, mut task: StepTask) -> TaskResult {
        let budget = Arc::new(StepBudget::new(self.admission.budgets()));
        task.budget = budget.clone();
        let permit = match self.admission.admit(&task).await {
            Ok(permit) => permit,
            Err(failure) => return TaskResult::failed(failure),
        };
        let result = self.inner.execute(task).await;
        drop(permit);
        // Nothing of a failed attempt is kept: what it wrote no longer counts.
        if result.outputs.is_err() {
            budget.give_back();
        }
        result
    }
}
