//! The backends every conformance test runs on: SQLite in a temporary file, and PostgreSQL
//! in a fresh database of its own on the server `WEFT_TEST_POSTGRES` names (an admin URL
//! whose role may CREATE DATABASE; `cargo xtask ci` starts one). Without it the Postgres
//! variant prints one line and passes, unless `WEFT_TEST_SERVICES=required`, where it fails.

#![allow(dead_code)] // each test file uses part of it

use weft_records::testing::ScratchDatabase;
use weft_records::{Durability, Location, Records};

/// Where one test's records live; dropping it removes them.
pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres(ScratchDatabase),
}

impl Backend {
    pub fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().expect("tempdir"))
    }

    /// A fresh database, or `None` when no server is configured and none is required.
    pub async fn postgres() -> Option<Backend> {
        let admin = admin_url()?;
        Some(Backend::Postgres(
            ScratchDatabase::create(&admin).await.expect("create a test database"),
        ))
    }

    pub fn location(&self) -> Location {
        match self {
            Backend::Sqlite(dir) => Location::Sqlite(dir.path().join("records.db")),
            Backend::Postgres(db) => db.location(),
        }
    }

    /// Executes `sql` behind the records' back (to damage or bulk-fill them).
    pub async fn execute(&self, sql: &str) {
        use sqlx::Connection;
        match self.location() {
            Location::Sqlite(path) => {
                let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .expect("execute");
            }
            Location::Postgres(url) => {
                let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .expect("execute");
            }
        }
    }

    pub async fn open(&self, tenant: &str) -> Records {
        Records::open(self.location(), tenant, Durability::Process)
            .await
            .expect("open")
    }
}

/// `WEFT_TEST_POSTGRES`, or `None` after saying the test is skipped; a panic when
/// `WEFT_TEST_SERVICES=required` (CI must never skip silently).
pub fn admin_url() -> Option<String> {
    weft_test_programs::services::postgres()
}

/// `conformance!(a, b)` defines `sqlite::a`, `postgres::a`, ... calling `async fn a(&Backend)`.
#[macro_export]
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(&super::support::Backend::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(backend) = super::support::Backend::postgres().await {
                        super::$name(&backend).await;
                    }
                }
            )*
        }
    };
}
