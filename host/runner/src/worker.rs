//! `weft worker`: a stateless process that claims ready steps from the shared queue
//! (PostgreSQL records), executes each in its own sandbox exactly as an in-process run
//! would — from the run's locked plan and the committed outputs before it — publishes the
//! outputs to the shared store, and commits the result with its claim's fence, advancing
//! the run in the same transaction (`weft_records`' `advance.rs`).
//!
//! The worker holds nothing another cannot rebuild: killed at any moment, its leases
//! expire, any worker's reaper returns its steps to the queue, and they run again
//! elsewhere, counted as attempts. One heartbeat per worker keeps the leases of the claims
//! it works on alive.

use crate::lock::LockedPlan;
use crate::start::read_stored_component;
use crate::{Runner, StoredBytes};
use anyhow::Context;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_engine::{AttemptReport, CancelSignal, OneStep, RunServices, StepReport, StepStatus, ancestors, execute_one};
use weft_model::Plan;
use weft_records::{Claim, ClaimFilter, Committed};
use weft_sandbox::LocalExecutor;
use weft_task::{Admitted, ByteBudget, Executor};

/// Claims of one step after which it is failed rather than executed again: its workers
/// kept dying on it (killed, out of memory, cut off) or the store kept failing.
pub const MAX_CLAIMS: i64 = 10;

/// Longest wait before a step given back after a failure of the store is claimed again.
const MAX_GIVE_BACK_DELAY: Duration = Duration::from_secs(30);

/// Runs whose plans a worker keeps parsed.
const KEPT_PLANS: usize = 64;

/// How a worker works.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Its name in the queue (unique among the workers sharing it).
    pub name: String,
    /// Which steps it takes.
    pub filter: ClaimFilter,
    /// Most steps executing at once.
    pub slots: usize,
    /// How long a claim lasts without a heartbeat; a third of it between heartbeats.
    pub lease: Duration,
    /// Longest an idle worker waits before looking at the queue again (without a
    /// notification from PostgreSQL).
    pub poll: Duration,
}

/// Claim durations a worker keeps for its report (the first ones, at most).
const KEPT_CLAIM_TIMES: usize = 100_000;

/// What a worker did, for its operator and the benchmarks.
#[derive(Debug, Clone, Default)]
pub struct WorkerStats {
    /// Claim statements that took at least one step.
    pub claims: u64,
    /// Claim statements that found nothing.
    pub empty_claims: u64,
    /// Steps committed.
    pub committed: u64,
    /// Results dropped: the claim had been taken over.
    pub fenced: u64,
    /// Steps given back to the queue after a failure of the store or records.
    pub given_back: u64,
    /// How long each claim statement took (the first [`KEPT_CLAIM_TIMES`]), with or
    /// without steps.
    pub claim_times: Vec<Duration>,
}

/// A run's plan as workers execute it, parsed once per worker.
pub(crate) struct RunPlan {
    pub(crate) plan: Plan,
    digests: Vec<Digest>,
    inputs: BTreeMap<String, ArtifactMeta>,
    index: HashMap<String, usize>,
    fuel: bool,
}

/// A claim by run, step and fence.
type HeldKey = (String, String, i64);

/// The state the worker's tasks share.
pub(crate) struct Shared {
    runner: Runner,
    settings: WorkerSettings,
    /// (tenant, run) → its plan.
    plans: Mutex<HashMap<(String, String), Arc<RunPlan>>>,
    /// The claims this worker works on (executing or committing), by run, step and fence,
    /// with what stops each: heartbeats keep exactly these alive.
    held: Mutex<HashMap<HeldKey, (Claim, CancelSignal)>>,
    stats: Mutex<WorkerStats>,
    /// Each tenant's stored bytes, as this worker counts them.
    pub(crate) stored: Arc<StoredBytes>,
    /// (tenant, run) → the `run-output-bytes` budget of its steps executing here.
    pub(crate) run_budgets: Mutex<HashMap<(String, String), std::sync::Weak<ByteBudget>>>,
}

