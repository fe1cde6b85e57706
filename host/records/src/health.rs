//! When the records are in trouble: errors that say what happened and what to do (a full
//! disk, a damaged file, a PostgreSQL server that cannot be reached or has no such
//! database), `weft records check` (SQLite's integrity check) and `weft records recover`
//! (copy what is readable into a fresh file, keep the damaged one). Checking and recovering
//! are for the SQLite file: a PostgreSQL server has its own tools.

use crate::RecordsError;
use sqlx::postgres::PgDatabaseError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{AssertSqlSafe, Connection, Row};
use std::path::{Path, PathBuf};

/// SQLite's primary result codes that need words of their own.
const SQLITE_CORRUPT: &str = "11";
const SQLITE_FULL: &str = "13";
const SQLITE_NOTADB: &str = "26";

/// What kind of trouble an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trouble {
    /// No space left for the database or its journal.
    Full,
    /// The file is not a database or its pages are damaged.
    Damaged,
    /// Anything else.
    Other,
}

/// PostgreSQL's SQLSTATEs that need words of their own.
const PG_DISK_FULL: &str = "53100";
const PG_NO_DATABASE: &str = "3D000";

/// Classifies an error by SQLite's result code (extended codes carry the primary one in
/// their low byte), PostgreSQL's SQLSTATE, or the OS error behind it.
pub(crate) fn trouble(e: &sqlx::Error) -> Trouble {
    match e {
        sqlx::Error::Database(db) if db.try_downcast_ref::<PgDatabaseError>().is_some() => match db.code().as_deref() {
            Some(PG_DISK_FULL) => Trouble::Full,
            _ => Trouble::Other,
        },
        sqlx::Error::Database(db) => {
            let primary = db
                .code()
                .and_then(|c| c.parse::<i64>().ok())
                .map(|c| (c & 0xff).to_string());
            match primary.as_deref() {
                Some(SQLITE_FULL) => Trouble::Full,
                Some(SQLITE_CORRUPT | SQLITE_NOTADB) => Trouble::Damaged,
                _ => Trouble::Other,
            }
        }
        sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => Trouble::Full, // ENOSPC
        _ => Trouble::Other,
    }
}

/// The error's text, with what to do when it is a full disk or a damaged file.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    match trouble(e) {
        Trouble::Full => format!(
            "{e} — the disk holding the run records is full: free space, then continue an \
             interrupted run with `weft run --resume RUN`"
        ),
        Trouble::Damaged => format!(
            "{e} — the run records file is damaged: `weft records check` says what is wrong, \
             `weft records recover` saves what is readable into a fresh file"
        ),
        Trouble::Other => match e {
            sqlx::Error::Database(db) if db.code().as_deref() == Some(PG_NO_DATABASE) => {
                format!("{e} — create it first (`createdb NAME` on the server) or name another database in --records")
            }
            sqlx::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                format!("{e} — is the PostgreSQL server running and listening at that address?")
            }
            _ => e.to_string(),
        },
    }
}

/// Checking and recovering work on the SQLite file only.
fn sqlite_only(path: &Path) -> Result<(), RecordsError> {
    if crate::location::is_postgres_url(&path.to_string_lossy()) {
        return Err(RecordsError::Corrupt(
            "`weft records check` and `recover` work on the SQLite records file; PostgreSQL records are checked \
             and backed up with PostgreSQL's own tools (amcheck, pg_dump)"
                .into(),
        ));
    }
    Ok(())
}

/// Opens the file as it is: no migration, no creation, no WAL switch.
async fn connect(path: &Path) -> Result<SqliteConnection, RecordsError> {
    sqlite_only(path)?;
    if !path.exists() {
        return Err(RecordsError::Corrupt(format!("{} does not exist", path.display())));
    }
    let options = SqliteConnectOptions::new().filename(path).create_if_missing(false);
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// SQLite's integrity check of the records file: an empty list when it is sound, else
/// the problems found (at most 100).
pub async fn check(path: &Path) -> Result<Vec<String>, RecordsError> {
    let mut conn = connect(path).await?;
    let rows = sqlx::query("PRAGMA integrity_check(100)").fetch_all(&mut conn).await?;
    let lines: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<String, _>(0).ok())
        .filter(|l| l != "ok")
        .collect();
    Ok(lines)
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Where the damaged file was moved.
    pub damaged: PathBuf,
    /// Tables copied whole, with their row counts.
    pub copied: Vec<(String, u64)>,
    /// Tables that could not be read, with the reason.
    pub lost: Vec<(String, String)>,
}

/// The tables of the records, parents before children (foreign keys).
const TABLES: [&str; 15] = [
    "tenants",
    "runs",
    "run_inputs",
    "steps",
    "attempts",
    "step_inputs",
    "step_outputs",
    "metrics",
    "logs",
    "cache_entries",
    "inline_blobs",
    "audit",
    "registry",
    "tenant_quotas",
    "step_queue",
];

