//! Runs over HTTP: submit workflow YAML (validated first: an invalid one answers 422 with
//! every problem and runs nothing), list and read runs, cancel, resume, read logs.

use crate::auth::Tenant;
use crate::{ApiError, State};
use axum::Json;
use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use weft_artifacts::Digest;
use weft_runner::LoadError;

/// Most parameter overrides or bound inputs in one submission.
const MAX_BINDINGS: usize = 1_000;
/// Longest name a submission gives its workflow.
const MAX_FILE_NAME: usize = 255;
/// Most runs listed at once.
const MAX_LIST: u32 = 1_000;
/// Most log lines answered at once.
const MAX_LOG_PAGE: usize = 10_000;

pub(crate) fn routes() -> Router<Arc<State>> {
    Router::new()
        .route("/runs", post(submit).get(list))
        .route("/runs/{id}", get(show))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/runs/{id}/resume", post(resume))
        .route("/runs/{id}/logs", get(logs))
        .route("/runs/{id}/events", get(crate::events::run_events))
        .route("/compare", get(crate::compare::compare))
        // A workflow is at most 1 MiB; with parameters and bindings the body stays far below.
        .layer(axum::extract::DefaultBodyLimit::max(4 << 20))
}

/// A workflow to run.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The workflow's YAML text (at most 1 MiB).
    pub workflow: String,
    /// Parameter overrides, name → value as text (as `weft run --param name=value`).
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Workflow input name → digest (`sha256:…`) of an artifact uploaded with
    /// `PUT /api/v1/artifacts/{digest}`.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// How the workflow is named in problems and the records (e.g. its file name);
    /// `workflow.yaml` when absent.
    #[serde(default)]
    pub file: Option<String>,
}

/// A run that was accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct Submitted {
    /// Its id.
    pub run_id: String,
    /// The workflow's name.
    pub workflow: String,
    /// Its planned steps.
    pub steps: usize,
}

/// `POST /api/v1/runs`.
#[utoipa::path(
    post,
    path = "/api/v1/runs",
    tag = "runs",
    request_body = SubmitRequest,
    responses(
        (status = 201, description = "Validated, recorded and started", body = Submitted),
        (status = 400, description = "Not a submission", body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
        (status = 422, description = "An invalid workflow (every problem with its line and column), or one whose steps exceed the tenant's step quotas; nothing ran", body = crate::error::ErrorBody),
        (status = 429, description = "The tenant's submissions-per-minute quota is used up, or its concurrent-runs are going (`Retry-After` says when to try again)", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn submit(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    body: Result<Json<SubmitRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let request = body.map(|Json(r)| r).map_err(ApiError::rejected_json);
    let submitted = submit_run(&state, &tenant, request).await?;
    Ok((StatusCode::CREATED, Json(submitted)))
}

/// Validates, records and starts `request` of `tenant` (the API's submit and the UI's).
/// A request that could not be read still counts against `submissions-per-minute`.
pub(crate) async fn submit_run(
    state: &Arc<State>,
    tenant: &Tenant,
    request: Result<SubmitRequest, ApiError>,
) -> Result<Submitted, ApiError> {
    let quotas = state.quotas(tenant).await?;
    // Room first: a refusal for want of it costs no submission.
    let room = state.room_for_a_run(tenant, &quotas)?;
    state.take_submission(tenant, &quotas)?;
    let request = request?;
    if request.workflow.len() as u64 > weft_runner::MAX_WORKFLOW_BYTES {
        return Err(ApiError::too_large(format!(
            "the workflow is {} bytes; at most {} are accepted",
            request.workflow.len(),
            weft_runner::MAX_WORKFLOW_BYTES
        )));
    }
    if request.params.len() > MAX_BINDINGS || request.inputs.len() > MAX_BINDINGS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BINDINGS} parameters and {MAX_BINDINGS} inputs may be given"
        )));
    }
    let file = request.file.unwrap_or_else(|| "workflow.yaml".to_string());
    if file.len() > MAX_FILE_NAME || file.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!(
            "`file` must be at most {MAX_FILE_NAME} bytes without control characters"
        )));
    }
    let mut inputs = BTreeMap::new();
    for (name, digest) in request.inputs {
        let digest: Digest = digest
            .parse()
            .map_err(|e| ApiError::bad_request(format!("input `{name}`: {e}")))?;
        inputs.insert(name, digest);
    }
    let overrides: Vec<(String, String)> = request.params.into_iter().collect();
    let runner = state.runner(tenant);
    let registry = state.registry(tenant);
    let sandbox = &runner.loader.sandbox;
    let (default_memory, default_timeout) = (sandbox.default_memory, sandbox.default_timeout);
    let within_quotas = |plan: &weft_model::Plan| quotas.check_plan(plan, default_memory, default_timeout);
    // Before the run is recorded: a failure here leaves nothing behind.
    let settings = state.run_settings(tenant, &quotas, 0).await?;
    let prepared = match runner
        .submit(&file, request.workflow, &overrides, &inputs, &registry, &within_quotas)
        .await
    {
        Ok(p) => p,
        Err(LoadError::Invalid(invalid)) => return Err(ApiError::invalid(invalid)),
        Err(LoadError::Other(e)) => return Err(ApiError::internal(format!("{e:#}"))),
    };
    let submitted = Submitted {
        run_id: prepared.run_id.clone(),
        workflow: prepared.plan.name.clone(),
        steps: prepared.plan.steps.len(),
    };
    tracing::info!(tenant = tenant.name(), run = %submitted.run_id, workflow = %submitted.workflow, "run submitted");
    let mut components: Vec<String> = prepared.digests.iter().map(ToString::to_string).collect();
    components.sort();
    components.dedup();
    let inputs: BTreeMap<&String, String> = prepared.inputs.iter().map(|(k, v)| (k, v.digest.to_string())).collect();
    state
        .audit(
            tenant,
            "run.submit",
            &submitted.run_id,
            serde_json::json!({"workflow": submitted.workflow, "file": file, "params": overrides, "inputs": inputs, "components": components}),
        )
        .await;
    state.hub.metrics.run_submitted();
    state.hub.launch(runner, prepared, settings, Some(room));
    Ok(submitted)
}

