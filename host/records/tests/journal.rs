//! The engine's scheduler committing to real records, on SQLite and on PostgreSQL: steps
//! are committed after what they read and read back as they ran, a second run is served
//! from the records' cache, a resume keeps the steps committed before a crash, and
//! `weft cancel`'s flag in the records stops a run. The steps run in a small in-memory
//! executor (no sandbox): its outputs are a hash of what each step read.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::Backend;
use weft_artifacts::{ArtifactStore, Digest};
use weft_engine::{
    CachedResult, Executor, Journal, JournalError, Reuse, RunOptions, RunReport, RunServices, RunStatus, StepReport,
    StepStatus, StepTask, TaskResult, run_plan,
};
use weft_model::{Catalog, Plan, Port, StepInfo};
use weft_records::{NewRun, Records};

const DIAMOND: &str = "name: diamond
inputs:
  seed: {path: x}
steps:
  top: {uses: work, inputs: {data: inputs.seed}}
  left: {uses: work, inputs: {data: top.data}}
  right: {uses: work, inputs: {data: top.data}}
  bottom: {uses: work, inputs: {data: left.data}, after: [right]}
";

/// Publishes, for each output, the hash of the step's inputs; remembers what it executed.
/// On `cancel_at` it asks the records to cancel the run and waits to be interrupted.
struct HashExecutor {
    store: ArtifactStore,
    executed: Mutex<Vec<String>>,
    cancel_at: Option<(String, Records)>,
}

