//! The run report: what ran, how long it took, what it produced (each step's ports mapped
//! to digests). `weft run --json` prints it; the records keep their own rows.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_model::{ParamValue, Plan};

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still going.
    Running,
    /// Every step succeeded.
    Succeeded,
    /// At least one step failed, or the run timed out.
    Failed,
    /// Stopped by `weft cancel` or Ctrl-C.
    Cancelled,
}

impl RunStatus {
    /// The lowercase name used in records and output.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// The status named `s` (as [`RunStatus::as_str`] writes it).
    pub fn parse(s: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Cancelled,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
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
    /// Stopped, or never started, because the run was cancelled or timed out.
    Cancelled,
}

impl StepStatus {
    /// The lowercase name used in records and output.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Blocked => "blocked",
            StepStatus::Skipped => "skipped",
            StepStatus::Cancelled => "cancelled",
        }
    }

    /// Parses [`StepStatus::as_str`]'s names.
    pub fn parse(s: &str) -> Option<StepStatus> {
        [
            StepStatus::Pending,
            StepStatus::Succeeded,
            StepStatus::Failed,
            StepStatus::Blocked,
            StepStatus::Skipped,
            StepStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

/// How a step's outputs came to be, when it did not run in this run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "run")]
pub enum Reuse {
    /// A cache hit: the outputs of an identical execution in the given run.
    Cached(String),
    /// Committed before the run was interrupted; `--resume` kept it.
    Resumed,
}

/// One execution of a step (a step retried after a failure has several).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttemptReport {
    /// 1 for the first attempt.
    pub number: u32,
    /// `succeeded`, `failed` or `cancelled`.
    pub status: StepStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Execution time in milliseconds.
    pub duration_ms: f64,
}

/// One artifact a step read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    /// The step's input port (a fan-in port appears once per artifact).
    pub port: String,
    /// `inputs.NAME` or `STEP.PORT`.
    pub source: String,
    /// What was read.
    pub digest: Digest,
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
    /// Every declared parameter as run.
    #[serde(default)]
    pub params: BTreeMap<String, serde_json::Value>,
    /// Outcome.
    pub status: StepStatus,
    /// Set when the outputs were reused instead of computed in this run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse: Option<Reuse>,
    /// The cache key of this execution (component, inputs, parameters, grants); `None` when
    /// the step is kept out of the cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_key: Option<Digest>,
    /// What it read, port by port.
    #[serde(default)]
    pub inputs: Vec<InputReport>,
    /// Every execution, in order.
    #[serde(default)]
    pub attempts: Vec<AttemptReport>,
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
    /// Why the run as a whole stopped early (timeout, cancel, a record that could not be written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
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

/// A parameter value as JSON (how reports and records show it).
pub fn param_json(v: &ParamValue) -> serde_json::Value {
    match v {
        ParamValue::Str(s) => serde_json::Value::from(s.clone()),
        ParamValue::Int(i) => serde_json::Value::from(*i),
        ParamValue::Float(f) => serde_json::Value::from(*f),
        ParamValue::Bool(b) => serde_json::Value::from(*b),
    }
}

/// The plan's steps as they stand before anything ran: every one pending, in plan order,
/// with the component (`components[i]` for step `i`) and parameters it will run with. The
/// run's records start from exactly these rows.
pub fn planned_steps(plan: &Plan, components: &[Digest]) -> Vec<StepReport> {
    plan.steps
        .iter()
        .zip(components)
        .map(|(s, c)| StepReport {
            id: s.id.clone(),
            uses: s.uses.clone(),
            instance: s.instance.as_ref().map(|inst| InstanceReport {
                of: inst.of.clone(),
                values: inst.values.iter().map(|(k, v)| (k.clone(), param_json(v))).collect(),
            }),
            component: *c,
            params: s.params.iter().map(|(k, v)| (k.clone(), param_json(v))).collect(),
            status: StepStatus::Pending,
            reuse: None,
            cache_key: None,
            inputs: Vec::new(),
            attempts: Vec::new(),
            duration_ms: None,
            outputs: BTreeMap::new(),
            metrics: Vec::new(),
            error: None,
            log: Vec::new(),
        })
        .collect()
}
