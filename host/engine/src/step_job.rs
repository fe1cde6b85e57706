//! One ready step until it is finished: a cache hit, or executions retried with backoff
//! while the failure is one a retry may fix. Runs on its own task; reports back the last
//! execution's result and every attempt.

use crate::cancel::CancelSignal;
use crate::events::{RunEvent, StepState};
use crate::report::{AttemptReport, Reuse, StepStatus};
use crate::scheduler::RunServices;
use futures::FutureExt;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use weft_artifacts::Digest;
use weft_model::Retry;
use weft_task::StepFailure;
use weft_task::{Started, StepTask, TaskResult};

/// A ready step and how to treat it.
pub(crate) struct Job {
    pub task: StepTask,
    pub retry: Retry,
    /// Look the result up here first (and commit it under this key); `None`: uncached.
    pub cache_key: Option<Digest>,
}

/// How a job ended.
pub(crate) struct JobResult {
    /// The outcome that counts: the last execution's, or the cached one.
    pub result: TaskResult,
    /// Every execution, in order (none for a cache hit).
    pub attempts: Vec<AttemptReport>,
    /// Set for a cache hit.
    pub reuse: Option<Reuse>,
}

/// Runs a job to its end. Never panics: a panicking executor fails the step.
pub(crate) async fn run_job(
    services: RunServices,
    cancel: CancelSignal,
    events: Option<UnboundedSender<RunEvent>>,
    job: Job,
) -> JobResult {
    if let Some(key) = &job.cache_key
        && let Some(hit) = cache_hit(&services, key, &job.task).await
    {
        return hit;
    }
    // The step shows as running when the executor starts it (after any wait for a slot),
    // once: a cache hit never shows as running, a retry as retrying.
    let started = match &events {
        Some(tx) => {
            let (tx, step, shown) = (tx.clone(), job.task.step.clone(), AtomicBool::new(false));
            Started::new(move || {
                if !shown.swap(true, Ordering::Relaxed) {
                    let _ = tx.send(RunEvent {
                        step: step.clone(),
                        state: StepState::Running,
                        metrics: Vec::new(),
                    });
                }
            })
        }
        None => Started::default(),
    };
    let mut attempts = Vec::new();
    let mut number = 0;
    loop {
        number += 1;
        let mut task = job.task.clone();
        task.attempt = number;
        task.started = started.clone();
        let mut result = execute(&services, task).await;
        let error = result.outputs.as_ref().err().map(ToString::to_string);
        attempts.push(AttemptReport {
            number,
            status: match &result.outputs {
                Ok(_) => StepStatus::Succeeded,
                Err(StepFailure::Cancelled) => StepStatus::Cancelled,
                Err(_) => StepStatus::Failed,
            },
            error: error.clone(),
            duration_ms: result.duration.as_secs_f64() * 1e3,
        });
        let retryable = matches!(&result.outputs, Err(f) if f.is_retryable());
        if !retryable || number > job.retry.max || cancel.is_cancelled() {
            return JobResult {
                result,
                attempts,
                reuse: None,
            };
        }
        let delay = job.retry.delay(number, jitter(&job.task, number));
        if let Some(tx) = &events {
            let _ = tx.send(RunEvent {
                step: job.task.step.clone(),
                state: StepState::Retrying {
                    attempt: number + 1,
                    delay,
                    error: error.unwrap_or_default(),
                },
                metrics: Vec::new(),
            });
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = cancel.cancelled() => {
                result.outputs = Err(StepFailure::Cancelled);
                return JobResult { result, attempts, reuse: None };
            }
        }
    }
}

/// The committed outputs of an identical execution, if the journal has them and every
/// one of them is still in the store and matches its address.
async fn cache_hit(services: &RunServices, key: &Digest, task: &StepTask) -> Option<JobResult> {
    let hit = match services.journal.cached(key).await {
        Ok(hit) => hit?,
        Err(e) => {
            tracing::warn!(step = %task.step, "cache lookup failed, running the step: {e}");
            return None;
        }
    };
    let mut outputs = Vec::with_capacity(task.outputs.len());
    for (port, _) in &task.outputs {
        let meta = hit.outputs.get(port)?;
        // Read back whole: a hit hands these bytes to every later step and to users, so a
        // damaged or missing output makes the hit a miss (the step runs again, and
        // publishing its outputs repairs the store).
        if let Err(e) = services.store.verify(&meta.digest).await {
            tracing::warn!(step = %task.step, "cached output `{port}` cannot be reused, running the step: {e}");
            return None;
        }
        outputs.push((port.clone(), meta.clone()));
    }
    Some(JobResult {
        result: TaskResult {
            outputs: Ok(outputs),
            log: Vec::new(),
            metrics: hit.metrics,
            duration: Duration::ZERO,
        },
        attempts: Vec::new(),
        reuse: Some(Reuse::Cached(hit.run_id)),
    })
}

/// Executes one attempt; a panicking executor fails that attempt, not the run.
async fn execute(services: &RunServices, task: StepTask) -> TaskResult {
    match AssertUnwindSafe(services.executor.execute(task)).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            TaskResult::failed(StepFailure::Host(format!("the executor panicked: {what}")))
        }
    }
}

/// A number in [0, 1) fixed by run, step and attempt: retries of many steps spread out,
/// and a run's waits can be reproduced.
fn jitter(task: &StepTask, attempt: u32) -> f64 {
    let mut h = DefaultHasher::new();
    (&task.run_id, &task.step, attempt).hash(&mut h);
    #[allow(clippy::cast_precision_loss)]
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    unit
}
