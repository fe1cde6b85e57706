//! Which host files a workflow may read as its inputs (`inputs: NAME: {path: ...}`).
//!
//! The policy, checked before anything is stored: the path is resolved (symlinks
//! followed) and the resolved path is what is read and reported; it must be a regular
//! file on a real filesystem (never a device, FIFO, `/proc`, `/sys` or another kernel
//! pseudo-filesystem, whose files claim size 0 and stream without end), of at most
//! `--max-input-size` bytes (64 GiB by default). A server narrows it: `--inputs-root DIR`
//! allows only files under DIR (checked on the resolved path, so a symlink cannot lead
//! out), `--no-host-inputs` allows no host path at all.

use crate::files::{FileError, fmt_bytes, open_regular};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;
use weft_artifacts::{ArtifactMeta, ArtifactStore};

/// Largest workflow input file by default.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 64 << 30;

/// Which host paths are allowed.
#[derive(Debug, Clone)]
pub enum Allowed {
    /// Any regular file the user can read (the local CLI).
    Any,
    /// Only files whose resolved path lies under this (resolved) directory.
    Under(PathBuf),
    /// No host path at all.
    Nothing,
}

/// The input-file policy in force.
#[derive(Debug, Clone)]
pub struct InputPolicy {
    /// Which paths.
    pub allowed: Allowed,
    /// Largest file, in bytes.
    pub max_bytes: u64,
}

/// An input file that passed the policy.
#[derive(Debug, Clone)]
pub struct CheckedInput {
    /// The resolved path: what is read, and what is reported.
    pub path: PathBuf,
    /// The file's identity when checked (device, inode): the file imported must be it.
    id: (u64, u64),
    /// The most that will be read from it.
    max_bytes: u64,
}

/// Kernel pseudo-filesystems (statfs magic numbers): proc, sysfs, debugfs, tracefs,
/// securityfs, cgroup, cgroup2, configfs, efivarfs, bpf, pstore.
const PSEUDO_FILESYSTEMS: [i128; 11] = [
    0x9fa0,
    0x6265_6572,
    0x6462_6720,
    0x7472_6163,
    0x7363_6673,
    0x0027_e0eb,
    0x6367_7270,
    0x6265_6570,
    0xde5e_81e4,
    0xcafe_4a11,
    0x6165_676c,
];

impl InputPolicy {
    /// The policy from the settings; a root that does not resolve is an error.
    pub fn new(root: Option<&Path>, no_host_paths: bool, max_bytes: Option<u64>) -> anyhow::Result<InputPolicy> {
        let allowed = match (root, no_host_paths) {
            (_, true) => Allowed::Nothing,
            (Some(dir), false) => Allowed::Under(
                std::fs::canonicalize(dir).map_err(|e| anyhow::anyhow!("--inputs-root {}: {e}", dir.display()))?,
            ),
            (None, false) => Allowed::Any,
        };
        Ok(InputPolicy {
            allowed,
            max_bytes: max_bytes.unwrap_or(DEFAULT_MAX_INPUT_BYTES),
        })
    }

