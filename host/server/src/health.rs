//! `/healthz` (the process answers), `/readyz` (and its run records answer) and `/metrics`
//! (Prometheus), without a token: for load balancers, supervisors and scrapers.

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
        .route("/metrics", get(metrics))
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

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "health",
    responses((status = 200, description = "Prometheus text format: runs and steps by outcome, step durations, steps executing and waiting, runs executing, stored bytes, artifact bytes uploaded and served, component loads by source", content_type = "text/plain", body = String))
)]
pub(crate) async fn metrics(
    AxumState(state): AxumState<Arc<State>>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let (executing, waiting) = state.fair.load();
    let text = state.hub.metrics.render(&crate::metrics::Now {
        executing,
        waiting,
        runs: state.hub.executing_runs(),
        stored_bytes: state.usage.total(),
        loads: weft_runner::load_counts(),
    });
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}
