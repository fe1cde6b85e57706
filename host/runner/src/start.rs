//! Starting a run (load → store inputs → archive components → lock → record), resuming a
//! recorded one from its locked plan, and running either to its end.

use crate::load::{InputSource, Invalid, LoadError, LoadedWorkflow, Origin, load_source};
use crate::lock::LockedPlan;
use crate::{Note, Runner};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::UnboundedSender;
use weft_artifacts::{ArtifactMeta, Digest};
use weft_engine::{CancelSignal, RunEvent, RunOptions, RunReport, RunServices, RunStatus, StepReport, run_plan};
use weft_model::Plan;
use weft_records::NewRun;
use weft_sandbox::{LoadedComponent, LocalExecutor, Sandbox};

/// A recorded run, ready to execute.
pub struct Prepared {
    /// Its id.
    pub run_id: String,
    /// The plan it executes.
    pub locked: LockedPlan,
    /// The plan to schedule, unlocked from `locked`.
    pub plan: Plan,
    /// The component digest of each step of `plan`.
    pub digests: Vec<Digest>,
    /// The stored workflow inputs.
    pub inputs: BTreeMap<String, ArtifactMeta>,
    /// Whether this continues an interrupted run.
    pub resumed: bool,
    /// Whether workers execute its steps already (a run handed to them is theirs for good).
    pub on_workers: bool,
    /// What an earlier attempt at this run recorded (empty for a new run).
    recorded: Vec<StepReport>,
    sandbox: Arc<Sandbox>,
    components: Vec<Arc<LoadedComponent>>,
}

/// How to execute a prepared run.
#[derive(Clone)]
pub struct RunSettings {
    /// Most steps executing at once.
    pub concurrency: usize,
    /// Reuse results of identical earlier executions.
    pub use_cache: bool,
    /// Longest the run may take (the workflow's own limit applies too).
    pub timeout: Option<Duration>,
    /// Stops the run when triggered.
    pub cancel: CancelSignal,
    /// What admits each step before it executes (a server's fair share and quotas); `None`
    /// executes every ready step at once, up to `concurrency`.
    pub admission: Option<Arc<dyn weft_task::Admission>>,
    /// Hand the steps to `weft worker`s sharing the records and store instead of executing
    /// them here (`concurrency` and `admission` then do not apply).
    pub on_workers: Option<crate::OnWorkers>,
}

/// A component kept in `store` (archived with a run, or published), read whole with every
/// byte checked against `digest`; what sits in a store is not trusted, so its size is
/// checked before it is read.
pub async fn read_stored_component(store: &weft_artifacts::ArtifactStore, digest: &Digest) -> anyhow::Result<Vec<u8>> {
    let mut reader = store.reader(digest).await?;
    if reader.size() > crate::MAX_COMPONENT_BYTES {
        anyhow::bail!(
            "the stored component {digest} is {} bytes, more than a component may be",
            reader.size()
        );
    }
    let mut bytes = Vec::with_capacity(usize::try_from(reader.size()).unwrap_or(0));
    loop {
        // Each read is checked against the digest; the last one fails on a mismatch.
        let chunk = reader.read(1 << 20).await?;
        if chunk.is_empty() {
            return Ok(bytes);
        }
        bytes.extend_from_slice(&chunk);
    }
}

impl Runner {
    /// A new run of the workflow in `file`: loaded and validated (every problem at once),
    /// its inputs stored, its components archived in the store, its plan locked, and the
    /// run recorded with its planned steps.
    pub async fn start(&self, file: &Path, overrides: &[(String, String)]) -> Result<Prepared, LoadError> {
        let text = crate::files::read_workflow(file).map_err(|e| LoadError::Invalid(Invalid::unreadable(e)))?;
        self.sweep_staging().await;
        let origin = Origin::File(file);
        let loaded = load_source(&self.loader, &origin, Some(&self.store), text, overrides).await?;
        Ok(self.record(&origin.shown(), overrides, loaded).await?)
    }

