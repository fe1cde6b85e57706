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
    /// The compile cache directory could be written by someone else, who could then make
    /// any component run their code.
    #[error(
        "refusing the compile cache {path}: {reason}; anyone who can write it could make steps run their code. Make it private (`chmod 700 {path}`, owned by you) or use another --cache-dir"
    )]
    CacheNotPrivate {
        /// The cache directory.
        path: String,
        /// Who else may write it.
        reason: String,
    },
    /// The component is larger than the sandbox compiles.
    #[error("{what} is {size} bytes; components are limited to {limit} bytes (SandboxConfig::max_component_bytes)")]
    TooLarge {
        /// Which component.
        what: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Compiling the component took longer than allowed.
    #[error(
        "compiling {what} took longer than {limit:?} and was stopped; a component this costly to compile is refused (raise the limit with --compile-timeout)"
    )]
    CompileTimedOut {
        /// Which component.
        what: String,
        /// The limit.
        limit: std::time::Duration,
    },
    /// Compiling the component needed more memory than allowed.
    #[error(
        "compiling {what} needed more than {limit_mib} MiB of memory and was stopped; a component this costly to compile is refused (raise the limit with --compile-memory)"
    )]
    CompileOutOfMemory {
        /// Which component.
        what: String,
        /// The limit, in MiB.
        limit_mib: u64,
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
