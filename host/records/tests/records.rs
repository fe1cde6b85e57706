//! The records' conformance suite, run on SQLite and on PostgreSQL alike: what is committed
//! reads back the same, the cache and cancel requests work per tenant, a resume keeps what
//! succeeded, lineage follows inputs and cache hits back to the workflow inputs, and a
//! server that cannot be reached says so in one line without the password.

mod support;

use support::Backend;

use std::collections::BTreeMap;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_engine::{
    AttemptReport, InputReport, InstanceReport, Journal, LogRecord, Reuse, RunReport, RunStatus, StepReport, StepStatus,
};
use weft_records::{Durability, Location, NewRun, Origin, Records};

fn meta(bytes: &[u8]) -> ArtifactMeta {
    ArtifactMeta {
        digest: Digest::of(bytes),
        size: bytes.len() as u64,
        media_type: "text/plain".into(),
    }
}

fn pending(id: &str) -> StepReport {
    StepReport {
        id: id.into(),
        uses: "test-work".into(),
        instance: None,
        component: Digest::of(b"component"),
        params: BTreeMap::from([("salt".to_string(), serde_json::json!(1))]),
        status: StepStatus::Pending,
        reuse: None,
        cache_key: None,
        inputs: Vec::new(),
        attempts: Vec::new(),
        duration_ms: None,
        outputs: BTreeMap::new(),
        metrics: Vec::new(),
        error: None,
        log: Vec::new(),
    }
}

/// `id` succeeded reading `inputs` (source, bytes) and writing `out` to port `data`.
fn done(id: &str, inputs: &[(&str, &[u8])], out: &[u8], key: Option<Digest>) -> StepReport {
    StepReport {
        status: StepStatus::Succeeded,
        cache_key: key,
        inputs: inputs
            .iter()
            .map(|(source, bytes)| InputReport {
                port: "data".into(),
                source: (*source).into(),
                digest: Digest::of(bytes),
            })
            .collect(),
        attempts: vec![AttemptReport {
            number: 1,
            status: StepStatus::Succeeded,
            error: None,
            duration_ms: 1.5,
        }],
        duration_ms: Some(1.5),
        outputs: BTreeMap::from([("data".to_string(), meta(out))]),
        metrics: vec![("value".into(), 42.0), ("rows".into(), 3.0)],
        log: vec![LogRecord {
            stream: "info".into(),
            message: format!("{id} says hi"),
        }],
        ..pending(id)
    }
}

/// Records a run of `steps` (all pending) with the workflow input `seed`.
async fn start(records: &Records, run_id: &str, steps: &[&str]) -> RunReport {
    let inputs = BTreeMap::from([("seed".to_string(), meta(b"seed"))]);
    let params = BTreeMap::new();
    let mut report = RunReport {
        run_id: run_id.into(),
        workflow: "test".into(),
        status: RunStatus::Running,
        error: None,
        started_at: String::new(),
        duration_ms: 0.0,
        params: BTreeMap::new(),
        inputs,
        steps: steps.iter().map(|s| pending(s)).collect(),
    };
    for step in &mut report.steps {
        // Matrix instances are known when the run starts.
        if let Some((of, _)) = step.id.split_once('[') {
            step.instance = Some(InstanceReport {
                of: of.into(),
                values: BTreeMap::from([("l2".to_string(), serde_json::json!(0.1))]),
            });
        }
    }
    records
        .create_run(&NewRun {
            id: run_id,
            workflow: "test",
            file: "wf.yaml",
            plan: &format!("{{\"plan of\": \"{run_id}\"}}"),
            source: "name: test",
            overrides: &[("k".into(), "v".into())],
            params: &params,
            inputs: &report.inputs,
            steps: &report.steps,
        })
        .await
        .expect("create");
    report
}

