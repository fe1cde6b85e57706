//! Runs advanced by the commits of claimed steps (what workers do), on SQLite and
//! PostgreSQL alike: a commit queues the steps it readies and finishes the run, a stale
//! claim commits nothing, a failure or a false condition settles what follows, and a
//! cancel empties the queue and ends the run once its executing steps are in.

mod support;

use std::collections::BTreeMap;
use support::Backend;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_engine::{RunStatus, StepReport, StepStatus, planned_steps};
use weft_model::{Catalog, Plan, Port, StepInfo};
use weft_records::{Claim, ClaimFilter, Committed, NewRun, Records, RunLimits};

const LEASE: i64 = 60_000;

/// Milliseconds since the epoch: commits queue steps as ready from now on.
fn now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    i64::try_from(since.expect("clock").as_millis()).expect("ms")
}

/// `top` feeds `left` and `right`; `bottom` reads `left` after `right`; `gate` runs only
/// when `top`'s metric is negative, and `after-gate` reads it.
const WORKFLOW: &str = "name: adv
inputs:
  seed: {path: x.txt}
steps:
  top: {uses: work, inputs: {data: inputs.seed}}
  left: {uses: work, inputs: {data: top.data}, runs-on: gpu}
  right: {uses: work, inputs: {data: top.data}}
  bottom: {uses: work, inputs: {data: left.data}, after: [right]}
  gate: {uses: work, inputs: {data: top.data}, when: steps.top.metrics.value < 0}
  after-gate: {uses: work, inputs: {data: gate.data}}
";

fn plan() -> Plan {
    plan_of(WORKFLOW)
}

fn plan_of(yaml: &str) -> Plan {
    let (workflow, problems) = weft_model::parse(yaml).expect("yaml");
    assert!(problems.is_empty(), "{problems:?}");
    let port = |name: &str| Port {
        name: name.into(),
        media_type: "text/plain".into(),
        description: String::new(),
        many: false,
    };
    let info = StepInfo {
        name: "work".into(),
        version: "0.1.0".into(),
        description: String::new(),
        inputs: vec![port("data")],
        outputs: vec![port("data")],
        params: Vec::new(),
    };
    let catalog: Catalog = BTreeMap::from([("work".to_string(), Ok(info))]);
    weft_model::validate(&workflow, &catalog, &[]).expect("valid")
}

async fn start(records: &Records, plan: &Plan, run_id: &str) -> Vec<StepReport> {
    start_limited(records, plan, run_id, 0).await
}

async fn start_limited(records: &Records, plan: &Plan, run_id: &str, limit: u64) -> Vec<StepReport> {
    let steps = record(records, plan, run_id).await;
    assert_eq!(
        records
            .queue_run(
                run_id,
                plan,
                &RunLimits {
                    step_limit: limit,
                    ..RunLimits::default()
                }
            )
            .await
            .expect("schedule"),
        None
    );
    steps
}

/// Records a run of `plan` with its planned steps (not queued yet).
async fn record(records: &Records, plan: &Plan, run_id: &str) -> Vec<StepReport> {
    let digests = vec![Digest::of(b"work"); plan.steps.len()];
    let steps = planned_steps(plan, &digests);
    let seed = ArtifactMeta {
        digest: Digest::of(b"seed"),
        size: 4,
        media_type: "text/plain".into(),
    };
    records
        .create_run(&NewRun {
            id: run_id,
            workflow: "adv",
            file: "adv.yaml",
            plan: "{}",
            source: WORKFLOW,
            overrides: &[],
            params: &BTreeMap::new(),
            inputs: &BTreeMap::from([("seed".to_string(), seed)]),
            steps: &steps,
        })
        .await
        .expect("create");
    steps
}

