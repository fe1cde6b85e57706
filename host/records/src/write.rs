//! Writing the records: a run's row when it starts, its steps' rows, each finished step in
//! one transaction, and the final statuses.

use crate::inline::PendingBlobs;
use crate::script::{Script, Val};
use crate::{Records, RecordsError, now_ms};
use std::collections::BTreeMap;
use weft_artifacts::ArtifactMeta;
use weft_engine::{Reuse, RunReport, StepReport, StepStatus};

/// A run about to start.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    /// Run id.
    pub id: &'a str,
    /// Workflow name.
    pub workflow: &'a str,
    /// The workflow file as given.
    pub file: &'a str,
    /// The locked plan (the runner's document, kept as text: the records do not read it).
    pub plan: &'a str,
    /// Its text.
    pub source: &'a str,
    /// `--param` overrides as given.
    pub overrides: &'a [(String, String)],
    /// Parameters after defaults.
    pub params: &'a BTreeMap<String, serde_json::Value>,
    /// Workflow inputs as stored.
    pub inputs: &'a BTreeMap<String, ArtifactMeta>,
    /// The planned steps (`weft_engine::planned_steps`), recorded with the run in one
    /// transaction: a run is never visible without them, so a kill right after it was
    /// recorded still leaves a run `--resume` can continue.
    pub steps: &'a [StepReport],
}

