//! The bookkeeping of one run: what each step waits for, what has been produced (with its
//! provenance), which steps a resume or the cache already settled, and the report.

use crate::cache_key::cache_key;
use crate::cancel::CancelSignal;
use crate::events::{RunEvent, StepState};
use crate::report::{
    InputReport, LogRecord, Reuse, RunReport, RunStatus, StepReport, StepStatus, param_json, planned_steps,
};
use crate::scheduler::RunOptions;
use crate::step_job::Job;
use crate::step_job::JobResult;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc::UnboundedSender;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_model::{Plan, Source};
use weft_task::StepTask;
use weft_task::{MadeBy, Provenance, StepFailure};

/// The bookkeeping of one run: what each step waits for, what has been produced, the report.
pub(crate) struct Run<'p> {
    plan: &'p Plan,
    components: &'p [Digest],
    run_id: String,
    /// Workflow inputs by name.
    inputs: BTreeMap<String, Arc<Provenance>>,
    index: HashMap<&'p str, usize>,
    waiting_on: Vec<usize>,
    dependents: Vec<Vec<usize>>,
    pub(crate) ready: VecDeque<usize>,
    produced: HashMap<(usize, String), Arc<Provenance>>,
    pub(crate) report: RunReport,
    events: Option<UnboundedSender<RunEvent>>,
    /// Authored step id → instances running now (for per-step concurrency bounds).
    running_in: HashMap<&'p str, usize>,
}

