//! `advance` — a run's next moves decided from its recorded statuses alone, as workers on
//! a shared database will decide them — agrees with the in-process scheduler: a run driven
//! step by step through `advance`, each executed step taking the outcome the scheduler's
//! run gave it, ends with the same status and reason for every step.

mod common;

use common::setup;
use std::sync::Arc;
use weft_engine::{NoJournal, RunOptions, StepReport, StepStatus, advance, planned_steps};

/// Runs `yaml` in-process, then again through `advance`; compares every step.
async fn agrees(yaml: &str) -> Vec<(String, StepStatus)> {
    let setup = setup(yaml, Some(b"seed bytes")).await;
    let (report, _) = setup.run(Arc::new(NoJournal), &RunOptions::new("r")).await;
    let report = report.expect("run");
    let mut steps: Vec<StepReport> = planned_steps(&setup.plan, &setup.digests);
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= setup.plan.steps.len() + 2, "advance never finishes");
        let status: Vec<StepStatus> = steps.iter().map(|s| s.status).collect();
        let next = advance(&setup.plan, &status, |k, name| {
            steps[k].metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
        });
        for (i, status, reason) in &next.settled {
            steps[*i].status = *status;
            steps[*i].error = Some(reason.clone());
        }
        if next.finished {
            break;
        }
        assert!(!next.ready.is_empty(), "nothing ready, yet not finished: {steps:?}");
        // Execute what is ready: the outcome the scheduler's run recorded for it.
        for i in next.ready {
            assert_eq!(steps[i].status, StepStatus::Pending);
            steps[i] = report.steps[i].clone();
        }
    }
    for (ours, theirs) in steps.iter().zip(&report.steps) {
        assert_eq!(
            (&ours.id, ours.status, &ours.error),
            (&theirs.id, theirs.status, &theirs.error),
            "step `{}`",
            ours.id
        );
    }
    steps.iter().map(|s| (s.id.clone(), s.status)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_blocks_what_follows_it_and_nothing_else() {
    let statuses = agrees(
        "name: adv\ninputs:\n  seed: {path: x}\nsteps:\n  a: {uses: test-work, inputs: {data: inputs.seed}}\n  bad: {uses: test-work, inputs: {data: inputs.seed}, with: {fail: bad-input}}\n  after-bad: {uses: test-work, inputs: {data: bad.data}}\n  after-after: {uses: test-work, inputs: {data: after-bad.data}}\n  beside: {uses: test-work, inputs: {data: a.data}}\n",
    )
    .await;
    assert!(statuses.contains(&("after-after".to_string(), StepStatus::Blocked)));
    assert!(statuses.contains(&("beside".to_string(), StepStatus::Succeeded)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_skip_what_they_gate_and_fan_out_runs_every_instance() {
    let statuses = agrees(
        "name: adv\ninputs:\n  seed: {path: x}\nsteps:\n  a: {uses: test-work, inputs: {data: inputs.seed}}\n  gate: {uses: test-work, inputs: {data: a.data}, when: steps.a.metrics.value < 0}\n  after-gate: {uses: test-work, inputs: {data: gate.data}}\n  go: {uses: test-work, inputs: {data: a.data}, when: steps.a.metrics.value >= 0}\n  fan: {uses: test-work, inputs: {data: go.data}, matrix: {salt: [1, 2, 3]}}\n",
    )
    .await;
    assert!(statuses.contains(&("after-gate".to_string(), StepStatus::Skipped)));
    assert_eq!(
        statuses
            .iter()
            .filter(|(id, s)| id.starts_with("fan[") && *s == StepStatus::Succeeded)
            .count(),
        3
    );
}
