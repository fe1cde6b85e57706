//! The locked plan end to end: `weft run --resume` and `weft replay` execute what the run
//! locked when it started — the components it pinned, taken from the store's archive —
//! whatever happened since to the workflow file or the component files it named.

mod common;

use common::{Home, stderr, stdout, testing};
use serde_json::Value;

fn step<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id} in {report:#}"))
}

fn run(home: &Home, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["run", "--json"];
    all.extend_from_slice(args);
    let out = home.weft(&all);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no report ({e}): {} {}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn resume_and_replay_run_the_locked_components_not_the_files_as_they_are_now() {
    let home = Home::new();
    let project = tempfile::tempdir().expect("tempdir");
    let dir = project.path();
    std::fs::copy(testing().join("test-work.wasm"), dir.join("step.wasm")).expect("copy component");
    std::fs::write(dir.join("a.txt"), "alpha").expect("write");
    // `work` succeeds; `spin` runs out of time, so the run fails and can be resumed.
    let wf = dir.join("wf.yaml");
    std::fs::write(
        &wf,
        "name: locked\ninputs:\n  a: {path: a.txt}\nsteps:\n  \
         work: {uses: ./step.wasm, inputs: {data: inputs.a}, with: {rounds: 3}}\n  \
         spin: {uses: test-spin, after: [work], limits: {timeout: 200ms}}\n",
    )
    .expect("write");
    let (code, first) = run(&home, &[wf.to_str().expect("utf8")]);
    assert_eq!(code, 1, "{first:#}");
    let run_id = first["run_id"].as_str().expect("run id").to_string();
    let component = step(&first, "work")["component"].clone();
    assert_eq!(step(&first, "work")["status"], "succeeded");

    // Everything the run was loaded from changes or goes away.
    std::fs::remove_file(dir.join("step.wasm")).expect("remove component");
    std::fs::write(&wf, "name: other\nsteps: {}\n").expect("rewrite workflow");
    std::fs::remove_file(dir.join("a.txt")).expect("remove input");

    let (code, resumed) = run(&home, &["--resume", &run_id]);
    assert_eq!(code, 1, "spin runs out of time again: {resumed:#}");
    assert_eq!(resumed["run_id"], run_id.as_str());
    let work = step(&resumed, "work");
    assert_eq!(work["status"], "succeeded");
    assert_eq!(work["reuse"]["kind"], "resumed", "{work:#}");
    assert_eq!(work["component"], component);
    assert_eq!(step(&resumed, "spin")["status"], "failed");

    let out = home.weft(&["replay", &run_id, "work"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("outputs are bit-identical"), "{}", stdout(&out));
}

#[test]
fn a_run_without_a_locked_plan_says_why_it_cannot_be_resumed() {
    let home = Home::new();
    let (code, report) = run(&home, &["examples/iris-summary.yaml"]);
    assert_eq!(code, 0, "{report:#}");
    let run_id = report["run_id"].as_str().expect("run id");
    // What a run recorded by an older Weft looks like: no plan, status failed.
    let db = home.path().join("records.db");
    let sql = format!("UPDATE runs SET plan = NULL, status = 'failed' WHERE id = '{run_id}'");
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()",
        ])
        .arg(&db)
        .arg(&sql)
        .status()
        .expect("python3");
    assert!(status.success());
    let out = home.weft(&["run", "--resume", run_id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("did not lock plans"), "{}", stderr(&out));
}
