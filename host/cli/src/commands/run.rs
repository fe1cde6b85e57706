//! `weft run FILE` and `weft run --resume RUN`: the runner starts (or resumes) the run;
//! this shows its progress (Ctrl-C cancels) and prints the summary.

use crate::cli::RunArgs;
use crate::settings::Settings;
use anyhow::Context;
use weft_engine::{CancelSignal, RunReport, RunStatus};
use weft_runner::{LoadError, Prepared, RunSettings, Runner};

pub async fn run(args: &RunArgs, settings: &Settings) -> anyhow::Result<u8> {
    let runner = settings.runner().await?;
    let prepared = match &args.resume {
        Some(run_id) => runner.resume(run_id).await,
        None => {
            let file = args.file.as_deref().context("a workflow file is required")?;
            match runner.start(file, &args.params).await {
                Ok(p) => Ok(p),
                Err(LoadError::Invalid(invalid)) => {
                    eprintln!("{}", invalid.text);
                    return Ok(crate::EXIT_INVALID);
                }
                Err(LoadError::Other(e)) => Err(e),
            }
        }
    }?;

    if args.on_workers {
        return on_workers(args, &runner, prepared).await;
    }
    let cancel = CancelSignal::default();
    tokio::spawn(cancel_on_ctrl_c(cancel.clone()));
    let run_settings = RunSettings {
        concurrency: args
            .concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get)),
        use_cache: !args.no_cache,
        timeout: args.timeout,
        cancel,
        admission: None,
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ids = prepared.plan.steps.iter().map(|s| s.id.clone()).collect();
    if !args.json {
        let verb = if prepared.resumed { "resuming" } else { "run" };
        eprintln!(
            "{verb} {}: workflow `{}`, {} steps",
            prepared.run_id,
            prepared.plan.name,
            prepared.plan.steps.len()
        );
    }
    let display = tokio::spawn(crate::progress::show(ids, rx, args.no_progress || args.json));
    let report = runner.run(prepared, &run_settings, Some(tx)).await?;
    let _ = display.await;
    finish(args, &runner, &report)
}

/// How often a run on workers is looked at in the records.
const FOLLOW_POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// `weft run --on-workers`: queues the run's steps and follows its records until it ends;
/// Ctrl-C cancels it (the workers stop its steps).
async fn on_workers(args: &RunArgs, runner: &Runner, prepared: Prepared) -> anyhow::Result<u8> {
    if !args.json {
        eprintln!(
            "run {}: workflow `{}`, {} steps, queued for workers",
            prepared.run_id,
            prepared.plan.name,
            prepared.plan.steps.len()
        );
    }
    runner.queue(&prepared, 0).await?;
    let run_id = prepared.run_id.clone();
    let canceller = {
        let runner = runner.clone();
        let run_id = run_id.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ncancelling (Ctrl-C again to stop following; the run is cancelled all the same)");
                if let Err(e) = runner.cancel_queued(&run_id).await {
                    eprintln!("cannot cancel run {run_id}: {e:#}");
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ids = prepared.plan.steps.iter().map(|s| s.id.clone()).collect();
    let display = tokio::spawn(crate::progress::show(ids, rx, args.no_progress || args.json));
    let report = runner.follow(&run_id, FOLLOW_POLL, Some(tx)).await;
    canceller.abort();
    let report = report?;
    let _ = display.await;
    finish(args, runner, &report)
}

/// Prints the report; the exit code.
fn finish(args: &RunArgs, runner: &Runner, report: &RunReport) -> anyhow::Result<u8> {
    if args.json {
        println!("{}", crate::text::json(report)?);
    } else {
        print!("{}", crate::summary::render(report, runner.store.url()));
    }
    Ok(if report.status == RunStatus::Succeeded {
        0
    } else {
        crate::EXIT_FAILED
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