impl Records {
    /// Records a run as started, with its inputs and planned steps, atomically.
    pub async fn create_run(&self, run: &NewRun<'_>) -> Result<(), RecordsError> {
        let overrides: serde_json::Map<String, serde_json::Value> = run
            .overrides
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::from(v.as_str())))
            .collect();
        let mut script = Script::default();
        script.add(
            "INSERT INTO runs (id, tenant, workflow, file, plan, source, overrides, params, status, started_at, host, pid) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?)",
            vec![
                run.id.into(),
                self.tenant.as_str().into(),
                run.workflow.into(),
                run.file.into(),
                run.plan.into(),
                run.source.into(),
                serde_json::Value::Object(overrides).to_string().into(),
                serde_json::to_string(run.params).unwrap_or_default().into(),
                now_ms().into(),
                crate::owner::host().into(),
                i64::from(std::process::id()).into(),
            ],
        );
        script.rows(
            "INSERT INTO run_inputs (run_id, name, digest, size, media_type)",
            run.inputs
                .iter()
                .map(|(name, meta)| {
                    vec![
                        run.id.into(),
                        name.as_str().into(),
                        meta.digest.to_string().into(),
                        size(meta.size).into(),
                        meta.media_type.as_str().into(),
                    ]
                })
                .collect(),
            "",
        );
        step_rows(&mut script, run.id, run.steps);
        // Small inputs the store keeps in memory become durable with the run.
        let mut blobs = self.pending_blobs(run.inputs.values().map(|m| (&m.digest, m.size)));
        blobs.write(&mut script);
        script.commit(&self.db).await?;
        self.blobs_committed(&blobs);
        Ok(())
    }

    /// Inserts the rows of steps not yet recorded; clears the old attempts of recorded
    /// steps that did not succeed (they run again).
    pub(crate) async fn insert_steps(&self, report: &RunReport) -> Result<(), RecordsError> {
        let mut script = Script::default();
        forget_unsucceeded(&mut script, &report.run_id);
        step_rows(&mut script, &report.run_id, &report.steps);
        script.commit(&self.db).await?;
        Ok(())
    }

    /// Commits finished steps — status, attempts, inputs, outputs, metrics, log, cache
    /// entry — in one transaction sent as one query. One step's rows can never cost the
    /// others theirs: a batch that fails is committed again step by step, and a step whose
    /// own commit fails is recorded as failed with the reason. The error then names those
    /// steps: the run must stop (its records no longer match what ran), and `--resume`
    /// runs them again.
    pub(crate) async fn commit_steps(&self, run_id: &str, steps: &[StepReport]) -> Result<(), RecordsError> {
        let batch_error = match self.commit_batch(run_id, steps).await {
            Ok(()) => return Ok(()),
            Err(e) => e,
        };
        if steps.len() > 1 {
            tracing::warn!(
                run = run_id,
                "a commit of {} steps failed ({batch_error}); committing them one by one",
                steps.len()
            );
        }
        let mut not_recorded = Vec::new();
        for step in steps {
            let error = if steps.len() == 1 {
                batch_error.to_string()
            } else {
                match self.commit_batch(run_id, std::slice::from_ref(step)).await {
                    Ok(()) => continue,
                    Err(e) => e.to_string(),
                }
            };
            tracing::warn!(run = run_id, step = %step.id, "could not record the step: {error}");
            let mut script = Script::default();
            script.add(
                "UPDATE steps SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ? AND step = ?",
                vec![
                    format!("its result could not be recorded: {error}").into(),
                    now_ms().into(),
                    run_id.into(),
                    step.id.as_str().into(),
                ],
            );
            script.commit(&self.db).await?;
            not_recorded.push((step.id.clone(), error));
        }
        match not_recorded.first() {
            None => Ok(()),
            Some((_, reason)) => Err(RecordsError::NotRecorded {
                steps: not_recorded.iter().map(|(id, _)| id.clone()).collect(),
                reason: reason.clone(),
            }),
        }
    }

    /// One transaction for `steps`.
    async fn commit_batch(&self, run_id: &str, steps: &[StepReport]) -> Result<(), sqlx::Error> {
        let (script, blobs) = self.step_script(run_id, steps);
        script.commit(&self.db).await?;
        self.blobs_committed(&blobs);
        Ok(())
    }

    /// The statements that record finished `steps` (with any NaN or infinite metric left
    /// out, see [`finite_metrics`]), and the small artifacts they make durable (to be
    /// marked so once the statements are committed).
    pub(crate) fn step_script(&self, run_id: &str, steps: &[StepReport]) -> (Script, PendingBlobs) {
        let cleaned: Vec<StepReport>;
        let steps = if steps.iter().all(|s| s.metrics.iter().all(|(_, v)| v.is_finite())) {
            steps
        } else {
            cleaned = steps.iter().map(finite_metrics).collect();
            &cleaned
        };
        let mut script = Script::default();
        let finished = now_ms();
        script.update(
            "steps",
            &[
                "status",
                "reuse",
                "reused_from",
                "cache_key",
                "duration_ms",
                "error",
                "finished_at",
            ],
            &["run_id", "step"],
            "",
            steps
                .iter()
                .map(|s| {
                    let (reuse, reused_from) = match &s.reuse {
                        Some(Reuse::Cached(run)) => (Some("cached"), Some(run.clone())),
                        Some(Reuse::Resumed) => (Some("resumed"), None),
                        None => (None, None),
                    };
                    vec![
                        s.status.as_str().into(),
                        reuse.map(str::to_string).into(),
                        reused_from.into(),
                        s.cache_key.map(|k| k.to_string()).into(),
                        s.duration_ms.into(),
                        s.error.clone().into(),
                        finished.into(),
                        run_id.into(),
                        s.id.as_str().into(),
                    ]
                })
                .collect(),
        );
        let each = |f: &dyn Fn(&StepReport) -> Vec<Vec<Val>>| steps.iter().flat_map(f).collect::<Vec<_>>();
        script.rows(
            "INSERT INTO attempts (run_id, step, number, status, error, duration_ms)",
            each(&|s| {
                s.attempts
                    .iter()
                    .map(|a| {
                        vec![
                            run_id.into(),
                            s.id.as_str().into(),
                            i64::from(a.number).into(),
                            a.status.as_str().into(),
                            a.error.clone().into(),
                            a.duration_ms.into(),
                        ]
                    })
                    .collect()
            }),
            "",
        );
        script.rows(
            "INSERT INTO step_inputs (run_id, step, position, port, source, digest)",
            each(&|s| {
                s.inputs
                    .iter()
                    .enumerate()
                    .map(|(k, i)| {
                        vec![
                            run_id.into(),
                            s.id.as_str().into(),
                            position(k).into(),
                            i.port.as_str().into(),
                            i.source.as_str().into(),
                            i.digest.to_string().into(),
                        ]
                    })
                    .collect()
            }),
            "",
        );
        script.rows(
            "INSERT INTO step_outputs (run_id, step, port, digest, size, media_type)",
            each(&|s| {
                if s.status != StepStatus::Succeeded {
                    return Vec::new();
                }
                s.outputs
                    .iter()
                    .map(|(port, m)| {
                        vec![
                            run_id.into(),
                            s.id.as_str().into(),
                            port.as_str().into(),
                            m.digest.to_string().into(),
                            size(m.size).into(),
                            m.media_type.as_str().into(),
                        ]
                    })
                    .collect()
            }),
            "",
        );
        script.rows(
            "INSERT INTO metrics (run_id, step, position, name, value)",
            each(&|s| {
                s.metrics
                    .iter()
                    .enumerate()
                    .map(|(k, (name, value))| {
                        vec![
                            run_id.into(),
                            s.id.as_str().into(),
                            position(k).into(),
                            name.as_str().into(),
                            (*value).into(),
                        ]
                    })
                    .collect()
            }),
            "",
        );
        script.rows(
            "INSERT INTO logs (run_id, step, position, stream, message)",
            each(&|s| {
                s.log
                    .iter()
                    .enumerate()
                    .map(|(k, l)| {
                        vec![
                            run_id.into(),
                            s.id.as_str().into(),
                            position(k).into(),
                            l.stream.as_str().into(),
                            l.message.as_str().into(),
                        ]
                    })
                    .collect()
            }),
            "",
        );
        script.rows(
            "INSERT INTO cache_entries (tenant, cache_key, run_id, step, created_at)",
            each(&|s| match s.cache_key {
                Some(key) if s.status == StepStatus::Succeeded && s.reuse.is_none() => vec![vec![
                    self.tenant.as_str().into(),
                    key.to_string().into(),
                    run_id.into(),
                    s.id.as_str().into(),
                    finished.into(),
                ]],
                _ => Vec::new(),
            }),
            "ON CONFLICT (tenant, cache_key) DO NOTHING",
        );
        // The small outputs the store keeps in memory become durable with their step.
        let mut blobs = self.pending_blobs(
            steps
                .iter()
                .filter(|s| s.status == StepStatus::Succeeded && s.reuse.is_none())
                .flat_map(|s| s.outputs.values())
                .map(|m| (&m.digest, m.size)),
        );
        blobs.write(&mut script);
        (script, blobs)
    }

    /// Records how the run ended and the final status of every step not committed.
    pub async fn finish_run(&self, report: &RunReport) -> Result<(), RecordsError> {
        let mut script = Script::default();
        script.add(
            "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ? AND tenant = ?",
            vec![
                report.status.as_str().into(),
                report.error.clone().into(),
                now_ms().into(),
                report.run_id.as_str().into(),
                self.tenant.as_str().into(),
            ],
        );
        let unfinished = [
            StepStatus::Blocked,
            StepStatus::Skipped,
            StepStatus::Cancelled,
            StepStatus::Pending,
        ];
        script.update(
            "steps",
            &["status", "error"],
            &["run_id", "step"],
            " AND status <> 'succeeded'",
            report
                .steps
                .iter()
                .filter(|s| unfinished.contains(&s.status))
                .map(|s| {
                    vec![
                        s.status.as_str().into(),
                        s.error.clone().into(),
                        report.run_id.as_str().into(),
                        s.id.as_str().into(),
                    ]
                })
                .collect(),
        );
        script.commit(&self.db).await?;
        Ok(())
    }

    /// Marks a run as running again under this process (`--resume`), unless a live
    /// process runs it: a run recorded as running may be taken over only when its process
    /// on this machine is gone. The update is conditional on the owner read, so of two
    /// processes resuming one run at once, one wins and the other is refused.
    pub async fn reopen_run(&self, run_id: &str) -> Result<(), RecordsError> {
        let (status, host, pid, on_workers): (String, Option<String>, Option<i64>, bool) = self
            .db
            .first(
                "SELECT status, host, pid, on_workers FROM runs WHERE id = $1 AND tenant = $2",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?
            .ok_or_else(|| RecordsError::UnknownRun(run_id.to_string()))?;
        if on_workers {
            return Err(RecordsError::OnWorkers(run_id.to_string()));
        }
        let refused = || RecordsError::StillRunning {
            run: run_id.to_string(),
            host: host.clone().unwrap_or_else(|| "an unknown machine".into()),
            pid: pid.map_or_else(|| "?".into(), |p| p.to_string()),
        };
        if status == "running" && !crate::owner::is_gone(host.as_deref(), pid) {
            return Err(refused());
        }
        let taken = self
            .db
            .execute(
                "UPDATE runs SET status = 'running', error = NULL, finished_at = NULL, cancel_requested = FALSE, \
                 host = $3, pid = $4 WHERE id = $1 AND tenant = $2 AND status = $5 AND pid IS NOT DISTINCT FROM $6",
                vec![
                    run_id.into(),
                    self.tenant.as_str().into(),
                    crate::owner::host().into(),
                    i64::from(std::process::id()).into(),
                    status.as_str().into(),
                    pid.into(),
                ],
            )
            .await?;
        if taken == 0 {
            return Err(refused());
        }
        Ok(())
    }

    /// Asks a running run to stop; returns `false` when the run is not running.
    pub async fn request_cancel(&self, run_id: &str) -> Result<bool, RecordsError> {
        let done = self
            .db
            .execute(
                "UPDATE runs SET cancel_requested = TRUE WHERE id = $1 AND tenant = $2 AND status = 'running'",
                vec![run_id.into(), self.tenant.as_str().into()],
            )
            .await?;
        Ok(done > 0)
    }
}

