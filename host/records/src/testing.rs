//! Throw-away PostgreSQL databases for tests and benchmarks (feature `testing`): each test
//! gets a database of its own on a real server, created through an admin URL (a role that
//! may `CREATE DATABASE`) and dropped when the guard goes. The caller finds the admin URL
//! (tests read `WEFT_TEST_POSTGRES`); this crate reads no environment.

use crate::{Location, RecordsError};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use std::sync::atomic::{AtomicU64, Ordering};

/// A database that exists until this is dropped.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// Creates `weft_t_<unique>` on the server `admin_url` points at.
    pub async fn create(admin_url: &str) -> Result<ScratchDatabase, RecordsError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "weft_t_{}_{}_{}",
            std::process::id(),
            crate::now_ms(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(admin_url)
            .await
            .map_err(|e| RecordsError::Unreachable {
                server: Location::parse(admin_url).shown(),
                reason: crate::health::describe(&e),
            })?;
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await?;
        admin.close().await?;
        Ok(ScratchDatabase {
            url: with_database(admin_url, &name),
            admin: admin_url.to_string(),
            name,
        })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its location, to open records in.
    pub fn location(&self) -> Location {
        Location::Postgres(self.url.clone())
    }
}

impl Drop for ScratchDatabase {
    /// Drops the database, ending its sessions (`WITH (FORCE)`), on a thread of its own:
    /// drop may run inside an async test, where no runtime can be blocked on.
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await?;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// `admin_url` with its database replaced by `name` (query options kept).
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = admin_url
        .split_once('?')
        .map_or((admin_url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_is_replaced_and_options_kept() {
        assert_eq!(
            super::with_database("postgres://u:p@h:1/postgres?sslmode=disable", "x"),
            "postgres://u:p@h:1/x?sslmode=disable"
        );
        assert_eq!(super::with_database("postgres://h", "x"), "postgres://h/x");
    }
}
