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
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures::StreamExt;
use serde::Serialize;
use std::sync::Arc;
use utoipa::ToSchema;
use weft_artifacts::{ArtifactError, Digest};

/// Bytes read from the store per chunk sent.
const CHUNK: usize = 1 << 20;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route(
            "/artifacts/{digest}",
            put(upload)
                .get(download)
                .head(exists)
                // Bounded by the server's own limit while streaming instead.
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/artifacts/{digest}/lineage", get(lineage))
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
        (status = 422, description = "New bytes past the tenant's stored-bytes quota (code `quota`)", body = crate::error::ErrorBody),
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
    let quotas = state.quotas(&tenant).await?;
    let reserved = state.reserve_stored(&tenant, &quotas, &digest, staged.size()).await?;
    // Always in the object store: an upload is durable before any run refers to it.
    let meta = store
        .publish_stored(staged, "application/octet-stream")
        .await
        .map_err(store_error)?;
    reserved.keep();
    tracing::info!(tenant = tenant.name(), digest = %meta.digest, size = meta.size, "artifact uploaded");
    state.hub.metrics.uploaded(meta.size);
    state
        .audit(
            &tenant,
            "artifact.upload",
            &meta.digest.to_string(),
            serde_json::json!({"size": meta.size}),
        )
        .await;
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
    params(
        ("digest" = String, Path, description = "`sha256:…`"),
        ("Range" = Option<String>, Header, description = "One byte range, `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`"),
    ),
    responses(
        (status = 200, description = "The bytes, checked against the digest as they are sent; `Content-Type` is the media type a run recorded it with", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "The range asked for; the whole artifact is still read and checked before the transfer ends", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 416, description = "The range is outside the artifact", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn download(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(digest): Path<String>,
    request: HeaderMap,
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
    let range = match request.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(text) => match byte_range(text, size) {
            Range::Whole => None,
            Range::Part(first, len) => Some((first, len)),
            Range::Unsatisfiable => {
                return Err(ApiError::range_not_satisfiable(
                    format!("`{text}` is outside the artifact's {size} bytes"),
                    size,
                ));
            }
        },
    };
    let (first, len) = range.unwrap_or((0, size));
    state.hub.metrics.downloaded(len);
    state
        .audit(
            &tenant,
            "artifact.download",
            &digest.to_string(),
            serde_json::json!({"size": size, "first": first, "length": len}),
        )
        .await;
    let body = Body::from_stream(checked_range(reader, first, len));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{digest}\"")) {
        headers.insert(header::ETAG, etag);
    }
    // A guest chose the media type: a browser must save the bytes, never render them.
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment"));
    if range.is_some() {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let last = (first + len).saturating_sub(1);
        if let Ok(value) = HeaderValue::from_str(&format!("bytes {first}-{last}/{size}")) {
            response.headers_mut().insert(header::CONTENT_RANGE, value);
        }
    }
    Ok(response)
}

/// The bytes `first..first + len` of the artifact, read through the checking reader from
/// its start, and the rest read (unsent) to its end before the stream ends: a transfer
/// completes only when every byte of the artifact matched its address. A mismatch, or a
/// failing store, breaks the transfer.
fn checked_range(
    reader: weft_artifacts::ArtifactReader,
    first: u64,
    len: u64,
) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> {
    // (reader, offset of the next byte read, bytes still to send); `None` once finished.
    futures::stream::unfold(Some((reader, 0u64, len)), move |state| async move {
        let (mut reader, mut at, mut left) = state?;
        loop {
            if left == 0 {
                return match reader.verify_rest().await {
                    Ok(()) => None,
                    Err(e) => Some((Err(broken(&reader, e)), None)),
                };
            }
            let chunk = match reader.read(CHUNK).await {
                Ok(chunk) if chunk.is_empty() => return None,
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(broken(&reader, e)), None)),
            };
            let (start, end) = (at, at + chunk.len() as u64);
            at = end;
            if end <= first {
                continue;
            }
            let from = usize::try_from(first.saturating_sub(start)).unwrap_or(0);
            let to = usize::try_from((end - start).min(first + len - start)).unwrap_or(chunk.len());
            let part = chunk.slice(from..to);
            left -= part.len() as u64;
            return Some((Ok(part), Some((reader, at, left))));
        }
    })
}

fn broken(reader: &weft_artifacts::ArtifactReader, e: ArtifactError) -> std::io::Error {
    tracing::error!(digest = %reader.digest(), "artifact read failed mid-transfer: {e}");
    std::io::Error::other(e.to_string())
}

/// What a `Range` header asks of an artifact of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Nothing this server serves partly (another unit, several ranges, bad syntax): the
    /// header is ignored and the whole artifact sent, as HTTP says.
    Whole,
    /// One range: first byte and length.
    Part(u64, u64),
    /// One byte range, but outside the artifact.
    Unsatisfiable,
}

/// `bytes=FIRST-LAST`, `bytes=FIRST-` or `bytes=-SUFFIX`.
fn byte_range(text: &str, size: u64) -> Range {
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let number = |t: &str| t.trim().parse::<u64>().ok();
    let bounds = match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            None => return Range::Whole,
            Some(0) => None,
            Some(n) => size.checked_sub(1).map(|last| (size - n.min(size), last)),
        },
        (first, "") => match number(first) {
            None => return Range::Whole,
            Some(first) => size.checked_sub(1).map(|last| (first, last)),
        },
        (first, last) => match (number(first), number(last)) {
            (Some(first), Some(last)) if first <= last => size.checked_sub(1).map(|end| (first, last.min(end))),
            _ => return Range::Whole,
        },
    };
    match bounds {
        Some((first, last)) if first <= last && last < size => Range::Part(first, last - first + 1),
        _ => Range::Unsatisfiable,
    }
}

/// An artifact's lineage.
#[utoipa::path(
    get,
    path = "/api/v1/artifacts/{digest}/lineage",
    tag = "artifacts",
    params(("digest" = String, Path, description = "`sha256:…`")),
    responses(
        (status = 200, description = "Node 0 is the artifact; each node names its origin (a workflow input, or the run, step, port, component and parameters that made it) and the nodes of what its producer read, back to the workflow inputs (as `weft lineage --json`)", body = Vec<Object>),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No run of this tenant produced or took it", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn lineage(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(digest): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let digest = parse(&digest)?;
    match state.runner(&tenant).records.lineage(&digest).await? {
        Some(nodes) => Ok(Json(weft_records::lineage_json(&nodes))),
        None => Err(ApiError::not_found(format!("no run produced or took {digest}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn one_byte_range_inside_the_artifact() {
        use super::Range::{Part, Unsatisfiable, Whole};
        assert_eq!(byte_range("bytes=0-9", 100), Part(0, 10));
        assert_eq!(byte_range("bytes=90-", 100), Part(90, 10));
        assert_eq!(byte_range("bytes=-5", 100), Part(95, 5));
        assert_eq!(byte_range("bytes=-500", 100), Part(0, 100));
        assert_eq!(byte_range("bytes=50-1000", 100), Part(50, 50));
        for outside in ["bytes=100-", "bytes=-0", "bytes=200-300"] {
            assert_eq!(byte_range(outside, 100), Unsatisfiable, "{outside}");
        }
        assert_eq!(
            byte_range("bytes=0-", 0),
            Unsatisfiable,
            "an empty artifact has no range"
        );
        for ignored in [
            "bytes=5-4",
            "bytes=0-1,4-5",
            "items=0-1",
            "bytes=x-",
            "bytes=-",
            "bytes",
        ] {
            assert_eq!(byte_range(ignored, 100), Whole, "{ignored}");
        }
    }
}