impl Shared {
    fn count(&self, f: impl FnOnce(&mut WorkerStats)) {
        f(&mut self.stats.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

impl Runner {
    /// Works until `stop` is triggered: claims steps while it has free slots, executes and
    /// commits them; then finishes the steps it holds and returns what it did.
    pub async fn work(&self, settings: WorkerSettings, stop: CancelSignal) -> anyhow::Result<WorkerStats> {
        let shared = Arc::new(Shared {
            runner: self.clone(),
            settings,
            plans: Mutex::new(HashMap::new()),
            held: Mutex::new(HashMap::new()),
            stats: Mutex::new(WorkerStats::default()),
            stored: Arc::default(),
            run_budgets: Mutex::new(HashMap::new()),
        });
        let keeper = tokio::spawn(keep_leases(shared.clone()));
        let queue = self.records.queue();
        let mut wakeups = queue.wakeups().await;
        let mut tasks: JoinSet<()> = JoinSet::new();
        let slots = shared.settings.slots.max(1);
        while !stop.is_cancelled() {
            while tasks.try_join_next().is_some() {}
            let free = slots.saturating_sub(tasks.len());
            if free == 0 {
                tokio::select! {
                    _ = tasks.join_next() => {}
                    () = stop.cancelled() => {}
                }
                continue;
            }
            let n = u32::try_from(free).unwrap_or(u32::MAX);
            let lease = millis(shared.settings.lease);
            let asked = std::time::Instant::now();
            let claimed = queue
                .claim(&shared.settings.name, &shared.settings.filter, n, now_ms(), lease)
                .await;
            let took = asked.elapsed();
            let claims = match claimed {
                Ok(claims) => {
                    shared.count(|s| {
                        if claims.is_empty() {
                            s.empty_claims += 1;
                        } else {
                            s.claims += 1;
                        }
                        if s.claim_times.len() < KEPT_CLAIM_TIMES {
                            s.claim_times.push(took);
                        }
                    });
                    claims
                }
                Err(e) => {
                    tracing::warn!("cannot claim steps (trying again in a second): {e}");
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                        () = stop.cancelled() => {}
                    }
                    continue;
                }
            };
            if claims.is_empty() {
                tokio::select! {
                    () = wakeups.wait(shared.settings.poll) => {}
                    _ = tasks.join_next(), if !tasks.is_empty() => {}
                    () = stop.cancelled() => {}
                }
                continue;
            }
            for claim in claims {
                tasks.spawn(take(shared.clone(), claim));
            }
        }
        tracing::info!("stopping: finishing the {} steps this worker holds", tasks.len());
        while tasks.join_next().await.is_some() {}
        keeper.abort();
        let stats = shared
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        Ok(stats)
    }

    /// The same runner over `tenant`'s records and store.
    pub fn for_tenant(&self, tenant: &str) -> Runner {
        Runner {
            loader: self.loader.clone(),
            store: self.store.for_tenant(tenant),
            records: self.records.for_tenant(tenant),
        }
    }
}

/// Heartbeats for every lease the worker holds, the reaper (any worker returns expired
/// leases to the queue), and cancels of the runs its steps belong to.
async fn keep_leases(shared: Arc<Shared>) {
    let queue = shared.runner.records.queue();
    let lease = millis(shared.settings.lease);
    let mut tick = tokio::time::interval(shared.settings.lease / 3);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = now_ms();
        let held: Vec<Claim> = shared
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|(claim, _)| claim.clone())
            .collect();
        let held: Vec<&Claim> = held.iter().collect();
        if let Err(e) = queue.heartbeat(&shared.settings.name, &held, now, lease).await {
            tracing::warn!("heartbeat failed: {e}");
        }
        match queue.reap(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("returned {n} steps of lost workers to the queue"),
            Err(e) => tracing::warn!("reaping expired leases failed: {e}"),
        }
        match shared.runner.records.expire_runs(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("stopped {n} runs past their time limit"),
            Err(e) => tracing::warn!("stopping runs past their time limit failed: {e}"),
        }
        match queue.cancelled(&shared.settings.name).await {
            Ok(cancelled) => {
                let held = shared.held.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                for ((run, step, _), (_, signal)) in held.iter() {
                    if cancelled.iter().any(|(r, s)| r == run && s == step) {
                        signal.cancel("cancelled by `weft cancel`");
                    }
                }
            }
            Err(e) => tracing::warn!("looking for cancelled runs failed: {e}"),
        }
    }
}

