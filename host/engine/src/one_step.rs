//! One step of a run executed on its own, away from the process that scheduled the run (a
//! worker that claimed it from the shared queue): its task built from the plan and the
//! committed outputs of the steps before it, then executed exactly as the in-process
//! scheduler executes a step — cache lookup, retries with backoff, provenance for the
//! guest's lineage — and reported as the scheduler would commit it.

use crate::cancel::CancelSignal;
use crate::report::{StepReport, StepStatus, planned_steps};
use crate::run_state::Run;
use crate::scheduler::{RunOptions, RunServices};
use crate::step_job::run_job;
use std::collections::{BTreeMap, HashMap};
use weft_artifacts::{ArtifactMeta, Digest};
use weft_model::Plan;
use weft_task::StepFailure;

/// What one step of a recorded run needs to execute on its own.
pub struct OneStep<'a> {
    /// The run's plan.
    pub plan: &'a Plan,
    /// The component digest of each step of `plan`.
    pub components: &'a [Digest],
    /// The run's workflow inputs.
    pub inputs: BTreeMap<String, ArtifactMeta>,
    /// The outputs of the step's [`ancestors`], by step id then port, as committed.
    pub produced: BTreeMap<String, BTreeMap<String, ArtifactMeta>>,
    /// The run's id.
    pub run_id: &'a str,
    /// The step (an index into `plan.steps`).
    pub step: usize,
}

/// The steps whose outputs step `i`'s task reads, directly or through its inputs'
/// lineage: every transitive dependency, in plan order.
pub fn ancestors(plan: &Plan, i: usize) -> Vec<usize> {
    let mut seen = vec![false; plan.steps.len()];
    let mut stack: Vec<usize> = plan.steps[i].deps.clone();
    while let Some(d) = stack.pop() {
        if !std::mem::replace(&mut seen[d], true) {
            stack.extend(&plan.steps[d].deps);
        }
    }
    seen.iter().enumerate().filter(|(_, s)| **s).map(|(k, _)| k).collect()
}

/// How one step's execution ended.
pub struct Executed {
    /// Its report, ready to commit.
    pub report: StepReport,
    /// Whether it failed on the host's side (the store unreachable, ...): not the step's
    /// doing, so a later try elsewhere may succeed.
    pub host_failure: bool,
}

/// Executes the step (or finds it in the cache). An ancestor whose outputs are missing
/// from `produced` leaves the step unable to read them: it fails rather than reading
/// anything else.
pub async fn execute_one(
    step: OneStep<'_>,
    services: &RunServices,
    use_cache: bool,
    cancel: &CancelSignal,
) -> Executed {
    let planned = planned_steps(step.plan, step.components);
    let index: HashMap<&str, usize> = planned.iter().enumerate().map(|(k, s)| (s.id.as_str(), k)).collect();
    let mut resumed = Vec::with_capacity(step.produced.len());
    for (id, outputs) in step.produced {
        if let Some(&k) = index.get(id.as_str()) {
            resumed.push(StepReport {
                status: StepStatus::Succeeded,
                outputs,
                ..planned[k].clone()
            });
        }
    }
    let options = RunOptions {
        resumed,
        cancel: cancel.clone(),
        ..RunOptions::new(step.run_id)
    };
    let mut run = Run::new(step.plan, step.components, step.inputs, &options, None);
    let i = step.step;
    let job = run.job(i, use_cache, cancel);
    run.started(i);
    let result = run_job(services.clone(), cancel.clone(), None, job).await;
    let host_failure = matches!(result.result.outputs, Err(StepFailure::Host(_)));
    run.complete(i, result);
    Executed {
        report: run.report.steps.swap_remove(i),
        host_failure,
    }
}
