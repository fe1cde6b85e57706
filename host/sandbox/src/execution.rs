//! One step execution: a fresh, limited store, the call under a wall-clock bound, and the
//! classification of how it ended.
//!
//! Two bounds stop a step. While wasm code runs, the epoch callback checks the deadline
//! and the interrupt at every tick and traps cleanly. While the guest waits inside a host
//! call no epoch check runs, so the call itself is also raced against the deadline and the
//! interrupt (see [`bounded`]): whatever the host call, no step outlives its time limit or
//! a cancel by more than a tick and a grace period, and it gives back its concurrency slot.

use crate::bindings::wit_types;
use crate::clock::VirtualTime;
use crate::host_artifacts::StepIo;
use crate::limiter::StepLimiter;
use crate::outcome::{StagedOutput, StepOutcome};
use crate::output_pipe::CappedPipe;
use crate::random::{StepSeed, step_random};
use crate::sandbox::{LoadedComponent, Sandbox};
use crate::state::{StepLog, StepState};
use crate::{convert, host_artifacts};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wasmtime::component::{ResourceTable, ResourceTableError};
use wasmtime::{Store, UpdateDeadline};
use weft_artifacts::ArtifactStore;
use weft_model::{Limits, ParamValue};
use weft_task::{LogLine, LogStream, StepFailure};
use weft_task::{Provenance, StepBudget};

/// How long the wall-clock bound waits, once the deadline or a cancel is seen, for the
/// epoch callback to stop the guest cleanly before dropping the call.
const GRACE: Duration = Duration::from_millis(50);
/// How often the wall-clock bound looks at the interrupt flag (the epoch tick).
const POLL: Duration = Duration::from_millis(5);

/// One step execution's inputs.
pub struct StepRequest {
    /// The store to read inputs from and stage outputs in.
    pub store: ArtifactStore,
    /// Bound inputs: port → published artifact and how it was made; a fan-in port
    /// appears once per artifact, in binding order.
    pub inputs: Vec<(String, Arc<Provenance>)>,
    /// Every declared parameter with its (checked) value.
    pub params: Vec<(String, ParamValue)>,
    /// Media types to publish outputs as, where they differ from the declaration (a `*/*`
    /// pass-through output, resolved by validation); unlisted outputs keep their declared
    /// type, and an unlisted `*/*` one is `application/octet-stream`.
    pub output_types: Vec<(String, String)>,
    /// Limits for this execution.
    pub limits: Limits,
    /// Set it to stop the step at the next epoch tick (within ~5 ms, or the grace period
    /// if it waits in a host call); it fails as [`StepFailure::Cancelled`].
    pub interrupt: Option<Arc<AtomicBool>>,
    /// The byte quotas its writes count against (a shared server's): every write takes
    /// its bytes first, and one that would pass a quota fails the step there.
    pub budget: Arc<StepBudget>,
    /// Which step and attempt this is: picks the execution's random bytes.
    pub seed: StepSeed,
}

/// What a store's artifact access is built from.
#[derive(Default)]
pub(crate) struct Ports {
    pub inputs: Vec<(String, Arc<Provenance>)>,
    pub many: Vec<String>,
    pub outputs: Vec<(String, String)>,
    /// The byte quotas writes take from.
    pub budget: Arc<StepBudget>,
}

/// Why [`bounded`] stopped a call.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    TimedOut,
    Cancelled,
}

/// Runs `call` until it ends, `deadline` passes or `interrupt` is set, whichever is first;
/// on a stop, the call gets [`GRACE`] to end by itself before it is dropped (dropping a
/// wasmtime call unwinds the guest: its store must not be called again).
pub(crate) async fn bounded<F: Future>(
    call: F,
    deadline: Option<Instant>,
    interrupt: Option<&AtomicBool>,
) -> Result<F::Output, Stop> {
    let watch = async {
        let stop = loop {
            if interrupt.is_some_and(|i| i.load(Ordering::Relaxed)) {
                break Stop::Cancelled;
            }
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left.min(POLL),
                    _ => break Stop::TimedOut,
                },
                None => POLL,
            };
            tokio::time::sleep(wait).await;
        };
        tokio::time::sleep(GRACE).await;
        stop
    };
    tokio::select! {
        biased;
        out = call => Ok(out),
        stop = watch => Err(stop),
    }
}

