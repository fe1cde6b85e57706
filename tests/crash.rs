//! Durability under SIGKILL: `weft run` is killed at random moments and resumed, again and
//! again; after every kill the records and the store must be consistent, no committed step
//! may run again, and every finished run must produce exactly what an uninterrupted run does.
//!
//! The same test runs with the records in SQLite and in PostgreSQL (a fresh database on
//! the server `WEFT_TEST_POSTGRES` names; skipped without one unless
//! `WEFT_TEST_SERVICES=required`).
//!
//! `WEFT_CRASH_CYCLES=N` sets the number of kills (default 20; try 200 for a long soak).

mod common;

use common::{Home, committed, stderr};
use sha2::Digest as _;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

const WORKFLOW: &str = "tests/workflows/crash.yaml";

/// A small deterministic generator: kill times differ from kill to kill, and a failing
/// seed can be replayed (it is printed).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// step.port → digest of every output of a run report (from `runs show --json`).
fn outputs(report: &serde_json::Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for step in report["steps"].as_array().expect("steps") {
        for (port, meta) in step["outputs"].as_object().expect("outputs") {
            out.insert(
                format!("{}.{port}", step["id"].as_str().expect("id")),
                meta["digest"].as_str().expect("digest").to_string(),
            );
        }
    }
    out
}

/// Every blob in the store holds exactly the bytes its name says: nothing half-written
/// is visible under a content address.
fn check_blobs(home: &Home) -> usize {
    let dir = home.path().join("store/tenants/default/blobs/sha256");
    let mut n = 0;
    for shard in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        for blob in std::fs::read_dir(shard.path()).expect("shard").flatten() {
            let bytes = std::fs::read(blob.path()).expect("blob");
            let name = blob.file_name().to_string_lossy().into_owned();
            assert_eq!(
                format!("{:x}", sha2::Sha256::digest(&bytes)),
                name,
                "blob {name} is corrupt"
            );
            n += 1;
        }
    }
    n
}

