//! A run's events as server-sent events (`GET /api/v1/runs/{id}/events`): one event per
//! change of a step's state (`step_started`, `step_succeeded`, `step_failed`,
//! `step_retrying`, `step_cached`, `step_skipped`, `step_blocked`, `step_cancelled`), a
//! `step_metrics` after a step that succeeded (or was reused) with metrics, then
//! `run_finished`, after which the stream ends. Each event has an `id`; a client that
//! reconnects with `Last-Event-ID` gets only what came after it. A run that no longer
//! executes in this server (finished long ago, or before a restart) sends each step's
//! recorded state, then its end (or nothing more, while it is still running elsewhere).

use crate::auth::Tenant;
use crate::{ApiError, State};
use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use weft_engine::{Reuse, RunEvent, StepState, StepStatus};

/// The last event of every run's stream.
pub(crate) const RUN_FINISHED: &str = "run_finished";

/// The metrics a step recorded, sent after its `step_succeeded` or `step_cached`.
pub(crate) const STEP_METRICS: &str = "step_metrics";

/// `{"step", "metrics": [[name, value], ...]}` (in recording order; a name may repeat).
pub(crate) fn metrics_json(step: &str, metrics: &[(String, f64)]) -> serde_json::Value {
    json!({ "step": step, "metrics": metrics })
}

/// One numbered event of a run.
#[derive(Debug, Clone)]
pub(crate) struct ServerEvent {
    /// 1 for the run's first event.
    pub id: u64,
    /// The SSE event name.
    pub name: &'static str,
    /// Its JSON data.
    pub data: serde_json::Value,
}

impl ServerEvent {
    fn sse(&self) -> Event {
        Event::default()
            .id(self.id.to_string())
            .event(self.name)
            .data(self.data.to_string())
    }
}

/// The event a step's new state is shown as (`None` for `Waiting`: every step starts so).
pub(crate) fn step_event(event: &RunEvent) -> Option<(&'static str, serde_json::Value)> {
    let step = &event.step;
    Some(match &event.state {
        StepState::Waiting => return None,
        StepState::Running => ("step_started", json!({ "step": step })),
        StepState::Succeeded(d) => (
            "step_succeeded",
            json!({ "step": step, "duration_ms": d.as_secs_f64() * 1000.0 }),
        ),
        StepState::Failed(error) => ("step_failed", json!({ "step": step, "error": error })),
        StepState::Blocked(error) => ("step_blocked", json!({ "step": step, "error": error })),
        StepState::Skipped(why) => ("step_skipped", json!({ "step": step, "error": why })),
        StepState::Retrying { attempt, delay, error } => (
            "step_retrying",
            json!({ "step": step, "attempt": attempt, "delay_ms": delay.as_secs_f64() * 1000.0, "error": error }),
        ),
        StepState::Reused(reuse) => ("step_cached", json!({ "step": step, "reuse": reuse_json(reuse) })),
        StepState::Cancelled => ("step_cancelled", json!({ "step": step })),
    })
}

fn reuse_json(reuse: &Reuse) -> serde_json::Value {
    match reuse {
        Reuse::Cached(run) => json!({ "cached_from": run }),
        Reuse::Resumed => json!({ "resumed": true }),
    }
}

/// `GET /api/v1/runs/{id}/events`.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/events",
    tag = "runs",
    params(
        ("id" = String, Path, description = "Run id"),
        ("Last-Event-ID" = Option<u64>, Header, description = "The last event received: only later ones are sent"),
    ),
    responses(
        (status = 200, description = "Server-sent events until `run_finished`", content_type = "text/event-stream", body = String),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn run_events(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Ok(sse(events_after(&state, &tenant, &run_id, after).await?, None))
}

/// The run's events numbered above `after`: those of its live execution here (history,
/// then as they happen, until `run_finished`), else what its records say now.
pub(crate) async fn events_after(
    state: &State,
    tenant: &Tenant,
    run_id: &str,
    after: u64,
) -> Result<BoxStream<'static, ServerEvent>, ApiError> {
    Ok(match state.hub.find(tenant.name(), run_id) {
        Some(live) => {
            let (past, later) = live.subscribe(after);
            let later = match later {
                Some(rx) => broadcast_stream(rx).boxed(),
                None => futures::stream::empty().boxed(),
            };
            until_finished(futures::stream::iter(past).chain(later))
        }
        None => futures::stream::iter(recorded_events(state, tenant, run_id, after).await?).boxed(),
    })
}

/// `events` as a server-sent event stream, kept alive through quiet spells; `retry`, when
/// given, tells the browser how long to wait before it reconnects.
pub(crate) fn sse(
    events: BoxStream<'static, ServerEvent>,
    retry: Option<Duration>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
    let first = futures::stream::iter(retry.map(|after| Ok(Event::default().retry(after))));
    Sse::new(first.chain(events.map(|e| Ok(e.sse())))).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// A broadcast receiver as a stream; a subscriber that fell behind ends its stream (it
/// reconnects with `Last-Event-ID` and catches up from the history).
fn broadcast_stream(rx: tokio::sync::broadcast::Receiver<ServerEvent>) -> impl Stream<Item = ServerEvent> {
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.ok().map(|event| (event, rx)) },
    )
}

/// `events` up to and including `run_finished`, ending right after it (without waiting
/// for another event that never comes).
fn until_finished(events: impl Stream<Item = ServerEvent> + Send + 'static) -> BoxStream<'static, ServerEvent> {
    futures::stream::unfold(Some(events.boxed()), |events| async move {
        let mut events = events?;
        let event = events.next().await?;
        let more = (event.name != RUN_FINISHED).then_some(events);
        Some((event, more))
    })
    .boxed()
}

/// What the records say of a run that does not execute here: each step's state, then the
/// run's end if it has one.
async fn recorded_events(
    state: &State,
    tenant: &Tenant,
    run_id: &str,
    after: u64,
) -> Result<Vec<ServerEvent>, ApiError> {
    let detail = state.runner(tenant).records.run(run_id).await?;
    let mut events = Vec::new();
    for step in &detail.steps {
        let (name, data) = match step.status {
            StepStatus::Succeeded => match &step.reuse {
                Some(reuse) => ("step_cached", json!({ "step": step.id, "reuse": reuse_json(reuse) })),
                None => (
                    "step_succeeded",
                    json!({ "step": step.id, "duration_ms": step.duration_ms }),
                ),
            },
            StepStatus::Failed => ("step_failed", json!({ "step": step.id, "error": step.error })),
            StepStatus::Blocked => ("step_blocked", json!({ "step": step.id, "error": step.error })),
            StepStatus::Skipped => ("step_skipped", json!({ "step": step.id, "error": step.error })),
            StepStatus::Cancelled => ("step_cancelled", json!({ "step": step.id })),
            _ => continue,
        };
        events.push((name, data));
        if step.status == StepStatus::Succeeded && !step.metrics.is_empty() {
            events.push((STEP_METRICS, metrics_json(&step.id, &step.metrics)));
        }
    }
    if detail.summary.status != "running" {
        events.push((
            RUN_FINISHED,
            json!({ "run_id": run_id, "status": detail.summary.status, "error": detail.summary.error }),
        ));
    }
    let total = events.len() as u64;
    Ok(events
        .into_iter()
        .enumerate()
        .map(|(i, (name, data))| ServerEvent {
            id: i as u64 + 1,
            name,
            data,
        })
        // The end is always sent: `after` may come from another numbering (the live
        // stream of this run, before the server restarted).
        .filter(|e| e.id > after || (e.id == total && e.name == RUN_FINISHED))
        .collect())
}