impl Sandbox {
    pub(crate) fn new_store(
        &self,
        artifacts: ArtifactStore,
        ports: Ports,
        limits: &Limits,
        deadline: Option<Instant>,
        interrupt: Option<Arc<AtomicBool>>,
        seed: &StepSeed,
    ) -> Store<StepState> {
        let config = self.config();
        let stdout = CappedPipe::new(config.max_stdio_bytes);
        let stderr = CappedPipe::new(config.max_stdio_bytes);
        let time = VirtualTime::default();
        let random = step_random(config.random_seed, seed);
        // Hermetic WASI: no preopens, args or environment (the builder's defaults), no
        // network, virtual clocks, seeded randomness; one random call moves at most a chunk.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(time.wall_clock())
            .monotonic_clock(time.monotonic_clock())
            .secure_random(random.secure)
            .insecure_random(random.insecure)
            .insecure_random_seed(random.insecure_seed)
            .max_random_size(host_artifacts::MAX_CHUNK as u64)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(config.max_handles);
        let state = StepState {
            wasi,
            table,
            limiter: StepLimiter::new(limits.memory.unwrap_or(config.default_memory), &config.step_counts),
            io: StepIo {
                store: artifacts,
                inputs: ports.inputs,
                many_ports: ports.many,
                outputs: ports.outputs,
                writers: Vec::new(),
                max_output_bytes: config.max_output_bytes,
                written: 0,
                budget: ports.budget,
                max_open: config.max_open_artifacts,
                open: 0,
                readers: HashMap::new(),
                next_reader: 0,
            },
            log: StepLog::new(config.max_log_bytes, config.max_log_lines),
            metrics: Vec::new(),
            metric_index: std::collections::HashMap::new(),
            metrics_dropped: false,
            stdout,
            stderr,
            deadline,
            timed_out: false,
            interrupt,
            interrupted: false,
            time,
            cause: None,
            store_trouble: None,
            instantiated: false,
        };
        let mut store = Store::new(self.engine(), state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let state = ctx.data_mut();
            if state.deadline.is_some_and(|d| Instant::now() >= d) {
                state.timed_out = true;
                return Err(wasmtime::format_err!("the step's time limit passed"));
            }
            if state.interrupt.as_ref().is_some_and(|i| i.load(Ordering::Relaxed)) {
                state.interrupted = true;
                return Err(wasmtime::format_err!("the step was cancelled"));
            }
            // Yield to tokio at every tick so a busy step never starves the others.
            Ok(UpdateDeadline::Yield(1))
        });
        if config.fuel {
            // Without a budget, a step may burn all the fuel there is.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        store
    }

