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
        // What a successful attempt wrote is kept; a failed one's is released when its
        // budget is dropped (also if the executor panicked).
        if result.outputs.is_ok() {
            budget.settle();
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ByteBudget, Started};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;
    use tokio::sync::Semaphore;
    use weft_artifacts::Digest;

    /// Admits a step per permit added.
    struct Gate(Arc<Semaphore>, Arc<ByteBudget>);

    #[async_trait::async_trait]
    impl Admission for Gate {
        async fn admit(&self, _task: &StepTask) -> Result<Permit, StepFailure> {
            let permit = self
                .0
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| StepFailure::Cancelled)?;
            Ok(Box::new(permit))
        }

        fn budgets(&self) -> Vec<Arc<ByteBudget>> {
            vec![self.1.clone()]
        }
    }

    /// Starts, writes 10 bytes, and fails if its step is named `fails`.
    struct Writes;

    #[async_trait::async_trait]
    impl Executor for Writes {
        async fn execute(&self, task: StepTask) -> TaskResult {
            task.started.fire();
            if let Err(failure) = task.budget.take(10) {
                return TaskResult::failed(failure);
            }
            if task.step == "fails" {
                return TaskResult::failed(StepFailure::Failed("boom".into()));
            }
            TaskResult {
                outputs: Ok(Vec::new()),
                ..TaskResult::failed(StepFailure::Cancelled)
            }
        }
    }

    fn task(step: &str, started: &Arc<AtomicBool>) -> StepTask {
        let started = started.clone();
        StepTask {
            run_id: "r".into(),
            step: step.into(),
            component: Digest::of(b"c"),
            inputs: Vec::new(),
            params: Vec::new(),
            outputs: Vec::new(),
            limits: weft_model::Limits::default(),
            interrupt: None,
            attempt: 1,
            started: Started::new(move || started.store(true, Ordering::SeqCst)),
            budget: Arc::default(),
        }
    }

    #[tokio::test]
    async fn a_step_shows_as_started_only_once_admitted_and_a_failed_one_gives_its_bytes_back() {
        let (gate, budget) = (
            Arc::new(Semaphore::new(0)),
            Arc::new(ByteBudget::new("q", "per run", 100, 0)),
        );
        let admitted = Arc::new(Admitted {
            inner: Arc::new(Writes),
            admission: Arc::new(Gate(gate.clone(), budget.clone())),
        });
        let started = Arc::new(AtomicBool::new(false));
        let job = tokio::spawn({
            let (admitted, task) = (admitted.clone(), task("ok", &started));
            async move { admitted.execute(task).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!started.load(Ordering::SeqCst), "waiting for a slot is not running");
        gate.add_permits(1);
        assert!(job.await.expect("job").outputs.is_ok());
        assert!(started.load(Ordering::SeqCst));
        assert_eq!(budget.used(), 10, "a step that succeeded keeps its bytes counted");

        gate.add_permits(1);
        let failed = admitted.execute(task("fails", &started)).await;
        assert!(failed.outputs.is_err());
        assert_eq!(budget.used(), 10, "a failed step's bytes are given back");
    }
}