/// A kill right after the run was recorded (before the engine's `begin`) must leave a run
/// whose planned steps are recorded: `--resume` compares them with the re-planned workflow.
async fn a_run_is_recorded_with_its_planned_steps(backend: &Backend) {
    let records = backend.open("default").await;
    start(&records, "r1", &["a", "b[0]", "b[1]"]).await;
    let detail = records.run("r1").await.expect("run");
    let ids: Vec<&str> = detail.steps.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["a", "b[0]", "b[1]"]);
    // The locked plan comes back as it was recorded, and only to its tenant.
    assert_eq!(
        records.locked_plan("r1").await.expect("plan").as_deref(),
        Some("{\"plan of\": \"r1\"}")
    );
    assert!(backend.open("other").await.locked_plan("r1").await.is_err());
    assert!(detail.steps.iter().all(|s| s.status == StepStatus::Pending));
    assert_eq!(detail.steps[1].instance.as_ref().map(|i| i.of.as_str()), Some("b"));
}

async fn committed_steps_read_back_as_committed(backend: &Backend) {
    let records = backend.open("default").await;
    let mut report = start(&records, "r1", &["load", "train[0]", "train[1]", "trainer"]).await;
    let load = done("load", &[("inputs.seed", b"seed")], b"table", Some(Digest::of(b"k1")));
    let mut t0 = done("train[0]", &[("load.data", b"table")], b"m0", None);
    t0.instance = report.steps[1].instance.clone();
    records.commit("r1", &[load.clone(), t0.clone()]).await.expect("commit");
    report.steps[0] = load.clone();
    report.steps[1] = t0.clone();
    report.steps[2].status = StepStatus::Blocked;
    report.steps[2].error = Some("not run".into());
    report.status = RunStatus::Failed;
    records.finish_run(&report).await.expect("finish");

    let detail = records.run("r1").await.expect("run");
    assert_eq!(detail.status(), RunStatus::Failed);
    assert_eq!(detail.overrides, [("k".to_string(), "v".to_string())]);
    assert_eq!(detail.inputs["seed"], meta(b"seed"));
    let mut expected_load = load;
    expected_load.log.clear();
    assert_eq!(detail.steps[0], expected_load);
    assert_eq!(detail.steps[1].instance, t0.instance);
    assert_eq!(detail.steps[2].status, StepStatus::Blocked);
    assert_eq!(detail.steps[3].status, StepStatus::Pending);
    assert_eq!((detail.summary.steps, detail.summary.succeeded), (4, 2));

    // Logs of a matrix step by its authored id, not of a step that merely shares a prefix.
    let logs = records.logs("r1", Some("train")).await.expect("logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0].0, "train[0]");
    assert_eq!(records.logs("r1", None).await.expect("logs").len(), 2);
    assert!(records.logs("nope", None).await.is_err());

    // Metrics compared from the metrics alone, as from the whole run, per step prefix too.
    for prefix in [None, Some("train")] {
        assert_eq!(
            records.compare_runs(&["r1"], prefix).await.expect("compare"),
            weft_records::compare_metrics(&[detail.report()], prefix)
        );
    }
    assert_eq!(
        records.compare_runs(&["r1"], None).await.expect("compare").rows.len(),
        4
    );
    assert!(records.compare_runs(&["r1", "nope"], None).await.is_err());
    assert!(
        backend.open("other").await.compare_runs(&["r1"], None).await.is_err(),
        "another tenant's run"
    );
}

async fn the_cache_and_cancel_requests_belong_to_one_tenant(backend: &Backend) {
    let (mine, theirs) = (backend.open("mine").await, backend.open("theirs").await);
    start(&mine, "r1", &["load"]).await;
    let key = Digest::of(b"key");
    mine.commit("r1", &[done("load", &[], b"out", Some(key))])
        .await
        .expect("commit");
    let hit = mine.cached(&key).await.expect("lookup").expect("a hit");
    assert_eq!((hit.run_id.as_str(), hit.step.as_str()), ("r1", "load"));
    assert_eq!(hit.outputs["data"], meta(b"out"));
    assert_eq!(hit.metrics, [("value".to_string(), 42.0), ("rows".to_string(), 3.0)]);
    assert!(theirs.cached(&key).await.expect("lookup").is_none());
    assert!(mine.cached(&Digest::of(b"other")).await.expect("lookup").is_none());

    assert!(!theirs.request_cancel("r1").await.expect("cancel"));
    assert!(mine.request_cancel("r1").await.expect("cancel"));
    assert!(mine.cancel_requested("r1").await.expect("poll"));
    assert!(theirs.list_runs(10).await.expect("list").is_empty());
    assert_eq!(mine.list_runs(10).await.expect("list").len(), 1);
}

/// What a server reads for one tenant (listings with filters and pages, media types of
/// artifacts, the audit log) shows nothing of another tenant's.
async fn what_a_server_reads_belongs_to_one_tenant(backend: &Backend) {
    let (mine, theirs) = (backend.open("mine").await, backend.open("theirs").await);
    let mut first = start(&mine, "r1", &["load"]).await;
    start(&mine, "r2", &["load"]).await;
    mine.commit("r1", &[done("load", &[], b"out", None)])
        .await
        .expect("commit");
    first.status = RunStatus::Succeeded;
    mine.finish_run(&first).await.expect("finish");
    let ids = |runs: Vec<weft_records::RunSummary>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let filter = |status: Option<&str>, workflow: Option<&str>, offset, limit| weft_records::RunFilter {
        status: status.map(str::to_string),
        workflow: workflow.map(str::to_string),
        offset,
        limit,
    };
    assert_eq!(
        ids(mine.find_runs(&filter(None, None, 0, 10)).await.expect("list")),
        ["r2", "r1"]
    );
    assert_eq!(
        ids(mine
            .find_runs(&filter(Some("succeeded"), None, 0, 10))
            .await
            .expect("list")),
        ["r1"]
    );
    assert_eq!(
        ids(mine
            .find_runs(&filter(Some("running"), None, 0, 10))
            .await
            .expect("list")),
        ["r2"]
    );
    assert_eq!(
        ids(mine.find_runs(&filter(None, Some("test"), 1, 1)).await.expect("list")),
        ["r1"]
    );
    assert!(
        mine.find_runs(&filter(None, Some("other"), 0, 10))
            .await
            .expect("list")
            .is_empty()
    );
    assert!(
        theirs
            .find_runs(&filter(None, None, 0, 10))
            .await
            .expect("list")
            .is_empty()
    );

    assert_eq!(
        mine.media_type(&Digest::of(b"out")).await.expect("type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(
        mine.media_type(&Digest::of(b"seed")).await.expect("type").as_deref(),
        Some("text/plain")
    );
    assert_eq!(theirs.media_type(&Digest::of(b"out")).await.expect("type"), None);

    mine.audit("run.submit", "r1", &serde_json::json!({"workflow": "test"}))
        .await
        .expect("audit");
    theirs
        .audit("artifact.upload", "sha256:x", &serde_json::json!({}))
        .await
        .expect("audit");
    mine.audit("run.cancel", "r1", &serde_json::json!({}))
        .await
        .expect("audit");
    let log = mine.audit_log(0, 10).await.expect("audit log");
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["run.submit", "run.cancel"]);
    assert!(log.iter().all(|e| e.tenant == "mine" && e.subject == "r1"));
    assert_eq!(log[0].detail, r#"{"workflow":"test"}"#);
    let later = mine.audit_log(log[0].id, 10).await.expect("audit log");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].action, "run.cancel");
    assert_eq!(mine.audit_log(0, 1).await.expect("audit log").len(), 1);
    let theirs_log = theirs.audit_log(0, 10).await.expect("audit log");
    assert_eq!(theirs_log.len(), 1);
    assert_eq!(theirs_log[0].action, "artifact.upload");
}

