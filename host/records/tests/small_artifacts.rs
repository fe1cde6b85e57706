//! Small artifacts kept in the records, on SQLite and PostgreSQL alike: written with the
//! commit of the step (or the run, for inputs) that produced them, read back by a fresh
//! store, deduplicated, kept and counted per tenant, and a damaged row refused and then repaired by
//! producing the artifact again.

mod support;

use std::collections::BTreeMap;
use support::Backend;
use weft_artifacts::{ArtifactMeta, ArtifactStore, Digest};
use weft_engine::{AttemptReport, Journal, StepReport, StepStatus};
use weft_records::{Location, NewRun, Records, share_small_artifacts};

const MAX: u64 = 64 * 1024;

/// Records of `tenant` and a store in `dir` sharing a fresh tier (as one process would).
async fn linked(backend: &Backend, dir: &std::path::Path, tenant: &str) -> (Records, ArtifactStore) {
    let store = ArtifactStore::open(dir.to_str().expect("utf8"))
        .expect("store")
        .for_tenant(tenant);
    share_small_artifacts(backend.open(tenant).await, store, MAX)
}

fn step(id: &str, outputs: &[(&str, &ArtifactMeta)]) -> StepReport {
    StepReport {
        id: id.into(),
        uses: "test-work".into(),
        instance: None,
        component: Digest::of(b"component"),
        params: BTreeMap::new(),
        status: StepStatus::Succeeded,
        reuse: None,
        cache_key: None,
        inputs: Vec::new(),
        attempts: vec![AttemptReport {
            number: 1,
            status: StepStatus::Succeeded,
            error: None,
            duration_ms: 1.0,
        }],
        duration_ms: Some(1.0),
        outputs: outputs.iter().map(|(p, m)| ((*p).to_string(), (*m).clone())).collect(),
        metrics: Vec::new(),
        error: None,
        log: Vec::new(),
    }
}

async fn create(records: &Records, run_id: &str, inputs: &BTreeMap<String, ArtifactMeta>, steps: &[&str]) {
    let planned: Vec<StepReport> = steps
        .iter()
        .map(|s| StepReport {
            status: StepStatus::Pending,
            attempts: Vec::new(),
            outputs: BTreeMap::new(),
            ..step(s, &[])
        })
        .collect();
    records
        .create_run(&NewRun {
            id: run_id,
            workflow: "test",
            file: "wf.yaml",
            plan: "{}",
            source: "",
            overrides: &[],
            params: &BTreeMap::new(),
            inputs,
            steps: &planned,
        })
        .await
        .expect("create");
}

async fn read(store: &ArtifactStore, digest: &Digest) -> Result<Vec<u8>, weft_artifacts::ArtifactError> {
    let mut r = store.reader(digest).await?;
    let bytes = r.read(1 << 20).await?;
    r.verify_rest().await?;
    Ok(bytes.to_vec())
}

fn files_under(dir: &std::path::Path) -> usize {
    walk(&dir.join("tenants"))
        .iter()
        .filter(|p| p.contains("/blobs/"))
        .count()
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                walk(&e.path())
            } else {
                vec![e.path().display().to_string()]
            }
        })
        .collect()
}

async fn small_outputs_are_committed_with_their_step_and_read_back(backend: &Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (records, store) = linked(backend, dir.path(), "default").await;
    let seed = store.put_bytes(b"seed", "text/plain").await.expect("seed");
    let inputs = BTreeMap::from([("seed".to_string(), seed.clone())]);
    create(&records, "r1", &inputs, &["a", "b"]).await;
    let a = store.put_bytes(b"output of a", "text/plain").await.expect("a");
    // Same bytes from two steps of one batch: one row (an upsert may touch a row once).
    let b = store.put_bytes(b"output of a", "text/plain").await.expect("b");
    let big = store.put_bytes(&vec![1u8; 70_000], "x/y").await.expect("big");
    assert_eq!(
        store.inline_tier().expect("tier").pending_count(),
        1,
        "the seed went with the run; a and b are one"
    );
    records
        .commit(
            "r1",
            &[step("a", &[("data", &a), ("big", &big)]), step("b", &[("data", &b)])],
        )
        .await
        .expect("commit");
    assert_eq!(store.inline_tier().expect("tier").pending_count(), 0);
    assert_eq!(files_under(dir.path()), 1, "only the large output is a file");

    // Another process: nothing in memory.
    let (_, fresh) = linked(backend, dir.path(), "default").await;
    assert_eq!(read(&fresh, &seed.digest).await.expect("seed"), b"seed");
    assert_eq!(read(&fresh, &a.digest).await.expect("a"), b"output of a");
    assert_eq!(read(&fresh, &big.digest).await.expect("big").len(), 70_000);

    // Produced again in another run: deduplicated, still one copy that reads back.
    create(&records, "r2", &BTreeMap::new(), &["a"]).await;
    let again = store.put_bytes(b"output of a", "text/plain").await.expect("again");
    records
        .commit("r2", &[step("a", &[("data", &again)])])
        .await
        .expect("commit");
    assert_eq!(read(&fresh, &again.digest).await.expect("a"), b"output of a");
}

