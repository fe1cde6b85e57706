//! Who is asking: every `/api/v1` request but the OpenAPI document carries a tenant's API
//! token as `Authorization: Bearer weft_…`; the records keep only its SHA-256, and a token
//! that names no tenant is refused exactly like a missing one.

use crate::{ApiError, State};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::sync::Arc;

/// The tenant a request acts for.
#[derive(Debug, Clone)]
pub struct Tenant(String);

impl Tenant {
    /// A tenant named by the server itself (resuming its runs), not by a request.
    pub(crate) fn trusted(name: String) -> Tenant {
        Tenant(name)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl FromRequestParts<Arc<State>> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<Tenant, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        match tenant_for_token(state, token).await {
            Ok(Some(tenant)) => Ok(tenant),
            Ok(None) => Err(ApiError::unauthorized()),
            Err(e) => Err(ApiError::internal(e)),
        }
    }
}

/// The tenant `token` names, if any: how the API's header and the UI's cookie are checked.
pub(crate) async fn tenant_for_token(state: &State, token: &str) -> Result<Option<Tenant>, weft_records::RecordsError> {
    Ok(state.runner.records.tenant_for_token(token).await?.map(Tenant))
}
