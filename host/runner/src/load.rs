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
    /// Workflow input name → file on disk, checked by the input policy (symlinks
    /// resolved: the file that is read).
    pub input_files: BTreeMap<String, crate::inputs::CheckedInput>,
    /// Inputs whose path resolved to another one (a symlink, `..`): name, as written
    /// (joined to the workflow's directory), resolved. Reported before the run starts.
    pub resolved_inputs: Vec<(String, PathBuf, PathBuf)>,
    /// The workflow's text.
    pub source: String,
    /// Each component's file and the bytes that were loaded from it, by digest (archived
    /// in the store so runs can be replayed: the bytes, not the file, which may have
    /// changed since).
    pub component_files: Vec<(weft_artifacts::Digest, PathBuf, Arc<Vec<u8>>)>,
}

/// Why a workflow could not be loaded, or a run started.
#[derive(Debug)]
pub enum LoadError {
    /// The workflow is invalid; the text lists every problem.
    Invalid(String),
    /// Something else failed (IO).
    Other(anyhow::Error),
}

impl From<anyhow::Error> for LoadError {
    fn from(e: anyhow::Error) -> Self {
        LoadError::Other(e)
    }
}

/// Finds the component file a `uses:` names.
fn resolve(uses: &str, workflow_dir: &Path, plugin_path: &[PathBuf]) -> Result<PathBuf, String> {
    match ComponentRef::parse(uses)? {
        ComponentRef::Path(p) => {
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

/// Loads workflow text as if read from `file` (paths resolve next to it): parsed once,
/// every `uses:` resolved and loaded into a sandbox made for it, then validated.
pub(crate) async fn load_source(
    loader: &Loader,
    file: &Path,
    text: String,
    overrides: &[(String, String)],
) -> Result<LoadedWorkflow, LoadError> {
    let shown = file.display().to_string();
    let invalid = |d: Diagnostics| LoadError::Invalid(render(&shown, &d));
    let (workflow, mut problems) = weft_model::parse(&text).map_err(invalid)?;
    let sandbox = loader.sandbox(workflow.steps.iter().any(|s| s.limits.fuel.is_some()))?;
    let dir = file.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf);

    let mut input_files = BTreeMap::new();
    let mut resolved_inputs = Vec::new();
    for input in &workflow.inputs {
        let path = dir.join(&input.path.value);
        match loader.input_policy.check(&path) {
            Ok(checked) => {
                if std::path::absolute(&path).is_ok_and(|p| p != checked.path) {
                    resolved_inputs.push((input.name.value.clone(), path, checked.path.clone()));
                }
                input_files.insert(input.name.value.clone(), checked);
            }
            Err(message) => problems.push(Diagnostic::new(
                input.path.span,
                format!("inputs.{}.path", input.name.value),
                message,
            )),
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
        let loaded = match resolve(uses, &dir, &loader.plugin_path) {
            Ok(path) => match crate::files::read_component(&path) {
                Ok(bytes) => {
                    if !sandbox.is_compiled(&bytes) && bytes.len() > 1 << 20 {
                        // Language runtimes (Python, JS) take seconds to compile: say so first.
                        loader.note(Note::Compiling {
                            uses: uses.clone(),
                            bytes: bytes.len(),
                        });
                    }
                    let loaded = sandbox
                        .load(&bytes, &path.display().to_string())
                        .await
                        .map_err(|e| e.to_string());
                    if let Ok(c) = &loaded {
                        component_files.push((c.digest, path.clone(), Arc::new(bytes)));
                    }
                    loaded
                }
                Err(e) => Err(format!("{e:#}")),
            },
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