    /// Checks one input file; the error says why it may not be read.
    pub fn check(&self, path: &Path) -> Result<CheckedInput, String> {
        if matches!(self.allowed, Allowed::Nothing) {
            return Err(format!(
                "{}: host paths are not allowed as workflow inputs here (--no-host-inputs / WEFT_NO_HOST_INPUTS)",
                path.display()
            ));
        }
        let real = std::fs::canonicalize(path).map_err(|e| {
            format!(
                "no file {} ({e}; paths are relative to the workflow file)",
                path.display()
            )
        })?;
        let shown = if real == path {
            path.display().to_string()
        } else {
            format!("{} (resolved to {})", path.display(), real.display())
        };
        if let Allowed::Under(root) = &self.allowed
            && !real.starts_with(root)
        {
            return Err(format!(
                "{shown} is outside the allowed inputs root {} (--inputs-root)",
                root.display()
            ));
        }
        if ["/proc", "/sys", "/dev"].iter().any(|p| real.starts_with(p)) {
            return Err(format!("{shown} is a system pseudo-file, not a data file"));
        }
        let (file, meta) = open_regular(&real).map_err(|e| match e {
            FileError::NotRegular(_) => format!("{shown}: {e}"),
            e => format!("cannot read {shown}: {e}"),
        })?;
        if rustix::fs::fstatfs(&file).is_ok_and(|st| PSEUDO_FILESYSTEMS.contains(&i128::from(st.f_type))) {
            return Err(format!("{shown} is on a kernel pseudo-filesystem, not a data file"));
        }
        if meta.len() > self.max_bytes {
            return Err(format!(
                "{shown} is {} bytes, more than the {} allowed for a workflow input (--max-input-size)",
                meta.len(),
                fmt_bytes(self.max_bytes)
            ));
        }
        Ok(CheckedInput {
            path: real,
            id: (meta.dev(), meta.ino()),
            max_bytes: self.max_bytes,
        })
    }
}

impl CheckedInput {
    /// Streams the checked file into the store. It is opened again without following a
    /// symlink and must be the very file that was checked (same device and inode), and
    /// reading stops with an error past the size limit, so a file swapped or grown after
    /// the check is refused rather than read.
    pub async fn import(&self, store: &ArtifactStore, media_type: &str) -> anyhow::Result<ArtifactMeta> {
        let shown = self.path.display();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(
                (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK)
                    .bits()
                    .cast_signed(),
            )
            .open(&self.path)
            .map_err(|e| anyhow::anyhow!("cannot read {shown}: {e}"))?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != self.id || !meta.is_file() {
            anyhow::bail!("{shown} was replaced after it was checked; run again");
        }
        // Said before any byte travels: an S3 store cannot publish more than 5 GiB at once.
        if let Some(limit) = store.max_artifact_size()
            && meta.len() > limit
        {
            anyhow::bail!(
                "{shown} is {}, more than the {} one artifact may be in the store at {}",
                fmt_bytes(meta.len()),
                fmt_bytes(limit),
                store.url()
            );
        }
        let mut file = tokio::fs::File::from_std(file);
        let mut w = store.stage();
        let mut buf = vec![0u8; 256 * 1024];
        let mut total: u64 = 0;
        loop {
            let n = file.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            total += n as u64;
            if total > self.max_bytes {
                anyhow::bail!(
                    "{shown} grew past the {} allowed for a workflow input while it was read (--max-input-size)",
                    fmt_bytes(self.max_bytes)
                );
            }
            w.write(&buf[..n]).await?;
        }
        Ok(store.publish(w.finish().await?, media_type).await?)
    }
}

