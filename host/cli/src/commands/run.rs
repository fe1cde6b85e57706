//! `weft run FILE` and `weft run --resume RUN`: the runner starts (or resumes) the run;
//! this shows its progress (Ctrl-C cancels) and prints the summary.

use crate::cli::RunArgs;
use crate::settings::Settings;
use anyhow::Context;
use weft_engine::{CancelSignal, RunReport, RunStatus};
use weft_runner::{LoadError, OnWorkers, RunSettings, Runner};

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
        // A run handed to workers stays theirs, resumed or not.
        on_workers: (args.on_workers || prepared.on_workers).then_some(OnWorkers {
            step_limit: 0,
            output_bytes: None,
            stored_bytes: None,
            poll: FOLLOW_POLL,
        }),
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let ids = prepared.plan.steps.iter().map(|s| s.id.clone()).collect();
    if !args.json {
        let verb = if prepared.resumed { "resuming" } else { "run" };
        let place = if run_settings.on_workers.is_some() {
            ", queued for workers (`weft worker` on these records and this store executes it)"
        } else {
            ""
        };
        eprintln!(
            "{verb} {}: workflow `{}`, {} steps{place}",
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
