//! Helpers shared by the end-to-end tests: run the real `weft` binary in a scratch home.

#![allow(dead_code)]

pub mod served;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repo root")
}

/// Weft's own built steps (dist/plugins); the suite needs `cargo xtask build-plugins` first.
pub fn plugins() -> PathBuf {
    weft_test_programs::plugins()
}

/// The test guests (`plugins/testing/*`), built by `weft-test-programs` into a directory
/// of their own, on no default plugin path: only the tests search there.
pub fn testing() -> PathBuf {
    weft_test_programs::dir().to_path_buf()
}

/// A scratch Weft home with its own store and compile cache.
pub struct Home {
    pub dir: tempfile::TempDir,
    /// `--records` for every command (else the SQLite file in the home).
    pub records: Option<String>,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().expect("tempdir"),
            records: None,
        }
    }

    /// A home whose run records are at `records` (a `postgres://` URL).
    pub fn with_records(records: &str) -> Home {
        Home {
            records: Some(records.to_string()),
            ..Home::new()
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `weft ARGS` from the repository root with this home and the built plugins.
    /// Compiled components come from a cache shared by the tests (keyed by digest, so
    /// sharing is safe): a Python component takes seconds to compile in a debug build.
    pub fn weft(&self, args: &[&str]) -> Output {
        self.weft_with_cache(args, &Home::shared_cache())
    }

    /// The compile cache the tests share.
    pub fn shared_cache() -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("weft-compile-cache")
    }

    /// Like `weft`, with the compile cache at `cache`.
    pub fn weft_with_cache(&self, args: &[&str], cache: &Path) -> Output {
        self.command_with_cache(args, cache).output().expect("run weft")
    }

    /// The `weft ARGS` command `weft` runs, to spawn it yourself.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_with_cache(args, &Home::shared_cache())
    }

    fn command_with_cache(&self, args: &[&str], cache: &Path) -> Command {
        self.command_with_plugins(args, cache, &[plugins(), testing()])
    }

    /// The `weft ARGS` command with these plugin directories (and the shared compile cache
    /// at `cache`).
    pub fn command_with_plugins(&self, args: &[&str], cache: &Path, plugin_dirs: &[PathBuf]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
        cmd.current_dir(root())
            .env("WEFT_HOME", self.path())
            .env("WEFT_CACHE_DIR", cache)
            .env_remove("WEFT_STORE")
            .env_remove("WEFT_PLUGIN_PATH")
            .env_remove("WEFT_RECORDS");
        for dir in plugin_dirs {
            cmd.arg("--plugins").arg(dir);
        }
        if let Some(records) = &self.records {
            cmd.arg("--records").arg(records);
        }
        cmd.args(args);
        cmd
    }

    /// `weft runs show RUN --json`.
    pub fn show(&self, run: &str) -> serde_json::Value {
        let out = self.weft(&["runs", "show", run, "--json"]);
        assert!(out.status.success(), "runs show {run}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).expect("runs show --json")
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs a workflow with `--json` and returns the report.
pub fn run_json(home: &Home, file: &str, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["run", "--json", file];
    args.extend_from_slice(extra);
    let out = home.weft(&args);
    let code = out.status.code().unwrap_or(-1);
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stdout: {} stderr: {}",
            stdout(&out),
            stderr(&out)
        )
    });
    (code, report)
}

/// Each step's outputs as (`STEP.PORT`, digest), in report order.
pub fn outputs(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for step in report["steps"].as_array().expect("steps") {
        for (port, meta) in step["outputs"].as_object().expect("outputs") {
            out.push((
                format!("{}.{port}", step["id"].as_str().unwrap_or("?")),
                meta["digest"].to_string(),
            ));
        }
    }
    out
}

/// Committed steps: id → (outputs, attempts) of every succeeded step of a run report.
pub fn committed(
    report: &serde_json::Value,
) -> std::collections::BTreeMap<String, (serde_json::Value, serde_json::Value)> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["status"] == "succeeded")
        .map(|s| {
            (
                s["id"].as_str().expect("id").to_string(),
                (s["outputs"].clone(), s["attempts"].clone()),
            )
        })
        .collect()
}

/// The admin URL of the test PostgreSQL (`WEFT_TEST_POSTGRES`), or `None` after saying the
/// test is skipped; a panic when `WEFT_TEST_SERVICES=required`.
pub fn postgres_admin() -> Option<String> {
    weft_test_programs::services::postgres()
}
