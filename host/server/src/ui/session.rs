//! Signing in to the UI: a tenant's API token, typed once into a form, kept in a cookie
//! (`HttpOnly`: no script reads it; `SameSite=Strict`: no other site's page sends it).
//! Forms posted from another origin are refused ([`same_origin`]): a page elsewhere can
//! neither act for the tenant nor sign the browser in as another. Every UI page asks for
//! the tenant through [`UiTenant`], which sends anyone without a valid token to the
//! sign-in page.

use super::layout::page;
use crate::State;
use crate::auth::{Tenant, tenant_for_token};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use std::sync::Arc;

/// The cookie that holds the token.
const COOKIE: &str = "weft_token";

/// The tenant of a UI request, from its cookie.
pub(crate) struct UiTenant(pub(crate) Tenant);

impl FromRequestParts<Arc<State>> for UiTenant {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<State>) -> Result<UiTenant, Response> {
        let Some(token) = cookie(parts) else {
            return Err(Redirect::to("/ui/login").into_response());
        };
        match tenant_for_token(state, &token).await {
            Ok(Some(tenant)) => Ok(UiTenant(tenant)),
            Ok(None) => Err(Redirect::to("/ui/login").into_response()),
            Err(e) => {
                tracing::error!("cannot look up a UI token: {e}");
                Err((StatusCode::INTERNAL_SERVER_ERROR, "the records cannot be read now").into_response())
            }
        }
    }
}

/// The token in the request's `Cookie` header, if any.
fn cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE && !value.is_empty()).then(|| value.to_string())
        })
}

/// `GET /ui/login`.
pub(crate) async fn form() -> Response {
    sign_in_page(None, StatusCode::OK)
}

fn sign_in_page(problem: Option<&str>, status: StatusCode) -> Response {
    let content = html! {
        h1 { "Sign in" }
        form.sign-in method="post" action="/ui/login" {
            label for="token" { "Tenant API token" }
            input #token type="password" name="token" autocomplete="current-password" required
                aria-invalid=[problem.map(|_| "true")] aria-describedby=[problem.map(|_| "problem")];
            @if let Some(problem) = problem {
                p #problem.problem role="alert" { (problem) }
            }
            button type="submit" { "Sign in" }
        }
        p.hint { "A token is made with " code { "weft tenant create NAME" } " (or " code { "weft tenant token NAME" } ")." }
    };
    let mut response = page("Sign in", None, content);
    *response.status_mut() = status;
    response
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct Credentials {
    token: String,
}

/// Whether a form was posted from a page of this server: the browser's `Sec-Fetch-Site`
/// says so, or (from a browser that does not send it) the `Origin` is this `Host`. Same
/// site is not enough: another port of this host, or a sibling domain, is the same site.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match (get("origin"), get("host")) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, authority)| authority == host),
        // No browser posts a form without either header.
        _ => false,
    }
}

/// What a form posted from elsewhere gets.
pub(crate) fn cross_origin() -> Response {
    (
        StatusCode::FORBIDDEN,
        "forms are taken only from this server's own pages",
    )
        .into_response()
}

/// `POST /ui/login`: a valid token sets the cookie and goes to the runs.
pub(crate) async fn login(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    form: Result<Form<Credentials>, FormRejection>,
) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let Ok(Form(form)) = form else {
        return sign_in_page(Some("Type a token, then sign in."), StatusCode::BAD_REQUEST);
    };
    let token = form.token.trim();
    // Only a token's characters may go into the cookie's header.
    let plain = token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let tenant = if plain && !token.is_empty() {
        tenant_for_token(&state, token).await
    } else {
        Ok(None)
    };
    match tenant {
        Ok(Some(_)) => {
            let mut response = Redirect::to("/ui/").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict")) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            response
        }
        Ok(None) => sign_in_page(Some("That token names no tenant."), StatusCode::UNAUTHORIZED),
        Err(e) => {
            tracing::error!("cannot look up a UI token: {e}");
            sign_in_page(
                Some("The records cannot be read now; try again."),
                StatusCode::INTERNAL_SERVER_ERROR,
            )
        }
    }
}

/// `POST /ui/logout`: forgets the cookie.
pub(crate) async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return cross_origin();
    }
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("weft_token=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
