//! Weft's run lifecycle, in one place: load a workflow → **lock** its plan → record the
//! run → run it → record its end; resume an interrupted run; replay one recorded step; run
//! one component on local files. The CLI and the benchmarks call this crate and do
//! nothing else with a run (the server and workers will too).
//!
//! Resume and replay execute the [`LockedPlan`] recorded when the run started — the
//! components its digests name, taken from the store's archive — never the workflow
//! file or the plugin path as they are now.

mod files;
mod inputs;
mod load;
mod lock;
mod queued;
mod quota;
mod replay;
mod start;
mod step;
mod usage;
mod worker;

pub use files::{FileError, MAX_COMPONENT_BYTES, MAX_WORKFLOW_BYTES, fmt_bytes, fmt_size, read_capped, read_component};
pub use inputs::{Allowed, CheckedInput, DEFAULT_MAX_INPUT_BYTES, InputPolicy};
pub use load::{Components, FoundComponent, Invalid, LoadError, LoadedWorkflow, render};
pub use lock::{LOCK_FORMAT, LockError, LockedComponent, LockedInput, LockedPlan, LockedStep};
pub use queued::OnWorkers;
pub use replay::{Replay, ReplayedOutput, StoredCopy};
pub use start::{Prepared, RunSettings, read_stored_component};
pub use step::{LocalInput, LocalStep, LocalStepError, LocalStepRun};
pub use usage::StoredBytes;
pub use weft_records::RunLimits;
/// Component loads by source, for a server's `/metrics`.
pub use weft_sandbox::{LoadCounts, load_counts};
pub use worker::{MAX_CLAIMS, WorkerSettings, WorkerStats};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use weft_artifacts::ArtifactStore;
use weft_records::Records;
use weft_sandbox::{Sandbox, SandboxConfig};

/// Something a user should hear about while a run is prepared (the CLI prints these).
#[derive(Debug, Clone)]
pub enum Note {
    /// A large component is being compiled for the first time.
    Compiling {
        /// As written in `uses:`.
        uses: String,
        /// Its size.
        bytes: usize,
    },
    /// A component took long to compile.
    Compiled {
        /// As written in `uses:`.
        uses: String,
        /// How long.
        time: Duration,
    },
    /// A workflow input's path resolved to another file (a symlink, `..`).
    InputResolved {
        /// The input.
        name: String,
        /// As written, joined to the workflow's directory.
        given: PathBuf,
        /// The file that is read.
        real: PathBuf,
    },
    /// Staging objects that killed runs left behind were removed.
    StagingSwept {
        /// How many.
        files: usize,
        /// Their bytes.
        bytes: u64,
    },
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Note::Compiling { uses, bytes } => write!(
                f,
                "compiling `{uses}` ({}), once: later runs reuse the compiled code",
                files::fmt_size(*bytes as u64)
            ),
            Note::Compiled { uses, time } => write!(f, "compiled `{uses}` in {:.1} s", time.as_secs_f64()),
            Note::InputResolved { name, given, real } => {
                write!(f, "input `{name}`: {} resolved to {}", given.display(), real.display())
            }
            Note::StagingSwept { files, bytes } => {
                write!(
                    f,
                    "removed {files} abandoned staging files ({bytes} bytes) from the store"
                )
            }
        }
    }
}

/// Where notes go.
pub type Notes = Arc<dyn Fn(&Note) + Send + Sync>;

/// What loading a workflow needs: where `uses:` names are found, which host files may be
/// inputs, how components are compiled.
#[derive(Clone)]
pub struct Loader {
    /// Directories searched for `uses: NAME`, in order.
    pub plugin_path: Vec<PathBuf>,
    /// Which host files a workflow may read as inputs.
    pub input_policy: InputPolicy,
    /// The sandbox's settings (fuel is turned on per workflow).
    pub sandbox: SandboxConfig,
    /// Where notes go.
    pub notes: Notes,
    /// The sandboxes made so far (clones share them).
    pub sandboxes: Sandboxes,
}

/// The sandboxes a [`Loader`] made, at most one per fuel setting, shared by every workflow
/// it loads: a server runs many workflows at once, and each sandbox holds a wasmtime engine
/// with its pool of instance slots (and address space reserved for them) and its loaded
/// components. Sharing one pool also bounds the steps executing at once over all runs.
#[derive(Clone, Default)]
pub struct Sandboxes(Arc<std::sync::Mutex<[Option<Arc<Sandbox>>; 2]>>);

impl Loader {
    /// The sandbox with these settings; fuel metering costs every step some speed, so it
    /// is on only when a step sets a fuel budget.
    pub fn sandbox(&self, fuel: bool) -> anyhow::Result<Arc<Sandbox>> {
        let mut made = self
            .sandboxes
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = &mut made[usize::from(fuel)];
        if let Some(sandbox) = slot {
            return Ok(sandbox.clone());
        }
        let sandbox = Arc::new(Sandbox::new(SandboxConfig {
            fuel,
            ..self.sandbox.clone()
        })?);
        *slot = Some(sandbox.clone());
        Ok(sandbox)
    }

    pub(crate) fn note(&self, note: Note) {
        (self.notes)(&note);
    }

    /// Reads, resolves and validates a workflow file (`weft validate`); every problem at
    /// once.
    pub async fn load(&self, file: &Path, overrides: &[(String, String)]) -> Result<LoadedWorkflow, LoadError> {
        let text = files::read_workflow(file).map_err(|e| LoadError::Invalid(load::Invalid::unreadable(e)))?;
        load::load_source(self, &load::Origin::File(file), None, text, overrides).await
    }
}

/// A run's whole life over one store and one set of records.
#[derive(Clone)]
pub struct Runner {
    /// How workflows are loaded.
    pub loader: Loader,
    /// Where artifacts (and archived components) live.
    pub store: ArtifactStore,
    /// Where runs are recorded.
    pub records: Records,
}

/// A component checked for publishing: it loads in the sandbox, its `describe()` answers
/// and declares nothing unusable.
pub struct Inspected {
    /// Its digest.
    pub digest: weft_artifacts::Digest,
    /// What `describe()` declared.
    pub info: weft_model::StepInfo,
}

impl Loader {
    /// Checks `bytes` the way `weft plugin inspect` does: compiled (or found in the compile
    /// cache), `describe()` called under its time bound, its declaration checked. The error
    /// lists every problem.
    pub async fn inspect(&self, bytes: &[u8], shown: &str) -> Result<Inspected, String> {
        // A sandbox of its own, dropped after: a component checked for publishing (perhaps
        // refused) is not kept loaded in the one the runs share.
        let sandbox = Sandbox::new(SandboxConfig {
            fuel: false,
            ..self.sandbox.clone()
        })
        .map_err(|e| format!("{e:#}"))?;
        let component = sandbox.load(bytes, shown).await.map_err(|e| e.to_string())?;
        let problems = component.info.problems();
        if !problems.is_empty() {
            return Err(format!(
                "{shown} declares what Weft cannot use: {}",
                problems.join("; ")
            ));
        }
        Ok(Inspected {
            digest: component.digest,
            info: component.info.clone(),
        })
    }
}
