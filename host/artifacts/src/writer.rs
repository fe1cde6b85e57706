//! Streaming writes into the staging area, hashed on the way.
//!
//! Small artifacts (the common case between steps) are kept in memory until published
//! with one atomic put; once a write passes [`SMALL_LIMIT`] it switches to a multipart
//! upload to a staging key, so memory stays bounded by a few parts whatever the size.

use crate::{ArtifactError, Digest, keys};
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes buffered in memory before a write becomes a multipart upload; also the part size
/// (S3 needs parts of at least 5 MiB).
pub const SMALL_LIMIT: usize = 5 * 1024 * 1024;
/// Parts uploaded concurrently per writer.
const MAX_PARTS_IN_FLIGHT: usize = 2;

/// A write in progress. Dropping it without [`StagedWriter::finish`] discards the bytes.
pub struct StagedWriter {
    store: Arc<dyn ObjectStore>,
    tenant: String,
    hasher: Sha256,
    size: u64,
    /// Largest artifact the store can publish.
    max: Option<u64>,
    state: State,
    /// A write failed (`Some`; `true` when the store was full): what was kept of the bytes
    /// is unknown (an upload's part may be lost while later ones are kept), so nothing
    /// more is taken and it never finishes.
    broken: Option<bool>,
}

enum State {
    Buffering(Vec<u8>),
    Uploading { upload: WriteMultipart, key: Path },
}

/// Bytes fully written and hashed, waiting to be published. Dropped unpublished (a step
/// that failed after finishing an output), its staging object is deleted.
pub struct Staged {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    bytes: StagedBytes,
    store: Arc<dyn ObjectStore>,
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("digest", &self.digest)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

pub(crate) enum StagedBytes {
    Small(Bytes),
    Key(Path),
    /// Handed over to be published.
    Taken,
}

impl Staged {
    /// The bytes, for publishing; afterwards dropping `self` deletes nothing.
    pub(crate) fn take_bytes(&mut self) -> StagedBytes {
        std::mem::replace(&mut self.bytes, StagedBytes::Taken)
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if let StagedBytes::Key(key) = self.take_bytes()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let store = self.store.clone();
            // Best effort: what a crash leaves behind is swept by `sweep_staging`.
            runtime.spawn(async move {
                let _ = store.delete(&key).await;
            });
        }
    }
}

impl Staged {
    /// Content address the bytes will have.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// A staging name no other writer uses: `<pid>-<nanos>-<counter>-<host tag>` (the sweep of
/// a killed process's leftovers reads pid and host back: only this machine's pids can be
/// checked).
pub(crate) fn staging_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        crate::machine::tag()
    )
}

