//! The runs pages: the tenant's runs, newest first (filtered by status and workflow), and
//! one run with its steps. A run of another tenant is not found, as through the API.

use super::layout::{page, page_with};
use super::session::{UiTenant, cross_origin, same_origin};
use crate::State;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;
use weft_engine::RunReport;
use weft_records::{RecordsError, RunDetail, RunFilter, RunSummary};

/// Runs on one page of the list.
const PAGE: u32 = 100;

/// The list's filters, from the query string.
#[derive(Deserialize, Default)]
pub(crate) struct ListQuery {
    status: Option<String>,
    workflow: Option<String>,
    /// 0 for the newest runs.
    page: Option<u32>,
}

const STATUSES: [&str; 4] = ["running", "succeeded", "failed", "cancelled"];

/// `GET /ui/`: the tenant's runs.
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A query string that does not parse shows every run.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    let status = query.status.filter(|s| STATUSES.contains(&s.as_str()));
    let workflow = query.workflow.filter(|w| !w.is_empty() && w.len() <= 256);
    // Pages past the 1,000th run are not offered: narrow the filters instead.
    let page_number = query.page.unwrap_or(0).min(10);
    let filter = RunFilter {
        status: status.clone(),
        workflow: workflow.clone(),
        offset: page_number * PAGE,
        // One more than shown: whether there is a next page.
        limit: PAGE + 1,
    };
    let mut runs = match state.runner(&tenant).records.find_runs(&filter).await {
        Ok(runs) => runs,
        Err(e) => return failure(tenant.name(), &e),
    };
    let more = runs.len() > PAGE as usize;
    runs.truncate(PAGE as usize);
    let link = |page: u32| {
        let mut url = String::from("/ui/?");
        if let Some(s) = &status {
            url.push_str(&format!("status={s}&"));
        }
        if let Some(w) = &workflow {
            url.push_str(&format!("workflow={}&", super::url_escape(w)));
        }
        url.push_str(&format!("page={page}"));
        url
    };
    // The newest runs' page follows new runs and changes of status (every 3 s); the
    // ticked boxes and the focused link keep their state (htmx keeps them by id).
    let live = page_number == 0;
    let content = html! {
        h1 { "Runs" }
        form.filters method="get" action="/ui/" {
            label for="status" { "Status" }
            select #status name="status" {
                option value="" selected[status.is_none()] { "any" }
                @for s in STATUSES {
                    option value=(s) selected[status.as_deref() == Some(s)] { (s) }
                }
            }
            label for="workflow" { "Workflow" }
            input #workflow name="workflow" value=[workflow.as_deref()];
            button type="submit" { "Filter" }
        }
        section #runs-live hx-get=[live.then(|| link(0))] hx-select=[live.then_some("#runs-live")]
            hx-trigger=[live.then_some("every 3s")] hx-swap=[live.then_some("outerHTML")] {
            @if runs.is_empty() && status.is_none() && workflow.is_none() && page_number == 0 {
                p.empty { "No runs yet." }
            } @else if runs.is_empty() {
                p.empty { "No runs match these filters." }
            } @else {
                form #compare-form method="get" action="/ui/compare" {
                    div.compare-bar { button type="submit" { "Compare selected" } span.note { "Tick two or more runs." } }
                    table.runs aria-label="Runs, newest first" {
                        thead { tr {
                            th scope="col" { span.visually-hidden { "Pick" } }
                            th scope="col" { "Run" } th scope="col" { "Workflow" } th scope="col" { "Status" }
                            th scope="col" { "Started (UTC)" } th scope="col" { "Duration" }
                            th scope="col" { "Steps" } th scope="col" { "Done" } th scope="col" { "Cached" } th scope="col" { "Failed" }
                        } }
                        tbody {
                            @for run in &runs { (row(run)) }
                        }
                    }
                }
            }
            p.pager {
                @if page_number > 0 { a rel="prev" href=(link(page_number - 1)) { "← newer" } " " }
                @if more && page_number < 10 { a rel="next" href=(link(page_number + 1)) { "older →" } }
            }
        }
    };
    page("Runs", Some(tenant.name()), content)
}

