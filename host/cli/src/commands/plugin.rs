//! `weft plugin inspect FILE.wasm`: what a component declares.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use std::path::PathBuf;
use weft_sandbox::{Sandbox, SandboxError};

pub async fn inspect(file: PathBuf, sandbox: &Sandbox) -> anyhow::Result<u8> {
    let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let component = match sandbox.load_file(&file).await {
        Ok(c) => c,
        Err(e @ (SandboxError::NotAStep { .. } | SandboxError::Describe { .. })) => {
            println!(
                "{}: does NOT implement the Weft world weft:step/step-component@0.1.0",
                file.display()
            );
            println!("  {e}");
            return Ok(crate::EXIT_FAILED);
        }
        Err(e) => return Err(e.into()),
    };
    let info = &component.info;
    println!("{} {}", info.name, info.version);
    println!("  {}", info.description);
    println!("  file:      {} ({size} bytes)", file.display());
    println!("  digest:    {}", component.digest);
    println!("  world:     implements weft:step/step-component@0.1.0");
    let problems = info.problems();
    if !problems.is_empty() {
        println!("  problems:  {}", problems.join("; "));
    }
    for (title, ports) in [("inputs", &info.inputs), ("outputs", &info.outputs)] {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header([title, "media type", "description"]);
        for p in ports {
            // A fan-in port takes a list of artifacts; a `*/*` output passes its input's type on.
            let name = if p.many {
                format!("{} (many)", p.name)
            } else {
                p.name.clone()
            };
            t.add_row([name.as_str(), p.media_type.as_str(), p.description.as_str()]);
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
                weft_model::ParamValue::Str(s) => format!("{s:?}"),
                other => other.to_string(),
            },
        );
        t.add_row([p.name.as_str(), p.ty.name(), &default, p.description.as_str()]);
    }
    println!("{t}");
    Ok(if problems.is_empty() { 0 } else { crate::EXIT_FAILED })
}
