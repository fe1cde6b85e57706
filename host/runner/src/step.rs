//! Running one component on local files, without a workflow (`weft step run`, the plugin
//! author's harness): the component's declaration is checked, the files are bound to its
//! input ports under the input policy, and the step runs against a scratch store in
//! memory. Nothing is recorded.

use crate::{InputPolicy, Loader};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;
use weft_artifacts::{ArtifactMeta, ArtifactStore};
use weft_model::{Limits, StepInfo, media_type};
use weft_sandbox::{StepRequest, StepSeed};
use weft_task::{LogLine, Provenance, StepFailure};

/// Largest input file of a local step run: its scratch store keeps inputs in memory.
const MAX_LOCAL_INPUT_BYTES: u64 = 1 << 30;

/// One component and what to run it on.
#[derive(Debug, Clone)]
pub struct LocalStep {
    /// The component file.
    pub file: PathBuf,
    /// The files bound to input ports (a fan-in port may appear more than once).
    pub inputs: Vec<LocalInput>,
    /// Parameters as `NAME=VALUE` texts.
    pub params: Vec<(String, String)>,
    /// Limits.
    pub limits: Limits,
}

/// A local file bound to an input port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalInput {
    /// The port.
    pub port: String,
    /// The file.
    pub file: PathBuf,
    /// Its media type as given; `None` types it by its extension, as a workflow input
    /// without `media_type:` is.
    pub media_type: Option<String>,
}

impl LocalInput {
    /// `PORT=FILE` or `PORT=FILE:TYPE/SUBTYPE`. The part after the last `:` is a media type
    /// only when it reads as one of a registered top-level type (`text/csv`, not
    /// `30/out.csv`) and the whole is not an existing file, so a path may hold colons.
    pub fn parse(text: &str) -> Result<LocalInput, String> {
        const TOP_LEVEL: [&str; 9] = [
            "application",
            "audio",
            "font",
            "image",
            "message",
            "model",
            "multipart",
            "text",
            "video",
        ];
        let (port, rest) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not PORT=FILE or PORT=FILE:MEDIA/TYPE"))?;
        let typed = |mt: &str| {
            media_type::is_well_formed(mt, false) && mt.split_once('/').is_some_and(|(top, _)| TOP_LEVEL.contains(&top))
        };
        let (file, media_type) = match rest.rsplit_once(':') {
            Some((file, mt)) if !file.is_empty() && typed(mt) && !std::path::Path::new(rest).exists() => {
                (file, Some(mt.to_string()))
            }
            Some((file, mt)) if !file.is_empty() && mt.contains('*') => {
                return Err(format!("`{mt}`: give the file's own media type, not a pattern"));
            }
            _ => (rest, None),
        };
        Ok(LocalInput {
            port: port.trim().to_string(),
            file: PathBuf::from(file),
            media_type,
        })
    }

    /// Its media type: as given, else guessed from the file name.
    pub fn media_type(&self) -> String {
        self.media_type
            .clone()
            .unwrap_or_else(|| media_type::guess_from_path(&self.file.display().to_string()).to_string())
    }
}

/// What a local step run produced.
pub struct LocalStepRun {
    /// The component's declaration.
    pub info: StepInfo,
    /// Its log.
    pub log: Vec<LogLine>,
    /// Its metrics.
    pub metrics: Vec<(String, f64)>,
    /// How long it ran.
    pub duration: Duration,
    /// Its published outputs (port → artifact in `store`), or why it failed.
    pub outputs: Result<Vec<(String, ArtifactMeta)>, StepFailure>,
    /// The scratch store holding the outputs.
    pub store: ArtifactStore,
}

/// Why a local step could not run.
#[derive(Debug)]
pub enum LocalStepError {
    /// The component, its declaration or the arguments are wrong: every problem found
    /// (guest text, unescaped).
    Problems(Vec<String>),
    /// Something else failed.
    Other(anyhow::Error),
}

impl From<anyhow::Error> for LocalStepError {
    fn from(e: anyhow::Error) -> Self {
        LocalStepError::Other(e)
    }
}

