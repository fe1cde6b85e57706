//! Errors of the sandbox itself (as opposed to a step failing, see `StepFailure`).

/// Why the sandbox could not load or prepare a component.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// wasmtime could not be configured.
    #[error("cannot configure the WebAssembly engine: {0}")]
    Engine(String),
    /// The bytes are not a valid component, or it does not implement the Weft world.
    #[error("{what} is not a Weft step component: {reason}")]
    NotAStep {
        /// Which component.
        what: String,
        /// What is wrong, from wasmtime.
        reason: String,
    },
    /// `describe()` trapped or returned nonsense.
    #[error("{what}: describe() failed: {reason}")]
    Describe {
        /// Which component.
        what: String,
        /// What went wrong.
        reason: String,
    },
    /// The compile cache could not be used.
    #[error("compile cache at {path}: {source}")]
    Cache {
        /// The cache path concerned.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The component file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// File path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
}
