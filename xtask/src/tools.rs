//! Cargo subcommands the CI needs (cargo-fuzz, cargo-machete), installed once from
//! crates.io at a pinned version into the CI cache (`$WEFT_CI_CACHE/tools`): a clean
//! machine installs them, later runs reuse them.

use crate::run;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cargo-machete release used to find unused dependencies.
pub const CARGO_MACHETE_VERSION: &str = "0.9.2";

/// The CI cache: `$WEFT_CI_CACHE`, by default `~/.cache/weft-ci`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("WEFT_CI_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/weft-ci")))
        .unwrap_or_else(|| PathBuf::from(".cache/weft-ci"))
}

/// The cached `name` binary at `version`, installed from crates.io when missing or of
/// another version.
pub fn install(cache: &Path, name: &str, version: &str) -> Result<PathBuf> {
    let tools = cache.join("tools");
    let bin = tools.join("bin").join(name);
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(version));
    if !installed {
        // A build directory of its own: the workspace's target directory is not the place
        // for a tool's release build.
        run(Command::new(crate::cargo())
            .args(["install", name, "--locked", "--version", version, "--root"])
            .arg(&tools)
            .env_remove("CARGO_TARGET_DIR"))
        .with_context(|| format!("installing {name} {version} from crates.io"))?;
    }
    Ok(bin)
}

/// Fails when a crate of either workspace declares a dependency it does not use.
pub fn unused_dependencies(root: &Path) -> Result<()> {
    let machete = install(&cache_dir(), "cargo-machete", CARGO_MACHETE_VERSION)?;
    // It reads the manifests and greps the sources; no build. `--with-metadata` would
    // build the graph and follow renamed crates, which no manifest here uses.
    run(Command::new(machete).arg(root)).context(
        "unused dependencies (remove them, or list a false positive under [package.metadata.cargo-machete] ignored)",
    )
}
