//! The scheduler with the in-process executor and real components: dependency order,
//! the concurrency bound and failure isolation.

mod common;

use common::setup;
use std::path::PathBuf;
use std::sync::Arc;
use weft_artifacts::ArtifactStore;
use weft_engine::{NoJournal, RunEvent, RunOptions, RunReport, RunStatus, StepState, StepStatus};

/// Validates and runs the YAML without records; returns report, events and store.
async fn run(yaml: &str, concurrency: usize, seed: Option<&[u8]>) -> (RunReport, Vec<RunEvent>, ArtifactStore) {
    let setup = setup(yaml, seed).await;
    let options = RunOptions {
        concurrency,
        ..RunOptions::new("test-run")
    };
    let (report, events) = setup.run(Arc::new(NoJournal), &options).await;
    (report.expect("run"), events, setup.store)
}

fn most_running_at_once(events: &[RunEvent]) -> usize {
    let (mut now, mut most) = (0usize, 0usize);
    for e in events {
        match e.state {
            StepState::Running => {
                now += 1;
                most = most.max(now);
            }
            StepState::Succeeded(_) | StepState::Failed(_) => now -= 1,
            _ => {}
        }
    }
    most
}

fn independent_noops(n: usize) -> String {
    let mut y = "name: fan\nsteps:\n".to_string();
    for i in 0..n {
        y.push_str(&format!("  n{i}: {{uses: test-noop}}\n"));
    }
    y
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    let (report, events, _) = run(&independent_noops(8), 1, None).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(most_running_at_once(&events), 1);
    let (_, events, _) = run(&independent_noops(8), 3, None).await;
    let most = most_running_at_once(&events);
    assert!((1..=3).contains(&most), "at most 3 at once, saw {most}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_flows_down_a_chain_in_order() {
    let yaml = "name: chain\ninputs:\n  seed: {path: x}\nsteps:\n  c2: {uses: test-copy, inputs: {data: c1.data}}\n  c1: {uses: test-copy, inputs: {data: inputs.seed}}\n  c3: {uses: test-copy, inputs: {data: c2.data}}\n";
    let (report, events, _) = run(yaml, 4, Some(b"payload")).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    let order: Vec<_> = events
        .iter()
        .filter(|e| e.state == StepState::Running)
        .map(|e| e.step.as_str())
        .collect();
    assert_eq!(order, ["c1", "c2", "c3"]);
    let last = &report.step("c3").expect("c3").outputs["data"];
    assert_eq!(last.digest, weft_artifacts::Digest::of(b"payload"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_blocks_only_its_dependents() {
    let yaml = "name: partial\nsteps:\n  boom: {uses: test-panic}\n  next: {uses: test-noop, after: [boom]}\n  last: {uses: test-noop, after: [next]}\n  free: {uses: test-noop}\n  free2: {uses: test-noop, after: [free]}\n";
    let (report, events, _) = run(yaml, 2, None).await;
    assert_eq!(report.status, RunStatus::Failed);
    let status = |id: &str| report.step(id).expect("step").status;
    assert_eq!(status("boom"), StepStatus::Failed);
    assert_eq!(status("next"), StepStatus::Blocked);
    assert_eq!(status("last"), StepStatus::Blocked);
    assert_eq!(status("free"), StepStatus::Succeeded);
    assert_eq!(status("free2"), StepStatus::Succeeded);
    assert!(
        !events.iter().any(|e| e.step == "next" && e.state == StepState::Running),
        "blocked steps never start"
    );
    assert_eq!(
        report.step("last").expect("last").error.as_deref(),
        Some("not run: step `boom` failed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_matrix_step_keeps_its_own_concurrency_bound() {
    let csv =
        std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/iris.csv")).expect("csv");
    let yaml = "name: sweep\ninputs:\n  seed: {path: x, media_type: text/csv}\nsteps:\n  load: {uses: csv-to-table, inputs: {csv: inputs.seed}}\n  split:\n    uses: train-test-split\n    inputs: {table: load.table}\n    matrix: {seed: [1, 2, 3, 4, 5, 6]}\n    concurrency: 2\n  free: {uses: test-noop}\n";
    let (report, events, _) = run(yaml, 6, Some(&csv)).await;
    assert_eq!(report.status, RunStatus::Succeeded, "{report:#?}");
    let split_events: Vec<RunEvent> = events.into_iter().filter(|e| e.step.starts_with("split[")).collect();
    assert_eq!(split_events.iter().filter(|e| e.state == StepState::Running).count(), 6);
    assert!(most_running_at_once(&split_events) <= 2, "at most 2 instances at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_that_cannot_be_evaluated_fails_the_step() {
    let yaml = "name: gate\nsteps:\n  a: {uses: test-noop}\n  b: {uses: test-noop, when: steps.a.metrics.accuracy > 0.5}\n  c: {uses: test-noop, after: [b]}\n";
    let (report, _, _) = run(yaml, 2, None).await;
    assert_eq!(report.status, RunStatus::Failed);
    let b = report.step("b").expect("b");
    assert_eq!(b.status, StepStatus::Failed);
    assert!(
        b.error
            .as_deref()
            .is_some_and(|e| e.contains("step `a` recorded no metric `accuracy`")),
        "{b:?}"
    );
    assert_eq!(report.step("c").expect("c").status, StepStatus::Blocked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_sleeps_forever_stops_at_the_run_time_limit() {
    // A guest sleeping in a host call once escaped every limit and held its concurrency
    // slot: the run's time limit now stops it, and the other step still runs.
    let yaml = "name: sleepy\ninputs:\n  seed: {path: x}\nsteps:\n  sleeper:\n    uses: test-hostile\n    inputs: {data: inputs.seed}\n    with: {attack: sleep-forever, count: 0}\n  free: {uses: test-noop}\n";
    let setup = setup(yaml, Some(b"x")).await;
    let options = RunOptions {
        concurrency: 2,
        timeout: Some(std::time::Duration::from_millis(500)),
        ..RunOptions::new("test-run")
    };
    let started = std::time::Instant::now();
    let (report, _) = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        setup.run(Arc::new(NoJournal), &options),
    )
    .await
    .expect("the run ended instead of hanging");
    let report = report.expect("run");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.step("free").expect("free").status, StepStatus::Succeeded);
    assert_ne!(report.step("sleeper").expect("sleeper").status, StepStatus::Succeeded);
}
