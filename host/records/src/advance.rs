//! Runs executed by workers that share the database (`weft worker`, issue 11): a claimed
//! step's result is committed and its run advanced **in one transaction** — the run's row
//! locked, the claim's fence checked, the step recorded, the steps it readies queued, the
//! ones a failure or a false `when:` settles recorded, and the run finished when nothing is
//! left. No process holds a run's state in memory, so any server or worker may die at any
//! moment: a commit either happened whole or not at all, and a step whose worker died is
//! claimed again from the queue (`queue.rs`).

use crate::db::Tx;
use crate::queue::Claim;
use crate::read::MetaRow;
use crate::script::Script;
use crate::{Records, RecordsError, now_ms};
use std::collections::{BTreeMap, HashMap};
use weft_artifacts::ArtifactMeta;
use weft_engine::{RunStatus, StepReport, StepStatus, advance};
use weft_model::Plan;

/// How a claimed step's commit went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Recorded, and the run advanced; `Some` when that finished the run, with its status.
    Recorded(Option<RunStatus>),
    /// The claim had lost its lease and the step was claimed again (or the run is gone):
    /// nothing was recorded. The worker drops its result.
    Fenced,
    /// The step's outputs would take the run past its `run-output-bytes` quota (the message
    /// says by how much): nothing was recorded. The worker commits the step as failed.
    OverQuota(String),
}

/// What a run on workers may use, handed over with it and kept in its row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunLimits {
    /// Most steps of the run's tenant executing at once over every worker (0: no limit).
    pub step_limit: u64,
    /// How long the run may take, from when it is handed over.
    pub time_limit: Option<std::time::Duration>,
    /// Most bytes the run's executed steps may produce together (`run-output-bytes`).
    pub output_bytes: Option<u64>,
    /// Most bytes its tenant may store in all (`stored-bytes`), which workers count the
    /// run's writes against.
    pub stored_bytes: Option<u64>,
}

/// A run on workers against its byte quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunBytes {
    /// What its succeeded, executed steps produced.
    pub produced: u64,
    /// Its `run-output-bytes`, if it has one.
    pub output_limit: Option<u64>,
    /// Its tenant's `stored-bytes`, if it has one.
    pub stored_limit: Option<u64>,
}

/// The reason recorded on steps a cancel settles.
const CANCELLED: &str = "cancelled by `weft cancel`";

/// The reason recorded on a run (and its steps) stopped by its time limit.
const TIMED_OUT: &str = "the run's time limit passed";

/// A run's row as the advancing transaction reads it, locked.
#[derive(sqlx::FromRow)]
struct RunRow {
    status: String,
    cancel_requested: bool,
    step_limit: i64,
    timed_out: bool,
    output_limit: Option<i64>,
    produced_bytes: i64,
}

impl Records {
    /// Hands a recorded run to the workers — for good: no process owns it from now on —
    /// within `limits`, and queues its first steps, in one transaction. `Some` when the run
    /// is over with that (nothing to execute), and its status.
    pub async fn queue_run(
        &self,
        run_id: &str,
        plan: &Plan,
        limits: &RunLimits,
    ) -> Result<Option<RunStatus>, RecordsError> {
        self.advance_run_with(run_id, plan, Some(limits)).await
    }

