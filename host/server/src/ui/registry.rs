//! The step registry's pages: the steps a tenant may use (its own and the public ones),
//! searchable by name, and one step — the contract of the version `uses: NAME` takes (the
//! tenant's own newest, else the server's; another tenant's public step is taken only by
//! digest), ports with media types and parameters with types and defaults, its versions
//! with digests, who may use each, and its README (Markdown, rendered as artifacts' are).

use super::layout::page;
use super::session::UiTenant;
use crate::State;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;
use weft_model::{Port, StepInfo};
use weft_records::{BUILTIN_TENANT, RegisteredStep, compare_versions};

/// Step names listed on the page.
const LISTED: usize = 500;

#[derive(Deserialize, Default)]
pub(crate) struct SearchQuery {
    q: Option<String>,
}

/// A step's page URL.
fn url(name: &str) -> String {
    format!("/ui/steps/{}", super::url_escape(name))
}

/// `GET /ui/steps`.
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    query: Result<Query<SearchQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query
        .ok()
        .and_then(|Query(q)| q.q)
        .filter(|q| !q.is_empty() && q.len() <= 128);
    let versions = match state.runner(&tenant).records.visible_steps(q.as_deref()).await {
        Ok(versions) => versions,
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    // One row per name (the listing is sorted by name), showing the version `uses: NAME`
    // takes: the tenant's own newest, else the server's. Another tenant's public version is
    // never taken by name (only by digest), so it never stands for the name.
    let mut names: Vec<(&RegisteredStep, Option<&RegisteredStep>, usize)> = Vec::new();
    let mut start = 0;
    for end in 1..=versions.len() {
        if end == versions.len() || versions[end].name != versions[start].name {
            let group = &versions[start..end];
            names.push((&group[0], by_name(group.iter(), tenant.name()), group.len()));
            start = end;
        }
    }
    let total = names.len();
    names.truncate(LISTED);
    let content = html! {
        h1 { "Steps" }
        form.filters method="get" action="/ui/steps" {
            label for="q" { "Name contains" }
            input #q name="q" value=[q.as_deref()];
            button type="submit" { "Search" }
        }
        @if names.is_empty() {
            p.empty { "No step matches." }
        } @else {
            table #steps aria-label="Steps this tenant may use" {
                thead { tr {
                    th scope="col" { "Step" } th scope="col" { "Newest" } th scope="col" { "Versions" }
                    th scope="col" { "Owner" } th scope="col" { "Who may use it" } th scope="col" { "Description" }
                } }
                tbody {
                    @for (first, taken, count) in &names {
                        @let step = taken.unwrap_or(first);
                        tr {
                            th scope="row" { a href=(url(&step.name)) { code { (step.name) } } }
                            td { @if taken.is_some() { (step.version) } @else { em { "by digest only" } } }
                            td.num { (count) }
                            td { (step.owner) }
                            td { (visibility(step)) }
                            td { (description(step)) }
                        }
                    }
                }
            }
            @if total > names.len() { p.note { "The first " (names.len()) " of " (total) " steps: search to narrow." } }
        }
    };
    page("Steps", Some(tenant.name()), content)
}

/// `GET /ui/steps/{name}`.
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path(name): Path<String>,
) -> Response {
    let versions = match state.runner(&tenant).records.step_versions(&name).await {
        Ok(versions) => versions,
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    let taken = by_name(versions.iter(), tenant.name());
    let Some(newest) = taken.or(versions.first()) else {
        let content = html! {
            h1 { "No such step" }
            p { "This tenant may use no step " code { (name) } "." }
            p { a href="/ui/steps" { "All steps" } }
        };
        let mut response = page("No such step", Some(tenant.name()), content);
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    };
    let info: Option<StepInfo> = serde_json::from_str(&newest.info).ok();
    let content = html! {
        p { a href="/ui/steps" { "← all steps" } }
        h1 { "Step " code { (name) } }
        @if let Some(info) = &info {
            p.lead { (info.description) }
            @if taken.is_some() {
                p { "Use it as " code { "uses: " (name) "@" (newest.version) } " (this version), "
                    code { "uses: " (name) } " (the newest) or " code { "uses: " (newest.digest) } " (these very bytes)." }
            } @else {
                p role="note" { "Published by another tenant (" (newest.owner) "): a workflow takes it only by its digest, "
                    code { "uses: " (newest.digest) } ", never by name." }
            }
            h2 { "Contract of " (newest.version) }
            (ports("Inputs", &info.inputs, true))
            (ports("Outputs", &info.outputs, false))
            h3 { "Parameters" }
            @if info.params.is_empty() { p { "None." } } @else {
                table #params aria-label="Parameters" {
                    thead { tr { th scope="col" { "Name" } th scope="col" { "Type" } th scope="col" { "Default" } th scope="col" { "Description" } } }
                    tbody { @for p in &info.params {
                        tr { th scope="row" { code { (p.name) } } td { (p.ty) }
                             td { @match &p.default { Some(v) => code { (v) }, None => em { "required" } } }
                             td { (p.description) } }
                    } }
                }
            }
        } @else {
            p.note { "Its declaration cannot be read." }
        }
        h2 { "Versions" }
        table #versions aria-label="Versions" {
            thead { tr {
                th scope="col" { "Version" } th scope="col" { "Digest" } th scope="col" { "Size" }
                th scope="col" { "Owner" } th scope="col" { "Who may use it" } th scope="col" { "Published (UTC)" }
            } }
            tbody { @for v in &versions {
                tr { th scope="row" { (v.version) } td { code title=(v.digest) { (v.digest) } }
                     td.num { (weft_runner::fmt_size(u64::try_from(v.size).unwrap_or(0))) }
                     td { (v.owner) } td { (visibility(v)) }
                     td { (weft_records::rfc3339(v.published_at).replace('T', " ")) } }
            } }
        }
        h2 { "README" }
        @match &newest.readme {
            Some(readme) => (super::preview::markdown(readme)),
            None => p.note { "Version " (newest.version) " has no README." },
        }
    };
    page(&format!("Step {name}"), Some(tenant.name()), content)
}

fn ports(title: &str, ports: &[Port], inputs: bool) -> Markup {
    html! {
        h3 { (title) }
        @if ports.is_empty() { p { "None." } } @else {
            table.ports aria-label=(title) {
                thead { tr { th scope="col" { "Port" } th scope="col" { "Media type" } th scope="col" { "Description" } } }
                tbody { @for p in ports {
                    tr { th scope="row" { code { (p.name) } } td { code { (p.media_type) } @if inputs && p.many { " (any number)" } }
                         td { (p.description) } }
                } }
            }
        }
    }
}

fn visibility(step: &RegisteredStep) -> Markup {
    html! {
        @if step.public { "every tenant" } @else { "only " (step.owner) }
    }
}

fn description(step: &RegisteredStep) -> String {
    serde_json::from_str::<serde_json::Value>(&step.info)
        .ok()
        .and_then(|info| info["description"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The version `uses: NAME` takes among `versions` of one name: the tenant's own newest,
/// else the built-in tenant's (as `Records::resolve_step`).
fn by_name<'a>(versions: impl Iterator<Item = &'a RegisteredStep> + Clone, tenant: &str) -> Option<&'a RegisteredStep> {
    let newest = |owner: &str| {
        versions
            .clone()
            .filter(|v| v.owner == owner)
            .max_by(|a, b| compare_versions(&a.version, &b.version))
    };
    newest(tenant).or_else(|| newest(BUILTIN_TENANT))
}