/// Executes one claim and commits it, or gives it back to the queue when the records or
/// the store failed around it.
async fn take(shared: Arc<Shared>, claim: Claim) {
    let runner = shared.runner.for_tenant(&claim.tenant);
    tracing::info!(run = %claim.run_id, step = %claim.step, claim = claim.claims, "executing");
    let cancel = CancelSignal::default();
    // Held (and heartbeated) until this task is done with the claim, however it ends.
    let _held = Held::new(&shared, &claim, &cancel);
    let outcome = execute(&shared, &runner, &claim, &cancel).await;
    let report = match outcome {
        Ok(Some((plan, report))) => match crate::quota::commit(&runner, &claim, &plan, report).await {
            Ok((Committed::Recorded(end), status)) => {
                shared.count(|s| s.committed += 1);
                tracing::info!(run = %claim.run_id, step = %claim.step, status = %status.as_str(), "committed");
                if let Some(end) = end {
                    tracing::info!(run = %claim.run_id, "run {}", end.as_str());
                }
                return;
            }
            Ok((Committed::Fenced | Committed::OverQuota(_), _)) => {
                shared.count(|s| s.fenced += 1);
                tracing::warn!(
                    run = %claim.run_id, step = %claim.step,
                    "result dropped: the lease was lost and the step claimed again"
                );
                return;
            }
            Err(e) => format!("cannot commit: {e}"),
        },
        Ok(None) => "it failed on the host's side (it runs again)".to_string(),
        Err(e) => format!("{e:#}"),
    };
    if claim.claims >= MAX_CLAIMS {
        // What the step needs (its plan, its component) cannot be read, or its result
        // cannot be committed, again and again: nothing can advance the run, so it ends
        // here rather than wait forever.
        let reason = format!("step `{}` could not be executed: {report}", claim.step);
        tracing::error!(run = %claim.run_id, "failing the run: {reason}");
        if let Err(e) = runner.records.abandon_run(&claim.run_id, &reason).await {
            tracing::warn!(run = %claim.run_id, "cannot record the run as failed: {e}");
        }
        return;
    }
    shared.count(|s| s.given_back += 1);
    give_back(&runner, &claim, &report).await;
}

/// A claim this worker holds, from its claim until its task is done with it.
struct Held {
    shared: Arc<Shared>,
    key: HeldKey,
}

impl Held {
    fn new(shared: &Arc<Shared>, claim: &Claim, cancel: &CancelSignal) -> Held {
        let key = (claim.run_id.clone(), claim.step.clone(), claim.fence);
        shared
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.clone(), (claim.clone(), cancel.clone()));
        Held {
            shared: shared.clone(),
            key,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shared
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.key);
    }
}

/// Returns `claim` to the queue after a failure that is not the step's, to be tried again
/// after a backoff that doubles with each claim.
async fn give_back(runner: &Runner, claim: &Claim, why: &str) {
    let exponent = u32::try_from(claim.claims.clamp(1, 6) - 1).unwrap_or(0);
    let delay = Duration::from_secs(1 << exponent).min(MAX_GIVE_BACK_DELAY);
    tracing::warn!(
        run = %claim.run_id, step = %claim.step,
        "giving the step back to the queue for {} s: {why}", delay.as_secs()
    );
    if let Err(e) = runner.records.queue().give_back(claim, now_ms() + millis(delay)).await {
        // Its lease expires (no longer heartbeated once this task lets go of it) and the
        // reaper gives it back instead.
        tracing::warn!(run = %claim.run_id, step = %claim.step, "cannot give the step back: {e}");
    }
}

