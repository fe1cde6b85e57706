//! Workers sharing PostgreSQL records and an S3 store (a real PostgreSQL and SeaweedFS on
//! loopback; `weft_test_programs::services`), as real `weft worker` processes:
//!
//! - a run on workers gives the outputs of a run in one process, and a step asking for a
//!   label waits for a worker that carries it;
//! - workers killed with SIGKILL mid-step, again and again, lose nothing: the run finishes,
//!   every step is committed exactly once (the workers' own logs say which committed
//!   what), every artifact reads back whole, and the outputs are an undisturbed run's;
//! - a worker paused (SIGSTOP) past its lease and resumed cannot commit its stale result;
//! - PostgreSQL stopped and started again mid-run (a server of the test's own): workers
//!   and the process following the run wait it out, and the run completes;
//! - the S3 server stopped and started again mid-run: the steps it failed are given back
//!   to the queue, run again, and the run completes with every artifact whole;
//! - a run's `run-output-bytes` holds over every worker (checked in the commit), and its
//!   tenant's `stored-bytes` on each;
//! - `weft serve` on PostgreSQL hands runs to the workers: submitted, followed, cancelled
//!   (the worker stops the executing step) and resumed through the API, and a server
//!   killed and started again goes on following what the workers do.

mod common;

use common::served::{Served, tenant};
use common::{Home, outputs, stderr};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use weft_records::testing::ScratchDatabase;
use weft_test_programs::services::{S3Service, postgres, s3, unique, weed};

/// The shared records and store of one test, and a home for each process.
struct Cluster {
    /// Dropped with the cluster (the database with it).
    _db: ScratchDatabase,
    store: String,
    s3: S3Service,
    logs: tempfile::TempDir,
    home: Home,
}

impl Cluster {
    /// `None` when the services are not configured (and not required).
    async fn new() -> Option<Cluster> {
        let (admin, s3) = (postgres()?, s3()?);
        Some(Cluster::on(&admin, s3).await)
    }

    /// A cluster on the PostgreSQL server of this admin URL and on this S3 service.
    async fn on(admin: &str, s3: S3Service) -> Cluster {
        let db = ScratchDatabase::create(admin).await.expect("a test database");
        Cluster {
            home: Home::with_records(db.url()),
            _db: db,
            store: format!("s3://{}/workers-{}", s3.bucket, unique()),
            s3,
            logs: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// Waits until the workers committed `n` steps.
    fn wait_for_commits(&self, n: usize) {
        let started = Instant::now();
        while self.commits().len() < n {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no {n} commits in 2 minutes"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The lines of every worker's log that hold `text`.
    fn log_lines(&self, text: &str) -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.logs.path()).expect("logs") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "log") {
                let log = std::fs::read_to_string(&path).expect("log");
                out.extend(log.lines().filter(|l| l.contains(text)).map(str::to_string));
            }
        }
        out
    }

    /// Every step of the run's report committed exactly once: none has two commit lines,
    /// and a step with none is one `excused` says why (its worker killed between commit
    /// and log line, its commit's answer lost with the connection). Returns those.
    fn committed_once(&self, got: &serde_json::Value, excused: impl Fn(&str) -> bool) -> Vec<String> {
        let commits = self.commits();
        let mut per_step: BTreeMap<&str, usize> = BTreeMap::new();
        for (step, _) in &commits {
            *per_step.entry(step).or_default() += 1;
        }
        assert!(
            per_step.values().all(|n| *n == 1),
            "a step committed twice: {per_step:?}"
        );
        let silent: Vec<String> = got["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter_map(|s| s["id"].as_str())
            .filter(|id| !per_step.contains_key(id))
            .map(str::to_string)
            .collect();
        for step in &silent {
            assert!(excused(step), "step {step} succeeded with no worker committing it");
        }
        silent
    }

    /// `weft ARGS` on the shared records and store; every artifact goes to the store
    /// (none kept in the records), so S3 carries every output.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.command(args);
        for v in [
            "AWS_ENDPOINT_URL_S3",
            "AWS_DEFAULT_REGION",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
        ] {
            cmd.env_remove(v);
        }
        cmd.envs(self.store_env());
        cmd
    }

