//! The browser libraries `weft serve`'s web UI embeds, from npm at the versions
//! `host/server/ui/package-lock.json` pins: `cargo xtask ui-vendor` installs them (`npm ci`)
//! and copies their files into `host/server/ui/assets/vendor/`, which is checked in (the
//! server builds with no npm); `ci` checks that the checked-in files are those bytes.

use crate::run;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// (file in `node_modules`, name under `assets/vendor`).
const FILES: [(&str, &str); 9] = [
    ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
    ("htmx.org/LICENSE", "htmx.LICENSE.txt"),
    ("htmx-ext-sse/dist/sse.min.js", "htmx-ext-sse.min.js"),
    ("htmx-ext-sse/LICENSE", "htmx-ext-sse.LICENSE.txt"),
    // The run's graph is laid out by dagre (its bundle carries graphlib).
    ("@dagrejs/dagre/dist/dagre.min.js", "dagre.min.js"),
    ("@dagrejs/dagre/LICENSE", "dagre.LICENSE.txt"),
    // Compare's plots.
    ("uplot/dist/uPlot.iife.min.js", "uPlot.min.js"),
    ("uplot/dist/uPlot.min.css", "uPlot.min.css"),
    ("uplot/LICENSE", "uPlot.LICENSE.txt"),
];

/// Installs the pinned packages and copies (or, with `check`, compares) their files.
pub fn vendor(root: &Path, check: bool) -> Result<()> {
    let ui = root.join("host/server/ui");
    run(Command::new("npm").current_dir(&ui).args([
        "ci",
        "--ignore-scripts",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]))
    .context("installing the UI's npm packages (is Node's npm installed?)")?;
    let vendor = ui.join("assets/vendor");
    std::fs::create_dir_all(&vendor)?;
    let mut stale = Vec::new();
    for (from, to) in FILES {
        let bytes = std::fs::read(ui.join("node_modules").join(from)).with_context(|| format!("reading {from}"))?;
        let target = vendor.join(to);
        if check {
            if std::fs::read(&target).ok().as_deref() != Some(bytes.as_slice()) {
                stale.push(to.to_string());
            }
        } else {
            std::fs::write(&target, bytes).with_context(|| format!("writing {}", target.display()))?;
        }
    }
    // Everything under assets/ is embedded: nothing may sit in vendor/ that is not listed.
    for entry in std::fs::read_dir(&vendor)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if !FILES.iter().any(|(_, to)| *to == name) {
            if check {
                stale.push(format!("{name} (not listed)"));
            } else {
                std::fs::remove_file(vendor.join(&name))?;
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "host/server/ui/assets/vendor/ differs from the pinned packages ({}): run `cargo xtask ui-vendor`",
            stale.join(", ")
        );
    }
    Ok(())
}
