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
fn plugin_projects_are_made_whole_built_and_refused_clearly() {
    let home = Home::new();
    let into = home.path().join("projects");
    let into_arg = into.to_str().expect("utf8");
    let out = home.weft(&["plugin", "new", "--lang", "c", "my-step", "--into", into_arg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("next: cd "), "{}", stdout(&out));
    let dir = into.join("my-step");
    for file in [
        "app.c",
        "weft_step.h",
        "wit/weft.wit",
        "test-data/text.txt",
        "README.md",
    ] {
        assert!(dir.join(file).is_file(), "{file} is missing");
    }
    let again = home.weft(&["plugin", "new", "--lang", "c", "my-step", "--into", into_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("already exists"), "{}", stderr(&again));

    // A directory that is no project is told how to make one.
    let empty = home.path().join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let out = home.weft(&["plugin", "build", empty.to_str().expect("utf8")]);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(
        said.contains("is not a step project") && said.contains("weft plugin new"),
        "{said}"
    );

    // The C project builds here (the bindings come from `weft` itself), or the build says
    // which toolchain is missing and the command that installs it.
    let out = home.weft(&["plugin", "build", dir.to_str().expect("utf8")]);
    if out.status.success() {
        assert!(stdout(&out).contains("built my-step 0.1.0 (c)"), "{}", stdout(&out));
        assert!(dir.join("my-step.wasm").is_file());
    } else {
        let said = stderr(&out);
        assert!(said.contains("sudo apt-get install clang"), "{said}");
    }
}

#[test]
fn components_compile_into_the_users_cache_by_default() {
    let home = Home::new();
    let user = home.path().join("user");
    let file = plugins().join("train-test-split.wasm");
    for cwd in ["one", "two"] {
        let dir = home.path().join(cwd);
        std::fs::create_dir_all(&dir).expect("mkdir");
        let out = home
            .command(&["plugin", "inspect", file.to_str().expect("utf8")])
            .current_dir(&dir)
            .env_remove("WEFT_CACHE_DIR")
            .env_remove("XDG_CACHE_HOME")
            .env("HOME", &user)
            .output()
            .expect("weft");
        assert!(out.status.success(), "{}", stderr(&out));
    }
    // One cache for both working directories, in the user's cache directory.
    let cache = user.join(".cache/weft/compiled");
    let entries = std::fs::read_dir(&cache).map(|d| d.count()).unwrap_or(0);
    assert!(entries >= 1, "nothing compiled into {}", cache.display());
    assert!(!home.path().join("cache/compiled").exists(), "not in the home's");
}

#[test]
fn a_large_component_compiling_for_the_first_time_is_announced() {
    let home = Home::new();
    let user = home.path().join("user");
    // A JavaScript runtime: over 1 MiB, seconds to compile.
    let file = plugins().join("standardize.wasm");
    let inspect = || {
        home.command(&["plugin", "inspect", file.to_str().expect("utf8")])
            .env_remove("WEFT_CACHE_DIR")
            .env_remove("XDG_CACHE_HOME")
            .env("HOME", &user)
            .output()
            .expect("weft")
    };
    let first = inspect();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("standardize.wasm (")
            && stderr(&first).contains("for this machine; it is cached after the first time"),
        "no announcement in:\n{}",
        stderr(&first)
    );
    let again = inspect();
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        !stderr(&again).contains("for this machine"),
        "announced again:\n{}",
        stderr(&again)
    );
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

    // Inputs are typed as a workflow types them (by extension, or as given) and held to
    // the port's type: a `.txt` is not CSV unless it is said to be.
    let notes = home.path().join("iris.txt");
    std::fs::copy(common::root().join("examples/data/iris.csv"), &notes).expect("copy");
    let as_text = format!("csv={}", notes.display());
    let o = home.weft(&["step", "run", csv.to_str().expect("utf8"), "-i", &as_text]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("input `csv` takes text/csv, but") && err.contains("is text/plain (by its name)"),
        "{err}"
    );
    let as_csv = format!("{as_text}:text/csv");
    let o = home.weft(&[
        "step",
        "run",
        csv.to_str().expect("utf8"),
        "-i",
        &as_csv,
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

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

/// Runs `weft ARGS` and fails the test (instead of hanging it) if it takes longer than 60 s.
fn weft_bounded(home: &Home, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = home.command(args);
    cmd.envs(env.iter().copied())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("spawn weft");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("weft {args:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

#[test]
fn special_large_and_binary_files_are_refused_before_reading() {
    let home = Home::new();
    let dir = home.path();
    let fifo = dir.join("fifo.yaml");
    mkfifo(&fifo);
    let sparse = dir.join("sparse.yaml");
    std::fs::File::create(&sparse)
        .expect("create")
        .set_len(4 << 30)
        .expect("a 4 GiB sparse file");
    let binary = dir.join("binary.yaml");
    std::fs::write(&binary, b"name: x\nsteps: {}\n\x00\xff\xfe\x01").expect("write");
    let s = |p: &std::path::Path| p.to_str().expect("utf8").to_string();
    // The workflow itself: exit 2 (invalid input) with what is wrong, never a hang.
    for (file, expected) in [
        ("/dev/zero".to_string(), "it is a character device, not a regular file"),
        (s(&fifo), "it is a FIFO, not a regular file"),
        (s(dir), "it is a directory, not a regular file"),
        (s(&sparse), "larger than the limit of 1 MiB"),
        (s(&binary), "not UTF-8 text"),
    ] {
        for cmd in ["validate", "run"] {
            let out = weft_bounded(&home, &[cmd, &file], &[]);
            assert_eq!(out.status.code(), Some(2), "{cmd} {file}: {}", stderr(&out));
            assert!(stderr(&out).contains(expected), "{cmd} {file}: {}", stderr(&out));
        }
    }
    // `uses:` paths: a problem of the workflow, reported with the others.
    let wf = dir.join("uses.yaml");
    std::os::unix::fs::symlink("/dev/zero", dir.join("zero.wasm")).expect("symlink");
    let big = dir.join("big.wasm");
    std::fs::File::create(&big)
        .expect("create")
        .set_len(300 << 20)
        .expect("sparse");
    let component_fifo = dir.join("c.wasm");
    mkfifo(&component_fifo);
    std::fs::write(
        &wf,
        format!(
            "name: uses\nsteps:\n  a: {{uses: zero.wasm}}\n  b: {{uses: {}}}\n  c: {{uses: {}}}\n",
            s(&big),
            s(&component_fifo)
        ),
    )
    .expect("write");
    let out = weft_bounded(&home, &["validate", &s(&wf)], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("zero.wasm: it is a character device"), "{err}");
    assert!(
        err.contains("big.wasm: it is larger than the limit of 256 MiB"),
        "{err}"
    );
    assert!(err.contains("c.wasm: it is a FIFO"), "{err}");
    // `plugin inspect` and `step run` take the same path.
    for file in ["/dev/zero".to_string(), s(&component_fifo), s(&big)] {
        let out = weft_bounded(&home, &["plugin", "inspect", &file], &[]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        assert!(stderr(&out).contains("cannot read component"), "{}", stderr(&out));
        let out = weft_bounded(&home, &["step", "run", &file], &[]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    }
    // `step run -i PORT=FILE`.
    let csv = s(&plugins().join("csv-to-table.wasm"));
    let data_fifo = dir.join("data.csv");
    mkfifo(&data_fifo);
    for (input, expected) in [
        ("csv=/dev/zero".to_string(), "is a system pseudo-file"),
        (format!("csv={}", s(&data_fifo)), "it is a FIFO, not a regular file"),
        (format!("csv={}", s(&sparse)), "more than the 1 GiB allowed"),
    ] {
        let out = weft_bounded(&home, &["step", "run", &csv, "-i", &input], &[]);
        assert_eq!(out.status.code(), Some(2), "{input}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{input}: {}", stderr(&out));
    }
}

/// A workflow in a scratch directory reading `inputs.data` from `path`.
fn input_workflow(dir: &std::path::Path, path: &str) -> String {
    let wf = dir.join("inputs.yaml");
    std::fs::write(
        &wf,
        format!("name: inputs\ninputs:\n  data: {{path: \"{path}\", media_type: text/csv}}\nsteps:\n  load: {{uses: csv-to-table, inputs: {{csv: inputs.data}}}}\n"),
    )
    .expect("write");
    wf.to_str().expect("utf8").to_string()
}

#[test]
fn workflow_inputs_follow_the_input_policy() {
    let home = Home::new();
    let dir = home.path().join("wf");
    let root = dir.join("uploads");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::copy(common::root().join("examples/data/iris.csv"), root.join("iris.csv")).expect("copy");
    std::fs::copy(common::root().join("examples/data/iris.csv"), dir.join("outside.csv")).expect("copy");
    std::os::unix::fs::symlink(dir.join("outside.csv"), root.join("link.csv")).expect("symlink");
    let refused = |wf: &str, extra: &[&str], expected: &str| {
        let mut args = extra.to_vec();
        args.extend(["validate", wf]);
        let out = weft_bounded(&home, &args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    };
    // Pseudo-files and devices never, whatever the policy.
    for p in ["/proc/self/pagemap", "/proc/self/environ", "/dev/urandom"] {
        refused(&input_workflow(&dir, p), &[], "inputs.data.path: ");
    }
    // A symlink is followed on the CLI, and the run says where it led.
    let wf = input_workflow(&dir, "uploads/link.csv");
    let out = home.weft(&["run", "--no-progress", &wf]);
    assert!(out.status.success(), "{}", stderr(&out));
    let real = dir.join("outside.csv").canonicalize().expect("real");
    assert!(
        stderr(&out).contains(&format!(
            "input `data`: {} resolved to {}",
            dir.join("uploads/link.csv").display(),
            real.display()
        )),
        "{}",
        stderr(&out)
    );
    // Under --inputs-root only files under the root, after resolving symlinks.
    let root_s = root.to_str().expect("utf8");
    refused(&wf, &["--inputs-root", root_s], "is outside the allowed inputs root");
    refused(
        &input_workflow(&dir, "outside.csv"),
        &["--inputs-root", root_s],
        "is outside the allowed inputs root",
    );
    refused(
        &input_workflow(&dir, "uploads/../outside.csv"),
        &["--inputs-root", root_s],
        "outside",
    );
    let ok = home.weft(&[
        "--inputs-root",
        root_s,
        "validate",
        &input_workflow(&dir, "uploads/iris.csv"),
    ]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let env = home
        .command(&["validate", &input_workflow(&dir, "outside.csv")])
        .env("WEFT_INPUTS_ROOT", root_s)
        .output()
        .expect("weft");
    assert_eq!(env.status.code(), Some(2), "WEFT_INPUTS_ROOT is the same switch");
    // No host paths at all.
    refused(
        &input_workflow(&dir, "uploads/iris.csv"),
        &["--no-host-inputs"],
        "host paths are not allowed",
    );
    // A size cap.
    refused(
        &input_workflow(&dir, "uploads/iris.csv"),
        &["--max-input-size", "1Ki"],
        "more than the 1024 bytes allowed",
    );
}

#[test]
fn a_planted_compile_cache_entry_never_runs() {
    let home = Home::new();
    let cache = home.path().join("private-cache");
    let inspect = |file: &std::path::Path| {
        let out = home.weft_with_cache(&["plugin", "inspect", file.to_str().expect("utf8")], &cache);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let (a, b) = (
        plugins().join("summary-stats.wasm"),
        plugins().join("select-columns.wasm"),
    );
    assert!(inspect(&a).starts_with("summary-stats "));
    assert!(inspect(&b).starts_with("select-columns "));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&cache).expect("cache").permissions().mode() & 0o777,
        0o700,
        "the cache is created private"
    );
    let entry = |file: &std::path::Path| {
        let hex = hex_digest(&std::fs::read(file).expect("read"));
        std::fs::read_dir(&cache)
            .expect("cache")
            .flatten()
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&hex)))
            .expect("an entry")
    };
    // B's compiled code under A's name: A must still be A.
    std::fs::copy(entry(&b), entry(&a)).expect("plant");
    let text = inspect(&a);
    assert!(text.starts_with("summary-stats "), "ran the planted code: {text}");
    // A directory others may write is refused with the way out.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let out = home.weft_with_cache(&["plugin", "inspect", a.to_str().expect("utf8")], &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("other users may write it (mode 0777)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("chmod 700"), "{}", stderr(&out));
}

fn hex_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A component holding one core module of `functions` functions, each a long chain of
/// arithmetic: costly to compile, and no Weft step (it exports nothing).
fn costly_component(functions: u32, ops: u32) -> Vec<u8> {
    fn leb(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(u32::try_from(body.len()).expect("size"), out);
        out.extend_from_slice(body);
    }
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 1, 0x7f, 1, 0x7f], &mut module); // type 0: (i32) -> i32
    let mut funcs = Vec::new();
    leb(functions, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, functions as usize));
    section(3, &funcs, &mut module);
    // local.get 0, then `ops` times (i32.const 7; i32.mul; local.get 0; i32.add).
    let mut body = vec![0u8, 0x20, 0];
    for _ in 0..ops {
        body.extend_from_slice(&[0x41, 7, 0x6c, 0x20, 0, 0x6a]);
    }
    body.push(0x0b);
    let mut code = Vec::new();
    leb(functions, &mut code);
    for _ in 0..functions {
        leb(u32::try_from(body.len()).expect("size"), &mut code);
        code.extend_from_slice(&body);
    }
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component); // a core module section
    component
}

#[test]
fn compilation_is_bounded_in_time_and_memory() {
    let home = Home::new();
    let file = home.path().join("costly.wasm");
    // One function of 400,000 operations (2.4 MB): ~3.5 s and ~500 MB to compile in a
    // debug build, far past both limits below.
    std::fs::write(&file, costly_component(1, 400_000)).expect("write");
    let f = file.to_str().expect("utf8");
    let cache = home.path().join("cache");
    let started = std::time::Instant::now();
    let out = home.weft_with_cache(&["--compile-timeout", "300ms", "plugin", "inspect", f], &cache);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("took longer than 300ms and was stopped"),
        "{}",
        stderr(&out)
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the compiler was killed"
    );
    let out = home.weft_with_cache(&["--compile-memory", "128Mi", "plugin", "inspect", f], &cache);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needed more than 128 MiB of memory"),
        "{}",
        stderr(&out)
    );
    // Within its limits it compiles, and is then refused for what it is.
    let small = home.path().join("small.wasm");
    std::fs::write(&small, costly_component(2, 2)).expect("write");
    let out = home.weft_with_cache(&["plugin", "inspect", small.to_str().expect("utf8")], &cache);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("does NOT implement the Weft world"),
        "{}",
        stdout(&out)
    );
}

