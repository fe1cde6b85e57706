//! Builds every test guest under `plugins/testing/` for `wasm32-wasip2` with a nested
//! `cargo build`, copies the components to `$OUT_DIR/testing/NAME.wasm` and writes
//! `$OUT_DIR/programs.rs` naming them, so that `cargo test` builds what it runs (as
//! wasmtime's `test-programs` crate does) instead of trusting a `dist/` left by hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.join("../..");
    let plugins = root.join("plugins");
    let out_dir = PathBuf::from(env("OUT_DIR"));

    // Rebuild when a guest, the SDK they share, the WIT contract or the plugins workspace
    // changes. Directories are walked by cargo, so new files count too.
    for watched in [
        "plugins/testing",
        "plugins/sdk",
        "wit",
        "plugins/Cargo.toml",
        "plugins/Cargo.lock",
    ] {
        println!("cargo::rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo::rerun-if-env-changed=WEFT_PLUGINS_TARGET_DIR");

    if !wasm_target_installed() {
        // The one line a fresh clone needs; cargo prints it as `error: ...`.
        println!("cargo::error=the test guests need the wasm32-wasip2 target: run `rustup target add wasm32-wasip2`");
        return;
    }

    let guests = discover(&plugins.join("testing"));
    // The same directory `cargo xtask build-plugins` uses, never the outer target dir:
    // the outer cargo holds that one's lock while this script runs.
    let target_dir = std::env::var_os("WEFT_PLUGINS_TARGET_DIR").map_or_else(|| plugins.join("target"), PathBuf::from);

    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&plugins)
        .args(["build", "--release", "--locked", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target_dir)
        // Cargo's output is on stderr; stdout would be read as build-script directives.
        .stdout(Stdio::from(std::io::stderr()));
    for g in &guests {
        cmd.args(["-p", &g.package]);
    }
    // What the outer cargo set for this script describes the host build, not the guests':
    // its rustflags and cfgs would leak into the wasm build and its build scripts, and
    // under `cargo clippy` the workspace wrapper would lint the guests with the host's
    // flags and rebuild them every time clippy and test take turns.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if key.starts_with("CARGO_CFG_")
            || key.starts_with("CARGO_FEATURE_")
            || key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || [
                "CARGO_ENCODED_RUSTFLAGS",
                "CARGO_PRIMARY_PACKAGE",
                "TARGET",
                "HOST",
                "OUT_DIR",
                "OPT_LEVEL",
                "DEBUG",
                "PROFILE",
                "RUSTC_LINKER",
                "RUSTC_WORKSPACE_WRAPPER",
                "CLIPPY_ARGS",
                "CLIPPY_CONF_DIR",
            ]
            .contains(&key.as_ref())
        {
            cmd.env_remove(key.as_ref());
        }
    }
    let ok = cmd.status().is_ok_and(|s| s.success());
    if !ok {
        println!("cargo::error=building the test guests in plugins/testing failed (cargo's errors are above)");
        return;
    }

    let built = target_dir.join("wasm32-wasip2/release");
    let dir = out_dir.join("testing");
    std::fs::create_dir_all(&dir).expect("create OUT_DIR/testing");
    let mut code = String::new();
    let mut names = String::new();
    for g in &guests {
        let from = built.join(format!("{}.wasm", g.package.replace('-', "_")));
        let to = dir.join(format!("{}.wasm", g.package));
        // A copy, not a path into the shared target dir: a later plugin build there must
        // not change the bytes under a test binary that was built against these.
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        let konst = g.package.to_uppercase().replace('-', "_");
        writeln!(
            code,
            "/// `{}` (plugins/testing/{}), built for wasm32-wasip2.",
            g.package, g.dir
        )
        .ok();
        writeln!(code, "pub const {konst}: &str = {:?};", to.display().to_string()).ok();
        write!(names, "{:?}, ", g.package).ok();
    }
    writeln!(code, "/// The package name of every test guest, sorted.").ok();
    writeln!(code, "pub const NAMES: &[&str] = &[{names}];").ok();
    writeln!(code, "/// The directory holding `NAME.wasm` for every test guest.").ok();
    writeln!(code, "pub const DIR: &str = {:?};", dir.display().to_string()).ok();
    std::fs::write(out_dir.join("programs.rs"), code).expect("write programs.rs");
}

fn env(key: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| panic!("cargo sets {key} for build scripts"))
}

/// A test guest: its package name and directory under plugins/testing.
struct Guest {
    package: String,
    dir: String,
}

/// Every `plugins/testing/*/Cargo.toml`, sorted; found by scanning, like xtask does.
fn discover(testing: &Path) -> Vec<Guest> {
    let mut found = Vec::new();
    let entries = std::fs::read_dir(testing).unwrap_or_else(|e| panic!("reading {}: {e}", testing.display()));
    for entry in entries.flatten() {
        let Ok(text) = std::fs::read_to_string(entry.path().join("Cargo.toml")) else {
            continue;
        };
        let package = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("name = \"").and_then(|r| r.strip_suffix('"')))
            .unwrap_or_else(|| panic!("{}: no package name", entry.path().display()))
            .to_string();
        found.push(Guest {
            package,
            dir: entry.file_name().to_string_lossy().into_owned(),
        });
    }
    found.sort_by(|a, b| a.package.cmp(&b.package));
    found
}

/// Whether the toolchain building us has the standard library for wasm32-wasip2
/// (these machines do not install targets on demand).
fn wasm_target_installed() -> bool {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc)
        .args(["--print", "target-libdir", "--target", "wasm32-wasip2"])
        .output()
    else {
        return false;
    };
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    out.status.success() && libdir.is_dir()
}
