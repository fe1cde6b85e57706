//! `weft run FILE` and `weft run --resume RUN`: validate, store the inputs, record the run,
//! run it with live progress (Ctrl-C cancels), print the summary.

use crate::cli::RunArgs;
use crate::load::{LoadError, LoadedWorkflow, load_source, needs_fuel_in};
use crate::settings::Settings;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use weft_artifacts::{ArtifactMeta, ArtifactStore};
use weft_engine::{CancelSignal, LocalExecutor, RunOptions, RunServices, RunStatus, StepReport, new_run_id, run_plan};
use weft_records::{NewRun, Records};
use weft_sandbox::Sandbox;

/// What a run starts from: a fresh workflow, or an interrupted run's records.
struct Start {
    run_id: String,
    /// The sandbox the components were loaded into (and must run in).
    sandbox: Arc<Sandbox>,
    loaded: LoadedWorkflow,
    inputs: BTreeMap<String, ArtifactMeta>,
    resumed: Vec<StepReport>,
}

pub async fn run(args: &RunArgs, settings: &Settings) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    let store = settings
        .open_store()
        .with_context(|| format!("opening store {}", settings.store_url))?;
    // What killed runs left half-written is of no use to anyone: clear it before adding more.
    match store.sweep_staging().await {
        Ok((0, _)) => {}
        Ok((files, bytes)) => eprintln!("removed {files} abandoned staging files ({bytes} bytes) from the store"),
        Err(e) => tracing::warn!("could not sweep the store's staging area: {e}"),
    }
    let start = match &args.resume {
        Some(run_id) => resume(run_id, &records, settings).await,
        None => {
            let file = args.file.as_deref().context("a workflow file is required")?;
            start(file, &args.params, &records, &store, settings).await
        }
    };
    let start = match start {
        Ok(s) => s,
        Err(StartError::Invalid(text)) => {
            eprintln!("{text}");
            return Ok(crate::EXIT_INVALID);
        }
        Err(StartError::Other(e)) => return Err(e),
    };
    let Start {
        run_id,
        sandbox,
        loaded,
        inputs,
        resumed,
    } = start;

    let cancel = CancelSignal::default();
    tokio::spawn(cancel_on_ctrl_c(cancel.clone()));
    let options = RunOptions {
        concurrency: args
            .concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get)),
        use_cache: !args.no_cache,
        resumed,
        timeout: args.timeout,
        cancel,
        ..RunOptions::new(&run_id)
    };
    let digests: Vec<_> = loaded.components.iter().map(|c| c.digest).collect();
    let services = RunServices {
        executor: Arc::new(LocalExecutor::new(
            sandbox,
            store.clone(),
            loaded.components.iter().cloned(),
        )),
        store: store.clone(),
        journal: Arc::new(records.clone()),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ids = loaded.plan.steps.iter().map(|s| s.id.clone()).collect();
    if !args.json {
        let verb = if args.resume.is_some() { "resuming" } else { "run" };
        eprintln!(
            "{verb} {run_id}: workflow `{}`, {} steps",
            loaded.plan.name,
            loaded.plan.steps.len()
        );
    }
    let display = tokio::spawn(crate::progress::show(ids, rx, args.no_progress || args.json));
    let report = run_plan(&loaded.plan, &digests, inputs, &services, &options, Some(tx))
        .await
        .with_context(|| format!("run {run_id} stopped; continue it with `weft run --resume {run_id}`"))?;
    let _ = display.await;
    records.finish_run(&report).await?;

    if args.json {
        println!("{}", crate::text::json(&report)?);
    } else {
        print!("{}", crate::summary::render(&report, store.url()));
    }
    Ok(if report.status == RunStatus::Succeeded {
        0
    } else {
        crate::EXIT_FAILED
    })
}

enum StartError {
    Invalid(String),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(e: anyhow::Error) -> Self {
        StartError::Other(e)
    }
}

impl From<LoadError> for StartError {
    fn from(e: LoadError) -> Self {
        match e {
            LoadError::Invalid(text) => StartError::Invalid(text),
            LoadError::Other(e) => StartError::Other(e),
        }
    }
}

