//! Checks what a plugin author outside this repository gets. With only the `weft` binary
//! and the toolchains, in a scratch directory outside the checkout, it makes a project per
//! language (`weft plugin new`) and runs `weft plugin test` on it: the project's own tests,
//! its build, and a smoke run. Then it runs the four components in one workflow, which
//! must give the same counts in every language. It prints each language's time from `new`
//! to a passing test and the size of its component.

use crate::tally::Tally;
use crate::{cargo, run};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const LANGS: [&str; 4] = ["rust", "python", "js", "c"];

/// `weft` as a user runs it: none of this shell's Weft settings (the tests' services,
/// homes, plugin paths) leak in.
fn weft(bin: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WEFT_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The `weft` binary this checkout builds (debug, as the tests use it).
fn weft_binary(root: &Path) -> Result<PathBuf> {
    run(Command::new(cargo())
        .current_dir(root)
        .args(["build", "--quiet", "--locked", "--package", "weft"]))?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    Ok(target.join("debug/weft"))
}

/// Makes, tests and runs one project per language; adds their tests to `tally`.
pub fn check(root: &Path, tally: &mut Tally) -> Result<()> {
    let bin = weft_binary(root)?;
    let scratch = std::env::temp_dir().join(format!("weft-plugin-authors-{}", std::process::id()));
    if scratch.starts_with(root) {
        bail!("the scratch directory {} is inside the checkout", scratch.display());
    }
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let mut figures = Vec::new();
    for lang in LANGS {
        let name = format!("tpl-{lang}");
        let started = Instant::now();
        run(weft(&bin, &scratch).args(["plugin", "new", "--lang", lang, &name]))?;
        let dir = scratch.join(&name);
        if lang == "js" {
            run(Command::new("npm").current_dir(&dir).args([
                "ci",
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ]))
            .context("npm ci in the new JavaScript project")?;
        }
        tally.run(weft(&bin, &dir).args(["plugin", "test"]))?;
        let size = std::fs::metadata(dir.join(format!("{name}.wasm")))
            .with_context(|| format!("{name}: no {name}.wasm after `weft plugin test`"))?
            .len();
        figures.push((lang, started.elapsed(), size));
    }
    chain(&bin, &scratch)?;
    for (lang, took, size) in figures {
        eprintln!(
            "plugin author, {lang}: `weft plugin new` to a passing `weft plugin test` in {:.1} s; component {} KiB",
            took.as_secs_f64(),
            size / 1024
        );
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}

/// Runs the four components one after another in one workflow, on one text: each must
/// count it the same (their outputs have one digest).
fn chain(bin: &Path, scratch: &Path) -> Result<()> {
    std::fs::write(scratch.join("notes.txt"), "one two three\nfour five\n")?;
    let mut workflow =
        String::from("name: four-languages\ninputs:\n  notes: {path: notes.txt, media_type: text/plain}\nsteps:\n");
    for (i, lang) in LANGS.iter().enumerate() {
        let after = if i == 0 {
            String::new()
        } else {
            format!(", after: [{}]", LANGS[i - 1])
        };
        workflow.push_str(&format!(
            "  {lang}: {{uses: ./tpl-{lang}/tpl-{lang}.wasm, inputs: {{text: inputs.notes}}{after}}}\n"
        ));
    }
    std::fs::write(scratch.join("four.yaml"), workflow)?;
    let out = weft(bin, scratch).args(["run", "--json", "four.yaml"]).output()?;
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "`weft run four.yaml` printed no report: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    if !out.status.success() || report["status"] != "succeeded" {
        bail!("the four-language workflow did not succeed: {report:#}");
    }
    let digests: Vec<&str> = report["steps"]
        .as_array()
        .map(|steps| {
            steps
                .iter()
                .filter_map(|s| s["outputs"]["counts"]["digest"].as_str())
                .collect()
        })
        .unwrap_or_default();
    if digests.len() != LANGS.len() || digests.iter().any(|d| *d != digests[0]) {
        bail!("the four languages counted differently: {digests:?}");
    }
    eprintln!(
        "four-language workflow: {} steps, one count ({})",
        digests.len(),
        digests[0]
    );
    Ok(())
}
