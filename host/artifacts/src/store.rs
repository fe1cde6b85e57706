//! The artifact store handle: opening a store by URL, importing files, publishing staged
//! writes at their content address, reading blobs and run documents.

use crate::writer::{Staged, StagedBytes};
use crate::{ArtifactError, ArtifactReader, Digest, StagedWriter, keys};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// What the store knows of a published artifact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// Content address.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// Media type it was produced as.
    pub media_type: String,
}

/// A content-addressed artifact store for one tenant.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    inner: Arc<dyn ObjectStore>,
    tenant: String,
    url: String,
}

impl ArtifactStore {
    /// Opens a store: `memory://`, `file:///abs/dir`, or a plain directory path (created if missing).
    pub fn open(url: &str) -> Result<ArtifactStore, ArtifactError> {
        let inner: Arc<dyn ObjectStore> = if url == "memory://" || url == "memory:" {
            Arc::new(InMemory::new())
        } else {
            let dir = match url.strip_prefix("file://") {
                Some(p) => p,
                None if url.contains("://") => return Err(ArtifactError::BadUrl(url.to_string())),
                None => url,
            };
            if dir.is_empty() {
                return Err(ArtifactError::BadUrl(url.to_string()));
            }
            std::fs::create_dir_all(dir).map_err(|source| ArtifactError::Io {
                path: dir.to_string(),
                source,
            })?;
            Arc::new(LocalFileSystem::new_with_prefix(dir)?)
        };
        Ok(ArtifactStore {
            inner,
            tenant: "default".to_string(),
            url: url.to_string(),
        })
    }

    /// The same store, scoped to another tenant; tenants never see each other's keys.
    pub fn for_tenant(&self, tenant: &str) -> ArtifactStore {
        ArtifactStore {
            tenant: tenant.to_string(),
            ..self.clone()
        }
    }

    /// The URL the store was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The tenant this handle reads and writes.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Starts a streaming write; nothing is visible until [`ArtifactStore::publish`].
    pub fn stage(&self) -> StagedWriter {
        StagedWriter::new(self.inner.clone(), self.tenant.clone())
    }

    /// Makes staged bytes visible at their content address. Publishing bytes that are
    /// already there is a no-op (the content is by definition the same).
    pub async fn publish(&self, staged: Staged, media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        let key = keys::blob(&self.tenant, &staged.digest);
        let exists = self.inner.head(&key).await.is_ok();
        match staged.bytes {
            StagedBytes::Small(bytes) => {
                if !exists {
                    self.inner.put(&key, PutPayload::from_bytes(bytes)).await?;
                }
            }
            StagedBytes::Key(staging) => {
                if exists {
                    self.inner.delete(&staging).await?;
                } else {
                    // A rename is atomic on a filesystem; on S3 it is copy-then-delete and the
                    // copy appears whole. Either way readers see all of the bytes or none.
                    self.inner.rename(&staging, &key).await?;
                }
            }
        }
        Ok(ArtifactMeta {
            digest: staged.digest,
            size: staged.size,
            media_type: media_type.to_string(),
        })
    }

    /// Stores bytes already in memory (small documents).
    pub async fn put_bytes(&self, bytes: &[u8], media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        let mut w = self.stage();
        w.write(bytes).await?;
        let staged = w.finish().await?;
        self.publish(staged, media_type).await
    }