    /// Where a run on workers stands against its byte quotas (a worker gives a step what
    /// is left of them).
    pub async fn run_bytes(&self, run_id: &str) -> Result<RunBytes, RecordsError> {
        let row: Option<(i64, Option<i64>, Option<i64>)> = self
            .db
            .first(
                "SELECT produced_bytes, output_limit, stored_limit FROM runs WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?;
        let (produced, output_limit, stored_limit) = row.ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        let bytes = |b: i64| u64::try_from(b).unwrap_or(0);
        Ok(RunBytes {
            produced: bytes(produced),
            output_limit: output_limit.map(bytes),
            stored_limit: stored_limit.map(bytes),
        })
    }

    /// Stops every tenant's run on workers whose time limit passed by `now_ms`: its queued
    /// steps leave the queue, its executing ones are interrupted by their workers, and it
    /// fails once they are in. How many runs it stopped.
    pub async fn expire_runs(&self, now_ms: i64) -> Result<usize, RecordsError> {
        let overdue: Vec<(String, String)> = self
            .db
            .all(
                "SELECT tenant, id FROM runs WHERE status = 'running' AND on_workers AND NOT cancel_requested \
                 AND deadline_at < $1",
                vec![now_ms.into()],
            )
            .await?;
        for (tenant, run_id) in &overdue {
            if let Err(e) = self.for_tenant(tenant).expire_run(run_id, now_ms).await {
                // One run that cannot be stopped must not keep the others going.
                tracing::warn!(run = %run_id, "cannot stop the run past its time limit: {e}");
            }
        }
        Ok(overdue.len())
    }

    /// Stops one run past its time limit (see [`Records::expire_runs`]).
    async fn expire_run(&self, run_id: &str, now_ms: i64) -> Result<(), RecordsError> {
        let mut tx = self.db.begin().await?;
        let result = async {
            let Some(mut run) = self.lock_run(&mut tx, run_id).await? else {
                return Ok(None);
            };
            if run.status != "running" || run.cancel_requested {
                return Ok(None);
            }
            tx.execute(
                "UPDATE runs SET cancel_requested = TRUE, timed_out = TRUE WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?;
            run.timed_out = true;
            let rows = self.step_rows(&mut tx, run_id).await?;
            self.cancel_in(&mut tx, run_id, &rows, &run, now_ms).await
        }
        .await;
        finish(tx, result).await.map(|_| ())
    }

    /// Advances a run workers execute from its records: what is ready is queued, what is
    /// settled recorded; a cancelled run's queued steps leave the queue, and it ends once
    /// its executing steps are in. `Some` when the run is over, and its status.
    pub async fn advance_run(&self, run_id: &str, plan: &Plan) -> Result<Option<RunStatus>, RecordsError> {
        self.advance_run_with(run_id, plan, None).await
    }

    async fn advance_run_with(
        &self,
        run_id: &str,
        plan: &Plan,
        hand_over: Option<&RunLimits>,
    ) -> Result<Option<RunStatus>, RecordsError> {
        let mut tx = self.db.begin().await?;
        let result = async {
            let Some(mut run) = self.lock_run(&mut tx, run_id).await? else {
                return Err(RecordsError::UnknownRun(run_id.to_string()));
            };
            if run.status != "running" {
                return Ok(RunStatus::parse(&run.status));
            }
            if let Some(limits) = hand_over {
                let deadline = limits
                    .time_limit
                    .map(|t| now_ms().saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX)));
                run.step_limit = i64::try_from(limits.step_limit).unwrap_or(i64::MAX);
                let column = |b: Option<u64>| b.map(|b| i64::try_from(b).unwrap_or(i64::MAX));
                tx.execute(
                    // A run handed over again (a server restarting) keeps its deadline and
                    // byte quotas (a resume clears them first). What its steps produced is
                    // counted from its records here (a resumed run's kept steps count); its
                    // commits keep the count after.
                    "UPDATE runs SET on_workers = TRUE, step_limit = $3, deadline_at = COALESCE(deadline_at, $4), \
                     output_limit = COALESCE(output_limit, $5), stored_limit = COALESCE(stored_limit, $6), \
                     produced_bytes = (SELECT COALESCE(SUM(o.size), 0) FROM step_outputs o \
                     JOIN steps s ON s.run_id = o.run_id AND s.step = o.step \
                     WHERE o.run_id = $1 AND s.status = 'succeeded' AND s.reuse IS NULL) \
                     WHERE id = $1 AND tenant = $2",
                    vec![
                        run_id.into(),
                        self.tenant.as_str().into(),
                        run.step_limit.into(),
                        deadline.into(),
                        column(limits.output_bytes).into(),
                        column(limits.stored_bytes).into(),
                    ],
                )
                .await?;
            }
            self.advance_in(&mut tx, run_id, plan, &run).await
        }
        .await;
        finish(tx, result).await
    }

