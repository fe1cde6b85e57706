//! The scheduler and its journal: every finished step is committed after the steps it read
//! from, cache hits skip execution, a resume keeps committed steps, and a journal that
//! fails stops the run instead of going on without records.

mod common;

use common::setup;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use weft_artifacts::Digest;
use weft_engine::{
    CachedResult, Journal, JournalError, NoJournal, Reuse, RunError, RunOptions, RunReport, RunStatus, StepReport,
    StepState, StepStatus,
};

/// A journal in memory: commits in order, a cache, and a switch to make commits fail.
#[derive(Default)]
struct MemoryJournal {
    begun: Mutex<Vec<String>>,
    commits: Mutex<Vec<StepReport>>,
    cache: Mutex<HashMap<Digest, CachedResult>>,
    finished: Mutex<Vec<(String, RunStatus)>>,
    fail_commits: bool,
}

#[async_trait::async_trait]
impl Journal for MemoryJournal {
    async fn begin(&self, report: &RunReport) -> Result<(), JournalError> {
        self.begun.lock().expect("lock").push(report.run_id.clone());
        Ok(())
    }

    async fn cached(&self, key: &Digest) -> Result<Option<CachedResult>, JournalError> {
        Ok(self.cache.lock().expect("lock").get(key).cloned())
    }

    async fn commit(&self, run_id: &str, steps: &[StepReport]) -> Result<(), JournalError> {
        if self.fail_commits {
            return Err(JournalError("disk full".into()));
        }
        for s in steps {
            if let (Some(key), StepStatus::Succeeded, None) = (s.cache_key, s.status, &s.reuse) {
                self.cache.lock().expect("lock").insert(
                    key,
                    CachedResult {
                        run_id: run_id.to_string(),
                        step: s.id.clone(),
                        outputs: s.outputs.clone(),
                        metrics: s.metrics.clone(),
                    },
                );
            }
        }
        self.commits.lock().expect("lock").extend_from_slice(steps);
        Ok(())
    }

    async fn finish(&self, report: &RunReport) -> Result<(), JournalError> {
        let finished = (report.run_id.clone(), report.status);
        self.finished.lock().expect("lock").push(finished);
        Ok(())
    }

    async fn cancel_requested(&self, _run_id: &str) -> Result<bool, JournalError> {
        Ok(false)
    }
}

const DIAMOND: &str = "name: diamond
inputs:
  seed: {path: x}
steps:
  top: {uses: test-copy, inputs: {data: inputs.seed}}
  left: {uses: test-copy, inputs: {data: top.data}}
  right: {uses: test-copy, inputs: {data: top.data}}
  bottom: {uses: test-work, inputs: {data: left.data}, after: [right]}
";

fn ids(events: &[weft_engine::RunEvent], state: impl Fn(&StepState) -> bool) -> Vec<String> {
    events
        .iter()
        .filter(|e| state(&e.state))
        .map(|e| e.step.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_is_committed_once_after_what_it_read() {
    let setup = setup(DIAMOND, Some(b"seed")).await;
    let journal = Arc::new(MemoryJournal::default());
    let (report, _) = setup.run(journal.clone(), &RunOptions::new("r1")).await;
    assert_eq!(report.expect("run").status, RunStatus::Succeeded);
    assert_eq!(*journal.begun.lock().expect("lock"), ["r1"]);
    // The run's end is recorded once, after the last commit.
    assert_eq!(
        *journal.finished.lock().expect("lock"),
        [("r1".to_string(), RunStatus::Succeeded)]
    );
    let order: Vec<String> = journal
        .commits
        .lock()
        .expect("lock")
        .iter()
        .map(|s| s.id.clone())
        .collect();
    assert_eq!(order.len(), 4, "{order:?}");
    let at = |id: &str| order.iter().position(|s| s == id).expect("committed");
    assert!(at("top") < at("left") && at("top") < at("right"));
    assert!(at("left") < at("bottom") && at("right") < at("bottom"));
    let commits = journal.commits.lock().expect("lock");
    let bottom = commits.iter().find(|s| s.id == "bottom").expect("bottom");
    assert_eq!(bottom.attempts.len(), 1);
    assert_eq!(bottom.inputs[0].source, "left.data");
    assert!(bottom.cache_key.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_is_served_from_the_cache_and_no_cache_runs_again() {
    let setup = setup(DIAMOND, Some(b"seed")).await;
    let journal = Arc::new(MemoryJournal::default());
    let (first, _) = setup.run(journal.clone(), &RunOptions::new("r1")).await;
    let first = first.expect("run");
    let (second, events) = setup.run(journal.clone(), &RunOptions::new("r2")).await;
    let second = second.expect("run");
    assert!(
        ids(&events, |s| *s == StepState::Running).is_empty(),
        "nothing executes"
    );
    assert_eq!(
        ids(
            &events,
            |s| matches!(s, StepState::Reused(Reuse::Cached(r)) if r == "r1")
        )
        .len(),
        4
    );
    for (a, b) in first.steps.iter().zip(&second.steps) {
        assert_eq!(a.outputs, b.outputs);
        assert_eq!(a.metrics, b.metrics);
    }
    let options = RunOptions {
        use_cache: false,
        ..RunOptions::new("r3")
    };
    let (_, events) = setup.run(journal, &options).await;
    assert_eq!(ids(&events, |s| *s == StepState::Running).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_keeps_committed_steps_and_runs_the_rest() {
    let setup = setup(DIAMOND, Some(b"seed")).await;
    let (full, _) = setup.run(Arc::new(NoJournal), &RunOptions::new("r1")).await;
    let full = full.expect("run");
    // As if the process died after `top` and `left` were committed.
    let committed: Vec<StepReport> = full
        .steps
        .iter()
        .filter(|s| s.id == "top" || s.id == "left")
        .cloned()
        .collect();
    let options = RunOptions {
        use_cache: false,
        resumed: committed,
        ..RunOptions::new("r1")
    };
    let (resumed, events) = setup.run(Arc::new(NoJournal), &options).await;
    let resumed = resumed.expect("run");
    assert_eq!(ids(&events, |s| *s == StepState::Running), ["right", "bottom"]);
    assert_eq!(
        ids(&events, |s| *s == StepState::Reused(Reuse::Resumed)),
        ["top", "left"]
    );
    for (a, b) in full.steps.iter().zip(&resumed.steps) {
        assert_eq!(a.outputs, b.outputs, "{}", a.id);
    }
    // A committed step whose component changed since is run again.
    let mut stale = full.steps[0].clone();
    stale.component = Digest::of(b"another build");
    let options = RunOptions {
        use_cache: false,
        resumed: vec![stale],
        ..RunOptions::new("r1")
    };
    let (_, events) = setup.run(Arc::new(NoJournal), &options).await;
    assert_eq!(ids(&events, |s| *s == StepState::Running).len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_journal_stops_the_run() {
    let setup = setup(DIAMOND, Some(b"seed")).await;
    let journal = Arc::new(MemoryJournal {
        fail_commits: true,
        ..MemoryJournal::default()
    });
    let (outcome, _) = setup.run(journal.clone(), &RunOptions::new("r1")).await;
    match outcome {
        Err(RunError::Journal(e)) => assert!(e.to_string().contains("disk full"), "{e}"),
        other => panic!("expected a journal error, got {other:?}"),
    }
    // Its end is still recorded, as failed.
    assert_eq!(
        *journal.finished.lock().expect("lock"),
        [("r1".to_string(), RunStatus::Failed)]
    );
}
