//! `weft step run`: the plugin author's harness — run one component on local files and
//! parameters, without a workflow, and see its outputs, log and metrics.

use crate::cli::StepCommand;
use crate::inputs::InputPolicy;
use crate::progress::fmt_duration;
use crate::settings::Settings;
use crate::text::{shown, shown_lines};
use anyhow::Context;
use weft_artifacts::ArtifactStore;
use weft_model::{Limits, media_type};
use weft_sandbox::{Sandbox, StepRequest, StepSeed};
use weft_task::Provenance;

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

/// Largest input file of `weft step run`: its scratch store keeps inputs in memory.
const MAX_STEP_RUN_INPUT_BYTES: u64 = 1 << 30;

pub async fn step(cmd: StepCommand, settings: &Settings, sandbox: &Sandbox) -> anyhow::Result<u8> {
    let StepCommand::Run {
        file,
        inputs,
        params,
        out,
        memory,
        timeout,
    } = cmd;
    let bytes = match crate::files::read_component(&file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e:#}");
            return Ok(crate::EXIT_INVALID);
        }
    };
    let component = sandbox.load(&bytes, &file.display().to_string()).await?;
    let info = &component.info;
    // Port names become file names under --out: a declaration with a name that is not an
    // identifier (`../x`, `/etc/y`) is refused before anything runs.
    let declared = info.problems();
    if !declared.is_empty() {
        for p in &declared {
            eprintln!("error: {}: {}", file.display(), shown(p));
        }
        eprintln!(
            "error: {} declares itself wrongly (see `weft plugin inspect`); nothing was run",
            file.display()
        );
        return Ok(crate::EXIT_INVALID);
    }
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
            eprintln!("error: {}", shown(p));
        }
        return Ok(crate::EXIT_INVALID);
    }

    // A scratch store in memory: the harness keeps only what it writes to --out.
    let store = ArtifactStore::open("memory://")?;
    let policy = InputPolicy {
        max_bytes: settings.input_policy.max_bytes.min(MAX_STEP_RUN_INPUT_BYTES),
        ..settings.input_policy.clone()
    };
    let mut checked = Vec::new();
    for (port, path) in &inputs {
        match policy.check(path) {
            Ok(c) => checked.push((port, path, c)),
            Err(e) => problems.push(format!("--input {port}: {e}")),
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("error: {}", shown(p));
        }
        return Ok(crate::EXIT_INVALID);
    }
    let mut bound = Vec::new();
    for (port, path, file) in checked {
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
        let meta = file
            .import(&store, label)
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
        eprintln!("[{}] {}", line.stream.label(), shown(&line.message));
    }
    for (name, value) in &outcome.metrics {
        println!("metric {} = {value}", shown(name));
    }
    let staged = match outcome.result {
        Ok(staged) => staged,
        Err(failure) => {
            println!(
                "{} {} failed after {}: {}",
                shown(&info.name),
                shown(&info.version),
                fmt_duration(outcome.duration),
                shown_lines(&failure.to_string())
            );
            return Ok(crate::EXIT_FAILED);
        }
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for output in staged {
        let meta = store.publish(output.staged, &output.media_type).await?;
        // Checked above through `problems()`; checked again here because this is where a
        // guest's string becomes a path.
        if !weft_model::step_info::is_identifier(&output.port) {
            anyhow::bail!("refusing output port name `{}` as a file name", shown(&output.port));
        }
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
            shown(&meta.media_type),
            meta.digest
        );
    }
    println!(
        "{} {} succeeded in {}",
        shown(&info.name),
        shown(&info.version),
        fmt_duration(outcome.duration)
    );
    Ok(0)
}