/// A NaN or infinite metric, or a step whose rows the database refuses, must not cost the
/// other steps of the same commit batch their records.
async fn one_bad_step_never_costs_the_others_their_commit(backend: &Backend) {
    let records = backend.open("default").await;
    start(&records, "r1", &["a", "b", "c"]).await;
    let mut a = done("a", &[("inputs.seed", b"seed")], b"out-a", None);
    a.metrics = vec![
        ("nan".into(), f64::NAN),
        ("inf".into(), f64::INFINITY),
        ("ok".into(), 1.5),
    ];
    let b = done("b", &[("a.data", b"out-a")], b"out-b", None);
    // Not a planned step: its rows break a foreign key, so its batch fails.
    let stray = done("stray", &[], b"out-x", None);
    let err = records
        .commit("r1", &[a, stray, b.clone()])
        .await
        .expect_err("the run must learn that `stray` was not recorded");
    assert!(err.to_string().contains("step(s) stray could not be recorded"), "{err}");
    let detail = records.run("r1").await.expect("run");
    assert_eq!(detail.steps[0].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[0].metrics, vec![("ok".to_string(), 1.5)]);
    let logs = records.logs("r1", Some("a")).await.expect("logs");
    assert!(
        logs.iter()
            .any(|(_, l)| l.message.contains("metric `nan` = NaN not recorded")),
        "{logs:?}"
    );
    assert_eq!(detail.steps[1].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[1].outputs, b.outputs);
    assert_eq!(detail.steps[2].status, StepStatus::Pending);

    // A step that cannot be recorded alone is recorded as failed, with the reason.
    let mut c = done("c", &[("b.data", b"out-b")], b"out-c", None);
    c.attempts.push(c.attempts[0].clone()); // two attempts numbered 1 break the primary key
    records.commit("r1", &[c]).await.expect_err("recorded as failed");
    let detail = records.run("r1").await.expect("run");
    assert_eq!(detail.steps[2].status, StepStatus::Failed);
    assert!(
        detail.steps[2]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("could not be recorded")),
        "{:?}",
        detail.steps[2].error
    );
}

