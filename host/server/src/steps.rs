//! The step registry over HTTP: a tenant publishes a component as `NAME@VERSION`
//! (`PUT /api/v1/steps/{name}/{version}`, the `.wasm` as the body) — checked like
//! `weft plugin inspect`, its `describe()` recorded, its bytes stored content-addressed in
//! the tenant's store, immutable once published —, adds a README, makes a version public,
//! lists and shows the steps it may use. Submitted workflows find their `uses:` here
//! ([`Registry`]): `name`, `name@0.1` (newest matching), `name@latest`, or `sha256:…`, each
//! pinned to a digest in the run's locked plan. The server's own plugin directories are
//! published at start as public steps of the built-in tenant ([`publish_builtin`]).

use crate::auth::Tenant;
use crate::{ApiError, State};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use weft_artifacts::{ArtifactStore, Digest};
use weft_model::ComponentRef;
use weft_records::{Published, Records, RegisteredStep};
use weft_runner::{Components, FoundComponent, Runner};

/// Longest README kept.
const MAX_README_BYTES: usize = 256 << 10;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/steps", get(list))
        .route("/steps/{name}", get(show))
        .route(
            "/steps/{name}/{version}",
            put(publish).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/steps/{name}/{version}/readme", put(readme))
        .route("/steps/{name}/{version}/public", post(visibility))
}

/// One version as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepVersion {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The tenant that published it (`weft` for the server's own steps).
    pub owner: String,
    /// Whether every tenant may use it.
    pub public: bool,
    /// The component's digest: `uses: sha256:…` pins exactly this.
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
    /// When it was published, RFC 3339 UTC.
    pub published_at: String,
    /// Its description (from `describe()`).
    pub description: String,
}

impl StepVersion {
    fn of(step: &RegisteredStep) -> StepVersion {
        let info: serde_json::Value = serde_json::from_str(&step.info).unwrap_or_default();
        StepVersion {
            name: step.name.clone(),
            version: step.version.clone(),
            owner: step.owner.clone(),
            public: step.public,
            digest: step.digest.clone(),
            size: step.size,
            published_at: weft_records::rfc3339(step.published_at),
            description: info["description"].as_str().unwrap_or_default().to_string(),
        }
    }
}

/// Which steps.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StepQuery {
    /// Only steps whose name contains this.
    pub q: Option<String>,
    /// Skip this many versions.
    pub offset: Option<usize>,
    /// At most this many versions (default 100, at most 1,000).
    pub limit: Option<usize>,
}

/// Versions listed by default, and at most, per page.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Steps the tenant may use.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepList {
    /// By name; the tenant's own versions before public ones, newest first.
    pub steps: Vec<StepVersion>,
    /// Versions in all (with the filter).
    pub total: usize,
}

/// `GET /api/v1/steps`.
#[utoipa::path(
    get,
    path = "/api/v1/steps",
    tag = "steps",
    params(StepQuery),
    responses((status = 200, body = StepList), (status = 401, body = crate::error::ErrorBody)),
    security(("token" = []))
)]
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    query: Result<Query<StepQuery>, QueryRejection>,
) -> Result<Json<StepList>, ApiError> {
    let Query(query) = query.map_err(ApiError::rejected_query)?;
    let steps = state.runner(&tenant).records.visible_steps(query.q.as_deref()).await?;
    let limit = query.limit.unwrap_or(DEFAULT_PAGE).min(MAX_PAGE);
    Ok(Json(StepList {
        steps: steps
            .iter()
            .skip(query.offset.unwrap_or(0))
            .take(limit)
            .map(StepVersion::of)
            .collect(),
        total: steps.len(),
    }))
}

/// A step: its versions, and the contract and README of the newest.
#[derive(Debug, Serialize, ToSchema)]
pub struct StepDetail {
    /// The versions the tenant may use, its own first, newest first.
    pub versions: Vec<StepVersion>,
    /// The newest version's `describe()`: ports with media types, parameters with types
    /// and defaults.
    #[schema(value_type = Object)]
    pub contract: serde_json::Value,
    /// The newest version's README, if it has one.
    pub readme: Option<String>,
}

/// `GET /api/v1/steps/{name}`.
#[utoipa::path(
    get,
    path = "/api/v1/steps/{name}",
    tag = "steps",
    params(("name" = String, Path, description = "Step name")),
    responses(
        (status = 200, body = StepDetail),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "No version of it the tenant may use", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(name): Path<String>,
) -> Result<Json<StepDetail>, ApiError> {
    let records = state.runner(&tenant).records;
    let versions = records.step_versions(&name).await?;
    // Its own newest version first, else the newest visible one.
    let newest = versions
        .first()
        .ok_or_else(|| ApiError::not_found(format!("no step `{name}`")))?;
    Ok(Json(StepDetail {
        versions: versions.iter().map(StepVersion::of).collect(),
        contract: serde_json::from_str(&newest.info).unwrap_or_default(),
        readme: newest.readme.clone(),
    }))
}

