//! Finding and building plugins: Rust crates under `plugins/<group>/<crate>/` (a `cdylib`)
//! with cargo for `wasm32-wasip2`; Python steps under `plugins/python/<name>/app.py` with
//! componentize-py; JavaScript steps under `plugins/js/<name>/app.js` with componentize-js;
//! C steps under `plugins/c/<name>/app.c` (see `c_plugins`).
//! Found by scanning, not from a hand-kept list; written to `dist/plugins/`. The test
//! guests of `plugins/testing/` (hostile and trivial steps) are not built here: the crate
//! `weft-test-programs` builds them for the tests that load them, into a directory on no
//! default plugin path, so a user's `uses:` can never pick up a memory bomb.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use weft_plugin_kit::recipe;

/// A plugin crate found under `plugins/`: a package whose `[lib]` is a `cdylib`.
pub struct Plugin {
    pub name: String,
    pub dir: PathBuf,
}

/// Whether a plugin crate is a test guest (`plugins/testing/*`), built by
/// `weft-test-programs` rather than here.
fn is_test_guest(plugin_dir: &Path) -> bool {
    plugin_dir
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|g| g == "testing")
}

/// Finds plugins by scanning `plugins/<group>/<crate>/Cargo.toml`; no hand-kept list.
fn discover_rust(plugins: &Path) -> Result<Vec<Plugin>> {
    let mut found = Vec::new();
    for group in std::fs::read_dir(plugins)? {
        let group = group?.path();
        if !group.is_dir() || group.file_name().is_some_and(|n| n == "target") {
            continue;
        }
        for krate in std::fs::read_dir(&group)? {
            let dir = krate?.path();
            let manifest = dir.join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            if !text.contains("cdylib") {
                continue;
            }
            let name = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
                .with_context(|| format!("{}: no package name", manifest.display()))?
                .to_string();
            found.push(Plugin { name, dir });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Where cargo builds the Rust plugins.
pub fn rust_target_dir(root: &Path) -> PathBuf {
    std::env::var_os("WEFT_PLUGINS_TARGET_DIR").map_or_else(|| root.join("plugins/target"), PathBuf::from)
}

/// Builds every plugin; returns the component files.
pub fn build_all(root: &Path) -> Result<Vec<PathBuf>> {
    build_all_with(root, true)
}

/// Builds every plugin under `root`; `locked` holds cargo to the committed lock file.
pub fn build_all_with(root: &Path, locked: bool) -> Result<Vec<PathBuf>> {
    let dist = root.join("dist/plugins");
    std::fs::create_dir_all(&dist)?;
    // Test guests built by an older xtask into dist/plugins or dist/testing must not linger:
    // nothing reads them any more, and a stale copy would only mislead.
    for p in discover_rust(&root.join("plugins"))? {
        if is_test_guest(&p.dir) {
            let stale = dist.join(format!("{}.wasm", p.name));
            if stale.exists() {
                std::fs::remove_file(&stale).with_context(|| format!("removing {}", stale.display()))?;
            }
        }
    }
    let stale = root.join("dist/testing");
    if stale.is_dir() {
        std::fs::remove_dir_all(&stale).with_context(|| format!("removing {}", stale.display()))?;
    }
    let mut out = build_rust(root, &dist, locked)?;
    out.extend(build_python(root, &dist)?);
    out.extend(build_js(root, &dist)?);
    out.extend(crate::c_plugins::build(root, &dist)?);
    Ok(out)
}

fn build_rust(root: &Path, dist: &Path, locked: bool) -> Result<Vec<PathBuf>> {
    let plugins_dir = root.join("plugins");
    let mut plugins = discover_rust(&plugins_dir)?;
    plugins.retain(|p| !is_test_guest(&p.dir));
    let target_dir = rust_target_dir(root);
    let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
    eprintln!("building {} rust plugins: {}", plugins.len(), names.join(", "));
    recipe::rust(&crate::cargo(), &plugins_dir, &target_dir, &names, locked)?;
    let mut out = Vec::new();
    for p in &plugins {
        let built = recipe::rust_output(&target_dir, &p.name);
        let dest = dist.join(format!("{}.wasm", p.name));
        std::fs::copy(&built, &dest).with_context(|| format!("copying {} ({})", built.display(), p.dir.display()))?;
        out.push(dest);
    }
    Ok(out)
}

/// Python plugins: `plugins/python/<name>/app.py` (the SDK in `plugins/python/sdk` is not one).
pub fn discover_python(root: &Path) -> Result<Vec<Plugin>> {
    discover_scripts(&root.join("plugins/python"), "app.py")
}

/// JavaScript plugins: `plugins/js/<name>/app.js`.
pub fn discover_js(root: &Path) -> Result<Vec<Plugin>> {
    discover_scripts(&root.join("plugins/js"), "app.js")
}

pub fn discover_scripts(dir: &Path, entry_file: &str) -> Result<Vec<Plugin>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let dir = entry?.path();
        if dir.join(entry_file).is_file() {
            let name = dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            found.push(Plugin { name, dir });
        }
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(found)
}

/// Newest modification time of the files under `paths` (caches skipped).
fn newest(paths: &[PathBuf]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(
                    entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| !p.ends_with("__pycache__")),
                );
            }
        } else if let Ok(m) = meta.modified() {
            newest = newest.max(Some(m));
        }
    }
    newest
}

/// Whether `dest` is newer than every file it is built from.
fn up_to_date(dest: &Path, sources: &[PathBuf]) -> bool {
    let built = std::fs::metadata(dest).and_then(|m| m.modified()).ok();
    built.is_some() && built >= newest(sources)
}

/// componentize-py takes ~5 s and ~400 MB per plugin: rebuild only what changed.
fn build_python(root: &Path, dist: &Path) -> Result<Vec<PathBuf>> {
    let sdk = root.join("plugins/python/sdk");
    let mut out = Vec::new();
    for p in discover_python(root)? {
        let dest = dist.join(format!("{}.wasm", p.name));
        if up_to_date(&dest, &[p.dir.clone(), sdk.clone(), root.join("wit")]) {
            eprintln!("python plugin {} is up to date", p.name);
            out.push(dest);
            continue;
        }
        eprintln!("building python plugin {} with componentize-py", p.name);
        recipe::python(&p.dir, &root.join("wit"), &[&sdk], &dest)?;
        out.push(dest);
    }
    Ok(out)
}

/// componentize-js (SpiderMonkey) takes ~8 s per plugin: rebuild only what changed. It
/// resolves relative imports from its working directory, so it runs in `plugins/js`.
/// The recipes themselves are `weft_plugin_kit::recipe`'s, as `weft plugin build`'s.
fn build_js(root: &Path, dist: &Path) -> Result<Vec<PathBuf>> {
    let js = root.join("plugins/js");
    let tool = js.join("node_modules/.bin/componentize-js");
    let mut out = Vec::new();
    for p in discover_js(root)? {
        let dest = dist.join(format!("{}.wasm", p.name));
        if up_to_date(&dest, &[p.dir.clone(), js.join("sdk"), root.join("wit")]) {
            eprintln!("js plugin {} is up to date", p.name);
            out.push(dest);
            continue;
        }
        eprintln!("building js plugin {} with componentize-js", p.name);
        recipe::js(
            &tool,
            &js,
            &root.join("wit"),
            Path::new(&format!("{}/app.js", p.name)),
            &dest,
        )?;
        out.push(dest);
    }
    Ok(out)
}
