//! `GET /api/v1/compare?runs=A,B,…`: the metrics of several of the tenant's runs side by
//! side, with their parameters (as `weft metrics`) — the experiment-tracking view.

use crate::auth::Tenant;
use crate::{ApiError, State};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use serde::Deserialize;
use std::sync::Arc;
use utoipa::IntoParams;

/// Most runs compared at once.
const MAX_RUNS: usize = 100;

/// Which runs and steps.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// Run ids, comma-separated (at most 100).
    pub runs: String,
    /// Only steps whose id starts with this (`train` for every `train[k]`).
    pub step: Option<String>,
}

/// `GET /api/v1/compare`.
#[utoipa::path(
    get,
    path = "/api/v1/compare",
    tag = "runs",
    params(CompareQuery),
    responses(
        (status = 200, description = "`runs` (id, workflow, parameters) in the order asked, and `rows`: one per step and metric, with one value per run (`null` where a run has none)", body = Object),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "A run the tenant does not have", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn compare(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    query: Result<Query<CompareQuery>, QueryRejection>,
) -> Result<Json<weft_records::MetricsComparison>, ApiError> {
    let Query(query) = query.map_err(ApiError::rejected_query)?;
    let ids: Vec<&str> = query.runs.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if ids.is_empty() || ids.len() > MAX_RUNS {
        return Err(ApiError::bad_request(format!("name 1 to {MAX_RUNS} runs: `?runs=A,B`")));
    }
    let records = state.runner(&tenant).records;
    Ok(Json(records.compare_runs(&ids, query.step.as_deref()).await?))
}
