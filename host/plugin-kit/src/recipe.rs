//! How a component is built from a step's sources, per language: the one place these
//! recipes live (`weft plugin build` for a project, `cargo xtask build-plugins` for Weft's
//! own steps). Each echoes the commands it runs, as a build tool should.
//!
//! - Rust: cargo for `wasm32-wasip2` (the component comes out of cargo directly).
//! - Python: componentize-py with the world `step-component`.
//! - JavaScript: componentize-js without its `http` and `fetch-event` features (else the
//!   component imports wasi:http, which no step is given).
//! - C: bindings generated from the WIT by wit-bindgen's C generator (inside this crate:
//!   nothing to install), compiled by clang for `wasm32-wasi` against wasi-libc, made a
//!   component with wit-component and the WASI preview-1 reactor adapter.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cmd`, echoing it to stderr first; fails (with `hint`) unless it succeeds.
pub fn run(cmd: &mut Command, hint: &str) -> Result<()> {
    let shown = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    eprintln!("+ {shown}");
    let status = cmd.status().with_context(|| format!("running {shown} ({hint})"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status}); {hint}");
    }
    Ok(())
}

/// Rust: builds `packages` of the cargo project in `dir` for `wasm32-wasip2`, release,
/// with the `cargo` program given (the caller's: this crate reads no environment).
pub fn rust(cargo: &str, dir: &Path, target_dir: &Path, packages: &[&str], locked: bool) -> Result<()> {
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(["build", "--release", "--target", "wasm32-wasip2"])
        .args(locked.then_some("--locked"))
        .env("CARGO_TARGET_DIR", target_dir);
    for p in packages {
        cmd.args(["-p", p]);
    }
    run(
        &mut cmd,
        "cargo's errors are above; the target comes with `rustup target add wasm32-wasip2`",
    )
}

/// Where [`rust`] leaves the component of `package`.
pub fn rust_output(target_dir: &Path, package: &str) -> PathBuf {
    target_dir
        .join("wasm32-wasip2/release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// Python: the module `app` of `dir` (its `Step` class) and the modules on `search` into
/// the component `out`.
pub fn python(dir: &Path, wit: &Path, search: &[&Path], out: &Path) -> Result<()> {
    let mut cmd = Command::new("componentize-py");
    cmd.current_dir(dir)
        .arg("-d")
        .arg(wit)
        .args(["-w", "step-component", "componentize", "app", "-p"])
        .arg(dir);
    for path in search {
        cmd.arg("-p").arg(path);
    }
    cmd.arg("-o").arg(out);
    run(
        &mut cmd,
        "componentize-py's errors are above (install it with `python3 -m pip install -r requirements.txt`)",
    )
}

/// JavaScript: `entry` (relative to `cwd`, where componentize-js resolves imports from)
/// into the component `out`, with the componentize-js at `tool`.
pub fn js(tool: &Path, cwd: &Path, wit: &Path, entry: &Path, out: &Path) -> Result<()> {
    if !tool.exists() {
        bail!("{} is missing: run `npm ci` in {}", tool.display(), cwd.display());
    }
    run(
        Command::new(tool)
            .current_dir(cwd)
            .arg("--wit")
            .arg(wit)
            .args([
                "--world-name",
                "step-component",
                "-d",
                "http",
                "-d",
                "fetch-event",
                "-o",
            ])
            .arg(out)
            .arg(entry),
        "componentize-js's errors are above",
    )
}

/// C: writes the bindings of the world `step-component` in `wit` into `out`
/// (`step_component.c`, `.h` and `_component_type.o`).
pub fn c_bindings(wit: &Path, out: &Path) -> Result<()> {
    let mut resolve = wit_parser::Resolve::default();
    let (pkg, _) = resolve
        .push_dir(wit)
        .with_context(|| format!("reading the WIT in {}", wit.display()))?;
    let world = resolve.select_world(&[pkg], Some("step-component"))?;
    let mut files = wit_bindgen_core::Files::default();
    wit_bindgen_c::Opts::default()
        .build()
        .generate(&mut resolve, world, &mut files)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    for (name, bytes) in files.iter() {
        std::fs::write(out.join(name), bytes).with_context(|| format!("writing {name}"))?;
    }
    Ok(())
}

/// C: compiles `sources` (with the bindings in `bindings`, made by [`c_bindings`], and the
/// headers in `includes`) for `wasm32-wasi` into the core module `core`, then makes the
/// component `out` of it.
pub fn c(sources: &[PathBuf], includes: &[&Path], bindings: &Path, core: &Path, out: &Path) -> Result<()> {
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
    .arg(bindings);
    for dir in includes {
        cmd.arg("-I").arg(dir);
    }
    cmd.args(sources)
        .arg(bindings.join("step_component.c"))
        .arg(bindings.join("step_component_component_type.o"))
        .arg("-o")
        .arg(core);
    run(
        &mut cmd,
        "compiling with clang for wasm32-wasi needs wasi-libc (Debian: `sudo apt-get install clang lld wasi-libc libclang-rt-dev-wasm32`)",
    )?;
    let module = std::fs::read(core).with_context(|| format!("reading {}", core.display()))?;
    let component = wit_component::ComponentEncoder::default()
        .module(&module)?
        .validate(true)
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .encode()
        .with_context(|| format!("making a component of {}", core.display()))?;
    std::fs::write(out, component).with_context(|| format!("writing {}", out.display()))
}

/// The `.c` files of `dir` whose names `keep` accepts, sorted.
pub fn c_files(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "c"))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    files.sort();
    Ok(files)
}

/// C: compiles a step's tests natively with the host's `cc`, under the address and
/// undefined-behaviour sanitizers, into `exe`: every `.c` file of `dirs` (the step's, then
/// the SDK's when it is elsewhere) but `app.c` and `weft_step.c`, which need the host.
pub fn c_tests(dirs: &[&Path], exe: &Path) -> Result<()> {
    let mut cmd = Command::new("cc");
    cmd.args(["-O1", "-g", "-Wall", "-Werror", "-fsanitize=address,undefined"]);
    for dir in dirs {
        cmd.arg("-I").arg(dir);
    }
    for dir in dirs {
        cmd.args(c_files(dir, |n| n != "app.c" && n != "weft_step.c")?);
    }
    cmd.arg("-o").arg(exe).arg("-lm");
    run(&mut cmd, "the C compiler's errors are above")
}