/// Copies what is readable of the damaged records at `path` into a fresh file with the
/// current schema, moves the damaged file (and its WAL) aside as `PATH.damaged-<ms>`, and
/// puts the fresh file in its place. Table by table: a table that cannot be read is
/// reported as lost, the others are kept. Run it with no `weft` using the records.
pub async fn recover(path: &Path) -> Result<Recovered, RecordsError> {
    sqlite_only(path)?;
    let stamp = crate::now_ms();
    let fresh = with_suffix(path, &format!("recovering-{stamp}"));
    let damaged = with_suffix(path, &format!("damaged-{stamp}"));
    // The fresh file gets today's schema by being opened as records.
    let records = crate::Records::open(&fresh, "recover", crate::Durability::Power).await?;
    records.close().await;
    drop(records);
    let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&fresh)).await?;
    sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut conn).await?;
    let attached = sqlx::query("ATTACH DATABASE ? AS old")
        .bind(path.display().to_string())
        .execute(&mut conn)
        .await;
    let mut copied = Vec::new();
    let mut lost = Vec::new();
    match attached {
        Err(e) => lost.push(("(all)".to_string(), describe(&e))),
        Ok(_) => {
            for table in TABLES {
                let statement = format!("INSERT OR IGNORE INTO main.{table} SELECT * FROM old.{table}");
                match sqlx::query(AssertSqlSafe(statement)).execute(&mut conn).await {
                    Ok(done) => copied.push((table.to_string(), done.rows_affected())),
                    Err(e) => lost.push((table.to_string(), describe(&e))),
                }
            }
            let _ = sqlx::query("DETACH DATABASE old").execute(&mut conn).await;
        }
    }
    conn.close().await?;
    let io = |e: std::io::Error| RecordsError::Db(sqlx::Error::Io(e));
    for ext in ["", "-wal", "-shm"] {
        let from = with_suffix_raw(path, ext);
        if from.exists() {
            std::fs::rename(&from, with_suffix_raw(&damaged, ext)).map_err(io)?;
        }
    }
    for ext in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(with_suffix_raw(&fresh, ext));
    }
    std::fs::rename(&fresh, path).map_err(io)?;
    Ok(Recovered { damaged, copied, lost })
}

/// `PATH.suffix`.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    with_suffix_raw(path, &format!(".{suffix}"))
}

/// `PATH` with `ext` appended to its file name as is.
fn with_suffix_raw(path: &Path, ext: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(ext);
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_that_is_no_database_says_so_and_recovers_to_empty_records() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("records.db");
        std::fs::write(&path, vec![0x5au8; 8192]).expect("write garbage");
        let err = crate::Records::open(&path, "t", crate::Durability::Process)
            .await
            .expect_err("refused");
        assert!(err.to_string().contains("`weft records recover`"), "{err}");
        assert!(check(&path).await.is_err());
        let done = recover(&path).await.expect("recover");
        assert!(done.damaged.exists());
        assert!(!done.lost.is_empty());
        let records = crate::Records::open(&path, "t", crate::Durability::Process)
            .await
            .expect("fresh records");
        assert!(records.list_runs(10).await.expect("list").is_empty());
        assert!(check(&path).await.expect("check").is_empty());
    }

    #[tokio::test]
    async fn a_full_database_says_the_disk_is_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("records.db");
        let records = crate::Records::open(&path, "t", crate::Durability::Process)
            .await
            .expect("open");
        // SQLite's own limit on the file's pages: the same SQLITE_FULL as a full disk.
        let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
            .await
            .expect("connect");
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&mut conn)
            .await
            .expect("pages");
        sqlx::query(AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
            .execute(&mut conn)
            .await
            .expect("cap");
        let big = "x".repeat(1 << 20);
        let err = sqlx::query("INSERT INTO runs (id, tenant, workflow, file, source, overrides, params, status, started_at) VALUES ('r', 't', 'w', 'f', ?, '{}', '{}', 'running', 0)")
            .bind(&big)
            .execute(&mut conn)
            .await
            .expect_err("full");
        assert_eq!(trouble(&err), Trouble::Full, "{err}");
        assert!(describe(&err).contains("disk holding the run records is full"));
        drop(records);
    }

    /// A table added to the schema but not to `TABLES` would be dropped by `recover`.
    #[tokio::test]
    async fn recover_copies_every_table_of_the_schema() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("records.db");
        let records = crate::Records::open(&path, "t", crate::Durability::Process)
            .await
            .expect("open");
        records.close().await;
        let mut conn = SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
            .await
            .expect("connect");
        let mut tables: Vec<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
        )
        .fetch_all(&mut conn)
        .await
        .expect("tables");
        tables.sort();
        let mut known: Vec<String> = TABLES.iter().map(|t| (*t).to_string()).collect();
        known.sort();
        assert_eq!(tables, known);
    }
}
