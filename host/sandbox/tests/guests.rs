//! The sandbox against real guest components (test guests from `weft-test-programs`, Weft's steps from dist/plugins):
//! hostile guests fail only themselves, limits hold, outputs are staged correctly.

mod common;

use common::plugin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft_artifacts::{ArtifactStore, Digest};
use weft_model::{Limits, ParamValue};
use weft_sandbox::{LoadedComponent, Sandbox, SandboxConfig, StepOutcome, StepRequest, StepSeed};
use weft_task::{LogStream, Provenance, StepFailure};

async fn load(sandbox: &Sandbox, name: &str) -> Arc<LoadedComponent> {
    sandbox.load_file(&plugin(name)).await.expect("loads")
}

fn setup() -> (Sandbox, ArtifactStore) {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    (sandbox, ArtifactStore::open("memory://").expect("store"))
}

/// Loads a guest and runs it once with no inputs or parameters.
async fn run_guest(sandbox: &Sandbox, store: &ArtifactStore, name: &str, limits: Limits) -> StepOutcome {
    let guest = load(sandbox, name).await;
    sandbox.run(&guest, request(store, limits)).await
}

fn request(store: &ArtifactStore, limits: Limits) -> StepRequest {
    StepRequest {
        store: store.clone(),
        inputs: Vec::new(),
        params: Vec::new(),
        output_types: Vec::new(),
        limits,
        interrupt: None,
        budget: Default::default(),
        seed: StepSeed::default(),
    }
}

#[tokio::test]
async fn describe_reports_ports_and_params() {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let csv = load(&sandbox, "csv-to-table").await;
    assert_eq!(csv.info.name, "csv-to-table");
    assert_eq!(csv.info.inputs[0].media_type, "text/csv");
    assert_eq!(csv.info.params[0].default, Some(ParamValue::Str(",".into())));
    assert!(csv.info.problems().is_empty(), "{:?}", csv.info.problems());
}

#[tokio::test]
async fn an_interrupted_step_stops_at_the_next_tick_as_cancelled() {
    let (sandbox, store) = setup();
    let spin = load(&sandbox, "test-spin").await;
    let flag = Arc::new(AtomicBool::new(false));
    let mut req = request(&store, Limits::default());
    req.interrupt = Some(flag.clone());
    let (outcome, ()) = tokio::join!(sandbox.run(&spin, req), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        flag.store(true, Ordering::Relaxed);
    });
    assert_eq!(outcome.result.expect_err("stopped"), StepFailure::Cancelled);
    assert!(outcome.duration < Duration::from_secs(5), "{:?}", outcome.duration);
}

#[tokio::test]
async fn infinite_loop_times_out_and_the_sandbox_goes_on() {
    let (sandbox, store) = setup();
    let spin = load(&sandbox, "test-spin").await;
    let noop = load(&sandbox, "test-noop").await;
    let limits = Limits {
        timeout: Some(Duration::from_millis(300)),
        ..Limits::default()
    };
    // The loop runs while another step completes: yielding at epoch ticks keeps it from
    // starving the runtime.
    let started = Instant::now();
    let (spun, quick) = tokio::join!(sandbox.run(&spin, request(&store, limits)), async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let outcome = sandbox.run(&noop, request(&store, Limits::default())).await;
        (outcome, started.elapsed())
    });
    assert_eq!(
        spun.result.expect_err("must fail"),
        StepFailure::TimedOut(Duration::from_millis(300))
    );
    assert!(
        spun.duration < Duration::from_secs(5),
        "stopped promptly: {:?}",
        spun.duration
    );
    assert!(quick.0.result.is_ok());
    assert!(
        quick.1 < Duration::from_millis(250),
        "noop finished while the loop ran: {:?}",
        quick.1
    );
}

#[tokio::test]
async fn memory_bomb_stops_at_the_limit() {
    let (sandbox, store) = setup();
    let bomb = load(&sandbox, "test-memory-bomb").await;
    let outcome = sandbox
        .run(
            &bomb,
            request(
                &store,
                Limits {
                    memory: Some(64 << 20),
                    ..Limits::default()
                },
            ),
        )
        .await;
    match outcome.result {
        Err(StepFailure::OutOfMemory(m)) => assert!(m.contains("64 MiB"), "{m}"),
        other => panic!("expected out of memory, got {other:?}"),
    }
    // The engine is still usable.
    assert!(
        run_guest(&sandbox, &store, "test-noop", Limits::default())
            .await
            .result
            .is_ok()
    );
}

