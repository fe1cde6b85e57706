//! The layout of keys in the object store. Every key is derived here from the tenant and
//! a digest or run id the host generated; nothing a guest supplies ever becomes a key.

use crate::Digest;
use object_store::path::Path;

/// `tenants/<tenant>/blobs/sha256/<ab>/<hex>`: published artifact bytes.
pub fn blob(tenant: &str, digest: &Digest) -> Path {
    let hex = digest.hex();
    Path::from_iter(["tenants", tenant, "blobs", "sha256", &hex[..2], &hex])
}

/// `tenants/<tenant>/staging/<id>`: bytes being written, not yet published.
pub fn staging(tenant: &str, id: &str) -> Path {
    Path::from_iter(["tenants", tenant, "staging", id])
}

/// `tenants/<tenant>/staging/`: the staging area.
pub fn staging_area(tenant: &str) -> Path {
    Path::from_iter(["tenants", tenant, "staging"])
}

/// `tenants/<tenant>/blobs/`: every published artifact.
pub fn blobs(tenant: &str) -> Path {
    Path::from_iter(["tenants", tenant, "blobs"])
}

/// `tenants/<tenant>/quarantine/<name>`: objects `weft store verify --repair` moved
/// aside because they did not match their address.
pub fn quarantine(tenant: &str, name: &str) -> Path {
    Path::from_iter(["tenants", tenant, "quarantine", name])
}