async fn a_resume_keeps_what_succeeded_and_forgets_failed_attempts(backend: &Backend) {
    let records = backend.open("default").await;
    let report = start(&records, "r1", &["a", "b"]).await;
    let mut failed = pending("b");
    failed.status = StepStatus::Failed;
    failed.attempts = vec![AttemptReport {
        number: 1,
        status: StepStatus::Failed,
        error: Some("boom".into()),
        duration_ms: 1.0,
    }];
    records
        .commit("r1", &[done("a", &[], b"x", None), failed])
        .await
        .expect("commit");
    // A run its (live) process still runs is not taken over; once it ended, it is.
    assert!(matches!(
        records.reopen_run("r1").await,
        Err(weft_records::RecordsError::StillRunning { .. })
    ));
    let mut ended = report.clone();
    ended.status = RunStatus::Failed;
    records.finish_run(&ended).await.expect("finish");
    // Resume: the steps are begun again; b's old attempt goes, a stays as it was.
    records.reopen_run("r1").await.expect("reopen");
    // ... by one process: resuming it again while this one runs it is refused.
    assert!(matches!(
        records.reopen_run("r1").await,
        Err(weft_records::RecordsError::StillRunning { .. })
    ));
    records.begin(&report).await.expect("begin again");
    let detail = records.run("r1").await.expect("run");
    assert_eq!(detail.status(), RunStatus::Running);
    assert_eq!(detail.steps.len(), 2);
    assert_eq!(detail.steps[0].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[0].attempts.len(), 1);
    assert!(detail.steps[1].attempts.is_empty());
    // b succeeds on the resume: its attempt 1 can be recorded again.
    records
        .commit("r1", &[done("b", &[], b"y", None)])
        .await
        .expect("commit");
    // Reopening the database applies no migration twice.
    drop(records);
    let again = backend.open("default").await;
    assert_eq!(
        again.run("r1").await.expect("run").steps[1].status,
        StepStatus::Succeeded
    );
}