    /// The environment that points a process at the shared store.
    fn store_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("WEFT_STORE", self.store.clone()),
            ("WEFT_INLINE_MAX", "0".into()),
            ("AWS_ENDPOINT_URL", self.s3.endpoint.clone()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID", self.s3.access_key.clone()),
            ("AWS_SECRET_ACCESS_KEY", self.s3.secret.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// A worker named `name`, logging to `LOGS/name.log`; killed when dropped (a failing
    /// test leaves no worker behind).
    fn worker(&self, name: &str, extra: &[&str]) -> Worker {
        let log = std::fs::File::create(self.log(name)).expect("log file");
        let mut args = vec!["worker", "--name", name, "--lease", "2s", "--poll", "1s"];
        if !extra.contains(&"--slots") {
            args.extend(["--slots", "2"]);
        }
        args.extend_from_slice(extra);
        Worker(
            self.command(&args)
                .env("WEFT_LOG", "info")
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start a worker"),
        )
    }

    fn log(&self, name: &str) -> PathBuf {
        self.logs.path().join(format!("{name}.log"))
    }

    /// `weft run --on-workers --json FILE`, started.
    fn submit(&self, file: &Path) -> Submitted {
        let args = vec!["run", "--on-workers", "--json", file.to_str().expect("utf-8")];
        // Its output goes to files: a pipe nobody reads while it runs would fill up and
        // stop it.
        let base = self.logs.path().join(format!("submit-{}", unique()));
        let (out, err) = (base.with_extension("json"), base.with_extension("txt"));
        let child = self
            .command(&args)
            .stdout(std::fs::File::create(&out).expect("stdout"))
            .stderr(std::fs::File::create(&err).expect("stderr"))
            .spawn()
            .expect("submit");
        Submitted { child, out, err }
    }

    /// Which worker committed each step of any run, from every worker's log: (step, worker).
    fn commits(&self) -> Vec<(String, String)> {
        self.logged("committed")
    }

    /// `(step, worker)` for each line of the workers' logs with this message, sorted.
    fn logged(&self, message: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(self.logs.path()).expect("logs") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "log") {
                continue;
            }
            let worker = path.file_stem().expect("stem").to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).expect("log");
            for line in text.lines().filter(|l| l.contains(message)) {
                if let Some(step) = field(line, "step") {
                    out.push((step, worker.clone()));
                }
            }
        }
        out.sort();
        out
    }
}

/// A worker process, killed (SIGKILL, which also ends a stopped one) when dropped.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `name=value` of a tracing line.
fn field(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    Some(line[start..].split_whitespace().next()?.to_string())
}

/// A `weft run --on-workers` going on, writing to files.
struct Submitted {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Drop for Submitted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How many steps of a run's report took more than one attempt.
fn retried(report: &serde_json::Value) -> usize {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["attempts"].as_array().is_some_and(|a| a.len() > 1))
        .count()
}

/// Waits for a submitted run; its report.
fn report(mut run: Submitted) -> serde_json::Value {
    let status = run.child.wait().expect("wait");
    let err = std::fs::read_to_string(&run.err).unwrap_or_default();
    assert!(status.success(), "the run failed: {err}");
    let out = std::fs::read(&run.out).expect("report");
    serde_json::from_slice(&out).unwrap_or_else(|e| panic!("no report ({e}): {err}"))
}

fn stop(workers: Vec<Worker>) {
    drop(workers);
}

