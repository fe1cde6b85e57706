//! Workloads for the engine benchmarks: generated workflows, run as the CLI runs them.

use std::time::Duration;

/// A sandbox compiling into `dir/cache` and a file store at `dir/store`: the setting of
/// the engine benchmarks.
pub fn scratch_engine(dir: &std::path::Path) -> (std::sync::Arc<weft_sandbox::Sandbox>, weft_artifacts::ArtifactStore) {
    let sandbox = weft_sandbox::Sandbox::new(weft_sandbox::SandboxConfig {
        cache_dir: Some(dir.join("cache")),
        ..weft_sandbox::SandboxConfig::default()
    })
    .expect("sandbox");
    let store = weft_artifacts::ArtifactStore::open(dir.join("store").to_str().expect("utf8")).expect("store");
    (std::sync::Arc::new(sandbox), store)
}

/// A chain of `n` steps using `uses`: each reads the previous one's `data` output (with
/// `with_data`, starting from the workflow input `seed`), or else just runs after it.
pub fn chain_yaml(uses: &str, n: usize, with_data: bool) -> String {
    let mut y = format!(
        "name: chain\n{}steps:\n",
        if with_data {
            "inputs:\n  seed: {path: seed.bin}\n"
        } else {
            ""
        }
    );
    for i in 0..n {
        y.push_str(&format!("  s{i}:\n    uses: {uses}\n"));
        match (i, with_data) {
            (0, true) => y.push_str("    inputs: {data: inputs.seed}\n"),
            (_, true) => y.push_str(&format!("    inputs: {{data: s{}.data}}\n", i - 1)),
            (0, false) => {}
            (_, false) => y.push_str(&format!("    after: [s{}]\n", i - 1)),
        }
    }
    y
}

/// One `test-noop` step fanned out `n` times by a `matrix` over its `index` parameter.
pub fn fanout_yaml(n: usize) -> String {
    let values: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    format!(
        "name: fanout\nsteps:\n  fan:\n    uses: test-noop\n    matrix: {{index: [{}]}}\n",
        values.join(", ")
    )
}

/// A workflow ready to run again and again through the whole engine, as the CLI runs it:
/// validated plan, loaded components, stored inputs, executor and journal.
pub struct Workload {
    plan: weft_model::Plan,
    digests: Vec<weft_artifacts::Digest>,
    inputs: std::collections::BTreeMap<String, weft_artifacts::ArtifactMeta>,
    services: weft_engine::RunServices,
    records: Option<weft_records::Records>,
}

impl Workload {
    /// Validates `yaml` against `components` (named by their step names) and prepares it.
    /// With `records`, every run is recorded and every step committed there.
    pub fn new(
        yaml: &str,
        sandbox: &std::sync::Arc<weft_sandbox::Sandbox>,
        store: &weft_artifacts::ArtifactStore,
        components: &[std::sync::Arc<weft_sandbox::LoadedComponent>],
        inputs: std::collections::BTreeMap<String, weft_artifacts::ArtifactMeta>,
        records: Option<weft_records::Records>,
    ) -> Workload {
        let mut catalog = weft_model::Catalog::new();
        for c in components {
            catalog.insert(c.info.name.clone(), Ok(c.info.clone()));
        }
        let plan = weft_model::parse_and_validate(yaml, &catalog, &[]).expect("valid workload");
        let digests = plan
            .steps
            .iter()
            .map(|s| {
                components
                    .iter()
                    .find(|c| c.info.name == s.uses)
                    .expect("component")
                    .digest
            })
            .collect();
        let journal: std::sync::Arc<dyn weft_engine::Journal> = match &records {
            Some(r) => std::sync::Arc::new(r.clone()),
            None => std::sync::Arc::new(weft_engine::NoJournal),
        };
        let executor = weft_sandbox::LocalExecutor::new(sandbox.clone(), store.clone(), components.iter().cloned());
        Workload {
            plan,
            digests,
            inputs,
            services: weft_engine::RunServices {
                executor: std::sync::Arc::new(executor),
                store: store.clone(),
                journal,
            },
            records,
        }
    }

    /// Number of planned steps.
    pub fn steps(&self) -> usize {
        self.plan.steps.len()
    }

    /// One run with the cache off (every step executes), recorded from start (its plan
    /// locked, as `weft run` records it) to finish when there are records; returns its
    /// wall time.
    pub async fn run(&self, run_id: &str, concurrency: usize) -> Duration {
        let options = weft_engine::RunOptions {
            concurrency,
            use_cache: false,
            ..weft_engine::RunOptions::new(run_id)
        };
        let started = std::time::Instant::now();
        if let Some(r) = &self.records {
            let params = std::collections::BTreeMap::new();
            let locked = weft_runner::LockedPlan::lock(&self.plan, &self.digests, &self.inputs).expect("lock");
            r.create_run(&weft_records::NewRun {
                id: run_id,
                workflow: &self.plan.name,
                file: "bench.yaml",
                plan: &locked.to_json(),
                source: "",
                overrides: &[],
                params: &params,
                inputs: &self.inputs,
                steps: &weft_engine::planned_steps(&self.plan, &self.digests),
            })
            .await
            .expect("record run");
        }
        let report = weft_engine::run_plan(
            &self.plan,
            &self.digests,
            self.inputs.clone(),
            &self.services,
            &options,
            None,
        )
        .await
        .expect("run");
        let elapsed = started.elapsed();
        assert_eq!(report.status, weft_engine::RunStatus::Succeeded);
        elapsed
    }
}
