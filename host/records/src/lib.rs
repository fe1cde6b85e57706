//! Weft's run records: runs, steps, attempts, artifacts by producer, metrics, logs and cache
//! entries in a SQL database — SQLite by default (one file under `.weft/`, WAL).
//!
//! Queries are plain SQL with `$n` placeholders and portable types, so a Postgres backend is
//! a second pool type, not a rewrite. Migrations are versioned under `migrations/` and run
//! when the records are opened. [`Records`] implements the engine's
//! [`weft_engine::Journal`]: a finished step is committed in one transaction.

mod health;
mod journal;
mod lineage;
mod owner;
mod read;
mod script;
mod write;

pub use health::{Recovered, check, recover};
pub use lineage::{LineageNode, Origin};
pub use read::{RunDetail, RunSummary};
pub use write::NewRun;

use sqlx::SqliteConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What went wrong with the records.
#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    /// The database refused or failed (a full disk and a damaged file say so, and what
    /// to do).
    #[error("run records: {}", health::describe(.0))]
    Db(#[from] sqlx::Error),
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
    /// Stored data that does not parse (written by a newer or broken version).
    #[error("run records: {0}")]
    Corrupt(String),
}

/// How durable a commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// WAL with `synchronous=NORMAL`: a commit survives the process being killed, not a
    /// power loss (the WAL is synced at checkpoints only).
    #[default]
    Process,
    /// WAL with `synchronous=FULL`: every commit syncs the WAL; survives power loss.
    Power,
}

/// The run records of one tenant.
#[derive(Clone, Debug)]
pub struct Records {
    pool: SqlitePool,
    /// The one connection step commits go through: no pool hand-off per commit, and
    /// commits queue here rather than on SQLite's write lock.
    writer: Arc<tokio::sync::Mutex<SqliteConnection>>,
    tenant: String,
    /// The database file, for messages.
    path: Arc<std::path::PathBuf>,
}

impl Records {
    /// Opens (creating if needed) the SQLite database at `path` and migrates it.
    pub async fn open(path: &Path, tenant: &str, durability: Durability) -> Result<Records, RecordsError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| RecordsError::Db(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match durability {
                Durability::Process => SqliteSynchronous::Normal,
                Durability::Power => SqliteSynchronous::Full,
            })
            .foreign_keys(true)
            // Another `weft` (a cancel, a second run) may hold the write lock briefly.
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        // SQLite has no migration lock: two processes opening a new database at once may
        // both try to apply a migration, and the loser fails on a table the winner made.
        // Trying again sees the migration applied.
        let migrator = sqlx::migrate!("./migrations");
        let mut tries = 0;
        while let Err(e) = migrator.run(&pool).await {
            tries += 1;
            if tries == 5 {
                return Err(e.into());
            }
            tracing::debug!("migration raced another process ({e}); trying again");
            tokio::time::sleep(Duration::from_millis(50 * tries)).await;
        }
        let writer = Arc::new(tokio::sync::Mutex::new(pool.acquire().await?.detach()));
        Ok(Records {
            pool,
            writer,
            tenant: tenant.to_string(),
            path: Arc::new(path.to_path_buf()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tenant these records belong to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