/// Which runs to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only runs with this recorded status: `running` (also interrupted ones),
    /// `succeeded`, `failed` or `cancelled`.
    pub status: Option<String>,
    /// Only runs of this workflow (by name).
    pub workflow: Option<String>,
    /// At most this many (default 50, at most 1000).
    pub limit: Option<u32>,
    /// Skip this many of the newest matching runs.
    pub offset: Option<u32>,
}

impl ListQuery {
    /// The records' filter: at most [`MAX_LIST`] runs, whatever was asked.
    fn filter(self) -> weft_records::RunFilter {
        weft_records::RunFilter {
            status: self.status,
            workflow: self.workflow,
            offset: self.offset.unwrap_or(0),
            limit: self.limit.unwrap_or(50).min(MAX_LIST),
        }
    }
}

/// A page of runs, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunList {
    /// The runs.
    #[schema(value_type = Vec<Object>)]
    pub runs: Vec<weft_records::RunListing>,
}

/// `GET /api/v1/runs`.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(ListQuery),
    responses(
        (status = 200, body = RunList),
        (status = 400, body = crate::error::ErrorBody),
        (status = 401, body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn list(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RunList>, ApiError> {
    let Query(query) = query.map_err(ApiError::rejected_query)?;
    if let Some(status) = &query.status
        && !["running", "succeeded", "failed", "cancelled"].contains(&status.as_str())
    {
        return Err(ApiError::bad_request(
            "`status` is one of running, succeeded, failed, cancelled",
        ));
    }
    let filter = query.filter();
    let runs = state.runner(&tenant).records.find_runs(&filter).await?;
    Ok(Json(RunList {
        runs: runs.iter().map(weft_records::RunSummary::listing).collect(),
    }))
}

/// `GET /api/v1/runs/{id}`: the run report (as `weft runs show --json`).
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 200, description = "The run: status, parameters, inputs, and each step's status, attempts, outputs and metrics", body = Object),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn show(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<Json<weft_engine::RunReport>, ApiError> {
    let detail = state.runner(&tenant).records.run(&run_id).await?;
    Ok(Json(detail.report()))
}

/// What became of a cancel or resume request.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// The run.
    pub run_id: String,
    /// What happens now.
    pub message: String,
}

/// `POST /api/v1/runs/{id}/cancel`.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/cancel",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "The run stops within a second and is recorded as cancelled", body = Accepted),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The run is not running", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn cancel(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    cancel_run(&state, &tenant, &run_id, "the API").await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            run_id,
            message: "the run stops within a second and is recorded as cancelled".into(),
        }),
    ))
}

