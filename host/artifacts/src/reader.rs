//! Streaming reads of a published artifact in bounded chunks, checked against its address.
//!
//! An artifact of at most [`WHOLE_LIMIT`] (256 KiB) is read and hashed whole before the first
//! byte is handed out, so a corrupt small artifact is never served at all. A larger one is
//! hashed as it streams: its last read fails with [`ArtifactError::Corrupted`] instead of
//! reporting the end, so a consumer that reads to the end (or calls
//! [`ArtifactReader::verify_rest`]) never takes corrupt bytes for good ones. Hashing costs
//! about as much as reading from the page cache (SHA-256 runs at ~1–2 GB/s here; see
//! BENCHMARKS.md).

use crate::{ArtifactError, Digest};
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;

/// Artifacts up to this size are verified before any byte is served. Small, because each
/// open reader of one holds it in host memory (256 open inputs of a step: 64 MiB at most).
pub const WHOLE_LIMIT: u64 = 256 * 1024;

/// Bytes read from a file per call.
const FILE_CHUNK: usize = 256 * 1024;

/// Where the bytes come from.
pub(crate) enum Source {
    /// Already read and verified; everything is in `pending`.
    Verified,
    /// A regular file of a local store.
    File(tokio::fs::File),
    /// An object store's byte stream.
    Stream(BoxStream<'static, object_store::Result<Bytes>>),
}

/// An artifact opened for sequential reading.
pub struct ArtifactReader {
    digest: Digest,
    size: u64,
    source: Source,
    pending: Bytes,
    /// Hash of what was pulled from the source so far (unused once verified).
    hasher: Sha256,
    pulled: u64,
    state: State,
}

#[derive(PartialEq, Eq)]
enum State {
    Reading,
    /// Every byte was pulled and matched the digest.
    Verified,
    /// A read failed (the bytes do not match their address, or the store failed); every
    /// later read fails too.
    Failed,
}

impl ArtifactReader {
    /// A reader over `source`, which claims to hold `size` bytes with address `digest`.
    pub(crate) fn streaming(digest: Digest, size: u64, source: Source) -> Self {
        Self {
            digest,
            size,
            source,
            pending: Bytes::new(),
            hasher: Sha256::new(),
            pulled: 0,
            state: State::Reading,
        }
    }

    /// A reader over bytes already in memory, verified here before any is served.
    pub(crate) fn whole(digest: Digest, bytes: Bytes) -> Result<Self, ArtifactError> {
        let found = Digest::of(&bytes);
        if found != digest {
            return Err(ArtifactError::corrupted(digest, format!("its bytes hash to {found}")));
        }
        Ok(Self {
            digest,
            size: bytes.len() as u64,
            source: Source::Verified,
            pending: bytes,
            hasher: Sha256::new(),
            pulled: 0,
            state: State::Verified,
        })
    }

    /// Total size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether every byte was already checked against the address (a small artifact is
    /// checked when opened; a large one once read to its end).
    pub fn is_verified(&self) -> bool {
        self.state == State::Verified
    }

    /// The address the bytes are checked against.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// Reads at most `max` bytes; an empty result means the end, reached only after every
    /// byte matched the digest.
    pub async fn read(&mut self, max: usize) -> Result<Bytes, ArtifactError> {
        while self.pending.is_empty() {
            match self.state {
                State::Verified => return Ok(Bytes::new()),
                State::Failed => return Err(ArtifactError::ReadFailed(self.digest)),
                State::Reading => self.pull().await?,
            }
        }
        let n = max.min(self.pending.len());
        Ok(self.pending.split_to(n))
    }

    /// Reads whatever the consumer left unread, only to check it: `Ok` when the whole
    /// artifact matches its address. Call it before trusting what a partial read produced.
    pub async fn verify_rest(&mut self) -> Result<(), ArtifactError> {
        self.pending.clear();
        while self.state == State::Reading {
            self.pull().await?;
            self.pending.clear();
        }
        match self.state {
            State::Failed => Err(ArtifactError::ReadFailed(self.digest)),
            _ => Ok(()),
        }
    }

    /// Takes the next chunk from the source into `pending`, hashing it; at the end checks
    /// size and digest.
    async fn pull(&mut self) -> Result<(), ArtifactError> {
        let chunk = match &mut self.source {
            Source::Verified => None,
            Source::File(file) => {
                let mut buf = vec![0u8; FILE_CHUNK];
                // An I/O error is not corruption: it may pass, and the bytes may be fine.
                let n = match file.read(&mut buf).await {
                    Ok(n) => n,
                    Err(source) => {
                        self.state = State::Failed;
                        return Err(ArtifactError::Io {
                            path: format!("(reading {})", self.digest),
                            source,
                        });
                    }
                };
                buf.truncate(n);
                (n > 0).then(|| Bytes::from(buf))
            }
            Source::Stream(stream) => match stream.next().await {
                Some(Ok(chunk)) => Some(chunk),
                Some(Err(e)) => return Err(self.fail_store(e)),
                None => None,
            },
        };
        match chunk {
            Some(chunk) => {
                self.hasher.update(&chunk);
                self.pulled += chunk.len() as u64;
                if self.pulled > self.size {
                    return Err(self.fail(format!("it holds more than the {} bytes it was opened with", self.size)));
                }
                self.pending = chunk;
            }
            None => {
                let found = Digest::from_hasher(std::mem::take(&mut self.hasher));
                if self.pulled != self.size {
                    return Err(self.fail(format!("it ended after {} of {} bytes", self.pulled, self.size)));
                }
                if found != self.digest {
                    return Err(self.fail(format!("its bytes hash to {found}")));
                }
                self.state = State::Verified;
            }
        }
        Ok(())
    }

    fn fail(&mut self, reason: String) -> ArtifactError {
        self.state = State::Failed;
        self.pending.clear();
        ArtifactError::corrupted(self.digest, reason)
    }

    fn fail_store(&mut self, e: object_store::Error) -> ArtifactError {
        self.state = State::Failed;
        self.pending.clear();
        e.into()
    }
}
