//! The small-artifact tier: artifacts of at most [`INLINE_MAX`] bytes are kept in the run
//! records, written with the commit of the step that produced them, instead of costing an
//! object-store write (a temporary file, a rename and a directory sync on disk; a `PUT` on
//! S3) each.
//!
//! Between publishing and that commit, the bytes wait here in memory (`pending`): a
//! dependent step may start before its producer's commit lands, and reads them from here.
//! Once committed they move to a bounded cache (first in, first out), so the steps of a
//! chain read their inputs without a trip to the records. Everything else is read from the
//! records ([`InlineBlobs`]) and then from the object store (large artifacts, and small ones
//! published before this tier existed). Whatever the source, the bytes are checked against
//! their address before any is served (`ArtifactReader::whole`).
//!
//! A run killed before a commit loses its pending bytes together with the uncommitted
//! steps that produced them: `--resume` runs those steps again, and every committed step's
//! small outputs are in the records.

use crate::Digest;
use bytes::Bytes;
use futures::future::BoxFuture;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// Largest artifact kept in the records by default: 64 KiB. Measured (BENCHMARKS.md): at
/// this size a commit row costs the records a few tens of microseconds, against the
/// ~250 µs of a file published on disk and ~1.7 ms of a `PUT` to S3; and it stays far below
/// the reader's whole-check limit (`WHOLE_LIMIT`, 256 KiB), so an inline artifact is
/// always checked whole before its first byte is served.
pub const INLINE_MAX: u64 = 64 * 1024;

/// Bytes of committed small artifacts kept in memory for readers.
const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Where committed small artifacts are read from: the run records.
pub trait InlineBlobs: Send + Sync {
    /// The bytes stored for `digest` in `tenant`, if any (unchecked: the store checks them).
    fn get<'a>(&'a self, tenant: &'a str, digest: &'a Digest) -> BoxFuture<'a, Result<Option<Bytes>, String>>;
}

type Key = (String, Digest);

#[derive(Default)]
struct State {
    /// Published, not yet committed.
    pending: HashMap<Key, Bytes>,
    /// Committed (or read from the records), kept for readers.
    cache: HashMap<Key, Bytes>,
    /// Cache keys, oldest first.
    order: VecDeque<Key>,
    cached_bytes: usize,
}

/// The in-memory side of the tier, shared by every clone of a store and by the records
/// that commit its bytes.
#[derive(Clone)]
pub struct InlineTier {
    max: u64,
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for InlineTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineTier")
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl InlineTier {
    /// A tier keeping artifacts of at most `max` bytes.
    pub fn new(max: u64) -> InlineTier {
        InlineTier {
            max,
            state: Arc::default(),
        }
    }

    /// Largest artifact kept here.
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Whether an artifact of `size` bytes is kept here (none with a limit of 0: the store
    /// then publishes everything itself, and only reads what the records already hold).
    pub fn takes(&self, size: u64) -> bool {
        self.max > 0 && size <= self.max
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a pair of maps left consistent at every step: a panic elsewhere
        // while it was held does not make it wrong.
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn put_pending(&self, tenant: &str, digest: Digest, bytes: Bytes) {
        self.lock().pending.insert((tenant.to_string(), digest), bytes);
    }

    /// The bytes of a published artifact not yet committed, for the commit to write.
    pub fn pending(&self, tenant: &str, digest: &Digest) -> Option<Bytes> {
        self.lock().pending.get(&(tenant.to_string(), *digest)).cloned()
    }

    /// After a commit wrote them: these artifacts move from pending to the cache.
    pub fn committed<'a>(&self, tenant: &str, digests: impl IntoIterator<Item = &'a Digest>) {
        let mut state = self.lock();
        for digest in digests {
            let key = (tenant.to_string(), *digest);
            if let Some(bytes) = state.pending.remove(&key) {
                cache_in(&mut state, key, bytes);
            }
        }
    }

    /// Bytes held in memory for `digest`: pending first, then cached.
    pub(crate) fn get(&self, tenant: &str, digest: &Digest) -> Option<Bytes> {
        let state = self.lock();
        let key = (tenant.to_string(), *digest);
        state.pending.get(&key).or_else(|| state.cache.get(&key)).cloned()
    }

    /// Keeps bytes read (and checked) from the records for the next reader.
    pub(crate) fn cache(&self, tenant: &str, digest: Digest, bytes: Bytes) {
        cache_in(&mut self.lock(), (tenant.to_string(), digest), bytes);
    }

    /// Forgets a cached copy (it turned out not to match its address).
    pub(crate) fn forget(&self, tenant: &str, digest: &Digest) {
        let mut state = self.lock();
        let key = (tenant.to_string(), *digest);
        if let Some(bytes) = state.cache.remove(&key) {
            state.cached_bytes -= bytes.len();
            state.order.retain(|k| *k != key);
        }
    }

    /// Number of artifacts waiting for a commit (for tests and diagnostics).
    pub fn pending_count(&self) -> usize {
        self.lock().pending.len()
    }
}

fn cache_in(state: &mut State, key: Key, bytes: Bytes) {
    if state.cache.contains_key(&key) || bytes.len() > CACHE_BYTES {
        return;
    }
    state.cached_bytes += bytes.len();
    state.order.push_back(key.clone());
    state.cache.insert(key, bytes);
    while state.cached_bytes > CACHE_BYTES {
        let Some(old) = state.order.pop_front() else { break };
        if let Some(b) = state.cache.remove(&old) {
            state.cached_bytes -= b.len();
        }
    }
}

/// A store's tier and the records behind it.
#[derive(Clone)]
pub(crate) struct Inline {
    pub tier: InlineTier,
    pub blobs: Arc<dyn InlineBlobs>,
}

impl std::fmt::Debug for Inline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.tier.fmt(f)
    }
}