    /// Runs one step in a fresh store. Never panics and never fails the host: every
    /// problem of the step is reported in the outcome.
    pub async fn run(&self, component: &LoadedComponent, request: StepRequest) -> StepOutcome {
        let started = Instant::now();
        let config = self.config();
        if request.limits.fuel.is_some() && !config.fuel {
            return not_started(
                StepFailure::Host(
                    "the step sets `limits.fuel` but this sandbox runs without fuel metering (SandboxConfig::fuel)"
                        .into(),
                ),
                started,
            );
        }
        let info = &component.info;
        let ports = Ports {
            inputs: request.inputs,
            many: info.inputs.iter().filter(|p| p.many).map(|p| p.name.clone()).collect(),
            outputs: info
                .outputs
                .iter()
                .map(|p| (p.name.clone(), output_type(p, &request.output_types)))
                .collect(),
            budget: request.budget,
        };
        let timeout = request.limits.timeout.unwrap_or(config.default_timeout);
        // A time limit too far away to represent is no limit (validation bounds it).
        let deadline = started.checked_add(timeout);
        let interrupt = request.interrupt.clone();
        // Wait for a slot in the instance pool rather than fail for want of one (a neighbour
        // would see its step crash); the wait counts against the time limit and ends on a cancel.
        let _slot = match bounded(self.slots().acquire(), deadline, interrupt.as_deref()).await {
            Ok(Ok(slot)) => slot,
            Ok(Err(_)) => return not_started(StepFailure::Host("the sandbox is shutting down".into()), started),
            Err(Stop::Cancelled) => return not_started(StepFailure::Cancelled, started),
            Err(Stop::TimedOut) => return not_started(StepFailure::TimedOut(timeout), started),
        };
        let mut store = self.new_store(
            request.store,
            ports,
            &request.limits,
            deadline,
            request.interrupt,
            &request.seed,
        );
        let params: Vec<wit_types::Param> = request
            .params
            .iter()
            .map(|(n, v)| convert::to_wit_param(n, v))
            .collect();
        let call = bounded(
            async {
                let instance = component.pre.instantiate_async(&mut store).await?;
                store.data_mut().instantiated = true;
                let ran = instance.weft_step_step().call_run(&mut store, &params).await;
                if matches!(ran, Ok(Ok(()))) {
                    // Still inside the time bound: what the step left unread is checked
                    // before its result is trusted.
                    store.data_mut().check_unread_inputs().await?;
                }
                ran
            },
            deadline,
            interrupt.as_deref(),
        )
        .await;
        let result = match call {
            Ok(Ok(Ok(()))) => finish_outputs(&mut store).await,
            Ok(Ok(Err(wit_types::StepError::BadInput(m)))) => Err(StepFailure::BadInput(m)),
            Ok(Ok(Err(wit_types::StepError::Failed(m)))) => Err(StepFailure::Failed(m)),
            Ok(Err(e)) => Err(classify_trap(&mut store, &e, timeout, request.limits.fuel, config)),
            Err(Stop::TimedOut) => Err(StepFailure::TimedOut(timeout)),
            Err(Stop::Cancelled) => Err(StepFailure::Cancelled),
        };
        let duration = started.elapsed();
        let state = store.into_data();
        let result = result.map_err(|f| crate::state::blame(f, state.store_trouble.as_deref()));
        StepOutcome {
            result: result.map_err(|f| f.capped(config.max_failure_bytes)),
            log: collect_log(
                state.log,
                [(&state.stdout, LogStream::Stdout), (&state.stderr, LogStream::Stderr)],
                config.max_log_lines,
            ),
            metrics: state.metrics,
            duration,
        }
    }
}

/// The outcome of a step that failed before it was instantiated.
fn not_started(failure: StepFailure, started: Instant) -> StepOutcome {
    StepOutcome {
        result: Err(failure),
        log: Vec::new(),
        metrics: Vec::new(),
        duration: started.elapsed(),
    }
}