#[tokio::test]
async fn host_files_and_environment_are_invisible() {
    let (sandbox, store) = setup();
    let outcome = run_guest(&sandbox, &store, "test-read-host-file", Limits::default()).await;
    assert_eq!(
        outcome.result.expect_err("must fail"),
        StepFailure::BadInput("no host file was readable".into())
    );
    let logged: Vec<_> = outcome.log.iter().map(|l| l.message.as_str()).collect();
    assert!(logged.iter().any(|l| l.starts_with("/etc/passwd:")), "{logged:?}");
}

#[tokio::test]
async fn panic_fails_the_step_with_the_guest_message() {
    let (sandbox, store) = setup();
    let outcome = run_guest(&sandbox, &store, "test-panic", Limits::default()).await;
    match outcome.result {
        Err(StepFailure::Trapped(m)) => {
            assert!(m.contains("deliberate panic from test guest"), "{m}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(
        outcome
            .log
            .iter()
            .any(|l| l.stream == LogStream::Stdout && l.message == "about to panic")
    );
}

#[tokio::test]
async fn a_step_touches_only_its_own_ports() {
    let (sandbox, store) = setup();
    let guest = load(&sandbox, "test-artifact-escape").await;
    let data = store.put_bytes(b"input", "text/plain").await.expect("put");
    let mut req = request(&store, Limits::default());
    req.inputs = vec![("data".into(), Provenance::origin("inputs.data", data))];
    let outcome = sandbox.run(&guest, req).await;
    let outputs = outcome.result.expect("the host refused every escape");
    assert_eq!(outputs.len(), 1);
    assert_eq!(outputs[0].staged.digest(), Digest::of(b"contained"));
}

#[tokio::test]
async fn copy_streams_bytes_through_and_stages_them() {
    let (sandbox, store) = setup();
    let guest = load(&sandbox, "test-copy").await;
    let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
    let input = store
        .put_bytes(&payload, "application/octet-stream")
        .await
        .expect("put");
    let mut req = request(&store, Limits::default());
    req.inputs = vec![("data".into(), Provenance::origin("inputs.data", input.clone()))];
    let outcome = sandbox.run(&guest, req).await;
    let mut outputs = outcome.result.expect("copies");
    assert_eq!(outcome.metrics, vec![("bytes".to_string(), 3_000_000.0)]);
    let out = outputs.remove(0);
    assert_eq!(out.staged.digest(), input.digest);
    assert!(!store.for_tenant("default").contains(&Digest::of(b"nothing")).await);
}

#[tokio::test]
async fn missing_output_fails_the_step() {
    let (sandbox, store) = setup();
    // `copy` with no input bound: open fails, the step reports it as a failure.
    let outcome = run_guest(&sandbox, &store, "test-copy", Limits::default()).await;
    match outcome.result {
        Err(StepFailure::Failed(m)) => assert!(m.contains("no input `data` is bound"), "{m}"),
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[tokio::test]
async fn second_load_comes_from_the_compile_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = SandboxConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..SandboxConfig::default()
    };
    let first = Sandbox::new(config.clone()).expect("sandbox");
    assert!(!load(&first, "summary-stats").await.from_cache);
    let second = Sandbox::new(config).expect("sandbox");
    let again = load(&second, "summary-stats").await;
    assert!(again.from_cache, "a fresh sandbox reuses the compiled code");
    assert_eq!(again.info.name, "summary-stats");
}

#[tokio::test]
async fn the_least_recently_used_component_is_dropped_past_the_cap() {
    let sandbox = Sandbox::new(SandboxConfig {
        max_loaded_components: 2,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let stats = load(&sandbox, "summary-stats").await;
    let copy = load(&sandbox, "test-copy").await;
    assert!(Arc::ptr_eq(&stats, &load(&sandbox, "summary-stats").await), "kept");
    // A third: test-copy, used least recently, is dropped; summary-stats stays.
    load(&sandbox, "test-noop").await;
    assert!(Arc::ptr_eq(&stats, &load(&sandbox, "summary-stats").await));
    let again = load(&sandbox, "test-copy").await;
    assert!(!Arc::ptr_eq(&copy, &again), "loaded again");
    assert_eq!(again.digest, copy.digest);
}

#[tokio::test]
async fn not_a_component_is_a_clear_error() {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let err = sandbox
        .load(b"\0asm\x01\0\0\0", "core.wasm")
        .await
        .err()
        .expect("refused");
    assert!(
        err.to_string().contains("core.wasm is not a Weft step component"),
        "{err}"
    );
}

#[tokio::test]
async fn fuel_budget_stops_a_busy_step() {
    let sandbox = Sandbox::new(SandboxConfig {
        fuel: true,
        ..SandboxConfig::default()
    })
    .expect("sandbox");
    let store = ArtifactStore::open("memory://").expect("store");
    let spin = load(&sandbox, "test-spin").await;
    let limits = Limits {
        fuel: Some(5_000_000),
        ..Limits::default()
    };
    let outcome = sandbox.run(&spin, request(&store, limits)).await;
    assert_eq!(
        outcome.result.expect_err("must fail"),
        StepFailure::OutOfFuel(5_000_000)
    );
    // Without a budget, a step under a fuel-metering sandbox runs normally.
    assert!(
        run_guest(&sandbox, &store, "test-noop", Limits::default())
            .await
            .result
            .is_ok()
    );
}

#[tokio::test]
async fn chatty_output_is_capped_not_fatal() {
    let (sandbox, store) = setup();
    let outcome = run_guest(&sandbox, &store, "test-chatty", Limits::default()).await;
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    let config = SandboxConfig::default();
    // Bytes as the guest wrote them: stdio lines lost their newline when split.
    let bytes = |stream: LogStream| -> usize {
        let newline = usize::from(matches!(stream, LogStream::Stdout | LogStream::Stderr));
        outcome
            .log
            .iter()
            .filter(|l| l.stream == stream)
            .map(|l| l.message.len() + newline)
            .sum()
    };
    assert!(bytes(LogStream::Stdout) <= config.max_stdio_bytes);
    assert!(bytes(LogStream::Stdout) > config.max_stdio_bytes / 2);
    assert!(bytes(LogStream::Emit("info")) <= config.max_log_bytes);
    let notes: Vec<_> = outcome
        .log
        .iter()
        .filter(|l| l.stream == LogStream::Host)
        .map(|l| l.message.as_str())
        .collect();
    assert!(notes.contains(&"stdout truncated"), "{notes:?}");
    assert!(notes.contains(&"stderr truncated"), "{notes:?}");
    assert!(notes.iter().any(|n| n.starts_with("log truncated")), "{notes:?}");
}

#[tokio::test]
async fn fuel_limit_without_metering_is_refused_clearly() {
    let (sandbox, store) = setup();
    let noop = load(&sandbox, "test-noop").await;
    let limits = Limits {
        fuel: Some(1000),
        ..Limits::default()
    };
    match sandbox.run(&noop, request(&store, limits)).await.result {
        Err(StepFailure::Host(m)) => assert!(m.contains("without fuel metering"), "{m}"),
        other => panic!("expected a host error, got {other:?}"),
    }
}

#[tokio::test]
async fn large_artifacts_stream_through_a_small_step() {
    // 24 MiB through a step limited to 8 MiB of memory: only streaming can do that.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("store");
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let payload: Vec<u8> = (0..24u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let input = store
        .put_bytes(&payload, "application/octet-stream")
        .await
        .expect("put");
    let guest = load(&sandbox, "test-copy").await;
    let mut req = request(
        &store,
        Limits {
            memory: Some(8 << 20),
            ..Limits::default()
        },
    );
    req.inputs = vec![("data".into(), Provenance::origin("inputs.data", input.clone()))];
    let mut outputs = sandbox.run(&guest, req).await.result.expect("streams");
    let staged = outputs.remove(0).staged;
    assert_eq!((staged.digest(), staged.size()), (input.digest, 24 << 20));
}
