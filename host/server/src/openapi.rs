//! The API's OpenAPI 3 document, generated from the handlers' annotations; served at
//! `/api/v1/openapi.json` and checked into the repository as `docs/openapi.json` (a test
//! fails when the two differ).

use crate::State;
use axum::Json;
use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Weft", description = "Run typed workflows of sandboxed WebAssembly steps: one tenant's view."),
    paths(
        crate::runs::submit,
        crate::runs::list,
        crate::runs::show,
        crate::runs::cancel,
        crate::runs::resume,
        crate::runs::logs,
        crate::events::run_events,
        crate::compare::compare,
        crate::artifacts::upload,
        crate::artifacts::exists,
        crate::artifacts::download,
        crate::artifacts::lineage,
        crate::steps::list,
        crate::steps::show,
        crate::steps::publish,
        crate::steps::readme,
        crate::steps::visibility,
        crate::audit::audit_log,
        crate::health::healthz,
        crate::health::readyz,
        crate::health::metrics,
    ),
    modifiers(&TokenAuth)
)]
pub struct ApiDoc;

/// Every `/api/v1` call takes `Authorization: Bearer weft_…`.
struct TokenAuth;

impl Modify for TokenAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A tenant's API token, from `weft tenant create NAME`"))
                    .build(),
            ),
        );
    }
}

/// The document as served and checked in (pretty JSON, with a final newline).
pub fn document() -> String {
    let mut text = ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    text.push('\n');
    text
}

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}
