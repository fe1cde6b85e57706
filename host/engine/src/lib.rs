//! Weft's engine: schedules a validated [`weft_model::Plan`] on tokio, hands ready steps
//! to an [`Executor`], commits every finished step to a [`Journal`] (durable records, the
//! cache), and returns the run's report. Retries, cache hits, resume, cancel and the
//! run's time limit live here; where records are kept does not (`weft-records`).
//!
//! The scheduler never touches wasmtime or artifact bytes itself: an executor runs a step
//! and returns the digests it published. [`LocalExecutor`] does that in-process through
//! the sandbox; an executor on other machines can take its place without a rewrite.

mod advance;
mod cache_key;
mod cancel;
mod committer;
mod events;
mod journal;
mod one_step;
mod report;
mod run_id;
mod run_state;
mod scheduler;
mod step_job;

pub use advance::{Advance, advance};
pub use cache_key::cache_key;
pub use cancel::CancelSignal;
pub use events::{RunEvent, StepState};
pub use journal::{CachedResult, Journal, JournalError, NoJournal};
pub use one_step::{Executed, OneStep, ancestors, execute_one};
pub use report::{
    AttemptReport, InputReport, InstanceReport, LogRecord, Reuse, RunReport, RunStatus, StepReport, StepStatus,
    param_json, planned_steps,
};
pub use run_id::new_run_id;
pub use scheduler::{RunError, RunOptions, RunServices, run_plan};
pub use weft_task::{Executor, LogLine, LogStream, MadeBy, Provenance, StepFailure, StepTask, TaskResult};
