//! The audit log of a shared Weft (migration 0006): one append-only row per thing a tenant
//! did through the server — submitted, cancelled or resumed a run, uploaded or downloaded
//! an artifact — with when, what it concerned and the digests involved. A tenant reads its
//! own rows only (`GET /api/v1/audit`, `weft audit`).

use crate::{Records, RecordsError, now_ms};
use serde::Serialize;

/// Most entries read at once.
pub const MAX_AUDIT_PAGE: u32 = 1_000;

/// One thing a tenant did.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    /// Increasing; page with `after`.
    pub id: i64,
    /// The tenant that did it.
    pub tenant: String,
    /// When, ms since the epoch.
    pub at: i64,
    /// `run.submit`, `run.cancel`, `run.resume`, `artifact.upload`, `artifact.download`.
    pub action: String,
    /// What it concerned: a run id or an artifact digest.
    pub subject: String,
    /// The rest, as JSON text: a submission's workflow, input digests and component
    /// digests; an artifact's size.
    pub detail: String,
}

impl Records {
    /// Appends an entry for this tenant.
    pub async fn audit(&self, action: &str, subject: &str, detail: &serde_json::Value) -> Result<(), RecordsError> {
        self.db
            .execute(
                "INSERT INTO audit (tenant, at, action, subject, detail) VALUES ($1, $2, $3, $4, $5)",
                vec![
                    self.tenant.as_str().into(),
                    now_ms().into(),
                    action.into(),
                    subject.into(),
                    detail.to_string().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// This tenant's entries with an id above `after`, oldest first, at most `limit` (and
    /// at most [`MAX_AUDIT_PAGE`]).
    pub async fn audit_log(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, RecordsError> {
        Ok(self
            .db
            .all(
                "SELECT id, tenant, at, action, subject, detail FROM audit WHERE tenant = $1 AND id > $2 \
                 ORDER BY id LIMIT $3",
                vec![
                    self.tenant.as_str().into(),
                    after.into(),
                    i64::from(limit.min(MAX_AUDIT_PAGE)).into(),
                ],
            )
            .await?)
    }
}