async fn small_artifacts_belong_to_one_tenant(backend: &Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mine, my_store) = linked(backend, dir.path(), "mine").await;
    create(&mine, "r1", &BTreeMap::new(), &["a"]).await;
    let a = my_store.put_bytes(b"mine only", "text/plain").await.expect("a");
    mine.commit("r1", &[step("a", &[("data", &a)])]).await.expect("commit");
    let (_, their_store) = linked(backend, dir.path(), "theirs").await;
    assert!(matches!(
        their_store.reader(&a.digest).await,
        Err(weft_artifacts::ArtifactError::NotFound(_))
    ));
    let (_, mine_again) = linked(backend, dir.path(), "mine").await;
    assert_eq!(read(&mine_again, &a.digest).await.expect("a"), b"mine only");
    // What each tenant stores counts its own bytes (the `stored-bytes` quota's count).
    let (theirs, _) = linked(backend, dir.path(), "theirs").await;
    assert_eq!(mine.inline_bytes().await.expect("count"), 9);
    assert_eq!(theirs.inline_bytes().await.expect("count"), 0);
    assert_eq!(
        my_store.stored_bytes().await.expect("count"),
        0,
        "small ones are the records'"
    );
    let big = my_store.put_bytes(&vec![1u8; 70_000], "x/y").await.expect("big");
    assert_eq!(my_store.stored_bytes().await.expect("count"), big.size);
}

/// Overwrites the stored bytes of `digest` behind the records' back.
async fn damage(backend: &Backend, digest: &Digest) {
    use sqlx::Connection;
    let sql = "UPDATE inline_blobs SET bytes = $1 WHERE digest = $2";
    match backend.location() {
        Location::Sqlite(path) => {
            let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                .await
                .expect("connect");
            let done = sqlx::query(sql)
                .bind(b"damaged!".to_vec())
                .bind(digest.to_string())
                .execute(&mut conn)
                .await
                .expect("damage");
            assert_eq!(done.rows_affected(), 1);
        }
        Location::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
            let done = sqlx::query(sql)
                .bind(b"damaged!".to_vec())
                .bind(digest.to_string())
                .execute(&mut conn)
                .await
                .expect("damage");
            assert_eq!(done.rows_affected(), 1);
        }
    }
}

async fn a_damaged_row_is_refused_and_producing_the_artifact_again_repairs_it(backend: &Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (records, store) = linked(backend, dir.path(), "default").await;
    create(&records, "r1", &BTreeMap::new(), &["a"]).await;
    let a = store.put_bytes(b"precious", "text/plain").await.expect("a");
    records
        .commit("r1", &[step("a", &[("data", &a)])])
        .await
        .expect("commit");
    damage(backend, &a.digest).await;

    let (records2, fresh) = linked(backend, dir.path(), "default").await;
    let err = read(&fresh, &a.digest).await.expect_err("refused");
    assert!(err.is_corruption(), "{err}");
    assert!(fresh.verify(&a.digest).await.is_err());

    // The step runs again (a cache hit would have failed its check): its commit replaces
    // the damaged row.
    create(&records2, "r2", &BTreeMap::new(), &["a"]).await;
    let again = fresh.put_bytes(b"precious", "text/plain").await.expect("again");
    records2
        .commit("r2", &[step("a", &[("data", &again)])])
        .await
        .expect("commit");
    let (_, third) = linked(backend, dir.path(), "default").await;
    assert_eq!(read(&third, &a.digest).await.expect("repaired"), b"precious");
}

conformance!(
    small_outputs_are_committed_with_their_step_and_read_back,
    small_artifacts_belong_to_one_tenant,
    a_damaged_row_is_refused_and_producing_the_artifact_again_repairs_it,
);
