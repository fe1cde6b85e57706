//! From a workflow file to a validated plan with loaded components: reads the file,
//! resolves each `uses:` on the plugin path, loads (compiles or reuses) the components,
//! checks the workflow inputs exist, and validates. Every problem is collected.

use crate::{Loader, Note};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weft_model::{Catalog, ComponentRef, Diagnostic, Diagnostics, Plan};
use weft_sandbox::{LoadedComponent, Sandbox};

/// A workflow ready to run.
pub struct LoadedWorkflow {
    /// The validated plan.
    pub plan: Plan,
    /// The sandbox the components were loaded into (and must run in): fuel is metered
    /// only when a step sets a fuel budget, which costs every step some speed.
    pub sandbox: Arc<Sandbox>,
    /// The component of each plan step, in plan order.
    pub components: Vec<Arc<LoadedComponent>>,
    /// Workflow input name → a file on disk, checked by the input policy (symlinks
    /// resolved: the file that is read), or an artifact already stored.
    pub(crate) input_files: BTreeMap<String, InputSource>,
    /// Inputs whose path resolved to another one (a symlink, `..`): name, as written
    /// (joined to the workflow's directory), resolved. Reported before the run starts.
    pub resolved_inputs: Vec<(String, PathBuf, PathBuf)>,
    /// The workflow's text.
    pub source: String,
    /// Each component's file and the bytes that were loaded from it, by digest (archived
    /// in the store so runs can be replayed: the bytes, not the file, which may have
    /// changed since).
    pub component_files: Vec<(weft_artifacts::Digest, String, Arc<Vec<u8>>)>,
}

/// Why a workflow could not be loaded, or a run started.
#[derive(Debug)]
pub enum LoadError {
    /// The workflow is invalid: nothing was run.
    Invalid(Invalid),
    /// Something else failed (IO).
    Other(anyhow::Error),
}

/// An invalid workflow: every problem, and the text that lists them for a terminal.
#[derive(Debug, Clone)]
pub struct Invalid {
    /// One line per problem, then a count (what the CLI prints).
    pub text: String,
    /// Each problem with its position; empty when the file itself could not be read.
    pub problems: Vec<Diagnostic>,
}

impl Invalid {
    /// A workflow that could not even be read: no positions to give.
    pub(crate) fn unreadable(text: String) -> Invalid {
        Invalid {
            text,
            problems: Vec::new(),
        }
    }
}

/// Where a workflow comes from, which decides what it may refer to.
#[derive(Clone)]
pub(crate) enum Origin<'a> {
    /// A file on this machine: its inputs are files (under the input policy), its `uses:`
    /// may be paths, both relative to the file's directory.
    File(&'a Path),
    /// Text submitted to a server under `name`: every input is bound to an artifact the
    /// tenant already stored, and every `uses:` is found by `components` (the server's
    /// registry), never as a file of the server.
    Submitted {
        /// Shown in problems and recorded as the run's file.
        name: &'a str,
        /// Input name → digest of an artifact in the tenant's store.
        inputs: &'a BTreeMap<String, weft_artifacts::Digest>,
        /// Where `uses:` are found.
        components: &'a dyn Components,
    },
}

impl Origin<'_> {
    /// How it is named in messages and the records.
    pub(crate) fn shown(&self) -> String {
        match self {
            Origin::File(file) => file.display().to_string(),
            Origin::Submitted { name, .. } => (*name).to_string(),
        }
    }
}

/// Where a submitted workflow's `uses:` find their components: a server's step registry,
/// seen by one tenant.
#[async_trait::async_trait]
pub trait Components: Send + Sync {
    /// The component `uses` names, or the problem to report at the `uses:` (a name that is
    /// not published, a path, a component too large).
    async fn find(&self, uses: &str) -> Result<FoundComponent, String>;
}

/// A component a [`Components`] found.
pub struct FoundComponent {
    /// How messages name it (`csv-to-table@0.1.0 (sha256:…)`).
    pub shown: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A workflow input, where its bytes are.
pub(crate) enum InputSource {
    /// A file of this machine, to be stored.
    File(crate::inputs::CheckedInput),
    /// Already in the store: its digest and size.
    Stored(weft_artifacts::Digest, u64),
}

impl From<anyhow::Error> for LoadError {
    fn from(e: anyhow::Error) -> Self {
        LoadError::Other(e)
    }
}

/// Finds the component file a `uses:` names, on the plugin path or next to the workflow.
fn resolve(uses: &str, workflow_dir: Option<&Path>, plugin_path: &[PathBuf]) -> Result<PathBuf, String> {
    match ComponentRef::parse(uses)? {
        ComponentRef::Digest(_) => Err(
            "a digest names a component published to a server (`weft serve`); here, name a component on the plugin path or a `.wasm` file"
                .to_string(),
        ),
        ComponentRef::Path(p) => {
            let workflow_dir = workflow_dir.unwrap_or(Path::new("."));
            let path = workflow_dir.join(&p);
            // Whether it is a regular file of a sane size is checked when it is read.
            if path.exists() {
                Ok(path)
            } else {
                Err(format!("no component file {} (paths are relative to the workflow file)", path.display()))
            }
        }
        ComponentRef::Named { name, .. } => plugin_path
            .iter()
            .map(|dir| dir.join(format!("{name}.wasm")))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                let searched: Vec<_> = plugin_path.iter().map(|p| p.display().to_string()).collect();
                format!(
                    "no component `{name}` in the plugin path ({}); build Weft's plugins with `cargo xtask build-plugins` or pass --plugins DIR",
                    searched.join(", ")
                )
            }),
    }
}

