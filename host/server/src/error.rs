//! What a request that fails answers: a status and `{"error": {"code", "message",
//! "problems"?}}`. Messages name the user's mistake and never a path or secret of the
//! server; unexpected failures are logged in full and answered with a short message.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
    /// For 429: when to try again.
    retry_after: Option<std::time::Duration>,
    /// For 416: the artifact's size, sent as `Content-Range: bytes */SIZE`.
    content_range: Option<u64>,
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, for programs: `unauthorized`, `not_found`, `invalid_workflow`, `bad_request`,
    /// `conflict`, `too_large`, `bad_range`, `quota`, `internal`.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// For `invalid_workflow`: every problem with its position.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// One problem of an invalid workflow.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// 1-based line in the YAML text.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The field concerned, as a dotted path (`steps.train.with.l2`); may be empty.
    pub field: String,
    /// What is wrong and, where possible, what to do.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    code,
                    message: message.into(),
                    problems: Vec::new(),
                },
            },
            retry_after: None,
            content_range: None,
        }
    }

    /// 401: no token, or one that names no tenant.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a tenant token is required: `Authorization: Bearer weft_…` (`weft tenant create NAME` makes one)",
        )
    }

    /// 404, also for what belongs to another tenant.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    /// 400: a request the API cannot take as sent.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 409: the request conflicts with the resource's state.
    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413: a body over its limit.
    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 422: what was asked would pass a quota that waiting does not restore.
    pub fn quota(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "quota", message)
    }

    /// 429: a rate quota is used up; try again after `wait`.
    pub fn too_many(message: impl Into<String>, wait: std::time::Duration) -> ApiError {
        let mut e = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "quota", message);
        e.retry_after = Some(wait);
        e
    }

    /// 416: a `Range` outside the artifact of `size` bytes.
    pub fn range_not_satisfiable(message: impl Into<String>, size: u64) -> ApiError {
        let mut e = ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "bad_range", message);
        e.content_range = Some(size);
        e
    }

    /// 422: an invalid workflow, every problem listed.
    pub fn invalid(invalid: weft_runner::Invalid) -> ApiError {
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_workflow", invalid.text);
        e.body.error.problems = invalid
            .problems
            .into_iter()
            .map(|d| Problem {
                line: d.span.line,
                column: d.span.col,
                field: d.field,
                message: d.message,
            })
            .collect();
        e
    }

    /// A JSON body the API could not take: over its size limit (413), or not the JSON asked
    /// for (400).
    pub fn rejected_json(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(rejection.body_text())
        } else {
            ApiError::bad_request(rejection.body_text())
        }
    }

    /// 400: a query string the API could not take.
    pub fn rejected_query(rejection: axum::extract::rejection::QueryRejection) -> ApiError {
        ApiError::bad_request(rejection.body_text())
    }

    /// 500: logged in full here, answered without details (they may name the server's
    /// paths or hosts).
    pub fn internal(error: impl std::fmt::Display) -> ApiError {
        tracing::error!("request failed: {error:#}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to answer this request; its log says why",
        )
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message answered.
    pub fn message(&self) -> &str {
        &self.body.error.message
    }

    /// For an invalid workflow: every problem with its position.
    pub fn problems(&self) -> &[Problem] {
        &self.body.error.problems
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if let Some(size) = self.content_range
            && let Ok(value) = axum::http::HeaderValue::from_str(&format!("bytes */{size}"))
        {
            response.headers_mut().insert(axum::http::header::CONTENT_RANGE, value);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // Refused before the body was read: the rest of it is still on its way, so the
            // connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if let Some(wait) = self.retry_after {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response
    }
}

impl From<weft_records::RecordsError> for ApiError {
    fn from(e: weft_records::RecordsError) -> ApiError {
        match e {
            weft_records::RecordsError::UnknownRun(run) => ApiError::not_found(format!("no run `{run}`")),
            weft_records::RecordsError::StillRunning { run, .. } => {
                ApiError::conflict(format!("run {run} is running: cancel it first, or wait for it to stop"))
            }
            other => ApiError::internal(other),
        }
    }
}
