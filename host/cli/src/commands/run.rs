//! `weft run FILE`: validate, upload the inputs, run with live progress, print the summary.

use crate::cli::RunArgs;
use crate::load::{LoadError, load_workflow};
use crate::settings::Settings;
use anyhow::Context;
use std::collections::BTreeMap;
use std::sync::Arc;
use weft_artifacts::ArtifactStore;
use weft_engine::{LocalExecutor, RunOptions, RunStatus, new_run_id, run_plan};
use weft_sandbox::Sandbox;

pub async fn run(args: &RunArgs, settings: &Settings, sandbox: Arc<Sandbox>) -> anyhow::Result<u8> {
    let loaded = match load_workflow(&args.workflow.file, &args.workflow.params, settings, &sandbox).await {
        Ok(w) => w,
        Err(LoadError::Invalid(text)) => {
            eprintln!("{text}");
            return Ok(crate::EXIT_INVALID);
        }
        Err(LoadError::Other(e)) => return Err(e),
    };
    let store =
        ArtifactStore::open(&settings.store_url).with_context(|| format!("opening store {}", settings.store_url))?;

    let mut inputs = BTreeMap::new();
    for input in &loaded.plan.inputs {
        let path = &loaded.input_files[&input.name];
        let meta = store
            .import_file(path, &input.media_type)
            .await
            .with_context(|| format!("storing workflow input `{}`", input.name))?;
        inputs.insert(input.name.clone(), meta);
    }

    let run_id = new_run_id();
    let options = RunOptions {
        run_id: run_id.clone(),
        concurrency: args
            .concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get)),
    };
    let digests: Vec<_> = loaded.components.iter().map(|c| c.digest).collect();
    let executor = Arc::new(LocalExecutor::new(
        sandbox,
        store.clone(),
        loaded.components.iter().cloned(),
    ));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ids = loaded.plan.steps.iter().map(|s| s.id.clone()).collect();
    if !args.json {
        eprintln!(
            "run {run_id}: workflow `{}`, {} steps",
            loaded.plan.name,
            loaded.plan.steps.len()
        );
    }
    let display = tokio::spawn(crate::progress::show(ids, rx, args.no_progress || args.json));
    let report = run_plan(&loaded.plan, &digests, inputs, executor, &store, &options, Some(tx))
        .await
        .context("recording the run")?;
    let _ = display.await;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", crate::summary::render(&report, store.url()));
    }
    Ok(if report.status == RunStatus::Succeeded {
        0
    } else {
        crate::EXIT_FAILED
    })
}
