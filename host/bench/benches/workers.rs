//! Steps spread over worker processes sharing PostgreSQL records and an S3 store (issue 11),
//! measured in one run on this machine:
//!
//! (w) a fan-out of 1,000 no-op steps (`test-noop`) and (t) of 1,000 trainings
//!     (`train-logreg` on the breast-cancer table, one per L2 value) handed to 1, 2 and 4
//!     worker processes of 2 slots each: steps per second from queueing the run to its
//!     recorded end; PostgreSQL's CPU time per 1,000 steps (user + system of every
//!     `postgres` process, from /proc); the workers' claim latency, p50 and p99;
//! (i) PostgreSQL's CPU time per second with 4 workers idle (they wait on LISTEN and poll
//!     every 5 s);
//! (o) per step of a 40-step no-op chain: in this process (`weft run`) against one worker
//!     (`weft run --on-workers`), interleaved rounds, both on the same records and store.
//!
//! The workers are this bench's own executable started again in worker mode
//! (`WEFT_BENCH_WORKER`), running `Runner::work` as `weft worker` does.
//! Run: `cargo xtask build-plugins`, then with the services `cargo xtask services` starts:
//! `WEFT_TEST_POSTGRES=… WEFT_TEST_S3=… cargo bench -p weft-bench --bench workers`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_bench::summarize;
use weft_engine::{CancelSignal, RunStatus};
use weft_records::testing::ScratchDatabase;
use weft_records::{ClaimFilter, Durability, Records};
use weft_runner::{InputPolicy, Loader, OnWorkers, RunSettings, Runner, WorkerSettings};
use weft_test_programs::services::{S3Service, postgres_if_set, s3_if_set, unique};

const STEPS: usize = 1000;
const CHAIN: usize = 40;
const CHAIN_ROUNDS: usize = 5;
const SLOTS: usize = 2;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    if let Ok(name) = std::env::var("WEFT_BENCH_WORKER") {
        runtime.block_on(worker(&name));
        return;
    }
    let (Some(admin), Some(s3)) = (postgres_if_set(), s3_if_set()) else {
        println!("workers bench left out: set WEFT_TEST_POSTGRES and WEFT_TEST_S3 (cargo xtask services)");
        return;
    };
    runtime.block_on(bench(&admin, &s3));
}

/// Where the bench's processes share records, store and compiled code.
struct Shared {
    records: String,
    store: String,
    cache: PathBuf,
    s3: S3Service,
}

impl Shared {
    async fn runner(&self, plugins: Vec<PathBuf>) -> Runner {
        let records = Records::open(
            weft_records::Location::Postgres(self.records.clone()),
            "default",
            Durability::Process,
        )
        .await
        .expect("records");
        let s3 = weft_artifacts::S3Config {
            allow_http: true,
            region: Some("us-east-1".into()),
            ..weft_artifacts::S3Config::with_endpoint(&self.s3.endpoint, &self.s3.access_key, &self.s3.secret)
        };
        let store = weft_artifacts::ArtifactStore::open_with(&self.store, &s3).expect("store");
        let (records, store) = weft_records::share_small_artifacts(records, store, 64 << 10);
        Runner {
            loader: Loader {
                plugin_path: plugins,
                input_policy: InputPolicy::new(None, false, None).expect("policy"),
                sandbox: weft_sandbox::SandboxConfig {
                    cache_dir: Some(self.cache.clone()),
                    ..weft_sandbox::SandboxConfig::default()
                },
                notes: Arc::new(|_| {}),
                sandboxes: weft_runner::Sandboxes::default(),
            },
            store,
            records,
        }
    }

    /// A worker process of `SLOTS` slots; returns once it works.
    fn spawn(&self, name: &str) -> Child {
        let mut child = Command::new(std::env::current_exe().expect("exe"))
            .env("WEFT_BENCH_WORKER", name)
            .env("WEFT_BENCH_RECORDS", &self.records)
            .env("WEFT_BENCH_STORE", &self.store)
            .env("WEFT_BENCH_CACHE", &self.cache)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start a worker");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        assert_eq!(line.trim(), "ready", "the worker did not start");
        child
    }
}

