//! `weft artifact get`: stream an artifact out of the store, never a byte of a damaged one
//! into the file asked for.

use crate::cli::ArtifactCommand;
use crate::settings::Settings;
use anyhow::{Context, bail};
use std::path::Path;
use weft_artifacts::{Digest, WHOLE_LIMIT};
use weft_engine::RunReport;

pub async fn artifact(cmd: ArtifactCommand, settings: &Settings) -> anyhow::Result<u8> {
    let ArtifactCommand::Get { what, output } = cmd;
    // Small artifacts live in the records: the store is opened with them.
    let (records, store) = settings.store_and_records().await?;
    let digest = match what.as_slice() {
        [single] => single.parse::<Digest>().map_err(anyhow::Error::msg)?,
        [run, target] => digest_named(&crate::commands::runs::recorded_report(&records, run).await?, target)?,
        _ => bail!("give a digest, or a run id and STEP.PORT"),
    };
    let copied = match &output {
        Some(path) => to_file(path, async |file| Ok(store.copy_to(&digest, file).await?)).await?,
        None => {
            use std::io::IsTerminal;
            // An artifact's bytes are a guest's: raw on a terminal they could drive it.
            if std::io::stdout().is_terminal() {
                bail!("stdout is a terminal: write the artifact to a file with `-o FILE`, or pipe it");
            }
            // Bytes on stdout cannot be taken back: a large artifact is checked whole
            // first, so a damaged one prints nothing (the copy checks again as it goes).
            if store.reader(&digest).await?.size() > WHOLE_LIMIT {
                store.verify(&digest).await?;
            }
            store.copy_to(&digest, &mut tokio::io::stdout()).await?
        }
    };
    if let Some(path) = output {
        eprintln!("wrote {copied} bytes ({digest}) to {}", path.display());
    }
    Ok(0)
}

/// The digest a run's `STEP.PORT` (or `inputs.NAME`) names, or why there is none.
pub(crate) fn digest_named(report: &RunReport, target: &str) -> anyhow::Result<Digest> {
    let run = &report.run_id;
    let Some((step, port)) = target.split_once('.') else {
        bail!("`{target}` is not STEP.PORT");
    };
    if step == "inputs" {
        return report.inputs.get(port).map(|m| m.digest).with_context(|| {
            format!(
                "run {run} has no input `{port}`; inputs: {}",
                report.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        });
    }
    let s = report.step(step).with_context(|| {
        format!(
            "run {run} has no step `{step}`; steps: {}",
            report
                .steps
                .iter()
                .map(|s| s.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    s.outputs.get(port).map(|m| m.digest).with_context(|| {
        format!(
            "step `{step}` of run {run} has no output `{port}` ({:?}; outputs: {})",
            s.status,
            s.outputs.keys().cloned().collect::<Vec<_>>().join(", ")
        )
    })
}

/// Lets `write` fill a temporary file beside `path` and renames it into place only once
/// `write` succeeded (it checks every byte against the digest): a damaged artifact never
/// lands at `path`.
pub(crate) async fn to_file(
    path: &Path,
    write: impl AsyncFnOnce(&mut tokio::fs::File) -> anyhow::Result<u64>,
) -> anyhow::Result<u64> {
    let name = path.file_name().context("the output path names no file")?;
    let temp = path.with_file_name(format!(".{}.{}.partial", name.to_string_lossy(), std::process::id()));
    // A new file, never one already there (nor a symlink planted at this name).
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .await
        .with_context(|| format!("creating {}", temp.display()))?;
    let written = async {
        let copied = write(&mut file).await?;
        file.sync_all()
            .await
            .with_context(|| format!("writing {}", temp.display()))?;
        tokio::fs::rename(&temp, path)
            .await
            .with_context(|| format!("writing {}", path.display()))?;
        anyhow::Ok(copied)
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&temp).await;
    }
    written
}
