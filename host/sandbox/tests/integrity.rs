//! A step never produces a result from input bytes that do not match their address: a
//! damaged small input is refused when opened, a damaged large one when read to its end,
//! and what a step left unread is read by the host — when it drops the reader, or before
//! its outputs are accepted if it never did.

mod common;

use common::plugin;
use weft_artifacts::{ArtifactMeta, ArtifactStore};
use weft_model::{Limits, ParamValue};
use weft_sandbox::{Sandbox, SandboxConfig, StepRequest, StepSeed};
use weft_task::{Provenance, StepFailure};

/// `test-hostile` opening its input `data` and reading at most its first 10 bytes: none
/// (`open-inputs`), then dropping the reader (`peek`) or keeping it open (`peek-hold`).
fn partial_read(store: &ArtifactStore, input: ArtifactMeta, attack: &str) -> StepRequest {
    StepRequest {
        store: store.clone(),
        inputs: vec![("data".into(), Provenance::origin("inputs.data", input))],
        params: vec![
            ("attack".into(), ParamValue::Str(attack.into())),
            (
                "count".into(),
                ParamValue::Int(if attack == "open-inputs" { 1 } else { 10 }),
            ),
        ],
        output_types: Vec::new(),
        limits: Limits::default(),
        interrupt: None,
        budget: Default::default(),
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
async fn damaged_inputs_fail_the_step_however_much_of_them_it_reads() {
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

    let attacks = ["open-inputs", "peek", "peek-hold"];
    // Intact, the step succeeds whatever it read.
    for input in [&small, &large] {
        for attack in attacks {
            let outcome = sandbox.run(&step, partial_read(&store, input.clone(), attack)).await;
            assert!(outcome.result.is_ok(), "{attack}: {:?}", outcome.result.err());
        }
    }

    // Damaged: refused at open (small), or when the host reads the unread rest (large).
    std::fs::write(blob_file(dir.path(), &small), b"SMALL input").expect("tamper");
    let mut damaged = large_bytes.clone();
    damaged[2_999_999] ^= 1;
    std::fs::write(blob_file(dir.path(), &large), &damaged).expect("tamper");
    for input in [&small, &large] {
        for attack in attacks {
            let outcome = sandbox.run(&step, partial_read(&store, input.clone(), attack)).await;
            match outcome.result {
                Err(failure @ StepFailure::DamagedInput(_)) => {
                    assert!(!failure.is_retryable(), "a retry would read the same bytes");
                    let m = failure.to_string();
                    assert!(m.contains(&input.digest.to_string()), "{m}");
                    assert!(!m.contains(dir.path().to_str().expect("utf8")), "no host path: {m}");
                }
                other => panic!("{attack}: expected a damaged-input failure, got {:?}", other.err()),
            }
        }
    }
}
