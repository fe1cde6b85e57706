//! `weft artifact get`: stream an artifact out of the store.

use crate::cli::ArtifactCommand;
use crate::settings::Settings;
use anyhow::{Context, bail};
use weft_artifacts::{ArtifactStore, Digest};

pub async fn artifact(cmd: ArtifactCommand, settings: &Settings) -> anyhow::Result<u8> {
    let ArtifactCommand::Get { what, output } = cmd;
    let store = ArtifactStore::open(&settings.store_url)?;
    let digest = match what.as_slice() {
        [single] => single.parse::<Digest>().map_err(anyhow::Error::msg)?,
        [run, target] => {
            let report = crate::commands::runs::recorded_report(&settings.records().await?, run).await?;
            let run = &report.run_id;
            let Some((step, port)) = target.split_once('.') else {
                bail!("`{target}` is not STEP.PORT");
            };
            if step == "inputs" {
                report.inputs.get(port).map(|m| m.digest).with_context(|| {
                    format!(
                        "run {run} has no input `{port}`; inputs: {}",
                        report.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                })?
            } else {
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
                })?
            }
        }
        _ => bail!("give a digest, or a run id and STEP.PORT"),
    };
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &output {
        Some(path) => Box::new(
            tokio::fs::File::create(path)
                .await
                .with_context(|| format!("creating {}", path.display()))?,
        ),
        None => Box::new(tokio::io::stdout()),
    };
    let copied = store.copy_to(&digest, &mut sink).await?;
    if let Some(path) = output {
        eprintln!("wrote {copied} bytes ({digest}) to {}", path.display());
    }
    Ok(0)
}