/// A run id as an element id htmx can select by (`#…`): its `.` would read as a class.
fn dom_id(run_id: &str) -> String {
    run_id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_")
}

fn row(run: &RunSummary) -> Markup {
    html! {
        tr data-status=(run.status) {
            td { input #{ "pick-" (dom_id(&run.id)) } type="checkbox" name="runs" value=(run.id) hx-preserve aria-label={ "Compare run " (run.id) }; }
            th scope="row" { a #{ "open-" (dom_id(&run.id)) } href={ "/ui/runs/" (run.id) } { code { (run.id) } } }
            td { (run.workflow) }
            td { (status_badge(&run.status)) }
            td { (started(run.started_at)) }
            td { (duration(run.started_at, run.finished_at)) }
            td.num { (run.steps) }
            td.num { (run.succeeded) }
            td.num { (run.reused) }
            td.num { (run.failed) }
        }
    }
}

/// `GET /ui/runs/{id}`: one run and its steps.
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path(run_id): Path<String>,
) -> Response {
    let detail = match state.runner(&tenant).records.run(&run_id).await {
        Ok(detail) => detail,
        Err(RecordsError::UnknownRun(_)) => {
            let content = html! {
                h1 { "No such run" }
                p { "This tenant has no run " code { (run_id) } "." }
                p { a href="/ui/" { "All runs" } }
            };
            let mut response = page("No such run", Some(tenant.name()), content);
            *response.status_mut() = StatusCode::NOT_FOUND;
            return response;
        }
        Err(e) => return failure(tenant.name(), &e),
    };
    let run = &detail.summary;
    let plan = super::graph::plan(&state, &tenant, &run_id).await;
    let report = detail.report();
    let content = html! {
        h1 { "Run " code { (run.id) } }
        (run_section(&detail))
        section.graph aria-labelledby="graph-title" {
            h2 #graph-title { "Graph" }
            div.graph-layout {
                figure #dag data-run=(run.id) data-live=(run.status == "running")
                    data-graph=(super::graph::data(&report, plan.as_ref())) {
                    div.dag-tools {}
                    div.dag-canvas {
                        noscript { "The graph needs JavaScript; the table below lists every step." }
                    }
                    figcaption {
                        "Each step, coloured by its status"
                        @if run.status == "running" { ", live" }
                        ". A fan-out's instances are one node until expanded; select a step to see it here."
                        @if plan.is_none() { " This run was recorded without its plan: the arrows between steps are not known." }
                    }
                }
                aside #panel aria-live="polite" aria-label="The selected step" {
                    p.hint { "Select a step in the graph." }
                }
            }
        }
        (steps_section(&run.id, &report, false))
    };
    page_with(
        &format!("Run {}", run.id),
        Some(tenant.name()),
        &["vendor/dagre.min.js", "dag.js"],
        content,
    )
}

/// `GET /ui/runs/{id}/live`: the run's section and (out of band) its steps table, which
/// a running run's page fetches again when its events say the run finished.
pub(crate) async fn live(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path(run_id): Path<String>,
) -> Response {
    match state.runner(&tenant).records.run(&run_id).await {
        Ok(detail) => {
            let report = detail.report();
            let markup = html! {
                (run_section(&detail))
                (steps_section(&detail.summary.id, &report, true))
            };
            let mut response = markup.into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(RecordsError::UnknownRun(_)) => (StatusCode::NOT_FOUND, "no such run").into_response(),
        Err(e) => failure(tenant.name(), &e),
    }
}

/// What a run's page shows of it first: its status and its actions (fetched again when
/// its events say it finished).
fn run_section(detail: &RunDetail) -> Markup {
    let run = &detail.summary;
    let running = run.status == "running";
    html! {
        section #run-live aria-live="polite" {
            dl.run {
                dt { "Workflow" } dd { (run.workflow) }
                dt { "Status" } dd { (status_badge(&run.status)) }
                dt { "Started (UTC)" } dd { (started(run.started_at)) }
                dt { "Duration" } dd { (duration(run.started_at, run.finished_at)) }
                @if let Some(error) = &run.error { dt { "Why it stopped" } dd { (error) } }
            }
            div.actions {
                @if running || run.status == "interrupted" {
                    form method="post" action={ "/ui/runs/" (run.id) "/cancel" } {
                        button type="submit" { "Cancel" }
                    }
                }
                @if !running && run.status != "succeeded" {
                    form method="post" action={ "/ui/runs/" (run.id) "/resume" } {
                        button type="submit" { "Resume" }
                    }
                }
                @if !running {
                    a.button href={ "/ui/runs/" (run.id) "/rerun" } { "Run again with other parameters" }
                }
                @if detail.steps.iter().any(|s| s.instance.is_some()) {
                    a.button href={ "/ui/compare?run=" (run.id) } { "Compare its sweeps" }
                }
            }
        }
    }
}

