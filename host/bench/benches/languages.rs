//! Per-language figures for Weft's step components: size, cold compile, load from the
//! compile cache, and a warm run (instantiate + run on a 3-row table).
//! Run: `cargo xtask build-plugins && cargo bench -p weft-bench --bench languages`.

use std::time::{Duration, Instant};
use weft_artifacts::ArtifactStore;
use weft_bench::{plugin, summarize, us};
use weft_model::{Limits, ParamValue};
use weft_sandbox::{Sandbox, SandboxConfig, StepRequest, StepSeed};
use weft_task::Provenance;

const RUNS: usize = 50;

const TABLE: &str = r#"{"columns":[{"name":"x","type":"float","values":[1.0,2.0,4.0]},{"name":"s","type":"string","values":["a","b","a"]}]}"#;

/// One measured step: its language, name, input ports and non-default parameters.
struct Case {
    language: &'static str,
    name: &'static str,
    ports: Vec<&'static str>,
    extra: Vec<(&'static str, ParamValue)>,
}

impl Case {
    fn new(
        language: &'static str,
        name: &'static str,
        ports: &[&'static str],
        extra: &[(&'static str, ParamValue)],
    ) -> Self {
        Case {
            language,
            name,
            ports: ports.to_vec(),
            extra: extra.to_vec(),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main]
async fn main() {
    let cache = tempfile::tempdir().expect("tempdir");
    let config = SandboxConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..SandboxConfig::default()
    };
    let store = ArtifactStore::open("memory://").expect("store");
    let table = store
        .put_bytes(TABLE.as_bytes(), "application/vnd.weft.table+json")
        .await
        .expect("table");
    let steps = [
        Case::new("Rust", "summary-stats", &["table"], &[]),
        Case::new("Python", "validate-table", &["table"], &[]),
        Case::new("JavaScript", "standardize", &["train", "test"], &[]),
        Case::new(
            "C",
            "drift-psi",
            &["reference", "current"],
            &[("bins", ParamValue::Int(2))],
        ),
    ];
    println!("| language | step | component size | cold compile | load from cache | warm run p50 | p90 |");
    println!("|---|---|---|---|---|---|---|");
    for Case {
        language,
        name,
        ports,
        extra,
    } in steps
    {
        let path = plugin(name);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        // A fresh sandbox per measurement: the first compiles, the second reads the cache.
        let cold = Sandbox::new(config.clone())
            .expect("sandbox")
            .load_file(&path)
            .await
            .expect("load");
        assert!(!cold.from_cache);
        let sandbox = Sandbox::new(config.clone()).expect("sandbox");
        let warm = sandbox.load_file(&path).await.expect("load");
        assert!(warm.from_cache);
        let params: Vec<(String, ParamValue)> = warm
            .info
            .params
            .iter()
            .map(|p| {
                let given = extra.iter().find(|(n, _)| *n == p.name).map(|(_, v)| v.clone());
                (p.name.clone(), given.or_else(|| p.default.clone()).expect("a default"))
            })
            .collect();
        let mut samples = Vec::with_capacity(RUNS);
        for _ in 0..RUNS + 5 {
            let request = StepRequest {
                store: store.clone(),
                inputs: ports
                    .iter()
                    .map(|p| (p.to_string(), Provenance::origin(format!("inputs.{p}"), table.clone())))
                    .collect(),
                params: params.clone(),
                output_types: Vec::new(),
                limits: Limits::default(),
                interrupt: None,
                budget: Default::default(),
                seed: StepSeed::default(),
            };
            let t = Instant::now();
            let outcome = sandbox.run(&warm, request).await;
            samples.push(t.elapsed());
            assert!(outcome.result.is_ok(), "{name}: {:?}", outcome.result);
        }
        let s = summarize(&mut samples[5..]);
        println!(
            "| {language} | {name} | {:.1} MB | {} | {} | {} | {} |",
            size as f64 / 1e6,
            ms(cold.load_time),
            ms(warm.load_time),
            us(s.p50),
            us(s.p90)
        );
    }
}
