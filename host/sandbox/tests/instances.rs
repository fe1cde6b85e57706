//! Components that instantiate many core modules: the per-step caps on instances and
//! memories, and one memory budget over all of a step's memories. Each hostile component
//! is a real guest (`test-noop`) with extra core modules and instances appended at its top
//! level: a component instantiates every core instance it defines, so they all exist
//! before `describe()` or `run()` is called — what a step with hundreds of tiny memories,
//! or many instances each under the memory limit, did to the shared pool.

mod common;

use common::plugin;
use std::time::Duration;
use wasm_encoder::{
    Component, InstanceSection, MemorySection, MemoryType, Module, ModuleArg, ModuleSection, RefType, TableSection,
    TableType,
};
use weft_artifacts::ArtifactStore;
use weft_model::Limits;
use weft_sandbox::{Sandbox, SandboxConfig, StepCounts, StepRequest, StepSeed};
use weft_task::StepFailure;

/// How many core modules `component` defines at its top level (the index the next gets).
fn top_level_modules(component: &[u8]) -> u32 {
    let (mut depth, mut modules) = (0i32, 0);
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        match payload.expect("a valid component") {
            wasmparser::Payload::ModuleSection { .. } => {
                modules += u32::from(depth == 0);
                depth += 1;
            }
            wasmparser::Payload::ComponentSection { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            _ => {}
        }
    }
    modules
}

/// What each appended core instance holds.
#[derive(Clone, Copy)]
enum Holds {
    Nothing,
    /// A memory of this many 64 KiB pages.
    Memory(u64),
    /// A table of one function reference.
    Table,
}

/// `component` with `count` more core instances of a module that holds `holds`.
fn with_instances(component: &[u8], count: u32, holds: Holds) -> Vec<u8> {
    let mut module = Module::new();
    if let Holds::Table = holds {
        let mut tables = TableSection::new();
        tables.table(TableType {
            element_type: RefType::FUNCREF,
            table64: false,
            minimum: 1,
            maximum: None,
            shared: false,
        });
        module.section(&tables);
    }
    if let Holds::Memory(minimum) = holds {
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        module.section(&memories);
    }
    let index = top_level_modules(component);
    let mut extra = Component::new();
    extra.section(&ModuleSection(&module));
    let mut instances = InstanceSection::new();
    for _ in 0..count {
        instances.instantiate(index, std::iter::empty::<(&str, ModuleArg)>());
    }
    extra.section(&instances);
    // Sections may come in any order and repeat: drop the new header, append the rest.
    let extra = extra.finish();
    let mut out = component.to_vec();
    out.extend_from_slice(&extra[8..]);
    out
}

fn noop() -> Vec<u8> {
    std::fs::read(plugin("test-noop")).expect("test-noop")
}

async fn load_error(bytes: &[u8]) -> String {
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    match sandbox.load(bytes, "hostile").await {
        Ok(_) => panic!("a component over the caps was loaded"),
        Err(e) => e.to_string(),
    }
}

#[tokio::test]
async fn many_instances_memories_or_tables_are_refused_by_the_per_step_caps() {
    // Hundreds of tiny memories once took the pool's slots from every other step.
    let caps = StepCounts::default();
    for (holds, count, what, limit) in [
        (Holds::Memory(1), 300, "memories", caps.memories),
        (Holds::Nothing, 100, "instances", caps.instances),
        (Holds::Table, 100, "tables", caps.tables),
    ] {
        let err = load_error(&with_instances(&noop(), count, holds)).await;
        assert!(
            err.contains(&format!("too many {what} (limit {limit} per step)")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn the_memory_limit_is_the_sum_of_all_memories() {
    // Three more memories of 30 MiB: each is under a 64 MiB limit, together they are not.
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let hostile = sandbox
        .load(&with_instances(&noop(), 3, Holds::Memory(480)), "hostile")
        .await
        .expect("fits the default 512 MiB");
    let store = ArtifactStore::open("memory://").expect("store");
    let run = |memory: u64| StepRequest {
        store: store.clone(),
        inputs: Vec::new(),
        params: Vec::new(),
        output_types: Vec::new(),
        limits: Limits {
            memory: Some(memory),
            timeout: Some(Duration::from_secs(30)),
            ..Limits::default()
        },
        interrupt: None,
        budget: Default::default(),
        seed: StepSeed::default(),
    };
    match sandbox.run(&hostile, run(64 << 20)).await.result {
        Err(StepFailure::OutOfMemory(m)) => assert!(m.contains("64 MiB"), "{m}"),
        other => panic!("expected out of memory, got {other:?}"),
    }
    assert!(sandbox.run(&hostile, run(128 << 20)).await.result.is_ok());
}
