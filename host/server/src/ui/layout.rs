//! The page every UI page sits in: head (stylesheet, htmx), the header with the tenant and
//! sign-out, and the page's own content in `<main>`.

use super::assets;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// A whole page titled `title`; `tenant` is who is signed in, if anyone.
pub(crate) fn page(title: &str, tenant: Option<&str>, content: Markup) -> Response {
    page_with(title, tenant, &[], content)
}

/// A page that also loads `extras` (asset paths of scripts, run after htmx in order, and
/// stylesheets): the graph and plot libraries are loaded only by the pages that draw.
pub(crate) fn page_with(title: &str, tenant: Option<&str>, extras: &[&str], content: Markup) -> Response {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // The page's policy allows no inline style or eval: htmx must not need them
                // (failing visibly if asked), nor keep copies of pages after sign-out.
                meta name="htmx-config"
                    content=r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"historyCacheSize":0}"#;
                title { (title) " · Weft" }
                link rel="stylesheet" href=(assets::url("weft.css"));
                // No icon: said here, so the browser does not ask for /favicon.ico.
                link rel="icon" href="data:,";
                script src=(assets::url("vendor/htmx.min.js")) defer {}
                script src=(assets::url("vendor/htmx-ext-sse.min.js")) defer {}
                @for extra in extras {
                    @if extra.ends_with(".css") {
                        link rel="stylesheet" href=(assets::url(extra));
                    } @else {
                        script src=(assets::url(extra)) defer {}
                    }
                }
            }
            body {
                header {
                    nav aria-label="Main" {
                        a.brand href="/ui/" { "Weft" }
                        @if let Some(tenant) = tenant {
                            a href="/ui/" { "Runs" }
                            a href="/ui/submit" { "Submit" }
                            a href="/ui/steps" { "Steps" }
                            span.tenant { "tenant " strong { (tenant) } }
                            form method="post" action="/ui/logout" {
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (content) }
            }
        }
    };
    let mut response = markup.into_response();
    let h = response.headers_mut();
    // Every script and style comes from this server; no page may be framed.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; \
             base-uri 'none'; form-action 'self'",
        ),
    );
    // A tenant's pages are its own: kept by no cache, not even after sign-out.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
