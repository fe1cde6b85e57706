//! The sandbox: engine configuration and component loading (compile cache, `InstancePre`,
//! `describe()`); one execution is in `execution.rs`.

use crate::bindings::{StepComponent, StepComponentPre};
use crate::cache::CompileCache;
use crate::clock::VirtualClockView;
use crate::compile::{CompileProcess, MAX_COMPONENT_BYTES};
use crate::execution::{Ports, bounded, classify_trap};
use crate::random::StepSeed;
use crate::state::StepState;
use crate::{SandboxError, clock, convert};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use weft_artifacts::{ArtifactStore, Digest};
use weft_model::{Limits, StepInfo};
use weft_task::StepFailure;

/// How often the epoch advances: the granularity of timeouts and of cooperative yields.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// How long `describe()` may take, instantiation included: the default
/// [`SandboxConfig::describe_timeout`].
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Host-wide sandbox settings; per-step `limits:` override the defaults.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Largest component compiled, in bytes; larger ones are refused before compiling.
    pub max_component_bytes: u64,
    /// Compile in a child process with time and memory limits; `None` compiles in this
    /// process, bounded only by `max_component_bytes`.
    pub compile_process: Option<CompileProcess>,
    /// Memory limit of a step that sets none.
    pub default_memory: u64,
    /// Timeout of a step that sets none.
    pub default_timeout: Duration,
    /// Longest a component's `describe()` may take (at load), also while it waits in a
    /// host call.
    pub describe_timeout: Duration,
    /// Cap on a step's `log.emit` text, in bytes.
    pub max_log_bytes: usize,
    /// Cap on each of a step's stdout and stderr, in bytes.
    pub max_stdio_bytes: usize,
    /// Cap on all outputs of one step together, in bytes.
    pub max_output_bytes: u64,
    /// Enable fuel metering (needed for `limits.fuel`; costs some speed for every step).
    pub fuel: bool,
    /// Steps that can be instantiated at once (size of the pooling allocator); more wait
    /// for a slot.
    pub max_instances: u32,
    /// The run's seed: every execution's random sources derive from it, the step id and
    /// the attempt (see [`crate::StepSeed`]).
    pub random_seed: u64,
    /// Cap on the lines of each of a step's log, stdout and stderr.
    pub max_log_lines: usize,
    /// Cap on a failure message, in bytes; longer ones are cut with a note.
    pub max_failure_bytes: usize,
    /// Cap on the artifacts one step holds open (readers, plus outputs created).
    pub max_open_artifacts: usize,
    /// Cap on the resource handles (artifacts, WASI streams and pollables) of one step.
    pub max_handles: usize,
    /// Components kept loaded in memory; past it the least recently used is dropped (a
    /// step executing it keeps its own reference) and loads again from the compile cache.
    pub max_loaded_components: usize,
    /// Caps on what one step instantiates; the pooling allocator is sized from them.
    pub step_counts: StepCounts,
}

/// How many core instances, linear memories and tables one step may create. Language
/// runtimes need several of each (componentize-py links a dozen core modules); the
/// defaults leave room for them and stay far below the pool's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepCounts {
    /// Core instances.
    pub instances: usize,
    /// Linear memories.
    pub memories: usize,
    /// Tables.
    pub tables: usize,
}

impl Default for StepCounts {
    fn default() -> Self {
        Self {
            instances: 32,
            memories: 4,
            tables: 16,
        }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            max_component_bytes: MAX_COMPONENT_BYTES,
            compile_process: None,
            default_memory: 512 << 20,
            default_timeout: Duration::from_secs(600),
            describe_timeout: DESCRIBE_TIMEOUT,
            max_log_bytes: 1 << 20,
            max_stdio_bytes: 256 << 10,
            max_output_bytes: 16 << 30,
            fuel: false,
            max_instances: 64,
            random_seed: 0x5745_4654, // "WEFT"
            max_log_lines: 10_000,
            max_failure_bytes: 16 << 10,
            max_open_artifacts: 256,
            max_handles: 10_000,
            max_loaded_components: 256,
            step_counts: StepCounts::default(),
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
    pub(crate) pre: StepComponentPre<StepState>,
}

/// Component loads in this process, by where the code came from (for a server's
/// `/metrics`): already loaded in memory, from the compile cache, or compiled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadCounts {
    /// Found loaded in a sandbox.
    pub memory: u64,
    /// Deserialized from the compile cache.
    pub cache: u64,
    /// Compiled.
    pub compiled: u64,
}

