//! `weft plugin inspect FILE.wasm`: what a component declares.

use crate::text::{shown, shown_lines};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::path::PathBuf;
use std::sync::Arc;
use weft_sandbox::{LoadedComponent, Sandbox, SandboxError};

/// A component as `inspect` judges it.
pub(crate) enum Checked {
    /// It implements the Weft world; its declaration may still have problems.
    Step(Arc<LoadedComponent>),
    /// It does not: why, as shown to the user.
    NotAStep(String),
}

/// Loads `bytes` and checks that they implement the Weft world; `shown` names them in
/// messages (the file, or the project it was built from).
pub(crate) async fn check(shown: &str, bytes: &[u8], sandbox: &Sandbox) -> anyhow::Result<Checked> {
    if !sandbox.is_compiled(bytes) && bytes.len() > 1 << 20 {
        // Language runtimes (Python, JS) take seconds to compile: say so first.
        eprintln!(
            "compiling {shown} ({}) for this machine; it is cached after the first time",
            weft_runner::fmt_size(bytes.len() as u64)
        );
    }
    match sandbox.load(bytes, shown).await {
        Ok(c) => Ok(Checked::Step(c)),
        Err(e @ SandboxError::NotAStep { .. }) => Ok(Checked::NotAStep(format!(
            "{shown}: does NOT implement the Weft world weft:step/step-component@0.1.0\n  {}",
            shown_lines(&e.to_string())
        ))),
        // It has the world's shape; its own code failed (the reason is in its words).
        Err(SandboxError::Describe { reason, .. }) => Ok(Checked::NotAStep(format!(
            "{shown}: its describe() failed: {}",
            shown_lines(reason.strip_prefix("crashed: ").unwrap_or(&reason))
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn inspect(file: PathBuf, sandbox: &Sandbox) -> anyhow::Result<u8> {
    let bytes = weft_runner::read_component(&file)?;
    let size = bytes.len();
    let component = match check(&file.display().to_string(), &bytes, sandbox).await? {
        Checked::Step(c) => c,
        Checked::NotAStep(why) => {
            println!("{why}");
            return Ok(crate::EXIT_FAILED);
        }
    };
    let info = &component.info;
    println!("{} {}", shown(&info.name), shown(&info.version));
    println!("  {}", shown(&info.description));
    println!("  file:      {} ({size} bytes)", file.display());
    println!("  digest:    {}", component.digest);
    println!("  world:     implements weft:step/step-component@0.1.0");
    let problems = info.problems();
    if !problems.is_empty() {
        println!("  problems:  {}", shown(&problems.join("; ")));
    }
    for (title, ports) in [("inputs", &info.inputs), ("outputs", &info.outputs)] {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([title, "media type", "description"]);
        for p in ports {
            // A fan-in port takes a list of artifacts; a `*/*` output passes its input's type on.
            let name = if p.many {
                format!("{} (many)", shown(&p.name))
            } else {
                shown(&p.name).into_owned()
            };
            t.add_row([name.as_str(), &shown(&p.media_type), &shown(&p.description)]);
        }
        println!("{t}");
    }
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(["param", "type", "default", "description"]);
    for p in &info.params {
        let default = p.default.as_ref().map_or_else(
            || "(required)".to_string(),
            |d| match d {
                weft_model::ParamValue::Str(s) => shown(&format!("{s:?}")).into_owned(),
                other => other.to_string(),
            },
        );
        t.add_row([&*shown(&p.name), p.ty.name(), &default, &shown(&p.description)]);
    }
    println!("{t}");
    Ok(if problems.is_empty() { 0 } else { crate::EXIT_FAILED })
}
