//! The step queue (migrations 0009, 0010): steps ready to execute, claimed by workers
//! that share the database. The primitives every worker and server uses, and the
//! invariants they keep (committing a claim and advancing its run: `advance.rs`):
//!
//! - **Claim** ([`Queue::claim`]): one statement moves up to `n` ready rows to `leased` by
//!   one worker, until a lease expiry, and increments each row's `fence`. Claims take
//!   turns under a transaction-level advisory lock on PostgreSQL (SQLite's single writer
//!   serialises them), so the leased counts each reads are exact; candidates are locked
//!   with `FOR UPDATE SKIP LOCKED`, so a claim never waits on a row a commit holds.
//!   Fair between tenants: each ready row's turn is its rank within its tenant (oldest
//!   first) plus the steps its tenant has leased, lowest turns first, so a tenant with
//!   10,000 ready steps does not starve one with 1; no turn past the tenant's limit of
//!   executing steps (`tenant_limit`) is taken. Steps of runs asked to stop are skipped.
//!   (The turns are computed over every ready row a claim may take: a cost that grows
//!   with the queue.)
//! - **Heartbeat** ([`Queue::heartbeat`]): one statement per worker extends the leases of
//!   the claims it names (those it still works on).
//! - **Reap** ([`Queue::reap`]): leases past their expiry go back to `ready`; the claim that
//!   follows is another attempt, with a higher fence.
//! - **Fence** ([`Queue::release`], [`Queue::give_back`]): a worker gives a row up only with
//!   the fence it claimed with; a worker whose lease was reaped and whose row was claimed
//!   again finds 0 rows and must not commit. A new row starts from a random fence
//!   ([`first_fence`]), so a row made again (a resumed run) never matches an old claim.
//!
//! Times are milliseconds since the epoch, passed in by the caller (tests set them).

use crate::db::Db;
use crate::{Records, RecordsError};

/// A claimed step.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Claim {
    /// The run.
    pub run_id: String,
    /// The step id.
    pub step: String,
    /// Whose run it is.
    pub tenant: String,
    /// The fence this claim holds; only it may release the row.
    pub fence: i64,
    /// Claims of this row so far, this one included (attempts, counting reaped ones).
    pub claims: i64,
}

/// Deletes a claimed row, only with the claim's fence ([`Claim::key`] binds it): releasing
/// it, and the first statement of committing its result.
pub(crate) const RELEASE: &str =
    "DELETE FROM step_queue WHERE run_id = $1 AND step = $2 AND fence = $3 AND state = 'leased'";

impl Claim {
    /// Run id, step and fence, bound in that order.
    pub(crate) fn key(&self) -> Vec<crate::script::Val> {
        vec![
            self.run_id.as_str().into(),
            self.step.as_str().into(),
            self.fence.into(),
        ]
    }
}

/// What a worker may claim.
#[derive(Debug, Clone, Default)]
pub struct ClaimFilter {
    /// Only these tenants' steps (empty: every tenant's).
    pub tenants: Vec<String>,
    /// The labels the worker carries: it claims steps that ask for none or for one of these.
    pub labels: Vec<String>,
}

/// The queue, over every tenant (workers are not one tenant's).
#[derive(Clone)]
pub struct Queue {
    db: Db,
}

/// Candidates locked per claimed row on PostgreSQL: rows another claimer holds are skipped,
/// and the rest taken in turn.
const CANDIDATES_PER_CLAIM: i64 = 4;

impl Records {
    /// The step queue these records hold.
    pub fn queue(&self) -> Queue {
        Queue { db: self.db.clone() }
    }

    /// Queues steps of this tenant's run `run_id` as ready: (step id, label it runs on or
    /// ''). A step queued already stays as it is.
    pub async fn enqueue(&self, run_id: &str, steps: &[(&str, &str)], now_ms: i64) -> Result<(), RecordsError> {
        if let Some((_, label)) = steps.iter().find(|(_, label)| !plain(label)) {
            return Err(RecordsError::BadLabel((*label).to_string()));
        }
        for (step, runs_on) in steps {
            self.db
                .execute(
                    "INSERT INTO step_queue (run_id, step, tenant, runs_on, state, ready_at, fence) \
                     VALUES ($1, $2, $3, $4, 'ready', $5, $6) ON CONFLICT (run_id, step) DO NOTHING",
                    vec![
                        run_id.into(),
                        (*step).into(),
                        self.tenant.as_str().into(),
                        (*runs_on).into(),
                        now_ms.into(),
                        first_fence().into(),
                    ],
                )
                .await?;
        }
        Ok(())
    }
}

