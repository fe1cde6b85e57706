//! `artifact get`, `metrics` and `lineage` against a server (`--server URL --token T`),
//! printed as the local commands print them: the server answers with the tenant's runs and
//! artifacts only, and every downloaded byte is checked against its digest before it is
//! kept or shown.

use crate::cli::ArtifactCommand;
use crate::remote::Remote;
use anyhow::{Context, bail};
use std::io::IsTerminal;
use tokio::io::AsyncSeekExt;
use weft_artifacts::Digest;
use weft_engine::RunReport;

/// `weft --server URL artifact get RUN STEP.PORT | DIGEST [-o FILE]`.
pub async fn artifact(cmd: ArtifactCommand, remote: &Remote) -> anyhow::Result<u8> {
    let ArtifactCommand::Get { what, output } = cmd;
    let digest = match what.as_slice() {
        [single] => single.parse::<Digest>().map_err(anyhow::Error::msg)?,
        [run, target] => super::artifact::digest_named(&report(remote, run).await?, target)?,
        _ => bail!("give a digest, or a run id and STEP.PORT"),
    };
    match output {
        Some(path) => {
            let copied = super::artifact::to_file(&path, async |file| remote.download(&digest, file).await).await?;
            eprintln!("wrote {copied} bytes ({digest}) to {}", path.display());
        }
        None => {
            // An artifact's bytes are a guest's: raw on a terminal they could drive it.
            if std::io::stdout().is_terminal() {
                bail!("stdout is a terminal: write the artifact to a file with `-o FILE`, or pipe it");
            }
            // Bytes on stdout cannot be taken back: they are downloaded and checked whole
            // into an unnamed temporary file first, so damaged bytes print nothing.
            let mut temp = tokio::fs::File::from_std(tempfile::tempfile().context("making a temporary file")?);
            remote.download(&digest, &mut temp).await?;
            temp.rewind().await.context("reading the temporary file")?;
            tokio::io::copy(&mut temp, &mut tokio::io::stdout())
                .await
                .context("writing the artifact to stdout")?;
        }
    }
    Ok(0)
}

/// Most runs a server compares at once (its `GET /api/v1/compare` says so too).
const MAX_COMPARED: usize = 100;

/// `weft --server URL metrics RUN... [--last N] [--step PREFIX]`.
pub async fn metrics(
    runs: Vec<String>,
    last: Option<usize>,
    step: Option<String>,
    remote: &Remote,
) -> anyhow::Result<u8> {
    let mut ids = Vec::new();
    for run in &runs {
        ids.push(remote.resolve(run).await?);
    }
    if let Some(n) = last {
        let list = remote.get(&format!("/runs?limit={}", n.min(u32::MAX as usize))).await?;
        let newest = list["runs"].as_array().cloned().unwrap_or_default();
        ids.extend(
            newest
                .iter()
                .rev()
                .filter_map(|r| r["run_id"].as_str().map(str::to_string)),
        );
    }
    if ids.is_empty() {
        bail!("name runs to compare, or pass --last N");
    }
    if ids.len() > MAX_COMPARED {
        bail!(
            "{} runs named: a server compares at most {MAX_COMPARED} at once",
            ids.len()
        );
    }
    let escaped: Vec<String> = ids.iter().map(|id| weft_server::url_escape(id)).collect();
    let mut path = format!("/compare?runs={}", escaped.join(","));
    if let Some(step) = &step {
        path.push_str(&format!("&step={}", weft_server::url_escape(step)));
    }
    let compared = serde_json::from_value(remote.get(&path).await?).context("reading the server's comparison")?;
    super::metrics::print_table(&compared);
    Ok(0)
}

/// `weft --server URL lineage DIGEST [--json]`.
pub async fn lineage(digest: &str, json: bool, remote: &Remote) -> anyhow::Result<u8> {
    let digest: Digest = digest.parse().map_err(anyhow::Error::msg)?;
    let answer = remote.get(&format!("/artifacts/{digest}/lineage")).await?;
    let nodes = weft_records::lineage_from_json(&answer).map_err(|e| anyhow::anyhow!("the server's lineage: {e}"))?;
    if json {
        println!("{}", crate::text::json(&weft_records::lineage_json(&nodes))?);
    } else {
        print!("{}", super::lineage::render(&nodes));
    }
    Ok(0)
}

/// A run's report (`last` for the tenant's newest run).
async fn report(remote: &Remote, run: &str) -> anyhow::Result<RunReport> {
    let run = remote.resolve(run).await?;
    serde_json::from_value(remote.get(&format!("/runs/{run}")).await?).context("reading the run's report")
}
