//! The scheduler: starts each step as soon as its inputs are published, runs independent
//! steps concurrently under a bound, and blocks the dependents of a failed step.

use crate::events::{RunEvent, StepState};
use crate::executor::{Executor, StepTask, TaskResult};
use crate::report::{InstanceReport, LogRecord, RunReport, RunStatus, StepReport, StepStatus};
use futures::FutureExt;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use weft_artifacts::{ArtifactError, ArtifactMeta, ArtifactStore, Digest};
use weft_model::{ParamValue, Plan, Source};
use weft_sandbox::{MadeBy, Provenance, StepFailure};

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Id of this run.
    pub run_id: String,
    /// Most steps executing at once.
    pub concurrency: usize,
}

/// Runs `plan`: `components[i]` is the digest of the component of `plan.steps[i]`, and
/// `inputs` holds the workflow inputs already in `store`. The run report is written to the
/// store as the run's manifest when the run starts and when it ends; the only error is
/// failing to write it. Step failures are in the report, never an `Err`.
pub async fn run_plan(
    plan: &Plan,
    components: &[Digest],
    inputs: BTreeMap<String, ArtifactMeta>,
    executor: Arc<dyn Executor>,
    store: &ArtifactStore,
    options: &RunOptions,
    events: Option<UnboundedSender<RunEvent>>,
) -> Result<RunReport, ArtifactError> {
    let started = Instant::now();
    let mut run = Run::new(plan, components, inputs, options, events);
    store
        .put_run_document(&options.run_id, crate::MANIFEST, &run.report)
        .await?;

    let concurrency = options.concurrency.max(1);
    let mut running: JoinSet<(usize, TaskResult)> = JoinSet::new();
    let mut task_step: HashMap<tokio::task::Id, usize> = HashMap::new();
    loop {
        // Instances held back by their step's own concurrency bound; they keep their turn.
        let mut held = Vec::new();
        while running.len() < concurrency {
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
            let task = run.task(i);
            run.emit(i, StepState::Running);
            if running.is_empty() && run.ready.is_empty() {
                // The only step that can run now: run it on this task. Nothing else can
                // become ready before it ends, and it spares a hand-over to another worker
                // thread and back, which costs more than a no-op step itself.
                let result = execute(executor.clone(), task).await;
                run.complete(i, result);
                continue;
            }
            let exec = executor.clone();
            let handle = running.spawn(async move { (i, execute(exec, task).await) });
            task_step.insert(handle.id(), i);
        }
        for i in held.into_iter().rev() {
            run.ready.push_front(i);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        match joined {
            Ok((_, (i, result))) => run.complete(i, result),
            Err(e) => {
                // Only cancellation gets here (panics are caught in `execute`).
                if let Some(&i) = task_step.get(&e.id()) {
                    run.complete(i, failure(StepFailure::Host(format!("step task ended: {e}"))));
                }
            }
        }
    }

    let mut report = run.report;
    report.status = if report
        .steps
        .iter()
        .all(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
    {
        RunStatus::Succeeded
    } else {
        RunStatus::Failed
    };
    report.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    store
        .put_run_document(&options.run_id, crate::MANIFEST, &report)
        .await?;
    Ok(report)
}

/// Executes one step; a panicking executor fails that step, not the run.
async fn execute(executor: Arc<dyn Executor>, task: StepTask) -> TaskResult {
    match AssertUnwindSafe(executor.execute(task)).catch_unwind().await {
        Ok(result) => result,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(ToString::to_string)
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            failure(StepFailure::Host(format!("the executor panicked: {what}")))
        }
    }
}

fn failure(f: StepFailure) -> TaskResult {
    TaskResult {
        outputs: Err(f),
        log: Vec::new(),
        metrics: Vec::new(),
        duration: Duration::ZERO,
    }
}

fn param_json(v: &ParamValue) -> serde_json::Value {
    match v {
        ParamValue::Str(s) => serde_json::Value::from(s.clone()),
        ParamValue::Int(i) => serde_json::Value::from(*i),
        ParamValue::Float(f) => serde_json::Value::from(*f),
        ParamValue::Bool(b) => serde_json::Value::from(*b),
    }
}

/// The bookkeeping of one run: what each step waits for, what has been produced, the report.
struct Run<'p> {
    plan: &'p Plan,
    components: &'p [Digest],
    run_id: String,
    /// Workflow inputs by name.
    inputs: BTreeMap<String, Arc<Provenance>>,
    index: HashMap<&'p str, usize>,
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    ready: VecDeque<usize>,
    produced: HashMap<(usize, String), Arc<Provenance>>,
    report: RunReport,
    events: Option<UnboundedSender<RunEvent>>,
    /// Authored step id → instances running now (for per-step concurrency bounds).
    running_in: HashMap<&'p str, usize>,
}

