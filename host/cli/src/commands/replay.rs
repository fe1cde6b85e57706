//! `weft replay RUN STEP`: execute one recorded step again — the archived component, the
//! recorded inputs and parameters — and compare its outputs with the recorded digests.

use crate::commands::runs::resolve;
use crate::settings::Settings;
use anyhow::{Context, bail};
use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use weft_artifacts::ArtifactMeta;
use weft_engine::StepStatus;
use weft_model::{Limits, ParamType, ParamValue};
use weft_records::RunDetail;
use weft_sandbox::{Provenance, StepRequest, StepSeed};

pub async fn replay(run: &str, step: &str, settings: &Settings) -> anyhow::Result<u8> {
    let records = settings.records().await?;
    let detail = records.run(&resolve(&records, run).await?).await?;
    let run = detail.summary.id.clone();
    let Some(rec) = detail.steps.iter().find(|s| s.id == step) else {
        let ids: Vec<&str> = detail.steps.iter().map(|s| s.id.as_str()).collect();
        bail!("run {run} has no step `{step}`; its steps: {}", ids.join(", "));
    };
    if rec.status != StepStatus::Succeeded {
        bail!(
            "step `{step}` of run {run} did not succeed ({}): there are no outputs to compare",
            rec.status.as_str()
        );
    }
    let store = settings.open_store()?;
    if !store.contains(&rec.component).await {
        bail!(
            "the component of `{step}` ({}) is not archived in {}",
            rec.component,
            store.url()
        );
    }
    let mut bytes = Vec::new();
    store
        .copy_to(&rec.component, &mut bytes)
        .await
        .context("reading the archived component")?;
    let sandbox = crate::commands::sandbox(settings, false)?;
    let component = sandbox.load(&bytes, &format!("component of `{step}`")).await?;

    let mut params = Vec::new();
    for spec in &component.info.params {
        let value = rec
            .params
            .get(&spec.name)
            .and_then(|v| typed(spec.ty, v))
            .with_context(|| format!("the records hold no usable value of parameter `{}`", spec.name))?;
        params.push((spec.name.clone(), value));
    }
    let mut inputs = Vec::new();
    for input in &rec.inputs {
        let meta = recorded_artifact(&detail, &input.source)
            .filter(|m| m.digest == input.digest)
            .with_context(|| format!("input `{}` ({}) is not in the records", input.port, input.source))?;
        inputs.push((input.port.clone(), Provenance::origin(input.source.clone(), meta)));
    }
    let outcome = sandbox
        .run(
            &component,
            StepRequest {
                store: store.clone(),
                inputs,
                params,
                output_types: rec
                    .outputs
                    .iter()
                    .map(|(p, m)| (p.clone(), m.media_type.clone()))
                    .collect(),
                limits: Limits::default(),
                interrupt: None,
                // The same random bytes as the recorded execution: they follow from the
                // step id and the attempt that succeeded.
                seed: StepSeed {
                    step: rec.id.clone(),
                    attempt: rec.attempts.last().map_or(1, |a| a.number),
                },
            },
        )
        .await;
    let staged = match outcome.result {
        Ok(staged) => staged,
        Err(failure) => {
            println!(
                "replaying `{step}` of run {run}: the step failed this time: {}",
                crate::text::shown_lines(&failure.to_string())
            );
            return Ok(crate::EXIT_FAILED);
        }
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["output", "recorded", "replayed", "identical", "stored copy"]);
    let mut identical = staged.len() == rec.outputs.len();
    let mut staged = staged;
    for (port, recorded) in &rec.outputs {
        let replayed = staged.iter().find(|o| o.port == *port).map(|o| o.staged.digest());
        let same = replayed == Some(recorded.digest);
        identical &= same;
        // The recorded output as the store holds it now: a damaged copy is reported, and
        // repaired from the replay when the replay reproduced it exactly.
        let stored = match store.verify(&recorded.digest).await {
            Ok(_) => "ok".to_string(),
            Err(e) => {
                identical = false;
                let fixed = match staged.iter().position(|o| o.port == *port) {
                    Some(k) if same => store
                        .publish(staged.remove(k).staged, &recorded.media_type)
                        .await
                        .is_ok(),
                    _ => false,
                };
                let what = if e.is_corruption() { "DAMAGED" } else { "UNREADABLE" };
                if fixed {
                    format!("{what}, repaired from this replay")
                } else {
                    format!("{what}: {e}")
                }
            }
        };
        table.add_row([
            port.clone(),
            recorded.digest.to_string(),
            replayed.map_or_else(|| "(not written)".into(), |d| d.to_string()),
            if same { "yes".into() } else { "NO".to_string() },
            stored,
        ]);
    }
    println!("replayed `{step}` of run {run} (component {}):\n{table}", rec.component);
    println!(
        "{}",
        if identical {
            "outputs are bit-identical"
        } else {
            "outputs DIFFER from the recorded ones, or the stored copy was damaged"
        }
    );
    Ok(if identical { 0 } else { crate::EXIT_FAILED })
}

/// The recorded artifact behind a source (`inputs.NAME` or `STEP.PORT`) of the run.
fn recorded_artifact(detail: &RunDetail, source: &str) -> Option<ArtifactMeta> {
    match source.strip_prefix("inputs.") {
        Some(name) => detail.inputs.get(name).cloned(),
        None => {
            let (step, port) = source.rsplit_once('.')?;
            detail.steps.iter().find(|s| s.id == step)?.outputs.get(port).cloned()
        }
    }
}

/// A recorded JSON parameter value as the declared type.
fn typed(ty: ParamType, v: &serde_json::Value) -> Option<ParamValue> {
    match ty {
        ParamType::Str => v.as_str().map(|s| ParamValue::Str(s.to_string())),
        ParamType::Int => v.as_i64().map(ParamValue::Int),
        ParamType::Float => v.as_f64().map(ParamValue::Float),
        ParamType::Bool => v.as_bool().map(ParamValue::Bool),
    }
}
