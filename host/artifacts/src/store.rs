//! The artifact store handle: opening a store by URL, importing files, publishing staged
//! writes at their content address, reading blobs (checked against their address) and run
//! documents.

use crate::inline::{Inline, InlineBlobs, InlineTier};
use crate::local::{OpenError, open_regular};
use crate::reader::{Source, WHOLE_LIMIT};
use crate::writer::{Staged, StagedBytes};
use crate::{ArtifactError, ArtifactReader, Digest, S3Config, StagedWriter, keys};
use futures::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Staged objects older than this are abandoned whoever wrote them: longer than the
/// longest time limit a step or run may have (168 hours, `weft_model::quantity`), so no
/// live writer's object is this old.
pub const STAGING_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(8 * 24 * 3600);

/// Seconds since the epoch before which a staged object counts as abandoned.
fn abandoned_before() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(now.saturating_sub(STAGING_MAX_AGE.as_secs())).unwrap_or(0)
}

/// A blob opened on the local filesystem: small ones already read.
enum Opened {
    Small(Vec<u8>),
    Large(std::fs::File, u64),
}

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
    pub(crate) inner: Arc<dyn ObjectStore>,
    /// For a store on the local filesystem, its directory: reads go through
    /// [`open_regular`] instead of `inner`, so no symlink or special file is ever followed.
    pub(crate) local_root: Option<Arc<std::path::PathBuf>>,
    pub(crate) tenant: String,
    url: String,
    /// Largest artifact the store can publish, if it has a limit.
    max_artifact_size: Option<u64>,
    /// The small-artifact tier, when the store is used with run records (`inline.rs`).
    inline: Option<Inline>,
}

/// Largest artifact on S3: publishing is a server-side copy from the staging key
/// (`CopyObject`), which S3 allows up to 5 GiB.
pub const S3_MAX_ARTIFACT_SIZE: u64 = 5 << 30;

impl ArtifactStore {
    /// Opens a store: `memory://`, `file:///abs/dir`, a plain directory path (created if
    /// missing), or `s3://bucket/prefix` with S3's defaults (see [`ArtifactStore::open_with`]).
    pub fn open(url: &str) -> Result<ArtifactStore, ArtifactError> {
        Self::open_with(url, &S3Config::default())
    }

    /// Opens a store like [`ArtifactStore::open`], an `s3://` one with these settings.
    pub fn open_with(url: &str, s3: &S3Config) -> Result<ArtifactStore, ArtifactError> {
        let mut local_root = None;
        let mut max_artifact_size = None;
        let inner: Arc<dyn ObjectStore> = if url == "memory://" || url == "memory:" {
            Arc::new(InMemory::new())
        } else if url.starts_with("s3://") {
            max_artifact_size = Some(S3_MAX_ARTIFACT_SIZE);
            crate::s3::open(url, s3)?
        } else {
            let dir = match url.strip_prefix("file://") {
                Some(p) => p,
                None if url.contains("://") => return Err(ArtifactError::BadUrl(crate::shown_url(url))),
                None => url,
            };
            if dir.is_empty() {
                return Err(ArtifactError::BadUrl(crate::shown_url(url)));
            }
            std::fs::create_dir_all(dir).map_err(|source| ArtifactError::Io {
                path: dir.to_string(),
                source,
            })?;
            let root = std::fs::canonicalize(dir).map_err(|source| ArtifactError::Io {
                path: dir.to_string(),
                source,
            })?;
            local_root = Some(Arc::new(root.clone()));
            Arc::new(LocalFileSystem::new_with_prefix(root)?)
        };
        Ok(ArtifactStore {
            inner,
            local_root,
            tenant: "default".to_string(),
            url: crate::shown_url(url),
            max_artifact_size,
            inline: None,
        })
    }

