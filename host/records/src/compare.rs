//! Metrics of several runs side by side (`weft metrics`, `GET /api/v1/metrics`): one row
//! per (step, metric) in the order first seen, one value per run — the experiment-tracking
//! view of a sweep or of reruns with other parameters.

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
    let mut rows: Vec<MetricRow> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for (col, report) in reports.iter().enumerate() {
        for step in &report.steps {
            if step_prefix.is_some_and(|p| !step.id.starts_with(p)) {
                continue;
            }
            for (name, value) in &step.metrics {
                let at = *index.entry((step.id.clone(), name.clone())).or_insert_with(|| {
                    rows.push(MetricRow {
                        step: step.id.clone(),
                        metric: name.clone(),
                        values: vec![None; reports.len()],
                    });
                    rows.len() - 1
                });
                rows[at].values[col] = Some(*value);
            }
        }
    }
    MetricsComparison {
        runs: reports
            .iter()
            .map(|r| ComparedRun {
                run_id: r.run_id.clone(),
                workflow: r.workflow.clone(),
                params: r.params.clone(),
            })
            .collect(),
        rows,
    }
}
