//! A worker (`Runner::work`, as `weft worker` runs it) in this process, on SQLite records and
//! a local store: a step whose earlier claims all came to nothing (workers lost, the store
//! failing) is failed after `MAX_CLAIMS` of them instead of being tried forever, and says
//! so among its attempts.

use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_artifacts::ArtifactStore;
use weft_engine::{CancelSignal, RunStatus, StepStatus};
use weft_records::{ClaimFilter, Durability, Location, Records};
use weft_runner::{InputPolicy, Loader, MAX_CLAIMS, Runner, Sandboxes, WorkerSettings};

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("clock").as_millis()).expect("ms")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_claimed_too_often_fails_instead_of_running_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let records = Records::open(
        Location::Sqlite(dir.path().join("records.db")),
        "default",
        Durability::Process,
    )
    .await
    .expect("records");
    let store = ArtifactStore::open(dir.path().join("store").to_str().expect("utf-8")).expect("store");
    let runner = Runner {
        loader: Loader {
            plugin_path: vec![weft_test_programs::dir().to_path_buf()],
            input_policy: InputPolicy::new(None, false, None).expect("policy"),
            sandbox: weft_sandbox::SandboxConfig {
                cache_dir: Some(dir.path().join("cache")),
                ..weft_sandbox::SandboxConfig::default()
            },
            notes: Arc::new(|_| {}),
            sandboxes: Sandboxes::default(),
        },
        store,
        records,
    };
    let file = dir.path().join("once.yaml");
    std::fs::write(&file, "name: once\nsteps:\n  a: {uses: test-noop}\n").expect("workflow");
    let prepared = runner
        .start(&file, &[])
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("start");
    runner
        .queue(&prepared, &weft_runner::RunLimits::default())
        .await
        .expect("queue");

    // Claims that came to nothing: each given back at once.
    let queue = runner.records.queue();
    for _ in 0..MAX_CLAIMS {
        let claim = queue
            .claim("lost", &ClaimFilter::default(), 1, now_ms(), 60_000)
            .await
            .expect("claim")
            .remove(0);
        assert!(queue.give_back(&claim, 0).await.expect("give back"));
    }

    let stop = CancelSignal::default();
    let settings = WorkerSettings {
        name: "w".into(),
        filter: ClaimFilter::default(),
        slots: 1,
        lease: Duration::from_secs(30),
        poll: Duration::from_millis(50),
    };
    let work = tokio::spawn({
        let (runner, stop) = (runner.clone(), stop.clone());
        async move { runner.work(settings, stop).await }
    });
    let started = Instant::now();
    while runner.records.run_status(&prepared.run_id).await.expect("status") == RunStatus::Running {
        assert!(started.elapsed() < Duration::from_secs(60), "the run never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel("test over");
    let stats = work.await.expect("worker task").expect("worker");
    assert_eq!(stats.committed, 1);

    let detail = runner.records.run(&prepared.run_id).await.expect("run");
    assert_eq!(detail.status(), RunStatus::Failed);
    let step = &detail.steps[0];
    assert_eq!(step.status, StepStatus::Failed);
    let error = step.error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("claimed {MAX_CLAIMS} times without a result")),
        "{error}"
    );
    assert_eq!(
        step.attempts.len(),
        MAX_CLAIMS as usize,
        "the claims that came to nothing"
    );
}