/// `planned` as it ends: succeeded with metric `value`, or failed.
fn outcome(planned: &StepReport, value: Option<f64>) -> StepReport {
    let mut step = planned.clone();
    match value {
        Some(v) => {
            step.status = StepStatus::Succeeded;
            step.metrics = vec![("value".into(), v)];
            let out = format!("{} out", step.id);
            step.outputs = BTreeMap::from([(
                "data".to_string(),
                ArtifactMeta {
                    digest: Digest::of(out.as_bytes()),
                    size: out.len() as u64,
                    media_type: "text/plain".into(),
                },
            )]);
        }
        None => {
            step.status = StepStatus::Failed;
            step.error = Some("it broke".into());
        }
    }
    step
}

/// Claims whatever is ready for a worker with label `gpu`, sorted by step.
async fn claim_all(records: &Records, worker: &str) -> Vec<Claim> {
    let filter = ClaimFilter {
        tenants: Vec::new(),
        labels: vec!["gpu".into()],
    };
    records
        .queue()
        .claim(worker, &filter, 100, now(), LEASE)
        .await
        .expect("claim")
}

fn ids(claims: &[Claim]) -> Vec<&str> {
    claims.iter().map(|c| c.step.as_str()).collect()
}

async fn statuses(records: &Records, run_id: &str) -> Vec<(String, StepStatus)> {
    let detail = records.run(run_id).await.expect("run");
    detail.steps.iter().map(|s| (s.id.clone(), s.status)).collect()
}

