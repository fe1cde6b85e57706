//! The small-artifact tier over a stand-in for the run records: pending artifacts readable
//! before their commit, everything checked against its address, tenants kept apart, and a
//! damaged copy in the records refused.

use bytes::Bytes;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use weft_artifacts::{ArtifactError, ArtifactStore, Digest, InlineBlobs, InlineTier};

/// Stand-in for the records: a map from (tenant, digest) to bytes, filled by `commit`.
#[derive(Default)]
struct Rows(Mutex<HashMap<(String, Digest), Bytes>>);

impl InlineBlobs for Rows {
    fn get<'a>(&'a self, tenant: &'a str, digest: &'a Digest) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        let found = self
            .0
            .lock()
            .expect("lock")
            .get(&(tenant.to_string(), *digest))
            .cloned();
        Box::pin(async move { Ok(found) })
    }
}

impl Rows {
    /// What the records' commit does: take the pending bytes, then tell the tier.
    fn commit(&self, tier: &InlineTier, tenant: &str, digest: &Digest) {
        let bytes = tier.pending(tenant, digest).expect("pending");
        self.0
            .lock()
            .expect("lock")
            .insert((tenant.to_string(), *digest), bytes);
        tier.committed(tenant, [digest]);
    }
}

fn linked(max: u64) -> (tempfile::TempDir, ArtifactStore, InlineTier, Arc<Rows>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rows = Arc::new(Rows::default());
    let tier = InlineTier::new(max);
    let store = ArtifactStore::open(dir.path().to_str().expect("utf8"))
        .expect("open")
        .with_inline(tier.clone(), rows.clone());
    (dir, store, tier, rows)
}

async fn read_all(store: &ArtifactStore, d: &Digest) -> Result<Vec<u8>, ArtifactError> {
    let mut r = store.reader(d).await?;
    let mut out = Vec::new();
    loop {
        let chunk = r.read(1 << 16).await?;
        if chunk.is_empty() {
            return Ok(out);
        }
        out.extend_from_slice(&chunk);
    }
}

fn blob_files(dir: &std::path::Path) -> usize {
    let blobs = dir.join("tenants/default/blobs");
    if !blobs.exists() {
        return 0;
    }
    let mut n = 0;
    let mut stack = vec![blobs];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).expect("read_dir") {
            let e = e.expect("entry");
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            } else {
                n += 1;
            }
        }
    }
    n
}

#[tokio::test]
async fn small_artifacts_are_readable_while_pending_and_after_commit_without_the_object_store() {
    let (dir, store, tier, rows) = linked(1024);
    let meta = store.put_bytes(b"small", "text/plain").await.expect("put");
    assert_eq!(tier.pending_count(), 1);
    // Before the commit: from memory, through another clone of the handle.
    assert_eq!(read_all(&store.clone(), &meta.digest).await.expect("read"), b"small");
    assert!(store.contains(&meta.digest).await);
    assert_eq!(blob_files(dir.path()), 0, "nothing written to the object store");

    rows.commit(&tier, "default", &meta.digest);
    assert_eq!(tier.pending_count(), 0);
    assert_eq!(read_all(&store, &meta.digest).await.expect("read"), b"small");

    // A fresh process: nothing in memory, the bytes come from the records.
    let fresh = ArtifactStore::open(dir.path().to_str().expect("utf8"))
        .expect("open")
        .with_inline(InlineTier::new(1024), rows.clone());
    assert_eq!(store.verify(&meta.digest).await.expect("verify"), 5);
    assert_eq!(read_all(&fresh, &meta.digest).await.expect("read"), b"small");
}

#[tokio::test]
async fn large_artifacts_and_stored_ones_go_to_the_object_store() {
    let (dir, store, tier, _rows) = linked(1024);
    let big = vec![7u8; 1025];
    let meta = store.put_bytes(&big, "x/y").await.expect("put");
    let archived = store
        .put_bytes_stored(b"component", "application/wasm")
        .await
        .expect("put");
    assert_eq!(tier.pending_count(), 0);
    assert_eq!(blob_files(dir.path()), 2);
    assert_eq!(read_all(&store, &meta.digest).await.expect("read"), big);
    assert_eq!(read_all(&store, &archived.digest).await.expect("read"), b"component");
}

#[tokio::test]
async fn a_damaged_copy_in_the_records_is_refused_never_served() {
    let (dir, store, tier, rows) = linked(1024);
    let meta = store.put_bytes(b"good bytes", "text/plain").await.expect("put");
    rows.commit(&tier, "default", &meta.digest);
    rows.0
        .lock()
        .expect("lock")
        .insert(("default".into(), meta.digest), Bytes::from_static(b"bad bytes!"));
    let fresh = ArtifactStore::open(dir.path().to_str().expect("utf8"))
        .expect("open")
        .with_inline(InlineTier::new(1024), rows.clone());
    for _ in 0..2 {
        // Twice: the bad copy is not cached either.
        let err = read_all(&fresh, &meta.digest).await.expect_err("refused");
        assert!(err.is_corruption(), "{err}");
        assert!(err.to_string().contains("run records"), "{err}");
    }
    assert!(fresh.verify(&meta.digest).await.is_err());
    assert!(!fresh.contains(&meta.digest).await);
}

#[tokio::test]
async fn tenants_do_not_see_each_others_small_artifacts() {
    let (_dir, store, tier, rows) = linked(1024);
    let a = store.for_tenant("a");
    let b = store.for_tenant("b");
    let meta = a.put_bytes(b"tenant a's", "text/plain").await.expect("put");
    assert!(matches!(b.reader(&meta.digest).await, Err(ArtifactError::NotFound(_))));
    rows.commit(&tier, "a", &meta.digest);
    assert!(tier.pending("b", &meta.digest).is_none());
    assert!(matches!(b.reader(&meta.digest).await, Err(ArtifactError::NotFound(_))));
    assert_eq!(read_all(&a, &meta.digest).await.expect("read"), b"tenant a's");
}

#[tokio::test]
async fn with_a_zero_limit_the_store_keeps_new_artifacts_but_reads_the_records() {
    let (dir, store, tier, rows) = linked(1024);
    let old = store
        .put_bytes(b"kept in the records", "text/plain")
        .await
        .expect("put");
    rows.commit(&tier, "default", &old.digest);
    let off = ArtifactStore::open(dir.path().to_str().expect("utf8"))
        .expect("open")
        .with_inline(InlineTier::new(0), rows.clone());
    off.put_bytes(b"", "text/plain").await.expect("put");
    off.put_bytes(b"small", "text/plain").await.expect("put");
    assert_eq!(off.inline_tier().expect("tier").pending_count(), 0);
    assert_eq!(blob_files(dir.path()), 2);
    assert_eq!(read_all(&off, &old.digest).await.expect("read"), b"kept in the records");
    // And a store with no tier at all is the store as it always was.
    let plain = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("open");
    assert!(plain.inline_tier().is_none());
    assert!(matches!(
        plain.reader(&old.digest).await,
        Err(ArtifactError::NotFound(_))
    ));
}
