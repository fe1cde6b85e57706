//! Reading the records back: run listings, one run in full (its steps as the engine's
//! `StepReport`s, which is also what `--resume` starts from), logs, and cache lookups.

use crate::{Records, RecordsError};
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
    /// Whether workers execute it from the step queue (`weft worker`), not one process.
    pub on_workers: bool,
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

/// A run as listed to users (`weft runs list --json`, the HTTP API): times in RFC 3339.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RunListing {
    /// Run id.
    pub run_id: String,
    /// Workflow name.
    pub workflow: String,
    /// As [`RunSummary::status`].
    pub status: String,
    /// Why the run stopped early.
    pub error: Option<String>,
    /// Start, RFC 3339 UTC.
    pub started_at: String,
    /// End, RFC 3339 UTC.
    pub finished_at: Option<String>,
    /// Planned steps.
    pub steps: i64,
    /// Steps that succeeded (executed or reused).
    pub succeeded: i64,
    /// Steps that failed.
    pub failed: i64,
    /// Steps whose outputs were reused.
    pub reused: i64,
}

impl RunSummary {
    /// As listed to users.
    pub fn listing(&self) -> RunListing {
        RunListing {
            run_id: self.id.clone(),
            workflow: self.workflow.clone(),
            status: self.status.clone(),
            error: self.error.clone(),
            started_at: rfc3339(self.started_at),
            finished_at: self.finished_at.map(rfc3339),
            steps: self.steps,
            succeeded: self.succeeded,
            failed: self.failed,
            reused: self.reused,
        }
    }
}

/// Milliseconds since the epoch as RFC 3339 UTC, to the second.
pub fn rfc3339(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

impl RunDetail {
    /// The recorded run as the engine's report (what `weft runs show --json` prints),
    /// complete up to the last committed step even when the run was interrupted.
    pub fn report(&self) -> weft_engine::RunReport {
        weft_engine::RunReport {
            run_id: self.summary.id.clone(),
            workflow: self.summary.workflow.clone(),
            status: self.status(),
            error: self.summary.error.clone(),
            started_at: rfc3339(self.summary.started_at),
            duration_ms: self
                .summary
                .finished_at
                .map_or(0.0, |f| (f - self.summary.started_at) as f64),
            params: self.params.clone(),
            inputs: self.inputs.clone(),
            steps: self.steps.clone(),
        }
    }

    /// The run's status as the engine names it.
    pub fn status(&self) -> RunStatus {
        RunStatus::parse(&self.summary.status).unwrap_or(RunStatus::Running)
    }
}

const SUMMARY: &str = "SELECT r.id, r.workflow, r.status, r.error, r.started_at, r.finished_at, r.host, r.pid, r.on_workers, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id) AS steps, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.status = 'succeeded') AS succeeded, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.status = 'failed') AS failed, \
     (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.reuse IS NOT NULL) AS reused \
     FROM runs r";

/// A row of [`SUMMARY`].
#[derive(sqlx::FromRow)]
struct SummaryRow {
    id: String,
    workflow: String,
    status: String,
    error: Option<String>,
    started_at: i64,
    finished_at: Option<i64>,
    host: Option<String>,
    pid: Option<i64>,
    on_workers: bool,
    steps: i64,
    succeeded: i64,
    failed: i64,
    reused: i64,
}

impl From<SummaryRow> for RunSummary {
    fn from(row: SummaryRow) -> RunSummary {
        let mut status = row.status;
        // A run workers execute belongs to no process: it goes on whoever recorded it.
        if status == "running" && !row.on_workers && crate::owner::is_gone(row.host.as_deref(), row.pid) {
            status = "interrupted".into();
        }
        RunSummary {
            id: row.id,
            workflow: row.workflow,
            status,
            error: row.error,
            started_at: row.started_at,
            finished_at: row.finished_at,
            steps: row.steps,
            succeeded: row.succeeded,
            failed: row.failed,
            reused: row.reused,
            on_workers: row.on_workers,
        }
    }
}

/// The rest of a run's row.
#[derive(sqlx::FromRow)]
struct RunRow {
    file: String,
    source: String,
    overrides: String,
    params: String,
}

/// A run's locked plan.
#[derive(sqlx::FromRow)]
struct PlanRow {
    plan: Option<String>,
}

/// An artifact's columns (`port` or `name` first).
#[derive(sqlx::FromRow)]
pub(crate) struct MetaRow {
    pub key: String,
    pub digest: String,
    pub size: i64,
    pub media_type: String,
}

impl MetaRow {
    pub(crate) fn meta(&self) -> Result<ArtifactMeta, RecordsError> {
        Ok(ArtifactMeta {
            digest: digest(&self.digest)?,
            size: u64::try_from(self.size).unwrap_or_default(),
            media_type: self.media_type.clone(),
        })
    }
}

/// A step's row.
#[derive(sqlx::FromRow)]
struct StepRow {
    step: String,
    uses: String,
    component: String,
    instance_of: Option<String>,
    instance_values: Option<String>,
    params: String,
    status: String,
    reuse: Option<String>,
    reused_from: Option<String>,
    cache_key: Option<String>,
    duration_ms: Option<f64>,
    error: Option<String>,
}

/// Which runs a listing shows.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    /// Only runs recorded with this status (`running` includes interrupted runs).
    pub status: Option<String>,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Skip this many of the newest matching runs.
    pub offset: u32,
    /// Show at most this many.
    pub limit: u32,
}

