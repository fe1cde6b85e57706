//! Taking from a tenant's `stored-bytes` for what the server itself stores (uploads,
//! published components); the count is `weft_runner::StoredBytes`, shared with the runs'
//! steps.

use crate::auth::Tenant;
use crate::{ApiError, Quotas, State};
use std::sync::Arc;
use weft_artifacts::Digest;
use weft_task::ByteBudget;

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

    /// `tenant`'s stored bytes under a quota of `limit` (`weft_runner::StoredBytes`).
    pub(crate) async fn stored(self: &Arc<Self>, tenant: &Tenant, limit: u64) -> Result<Arc<ByteBudget>, ApiError> {
        self.usage
            .budget(&self.runner(tenant), tenant.name(), limit)
            .await
            .map_err(|e| ApiError::internal(format!("counting the stored bytes: {e:#}")))
    }
}
