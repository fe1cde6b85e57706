//! Weft's sandbox: the only crate that knows wasmtime.
//!
//! One [`Sandbox`] per process holds the wasmtime `Engine` (component model, async,
//! pooling allocator, epoch interruption), the on-disk compile cache keyed by component
//! digest, and the `InstancePre` of every loaded component. Each step execution gets a
//! fresh `Store` with its own memory limit, deadline, capped logs and only the artifact
//! handles its bindings allow. WASI is linked but hermetic: no preopened directory, no
//! environment, no network, a virtual clock and seeded randomness.

mod bindings;
mod cache;
mod clock;
mod compile;
mod convert;
mod error;
mod execution;
mod executor;
mod guest_words;
mod host_artifacts;
mod host_log;
mod limiter;
mod outcome;
mod output_pipe;
mod random;
mod sandbox;
mod state;

pub use compile::{
    ChildArgs, CompileProcess, DEFAULT_COMPILE_MEMORY, DEFAULT_COMPILE_TIMEOUT, MAX_COMPONENT_BYTES, compile_child_main,
};
pub use error::SandboxError;
pub use execution::StepRequest;
pub use executor::LocalExecutor;
pub use outcome::{StagedOutput, StepOutcome};
pub use random::StepSeed;
pub use sandbox::{LoadCounts, LoadedComponent, Sandbox, SandboxConfig, StepCounts, load_counts};
