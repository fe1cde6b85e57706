//! Weft's HTTP API, served by `weft serve`: tenants submit workflow YAML, follow their runs
//! (also as server-sent events), read logs and download artifacts, over versioned JSON
//! paths (`/api/v1/...`) described by an OpenAPI document ([`openapi`]).
//!
//! Every request under `/api/v1` carries a tenant's token (`Authorization: Bearer weft_…`,
//! `auth.rs`); every handler reads and writes through that tenant's [`Runner`] (records and
//! store scoped to it), so another tenant's run or artifact answers 404 like one that does
//! not exist. Runs execute in this process (`hub.rs`); runs the server was executing when
//! it stopped are resumed when it starts ([`Server::resume_interrupted`]).
//!
//! The server gets every setting as a value ([`ServerConfig`]): only the CLI reads the
//! environment.

mod artifacts;
mod audit;
mod auth;
mod compare;
mod error;
mod events;
mod fair;
mod health;
mod hub;
mod metrics;
pub mod openapi;
mod quota;
mod runs;
mod steps;
mod traces;
mod ui;
mod usage;

pub use error::ApiError;
pub use quota::{QUOTA_NAMES, Quotas};
pub use traces::TraceConfig;
pub use ui::url_escape;

use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use weft_runner::Runner;

/// How the server runs what it is given.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Most steps executing at once, over every run of every tenant (shared fairly).
    pub slots: usize,
    /// Longest a run may take (the workflow's own limit applies too); `None`: no limit.
    pub run_timeout: Option<Duration>,
    /// Largest artifact a tenant may upload, in bytes.
    pub max_upload_bytes: u64,
    /// Every tenant's quotas, unless the records hold overrides for it.
    pub quotas: Quotas,
    /// Where to send traces (OTLP); `None`: no traces.
    pub traces: Option<TraceConfig>,
    /// Hand every run's steps to `weft worker`s sharing the records and store instead of
    /// executing them here (`slots` then does not apply; a tenant's `concurrent-steps`
    /// holds over all the workers).
    pub on_workers: bool,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            slots: 4,
            run_timeout: None,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            quotas: Quotas::default(),
            traces: None,
            on_workers: false,
        }
    }
}

/// How often the records of a run on workers are looked at for its events.
pub(crate) const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// Most steps of one run started at once (each then waits for a slot); bounds the tasks
/// one run holds.
const MAX_READY_STEPS_PER_RUN: usize = 256;

/// Largest upload by default: 1 GiB.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

/// The server: one runner (records, store, loader) shared by every tenant, seen through
/// each tenant's scope per request.
#[derive(Clone)]
pub struct Server {
    pub(crate) state: Arc<State>,
}

/// What every handler shares.
pub(crate) struct State {
    /// Records and store of no tenant in particular: always narrowed with
    /// [`State::runner`] before use.
    runner: Runner,
    pub(crate) config: ServerConfig,
    /// The runs executing in this process.
    pub(crate) hub: Arc<hub::Hub>,
    /// The step slots, shared fairly between tenants.
    pub(crate) fair: Arc<fair::Fair>,
    /// Each tenant's recent submissions.
    pub(crate) submissions: quota::SubmissionRate,
    /// Each tenant's stored bytes.
    pub(crate) usage: Arc<weft_runner::StoredBytes>,
}

/// How a run of a tenant with `quotas` is handed to workers: its quotas go with it.
pub(crate) fn on_workers(quotas: &Quotas) -> weft_runner::OnWorkers {
    weft_runner::OnWorkers {
        step_limit: quotas.concurrent_steps,
        output_bytes: Some(quotas.run_output_bytes),
        stored_bytes: Some(quotas.stored_bytes),
        poll: FOLLOW_POLL,
    }
}

impl State {
    /// Appends to `tenant`'s audit log. A failure is logged, not answered: the action it
    /// records already happened.
    pub(crate) async fn audit(&self, tenant: &auth::Tenant, action: &str, subject: &str, detail: serde_json::Value) {
        if let Err(e) = self.runner(tenant).records.audit(action, subject, &detail).await {
            tracing::error!(
                tenant = tenant.name(),
                action,
                subject,
                "cannot write the audit log: {e}"
            );
        }
    }

    /// `tenant`'s quotas: the server's, with its overrides from the records.
    pub(crate) async fn quotas(&self, tenant: &auth::Tenant) -> Result<Quotas, ApiError> {
        let overrides = self.runner.records.tenant_quotas(tenant.name()).await?;
        self.config
            .quotas
            .with_overrides(&overrides)
            .map_err(ApiError::internal)
    }

    /// How a run of `tenant` executes: at most `slots` steps at once, each admitted to its
    /// fair share under the tenant's quotas; `produced` bytes count already against its
    /// `run-output-bytes` (a resumed run's committed steps).
    pub(crate) async fn run_settings(
        self: &Arc<Self>,
        tenant: &auth::Tenant,
        quotas: &Quotas,
        produced: u64,
    ) -> Result<weft_runner::RunSettings, ApiError> {
        let run_output = weft_task::ByteBudget::new("run-output-bytes", "per run", quotas.run_output_bytes, produced);
        let stored = self.stored(tenant, quotas.stored_bytes).await?;
        Ok(weft_runner::RunSettings {
            // The admission below is what bounds executing steps: every ready step waits
            // there, so a free slot can go to whichever tenant's turn it is.
            concurrency: MAX_READY_STEPS_PER_RUN,
            use_cache: true,
            timeout: self.config.run_timeout,
            // Replaced by the hub with the run's own.
            cancel: weft_engine::CancelSignal::default(),
            admission: Some(Arc::new(fair::RunAdmission {
                fair: self.fair.clone(),
                tenant: tenant.name().to_string(),
                concurrent_steps: usize::try_from(quotas.concurrent_steps).unwrap_or(usize::MAX),
                budgets: vec![Arc::new(run_output), stored],
            })),
            on_workers: self.config.on_workers.then(|| on_workers(quotas)),
        })
    }

