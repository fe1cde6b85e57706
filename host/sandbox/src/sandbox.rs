//! The sandbox: engine configuration, component loading (compile cache, `InstancePre`,
//! `describe()`), and one step execution in a fresh, limited store.

use crate::bindings::{StepComponent, StepComponentPre, wit_types};
use crate::cache::CompileCache;
use crate::host_artifacts::StepIo;
use crate::limiter::StepLimiter;
use crate::outcome::{LogLine, LogStream, StagedOutput, StepFailure, StepOutcome};
use crate::output_pipe::CappedPipe;
use crate::provenance::Provenance;
use crate::state::{StepLog, StepState};
use crate::{SandboxError, clock, convert};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, UpdateDeadline};
use weft_artifacts::{ArtifactStore, Digest};
use weft_model::{Limits, ParamValue, StepInfo};

/// How often the epoch advances: the granularity of timeouts and of cooperative yields.
const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Host-wide sandbox settings; per-step `limits:` override the defaults.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Memory limit of a step that sets none.
    pub default_memory: u64,
    /// Timeout of a step that sets none.
    pub default_timeout: Duration,
    /// Cap on a step's `log.emit` text, in bytes.
    pub max_log_bytes: usize,
    /// Cap on each of a step's stdout and stderr, in bytes.
    pub max_stdio_bytes: usize,
    /// Cap on all outputs of one step together, in bytes.
    pub max_output_bytes: u64,
    /// Enable fuel metering (needed for `limits.fuel`; costs some speed for every step).
    pub fuel: bool,
    /// Steps that can be instantiated at once (size of the pooling allocator).
    pub max_instances: u32,
    /// Seed of every step's random sources.
    pub random_seed: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            default_memory: 512 << 20,
            default_timeout: Duration::from_secs(600),
            max_log_bytes: 1 << 20,
            max_stdio_bytes: 256 << 10,
            max_output_bytes: 16 << 30,
            fuel: false,
            max_instances: 64,
            random_seed: 0x5745_4654, // "WEFT"
        }
    }
}

/// A component compiled, linked and described, ready to instantiate many times.
pub struct LoadedComponent {
    /// Digest of the component's bytes.
    pub digest: Digest,
    /// What it declares.
    pub info: StepInfo,
    /// Whether the compiled code came from the on-disk cache.
    pub from_cache: bool,
    /// Time spent compiling or deserializing.
    pub load_time: Duration,
    pre: StepComponentPre<StepState>,
}

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
    /// Set it to stop the step at the next epoch tick (within ~5 ms); it fails as
    /// [`StepFailure::Cancelled`].
    pub interrupt: Option<Arc<AtomicBool>>,
}

/// What a store's artifact access is built from.
#[derive(Default)]
struct Ports {
    inputs: Vec<(String, Arc<Provenance>)>,
    many: Vec<String>,
    outputs: Vec<(String, String)>,
}

/// The process-wide sandbox.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<StepState>,
    cache: CompileCache,
    loaded: Mutex<HashMap<Digest, Arc<LoadedComponent>>>,
    config: SandboxConfig,
    random_bytes: Vec<u8>,
    stop_ticker: Arc<AtomicBool>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

