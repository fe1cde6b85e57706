//! A write transaction, described once and sent to either backend in a single round trip.
//!
//! SQLite gets one multi-statement query: every statement of a commit travels together to
//! the connection's worker thread instead of one trip per statement (measured: ~60 µs
//! against ~230 µs for a two-statement commit). Values are bound, never spliced:
//! statements use anonymous `?` placeholders, which sqlx numbers on across the statements
//! of a query (numbered `$n` ones made binding quadratic: 236 ms against 5 ms for 1,000
//! step rows).
//!
//! PostgreSQL's extended protocol takes one statement per query, so there the whole script
//! becomes one statement of data-modifying CTEs (`pipeline.rs`): rows travel as one array
//! per column and are spread by `UNNEST`, so a commit is one round trip and one implicit
//! transaction however many rows it holds, and the SQL text (hence the prepared statement)
//! does not depend on the number of rows.

use crate::db::Db;
use sqlx::{AssertSqlSafe, SqliteConnection};

/// Most bound values per query (SQLite allows 32,766).
const MAX_VALUES: usize = 30_000;

/// A bound value.
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
    Blob(Option<Vec<u8>>),
}

/// Text as both backends store it: PostgreSQL refuses NUL in `TEXT` (SQLSTATE 22021), and
/// a guest's log line, metric name or failure message may hold one — which would make its
/// step unrecordable on Postgres only. Every text value takes the same path, so both
/// backends keep the same thing: NUL becomes U+FFFD.
fn storable(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}")
    } else {
        s
    }
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(Some(storable(s.to_string())))
    }
}

impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Text(Some(storable(s)))
    }
}

impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Val {
        Val::Text(s.map(storable))
    }
}

impl From<Option<i64>> for Val {
    fn from(i: Option<i64>) -> Val {
        Val::Int(i)
    }
}

impl From<i64> for Val {
    fn from(i: i64) -> Val {
        Val::Int(Some(i))
    }
}

impl From<Option<f64>> for Val {
    fn from(r: Option<f64>) -> Val {
        Val::Real(r)
    }
}

impl From<Vec<u8>> for Val {
    fn from(b: Vec<u8>) -> Val {
        Val::Blob(Some(b))
    }
}

impl From<f64> for Val {
    fn from(r: f64) -> Val {
        Val::Real(Some(r))
    }
}

/// One statement of a script.
pub(crate) enum Op {
    /// A statement with `?` placeholders, one per value, in order.
    Statement { sql: String, values: Vec<Val> },
    /// `head` (`INSERT INTO t (a, b)`) with `rows`, then `tail` (`ON CONFLICT ...`).
    Insert {
        head: String,
        rows: Vec<Vec<Val>>,
        tail: String,
    },
    /// `UPDATE table SET set... WHERE keys... condition`, one row of values (the `set`
    /// columns', then the `keys`') per updated row.
    Update {
        table: &'static str,
        set: &'static [&'static str],
        keys: &'static [&'static str],
        condition: &'static str,
        rows: Vec<Vec<Val>>,
    },
}

/// Statements of one transaction, with their values.
#[derive(Default)]
pub(crate) struct Script {
    pub(crate) ops: Vec<Op>,
}

impl Script {
    /// Adds a statement written with `?` placeholders, one per value, in order (no `?`
    /// may appear elsewhere in it).
    pub fn add(&mut self, statement: &str, values: Vec<Val>) {
        debug_assert_eq!(statement.matches('?').count(), values.len(), "{statement}");
        self.ops.push(Op::Statement {
            sql: statement.to_string(),
            values,
        });
    }

    /// Adds `head VALUES (?, ...), (?, ...) tail` over `rows` (nothing when there are none).
    pub fn rows(&mut self, head: &str, rows: Vec<Vec<Val>>, tail: &str) {
        if !rows.is_empty() {
            self.ops.push(Op::Insert {
                head: head.to_string(),
                rows,
                tail: tail.to_string(),
            });
        }
    }