/// Names the cause of a trap: a limit the step hit, a cancel, `exit`, or the trap itself
/// with the guest's last words.
pub(crate) fn classify_trap(
    store: &mut Store<StepState>,
    e: &wasmtime::Error,
    timeout: Duration,
    fuel: Option<u64>,
    config: &crate::SandboxConfig,
) -> StepFailure {
    let state = store.data_mut();
    if state.interrupted {
        return StepFailure::Cancelled;
    }
    if state.timed_out {
        return StepFailure::TimedOut(timeout);
    }
    if let Some(cause) = state.cause.take() {
        return cause;
    }
    if state.limiter.memory_exceeded {
        return StepFailure::OutOfMemory(format!(
            "the step exceeded its memory limit of {} MiB (all its memories and tables together)",
            state.limiter.memory_limit >> 20
        ));
    }
    if let Some(wasmtime::Trap::OutOfFuel) = e.downcast_ref::<wasmtime::Trap>() {
        return StepFailure::OutOfFuel(fuel.unwrap_or(u64::MAX));
    }
    if let Some(exit) = e.downcast_ref::<wasmtime_wasi::I32Exit>() {
        return StepFailure::Exited(exit.0);
    }
    if let Some(ResourceTableError::Full) = e.downcast_ref::<ResourceTableError>() {
        return StepFailure::ResourceLimit(format!(
            "too many open handles (limit {}): the step holds too many resources (pollables, streams, artifacts) at once",
            config.max_handles
        ));
    }
    if let Some(limit) = count_limit(e, config) {
        return limit;
    }
    if let Some(request) = random_too_large(e) {
        return request;
    }
    if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
        // Not the step's fault: the whole sandbox is busy. A retry may find room.
        return StepFailure::Host(format!("the sandbox has no free instance slot now ({})", first_line(e)));
    }
    let trap = e.downcast_ref::<wasmtime::Trap>();
    if !state.instantiated && trap.is_none() && e.chain().any(|cause| cause.is::<std::io::Error>()) {
        // The system refused wasmtime what it needs to set the instance up (once, in CI,
        // "cannot add seals to the memfd" while making a memory image): not the step's doing.
        return StepFailure::Host(format!("could not instantiate the step: {}", first_line(e)));
    }
    // The guest's own words (its panic or exception, and where) say what happened. After
    // an `unreachable` (a panic, an abort) they say it all; after any other trap (out of
    // bounds, stack exhausted, division by zero) the trap is the cause and they the context.
    let stderr = String::from_utf8_lossy(&state.stderr.peek()).into_owned();
    let words = crate::guest_words::guest_words(&stderr);
    let trap_text = trap.map_or_else(|| first_line(e), ToString::to_string);
    let aborted = matches!(trap, Some(wasmtime::Trap::UnreachableCodeReached));
    StepFailure::Trapped(match (aborted, words.recognised, words.tail) {
        (true, Some(own), _) | (true, None, Some(own)) => own,
        (false, Some(own), _) => format!("{trap_text}; {own}"),
        (false, None, Some(tail)) => format!("{trap_text}; guest stderr: {tail}"),
        (_, None, None) => trap_text,
    })
}

/// wasmtime refuses an instance, memory or table past the limiter's counts with a message
/// of the form "resource limit exceeded: memory count too high at 5"; name the limit.
fn count_limit(e: &wasmtime::Error, config: &crate::SandboxConfig) -> Option<StepFailure> {
    let text = format!("{e:#}");
    let counts = &config.step_counts;
    [
        ("instance count too high", "instances", counts.instances),
        ("memory count too high", "memories", counts.memories),
        ("table count too high", "tables", counts.tables),
    ]
    .into_iter()
    .find(|(needle, _, _)| text.contains(needle))
    .map(|(_, what, limit)| StepFailure::ResourceLimit(format!("too many {what} (limit {limit} per step)")))
}

/// wasmtime-wasi refuses a `get-random-bytes` past `max_random_size` with "requested len
/// N exceeds limit M"; say it is a host call too large.
fn random_too_large(e: &wasmtime::Error) -> Option<StepFailure> {
    e.chain().find_map(|cause| {
        let text = cause.to_string();
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["requested", "len", len, "exceeds", "limit", limit] => Some(StepFailure::HostCallTooLarge(format!(
                "a request for {len} random bytes (the limit is {limit})"
            ))),
            _ => None,
        }
    })
}

/// The media type to publish output `port` as.
fn output_type(port: &weft_model::Port, given: &[(String, String)]) -> String {
    match given.iter().find(|(n, _)| *n == port.name) {
        Some((_, t)) => t.clone(),
        None if port.media_type == weft_model::media_type::ANY => "application/octet-stream".to_string(),
        None => port.media_type.clone(),
    }
}

fn first_line(e: &wasmtime::Error) -> String {
    let text = format!("{e:#}");
    text.lines().next().unwrap_or("").to_string()
}

async fn finish_outputs(store: &mut Store<StepState>) -> Result<Vec<StagedOutput>, StepFailure> {
    let state = store.data_mut();
    let mut writers = std::mem::take(&mut state.io.writers);
    let mut out = Vec::with_capacity(state.io.outputs.len());
    for (port, media_type) in &state.io.outputs {
        let Some(pos) = writers.iter().position(|(p, _)| p == port) else {
            return Err(StepFailure::MissingOutput(port.clone()));
        };
        let (_, writer) = writers.swap_remove(pos);
        let staged = writer.finish().await.map_err(|e| {
            if e.is_full() {
                // No outage a later try waits out: the step's own to answer for.
                StepFailure::ResourceLimit(format!("output `{port}`: no space left in the store"))
            } else {
                StepFailure::Host(format!("cannot stage output `{port}`: {e}"))
            }
        })?;
        out.push(StagedOutput {
            port: port.clone(),
            media_type: media_type.clone(),
            staged,
        });
    }
    Ok(out)
}