#[async_trait::async_trait]
impl Executor for HashExecutor {
    async fn execute(&self, task: StepTask) -> TaskResult {
        task.started.fire();
        self.executed.lock().expect("lock").push(task.step.clone());
        if let Some((step, records)) = &self.cancel_at
            && *step == task.step
        {
            assert!(records.request_cancel(&task.run_id).await.expect("cancel"));
            let interrupt = task.interrupt.clone().expect("an interrupt flag");
            for _ in 0..1000 {
                if interrupt.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let mut text = String::new();
        for (port, provenance) in &task.inputs {
            text.push_str(&format!("{port}={};", provenance.artifact.digest));
        }
        let mut outputs = Vec::new();
        for (port, media_type) in &task.outputs {
            let meta = self
                .store
                .put_bytes(Digest::of(text.as_bytes()).to_string().as_bytes(), media_type)
                .await
                .expect("publish");
            outputs.push((port.clone(), meta));
        }
        TaskResult {
            outputs: Ok(outputs),
            log: Vec::new(),
            metrics: vec![("inputs".into(), task.inputs.len() as f64)],
            duration: Duration::from_micros(10),
        }
    }
}

/// Forwards to the records, remembering the commit order; drops (as a crash would lose)
/// the commits of steps not in `keep`, and then the run's end.
struct Observed {
    records: Records,
    order: Mutex<Vec<String>>,
    keep: Option<Vec<&'static str>>,
}

#[async_trait::async_trait]
impl Journal for Observed {
    async fn begin(&self, report: &RunReport) -> Result<(), JournalError> {
        self.records.begin(report).await
    }

    async fn cached(&self, key: &Digest) -> Result<Option<CachedResult>, JournalError> {
        self.records.cached(key).await
    }

    async fn commit(&self, run_id: &str, steps: &[StepReport]) -> Result<(), JournalError> {
        let kept: Vec<StepReport> = steps
            .iter()
            .filter(|s| self.keep.as_ref().is_none_or(|k| k.contains(&s.id.as_str())))
            .cloned()
            .collect();
        self.order
            .lock()
            .expect("lock")
            .extend(kept.iter().map(|s| s.id.clone()));
        self.records.commit(run_id, &kept).await
    }

    async fn finish(&self, report: &RunReport) -> Result<(), JournalError> {
        // A run that "crashed" (lost commits) never records its end either.
        if self.keep.is_some() {
            return Ok(());
        }
        self.records.finish(report).await
    }

    async fn cancel_requested(&self, run_id: &str) -> Result<bool, JournalError> {
        self.records.cancel_requested(run_id).await
    }
}

struct World {
    plan: Plan,
    digests: Vec<Digest>,
    store: ArtifactStore,
    inputs: BTreeMap<String, weft_artifacts::ArtifactMeta>,
    records: Records,
}

async fn world(backend: &Backend) -> World {
    let (workflow, problems) = weft_model::parse(DIAMOND).expect("yaml");
    assert!(problems.is_empty(), "{problems:?}");
    let port = |name: &str, media_type: &str| Port {
        name: name.into(),
        media_type: media_type.into(),
        description: String::new(),
        many: false,
    };
    let info = StepInfo {
        name: "work".into(),
        version: "0.1.0".into(),
        description: String::new(),
        inputs: vec![port("data", "*/*")],
        outputs: vec![port("data", "text/plain")],
        params: Vec::new(),
    };
    let catalog: Catalog = BTreeMap::from([("work".to_string(), Ok(info))]);
    let plan = weft_model::validate(&workflow, &catalog, &[]).expect("valid");
    let digests = vec![Digest::of(b"work component"); plan.steps.len()];
    let store = ArtifactStore::open("memory://").expect("store");
    let seed = store.put_bytes(b"seed", "text/plain").await.expect("seed");
    World {
        plan,
        digests,
        store,
        inputs: BTreeMap::from([("seed".to_string(), seed)]),
        records: backend.open("default").await,
    }
}

impl World {
    fn executor(&self, cancel_at: Option<&str>) -> Arc<HashExecutor> {
        Arc::new(HashExecutor {
            store: self.store.clone(),
            executed: Mutex::new(Vec::new()),
            cancel_at: cancel_at.map(|s| (s.to_string(), self.records.clone())),
        })
    }

    fn journal(&self, keep: Option<Vec<&'static str>>) -> Arc<Observed> {
        Arc::new(Observed {
            records: self.records.clone(),
            order: Mutex::new(Vec::new()),
            keep,
        })
    }

    async fn record(&self, run_id: &str) {
        let params = BTreeMap::new();
        self.records
            .create_run(&NewRun {
                id: run_id,
                workflow: "diamond",
                file: "diamond.yaml",
                plan: "{}",
                source: DIAMOND,
                overrides: &[],
                params: &params,
                inputs: &self.inputs,
                steps: &weft_engine::planned_steps(&self.plan, &self.digests),
            })
            .await
            .expect("create");
    }

    async fn run(&self, executor: Arc<HashExecutor>, journal: Arc<Observed>, options: &RunOptions) -> RunReport {
        let services = RunServices {
            executor,
            store: self.store.clone(),
            journal,
        };
        run_plan(&self.plan, &self.digests, self.inputs.clone(), &services, options, None)
            .await
            .expect("run")
    }
}

fn executed(e: &HashExecutor) -> Vec<String> {
    let mut v = e.executed.lock().expect("lock").clone();
    v.sort();
    v
}

async fn steps_are_committed_after_what_they_read(backend: &Backend) {
    let w = world(backend).await;
    w.record("r1").await;
    let journal = w.journal(None);
    let report = w.run(w.executor(None), journal.clone(), &RunOptions::new("r1")).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    let order = journal.order.lock().expect("lock").clone();
    let at = |id: &str| order.iter().position(|s| s == id).expect("committed");
    assert_eq!(order.len(), 4, "{order:?}");
    assert!(at("top") < at("left") && at("top") < at("right"));
    assert!(at("left") < at("bottom") && at("right") < at("bottom"));
    let detail = w.records.run("r1").await.expect("run");
    assert_eq!(detail.status(), RunStatus::Succeeded);
    for (recorded, ran) in detail.steps.iter().zip(&report.steps) {
        assert_eq!(recorded.status, StepStatus::Succeeded, "{}", recorded.id);
        assert_eq!(recorded.outputs, ran.outputs, "{}", recorded.id);
        assert_eq!(recorded.inputs, ran.inputs, "{}", recorded.id);
        assert_eq!(recorded.metrics, ran.metrics, "{}", recorded.id);
        assert_eq!(recorded.cache_key, ran.cache_key, "{}", recorded.id);
    }
}

async fn a_second_run_is_served_from_the_records_cache(backend: &Backend) {
    let w = world(backend).await;
    w.record("r1").await;
    let first = w.run(w.executor(None), w.journal(None), &RunOptions::new("r1")).await;
    w.record("r2").await;
    let executor = w.executor(None);
    let second = w.run(executor.clone(), w.journal(None), &RunOptions::new("r2")).await;
    assert!(
        executed(&executor).is_empty(),
        "nothing executes: {:?}",
        executed(&executor)
    );
    let detail = w.records.run("r2").await.expect("run");
    for ((recorded, a), b) in detail.steps.iter().zip(&first.steps).zip(&second.steps) {
        assert_eq!(recorded.reuse, Some(Reuse::Cached("r1".into())), "{}", recorded.id);
        assert_eq!(recorded.outputs, a.outputs, "{}", recorded.id);
        assert_eq!(b.outputs, a.outputs, "{}", recorded.id);
    }
    assert_eq!(detail.summary.reused, 4);
}

async fn a_resume_keeps_the_steps_committed_before_a_crash(backend: &Backend) {
    let w = world(backend).await;
    w.record("r1").await;
    // The process "dies" having committed only `top` and `left`: the others' commits are
    // lost, and the run is never finished.
    let services = RunServices {
        executor: w.executor(None),
        store: w.store.clone(),
        journal: w.journal(Some(vec!["top", "left"])),
    };
    let options = RunOptions {
        use_cache: false,
        ..RunOptions::new("r1")
    };
    run_plan(&w.plan, &w.digests, w.inputs.clone(), &services, &options, None)
        .await
        .expect("run");
    let detail = w.records.run("r1").await.expect("run");
    assert_eq!(detail.status(), RunStatus::Running);
    let committed: Vec<StepReport> = detail
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Succeeded)
        .cloned()
        .collect();
    let ids: Vec<&str> = committed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["top", "left"]);

