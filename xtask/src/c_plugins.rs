//! C plugins: `plugins/c/<name>/app.c` plus the plugin's other `.c` files and the SDK in
//! `plugins/c/sdk`. Bindings are generated from `wit/` with wit-bindgen's C generator,
//! compiled with clang for `wasm32-wasi` against wasi-libc (Debian packages `clang lld
//! wasi-libc libclang-rt-dev-wasm32`), then made a component with wit-component and the
//! WASI preview-1 reactor adapter. The plugins' logic and their `test_*.c` are also built
//! natively with the host C compiler and run as tests.

use crate::plugins::Plugin;
use crate::run;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// C plugins: directories under `plugins/c` with an `app.c` (the SDK is not one).
pub fn discover(root: &Path) -> Result<Vec<Plugin>> {
    crate::plugins::discover_scripts(&root.join("plugins/c"), "app.c")
}

fn c_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    files.sort();
    Ok(files)
}

/// Generates the C bindings of the Weft world into `out`.
fn generate_bindings(root: &Path, out: &Path) -> Result<()> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve.push_dir(root.join("wit"))?;
    let world = resolve.select_world(&[pkg], Some("step-component"))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out)?;
    for (name, bytes) in files.iter() {
        std::fs::write(out.join(name), bytes)?;
    }
    Ok(())
}

/// Builds every C plugin into `dist`.
pub fn build(root: &Path, dist: &Path) -> Result<Vec<PathBuf>> {
    let plugins = discover(root)?;
    if plugins.is_empty() {
        return Ok(Vec::new());
    }
    let work = root.join("plugins/c/target");
    let gen_dir = work.join("gen");
    generate_bindings(root, &gen_dir).context("generating C bindings from wit/")?;
    let sdk = root.join("plugins/c/sdk");
    let mut out = Vec::new();
    for p in plugins {
        let core = work.join(format!("{}.core.wasm", p.name));
        let mut cmd = Command::new("clang");
        cmd.args([
            "--target=wasm32-wasi",
            "-mexec-model=reactor",
            "-O2",
            "-Wall",
            "-Werror",
            "-Wl,--strip-debug",
        ])
        .arg("-I")
        .arg(&gen_dir)
        .arg("-I")
        .arg(&sdk)
        .args(c_files(&p.dir, |n| !n.starts_with("test_"))?)
        .args(c_files(&sdk, |_| true)?)
        .arg(gen_dir.join("step_component.c"))
        .arg(gen_dir.join("step_component_component_type.o"))
        .arg("-o")
        .arg(&core);
        eprintln!("building c plugin {}", p.name);
        run(&mut cmd).context(
            "compiling with clang for wasm32-wasi (Debian: `apt-get install clang lld wasi-libc libclang-rt-dev-wasm32`)",
        )?;
        let module = std::fs::read(&core)?;
        let component = wit_component::ComponentEncoder::default()
            .module(&module)?
            .validate(true)
            .adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
            )?
            .encode()
            .with_context(|| format!("making a component of {}", core.display()))?;
        let dest = dist.join(format!("{}.wasm", p.name));
        std::fs::write(&dest, component)?;
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
        let tests = c_files(&p.dir, |n| n.starts_with("test_"))?;
        if tests.is_empty() {
            continue;
        }
        let exe = work.join(format!("test-{}", p.name));
        let mut cmd = Command::new("cc");
        cmd.args(["-O1", "-g", "-Wall", "-Werror", "-fsanitize=address,undefined"])
            .arg("-I")
            .arg(&sdk)
            .args(c_files(&p.dir, |n| n != "app.c")?)
            .args(c_files(&sdk, |n| n != "weft_step.c")?)
            .arg("-o")
            .arg(&exe)
            .arg("-lm");
        run(&mut cmd).with_context(|| format!("compiling the tests of {}", p.dir.display()))?;
        out.push(exe);
    }
    Ok(out)
}