    /// Commits `step`, the result of `claim`, and advances its run — in one transaction,
    /// and only while `claim` still holds the step's fence ([`Committed::Fenced`] when it
    /// does not: nothing is written). `plan` is the run's plan.
    pub async fn commit_claimed(
        &self,
        claim: &Claim,
        plan: &Plan,
        step: &StepReport,
    ) -> Result<Committed, RecordsError> {
        let mut tx = self.db.begin().await?;
        let mut blobs = None;
        let result = async {
            // The run's row first: every commit of this run waits here for the one before,
            // so each advances from what the other committed.
            let Some(run) = self.lock_run(&mut tx, &claim.run_id).await? else {
                return Ok(Committed::Fenced);
            };
            // Exact over every worker: the commits of a run take turns on its row.
            let produced = produced_by(step);
            let total = u64::try_from(run.produced_bytes).unwrap_or(0).saturating_add(produced);
            if let Some(limit) = run.output_limit.map(|l| u64::try_from(l).unwrap_or(0))
                && produced > 0
                && total > limit
            {
                return Ok(Committed::OverQuota(format!(
                    "run-output-bytes: {total} bytes with what the run's other steps committed meanwhile, more than \
                     the tenant's quota of {limit} per run"
                )));
            }
            let released = tx.execute(crate::queue::RELEASE, claim.key()).await?;
            if released == 0 {
                return Ok(Committed::Fenced);
            }
            if produced > 0 {
                tx.execute(
                    "UPDATE runs SET produced_bytes = produced_bytes + $3 WHERE id = $1 AND tenant = $2",
                    vec![
                        claim.run_id.as_str().into(),
                        self.tenant.as_str().into(),
                        i64::try_from(produced).unwrap_or(i64::MAX).into(),
                    ],
                )
                .await?;
            }
            let (script, pending) = self.step_script(&claim.run_id, std::slice::from_ref(step));
            tx.script(script).await?;
            blobs = Some(pending);
            if run.status != "running" {
                // Stopped while the step executed: its result is kept, nothing follows it.
                return Ok(Committed::Recorded(None));
            }
            let quick = match step.status {
                StepStatus::Succeeded if !run.cancel_requested => {
                    self.advance_after_success(&mut tx, &claim.run_id, plan, &run, &step.id)
                        .await?
                }
                _ => None,
            };
            let finished = match quick {
                Some(finished) => finished,
                None => self.advance_in(&mut tx, &claim.run_id, plan, &run).await?,
            };
            Ok(Committed::Recorded(finished))
        }
        .await;
        let committed = finish(tx, result).await?;
        if let Some(blobs) = &blobs
            && !committed.is_fenced()
        {
            self.blobs_committed(blobs);
        }
        Ok(committed)
    }

    /// Reopens a run workers execute (`--resume`, or a server's resume): its steps that did
    /// not succeed are pending again, with their attempts, outputs, metrics and logs
    /// forgotten; succeeded steps are kept. A running run stays as it is. The caller then
    /// queues it again ([`Records::queue_run`]).
    pub async fn reopen_on_workers(&self, run_id: &str) -> Result<(), RecordsError> {
        let mut tx = self.db.begin().await?;
        let result = async {
            let Some(run) = self.lock_run(&mut tx, run_id).await? else {
                return Err(RecordsError::UnknownRun(run_id.to_string()));
            };
            if run.status == "running" {
                return Ok(None);
            }
            let mut script = Script::default();
            crate::write::forget_unsucceeded(&mut script, run_id);
            script.add("DELETE FROM step_queue WHERE run_id = ?", vec![run_id.into()]);
            tx.script(script).await?;
            // After the deletes, which find the steps by their old status.
            let mut script = Script::default();
            script.add(
                "UPDATE steps SET status = 'pending', error = NULL, finished_at = NULL, duration_ms = NULL, \
                 reuse = NULL, reused_from = NULL, cache_key = NULL WHERE run_id = ? AND status <> 'succeeded'",
                vec![run_id.into()],
            );
            script.add(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, cancel_requested = FALSE, \
                 timed_out = FALSE, deadline_at = NULL, output_limit = NULL, stored_limit = NULL \
                 WHERE id = ? AND tenant = ?",
                vec![run_id.into(), self.tenant.as_str().into()],
            );
            tx.script(script).await?;
            Ok(None)
        }
        .await;
        finish(tx, result).await.map(|_: Option<RunStatus>| ())
    }

