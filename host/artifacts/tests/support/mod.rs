//! Test support: the stores the conformance suite runs on, and how tests find S3.
//!
//! `WEFT_TEST_S3` names a throw-away S3-compatible service (SeaweedFS on loopback, started by
//! `cargo xtask services` or `cargo xtask ci`) as one URL:
//! `http://ACCESS_KEY:SECRET@127.0.0.1:PORT/BUCKET` — the endpoint (an `http` one is allowed
//! plain HTTP), the credentials (letters and digits: they are not percent-decoded) and the bucket. Each test works under its
//! own random prefix of the bucket, so tests never see each other's keys.
//! Unset, an S3 test prints `skipped: set WEFT_TEST_S3 (cargo xtask services)` and passes;
//! with `WEFT_TEST_SERVICES=required` (CI) it fails instead.

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

/// The S3 service tests should use: a store config and the bucket, or `None` (after printing
/// why) when the test should be skipped. Panics in one line when services are required.
pub fn s3_service() -> Option<(S3Config, String)> {
    let Ok(value) = std::env::var("WEFT_TEST_S3") else {
        if std::env::var("WEFT_TEST_SERVICES").as_deref() == Ok("required") {
            panic!("WEFT_TEST_S3 is not set but WEFT_TEST_SERVICES=required (run `cargo xtask services`)");
        }
        // Straight to stderr: the test harness captures `println!` of passing tests.
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"skipped: set WEFT_TEST_S3 (cargo xtask services)\n",
        );
        return None;
    };
    Some(parse(&value))
}

/// Parses `http://KEY:SECRET@HOST:PORT/BUCKET`.
pub fn parse(value: &str) -> (S3Config, String) {
    let url = url::Url::parse(value).expect("WEFT_TEST_S3 is http://KEY:SECRET@HOST:PORT/BUCKET");
    let bucket = url.path().trim_matches('/').to_string();
    assert!(!bucket.is_empty(), "WEFT_TEST_S3 names no bucket");
    let endpoint = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    );
    let config = S3Config {
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some(url.username().to_string()),
        secret_access_key: url.password().map(str::to_string),
        session_token: None,
        allow_http: url.scheme() == "http",
    };
    (config, bucket)
}

/// A prefix no other test uses.
pub fn random_prefix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    format!("test-{}", &Digest::of(seed.as_bytes()).hex()[..16])
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

/// The store's tag for this machine in staging names (12 hex digits of the SHA-256 of the
/// host name), to name a dead writer's leftovers.
pub fn host_tag() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    Digest::of(name.trim().as_bytes()).hex()[..12].to_string()
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