/// The run's steps as a table: the graph's text equivalent, kept live by `dag.js`;
/// `out_of_band` when it rides along another part's response (htmx puts it in place).
fn steps_section(run_id: &str, report: &RunReport, out_of_band: bool) -> Markup {
    html! {
        section #run-steps hx-swap-oob=[out_of_band.then_some("true")] {
            h2 { "Steps" }
            table.steps aria-label="Steps" {
                thead { tr {
                    th scope="col" { "Step" } th scope="col" { "Component" } th scope="col" { "Status" }
                    th scope="col" { "Attempts" } th scope="col" { "Time" } th scope="col" { "Error" }
                } }
                tbody {
                    @for step in &report.steps {
                        tr #{ "step-" (step.id) } data-status=(step.status.as_str()) {
                            th scope="row" { a href=(super::step::url(run_id, &step.id)) { code { (step.id) } } }
                            td { (step.uses) }
                            td { (status_badge(step.status.as_str())) @if step.reuse.is_some() { " (cached)" } }
                            td.num { (step.attempts.len()) }
                            td.num { @if let Some(ms) = step.duration_ms { (format!("{:.1} s", ms / 1e3)) } }
                            td { @if let Some(error) = &step.error { (error) } }
                        }
                    }
                }
            }
        }
    }
}

/// `POST /ui/runs/{id}/cancel` asks the run to stop; `POST /ui/runs/{id}/resume` runs
/// again what did not succeed. Then the run's page.
pub(crate) async fn act(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path((run_id, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let done = match action.as_str() {
        "cancel" => crate::runs::cancel_run(&state, &tenant, &run_id, "the web UI").await,
        "resume" => crate::runs::resume_run(&state, &tenant, &run_id, "web UI").await,
        _ => Err(crate::ApiError::not_found(format!("no action `{action}`"))),
    };
    after_action(tenant.name(), &run_id, done)
}

/// Back to the run's page, or a page saying why the action was refused.
fn after_action(tenant: &str, run_id: &str, done: Result<(), crate::ApiError>) -> Response {
    match done {
        Ok(()) => Redirect::to(&format!("/ui/runs/{run_id}")).into_response(),
        Err(e) => {
            let content = html! {
                h1 { "Not done" }
                p role="alert" { (e.message()) }
                p { a href={ "/ui/runs/" (run_id) } { "Back to the run" } }
            };
            let mut response = page("Not done", Some(tenant), content);
            *response.status_mut() = e.status();
            response
        }
    }
}

fn status_badge(status: &str) -> Markup {
    html! { span.status.(status) { (status) } }
}

fn started(ms: i64) -> String {
    weft_records::rfc3339(ms).replace('T', " ")
}

fn duration(started: i64, finished: Option<i64>) -> String {
    match finished {
        Some(end) => format!("{:.1} s", (end - started).max(0) as f64 / 1e3),
        None => "—".into(),
    }
}

/// A page saying the records cannot be read now (the details go to the server's log).
pub(crate) fn failure(tenant: &str, e: &RecordsError) -> Response {
    tracing::error!("the UI cannot read the records: {e}");
    let content = html! { h1 { "Not available" } p { "The run records cannot be read now; try again." } };
    let mut response = page("Not available", Some(tenant), content);
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
