//! Reading the records back: run listings, one run in full (its steps as the engine's
//! `StepReport`s, which is also what `--resume` starts from), logs, and cache lookups.

use crate::{Records, RecordsError};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, Row};
use std::collections::{BTreeMap, HashMap};
use weft_artifacts::{ArtifactMeta, Digest};
use weft_engine::{
    AttemptReport, CachedResult, InputReport, InstanceReport, LogRecord, Reuse, RunStatus, StepReport, StepStatus,
};

/// One line of `weft runs list`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Workflow name.
    pub workflow: String,
    /// `running`, `succeeded`, `failed` or `cancelled`; `interrupted` for a run recorded as
    /// running whose process on this machine is gone (resume it).
    pub status: String,
    /// Why the run stopped early.
    pub error: Option<String>,
    /// Start, ms since the epoch.
    pub started_at: i64,
    /// End, ms since the epoch.
    pub finished_at: Option<i64>,
    /// Planned steps.
    pub steps: i64,
    /// Steps that succeeded (executed or reused).
    pub succeeded: i64,
    /// Steps that failed.
    pub failed: i64,
    /// Steps whose outputs were reused (cache hits and resumed steps).
    pub reused: i64,
}

/// One run in full.
#[derive(Debug, Clone)]
pub struct RunDetail {
    /// The listing line.
    pub summary: RunSummary,
    /// The workflow file as given.
    pub file: String,
    /// Its text when the run started.
    pub source: String,
    /// `--param` overrides as given.
    pub overrides: Vec<(String, String)>,
    /// Parameters after defaults.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Workflow inputs.
    pub inputs: BTreeMap<String, ArtifactMeta>,
    /// Steps in plan order (logs left out: see [`Records::logs`]).
    pub steps: Vec<StepReport>,
}

impl RunDetail {
    /// The run's status as the engine names it.
    pub fn status(&self) -> RunStatus {
        match self.summary.status.as_str() {
            "succeeded" => RunStatus::Succeeded,
            "failed" => RunStatus::Failed,
            "cancelled" => RunStatus::Cancelled,
            _ => RunStatus::Running,
        }
    }
}

const SUMMARY: &str = "SELECT r.id, r.workflow, r.status, r.error, r.started_at, r.finished_at, r.host, r.pid, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id) AS steps, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.status = 'succeeded') AS succeeded, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.status = 'failed') AS failed, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.reuse IS NOT NULL) AS reused \
     FROM runs r";

fn summary(row: &SqliteRow) -> Result<RunSummary, sqlx::Error> {
    let mut status: String = row.try_get("status")?;
    if status == "running"
        && crate::owner::is_gone(
            row.try_get::<Option<String>, _>("host")?.as_deref(),
            row.try_get("pid")?,
        )
    {
        status = "interrupted".into();
    }
    Ok(RunSummary {
        id: row.try_get("id")?,
        workflow: row.try_get("workflow")?,
        status,
        error: row.try_get("error")?,
        started_at: row.try_get("started_at")?,
        finished_at: row.try_get("finished_at")?,
        steps: row.try_get("steps")?,
        succeeded: row.try_get("succeeded")?,
        failed: row.try_get("failed")?,
        reused: row.try_get("reused")?,
    })
}

