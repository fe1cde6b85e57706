//! Shared by the engine's tests: load real components, validate a workflow, run it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use weft_artifacts::{ArtifactStore, Digest};
use weft_engine::{Journal, RunError, RunEvent, RunOptions, RunReport, RunServices, run_plan};
use weft_model::{Catalog, Plan};
use weft_sandbox::{LocalExecutor, Sandbox, SandboxConfig};

/// The component named `name`: a test guest (`test-*`, built by `weft-test-programs`) or
/// one of Weft's steps in dist/plugins.
pub fn plugin(name: &str) -> PathBuf {
    weft_test_programs::component(name)
}

/// A validated workflow with its components loaded, over an in-memory store.
pub struct Setup {
    pub plan: Plan,
    pub digests: Vec<Digest>,
    pub executor: Arc<LocalExecutor>,
    pub store: ArtifactStore,
    pub inputs: BTreeMap<String, weft_artifacts::ArtifactMeta>,
}

/// Loads the components the YAML names and validates it; `seed` becomes the workflow
/// input `seed`.
pub async fn setup(yaml: &str, seed: Option<&[u8]>) -> Setup {
    let sandbox = Arc::new(Sandbox::new(SandboxConfig::default()).expect("sandbox"));
    let store = ArtifactStore::open("memory://").expect("store");
    let (workflow, problems) = weft_model::parse(yaml).expect("yaml");
    assert!(problems.is_empty(), "{problems:?}");
    let mut catalog = Catalog::new();
    let mut loaded = BTreeMap::new();
    for step in &workflow.steps {
        let c = sandbox.load_file(&plugin(&step.uses.value)).await.expect("load");
        catalog.insert(step.uses.value.clone(), Ok(c.info.clone()));
        loaded.insert(step.uses.value.clone(), c);
    }
    let plan = weft_model::validate(&workflow, &catalog, &[]).expect("valid");
    let digests: Vec<_> = plan.steps.iter().map(|s| loaded[&s.uses].digest).collect();
    let mut inputs = BTreeMap::new();
    if let Some(bytes) = seed {
        inputs.insert(
            "seed".to_string(),
            store.put_bytes(bytes, "application/octet-stream").await.expect("seed"),
        );
    }
    let executor = Arc::new(LocalExecutor::new(sandbox, store.clone(), loaded.into_values()));
    Setup {
        plan,
        digests,
        executor,
        store,
        inputs,
    }
}

impl Setup {
    /// Runs the plan with `journal`; returns the outcome and every event.
    pub async fn run(
        &self,
        journal: Arc<dyn Journal>,
        options: &RunOptions,
    ) -> (Result<RunReport, RunError>, Vec<RunEvent>) {
        let services = RunServices {
            executor: self.executor.clone(),
            store: self.store.clone(),
            journal,
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let outcome = run_plan(
            &self.plan,
            &self.digests,
            self.inputs.clone(),
            &services,
            options,
            Some(tx),
        )
        .await;
        let mut events = Vec::new();
        while let Ok(e) = rx.try_recv() {
            events.push(e);
        }
        (outcome, events)
    }
}