    /// A new run of workflow text submitted under `name` (to a server): validated like a
    /// file (every problem at once), but its inputs are the artifacts `inputs` binds (each
    /// already in this store) and its `uses:` are found by `components`, never as files;
    /// then `policy` (the server's quotas) may refuse the plan, as (step id, problem)s.
    pub async fn submit(
        &self,
        name: &str,
        text: String,
        overrides: &[(String, String)],
        inputs: &BTreeMap<String, Digest>,
        components: &dyn crate::Components,
        policy: &(dyn Fn(&Plan) -> Vec<(String, String)> + Sync),
    ) -> Result<Prepared, LoadError> {
        let origin = Origin::Submitted {
            name,
            inputs,
            components,
        };
        let loaded = load_source(&self.loader, &origin, Some(&self.store), text, overrides).await?;
        let refused = policy(&loaded.plan);
        if !refused.is_empty() {
            // The plan is valid: these are the server's limits, with no position in the text.
            let problems: Vec<weft_model::Diagnostic> = refused
                .into_iter()
                .map(|(step, problem)| {
                    weft_model::Diagnostic::new(
                        weft_model::Span { line: 1, col: 1 },
                        format!("steps.{step}.limits"),
                        problem,
                    )
                })
                .collect();
            let diagnostics = weft_model::Diagnostics(problems);
            return Err(LoadError::Invalid(Invalid {
                text: crate::render(name, &diagnostics),
                problems: diagnostics.0,
            }));
        }
        Ok(self.record(name, overrides, loaded).await?)
    }

    /// What killed runs left half-written is of no use to anyone: cleared before more is added.
    async fn sweep_staging(&self) {
        match self.store.sweep_staging().await {
            Ok((0, _)) => {}
            Ok((files, bytes)) => self.loader.note(Note::StagingSwept { files, bytes }),
            Err(e) => tracing::warn!("could not sweep the store's staging area: {e}"),
        }
    }

    async fn record(
        &self,
        file: &str,
        overrides: &[(String, String)],
        loaded: LoadedWorkflow,
    ) -> anyhow::Result<Prepared> {
        for (name, given, real) in &loaded.resolved_inputs {
            self.loader.note(Note::InputResolved {
                name: name.clone(),
                given: given.clone(),
                real: real.clone(),
            });
        }
        let store = &self.store;
        let mut inputs = BTreeMap::new();
        for input in &loaded.plan.inputs {
            let meta = match &loaded.input_files[&input.name] {
                InputSource::File(file) => file
                    .import(store, &input.media_type)
                    .await
                    .with_context(|| format!("storing workflow input `{}`", input.name))?,
                InputSource::Stored(digest, size) => ArtifactMeta {
                    digest: *digest,
                    size: *size,
                    media_type: input.media_type.clone(),
                },
            };
            inputs.insert(input.name.clone(), meta);
        }
        // Archive the components, content-addressed like any artifact: resume and replay
        // run the exact bytes the plan locked, whatever happens to the plugin directory
        // later. Only a missing one is written: reading every component back on every run
        // would cost tens of megabytes from a remote store, and a damaged copy is found
        // (digest-checked) when it is read, and replaced by the next run that archives it
        // after `weft store verify --repair` quarantined it.
        // Always in the object store, even a small one: no step commit makes it durable.
        for (digest, shown, bytes) in &loaded.component_files {
            if !store.contains(digest).await {
                store
                    .put_bytes_stored(bytes, "application/wasm")
                    .await
                    .with_context(|| format!("archiving component {shown}"))?;
            }
        }
        let run_id = weft_engine::new_run_id();
        let digests: Vec<Digest> = loaded.components.iter().map(|c| c.digest).collect();
        let locked = LockedPlan::lock(&loaded.plan, &digests, &inputs).context("locking the plan")?;
        let params = loaded
            .plan
            .params
            .iter()
            .map(|(k, v)| (k.clone(), weft_engine::param_json(v)))
            .collect();
        self.records
            .create_run(&NewRun {
                id: &run_id,
                workflow: &loaded.plan.name,
                file,
                plan: &locked.to_json(),
                source: &loaded.source,
                overrides,
                params: &params,
                inputs: &inputs,
                steps: &weft_engine::planned_steps(&loaded.plan, &digests),
            })
            .await
            .context("recording the run")?;
        Ok(Prepared {
            run_id,
            locked,
            plan: loaded.plan,
            digests,
            inputs,
            resumed: false,
            on_workers: false,
            recorded: Vec::new(),
            sandbox: loaded.sandbox,
            components: loaded.components,
        })
    }

