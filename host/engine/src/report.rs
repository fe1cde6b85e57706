//! The run report: what ran, how long it took, what it produced. Serialized as the run's
//! manifest (`runs/<id>/manifest.json`), mapping each step's ports to digests.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weft_artifacts::{ArtifactMeta, Digest};

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// At least one step failed.
    Failed,
}

/// How a step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Not yet finished.
    Pending,
    /// Ran and published its outputs.
    Succeeded,
    /// Ran and failed.
    Failed,
    /// Never ran: a step it depends on failed.
    Blocked,
    /// Not run: its `when:` condition was false, or a step it needs was skipped.
    Skipped,
}

/// One line of a step's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// `stdout`, `stderr`, `host`, or a level (`info`, ...).
    pub stream: String,
    /// The text.
    pub message: String,
}

/// Which instance of a fanned-out step a step report is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceReport {
    /// The authored step id.
    pub of: String,
    /// Matrix parameter → value, as JSON.
    pub values: BTreeMap<String, serde_json::Value>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Step id.
    pub id: String,
    /// The `uses:` reference.
    pub uses: String,
    /// For an instance of a fanned-out step: the authored step and its matrix values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceReport>,
    /// Digest of the component that ran.
    pub component: Digest,
    /// Outcome.
    pub status: StepStatus,
    /// Execution time in milliseconds, when it ran.
    pub duration_ms: Option<f64>,
    /// Published outputs by port.
    pub outputs: BTreeMap<String, ArtifactMeta>,
    /// Metrics recorded, in recording order.
    pub metrics: Vec<(String, f64)>,
    /// Why it failed, was blocked or was skipped.
    pub error: Option<String>,
    /// Its log.
    pub log: Vec<LogRecord>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    /// Run id.
    pub run_id: String,
    /// Workflow name.
    pub workflow: String,
    /// Outcome.
    pub status: RunStatus,
    /// Start time, RFC 3339 UTC.
    pub started_at: String,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// Workflow parameters as run.
    pub params: BTreeMap<String, serde_json::Value>,
    /// Workflow inputs as stored.
    pub inputs: BTreeMap<String, ArtifactMeta>,
    /// Steps in plan order.
    pub steps: Vec<StepReport>,
}

impl RunReport {
    /// Finds a step.
    pub fn step(&self, id: &str) -> Option<&StepReport> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Number of steps with this status.
    pub fn count(&self, status: StepStatus) -> usize {
        self.steps.iter().filter(|s| s.status == status).count()
    }
}
