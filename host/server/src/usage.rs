//! The bytes each tenant stores, against its `stored-bytes` quota: counted from the store
//! (its blobs) and the records (its small artifacts) when first needed, and again in the
//! background when the count is older than [`RECOUNT`]; in between, every write counts —
//! steps' outputs (taken as they are written, `weft_task::ByteBudget`), uploads and
//! published components. Writes of bytes the tenant already held count until the next
//! recount. A recount replaces only the settled bytes: writes under way keep counting.

use crate::auth::Tenant;
use crate::{ApiError, Quotas, State};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use weft_artifacts::Digest;
use weft_task::ByteBudget;

/// How long a count stands before the store is listed again.
const RECOUNT: Duration = Duration::from_secs(300);

/// Each tenant's count.
#[derive(Default)]
pub(crate) struct Usage {
    tenants: Mutex<HashMap<String, Count>>,
}

struct Count {
    budget: Arc<ByteBudget>,
    /// When the store was last listed.
    at: Instant,
    /// Whether a recount is under way.
    recounting: bool,
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
        self.budget.settle(std::mem::take(&mut self.bytes));
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

impl Usage {
    /// Bytes stored by the tenants counted so far.
    pub(crate) fn total(&self) -> u64 {
        let tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        tenants.values().map(|c| c.budget.used()).sum()
    }
}

impl State {
    /// Takes `size` bytes of `tenant`'s `stored-bytes` for the artifact `digest` (nothing
    /// if it holds that artifact already): 422 naming the quota when they do not fit.
    pub(crate) async fn reserve_stored(
        self: &Arc<Self>,
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

    /// `tenant`'s stored bytes under a quota of `limit`: counted now the first time, then
    /// listed again in the background when the count is old (one recount at a time).
    pub(crate) async fn stored(self: &Arc<Self>, tenant: &Tenant, limit: u64) -> Result<Arc<ByteBudget>, ApiError> {
        let known = {
            let mut tenants = self.usage.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            match tenants.get_mut(tenant.name()) {
                Some(count) if count.budget.limit() == limit => {
                    let stale = count.at.elapsed() >= RECOUNT && !count.recounting;
                    count.recounting |= stale;
                    Some((count.budget.clone(), stale))
                }
                _ => None,
            }
        };
        if let Some((budget, stale)) = known {
            if stale {
                let (state, tenant, budget) = (self.clone(), tenant.clone(), budget.clone());
                budget.begin_recount();
                tokio::spawn(async move {
                    let counted = state.count_stored(&tenant).await;
                    let mut tenants = state.usage.tenants.lock().unwrap_or_else(PoisonError::into_inner);
                    match &counted {
                        Ok(bytes) => budget.set_settled(*bytes),
                        Err(e) => {
                            budget.abandon_recount();
                            tracing::warn!(tenant = tenant.name(), "cannot count stored bytes: {e:?}");
                        }
                    }
                    // Only the count this recount was for (the quota may have changed).
                    if let Some(count) = tenants
                        .get_mut(tenant.name())
                        .filter(|c| Arc::ptr_eq(&c.budget, &budget))
                    {
                        count.recounting = false;
                        if counted.is_ok() {
                            count.at = Instant::now();
                        }
                    }
                });
            }
            return Ok(budget);
        }
        // First use, or a changed quota: runs already going keep the budget they were given.
        let counted = self.count_stored(tenant).await?;
        let mut tenants = self.usage.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        // Another request may have counted meanwhile: everyone shares its budget.
        if let Some(count) = tenants.get(tenant.name()).filter(|c| c.budget.limit() == limit) {
            return Ok(count.budget.clone());
        }
        let budget = Arc::new(ByteBudget::new("stored-bytes", "in all", limit, counted));
        tenants.insert(
            tenant.name().to_string(),
            Count {
                budget: budget.clone(),
                at: Instant::now(),
                recounting: false,
            },
        );
        Ok(budget)
    }

    /// The bytes of `tenant`'s blobs in the store and small artifacts in the records.
    async fn count_stored(&self, tenant: &Tenant) -> Result<u64, ApiError> {
        let runner = self.runner(tenant);
        let (blobs, inline) = tokio::try_join!(
            async { runner.store.stored_bytes().await.map_err(ApiError::internal) },
            async { runner.records.inline_bytes().await.map_err(ApiError::from) },
        )?;
        Ok(blobs.saturating_add(inline))
    }
}