/// Worker mode: works until SIGTERM, then prints its claim times (µs, one per line).
async fn worker(name: &str) {
    let var = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is not set"));
    let shared = Shared {
        records: var("WEFT_BENCH_RECORDS"),
        store: var("WEFT_BENCH_STORE"),
        cache: PathBuf::from(var("WEFT_BENCH_CACHE")),
        s3: s3_if_set().expect("WEFT_TEST_S3"),
    };
    let runner = shared.runner(Vec::new()).await;
    let stop = CancelSignal::default();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    let settings = WorkerSettings {
        name: name.to_string(),
        filter: ClaimFilter::default(),
        slots: SLOTS,
        lease: Duration::from_secs(30),
        poll: Duration::from_secs(5),
    };
    let work = tokio::spawn({
        let (runner, stop) = (runner.clone(), stop.clone());
        async move { runner.work(settings, stop).await }
    });
    println!("ready");
    std::io::stdout().flush().expect("flush");
    term.recv().await;
    stop.cancel("bench over");
    let stats = work.await.expect("worker task").expect("worker");
    let mut out = std::io::stdout().lock();
    for t in &stats.claim_times {
        writeln!(out, "{}", t.as_micros()).expect("write");
    }
}

/// Stops the workers and gathers their claim times.
fn stop(workers: Vec<Child>) -> Vec<Duration> {
    let mut times = Vec::new();
    for mut child in workers {
        let _ = Command::new("kill").arg(child.id().to_string()).status();
        let mut text = String::new();
        std::io::Read::read_to_string(child.stdout.as_mut().expect("stdout"), &mut text).expect("read");
        child.wait().expect("wait");
        times.extend(text.lines().filter_map(|l| l.parse().ok()).map(Duration::from_micros));
    }
    times
}

/// User + system CPU time of every `postgres` process on the machine.
fn postgres_cpu() -> Duration {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let path = entry.path();
        if std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres")
            && let Ok(stat) = std::fs::read_to_string(path.join("stat"))
            && let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r)
        {
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of stat, 12 and 13 after `(comm) `.
            ticks += fields.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            ticks += fields.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        }
    }
    // The kernel's USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Queues the workflow in `file` for the workers and waits for its end; its wall time.
async fn on_workers(runner: &Runner, file: &Path) -> Duration {
    let started = Instant::now();
    let prepared = runner
        .start(file, &[])
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("start");
    let run_id = prepared.run_id.clone();
    runner
        .queue(&prepared, &weft_runner::RunLimits::default())
        .await
        .expect("queue");
    loop {
        match runner.records.run_status(&run_id).await.expect("status") {
            RunStatus::Running => tokio::time::sleep(Duration::from_millis(20)).await,
            RunStatus::Succeeded => return started.elapsed(),
            other => panic!("run {run_id} ended {}", other.as_str()),
        }
    }
}

