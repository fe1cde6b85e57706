//! The two backends behind [`crate::Records`]: opening each, and running one query text on
//! whichever is open. Reads are written once, in SQL both understand (`$n` placeholders,
//! which SQLite also takes), and decoded into `FromRow` types that serve both row kinds.

use crate::script::{Script, Val};
use crate::{Durability, Location, RecordsError};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Connection, FromRow, PgConnection, Postgres, Sqlite};
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// An open database.
#[derive(Clone, Debug)]
pub(crate) enum Db {
    Sqlite {
        pool: SqlitePool,
        /// The one connection writes go through: no pool hand-off per commit, and commits
        /// queue here rather than on SQLite's write lock.
        writer: Arc<tokio::sync::Mutex<Writer>>,
    },
    Postgres {
        pool: PgPool,
    },
}

/// SQLite's writer connection (`None` once closed), and whether a transaction is open on
/// it: one a [`Tx`] dropped unfinished (its task cancelled, a panic) left open is rolled
/// back before the connection's next use, so it can never hold the write lock or leak
/// its writes into the next transaction.
#[derive(Debug)]
pub(crate) struct Writer {
    conn: Option<SqliteConnection>,
    open: bool,
}

impl Writer {
    /// The connection, with any transaction left open rolled back.
    pub(crate) async fn conn(&mut self) -> Result<&mut SqliteConnection, sqlx::Error> {
        let left_open = std::mem::take(&mut self.open);
        let conn = self.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
        if left_open {
            tracing::warn!("rolling back a records transaction that was left unfinished");
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        }
        Ok(conn)
    }
}

/// A row type both backends can decode.
pub(crate) trait AnyRow: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}
impl<T> AnyRow for T where T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin {}

macro_rules! bind_all {
    ($query:expr, $values:expr) => {{
        let mut query = $query;
        for v in $values {
            query = match v {
                Val::Text(t) => query.bind(t),
                Val::Int(i) => query.bind(i),
                Val::Real(r) => query.bind(r),
                Val::Blob(b) => query.bind(b),
            };
        }
        query
    }};
}

impl Db {
    /// Every row `sql` returns.
    pub async fn all<T: AnyRow>(&self, sql: impl Into<String>, values: Vec<Val>) -> Result<Vec<T>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.into());
        match self {
            Db::Sqlite { pool, .. } => {
                bind_all!(sqlx::query_as::<Sqlite, T>(sql), values)
                    .fetch_all(pool)
                    .await
            }
            Db::Postgres { pool } => {
                bind_all!(sqlx::query_as::<Postgres, T>(sql), values)
                    .fetch_all(pool)
                    .await
            }
        }
    }

    /// The first row `sql` returns, if any.
    pub async fn first<T: AnyRow>(&self, sql: impl Into<String>, values: Vec<Val>) -> Result<Option<T>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.into());
        match self {
            Db::Sqlite { pool, .. } => {
                bind_all!(sqlx::query_as::<Sqlite, T>(sql), values)
                    .fetch_optional(pool)
                    .await
            }
            Db::Postgres { pool } => {
                bind_all!(sqlx::query_as::<Postgres, T>(sql), values)
                    .fetch_optional(pool)
                    .await
            }
        }
    }

    /// Runs one statement outside any commit; returns the rows it touched.
    pub async fn execute(&self, sql: &'static str, values: Vec<Val>) -> Result<u64, sqlx::Error> {
        Ok(match self {
            Db::Sqlite { pool, .. } => bind_all!(sqlx::query::<Sqlite>(sql), values)
                .execute(pool)
                .await?
                .rows_affected(),
            Db::Postgres { pool } => bind_all!(sqlx::query::<Postgres>(sql), values)
                .execute(pool)
                .await?
                .rows_affected(),
        })
    }

    /// Closes the pools.
    pub async fn close(&self) {
        match self {
            Db::Sqlite { pool, writer } => {
                // The writer is outside the pool: closed here too, and waited for, so the
                // file is let go of when this returns (`recover` renames it next).
                if let Some(conn) = writer.lock().await.conn.take()
                    && let Err(e) = conn.close().await
                {
                    tracing::warn!("closing the records' writer connection: {e}");
                }
                pool.close().await;
            }
            Db::Postgres { pool } => pool.close().await,
        }
    }
}

