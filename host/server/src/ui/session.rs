//! Signing in to the UI: a tenant's API token, typed once into a form, kept in a cookie
//! (`HttpOnly`: no script reads it; `SameSite=Strict`: no other site's page sends it, so a
//! form elsewhere cannot act for the tenant). Every UI page asks for the tenant through
//! [`UiTenant`], which sends anyone without a valid token to the sign-in page.

use super::layout::page;
use crate::State;
use crate::auth::Tenant;
use axum::extract::{Form, FromRequestParts, State as AxumState};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
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
        match state.runner.records.tenant_for_token(&token).await {
            Ok(Some(name)) => Ok(UiTenant(Tenant::trusted(name))),
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
                aria-describedby=[problem.map(|_| "problem")];
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

/// `POST /ui/login`: a valid token sets the cookie and goes to the runs.
pub(crate) async fn login(AxumState(state): AxumState<Arc<State>>, Form(form): Form<Credentials>) -> Response {
    let token = form.token.trim();
    let valid = !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let tenant = if valid {
        state.runner.records.tenant_for_token(token).await
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
pub(crate) async fn logout() -> Response {
    let mut response = Redirect::to("/ui/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("weft_token=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}
