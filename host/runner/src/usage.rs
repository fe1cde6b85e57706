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

/// Each tenant's count, per quota it is counted against: a server's runs take the current
/// quota, but runs on workers keep the one they were handed over with, so one tenant's
/// runs with different quotas each have a count (listed on its own, not once per step).
#[derive(Default)]
pub struct StoredBytes {
    tenants: Mutex<HashMap<(String, u64), Count>>,
}

struct Count {
    budget: Arc<ByteBudget>,
    /// When the store was last listed.
    at: Instant,
    /// Whether a recount is under way.
    recounting: bool,
}

impl StoredBytes {
    /// Bytes stored by the tenants counted so far (of a tenant counted against several
    /// quotas, the largest count).
    pub fn total(&self) -> u64 {
        let tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let mut used: HashMap<&str, u64> = HashMap::new();
        for ((tenant, _), count) in tenants.iter() {
            let n = used.entry(tenant).or_default();
            *n = (*n).max(count.budget.used());
        }
        used.values().sum()
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
            match tenants.get_mut(&(tenant.to_string(), limit)) {
                Some(count) => {
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
                    if let Some(count) = tenants
                        .get_mut(&(tenant.clone(), budget.limit()))
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
        let counted = count(runner).await?;
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (tenant.to_string(), limit);
        // Another request may have counted meanwhile: everyone shares its budget.
        if let Some(count) = tenants.get(&key) {
            return Ok(count.budget.clone());
        }
        // The tenant's counts against other quotas that nothing holds any more go.
        tenants.retain(|(t, l), c| t != tenant || *l == limit || Arc::strong_count(&c.budget) > 1);
        let budget = Arc::new(ByteBudget::new("stored-bytes", "in all", limit, counted));
        tenants.insert(
            key,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{InputPolicy, Loader, Sandboxes};
    use weft_artifacts::ArtifactStore;
    use weft_records::{Durability, Location, Records};

    #[tokio::test]
    async fn each_quota_a_tenants_runs_carry_has_its_own_count_until_nothing_holds_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::open(
            Location::Sqlite(dir.path().join("records.db")),
            "default",
            Durability::Process,
        )
        .await
        .expect("records");
        let store = ArtifactStore::open(dir.path().join("store").to_str().expect("utf-8")).expect("store");
        store
            .put_bytes_stored(&[7; 100], "application/octet-stream")
            .await
            .expect("put");
        let runner = Runner {
            loader: Loader {
                plugin_path: Vec::new(),
                input_policy: InputPolicy::new(None, false, None).expect("policy"),
                sandbox: weft_sandbox::SandboxConfig::default(),
                notes: Arc::new(|_| {}),
                sandboxes: Sandboxes::default(),
            },
            store,
            records,
        };
        let usage = Arc::new(StoredBytes::default());
        let old = usage.budget(&runner, "default", 1000).await.expect("count");
        let new = usage.budget(&runner, "default", 2000).await.expect("count");
        assert!(!Arc::ptr_eq(&old, &new), "a count per quota");
        assert_eq!((old.used(), new.used()), (100, 100));
        // Asked again, each quota's count is the same, not listed again.
        assert!(Arc::ptr_eq(
            &old,
            &usage.budget(&runner, "default", 1000).await.expect("count")
        ));
        old.take(50).expect("fits");
        assert_eq!(usage.total(), 150, "the tenant once, at its largest count");
        drop(old);
        // A count nothing holds goes when another quota is counted.
        let _third = usage.budget(&runner, "default", 3000).await.expect("count");
        let kept: Vec<u64> = usage.tenants.lock().expect("lock").keys().map(|(_, l)| *l).collect();
        assert!(!kept.contains(&1000) && kept.contains(&2000), "{kept:?}");
    }
}