static LOADS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// Component loads of every sandbox in this process so far.
pub fn load_counts() -> LoadCounts {
    let get = |i: usize| LOADS[i].load(Ordering::Relaxed);
    LoadCounts {
        memory: get(0),
        cache: get(1),
        compiled: get(2),
    }
}

/// Components kept loaded, least recently used dropped first.
#[derive(Default)]
struct Loaded {
    components: HashMap<Digest, (Arc<LoadedComponent>, u64)>,
    uses: u64,
}

/// The process-wide sandbox.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<StepState>,
    cache: CompileCache,
    /// Loaded components, each with when it was last used (a count of uses).
    loaded: Mutex<Loaded>,
    config: SandboxConfig,
    stop_ticker: Arc<AtomicBool>,
    /// One permit per instance the pool holds: executions wait for one instead of failing.
    slots: tokio::sync::Semaphore,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

/// Bytes at the bottom of a memory (or table) slot reset by copying rather than returned
/// to the kernel when a step ends: a small step's stack, data and heap fit. At most this
/// much stays resident per warm slot.
const KEEP_RESIDENT: usize = 4 << 20;

/// Unused slots kept warm (reset, resident) for the next step: 64 MiB resident at most.
const MAX_WARM_SLOTS: u32 = 16;

/// The engine configuration; the compiler child builds the same one (without pooling,
/// which does not change the compiled code) so its output deserializes here.
pub(crate) fn engine_config(config: &SandboxConfig, pooling: bool) -> wasmtime::Config {
    let mut cfg = wasmtime::Config::new();
    cfg.wasm_component_model(true);
    cfg.epoch_interruption(true);
    cfg.consume_fuel(config.fuel);
    if pooling {
        let n = config.max_instances.max(1);
        let c = &config.step_counts;
        let mut pool = PoolingAllocationConfig::default();
        // Without PAGEMAP_SCAN (Linux < 6.7, or no /proc/self/pagemap) the whole region
        // would be reset by copying at every step, dirty or not: slower than `madvise`.
        let keep_resident = if PoolingAllocationConfig::is_pagemap_scan_available() {
            KEEP_RESIDENT
        } else {
            0
        };
        // Room for `n` steps each at its per-step caps (the limiter enforces them), so no
        // step can take slots a neighbour needs.
        pool.total_component_instances(n)
            .total_core_instances(n.saturating_mul(c.instances as u32))
            .total_memories(n.saturating_mul(c.memories as u32))
            .total_tables(n.saturating_mul(c.tables as u32))
            .total_stacks(n)
            .max_memory_size(4 << 30)
            // A slot a short step used is reset by copying its dirty pages back (found
            // with PAGEMAP_SCAN where the kernel has it) instead of `madvise`, which costs
            // a TLB shootdown on every CPU running this process — on a VM an interrupt
            // per CPU per step — and a page fault per page when the slot is used again.
            // Measured in BENCHMARKS.md ("What a slot reset costs").
            .linear_memory_keep_resident(keep_resident)
            // A table slot (20,000 elements) is far smaller: this keeps all of it.
            .table_keep_resident(keep_resident)
            .pagemap_scan(Enabled::Auto)
            // Unused slots keep what a step dirtied (at most `KEEP_RESIDENT` each) for the
            // next one: this bounds that memory to `MAX_WARM_SLOTS * KEEP_RESIDENT`.
            .max_unused_warm_slots(MAX_WARM_SLOTS);
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
        // Sleeps advance virtual time instead of waiting (see clock.rs).
        clock::add_to_linker(&mut linker, |s: &mut StepState| VirtualClockView {
            time: &s.time,
            table: &mut s.table,
        })
        .map_err(|e| SandboxError::Engine(format!("{e:#}")))?;
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
            engine,
            linker,
            cache,
            loaded: Mutex::new(Loaded::default()),
            slots: tokio::sync::Semaphore::new(config.max_instances.max(1) as usize),
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
        self.loaded(&digest).is_some() || self.cache.contains(&digest.hex())
    }

    /// Reads, compiles (or loads from cache), links and describes a component file. Only
    /// a regular file of at most `max_component_bytes` is read.
    pub async fn load_file(&self, path: &std::path::Path) -> Result<Arc<LoadedComponent>, SandboxError> {
        let what = path.display().to_string();
        let read_err = |source| SandboxError::Read {
            path: what.clone(),
            source,
        };
        let meta = tokio::fs::metadata(path).await.map_err(read_err)?;
        if !meta.is_file() {
            return Err(read_err(std::io::Error::other("not a regular file")));
        }
        if meta.len() > self.config.max_component_bytes {
            return Err(SandboxError::TooLarge {
                what,
                size: meta.len(),
                limit: self.config.max_component_bytes,
            });
        }
        let bytes = tokio::fs::read(path).await.map_err(read_err)?;
        self.load(&bytes, &what).await
    }

    /// Compiles (or loads from cache), links and describes component bytes; `what` names
    /// the component in errors. Loading the same bytes again returns the same component.
    pub async fn load(&self, bytes: &[u8], what: &str) -> Result<Arc<LoadedComponent>, SandboxError> {
        let digest = Digest::of(bytes);
        if let Some(c) = self.loaded(&digest) {
            LOADS[0].fetch_add(1, Ordering::Relaxed);
            return Ok(c);
        }
        if bytes.len() as u64 > self.config.max_component_bytes {
            return Err(SandboxError::TooLarge {
                what: what.to_string(),
                size: bytes.len() as u64,
                limit: self.config.max_component_bytes,
            });
        }
        let started = Instant::now();
        let (engine, owned, name) = (self.engine.clone(), bytes.to_vec(), what.to_string());
        // Compilation is CPU-heavy (seconds for Python/JS runtimes): keep it off the async workers.
        let (cache, process, fuel) = (
            self.cache.clone(),
            self.config.compile_process.clone(),
            self.config.fuel,
        );
        let (component, from_cache) = tokio::task::spawn_blocking(move || {
            crate::compile::load_or_compile(&cache, &engine, process.as_ref(), fuel, &digest.hex(), &owned, &name)
        })
        .await
        .map_err(|e| SandboxError::Engine(format!("compilation task failed: {e}")))??;
        let load_time = started.elapsed();
        LOADS[if from_cache { 1 } else { 2 }].fetch_add(1, Ordering::Relaxed);
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
        let mut kept = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.uses += 1;
        let used = kept.uses;
        kept.components.insert(digest, (loaded.clone(), used));
        while kept.components.len() > self.config.max_loaded_components.max(1) {
            let oldest = kept
                .components
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(d, _)| *d);
            if let Some(oldest) = oldest {
                kept.components.remove(&oldest);
            }
        }
        Ok(loaded)
    }

    /// The component with this digest if it is loaded (spares reading its bytes).
    pub fn loaded(&self, digest: &Digest) -> Option<Arc<LoadedComponent>> {
        let mut kept = self.loaded.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.uses += 1;
        let used = kept.uses;
        let (component, last) = kept.components.get_mut(digest)?;
        *last = used;
        Some(component.clone())
    }

    async fn describe(&self, pre: &StepComponentPre<StepState>, what: &str) -> Result<StepInfo, SandboxError> {
        let fail = |reason: String| SandboxError::Describe {
            what: what.to_string(),
            reason,
        };
        // A host failure (the system refusing wasmtime a memory image) is tried once more:
        // the component must not be refused for the host's passing trouble.
        let mut tries = 0;
        loop {
            tries += 1;
            match self.describe_once(pre).await {
                Ok(info) => return Ok(info),
                Err(StepFailure::Host(_)) if tries < 2 => continue,
                Err(failure) => return Err(fail(failure.to_string())),
            }
        }
    }

    /// One `describe()` call in a fresh instance, under the describe time bound.
    async fn describe_once(&self, pre: &StepComponentPre<StepState>) -> Result<StepInfo, StepFailure> {
        let limits = Limits {
            timeout: Some(self.config.describe_timeout),
            ..Limits::default()
        };
        let artifacts = ArtifactStore::open("memory://").map_err(|e| StepFailure::Host(e.to_string()))?;
        let deadline = Instant::now().checked_add(self.config.describe_timeout);
        let Ok(_slot) = self.slots.acquire().await else {
            return Err(StepFailure::Host("the sandbox is shutting down".into()));
        };
        let mut store = self.new_store(
            artifacts,
            Ports::default(),
            &limits,
            deadline,
            None,
            &StepSeed::default(),
        );
        let described = bounded(
            async {
                let instance = pre.instantiate_async(&mut store).await?;
                store.data_mut().instantiated = true;
                instance.weft_step_step().call_describe(&mut store).await
            },
            deadline,
            None,
        )
        .await;
        match described {
            Ok(Ok(info)) => Ok(convert::step_info(info)),
            Ok(Err(e)) => Err(classify_trap(
                &mut store,
                &e,
                self.config.describe_timeout,
                None,
                &self.config,
            )),
            Err(_) => Err(StepFailure::TimedOut(self.config.describe_timeout)),
        }
    }

    /// The wasmtime engine.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Permits to instantiate, one per instance the pool holds.
    pub(crate) fn slots(&self) -> &tokio::sync::Semaphore {
        &self.slots
    }
}
