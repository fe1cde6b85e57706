//! The scheduler: starts each step as soon as its inputs are published, runs independent
//! steps concurrently up to a bound, and hands every finished step to the committer (see
//! `committer.rs` for why commits need not hold back dependents). A failed step blocks only
//! its dependents; a cancel or the run's time limit stops running steps at the next epoch tick.

use crate::cancel::CancelSignal;
use crate::committer::Committer;
use crate::events::RunEvent;
use crate::journal::{Journal, JournalError};
use crate::report::{RunReport, RunStatus, StepReport};
use crate::run_state::Run;
use crate::step_job::{JobResult, run_job};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use weft_artifacts::{ArtifactMeta, ArtifactStore, Digest};
use weft_model::Plan;
use weft_task::Executor;
use weft_task::StepFailure;

/// How often a running run asks the journal whether someone cancelled it.
const CANCEL_POLL: Duration = Duration::from_millis(200);

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Id of this run.
    pub run_id: String,
    /// Most steps executing at once.
    pub concurrency: usize,
    /// Reuse results of identical earlier executions (`--no-cache` turns it off).
    pub use_cache: bool,
    /// Steps an interrupted earlier attempt at this run committed (`--resume`): those that
    /// succeeded with the component the plan names are kept, not run again.
    pub resumed: Vec<StepReport>,
    /// Longest the run may take; then it stops like a cancel and fails.
    pub timeout: Option<Duration>,
    /// Stops the run when triggered (Ctrl-C).
    pub cancel: CancelSignal,
}

impl RunOptions {
    /// Options with defaults: 4 steps at once, cache on, no time limit.
    pub fn new(run_id: impl Into<String>) -> Self {
        Self {
            run_id: run_id.into(),
            concurrency: 4,
            use_cache: true,
            resumed: Vec::new(),
            timeout: None,
            cancel: CancelSignal::default(),
        }
    }
}

/// What a run works with.
#[derive(Clone)]
pub struct RunServices {
    /// Executes steps.
    pub executor: Arc<dyn Executor>,
    /// Where artifacts live.
    pub store: ArtifactStore,
    /// Where finished steps are committed and cached results looked up.
    pub journal: Arc<dyn Journal>,
}

/// Why a run could not go on (step failures are in the report, never here).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A finished step could not be committed; the run stopped rather than go on without
    /// durable records.
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// Runs `plan`: `components[i]` is the digest of the component of `plan.steps[i]`, and
/// `inputs` holds the workflow inputs already in the store. The run ends by recording its
/// final status in the journal.
pub async fn run_plan(
    plan: &Plan,
    components: &[Digest],
    inputs: BTreeMap<String, ArtifactMeta>,
    services: &RunServices,
    options: &RunOptions,
    events: Option<UnboundedSender<RunEvent>>,
) -> Result<RunReport, RunError> {
    let started = Instant::now();
    let cancel = options.cancel.clone();
    let mut run = Run::new(plan, components, inputs, options, events.clone());
    let watcher = tokio::spawn(watch_for_stop(
        services.journal.clone(),
        options.run_id.clone(),
        options.timeout.or(plan.timeout),
        cancel.clone(),
    ));

    let committer = Committer::start(services.journal.clone(), run.report.clone(), {
        let cancel = cancel.clone();
        move |e| cancel.fail(format!("stopped: {e}"))
    });
    drive(&mut run, services, options, &cancel, &committer, events).await;
    let outcome = committer.finish().await;
    watcher.abort();

    let mut report = run.finish(cancel.reason(), cancel.failed());
    report.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    if let Err(e) = &outcome {
        report.status = RunStatus::Failed;
        report.error = Some(e.to_string());
    }
    // The run's final status is part of its records; when commits already failed, this
    // is a last try to record why (its own failure is then secondary).
    let finished = services.journal.finish(&report).await;
    outcome.and(finished).map(|()| report).map_err(RunError::from)
}

/// The scheduling loop: start what is ready, wait for something to finish, commit it.
async fn drive(
    run: &mut Run<'_>,
    services: &RunServices,
    options: &RunOptions,
    cancel: &CancelSignal,
    committer: &Committer,
    events: Option<UnboundedSender<RunEvent>>,
) {
    let concurrency = options.concurrency.max(1);
    let mut running: JoinSet<(usize, JobResult)> = JoinSet::new();
    let mut task_step: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut finished: Vec<(usize, JobResult)> = Vec::new();
    loop {
        // Instances held back by their step's own concurrency bound; they keep their turn.
        let mut held = Vec::new();
        while running.len() < concurrency && !cancel.is_cancelled() {
            let Some(i) = run.ready.pop_front() else {
                break;
            };
            if !run.condition_holds(i) {
                continue;
            }
            if !run.group_has_room(i) {
                held.push(i);
                continue;
            }
            run.started(i);
            let job = run.job(i, options.use_cache, cancel);
            let job_run = run_job(services.clone(), cancel.clone(), events.clone(), job);
            if running.is_empty() && run.ready.is_empty() {
                // The only step that can run now: run it on this task. Nothing else can
                // become ready before it ends, and it spares a hand-over to another worker
                // thread and back, which costs more than a no-op step itself.
                finished.push((i, job_run.await));
                break;
            }
            let handle = running.spawn(async move { (i, job_run.await) });
            task_step.insert(handle.id(), i);
        }
        for i in held.into_iter().rev() {
            run.ready.push_front(i);
        }
        if finished.is_empty() {
            let Some(joined) = running.join_next_with_id().await else {
                break;
            };
            finished.push(joined_result(joined, &task_step));
            while let Some(joined) = running.try_join_next_with_id() {
                finished.push(joined_result(joined, &task_step));
            }
        }
        for (i, result) in finished.drain(..) {
            run.complete(i, result);
            if committer.keeps() {
                committer.send(run.report.steps[i].clone());
            }
        }
    }
}

fn joined_result(
    joined: Result<(tokio::task::Id, (usize, JobResult)), tokio::task::JoinError>,
    task_step: &HashMap<tokio::task::Id, usize>,
) -> (usize, JobResult) {
    match joined {
        Ok((_, done)) => done,
        Err(e) => {
            // Only a panic outside the executor (caught inside) or an abort gets here.
            let i = task_step.get(&e.id()).copied().unwrap_or_default();
            let result = weft_task::TaskResult::failed(StepFailure::Host(format!("step task ended: {e}")));
            (
                i,
                JobResult {
                    result,
                    attempts: Vec::new(),
                    reuse: None,
                },
            )
        }
    }
}

/// Cancels the run when its time is up or the journal says someone cancelled it.
async fn watch_for_stop(journal: Arc<dyn Journal>, run_id: String, timeout: Option<Duration>, cancel: CancelSignal) {
    let deadline = timeout.map(|t| (tokio::time::Instant::now() + t, t));
    // The first look comes one period in: a run just recorded was not cancelled yet, and
    // a query at every run's start would cost short runs more than they take.
    let mut poll = tokio::time::interval_at(tokio::time::Instant::now() + CANCEL_POLL, CANCEL_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = async {
                match deadline {
                    Some((at, _)) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let limit = deadline.map(|(_, t)| t).unwrap_or_default();
                cancel.fail(format!("the run's time limit of {} passed", humantime::format_duration(limit)));
                return;
            }
            _ = poll.tick() => match journal.cancel_requested(&run_id).await {
                Ok(true) => {
                    cancel.cancel("cancelled by `weft cancel`");
                    return;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!("cannot check for a cancel request: {e}"),
            },
            () = cancel.cancelled() => return,
        }
    }
}
