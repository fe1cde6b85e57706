//! C plugins: `plugins/c/<name>/app.c` plus the plugin's other `.c` files and the SDK in
//! `plugins/c/sdk`, built by `weft_plugin_kit::recipe::c` (bindings from `wit/`, clang for
//! `wasm32-wasi` against wasi-libc, wit-component with the preview-1 reactor adapter). The
//! plugins' logic and their `test_*.c` are also built natively and run as tests.

use crate::plugins::Plugin;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use weft_plugin_kit::recipe;

/// C plugins: directories under `plugins/c` with an `app.c` (the SDK is not one).
pub fn discover(root: &Path) -> Result<Vec<Plugin>> {
    crate::plugins::discover_scripts(&root.join("plugins/c"), "app.c")
}

/// Builds every C plugin into `dist`.
pub fn build(root: &Path, dist: &Path) -> Result<Vec<PathBuf>> {
    let plugins = discover(root)?;
    if plugins.is_empty() {
        return Ok(Vec::new());
    }
    let work = root.join("plugins/c/target");
    let bindings = work.join("gen");
    recipe::c_bindings(&root.join("wit"), &bindings).context("generating C bindings from wit/")?;
    let sdk = root.join("plugins/c/sdk");
    let mut out = Vec::new();
    for p in plugins {
        eprintln!("building c plugin {}", p.name);
        let mut sources = recipe::c_files(&p.dir, |n| !n.starts_with("test_"))?;
        sources.extend(recipe::c_files(&sdk, |_| true)?);
        let dest = dist.join(format!("{}.wasm", p.name));
        recipe::c(
            &sources,
            &[&sdk],
            &bindings,
            &work.join(format!("{}.core.wasm", p.name)),
            &dest,
        )?;
        out.push(dest);
    }
    Ok(out)
}

/// Builds each C plugin's tests natively (its logic files, the SDK's pure parts and its
/// `test_*.c`) and returns the test executables.
pub fn build_tests(root: &Path) -> Result<Vec<PathBuf>> {
    let work = root.join("plugins/c/target/native");
    std::fs::create_dir_all(&work)?;
    let sdk = root.join("plugins/c/sdk");
    let mut out = Vec::new();
    for p in discover(root)? {
        if recipe::c_files(&p.dir, |n| n.starts_with("test_"))?.is_empty() {
            continue;
        }
        let exe = work.join(format!("test-{}", p.name));
        recipe::c_tests(&[&p.dir, &sdk], &exe)
            .with_context(|| format!("compiling the tests of {}", p.dir.display()))?;
        out.push(exe);
    }
    Ok(out)
}