fn engine_config(config: &SandboxConfig, pooling: bool) -> wasmtime::Config {
    let mut cfg = wasmtime::Config::new();
    cfg.wasm_component_model(true);
    cfg.epoch_interruption(true);
    cfg.consume_fuel(config.fuel);
    if pooling {
        let n = config.max_instances.max(1);
        let mut pool = PoolingAllocationConfig::default();
        // Language runtimes (Python, JS) instantiate several core modules, memories and
        // tables per component; size the pool for that.
        pool.total_component_instances(n)
            .total_core_instances(n * 16)
            .total_memories(n * 4)
            .total_tables(n * 8)
            .total_stacks(n)
            .max_memory_size(4 << 30);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    cfg
}

impl Sandbox {
    /// Builds the engine, linker and compile cache, and starts the epoch ticker.
    pub fn new(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let engine = match Engine::new(&engine_config(&config, true)) {
            Ok(e) => e,
            Err(e) => {
                // The pooling allocator reserves address space up front; where that is
                // refused (tight ulimit -v), fall back to on-demand allocation.
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation");
                Engine::new(&engine_config(&config, false)).map_err(|e| SandboxError::Engine(format!("{e:#}")))?
            }
        };
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        StepComponent::add_to_linker::<_, HasSelf<StepState>>(&mut linker, |s| s)
            .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
        let cache = CompileCache::new(config.cache_dir.clone(), &engine)?;

        let stop_ticker = Arc::new(AtomicBool::new(false));
        let ticker_engine = engine.weak();
        let stop = stop_ticker.clone();
        std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match ticker_engine.upgrade() {
                        Some(e) => e.increment_epoch(),
                        None => break,
                    }
                }
            })
            .map_err(|e| SandboxError::Engine(format!("cannot start the epoch thread: {e}")))?;

        Ok(Sandbox {
            random_bytes: clock::seeded_bytes(config.random_seed, 4096),
            engine,
            linker,
            cache,
            loaded: Mutex::new(HashMap::new()),
            config,
            stop_ticker,
        })
    }

    /// The settings this sandbox was built with.
    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Whether loading these component bytes would skip compilation (loaded already, or
    /// compiled code in the cache): lets a caller announce a compile that takes seconds.
    pub fn is_compiled(&self, bytes: &[u8]) -> bool {
        let digest = Digest::of(bytes);
        self.loaded_component(&digest).is_some() || self.cache.contains(&digest.hex())
    }

    /// Reads, compiles (or loads from cache), links and describes a component file.
    pub async fn load_file(&self, path: &std::path::Path) -> Result<Arc<LoadedComponent>, SandboxError> {
        let bytes = tokio::fs::read(path).await.map_err(|source| SandboxError::Read {
            path: path.display().to_string(),
            source,
        })?;
        self.load(&bytes, &path.display().to_string()).await
    }

    /// Compiles (or loads from cache), links and describes component bytes; `what` names
    /// the component in errors. Loading the same bytes again returns the same component.
    pub async fn load(&self, bytes: &[u8], what: &str) -> Result<Arc<LoadedComponent>, SandboxError> {
        let digest = Digest::of(bytes);
        if let Some(c) = self.loaded_component(&digest) {
            return Ok(c);
        }
        let started = Instant::now();
        let (engine, owned, name) = (self.engine.clone(), bytes.to_vec(), what.to_string());
        // Compilation is CPU-heavy (seconds for Python/JS runtimes): keep it off the async workers.
        let cache = self.cache.clone();
        let (component, from_cache) =
            tokio::task::spawn_blocking(move || cache.load_or_compile(&engine, &digest.hex(), &owned, &name))
                .await
                .map_err(|e| SandboxError::Engine(format!("compilation task failed: {e}")))??;
        let load_time = started.elapsed();
        let not_a_step = |e: wasmtime::Error| SandboxError::NotAStep {
            what: what.to_string(),
            reason: format!("{e:#}"),
        };
        let pre = self.linker.instantiate_pre(&component).map_err(not_a_step)?;
        let pre = StepComponentPre::new(pre).map_err(not_a_step)?;
        let info = self.describe(&pre, what).await?;
        let loaded = Arc::new(LoadedComponent {
            digest,
            info,
            from_cache,
            load_time,
            pre,
        });
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(digest, loaded.clone());
        Ok(loaded)
    }

    fn loaded_component(&self, digest: &Digest) -> Option<Arc<LoadedComponent>> {
        self.loaded
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(digest)
            .cloned()
    }

    async fn describe(&self, pre: &StepComponentPre<StepState>, what: &str) -> Result<StepInfo, SandboxError> {
        let fail = |reason: String| SandboxError::Describe {
            what: what.to_string(),
            reason,
        };
        let mut store = self.new_store(
            ArtifactStore::open("memory://").map_err(|e| fail(e.to_string()))?,
            Ports::default(),
            &Limits {
                timeout: Some(Duration::from_secs(10)),
                ..Limits::default()
            },
            None,
        );
        let instance = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        let info: wit_types::StepInfo = instance
            .weft_step_step()
            .call_describe(&mut store)
            .await
            .map_err(|e| fail(format!("{e:#}")))?;
        Ok(convert::step_info(info))
    }

    fn new_store(
        &self,
        artifacts: ArtifactStore,
        ports: Ports,
        limits: &Limits,
        interrupt: Option<Arc<AtomicBool>>,
    ) -> Store<StepState> {
        let stdout = CappedPipe::new(self.config.max_stdio_bytes);
        let stderr = CappedPipe::new(self.config.max_stdio_bytes);
        // Hermetic WASI: no preopens, args or environment (the builder's defaults), no
        // network, virtual clocks, seeded randomness.
        let wasi = wasmtime_wasi::WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(clock::VirtualWallClock::default())
            .monotonic_clock(clock::VirtualMonotonicClock::default())
            .secure_random(wasmtime_wasi::Deterministic::new(self.random_bytes.clone()))
            .insecure_random(wasmtime_wasi::Deterministic::new(self.random_bytes.clone()))
            .insecure_random_seed(u128::from(self.config.random_seed))
            .build();
        let timeout = limits.timeout.unwrap_or(self.config.default_timeout);
        let state = StepState {
            wasi,
            table: ResourceTable::new(),
            limiter: StepLimiter {
                memory_limit: limits.memory.unwrap_or(self.config.default_memory),
                table_elements: 1 << 20,
                memory_exceeded: false,
            },
            io: StepIo {
                store: artifacts,
                inputs: ports.inputs,
                many_ports: ports.many,
                outputs: ports.outputs,
                writers: Vec::new(),
                max_output_bytes: self.config.max_output_bytes,
                written: 0,
            },
            log: StepLog::new(self.config.max_log_bytes),
            metrics: Vec::new(),
            stdout,
            stderr,
            deadline: Some(Instant::now() + timeout),
            timed_out: false,
            interrupt,
            interrupted: false,
        };
        let mut store = Store::new(&self.engine, state);
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
        if self.config.fuel {
            // Without a budget, a step may burn all the fuel there is.
            let _ = store.set_fuel(limits.fuel.unwrap_or(u64::MAX));
        }
        store
    }

    /// Runs one step in a fresh store. Never panics and never fails the host: every
    /// problem of the step is reported in the outcome.
    pub async fn run(&self, component: &LoadedComponent, request: StepRequest) -> StepOutcome {
        let started = Instant::now();
        if request.limits.fuel.is_some() && !self.config.fuel {
            return StepOutcome {
                result: Err(StepFailure::Host(
                    "the step sets `limits.fuel` but this sandbox runs without fuel metering (SandboxConfig::fuel)"
                        .into(),
                )),
                log: Vec::new(),
                metrics: Vec::new(),
                duration: started.elapsed(),
            };
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
        };
        let mut store = self.new_store(request.store, ports, &request.limits, request.interrupt);
        let params: Vec<wit_types::Param> = request
            .params
            .iter()
            .map(|(n, v)| convert::to_wit_param(n, v))
            .collect();
        let call = async {
            let instance = component.pre.instantiate_async(&mut store).await?;
            instance.weft_step_step().call_run(&mut store, &params).await
        }
        .await;
        let timeout = request.limits.timeout.unwrap_or(self.config.default_timeout);
        let result = match call {
            Ok(Ok(())) => finish_outputs(&mut store).await,
            Ok(Err(wit_types::StepError::BadInput(m))) => Err(StepFailure::BadInput(m)),
            Ok(Err(wit_types::StepError::Failed(m))) => Err(StepFailure::Failed(m)),
            Err(e) => Err(self.classify_trap(&store, &e, timeout, request.limits.fuel)),
        };
        let duration = started.elapsed();
        let state = store.into_data();
        StepOutcome {
            result,
            log: collect_log(&state),
            metrics: state.metrics,
            duration,
        }
    }

    fn classify_trap(
        &self,
        store: &Store<StepState>,
        e: &wasmtime::Error,
        timeout: Duration,
        fuel: Option<u64>,
    ) -> StepFailure {
        let state = store.data();
        if state.interrupted {
            return StepFailure::Cancelled;
        }
        if state.timed_out {
            return StepFailure::TimedOut(timeout);
        }
        if state.limiter.memory_exceeded {
            return StepFailure::OutOfMemory(format!(
                "the step exceeded its memory limit of {} MiB",
                state.limiter.memory_limit >> 20
            ));
        }
        if let Some(wasmtime::Trap::OutOfFuel) = e.downcast_ref::<wasmtime::Trap>() {
            return StepFailure::OutOfFuel(fuel.unwrap_or(u64::MAX));
        }
        // Keep the guest's own words (a panic message) next to the trap, which alone
        // would only say `unreachable`.
        let stderr = String::from_utf8_lossy(&state.stderr.peek()).into_owned();
        let lines: Vec<&str> = stderr.trim_end().lines().collect();
        let tail = lines[lines.len().saturating_sub(5)..].join("\n");
        let trap = e
            .downcast_ref::<wasmtime::Trap>()
            .map_or_else(|| first_line(e), ToString::to_string);
        StepFailure::Trapped(if tail.is_empty() {
            trap
        } else {
            format!("{trap}; guest stderr: {tail}")
        })
    }
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
        let staged = writer
            .finish()
            .await
            .map_err(|e| StepFailure::Host(format!("cannot stage output `{port}`: {e}")))?;
        out.push(StagedOutput {
            port: port.clone(),
            media_type: media_type.clone(),
            staged,
        });
    }
    Ok(out)
}

fn collect_log(state: &StepState) -> Vec<LogLine> {
    let mut lines = state.log.lines.clone();
    if state.log.truncated {
        lines.push(LogLine {
            stream: LogStream::Host,
            message: format!(
                "log truncated at {} bytes",
                state.log.lines.iter().map(|l| l.message.len()).sum::<usize>()
            ),
        });
    }
    for (pipe, stream) in [(&state.stdout, LogStream::Stdout), (&state.stderr, LogStream::Stderr)] {
        let (bytes, truncated) = pipe.take();
        for line in String::from_utf8_lossy(&bytes).lines() {
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
