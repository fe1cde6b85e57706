//! The web UI (`/ui`), served by `weft serve` itself: server-rendered HTML (maud), with
//! htmx (embedded, for the live pages to come) and its files in the binary. A tenant signs
//! in with its API token, kept in an `HttpOnly`, `SameSite=Strict` cookie, and sees only
//! its own runs, as through the API. Forms posted from another origin are refused.

mod artifact;
mod assets;
mod compare;
mod graph;
mod layout;
mod preview;
mod registry;
mod runs;
mod session;
mod step;
mod submit;

use crate::State;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;

/// The UI's routes, under `/ui`.
pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/ui", get(|| async { axum::response::Redirect::permanent("/ui/") }))
        .route("/ui/", get(runs::list))
        .route("/ui/runs/{id}", get(runs::show))
        .route("/ui/runs/{id}/live", get(runs::live))
        .route("/ui/runs/{id}/events", get(graph::events))
        .route("/ui/runs/{id}/steps/{step}", get(step::show))
        .route("/ui/runs/{id}/rerun", get(submit::rerun))
        .route("/ui/runs/{id}/{action}", axum::routing::post(runs::act))
        .route("/ui/artifacts/{digest}", get(artifact::show))
        .route("/ui/artifacts/{digest}/download", get(artifact::download))
        .route("/ui/compare", get(compare::compare))
        .route("/ui/steps", get(registry::list))
        .route("/ui/steps/{name}", get(registry::show))
        .route("/ui/submit", get(submit::form).post(submit::submit))
        .route("/ui/login", get(session::form).post(session::login))
        .route("/ui/logout", axum::routing::post(session::logout))
        .route("/ui/assets/{*path}", get(assets::serve))
}

/// `text` percent-encoded for a URL's path segment or query value (all but unreserved
/// characters): the UI's links, and the CLI's requests to a server.
pub fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