/// Loads workflow text from `origin` (a file's paths resolve next to it): parsed once,
/// every `uses:` resolved and loaded into a sandbox made for it, then validated.
pub(crate) async fn load_source(
    loader: &Loader,
    origin: &Origin<'_>,
    store: Option<&weft_artifacts::ArtifactStore>,
    text: String,
    overrides: &[(String, String)],
) -> Result<LoadedWorkflow, LoadError> {
    let shown = origin.shown();
    let invalid = |d: Diagnostics| {
        LoadError::Invalid(Invalid {
            text: render(&shown, &d),
            problems: d.0,
        })
    };
    let (workflow, mut problems) = weft_model::parse(&text).map_err(invalid)?;
    let sandbox = loader.sandbox(workflow.steps.iter().any(|s| s.limits.fuel.is_some()))?;
    let dir = match origin {
        Origin::File(file) => Some(file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)),
        Origin::Submitted { .. } => None,
    };

    let mut input_files = BTreeMap::new();
    let mut resolved_inputs = Vec::new();
    for input in &workflow.inputs {
        let field = || format!("inputs.{}.path", input.name.value);
        let found = match (origin, &dir) {
            (Origin::File(_), Some(dir)) => {
                let path = dir.join(&input.path.value);
                loader.input_policy.check(&path).map(|checked| {
                    if std::path::absolute(&path).is_ok_and(|p| p != checked.path) {
                        resolved_inputs.push((input.name.value.clone(), path, checked.path.clone()));
                    }
                    InputSource::File(checked)
                })
            }
            (Origin::Submitted { inputs, .. }, _) => crate::inputs::stored_input(store, inputs.get(&input.name.value))
                .await
                .map(|(digest, size)| InputSource::Stored(digest, size)),
            (Origin::File(_), None) => Err("bug: a workflow file without a directory".to_string()),
        };
        match found {
            Ok(source) => {
                input_files.insert(input.name.value.clone(), source);
            }
            Err(message) => problems.push(Diagnostic::new(input.path.span, field(), message)),
        }
    }
    if let Origin::Submitted { inputs, .. } = origin {
        for name in inputs.keys() {
            if !workflow.inputs.iter().any(|i| &i.name.value == name) {
                problems.push(Diagnostic::new(
                    weft_model::Span { line: 1, col: 1 },
                    "inputs",
                    format!("an artifact is bound to input `{name}`, which the workflow does not declare"),
                ));
            }
        }
    }

    let mut catalog = Catalog::new();
    let mut by_uses: HashMap<String, Arc<LoadedComponent>> = HashMap::new();
    let mut component_files = Vec::new();
    for step in &workflow.steps {
        let uses = &step.uses.value;
        if catalog.contains_key(uses) {
            continue;
        }
        // The component's bytes and how to name it, from a file or the origin's registry.
        let found: Result<(String, Vec<u8>), String> = match origin {
            Origin::File(_) => resolve(uses, dir.as_deref(), &loader.plugin_path).and_then(|path| {
                crate::files::read_component(&path)
                    .map(|bytes| (path.display().to_string(), bytes))
                    .map_err(|e| format!("{e:#}"))
            }),
            Origin::Submitted { components, .. } => components.find(uses).await.map(|found| (found.shown, found.bytes)),
        };
        let loaded = match found {
            Ok((shown, bytes)) => {
                if !sandbox.is_compiled(&bytes) && bytes.len() > 1 << 20 {
                    // Language runtimes (Python, JS) take seconds to compile: say so first.
                    loader.note(Note::Compiling {
                        uses: uses.clone(),
                        bytes: bytes.len(),
                    });
                }
                let loaded = sandbox.load(&bytes, &shown).await.map_err(|e| e.to_string());
                if let Ok(c) = &loaded {
                    component_files.push((c.digest, shown, Arc::new(bytes)));
                }
                loaded
            }
            Err(e) => Err(e),
        };
        match loaded {
            Ok(c) => {
                if !c.from_cache && c.load_time.as_secs_f64() > 2.0 {
                    loader.note(Note::Compiled {
                        uses: uses.clone(),
                        time: c.load_time,
                    });
                }
                catalog.insert(uses.clone(), Ok(c.info.clone()));
                by_uses.insert(uses.clone(), c);
            }
            Err(e) => {
                catalog.insert(uses.clone(), Err(e));
            }
        }
    }

    let plan = match weft_model::validate(&workflow, &catalog, overrides) {
        Ok(plan) if problems.is_empty() => plan,
        Ok(_) => {
            problems.sort();
            return Err(invalid(Diagnostics(problems)));
        }
        Err(mut more) => {
            problems.append(&mut more);
            problems.sort();
            problems.dedup();
            return Err(invalid(Diagnostics(problems)));
        }
    };
    let components = plan
        .steps
        .iter()
        .map(|s| by_uses.get(&s.uses).cloned())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| LoadError::Other(anyhow::anyhow!("bug: a validated step has no loaded component")))?;
    Ok(LoadedWorkflow {
        plan,
        sandbox,
        components,
        input_files,
        resolved_inputs,
        source: text,
        component_files,
    })
}

/// One line per problem, then a count.
pub fn render(file: &str, diags: &Diagnostics) -> String {
    let n = diags.0.len();
    format!(
        "{}{file}: {n} problem{} found; nothing was run",
        diags.render(file),
        if n == 1 { "" } else { "s" }
    )
}
