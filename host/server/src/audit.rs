//! The audit log over HTTP (`GET /api/v1/audit`): what this tenant did through the server,
//! oldest first, paged by id. Entries are written by the handlers that act (`State::audit`).

use crate::auth::Tenant;
use crate::{ApiError, State};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Which entries.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only entries with a larger id (the last id of the previous page).
    pub after: Option<i64>,
    /// At most this many (default and maximum 1000).
    pub limit: Option<u32>,
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Oldest first.
    pub entries: Vec<AuditItem>,
}

/// One thing the tenant did.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditItem {
    /// Increasing.
    pub id: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// `run.submit`, `run.cancel`, `run.resume`, `artifact.upload` or `artifact.download`.
    pub action: String,
    /// The run id or artifact digest it concerned.
    pub subject: String,
    /// A submission's workflow, input and component digests; an artifact's size.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// `GET /api/v1/audit`.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn audit_log(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AuditPage>, ApiError> {
    let Query(query) = query.map_err(ApiError::rejected_query)?;
    let entries = state
        .runner(&tenant)
        .records
        .audit_log(
            query.after.unwrap_or(0),
            query.limit.unwrap_or(weft_records::MAX_AUDIT_PAGE),
        )
        .await?;
    Ok(Json(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditItem {
                id: e.id,
                at: weft_records::rfc3339(e.at),
                action: e.action,
                subject: e.subject,
                detail: serde_json::from_str(&e.detail).unwrap_or(serde_json::Value::Null),
            })
            .collect(),
    }))
}