/// `POST /api/v1/runs/{id}/resume`.
#[utoipa::path(
    post,
    path = "/api/v1/runs/{id}/resume",
    tag = "runs",
    params(("id" = String, Path, description = "Run id")),
    responses(
        (status = 202, description = "The run continues: committed steps are kept, the rest run", body = Accepted),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
        (status = 409, description = "The run is running, or succeeded", body = crate::error::ErrorBody),
        (status = 429, description = "The tenant's concurrent-runs are going", body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn resume(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(run_id): Path<String>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    resume_run(&state, &tenant, &run_id, "request").await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            run_id,
            message: "the run continues: committed steps are kept, the rest run".into(),
        }),
    ))
}

/// Asks `run_id` of `tenant` to stop (`through` names the way in, for the step's error:
/// `the API`, `the web UI`); 409 when it is not running.
pub(crate) async fn cancel_run(state: &State, tenant: &Tenant, run_id: &str, through: &str) -> Result<(), ApiError> {
    let records = state.runner(tenant).records;
    let status = records.run(run_id).await?.summary.status;
    if status != "running" && status != "interrupted" {
        return Err(ApiError::conflict(format!("run {run_id} is not running (it {status})")));
    }
    records.request_cancel(run_id).await?;
    if let Some(live) = state.hub.find(tenant.name(), run_id) {
        live.cancel.cancel(format!("cancelled through {through}"));
    }
    tracing::info!(tenant = tenant.name(), run = %run_id, "cancel requested");
    state.audit(tenant, "run.cancel", run_id, serde_json::json!({})).await;
    Ok(())
}

/// Resumes `run_id` of `tenant` in this server; `by` says why in the audit log (`request`,
/// `server start`).
pub(crate) async fn resume_run(state: &Arc<State>, tenant: &Tenant, run_id: &str, by: &str) -> Result<(), ApiError> {
    let runner = state.runner(tenant);
    let detail = runner.records.run(run_id).await?;
    // A run whose end is recorded leaves the hub a moment later (at once for a run executing
    // here; at the next look for one on workers, followed from the records).
    let ended = detail.status() != weft_engine::RunStatus::Running;
    if state.hub.is_executing(tenant.name(), run_id)
        && !(ended && state.hub.let_go(tenant.name(), run_id, 2 * crate::FOLLOW_POLL).await)
    {
        return Err(ApiError::conflict(format!("run {run_id} is running in this server")));
    }
    if detail.status() == weft_engine::RunStatus::Succeeded {
        return Err(ApiError::conflict(format!(
            "run {run_id} succeeded: there is nothing to resume"
        )));
    }
    // Before the run is reopened: a failure here leaves it as it was. What its committed
    // steps produced counts against the run's quota as before.
    let quotas = state.quotas(tenant).await?;
    // Runs the server resumes at start were going when it stopped: no new room is needed.
    let room = match by {
        "request" => Some(state.room_for_a_run(tenant, &quotas)?),
        _ => None,
    };
    let mut settings = state
        .run_settings(tenant, &quotas, produced(&detail.report().steps))
        .await?;
    let prepared = runner
        .resume(run_id)
        .await
        .map_err(|e| match e.downcast::<weft_records::RecordsError>() {
            Ok(e) => ApiError::from(e),
            Err(e) => ApiError::internal(format!("{e:#}")),
        })?;
    if prepared.on_workers && settings.on_workers.is_none() {
        // Handed to workers (`weft run --on-workers`): theirs for good, whatever this
        // server does with its own runs.
        settings.on_workers = Some(crate::on_workers(&quotas));
    }
    tracing::info!(tenant = tenant.name(), run = %run_id, "run resumed");
    state
        .audit(tenant, "run.resume", run_id, serde_json::json!({ "by": by }))
        .await;
    state.hub.launch(runner, prepared, settings, room);
    Ok(())
}

/// The bytes a run's steps produced so far: the outputs of the steps it executed (not
/// those it reused from the cache) that succeeded.
fn produced(steps: &[weft_engine::StepReport]) -> u64 {
    steps
        .iter()
        .filter(|s| s.status == weft_engine::StepStatus::Succeeded && s.reuse.is_none())
        .flat_map(|s| s.outputs.values())
        .map(|o| o.size)
        .sum()
}