/// Runs the workflow in `file` in this process; its wall time.
async fn in_process(runner: &Runner, file: &Path) -> Duration {
    let started = Instant::now();
    let prepared = runner
        .start(file, &[])
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("start");
    let settings = RunSettings {
        concurrency: SLOTS,
        use_cache: false,
        timeout: None,
        cancel: CancelSignal::default(),
        admission: None,
        on_workers: None::<OnWorkers>,
    };
    let report = runner.run(prepared, &settings, None).await.expect("run");
    assert_eq!(report.status, RunStatus::Succeeded);
    started.elapsed()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn bench(admin: &str, s3: &S3Service) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = ScratchDatabase::create(admin).await.expect("a bench database");
    let shared = Shared {
        records: db.url().to_string(),
        store: format!("s3://{}/bench-workers-{}", s3.bucket, unique()),
        cache: dir.path().join("cache"),
        s3: s3.clone(),
    };
    let plugins = vec![weft_test_programs::dir().to_path_buf(), weft_test_programs::plugins()];
    let runner = shared.runner(plugins).await;

    // The workflows; every step differs from every other run's (a salt), so no step is a
    // cache hit.
    std::fs::copy(
        weft_test_programs::root().join("examples/data/breast_cancer.csv"),
        dir.path().join("data.csv"),
    )
    .expect("data");
    let write = |name: &str, yaml: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, yaml).expect("workflow");
        path
    };
    let noop = |salt: usize| {
        let index: Vec<String> = (0..STEPS).map(|k| (salt * STEPS + k).to_string()).collect();
        write(
            &format!("noop-{salt}.yaml"),
            format!(
                "name: fanout\nsteps:\n  fan:\n    uses: test-noop\n    matrix: {{index: [{}]}}\n",
                index.join(", ")
            ),
        )
    };
    let train = |salt: usize| {
        let l2: Vec<String> = (0..STEPS)
            .map(|k| format!("{}", (salt * STEPS + k) as f64 * 1e-6))
            .collect();
        write(
            &format!("train-{salt}.yaml"),
            format!(
                "name: trainings\ninputs:\n  data: {{path: data.csv, media_type: text/csv}}\nsteps:\n  load: {{uses: csv-to-table, inputs: {{csv: inputs.data}}}}\n  train:\n    uses: train-logreg\n    inputs: {{train: load.table}}\n    with: {{label: diagnosis, positive: malignant, learning_rate: 0.01, epochs: 20}}\n    matrix: {{l2: [{}]}}\n",
                l2.join(", ")
            ),
        )
    };
    // A chain of no-op steps, each after the one before.
    let chain = |salt: usize| {
        let mut yaml = String::from("name: chain\nsteps:\n");
        for i in 0..CHAIN {
            let after = if i == 0 {
                String::new()
            } else {
                format!(", after: [s{}]", i - 1)
            };
            yaml.push_str(&format!(
                "  s{i}: {{uses: test-noop, with: {{index: {}}}{after}}}\n",
                salt.wrapping_mul(CHAIN) + i
            ));
        }
        write(&format!("chain-{salt}.yaml"), yaml)
    };
    // Compiled once here, into the cache the workers share.
    in_process(&runner, &chain(100_000)).await;
    on_workers_warmup(&shared, &runner, &train(999)).await;

    println!("workers bench: {STEPS}-step fan-outs, worker processes of {SLOTS} slots, on this machine");
    println!("| workload | workers | steps/s | PostgreSQL CPU per 1,000 steps | claims | claim p50 | claim p99 |");
    println!("|---|---|---|---|---|---|---|");
    let mut salt = 0;
    for (label, make) in [
        ("(w) no-op", &noop as &dyn Fn(usize) -> PathBuf),
        ("(t) train-logreg", &train),
    ] {
        for n in [1, 2, 4] {
            salt += 1;
            let file = make(salt);
            let workers: Vec<Child> = (0..n).map(|k| shared.spawn(&format!("bench-{salt}-{k}"))).collect();
            let cpu = postgres_cpu();
            let wall = on_workers(&runner, &file).await;
            let cpu = postgres_cpu().saturating_sub(cpu);
            let mut claims = stop(workers);
            let total = (if label.starts_with("(t)") { STEPS + 1 } else { STEPS }) as f64;
            let s = summarize(&mut claims);
            println!(
                "| {label} | {n} | {:.0} | {:.0} ms | {} | {} | {} |",
                total / wall.as_secs_f64(),
                cpu.as_secs_f64() * 1e3 * 1000.0 / total,
                s.n,
                ms(s.p50),
                ms(s.p99)
            );
        }
    }

    // (i) idle.
    let workers: Vec<Child> = (0..4).map(|k| shared.spawn(&format!("idle-{k}"))).collect();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let cpu = postgres_cpu();
    let idle = Duration::from_secs(20);
    tokio::time::sleep(idle).await;
    let cpu = postgres_cpu().saturating_sub(cpu);
    stop(workers);
    println!(
        "\n(i) PostgreSQL CPU with 4 idle workers: {:.1} ms per second (over {} s)",
        cpu.as_secs_f64() * 1e3 / idle.as_secs_f64(),
        idle.as_secs()
    );

    // (o) per-step overhead, interleaved.
    let worker = shared.spawn("chain");
    let (mut here, mut there) = (Vec::new(), Vec::new());
    for round in 0..CHAIN_ROUNDS + 1 {
        let a = in_process(&runner, &chain(2 * round)).await / CHAIN as u32;
        let b = on_workers(&runner, &chain(2 * round + 1)).await / CHAIN as u32;
        if round > 0 {
            here.push(a);
            there.push(b);
        }
    }
    stop(vec![worker]);
    let (here, there) = (summarize(&mut here), summarize(&mut there));
    println!(
        "(o) {CHAIN}-step no-op chain, per step, median of {CHAIN_ROUNDS}: in this process {}, on one worker {} \
         (each step a commit that readies the next, then a claim)",
        ms(here.p50),
        ms(there.p50)
    );
}

/// One run on one worker, to compile what the workers load (they share the cache).
async fn on_workers_warmup(shared: &Shared, runner: &Runner, file: &Path) {
    let worker = shared.spawn("warm-up");
    on_workers(runner, file).await;
    stop(vec![worker]);
}