/// A new run: load and validate the file, store its inputs, record the run.
async fn start(
    file: &Path,
    overrides: &[(String, String)],
    records: &Records,
    store: &ArtifactStore,
    settings: &Settings,
) -> Result<Start, StartError> {
    let text = crate::files::read_workflow(file).map_err(StartError::Invalid)?;
    let sandbox = crate::commands::sandbox(settings, needs_fuel_in(&text))?;
    let loaded = load_source(file, text, overrides, settings, &sandbox, true).await?;
    for (name, given, real) in &loaded.resolved_inputs {
        eprintln!("input `{name}`: {} resolved to {}", given.display(), real.display());
    }
    let mut inputs = BTreeMap::new();
    for input in &loaded.plan.inputs {
        let meta = loaded.input_files[&input.name]
            .import(store, &input.media_type)
            .await
            .with_context(|| format!("storing workflow input `{}`", input.name))?;
        inputs.insert(input.name.clone(), meta);
    }
    // Archive the components, content-addressed like any artifact: `weft replay` runs the
    // exact bytes a step ran, whatever happens to the plugin directory later.
    // A damaged archive copy is replaced (checking costs a hash of the component).
    for (digest, path, bytes) in &loaded.component_files {
        if store.verify(digest).await.is_err() {
            store
                .put_bytes(bytes, "application/wasm")
                .await
                .with_context(|| format!("archiving component {}", path.display()))?;
        }
    }
    let run_id = new_run_id();
    let digests: Vec<_> = loaded.components.iter().map(|c| c.digest).collect();
    let params = loaded
        .plan
        .params
        .iter()
        .map(|(k, v)| (k.clone(), weft_engine::param_json(v)))
        .collect();
    records
        .create_run(&NewRun {
            id: &run_id,
            workflow: &loaded.plan.name,
            file: &file.display().to_string(),
            source: &loaded.source,
            overrides,
            params: &params,
            inputs: &inputs,
            steps: &weft_engine::planned_steps(&loaded.plan, &digests),
        })
        .await
        .context("recording the run")?;
    Ok(Start {
        run_id,
        sandbox,
        loaded,
        inputs,
        resumed: Vec::new(),
    })
}

/// A recorded run: re-plan from the recorded workflow text and parameters, take the
/// recorded inputs, and keep what was committed.
async fn resume(run_id: &str, records: &Records, settings: &Settings) -> Result<Start, StartError> {
    let detail = records.run(run_id).await.map_err(anyhow::Error::from)?;
    if detail.status() == RunStatus::Succeeded {
        return Err(anyhow::anyhow!("run {run_id} already succeeded: there is nothing to resume").into());
    }
    let sandbox = crate::commands::sandbox(settings, needs_fuel_in(&detail.source))?;
    let loaded = load_source(
        &PathBuf::from(&detail.file),
        detail.source.clone(),
        &detail.overrides,
        settings,
        &sandbox,
        false,
    )
    .await?;
    let planned: Vec<&str> = loaded.plan.steps.iter().map(|s| s.id.as_str()).collect();
    let recorded: Vec<&str> = detail.steps.iter().map(|s| s.id.as_str()).collect();
    // Runs recorded before their steps were written with them (older records) may have no
    // step rows: nothing of theirs was committed, so they resume as planned now.
    if planned != recorded && !recorded.is_empty() {
        return Err(anyhow::anyhow!(
            "run {run_id} planned steps {recorded:?}, the recorded workflow now plans {planned:?}: cannot resume"
        )
        .into());
    }
    let missing: Vec<&String> = loaded
        .plan
        .inputs
        .iter()
        .map(|i| &i.name)
        .filter(|n| !detail.inputs.contains_key(*n))
        .collect();
    if !missing.is_empty() {
        return Err(anyhow::anyhow!("run {run_id} recorded no workflow input {missing:?}: cannot resume").into());
    }
    records.reopen_run(run_id).await.map_err(anyhow::Error::from)?;
    Ok(Start {
        run_id: run_id.to_string(),
        sandbox,
        loaded,
        inputs: detail.inputs,
        resumed: detail.steps,
    })
}

/// The first Ctrl-C cancels the run (running steps stop, the run is recorded as
/// cancelled); a second one ends the process at once.
async fn cancel_on_ctrl_c(cancel: CancelSignal) {
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("\ncancelling (Ctrl-C again to quit at once; `weft run --resume` continues the run later)");
        cancel.cancel("cancelled (Ctrl-C)");
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(130);
        }
    }
}
