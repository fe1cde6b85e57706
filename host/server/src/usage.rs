//! The bytes each tenant stores, against its `stored-bytes` quota: counted from the store
//! (its blobs) and the records (its small artifacts) when first needed and again at most
//! every [`RECOUNT`], and in between by every write — steps' outputs (taken as they are
//! written, `weft_task::ByteBudget`), uploads and published components. Writes of bytes the
//! tenant already held count until the next recount, so the count errs high, never low.

use crate::auth::Tenant;
use crate::{ApiError, Quotas, State};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use weft_artifacts::Digest;
use weft_task::ByteBudget;

/// How long a count stands before the store is listed again.
const RECOUNT: Duration = Duration::from_secs(300);

/// Each tenant's count, and when it was last listed.
#[derive(Default)]
pub(crate) struct Usage {
    tenants: Mutex<HashMap<String, (Arc<ByteBudget>, Instant)>>,
}

/// Bytes taken from a tenant's `stored-bytes` for something about to be stored: given
/// back when dropped unless [`Reserved::keep`] says it was stored.
pub(crate) struct Reserved {
    budget: Arc<ByteBudget>,
    bytes: u64,
}

impl Reserved {
    /// It was stored: the bytes stay counted.
    pub(crate) fn keep(mut self) {
        self.bytes = 0;
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.give_back(self.bytes);
    }
}

impl State {
    /// Takes `size` bytes of `tenant`'s `stored-bytes` for the artifact `digest` (nothing
    /// if it holds that artifact already): 422 naming the quota when they do not fit.
    pub(crate) async fn reserve_stored(
        &self,
        tenant: &Tenant,
        quotas: &Quotas,
        digest: &Digest,
        size: u64,
    ) -> Result<Reserved, ApiError> {
        let budget = self.stored(tenant, quotas.stored_bytes).await?;
        let bytes = if self.runner(tenant).store.contains(digest).await {
            0
        } else {
            size
        };
        budget
            .take(bytes)
            .map_err(|message| ApiError::quota(format!("quota {message}")))?;
        Ok(Reserved { budget, bytes })
    }

    /// `tenant`'s stored bytes under a quota of `limit`, listed again if the count is old.
    pub(crate) async fn stored(&self, tenant: &Tenant, limit: u64) -> Result<Arc<ByteBudget>, ApiError> {
        let fresh = {
            let tenants = self.usage.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            tenants
                .get(tenant.name())
                .filter(|(budget, at)| at.elapsed() < RECOUNT && budget.limit() == limit)
                .map(|(budget, _)| budget.clone())
        };
        if let Some(budget) = fresh {
            return Ok(budget);
        }
        let runner = self.runner(tenant);
        let (blobs, inline) = tokio::try_join!(
            async { runner.store.stored_bytes().await.map_err(ApiError::internal) },
            async { runner.records.inline_bytes().await.map_err(ApiError::from) },
        )?;
        let counted = blobs.saturating_add(inline);
        let mut tenants = self.usage.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = tenants.entry(tenant.name().to_string()).or_insert_with(|| {
            (
                Arc::new(ByteBudget::new("stored-bytes", "in all", limit, counted)),
                Instant::now(),
            )
        });
        if entry.0.limit() == limit {
            entry.0.set_used(counted);
        } else {
            // The quota changed: runs already going keep the budget they were given.
            entry.0 = Arc::new(ByteBudget::new("stored-bytes", "in all", limit, counted));
        }
        entry.1 = Instant::now();
        Ok(entry.0.clone())
    }
}
