//! The `weft` command line, end to end: exit codes, error reports, hostile steps,
//! plugin inspection and artifact retrieval.

mod common;

use common::{Home, plugins, run_json, stderr, stdout, testing};

fn step<'a>(report: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn validate_lists_every_problem_and_exits_2() {
    let home = Home::new();
    let dir = home.path().join("wf");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "name: broken\nsteps:\n  load:\n    uses: csv-to-table\n    inputs: {csv: inputs.raw}\n    retyr: 2\n  stats:\n    uses: summary-stats\n    inputs: {table: load.tabel}\n  ghost:\n    uses: no-such-step\n",
    )
    .expect("write");
    let out = home.weft(&["validate", file.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "broken.yaml:5:19: steps.load.inputs.csv: no workflow input `raw`",
        "broken.yaml:6:5: steps.load.retyr: unknown key `retyr`; did you mean `retry`?",
        "broken.yaml:9:21: steps.stats.inputs.table: step `load` (`csv-to-table`) has no output `tabel`",
        "broken.yaml:11:11: steps.ghost.uses: no component `no-such-step` in the plugin path",
        "4 problems found; nothing was run",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    // `run` refuses the same file before running anything.
    let out = home.weft(&["run", file.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!home.path().join("store/tenants").exists(), "nothing was stored");
}

#[test]
fn validate_accepts_the_examples() {
    let home = Home::new();
    let out = home.weft(&["validate", "examples/iris-summary.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("valid workflow `iris-summary` with 9 steps"));
}

#[test]
fn params_are_checked_and_applied() {
    let home = Home::new();
    let out = home.weft(&[
        "validate",
        "examples/iris-summary.yaml",
        "--param",
        "seed=abc",
        "--param",
        "nope=1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("--param seed: `abc` is not an integer"), "{err}");
    assert!(err.contains("--param nope: unknown parameter"), "{err}");
    let (code, a) = run_json(&home, "examples/iris-summary.yaml", &["--param", "seed=1"]);
    assert_eq!(code, 0);
    assert_eq!(a["params"]["seed"], 1);
    let (_, b) = run_json(&home, "examples/iris-summary.yaml", &["--param", "seed=2"]);
    assert_ne!(
        step(&a, "split")["outputs"]["test"]["digest"],
        step(&b, "split")["outputs"]["test"]["digest"],
        "another seed gives another split"
    );
}

#[test]
fn hostile_steps_fail_alone() {
    let home = Home::new();
    let (code, report) = run_json(&home, "tests/workflows/hostile.yaml", &["--concurrency", "4"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["status"], "failed");
    let error = |id: &str| step(&report, id)["error"].as_str().unwrap_or("").to_string();
    assert_eq!(step(&report, "spin")["status"], "failed");
    assert!(error("spin").starts_with("timed out"), "{}", error("spin"));
    assert!(error("bomb").starts_with("out of memory"), "{}", error("bomb"));
    assert_eq!(error("burn"), "ran out of fuel (CPU budget of 20000000 units)");
    assert_eq!(error("peek"), "bad input: no host file was readable");
    assert!(
        error("crash").contains("deliberate panic from test guest"),
        "{}",
        error("crash")
    );
    assert_eq!(step(&report, "load")["status"], "succeeded");
    assert_eq!(step(&report, "stats")["status"], "succeeded");
    assert_eq!(step(&report, "after-crash")["status"], "blocked");
    assert_eq!(error("after-crash"), "not run: step `crash` failed");
}

#[test]
fn failed_run_prints_the_reason_and_the_log_tail() {
    let home = Home::new();
    let out = home.weft(&["run", "--no-progress", "tests/workflows/hostile.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("step `crash` failed: crashed:"), "{text}");
    assert!(text.contains("[stdout] about to panic"), "{text}");
    assert!(text.contains("FAILED"), "{text}");
    assert!(stderr(&out).contains("crash"), "plain progress lines on a non-terminal");
}

#[test]
fn plugin_inspect_shows_the_declaration() {
    let home = Home::new();
    let file = plugins().join("train-test-split.wasm");
    let out = home.weft(&["plugin", "inspect", file.to_str().expect("utf8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for expected in [
        "train-test-split 0.1.0",
        "implements weft:step/step-component@0.1.0",
        "test_fraction",
        "0.2",
        "application/vnd.weft.table+json",
        "sha256:",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    // A file that is not a component is reported, not crashed on.
    let junk = home.path().join("junk.wasm");
    std::fs::write(&junk, b"not wasm").expect("write");
    let out = home.weft(&["plugin", "inspect", junk.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("does NOT implement the Weft world"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn artifact_get_by_step_port_and_by_digest() {
    let home = Home::new();
    let (code, report) = run_json(&home, "examples/iris-summary.yaml", &[]);
    assert_eq!(code, 0);
    let run = report["run_id"].as_str().expect("run id");
    let target = home.path().join("summary.json");
    let out = home.weft(&[
        "artifact",
        "get",
        run,
        "test-stats.summary",
        "-o",
        target.to_str().expect("utf8"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let bytes = std::fs::read(&target).expect("written");
    let summary: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(summary[0]["column"], "sepal_length");
    assert_eq!(summary[0]["count"], 30);

    let digest = step(&report, "test-stats")["outputs"]["summary"]["digest"]
        .as_str()
        .expect("digest");
    let out = home.weft(&["artifact", "get", digest]);
    assert_eq!(out.stdout, bytes);

    let input = home.weft(&["artifact", "get", run, "inputs.iris"]);
    assert_eq!(
        input.stdout,
        std::fs::read(common::root().join("examples/data/iris.csv")).expect("csv")
    );

    let out = home.weft(&["artifact", "get", run, "load.nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("has no output `nope`"), "{}", stderr(&out));
    let out = home.weft(&["artifact", "get", "no-such-run", "load.table"]);
    assert!(
        stderr(&out).contains("no run `no-such-run` in the records"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn second_run_compiles_nothing() {
    let home = Home::new();
    let cache = home.path().join("own-cache");
    let run = || {
        let out = home.weft_with_cache(&["run", "--json", "examples/iris-summary.yaml"], &cache);
        assert!(out.status.success(), "{}", stderr(&out));
        stderr(&out)
    };
    let first = run();
    // The Python component is slow enough to compile that the CLI says so, once.
    assert!(first.contains("compiled `validate-table@0.1`"), "{first}");
    let entries = || {
        let mut v: Vec<_> = std::fs::read_dir(&cache)
            .expect("cache dir")
            .flatten()
            .map(|e| (e.file_name(), e.metadata().and_then(|m| m.modified()).ok()))
            .collect();
        v.sort();
        v
    };
    let before = entries();
    assert_eq!(before.len(), 7, "one entry per distinct component: {before:?}");
    let second = run();
    assert!(!second.contains("compiled"), "{second}");
    assert_eq!(entries(), before, "the second run reused every compiled component");
}

#[test]
fn step_run_is_a_harness_for_one_component() {
    let home = Home::new();
    let out = home.path().join("out");
    let csv = plugins().join("csv-to-table.wasm");
    let o = home.weft(&[
        "step",
        "run",
        csv.to_str().expect("utf8"),
        "--input",
        "csv=examples/data/iris.csv",
        "--param",
        "delimiter=,",
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("metric rows = 150"), "{text}");
    assert!(text.contains("csv-to-table 0.1.0 succeeded"), "{text}");
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("table.json")).expect("table.json")).expect("json");
    assert_eq!(table["columns"][4]["name"], "species");

    // Wrong use is refused before running, with every problem listed.
    let split = plugins().join("train-test-split.wasm");
    let o = home.weft(&[
        "step",
        "run",
        split.to_str().expect("utf8"),
        "-p",
        "seed=x",
        "-i",
        "nope=a.csv",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for expected in [
        "parameter `seed`: `x` is not an integer",
        "has no input `nope`",
        "input `table` (application/vnd.weft.table+json) needs --input table=FILE",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in {err}");
    }

    // A failing step exits 1 and says why.
    let panic = testing().join("test-panic.wasm");
    let o = home.weft(&["step", "run", panic.to_str().expect("utf8")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("deliberate panic"), "{}", stdout(&o));
    assert!(stderr(&o).contains("[stdout] about to panic"), "{}", stderr(&o));
}

#[test]
fn metrics_compare_runs_side_by_side() {
    let home = Home::new();
    let (_, a) = run_json(&home, "examples/iris-summary.yaml", &["--param", "test_fraction=0.2"]);
    let (_, b) = run_json(&home, "examples/iris-summary.yaml", &["--param", "test_fraction=0.4"]);
    let (ra, rb) = (a["run_id"].as_str().expect("id"), b["run_id"].as_str().expect("id"));
    let o = home.weft(&["metrics", ra, rb, "--step", "split"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let row = |metric: &str| {
        text.lines()
            .find(|l| l.contains(metric))
            .unwrap_or_else(|| panic!("no {metric} row in {text}"))
            .split('┆')
            .map(|c| c.trim_matches(|ch: char| ch.is_whitespace() || ch == '│').to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(row("test_rows")[2..], ["30", "60"]);
    assert_eq!(row("train_rows")[2..], ["120", "90"]);
    assert!(!text.contains("sepal_length.mean"), "--step keeps only split: {text}");
    let o = home.weft(&["metrics", "--last", "1"]);
    assert!(stdout(&o).contains(rb) && !stdout(&o).contains(ra));
    let o = home.weft(&["metrics"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--last N"));
}
