//! `run` (and `run --resume`), `runs`, `logs` and `cancel` against a server (`--server URL --token T`), with the
//! output and exit codes of the local commands: a run's inputs are uploaded (only the bytes
//! the server does not hold for the tenant), its progress shown from the server's events,
//! its summary printed from the server's report.

use crate::cli::{RunArgs, RunsCommand};
use crate::remote::{Remote, ok};
use anyhow::Context;
use std::collections::BTreeMap;
use std::time::Duration;
use weft_engine::{Reuse, RunEvent, RunReport, RunStatus, StepState};

/// `weft --server URL run FILE`.
pub async fn run(args: &RunArgs, remote: &Remote, server: &str) -> anyhow::Result<u8> {
    if let Some(run) = &args.resume {
        let run_id = remote.resolve(run).await?;
        let (status, body) = remote
            .post(&format!("/runs/{run_id}/resume"), &serde_json::json!({}))
            .await?;
        if status != 202 {
            ok(status, body)?;
        }
        return follow(args, remote, server, &run_id, "resuming").await;
    }
    let file = args.file.as_deref().context("a workflow file is required")?;
    let text = weft_runner::read_capped(file, weft_runner::MAX_WORKFLOW_BYTES)
        .map_err(|e| anyhow::anyhow!("reading {}: {e}", file.display()))?;
    let text = String::from_utf8(text).with_context(|| format!("{} is not UTF-8 text", file.display()))?;
    // The inputs the workflow names, uploaded from next to it (a workflow the server finds
    // invalid is reported by the server, with every problem).
    let mut inputs = BTreeMap::new();
    if let Ok((workflow, _)) = weft_model::parse(&text) {
        let dir = file.parent().unwrap_or(std::path::Path::new("."));
        for input in &workflow.inputs {
            let digest = remote.upload(&dir.join(&input.path.value)).await?;
            inputs.insert(input.name.value.clone(), digest.to_string());
        }
    }
    let params: BTreeMap<&String, &String> = args.params.iter().map(|(k, v)| (k, v)).collect();
    let shown_file = file.display().to_string();
    let (status, body) = remote
        .post(
            "/runs",
            &serde_json::json!({"workflow": text, "params": params, "inputs": inputs, "file": shown_file}),
        )
        .await?;
    if status == 422 {
        eprintln!(
            "{}",
            crate::text::shown(body["error"]["message"].as_str().unwrap_or_default())
        );
        return Ok(crate::EXIT_INVALID);
    }
    let submitted = ok(status, body)?;
    let run_id = submitted["run_id"].as_str().context("the server named no run")?;
    follow(args, remote, server, run_id, "run").await
}

/// Shows a run's progress from its events until it finishes (Ctrl-C cancels it on the
/// server), then its summary; the exit code of a local run.
async fn follow(args: &RunArgs, remote: &Remote, server: &str, run_id: &str, verb: &str) -> anyhow::Result<u8> {
    let report: RunReport =
        serde_json::from_value(remote.get(&format!("/runs/{run_id}")).await?).context("reading the run's report")?;
    if !args.json {
        eprintln!(
            "{verb} {run_id} on {server}: workflow `{}`, {} steps",
            crate::text::shown(&report.workflow),
            report.steps.len()
        );
    }
    let ids = report.steps.iter().map(|s| s.id.clone()).collect();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let display = tokio::spawn(crate::progress::show(ids, rx, args.no_progress || args.json));
    let events = remote.events(run_id, |name, data| {
        if let Some(event) = as_run_event(name, data) {
            let _ = tx.send(event);
        }
    });
    tokio::select! {
        followed = events => followed?,
        _ = tokio::signal::ctrl_c() => {
            eprintln!("\ncancelling run {run_id} on the server");
            remote.post(&format!("/runs/{run_id}/cancel"), &serde_json::json!({})).await?;
        }
    }
    drop(tx);
    let _ = display.await;
    let report: RunReport =
        serde_json::from_value(remote.get(&format!("/runs/{run_id}")).await?).context("reading the run's report")?;
    if args.json {
        println!("{}", crate::text::json(&report)?);
    } else {
        print!("{}", crate::summary::render(&report, server));
    }
    Ok(if report.status == RunStatus::Succeeded {
        0
    } else {
        crate::EXIT_FAILED
    })
}