impl Loader {
    /// Runs one component on local files.
    pub async fn run_local_step(&self, step: &LocalStep) -> Result<LocalStepRun, LocalStepError> {
        let bytes =
            crate::files::read_component(&step.file).map_err(|e| LocalStepError::Problems(vec![format!("{e:#}")]))?;
        let sandbox = self.sandbox(step.limits.fuel.is_some())?;
        if !sandbox.is_compiled(&bytes) && bytes.len() > 1 << 20 {
            // Language runtimes (Python, JS) take seconds to compile: say so first.
            self.note(crate::Note::Compiling {
                uses: step.file.display().to_string(),
                bytes: bytes.len(),
            });
        }
        let component = sandbox
            .load(&bytes, &step.file.display().to_string())
            .await
            .map_err(anyhow::Error::from)?;
        let info = component.info.clone();
        // Port names become file names: a declaration with a name that is not an
        // identifier (`../x`, `/etc/y`) is refused before anything runs.
        let declared = info.problems();
        if !declared.is_empty() {
            let mut problems: Vec<String> = declared
                .iter()
                .map(|p| format!("{}: {p}", step.file.display()))
                .collect();
            problems.push(format!(
                "{} declares itself wrongly (see `weft plugin inspect`); nothing was run",
                step.file.display()
            ));
            return Err(LocalStepError::Problems(problems));
        }
        let mut problems: Vec<String> = Vec::new();
        let params = info.params_from_text(&step.params).unwrap_or_else(|p| {
            problems.extend(p);
            Vec::new()
        });
        for LocalInput { port, .. } in &step.inputs {
            if info.input(port).is_none() {
                let known: Vec<_> = info.inputs.iter().map(|p| p.name.as_str()).collect();
                problems.push(format!(
                    "`{}` has no input `{port}`; its inputs are: {}",
                    info.name,
                    known.join(", ")
                ));
            }
        }
        for port in &info.inputs {
            let given = step.inputs.iter().filter(|i| i.port == port.name).count();
            if given == 0 {
                problems.push(format!(
                    "input `{}` ({}) needs --input {}=FILE",
                    port.name, port.media_type, port.name
                ));
            } else if given > 1 && !port.many {
                problems.push(format!("input `{}` takes one file, {given} were given", port.name));
            }
        }
        let policy = InputPolicy {
            max_bytes: self.input_policy.max_bytes.min(MAX_LOCAL_INPUT_BYTES),
            ..self.input_policy.clone()
        };
        let mut checked = Vec::new();
        for input in &step.inputs {
            let file = match policy.check(&input.file) {
                Ok(file) => file,
                Err(e) => {
                    problems.push(format!("--input {}: {e}", input.port));
                    continue;
                }
            };
            // Typed as a workflow types its inputs, and held to the port's type the same way.
            let actual = input.media_type();
            if let Some(declared) = info.input(&input.port)
                && !media_type::accepts(&declared.media_type, &actual)
            {
                let how = if input.media_type.is_some() {
                    "as given"
                } else {
                    "by its name"
                };
                problems.push(format!(
                    "input `{}` takes {}, but {} is {actual} ({how}): give its type with --input {}={}:TYPE/SUBTYPE if it is one",
                    input.port,
                    declared.media_type,
                    input.file.display(),
                    input.port,
                    input.file.display()
                ));
                continue;
            }
            checked.push((&input.port, &input.file, actual, file));
        }
        if !problems.is_empty() {
            return Err(LocalStepError::Problems(problems));
        }

        // A scratch store in memory: the harness keeps only what the caller copies out.
        let store = ArtifactStore::open("memory://").map_err(anyhow::Error::from)?;
        let mut bound = Vec::new();
        for (port, path, label, file) in checked {
            let meta = file
                .import(&store, &label)
                .await
                .with_context(|| format!("reading input `{port}`"))?;
            bound.push((port.clone(), Provenance::origin(path.display().to_string(), meta)));
        }
        let outcome = sandbox
            .run(
                &component,
                StepRequest {
                    store: store.clone(),
                    inputs: bound,
                    params,
                    output_types: Vec::new(),
                    limits: step.limits,
                    interrupt: None,
                    budget: Default::default(),
                    seed: StepSeed::default(),
                },
            )
            .await;
        let outputs = match outcome.result {
            Ok(staged) => {
                let mut published = Vec::with_capacity(staged.len());
                for output in staged {
                    let meta = store
                        .publish(output.staged, &output.media_type)
                        .await
                        .map_err(anyhow::Error::from)?;
                    published.push((output.port, meta));
                }
                Ok(published)
            }
            Err(f) => Err(f),
        };
        Ok(LocalStepRun {
            info,
            log: outcome.log,
            metrics: outcome.metrics,
            duration: outcome.duration,
            outputs,
            store,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::LocalInput;
    use std::path::PathBuf;

    #[test]
    fn an_input_is_a_port_a_file_and_maybe_its_type() {
        let typed = LocalInput::parse("csv=data/x.txt:text/csv").expect("typed");
        assert_eq!(
            (typed.port.as_str(), typed.file.clone()),
            ("csv", PathBuf::from("data/x.txt"))
        );
        assert_eq!(typed.media_type(), "text/csv");
        // A colon that does not begin a media type is part of the file name.
        let plain = LocalInput::parse("text=notes:v2.md").expect("plain");
        assert_eq!((plain.file, plain.media_type), (PathBuf::from("notes:v2.md"), None));
        let stamped = LocalInput::parse("csv=runs/2024-01-01T10:30/out.csv").expect("a path");
        assert_eq!(stamped.file, PathBuf::from("runs/2024-01-01T10:30/out.csv"));
        assert!(LocalInput::parse("csv=a.csv:text/*").is_err(), "a pattern is no type");
        let guessed = LocalInput::parse("t=a.csv").expect("guessed");
        assert_eq!(guessed.media_type(), "text/csv");
        assert!(LocalInput::parse("no-equals").is_err());
    }
}
