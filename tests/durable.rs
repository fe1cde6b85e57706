//! Run records end to end: caching (a hit, and a miss for each thing the key covers, and
//! no miss for anything else), retries, time limits, cancel, lineage and replay — each
//! through the real `weft` binary and a real SQLite file.

mod common;

use common::{Home, stderr, stdout, testing};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A scratch project: a workflow and its data files in a temporary directory.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        Project {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    fn workflow(&self, yaml: &str) -> String {
        self.write("wf.yaml", yaml.as_bytes()).display().to_string()
    }
}

/// Runs with `--json`; returns exit code and report.
fn run(home: &Home, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let out = home.weft(&all);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {} {}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id}"))
}

/// Step id → whether it was reused from the cache.
fn cached(report: &Value) -> Vec<(String, bool)> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| {
            (
                s["id"].as_str().expect("id").to_string(),
                s["reuse"]["kind"] == "cached",
            )
        })
        .collect()
}

const TWO_STEPS: &str = "name: two
inputs:
  a: {path: a.txt}
  b: {path: b.txt}
steps:
  left: {uses: test-work, inputs: {data: inputs.a}, with: {rounds: 10, salt: 1}}
  right: {uses: test-work, inputs: {data: inputs.b}, with: {rounds: 10}}
";

#[test]
fn a_second_identical_run_reuses_every_step_without_running_it() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    p.write("b.txt", b"beta");
    let wf = p.workflow(TWO_STEPS);
    let (code, first) = run(&home, &[&wf]);
    assert_eq!(code, 0, "{first:#}");
    assert_eq!(cached(&first), [("left".into(), false), ("right".into(), false)]);
    let (code, second) = run(&home, &[&wf]);
    assert_eq!(code, 0);
    assert_eq!(cached(&second), [("left".into(), true), ("right".into(), true)]);
    assert_eq!(step(&second, "left")["reuse"]["run"], first["run_id"]);
    assert_eq!(step(&second, "left")["outputs"], step(&first, "left")["outputs"]);
    // The hit also restores the metrics, which conditions downstream may read.
    assert_eq!(step(&second, "left")["metrics"], step(&first, "left")["metrics"]);
    // Nothing was executed: no attempts.
    assert_eq!(step(&second, "left")["attempts"], serde_json::json!([]));
    // The records agree.
    let shown = home.show(second["run_id"].as_str().expect("id"));
    assert_eq!(cached(&shown), cached(&second));
    // --no-cache runs everything again.
    let (_, third) = run(&home, &["--no-cache", &wf]);
    assert_eq!(cached(&third), [("left".into(), false), ("right".into(), false)]);
}

#[test]
fn one_changed_byte_of_an_input_misses_only_for_its_reader() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    p.write("b.txt", b"beta");
    let wf = p.workflow(TWO_STEPS);
    run(&home, &[&wf]);
    p.write("a.txt", b"alphA");
    let (_, report) = run(&home, &[&wf]);
    assert_eq!(cached(&report), [("left".into(), false), ("right".into(), true)]);
}

#[test]
fn a_changed_parameter_misses_only_for_its_step() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    p.write("b.txt", b"beta");
    run(&home, &[&p.workflow(TWO_STEPS)]);
    let (_, report) = run(&home, &[&p.workflow(&TWO_STEPS.replace("salt: 1", "salt: 2"))]);
    assert_eq!(cached(&report), [("left".into(), false), ("right".into(), true)]);
    // Writing a default out is the same parameter: still a hit.
    let (_, report) = run(
        &home,
        &[&p.workflow(
            &TWO_STEPS
                .replace("salt: 1", "salt: 2")
                .replace("rounds: 10}}\n", "rounds: 10, salt: 0}}\n"),
        )],
    );
    assert_eq!(cached(&report), [("left".into(), true), ("right".into(), true)]);
}

/// Appends a custom section to a component: a different byte string, the same code.
fn with_custom_section(wasm: &[u8]) -> Vec<u8> {
    let mut out = wasm.to_vec();
    let name = b"weft-test";
    let payload = b"x";
    out.push(0); // custom section id
    out.push(u8::try_from(1 + name.len() + payload.len()).expect("small"));
    out.push(u8::try_from(name.len()).expect("small"));
    out.extend_from_slice(name);
    out.extend_from_slice(payload);
    out
}