/// A workflow of `1 + 2n` steps: `root`, `n` instances of `fan` reading it (each mixing
/// `rounds` times: CPU time), and `n` of `tail`, each following its `fan` instance.
fn fan_out(dir: &Path, n: usize, rounds: u64) -> PathBuf {
    std::fs::write(dir.join("seed.txt"), "seed bytes\n").expect("seed");
    let salts: Vec<String> = (0..n).map(|k| k.to_string()).collect();
    let yaml = format!(
        "name: fan-out\ninputs:\n  seed: {{path: seed.txt}}\nsteps:\n  root: {{uses: test-work, inputs: {{data: inputs.seed}}}}\n  fan:\n    uses: test-work\n    inputs: {{data: root.data}}\n    with: {{rounds: {rounds}}}\n    matrix: {{salt: [{}]}}\n  tail: {{uses: test-work, inputs: {{data: fan.data}}, with: {{rounds: {rounds}}}}}\n",
        salts.join(", ")
    );
    let file = dir.join("fan-out.yaml");
    std::fs::write(&file, yaml).expect("workflow");
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_give_the_outputs_of_one_process_and_honour_labels() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let local = Home::new();
    let (code, expected) = common::run_json(&local, "examples/iris-sweep.yaml", &["--no-cache"]);
    assert_eq!(code, 0, "{expected:#}");

    let workers = vec![cluster.worker("w1", &[]), cluster.worker("w2", &[])];
    let example = common::root().join("examples/iris-sweep.yaml");
    let got = report(cluster.submit(&example));
    assert_eq!(
        outputs(&got),
        outputs(&expected),
        "the outputs of one process, bit for bit"
    );
    let commits = cluster.commits();
    assert_eq!(
        commits.len(),
        got["steps"].as_array().expect("steps").len() - 2,
        "{commits:?}"
    );

    // A step asking for `gpu` waits until a worker carrying it comes.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("seed.txt"), "x\n").expect("seed");
    let file = dir.path().join("gpu.yaml");
    std::fs::write(
        &file,
        "name: gpu\ninputs:\n  seed: {path: seed.txt}\nsteps:\n  plain: {uses: test-work, inputs: {data: inputs.seed}}\n  fast: {uses: test-work, inputs: {data: plain.data}, runs-on: gpu}\n",
    )
    .expect("workflow");
    let run = cluster.submit(&file);
    std::thread::sleep(Duration::from_secs(3));
    let gpu_commits = |c: &Cluster| c.commits().into_iter().filter(|(s, _)| s == "fast").count();
    assert_eq!(gpu_commits(&cluster), 0, "no worker carries `gpu` yet");
    let gpu = cluster.worker("gpu-1", &["--labels", "gpu,large-memory"]);
    let got = report(run);
    assert_eq!(got["status"], "succeeded");
    let fast: Vec<(String, String)> = cluster.commits().into_iter().filter(|(s, _)| s == "fast").collect();
    assert_eq!(fast, [("fast".to_string(), "gpu-1".to_string())]);
    let mut workers = workers;
    workers.push(gpu);
    stop(workers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_killed_mid_step_lose_nothing() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = fan_out(dir.path(), 200, 30_000_000);
    let local = Home::new();
    let (code, expected) = common::run_json(&local, file.to_str().expect("utf-8"), &["--no-cache"]);
    assert_eq!(code, 0, "{expected:#}");

    let mut next = 0;
    let mut start = |c: &Cluster| {
        next += 1;
        (format!("w{next}"), c.worker(&format!("w{next}"), &[]))
    };
    let mut workers: Vec<(String, Worker)> = (0..3).map(|_| start(&cluster)).collect();
    let mut run = cluster.submit(&file);
    let mut kills = 0;
    let mut killed = Vec::new();
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let started = Instant::now();
    // Kill a worker while it executes, replace it, repeat.
    while run.child.try_wait().expect("poll").is_none() {
        assert!(started.elapsed() < Duration::from_secs(600), "the run never finished");
        std::thread::sleep(Duration::from_millis(700));
        if kills >= 12 {
            continue;
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let k = (seed % workers.len() as u64) as usize;
        let (name, mut child) = workers.swap_remove(k);
        child.0.kill().expect("SIGKILL");
        let _ = child.0.wait();
        kills += 1;
        eprintln!("killed {name} ({kills})");
        killed.push(name);
        workers.push(start(&cluster));
    }
    let got = report(run);
    assert!(kills >= 10, "only {kills} kills before the run ended: make it longer");
    assert_eq!(got["status"], "succeeded", "{got:#}");
    assert_eq!(outputs(&got), outputs(&expected), "the outputs of an undisturbed run");

    // Exactly once: the report says every step succeeded (committed at least once); the
    // logs say none was committed twice. A worker killed between its commit and its log
    // line leaves a step without a line: then that step was executing on a killed worker.
    let executing = cluster.logged("executing");
    let silent = cluster.committed_once(&got, |step| {
        executing.iter().any(|(s, w)| s == step && killed.contains(w))
    });
    assert!(silent.len() <= kills, "{silent:?} have no commit line");
    assert_eq!(got["steps"].as_array().map(Vec::len), Some(401));
    // Some steps were lost with their workers and show it among their attempts.
    let retried = retried(&got);
    assert!(
        retried > 0,
        "no step was lost by a killed worker: the kills came between steps"
    );
    eprintln!("{kills} workers killed; {retried} steps executed again elsewhere");

    // Every artifact reads back whole from S3.
    let verify = cluster.command(&["store", "verify"]).output().expect("verify");
    assert!(verify.status.success(), "{}", stderr(&verify));
    stop(workers.into_iter().map(|(_, c)| c).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_paused_past_its_lease_cannot_commit_its_stale_result() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("seed.txt"), "x\n").expect("seed");
    let file = dir.path().join("slow.yaml");
    std::fs::write(
        &file,
        "name: slow\ninputs:\n  seed: {path: seed.txt}\nsteps:\n  slow: {uses: test-work, inputs: {data: inputs.seed}, with: {rounds: 1500000000}}\n",
    )
    .expect("workflow");
    let paused = cluster.worker("paused", &[]);
    let run = cluster.submit(&file);
    // Wait until `paused` executes the step, then stop it for longer than its lease.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(cluster.log("paused"))
        .expect("log")
        .contains("executing")
    {
        assert!(Instant::now() < deadline, "the worker never took the step");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Past loading the component (a read of the records it should not be stopped in, with
    // a transaction open that PostgreSQL would end), into the guest's long loop.
    std::thread::sleep(Duration::from_millis(500));
    signal(&paused, "STOP");
    let other = cluster.worker("other", &[]);
    let got = report(run);
    assert_eq!(got["status"], "succeeded");
    let attempts = got["steps"][0]["attempts"].as_array().expect("attempts").clone();
    assert_eq!(attempts.len(), 2, "the paused claim counts as an attempt: {attempts:?}");
    signal(&paused, "CONT");
    // The paused worker finishes the step and tries to commit: fenced out. (Stopped while
    // it still read the records, it finds its connection ended and gives the step back
    // instead: no stale commit either way.)
    let deadline = Instant::now() + Duration::from_secs(60);
    let log = loop {
        let log = std::fs::read_to_string(cluster.log("paused")).expect("log");
        if log.contains("result dropped") || log.contains("giving the step back") {
            break log;
        }
        assert!(Instant::now() < deadline, "the paused worker never finished: {log}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!log.contains("committed"), "{log}");
    assert_eq!(cluster.commits(), [("slow".to_string(), "other".to_string())]);
    let again = cluster.home.show(got["run_id"].as_str().expect("id"));
    assert_eq!(
        again["steps"][0]["attempts"].as_array().expect("attempts").len(),
        2,
        "unchanged"
    );
    stop(vec![paused, other]);
}

fn signal(worker: &Worker, name: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{name}"))
        .arg(worker.0.id().to_string())
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_postgres_hands_runs_to_workers() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let token = tenant(&cluster.home, "alpha");
    let env = cluster.store_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let served = Served::start_with_env(&cluster.home, &[], &env);
    let worker = cluster.worker("w1", &[]);

    let workflow = std::fs::read_to_string(common::root().join("examples/iris-sweep.yaml")).expect("example");
    let iris = std::fs::read(common::root().join("examples/data/iris.csv")).expect("iris");
    let digest = served.upload(&token, &iris).await;
    let run = served
        .submit(&token, json!({"workflow": workflow, "inputs": {"iris": digest}}))
        .await;
    let report = served.wait(&token, &run, Duration::from_secs(120)).await;
    assert_eq!(report["status"], "succeeded", "{report:#}");
    assert!(
        cluster.commits().iter().any(|(step, w)| step == "pick" && w == "w1"),
        "the worker executed the run: {:?}",
        cluster.commits()
    );

    // Cancelled while its step executes on the worker; resumed, it executes again.
    let spin = "name: spins\nsteps:\n  spin: {uses: test-spin, limits: {timeout: 10m}}\n";
    let run = served.submit(&token, json!({"workflow": spin})).await;
    let executing = || {
        std::fs::read_to_string(cluster.log("w1"))
            .expect("log")
            .matches("step=spin")
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while executing() == 0 {
        assert!(Instant::now() < deadline, "the worker never took the step");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, body) = served
        .post(&format!("/api/v1/runs/{run}/cancel"), &token, json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let report = served.wait(&token, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled", "{report:#}");
    assert_eq!(report["steps"][0]["status"], "cancelled", "{report:#}");
    // Counted before the resume: the worker may take the step before the answer comes.
    let before = executing();
    let (status, body) = served
        .post(&format!("/api/v1/runs/{run}/resume"), &token, json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let (_, shown) = served.get(&format!("/api/v1/runs/{run}"), &token).await;
    assert_eq!(shown["status"], "running");
    let deadline = Instant::now() + Duration::from_secs(60);
    while executing() == before {
        assert!(
            Instant::now() < deadline,
            "the resumed step never executed again: {}",
            std::fs::read_to_string(cluster.log("w1")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // A server killed while the workers go on: started again, it follows the run to its end.
    drop(served);
    let served = Served::start_with_env(&cluster.home, &[], &env);
    let (status, body) = served
        .post(&format!("/api/v1/runs/{run}/cancel"), &token, json!({}))
        .await;
    assert_eq!(status, 202, "{body}");
    let report = served.wait(&token, &run, Duration::from_secs(60)).await;
    assert_eq!(report["status"], "cancelled", "{report:#}");
    stop(vec![worker]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runs_byte_quotas_hold_on_workers() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let token = tenant(&cluster.home, "alpha");
    let out = cluster.home.weft(&["tenant", "quota", "alpha", "run-output-bytes=30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let env = cluster.store_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let served = Served::start_with_env(&cluster.home, &[], &env);
    let one_slot = ["--slots", "1"];
    let workers = vec![cluster.worker("w1", &one_slot), cluster.worker("w2", &one_slot)];

    // Two steps of 20 bytes each, executing at once on two workers: each fits what was left
    // when it began (30 bytes), together they do not. The commit of the second refuses it.
    let input = served.upload(&token, b"twenty bytes of data").await;
    let workflow = "name: w
inputs:
  data: {path: d.txt}
steps:
  work:
    uses: test-work
    inputs: {data: inputs.data}
    with: {rounds: 1000000000}
    matrix: {salt: [1, 2]}
";
    let run = served
        .submit(&token, json!({"workflow": workflow, "inputs": {"data": input}}))
        .await;
    let report = served.wait(&token, &run, Duration::from_secs(120)).await;
    assert_eq!(report["status"], "failed", "{report:#}");
    let steps = report["steps"].as_array().expect("steps");
    let status = |s: &str| steps.iter().filter(|x| x["status"] == s).count();
    assert_eq!((status("succeeded"), status("failed")), (1, 1), "{report:#}");
    let failed = steps.iter().find(|x| x["status"] == "failed").expect("failed");
    let error = failed["error"].as_str().expect("error");
    assert!(
        error.starts_with(
            "quota exceeded: run-output-bytes: 40 bytes with what the run's other steps committed meanwhile, \
             more than the tenant's quota of 30 per run"
        ),
        "{error}"
    );
    assert_eq!(failed["attempts"].as_array().map(Vec::len), Some(1), "not retried");
    assert_eq!(failed["outputs"], json!({}), "{failed:#}");

    // Its `stored-bytes`, lowered below what it stores already (its input, the archived
    // component): a step's first write fails there, on whichever worker.
    let out = cluster.home.weft(&["tenant", "quota", "alpha", "stored-bytes=100"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let one =
        "name: one\ninputs:\n  data: {path: d.txt}\nsteps:\n  work: {uses: test-work, inputs: {data: inputs.data}}\n";
    let run = served
        .submit(&token, json!({"workflow": one, "inputs": {"data": input}}))
        .await;
    let report = served.wait(&token, &run, Duration::from_secs(120)).await;
    assert_eq!(report["status"], "failed", "{report:#}");
    let error = report["steps"][0]["error"].as_str().expect("error");
    assert!(error.starts_with("quota exceeded: stored-bytes: "), "{error}");
    stop(workers);
}

/// Three workers on a fan-out of `1 + 2n` steps: the run, started, and the outputs of the
/// same workflow in one process.
fn fan_out_on(cluster: &Cluster, dir: &Path, n: usize) -> (Vec<Worker>, Submitted, serde_json::Value) {
    let file = fan_out(dir, n, 30_000_000);
    let local = Home::new();
    let (code, expected) = common::run_json(&local, file.to_str().expect("utf-8"), &["--no-cache"]);
    assert_eq!(code, 0, "{expected:#}");
    let workers = (1..=3).map(|k| cluster.worker(&format!("w{k}"), &[])).collect();
    (workers, cluster.submit(&file), expected)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_and_their_runs_ride_out_a_postgres_restart() {
    // A PostgreSQL of this test's own, to stop under the workers (the shared one serves
    // other tests meanwhile).
    let (Some(_), Some(s3)) = (postgres(), s3()) else {
        return;
    };
    let mut server = tokio::task::spawn_blocking(weft_test_services::postgres::start)
        .await
        .expect("join")
        .expect("a PostgreSQL of the test's own");
    let cluster = Cluster::on(&server.url, s3).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (workers, run, expected) = fan_out_on(&cluster, dir.path(), 40);

    cluster.wait_for_commits(10);
    server.stop().expect("stop PostgreSQL");
    let before = cluster.commits().len();
    assert!(before < 81, "the run ended before PostgreSQL stopped: make it longer");
    // Down for longer than a lease (2 s): heartbeats fail, leases run out meanwhile.
    std::thread::sleep(Duration::from_secs(4));
    server.start_again().expect("start PostgreSQL again");

    let got = report(run);
    assert_eq!(got["status"], "succeeded", "{got:#}");
    assert_eq!(outputs(&got), outputs(&expected), "the outputs of an undisturbed run");
    // A commit whose answer was lost with the connection leaves no line.
    let lost_answers = cluster.log_lines("cannot commit");
    cluster.committed_once(&got, |step| {
        lost_answers.iter().any(|l| field(l, "step").as_deref() == Some(step))
    });
    // The workers went on after the restart, on new connections (a call waits for one up
    // to the pool's timeout, so few calls fail outright).
    let after = cluster.commits().len() - before;
    assert!(after > 0, "no commit after the restart");
    let failed_calls = ["cannot claim steps", "heartbeat failed", "cannot commit"]
        .iter()
        .map(|t| cluster.log_lines(t).len())
        .sum::<usize>();
    eprintln!("{before} steps committed before PostgreSQL stopped, {after} after; {failed_calls} calls failed");
    stop(workers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_the_store_fails_mid_run_are_given_back_and_the_run_completes() {
    // A SeaweedFS of this test's own, to stop under the workers.
    let (Some(admin), Some(_), Some(weed)) = (postgres(), s3(), weed()) else {
        return;
    };
    let mut server = tokio::task::spawn_blocking(move || weft_test_services::seaweedfs::start_weed(weed))
        .await
        .expect("join")
        .expect("a SeaweedFS of the test's own");
    let service = S3Service::parse(&server.url).expect("its URL");
    let cluster = Cluster::on(&admin, service).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (workers, run, expected) = fan_out_on(&cluster, dir.path(), 100);

    cluster.wait_for_commits(10);
    server.stop();
    let before = cluster.commits().len();
    assert!(before < 201, "the run ended before S3 stopped: make it longer");
    std::thread::sleep(Duration::from_secs(3));
    server.start_again().expect("start SeaweedFS again");

    let got = report(run);
    assert_eq!(got["status"], "succeeded", "{got:#}");
    assert_eq!(outputs(&got), outputs(&expected), "the outputs of an undisturbed run");
    cluster.committed_once(&got, |_| false);
    // Steps met the outage: their store calls failed, they went back to the queue (a retry
    // of the same claim, not a failed run) and ran again.
    let given_back = cluster.log_lines("giving the step back");
    assert!(!given_back.is_empty(), "no step met the outage");
    let retried = retried(&got);
    assert!(retried > 0, "{given_back:?}");
    let blamed = cluster.log_lines("the store failed under the step").len();
    eprintln!(
        "{before} steps committed before S3 stopped; {} given back while it was down ({blamed} failed after a \
         store call failed under them); {retried} ran again",
        given_back.len()
    );
    let verify = cluster.command(&["store", "verify"]).output().expect("verify");
    assert!(verify.status.success(), "{}", stderr(&verify));
    stop(workers);
}