async fn commits_advance_the_run_to_its_end(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = start(&records, &plan, "r1").await;
    let step = |id: &str| planned.iter().find(|s| s.id == id).expect("planned");

    let first = claim_all(&records, "w").await;
    assert_eq!(ids(&first), ["top"], "only the first step is ready");
    let done = records
        .commit_claimed(&first[0], &plan, &outcome(step("top"), Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(None));
    // `gate`'s condition is false: it and what reads it are skipped in the same commit.
    let next = claim_all(&records, "w").await;
    assert_eq!(ids(&next), ["left", "right"]);
    let skipped = statuses(&records, "r1").await;
    assert!(skipped.contains(&("gate".into(), StepStatus::Skipped)), "{skipped:?}");
    assert!(
        skipped.contains(&("after-gate".into(), StepStatus::Skipped)),
        "{skipped:?}"
    );

    for claim in &next {
        let done = records
            .commit_claimed(claim, &plan, &outcome(step(&claim.step), Some(2.0)))
            .await
            .expect("commit");
        assert_eq!(done, Committed::Recorded(None));
    }
    let last = claim_all(&records, "w").await;
    assert_eq!(ids(&last), ["bottom"], "ready once both of its producers are in");
    let done = records
        .commit_claimed(&last[0], &plan, &outcome(step("bottom"), Some(3.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(Some(RunStatus::Succeeded)));
    assert_eq!(records.run("r1").await.expect("run").status(), RunStatus::Succeeded);
    assert_eq!(records.queue().depth().await.expect("depth"), (0, 0));
    let detail = records.run("r1").await.expect("run");
    let bottom = detail.steps.iter().find(|s| s.id == "bottom").expect("bottom");
    assert_eq!(bottom.metrics, [("value".to_string(), 3.0)]);
}

async fn a_stale_claim_commits_nothing(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = start(&records, &plan, "r1").await;
    let queue = records.queue();
    let stale = claim_all(&records, "paused").await.remove(0);
    // The worker stops beating; the reaper gives the step back and another claims it.
    let later = now() + LEASE + 1;
    assert_eq!(queue.reap(later).await.expect("reap"), 1);
    let fresh = queue
        .claim("other", &ClaimFilter::default(), 1, later, LEASE)
        .await
        .expect("claim")
        .remove(0);
    let late = records
        .commit_claimed(&stale, &plan, &outcome(&planned[0], Some(-1.0)))
        .await
        .expect("commit");
    assert_eq!(late, Committed::Fenced);
    let now = statuses(&records, "r1").await;
    assert_eq!(
        now[0],
        ("top".into(), StepStatus::Pending),
        "nothing of the stale result"
    );
    assert_eq!(
        queue.depth().await.expect("depth"),
        (0, 1),
        "the fresh claim keeps its row"
    );
    let done = records
        .commit_claimed(&fresh, &plan, &outcome(&planned[0], Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(None));
    let detail = records.run("r1").await.expect("run");
    assert_eq!(
        detail.steps[0].metrics,
        [("value".to_string(), 1.0)],
        "the fresh result"
    );
    let again = records
        .commit_claimed(&fresh, &plan, &outcome(&planned[0], Some(5.0)))
        .await
        .expect("commit");
    assert_eq!(again, Committed::Fenced, "a claim commits once");
}

async fn a_failure_settles_what_follows_it(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = start(&records, &plan, "r1").await;
    let top = claim_all(&records, "w").await.remove(0);
    records
        .commit_claimed(&top, &plan, &outcome(&planned[0], Some(-1.0)))
        .await
        .expect("commit");
    let next = claim_all(&records, "w").await;
    assert_eq!(ids(&next), ["gate", "left", "right"], "the condition holds now");
    let mut end = None;
    for claim in &next {
        let planned = planned.iter().find(|s| s.id == claim.step).expect("planned");
        let value = (claim.step != "left").then_some(1.0);
        match records
            .commit_claimed(claim, &plan, &outcome(planned, value))
            .await
            .expect("commit")
        {
            Committed::Recorded(finished) => end = end.or(finished),
            other => panic!("{other:?}"),
        }
    }
    // `after-gate` is ready, `bottom` blocked by `left`.
    let rest = claim_all(&records, "w").await;
    assert_eq!(ids(&rest), ["after-gate"]);
    assert_eq!(end, None);
    let planned_after = planned.iter().find(|s| s.id == "after-gate").expect("planned");
    let done = records
        .commit_claimed(&rest[0], &plan, &outcome(planned_after, Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(Some(RunStatus::Failed)));
    let now = statuses(&records, "r1").await;
    assert!(now.contains(&("bottom".into(), StepStatus::Blocked)), "{now:?}");
}

async fn a_cancel_empties_the_queue_and_ends_the_run_when_its_steps_are_in(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = start(&records, &plan, "r1").await;
    let top = claim_all(&records, "w").await.remove(0);
    records
        .commit_claimed(&top, &plan, &outcome(&planned[0], Some(1.0)))
        .await
        .expect("commit");
    // One of the two ready steps is executing when the cancel comes.
    let executing = records
        .queue()
        .claim("w", &ClaimFilter::default(), 1, now(), LEASE)
        .await
        .expect("claim")
        .remove(0);
    assert_eq!(executing.step, "right", "a worker without `gpu` takes `right`");
    assert!(records.request_cancel("r1").await.expect("cancel"));
    assert_eq!(records.advance_run("r1", &plan).await.expect("advance"), None);
    assert_eq!(
        records.queue().depth().await.expect("depth"),
        (0, 1),
        "only the executing step"
    );
    let now = statuses(&records, "r1").await;
    assert!(now.contains(&("left".into(), StepStatus::Cancelled)), "{now:?}");
    assert!(now.contains(&("right".into(), StepStatus::Pending)), "{now:?}");
    let right = planned.iter().find(|s| s.id == "right").expect("planned");
    let done = records
        .commit_claimed(&executing, &plan, &outcome(right, Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(Some(RunStatus::Cancelled)));
    assert_eq!(records.run("r1").await.expect("run").status(), RunStatus::Cancelled);
    assert!(claim_all(&records, "w").await.is_empty());
}

async fn another_tenant_cannot_commit_into_a_run(backend: &Backend) {
    let alpha = backend.open("alpha").await;
    let plan = plan();
    let planned = start(&alpha, &plan, "r1").await;
    let claim = claim_all(&alpha, "w").await.remove(0);
    let beta = backend.open("beta").await;
    let done = beta
        .commit_claimed(&claim, &plan, &outcome(&planned[0], Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Fenced, "beta's records hold no run r1");
    assert_eq!(statuses(&alpha, "r1").await[0], ("top".into(), StepStatus::Pending));
}

async fn a_tenants_step_limit_holds_over_every_claimer(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan_of(
        "name: wide\ninputs:\n  seed: {path: x.txt}\nsteps:\n  a: {uses: work, inputs: {data: inputs.seed}}\n  b: {uses: work, inputs: {data: inputs.seed}}\n  c: {uses: work, inputs: {data: inputs.seed}}\n  d: {uses: work, inputs: {data: inputs.seed}}\n",
    );
    let planned = start_limited(&records, &plan, "r1", 2).await;
    // Another tenant's steps have a limit of their own.
    let beta = backend.open("beta").await;
    start_limited(&beta, &plan, "r2", 0).await;
    let queue = records.queue();
    let only_alpha = ClaimFilter {
        tenants: vec!["alpha".into()],
        labels: Vec::new(),
    };
    let first = queue.claim("w1", &only_alpha, 10, now(), LEASE).await.expect("claim");
    assert_eq!(first.len(), 2, "at most 2 of alpha's steps at once");
    let second = queue.claim("w2", &only_alpha, 10, now(), LEASE).await.expect("claim");
    assert!(second.is_empty(), "another worker gets none of alpha's: {second:?}");
    let betas = queue
        .claim("w2", &ClaimFilter::default(), 10, now(), LEASE)
        .await
        .expect("claim");
    assert_eq!(betas.len(), 4, "beta has no limit: {betas:?}");
    assert!(betas.iter().all(|c| c.tenant == "beta"));
    let planned_a = planned.iter().find(|s| s.id == first[0].step).expect("planned");
    records
        .commit_claimed(&first[0], &plan, &outcome(planned_a, Some(1.0)))
        .await
        .expect("commit");
    let third = queue.claim("w2", &only_alpha, 10, now(), LEASE).await.expect("claim");
    assert_eq!(third.len(), 1, "room for one more once one is in");
}

async fn a_run_past_its_time_limit_fails_once_its_executing_steps_are_in(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = record(&records, &plan, "r1").await;
    let limit = std::time::Duration::from_secs(60);
    records
        .queue_run(
            "r1",
            &plan,
            &RunLimits {
                time_limit: Some(limit),
                ..RunLimits::default()
            },
        )
        .await
        .expect("queue");
    let top = claim_all(&records, "w").await.remove(0);
    assert_eq!(records.expire_runs(now()).await.expect("expire"), 0, "not yet");
    assert_eq!(records.expire_runs(now() + 61_000).await.expect("expire"), 1);
    assert_eq!(records.expire_runs(now() + 62_000).await.expect("expire"), 0, "once");
    assert_eq!(
        records.run("r1").await.expect("run").status(),
        RunStatus::Running,
        "`top` executes"
    );
    let cancelled = records.queue().cancelled("w").await.expect("cancelled");
    assert_eq!(
        cancelled,
        [("r1".to_string(), "top".to_string())],
        "its worker is told to stop it"
    );
    let mut stopped = outcome(&planned[0], None);
    stopped.status = StepStatus::Cancelled;
    let done = records.commit_claimed(&top, &plan, &stopped).await.expect("commit");
    assert_eq!(done, Committed::Recorded(Some(RunStatus::Failed)));
    let detail = records.run("r1").await.expect("run");
    assert_eq!(detail.summary.error.as_deref(), Some("the run's time limit passed"));
    assert!(
        detail.steps[1..].iter().all(|s| s.status == StepStatus::Cancelled),
        "{:?}",
        detail.steps
    );
    assert_eq!(records.queue().depth().await.expect("depth"), (0, 0));
}

async fn a_claim_from_before_a_resume_cannot_commit_into_the_resumed_run(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = start(&records, &plan, "r1").await;
    let queue = records.queue();
    let stale = claim_all(&records, "paused").await.remove(0);
    let later = now() + LEASE + 1;
    assert_eq!(queue.reap(later).await.expect("reap"), 1);
    let fresh = queue
        .claim("other", &ClaimFilter::default(), 1, later, LEASE)
        .await
        .expect("claim")
        .remove(0);
    let done = records
        .commit_claimed(&fresh, &plan, &outcome(&planned[0], None))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(Some(RunStatus::Failed)));
    // Resumed: `top` is queued again, in a new row, and claimed.
    records.reopen_on_workers("r1").await.expect("reopen");
    records
        .queue_run("r1", &plan, &RunLimits::default())
        .await
        .expect("queue");
    let newest = claim_all(&records, "third").await.remove(0);
    assert_eq!(newest.step, "top");
    let late = records
        .commit_claimed(&stale, &plan, &outcome(&planned[0], Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(late, Committed::Fenced, "the first claim's fence is not the new row's");
    let done = records
        .commit_claimed(&newest, &plan, &outcome(&planned[0], Some(2.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(None));
}

async fn a_runs_output_quota_is_checked_in_each_commit(backend: &Backend) {
    let records = backend.open("alpha").await;
    let plan = plan();
    let planned = record(&records, &plan, "r1").await;
    let step = |id: &str| planned.iter().find(|s| s.id == id).expect("planned");
    let limits = RunLimits {
        output_bytes: Some(20),
        ..RunLimits::default()
    };
    assert_eq!(records.queue_run("r1", &plan, &limits).await.expect("queue"), None);
    let top = claim_all(&records, "w").await.remove(0);
    // `top out`: 7 bytes.
    let done = records
        .commit_claimed(&top, &plan, &outcome(step("top"), Some(1.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(None));
    let next = claim_all(&records, "w").await;
    assert_eq!(ids(&next), ["left", "right"]);
    // `left out`: 8 more, 15 in all.
    let done = records
        .commit_claimed(&next[0], &plan, &outcome(step("left"), Some(2.0)))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(None));
    // `right out`: 9 more would make 24: refused, nothing recorded, the claim still holds.
    let refused = records
        .commit_claimed(&next[1], &plan, &outcome(step("right"), Some(2.0)))
        .await
        .expect("commit");
    assert_eq!(
        refused,
        Committed::OverQuota(
            "run-output-bytes: 24 bytes with what the run's other steps committed meanwhile, more than the \
             tenant's quota of 20 per run"
                .into()
        )
    );
    assert!(
        statuses(&records, "r1")
            .await
            .contains(&("right".into(), StepStatus::Pending))
    );
    let bytes = records.run_bytes("r1").await.expect("bytes");
    assert_eq!(
        (bytes.produced, bytes.output_limit, bytes.stored_limit),
        (15, Some(20), None)
    );
    // Its failure commits (it adds no bytes) and ends the run.
    let done = records
        .commit_claimed(&next[1], &plan, &outcome(step("right"), None))
        .await
        .expect("commit");
    assert_eq!(done, Committed::Recorded(Some(RunStatus::Failed)));
    // Resumed under a larger quota: what the kept steps produced is counted again.
    records.reopen_on_workers("r1").await.expect("reopen");
    let larger = RunLimits {
        output_bytes: Some(100),
        stored_bytes: Some(1000),
        ..RunLimits::default()
    };
    records.queue_run("r1", &plan, &larger).await.expect("queue");
    let bytes = records.run_bytes("r1").await.expect("bytes");
    assert_eq!(
        (bytes.produced, bytes.output_limit, bytes.stored_limit),
        (15, Some(100), Some(1000))
    );
    // Another tenant sees no such run.
    let beta = backend.open("beta").await;
    assert!(beta.run_bytes("r1").await.is_err());
}

conformance!(
    a_runs_output_quota_is_checked_in_each_commit,
    a_claim_from_before_a_resume_cannot_commit_into_the_resumed_run,
    a_run_past_its_time_limit_fails_once_its_executing_steps_are_in,
    a_tenants_step_limit_holds_over_every_claimer,
    commits_advance_the_run_to_its_end,
    a_stale_claim_commits_nothing,
    a_failure_settles_what_follows_it,
    a_cancel_empties_the_queue_and_ends_the_run_when_its_steps_are_in,
    another_tenant_cannot_commit_into_a_run,
);
