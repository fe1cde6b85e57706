//! Artifacts over HTTP, content-addressed per tenant: `PUT /api/v1/artifacts/{digest}`
//! stores an upload whose bytes hash to the address (a workflow's inputs are bound to
//! them); `HEAD` says whether the tenant holds it (so a client sends only what is missing);
//! `GET` streams it, every byte checked against the digest on the way — a damaged blob's
//! transfer fails instead of ending. Knowing a digest grants nothing: another tenant's
//! artifact answers 404.

use crate::auth::Tenant;
use crate::{ApiError, State};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use weft_artifacts::{ArtifactError, Digest};

/// Bytes read from the store per chunk sent.
const CHUNK: usize = 1 << 20;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new().route(
        "/artifacts/{digest}",
        put(upload)
            .get(download)
            .head(exists)
            // Bounded by the server's own limit while streaming instead.
            .layer(axum::extract::DefaultBodyLimit::disable()),
    )
}

fn parse(digest: &str) -> Result<Digest, ApiError> {
    digest
        .parse()
        .map_err(|e| ApiError::bad_request(format!("`{digest}` is not an artifact address: {e}")))
}

/// An artifact stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Stored {
    /// Its address, `sha256:…`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// `PUT /api/v1/artifacts/{digest}`.
#[utoipa::path(
    put,
    path = "/api/v1/artifacts/{digest}",
    tag = "artifacts",
    params(("digest" = String, Path, description = "`sha256:` and the SHA-256 of the body in hex")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored (or held already)", body = Stored),
        (status = 400, description = "The body does not hash to the address", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 413, description = "Over the server's upload limit", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn upload(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(digest): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<Stored>), ApiError> {
    let digest = parse(&digest)?;
    let store = state.runner(&tenant).store;
    let limit = state.config.max_upload_bytes;
    let mut writer = store.stage();
    let mut body = body.into_data_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the upload: {e}")))?;
        if writer.size() + chunk.len() as u64 > limit {
            return Err(ApiError::too_large(format!(
                "an upload may be at most {limit} bytes on this server"
            )));
        }
        writer.write(&chunk).await.map_err(store_error)?;
    }
    let staged = writer.finish().await.map_err(store_error)?;
    if staged.digest() != digest {
        // Dropping the staged bytes deletes them.
        return Err(ApiError::bad_request(format!(
            "the body's digest is {}, not {digest}: nothing was stored",
            staged.digest()
        )));
    }
    // Always in the object store: an upload is durable before any run refers to it.
    let meta = store
        .publish_stored(staged, "application/octet-stream")
        .await
        .map_err(store_error)?;
    tracing::info!(tenant = tenant.name(), digest = %meta.digest, size = meta.size, "artifact uploaded");
    Ok((
        StatusCode::CREATED,
        Json(Stored {
            digest: meta.digest.to_string(),
            size: meta.size,
        }),
    ))
}

fn store_error(e: ArtifactError) -> ApiError {
    match e {
        ArtifactError::TooLarge { limit } => {
            ApiError::too_large(format!("an artifact may be at most {limit} bytes in this store"))
        }
        other => ApiError::internal(other),
    }
}

/// `HEAD /api/v1/artifacts/{digest}`.
#[utoipa::path(
    head,
    path = "/api/v1/artifacts/{digest}",
    tag = "artifacts",
    params(("digest" = String, Path, description = "`sha256:…`")),
    responses(
        (status = 200, description = "The tenant holds it"),
        (status = 404, description = "It does not (or it is another tenant's)"),
    ),
    security(("token" = []))
)]
pub(crate) async fn exists(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(digest): Path<String>,
) -> Result<StatusCode, ApiError> {
    let digest = parse(&digest)?;
    if state.runner(&tenant).store.contains(&digest).await {
        Ok(StatusCode::OK)
    } else {
        Err(ApiError::not_found(format!("no artifact {digest}")))
    }
}

/// `GET /api/v1/artifacts/{digest}`.
#[utoipa::path(
    get,
    path = "/api/v1/artifacts/{digest}",
    tag = "artifacts",
    params(("digest" = String, Path, description = "`sha256:…`")),
    responses(
        (status = 200, description = "The bytes, checked against the digest as they are sent; `Content-Type` is the media type a run recorded it with", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn download(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    let digest = parse(&digest)?;
    let runner = state.runner(&tenant);
    let reader = match runner.store.reader(&digest).await {
        Ok(reader) => reader,
        Err(ArtifactError::NotFound(_)) => return Err(ApiError::not_found(format!("no artifact {digest}"))),
        Err(e) => return Err(ApiError::internal(e)),
    };
    let media_type = runner
        .records
        .media_type(&digest)
        .await?
        .unwrap_or_else(|| "application/octet-stream".to_string());
    let size = reader.size();
    let chunks = futures::stream::unfold(Some(reader), move |reader| async move {
        let mut reader = reader?;
        match reader.read(CHUNK).await {
            Ok(chunk) if chunk.is_empty() => None,
            Ok(chunk) => Some((Ok(chunk), Some(reader))),
            Err(e) => {
                // The transfer breaks: the client never sees a clean end of bad bytes.
                tracing::error!(digest = %digest, "artifact read failed mid-transfer: {e}");
                Some((Err(std::io::Error::other(e.to_string())), None))
            }
        }
    });
    let mut response = Body::from_stream(chunks).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        headers.insert(header::ETAG, etag);
    }
    Ok(response)
}
