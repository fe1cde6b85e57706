//! Step start and per-step engine overhead, against a raw wasmtime baseline.
//!
//! (a) step start: `Sandbox::run` of a warm, precompiled no-op component — fresh store with
//!     limits, hermetic WASI, instantiate, call `run`, collect logs;
//! (b) per-step overhead of a 40-step chain of no-op steps through the whole engine —
//!     scheduler, executor, sandbox, file store, run manifest — as wall time / 40;
//! (b') the same chain with `test-copy` steps passing a 1 KiB artifact down the chain;
//! (c) a raw wasmtime loop: new store + instantiate + call `run` of the same component,
//!     with the same engine settings and the minimum of host state.
//! The three are measured in interleaved rounds so they share the machine's noise.
//! Run: `cargo bench -p weft-bench --bench overhead` (the guests come from `weft-test-programs`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;
use wasmtime::component::{Component, Linker, ResourceTable, Val};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use weft_bench::{Workload, chain_yaml, plugin, scratch_engine, summarize, us};
use weft_model::Limits;
use weft_sandbox::{StepRequest, StepSeed};

const CHAIN: usize = 40;
const ROUNDS: usize = 40;
const WARMUP_ROUNDS: usize = 3;

struct RawState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for RawState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The baseline: the same engine settings as the sandbox, WASI linked, Weft imports as traps
/// (the no-op never calls them), nothing else.
struct Raw {
    engine: Engine,
    pre: wasmtime::component::InstancePre<RawState>,
}

impl Raw {
    fn new(path: &PathBuf) -> Raw {
        let mut cfg = wasmtime::Config::new();
        cfg.wasm_component_model(true).epoch_interruption(true);
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(64)
            .total_core_instances(64 * 16)
            .total_memories(64 * 4)
            .total_tables(64 * 8)
            .total_stacks(64)
            .max_memory_size(4 << 30);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&cfg).expect("engine");
        let component = Component::from_file(&engine, path).expect("component");
        let mut linker: Linker<RawState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).expect("wasi");
        linker.define_unknown_imports_as_traps(&component).expect("traps");
        let pre = linker.instantiate_pre(&component).expect("pre");
        Raw { engine, pre }
    }

    async fn call(&self) {
        let mut store = Store::new(
            &self.engine,
            RawState {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            },
        );
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = self.pre.instantiate_async(&mut store).await.expect("instantiate");
        let iface = instance
            .get_export_index(&mut store, None, "weft:step/step@0.1.0")
            .expect("interface");
        let run = instance.get_export_index(&mut store, Some(&iface), "run").expect("run");
        let func = instance.get_func(&mut store, run).expect("func");
        let mut results = [Val::Bool(false)];
        func.call_async(&mut store, &[Val::List(Vec::new())], &mut results)
            .await
            .expect("call");
        assert!(
            matches!(&results[0], Val::Result(Ok(_))),
            "no-op failed: {:?}",
            results[0]
        );
    }
}

#[tokio::main]
async fn main() {
    let noop_path = plugin("test-noop");
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, store) = scratch_engine(dir.path());
    let noop = sandbox.load_file(&noop_path).await.expect("load");
    let raw = Raw::new(&noop_path);
    let copy = sandbox.load_file(&plugin("test-copy")).await.expect("load");
    let seed = store
        .put_bytes(&[7u8; 1024], "application/octet-stream")
        .await
        .expect("seed");
    let noop_chain = Workload::new(
        &chain_yaml("test-noop", CHAIN, false),
        &sandbox,
        &store,
        std::slice::from_ref(&noop),
        BTreeMap::new(),
        None,
    );
    let copy_chain = Workload::new(
        &chain_yaml("test-copy", CHAIN, true),
        &sandbox,
        &store,
        &[copy],
        BTreeMap::from([("seed".to_string(), seed)]),
        None,
    );

    let (mut a, mut b, mut b_copy, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..WARMUP_ROUNDS + ROUNDS {
        let keep = round >= WARMUP_ROUNDS;
        for _ in 0..CHAIN {
            let t = Instant::now();
            raw.call().await;
            if keep {
                c.push(t.elapsed());
            }
            let t = Instant::now();
            let outcome = sandbox
                .run(
                    &noop,
                    StepRequest {
                        store: store.clone(),
                        inputs: Vec::new(),
                        params: Vec::new(),
                        output_types: Vec::new(),
                        limits: Limits::default(),
                        interrupt: None,
                        budget: Default::default(),
                        seed: StepSeed::default(),
                    },
                )
                .await;
            if keep {
                a.push(t.elapsed());
            }
            assert!(outcome.result.is_ok());
        }
        let per_step = noop_chain.run(&format!("noop-{round}"), 2).await / CHAIN as u32;
        let per_copy = copy_chain.run(&format!("copy-{round}"), 2).await / CHAIN as u32;
        if keep {
            b.push(per_step);
            b_copy.push(per_copy);
        }
    }
    let (a, b, b_copy, c) = (
        summarize(&mut a),
        summarize(&mut b),
        summarize(&mut b_copy),
        summarize(&mut c),
    );
    println!("| measurement | samples | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    for (name, s) in [
        ("(a) step start: Sandbox::run of a warm no-op", a),
        ("(b) engine, 40-step no-op chain, per step", b),
        ("(b') engine, 40-step copy chain (1 KiB artifact), per step", b_copy),
        ("(c) raw wasmtime instantiate + call", c),
    ] {
        println!("| {name} | {} | {} | {} | {} |", s.n, us(s.p50), us(s.p90), us(s.p99));
    }
    println!();
    println!("ratio (b)/(c) at p50: {:.2}", b.p50.as_secs_f64() / c.p50.as_secs_f64());
    println!("ratio (a)/(c) at p50: {:.2}", a.p50.as_secs_f64() / c.p50.as_secs_f64());
}
