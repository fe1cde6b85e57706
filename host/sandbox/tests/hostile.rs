//! Hostile steps against the sandbox (the `test-hostile` guest, one attack per run): each
//! attack fails only its own step, promptly, with a failure that names the limit it hit.
//! Every test here hung, used unbounded host memory or failed with a bare trap before the
//! sandbox bounded it.

mod common;

use common::plugin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft_artifacts::ArtifactStore;
use weft_model::{Limits, ParamValue};
use weft_sandbox::{LoadedComponent, Sandbox, SandboxConfig, StepCounts, StepOutcome, StepRequest, StepSeed};
use weft_task::{LogStream, Provenance, StepFailure};

/// The longest any test here may take: without the fixes several would hang forever.
const HANG: Duration = Duration::from_secs(60);

struct Bench {
    sandbox: Sandbox,
    store: ArtifactStore,
    hostile: Arc<LoadedComponent>,
}

async fn bench() -> Bench {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let hostile = sandbox.load_file(&plugin("test-hostile")).await.expect("loads");
    Bench {
        sandbox,
        store: ArtifactStore::open("memory://").expect("store"),
        hostile,
    }
}

fn request(store: &ArtifactStore, attack: &str, count: i64, limits: Limits) -> StepRequest {
    StepRequest {
        store: store.clone(),
        inputs: Vec::new(),
        params: vec![
            ("attack".into(), ParamValue::Str(attack.into())),
            ("count".into(), ParamValue::Int(count)),
        ],
        output_types: Vec::new(),
        limits,
        interrupt: None,
        budget: Default::default(),
        seed: StepSeed {
            step: "hostile".into(),
            attempt: 1,
        },
    }
}

impl Bench {
    /// Runs one attack; fails the test instead of hanging it.
    async fn attack(&self, attack: &str, count: i64, limits: Limits) -> StepOutcome {
        self.run(request(&self.store, attack, count, limits)).await
    }

    async fn run(&self, req: StepRequest) -> StepOutcome {
        tokio::time::timeout(HANG, self.sandbox.run(&self.hostile, req))
            .await
            .expect("the step ended instead of hanging the host")
    }
}