    /// Takes one of `tenant`'s submissions (and publications) of the minute: 429 with
    /// `Retry-After` when its quota is used up.
    pub(crate) fn take_submission(&self, tenant: &auth::Tenant, quotas: &Quotas) -> Result<(), ApiError> {
        self.submissions
            .take(tenant.name(), quotas.submissions_per_minute)
            .map_err(|wait| {
                ApiError::too_many(
                    format!(
                        "quota submissions-per-minute: at most {} submissions and publications a minute; try again \
                         in {} s",
                        quotas.submissions_per_minute,
                        wait.as_secs() + 1
                    ),
                    wait,
                )
            })
    }

    /// Room for one more run of `tenant`: 429 when its `concurrent-runs` are going.
    pub(crate) fn room_for_a_run(&self, tenant: &auth::Tenant, quotas: &Quotas) -> Result<hub::RunRoom, ApiError> {
        self.hub
            .reserve_run(tenant.name(), quotas.concurrent_runs)
            .map_err(|going| {
                ApiError::too_many(
                    format!(
                        "quota concurrent-runs: {going} of your runs are executing, waiting for slots or starting, \
                         at most {} at once; try again when one has finished",
                        quotas.concurrent_runs
                    ),
                    std::time::Duration::from_secs(5),
                )
            })
    }

    /// The step registry as `tenant` sees it.
    pub(crate) fn registry(&self, tenant: &auth::Tenant) -> steps::Registry {
        steps::Registry {
            records: self.runner.records.for_tenant(tenant.name()),
            store: self.runner.store.clone(),
        }
    }

    /// The run lifecycle over `tenant`'s records and store only.
    pub(crate) fn runner(&self, tenant: &auth::Tenant) -> Runner {
        Runner {
            loader: self.runner.loader.clone(),
            store: self.runner.store.for_tenant(tenant.name()),
            records: self.runner.records.for_tenant(tenant.name()),
        }
    }
}

impl Server {
    /// A server over `runner`'s records, store and loader (their tenant is ignored). With
    /// `config.traces`, it starts its span exporter on the current tokio runtime.
    pub fn new(runner: Runner, config: ServerConfig) -> Server {
        let tracer = config.traces.clone().map(traces::Tracer::start);
        Server {
            state: Arc::new(State {
                runner,
                fair: fair::Fair::new(config.slots),
                config,
                hub: Arc::new(hub::Hub::new(tracer)),
                submissions: quota::SubmissionRate::default(),
                usage: Arc::default(),
            }),
        }
    }

    /// The routes: `/healthz`, `/readyz`, `/api/v1/openapi.json` and the API.
    pub fn router(&self) -> Router {
        Router::new()
            .merge(health::routes())
            .merge(ui::routes())
            .nest(
                "/api/v1",
                runs::routes()
                    .merge(artifacts::routes())
                    .merge(steps::routes())
                    .route("/audit", axum::routing::get(audit::audit_log))
                    .merge(openapi::routes()),
            )
            .with_state(self.state.clone())
    }

    /// Serves on `listener` until `shutdown` completes; runs still executing then are
    /// left recorded as running and resumed by the next start.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router())
            .with_graceful_shutdown(shutdown)
            .await
    }

    /// Resumes every tenant's run that a stopped server (or a killed `weft run`) left
    /// running, and follows the runs workers execute (for their events); returns how many.
    /// One that cannot be resumed is logged and left as it is.
    pub async fn resume_interrupted(&self) -> anyhow::Result<usize> {
        let records = &self.state.runner.records;
        let mut interrupted = records.interrupted_runs().await?;
        interrupted.extend(records.runs_on_workers().await?);
        let mut resumed = 0;
        for (tenant, run_id) in interrupted {
            let tenant = auth::Tenant::trusted(tenant);
            match runs::resume_run(&self.state, &tenant, &run_id, "server start").await {
                Ok(()) => resumed += 1,
                Err(e) => tracing::warn!(run = %run_id, tenant = tenant.name(), "cannot resume: {}", e.message()),
            }
        }
        Ok(resumed)
    }

    /// Publishes every component in `dirs` (the server's plugin directories) as a public
    /// step of the built-in tenant; returns how many are published.
    pub async fn publish_builtin(&self, dirs: &[std::path::PathBuf]) -> anyhow::Result<usize> {
        steps::publish_builtin(&self.state, dirs).await
    }

    /// Waits until no run executes in this process (for tests and a clean shutdown).
    pub async fn idle(&self) {
        self.state.hub.idle().await;
    }

    /// Sends the spans not sent yet (the server is stopping), waiting at most 5 s.
    pub async fn flush_traces(&self) {
        self.state.hub.flush_traces(std::time::Duration::from_secs(5)).await;
    }
}
