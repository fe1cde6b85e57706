//! The architecture's invariants, checked rather than only written down (ARCHITECTURE.md,
//! "Invariants"): which crates may link wasmtime, that the model does no IO, and that only
//! the CLI reads the environment (of the crates `weft` links). The dependency graph comes from `cargo metadata`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Package name → names of its normal (non-dev, non-build) dependencies.
fn normal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // This machine's platform only: the crates of others are not downloaded.
    let rustc = std::process::Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc -vV");
    let host = String::from_utf8_lossy(&rustc.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .expect("rustc names its host");
    let out = std::process::Command::new(cargo)
        .current_dir(root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--offline",
            "--filter-platform",
            &host,
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let name_of: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| (p["id"].as_str().expect("id"), p["name"].as_str().expect("name")))
        .collect();
    let mut graph = BTreeMap::new();
    for node in meta["resolve"]["nodes"].as_array().expect("resolve") {
        let deps = node["deps"]
            .as_array()
            .expect("deps")
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|kinds| kinds.iter().any(|k| k["kind"].is_null()))
            })
            .map(|d| name_of[d["pkg"].as_str().expect("pkg")].to_string())
            .collect();
        graph.insert(name_of[node["id"].as_str().expect("id")].to_string(), deps);
    }
    graph
}

/// Every package `krate` links, itself excluded.
fn closure(graph: &BTreeMap<String, BTreeSet<String>>, krate: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![krate.to_string()];
    while let Some(k) = stack.pop() {
        for d in graph.get(&k).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

#[test]
fn only_the_sandbox_links_wasmtime() {
    let graph = normal_dependencies();
    let direct: Vec<&String> = graph
        .iter()
        .filter(|(k, deps)| k.starts_with("weft") && deps.iter().any(|d| d.starts_with("wasmtime")))
        .map(|(k, _)| k)
        .collect();
    // The benchmark names wasmtime for its raw baseline only.
    assert_eq!(
        direct,
        ["weft-bench", "weft-sandbox"],
        "crates depending on wasmtime directly"
    );
    for krate in [
        "weft-model",
        "weft-task",
        "weft-artifacts",
        "weft-engine",
        "weft-records",
    ] {
        assert!(graph.contains_key(krate), "no crate {krate}");
        let linked: Vec<String> = closure(&graph, krate)
            .into_iter()
            .filter(|d| d.starts_with("wasmtime") || d.starts_with("cranelift") || d == "weft-sandbox")
            .collect();
        assert!(linked.is_empty(), "{krate} links {linked:?}");
    }
}

#[test]
fn the_model_does_no_io() {
    let graph = normal_dependencies();
    let io = [
        "tokio",
        "object_store",
        "sqlx",
        "rustix",
        "libc",
        "mio",
        "reqwest",
        "wasmtime",
    ];
    let linked: Vec<String> = closure(&graph, "weft-model")
        .into_iter()
        .filter(|d| io.contains(&d.as_str()))
        .collect();
    assert!(linked.is_empty(), "weft-model links {linked:?}");
    let calls = [
        "std::fs",
        "std::net",
        "std::process",
        "std::env",
        "std::io::stdin",
        "File::",
        "tokio",
    ];
    for (file, line, text) in sources(&root().join("host/model/src")) {
        for call in calls {
            assert!(!text.contains(call), "{file}:{line}: the model must do no IO: {text}");
        }
    }
}

#[test]
fn only_the_cli_reads_the_environment() {
    let reads = [
        "env::var",
        "env::vars",
        "env::var_os",
        "env::temp_dir",
        "from_env(",
        "env::home_dir",
    ];
    // The test support crate reads which services tests run against; `weft` never links it.
    let linked = closure(&normal_dependencies(), "weft");
    assert!(linked.contains("weft-records") && !linked.contains("weft-test-programs"));
    let mut found = Vec::new();
    for dir in std::fs::read_dir(root().join("host")).expect("host/") {
        let dir = dir.expect("entry").path();
        if dir.ends_with("cli") || dir.ends_with("test-programs") {
            continue;
        }
        for (file, line, text) in sources(&dir.join("src")) {
            if reads.iter().any(|r| text.contains(r)) {
                found.push(format!("{file}:{line}: {text}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "only host/cli may read the environment:\n{}",
        found.join("\n")
    );
}

/// Every non-comment line of the Rust files under `dir`: (file, line number, text).
fn sources(dir: &Path) -> Vec<(String, usize, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).expect("read source");
                for (i, line) in text.lines().enumerate() {
                    let code = line.trim_start();
                    if !code.starts_with("//") {
                        out.push((p.display().to_string(), i + 1, code.to_string()));
                    }
                }
            }
        }
    }
    out
}
