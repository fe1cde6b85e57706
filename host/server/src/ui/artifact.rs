//! An artifact's page (`/ui/artifacts/{digest}`): what it is (size, media type, which step
//! of which run made it), a preview by media type, a download, and its lineage back to
//! the workflow inputs as a graph (`lineage.js`) and as a list. Another tenant's artifact
//! is not found, as through the API.

use super::layout::page_with;
use super::preview::{self, Kind};
use super::session::UiTenant;
use crate::State;
use crate::auth::Tenant;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;
use std::sync::Arc;
use weft_artifacts::{ArtifactError, Digest};
use weft_records::{LineageNode, Origin};

/// Largest artifact previewed: read whole and checked against its address first.
const PREVIEW_BYTES: u64 = 4 << 20;
/// Lineage nodes drawn; a longer history is cut (the API gives all of it).
const LINEAGE_NODES: usize = 300;

/// An artifact's page URL.
pub(crate) fn url(digest: &Digest) -> String {
    format!("/ui/artifacts/{digest}")
}

#[derive(Deserialize, Default)]
pub(crate) struct PageQuery {
    page: Option<usize>,
}

/// `GET /ui/artifacts/{digest}`.
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path(digest): Path<String>,
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let not_found = |tenant: &Tenant| {
        let content = html! { h1 { "Not found" } p { "This tenant has no artifact " code { (digest) } "." } };
        let mut response = super::layout::page("Not found", Some(tenant.name()), content);
        *response.status_mut() = StatusCode::NOT_FOUND;
        response
    };
    let Ok(address) = digest.parse::<Digest>() else {
        return not_found(&tenant);
    };
    let runner = state.runner(&tenant);
    let lineage = match runner.records.lineage(&address).await {
        Ok(lineage) => lineage,
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    // Only what a run of this tenant made or took has a page (as only that has a type).
    let Some(lineage) = lineage else {
        return not_found(&tenant);
    };
    // As a run recorded it (a step's output, or a workflow input).
    let media_type = match runner.records.media_type(&address).await {
        Ok(media_type) => media_type.unwrap_or_else(|| "application/octet-stream".into()),
        Err(e) => return super::runs::failure(tenant.name(), &e),
    };
    let (size, bytes) = match read(&runner.store, &address).await {
        Ok(read) => read,
        Err(ArtifactError::NotFound(_)) => return not_found(&tenant),
        Err(e) => {
            tracing::error!(digest = %address, "the UI cannot read an artifact: {e}");
            let content = html! { h1 { "Not available" } p { "The artifact cannot be read now; try again." } };
            let mut response = super::layout::page("Not available", Some(tenant.name()), content);
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return response;
        }
    };
    // A query string that does not parse shows the first page.
    let page_number = query.ok().and_then(|Query(q)| q.page).unwrap_or(0);
    let here = url(&address);
    // Parsing 4 MiB of CSV or JSON is CPU work: off the runtime's threads.
    let preview = match bytes {
        None => None,
        Some(bytes) => {
            let (kind, here) = (preview::kind(&media_type), here.clone());
            match tokio::task::spawn_blocking(move || show_preview(kind, &bytes, &here, page_number)).await {
                Ok(markup) => Some(markup),
                Err(e) => {
                    tracing::error!(digest = %address, "the preview failed: {e}");
                    Some(html! { p.note { "No preview: it could not be made." } })
                }
            }
        }
    };
    let shown_size = weft_runner::fmt_size(size);
    let content = html! {
        h1 { "Artifact " code title=(address) { (address.short()) } }
        dl.run {
            dt { "Digest" } dd { code #digest { (address) } }
            dt { "Size" } dd { (shown_size) @if !shown_size.ends_with("bytes") { " (" (size) " bytes)" } }
            dt { "Media type" } dd #media-type { (media_type) }
            dt { "Made by" } dd { (origin(&lineage[0].origin)) }
        }
        p { a.button href={ (here) "/download" } download { "Download" } }
        h2 { "Preview" }
        section #preview aria-label="Preview" {
            @match preview {
                None => p.note { "Too large to preview here (over " (weft_runner::fmt_bytes(PREVIEW_BYTES)) "): download it." },
                Some(preview) => (preview),
            }
        }
        h2 { "Lineage" }
        (lineage_section(&lineage))
    };
    page_with(
        &format!("Artifact {}", address.short()),
        Some(tenant.name()),
        &["vendor/dagre.min.js", "lineage.js"],
        content,
    )
}

