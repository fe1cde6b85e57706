//! Checks that `weft plugin new` makes projects that build and pass their tests: creates
//! one per language in a scratch copy of the plugin tree (SDKs, WIT, toolchain pins), builds
//! them like every plugin, runs their tests, and runs each component on a text file.

use crate::tally::Tally;
use crate::{cargo, plugins, run};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const LANGS: [&str; 4] = ["rust", "python", "js", "c"];

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_tree(&src, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// A plugin tree with the SDKs but no plugins, under a fresh scratch directory.
fn scratch_root(root: &Path) -> Result<PathBuf> {
    let scratch = std::env::temp_dir().join(format!("weft-template-check-{}", std::process::id()));
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    copy_tree(&root.join("wit"), &scratch.join("wit"))?;
    let (p, s) = (root.join("plugins"), scratch.join("plugins"));
    for dir in ["sdk", "python/sdk", "js/sdk", "c/sdk"] {
        copy_tree(&p.join(dir), &s.join(dir))?;
    }
    for file in [
        "Cargo.lock",
        "rustfmt.toml",
        "python/requirements.txt",
        "js/package.json",
        "js/package-lock.json",
    ] {
        std::fs::copy(p.join(file), s.join(file))?;
    }
    // Only the SDK and the new Rust step are members: a glob matching no directory
    // (`testing/*`) is an error to cargo.
    let manifest = std::fs::read_to_string(p.join("Cargo.toml"))?.replace(", \"testing/*\"", "");
    std::fs::write(s.join("Cargo.toml"), manifest)?;
    std::fs::create_dir_all(s.join("rust"))?;
    #[cfg(unix)]
    std::os::unix::fs::symlink(p.join("js/node_modules"), s.join("js/node_modules"))?;
    Ok(scratch)
}

/// Creates, builds, tests and runs one project per language; adds its tests to `tally`.
pub fn check(root: &Path, tally: &mut Tally) -> Result<()> {
    let scratch = scratch_root(root)?;
    for lang in LANGS {
        run(Command::new(cargo())
            .current_dir(root)
            .args([
                "run",
                "--quiet",
                "--locked",
                "--package",
                "weft",
                "--",
                "plugin",
                "new",
                "--lang",
                lang,
            ])
            .arg(format!("tpl-{lang}"))
            .arg("--into")
            .arg(scratch.join("plugins").join(lang)))?;
    }
    // The Rust template joins the scratch workspace, so the lock file there must change.
    plugins::build_all_with(&scratch, false)?;
    tally.run(
        Command::new(cargo())
            .current_dir(scratch.join("plugins"))
            .env("CARGO_TARGET_DIR", plugins::rust_target_dir(root))
            .args(["test", "--package", "tpl-rust"]),
    )?;
    tally.run(
        Command::new("python3")
            .current_dir(scratch.join("plugins/python/tpl-python"))
            .args(["-m", "unittest", "discover", "-v"]),
    )?;
    tally.run(
        Command::new("node")
            .arg("--test")
            .arg(scratch.join("plugins/js/tpl-js")),
    )?;
    for exe in crate::c_plugins::build_tests(&scratch)? {
        tally.run(&mut Command::new(exe))?;
    }
    for lang in LANGS {
        let out = scratch.join(format!("out-{lang}"));
        run(Command::new(cargo())
            .current_dir(root)
            .args(["run", "--quiet", "--locked", "--package", "weft", "--", "step", "run"])
            .arg(scratch.join(format!("dist/plugins/tpl-{lang}.wasm")))
            .arg("--input")
            .arg(format!("text={}", root.join("README.md").display()))
            .arg("--out")
            .arg(&out))?;
        let counts = std::fs::read_to_string(out.join("counts.json"))?;
        if !counts.contains("\"lines\"") {
            bail!("the {lang} template wrote {counts}");
        }
        eprintln!("template {lang}: {counts}");
    }
    std::fs::remove_dir_all(&scratch)?;
    Ok(())
}