#[test]
fn a_changed_component_misses_and_nothing_else_does() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    p.write("b.txt", b"beta");
    let original = std::fs::read(testing().join("test-work.wasm")).expect("test-work.wasm");
    p.write("work.wasm", &original);
    let local = TWO_STEPS.replace(
        "uses: test-work, inputs: {data: inputs.a}",
        "uses: ./work.wasm, inputs: {data: inputs.a}",
    );
    run(&home, &[&p.workflow(&local)]);
    // Another name, another step id, limits, a retry policy, an extra step: all still hits.
    let renamed = local
        .replace("name: two", "name: renamed")
        .replace("  right:", "  other-right:")
        .replace(
            "with: {rounds: 10}}",
            "with: {rounds: 10}, limits: {timeout: 9s}, retry: 2}",
        )
        + "  extra: {uses: test-work, inputs: {data: inputs.b}, with: {rounds: 11}}\n";
    let (code, report) = run(&home, &[&p.workflow(&renamed)]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        cached(&report),
        [
            ("left".into(), true),
            ("other-right".into(), true),
            ("extra".into(), false)
        ]
    );
    // The component's bytes change: its step misses.
    p.write("work.wasm", &with_custom_section(&original));
    let (code, report) = run(&home, &[&p.workflow(&local)]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(cached(&report), [("left".into(), false), ("right".into(), true)]);
    assert_ne!(step(&report, "left")["component"], serde_json::json!(null));
}

#[test]
fn cache_false_keeps_a_step_out_of_the_cache() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    p.write("b.txt", b"beta");
    let wf = p.workflow(&TWO_STEPS.replace("with: {rounds: 10}}", "with: {rounds: 10}, cache: false}"));
    run(&home, &[&wf]);
    let (_, report) = run(&home, &[&wf]);
    assert_eq!(cached(&report), [("left".into(), true), ("right".into(), false)]);
    assert!(step(&report, "right").get("cache_key").is_none());
}

#[test]
fn retries_follow_the_policy_and_every_attempt_is_recorded() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    let wf = p.workflow(
        "name: retries
inputs:
  a: {path: a.txt}
steps:
  flaky:
    uses: test-work
    inputs: {data: inputs.a}
    with: {fail: failed}
    retry: {max: 2, backoff: 40ms, max_backoff: 1s}
  wrong:
    uses: test-work
    inputs: {data: inputs.a}
    with: {fail: bad-input}
    retry: 3
  slow:
    uses: test-spin
    limits: {timeout: 100ms}
    retry: 3
",
    );
    let started = Instant::now();
    let (code, report) = run(&home, &[&wf]);
    assert_eq!(code, 1);
    let attempts = |id: &str| step(&report, id)["attempts"].as_array().expect("attempts").clone();
    let flaky = attempts("flaky");
    assert_eq!(flaky.len(), 3, "{flaky:?}");
    assert!(flaky.iter().all(|a| a["status"] == "failed"));
    assert_eq!(flaky[2]["number"], 3);
    // Backoff with equal jitter waits at least half of 40 ms, then of 80 ms.
    assert!(started.elapsed() >= Duration::from_millis(60));
    // Bad input and a limit violation are final.
    assert_eq!(attempts("wrong").len(), 1);
    assert_eq!(attempts("slow").len(), 1);
    assert!(
        step(&report, "slow")["error"]
            .as_str()
            .expect("error")
            .contains("timed out")
    );
    // The records hold every attempt.
    let shown = home.show(report["run_id"].as_str().expect("id"));
    assert_eq!(step(&shown, "flaky")["attempts"].as_array().map(Vec::len), Some(3));
}

#[test]
fn the_run_time_limit_stops_running_steps_and_fails_the_run() {
    let (home, p) = (Home::new(), Project::new());
    let wf = p.workflow("name: limited\ntimeout: 300ms\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 60s}}\n");
    let started = Instant::now();
    let (code, report) = run(&home, &[&wf]);
    assert_eq!(code, 1);
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert_eq!(report["status"], "failed");
    assert!(
        report["error"].as_str().expect("error").contains("time limit of 300ms"),
        "{report:#}"
    );
    assert_eq!(step(&report, "spin")["status"], "cancelled");
    // `--timeout` overrides the file's.
    let (_, report) = run(&home, &["--timeout", "150ms", &wf]);
    assert!(report["error"].as_str().expect("error").contains("150ms"));
}

