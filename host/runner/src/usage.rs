//! The bytes each tenant stores, against its `stored-bytes` quota: counted from the store
//! (its blobs) and the records (its small artifacts) when first needed, and again in the
//! background when the count is older than [`RECOUNT`]; in between, every write this
//! process makes counts — steps' outputs (taken as they are written,
//! `weft_task::ByteBudget`), a server's uploads and published components. Writes of bytes
//! the tenant already held count until the next recount. A recount replaces only the
//! settled bytes: writes under way keep counting. A server and each worker keep their own
//! count: what the others wrote is seen at the next recount.

use crate::Runner;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use weft_task::ByteBudget;

/// How long a count stands before the store is listed again.
const RECOUNT: Duration = Duration::from_secs(300);

/// Each tenant's count.
#[derive(Default)]
pub struct StoredBytes {
    tenants: Mutex<HashMap<String, Count>>,
}

struct Count {
    budget: Arc<ByteBudget>,
    /// When the store was last listed.
    at: Instant,
    /// Whether a recount is under way.
    recounting: bool,
}

impl StoredBytes {
    /// Bytes stored by the tenants counted so far.
    pub fn total(&self) -> u64 {
        let tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        tenants.values().map(|c| c.budget.used()).sum()
    }

    /// The stored bytes of the tenant of `runner` (narrowed to it, `Runner::for_tenant`)
    /// under a quota of `limit`: counted now the first time, then listed again in the
    /// background when the count is old (one recount at a time).
    pub async fn budget(
        self: &Arc<Self>,
        runner: &Runner,
        tenant: &str,
        limit: u64,
    ) -> anyhow::Result<Arc<ByteBudget>> {
        let known = {
            let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
            match tenants.get_mut(tenant) {
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
                let (usage, runner, tenant, budget) =
                    (self.clone(), runner.clone(), tenant.to_string(), budget.clone());
                budget.begin_recount();
                tokio::spawn(async move {
                    let counted = count(&runner).await;
                    let mut tenants = usage.tenants.lock().unwrap_or_else(PoisonError::into_inner);
                    match &counted {
                        Ok(bytes) => budget.set_settled(*bytes),
                        Err(e) => {
                            budget.abandon_recount();
                            tracing::warn!(tenant = %tenant, "cannot count stored bytes: {e:#}");
                        }
                    }
                    // Only the count this recount was for (the quota may have changed).
                    if let Some(count) = tenants.get_mut(&tenant).filter(|c| Arc::ptr_eq(&c.budget, &budget)) {
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
        let counted = count(runner).await?;
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        // Another request may have counted meanwhile: everyone shares its budget.
        if let Some(count) = tenants.get(tenant).filter(|c| c.budget.limit() == limit) {
            return Ok(count.budget.clone());
        }
        let budget = Arc::new(ByteBudget::new("stored-bytes", "in all", limit, counted));
        tenants.insert(
            tenant.to_string(),
            Count {
                budget: budget.clone(),
                at: Instant::now(),
                recounting: false,
            },
        );
        Ok(budget)
    }
}

/// The bytes of the tenant's blobs in the store and small artifacts in the records.
async fn count(runner: &Runner) -> anyhow::Result<u64> {
    let (blobs, inline) = tokio::try_join!(async { anyhow::Ok(runner.store.stored_bytes().await?) }, async {
        anyhow::Ok(runner.records.inline_bytes().await?)
    },)?;
    Ok(blobs.saturating_add(inline))
}
