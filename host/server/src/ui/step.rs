//! A step's page: what it ran (component and digest, parameters), what it read and made
//! (with sizes and media types), its metrics, its attempts, and its log (the first
//! [`LOG_LINES`] lines; the API pages through the rest).

use super::layout::page;
use super::session::UiTenant;
use crate::State;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use std::sync::Arc;
use weft_engine::{Reuse, StepReport, StepStatus};
use weft_model::Limits;
use weft_records::RecordsError;

/// Log lines shown on the page.
const LOG_LINES: u32 = 1000;

/// A step's page's URL (its id percent-encoded: a fan-out's ids hold `[`, `=` and `,`).
pub(crate) fn url(run_id: &str, step: &str) -> String {
    format!("/ui/runs/{run_id}/steps/{}", super::url_escape(step))
}

/// `GET /ui/runs/{id}/steps/{step}`.
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path((run_id, step_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let records = state.runner(&tenant).records;
    let not_found = |what: Markup| {
        let content = html! { h1 { "Not found" } p { (what) } p { a href="/ui/" { "All runs" } } };
        let mut response = page("Not found", Some(tenant.name()), content);
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    };
    let detail = match records.run(&run_id).await {
        Ok(detail) => detail,
        Err(RecordsError::UnknownRun(_)) => {
            return not_found(html! { "This tenant has no run " code { (run_id) } "." });
        }
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    let report = detail.report();
    let Some(step) = report.steps.iter().find(|s| s.id == step_id) else {
        return not_found(html! { "Run " code { (run_id) } " has no step " code { (step_id) } "." });
    };
    let (lines, total) = match records.logs_page(&run_id, Some(&step_id), 0, LOG_LINES).await {
        Ok(page) => page,
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    // The page asks for one step: a fan-out's instances (`train[0]`) share its prefix.
    let lines: Vec<_> = lines.into_iter().filter(|(s, _)| *s == step_id).collect();
    let plan = super::graph::plan(&state, &tenant, &run_id).await;
    let limits = plan
        .as_ref()
        .and_then(|p| p.steps.iter().find(|s| s.id == step_id))
        .map(|s| s.limits);
    let details = html! {
        (summary(step, limits.as_ref()))
        h2 { "Parameters" }
        @if step.params.is_empty() { p { "None." } } @else {
            table aria-label="Parameters" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                tbody { @for (name, value) in &step.params { tr { th scope="row" { (name) } td { code { (value) } } } } }
            }
        }
        h2 { "Inputs" }
        @if step.inputs.is_empty() { p { "None." } } @else {
            table aria-label="Inputs" {
                thead { tr { th scope="col" { "Port" } th scope="col" { "From" } th scope="col" { "Digest" } } }
                tbody { @for input in &step.inputs {
                    tr { th scope="row" { (input.port) } td { code { (input.source) } } td { a href=(super::artifact::url(&input.digest)) { code title=(input.digest) { (input.digest.short()) } } } }
                } }
            }
        }
        h2 { "Outputs" }
        @if step.outputs.is_empty() { p { "None." } } @else {
            table #outputs aria-label="Outputs" {
                thead { tr { th scope="col" { "Port" } th scope="col" { "Digest" } th scope="col" { "Size" } th scope="col" { "Media type" } } }
                tbody { @for (port, meta) in &step.outputs {
                    tr { th scope="row" { (port) } td { a href=(super::artifact::url(&meta.digest)) { code title=(meta.digest) { (meta.digest.short()) } } }
                         td.num { (weft_runner::fmt_size(meta.size)) } td { (meta.media_type) } }
                } }
            }
        }
        h2 { "Metrics" }
        @if step.metrics.is_empty() { p { "None." } } @else {
            table #metrics aria-label="Metrics" {
                thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                tbody { @for (name, value) in &step.metrics { tr { th scope="row" { (name) } td.num { (value) } } } }
            }
        }
        h2 { "Attempts" }
        table aria-label="Attempts" {
            thead { tr { th scope="col" { "Attempt" } th scope="col" { "Status" } th scope="col" { "Time" } th scope="col" { "Error" } } }
            tbody { @for a in &step.attempts {
                tr { th scope="row" { (a.number) } td { (a.status.as_str()) } td.num { (format!("{:.1} s", a.duration_ms / 1e3)) }
                     td { @if let Some(e) = &a.error { (e) } } }
            } }
        }
        h2 { "Log" }
        @if lines.is_empty() { p { "No log lines." } } @else {
            @if total > u64::from(LOG_LINES) {
                p { "The first " (lines.len()) " of " (total) " lines (the API pages through all: "
                    code { "GET /api/v1/runs/" (run_id) "/logs?step=…" } ")." }
            }
            pre #log { @for (_, line) in &lines { span.stream { (line.stream) } " " (line.message) "\n" } }
        }
    };
    if headers.contains_key("hx-request") {
        // The run page's side panel: the same, under the step's name; a step still to
        // finish is fetched again every 2 s, its log growing.
        let url = url(&run_id, &step_id);
        // Only while the run runs: an interrupted run's pending steps would never change.
        let pending = step.status == StepStatus::Pending && detail.summary.status == "running";
        let panel = html! {
            // `hx-sync`: a newer request for the panel (another step selected) wins.
            div.panel-body hx-get=[pending.then_some(&url)] hx-trigger=[pending.then_some("every 2s")]
                hx-target=[pending.then_some("#panel")] hx-sync=[pending.then_some("#panel:replace")] {
                h2 { "Step " code { (step.id) } }
                p { a href=(url) { "Open the step's page" } }
                (details)
            }
        };
        let mut response = panel.into_response();
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::VARY, HeaderValue::from_static("Cookie, HX-Request"));
        return response;
    }
    let content = html! {
        p { a href={ "/ui/runs/" (run_id) } { "← run " code { (run_id) } } }
        h1 { "Step " code { (step.id) } }
        (details)
    };
    page(&format!("Step {}", step.id), Some(tenant.name()), content)
}

/// Status, component, time, cache use and limits.
fn summary(step: &StepReport, limits: Option<&Limits>) -> Markup {
    html! {
        dl.run {
            dt { "Status" } dd { span.status.(step.status.as_str()) { (step.status.as_str()) } }
            dt { "Component" } dd { (step.uses) " " code title=(step.component) { (step.component.short()) } }
            @if let Some(limits) = limits {
                dt { "Limits" } dd { (limits_text(limits)) }
            }
            @if let Some(ms) = step.duration_ms { dt { "Time" } dd { (format!("{:.2} s", ms / 1e3)) } }
            @match &step.reuse {
                Some(Reuse::Cached(run)) => { dt { "Cached" } dd { "outputs of run " a href={ "/ui/runs/" (run) } { code { (run) } } } }
                Some(Reuse::Resumed) => { dt { "Cached" } dd { "kept when the run was resumed" } }
                None => {}
            }
            @if let Some(error) = &step.error { dt { "Error" } dd { (error) } }
        }
    }
}

/// The limits the workflow set, or that the server's defaults apply.
fn limits_text(limits: &Limits) -> String {
    let mut set = Vec::new();
    if let Some(memory) = limits.memory {
        set.push(format!("memory {}", weft_runner::fmt_bytes(memory)));
    }
    if let Some(timeout) = limits.timeout {
        set.push(format!("timeout {:.1} s", timeout.as_secs_f64()));
    }
    if let Some(fuel) = limits.fuel {
        set.push(format!("fuel {fuel}"));
    }
    if set.is_empty() {
        "the server's defaults".into()
    } else {
        set.join(", ")
    }
}