/// Whether process `pid` has ended (gone, or a zombie nobody reaped yet).
fn ended(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
        stat.rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z'))
    })
}

#[test]
fn a_killed_weft_leaves_no_compiler_behind() {
    let home = Home::new();
    let file = home.path().join("costly.wasm");
    std::fs::write(&file, costly_component(1, 400_000)).expect("write");
    let cache = home.path().join("cache");
    let mut cmd = home.command(&[
        "--compile-timeout",
        "60s",
        "plugin",
        "inspect",
        file.to_str().expect("utf8"),
    ]);
    let mut weft = cmd
        .env("WEFT_CACHE_DIR", &cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // The compiler is started by one of weft's threads: look at every thread's children.
    let tasks = format!("/proc/{}/task", weft.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let compiler = loop {
        let listed: String = std::fs::read_dir(&tasks)
            .into_iter()
            .flatten()
            .flatten()
            .map(|t| std::fs::read_to_string(t.path().join("children")).unwrap_or_default())
            .collect();
        if let Some(pid) = listed.split_whitespace().next() {
            break pid.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no compiler process started");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    weft.kill().expect("kill weft");
    weft.wait().expect("reap weft");
    // The compilation needs seconds more; the compiler must go with its parent at once.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(ended(&compiler), "compiler {compiler} outlived the killed weft");
}

#[test]
fn step_run_never_writes_outside_out() {
    let home = Home::new();
    let out_dir = home.path().join("a/out");
    let guest = testing().join("test-bad-port.wasm");
    let o = home.weft(&[
        "step",
        "run",
        guest.to_str().expect("utf8"),
        "--out",
        out_dir.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("output port name `../escaped` is not an identifier"),
        "{}",
        stderr(&o)
    );
    assert!(!home.path().join("a/escaped.txt").exists());
    assert!(!out_dir.exists(), "nothing was run or written");
}

/// Raw control characters a guest tried to print.
fn raw_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || ('\u{202a}'..='\u{202e}').contains(&c)
                || ('\u{2066}'..='\u{2069}').contains(&c)
        })
        .collect()
}

#[test]
fn guest_text_is_escaped_everywhere_it_is_printed() {
    let home = Home::new();
    let guest = testing().join("test-terminal-escape.wasm");
    let g = guest.to_str().expect("utf8");
    let check = |what: &str, out: &std::process::Output| {
        for (stream, text) in [("stdout", stdout(out)), ("stderr", stderr(out))] {
            let raw = raw_controls(&text);
            assert!(raw.is_empty(), "{what} {stream} printed raw {raw:?}:\n{text}");
        }
    };
    let o = home.weft(&["plugin", "inspect", g]);
    check("plugin inspect", &o);
    assert!(stdout(&o).contains("\\x1b[2J"), "{}", stdout(&o));
    let o = home.weft(&["step", "run", g]);
    assert_eq!(o.status.code(), Some(1));
    check("step run", &o);
    assert!(
        stderr(&o).contains("\\u{202e}txt.exe\\x00\\r\\nweft: all steps ok"),
        "{}",
        stderr(&o)
    );
    // The engine's own tracing carries the guest's log lines too.
    let o = home
        .command(&["step", "run", g])
        .env("WEFT_LOG", "debug")
        .output()
        .expect("weft");
    check("step run at WEFT_LOG=debug", &o);
    assert!(stderr(&o).contains("DEBUG"), "{}", stderr(&o));
    let wf = home.path().join("escape.yaml");
    std::fs::write(&wf, "name: escape\nsteps:\n  e: {uses: test-terminal-escape}\n").expect("write");
    let w = wf.to_str().expect("utf8");
    let o = home.weft(&["run", "--no-progress", w]);
    assert_eq!(o.status.code(), Some(1));
    check("run", &o);
    let o = home.weft(&["run", "--json", w]);
    check("run --json", &o);
    serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("still valid JSON");
    for args in [
        &["logs", "last"][..],
        &["runs", "show", "last"],
        &["runs", "show", "last", "--json"],
        &["runs", "list"],
        &["metrics", "--last", "1"],
    ] {
        let o = home.weft(args);
        check(&format!("{args:?}"), &o);
    }
}

#[test]
fn errors_never_print_a_backtrace() {
    let home = Home::new();
    for (args, code) in [
        (&["runs", "show", "no-such-run"][..], 1),
        (&["validate", "no-such-file.yaml"], 2),
        (&["artifact", "get", "sha256:00"], 1),
        (&["plugin", "inspect", "no-such.wasm"], 1),
    ] {
        let out = home
            .command(args)
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .output()
            .expect("weft");
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(!err.is_empty(), "{args:?} says why");
        let lower = err.to_lowercase();
        assert!(
            !lower.contains("backtrace") && !lower.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

/// `weft records check|recover` repair a SQLite file: on PostgreSQL records they refuse in
/// one line (naming the database without its password) instead of treating the URL as a
/// file name.
#[test]
fn records_check_on_postgres_refuses_without_showing_the_password() {
    let home = Home::with_records("postgres://weft:Sekr1tPassw0rd@127.0.0.1:9/weft");
    for command in ["check", "recover"] {
        let out = home.weft(&["records", command]);
        assert!(!out.status.success(), "records {command}");
        let err = stderr(&out);
        assert!(err.contains("PostgreSQL database"), "{err}");
        assert!(err.contains("127.0.0.1:9/weft") && !err.contains("Sekr1t"), "{err}");
    }
}

/// `weft tenant`: a token is printed once, alone on stdout; rotating kills the old one; the
/// list never shows a token; bad, reserved and duplicate names fail with the way out.
#[test]
fn tenants_get_a_token_once_and_can_rotate_it() {
    let home = Home::new();
    let created = home.weft(&["tenant", "create", "team-a"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let token = stdout(&created).trim().to_string();
    assert!(token.starts_with("weft_") && token.len() == 69, "{token}");
    assert!(stderr(&created).contains("shown once"), "{}", stderr(&created));

    let again = home.weft(&["tenant", "create", "team-a"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("weft tenant token team-a"),
        "{}",
        stderr(&again)
    );
    let bad = home.weft(&["tenant", "create", "Team/A"]);
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("lowercase letters"), "{}", stderr(&bad));
    // The built-in tenant owns a server's own steps: nobody may hold a token for it.
    let reserved = home.weft(&["tenant", "create", "weft"]);
    assert!(!reserved.status.success());
    assert!(stderr(&reserved).contains("reserved"), "{}", stderr(&reserved));
    assert!(!stdout(&reserved).contains("weft_"));

    let rotated = home.weft(&["tenant", "token", "team-a"]);
    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let new_token = stdout(&rotated).trim().to_string();
    assert!(new_token.starts_with("weft_") && new_token != token);
    let unknown = home.weft(&["tenant", "token", "team-z"]);
    assert!(stderr(&unknown).contains("no tenant `team-z`"), "{}", stderr(&unknown));

    let list = stdout(&home.weft(&["tenant", "list"]));
    assert!(list.starts_with("team-a  created "), "{list}");
    assert!(!list.contains(&token) && !list.contains(&new_token), "{list}");
}