    /// An interrupted run, from its records: the locked plan, the components it pinned
    /// (from the store's archive), the stored inputs, and the steps already committed.
    pub async fn resume(&self, run_id: &str) -> anyhow::Result<Prepared> {
        let detail = self.records.run(run_id).await?;
        if detail.status() == RunStatus::Succeeded {
            anyhow::bail!("run {run_id} already succeeded: there is nothing to resume");
        }
        let locked = self.locked_plan(run_id).await?;
        let (plan, digests) = locked.unlock().with_context(|| format!("run {run_id}"))?;
        let planned: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        let recorded: Vec<&str> = detail.steps.iter().map(|s| s.id.as_str()).collect();
        if planned != recorded {
            anyhow::bail!(
                "run {run_id}: its locked plan has steps {planned:?}, its records {recorded:?}: cannot resume"
            );
        }
        let sandbox = self.loader.sandbox(locked.needs_fuel())?;
        if detail.summary.on_workers {
            // The workers load the components; this process only hands the run back to them.
            self.records.reopen_on_workers(run_id).await?;
            return Ok(Prepared {
                run_id: run_id.to_string(),
                inputs: locked.input_artifacts(),
                locked,
                plan,
                digests,
                resumed: true,
                on_workers: true,
                recorded: Vec::new(),
                sandbox,
                components: Vec::new(),
            });
        }
        self.sweep_staging().await;
        let components = self.archived_components(&locked, &sandbox).await?;
        let components = digests
            .iter()
            .map(|d| components.iter().find(|c| c.digest == *d).cloned())
            .collect::<Option<Vec<_>>>()
            .context("bug: a locked step's component was not loaded")?;
        self.records.reopen_run(run_id).await?;
        Ok(Prepared {
            run_id: run_id.to_string(),
            inputs: locked.input_artifacts(),
            locked,
            plan,
            digests,
            resumed: true,
            on_workers: false,
            recorded: detail.steps,
            sandbox,
            components,
        })
    }

    /// The locked plan a run was recorded with.
    pub async fn locked_plan(&self, run_id: &str) -> anyhow::Result<LockedPlan> {
        let text = self.records.locked_plan(run_id).await?.with_context(|| {
            format!("run {run_id} was recorded by a Weft that did not lock plans: it cannot be resumed or replayed")
        })?;
        LockedPlan::from_json(&text).with_context(|| format!("run {run_id}"))
    }

    /// Loads each component of a locked plan from the store's archive (its bytes checked
    /// against the digest as they are read).
    pub(crate) async fn archived_components(
        &self,
        locked: &LockedPlan,
        sandbox: &Sandbox,
    ) -> anyhow::Result<Vec<Arc<LoadedComponent>>> {
        let mut loaded = Vec::with_capacity(locked.components.len());
        for c in &locked.components {
            let name = format!("{}@{}", c.info.name, c.info.version);
            let bytes = read_stored_component(&self.store, &c.digest)
                .await
                .with_context(|| format!("reading the archived component `{name}` ({}) from the store", c.digest))?;
            let component = sandbox.load(&bytes, &format!("archived `{name}`")).await?;
            if component.digest != c.digest {
                anyhow::bail!(
                    "bug: the archived `{name}` loaded as {}, not {}",
                    component.digest,
                    c.digest
                );
            }
            loaded.push(component);
        }
        Ok(loaded)
    }

    /// Runs a prepared run to its end (its steps committed as they finish, its end
    /// recorded), sending progress to `events`.
    pub async fn run(
        &self,
        prepared: Prepared,
        settings: &RunSettings,
        events: Option<UnboundedSender<RunEvent>>,
    ) -> anyhow::Result<RunReport> {
        if let Some(workers) = &settings.on_workers {
            let time_limit = settings.timeout.or(prepared.plan.timeout);
            return self
                .run_on_workers(&prepared, workers, &settings.cancel, time_limit, events)
                .await;
        }
        if prepared.on_workers {
            anyhow::bail!(
                "run {} is executed by workers: it cannot be run in this process",
                prepared.run_id
            );
        }
        let Prepared {
            run_id,
            plan,
            digests,
            inputs,
            recorded,
            sandbox,
            components,
            ..
        } = prepared;
        let options = RunOptions {
            concurrency: settings.concurrency,
            use_cache: settings.use_cache,
            resumed: recorded,
            timeout: settings.timeout,
            cancel: settings.cancel.clone(),
            ..RunOptions::new(&run_id)
        };
        let local: Arc<dyn weft_task::Executor> = Arc::new(LocalExecutor::new(sandbox, self.store.clone(), components));
        let executor = match &settings.admission {
            Some(admission) => Arc::new(weft_task::Admitted {
                inner: local,
                admission: admission.clone(),
            }),
            None => local,
        };
        let services = RunServices {
            executor,
            store: self.store.clone(),
            journal: Arc::new(self.records.clone()),
        };
        run_plan(&plan, &digests, inputs, &services, &options, events)
            .await
            .with_context(|| format!("run {run_id} stopped; continue it with `weft run --resume {run_id}`"))
    }
}