/// A submitted workflow's input: the artifact bound to it must be in the tenant's store.
/// Returns its digest and size, or the problem to report.
pub(crate) async fn stored_input(
    store: Option<&ArtifactStore>,
    bound: Option<&weft_artifacts::Digest>,
) -> Result<(weft_artifacts::Digest, u64), String> {
    let Some(digest) = bound else {
        return Err("no artifact is bound to this input: upload the file and bind its digest".to_string());
    };
    let Some(store) = store else {
        return Err("bug: a submitted workflow loaded without a store".to_string());
    };
    match store.reader(digest).await {
        Ok(reader) => Ok((*digest, reader.size())),
        Err(weft_artifacts::ArtifactError::NotFound(_)) => {
            Err(format!("no artifact {digest} has been uploaded: upload the file first"))
        }
        Err(e) => {
            // The store's own words may name its paths or hosts: logged, not answered.
            tracing::error!("reading the bound input {digest} from the store: {e}");
            Err(format!(
                "artifact {digest} cannot be read from the store now; try again later"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sparse file of `len` bytes in a fresh directory (kept alive by the guard).
    fn sparse_file(len: u64) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("big");
        std::fs::File::create(&p).expect("create").set_len(len).expect("sparse");
        (dir, p)
    }

    fn any() -> InputPolicy {
        InputPolicy::new(None, false, None).expect("policy")
    }

    #[test]
    fn pseudo_files_and_devices_are_refused() {
        for p in [
            "/proc/self/pagemap",
            "/proc/self/status",
            "/dev/zero",
            "/sys/kernel/mm/transparent_hugepage/enabled",
        ] {
            if Path::new(p).exists() {
                let err = any().check(Path::new(p)).expect_err(p);
                assert!(
                    err.contains("pseudo") || err.contains("not a regular file"),
                    "{p}: {err}"
                );
            }
        }
    }

    #[test]
    fn symlinks_are_resolved_and_the_root_holds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        std::fs::write(root.join("in.csv"), "a\n").expect("write");
        std::fs::write(dir.path().join("secret"), "s\n").expect("write");
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link")).expect("symlink");
        let policy = InputPolicy::new(Some(&root), false, None).expect("policy");
        assert!(policy.check(&root.join("in.csv")).is_ok());
        let err = policy.check(&root.join("link")).expect_err("escapes");
        assert!(err.contains("resolved to") && err.contains("outside"), "{err}");
        assert!(policy.check(&root.join("../secret")).is_err());
        let checked = any().check(&root.join("link")).expect("the CLI allows it");
        assert_eq!(
            checked.path,
            std::fs::canonicalize(dir.path().join("secret")).expect("real")
        );
        let none = InputPolicy::new(None, true, None).expect("policy");
        assert!(
            none.check(&root.join("in.csv"))
                .expect_err("no host paths")
                .contains("not allowed")
        );
    }

    #[tokio::test]
    async fn the_file_imported_is_the_file_checked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open("memory://").expect("store");
        let p = dir.path().join("in.csv");
        std::fs::write(&p, "a,b\n").expect("write");
        let policy = InputPolicy::new(None, false, Some(8)).expect("policy");
        let checked = policy.check(&p).expect("checked");
        assert_eq!(checked.import(&store, "text/csv").await.expect("import").size, 4);
        // Grown past the cap after the check: refused while reading.
        std::fs::write(&p, "a,b\n1,2\n3,4\n").expect("grow");
        let err = checked.import(&store, "text/csv").await.expect_err("grown");
        assert!(err.to_string().contains("grew past the 8 bytes"), "{err}");
        // Another file renamed into its place: refused.
        std::fs::write(&p, "a,b\n").expect("shrink");
        let checked = policy.check(&p).expect("checked");
        std::fs::write(dir.path().join("other"), "x\n").expect("write");
        std::fs::rename(dir.path().join("other"), &p).expect("swap");
        let err = checked.import(&store, "text/csv").await.expect_err("swapped");
        assert!(err.to_string().contains("was replaced after it was checked"), "{err}");
    }

    /// A file larger than one artifact may be in the store (S3: 5 GiB) is refused before
    /// any byte is uploaded.
    #[tokio::test]
    async fn an_input_past_the_stores_artifact_limit_is_refused_before_reading() {
        let (_dir, p) = sparse_file(2 << 20);
        let store = ArtifactStore::open("memory://")
            .expect("store")
            .with_max_artifact_size(1 << 20);
        let checked = any().check(&p).expect("checked");
        let err = checked.import(&store, "text/plain").await.expect_err("too big");
        assert!(
            err.to_string()
                .contains("is 2 MiB, more than the 1 MiB one artifact may be"),
            "{err}"
        );
    }

    #[test]
    fn size_is_capped() {
        let (_dir, p) = sparse_file(2 << 20);
        let policy = InputPolicy::new(None, false, Some(1 << 20)).expect("policy");
        assert!(policy.check(&p).expect_err("too big").contains("more than the 1 MiB"));
    }
}