fn timeout(ms: u64) -> Limits {
    Limits {
        timeout: Some(Duration::from_millis(ms)),
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_sleep_returns_at_once_with_virtual_time_advanced() {
    let b = bench().await;
    // Two hours of sleep under a 5 s limit: virtual time passes, real time does not.
    let outcome = b.attack("sleep", 2, timeout(5_000)).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let slept = outcome.metrics.iter().find(|(n, _)| n == "slept_seconds").map(|m| m.1);
    assert!(slept.is_some_and(|s| s >= 7200.0), "{slept:?}");
    assert!(outcome.duration < Duration::from_secs(5), "{:?}", outcome.duration);
}

#[tokio::test]
async fn a_step_sleeping_forever_stops_at_its_time_limit() {
    let b = bench().await;
    let outcome = b.attack("sleep-forever", 0, timeout(300)).await;
    assert_eq!(
        outcome.result.expect_err("stopped"),
        StepFailure::TimedOut(Duration::from_millis(300))
    );
    assert!(outcome.duration < Duration::from_secs(5), "{:?}", outcome.duration);
}

#[tokio::test]
async fn a_step_sleeping_forever_stops_when_cancelled() {
    let b = bench().await;
    let flag = Arc::new(AtomicBool::new(false));
    let mut req = request(&b.store, "sleep-forever", 0, Limits::default());
    req.interrupt = Some(flag.clone());
    let started = Instant::now();
    let (outcome, ()) = tokio::join!(b.run(req), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        flag.store(true, Ordering::Relaxed);
    });
    assert_eq!(outcome.result.expect_err("stopped"), StepFailure::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn empty_log_lines_count_against_the_caps() {
    let b = bench().await;
    let max = SandboxConfig::default().max_log_lines;
    for (attack, stream) in [
        ("empty-logs", LogStream::Emit("info")),
        ("empty-stdout", LogStream::Stdout),
    ] {
        let outcome = b.attack(attack, 200_000, Limits::default()).await;
        assert!(outcome.result.is_ok(), "{attack}: {:?}", outcome.result);
        let kept = outcome.log.iter().filter(|l| l.stream == stream).count();
        assert!(kept <= max, "{attack}: {kept} lines kept");
        assert!(
            outcome
                .log
                .iter()
                .any(|l| l.stream == LogStream::Host && l.message.contains("truncated")),
            "{attack}: the log says it was cut"
        );
    }
}

#[tokio::test]
async fn failure_messages_are_capped_with_a_note() {
    let b = bench().await;
    let outcome = b.attack("long-failure", 10_000_000, Limits::default()).await;
    match outcome.result {
        Err(StepFailure::Failed(m)) => {
            assert!(
                m.len() <= SandboxConfig::default().max_failure_bytes + 100,
                "{} bytes",
                m.len()
            );
            assert!(
                m.ends_with("[... truncated: the message had 10000000 bytes]"),
                "{}",
                &m[m.len() - 80..]
            );
        }
        other => panic!("expected a capped failure, got {other:?}"),
    }
}

#[tokio::test]
async fn metrics_are_capped_in_number_and_name_length() {
    let b = bench().await;
    let outcome = b.attack("metrics", 20_000, Limits::default()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert_eq!(outcome.metrics.len(), 10_000);
    assert!(outcome.log.iter().any(|l| l.message.contains("at most 10000 metrics")));
    let outcome = b.attack("long-metric-name", 100_000, Limits::default()).await;
    assert_eq!(
        outcome.result.expect_err("refused"),
        StepFailure::HostCallTooLarge("a metric name of 100000 bytes (the limit is 256)".into())
    );
}

#[tokio::test]
async fn a_nan_metric_fails_the_step_at_the_host_boundary() {
    let b = bench().await;
    let failure = b
        .attack("nan-metric", 1, Limits::default())
        .await
        .result
        .expect_err("refused");
    assert!(!failure.is_retryable());
    assert_eq!(
        failure.to_string(),
        "invalid host call: metric `loss` = NaN: metrics must be finite numbers"
    );
}

#[tokio::test]
async fn open_artifacts_are_capped_per_step() {
    let b = bench().await;
    let data = b.store.put_bytes(b"input", "text/plain").await.expect("put");
    let mut req = request(&b.store, "open-inputs", 20_000, Limits::default());
    req.inputs = vec![("data".into(), Provenance::origin("inputs.data", data))];
    let failure = b.run(req).await.result.expect_err("refused");
    assert!(!failure.is_retryable());
    assert_eq!(
        failure.to_string(),
        "resource limit: too many open artifacts (limit 256): drop readers when done"
    );
}

#[tokio::test]
async fn oversized_host_calls_fail_with_their_cause() {
    let b = bench().await;
    let outcome = b.attack("big-write", 120 << 20, Limits::default()).await;
    assert_eq!(
        outcome.result.expect_err("refused"),
        StepFailure::HostCallTooLarge("a write of 125829120 bytes (the limit is 1048576 per call)".into())
    );
    let outcome = b.attack("big-log", 10 << 20, Limits::default()).await;
    let failure = outcome.result.expect_err("refused");
    assert_eq!(
        failure.to_string(),
        "host call too large: a log message of 10485760 bytes (the limit is 65536)"
    );
    assert!(!failure.is_retryable());
}

#[tokio::test]
async fn exit_is_named_as_such() {
    let b = bench().await;
    // WASI 0.2's `exit` carries only success or failure: exit(3) arrives as exit(1).
    for (code, seen) in [(0, 0), (3, 1)] {
        let outcome = b.attack("exit", code, Limits::default()).await;
        let failure = outcome.result.expect_err("exit is not a return");
        assert_eq!(failure, StepFailure::Exited(seen));
        assert_eq!(
            failure.to_string(),
            format!("the step called exit({seen}) instead of returning")
        );
        assert!(!failure.is_retryable());
    }
}

#[tokio::test]
async fn random_bytes_depend_on_step_and_attempt_and_nothing_else() {
    let b = bench().await;
    let random = |step: &str, attempt: u32| {
        let mut req = request(&b.store, "random", 0, Limits::default());
        req.seed = StepSeed {
            step: step.into(),
            attempt,
        };
        async {
            let outcome = b.run(req).await;
            assert!(outcome.result.is_ok(), "{:?}", outcome.result);
            let line = outcome.log.iter().find(|l| l.message.starts_with("random "));
            line.expect("logged its bytes").message.clone()
        }
    };
    let first = random("a", 1).await;
    assert_eq!(first, random("a", 1).await, "deterministic");
    assert_ne!(first, random("b", 1).await, "another step");
    assert_ne!(first, random("a", 2).await, "a retry");
}

#[tokio::test]
async fn instance_and_memory_counts_are_capped_per_step() {
    // A component may instantiate many core modules, each with memories and tables; the
    // per-step caps refuse them at instantiation (here at `describe()`, when loading), with
    // the limit named, long before the shared pool runs out. (That the defaults leave room
    // for the Python and JS runtimes, which link many core modules, tests/examples.rs shows:
    // it runs them under the default caps.)
    for (counts, limit) in [
        (
            StepCounts {
                instances: 0,
                ..StepCounts::default()
            },
            "too many instances (limit 0 per step)",
        ),
        (
            StepCounts {
                memories: 0,
                ..StepCounts::default()
            },
            "too many memories (limit 0 per step)",
        ),
    ] {
        let sandbox = Sandbox::new(SandboxConfig {
            step_counts: counts,
            ..SandboxConfig::default()
        })
        .expect("sandbox");
        let err = sandbox.load_file(&plugin("test-hostile")).await.err().expect("refused");
        assert!(err.to_string().contains(limit), "{err}");
    }
}

#[tokio::test]
async fn a_full_instance_pool_makes_steps_wait_not_fail() {
    // One slot: while one step holds it, the next waits for it instead of failing for want
    // of an instance (a neighbour's crash, before), and a cancel ends the wait.
    let sandbox = Sandbox::new(SandboxConfig {
        max_instances: 1,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let store = ArtifactStore::open("memory://").expect("store");
    let hostile = sandbox.load_file(&plugin("test-hostile")).await.expect("loads");
    let (busy, waiting) = tokio::join!(
        sandbox.run(&hostile, request(&store, "sleep-forever", 0, timeout(300))),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            sandbox
                .run(&hostile, request(&store, "sleep", 1, timeout(10_000)))
                .await
        }
    );
    assert_eq!(
        busy.result.expect_err("timed out"),
        StepFailure::TimedOut(Duration::from_millis(300))
    );
    assert!(waiting.result.is_ok(), "{:?}", waiting.result);
    let flag = Arc::new(AtomicBool::new(false));
    let mut queued = request(&store, "sleep", 1, Limits::default());
    queued.interrupt = Some(flag.clone());
    let (_, cancelled, ()) = tokio::join!(
        sandbox.run(&hostile, request(&store, "sleep-forever", 0, timeout(2_000))),
        async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            sandbox.run(&hostile, queued).await
        },
        async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            flag.store(true, Ordering::Relaxed);
        }
    );
    assert_eq!(
        cancelled.result.expect_err("cancelled while waiting"),
        StepFailure::Cancelled
    );
    assert!(
        cancelled.duration < Duration::from_millis(1_500),
        "{:?}",
        cancelled.duration
    );
}

/// Removes every file below `dir` named `name`; returns how many.
fn remove_named(dir: &std::path::Path, name: &str) -> usize {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            removed += remove_named(&path, name);
        } else if path.file_name().is_some_and(|n| n == name) {
            std::fs::remove_file(&path).expect("remove");
            removed += 1;
        }
    }
    removed
}

#[tokio::test]
async fn store_errors_reach_the_guest_without_host_paths() {
    // A blob gone from a directory store: the store's error names its path. The guest is
    // told only which input and a code; the details are in the step's log.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_str().expect("utf8").to_string();
    let store = ArtifactStore::open(&root).expect("store");
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let input = store.put_bytes(b"some input", "text/plain").await.expect("put");
    assert_eq!(remove_named(dir.path(), &input.digest.hex()), 1);
    let copy = sandbox.load_file(&plugin("test-copy")).await.expect("loads");
    let outcome = sandbox
        .run(
            &copy,
            StepRequest {
                store: store.clone(),
                inputs: vec![("data".into(), Provenance::origin("inputs.data", input))],
                params: Vec::new(),
                output_types: Vec::new(),
                limits: Limits::default(),
                interrupt: None,
                budget: Default::default(),
                seed: StepSeed::default(),
            },
        )
        .await;
    // `test-copy` fails with what `open` told it; that failure is the store's doing (a host
    // failure, tried again rather than failing the run), and says so without the path.
    let failure = outcome.result.expect_err("no input");
    assert!(matches!(failure, StepFailure::Host(_)), "{failure:?}");
    assert_eq!(
        failure.to_string(),
        "host error: the store failed under the step (artifact-open: input `data` (inputs.data); the details are in \
         the step's log); the step then ended with: failed: input `data` could not be opened (host error \
         `artifact-open`; the details are in the step's log)"
    );
    assert!(!failure.to_string().contains(&root), "{failure}");
    let host_lines: Vec<_> = outcome.log.iter().filter(|l| l.stream == LogStream::Host).collect();
    assert!(
        host_lines
            .iter()
            .any(|l| l.message.starts_with("artifact-open: input `data` (inputs.data)")),
        "{host_lines:?}"
    );
}

#[tokio::test]
async fn resource_handles_are_capped_per_step() {
    // Every resource a step holds (artifacts, WASI streams and pollables) sits in one table
    // whose size is capped; here the table is the tighter cap.
    let sandbox = Sandbox::new(SandboxConfig {
        max_handles: 100,
        max_open_artifacts: 1_000,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let store = ArtifactStore::open("memory://").expect("store");
    let hostile = sandbox.load_file(&plugin("test-hostile")).await.expect("loads");
    let data = store.put_bytes(b"input", "text/plain").await.expect("put");
    let mut req = request(&store, "open-inputs", 500, Limits::default());
    req.inputs = vec![("data".into(), Provenance::origin("inputs.data", data))];
    let failure = sandbox.run(&hostile, req).await.result.expect_err("refused");
    assert!(!failure.is_retryable());
    assert!(
        failure
            .to_string()
            .starts_with("resource limit: too many open handles (limit 100)"),
        "{failure}"
    );
}

#[tokio::test]
async fn a_step_writing_flat_out_does_not_hold_up_a_neighbour() {
    // 120 MiB in 1 MiB calls (one 120 MiB call is refused): every call is short and the
    // guest yields at each epoch tick, so a step started meanwhile ends at once.
    let b = bench().await;
    let noop = b.sandbox.load_file(&plugin("test-noop")).await.expect("loads");
    let started = Instant::now();
    let (writer, neighbour) = tokio::join!(b.attack("chunked-write", 120, Limits::default()), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let outcome = b
            .sandbox
            .run(&noop, request(&b.store, "none", 0, Limits::default()))
            .await;
        (outcome, started.elapsed())
    });
    assert!(writer.result.is_ok(), "{:?}", writer.result);
    assert!(neighbour.0.result.is_ok(), "{:?}", neighbour.0.result);
    eprintln!(
        "writer: {:?} for 120 MiB; neighbour done {:?} after the start",
        writer.duration, neighbour.1
    );
    assert!(
        neighbour.1 < writer.duration.max(Duration::from_millis(100)),
        "the neighbour waited for the writer: {:?} vs {:?}",
        neighbour.1,
        writer.duration
    );
}

#[tokio::test]
async fn a_random_request_over_a_chunk_fails_as_too_large() {
    let b = bench().await;
    let outcome = b.attack("big-random", 1 << 20, Limits::default()).await;
    assert!(outcome.result.is_ok(), "1 MiB is allowed: {:?}", outcome.result);
    let failure = b
        .attack("big-random", 64 << 20, Limits::default())
        .await
        .result
        .expect_err("refused");
    assert_eq!(
        failure.to_string(),
        "host call too large: a request for 67108864 random bytes (the limit is 1048576)"
    );
}

#[tokio::test]
async fn a_describe_that_never_returns_fails_the_load_at_its_time_limit() {
    let sandbox = Sandbox::new(SandboxConfig {
        describe_timeout: Duration::from_millis(300),
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let started = Instant::now();
    let err = tokio::time::timeout(HANG, sandbox.load_file(&plugin("test-slow-describe")))
        .await
        .expect("the load ended instead of hanging the host")
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("describe() failed: timed out after 300ms"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "{:?}", started.elapsed());
}

/// An output past the store's limit per artifact (S3's 5 GiB copy limit, here lowered)
/// fails its step at the write that crosses it, as a resource limit a retry cannot fix —
/// not after the upload, when publishing it would fail.
#[tokio::test]
async fn an_output_past_the_stores_artifact_limit_fails_at_once() {
    let b = bench().await;
    let store = b.store.clone().with_max_artifact_size(3 << 20);
    let outcome = b.run(request(&store, "chunked-write", 5, Limits::default())).await;
    let failure = outcome.result.expect_err("refused");
    assert!(
        matches!(&failure, StepFailure::ResourceLimit(m) if m.contains("3145728 bytes, the most one artifact may be")),
        "{failure:?}"
    );
    assert!(!failure.is_retryable());
}

/// A memory slot is reused from step to step and reset by copying back only the pages a
/// step dirtied (`sandbox.rs`, `KEEP_RESIDENT`): what one step leaves in its memory is
/// never seen by the next, however many run.
#[tokio::test]
async fn a_step_never_sees_what_an_earlier_step_left_in_memory() {
    let b = bench().await;
    let zeros = weft_artifacts::Digest::of(&[0u8; 4096]);
    for round in 0..20 {
        let outcome = b.attack("stash", 0, Limits::default()).await;
        let outputs = outcome.result.expect("the stash runs");
        let out = outputs.iter().find(|o| o.port == "out").expect("an output");
        assert_eq!(
            out.staged.digest(),
            zeros,
            "round {round}: an earlier step's bytes were visible"
        );
    }
}
