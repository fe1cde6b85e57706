//! Errors of the artifact store.

use crate::Digest;

/// What went wrong with an artifact operation.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The store URL is not one Weft understands.
    #[error(
        "unsupported store URL `{0}`: use a directory path, `file:///abs/path`, `s3://bucket/prefix` or `memory://`"
    )]
    BadUrl(String),
    /// An `s3://` URL Weft cannot use; the message says why without repeating a secret.
    #[error("bad S3 store URL: {0}")]
    BadS3Url(String),
    /// No artifact with this digest in the store.
    #[error("artifact {0} is not in the store")]
    NotFound(Digest),
    /// The underlying object store failed (a full disk says so, and what to do).
    #[error("object store: {}", describe(.0))]
    Store(#[from] object_store::Error),
    /// A local file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The bytes at an artifact's address are not that artifact: none of them is served.
    #[error(
        "artifact {digest} is corrupt in the store ({reason}); refused. \
         `weft store verify --repair` moves it aside, and producing it again (e.g. `weft run --no-cache`) repairs it"
    )]
    Corrupted {
        /// The address.
        digest: Digest,
        /// What was found there instead.
        reason: String,
    },
    /// The run records, which hold small artifacts, could not be read.
    #[error("reading artifact {digest} from the run records: {reason}")]
    Records {
        /// The address.
        digest: Digest,
        /// Why.
        reason: String,
    },
    /// An artifact larger than the store can publish (S3's copy limit).
    #[error("an artifact may be at most {limit} bytes in this store (on S3: 5 GiB, the most one copy can move)")]
    TooLarge {
        /// The store's limit.
        limit: u64,
    },
    /// A read after an earlier failed read of the same artifact.
    #[error("artifact {0} could not be read: an earlier read of it failed")]
    ReadFailed(Digest),
}

impl ArtifactError {
    pub(crate) fn corrupted(digest: Digest, reason: String) -> ArtifactError {
        ArtifactError::Corrupted { digest, reason }
    }

    /// Whether the store's disk is full.
    pub fn is_full(&self) -> bool {
        match self {
            ArtifactError::Store(e) => no_space(e),
            ArtifactError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }

    /// Whether the store holds something other than the artifact at its address.
    pub fn is_corruption(&self) -> bool {
        matches!(self, ArtifactError::Corrupted { .. })
    }
}

/// Whether an I/O error with no space left is behind `e`.
fn no_space(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return true;
        }
        next = e.source();
    }
    false
}

/// The store's error, with the way out when its disk is full.
fn describe(e: &object_store::Error) -> String {
    if no_space(e) {
        format!(
            "{e} — the disk holding the artifact store is full: free space (or move the store with \
             `--store`), then continue with `weft run --resume RUN`"
        )
    } else {
        e.to_string()
    }
}
