//! Project automation: `cargo xtask build-plugins` builds every plugin under `plugins/`
//! into `dist/plugins/NAME.wasm`; `cargo xtask ci` is what `.ci/run` calls.

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

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
        Some("build-plugins") => build_plugins().map(|_| ()),
        Some("ci") => ci(),
        Some("demo") => demo(),
        _ => {
            eprintln!("usage: cargo xtask <demo | build-plugins | ci>");
            eprintln!("  demo           set up (wasm target, plugins, release weft) and run the iris example");
            eprintln!("  build-plugins  build every plugin under plugins/ into dist/plugins/");
            eprintln!("  ci             build plugins, then fmt --check, clippy -D warnings, tests");
            std::process::exit(2);
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A plugin crate found under `plugins/`: a package whose `[lib]` is a `cdylib`.
struct Plugin {
    name: String,
    dir: PathBuf,
}

/// Finds plugins by scanning `plugins/<group>/<crate>/Cargo.toml`; no hand-kept list.
fn discover(plugins: &Path) -> Result<Vec<Plugin>> {
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

fn build_plugins() -> Result<Vec<PathBuf>> {
    let root = root();
    let plugins_dir = root.join("plugins");
    let plugins = discover(&plugins_dir)?;
    let target_dir =
        std::env::var_os("WEFT_PLUGINS_TARGET_DIR").map_or_else(|| plugins_dir.join("target"), PathBuf::from);
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(&plugins_dir)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--locked"])
        .env("CARGO_TARGET_DIR", &target_dir);
    for p in &plugins {
        cmd.args(["-p", &p.name]);
    }
    eprintln!(
        "building {} plugins: {}",
        plugins.len(),
        plugins.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    let status = cmd.status().context("running cargo for the plugins")?;
    if !status.success() {
        bail!("building plugins failed (is the target installed? `rustup target add wasm32-wasip2`)");
    }
    let dist = root.join("dist/plugins");
    std::fs::create_dir_all(&dist)?;
    let mut out = Vec::new();
    for p in &plugins {
        let built = target_dir
            .join("wasm32-wasip2/release")
            .join(format!("{}.wasm", p.name.replace('-', "_")));
        let dest = dist.join(format!("{}.wasm", p.name));
        std::fs::copy(&built, &dest).with_context(|| format!("copying {} ({})", built.display(), p.dir.display()))?;
        out.push(dest);
    }
    eprintln!("plugins written to {}", dist.display());
    Ok(out)
}

fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("+ {cmd:?}");
    let status = cmd.status()?;
    if !status.success() {
        bail!("command failed: {cmd:?}");
    }
    Ok(())
}

fn demo() -> Result<()> {
    let root = root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip2"]))
        .context("installing the wasm32-wasip2 target (is rustup installed?)")?;
    build_plugins()?;
    run(Command::new(&cargo).current_dir(&root).args([
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

fn ci() -> Result<()> {
    let root = root();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    build_plugins()?;
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
    // Plugin logic is plain Rust: its unit tests run natively.
    let plugins_target =
        std::env::var_os("WEFT_PLUGINS_TARGET_DIR").map_or_else(|| root.join("plugins/target"), PathBuf::from);
    let mut tally = Tally::default();
    tally.run(
        Command::new(&cargo)
            .current_dir(root.join("plugins"))
            .env("CARGO_TARGET_DIR", plugins_target)
            .args(["test", "--workspace", "--locked"]),
    )?;
    tally.run(
        Command::new(&cargo)
            .current_dir(&root)
            .args(["test", "--workspace", "--locked"]),
    )?;
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

/// Counts of every `test result:` line cargo prints.
#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Tally {
    /// Runs `cargo test ...`, echoing its output and adding up its results.
    fn run(&mut self, cmd: &mut Command) -> Result<()> {
        use std::io::{BufRead, BufReader};
        eprintln!("+ {cmd:?}");
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            let Some(rest) = line.strip_prefix("test result: ") else {
                continue;
            };
            for part in rest.split(';') {
                let mut words = part.split_whitespace().rev();
                let (Some(kind), Some(n)) = (words.next(), words.next()) else {
                    continue;
                };
                let n: u64 = n.parse().unwrap_or(0);
                match kind {
                    "passed" => self.passed += n,
                    "failed" => self.failed += n,
                    "ignored" => self.ignored += n,
                    _ => {}
                }
            }
        }
        if !child.wait()?.success() {
            bail!("command failed: {cmd:?}");
        }
        Ok(())
    }
}