    // A run whose process is alive cannot be taken over; this test's process "crashed"
    // but lives on, so the run is handed over as a dead process's would be: after the
    // crashed process (here: the end of its attempt, recorded as failed) let go of it.
    assert!(matches!(
        w.records.reopen_run("r1").await,
        Err(weft_records::RecordsError::StillRunning { .. })
    ));
    let mut ended = detail_report(&detail);
    ended.status = RunStatus::Failed;
    w.records.finish_run(&ended).await.expect("finish");
    w.records.reopen_run("r1").await.expect("reopen");
    let executor = w.executor(None);
    let options = RunOptions {
        use_cache: false,
        resumed: committed.clone(),
        ..RunOptions::new("r1")
    };
    let report = w.run(executor.clone(), w.journal(None), &options).await;
    assert_eq!(report.status, RunStatus::Succeeded);
    assert_eq!(executed(&executor), ["bottom", "right"]);
    let detail = w.records.run("r1").await.expect("run");
    assert_eq!(detail.status(), RunStatus::Succeeded);
    assert!(detail.steps.iter().all(|s| s.status == StepStatus::Succeeded));
    // What was committed before the crash is what the records still say.
    assert_eq!(detail.steps[0].outputs, committed[0].outputs);
    assert_eq!(detail.steps[0].attempts, committed[0].attempts);
}

async fn the_records_cancel_flag_stops_the_run(backend: &Backend) {
    let w = world(backend).await;
    w.record("r1").await;
    let executor = w.executor(Some("left"));
    let options = RunOptions {
        use_cache: false,
        concurrency: 1,
        ..RunOptions::new("r1")
    };
    let report = w.run(executor.clone(), w.journal(None), &options).await;
    assert_eq!(report.status, RunStatus::Cancelled, "{:?}", report.error);
    assert!(!executed(&executor).contains(&"bottom".to_string()));
    let detail = w.records.run("r1").await.expect("run");
    assert_eq!(detail.status(), RunStatus::Cancelled);
    assert!(detail.steps.iter().any(|s| s.status == StepStatus::Cancelled));
}

conformance!(
    steps_are_committed_after_what_they_read,
    a_second_run_is_served_from_the_records_cache,
    a_resume_keeps_the_steps_committed_before_a_crash,
    the_records_cancel_flag_stops_the_run,
);

/// A run report with the run's id and recorded steps (what `finish_run` reads).
fn detail_report(detail: &weft_records::RunDetail) -> RunReport {
    RunReport {
        run_id: detail.summary.id.clone(),
        workflow: detail.summary.workflow.clone(),
        status: RunStatus::Running,
        error: None,
        started_at: String::new(),
        duration_ms: 0.0,
        params: detail.params.clone(),
        inputs: detail.inputs.clone(),
        steps: detail.steps.clone(),
    }
}