    /// Streams a local file into the store.
    pub async fn import_file(&self, path: &std::path::Path, media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        let io_err = |source| ArtifactError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = tokio::fs::File::open(path).await.map_err(io_err)?;
        let mut w = self.stage();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = file.read(&mut buf).await.map_err(io_err)?;
            if n == 0 {
                break;
            }
            w.write(&buf[..n]).await?;
        }
        let staged = w.finish().await?;
        self.publish(staged, media_type).await
    }

    /// Opens a published artifact for streaming reads.
    pub async fn reader(&self, digest: &Digest) -> Result<ArtifactReader, ArtifactError> {
        let key = keys::blob(&self.tenant, digest);
        match self.inner.get(&key).await {
            Ok(result) => Ok(ArtifactReader::new(result)),
            Err(object_store::Error::NotFound { .. }) => Err(ArtifactError::NotFound(*digest)),
            Err(e) => Err(e.into()),
        }
    }

    /// Streams a published artifact into `sink` in bounded chunks; returns the bytes copied.
    pub async fn copy_to<W: tokio::io::AsyncWrite + Unpin + ?Sized>(
        &self,
        digest: &Digest,
        sink: &mut W,
    ) -> Result<u64, ArtifactError> {
        use tokio::io::AsyncWriteExt;
        let io_err = |source| ArtifactError::Io {
            path: format!("(writing {digest})"),
            source,
        };
        let mut reader = self.reader(digest).await?;
        let mut copied = 0u64;
        loop {
            let chunk = reader.read(1 << 20).await?;
            if chunk.is_empty() {
                break;
            }
            sink.write_all(&chunk).await.map_err(io_err)?;
            copied += chunk.len() as u64;
        }
        sink.flush().await.map_err(io_err)?;
        Ok(copied)
    }

    /// Whether an artifact is published.
    pub async fn contains(&self, digest: &Digest) -> bool {
        self.inner.head(&keys::blob(&self.tenant, digest)).await.is_ok()
    }

    /// Writes a run document (JSON), replacing any earlier version atomically.
    pub async fn put_run_document<T: Serialize>(&self, run: &str, name: &str, doc: &T) -> Result<(), ArtifactError> {
        let bytes = serde_json::to_vec_pretty(doc).map_err(|e| ArtifactError::Corrupt(name.to_string(), e))?;
        self.inner
            .put(&keys::run_document(&self.tenant, run, name), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// Reads a run document.
    pub async fn get_run_document<T: for<'de> Deserialize<'de>>(
        &self,
        run: &str,
        name: &str,
    ) -> Result<T, ArtifactError> {
        let key = keys::run_document(&self.tenant, run, name);
        let bytes = match self.inner.get(&key).await {
            Ok(r) => r.bytes().await?,
            Err(object_store::Error::NotFound { .. }) => {
                return Err(ArtifactError::NoRunDocument {
                    run: run.to_string(),
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        };
        serde_json::from_slice(&bytes).map_err(|e| ArtifactError::Corrupt(key.to_string(), e))
    }

    /// Ids of the runs that have documents in this store.
    pub async fn list_runs(&self) -> Result<Vec<String>, ArtifactError> {
        let listing = self.inner.list_with_delimiter(Some(&keys::runs(&self.tenant))).await?;
        let mut runs: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect();
        runs.sort();
        Ok(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(store: &ArtifactStore, d: &Digest) -> Vec<u8> {
        let mut r = store.reader(d).await.expect("open");
        let mut out = Vec::new();
        loop {
            let chunk = r.read(1000).await.expect("read");
            if chunk.is_empty() {
                return out;
            }
            assert!(chunk.len() <= 1000);
            out.extend_from_slice(&chunk);
        }
    }

    async fn round_trip(store: ArtifactStore) {
        // Larger than the in-memory staging threshold, so the multipart path runs too.
        for len in [0usize, 10, crate::writer::SMALL_LIMIT + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut w = store.stage();
            for chunk in data.chunks(70_000) {
                w.write(chunk).await.expect("write");
            }
            let staged = w.finish().await.expect("finish");
            assert_eq!(staged.digest(), Digest::of(&data));
            assert!(!store.contains(&staged.digest()).await, "not visible before publish");
            let meta = store
                .publish(staged, "application/octet-stream")
                .await
                .expect("publish");
            assert_eq!(meta.size, len as u64);
            assert_eq!(read_all(&store, &meta.digest).await, data);
            // Publishing the same content again is harmless.
            let again = store.put_bytes(&data, "x/y").await.expect("again");
            assert_eq!(again.digest, meta.digest);
        }
    }

    #[tokio::test]
    async fn memory_round_trip() {
        round_trip(ArtifactStore::open("memory://").expect("open")).await;
    }

    #[tokio::test]
    async fn file_round_trip_leaves_no_staging() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("open");
        round_trip(store).await;
        let staging = dir.path().join("tenants/default/staging");
        let left = std::fs::read_dir(&staging).map(|d| d.count()).unwrap_or(0);
        assert_eq!(left, 0, "staging area is empty after publish");
    }

    #[tokio::test]
    async fn aborted_write_is_never_visible() {
        let store = ArtifactStore::open("memory://").expect("open");
        let mut w = store.stage();
        w.write(b"half").await.expect("write");
        drop(w);
        assert!(!store.contains(&Digest::of(b"half")).await);
        assert!(matches!(
            store.reader(&Digest::of(b"half")).await,
            Err(ArtifactError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn tenants_are_separate() {
        let store = ArtifactStore::open("memory://").expect("open");
        let meta = store.put_bytes(b"mine", "text/plain").await.expect("put");
        assert!(!store.for_tenant("other").contains(&meta.digest).await);
    }

    #[tokio::test]
    async fn run_documents() {
        let store = ArtifactStore::open("memory://").expect("open");
        store
            .put_run_document("r1", "manifest.json", &vec![1, 2])
            .await
            .expect("put");
        let back: Vec<i32> = store.get_run_document("r1", "manifest.json").await.expect("get");
        assert_eq!(back, vec![1, 2]);
        assert_eq!(store.list_runs().await.expect("list"), vec!["r1".to_string()]);
        assert!(matches!(
            store.get_run_document::<Vec<i32>>("r2", "manifest.json").await,
            Err(ArtifactError::NoRunDocument { .. })
        ));
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(ArtifactStore::open("s4://x"), Err(ArtifactError::BadUrl(_))));
        assert!(matches!(ArtifactStore::open("file://"), Err(ArtifactError::BadUrl(_))));
    }
}