fn show_preview(kind: Kind, bytes: &[u8], here: &str, page: usize) -> Markup {
    match kind {
        Kind::Table => match preview::weft_table(bytes, page) {
            Ok(grid) => preview::grid_page(&grid, |p| format!("{here}?page={p}")),
            Err(e) => html! { p.note { (e) } },
        },
        Kind::Csv(separator) => {
            let grid = preview::csv(&String::from_utf8_lossy(bytes), separator, page);
            preview::grid_page(&grid, |p| format!("{here}?page={p}"))
        }
        Kind::Json => preview::json(bytes),
        Kind::Markdown => preview::markdown(&String::from_utf8_lossy(bytes)),
        Kind::Text => preview::text(bytes),
        Kind::Image => html! { img #preview-image src={ (here) "/download" } alt="The artifact, as an image"; },
        Kind::None => html! { p.note { "No preview for this media type: download it." } },
    }
}

/// The artifact's size, and its bytes when small enough to preview, every byte checked
/// against the address.
async fn read(store: &weft_artifacts::ArtifactStore, digest: &Digest) -> Result<(u64, Option<Vec<u8>>), ArtifactError> {
    let mut reader = store.reader(digest).await?;
    let size = reader.size();
    if size > PREVIEW_BYTES {
        return Ok((size, None));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    loop {
        let chunk = reader.read(1 << 20).await?;
        if chunk.is_empty() {
            // The end: reached only when every byte matched.
            return Ok((size, Some(bytes)));
        }
        bytes.extend_from_slice(&chunk);
    }
}

fn origin(origin: &Origin) -> Markup {
    match origin {
        Origin::Input { run_id, name } => html! {
            "the workflow input " code { (name) } " of run " a href={ "/ui/runs/" (run_id) } { code { (run_id) } }
        },
        Origin::Step { run_id, step, port, .. } => html! {
            "output " code { (port) } " of step " a href=(super::step::url(run_id, step)) { code { (step) } }
            " in run " a href={ "/ui/runs/" (run_id) } { code { (run_id) } }
        },
        Origin::Unknown => html! { "no run on record" },
    }
}

/// The lineage graph's data for `lineage.js`, and the same as a list.
fn lineage_section(lineage: &[LineageNode]) -> Markup {
    let shown = &lineage[..lineage.len().min(LINEAGE_NODES)];
    let label = |n: &LineageNode| match &n.origin {
        Origin::Input { name, .. } => format!("inputs.{name}"),
        Origin::Step { step, port, .. } => format!("{step}.{port}"),
        Origin::Unknown => n.digest.short(),
    };
    let nodes: Vec<serde_json::Value> = shown
        .iter()
        .map(|n| serde_json::json!({ "label": label(n), "digest": n.digest.short(), "href": url(&n.digest) }))
        .collect();
    let edges: Vec<serde_json::Value> = shown
        .iter()
        .enumerate()
        .flat_map(|(to, n)| {
            n.inputs
                .iter()
                .filter(|(_, from)| *from < shown.len())
                .map(move |(port, from)| serde_json::json!([from, to, port]))
        })
        .collect();
    let data = serde_json::json!({ "nodes": nodes, "edges": edges }).to_string();
    html! {
        figure #lineage data-graph=(data) {
            div.dag-canvas { noscript { "The graph needs JavaScript; the list below has the same." } }
            figcaption { "Where this artifact came from: each artifact, the step output or workflow input it is, and what its step read." }
        }
        @if lineage.len() > shown.len() {
            p.note { "The first " (shown.len()) " of " (lineage.len()) " artifacts (the API gives all: "
                code { "GET /api/v1/artifacts/…/lineage" } ")." }
        }
        ol #lineage-list {
            @for n in shown {
                li {
                    a href=(url(&n.digest)) { code { (label(n)) } } " " code.digest { (n.digest.short()) }
                    @if !n.inputs.is_empty() {
                        " read "
                        @for (i, (port, from)) in n.inputs.iter().enumerate() {
                            @if i > 0 { ", " }
                            code { (port) } " ← " @if let Some(f) = shown.get(*from) { (label(f)) } @else { "…" }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /ui/artifacts/{digest}/download`: the bytes, checked as they are sent (as the
/// API's download), always as an attachment and in a sandbox, never a page of this origin.
pub(crate) async fn download(
    AxumState(state): AxumState<Arc<State>>,
    UiTenant(tenant): UiTenant,
    Path(digest): Path<String>,
    headers: HeaderMap,
) -> Response {
    match crate::artifacts::download(AxumState(state), tenant, Path(digest), headers).await {
        Ok(mut response) => {
            let h = response.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; sandbox"),
            );
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            response
        }
        Err(e) => (e.status(), e.message().to_string()).into_response(),
    }
}
