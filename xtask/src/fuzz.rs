//! `cargo xtask fuzz [SECONDS]`: builds weft-model's coverage-guided fuzz targets
//! (`host/model/fuzz`, cargo-fuzz + libFuzzer) and runs each for a fixed time; a crash, a
//! slow input or a memory blow-up fails the command and leaves the input to turn into a
//! regression test.
//!
//! The toolchain is stable Rust: cargo-fuzz's instrumentation flags are nightly-only, so
//! the build runs with `RUSTC_BOOTSTRAP=1`, and without a sanitizer (`-s none`; the model
//! has no unsafe code, and what is looked for is panics, stack overflows, time and memory).
//! cargo-fuzz itself is installed once into the CI cache (`$WEFT_CI_CACHE/tools`, default
//! `~/.cache/weft-ci/tools`), where the corpus also grows from run to run.

use crate::run;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The cargo-fuzz release installed (from crates.io) when none is cached.
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// Seconds each target runs in `cargo xtask ci`.
pub const CI_SECONDS: u64 = 20;

/// Builds every target under `host/model/fuzz/fuzz_targets` and runs each for `seconds`.
pub fn fuzz(root: &Path, seconds: u64) -> Result<()> {
    let started = Instant::now();
    let cache = crate::tools::cache_dir();
    let cargo_fuzz = crate::tools::install(&cache, "cargo-fuzz", CARGO_FUZZ_VERSION)?;
    let crate_dir = root.join("host/model");
    let fuzz_dir = crate_dir.join("fuzz");
    let targets = discover(&fuzz_dir)?;
    let env = |cmd: &mut Command| {
        cmd.current_dir(&crate_dir)
            .env("RUSTC_BOOTSTRAP", "1")
            .env("CARGO_TARGET_DIR", cache.join("fuzz-target"));
    };
    // The fuzz crate is its own workspace: `cargo fmt --all` at the root does not see it.
    let mut fmt = Command::new("rustfmt");
    fmt.current_dir(&fuzz_dir).args(["--edition", "2024", "--check"]);
    for target in &targets {
        fmt.arg(format!("fuzz_targets/{target}.rs"));
    }
    run(&mut fmt)?;
    let mut build = Command::new(&cargo_fuzz);
    build.args(["build", "--sanitizer", "none"]);
    env(&mut build);
    run(&mut build).context("building the fuzz targets")?;
    let built = started.elapsed();
    for target in &targets {
        let corpus = cache.join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
        let mut cmd = Command::new(&cargo_fuzz);
        cmd.args(["run", "--sanitizer", "none", target]).arg(&corpus);
        // Read-only seeds: libFuzzer writes new inputs only to the first corpus directory.
        for seeds in seed_dirs(root, &fuzz_dir, target) {
            cmd.arg(seeds);
        }
        cmd.arg("--").args([
            format!("-max_total_time={seconds}"),
            // One input taking seconds or hundreds of MiB is a bug in a parser bounded to
            // milliseconds and 256 MiB: report it like a crash.
            "-timeout=10".into(),
            "-rss_limit_mb=1024".into(),
            "-malloc_limit_mb=512".into(),
            "-print_final_stats=1".into(),
        ]);
        let dict = fuzz_dir.join(format!("{target}.dict"));
        if dict.exists() {
            cmd.arg(format!("-dict={}", dict.display()));
        }
        env(&mut cmd);
        let one = Instant::now();
        run(&mut cmd).with_context(|| {
            format!(
                "fuzz target `{target}` found a problem: the input is under {}; reproduce with `cd host/model && RUSTC_BOOTSTRAP=1 cargo fuzz run -s none {target} FILE` and add it as a regression test in host/model/tests/",
                fuzz_dir.join("artifacts").join(target).display()
            )
        })?;
        eprintln!(
            "fuzz: `{target}` ran {:.0} s without a problem",
            one.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "fuzz: {} targets, {seconds} s each; {:.0} s in all ({:.0} s installing and building)",
        targets.len(),
        started.elapsed().as_secs_f64(),
        built.as_secs_f64()
    );
    Ok(())
}

/// The seconds asked for on the command line, or the CI default.
pub fn seconds(arg: Option<&String>) -> Result<u64> {
    match arg {
        None => Ok(CI_SECONDS),
        Some(s) => match s.parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("usage: cargo xtask fuzz [SECONDS]: `{s}` is not a positive number of seconds"),
        },
    }
}

/// The fuzz targets, found by scanning `fuzz_targets/*.rs`.
fn discover(fuzz_dir: &Path) -> Result<Vec<String>> {
    let dir = fuzz_dir.join("fuzz_targets");
    let mut targets: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    targets.sort();
    if targets.is_empty() {
        bail!("no fuzz targets in {}", dir.display());
    }
    Ok(targets)
}

/// Inputs a target starts from: `fuzz/seeds/TARGET`, and for workflows every golden
/// invalid workflow and example.
fn seed_dirs(root: &Path, fuzz_dir: &Path, target: &str) -> Vec<PathBuf> {
    let mut dirs = vec![fuzz_dir.join("seeds").join(target)];
    if target == "workflow" {
        dirs.push(root.join("host/model/tests/invalid"));
        dirs.push(root.join("examples"));
    }
    dirs.into_iter().filter(|d| d.is_dir()).collect()
}
