//! What a run does next, decided from its recorded step statuses alone: which steps are
//! ready to execute, which a failed or skipped producer or a false `when:` settles without
//! executing, and whether the run is over. The in-process scheduler decides the same as it
//! goes (`run_state.rs`); this is the form for workers that share a database, which advance
//! a run in the transaction that commits a step (issue 11), with no process holding the
//! run's state in memory.

use crate::report::StepStatus;
use std::collections::HashMap;
use weft_model::Plan;

/// The decisions [`advance`] made.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Advance {
    /// Steps (plan indices) whose producers all succeeded and whose condition holds:
    /// to execute (a step executing or queued already is among them; queueing it again
    /// must change nothing).
    pub ready: Vec<usize>,
    /// Steps settled without executing: their new status (skipped, blocked, or failed for
    /// a condition that cannot be evaluated) and why.
    pub settled: Vec<(usize, StepStatus, String)>,
    /// Whether every step has a final status once `settled` is recorded (nothing ready,
    /// nothing waiting).
    pub finished: bool,
}

/// The decisions for `plan` whose steps stand as `status` (`status[i]` is `plan.steps[i]`'s,
/// as the records hold it), with `metric(i, name)` the value step `i` recorded (read only
/// by `when:` conditions). Steps not finished are `Pending`; a cancelled step settles
/// nothing downstream (the run is being stopped).
pub fn advance(plan: &Plan, status: &[StepStatus], metric: impl Fn(usize, &str) -> Option<f64>) -> Advance {
    let mut status: Vec<StepStatus> = status.to_vec();
    let index: HashMap<&str, usize> = plan.steps.iter().enumerate().map(|(i, s)| (s.id.as_str(), i)).collect();
    let metric = |step: &str, name: &str| index.get(step).and_then(|&k| metric(k, name));
    // The step a stop comes from: a failure or a false condition is its own origin; its
    // dependents, settled in the same pass (plan order reaches them all), share it.
    let mut origin: Vec<usize> = (0..plan.steps.len()).collect();
    let mut out = Advance::default();
    // Plan order is topological: a producer's new status is known before its dependents'.
    for (i, step) in plan.steps.iter().enumerate() {
        if status.get(i) != Some(&StepStatus::Pending) {
            continue;
        }
        let stopped = step.deps.iter().find(|&&d| {
            matches!(
                status[d],
                StepStatus::Failed | StepStatus::Blocked | StepStatus::Skipped
            )
        });
        if let Some(&d) = stopped {
            let from = &plan.steps[origin[d]].id;
            let (new, reason) = match status[d] {
                StepStatus::Skipped => (StepStatus::Skipped, format!("skipped: step `{from}` was skipped")),
                _ => (StepStatus::Blocked, format!("not run: step `{from}` failed")),
            };
            status[i] = new;
            origin[i] = origin[d];
            out.settled.push((i, new, reason));
            continue;
        }
        if !step.deps.iter().all(|&d| status[d] == StepStatus::Succeeded) {
            continue;
        }
        match &step.condition {
            None => out.ready.push(i),
            Some(condition) => match condition.expr.eval_bool(&metric) {
                Ok(true) => out.ready.push(i),
                Ok(false) => {
                    status[i] = StepStatus::Skipped;
                    out.settled.push((
                        i,
                        StepStatus::Skipped,
                        format!("skipped: condition `{}` is false", condition.text),
                    ));
                }
                Err(e) => {
                    status[i] = StepStatus::Failed;
                    out.settled.push((
                        i,
                        StepStatus::Failed,
                        format!("condition `{}` cannot be evaluated: {e}", condition.text),
                    ));
                }
            },
        }
    }
    out.finished = out.ready.is_empty() && status.iter().all(|s| *s != StepStatus::Pending);
    out
}
