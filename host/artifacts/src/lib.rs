//! Weft's artifact store: content-addressed blobs over `object_store` (a local directory,
//! S3, or memory).
//!
//! Writes stream to a staging area while being hashed and become visible at their content
//! address only when published, so a half-written artifact is never visible. Reads are
//! checked against the address: bytes that do not match it are never served as the
//! artifact, and a local store never follows a symlink or opens a special file. Keys are
//! derived by the host from the tenant and the digest, never from a name a guest chose.

mod digest;
mod error;
mod inline;
mod keys;
mod local;
pub mod machine;
mod reader;
mod s3;
mod shown_url;
mod store;
mod verify;
mod writer;

pub use digest::Digest;
pub use error::ArtifactError;
pub use inline::{INLINE_MAX, InlineBlobs, InlineTier};
pub use reader::{ArtifactReader, WHOLE_LIMIT};
pub use s3::S3Config;
pub use shown_url::shown_url;
pub use store::{ArtifactMeta, ArtifactStore, S3_MAX_ARTIFACT_SIZE, STAGING_MAX_AGE};
pub use verify::{BlobCheck, VerifySummary};
pub use writer::{Staged, StagedWriter};