/// The fence a newly queued step starts from: random (below 2^52), not 0. A step's row
/// is deleted when its result is committed and made again when the run is resumed; a
/// worker still holding a claim on the old row must not find its fence on the new one.
pub(crate) fn first_fence() -> i64 {
    let mut bytes = [0u8; 8];
    // Without randomness, the clock: still far from any fence an old row reached.
    if getrandom::fill(&mut bytes).is_err() {
        return crate::now_ms().rem_euclid(1 << 52);
    }
    i64::from_le_bytes(bytes).rem_euclid(1 << 52)
}

/// Whether `text` is made of ASCII letters, digits and `-` only: what a label or tenant
/// name is, and all that is ever matched with `LIKE` here (no `,`, `%` or `_`).
fn plain(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// `a,b,c` for a list matched with `LIKE`; `None` when an item is not [`plain`] (it is
/// never matched loosely).
fn listed(items: &[String]) -> Option<String> {
    items.iter().all(|s| !s.is_empty() && plain(s)).then(|| items.join(","))
}

impl Queue {
    /// Claims up to `n` ready steps for `worker` until `now_ms + lease_ms`, fairly between
    /// tenants (see the module's notes).
    pub async fn claim(
        &self,
        worker: &str,
        filter: &ClaimFilter,
        n: u32,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<Claim>, RecordsError> {
        let (Some(labels), Some(tenants)) = (listed(&filter.labels), listed(&filter.tenants)) else {
            return Err(RecordsError::BadLabel(
                filter
                    .labels
                    .iter()
                    .chain(&filter.tenants)
                    .find(|s| s.is_empty() || !plain(s))
                    .cloned()
                    .unwrap_or_default(),
            ));
        };
        // Rows a worker may take: a label it carries (or none asked), a tenant it serves;
        // each with its turn: its rank among its tenant's (oldest first) plus the steps the
        // tenant has leased now. Lowest turns are taken first, and none past the tenant's
        // limit of steps executing at once (`tenant_limit`, 0 for none).
        const TURNS: &str = "SELECT run_id, step, ready_at, turn FROM (SELECT q.run_id, q.step, q.ready_at, \
            q.tenant_limit, \
            ROW_NUMBER() OVER (PARTITION BY q.tenant ORDER BY q.ready_at, q.run_id, q.step) + COALESCE(l.n, 0) AS turn \
            FROM step_queue q LEFT JOIN (SELECT tenant, COUNT(*) AS n FROM step_queue WHERE state = 'leased' \
            GROUP BY tenant) l ON l.tenant = q.tenant \
            WHERE q.state = 'ready' AND q.ready_at <= $7 \
            AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = q.run_id AND r.cancel_requested) \
            AND (q.runs_on = '' OR (',' || $3 || ',') LIKE ('%,' || q.runs_on || ',%')) \
            AND ($4 = '' OR (',' || $4 || ',') LIKE ('%,' || q.tenant || ',%'))) t \
            WHERE tenant_limit = 0 OR turn <= tenant_limit";
        let sql = match &self.db {
            // The turns are read without locks; the best candidates are then locked,
            // skipping any another claimer holds, and the best of those taken.
            Db::Postgres { .. } => format!(
                "WITH turns AS ({TURNS}), \
                 candidates AS (SELECT * FROM turns ORDER BY turn, ready_at, run_id, step LIMIT $6), \
                 locked AS (SELECT s.run_id, s.step FROM step_queue s JOIN candidates c \
                 ON s.run_id = c.run_id AND s.step = c.step WHERE s.state = 'ready' FOR UPDATE OF s SKIP LOCKED), \
                 picked AS (SELECT c.run_id, c.step FROM candidates c JOIN locked k \
                 ON k.run_id = c.run_id AND k.step = c.step ORDER BY c.turn, c.ready_at, c.run_id, c.step LIMIT $5) \
                 UPDATE step_queue s SET state = 'leased', worker = $1, fence = s.fence + 1, claims = s.claims + 1, \
                 lease_expires_at = $2 FROM picked WHERE s.run_id = picked.run_id AND s.step = picked.step \
                 RETURNING s.run_id, s.step, s.tenant, s.fence, s.claims"
            ),
            // One writer: the statement is atomic, no row locks to skip.
            Db::Sqlite { .. } => format!(
                "UPDATE step_queue SET state = 'leased', worker = $1, fence = fence + 1, claims = claims + 1, \
                 lease_expires_at = $2 WHERE (run_id, step) IN (SELECT run_id, step FROM ({TURNS}) \
                 ORDER BY turn, ready_at, run_id, step LIMIT MIN($5, $6)) \
                 RETURNING run_id, step, tenant, fence, claims"
            ),
        };
        // Claims take turns: each sees the leased counts the one before left, so the turns
        // and the tenants' limits hold over every worker (SQLite's single writer does the
        // same on its own).
        let mut tx = self.db.begin().await?;
        if self.db.is_postgres() {
            tx.execute("SELECT pg_advisory_xact_lock(7474, 1)", vec![]).await?;
        }
        let claimed: Result<Vec<Claim>, sqlx::Error> = tx
            .all(
                sql,
                vec![
                    worker.into(),
                    now_ms.saturating_add(lease_ms).into(),
                    labels.into(),
                    tenants.into(),
                    i64::from(n).into(),
                    i64::from(n).saturating_mul(CANDIDATES_PER_CLAIM).into(),
                    now_ms.into(),
                ],
            )
            .await;
        let mut claims = match claimed {
            Ok(claims) => {
                tx.commit().await?;
                claims
            }
            Err(e) => {
                tx.rollback().await;
                return Err(e.into());
            }
        };
        claims.sort_by(|a, b| (&a.run_id, &a.step).cmp(&(&b.run_id, &b.step)));
        Ok(claims)
    }

    /// Extends the leases of `held`, the claims `worker` still works on, to
    /// `now_ms + lease_ms`; how many it extended. A claim the worker let go of (its
    /// give-back failed, its task ended) is not in `held` and expires. On PostgreSQL rows
    /// another transaction holds (a commit deleting one) are skipped, never waited for.
    pub async fn heartbeat(
        &self,
        worker: &str,
        held: &[&Claim],
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<u64, RecordsError> {
        if held.is_empty() {
            return Ok(0);
        }
        let keys: Vec<(&str, &str, i64)> = held
            .iter()
            .map(|c| (c.run_id.as_str(), c.step.as_str(), c.fence))
            .collect();
        let keys = serde_json::to_string(&keys).unwrap_or_default();
        let sql = match &self.db {
            Db::Postgres { .. } => {
                "UPDATE step_queue SET lease_expires_at = $1 WHERE (run_id, step) IN (SELECT s.run_id, s.step \
                 FROM step_queue s JOIN (SELECT x->>0 AS r, x->>1 AS st, (x->>2)::int8 AS f \
                 FROM jsonb_array_elements($3::jsonb) x) h ON s.run_id = h.r AND s.step = h.st AND s.fence = h.f \
                 WHERE s.worker = $2 AND s.state = 'leased' FOR UPDATE OF s SKIP LOCKED)"
            }
            Db::Sqlite { .. } => {
                "UPDATE step_queue SET lease_expires_at = $1 WHERE worker = $2 AND state = 'leased' \
                 AND (run_id, step, fence) IN (SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), \
                 json_extract(value, '$[2]') FROM json_each($3))"
            }
        };
        Ok(self
            .db
            .execute(
                sql,
                vec![now_ms.saturating_add(lease_ms).into(), worker.into(), keys.into()],
            )
            .await?)
    }

    /// Returns every lease expired by `now_ms` to the ready steps; how many.
    pub async fn reap(&self, now_ms: i64) -> Result<u64, RecordsError> {
        Ok(self
            .db
            .execute(
                match &self.db {
                    // Rows another transaction holds (a commit) are left for the next look.
                    Db::Postgres { .. } => {
                        "UPDATE step_queue SET state = 'ready', worker = NULL, lease_expires_at = NULL, ready_at = $1 \
                         WHERE (run_id, step) IN (SELECT run_id, step FROM step_queue \
                         WHERE state = 'leased' AND lease_expires_at < $1 FOR UPDATE SKIP LOCKED)"
                    }
                    Db::Sqlite { .. } => {
                        "UPDATE step_queue SET state = 'ready', worker = NULL, lease_expires_at = NULL, ready_at = $1 \
                         WHERE state = 'leased' AND lease_expires_at < $1"
                    }
                },
                vec![now_ms.into()],
            )
            .await?)
    }

    /// Gives up `claim`'s row (its result is committed, or it failed for good) — only if
    /// the row still holds `claim`'s fence; `false` when another claim took it over.
    pub async fn release(&self, claim: &Claim) -> Result<bool, RecordsError> {
        let gone = self.db.execute(RELEASE, claim.key()).await?;
        Ok(gone == 1)
    }

    /// Gives `claim`'s step back to the queue, to be claimed again from `ready_at_ms` on
    /// (its worker could not execute or commit it: the store or records failed) — only if
    /// the row still holds `claim`'s fence.
    pub async fn give_back(&self, claim: &Claim, ready_at_ms: i64) -> Result<bool, RecordsError> {
        let done = self
            .db
            .execute(
                "UPDATE step_queue SET state = 'ready', worker = NULL, lease_expires_at = NULL, ready_at = $4 \
                 WHERE run_id = $1 AND step = $2 AND fence = $3 AND state = 'leased'",
                vec![
                    claim.run_id.as_str().into(),
                    claim.step.as_str().into(),
                    claim.fence.into(),
                    ready_at_ms.into(),
                ],
            )
            .await?;
        Ok(done == 1)
    }

    /// The steps `worker` holds whose run someone asked to cancel: (run id, step).
    pub async fn cancelled(&self, worker: &str) -> Result<Vec<(String, String)>, RecordsError> {
        Ok(self
            .db
            .all(
                "SELECT q.run_id, q.step FROM step_queue q JOIN runs r ON r.id = q.run_id \
                 WHERE q.worker = $1 AND q.state = 'leased' AND r.cancel_requested",
                vec![worker.into()],
            )
            .await?)
    }

    /// What wakes an idle worker: on PostgreSQL a `LISTEN` for the notifications a commit
    /// that queues steps sends; on SQLite (or when listening fails) only the poll.
    pub async fn wakeups(&self) -> Wakeups {
        let listener = match &self.db {
            Db::Postgres { pool } => match sqlx::postgres::PgListener::connect_with(pool).await {
                Ok(mut listener) => match listener.listen("weft_queue").await {
                    Ok(()) => Some(listener),
                    Err(e) => {
                        tracing::warn!("cannot listen for queued steps, polling only: {e}");
                        None
                    }
                },
                Err(e) => {
                    tracing::warn!("cannot listen for queued steps, polling only: {e}");
                    None
                }
            },
            Db::Sqlite { .. } => None,
        };
        Wakeups { listener }
    }

    /// Ready and leased rows now (for `/metrics` and tests).
    pub async fn depth(&self) -> Result<(u64, u64), RecordsError> {
        let count = |state: &'static str| async move {
            self.db
                .first::<(i64,)>("SELECT COUNT(*) FROM step_queue WHERE state = $1", vec![state.into()])
                .await
                .map(|row| row.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0)))
        };
        Ok((count("ready").await?, count("leased").await?))
    }
}

/// Wakes an idle worker when steps are queued (see [`Queue::wakeups`]).
pub struct Wakeups {
    listener: Option<sqlx::postgres::PgListener>,
}

impl Wakeups {
    /// Returns when steps may have been queued, or after `poll` at the latest. A lost
    /// connection is opened again on the next wait; what was sent meanwhile is found by
    /// the claim that follows anyway.
    pub async fn wait(&mut self, poll: std::time::Duration) {
        let Some(listener) = &mut self.listener else {
            tokio::time::sleep(poll).await;
            return;
        };
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(poll, listener.recv()).await {
            Ok(Ok(_)) | Err(_) => {}
            // The server went away: wait out the rest of the poll rather than spin.
            Ok(Err(_)) => tokio::time::sleep_until(started + poll).await,
        }
    }
}
