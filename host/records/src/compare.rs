//! Metrics of several runs side by side (`weft metrics`, `GET /api/v1/compare`): one row
//! per (step, metric) in the order first seen, one value per run — the experiment-tracking
//! view of a sweep or of reruns with other parameters.

use crate::{Records, RecordsError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use weft_engine::RunReport;

/// Runs and their metrics, aligned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsComparison {
    /// The runs, in the order asked.
    pub runs: Vec<ComparedRun>,
    /// One row per step and metric.
    pub rows: Vec<MetricRow>,
}

/// A compared run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComparedRun {
    /// Run id.
    pub run_id: String,
    /// Workflow name.
    pub workflow: String,
    /// Its parameters as run.
    pub params: BTreeMap<String, serde_json::Value>,
}

/// One metric of one step across the runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    /// Step id.
    pub step: String,
    /// Metric name.
    pub metric: String,
    /// Its value in each run (`None` where that run has none; JSON `null`, also for a
    /// value that is not a finite number).
    pub values: Vec<Option<f64>>,
}

/// Aligns the metrics of `reports`, keeping only steps whose id starts with `step_prefix`.
pub fn compare_metrics(reports: &[RunReport], step_prefix: Option<&str>) -> MetricsComparison {
    let runs = reports
        .iter()
        .map(|r| {
            let metrics = r
                .steps
                .iter()
                .flat_map(|s| {
                    s.metrics
                        .iter()
                        .map(|(name, value)| (s.id.clone(), name.clone(), *value))
                })
                .collect();
            (
                ComparedRun {
                    run_id: r.run_id.clone(),
                    workflow: r.workflow.clone(),
                    params: r.params.clone(),
                },
                metrics,
            )
        })
        .collect();
    align(runs, step_prefix)
}

/// A run and its metrics as (step, name, value), in plan order.
type RunMetrics = (ComparedRun, Vec<(String, String, f64)>);

/// One row per (step, metric) in the order first seen, one column per run.
fn align(runs: Vec<RunMetrics>, step_prefix: Option<&str>) -> MetricsComparison {
    let mut rows: Vec<MetricRow> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for (col, (_, metrics)) in runs.iter().enumerate() {
        for (step, name, value) in metrics {
            if step_prefix.is_some_and(|p| !step.starts_with(p)) {
                continue;
            }
            let at = *index.entry((step.clone(), name.clone())).or_insert_with(|| {
                rows.push(MetricRow {
                    step: step.clone(),
                    metric: name.clone(),
                    values: vec![None; runs.len()],
                });
                rows.len() - 1
            });
            rows[at].values[col] = Some(*value);
        }
    }
    MetricsComparison {
        runs: runs.into_iter().map(|(run, _)| run).collect(),
        rows,
    }
}

impl Records {
    /// [`compare_metrics`] of this tenant's runs `ids`, reading only their parameters and
    /// metrics (not whole runs): what `GET /api/v1/compare` answers.
    pub async fn compare_runs(
        &self,
        ids: &[&str],
        step_prefix: Option<&str>,
    ) -> Result<MetricsComparison, RecordsError> {
        let mut runs = Vec::with_capacity(ids.len());
        for id in ids {
            let (workflow, params) = self
                .db
                .first::<(String, String)>(
                    "SELECT workflow, params FROM runs WHERE id = $1 AND tenant = $2",
                    vec![(*id).into(), self.tenant.as_str().into()],
                )
                .await?
                .ok_or_else(|| RecordsError::UnknownRun((*id).to_string()))?;
            let metrics: Vec<(String, String, f64)> = self
                .db
                .all(
                    "SELECT m.step, m.name, m.value FROM metrics m JOIN steps s ON s.run_id = m.run_id AND s.step = m.step \
                     WHERE m.run_id = $1 ORDER BY s.position, m.position",
                    vec![(*id).into()],
                )
                .await?;
            let params = serde_json::from_str(&params)
                .map_err(|e| RecordsError::Corrupt(format!("bad JSON in the records: {e}")))?;
            runs.push((
                ComparedRun {
                    run_id: (*id).to_string(),
                    workflow,
                    params,
                },
                metrics,
            ));
        }
        Ok(align(runs, step_prefix))
    }
}
