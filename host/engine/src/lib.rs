//! Weft's engine: schedules a validated [`weft_model::Plan`] on tokio, hands ready steps
//! to an [`Executor`], and records what happened in a run report kept in the store.
//!
//! The scheduler never touches wasmtime or artifact bytes itself: an executor runs a step
//! and returns the digests it published. [`LocalExecutor`] does that in-process through
//! the sandbox; an executor on other machines can take its place without a rewrite.

mod events;
mod executor;
mod local;
mod report;
mod run_id;
mod scheduler;

pub use events::{RunEvent, StepState};
pub use executor::{Executor, StepTask, TaskResult};
pub use local::LocalExecutor;
pub use report::{InstanceReport, LogRecord, RunReport, RunStatus, StepReport, StepStatus};
pub use run_id::new_run_id;
pub use scheduler::{RunOptions, run_plan};

/// Name of the run report document in the store (`runs/<id>/manifest.json`).
pub const MANIFEST: &str = "manifest.json";