/// Which log lines.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Only this step (`train` also gives `train[0]`, `train[1]`, … of a fan-out).
    pub step: Option<String>,
    /// Skip this many lines.
    pub offset: Option<usize>,
    /// At most this many lines (default and maximum 10,000).
    pub limit: Option<usize>,
}

impl LogQuery {
    /// Lines to skip and to answer: at most [`MAX_LOG_PAGE`], whatever was asked.
    fn page(&self) -> (usize, usize) {
        (
            self.offset.unwrap_or(0),
            self.limit.unwrap_or(MAX_LOG_PAGE).min(MAX_LOG_PAGE),
        )
    }
}

/// A page of a run's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogPage {
    /// The lines, in plan order of their steps.
    pub lines: Vec<LogLine>,
    /// Lines in all (with the filter).
    pub total: u64,
}

/// One log line.
#[derive(Debug, Serialize, ToSchema)]
pub struct LogLine {
    /// The step that wrote it.
    pub step: String,
    /// `log` (the step's own log), `stdout` or `stderr`, with a level for `log`.
    pub stream: String,
    /// The text, as the step wrote it (not escaped: a terminal must escape it).
    pub message: String,
}

/// `GET /api/v1/runs/{id}/logs`.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}/logs",
    tag = "runs",
    params(("id" = String, Path, description = "Run id"), LogQuery),
    responses(
        (status = 200, body = LogPage),
        (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody),
    ),
    security(("token" = []))
)]
pub(crate) async fn logs(
    AxumState(state): AxumState<Arc<State>>,
    tenant: Tenant,
    Path(run_id): Path<String>,
    query: Result<Query<LogQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<LogPage>, ApiError> {
    let Query(query) = query.map_err(ApiError::rejected_query)?;
    let (skip, take) = query.page();
    let (page, total) = state
        .runner(&tenant)
        .records
        .logs_page(
            &run_id,
            query.step.as_deref(),
            skip as u64,
            u32::try_from(take).unwrap_or(u32::MAX),
        )
        .await?;
    let lines = page
        .into_iter()
        .map(|(step, record)| LogLine {
            step,
            stream: record.stream,
            message: record.message,
        })
        .collect();
    Ok(Json(LogPage { lines, total }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resumed_run_counts_what_its_executed_steps_produced() {
        use weft_engine::{Reuse, StepReport, StepStatus};
        let step = |id: &str, status, reuse, size| StepReport {
            id: id.into(),
            uses: "x".into(),
            instance: None,
            component: Digest::of(b"c"),
            params: BTreeMap::new(),
            status,
            reuse,
            cache_key: None,
            inputs: Vec::new(),
            attempts: Vec::new(),
            duration_ms: None,
            outputs: BTreeMap::from([(
                "out".to_string(),
                weft_artifacts::ArtifactMeta {
                    digest: Digest::of(id.as_bytes()),
                    size,
                    media_type: "text/plain".into(),
                },
            )]),
            metrics: Vec::new(),
            error: None,
            log: Vec::new(),
        };
        let steps = [
            step("a", StepStatus::Succeeded, None, 20),
            step("b", StepStatus::Succeeded, Some(Reuse::Cached("old".into())), 300),
            step("c", StepStatus::Failed, None, 4000),
            step("d", StepStatus::Succeeded, None, 5),
        ];
        assert_eq!(produced(&steps), 25, "executed and succeeded only");
    }

    #[test]
    fn pages_are_bounded_whatever_is_asked() {
        let logs = |offset, limit| LogQuery {
            step: None,
            offset,
            limit,
        };
        assert_eq!(logs(None, None).page(), (0, MAX_LOG_PAGE));
        assert_eq!(logs(Some(7), Some(3)).page(), (7, 3));
        assert_eq!(logs(None, Some(usize::MAX)).page(), (0, MAX_LOG_PAGE));
        let runs = |limit| ListQuery {
            status: None,
            workflow: None,
            limit,
            offset: None,
        };
        assert_eq!(runs(None).filter().limit, 50);
        assert_eq!(runs(Some(20)).filter().limit, 20);
        assert_eq!(runs(Some(u32::MAX)).filter().limit, MAX_LIST);
    }
}
