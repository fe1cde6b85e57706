//! The validated, typed plan of a run: what the scheduler executes. Every reference in it
//! is known to resolve, every parameter has its declared type, steps are in dependency order.

use crate::condition::Expr;
use crate::policy::Policy;
use crate::step_info::{ParamValue, StepInfo};
use std::sync::Arc;
use std::time::Duration;

/// A validated workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Workflow name.
    pub name: String,
    /// Workflow parameters after defaults and overrides.
    pub params: Vec<(String, ParamValue)>,
    /// Files fed to the workflow.
    pub inputs: Vec<PlannedInput>,
    /// Steps in a topological order: every step comes after the steps it depends on.
    pub steps: Vec<PlannedStep>,
    /// Longest the whole run may take.
    pub timeout: Option<Duration>,
}

/// A file fed to the workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedInput {
    /// Name, referred to as `inputs.NAME`.
    pub name: String,
    /// Path relative to the workflow file.
    pub path: String,
    /// Media type (given or guessed from the extension).
    pub media_type: String,
}

/// One step, ready to schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedStep {
    /// Step id.
    pub id: String,
    /// The component reference as written (`name@version` or a `.wasm` path).
    pub uses: String,
    /// The component's declaration, shared by the instances of a matrix step.
    pub info: Arc<StepInfo>,
    /// Output port → media type its artifact will carry (a `*/*` pass-through resolved).
    pub outputs: Vec<(String, String)>,
    /// One binding per declared input port, in declaration order.
    pub inputs: Vec<Binding>,
    /// Every declared parameter with its value, in declaration order.
    pub params: Vec<(String, ParamValue)>,
    /// Limits set by the workflow; unset ones take the host's defaults.
    pub limits: Limits,
    /// Retries and caching.
    pub policy: Policy,
    /// Indices (into `Plan::steps`) of the steps that must finish first; all smaller than this step's.
    pub deps: Vec<usize>,
    /// For a fanned-out step: which instance this is.
    pub instance: Option<Instance>,
    /// Most instances of the authored step running at once.
    pub concurrency: Option<usize>,
    /// Run only when this holds (evaluated when the step is ready); skip otherwise.
    pub condition: Option<Condition>,
    /// The label a worker must carry to execute it (`runs-on:`); in-process runs ignore it.
    pub runs_on: Option<String>,
}

/// One instance of a fanned-out step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Instance {
    /// The authored step id (`train` for `train[2]`).
    pub of: String,
    /// Position among the instances.
    pub index: usize,
    /// How many instances there are.
    pub count: usize,
    /// The matrix values of this instance (its own, or those of the matrix step it follows).
    pub values: Vec<(String, ParamValue)>,
}

/// A `when:` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// As written.
    pub text: String,
    /// Parsed, with workflow parameters folded in.
    pub expr: Expr,
}

/// Where an input port's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Source {
    /// A workflow input, by name.
    Input(String),
    /// An output of an earlier step.
    Step {
        /// Producing step id.
        step: String,
        /// Its output port.
        port: String,
    },
}

/// An input port bound to one source; a fan-in port has one binding per artifact.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Binding {
    /// The consuming step's input port.
    pub port: String,
    /// Where its bytes come from.
    pub source: Source,
    /// Media type of the bytes that will arrive.
    pub media_type: String,
}

/// Per-step limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Limits {
    /// Linear-memory cap in bytes.
    pub memory: Option<u64>,
    /// Wall-clock timeout.
    pub timeout: Option<Duration>,
    /// CPU budget in fuel units.
    pub fuel: Option<u64>,
}

impl Plan {
    /// Finds a step by id.
    pub fn step(&self, id: &str) -> Option<&PlannedStep> {
        self.steps.iter().find(|s| s.id == id)
    }
}
