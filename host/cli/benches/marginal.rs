//! The marginal cost of a step in a whole `weft run`: the real binary, a fresh process per
//! run, on the embedded defaults (SQLite records, local store) in a scratch home. A chain
//! of 40 `test-copy` steps, each reading the previous step's 1 KiB artifact and writing
//! its own, against a chain of 1: (t40 − t1) / 39 is what one more step costs, with the
//! process start, loading, locking and recording of the run taken out. The cache is off
//! (`--no-cache`), so every step executes. Rounds alternate the two chains so they share
//! the machine's noise; medians are reported. Each round runs both chains twice: with the
//! defaults (artifacts of at most 64 KiB kept in the run records) and with
//! `--inline-max 0` (every new artifact published in the store, as before the records kept
//! small ones), side by side.
//!
//! Run: `cargo bench -p weft --bench marginal` (test-copy comes from `weft-test-programs`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const ROUNDS: usize = 15;
const LONG: usize = 40;

fn chain(dir: &Path, n: usize) -> PathBuf {
    let mut y = String::from("name: chain\ninputs:\n  seed: {path: seed.bin}\nsteps:\n");
    for i in 0..n {
        let from = if i == 0 {
            "inputs.seed".to_string()
        } else {
            format!("s{}.data", i - 1)
        };
        y.push_str(&format!("  s{i}: {{uses: test-copy, inputs: {{data: {from}}}}}\n"));
    }
    let path = dir.join(format!("chain{n}.yaml"));
    std::fs::write(&path, y).expect("write workflow");
    path
}

fn weft(home: &Path, testing: &Path, workflow: &Path, inline_max: &str) -> Duration {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .env_remove("WEFT_STORE")
        .env_remove("WEFT_RECORDS")
        .env_remove("WEFT_PLUGIN_PATH")
        .arg("--home")
        .arg(home)
        .arg("--plugins")
        .arg(testing)
        .args(["run", "--no-cache", "--no-progress", "--inline-max", inline_max])
        .arg(workflow)
        .output()
        .expect("run weft");
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    elapsed
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    // The test guests (test-copy) as built by weft-test-programs, a plugin directory.
    let testing = weft_test_programs::dir().to_path_buf();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("seed.bin"), vec![7u8; 1024]).expect("seed");
    let (short, long) = (chain(dir.path(), 1), chain(dir.path(), LONG));
    let home = dir.path().join("home");
    let configs = [
        ("small artifacts in the records (default)", "64Ki"),
        ("--inline-max 0, every artifact in the store", "0"),
    ];
    // Warm-up: compile the component into the home's cache, create the records.
    for (_, max) in configs {
        weft(&home, &testing, &short, max);
        weft(&home, &testing, &long, max);
    }
    let mut samples = vec![(Vec::new(), Vec::new()); configs.len()];
    for _ in 0..ROUNDS {
        for ((_, max), (t1, tn)) in configs.iter().zip(&mut samples) {
            t1.push(weft(&home, &testing, &short, max));
            tn.push(weft(&home, &testing, &long, max));
        }
    }
    println!("whole `weft run`, {ROUNDS} interleaved rounds, medians:");
    for ((name, _), (t1, tn)) in configs.iter().zip(samples) {
        let (t1, tn) = (median(t1), median(tn));
        let marginal = tn.saturating_sub(t1) / u32::try_from(LONG - 1).expect("small");
        println!("{name}:");
        println!("  1-step chain:  {:.1} ms", t1.as_secs_f64() * 1e3);
        println!("  {LONG}-step chain: {:.1} ms", tn.as_secs_f64() * 1e3);
        println!(
            "  marginal cost per step ((t{LONG} - t1) / {}): {:.1} µs",
            LONG - 1,
            marginal.as_secs_f64() * 1e6
        );
    }
}