/// An open write transaction: reads through it see its own writes. SQLite's holds the one
/// writer connection (`BEGIN IMMEDIATE`: the write lock from the start, so a read-then-
/// write cannot fail on a lock upgrade); PostgreSQL's is a pooled connection's. End it with
/// [`Tx::commit`] or [`Tx::rollback`] — [`Db::transaction`] does both.
pub(crate) enum Tx<'a> {
    Sqlite(tokio::sync::MutexGuard<'a, Writer>),
    Postgres(sqlx::Transaction<'static, Postgres>),
}

impl Db {
    /// Which backend this is (for the few statements written per backend).
    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres { .. })
    }

    /// Starts a write transaction.
    pub async fn begin(&self) -> Result<Tx<'_>, sqlx::Error> {
        match self {
            Db::Sqlite { writer, .. } => {
                let mut guard = writer.lock().await;
                sqlx::raw_sql("BEGIN IMMEDIATE").execute(guard.conn().await?).await?;
                guard.open = true;
                Ok(Tx::Sqlite(guard))
            }
            Db::Postgres { pool } => Ok(Tx::Postgres(pool.begin().await?)),
        }
    }
}

impl Tx<'_> {
    /// Every row `sql` returns.
    pub async fn all<T: AnyRow>(&mut self, sql: impl Into<String>, values: Vec<Val>) -> Result<Vec<T>, sqlx::Error> {
        let sql = AssertSqlSafe(sql.into());
        match self {
            Tx::Sqlite(guard) => {
                let conn = guard.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                bind_all!(sqlx::query_as::<Sqlite, T>(sql), values)
                    .fetch_all(&mut *conn)
                    .await
            }
            Tx::Postgres(tx) => {
                bind_all!(sqlx::query_as::<Postgres, T>(sql), values)
                    .fetch_all(&mut **tx)
                    .await
            }
        }
    }

    /// Runs one statement; returns the rows it touched.
    pub async fn execute(&mut self, sql: impl Into<String>, values: Vec<Val>) -> Result<u64, sqlx::Error> {
        let sql = AssertSqlSafe(sql.into());
        Ok(match self {
            Tx::Sqlite(guard) => {
                let conn = guard.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                bind_all!(sqlx::query::<Sqlite>(sql), values)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
            }
            Tx::Postgres(tx) => bind_all!(sqlx::query::<Postgres>(sql), values)
                .execute(&mut **tx)
                .await?
                .rows_affected(),
        })
    }

    /// Runs a script's statements inside this transaction.
    pub async fn script(&mut self, script: Script) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(guard) => {
                let conn = guard.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                script.run_sqlite(conn).await
            }
            Tx::Postgres(tx) => crate::pipeline::commit(script, &mut **tx).await,
        }
    }

    /// Makes the writes durable.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(mut guard) => {
                guard.open = false;
                let conn = guard.conn.as_mut().ok_or(sqlx::Error::PoolClosed)?;
                if let Err(e) = sqlx::raw_sql("COMMIT").execute(&mut *conn).await {
                    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                    return Err(e);
                }
                Ok(())
            }
            Tx::Postgres(tx) => tx.commit().await,
        }
    }

    /// Throws the writes away.
    pub async fn rollback(self) {
        match self {
            Tx::Sqlite(mut guard) => {
                guard.open = false;
                if let Some(conn) = guard.conn.as_mut() {
                    // Whatever was left open must not leak into the connection's next use.
                    let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
                }
            }
            Tx::Postgres(tx) => {
                let _ = tx.rollback().await;
            }
        }
    }
}

/// Opens and migrates the database at `location`.
pub(crate) async fn open(location: &Location, durability: Durability) -> Result<Db, RecordsError> {
    match location {
        Location::Sqlite(path) => open_sqlite(path, durability).await,
        Location::Postgres(url) => open_postgres(location, url, durability).await,
    }
}

async fn open_sqlite(path: &Path, durability: Durability) -> Result<Db, RecordsError> {
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
    let migrator = sqlx::migrate!("./migrations/sqlite");
    let mut tries = 0;
    while let Err(e) = migrator.run(&pool).await {
        tries += 1;
        if tries == 5 {
            return Err(e.into());
        }
        tracing::debug!("migration raced another process ({e}); trying again");
        tokio::time::sleep(Duration::from_millis(50 * tries)).await;
    }
    let writer = Arc::new(tokio::sync::Mutex::new(Writer {
        conn: Some(pool.acquire().await?.detach()),
        open: false,
    }));
    Ok(Db::Sqlite { pool, writer })
}

