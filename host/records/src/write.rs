//! Writing the records: a run's row when it starts, its steps' rows, each finished step in
//! one transaction, and the final statuses.

use crate::{Records, RecordsError, now_ms};
use sqlx::{AssertSqlSafe, QueryBuilder, Sqlite, Transaction};
use std::collections::BTreeMap;
use weft_artifacts::ArtifactMeta;
use weft_engine::{Reuse, RunReport, StepReport, StepStatus};

/// Rows per multi-row INSERT (well under SQLite's bound-variable limit).
const CHUNK: usize = 400;

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// Run id.
    pub id: &'a str,
    /// Workflow name.
    pub workflow: &'a str,
    /// The workflow file as given.
    pub file: &'a str,
    /// Its text.
    pub source: &'a str,
    /// `--param` overrides as given.
    pub overrides: &'a [(String, String)],
    /// Parameters after defaults.
    pub params: &'a BTreeMap<String, serde_json::Value>,
    /// Workflow inputs as stored.
    pub inputs: &'a BTreeMap<String, ArtifactMeta>,
}

impl Records {
    /// Records a run as started, with its inputs.
    pub async fn create_run(&self, run: &NewRun<'_>) -> Result<(), RecordsError> {
        let overrides: serde_json::Map<String, serde_json::Value> = run
            .overrides
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO runs (id, tenant, workflow, file, source, overrides, params, status, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'running', $8)",
        )
        .bind(run.id)
        .bind(&self.tenant)
        .bind(run.workflow)
        .bind(run.file)
        .bind(run.source)
        .bind(serde_json::Value::Object(overrides).to_string())
        .bind(serde_json::to_string(run.params).unwrap_or_default())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        for (name, meta) in run.inputs {
            sqlx::query("INSERT INTO run_inputs (run_id, name, digest, size, media_type) VALUES ($1, $2, $3, $4, $5)")
                .bind(run.id)
                .bind(name)
                .bind(meta.digest.to_string())
                .bind(size(meta.size))
                .bind(&meta.media_type)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Inserts the rows of steps not yet recorded; clears the old attempts of recorded
    /// steps that did not succeed (they run again).
    pub(crate) async fn insert_steps(&self, report: &RunReport) -> Result<(), RecordsError> {
        let mut tx = self.pool.begin().await?;
        for table in ["attempts", "step_inputs", "step_outputs", "metrics", "logs"] {
            // `table` is one of the names above, never input.
            sqlx::query(AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE run_id = $1 AND step IN \
                 (SELECT step FROM steps WHERE run_id = $1 AND status <> 'succeeded')"
            )))
            .bind(&report.run_id)
            .execute(&mut *tx)
            .await?;
        }
        for (chunk_index, chunk) in report.steps.chunks(CHUNK).enumerate() {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO steps (run_id, step, position, uses, component, instance_of, instance_values, \
                 params, status) ",
            );
            q.push_values(chunk.iter().enumerate(), |mut row, (k, s)| {
                let instance = s.instance.as_ref();
                row.push_bind(&report.run_id)
                    .push_bind(&s.id)
                    .push_bind(i64::try_from(chunk_index * CHUNK + k).unwrap_or(i64::MAX))
                    .push_bind(&s.uses)
                    .push_bind(s.component.to_string())
                    .push_bind(instance.map(|i| i.of.clone()))
                    .push_bind(instance.map(|i| serde_json::to_string(&i.values).unwrap_or_default()))
                    .push_bind(serde_json::to_string(&s.params).unwrap_or_default())
                    .push_bind(s.status.as_str());
            });
            q.push(" ON CONFLICT (run_id, step) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Commits finished steps in one transaction.
    pub(crate) async fn commit_steps(&self, run_id: &str, steps: &[StepReport]) -> Result<(), RecordsError> {
        let mut tx = self.pool.begin().await?;
        let finished = now_ms();
        for s in steps {
            let (reuse, reused_from) = match &s.reuse {
                Some(Reuse::Cached(run)) => (Some("cached"), Some(run.as_str())),
                Some(Reuse::Resumed) => (Some("resumed"), None),
                None => (None, None),
            };
            sqlx::query(
                "UPDATE steps SET status = $3, reuse = $4, reused_from = $5, cache_key = $6, duration_ms = $7, \
                 error = $8, finished_at = $9 WHERE run_id = $1 AND step = $2",
            )
            .bind(run_id)
            .bind(&s.id)
            .bind(s.status.as_str())
            .bind(reuse)
            .bind(reused_from)
            .bind(s.cache_key.map(|k| k.to_string()))
            .bind(s.duration_ms)
            .bind(&s.error)
            .bind(finished)
            .execute(&mut *tx)
            .await?;
        }
        insert_details(&mut tx, run_id, steps).await?;
        let cacheable: Vec<&StepReport> = steps
            .iter()
            .filter(|s| s.status == StepStatus::Succeeded && s.reuse.is_none() && s.cache_key.is_some())
            .collect();
        for chunk in cacheable.chunks(CHUNK) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("INSERT INTO cache_entries (tenant, cache_key, run_id, step, created_at) ");
            q.push_values(chunk, |mut row, s| {
                row.push_bind(&self.tenant)
                    .push_bind(s.cache_key.map(|k| k.to_string()))
                    .push_bind(run_id)
                    .push_bind(&s.id)
                    .push_bind(finished);
            });
            q.push(" ON CONFLICT (tenant, cache_key) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records how the run ended and the final status of every step not committed.
    pub async fn finish_run(&self, report: &RunReport) -> Result<(), RecordsError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE runs SET status = $2, error = $3, finished_at = $4 WHERE id = $1")
            .bind(&report.run_id)
            .bind(report.status.as_str())
            .bind(&report.error)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
        for s in &report.steps {
            if matches!(
                s.status,
                StepStatus::Blocked | StepStatus::Skipped | StepStatus::Cancelled | StepStatus::Pending
            ) {
                sqlx::query(
                    "UPDATE steps SET status = $3, error = $4 WHERE run_id = $1 AND step = $2 AND status <> 'succeeded'",
                )
                .bind(&report.run_id)
                .bind(&s.id)
                .bind(s.status.as_str())
                .bind(&s.error)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks a run as running again (`--resume`).
    pub async fn reopen_run(&self, run_id: &str) -> Result<(), RecordsError> {
        sqlx::query(
            "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, cancel_requested = FALSE \
             WHERE id = $1 AND tenant = $2",
        )
        .bind(run_id)
        .bind(&self.tenant)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Asks a running run to stop; returns `false` when the run is not running.
    pub async fn request_cancel(&self, run_id: &str) -> Result<bool, RecordsError> {
        let done =
            sqlx::query("UPDATE runs SET cancel_requested = TRUE WHERE id = $1 AND tenant = $2 AND status = 'running'")
                .bind(run_id)
                .bind(&self.tenant)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() > 0)
    }
}

/// Attempts, inputs, outputs, metrics and log lines of the steps, one INSERT per table.
async fn insert_details(
    tx: &mut Transaction<'_, Sqlite>,
    run_id: &str,
    steps: &[StepReport],
) -> Result<(), RecordsError> {
    let attempts: Vec<_> = steps
        .iter()
        .flat_map(|s| s.attempts.iter().map(move |a| (s, a)))
        .collect();
    for chunk in attempts.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO attempts (run_id, step, number, status, error, duration_ms) ");
        q.push_values(chunk, |mut row, (s, a)| {
            row.push_bind(run_id)
                .push_bind(&s.id)
                .push_bind(i64::from(a.number))
                .push_bind(a.status.as_str())
                .push_bind(&a.error)
                .push_bind(a.duration_ms);
        });
        q.build().execute(&mut **tx).await?;
    }
    let inputs: Vec<_> = steps
        .iter()
        .flat_map(|s| s.inputs.iter().enumerate().map(move |(k, i)| (s, k, i)))
        .collect();
    for chunk in inputs.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO step_inputs (run_id, step, position, port, source, digest) ");
        q.push_values(chunk, |mut row, (s, k, i)| {
            row.push_bind(run_id)
                .push_bind(&s.id)
                .push_bind(position(*k))
                .push_bind(&i.port)
                .push_bind(&i.source)
                .push_bind(i.digest.to_string());
        });
        q.build().execute(&mut **tx).await?;
    }
    let outputs: Vec<_> = steps
        .iter()
        .filter(|s| s.status == StepStatus::Succeeded)
        .flat_map(|s| s.outputs.iter().map(move |(p, m)| (s, p, m)))
        .collect();
    for chunk in outputs.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO step_outputs (run_id, step, port, digest, size, media_type) ");
        q.push_values(chunk, |mut row, (s, p, m)| {
            row.push_bind(run_id)
                .push_bind(&s.id)
                .push_bind(p.as_str())
                .push_bind(m.digest.to_string())
                .push_bind(size(m.size))
                .push_bind(&m.media_type);
        });
        q.build().execute(&mut **tx).await?;
    }
    let metrics: Vec<_> = steps
        .iter()
        .flat_map(|s| s.metrics.iter().enumerate().map(move |(k, m)| (s, k, m)))
        .collect();
    for chunk in metrics.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO metrics (run_id, step, position, name, value) ");
        q.push_values(chunk, |mut row, (s, k, (name, value))| {
            row.push_bind(run_id)
                .push_bind(&s.id)
                .push_bind(position(*k))
                .push_bind(name.as_str())
                .push_bind(*value);
        });
        q.build().execute(&mut **tx).await?;
    }
    let lines: Vec<_> = steps
        .iter()
        .flat_map(|s| s.log.iter().enumerate().map(move |(k, l)| (s, k, l)))
        .collect();
    for chunk in lines.chunks(CHUNK) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO logs (run_id, step, position, stream, message) ");
        q.push_values(chunk, |mut row, (s, k, l)| {
            row.push_bind(run_id)
                .push_bind(&s.id)
                .push_bind(position(*k))
                .push_bind(&l.stream)
                .push_bind(&l.message);
        });
        q.build().execute(&mut **tx).await?;
    }
    Ok(())
}

fn position(k: usize) -> i64 {
    i64::try_from(k).unwrap_or(i64::MAX)
}

fn size(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