impl<'p> Run<'p> {
    fn new(
        plan: &'p Plan,
        components: &'p [Digest],
        inputs: BTreeMap<String, ArtifactMeta>,
        options: &RunOptions,
        events: Option<UnboundedSender<RunEvent>>,
    ) -> Self {
        let n = plan.steps.len();
        let report = RunReport {
            run_id: options.run_id.clone(),
            workflow: plan.name.clone(),
            status: RunStatus::Running,
            started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            duration_ms: 0.0,
            params: plan.params.iter().map(|(k, v)| (k.clone(), param_json(v))).collect(),
            inputs: inputs.clone(),
            steps: plan
                .steps
                .iter()
                .zip(components)
                .map(|(s, c)| StepReport {
                    id: s.id.clone(),
                    uses: s.uses.clone(),
                    instance: s.instance.as_ref().map(|inst| InstanceReport {
                        of: inst.of.clone(),
                        values: inst.values.iter().map(|(k, v)| (k.clone(), param_json(v))).collect(),
                    }),
                    component: *c,
                    status: StepStatus::Pending,
                    duration_ms: None,
                    outputs: BTreeMap::new(),
                    metrics: Vec::new(),
                    error: None,
                    log: Vec::new(),
                })
                .collect(),
        };
        let waiting_on: Vec<usize> = plan.steps.iter().map(|s| s.deps.len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in plan.steps.iter().enumerate() {
            for &d in &s.deps {
                dependents[d].push(i);
            }
        }
        let run = Run {
            plan,
            components,
            run_id: options.run_id.clone(),
            inputs: inputs
                .into_iter()
                .map(|(name, meta)| {
                    let source = format!("inputs.{name}");
                    (name, Provenance::origin(source, meta))
                })
                .collect(),
            index: plan.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect(),
            ready: (0..n).filter(|&i| waiting_on[i] == 0).collect(),
            waiting_on,
            dependents,
            produced: HashMap::new(),
            report,
            events,
            running_in: HashMap::new(),
        };
        for (i, _) in run.waiting_on.iter().enumerate().filter(|(_, w)| **w > 0) {
            run.emit(i, StepState::Waiting);
        }
        run
    }

    fn emit(&self, step: usize, state: StepState) {
        if let Some(tx) = &self.events {
            let _ = tx.send(RunEvent {
                step: self.plan.steps[step].id.clone(),
                state,
            });
        }
    }

    /// The self-contained task of a ready step: its bound inputs are all published.
    fn task(&self, i: usize) -> StepTask {
        let step = &self.plan.steps[i];
        StepTask {
            run_id: self.run_id.clone(),
            step: step.id.clone(),
            component: self.components[i],
            inputs: self.bound_inputs(i),
            params: step.params.clone(),
            outputs: step.outputs.clone(),
            limits: step.limits,
        }
    }

    /// What step `i` reads, port by port; its producers must have succeeded.
    fn bound_inputs(&self, i: usize) -> Vec<(String, Arc<Provenance>)> {
        let step = &self.plan.steps[i];
        step.inputs
            .iter()
            .map(|b| {
                let provenance = match &b.source {
                    Source::Input(name) => self.inputs.get(name).cloned(),
                    Source::Step { step, port } => self
                        .index
                        .get(step.as_str())
                        .and_then(|&p| self.produced.get(&(p, port.clone())).cloned()),
                };
                // Validation guarantees the source exists, and a step becomes ready only
                // after its producers succeeded; should that ever break, point the input at
                // a digest that is in no store, so the step fails instead of reading wrong bytes.
                let provenance = provenance.unwrap_or_else(|| {
                    tracing::error!("bug: input `{}` of step `{}` has no published source", b.port, step.id);
                    let missing = format!("missing source {}.{}", step.id, b.port);
                    let meta = ArtifactMeta {
                        digest: Digest::of(missing.as_bytes()),
                        size: 0,
                        media_type: b.media_type.clone(),
                    };
                    Provenance::origin(missing, meta)
                });
                (b.port.clone(), provenance)
            })
            .collect()
    }

    /// Records a finished step and readies the dependents it unblocks (or blocks them).
    fn complete(&mut self, i: usize, result: TaskResult) {
        if let Some(inst) = &self.plan.steps[i].instance
            && let Some(n) = self.running_in.get_mut(inst.of.as_str())
        {
            *n = n.saturating_sub(1);
        }
        let rep = &mut self.report.steps[i];
        rep.duration_ms = Some(result.duration.as_secs_f64() * 1e3);
        rep.metrics = result.metrics;
        rep.log = result
            .log
            .into_iter()
            .map(|l| LogRecord {
                stream: l.stream.label().to_string(),
                message: l.message,
            })
            .collect();
        match result.outputs {
            Ok(outputs) => {
                rep.status = StepStatus::Succeeded;
                let step = &self.plan.steps[i];
                let made_by = MadeBy {
                    step: format!("{}@{}", step.info.name, step.info.version),
                    component: self.components[i],
                    params: step.params.clone(),
                    inputs: self.bound_inputs(i).into_iter().map(|(_, p)| p).collect(),
                };
                for (port, meta) in outputs {
                    self.report.steps[i].outputs.insert(port.clone(), meta.clone());
                    let provenance = Arc::new(Provenance {
                        source: format!("{}.{port}", step.id),
                        artifact: meta,
                        made_by: Some(made_by.clone()),
                    });
                    self.produced.insert((i, port), provenance);
                }
                self.emit(i, StepState::Succeeded(result.duration));
                for k in 0..self.dependents[i].len() {
                    let d = self.dependents[i][k];
                    self.waiting_on[d] -= 1;
                    if self.waiting_on[d] == 0 && self.report.steps[d].status == StepStatus::Pending {
                        self.ready.push_back(d);
                    }
                }
            }
            Err(failure) => {
                let message = failure.to_string();
                rep.status = StepStatus::Failed;
                rep.error = Some(message.clone());
                self.emit(i, StepState::Failed(message));
                self.stop_dependents(i, StepStatus::Blocked);
            }
        }
    }

    /// Whether another instance of step `i`'s authored step may start now.
    fn group_has_room(&self, i: usize) -> bool {
        let step = &self.plan.steps[i];
        match (&step.instance, step.concurrency) {
            (Some(inst), Some(bound)) => self.running_in.get(inst.of.as_str()).copied().unwrap_or(0) < bound,
            _ => true,
        }
    }

    fn started(&mut self, i: usize) {
        if let Some(inst) = &self.plan.steps[i].instance {
            *self.running_in.entry(inst.of.as_str()).or_default() += 1;
        }
    }

    /// Evaluates a ready step's `when:`; a false condition skips it (and what needs it), an
    /// unevaluable one fails it. Returns whether the step should run.
    fn condition_holds(&mut self, i: usize) -> bool {
        let Some(condition) = &self.plan.steps[i].condition else {
            return true;
        };
        let report = &self.report;
        let metric = |step: &str, name: &str| {
            report
                .step(step)
                .and_then(|s| s.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
        };
        match condition.expr.eval_bool(&metric) {
            Ok(true) => true,
            Ok(false) => {
                let reason = format!("skipped: condition `{}` is false", condition.text);
                self.report.steps[i].status = StepStatus::Skipped;
                self.report.steps[i].error = Some(reason.clone());
                self.emit(i, StepState::Skipped(reason));
                self.stop_dependents(i, StepStatus::Skipped);
                false
            }
            Err(e) => {
                let message = format!("condition `{}` cannot be evaluated: {e}", condition.text);
                self.report.steps[i].status = StepStatus::Failed;
                self.report.steps[i].error = Some(message.clone());
                self.emit(i, StepState::Failed(message));
                self.stop_dependents(i, StepStatus::Blocked);
                false
            }
        }
    }

    /// Marks every transitive dependent of `origin` (which failed or was skipped) as
    /// `status` (blocked or skipped); none of them will run.
    fn stop_dependents(&mut self, origin: usize, status: StepStatus) {
        let id = &self.report.steps[origin].id;
        let reason = match status {
            StepStatus::Skipped => format!("skipped: step `{id}` was skipped"),
            _ => format!("not run: step `{id}` failed"),
        };
        let mut queue: VecDeque<usize> = self.dependents[origin].iter().copied().collect();
        while let Some(d) = queue.pop_front() {
            if self.report.steps[d].status != StepStatus::Pending {
                continue;
            }
            self.report.steps[d].status = status;
            self.report.steps[d].error = Some(reason.clone());
            let state = match status {
                StepStatus::Skipped => StepState::Skipped(reason.clone()),
                _ => StepState::Blocked(reason.clone()),
            };
            self.emit(d, state);
            queue.extend(self.dependents[d].iter().copied());
        }
    }
}
