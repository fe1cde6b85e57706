//! A step never produces a result from input bytes that do not match their address: a
//! damaged small input is refused when opened, a damaged large one when read to its end,
//! and what a step left unread is read by the host before its outputs are accepted.

mod common;

use common::plugin;
use weft_artifacts::{ArtifactMeta, ArtifactStore};
use weft_model::{Limits, ParamValue};
use weft_sandbox::{Provenance, Sandbox, SandboxConfig, StepFailure, StepRequest, StepSeed};

/// `test-hostile` opening its input `data` once and reading none of it (`open-inputs`).
fn open_only(store: &ArtifactStore, input: ArtifactMeta) -> StepRequest {
    StepRequest {
        store: store.clone(),
        inputs: vec![("data".into(), Provenance::origin("inputs.data", input))],
        params: vec![
            ("attack".into(), ParamValue::Str("open-inputs".into())),
            ("count".into(), ParamValue::Int(1)),
        ],
        output_types: Vec::new(),
        limits: Limits::default(),
        interrupt: None,
        seed: StepSeed {
            step: "open".into(),
            attempt: 1,
        },
    }
}

fn blob_file(dir: &std::path::Path, meta: &ArtifactMeta) -> std::path::PathBuf {
    let hex = meta.digest.hex();
    dir.join("tenants/default/blobs/sha256").join(&hex[..2]).join(hex)
}

#[tokio::test]
async fn damaged_inputs_fail_the_step_whether_or_not_it_reads_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("store");
    let sandbox = Sandbox::new(SandboxConfig::default()).expect("sandbox");
    let step = sandbox.load_file(&plugin("test-hostile")).await.expect("loads");

    let small = store.put_bytes(b"small input", "text/plain").await.expect("put");
    let large_bytes: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let large = store
        .put_bytes(&large_bytes, "application/octet-stream")
        .await
        .expect("put");

    // Intact, the step's result stands whatever it read.
    for input in [&small, &large] {
        let outcome = sandbox.run(&step, open_only(&store, input.clone())).await;
        assert!(
            !matches!(outcome.result, Err(StepFailure::DamagedInput(_))),
            "{:?}",
            outcome.result.err()
        );
    }

    // Damaged: refused at open (small) or when the host reads the unread rest (large).
    std::fs::write(blob_file(dir.path(), &small), b"SMALL input").expect("tamper");
    let mut damaged = large_bytes.clone();
    damaged[2_999_999] ^= 1;
    std::fs::write(blob_file(dir.path(), &large), &damaged).expect("tamper");
    for input in [&small, &large] {
        let outcome = sandbox.run(&step, open_only(&store, input.clone())).await;
        match outcome.result {
            Err(StepFailure::DamagedInput(m)) => {
                assert!(m.contains(&input.digest.to_string()), "{m}");
                assert!(!m.contains(dir.path().to_str().expect("utf8")), "no host path: {m}");
            }
            other => panic!("expected a damaged-input failure, got {:?}", other.err()),
        }
    }
}
