//! The scheduler: starts each step as soon as its inputs are published, runs independent
//! steps concurrently under a bound, and blocks the dependents of a failed step.

use crate::events::{RunEvent, StepState};
use crate::executor::{Executor, StepTask, TaskResult};
use crate::report::{LogRecord, RunReport, RunStatus, StepReport, StepStatus};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Instant, SystemTime};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;
use weft_artifacts::{ArtifactError, ArtifactMeta, ArtifactStore, Digest};
use weft_model::{ParamValue, Plan, Source};

/// How to run a plan.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Id of this run.
    pub run_id: String,
    /// Most steps executing at once.
    pub concurrency: usize,
}

fn param_json(v: &ParamValue) -> serde_json::Value {
    match v {
        ParamValue::Str(s) => serde_json::Value::from(s.clone()),
        ParamValue::Int(i) => serde_json::Value::from(*i),
        ParamValue::Float(f) => serde_json::Value::from(*f),
        ParamValue::Bool(b) => serde_json::Value::from(*b),
    }
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
    let n = plan.steps.len();
    let emit = |step: usize, state: StepState| {
        if let Some(tx) = &events {
            let _ = tx.send(RunEvent {
                step: plan.steps[step].id.clone(),
                state,
            });
        }
    };
    let mut report = RunReport {
        run_id: options.run_id.clone(),
        workflow: plan.name.clone(),
        status: RunStatus::Running,
        started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        duration_ms: 0.0,
        params: plan
            .params
            .iter()
            .map(|(k, v)| (k.clone(), param_json(v)))
            .collect(),
        inputs: inputs.clone(),
        steps: plan
            .steps
            .iter()
            .zip(components)
            .map(|(s, c)| StepReport {
                id: s.id.clone(),
                uses: s.uses.clone(),
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
    store
        .put_run_document(&options.run_id, crate::MANIFEST, &report)
        .await?;

    let index: HashMap<&str, usize> = plan
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let mut waiting_on: Vec<usize> = plan.steps.iter().map(|s| s.deps.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, s) in plan.steps.iter().enumerate() {
        for &d in &s.deps {
            dependents[d].push(i);
        }
    }
    let mut ready: VecDeque<usize> = (0..n).filter(|&i| waiting_on[i] == 0).collect();
    for (i, _) in waiting_on.iter().enumerate().filter(|(_, w)| **w > 0) {
        emit(i, StepState::Waiting);
    }
    let mut produced: HashMap<(usize, String), ArtifactMeta> = HashMap::new();
    let mut running: JoinSet<(usize, TaskResult)> = JoinSet::new();
    let mut task_step: HashMap<tokio::task::Id, usize> = HashMap::new();
    let concurrency = options.concurrency.max(1);

    loop {
        while running.len() < concurrency {
            let Some(i) = ready.pop_front() else { break };
            let step = &plan.steps[i];
            let task_inputs = step
                .inputs
                .iter()
                .map(|b| {
                    let meta = match &b.source {
                        Source::Input(name) => inputs.get(name).cloned(),
                        Source::Step { step, port } => index
                            .get(step.as_str())
                            .and_then(|&p| produced.get(&(p, port.clone())).cloned()),
                    };
                    // Validation guarantees every source exists and every producer succeeded
                    // before this step became ready.
                    (
                        b.port.clone(),
                        meta.unwrap_or_else(|| unreachable_source(&step.id, &b.port)),
                    )
                })
                .collect();
            let task = StepTask {
                run_id: options.run_id.clone(),
                step: step.id.clone(),
                component: components[i],
                inputs: task_inputs,
                params: step.params.clone(),
                limits: step.limits,
            };
            emit(i, StepState::Running);
            let exec = executor.clone();
            let handle = running.spawn(async move { (i, exec.execute(task).await) });
            task_step.insert(handle.id(), i);
        }
        let Some(joined) = running.join_next_with_id().await else {
            break;
        };
        let (i, result) = match joined {
            Ok((_, pair)) => pair,
            Err(e) => {
                // The executor panicked: fail that step alone, keep the run going.
                let Some(&i) = task_step.get(&e.id()) else {
                    continue;
                };
                (
                    i,
                    TaskResult {
                        outputs: Err(weft_sandbox::StepFailure::Host(format!(
                            "executor panicked: {e}"
                        ))),
                        log: Vec::new(),
                        metrics: Vec::new(),
                        duration: std::time::Duration::ZERO,
                    },
                )
            }
        };
        let rep = &mut report.steps[i];
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
                for (port, meta) in outputs {
                    rep.outputs.insert(port.clone(), meta.clone());
                    produced.insert((i, port), meta);
                }
                emit(i, StepState::Succeeded(result.duration));
                for &d in &dependents[i] {
                    waiting_on[d] -= 1;
                    if waiting_on[d] == 0 && report.steps[d].status == StepStatus::Pending {
                        ready.push_back(d);
                    }
                }
            }
            Err(failure) => {
                let message = failure.to_string();
                rep.status = StepStatus::Failed;
                rep.error = Some(message.clone());
                emit(i, StepState::Failed(message));
                block_dependents(i, &dependents, &mut report, &emit);
            }
        }
    }

    report.status = if report
        .steps
        .iter()
        .all(|s| s.status == StepStatus::Succeeded)
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

fn unreachable_source(step: &str, port: &str) -> ArtifactMeta {
    // Kept as a loud failure rather than a panic path: an empty artifact would be silently
    // wrong, so give the step a digest that cannot exist in the store.
    tracing::error!("bug: input `{port}` of step `{step}` had no published source");
    ArtifactMeta {
        digest: Digest::of(format!("missing source {step}.{port}").as_bytes()),
        size: 0,
        media_type: "application/octet-stream".into(),
    }
}

/// Marks every transitive dependent of `failed` as blocked.
fn block_dependents(
    failed: usize,
    dependents: &[Vec<usize>],
    report: &mut RunReport,
    emit: &impl Fn(usize, StepState),
) {
    let reason = format!("not run: step `{}` failed", report.steps[failed].id);
    let mut queue: VecDeque<usize> = dependents[failed].iter().copied().collect();
    while let Some(d) = queue.pop_front() {
        if report.steps[d].status != StepStatus::Pending {
            continue;
        }
        report.steps[d].status = StepStatus::Blocked;
        report.steps[d].error = Some(reason.clone());
        emit(d, StepState::Blocked(reason.clone()));
        queue.extend(dependents[d].iter().copied());
    }
}
