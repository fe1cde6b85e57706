//! `weft step run`: the plugin author's harness — the runner runs one component on local
//! files and parameters, without a workflow; this writes its outputs under `--out` and
//! shows its log and metrics.

use crate::cli::StepCommand;
use crate::progress::fmt_duration;
use crate::settings::Settings;
use crate::text::{shown, shown_lines};
use anyhow::Context;
use weft_model::Limits;
use weft_runner::{LocalStep, LocalStepError};

/// File extension for an output of this media type.
fn extension(media_type: &str) -> &'static str {
    let essence = media_type.split(';').next().unwrap_or("").trim();
    match essence {
        "text/csv" => "csv",
        "text/plain" => "txt",
        "application/json" => "json",
        e if e.ends_with("+json") => "json",
        _ => "bin",
    }
}

pub async fn step(cmd: StepCommand, settings: &Settings) -> anyhow::Result<u8> {
    let StepCommand::Run {
        file,
        inputs,
        params,
        out,
        memory,
        timeout,
    } = cmd;
    let limits = Limits {
        memory: memory
            .as_deref()
            .map(weft_model::quantity::parse_bytes)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        timeout: timeout
            .as_deref()
            .map(weft_model::quantity::parse_duration)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        fuel: None,
    };
    let step = LocalStep {
        file,
        inputs,
        params,
        limits,
    };
    let ran = match settings.loader().run_local_step(&step).await {
        Ok(ran) => ran,
        Err(LocalStepError::Problems(problems)) => {
            for p in &problems {
                eprintln!("error: {}", shown(p));
            }
            return Ok(crate::EXIT_INVALID);
        }
        Err(LocalStepError::Other(e)) => return Err(e),
    };
    let info = &ran.info;
    for line in &ran.log {
        eprintln!("[{}] {}", line.stream.label(), shown(&line.message));
    }
    for (name, value) in &ran.metrics {
        println!("metric {} = {value}", shown(name));
    }
    let outputs = match &ran.outputs {
        Ok(outputs) => outputs,
        Err(failure) => {
            println!(
                "{} {} failed after {}: {}",
                shown(&info.name),
                shown(&info.version),
                fmt_duration(ran.duration),
                shown_lines(&failure.to_string())
            );
            return Ok(crate::EXIT_FAILED);
        }
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for (port, meta) in outputs {
        // Checked by the runner through `problems()`; checked again here because this is
        // where a guest's string becomes a path.
        if !weft_model::step_info::is_identifier(port) {
            anyhow::bail!("refusing output port name `{}` as a file name", shown(port));
        }
        let path = out.join(format!("{port}.{}", extension(&meta.media_type)));
        let mut file = tokio::fs::File::create(&path)
            .await
            .with_context(|| format!("creating {}", path.display()))?;
        ran.store.copy_to(&meta.digest, &mut file).await?;
        println!(
            "output {port} -> {} ({} bytes, {}, {})",
            path.display(),
            meta.size,
            shown(&meta.media_type),
            meta.digest
        );
    }
    println!(
        "{} {} succeeded in {}",
        shown(&info.name),
        shown(&info.version),
        fmt_duration(ran.duration)
    );
    Ok(0)
}
