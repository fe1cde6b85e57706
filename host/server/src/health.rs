//! `/healthz` (the process answers) and `/readyz` (and its run records answer), without a
//! token: for load balancers and supervisors.

use crate::State;
use axum::Router;
use axum::extract::State as AxumState;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// `GET /healthz`.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, body = String)))]
pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses((status = 200, body = String), (status = 503, description = "The run records do not answer", body = String))
)]
pub(crate) async fn readyz(AxumState(state): AxumState<Arc<State>>) -> (StatusCode, &'static str) {
    match state.runner.records.list_tenants().await {
        Ok(_) => (StatusCode::OK, "ready\n"),
        Err(e) => {
            tracing::warn!("not ready: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "the run records do not answer\n")
        }
    }
}
