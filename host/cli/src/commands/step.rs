//! `weft step run`: the plugin author's harness — run one component on local files and
//! parameters, without a workflow, and see its outputs, log and metrics.

use crate::cli::StepCommand;
use crate::progress::fmt_duration;
use anyhow::Context;
use weft_artifacts::ArtifactStore;
use weft_model::{Limits, media_type};
use weft_sandbox::{Provenance, Sandbox, StepRequest, StepSeed};

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

pub async fn step(cmd: StepCommand, sandbox: &Sandbox) -> anyhow::Result<u8> {
    let StepCommand::Run {
        file,
        inputs,
        params,
        out,
        memory,
        timeout,
    } = cmd;
    let component = sandbox.load_file(&file).await?;
    let info = &component.info;
    let mut problems: Vec<String> = Vec::new();
    let params = info.params_from_text(&params).unwrap_or_else(|p| {
        problems.extend(p);
        Vec::new()
    });
    for (port, _) in &inputs {
        if info.input(port).is_none() {
            let known: Vec<_> = info.inputs.iter().map(|p| p.name.as_str()).collect();
            problems.push(format!(
                "`{}` has no input `{port}`; its inputs are: {}",
                info.name,
                known.join(", ")
            ));
        }
    }
    for port in &info.inputs {
        let given = inputs.iter().filter(|(p, _)| *p == port.name).count();
        if given == 0 {
            problems.push(format!(
                "input `{}` ({}) needs --input {}=FILE",
                port.name, port.media_type, port.name
            ));
        } else if given > 1 && !port.many {
            problems.push(format!("input `{}` takes one file, {given} were given", port.name));
        }
    }
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
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {p}");
        }
        return Ok(crate::EXIT_INVALID);
    }

    // A scratch store in memory: the harness keeps only what it writes to --out.
    let store = ArtifactStore::open("memory://")?;
    let mut bound = Vec::new();
    for (port, path) in &inputs {
        let declared = info
            .input(port)
            .map(|p| p.media_type.as_str())
            .unwrap_or(media_type::ANY);
        // A concrete declared type labels the file; a wildcard one takes the file's own.
        let label = if declared.contains('*') {
            media_type::guess_from_path(&path.display().to_string())
        } else {
            declared
        };
        let meta = store
            .import_file(path, label)
            .await
            .with_context(|| format!("reading input `{port}`"))?;
        bound.push((port.clone(), Provenance::origin(path.display().to_string(), meta)));
    }
    let outcome = sandbox
        .run(
            &component,
            StepRequest {
                store: store.clone(),
                inputs: bound,
                params,
                output_types: Vec::new(),
                limits,
                interrupt: None,
                seed: StepSeed::default(),
            },
        )
        .await;

    for line in &outcome.log {
        eprintln!("[{}] {}", line.stream.label(), line.message);
    }
    for (name, value) in &outcome.metrics {
        println!("metric {name} = {value}");
    }
    let staged = match outcome.result {
        Ok(staged) => staged,
        Err(failure) => {
            println!(
                "{} {} failed after {}: {failure}",
                info.name,
                info.version,
                fmt_duration(outcome.duration)
            );
            return Ok(crate::EXIT_FAILED);
        }
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for output in staged {
        let meta = store.publish(output.staged, &output.media_type).await?;
        let path = out.join(format!("{}.{}", output.port, extension(&meta.media_type)));
        let mut file = tokio::fs::File::create(&path)
            .await
            .with_context(|| format!("creating {}", path.display()))?;
        store.copy_to(&meta.digest, &mut file).await?;
        println!(
            "output {} -> {} ({} bytes, {}, {})",
            output.port,
            path.display(),
            meta.size,
            meta.media_type,
            meta.digest
        );
    }
    println!(
        "{} {} succeeded in {}",
        info.name,
        info.version,
        fmt_duration(outcome.duration)
    );
    Ok(0)
}