/// The step's log: emitted lines (capped as they came), then each stdio stream split into
/// lines, at most `max_lines` per stream (their bytes are capped by the pipes).
fn collect_log(log: StepLog, pipes: [(&CappedPipe, LogStream); 2], max_lines: usize) -> Vec<LogLine> {
    let mut lines = log.finish();
    for (pipe, stream) in pipes {
        let (bytes, mut truncated) = pipe.take();
        let text = String::from_utf8_lossy(&bytes);
        for (n, line) in text.lines().enumerate() {
            if n == max_lines {
                truncated = true;
                break;
            }
            lines.push(LogLine {
                stream,
                message: line.to_string(),
            });
        }
        if truncated {
            lines.push(LogLine {
                stream: LogStream::Host,
                message: format!("{} truncated", stream.label()),
            });
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_that_never_returns_is_stopped_by_its_deadline() {
        let started = Instant::now();
        let deadline = Instant::now() + Duration::from_millis(30);
        let stopped = bounded(std::future::pending::<()>(), Some(deadline), None).await;
        assert_eq!(stopped, Err(Stop::TimedOut));
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn a_call_that_never_returns_is_stopped_by_the_interrupt() {
        let flag = Arc::new(AtomicBool::new(false));
        let setter = flag.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            setter.store(true, Ordering::Relaxed);
        });
        let stopped = bounded(std::future::pending::<()>(), None, Some(&flag)).await;
        assert_eq!(stopped, Err(Stop::Cancelled));
    }

    #[tokio::test]
    async fn a_call_that_ends_in_time_keeps_its_result() {
        let deadline = Instant::now() + Duration::from_secs(60);
        assert_eq!(bounded(async { 7 }, Some(deadline), None).await, Ok(7));
        // A call still ending within the grace period after the deadline keeps its result.
        let past = Instant::now();
        let late = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            8
        };
        assert_eq!(bounded(late, Some(past), None).await, Ok(8));
    }

    #[test]
    fn the_system_refusing_an_instance_is_the_hosts_failure_not_the_steps() {
        let sandbox = Sandbox::new(crate::SandboxConfig::default()).expect("a sandbox");
        let store = ArtifactStore::open("memory://").expect("a memory store");
        let mut store = sandbox.new_store(
            store,
            Ports::default(),
            &Limits::default(),
            None,
            None,
            &StepSeed::default(),
        );
        let refused = || {
            wasmtime::Error::new(std::io::Error::other("Device or resource busy"))
                .context("cannot add seals to the memfd")
        };
        let config = sandbox.config();
        let before = classify_trap(&mut store, &refused(), Duration::from_secs(1), None, config);
        assert!(
            matches!(&before, StepFailure::Host(m) if m.contains("could not instantiate the step: cannot add seals")),
            "{before}"
        );
        assert!(before.is_retryable());
        // Once the guest runs, what goes wrong is told as its crash.
        store.data_mut().instantiated = true;
        let after = classify_trap(&mut store, &refused(), Duration::from_secs(1), None, config);
        assert!(matches!(after, StepFailure::Trapped(_)), "{after}");
    }

    #[test]
    fn stdio_lines_are_capped_per_stream() {
        let pipe = CappedPipe::new(1 << 20);
        let quiet = CappedPipe::new(1 << 20);
        use tokio::io::AsyncWrite;
        let mut w = pipe.clone();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let _ = std::pin::Pin::new(&mut w).poll_write(&mut cx, &[b'\n'; 5000]);
        let lines = collect_log(
            StepLog::new(1 << 20, 100),
            [(&pipe, LogStream::Stdout), (&quiet, LogStream::Stderr)],
            100,
        );
        assert_eq!(lines.len(), 101);
        assert_eq!(lines[100].message, "stdout truncated");
    }
}