impl Records {
    /// The newest runs first, at most `limit`.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<RunSummary>, RecordsError> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "{SUMMARY} WHERE r.tenant = $1 ORDER BY r.started_at DESC, r.id DESC LIMIT $2"
        )))
        .bind(&self.tenant)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(summary).collect::<Result<_, _>>()?)
    }

    /// The newest run's id, if any.
    pub async fn last_run(&self) -> Result<Option<String>, RecordsError> {
        Ok(self.list_runs(1).await?.into_iter().next().map(|r| r.id))
    }

    /// One run with its steps.
    pub async fn run(&self, run_id: &str) -> Result<RunDetail, RecordsError> {
        let row = sqlx::query(AssertSqlSafe(format!("{SUMMARY} WHERE r.tenant = $1 AND r.id = $2")))
            .bind(&self.tenant)
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        let extra = sqlx::query("SELECT file, source, overrides, params FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?;
        let overrides: BTreeMap<String, String> = json(&extra.try_get::<String, _>("overrides")?)?;
        let inputs = sqlx::query("SELECT name, digest, size, media_type FROM run_inputs WHERE run_id = $1")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("name")?, meta(r)?)))
            .collect::<Result<_, RecordsError>>()?;
        Ok(RunDetail {
            summary: summary(&row)?,
            file: extra.try_get("file")?,
            source: extra.try_get("source")?,
            overrides: overrides.into_iter().collect(),
            params: json(&extra.try_get::<String, _>("params")?)?,
            inputs,
            steps: self.step_reports(run_id).await?,
        })
    }

    /// The locked plan a run was recorded with (`None` for runs recorded before plans
    /// were locked).
    pub async fn locked_plan(&self, run_id: &str) -> Result<Option<String>, RecordsError> {
        let row = sqlx::query("SELECT plan FROM runs WHERE tenant = $1 AND id = $2")
            .bind(&self.tenant)
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        Ok(row.try_get("plan")?)
    }

    /// The steps of a run in plan order, without their logs.
    async fn step_reports(&self, run_id: &str) -> Result<Vec<StepReport>, RecordsError> {
        let rows = sqlx::query(
            "SELECT step, uses, component, instance_of, instance_values, params, status, reuse, reused_from, \
             cache_key, duration_ms, error FROM steps WHERE run_id = $1 ORDER BY position",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        let mut steps = Vec::with_capacity(rows.len());
        let mut index = HashMap::new();
        for row in &rows {
            let id: String = row.try_get("step")?;
            let status: String = row.try_get("status")?;
            let instance = match row.try_get::<Option<String>, _>("instance_of")? {
                Some(of) => Some(InstanceReport {
                    of,
                    values: json(&row.try_get::<Option<String>, _>("instance_values")?.unwrap_or_default())?,
                }),
                None => None,
            };
            let reuse = match row.try_get::<Option<String>, _>("reuse")?.as_deref() {
                Some("cached") => Some(Reuse::Cached(
                    row.try_get::<Option<String>, _>("reused_from")?.unwrap_or_default(),
                )),
                Some("resumed") => Some(Reuse::Resumed),
                _ => None,
            };
            index.insert(id.clone(), steps.len());
            steps.push(StepReport {
                id,
                uses: row.try_get("uses")?,
                instance,
                component: digest(&row.try_get::<String, _>("component")?)?,
                params: json(&row.try_get::<String, _>("params")?)?,
                status: StepStatus::parse(&status)
                    .ok_or_else(|| RecordsError::Corrupt(format!("unknown step status `{status}`")))?,
                reuse,
                cache_key: row
                    .try_get::<Option<String>, _>("cache_key")?
                    .map(|k| digest(&k))
                    .transpose()?,
                inputs: Vec::new(),
                attempts: Vec::new(),
                duration_ms: row.try_get("duration_ms")?,
                outputs: BTreeMap::new(),
                metrics: Vec::new(),
                error: row.try_get("error")?,
                log: Vec::new(),
            });
        }
        let each = |table: &str, columns: &str| {
            format!("SELECT step, {columns} FROM {table} WHERE run_id = $1 ORDER BY step, position")
        };
        for row in sqlx::query(AssertSqlSafe(each("step_inputs", "port, source, digest")))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?
        {
            if let Some(&i) = index.get(&row.try_get::<String, _>("step")?) {
                steps[i].inputs.push(InputReport {
                    port: row.try_get("port")?,
                    source: row.try_get("source")?,
                    digest: digest(&row.try_get::<String, _>("digest")?)?,
                });
            }
        }
        for row in sqlx::query(AssertSqlSafe(each("metrics", "name, value")))
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?
        {
            if let Some(&i) = index.get(&row.try_get::<String, _>("step")?) {
                steps[i].metrics.push((row.try_get("name")?, row.try_get("value")?));
            }
        }
        for row in sqlx::query(
            "SELECT step, port, digest, size, media_type FROM step_outputs WHERE run_id = $1 ORDER BY step, port",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?
        {
            if let Some(&i) = index.get(&row.try_get::<String, _>("step")?) {
                steps[i].outputs.insert(row.try_get("port")?, meta(&row)?);
            }
        }
        for row in sqlx::query(
            "SELECT step, number, status, error, duration_ms FROM attempts WHERE run_id = $1 ORDER BY step, number",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?
        {
            if let Some(&i) = index.get(&row.try_get::<String, _>("step")?) {
                let status: String = row.try_get("status")?;
                steps[i].attempts.push(AttemptReport {
                    number: u32::try_from(row.try_get::<i64, _>("number")?).unwrap_or_default(),
                    status: StepStatus::parse(&status).unwrap_or(StepStatus::Failed),
                    error: row.try_get("error")?,
                    duration_ms: row.try_get("duration_ms")?,
                });
            }
        }
        Ok(steps)
    }

    /// Log lines of a run, of every step or of the steps whose id starts with `step`
    /// (`train` gives `train[0]`, `train[1]`, ...), in plan order.
    pub async fn logs(&self, run_id: &str, step: Option<&str>) -> Result<Vec<(String, LogRecord)>, RecordsError> {
        self.run_exists(run_id).await?;
        let rows = sqlx::query(
            "SELECT l.step, l.stream, l.message FROM logs l JOIN steps s ON s.run_id = l.run_id AND s.step = l.step \
             WHERE l.run_id = $1 AND (s.step = $2 OR s.step LIKE $3 OR $2 = '') ORDER BY s.position, l.position",
        )
        .bind(run_id)
        .bind(step.unwrap_or(""))
        .bind(format!("{}[%", step.unwrap_or("")))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("step")?,
                    LogRecord {
                        stream: r.try_get("stream")?,
                        message: r.try_get("message")?,
                    },
                ))
            })
            .collect()
    }

    async fn run_exists(&self, run_id: &str) -> Result<(), RecordsError> {
        sqlx::query("SELECT 1 FROM runs WHERE id = $1 AND tenant = $2")
            .bind(run_id)
            .bind(&self.tenant)
            .fetch_optional(&self.pool)
            .await?
            .map(|_| ())
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))
    }

    /// The committed outputs and metrics of the execution cached under `key`.
    pub(crate) async fn cached_result(&self, key: &Digest) -> Result<Option<CachedResult>, RecordsError> {
        let Some(entry) = sqlx::query("SELECT run_id, step FROM cache_entries WHERE tenant = $1 AND cache_key = $2")
            .bind(&self.tenant)
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let (run_id, step): (String, String) = (entry.try_get("run_id")?, entry.try_get("step")?);
        let outputs =
            sqlx::query("SELECT port, digest, size, media_type FROM step_outputs WHERE run_id = $1 AND step = $2")
                .bind(&run_id)
                .bind(&step)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| Ok((r.try_get::<String, _>("port")?, meta(r)?)))
                .collect::<Result<_, RecordsError>>()?;
        let metrics = sqlx::query("SELECT name, value FROM metrics WHERE run_id = $1 AND step = $2 ORDER BY position")
            .bind(&run_id)
            .bind(&step)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("name")?, r.try_get("value")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(Some(CachedResult {
            run_id,
            step,
            outputs,
            metrics,
        }))
    }

    /// Whether `weft cancel` asked this run to stop.
    pub(crate) async fn cancel_flag(&self, run_id: &str) -> Result<bool, RecordsError> {
        let row = sqlx::query("SELECT cancel_requested FROM runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => r.try_get::<bool, _>("cancel_requested")?,
            None => false,
        })
    }
}

pub(crate) fn digest(text: &str) -> Result<Digest, RecordsError> {
    text.parse()
        .map_err(|e| RecordsError::Corrupt(format!("bad digest `{text}`: {e}")))
}

pub(crate) fn meta(row: &SqliteRow) -> Result<ArtifactMeta, RecordsError> {
    Ok(ArtifactMeta {
        digest: digest(&row.try_get::<String, _>("digest")?)?,
        size: u64::try_from(row.try_get::<i64, _>("size")?).unwrap_or_default(),
        media_type: row.try_get("media_type")?,
    })
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, RecordsError> {
    serde_json::from_str(text).map_err(|e| RecordsError::Corrupt(format!("bad JSON in the records: {e}")))
}
