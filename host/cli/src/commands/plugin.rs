//! `weft plugin inspect FILE.wasm`: what a component declares.

use crate::text::{shown, shown_lines};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::path::PathBuf;
use weft_sandbox::{Sandbox, SandboxError};

pub async fn inspect(file: PathBuf, sandbox: &Sandbox) -> anyhow::Result<u8> {
    let bytes = weft_runner::read_component(&file)?;
    let size = bytes.len();
    let component = match sandbox.load(&bytes, &file.display().to_string()).await {
        Ok(c) => c,
        Err(e @ (SandboxError::NotAStep { .. } | SandboxError::Describe { .. })) => {
            println!(
                "{}: does NOT implement the Weft world weft:step/step-component@0.1.0",
                file.display()
            );
            println!("  {}", shown_lines(&e.to_string()));
            return Ok(crate::EXIT_FAILED);
        }
        Err(e) => return Err(e.into()),
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