/// A server-sent event as the engine's progress event, for the same display.
fn as_run_event(name: &str, data: &serde_json::Value) -> Option<RunEvent> {
    let step = data["step"].as_str()?.to_string();
    let error = || data["error"].as_str().unwrap_or_default().to_string();
    let ms = |key: &str| Duration::from_secs_f64(data[key].as_f64().unwrap_or(0.0).max(0.0) / 1000.0);
    let state = match name {
        "step_started" => StepState::Running,
        "step_succeeded" => StepState::Succeeded(ms("duration_ms")),
        "step_failed" => StepState::Failed(error()),
        "step_blocked" => StepState::Blocked(error()),
        "step_skipped" => StepState::Skipped(error()),
        "step_cancelled" => StepState::Cancelled,
        "step_retrying" => StepState::Retrying {
            attempt: u32::try_from(data["attempt"].as_u64().unwrap_or(0)).unwrap_or(0),
            delay: ms("delay_ms"),
            error: error(),
        },
        "step_cached" => StepState::Reused(match data["reuse"]["cached_from"].as_str() {
            Some(run) => Reuse::Cached(run.to_string()),
            None => Reuse::Resumed,
        }),
        _ => return None,
    };
    Some(RunEvent {
        step,
        state,
        metrics: Vec::new(),
    })
}

/// `weft --server URL runs list|show`.
pub async fn runs(cmd: RunsCommand, remote: &Remote, server: &str) -> anyhow::Result<u8> {
    match cmd {
        RunsCommand::List { limit, json } => {
            let list = remote.get(&format!("/runs?limit={limit}")).await?;
            let runs = list["runs"].as_array().cloned().unwrap_or_default();
            if json {
                println!("{}", crate::text::json(&runs)?);
            } else if runs.is_empty() {
                println!("no runs on {server}");
            } else {
                for r in runs {
                    let text = |k: &str| crate::text::shown(r[k].as_str().unwrap_or("-")).into_owned();
                    println!(
                        "{}  {}  {}  {}/{} steps  started {}",
                        text("run_id"),
                        text("workflow"),
                        text("status"),
                        r["succeeded"],
                        r["steps"],
                        text("started_at")
                    );
                }
            }
            Ok(0)
        }
        RunsCommand::Show { run, json } => {
            let run = remote.resolve(&run).await?;
            let report: RunReport = serde_json::from_value(remote.get(&format!("/runs/{run}")).await?)
                .context("reading the run's report")?;
            if json {
                println!("{}", crate::text::json(&report)?);
            } else {
                print!("{}", crate::summary::render(&report, server));
            }
            Ok(0)
        }
    }
}

/// `weft --server URL logs RUN [STEP]`.
pub async fn logs(run: &str, step: Option<&str>, remote: &Remote) -> anyhow::Result<u8> {
    let run = remote.resolve(run).await?;
    let mut offset = 0u64;
    loop {
        let mut path = format!("/runs/{run}/logs?offset={offset}");
        if let Some(step) = step {
            path.push_str(&format!("&step={}", weft_server::url_escape(step)));
        }
        let page = remote.get(&path).await?;
        let lines = page["lines"].as_array().cloned().unwrap_or_default();
        for line in &lines {
            let text = |k: &str| crate::text::shown(line[k].as_str().unwrap_or_default()).into_owned();
            println!("{} [{}] {}", text("step"), text("stream"), text("message"));
        }
        offset += lines.len() as u64;
        if lines.is_empty() || offset >= page["total"].as_u64().unwrap_or(0) {
            return Ok(0);
        }
    }
}

/// `weft --server URL cancel RUN`.
pub async fn cancel(run: &str, remote: &Remote) -> anyhow::Result<u8> {
    let run = remote.resolve(run).await?;
    let (status, body) = remote
        .post(&format!("/runs/{run}/cancel"), &serde_json::json!({}))
        .await?;
    if status == 202 {
        println!("asked run {run} to stop; it stops within a second and is recorded as cancelled");
        return Ok(0);
    }
    ok(status, body)?;
    Ok(0)
}
