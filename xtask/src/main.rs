//! Project automation: `cargo xtask demo` sets up and runs the main example,
//! `cargo xtask build-plugins` builds every plugin under `plugins/` into
//! `dist/plugins/NAME.wasm`, `cargo xtask fuzz [SECONDS]` runs the fuzz targets,
//! `cargo xtask services` starts the services tests use (PostgreSQL, SeaweedFS) until Enter,
//! `cargo xtask ui-vendor` copies the web UI's npm libraries into the server's assets,
//! `cargo xtask ci` is what `.ci/run` calls.

mod c_plugins;
mod fuzz;
mod plugins;
mod tally;
mod templates;
mod tools;
mod ui;
mod ui_vendor;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use weft_test_services::{postgres, seaweedfs};

fn main() {
    if let Err(e) = dispatch() {
        // Display, not Debug: with RUST_BACKTRACE set, Debug adds a long host backtrace.
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn dispatch() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("build-plugins") => plugins::build_all(&root()).map(|_| ()),
        Some("ci") => ci(),
        Some("fuzz") => fuzz::fuzz(&root(), fuzz::seconds(args.get(1))?),
        Some("demo") => demo(),
        Some("services") => services(),
        Some("ui") => ui::open(&root()),
        Some("ui-vendor") => ui_vendor::vendor(&root(), false),
        Some("check-templates") => {
            let mut tally = tally::Tally::default();
            let cold = std::env::args().nth(2).as_deref() == Some("--cold");
            templates::check(&root(), &mut tally, cold)?;
            println!("templates: {} passed, {} failed", tally.passed, tally.failed);
            Ok(())
        }
        _ => {
            eprintln!(
                "usage: cargo xtask <demo | ui | build-plugins | ci | fuzz [SECONDS] | services | ui-vendor | check-templates [--cold]>"
            );
            eprintln!(
                "  demo           set up (wasm target, plugin toolchains, plugins, release weft) and run the iris example"
            );
            eprintln!(
                "  build-plugins  build every plugin under plugins/ into dist/plugins/ (test guests: weft-test-programs)"
            );
            eprintln!("  ci             build plugins, then fmt --check, clippy -D warnings, every test, fuzz");
            eprintln!("  fuzz [SECONDS] build the model's fuzz targets and run each for SECONDS (default 20)");
            eprintln!(
                "  services       start the services the tests use (PostgreSQL, SeaweedFS) until Enter; prints their env vars"
            );
            eprintln!(
                "  ui             set up as demo, then serve the web UI on the embedded defaults with the breast-cancer example run"
            );
            eprintln!("  ui-vendor      copy the web UI's pinned npm libraries into host/server/ui/assets/vendor/");
            eprintln!(
                "  check-templates [--cold]  make a project per language with `weft plugin new`, build, test and run it (--cold: every cache empty)"
            );
            std::process::exit(2);
        }
    }
}

/// The repository root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Runs a command, echoing it; fails if it fails.
pub(crate) use weft_test_services::run;

/// The plugin toolchains that come from package registries, at pinned versions:
/// clang and wasi-libc (Debian), componentize-py (PyPI, plugins/python/requirements.txt)
/// and componentize-js (npm, plugins/js/package-lock.json).
/// The C toolchain for wasm32-wasi, from Debian's packages (needs root: CI and these
/// machines run as root; elsewhere run the apt-get line yourself).
fn install_c_tools() -> Result<()> {
    if Path::new("/usr/include/wasm32-wasi/stdio.h").exists() && which("clang") {
        return Ok(());
    }
    let packages = ["clang", "lld", "wasi-libc", "libclang-rt-dev-wasm32"];
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root_user {
        bail!("C plugins need `sudo apt-get install {}`", packages.join(" "));
    }
    run(Command::new("apt-get").arg("update").arg("-qq"))?;
    run(Command::new("apt-get").args(["install", "-y", "-qq"]).args(packages))
        .context("installing the C toolchain for wasm32-wasi")
}

fn which(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn install_plugin_tools(root: &Path) -> Result<()> {
    install_c_tools()?;
    run(Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(root.join("plugins/python/requirements.txt")))
    .context("installing componentize-py (is python3 with pip installed?)")?;
    let js = root.join("plugins/js");
    if js.join("node_modules/.bin/componentize-js").exists() {
        return Ok(());
    }
    run(Command::new("npm")
        .current_dir(&js)
        .args(["ci", "--no-audit", "--no-fund"]))
    .context("installing componentize-js (is Node.js with npm installed?)")
}

/// Debian's Chromium for the UI's browser tests (installed with its driver in one apt run,
/// as their versions must match); its path.
fn install_browser() -> Result<PathBuf> {
    let chromium = PathBuf::from("/usr/bin/chromium");
    if chromium.exists() {
        return Ok(chromium);
    }
    weft_test_services::apt_install("The browser tests' Chromium", &["chromium", "chromium-driver"])?;
    Ok(chromium)
}

/// What `demo` and `ui` set up first: the wasm target, the plugin toolchains, the plugins.
fn demo_setup(root: &Path) -> Result<()> {
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))
        .context("installing the wasm32-wasip2 target (is rustup installed?)")?;
    install_plugin_tools(root)?;
    plugins::build_all(root).map(|_| ())
}