async fn open_postgres(location: &Location, url: &str, durability: Durability) -> Result<Db, RecordsError> {
    let unreachable = |e: sqlx::Error| RecordsError::Unreachable {
        server: location.shown(),
        reason: crate::health::describe(&e),
    };
    let mut options = PgConnectOptions::from_str(url)
        .map_err(unreachable)?
        .application_name("weft");
    // `Process` is SQLite's `synchronous=NORMAL` here too: an acknowledged commit survives
    // `weft` being killed (the server has it), not the server losing power (its last few
    // commits may go, never out of order). `Power` keeps the server's own setting (`on`
    // by default, or a stronger `remote_apply` on a replicated server).
    //
    // A process stopped inside a transaction (SIGSTOP, a partition) would hold its locks —
    // a run's row, the claims' advisory lock — for as long as its connection lives: the
    // server ends such a session after 10 s idle in a transaction. Weft's transactions
    // never wait on anything but the database between their statements.
    let mut settings = vec![("idle_in_transaction_session_timeout", "10s")];
    if durability == Durability::Process {
        settings.push(("synchronous_commit", "off"));
    }
    options = options.options(settings);
    // One connection first, alone: a pool retries a refused connection until its timeout
    // and then says only that it timed out; this says why, at once.
    PgConnection::connect_with(&options)
        .await
        .map_err(unreachable)?
        .close()
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(unreachable)?;
    // Postgres migrations take an advisory lock: concurrent openers wait, none races.
    sqlx::migrate!("./migrations/postgres").run(&pool).await?;
    Ok(Db::Postgres { pool })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Durability` reaches the connections: `Power` makes a commit wait for the disk
    /// (SQLite `synchronous=FULL`), `Process` only for the WAL write (`NORMAL`).
    #[tokio::test]
    async fn sqlite_synchronous_follows_the_durability() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (durability, expected) in [(Durability::Process, 1), (Durability::Power, 2)] {
            let db = open_sqlite(&dir.path().join(format!("{durability:?}.db")), durability)
                .await
                .expect("open");
            let (level,): (i64,) = db
                .first("PRAGMA synchronous", vec![])
                .await
                .expect("pragma")
                .expect("a row");
            assert_eq!(level, expected, "{durability:?}");
            db.close().await;
        }
    }

    /// A transaction dropped unfinished (its task cancelled) leaves nothing behind: the
    /// next one starts, and the dropped one's writes are gone.
    #[tokio::test]
    async fn a_sqlite_transaction_dropped_unfinished_is_rolled_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = open_sqlite(&dir.path().join("r.db"), Durability::Process)
            .await
            .expect("open");
        let insert = "INSERT INTO step_queue (run_id, step, tenant, ready_at) VALUES ('r', 's', 't', 0)";
        let mut tx = db.begin().await.expect("begin");
        tx.execute(insert, vec![]).await.expect("insert");
        drop(tx);
        let mut tx = db.begin().await.expect("a new transaction");
        let rows: Vec<(String,)> = tx.all("SELECT step FROM step_queue", vec![]).await.expect("read");
        assert!(rows.is_empty(), "the dropped transaction's row is gone");
        tx.execute(insert, vec![]).await.expect("insert again");
        tx.commit().await.expect("commit");
        let (n,): (i64,) = db
            .first("SELECT COUNT(*) FROM step_queue", vec![])
            .await
            .expect("count")
            .expect("a row");
        assert_eq!(n, 1);
        db.close().await;
    }

    /// On PostgreSQL, `Power` keeps the server's own `synchronous_commit` (`on` here); `Process`
    /// turns it off for Weft's sessions only.
    #[tokio::test]
    async fn postgres_synchronous_commit_follows_the_durability() {
        let Some(admin) = weft_test_programs::services::postgres() else {
            return;
        };
        let scratch = crate::testing::ScratchDatabase::create(&admin)
            .await
            .expect("a test database");
        for (durability, expected) in [(Durability::Process, "off"), (Durability::Power, "on")] {
            let db = open(&scratch.location(), durability).await.expect("open");
            let (level,): (String,) = db
                .first("SELECT current_setting('synchronous_commit')", vec![])
                .await
                .expect("setting")
                .expect("a row");
            assert_eq!(level, expected, "{durability:?}");
            let (idle,): (String,) = db
                .first("SELECT current_setting('idle_in_transaction_session_timeout')", vec![])
                .await
                .expect("setting")
                .expect("a row");
            assert_eq!(idle, "10s", "a stopped process holds no lock for long");
            db.close().await;
        }
    }
}