    /// Ends a run workers cannot advance (its plan or a component cannot be read, claim
    /// after claim) as failed with `reason`: its queued steps leave the queue, its steps
    /// not finished are failed.
    pub async fn abandon_run(&self, run_id: &str, reason: &str) -> Result<(), RecordsError> {
        let mut tx = self.db.begin().await?;
        let result = async {
            if self.lock_run(&mut tx, run_id).await?.is_none() {
                return Err(RecordsError::UnknownRun(run_id.to_string()));
            }
            let now = now_ms();
            let mut script = Script::default();
            // Steps executing elsewhere are stopped by their workers (the cancel flag), and
            // their commits find no row: the run is over.
            script.add("DELETE FROM step_queue WHERE run_id = ?", vec![run_id.into()]);
            script.add(
                "UPDATE steps SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ? AND status = 'pending'",
                vec![reason.into(), now.into(), run_id.into()],
            );
            script.add(
                "UPDATE runs SET status = 'failed', error = ?, finished_at = ?, cancel_requested = TRUE \
                 WHERE id = ? AND tenant = ? AND status = 'running'",
                vec![reason.into(), now.into(), run_id.into(), self.tenant.as_str().into()],
            );
            tx.script(script).await?;
            Ok(None)
        }
        .await;
        finish(tx, result).await.map(|_: Option<RunStatus>| ())
    }

    /// The committed outputs of `steps` of run `run_id`, by step then port (what a
    /// worker's task reads; see `weft_engine::ancestors`).
    pub async fn outputs_of(
        &self,
        run_id: &str,
        steps: &[&str],
    ) -> Result<BTreeMap<String, BTreeMap<String, ArtifactMeta>>, RecordsError> {
        let mut out: BTreeMap<String, BTreeMap<String, ArtifactMeta>> = BTreeMap::new();
        if steps.is_empty() {
            return Ok(out);
        }
        // One statement however many steps: their ids travel as one JSON array.
        let listed = self.json_list(3);
        let rows: Vec<(String, String, String, i64, String)> = self
            .db
            .all(
                format!(
                    "SELECT o.step, o.port, o.digest, o.size, o.media_type FROM step_outputs o \
                     JOIN runs r ON r.id = o.run_id WHERE o.run_id = $1 AND r.tenant = $2 AND o.step IN ({listed})"
                ),
                vec![
                    run_id.into(),
                    self.tenant.as_str().into(),
                    serde_json::to_string(steps).unwrap_or_default().into(),
                ],
            )
            .await?;
        for (step, port, digest, size, media_type) in rows {
            let row = MetaRow {
                key: port,
                digest,
                size,
                media_type,
            };
            out.entry(step).or_default().insert(row.key.clone(), row.meta()?);
        }
        Ok(out)
    }