impl Records {
    /// The newest runs first, at most `limit`.
    pub async fn list_runs(&self, limit: u32) -> Result<Vec<RunSummary>, RecordsError> {
        self.find_runs(&RunFilter {
            limit,
            ..RunFilter::default()
        })
        .await
    }

    /// The newest runs that pass `filter` first.
    pub async fn find_runs(&self, filter: &RunFilter) -> Result<Vec<RunSummary>, RecordsError> {
        let rows: Vec<SummaryRow> = self
            .db
            .all(
                format!(
                    "{SUMMARY} WHERE r.tenant = $1 AND ($2 = '' OR r.status = $2) AND ($3 = '' OR r.workflow = $3) \
                     ORDER BY r.started_at DESC, r.id DESC LIMIT $4 OFFSET $5"
                ),
                vec![
                    self.tenant.as_str().into(),
                    filter.status.as_deref().unwrap_or("").into(),
                    filter.workflow.as_deref().unwrap_or("").into(),
                    i64::from(filter.limit).into(),
                    i64::from(filter.offset).into(),
                ],
            )
            .await?;
        Ok(rows.into_iter().map(RunSummary::from).collect())
    }

    /// Every tenant's runs recorded as running whose process is gone, oldest first: what a
    /// server resumes when it starts (tenant, run id).
    pub async fn interrupted_runs(&self) -> Result<Vec<(String, String)>, RecordsError> {
        let rows: Vec<(String, String, Option<String>, Option<i64>)> = self
            .db
            .all(
                "SELECT tenant, id, host, pid FROM runs WHERE status = 'running' AND NOT on_workers \
                 ORDER BY started_at, id",
                vec![],
            )
            .await?;
        Ok(rows
            .into_iter()
            .filter(|(_, _, host, pid)| crate::owner::is_gone(host.as_deref(), *pid))
            .map(|(tenant, id, _, _)| (tenant, id))
            .collect())
    }

    /// A run's recorded status alone (one row: cheap to poll).
    pub async fn run_status(&self, run_id: &str) -> Result<RunStatus, RecordsError> {
        let (status,): (String,) = self
            .db
            .first(
                "SELECT status FROM runs WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        Ok(RunStatus::parse(&status).unwrap_or(RunStatus::Running))
    }

    /// A run's recorded status and how many of its steps are no longer pending (one row:
    /// what someone following the run looks at before reading it whole).
    pub async fn progress(&self, run_id: &str) -> Result<(RunStatus, u64), RecordsError> {
        let (status, settled): (String, i64) = self
            .db
            .first(
                "SELECT r.status, (SELECT COUNT(*) FROM steps s WHERE s.run_id = r.id AND s.status <> 'pending') \
                 FROM runs r WHERE r.id = $1 AND r.tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        Ok((
            RunStatus::parse(&status).unwrap_or(RunStatus::Running),
            u64::try_from(settled).unwrap_or(0),
        ))
    }

    /// Every tenant's runs that workers execute and that have not ended: (tenant, run id).
    pub async fn runs_on_workers(&self) -> Result<Vec<(String, String)>, RecordsError> {
        Ok(self
            .db
            .all(
                "SELECT tenant, id FROM runs WHERE status = 'running' AND on_workers ORDER BY started_at, id",
                vec![],
            )
            .await?)
    }

    /// The media type an artifact of this tenant was recorded with (as a workflow input or
    /// a step's output), if any run recorded it.
    pub async fn media_type(&self, digest: &Digest) -> Result<Option<String>, RecordsError> {
        let row: Option<(String,)> = self
            .db
            .first(
                "SELECT o.media_type FROM step_outputs o JOIN runs r ON r.id = o.run_id \
                 WHERE o.digest = $1 AND r.tenant = $2 \
                 UNION ALL SELECT i.media_type FROM run_inputs i JOIN runs r ON r.id = i.run_id \
                 WHERE i.digest = $1 AND r.tenant = $2 LIMIT 1",
                vec![digest.to_string().into(), self.tenant.as_str().into()],
            )
            .await?;
        Ok(row.map(|(m,)| m))
    }

    /// The newest run's id, if any.
    pub async fn last_run(&self) -> Result<Option<String>, RecordsError> {
        Ok(self.list_runs(1).await?.into_iter().next().map(|r| r.id))
    }