async fn lineage_follows_inputs_and_cache_hits_back_to_the_workflow_input(backend: &Backend) {
    let records = backend.open("default").await;
    start(&records, "r1", &["load", "left", "right", "join"]).await;
    let key = Digest::of(b"join-key");
    records
        .commit(
            "r1",
            &[
                done("load", &[("inputs.seed", b"seed")], b"table", None),
                done("left", &[("load.data", b"table")], b"l", None),
                done("right", &[("load.data", b"table")], b"r", None),
                done(
                    "join",
                    &[("left.data", b"l"), ("right.data", b"r")],
                    b"joined",
                    Some(key),
                ),
            ],
        )
        .await
        .expect("commit");
    // A later run reuses `join` from the cache.
    start(&records, "r2", &["join"]).await;
    let mut hit = done(
        "join",
        &[("left.data", b"l"), ("right.data", b"r")],
        b"joined",
        Some(key),
    );
    hit.reuse = Some(Reuse::Cached("r1".into()));
    hit.attempts.clear();
    records.commit("r2", &[hit]).await.expect("commit");

    let nodes = records
        .lineage(&Digest::of(b"joined"))
        .await
        .expect("lineage")
        .expect("known");
    let Origin::Step { run_id, step, .. } = &nodes[0].origin else {
        panic!("{:?}", nodes[0].origin);
    };
    assert_eq!((run_id.as_str(), step.as_str()), ("r1", "join"));
    assert_eq!(nodes[0].inputs.len(), 2);
    // The diamond's shared `load` appears once, and leads to the workflow input.
    let loads: Vec<usize> = (0..nodes.len())
        .filter(|&i| matches!(&nodes[i].origin, Origin::Step { step, .. } if step == "load"))
        .collect();
    assert_eq!(loads.len(), 1);
    let (_, input) = nodes[loads[0]].inputs[0];
    assert_eq!(
        nodes[input].origin,
        Origin::Input {
            run_id: "r1".into(),
            name: "seed".into()
        }
    );
    assert_eq!(nodes[input].digest, Digest::of(b"seed"));
    assert!(records.lineage(&Digest::of(b"never")).await.expect("lineage").is_none());
}

/// A run of thousands of steps (more values than SQLite binds in one query, so the script
/// is split there; one statement of arrays on Postgres) is recorded and committed whole.
async fn a_large_run_commits_whole(backend: &Backend) {
    let records = backend.open("default").await;
    let ids: Vec<String> = (0..4000).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    start(&records, "big", &names).await;
    let finished: Vec<StepReport> = ids.iter().map(|id| done(id, &[], id.as_bytes(), None)).collect();
    records.commit("big", &finished).await.expect("commit");
    let detail = records.run("big").await.expect("run");
    assert_eq!(detail.summary.succeeded, 4000);
    assert_eq!(detail.steps[3999].outputs["data"], meta(b"s3999"));
    assert_eq!(records.logs("big", None).await.expect("logs").len(), 4000);
    // A page of it, and the count of all.
    let (page, total) = records.logs_page("big", None, 3990, 100).await.expect("page");
    assert_eq!(total, 4000);
    assert_eq!(page.len(), 10);
    assert_eq!(page[0].0, "s3990");
    let (page, total) = records.logs_page("big", Some("s12"), 1, 5).await.expect("page");
    assert_eq!(
        (page.len(), total),
        (0, 1),
        "s12 alone: not s120 (a prefix means `s12[`)"
    );
}

/// Guest text may hold NUL, which PostgreSQL refuses in text: both backends record it the
/// same way, as U+FFFD, and the step is recorded.
async fn guest_text_with_nul_is_recorded_on_both_backends(backend: &Backend) {
    let records = backend.open("default").await;
    start(&records, "r1", &["a_b[0]", "axb[0]", "A_B[0]"]).await;
    let mut step = done("a_b[0]", &[], b"x", None);
    step.log[0].message = "before\0after".into();
    step.metrics = vec![("m\0".into(), 1.0)];
    let mut failed = pending("axb[0]");
    failed.status = StepStatus::Failed;
    failed.error = Some("bad\0input".into());
    failed.log = step.log.clone();
    let mut upper = done("A_B[0]", &[], b"y", None);
    upper.log[0].message = "upper".into();
    records.commit("r1", &[step, failed, upper]).await.expect("commit");
    let detail = records.run("r1").await.expect("run");
    assert_eq!(detail.steps[0].status, StepStatus::Succeeded);
    assert_eq!(detail.steps[0].metrics, [("m\u{FFFD}".to_string(), 1.0)]);
    assert_eq!(detail.steps[1].error.as_deref(), Some("bad\u{FFFD}input"));
    // A step's logs by authored id: `a_b` is text, not a pattern (`_` matches only `_`,
    // and case counts), on both backends.
    let logs = records.logs("r1", Some("a_b")).await.expect("logs");
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(
        (logs[0].0.as_str(), logs[0].1.message.as_str()),
        ("a_b[0]", "before\u{FFFD}after")
    );
}

