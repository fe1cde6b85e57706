//! Weft's run records: runs, steps, attempts, artifacts by producer, metrics, logs and cache
//! entries in a SQL database — SQLite by default (one file under `.weft/`, WAL), or
//! PostgreSQL (a `postgres://` URL) for records shared by many machines.
//!
//! One API over both ([`Records`], `db.rs`): reads are one SQL text with `$n` placeholders
//! for both backends; writes are described once (`script.rs`) and sent as one round trip
//! to either. Migrations are versioned per backend under `migrations/sqlite` and
//! `migrations/postgres` (the same schema in each one's types) and run when the records are
//! opened. [`Records`] implements the engine's [`weft_engine::Journal`]: a finished step is
//! committed in one transaction.

mod advance;
mod audit;
mod compare;
mod db;
mod health;
mod inline;
mod journal;
mod lineage;
mod location;
mod owner;
mod pipeline;
mod queue;
mod read;
mod registry;
mod script;
mod tenants;
#[cfg(feature = "testing")]
pub mod testing;
mod write;

pub use advance::{Committed, RunBytes, RunLimits};
pub use audit::{AuditEntry, MAX_AUDIT_PAGE};
pub use compare::{ComparedRun, MetricRow, MetricsComparison, compare_metrics};
pub use health::{Recovered, check, recover};
pub use inline::{BadInlineBlob, InlineCheck, share_small_artifacts};
pub use lineage::{LineageNode, Origin, lineage_from_json, lineage_json};
pub use queue::{Claim, ClaimFilter, Queue, Wakeups};
pub use read::{RunDetail, RunFilter, RunListing, RunSummary, rfc3339};
pub use registry::{MAX_VERSIONS_PER_TENANT, NewStep, Published, RegisteredStep, compare_versions, version_matches};
pub use tenants::{BUILTIN_TENANT, MAX_TENANT_NAME, Tenant, check_tenant_name};
pub use write::NewRun;

pub use location::Location;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// What went wrong with the records.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The database refused or failed (a full disk and a damaged file say so, and what
    /// to do).
    #[error("run records: {}", health::describe(.0))]
    Db(#[from] sqlx::Error),
    /// The PostgreSQL server could not be reached or refused the connection (the
    /// location is shown without its password).
    #[error("run records: cannot open the PostgreSQL records at {server}: {reason}")]
    Unreachable {
        /// The server and database, without the password.
        server: String,
        /// Why.
        reason: String,
    },
    /// A migration failed.
    #[error("run records: migrating the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Finished steps whose rows the database refused; they are recorded as failed (the
    /// other steps of their commit were recorded).
    #[error(
        "run records: step(s) {} could not be recorded ({reason}); they are recorded as failed and run again on \
         `weft run --resume`",
        steps.join(", ")
    )]
    NotRecorded {
        /// Their ids.
        steps: Vec<String>,
        /// Why, for the first of them.
        reason: String,
    },
    /// No such run.
    #[error("no run `{0}` in the records")]
    UnknownRun(String),
    /// A run another live process runs (or may run: one on another machine) cannot be
    /// resumed here: two processes would execute and commit the same steps.
    #[error(
        "run {run} is running in process {pid} on {host}: it cannot be resumed while that process may be alive \
         (stop it with `weft cancel {run}`; a run whose process on this machine is gone can be resumed)"
    )]
    StillRunning {
        /// The run.
        run: String,
        /// The machine recorded as running it.
        host: String,
        /// Its process id there.
        pid: String,
    },
    /// A run workers execute from the step queue is never taken over by one process.
    #[error(
        "run {0} is executed by workers (`weft worker`) from the step queue: it cannot be resumed in one process \
         (a worker that stopped is replaced by another claiming its steps)"
    )]
    OnWorkers(String),
    /// A tenant name Weft cannot use.
    #[error(
        "`{0}` cannot name a tenant: use 1 to 63 lowercase letters, digits and `-`, starting with a letter or digit"
    )]
    BadTenantName(String),
    /// A tenant of that name exists already.
    #[error("tenant `{0}` exists already (`weft tenant token {0}` gives it a new token)")]
    TenantExists(String),
    /// A name Weft keeps for itself.
    #[error("`{0}` is reserved: it owns the steps a server publishes from its own plugin directories")]
    ReservedTenant(String),
    /// No tenant of that name.
    #[error("no tenant `{0}` (`weft tenant list` shows them)")]
    UnknownTenant(String),
    /// A label (or tenant name) of the step queue that is not letters, digits and `-`.
    #[error("`{0}` is not a label: use letters, digits and `-`")]
    BadLabel(String),
    /// The tenant published as many versions as it may.
    #[error("a tenant may publish at most {limit} step versions, and this one has as many")]
    TooManyVersions {
        /// The limit.
        limit: i64,
    },
    /// A published step version cannot change.
    #[error(
        "{step} is published already with other bytes ({digest}): a published version never changes; publish a new version"
    )]
    VersionTaken {
        /// `name@version`.
        step: String,
        /// The digest it was published with.
        digest: String,
    },
    /// Stored data that does not parse (written by a newer or broken version).
    #[error("run records: {0}")]
    Corrupt(String),
}

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a commit survives the process being killed, not a
    /// power loss (the WAL is synced at checkpoints only). On PostgreSQL,
    /// `synchronous_commit=off`: the same promise.
    #[default]
    Process,
    /// WAL with `synchronous=FULL`: every commit syncs the WAL; survives power loss. On
    /// PostgreSQL, the server's own `synchronous_commit` (`on` unless its administrator
    /// chose otherwise).
    Power,
}

/// The run records of one tenant.
#[derive(Clone, Debug)]
pub struct Records {
    db: db::Db,
    tenant: String,
    /// Where they are, for messages.
    location: Arc<Location>,
    /// The store's small-artifact tier, whose pending bytes commits write
    /// ([`share_small_artifacts`]).
    inline: Option<weft_artifacts::InlineTier>,
}

impl Records {
    /// Opens the records at `location` — a SQLite file (created if needed) or a
    /// PostgreSQL database (which must exist) — and migrates them.
    pub async fn open(
        location: impl Into<Location>,
        tenant: &str,
        durability: Durability,
    ) -> Result<Records, RecordsError> {
        let location = location.into();
        Ok(Records {
            db: db::open(&location, durability).await?,
            tenant: tenant.to_string(),
            location: Arc::new(location),
            inline: None,
        })
    }

    /// Where the records are.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The tenant these records belong to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The same database (and connections) seen as `tenant`'s records: a server serves
    /// every tenant over one pool. Every read and write of the handle is scoped to it.
    pub fn for_tenant(&self, tenant: &str) -> Records {
        Records {
            tenant: tenant.to_string(),
            ..self.clone()
        }
    }

    /// Closes the connections (a PostgreSQL database can then be dropped).
    pub async fn close(&self) {
        self.db.close().await;
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
