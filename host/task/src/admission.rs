//! Admission: who decides when a ready step may execute, and whether what it produced may
//! stand — a shared server's fair share of its slots between tenants and its per-tenant
//! quotas. The runner wraps its executor with one ([`Admitted`]); a local run has none.

use crate::{Executor, StepFailure, StepTask, TaskResult};
use std::sync::Arc;

/// Held while an admitted step executes; dropping it gives the slot back.
pub type Permit = Box<dyn Send>;

/// Decides when steps may execute, and checks what they produced.
#[async_trait::async_trait]
pub trait Admission: Send + Sync {
    /// Waits until `task` may execute (returns early, with `Cancelled`, when the run is
    /// interrupted); the permit is held while it executes. An error fails the step.
    async fn admit(&self, task: &StepTask) -> Result<Permit, StepFailure>;

    /// Whether the outputs of a step that succeeded may stand; an error fails it instead.
    fn check(&self, task: &StepTask, result: &TaskResult) -> Result<(), StepFailure>;
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
    async fn execute(&self, task: StepTask) -> TaskResult {
        let permit = match self.admission.admit(&task).await {
            Ok(permit) => permit,
            Err(failure) => return TaskResult::failed(failure),
        };
        let mut result = self.inner.execute(task.clone()).await;
        drop(permit);
        if result.outputs.is_ok()
            && let Err(failure) = self.admission.check(&task, &result)
        {
            result.outputs = Err(failure);
        }
        result
    }
}
