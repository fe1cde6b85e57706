//! On-disk cache of compiled components, keyed by the component's digest and the engine's
//! compatibility hash, so a second run compiles nothing and an upgraded wasmtime never
//! loads code compiled by another.
//!
//! Deserializing compiled code runs it as native code, so an entry is trusted only when
//! (a) the directory is private to the user running Weft: owned by them and writable by
//! no one else (created `0700`); (b) the entry is a regular file (never a symlink) owned
//! by them and writable by no one else; and (c) its header names the component digest and
//! engine hash it was looked up by and the SHA-256 of the compiled bytes that follow,
//! which must match. (a) and (b) keep other users out; (c) catches an entry copied,
//! renamed or truncated under another key. An entry failing (b) or (c) is discarded and
//! the component compiled again; a directory failing (a) is refused.

use crate::SandboxError;
use sha2::{Digest as _, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// First bytes of every entry: the format of the header that follows.
const MAGIC: &[u8; 8] = b"WEFTCC01";
/// Magic, component digest (hex), engine hash, SHA-256 of the compiled bytes.
const HEADER_LEN: usize = 8 + 64 + 8 + 32;
/// Largest entry read back: compiled code is a few times the component at most.
const MAX_ENTRY_BYTES: u64 = 4 << 30;

/// The cache directory and the engine-specific part of every key.
#[derive(Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_hash: u64,
}

/// Why an entry was not used.
#[derive(Debug, thiserror::Error)]
enum EntryError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Untrusted(String),
}

impl CompileCache {
    /// A cache under `dir` (created private to this user), or a disabled one (always
    /// compile) when `None`. Refuses a directory another user could write.
    pub fn new(dir: Option<PathBuf>, engine: &Engine) -> Result<Self, SandboxError> {
        use std::hash::{Hash, Hasher};
        if let Some(d) = &dir {
            let io = |source| SandboxError::Cache {
                path: d.display().to_string(),
                source,
            };
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(d)
                .map_err(io)?;
            check_private_dir(d)?;
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut h);
        Ok(Self {
            dir,
            engine_hash: h.finish(),
        })
    }

    fn path_for(&self, digest_hex: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{digest_hex}-{:016x}.cwasm", self.engine_hash)))
    }

    /// Whether compiled code for this digest is on disk (not yet verified).
    pub fn contains(&self, digest_hex: &str) -> bool {
        self.path_for(digest_hex).is_some_and(|p| p.exists())
    }

    /// The cached compiled component for `digest`, if there is a trustworthy entry; an
    /// untrustworthy or unusable one is removed (it will be compiled again).
    pub fn get(&self, engine: &Engine, digest_hex: &str) -> Option<Component> {
        let path = self.path_for(digest_hex)?;
        let payload = match self.read_entry(&path, digest_hex) {
            Ok(Some(p)) => p,
            Ok(None) => return None,
            Err(e) => {
                tracing::warn!("discarding compile cache entry {}: {e}", path.display());
                let _ = std::fs::remove_file(&path);
                return None;
            }
        };
        match deserialize(engine, &payload) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("discarding unusable compile cache entry {}: {e:#}", path.display());
                let _ = std::fs::remove_file(&path);
                None
            }
        }
    }

    /// Reads and verifies an entry; `None` when there is none.
    fn read_entry(&self, path: &Path, digest_hex: &str) -> Result<Option<Vec<u8>>, EntryError> {
        // O_NOFOLLOW: a symlink planted at the entry's name is refused, not followed;
        // O_NONBLOCK: a FIFO there cannot hang the open.
        let file = match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(
                (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK)
                    .bits()
                    .cast_signed(),
            )
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(EntryError::Untrusted("not a regular file".into()));
        }
        check_owner_and_mode(&meta).map_err(EntryError::Untrusted)?;
        if meta.len() > MAX_ENTRY_BYTES || meta.len() < HEADER_LEN as u64 {
            return Err(EntryError::Untrusted(format!(
                "implausible size ({} bytes)",
                meta.len()
            )));
        }
        let mut bytes = Vec::new();
        file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes)?;
        let (header, payload) = bytes.split_at(HEADER_LEN.min(bytes.len()));
        if header.len() < HEADER_LEN || &header[..8] != MAGIC {
            return Err(EntryError::Untrusted("no Weft cache header".into()));
        }
        if &header[8..72] != digest_hex.as_bytes() {
            return Err(EntryError::Untrusted(format!(
                "it holds the code of another component (sha256:{})",
                String::from_utf8_lossy(&header[8..72])
            )));
        }
        if header[72..80] != self.engine_hash.to_le_bytes() {
            return Err(EntryError::Untrusted("it was compiled by another engine".into()));
        }
        if header[80..112] != Sha256::digest(payload)[..] {
            return Err(EntryError::Untrusted(
                "the compiled code does not match its checksum".into(),
            ));
        }
        Ok(Some(payload.to_vec()))
    }

    /// Stores compiled code for `digest`. Best effort: a cache that cannot be written only
    /// costs time on the next run.
    pub fn put(&self, digest_hex: &str, compiled: &[u8]) {
        let Some(path) = self.path_for(digest_hex) else {
            return;
        };
        if digest_hex.len() != 64 {
            return;
        }
        if let Err(e) = self.write_entry(&path, digest_hex, compiled) {
            tracing::warn!("cannot write compile cache entry {}: {e}", path.display());
        }
    }

    fn write_entry(&self, path: &Path, digest_hex: &str, compiled: &[u8]) -> std::io::Result<()> {
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(digest_hex.as_bytes());
        header.extend_from_slice(&self.engine_hash.to_le_bytes());
        header.extend_from_slice(&Sha256::digest(compiled));
        // Write a private temporary file (created new: never through a planted one), then
        // rename, so a concurrent reader never sees a half-written entry.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(&header)?;
        file.write_all(compiled)?;
        file.sync_data()?;
        drop(file);
        std::fs::rename(&tmp, path)
    }
}