    /// The same store keeping artifacts of at most `tier.max()` bytes out of the object
    /// store: published ones wait in `tier` until the run records commit them (the records
    /// hold `tier` too and take its pending bytes with each commit), and are read back
    /// from `blobs` (see `inline.rs`). Without this a store keeps every artifact itself.
    #[must_use]
    pub fn with_inline(self, tier: InlineTier, blobs: Arc<dyn InlineBlobs>) -> ArtifactStore {
        ArtifactStore {
            inline: Some(Inline { tier, blobs }),
            ..self
        }
    }

    /// The small-artifact tier, if the store has one.
    pub fn inline_tier(&self) -> Option<&InlineTier> {
        self.inline.as_ref().map(|i| &i.tier)
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

    /// Largest artifact this store can publish (S3: 5 GiB), if it has a limit: a write past
    /// it fails at once ([`ArtifactError::TooLarge`]) instead of after the upload.
    pub fn max_artifact_size(&self) -> Option<u64> {
        self.max_artifact_size
    }

    /// The same store refusing artifacts larger than `limit` bytes (an S3-compatible
    /// service with a lower copy limit than S3's; tests).
    #[must_use]
    pub fn with_max_artifact_size(self, limit: u64) -> ArtifactStore {
        ArtifactStore {
            max_artifact_size: Some(limit),
            ..self
        }
    }

    /// Starts a streaming write; nothing is visible until [`ArtifactStore::publish`].
    pub fn stage(&self) -> StagedWriter {
        StagedWriter::new(self.inner.clone(), self.tenant.clone(), self.max_artifact_size)
    }

    /// Makes staged bytes visible at their content address, atomically. Whatever sat at
    /// the address before is replaced: the staged bytes were hashed on the way in, so they
    /// are the artifact, while the old object may have been damaged (this is how a run
    /// that produces an artifact again repairs it). Replacing costs a rename (or one small
    /// put) — less than reading the old object to check it. That is also why publishing
    /// never uses a conditional create (`If-None-Match: *`): it would keep a damaged object.
    ///
    /// With a small-artifact tier, an artifact small enough goes there instead: it becomes
    /// durable with the commit of the step that produced it (`inline.rs`). Whoever
    /// publishes outside a step commit must make it durable through the records, or use
    /// [`ArtifactStore::publish_stored`].
    pub async fn publish(&self, mut staged: Staged, media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        if let Some(inline) = &self.inline
            && inline.tier.takes(staged.size)
            && let StagedBytes::Small(bytes) = staged.take_bytes()
        {
            inline.tier.put_pending(&self.tenant, staged.digest, bytes);
            return Ok(ArtifactMeta {
                digest: staged.digest,
                size: staged.size,
                media_type: media_type.to_string(),
            });
        }
        self.publish_stored(staged, media_type).await
    }

    /// Publishes in the object store whatever the size, never in the small-artifact tier:
    /// for what no step commit makes durable (archived components).
    pub async fn publish_stored(&self, mut staged: Staged, media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        let key = keys::blob(&self.tenant, &staged.digest);
        match staged.take_bytes() {
            StagedBytes::Small(bytes) if self.local_root.is_none() => {
                // An object store's PUT is atomic: readers see the old object or the whole
                // new one, and an interrupted PUT stores nothing. One round trip.
                self.inner.put(&key, PutPayload::from_bytes(bytes)).await?;
            }
            StagedBytes::Small(bytes) => {
                // Through the staging area too: a put writes a temporary file beside its
                // key, which a killed process would leave among the blobs; a rename leaves
                // nothing half-done under `blobs/`.
                let staging = keys::staging(&self.tenant, &crate::writer::staging_id());
                self.inner.put(&staging, PutPayload::from_bytes(bytes)).await?;
                self.rename_or_clean_up(&staging, &key).await?;
            }
            StagedBytes::Key(staging) => {
                // A rename is atomic on a filesystem (and replaces a symlink at the key
                // rather than following it). S3 has no rename: it is a server-side copy
                // (CopyObject, which appears whole or not at all, up to S3's 5 GiB copy
                // limit) then a delete of the staging key. Either way readers see all of
                // the bytes or none. (Completing the multipart upload at the address
                // instead is impossible: the address is known only after the last byte.)
                self.rename_or_clean_up(&staging, &key).await?;
            }
            StagedBytes::Taken => {}
        }
        Ok(ArtifactMeta {
            digest: staged.digest,
            size: staged.size,
            media_type: media_type.to_string(),
        })
    }

    /// Renames a staged object to its address; if that fails, the staged object is deleted
    /// rather than left for the sweep.
    async fn rename_or_clean_up(
        &self,
        staging: &object_store::path::Path,
        key: &object_store::path::Path,
    ) -> Result<(), ArtifactError> {
        if let Err(e) = self.inner.rename(staging, key).await {
            let _ = self.inner.delete(staging).await;
            return Err(e.into());
        }
        Ok(())
    }

    /// Stores bytes already in memory (small documents), like [`ArtifactStore::publish`].
    pub async fn put_bytes(&self, bytes: &[u8], media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        let mut w = self.stage();
        w.write(bytes).await?;
        let staged = w.finish().await?;
        self.publish(staged, media_type).await
    }

    /// Stores bytes already in memory in the object store itself, like
    /// [`ArtifactStore::publish_stored`].
    pub async fn put_bytes_stored(&self, bytes: &[u8], media_type: &str) -> Result<ArtifactMeta, ArtifactError> {
        let mut w = self.stage();
        w.write(bytes).await?;
        let staged = w.finish().await?;
        self.publish_stored(staged, media_type).await
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

    /// Opens a published artifact for streaming reads, checked against its address (see
    /// [`ArtifactReader`]): a small artifact that does not match is refused here, a large
    /// one fails at its end.
    ///
    /// With a small-artifact tier, memory is looked at first, then the run records, then
    /// the object store; bytes from any of them are checked the same way.
    pub async fn reader(&self, digest: &Digest) -> Result<ArtifactReader, ArtifactError> {
        if let Some(inline) = &self.inline
            && let Some(reader) = self.inline_reader(inline, digest).await?
        {
            return Ok(reader);
        }
        let key = keys::blob(&self.tenant, digest);
        let Some(root) = &self.local_root else {
            let result = match self.inner.get(&key).await {
                Ok(result) => result,
                Err(object_store::Error::NotFound { .. }) => return Err(ArtifactError::NotFound(*digest)),
                Err(e) => return Err(e.into()),
            };
            let size = result.meta.size;
            if size <= WHOLE_LIMIT {
                return ArtifactReader::whole(*digest, result.bytes().await?);
            }
            return Ok(ArtifactReader::streaming(
                *digest,
                size,
                Source::Stream(result.into_stream()),
            ));
        };
        let root = Arc::clone(root);
        let digest = *digest;
        // Open, size and (when small) read in one trip to the blocking pool.
        let opened = tokio::task::spawn_blocking(move || -> Result<Opened, OpenError> {
            use std::io::Read;
            let parts: Vec<&str> = key.as_ref().split('/').collect();
            let file = open_regular(&root, &parts)?;
            let size = file.metadata().map_err(OpenError::Io)?.len();
            if size > WHOLE_LIMIT {
                return Ok(Opened::Large(file, size));
            }
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            // One byte past the limit: a file that grew since `metadata` is caught too.
            file.take(WHOLE_LIMIT + 1)
                .read_to_end(&mut bytes)
                .map_err(OpenError::Io)?;
            Ok(Opened::Small(bytes))
        })
        .await
        .map_err(|e| ArtifactError::Io {
            path: format!("(opening {digest})"),
            source: std::io::Error::other(e),
        })?;
        match opened {
            Ok(Opened::Small(bytes)) => ArtifactReader::whole(digest, bytes.into()),
            Ok(Opened::Large(file, size)) => Ok(ArtifactReader::streaming(
                digest,
                size,
                Source::File(tokio::fs::File::from_std(file)),
            )),
            Err(OpenError::NotFound) => Err(ArtifactError::NotFound(digest)),
            Err(OpenError::NotRegular(what)) => {
                Err(ArtifactError::corrupted(digest, format!("a {what} sits at its key")))
            }
            Err(OpenError::Io(source)) => Err(ArtifactError::Io {
                path: format!("(reading {digest})"),
                source,
            }),
        }
    }

    /// A reader over the small-artifact tier's copy of `digest`, if it has one. A copy that
    /// does not match its address is refused (and never cached), whichever the source.
    async fn inline_reader(&self, inline: &Inline, digest: &Digest) -> Result<Option<ArtifactReader>, ArtifactError> {
        if let Some(bytes) = inline.tier.get(&self.tenant, digest) {
            return match ArtifactReader::whole(*digest, bytes) {
                Ok(reader) => Ok(Some(reader)),
                Err(e) => {
                    inline.tier.forget(&self.tenant, digest);
                    Err(e)
                }
            };
        }
        let bytes = match inline.blobs.get(&self.tenant, digest).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(None),
            Err(reason) => {
                return Err(ArtifactError::Records {
                    digest: *digest,
                    reason,
                });
            }
        };
        let reader = ArtifactReader::whole(*digest, bytes.clone()).map_err(|e| match e {
            ArtifactError::Corrupted { digest, reason } => {
                ArtifactError::corrupted(digest, format!("its copy in the run records: {reason}"))
            }
            e => e,
        })?;
        inline.tier.cache(&self.tenant, *digest, bytes);
        Ok(Some(reader))
    }

    /// Reads a whole artifact to check it against its address; returns its size. A
    /// missing artifact is [`ArtifactError::NotFound`], a damaged one
    /// [`ArtifactError::Corrupted`].
    pub async fn verify(&self, digest: &Digest) -> Result<u64, ArtifactError> {
        let mut reader = self.reader(digest).await?;
        reader.verify_rest().await?;
        Ok(reader.size())
    }

    /// Streams a published artifact into `sink` in bounded chunks; returns the bytes copied.
    /// A large artifact that turns out damaged fails at its end, after some bytes reached
    /// `sink`: a caller writing to a file should write to a temporary one and keep it only
    /// on success.
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

    /// Deletes what writers that can no longer finish left in this tenant's staging area:
    /// the objects of processes on this machine that are gone (a killed `weft run`; the
    /// staging name says which process and machine wrote it), and on any store objects
    /// older than [`STAGING_MAX_AGE`]. Returns the objects and bytes removed. Writers of
    /// live processes, and other machines' writers younger than the limit, are left alone.
    /// (On S3 a multipart upload a killed writer never completed is no object at all: a
    /// bucket lifecycle rule aborting incomplete uploads reclaims its parts.)
    pub async fn sweep_staging(&self) -> Result<(usize, u64), ArtifactError> {
        let Some(root) = &self.local_root else {
            let mut removed = (0, 0);
            let cutoff = abandoned_before();
            let listing: Vec<_> = self
                .inner
                .list(Some(&keys::staging_area(&self.tenant)))
                .collect::<Vec<_>>()
                .await;
            for meta in listing {
                let meta = meta?;
                let gone = meta.location.filename().is_some_and(crate::local::writer_gone);
                if gone || meta.last_modified.timestamp() < cutoff {
                    self.inner.delete(&meta.location).await?;
                    removed.0 += 1;
                    removed.1 += meta.size;
                }
            }
            return Ok(removed);
        };
        let dir = keys::staging_area(&self.tenant)
            .as_ref()
            .split('/')
            .fold(root.to_path_buf(), |p, part| p.join(part));
        tokio::task::spawn_blocking(move || crate::local::sweep_staging(&dir, STAGING_MAX_AGE))
            .await
            .map_err(|e| ArtifactError::Io {
                path: "(sweeping the staging area)".into(),
                source: std::io::Error::other(e),
            })?
    }

    /// Bytes of the tenant's artifacts in the object store (small ones kept in the records
    /// are the records' to count): one listing of its blobs.
    pub async fn stored_bytes(&self) -> Result<u64, ArtifactError> {
        let mut listing = self.inner.list(Some(&keys::blobs(&self.tenant)));
        let mut total = 0u64;
        while let Some(meta) = listing.next().await {
            total = total.saturating_add(meta?.size);
        }
        Ok(total)
    }

    /// Whether an artifact is published (a regular file at its key, for a local store: a
    /// symlink or special file there does not count). Says nothing of its bytes: see
    /// [`ArtifactStore::verify`].
    pub async fn contains(&self, digest: &Digest) -> bool {
        if let Some(inline) = &self.inline
            && matches!(self.inline_reader(inline, digest).await, Ok(Some(_)))
        {
            return true;
        }
        let key = keys::blob(&self.tenant, digest);
        let Some(root) = &self.local_root else {
            return self.inner.head(&key).await.is_ok();
        };
        let root = Arc::clone(root);
        tokio::task::spawn_blocking(move || {
            let parts: Vec<&str> = key.as_ref().split('/').collect();
            open_regular(&root, &parts).is_ok()
        })
        .await
        .unwrap_or(false)
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

    // The behaviour every backend shares is tested on a directory and on S3 in
    // `tests/conformance.rs`; what is particular to one backend stays here.

    #[tokio::test]
    async fn memory_round_trip() {
        let store = ArtifactStore::open("memory://").expect("open");
        for len in [0usize, 10, crate::writer::SMALL_LIMIT + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let meta = store.put_bytes(&data, "x/y").await.expect("put");
            assert_eq!(read_all(&store, &meta.digest).await, data);
        }
    }

    fn blob_file(dir: &std::path::Path, d: &Digest) -> std::path::PathBuf {
        dir.join("tenants/default/blobs/sha256")
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    async fn file_store() -> (tempfile::TempDir, ArtifactStore) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("open");
        (dir, store)
    }

    #[tokio::test]
    async fn symlinks_and_fifos_at_a_key_are_refused_without_blocking() {
        let (dir, store) = file_store().await;
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"host file").expect("write");
        let linked = store.put_bytes(b"host file", "text/plain").await.expect("put").digest;
        std::fs::remove_file(blob_file(dir.path(), &linked)).expect("rm");
        std::os::unix::fs::symlink(&secret, blob_file(dir.path(), &linked)).expect("symlink");
        let err = store.reader(&linked).await.err().expect("refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");

        let fifo = store.put_bytes(b"fifo", "text/plain").await.expect("put").digest;
        let path = blob_file(dir.path(), &fifo);
        std::fs::remove_file(&path).expect("rm");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
            0,
        )
        .expect("mkfifo");
        let err = tokio::time::timeout(std::time::Duration::from_secs(10), store.reader(&fifo))
            .await
            .expect("does not hang")
            .err()
            .expect("refused");
        assert!(err.to_string().contains("FIFO"), "{err}");
        // Publishing replaces the FIFO itself, not what it leads to.
        store.put_bytes(b"fifo", "text/plain").await.expect("repair");
        assert_eq!(read_all(&store, &fifo).await, b"fifo");
    }

    #[tokio::test]
    async fn sweeping_removes_what_a_killed_writer_left() {
        let (dir, store) = file_store().await;
        let staging = dir.path().join("tenants/default/staging");
        std::fs::create_dir_all(&staging).expect("mkdir");
        let gone = format!("4294967295-1-0-{}#1", crate::machine::tag());
        std::fs::write(staging.join(gone), vec![0u8; 1000]).expect("write");
        assert_eq!(store.sweep_staging().await.expect("sweep"), (1, 1000));
        let mem = ArtifactStore::open("memory://").expect("open");
        assert_eq!(mem.sweep_staging().await.expect("sweep"), (0, 0));
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(ArtifactStore::open("s4://x"), Err(ArtifactError::BadUrl(_))));
        assert!(matches!(ArtifactStore::open("file://"), Err(ArtifactError::BadUrl(_))));
    }
}