/// The newest recorded run, if any.
fn last_run(home: &Home) -> Option<String> {
    let out = home.weft(&["runs", "list", "--limit", "1", "--json"]);
    assert!(out.status.success(), "runs list: {}", stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("runs list --json");
    list[0]["run_id"].as_str().map(str::to_string)
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_repeats_nothing() {
    sigkill_and_resume(&Home::new);
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_repeats_nothing_on_postgres() {
    let Some(admin) = common::postgres_admin() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    // Each home gets a database of its own, dropped with it at the end.
    let databases = std::sync::Mutex::new(Vec::new());
    sigkill_and_resume(&|| {
        let db = runtime
            .block_on(weft_records::testing::ScratchDatabase::create(&admin))
            .expect("a test database");
        let home = Home::with_records(db.url());
        databases.lock().expect("lock").push(db);
        home
    });
}

/// Kills and resumes runs in homes made by `new_home`.
fn sigkill_and_resume(new_home: &dyn Fn() -> Home) {
    let kills: usize = std::env::var("WEFT_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = std::env::var("WEFT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| u64::from(std::process::id()));
    eprintln!("crash test: {kills} kills, seed {seed} (WEFT_CRASH_SEED to repeat)");
    let mut rng = Lcg(seed);

    // What an uninterrupted run produces.
    let reference_home = new_home();
    let out = reference_home.weft(&["run", "--no-cache", "--no-progress", WORKFLOW]);
    assert!(out.status.success(), "reference run: {}", stderr(&out));
    let reference = outputs(&reference_home.show("last"));
    assert_eq!(reference.len(), 40);

    let home = new_home();
    let started = Instant::now();
    let (mut killed, mut finished_runs, mut mid_run_kills) = (0, 0, 0);
    // The run being driven to completion, and what it had committed before the last kill.
    let mut current: Option<String> = None;
    let mut before: BTreeMap<String, (serde_json::Value, serde_json::Value)> = BTreeMap::new();
    let mut readable = std::collections::HashSet::new();
    while killed < kills {
        // --no-cache: a finished step must be kept by the resume, not found in the cache.
        let mut args = vec!["run", "--no-cache", "--no-progress"];
        match &current {
            Some(run) => args.extend(["--resume", run.as_str()]),
            None => args.push(WORKFLOW),
        }
        let mut child = home
            .command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn weft");
        let deadline = Instant::now() + Duration::from_millis(20 + rng.below(500));
        let mut exited = None;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().expect("wait") {
                exited = Some(status);
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if exited.is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        child.wait().expect("reap");
        check_blobs(&home);
        let Some(run) = current.clone().or_else(|| last_run(&home)) else {
            continue; // killed before the run was recorded
        };
        if current.is_none() && last_run(&home).as_deref() != Some(run.as_str()) {
            continue;
        }
        let report = home.show(&run);
        if exited.is_none() {
            // The records tell a run whose process died from one still going (unless the
            // kill came after the run was recorded as finished).
            let out = home.weft(&["runs", "list", "--limit", "1", "--json"]);
            let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("runs list --json");
            assert_ne!(list[0]["status"], "running", "{list:#}");
        }
        let now = committed(&report);
        // Nothing committed before is lost, changed or executed again.
        for (step, done) in &before {
            assert_eq!(
                now.get(step),
                Some(done),
                "committed step `{step}` of {run} changed after a resume"
            );
        }
        // Each committed output can be read, whole and matching its address: a large one
        // from the store, a small one from the records it was committed with (runs
        // produce the same digests, so each is fetched once).
        for digest in outputs(&report).values() {
            if !readable.insert(digest.clone()) {
                continue;
            }
            let out = home.weft(&["artifact", "get", digest]);
            assert!(
                out.status.success(),
                "committed output {digest} of {run} cannot be read: {}",
                stderr(&out)
            );
            assert_eq!(&format!("sha256:{:x}", sha2::Sha256::digest(&out.stdout)), digest);
        }
        for (step, (_, attempts)) in &now {
            assert_eq!(
                attempts.as_array().map(Vec::len),
                Some(1),
                "step `{step}` ran more than once: {attempts}"
            );
        }
        if exited.is_none() && !now.is_empty() && now.len() < 40 {
            mid_run_kills += 1;
            if mid_run_kills == 1 {
                // What an interrupted run committed can be fetched already.
                let (step, (outputs, _)) = now.iter().next().expect("a committed step");
                let out = home.weft(&["artifact", "get", &run, &format!("{step}.data")]);
                assert!(out.status.success(), "{}", stderr(&out));
                let digest = outputs["data"]["digest"].as_str().expect("digest");
                assert_eq!(format!("sha256:{:x}", sha2::Sha256::digest(&out.stdout)), digest);
            }
        }
        if report["status"] == "succeeded" {
            assert_eq!(outputs(&report), reference, "run {run} finished with other outputs");
            finished_runs += 1;
            current = None;
            before.clear();
        } else {
            current = Some(run);
            before = now;
        }
    }
    // Drive the last run to its end.
    if let Some(run) = current {
        let out = home.weft(&["run", "--no-cache", "--no-progress", "--resume", &run]);
        assert!(out.status.success(), "final resume: {}", stderr(&out));
        let report = home.show(&run);
        assert_eq!(outputs(&report), reference, "run {run} finished with other outputs");
        for (step, done) in &before {
            assert_eq!(
                committed(&report).get(step),
                Some(done),
                "`{step}` changed in the last resume"
            );
        }
        finished_runs += 1;
    }
    check_blobs(&home);
    // What the killed runs left half-written was swept by the runs after them: the last
    // `weft run` leaves nothing in the staging area.
    let staging = home.path().join("store/tenants/default/staging");
    let left: Vec<_> = std::fs::read_dir(&staging)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "staging files left behind: {left:?}");
    eprintln!(
        "crash test: {killed} kills ({mid_run_kills} after some steps were committed), {finished_runs} runs finished, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        mid_run_kills >= kills / 4,
        "too few kills landed mid-run ({mid_run_kills}) to test resuming"
    );
}
