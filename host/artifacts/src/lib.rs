//! Weft's artifact store: content-addressed blobs over `object_store`.
//!
//! Writes stream to a staging area while being hashed and become visible at their content
//! address only when published, so a half-written artifact is never visible. Keys are
//! derived by the host from the tenant and the digest, never from a name a guest chose.

mod digest;
mod error;
mod keys;
mod reader;
mod store;
mod writer;

pub use digest::Digest;
pub use error::ArtifactError;
pub use reader::ArtifactReader;
pub use store::{ArtifactMeta, ArtifactStore};
pub use writer::{Staged, StagedWriter};
