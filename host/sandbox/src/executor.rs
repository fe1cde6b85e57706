//! The in-process executor: runs steps in this process's sandbox and publishes their
//! outputs to the artifact store only after the step succeeded.

use crate::{LoadedComponent, Sandbox, StepRequest, StepSeed};
use std::collections::HashMap;
use std::sync::Arc;
use weft_artifacts::{ArtifactStore, Digest};
use weft_task::{Executor, StepFailure, StepTask, TaskResult};

/// Executes steps in-process.
pub struct LocalExecutor {
    sandbox: Arc<Sandbox>,
    store: ArtifactStore,
    components: HashMap<Digest, Arc<LoadedComponent>>,
}

impl LocalExecutor {
    /// An executor over `sandbox` and `store` that can run the given components.
    pub fn new(
        sandbox: Arc<Sandbox>,
        store: ArtifactStore,
        components: impl IntoIterator<Item = Arc<LoadedComponent>>,
    ) -> Self {
        Self {
            sandbox,
            store,
            components: components.into_iter().map(|c| (c.digest, c)).collect(),
        }
    }
}

#[async_trait::async_trait]
impl Executor for LocalExecutor {
    async fn execute(&self, task: StepTask) -> TaskResult {
        let Some(component) = self.components.get(&task.component) else {
            return TaskResult {
                outputs: Err(StepFailure::Host(format!("component {} is not loaded", task.component))),
                log: Vec::new(),
                metrics: Vec::new(),
                duration: std::time::Duration::ZERO,
            };
        };
        task.started.fire();
        let outcome = self
            .sandbox
            .run(
                component,
                StepRequest {
                    store: self.store.clone(),
                    seed: StepSeed {
                        step: task.step,
                        attempt: task.attempt,
                    },
                    inputs: task.inputs,
                    params: task.params,
                    output_types: task.outputs,
                    limits: task.limits,
                    interrupt: task.interrupt,
                    budget: task.budget,
                },
            )
            .await;
        let outputs = match outcome.result {
            Ok(staged) => {
                let mut published = Vec::with_capacity(staged.len());
                let mut failure = None;
                for out in staged {
                    match self.store.publish(out.staged, &out.media_type).await {
                        Ok(meta) => published.push((out.port, meta)),
                        Err(e) => {
                            failure = Some(StepFailure::Host(format!(
                                "cannot publish output `{}` to the store at {}: {e}",
                                out.port,
                                self.store.url()
                            )));
                            break;
                        }
                    }
                }
                failure.map_or(Ok(published), Err)
            }
            Err(f) => Err(f),
        };
        TaskResult {
            outputs,
            log: outcome.log,
            metrics: outcome.metrics,
            duration: outcome.duration,
        }
    }
}
