//! Test support: the stores the conformance suite runs on, and how tests find S3.
//!
//! `WEFT_TEST_S3` names a throw-away S3-compatible service (SeaweedFS on loopback, started by
//! `cargo xtask services` or `cargo xtask ci`; see `weft_test_programs::services`). Each test
//! works under its own random prefix of the bucket, so tests never see each other's keys.

#![allow(dead_code)]

use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use std::sync::Arc;
use weft_artifacts::{ArtifactStore, Digest, S3Config};

/// A store under test, with a raw handle on the same keys to damage or inspect objects
/// behind the store's back.
pub struct Backend {
    pub store: ArtifactStore,
    pub raw: Arc<dyn ObjectStore>,
    /// Keeps a local store's directory alive.
    _dir: Option<tempfile::TempDir>,
}

/// The S3 service tests should use, as a store config and its bucket, or `None` (after
/// printing why) when the test should be skipped (see `weft_test_programs::services`).
pub fn s3_service() -> Option<(S3Config, String)> {
    let s = weft_test_programs::services::s3()?;
    Some((S3Config::with_endpoint(&s.endpoint, &s.access_key, &s.secret), s.bucket))
}

/// A prefix no other test uses.
pub fn random_prefix() -> String {
    format!(
        "test-{}",
        &Digest::of(weft_test_programs::services::unique().as_bytes()).hex()[..16]
    )
}

impl Backend {
    /// A store in a fresh temporary directory.
    pub fn local() -> Backend {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("open");
        let raw = object_store::local::LocalFileSystem::new_with_prefix(dir.path()).expect("raw");
        Backend {
            store,
            raw: Arc::new(raw),
            _dir: Some(dir),
        }
    }

    /// A store under a fresh prefix of the test bucket, or `None` when S3 tests are skipped.
    pub fn s3() -> Option<Backend> {
        let (config, bucket) = s3_service()?;
        let prefix = random_prefix();
        let store = ArtifactStore::open_with(&format!("s3://{bucket}/{prefix}"), &config).expect("open");
        let raw = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region("us-east-1")
            .with_endpoint(config.endpoint.clone().expect("endpoint"))
            .with_allow_http(true)
            .with_access_key_id(config.access_key_id.clone().expect("key"))
            .with_secret_access_key(config.secret_access_key.clone().expect("secret"))
            .build()
            .expect("raw client");
        let raw = object_store::prefix::PrefixStore::new(raw, prefix.as_str());
        Some(Backend {
            store,
            raw: Arc::new(raw),
            _dir: None,
        })
    }

    /// Writes `bytes` at `key` directly, bypassing the store (to damage a blob).
    pub async fn put_raw(&self, key: &str, bytes: &[u8]) {
        self.raw
            .put(&Path::from(key), bytes.to_vec().into())
            .await
            .expect("raw put");
    }

    /// Every key under `prefix`.
    pub async fn keys_under(&self, prefix: &str) -> Vec<String> {
        let prefix = Path::from(prefix);
        let mut out = Vec::new();
        let mut listing = self.raw.list(Some(&prefix));
        while let Some(meta) = listing.next().await {
            out.push(meta.expect("list").location.to_string());
        }
        out.sort();
        out
    }

    /// Waits (up to 5 s) until nothing is left under `prefix`; returns what is left.
    pub async fn drained(&self, prefix: &str) -> Vec<String> {
        for _ in 0..100 {
            let left = self.keys_under(prefix).await;
            if left.is_empty() {
                return left;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.keys_under(prefix).await
    }
}

/// `tenants/default/blobs/sha256/<ab>/<hex>`, as `keys.rs` lays it out.
pub fn blob_key(d: &Digest) -> String {
    format!("tenants/default/blobs/sha256/{}/{}", &d.hex()[..2], d.hex())
}

/// Reads a whole artifact through the store in small chunks.
pub async fn read_all(store: &ArtifactStore, d: &Digest) -> Vec<u8> {
    let mut r = store.reader(d).await.expect("open");
    let mut out = Vec::new();
    loop {
        let chunk = r.read(64 * 1024).await.expect("read");
        if chunk.is_empty() {
            return out;
        }
        out.extend_from_slice(&chunk);
    }
}
