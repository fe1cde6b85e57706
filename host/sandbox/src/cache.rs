//! On-disk cache of compiled components, keyed by the component's digest and the engine's
//! compatibility hash, so a second run compiles nothing and an upgraded wasmtime never
//! loads code compiled by another.

use crate::SandboxError;
use std::path::{Path, PathBuf};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The cache directory and the engine-specific part of every key.
#[derive(Clone)]
pub struct CompileCache {
    dir: Option<PathBuf>,
    engine_hash: u64,
}

impl CompileCache {
    /// A cache under `dir`, or a disabled one (always compile) when `None`.
    pub fn new(dir: Option<PathBuf>, engine: &Engine) -> Result<Self, SandboxError> {
        use std::hash::{Hash, Hasher};
        if let Some(d) = &dir {
            std::fs::create_dir_all(d).map_err(|source| SandboxError::Cache {
                path: d.display().to_string(),
                source,
            })?;
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

    /// Whether compiled code for this digest is on disk.
    pub fn contains(&self, digest_hex: &str) -> bool {
        self.path_for(digest_hex).is_some_and(|p| p.exists())
    }

    /// Loads the compiled form of a component, compiling and storing it on a miss.
    /// Returns the component and whether it came from the cache.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest_hex: &str,
        bytes: &[u8],
        what: &str,
    ) -> Result<(Component, bool), SandboxError> {
        let path = self.path_for(digest_hex);
        if let Some(p) = &path
            && p.exists()
        {
            match deserialize(engine, p) {
                Ok(c) => return Ok((c, true)),
                Err(e) => {
                    tracing::warn!("discarding unusable compile cache entry {}: {e:#}", p.display());
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        let component = Component::new(engine, bytes).map_err(|e| SandboxError::NotAStep {
            what: what.to_string(),
            reason: format!("{e:#}"),
        })?;
        if let Some(p) = &path {
            // Best effort: a cache that cannot be written only costs time on the next run.
            if let Err(e) = store(&component, p) {
                tracing::warn!("cannot write compile cache entry {}: {e}", p.display());
            }
        }
        Ok((component, false))
    }
}

fn store(component: &Component, path: &Path) -> std::io::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(format!("{e:#}")))?;
    // Write then rename, so a concurrent reader never sees a half-written file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that deserialized code was produced by `serialize` of a
    // compatible engine. Only this host writes this directory (from `Component::serialize`
    // above), the file name carries the engine's compatibility hash, and wasmtime checks
    // its own header again. Tenant-supplied files are never passed here.
    unsafe { Component::deserialize_file(engine, path) }
}
