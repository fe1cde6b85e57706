//! A run's steps as a graph: the data the run's page hands to `dag.js` (each step's
//! status, its fan-out group and the steps it waits for, from the locked plan), and the
//! run's events for the signed-in browser (`GET /ui/runs/{id}/events`), which keep the
//! graph and the steps table live.

use super::session::UiTenant;
use crate::State;
use axum::extract::{Path, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use weft_engine::{RunReport, StepStatus};
use weft_records::RecordsError;
use weft_runner::LockedPlan;

/// One step, as `dag.js` reads it.
#[derive(Serialize)]
struct Node<'a> {
    id: &'a str,
    /// The authored step a fan-out instance belongs to (`train` for `train[3]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<&'a str>,
    /// As the records say; `dag.js` turns `pending` into `running` on `step_started`.
    status: &'static str,
    cached: bool,
    /// Indices (in this list) of the steps it waits for.
    deps: Vec<usize>,
}

/// The graph's data, as JSON: `{"steps": [...], "edges_known": bool}`. Edges come from
/// the locked plan; a run recorded before plans were locked is drawn without them.
pub(crate) fn data(report: &RunReport, plan: Option<&LockedPlan>) -> String {
    let index: HashMap<&str, usize> = report
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    // The plan's own indices, mapped to this list's through the step ids.
    let deps: HashMap<&str, Vec<usize>> = plan
        .map(|plan| {
            plan.steps
                .iter()
                .map(|s| {
                    let deps = s
                        .deps
                        .iter()
                        .filter_map(|&d| plan.steps.get(d).and_then(|dep| index.get(dep.id.as_str()).copied()))
                        .collect();
                    (s.id.as_str(), deps)
                })
                .collect()
        })
        .unwrap_or_default();
    let steps: Vec<Node> = report
        .steps
        .iter()
        .map(|s| Node {
            id: &s.id,
            group: s.instance.as_ref().map(|i| i.of.as_str()),
            status: s.status.as_str(),
            cached: s.status == StepStatus::Succeeded && s.reuse.is_some(),
            deps: deps.get(s.id.as_str()).cloned().unwrap_or_default(),
        })
        .collect();
    serde_json::json!({ "steps": steps, "edges_known": plan.is_some() }).to_string()
}

/// How long a browser waits before it asks again for the events of a run executing
/// elsewhere (whose stream ends after the recorded state).
const RECONNECT: std::time::Duration = std::time::Duration::from_secs(5);

/// `GET /ui/runs/{id}/events`: the run's events from its first, as server-sent events
/// (`Last-Event-ID` is ignored: each event sets a step's state, so a reconnecting page
/// is brought up to date by all of them). A run executing elsewhere (on workers) sends
/// its recorded state and ends; the browser reconnects [`RECONNECT`] later for more (its
/// running steps show as pending: the records say only which finished).
pub(crate) async fn events(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path(run_id): Path<String>,
) -> Response {
    match crate::events::events_after(&state, &tenant, &run_id, 0).await {
        Ok(events) => crate::events::sse(events, Some(RECONNECT)).into_response(),
        Err(e) if e.status() == StatusCode::NOT_FOUND => (StatusCode::NOT_FOUND, "no such run").into_response(),
        Err(e) => {
            tracing::error!("the UI cannot follow run {run_id}: {}", e.message());
            (StatusCode::INTERNAL_SERVER_ERROR, "the run's events cannot be read now").into_response()
        }
    }
}

/// The run's locked plan, or `None` (logged) when it cannot be had.
pub(crate) async fn plan(state: &State, tenant: &crate::auth::Tenant, run_id: &str) -> Option<LockedPlan> {
    match state.runner(tenant).locked_plan(run_id).await {
        Ok(plan) => Some(plan),
        Err(e) => {
            if !matches!(e.downcast_ref::<RecordsError>(), Some(RecordsError::UnknownRun(_))) {
                tracing::warn!("run {run_id}: its graph is drawn without edges: {e:#}");
            }
            None
        }
    }
}