/// A tenant publishes at most `MAX_VERSIONS_PER_TENANT` versions (what a registry
/// listing reads is bounded); the same version again with the same bytes is still fine.
async fn a_tenant_publishes_at_most_so_many_versions(backend: &Backend) {
    use weft_records::{MAX_VERSIONS_PER_TENANT, NewStep, Published, RecordsError};
    let records = backend.open("alpha").await;
    backend
        .execute(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
             INSERT INTO registry (tenant, name, version, digest, size, public, info, readme, published_at) \
             SELECT 'alpha', 'bulk', '0.' || i, 'sha256:00', 1, FALSE, '{{}}', NULL, 0 FROM n",
            MAX_VERSIONS_PER_TENANT - 1
        ))
        .await;
    let digest = Digest::of(b"component");
    let step = |version| NewStep {
        name: "last",
        version,
        digest: &digest,
        size: 9,
        info: &serde_json::Value::Null,
        readme: None,
        public: false,
    };
    let publish = |version| {
        let records = records.clone();
        async move { records.publish_step(&step(version)).await }
    };
    assert_eq!(publish("1.0").await.expect("the last one allowed"), Published::New);
    assert!(matches!(
        publish("1.1").await,
        Err(RecordsError::TooManyVersions { limit }) if limit == MAX_VERSIONS_PER_TENANT
    ));
    assert_eq!(publish("1.0").await.expect("again"), Published::Unchanged);
    assert_eq!(
        backend
            .open("beta")
            .await
            .publish_step(&step("1.1"))
            .await
            .expect("beta's first"),
        Published::New
    );
}

conformance!(
    a_tenant_publishes_at_most_so_many_versions,
    guest_text_with_nul_is_recorded_on_both_backends,
    a_run_is_recorded_with_its_planned_steps,
    committed_steps_read_back_as_committed,
    the_cache_and_cancel_requests_belong_to_one_tenant,
    what_a_server_reads_belongs_to_one_tenant,
    one_bad_step_never_costs_the_others_their_commit,
    a_resume_keeps_what_succeeded_and_forgets_failed_attempts,
    lineage_follows_inputs_and_cache_hits_back_to_the_workflow_input,
    a_large_run_commits_whole,
);

/// A server that refuses the connection is named, without the password, in one line.
#[tokio::test]
async fn a_refused_connection_names_the_server_without_the_password() {
    // Port 1 on loopback: nothing listens there.
    let location = Location::parse("postgres://weft:hunter2@127.0.0.1:1/runs");
    let err = Records::open(location, "t", Durability::Process)
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("postgres://weft@127.0.0.1:1/runs"), "{text}");
    assert!(text.contains("is the PostgreSQL server running"), "{text}");
    assert!(!text.contains("hunter2") && !text.contains('\n'), "{text}");
}

/// A database that does not exist says so and what to do, naming the server.
#[tokio::test]
async fn a_missing_database_says_so() {
    let Some(admin) = support::admin_url() else {
        return;
    };
    let url = match admin.split_once('?') {
        Some((base, _)) => base.to_string(),
        None => admin.clone(),
    };
    let (server, _) = url.rsplit_once('/').expect("a database in the URL");
    let err = Records::open(
        Location::parse(&format!("{server}/weft_no_such_db")),
        "t",
        Durability::Process,
    )
    .await
    .expect_err("no such database");
    let text = err.to_string();
    assert!(text.contains("weft_no_such_db") && text.contains("createdb"), "{text}");
    assert!(!text.contains('\n'), "{text}");
}
