//! Weft's step vocabulary: what the engine hands an executor ([`StepTask`]), what comes
//! back ([`TaskResult`]: published outputs or a [`StepFailure`], the [`LogLine`]s,
//! metrics), and where every input came from ([`Provenance`]).
//!
//! The engine schedules with these types and the sandbox executes with them; neither has
//! to know the other. This crate must not link wasmtime (checked by `tests/architecture.rs`).

mod admission;
mod budget;
mod executor;
mod failure;
mod log;
mod provenance;

pub use admission::{Admission, Admitted, Permit};
pub use budget::{ByteBudget, StepBudget};
pub use executor::{Executor, Started, StepTask, TaskResult};
pub use failure::StepFailure;
pub use log::{LogLine, LogStream};
pub use provenance::{MadeBy, Provenance};
