//! `weft store verify`: every blob of a tenant read back and checked against its address;
//! with repair, the bad ones moved aside into the tenant's quarantine.

use crate::{ArtifactError, ArtifactStore, Digest, keys};
use futures::StreamExt;
use object_store::ObjectStoreExt;

/// One blob found in the store and what checking it showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobCheck {
    /// Its key in the store.
    pub key: String,
    /// Its size when it could be read.
    pub size: u64,
    /// What is wrong with it; `None` when its bytes match its address.
    pub problem: Option<String>,
    /// Set when the blob could not be read at all (an I/O error, or it vanished during
    /// the walk): reported, never quarantined — its bytes may well be fine.
    pub unreadable: bool,
    /// Where `repair` moved it.
    pub quarantined: Option<String>,
}

/// The outcome of a whole check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifySummary {
    /// Blobs whose bytes match their address.
    pub good: usize,
    /// Bytes read and hashed.
    pub bytes: u64,
    /// The blobs with a problem.
    pub bad: Vec<BlobCheck>,
}

impl ArtifactStore {
    /// Reads every blob of this tenant and checks it against its address; with `repair`,
    /// moves each bad one (damaged bytes, a symlink or special file at its key, a name that
    /// is no address) to `tenants/<t>/quarantine/`, so the next run that produces the
    /// artifact stores it afresh. `each` sees every blob as it is checked (for progress).
    pub async fn verify_all(
        &self,
        repair: bool,
        mut each: impl FnMut(&BlobCheck),
    ) -> Result<VerifySummary, ArtifactError> {
        let mut summary = VerifySummary::default();
        for (key, name) in self.blob_keys().await? {
            let mut check = BlobCheck {
                key: key.to_string(),
                size: 0,
                problem: None,
                unreadable: false,
                quarantined: None,
            };
            match name.parse::<Digest>() {
                Err(_) => check.problem = Some("the name is not a sha256 address".into()),
                Ok(digest) if keys::blob(&self.tenant, &digest) != key => {
                    check.problem = Some("the blob is filed under the wrong directory".into());
                }
                Ok(digest) => match self.verify(&digest).await {
                    Ok(size) => check.size = size,
                    Err(ArtifactError::Corrupted { reason, .. }) => check.problem = Some(reason),
                    Err(e) => {
                        check.problem = Some(format!("could not be read: {e}"));
                        check.unreadable = true;
                    }
                },
            }
            if check.problem.is_some() && !check.unreadable && repair {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let target = keys::quarantine(&self.tenant, &format!("{name}.{stamp}"));
                self.inner.rename(&key, &target).await?;
                check.quarantined = Some(target.to_string());
            }
            each(&check);
            match check.problem {
                None => {
                    summary.good += 1;
                    summary.bytes += check.size;
                }
                Some(_) => summary.bad.push(check),
            }
        }
        Ok(summary)
    }

    /// Every key under the tenant's blobs with its last part. On the local filesystem the
    /// directories are walked without following anything, so a symlink or FIFO planted at
    /// a key is listed (and then refused) rather than followed or skipped.
    async fn blob_keys(&self) -> Result<Vec<(object_store::path::Path, String)>, ArtifactError> {
        let area = keys::blobs(&self.tenant).join("sha256");
        let Some(root) = &self.local_root else {
            let mut out = Vec::new();
            let mut listing = self.inner.list(Some(&area));
            while let Some(meta) = listing.next().await {
                let location = meta?.location;
                let name = location.filename().unwrap_or_default().to_string();
                out.push((location, name));
            }
            out.sort();
            return Ok(out);
        };
        let dir = area
            .as_ref()
            .split('/')
            .fold(root.to_path_buf(), |p, part| p.join(part));
        let io_err = |source| ArtifactError::Io {
            path: dir.display().to_string(),
            source,
        };
        let names = tokio::task::spawn_blocking({
            let dir = dir.clone();
            move || crate::local::list_two_levels(&dir)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e)))?
        .map_err(io_err)?;
        Ok(names
            .into_iter()
            .map(|(sub, name)| {
                let key = if sub.is_empty() {
                    area.clone().join(name.as_str())
                } else {
                    area.clone().join(sub.as_str()).join(name.as_str())
                };
                (key, name)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob_path(dir: &std::path::Path, d: &Digest) -> std::path::PathBuf {
        dir.join("tenants/default/blobs/sha256")
            .join(&d.hex()[..2])
            .join(d.hex())
    }

    #[tokio::test]
    async fn finds_and_quarantines_what_does_not_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("open");
        let good = store.put_bytes(b"good", "text/plain").await.expect("put").digest;
        let bad = store.put_bytes(b"bad", "text/plain").await.expect("put").digest;
        let link = store.put_bytes(b"link", "text/plain").await.expect("put").digest;
        std::fs::write(blob_path(dir.path(), &bad), b"tampered").expect("tamper");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"link").expect("write");
        std::fs::remove_file(blob_path(dir.path(), &link)).expect("rm");
        std::os::unix::fs::symlink(&target, blob_path(dir.path(), &link)).expect("symlink");

        let mut seen = 0;
        let summary = store.verify_all(false, |_| seen += 1).await.expect("verify");
        assert_eq!((seen, summary.good, summary.bad.len()), (3, 1, 2));
        assert!(
            summary
                .bad
                .iter()
                .any(|b| b.problem.as_deref().is_some_and(|p| p.contains("symbolic link")))
        );
        assert!(summary.bad.iter().all(|b| b.quarantined.is_none()));

        let repaired = store.verify_all(true, |_| {}).await.expect("repair");
        assert_eq!(repaired.bad.len(), 2);
        assert!(repaired.bad.iter().all(|b| b.quarantined.is_some()));
        assert!(!store.contains(&bad).await);
        assert!(std::fs::read(&target).is_ok(), "the link's target is untouched");
        let after = store.verify_all(false, |_| {}).await.expect("verify");
        assert_eq!((after.good, after.bad.len()), (1, 0));
        assert_eq!(store.verify(&good).await.expect("good"), 4);
    }
}