    /// One run with its steps.
    pub async fn run(&self, run_id: &str) -> Result<RunDetail, RecordsError> {
        let row: SummaryRow = self
            .db
            .first(
                format!("{SUMMARY} WHERE r.tenant = $1 AND r.id = $2"),
                vec![self.tenant.as_str().into(), run_id.into()],
            )
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        let extra: RunRow = self
            .db
            .first(
                "SELECT file, source, overrides, params FROM runs WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        let overrides: BTreeMap<String, String> = json(&extra.overrides)?;
        let inputs = self
            .db
            .all::<MetaRow>(
                "SELECT name AS key, digest, size, media_type FROM run_inputs WHERE run_id = $1",
                vec![run_id.into()],
            )
            .await?
            .into_iter()
            .map(|r| Ok((r.key.clone(), r.meta()?)))
            .collect::<Result<_, RecordsError>>()?;
        Ok(RunDetail {
            summary: row.into(),
            file: extra.file,
            source: extra.source,
            overrides: overrides.into_iter().collect(),
            params: json(&extra.params)?,
            inputs,
            steps: self.step_reports(run_id).await?,
        })
    }

    /// The locked plan a run was recorded with (`None` for runs recorded before plans
    /// were locked).
    pub async fn locked_plan(&self, run_id: &str) -> Result<Option<String>, RecordsError> {
        let row: PlanRow = self
            .db
            .first(
                "SELECT plan FROM runs WHERE tenant = $1 AND id = $2",
                vec![self.tenant.as_str().into(), run_id.into()],
            )
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        Ok(row.plan)
    }

    /// The steps of a run in plan order, without their logs.
    async fn step_reports(&self, run_id: &str) -> Result<Vec<StepReport>, RecordsError> {
        let rows: Vec<StepRow> = self
            .db
            .all(
                "SELECT step, uses, component, instance_of, instance_values, params, status, reuse, reused_from, \
                 cache_key, duration_ms, error FROM steps WHERE run_id = $1 ORDER BY position",
                vec![run_id.into()],
            )
            .await?;
        let mut steps = Vec::with_capacity(rows.len());
        let mut index = HashMap::new();
        for row in rows {
            let instance = match row.instance_of {
                Some(of) => Some(InstanceReport {
                    of,
                    values: json(&row.instance_values.unwrap_or_default())?,
                }),
                None => None,
            };
            let reuse = match row.reuse.as_deref() {
                Some("cached") => Some(Reuse::Cached(row.reused_from.unwrap_or_default())),
                Some("resumed") => Some(Reuse::Resumed),
                _ => None,
            };
            index.insert(row.step.clone(), steps.len());
            steps.push(StepReport {
                id: row.step,
                uses: row.uses,
                instance,
                component: digest(&row.component)?,
                params: json(&row.params)?,
                status: StepStatus::parse(&row.status)
                    .ok_or_else(|| RecordsError::Corrupt(format!("unknown step status `{}`", row.status)))?,
                reuse,
                cache_key: row.cache_key.map(|k| digest(&k)).transpose()?,
                inputs: Vec::new(),
                attempts: Vec::new(),
                duration_ms: row.duration_ms,
                outputs: BTreeMap::new(),
                metrics: Vec::new(),
                error: row.error,
                log: Vec::new(),
            });
        }
        let inputs: Vec<(String, String, String, String)> = self
            .db
            .all(
                "SELECT step, port, source, digest FROM step_inputs WHERE run_id = $1 ORDER BY step, position",
                vec![run_id.into()],
            )
            .await?;
        for (step, port, source, d) in inputs {
            if let Some(&i) = index.get(&step) {
                steps[i].inputs.push(InputReport {
                    port,
                    source,
                    digest: digest(&d)?,
                });
            }
        }
        let metrics: Vec<(String, String, f64)> = self
            .db
            .all(
                "SELECT step, name, value FROM metrics WHERE run_id = $1 ORDER BY step, position",
                vec![run_id.into()],
            )
            .await?;
        for (step, name, value) in metrics {
            if let Some(&i) = index.get(&step) {
                steps[i].metrics.push((name, value));
            }
        }
        let outputs: Vec<(String, String, String, i64, String)> = self
            .db
            .all(
                "SELECT step, port, digest, size, media_type FROM step_outputs WHERE run_id = $1 ORDER BY step, port",
                vec![run_id.into()],
            )
            .await?;
        for (step, port, d, size, media_type) in outputs {
            if let Some(&i) = index.get(&step) {
                let row = MetaRow {
                    key: port,
                    digest: d,
                    size,
                    media_type,
                };
                steps[i].outputs.insert(row.key.clone(), row.meta()?);
            }
        }
        let attempts: Vec<(String, i64, String, Option<String>, f64)> = self
            .db
            .all(
                "SELECT step, number, status, error, duration_ms FROM attempts WHERE run_id = $1 ORDER BY step, number",
                vec![run_id.into()],
            )
            .await?;
        for (step, number, status, error, duration_ms) in attempts {
            if let Some(&i) = index.get(&step) {
                steps[i].attempts.push(AttemptReport {
                    number: u32::try_from(number).unwrap_or_default(),
                    status: StepStatus::parse(&status).unwrap_or(StepStatus::Failed),
                    error,
                    duration_ms,
                });
            }
        }
        Ok(steps)
    }

    /// Log lines of a run, of every step or of the steps whose id starts with `step`
    /// (`train` gives `train[0]`, `train[1]`, ...), in plan order.
    pub async fn logs(&self, run_id: &str, step: Option<&str>) -> Result<Vec<(String, LogRecord)>, RecordsError> {
        Ok(self.logs_page(run_id, step, 0, u32::MAX).await?.0)
    }

    /// At most `limit` of those lines after the first `offset`, and how many there are in
    /// all: one page read, never the whole log.
    pub async fn logs_page(
        &self,
        run_id: &str,
        step: Option<&str>,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<(String, LogRecord)>, u64), RecordsError> {
        self.run_exists(run_id).await?;
        // `train` covers `train[0]`, `train[1]`, ...: a prefix compared as text (not LIKE,
        // whose `_`, `%` and case rules differ between backends).
        const MATCHING: &str = "FROM logs l JOIN steps s ON s.run_id = l.run_id AND s.step = l.step \
             WHERE l.run_id = $1 AND (s.step = $2 OR substr(s.step, 1, length($3)) = $3 OR $2 = '')";
        let args = || -> Vec<crate::script::Val> {
            vec![
                run_id.into(),
                step.unwrap_or("").into(),
                format!("{}[", step.unwrap_or("")).into(),
            ]
        };
        let mut page_args = args();
        page_args.push(i64::from(limit).into());
        page_args.push(i64::try_from(offset).unwrap_or(i64::MAX).into());
        let rows: Vec<(String, String, String)> = self
            .db
            .all(
                format!(
                    "SELECT l.step, l.stream, l.message {MATCHING} ORDER BY s.position, l.position LIMIT $4 OFFSET $5"
                ),
                page_args,
            )
            .await?;
        let total = self
            .db
            .first::<(i64,)>(format!("SELECT COUNT(*) {MATCHING}"), args())
            .await?
            .map_or(0, |(n,)| u64::try_from(n).unwrap_or(0));
        Ok((
            rows.into_iter()
                .map(|(step, stream, message)| (step, LogRecord { stream, message }))
                .collect(),
            total,
        ))
    }

    async fn run_exists(&self, run_id: &str) -> Result<(), RecordsError> {
        self.db
            .first::<(String,)>(
                "SELECT id FROM runs WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?
            .map(|_| ())
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))
    }