/// Adds the deletes of what the run's steps that did not succeed recorded (attempts,
/// inputs, outputs, metrics, logs): they run again.
pub(crate) fn forget_unsucceeded(script: &mut Script, run_id: &str) {
    for table in ["attempts", "step_inputs", "step_outputs", "metrics", "logs"] {
        script.add(
            &format!(
                "DELETE FROM {table} WHERE run_id = ? AND step IN \
                 (SELECT step FROM steps WHERE run_id = ? AND status <> 'succeeded')"
            ),
            vec![run_id.into(), run_id.into()],
        );
    }
}

/// The step with any NaN or infinite metric left out and a host log line saying so: SQL
/// has no such numbers (and a NaN metric would make the whole commit fail). The sandbox
/// refuses them already; this keeps any other executor's from costing the records.
fn finite_metrics(step: &StepReport) -> StepReport {
    let mut step = step.clone();
    let (kept, dropped): (Vec<_>, Vec<_>) = step.metrics.drain(..).partition(|(_, v)| v.is_finite());
    step.metrics = kept;
    for (name, value) in dropped {
        step.log.push(weft_engine::LogRecord {
            stream: "host".into(),
            message: format!("metric `{name}` = {value} not recorded: metrics must be finite numbers"),
        });
    }
    step
}

/// Inserts a row per step not yet recorded (a step already recorded keeps its row).
fn step_rows(script: &mut Script, run_id: &str, steps: &[StepReport]) {
    let rows = steps
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let instance = s.instance.as_ref();
            vec![
                run_id.into(),
                s.id.as_str().into(),
                position(k).into(),
                s.uses.as_str().into(),
                s.component.to_string().into(),
                instance.map(|i| i.of.clone()).into(),
                instance
                    .map(|i| serde_json::to_string(&i.values).unwrap_or_default())
                    .into(),
                serde_json::to_string(&s.params).unwrap_or_default().into(),
                s.status.as_str().into(),
            ]
        })
        .collect();
    script.rows(
        "INSERT INTO steps (run_id, step, position, uses, component, instance_of, instance_values, params, status)",
        rows,
        "ON CONFLICT (run_id, step) DO NOTHING",
    );
}

fn position(k: usize) -> i64 {
    i64::try_from(k).unwrap_or(i64::MAX)
}

fn size(bytes: u64) -> i64 {
    i64::try_from(bytes).unwrap_or(i64::MAX)
}