/// The step's report, ready to commit; `None` when the store failed around it (give it
/// back); an error when the records or the store could not provide what it needs.
async fn execute(
    shared: &Shared,
    runner: &Runner,
    claim: &Claim,
    cancel: &CancelSignal,
) -> anyhow::Result<Option<(Arc<RunPlan>, StepReport)>> {
    let plan = run_plan(shared, runner, claim).await?;
    let i = *plan
        .index
        .get(&claim.step)
        .with_context(|| format!("run {}: its plan has no step `{}`", claim.run_id, claim.step))?;
    let mut report = if claim.claims > MAX_CLAIMS {
        let mut report = weft_engine::planned_steps(&plan.plan, &plan.digests).swap_remove(i);
        report.status = StepStatus::Failed;
        report.error = Some(format!(
            "claimed {} times without a result: its workers stopped while executing it (killed, out of memory, \
             cut off) or the store kept failing; not tried again",
            claim.claims - 1
        ));
        report
    } else {
        let ids: Vec<&str> = ancestors(&plan.plan, i)
            .into_iter()
            .map(|k| plan.plan.steps[k].id.as_str())
            .collect();
        let produced = runner.records.outputs_of(&claim.run_id, &ids).await?;
        let sandbox = runner.loader.sandbox(plan.fuel)?;
        let digest = plan.digests[i];
        let component = match sandbox.loaded(&digest) {
            Some(c) => c,
            None => {
                let step = &plan.plan.steps[i];
                let name = format!("{}@{}", step.info.name, step.info.version);
                let bytes = read_stored_component(&runner.store, &digest)
                    .await
                    .with_context(|| format!("reading the archived component `{name}` ({digest})"))?;
                sandbox.load(&bytes, &format!("archived `{name}`")).await?
            }
        };
        let mut executor: Arc<dyn Executor> = Arc::new(LocalExecutor::new(sandbox, runner.store.clone(), [component]));
        let Some(budgets) = crate::quota::budgets(shared, runner, claim).await? else {
            return Ok(None);
        };
        if !budgets.is_empty() {
            executor = Arc::new(Admitted {
                inner: executor,
                admission: Arc::new(crate::quota::Budgeted(budgets)),
            });
        }
        let services = RunServices {
            executor,
            store: runner.store.clone(),
            journal: Arc::new(runner.records.clone()),
        };
        let one = OneStep {
            plan: &plan.plan,
            components: &plan.digests,
            inputs: plan.inputs.clone(),
            produced,
            run_id: &claim.run_id,
            step: i,
        };
        let executed = execute_one(one, &services, true, cancel).await;
        if executed.host_failure && claim.claims < MAX_CLAIMS {
            tracing::warn!(
                run = %claim.run_id, step = %claim.step,
                "{}", executed.report.error.clone().unwrap_or_default()
            );
            return Ok(None);
        }
        executed.report
    };
    count_lost_claims(&mut report, claim.claims);
    Ok(Some((plan, report)))
}

/// Earlier claims of the step that ended without a result come first among its attempts.
fn count_lost_claims(report: &mut StepReport, claims: i64) {
    let lost = u32::try_from(claims.saturating_sub(1)).unwrap_or(0);
    if lost == 0 {
        return;
    }
    let mut attempts: Vec<AttemptReport> = (1..=lost)
        .map(|number| AttemptReport {
            number,
            status: StepStatus::Failed,
            error: Some(
                "no result: its worker stopped answering (killed, cut off) or gave it back after a failure of \
                 the store or records"
                    .into(),
            ),
            duration_ms: 0.0,
        })
        .collect();
    for mut attempt in report.attempts.drain(..) {
        attempt.number += lost;
        attempts.push(attempt);
    }
    report.attempts = attempts;
}

/// The run's plan, parsed from its locked plan once per worker.
async fn run_plan(shared: &Shared, runner: &Runner, claim: &Claim) -> anyhow::Result<Arc<RunPlan>> {
    let key = (claim.tenant.clone(), claim.run_id.clone());
    if let Some(plan) = shared
        .plans
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(&key)
    {
        return Ok(plan.clone());
    }
    let locked: LockedPlan = runner.locked_plan(&claim.run_id).await?;
    let (plan, digests) = locked.unlock().with_context(|| format!("run {}", claim.run_id))?;
    let parsed = Arc::new(RunPlan {
        index: plan.steps.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect(),
        inputs: locked.input_artifacts(),
        fuel: locked.needs_fuel(),
        plan,
        digests,
    });
    let mut plans = shared.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if plans.len() >= KEPT_PLANS {
        plans.clear();
    }
    plans.insert(key, parsed.clone());
    Ok(parsed)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