    /// Locks the run's row (PostgreSQL; SQLite's transaction holds the write lock already).
    async fn lock_run(&self, tx: &mut Tx<'_>, run_id: &str) -> Result<Option<RunRow>, RecordsError> {
        let lock = if self.db.is_postgres() { " FOR UPDATE" } else { "" };
        let mut rows: Vec<RunRow> = tx
            .all(
                format!(
                    "SELECT status, cancel_requested, step_limit, timed_out, output_limit, produced_bytes FROM runs \
                     WHERE id = $1 AND tenant = $2{lock}"
                ),
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?;
        Ok(rows.pop())
    }

    /// Decides the run's next moves from its recorded statuses (`weft_engine::advance`)
    /// and records them: ready steps queued, settled steps' statuses, the run's end. A
    /// cancelled run queues nothing, and its steps not executing are cancelled.
    async fn advance_in(
        &self,
        tx: &mut Tx<'_>,
        run_id: &str,
        plan: &Plan,
        run: &RunRow,
    ) -> Result<Option<RunStatus>, RecordsError> {
        let rows = self.step_rows(tx, run_id).await?;
        if rows.len() != plan.steps.len() || rows.iter().zip(&plan.steps).any(|((id, _), s)| *id != s.id) {
            return Err(RecordsError::Corrupt(format!(
                "run {run_id}: its recorded steps are not its plan's"
            )));
        }
        let status: Vec<StepStatus> = rows.iter().map(|(_, s)| *s).collect();
        let now = now_ms();
        if run.cancel_requested {
            return self.cancel_in(tx, run_id, &rows, run, now).await;
        }
        let metrics = self.condition_metrics(tx, run_id, plan).await?;
        let next = advance(plan, &status, |k, name| {
            metrics
                .get(&plan.steps[k].id)
                .and_then(|m| m.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
        });
        self.enqueue_in(tx, run_id, plan, run, &next.ready, now).await?;
        let mut script = Script::default();
        settle(
            &mut script,
            run_id,
            next.settled
                .iter()
                .map(|(i, s, reason)| (plan.steps[*i].id.as_str(), *s, reason.as_str())),
            now,
        );
        let finished = next.finished.then(|| {
            let mut end = status.clone();
            for (i, s, _) in &next.settled {
                end[*i] = *s;
            }
            if end
                .iter()
                .all(|s| matches!(s, StepStatus::Succeeded | StepStatus::Skipped))
            {
                RunStatus::Succeeded
            } else {
                RunStatus::Failed
            }
        });
        if let Some(end) = finished {
            self.end_run(&mut script, run_id, end, None, now);
        }
        tx.script(script).await?;
        Ok(finished)
    }

    /// Advances a run after step `done` succeeded, reading only what that can change: its
    /// dependents and their producers, and (when it readies nothing) whether any step is
    /// left — not every step of the run, which would make a fan-out's commits quadratic.
    /// `None` when the full `advance_in` must decide (a dependent has a `when:`, whose
    /// metrics and whose skip may reach further).
    async fn advance_after_success(
        &self,
        tx: &mut Tx<'_>,
        run_id: &str,
        plan: &Plan,
        run: &RunRow,
        done: &str,
    ) -> Result<Option<Option<RunStatus>>, RecordsError> {
        let Some(i) = plan.steps.iter().position(|s| s.id == done) else {
            return Ok(None);
        };
        let dependents: Vec<usize> = (i + 1..plan.steps.len())
            .filter(|&d| plan.steps[d].deps.contains(&i))
            .collect();
        if dependents.iter().any(|&d| plan.steps[d].condition.is_some()) {
            return Ok(None);
        }
        let mut needed: Vec<&str> = Vec::new();
        for &d in &dependents {
            needed.push(plan.steps[d].id.as_str());
            needed.extend(plan.steps[d].deps.iter().map(|&p| plan.steps[p].id.as_str()));
        }
        needed.sort_unstable();
        needed.dedup();
        let rows: Vec<(String, String)> = if needed.is_empty() {
            Vec::new()
        } else {
            tx.all(
                format!(
                    "SELECT step, status FROM steps WHERE run_id = $1 AND step IN ({})",
                    self.json_list(2)
                ),
                vec![run_id.into(), serde_json::to_string(&needed).unwrap_or_default().into()],
            )
            .await?
        };
        let status: HashMap<&str, &str> = rows.iter().map(|(s, t)| (s.as_str(), t.as_str())).collect();
        let ready: Vec<usize> = dependents
            .into_iter()
            .filter(|&d| {
                status.get(plan.steps[d].id.as_str()) == Some(&"pending")
                    && plan.steps[d]
                        .deps
                        .iter()
                        .all(|&p| status.get(plan.steps[p].id.as_str()) == Some(&"succeeded"))
            })
            .collect();
        let now = now_ms();
        if !ready.is_empty() {
            self.enqueue_in(tx, run_id, plan, run, &ready, now).await?;
            return Ok(Some(None));
        }
        // Nothing readied: the run is over if no step is pending.
        let (pending, unsuccessful): (i64, i64) = tx
            .all(
                "SELECT COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0), \
                 COALESCE(SUM(CASE WHEN status IN ('succeeded', 'skipped') THEN 0 ELSE 1 END), 0) \
                 FROM steps WHERE run_id = $1",
                vec![run_id.into()],
            )
            .await?
            .pop()
            .unwrap_or((1, 0));
        if pending > 0 {
            return Ok(Some(None));
        }
        let end = if unsuccessful == 0 {
            RunStatus::Succeeded
        } else {
            RunStatus::Failed
        };
        let mut script = Script::default();
        self.end_run(&mut script, run_id, end, None, now);
        tx.script(script).await?;
        Ok(Some(Some(end)))
    }

    /// Queues steps `ready` of the run (a step queued already stays as it is) and wakes
    /// the idle workers when the transaction commits (PostgreSQL).
    async fn enqueue_in(
        &self,
        tx: &mut Tx<'_>,
        run_id: &str,
        plan: &Plan,
        run: &RunRow,
        ready: &[usize],
        now: i64,
    ) -> Result<(), RecordsError> {
        let mut script = Script::default();
        script.rows(
            "INSERT INTO step_queue (run_id, step, tenant, runs_on, state, ready_at, tenant_limit, fence)",
            ready
                .iter()
                .map(|&i| {
                    vec![
                        run_id.into(),
                        plan.steps[i].id.as_str().into(),
                        self.tenant.as_str().into(),
                        plan.steps[i].runs_on.clone().unwrap_or_default().into(),
                        "ready".into(),
                        now.into(),
                        run.step_limit.into(),
                        crate::queue::first_fence().into(),
                    ]
                })
                .collect(),
            "ON CONFLICT (run_id, step) DO NOTHING",
        );
        tx.script(script).await?;
        if !ready.is_empty() && self.db.is_postgres() {
            // Delivered when the transaction commits: idle workers wake up and claim.
            tx.execute("NOTIFY weft_queue", vec![]).await?;
        }
        Ok(())
    }

    /// `(SELECT …)` spreading the JSON array of texts bound as parameter `$n` into rows:
    /// a list of any length in one bound value.
    fn json_list(&self, n: usize) -> String {
        if self.db.is_postgres() {
            format!("SELECT jsonb_array_elements_text(${n}::jsonb)")
        } else {
            format!("SELECT value FROM json_each(${n})")
        }
    }

    /// The run's steps in plan order with their recorded status.
    async fn step_rows(&self, tx: &mut Tx<'_>, run_id: &str) -> Result<Vec<(String, StepStatus)>, RecordsError> {
        let rows: Vec<(String, String)> = tx
            .all(
                "SELECT step, status FROM steps WHERE run_id = $1 ORDER BY position",
                vec![run_id.into()],
            )
            .await?;
        rows.into_iter()
            .map(|(id, s)| match StepStatus::parse(&s) {
                Some(status) => Ok((id, status)),
                None => Err(RecordsError::Corrupt(format!("step `{id}`: unknown status `{s}`"))),
            })
            .collect()
    }

    /// A cancelled run (or one out of time): its ready steps leave the queue and every
    /// step not executing is cancelled; the run ends once no worker executes any of its
    /// steps — cancelled, or failed when its time limit passed.
    async fn cancel_in(
        &self,
        tx: &mut Tx<'_>,
        run_id: &str,
        rows: &[(String, StepStatus)],
        run: &RunRow,
        now: i64,
    ) -> Result<Option<RunStatus>, RecordsError> {
        let reason = if run.timed_out { TIMED_OUT } else { CANCELLED };
        tx.execute(
            "DELETE FROM step_queue WHERE run_id = $1 AND state = 'ready'",
            vec![run_id.into()],
        )
        .await?;
        let leased: Vec<(String,)> = tx
            .all("SELECT step FROM step_queue WHERE run_id = $1", vec![run_id.into()])
            .await?;
        let executing: Vec<&str> = leased.iter().map(|(s,)| s.as_str()).collect();
        let mut script = Script::default();
        settle(
            &mut script,
            run_id,
            rows.iter()
                .filter(|(id, s)| *s == StepStatus::Pending && !executing.contains(&id.as_str()))
                .map(|(id, _)| (id.as_str(), StepStatus::Cancelled, reason)),
            now,
        );
        let end = if run.timed_out {
            RunStatus::Failed
        } else {
            RunStatus::Cancelled
        };
        let finished = executing.is_empty().then_some(end);
        if finished.is_some() {
            self.end_run(&mut script, run_id, end, Some(reason), now);
        }
        tx.script(script).await?;
        Ok(finished)
    }

    /// Adds the statement recording the run's end: its status, why (if it stopped early)
    /// and when.
    fn end_run(&self, script: &mut Script, run_id: &str, end: RunStatus, error: Option<&str>, now: i64) {
        script.add(
            "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND tenant = ?",
            vec![
                end.as_str().into(),
                error.map(str::to_string).into(),
                now.into(),
                run_id.into(),
                self.tenant.as_str().into(),
            ],
        );
    }

    /// The metrics `when:` conditions may read, by step id (none read when the plan has
    /// no condition).
    async fn condition_metrics(
        &self,
        tx: &mut Tx<'_>,
        run_id: &str,
        plan: &Plan,
    ) -> Result<HashMap<String, Vec<(String, f64)>>, RecordsError> {
        let mut by_step: HashMap<String, Vec<(String, f64)>> = HashMap::new();
        if plan.steps.iter().all(|s| s.condition.is_none()) {
            return Ok(by_step);
        }
        let rows: Vec<(String, String, f64)> = tx
            .all(
                "SELECT step, name, value FROM metrics WHERE run_id = $1 ORDER BY step, position",
                vec![run_id.into()],
            )
            .await?;
        for (step, name, value) in rows {
            by_step.entry(step).or_default().push((name, value));
        }
        Ok(by_step)
    }
}

/// Adds the update settling pending steps without executing them: (step, its new status,
/// why).
fn settle<'a>(
    script: &mut Script,
    run_id: &str,
    steps: impl Iterator<Item = (&'a str, StepStatus, &'a str)>,
    now: i64,
) {
    script.update(
        "steps",
        &["status", "error", "finished_at"],
        &["run_id", "step"],
        " AND status = 'pending'",
        steps
            .map(|(step, status, reason)| {
                vec![
                    status.as_str().into(),
                    reason.into(),
                    now.into(),
                    run_id.into(),
                    step.into(),
                ]
            })
            .collect(),
    );
}

/// Commits `tx` when `result` is a success (and not [`Committed::Fenced`]: a fenced commit
/// wrote nothing and rolls back), rolls it back otherwise.
async fn finish<T: PartialEq + FencedOr>(tx: Tx<'_>, result: Result<T, RecordsError>) -> Result<T, RecordsError> {
    match result {
        Ok(value) if !value.is_fenced() => {
            tx.commit().await?;
            Ok(value)
        }
        Ok(value) => {
            tx.rollback().await;
            Ok(value)
        }
        Err(e) => {
            tx.rollback().await;
            Err(e)
        }
    }
}

/// Whether a transaction's outcome means nothing may be kept.
trait FencedOr {
    fn is_fenced(&self) -> bool;
}

impl FencedOr for Committed {
    fn is_fenced(&self) -> bool {
        !matches!(self, Committed::Recorded(_))
    }
}

/// The bytes a step's result adds to its run's `run-output-bytes`: its outputs when it
/// succeeded by executing (reused outputs were produced by another run).
fn produced_by(step: &StepReport) -> u64 {
    if step.status != StepStatus::Succeeded || step.reuse.is_some() {
        return 0;
    }
    step.outputs.values().map(|o| o.size).sum()
}

impl FencedOr for Option<RunStatus> {
    fn is_fenced(&self) -> bool {
        false
    }
}