/// Publishing options.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PublishQuery {
    /// Make the version public at once (default: private to the tenant).
    pub public: Option<bool>,
}

/// `PUT /api/v1/steps/{name}/{version}`.
#[utoipa::path(
    put,
    path = "/api/v1/steps/{name}/{version}",
    tag = "steps",
    params(
        ("name" = String, Path, description = "Must be the component's `describe().name`"),
        ("version" = String, Path, description = "Must be its `describe().version`"),
        PublishQuery,
    ),
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses(
        (status = 201, description = "Published", body = StepVersion),
        (status = 200, description = "Published already with these very bytes: nothing changed", body = StepVersion),
        (status = 401, body = crate::error::ErrorBody),
        (status = 409, description = "The version is published with other bytes", body = crate::error::ErrorBody),
        (status = 413, description = "Over the tenant's component-size quota", body = crate::error::ErrorBody),
        (status = 422, description = "Not a component of the Weft world, or its declaration disagrees with the path, or new bytes past the tenant's stored-bytes quota (code `quota`)", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn publish(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path((name, version)): Path<(String, String)>,
    query: Result<Query<PublishQuery>, QueryRejection>,
    body: Body,
) -> Result<(StatusCode, Json<StepVersion>), ApiError> {
    let Query(query) = query.map_err(ApiError::rejected_query)?;
    let quotas = state.quotas(&tenant).await?;
    // Publishing compiles a component: it counts against the submission rate.
    state.take_submission(&tenant, &quotas)?;
    let limit = quotas.component_size;
    let mut bytes = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading the component: {e}")))?;
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::too_large(format!(
                "quota component-size: a component may be at most {limit} bytes for you"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let runner = state.runner(&tenant);
    let reserved = state
        .reserve_stored(&tenant, &quotas, &Digest::of(&bytes), bytes.len() as u64)
        .await?;
    let (status, step) = publish_bytes(
        &runner,
        &format!("{name}@{version}"),
        Some((&name, &version)),
        &bytes,
        query.public.unwrap_or(false),
    )
    .await?;
    reserved.keep();
    state
        .audit(
            &tenant,
            "step.publish",
            &format!("{name}@{version}"),
            serde_json::json!({"digest": step.digest, "size": step.size, "public": step.public, "new": status == StatusCode::CREATED}),
        )
        .await;
    Ok((status, Json(StepVersion::of(&step))))
}

/// Checks `bytes` (shown as `shown`) and publishes them, for the runner's tenant, as the
/// name and version its `describe()` declares — which must be `expected` when given.
async fn publish_bytes(
    runner: &Runner,
    shown: &str,
    expected: Option<(&str, &str)>,
    bytes: &[u8],
    public: bool,
) -> Result<(StatusCode, RegisteredStep), ApiError> {
    let Runner { loader, store, records } = runner;
    let inspected = loader.inspect(bytes, shown).await.map_err(|problem| {
        ApiError::invalid(weft_runner::Invalid {
            text: format!("{shown} cannot be published: {problem}"),
            problems: Vec::new(),
        })
    })?;
    let (name, version) = (inspected.info.name.as_str(), inspected.info.version.as_str());
    if expected.is_some_and(|wanted| wanted != (name, version)) {
        return Err(ApiError::invalid(weft_runner::Invalid {
            text: format!(
                "the component declares itself `{}@{}`: publish it as that (PUT /api/v1/steps/{}/{})",
                inspected.info.name, inspected.info.version, inspected.info.name, inspected.info.version
            ),
            problems: Vec::new(),
        }));
    }
    store
        .put_bytes_stored(bytes, "application/wasm")
        .await
        .map_err(ApiError::internal)?;
    let info = serde_json::to_value(&inspected.info).map_err(ApiError::internal)?;
    let outcome = records
        .publish_step(&weft_records::NewStep {
            name,
            version,
            digest: &inspected.digest,
            size: bytes.len() as u64,
            info: &info,
            readme: None,
            public,
        })
        .await
        .map_err(|e| match e {
            weft_records::RecordsError::VersionTaken { .. } => ApiError::conflict(e.to_string()),
            weft_records::RecordsError::TooManyVersions { .. } => ApiError::quota(e.to_string()),
            other => ApiError::from(other),
        })?;
    let step = records
        .resolve_step(name, Some(version))
        .await?
        .filter(|s| s.owner == records.tenant() && s.version == version)
        .ok_or_else(|| ApiError::internal("a published version is not found"))?;
    let status = match outcome {
        Published::New => StatusCode::CREATED,
        Published::Unchanged => StatusCode::OK,
    };
    Ok((status, step))
}

/// `PUT /api/v1/steps/{name}/{version}/readme`.
#[utoipa::path(
    put,
    path = "/api/v1/steps/{name}/{version}/readme",
    tag = "steps",
    params(("name" = String, Path), ("version" = String, Path)),
    request_body(content = String, content_type = "text/markdown"),
    responses(
        (status = 204, description = "Kept"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "The tenant published no such version", body = crate::error::ErrorBody),
        (status = 413, description = "Over 256 KiB", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn readme(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path((name, version)): Path<(String, String)>,
    text: String,
) -> Result<StatusCode, ApiError> {
    if text.len() > MAX_README_BYTES {
        return Err(ApiError::too_large(format!(
            "a README may be at most {MAX_README_BYTES} bytes"
        )));
    }
    if state
        .runner(&tenant)
        .records
        .set_step_readme(&name, &version, &text)
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("you published no `{name}@{version}`")))
    }
}

/// Who may use a version.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Visibility {
    /// `true`: every tenant may use it (never change it); `false`: only its owner.
    pub public: bool,
}

/// `POST /api/v1/steps/{name}/{version}/public`.
#[utoipa::path(
    post,
    path = "/api/v1/steps/{name}/{version}/public",
    tag = "steps",
    params(("name" = String, Path), ("version" = String, Path)),
    request_body = Visibility,
    responses(
        (status = 204, description = "Done"),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, description = "The tenant published no such version", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn visibility(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path((name, version)): Path<(String, String)>,
    body: Result<Json<Visibility>, JsonRejection>,
) -> Result<StatusCode, ApiError> {
    let Json(body) = body.map_err(ApiError::rejected_json)?;
    if !state
        .runner(&tenant)
        .records
        .set_step_public(&name, &version, body.public)
        .await?
    {
        return Err(ApiError::not_found(format!("you published no `{name}@{version}`")));
    }
    state
        .audit(
            &tenant,
            "step.visibility",
            &format!("{name}@{version}"),
            serde_json::json!({"public": body.public}),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The registry as one tenant sees it: where its workflows' `uses:` are found.
pub(crate) struct Registry {
    /// The tenant's records.
    pub records: Records,
    /// The store of no tenant in particular: a public step's bytes are in its owner's.
    pub store: ArtifactStore,
}

#[async_trait::async_trait]
impl Components for Registry {
    async fn find(&self, uses: &str) -> Result<FoundComponent, String> {
        let step = match ComponentRef::parse(uses)? {
            ComponentRef::Path(_) => {
                return Err(
                    "a submitted workflow uses published steps (`NAME@VERSION` or `sha256:…`): a path would read a file of the server"
                        .to_string(),
                );
            }
            ComponentRef::Named { name, version } => self
                .records
                .resolve_step(&name, version.as_deref())
                .await
                .map_err(|e| e.to_string())?,
            ComponentRef::Digest(text) => {
                let digest = text.parse().map_err(|e: String| e)?;
                self.records.step_by_digest(&digest).await.map_err(|e| e.to_string())?
            }
        };
        let step = step.ok_or_else(|| {
            format!("no step `{uses}` is published here for you (`GET /api/v1/steps` lists those you may use)")
        })?;
        let digest: weft_artifacts::Digest = step.digest.parse().map_err(|e: String| e)?;
        let bytes = weft_runner::read_stored_component(&self.store.for_tenant(&step.owner), &digest)
            .await
            .map_err(|e| format!("{}@{}: {e:#}", step.name, step.version))?;
        Ok(FoundComponent {
            shown: format!("{}@{} ({})", step.name, step.version, step.digest),
            bytes,
        })
    }
}

/// Publishes every `.wasm` in `dirs` as a public step of the built-in tenant; returns how
/// many are published (new or unchanged). A file that is not a usable component, or whose
/// version is published already with other bytes, is logged and skipped.
pub(crate) async fn publish_builtin(state: &State, dirs: &[PathBuf]) -> anyhow::Result<usize> {
    let builtin = Tenant::trusted(weft_records::BUILTIN_TENANT.to_string());
    let runner = state.runner(&builtin);
    // Records from before the name was reserved may hold a tenant `weft`: its token would
    // own (and could hide) the server's own steps.
    if runner
        .records
        .list_tenants()
        .await?
        .iter()
        .any(|t| t.name == weft_records::BUILTIN_TENANT)
    {
        anyhow::bail!(
            "the records hold a tenant named `{}`, the name of the server's own steps: rename or remove it first",
            weft_records::BUILTIN_TENANT
        );
    }
    let mut published = 0;
    let mut seen = std::collections::HashSet::new();
    for dir in dirs {
        // A directory named twice (`dist/plugins` and its absolute path) is published once.
        if !seen.insert(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
            .collect();
        files.sort();
        for file in files {
            let bytes = match weft_runner::read_component(&file) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::warn!("not publishing {}: {e:#}", file.display());
                    continue;
                }
            };
            let shown = file.display().to_string();
            match publish_bytes(&runner, &shown, None, &bytes, true).await {
                Ok(_) => published += 1,
                Err(e) => tracing::warn!("not publishing {shown}: {}", e.message()),
            }
        }
    }
    Ok(published)
}
