//! `weft runs list|show`, `weft logs`, `weft cancel`: the run records, read back.

use crate::cli::RunsCommand;
use crate::progress::fmt_duration;
use crate::settings::Settings;
use crate::text::shown;
use anyhow::bail;
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use std::time::Duration;
use weft_engine::{Reuse, RunReport};
use weft_records::Records;

pub async fn runs(cmd: RunsCommand, settings: &Settings) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    match cmd {
        RunsCommand::List { limit, json } => {
            let runs = records.list_runs(limit).await?;
            if json {
                let list: Vec<_> = runs.iter().map(weft_records::RunSummary::listing).collect();
                println!("{}", crate::text::json(&list)?);
                return Ok(0);
            }
            if runs.is_empty() {
                println!("no runs recorded in {}", settings.records);
                return Ok(0);
            }
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            table.set_header([
                "run", "workflow", "status", "steps", "reused", "failed", "started", "took",
            ]);
            for r in runs {
                let took = r
                    .finished_at
                    .map(|f| fmt_duration(Duration::from_millis(u64::try_from(f - r.started_at).unwrap_or(0))))
                    .unwrap_or_default();
                table.add_row([
                    r.id.clone(),
                    shown(&r.workflow).into_owned(),
                    r.status.clone(),
                    format!("{}/{}", r.succeeded, r.steps),
                    r.reused.to_string(),
                    r.failed.to_string(),
                    timestamp(r.started_at),
                    took,
                ]);
            }
            println!("{table}");
            Ok(0)
        }
        RunsCommand::Show { run, json } => {
            let detail = records.run(&resolve(&records, &run).await?).await?;
            let report = detail.report();
            if json {
                println!("{}", crate::text::json(&report)?);
            } else {
                println!(
                    "run {} of `{}` ({}), started {}",
                    detail.summary.id,
                    shown(&detail.summary.workflow),
                    shown(&detail.file),
                    timestamp(detail.summary.started_at)
                );
                if !detail.params.is_empty() {
                    let params: Vec<String> = detail
                        .params
                        .iter()
                        .map(|(k, v)| format!("{k}={}", shown(&v.to_string())))
                        .collect();
                    println!("params: {}", params.join(" "));
                }
                print!(
                    "{}",
                    crate::summary::render(&report, &weft_artifacts::shown_url(&settings.store_url))
                );
            }
            Ok(0)
        }
    }
}

/// `weft logs RUN [STEP]`.
pub async fn logs(run: &str, step: Option<&str>, settings: &Settings) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    let run = resolve(&records, run).await?;
    let lines = records.logs(&run, step).await?;
    if lines.is_empty() {
        eprintln!(
            "no log lines recorded for {}",
            step.map_or("the run".into(), |s| format!("step `{s}`"))
        );
    }
    for (step, line) in lines {
        println!("{step} [{}] {}", line.stream, shown(&line.message));
    }
    // A cache hit ran nothing, so logged nothing: point at the run that did.
    let detail = records.run(&run).await?;
    let shown = |id: &str| step.is_none_or(|s| id == s || id.strip_prefix(s).is_some_and(|r| r.starts_with('[')));
    for s in detail.steps.iter().filter(|s| shown(&s.id)) {
        if let Some(Reuse::Cached(from)) = &s.reuse {
            let id = if s.id.contains('[') {
                format!("'{}'", s.id)
            } else {
                s.id.clone()
            };
            eprintln!(
                "step `{}` was a cache hit: its log is in run {from} (weft logs {from} {id})",
                s.id
            );
        }
    }
    Ok(0)
}

/// `weft cancel RUN`.
pub async fn cancel(run: &str, settings: &Settings) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    let run = resolve(&records, run).await?;
    if records.run(&run).await?.summary.status == "interrupted" {
        bail!("run {run} is not running: its process is gone (continue it with `weft run --resume {run}`)");
    }
    let on_workers = records.run(&run).await?.summary.on_workers;
    let asked = if on_workers {
        settings.runner().await?.cancel_queued(&run).await?
    } else {
        records.request_cancel(&run).await?
    };
    if asked {
        println!("asked run {run} to stop; it stops within a second and is recorded as cancelled");
        Ok(0)
    } else {
        let status = records.run(&run).await?.summary.status;
        bail!("run {run} is not running (it {status})")
    }
}

/// A run id, with `last` for the newest run.
pub async fn resolve(records: &Records, run: &str) -> anyhow::Result<String> {
    if run == "last" {
        return match records.last_run().await? {
            Some(id) => Ok(id),
            None => bail!("no runs recorded yet"),
        };
    }
    Ok(run.to_string())
}

/// A recorded run (`last` for the newest) as the engine's report: what `artifact get`,
/// `metrics` and `runs show` read, complete up to the last committed step even when the
/// run was interrupted.
pub async fn recorded_report(records: &Records, run: &str) -> anyhow::Result<RunReport> {
    let run = resolve(records, run).await?;
    Ok(records.run(&run).await?.report())
}

pub(crate) fn timestamp(ms: i64) -> String {
    weft_records::rfc3339(ms)
}