fn demo() -> Result<()> {
    let root = root();
    demo_setup(&root)?;
    run(Command::new(cargo()).current_dir(&root).args([
        "run",
        "--release",
        "--locked",
        "--package",
        "weft",
        "--",
        "run",
        "examples/iris-summary.yaml",
    ]))
}

/// Where service binaries installed for tests live (beside the build cache).
fn services_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// `cargo xtask services`: the services the tests use (PostgreSQL, SeaweedFS), until
/// Enter is pressed.
fn services() -> Result<()> {
    let postgres = postgres::start()?;
    let s3 = seaweedfs::start(&services_dir(&root()))?;
    for (name, value) in postgres.env().into_iter().chain(s3.env()) {
        println!("export {name}={value}");
    }
    eprintln!("running; press Enter to stop");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    drop(s3);
    drop(postgres);
    Ok(())
}

fn ci() -> Result<()> {
    let root = root();
    let cargo = cargo();
    install_plugin_tools(&root)?;
    plugins::build_all(&root)?;
    run(Command::new(&cargo)
        .current_dir(&root)
        .args(["fmt", "--all", "--check"]))?;
    run(Command::new(&cargo)
        .current_dir(root.join("plugins"))
        .args(["fmt", "--all", "--check"]))?;
    run(Command::new(&cargo).current_dir(&root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]))?;
    tools::unused_dependencies(&root)?;
    // The UI's checked-in libraries are the pinned npm packages' bytes.
    ui_vendor::vendor(&root, true)?;
    // The guests too, for the target they are built for.
    run(Command::new(&cargo)
        .current_dir(root.join("plugins"))
        .env("CARGO_TARGET_DIR", plugins::rust_target_dir(&root))
        .args([
            "clippy",
            "--workspace",
            "--target",
            "wasm32-wasip2",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]))?;
    // The Rust SDK's API docs, which a new project's README points to, build without a
    // broken link.
    run(Command::new(&cargo)
        .current_dir(root.join("plugins"))
        .env("CARGO_TARGET_DIR", plugins::rust_target_dir(&root))
        .env("RUSTDOCFLAGS", "-D warnings")
        .args(["doc", "--package", "weft-step", "--no-deps", "--locked"]))?;
    let mut tally = tally::Tally::default();
    // Plugin logic is plain code: Rust unit tests run natively, Python ones with unittest.
    tally.run(
        Command::new(&cargo)
            .current_dir(root.join("plugins"))
            .env("CARGO_TARGET_DIR", plugins::rust_target_dir(&root))
            .args(["test", "--workspace", "--locked"]),
    )?;
    for p in plugins::discover_python(&root)? {
        tally.run(
            Command::new("python3")
                .current_dir(&p.dir)
                .args(["-m", "unittest", "discover", "-v"]),
        )?;
    }
    for p in plugins::discover_js(&root)? {
        tally.run(Command::new("node").arg("--test").arg(&p.dir))?;
    }
    for exe in c_plugins::build_tests(&root)? {
        tally.run(&mut Command::new(exe))?;
    }
    // `weft plugin new` must make projects that build and pass their tests in every language.
    templates::check(&root, &mut tally, false)?;
    // Real services for the tests (PostgreSQL, SeaweedFS), stopped when their guards
    // drop; with services `required`, a test that finds none fails instead of skipping.
    let postgres = postgres::start()?;
    let s3 = seaweedfs::start(&services_dir(&root))?;
    // The web UI's browser tests: Debian's Chromium, driven by playwright-core.
    let chromium = install_browser()?;
    run(Command::new("npm").current_dir(root.join("tests/browser")).args([
        "ci",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ]))
    .context("installing playwright-core for the browser tests")?;
    tally.run(
        Command::new(&cargo)
            .current_dir(&root)
            .envs(postgres.env())
            .envs(s3.env())
            .env("WEFT_TEST_CHROMIUM", chromium)
            .env("WEFT_TEST_SERVICES", "required")
            .args(["test", "--workspace", "--locked"]),
    )?;
    drop(s3);
    drop(postgres);
    // Coverage-guided fuzzing of the workflow loader and validator, `when:` and quantities,
    // a fixed time per target; a crash fails CI.
    fuzz::fuzz(&root, fuzz::CI_SECONDS)?;
    // One closing line for the whole suite: cargo's own last line belongs to whichever test
    // binary ran last (often a doc-test binary with no tests).
    println!(
        "tests: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.ignored
    );
    if tally.passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}
