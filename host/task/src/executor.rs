//! The executor interface: the scheduler hands it one ready step at a time.

use crate::{LogLine, Provenance, StepBudget, StepFailure};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_model::{Limits, ParamValue};

/// Everything needed to execute one step, self-contained: an executor elsewhere would need
/// only its digests and values (the provenance DAG flattens, the interrupt becomes a message).
#[derive(Debug, Clone)]
pub struct StepTask {
    /// Run the step belongs to.
    pub run_id: String,
    /// Step id.
    pub step: String,
    /// Digest of the component to run.
    pub component: Digest,
    /// Bound inputs: port → published artifact and how it was made.
    pub inputs: Vec<(String, Arc<Provenance>)>,
    /// Every declared parameter with its value.
    pub params: Vec<(String, ParamValue)>,
    /// Output port → media type to publish it as.
    pub outputs: Vec<(String, String)>,
    /// Limits set by the workflow.
    pub limits: Limits,
    /// Set when the run is cancelled: the step stops at the sandbox's next epoch tick.
    pub interrupt: Option<Arc<AtomicBool>>,
    /// Which attempt this is, from 1 (with the step id, it picks the step's random bytes).
    pub attempt: u32,
    /// Said by the executor when the step begins to execute, after any wait for a slot:
    /// the step shows as running from then.
    pub started: Started,
    /// The quotas its writes count against (none unless an [`Admission`](crate::Admission)
    /// gave some): the executor takes every byte written from it first.
    pub budget: Arc<StepBudget>,
}

/// What an executor calls when a step begins to execute ([`Started::fire`]); set by the
/// engine to show the step as running.
#[derive(Clone, Default)]
pub struct Started(Option<Arc<dyn Fn() + Send + Sync>>);

impl Started {
    /// Calls `f` when the step starts.
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Started {
        Started(Some(Arc::new(f)))
    }

    /// The step begins to execute now.
    pub fn fire(&self) {
        if let Some(f) = &self.0 {
            f();
        }
    }
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Started(hook)"
        } else {
            "Started(none)"
        })
    }
}

/// What executing a step produced.
#[derive(Debug)]
pub struct TaskResult {
    /// Published outputs (port → artifact), or why the step failed.
    pub outputs: Result<Vec<(String, ArtifactMeta)>, StepFailure>,
    /// The step's log.
    pub log: Vec<LogLine>,
    /// Metrics it recorded.
    pub metrics: Vec<(String, f64)>,
    /// Time spent executing.
    pub duration: Duration,
}

impl TaskResult {
    /// A result that is only a failure.
    pub fn failed(failure: StepFailure) -> TaskResult {
        TaskResult {
            outputs: Err(failure),
            log: Vec::new(),
            metrics: Vec::new(),
            duration: Duration::ZERO,
        }
    }
}

/// Runs steps. Implementations must report every failure in the result, never panic,
/// and call `task.started.fire()` when the step begins to execute.
#[async_trait::async_trait]
pub trait Executor: Send + Sync {
    /// Executes one step and publishes its outputs.
    async fn execute(&self, task: StepTask) -> TaskResult;
}