impl<'p> Run<'p> {
    pub(crate) fn new(
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
            error: None,
            started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            duration_ms: 0.0,
            params: plan.params.iter().map(|(k, v)| (k.clone(), param_json(v))).collect(),
            inputs: inputs.clone(),
            steps: planned_steps(plan, components),
        };
        let waiting_on: Vec<usize> = plan.steps.iter().map(|s| s.deps.len()).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, s) in plan.steps.iter().enumerate() {
            for &d in &s.deps {
                dependents[d].push(i);
            }
        }
        let mut run = Run {
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
            ready: VecDeque::new(),
            waiting_on,
            dependents,
            produced: HashMap::new(),
            report,
            events,
            running_in: HashMap::new(),
        };
        run.adopt_resumed(&options.resumed);
        for i in 0..n {
            if run.report.steps[i].status == StepStatus::Pending {
                if run.waiting_on[i] == 0 {
                    run.ready.push_back(i);
                } else {
                    run.emit(i, StepState::Waiting);
                }
            }
        }
        run
    }

    /// Keeps the steps an interrupted attempt at this run committed as succeeded, when
    /// they ran the component the plan names; in plan order, so their producers come first.
    fn adopt_resumed(&mut self, resumed: &[StepReport]) {
        let committed: HashMap<&str, &StepReport> = resumed
            .iter()
            .filter(|r| r.status == StepStatus::Succeeded)
            .map(|r| (r.id.as_str(), r))
            .collect();
        for i in 0..self.plan.steps.len() {
            let Some(done) = committed.get(self.plan.steps[i].id.as_str()) else {
                continue;
            };
            let ready = self.plan.steps[i]
                .deps
                .iter()
                .all(|&d| self.report.steps[d].status == StepStatus::Succeeded);
            let declared = self.plan.steps[i]
                .outputs
                .iter()
                .all(|(p, _)| done.outputs.contains_key(p));
            if done.component != self.components[i] || !ready || !declared {
                continue;
            }
            let mut report = (*done).clone();
            report.reuse = Some(report.reuse.unwrap_or(Reuse::Resumed));
            self.report.steps[i] = report;
            self.publish(i);
            self.emit(
                i,
                StepState::Reused(self.report.steps[i].reuse.clone().unwrap_or(Reuse::Resumed)),
            );
            for k in 0..self.dependents[i].len() {
                let d = self.dependents[i][k];
                self.waiting_on[d] -= 1;
            }
        }
    }

    /// Records the provenance of step `i`'s outputs (in its report) for the steps that read them.
    fn publish(&mut self, i: usize) {
        let step = &self.plan.steps[i];
        let made_by = MadeBy {
            step: format!("{}@{}", step.info.name, step.info.version),
            component: self.components[i],
            params: step.params.clone(),
            inputs: self.bound_inputs(i).into_iter().map(|(_, p)| p).collect(),
        };
        for (port, meta) in &self.report.steps[i].outputs {
            let provenance = Arc::new(Provenance {
                source: format!("{}.{port}", step.id),
                artifact: meta.clone(),
                made_by: Some(made_by.clone()),
            });
            self.produced.insert((i, port.clone()), provenance);
        }
    }

    /// A ready step's job: its task, retry policy, and cache key when it may be cached.
    pub(crate) fn job(&mut self, i: usize, use_cache: bool, cancel: &CancelSignal) -> Job {
        let task = self.task(i, cancel);
        let policy = self.plan.steps[i].policy;
        let cache_key =
            (use_cache && policy.cache).then(|| cache_key(&task.component, &task.inputs, &task.params, &task.outputs));
        let rep = &mut self.report.steps[i];
        rep.cache_key = cache_key;
        rep.inputs = task
            .inputs
            .iter()
            .map(|(port, p)| InputReport {
                port: port.clone(),
                source: p.source.clone(),
                digest: p.artifact.digest,
            })
            .collect();
        Job {
            task,
            retry: policy.retry,
            cache_key,
        }
    }

    /// The final report: steps that never got to run are cancelled (when the run was
    /// stopped: as a failure with `failed`, else cancelled), and the run's status follows
    /// from its steps.
    pub(crate) fn finish(mut self, stopped: Option<String>, failed: bool) -> RunReport {
        for rep in &mut self.report.steps {
            if rep.status == StepStatus::Pending {
                rep.status = StepStatus::Cancelled;
                rep.error = Some(stopped.clone().unwrap_or_else(|| "not run".into()));
            }
        }
        let steps = &self.report.steps;
        self.report.status = if let Some(reason) = &stopped {
            self.report.error = Some(reason.clone());
            if failed {
                RunStatus::Failed
            } else {
                RunStatus::Cancelled
            }
        } else if steps
            .iter()
            .all(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
        {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        self.report
    }

    pub(crate) fn emit(&self, step: usize, state: StepState) {
        if let Some(tx) = &self.events {
            let metrics = match state {
                StepState::Succeeded(_) | StepState::Reused(_) => self.report.steps[step].metrics.clone(),
                _ => Vec::new(),
            };
            let _ = tx.send(RunEvent {
                step: self.plan.steps[step].id.clone(),
                state,
                metrics,
            });
        }
    }

    /// The self-contained task of a ready step: its bound inputs are all published.
    fn task(&self, i: usize, cancel: &CancelSignal) -> StepTask {
        let step = &self.plan.steps[i];
        StepTask {
            run_id: self.run_id.clone(),
            step: step.id.clone(),
            component: self.components[i],
            inputs: self.bound_inputs(i),
            params: step.params.clone(),
            outputs: step.outputs.clone(),
            limits: step.limits,
            interrupt: Some(cancel.interrupt()),
            attempt: 1,
            budget: Arc::default(),
            started: weft_task::Started::default(),
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
    pub(crate) fn complete(&mut self, i: usize, job: JobResult) {
        if let Some(inst) = &self.plan.steps[i].instance
            && let Some(n) = self.running_in.get_mut(inst.of.as_str())
        {
            *n = n.saturating_sub(1);
        }
        let result = job.result;
        let rep = &mut self.report.steps[i];
        rep.duration_ms = Some(result.duration.as_secs_f64() * 1e3);
        rep.metrics = result.metrics;
        rep.attempts = job.attempts;
        rep.reuse = job.reuse;
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
                rep.outputs = outputs.into_iter().collect();
                self.publish(i);
                let state = match &self.report.steps[i].reuse {
                    Some(reuse) => StepState::Reused(reuse.clone()),
                    None => StepState::Succeeded(result.duration),
                };
                self.emit(i, state);
                for k in 0..self.dependents[i].len() {
                    let d = self.dependents[i][k];
                    self.waiting_on[d] -= 1;
                    if self.waiting_on[d] == 0 && self.report.steps[d].status == StepStatus::Pending {
                        self.ready.push_back(d);
                    }
                }
            }
            Err(StepFailure::Cancelled) => {
                rep.status = StepStatus::Cancelled;
                rep.error = Some("cancelled while running".into());
                self.emit(i, StepState::Cancelled);
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
    pub(crate) fn group_has_room(&self, i: usize) -> bool {
        let step = &self.plan.steps[i];
        match (&step.instance, step.concurrency) {
            (Some(inst), Some(bound)) => self.running_in.get(inst.of.as_str()).copied().unwrap_or(0) < bound,
            _ => true,
        }
    }

    pub(crate) fn started(&mut self, i: usize) {
        if let Some(inst) = &self.plan.steps[i].instance {
            *self.running_in.entry(inst.of.as_str()).or_default() += 1;
        }
    }

    /// Evaluates a ready step's `when:`; a false condition skips it (and what needs it), an
    /// unevaluable one fails it. Returns whether the step should run.
    pub(crate) fn condition_holds(&mut self, i: usize) -> bool {
        let Some(condition) = &self.plan.steps[i].condition else {
            return true;
        };
        let (report, index) = (&self.report, &self.index);
        // By index, not `report.step` (a scan): a plan may hold 100,000 steps.
        let metric = |step: &str, name: &str| {
            index
                .get(step)
                .and_then(|&k| report.steps[k].metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
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