    /// Updates one row of `table` per entry of `rows` (see [`Op::Update`]).
    pub fn update(
        &mut self,
        table: &'static str,
        set: &'static [&'static str],
        keys: &'static [&'static str],
        condition: &'static str,
        rows: Vec<Vec<Val>>,
    ) {
        if !rows.is_empty() {
            self.ops.push(Op::Update {
                table,
                set,
                keys,
                condition,
                rows,
            });
        }
    }

    /// Runs the statements in one transaction; nothing of them stays on failure.
    pub async fn commit(self, db: &Db) -> Result<(), sqlx::Error> {
        match db {
            Db::Sqlite { writer, .. } => self.commit_sqlite(writer.lock().await.conn().await?).await,
            Db::Postgres { pool, .. } => crate::pipeline::commit(self, pool).await,
        }
    }

    /// The statements as queries of at most `MAX_VALUES` values each.
    fn sqlite_parts(self) -> Vec<(String, Vec<Val>)> {
        let mut parts: Vec<(String, Vec<Val>)> = Vec::new();
        let mut add = |statement: &str, values: Vec<Val>| {
            if parts.last().is_none_or(|(_, v)| v.len() + values.len() > MAX_VALUES) {
                parts.push((String::new(), Vec::new()));
            }
            if let Some((sql, bound)) = parts.last_mut() {
                sql.push_str(statement);
                sql.push_str(";\n");
                bound.extend(values);
            }
        };
        for op in self.ops {
            match op {
                Op::Statement { sql, values } => add(&sql, values),
                Op::Insert { head, rows, tail } => {
                    let width = rows.first().map_or(1, Vec::len).max(1);
                    let tuple = format!("({})", vec!["?"; width].join(", "));
                    let per = (MAX_VALUES / width).max(1);
                    let mut rows = rows.into_iter().peekable();
                    while rows.peek().is_some() {
                        let chunk: Vec<Vec<Val>> = rows.by_ref().take(per).collect();
                        let tuples = vec![tuple.as_str(); chunk.len()].join(", ");
                        add(
                            &format!("{head} VALUES {tuples} {tail}"),
                            chunk.into_iter().flatten().collect(),
                        );
                    }
                }
                Op::Update {
                    table,
                    set,
                    keys,
                    condition,
                    rows,
                } => {
                    let set: Vec<String> = set.iter().map(|c| format!("{c} = ?")).collect();
                    let keys: Vec<String> = keys.iter().map(|c| format!("{c} = ?")).collect();
                    let sql = format!(
                        "UPDATE {table} SET {} WHERE {}{condition}",
                        set.join(", "),
                        keys.join(" AND ")
                    );
                    for row in rows {
                        add(&sql, row);
                    }
                }
            }
        }
        parts
    }

    async fn commit_sqlite(self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        self.sqlite_queries(conn, true).await
    }

    /// Runs the statements on `conn` inside a transaction the caller opened (and ends).
    pub(crate) async fn run_sqlite(self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        self.sqlite_queries(conn, false).await
    }

    /// The queries, wrapped in `BEGIN IMMEDIATE` … `COMMIT` when `own_transaction`; on a
    /// failure, whatever was open is rolled back.
    async fn sqlite_queries(self, conn: &mut SqliteConnection, own_transaction: bool) -> Result<(), sqlx::Error> {
        let parts = self.sqlite_parts();
        let last = parts.len().saturating_sub(1);
        let mut result = Ok(());
        for (i, (mut sql, values)) in parts.into_iter().enumerate() {
            if i == 0 && own_transaction {
                sql.insert_str(0, "BEGIN IMMEDIATE;\n");
            }
            if i == last && own_transaction {
                sql.push_str("COMMIT;");
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for v in values {
                query = match v {
                    Val::Text(t) => query.bind(t),
                    Val::Int(i) => query.bind(i),
                    Val::Real(r) => query.bind(r),
                    Val::Blob(b) => query.bind(b),
                };
            }
            if let Err(e) = query.execute(&mut *conn).await {
                result = Err(e);
                break;
            }
        }
        if result.is_err() && own_transaction {
            // Whatever was left open must not leak into the connection's next use (the
            // caller's own transaction is the caller's to roll back).
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        }
        result
    }
}