    /// The committed outputs and metrics of the execution cached under `key`.
    pub(crate) async fn cached_result(&self, key: &Digest) -> Result<Option<CachedResult>, RecordsError> {
        let Some((run_id, step)) = self
            .db
            .first::<(String, String)>(
                "SELECT run_id, step FROM cache_entries WHERE tenant = $1 AND cache_key = $2",
                vec![self.tenant.as_str().into(), key.to_string().into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let outputs = self
            .db
            .all::<MetaRow>(
                "SELECT port AS key, digest, size, media_type FROM step_outputs WHERE run_id = $1 AND step = $2",
                vec![run_id.as_str().into(), step.as_str().into()],
            )
            .await?
            .into_iter()
            .map(|r| Ok((r.key.clone(), r.meta()?)))
            .collect::<Result<_, RecordsError>>()?;
        let metrics = self
            .db
            .all::<(String, f64)>(
                "SELECT name, value FROM metrics WHERE run_id = $1 AND step = $2 ORDER BY position",
                vec![run_id.as_str().into(), step.as_str().into()],
            )
            .await?;
        Ok(Some(CachedResult {
            run_id,
            step,
            outputs,
            metrics,
        }))
    }

    /// Whether `weft cancel` asked this run to stop.
    pub(crate) async fn cancel_flag(&self, run_id: &str) -> Result<bool, RecordsError> {
        let row = self
            .db
            .first::<(bool,)>(
                "SELECT cancel_requested FROM runs WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?;
        Ok(row.is_some_and(|(flag,)| flag))
    }
}

pub(crate) fn digest(text: &str) -> Result<Digest, RecordsError> {
    text.parse()
        .map_err(|e| RecordsError::Corrupt(format!("bad digest `{text}`: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, RecordsError> {
    serde_json::from_str(text).map_err(|e| RecordsError::Corrupt(format!("bad JSON in the records: {e}")))
}