/// Waits until the newest run in `home` is recorded as running; returns its id.
fn running_run(home: &Home) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = home.weft(&["runs", "list", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if list[0]["status"] == "running" {
            return list[0]["run_id"].as_str().expect("id").to_string();
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn spin_workflow(p: &Project) -> String {
    p.workflow("name: spinning\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 120s}}\n  after: {uses: test-noop, after: [spin]}\n")
}

#[test]
fn weft_cancel_stops_a_running_run_promptly() {
    let (home, p) = (Home::new(), Project::new());
    let wf = spin_workflow(&p);
    let mut child = home
        .command(&["run", "--no-progress", &wf])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let run_id = running_run(&home);
    std::thread::sleep(Duration::from_millis(300));
    let asked = Instant::now();
    let out = home.weft(&["cancel", &run_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1));
    assert!(asked.elapsed() < Duration::from_secs(10), "{:?}", asked.elapsed());
    let shown = home.show(&run_id);
    assert_eq!(shown["status"], "cancelled");
    assert_eq!(step(&shown, "spin")["status"], "cancelled");
    assert_eq!(step(&shown, "after")["status"], "cancelled");
    // Cancelling a finished run says so.
    let again = home.weft(&["cancel", &run_id]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not running"), "{}", stderr(&again));
}

#[test]
fn ctrl_c_cancels_the_run_and_records_it() {
    let (home, p) = (Home::new(), Project::new());
    let wf = spin_workflow(&p);
    let child = home
        .command(&["run", "--no-progress", &wf])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let run_id = running_run(&home);
    std::thread::sleep(Duration::from_millis(300));
    // The shell's own `kill`: no procps package needed.
    let kill = std::process::Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(home.show(&run_id)["status"], "cancelled");
}

#[test]
fn lineage_walks_back_to_the_workflow_input_and_replay_is_bit_identical() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    let wf = p.workflow(
        "name: chain
inputs:
  a: {path: a.txt}
steps:
  one: {uses: test-work, inputs: {data: inputs.a}, with: {salt: 1}}
  two: {uses: test-work, inputs: {data: one.data}, with: {salt: 2}}
",
    );
    let (code, report) = run(&home, &[&wf]);
    assert_eq!(code, 0);
    let run_id = report["run_id"].as_str().expect("id");
    let last = step(&report, "two")["outputs"]["data"]["digest"]
        .as_str()
        .expect("digest");
    let out = home.weft(&["lineage", last, "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let nodes: Value = serde_json::from_slice(&out.stdout).expect("json");
    let origin = |i: usize| &nodes[i]["origin"];
    assert_eq!(origin(0)["step"], "two");
    assert_eq!(origin(0)["run"], run_id);
    assert_eq!(origin(0)["params"]["salt"], 2);
    assert_eq!(origin(0)["component"], step(&report, "two")["component"]);
    let one = nodes[0]["inputs"][0]["node"].as_u64().expect("node") as usize;
    assert_eq!(origin(one)["step"], "one");
    let input = nodes[one]["inputs"][0]["node"].as_u64().expect("node") as usize;
    assert_eq!(
        origin(input),
        &serde_json::json!({"kind": "input", "run": run_id, "name": "a"})
    );
    assert_eq!(nodes[input]["digest"], report["inputs"]["a"]["digest"]);
    // The same answer after the outputs came from the cache in a later run.
    let (_, again) = run(&home, &[&wf]);
    assert_eq!(step(&again, "two")["reuse"]["kind"], "cached");
    let out = home.weft(&["lineage", last, "--json"]);
    let nodes_again: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(nodes_again[0]["origin"]["run"], run_id);
    // The text form names every producer.
    let text = stdout(&home.weft(&["lineage", last]));
    assert!(
        text.contains("two.data of run") && text.contains("workflow input `a`"),
        "{text}"
    );

    // Replay runs the archived component on the recorded inputs.
    let out = home.weft(&["replay", run_id, "two"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("bit-identical"), "{}", stdout(&out));
    let out = home.weft(&["replay", run_id, "three"]);
    assert!(stderr(&out).contains("no step `three`"), "{}", stderr(&out));
}

/// A step's random bytes follow from its id and attempt; a cache hit under another id
/// (renaming a step keeps its cache key) replays the execution it reused, with that
/// execution's stream — so replaying it reproduces the recorded output.
#[test]
fn replay_of_a_cache_hit_uses_the_random_stream_of_the_reused_execution() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    let dice = |id: &str| {
        format!(
            "name: dice\ninputs:\n  a: {{path: a.txt}}\nsteps:\n  {id}: {{uses: test-hostile, inputs: {{data: inputs.a}}, with: {{attack: random, count: 0}}}}\n"
        )
    };
    let first = p.workflow(&dice("roll"));
    let (code, report) = run(&home, &[&first]);
    assert_eq!(code, 0, "{report:#}");
    let rolled = step(&report, "roll")["outputs"]["out"]["digest"].clone();
    let renamed = p.workflow(&dice("throw"));
    let (code, again) = run(&home, &[&renamed]);
    assert_eq!(code, 0, "{again:#}");
    assert_eq!(step(&again, "throw")["reuse"]["kind"], "cached");
    assert_eq!(step(&again, "throw")["outputs"]["out"]["digest"], rolled);
    for (run_id, id) in [(&report["run_id"], "roll"), (&again["run_id"], "throw")] {
        let out = home.weft(&["replay", run_id.as_str().expect("id"), id]);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        assert!(stdout(&out).contains("bit-identical"), "{id}: {}", stdout(&out));
    }
}

#[test]
fn runs_list_show_and_logs_read_the_records() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    let wf = p.workflow("name: logged\ninputs:\n  a: {path: a.txt}\nsteps:\n  chatty: {uses: test-chatty}\n  work: {uses: test-work, inputs: {data: inputs.a}}\n");
    let (_, report) = run(&home, &[&wf]);
    let run_id = report["run_id"].as_str().expect("id");
    let list = stdout(&home.weft(&["runs", "list"]));
    assert!(list.contains(run_id) && list.contains("logged"), "{list}");
    let show = stdout(&home.weft(&["runs", "show", "last"]));
    assert!(show.contains(run_id) && show.contains("work"), "{show}");
    let logs = stdout(&home.weft(&["logs", run_id, "chatty"]));
    assert!(
        logs.lines().count() > 3 && logs.lines().all(|l| l.starts_with("chatty [")),
        "{logs}"
    );
    // A cache hit logged nothing; `logs` says where the log is.
    let (_, again) = run(&home, &[&wf]);
    let out = home.weft(&["logs", again["run_id"].as_str().expect("id"), "chatty"]);
    assert!(
        stderr(&out).contains(&format!("its log is in run {run_id}")),
        "{}",
        stderr(&out)
    );
    let out = home.weft(&["logs", "no-such-run"]);
    assert!(stderr(&out).contains("no run `no-such-run`"), "{}", stderr(&out));
    // The database is one SQLite file under the home, in WAL mode.
    let db: &Path = &home.path().join("records.db");
    assert!(db.exists());
    let header = std::fs::read(db).expect("db");
    assert_eq!(&header[..16], b"SQLite format 3\0");
    assert_eq!(header[18], 2, "WAL (file format write version 2)");
}

/// Whether the store of `home` holds a blob file for `digest`.
fn blob_file_exists(home: &Home, digest: &str) -> bool {
    let hex = digest.strip_prefix("sha256:").expect("digest");
    home.path()
        .join("store/tenants/default/blobs/sha256")
        .join(&hex[..2])
        .join(hex)
        .exists()
}

#[test]
fn small_outputs_live_in_the_records_and_read_back_through_every_command() {
    let (home, p) = (Home::new(), Project::new());
    p.write("a.txt", b"alpha");
    p.write("b.txt", b"beta");
    let wf = p.workflow(TWO_STEPS);
    let (code, first) = run(&home, &[&wf]);
    assert_eq!(code, 0, "{first:#}");
    let run_id = first["run_id"].as_str().expect("id");
    let left = step(&first, "left")["outputs"]["data"]["digest"]
        .as_str()
        .expect("digest")
        .to_string();
    // Neither the small output nor the small input is a file in the store.
    assert!(!blob_file_exists(&home, &left));
    assert!(!blob_file_exists(
        &home,
        first["inputs"]["a"]["digest"].as_str().expect("input")
    ));

    // `weft artifact get`, by run and port and by digest, from another process.
    let by_port = home.weft(&["artifact", "get", run_id, "left.data"]);
    assert!(by_port.status.success(), "{}", stderr(&by_port));
    assert_eq!(weft_artifacts::Digest::of(&by_port.stdout).to_string(), left);
    let by_digest = home.weft(&["artifact", "get", &left]);
    assert_eq!(by_digest.stdout, by_port.stdout);
    let input = home.weft(&["artifact", "get", run_id, "inputs.a"]);
    assert_eq!(input.stdout, b"alpha");

    // A second run hits the cache: the hit re-read its outputs from the records.
    let (code, second) = run(&home, &[&wf]);
    assert_eq!(code, 0);
    assert_eq!(cached(&second), [("left".into(), true), ("right".into(), true)]);

    // With the tier off, outputs are files again (and still read back).
    let (code, third) = run(&home, &["--no-cache", "--inline-max", "0", &wf]);
    assert_eq!(code, 0, "{third:#}");
    assert!(blob_file_exists(&home, &left));
}