/// The user running Weft.
fn euid() -> u32 {
    rustix::process::geteuid().as_raw()
}

/// An entry or directory is trusted only if this user owns it and no one else may write it.
fn check_owner_and_mode(meta: &std::fs::Metadata) -> Result<(), String> {
    if meta.uid() != euid() {
        return Err(format!(
            "it is owned by user {}, not by this user ({})",
            meta.uid(),
            euid()
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(format!("other users may write it (mode {mode:04o})"));
    }
    Ok(())
}

/// Refuses a cache directory that another user could plant code in.
fn check_private_dir(dir: &Path) -> Result<(), SandboxError> {
    let meta = std::fs::metadata(dir).map_err(|source| SandboxError::Cache {
        path: dir.display().to_string(),
        source,
    })?;
    check_owner_and_mode(&meta).map_err(|reason| SandboxError::CacheNotPrivate {
        path: dir.display().to_string(),
        reason,
    })
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that deserialized code was produced by `serialize` /
    // `precompile_component` of a compatible engine. These bytes come from an entry of a
    // directory only this user can write, owned by this user, whose header names this
    // component's digest and this engine's hash and whose checksum matched: code this
    // host compiled for exactly this component. wasmtime checks its own header again.
    unsafe { Component::deserialize(engine, compiled) }
}

/// Deserializes code this process just compiled (in a child process of its own binary).
#[allow(unsafe_code)]
pub(crate) fn deserialize_own(engine: &Engine, compiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: the bytes are the output of `Engine::precompile_component` run by this very
    // executable (`weft` re-executing itself) on an engine with the same configuration;
    // they never touched the disk or another user's hands.
    unsafe { Component::deserialize(engine, compiled) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut cfg = wasmtime::Config::new();
        cfg.wasm_component_model(true);
        Engine::new(&cfg).expect("engine")
    }

    /// The smallest component: a component header and nothing else.
    const EMPTY: &[u8] = b"\0asm\x0d\0\x01\0";

    #[test]
    fn a_round_trip_and_a_planted_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = engine();
        let cache = CompileCache::new(Some(dir.path().join("c")), &engine).expect("cache");
        let compiled = engine.precompile_component(EMPTY).expect("compile");
        let (a, b) = (&"a".repeat(64), &"b".repeat(64));
        cache.put(a, &compiled);
        assert!(cache.get(&engine, a).is_some(), "a verified entry is used");
        // B's entry copied over A's name (valid code, right file name): refused and removed.
        let path_a = cache.path_for(a).expect("path");
        let path_b = cache.path_for(b).expect("path");
        cache.put(b, &compiled);
        std::fs::copy(&path_b, &path_a).expect("plant");
        assert!(cache.get(&engine, a).is_none());
        assert!(!path_a.exists(), "the planted entry is removed");
        // Raw serialized code without our header: refused.
        std::fs::write(&path_a, &compiled).expect("plant raw");
        assert!(cache.get(&engine, a).is_none());
        // A flipped byte in the code: refused.
        cache.put(a, &compiled);
        let mut bytes = std::fs::read(&path_a).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path_a, &bytes).expect("corrupt");
        assert!(cache.get(&engine, a).is_none());
        // A symlink at the entry's name is not followed.
        cache.put(b, &compiled);
        std::os::unix::fs::symlink(&path_b, &path_a).expect("symlink");
        assert!(cache.get(&engine, a).is_none());
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).expect("mkdir");
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = CompileCache::new(Some(shared.clone()), &engine())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("other users may write it"), "{err}");
        let created = dir.path().join("new/cache");
        CompileCache::new(Some(created.clone()), &engine()).expect("created");
        let mode = std::fs::metadata(&created).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
    }
}