impl Drop for StagedWriter {
    fn drop(&mut self) {
        // An unfinished multipart upload is invisible, but on S3 its parts are kept (and
        // billed) until aborted: abort it, best effort (a crash leaves it to the bucket's
        // lifecycle rule; see `ArtifactStore::sweep_staging`).
        if let State::Uploading { upload, .. } = std::mem::replace(&mut self.state, State::Buffering(Vec::new()))
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

/// What a broken writer says: still that the store is full when that broke it.
fn broken(full: bool) -> ArtifactError {
    const WHY: &str = "an earlier write to this artifact failed: it cannot be completed";
    if full {
        return ArtifactError::Io {
            path: "the staging area".into(),
            source: std::io::Error::new(std::io::ErrorKind::StorageFull, WHY),
        };
    }
    ArtifactError::Store(object_store::Error::Generic {
        store: "staging",
        source: WHY.into(),
    })
}

impl StagedWriter {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, tenant: String, max: Option<u64>) -> Self {
        Self {
            store,
            tenant,
            hasher: Sha256::new(),
            size: 0,
            max,
            state: State::Buffering(Vec::new()),
            broken: None,
        }
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends bytes. After a failed write the writer is broken: every later write and
    /// [`StagedWriter::finish`] fail, so bytes that are not all there are never staged
    /// under a digest of what was written.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ArtifactError> {
        if let Some(limit) = self.max
            && self.size + bytes.len() as u64 > limit
        {
            return Err(ArtifactError::TooLarge { limit });
        }
        if let Some(full) = self.broken {
            return Err(broken(full));
        }
        if let Err(e) = self.append(bytes).await {
            self.broken = Some(e.is_full());
            return Err(e);
        }
        self.hasher.update(bytes);
        self.size += bytes.len() as u64;
        Ok(())
    }

    /// Hands the bytes to the buffer, or to the upload once they outgrow it.
    async fn append(&mut self, bytes: &[u8]) -> Result<(), ArtifactError> {
        match &mut self.state {
            State::Buffering(buf) if buf.len() + bytes.len() <= SMALL_LIMIT => buf.extend_from_slice(bytes),
            State::Buffering(buf) => {
                let key = keys::staging(&self.tenant, &staging_id());
                let upload = self.store.put_multipart(&key).await?;
                let mut upload = WriteMultipart::new_with_chunk_size(upload, SMALL_LIMIT);
                upload.write(buf);
                upload.write(bytes);
                self.state = State::Uploading { upload, key };
            }
            State::Uploading { upload, .. } => {
                upload.wait_for_capacity(MAX_PARTS_IN_FLIGHT).await?;
                upload.write(bytes);
            }
        }
        Ok(())
    }

    /// Completes the write; the bytes are then staged, not yet published.
    pub async fn finish(mut self) -> Result<Staged, ArtifactError> {
        if let Some(full) = self.broken {
            return Err(broken(full));
        }
        let digest = Digest::from_hasher(self.hasher.clone());
        let (size, store) = (self.size, self.store.clone());
        let staged = move |bytes| Staged {
            digest,
            size,
            bytes,
            store,
        };
        match std::mem::replace(&mut self.state, State::Buffering(Vec::new())) {
            State::Buffering(buf) => Ok(staged(StagedBytes::Small(Bytes::from(buf)))),
            State::Uploading { upload, key } => {
                // Completed on a task of its own, which hands over a `Staged`: were this
                // future dropped mid-way (a cancelled step), the upload would otherwise be
                // left neither completed nor aborted, its parts kept (and billed) by S3.
                // Whoever drops the `Staged` unpublished — the task when nobody waits any
                // more, or this future — deletes the staged object.
                let (tx, rx) = tokio::sync::oneshot::channel();
                tokio::spawn(async move {
                    let _ = tx.send(upload.finish().await.map(|_| staged(StagedBytes::Key(key))));
                });
                Ok(rx.await.map_err(|_| {
                    ArtifactError::Store(object_store::Error::Generic {
                        store: "staging",
                        source: "the upload's completion task ended".into(),
                    })
                })??)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SMALL_LIMIT;
    use crate::ArtifactStore;

    #[tokio::test]
    async fn a_writer_whose_write_failed_never_finishes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(dir.path().to_str().expect("utf-8")).expect("store");
        // A file where the staging directory goes: the upload a large write starts cannot
        // be created.
        let staging = dir.path().join("tenants/default/staging");
        std::fs::create_dir_all(staging.parent().expect("parent")).expect("mkdir");
        std::fs::write(&staging, b"in the way").expect("file");
        let mut writer = store.stage();
        writer.write(&[1; 1024]).await.expect("buffered in memory");
        writer
            .write(&vec![2; SMALL_LIMIT])
            .await
            .expect_err("the upload cannot start");
        // The store works again, but what the failed write kept is unknown: no more bytes
        // are taken, and nothing is staged.
        std::fs::remove_file(&staging).expect("rm");
        let again = writer.write(&[3; 10]).await.expect_err("broken");
        assert!(
            again.to_string().contains("an earlier write to this artifact failed"),
            "{again}"
        );
        assert!(writer.finish().await.is_err());
    }

    #[test]
    fn a_writer_broken_by_a_full_store_still_says_so() {
        // A full disk is not an outage to wait out (`ArtifactError::is_full`): the writes
        // and the finish that follow keep saying why.
        assert!(super::broken(true).is_full());
        assert!(!super::broken(false).is_full());
    }
}
