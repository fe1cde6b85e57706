//! A write transaction sent to SQLite as one multi-statement query: every statement of a
//! commit travels in a single round trip to the connection's worker thread instead of one
//! per statement (measured: ~60 µs against ~230 µs for a two-statement commit). Values are
//! bound, never spliced: statements use anonymous `?` placeholders, which sqlx numbers on
//! across the statements of a query (numbered `$n` ones made binding quadratic: 236 ms
//! against 5 ms for 1,000 step rows).

use sqlx::{AssertSqlSafe, SqliteConnection};

/// Most bound values per query (SQLite allows 32,766).
const MAX_VALUES: usize = 30_000;

/// A bound value.
pub(crate) enum Val {
    Text(Option<String>),
    Int(Option<i64>),
    Real(Option<f64>),
}

impl From<&str> for Val {
    fn from(s: &str) -> Val {
        Val::Text(Some(s.to_string()))
    }
}

impl From<String> for Val {
    fn from(s: String) -> Val {
        Val::Text(Some(s))
    }
}

impl From<Option<String>> for Val {
    fn from(s: Option<String>) -> Val {
        Val::Text(s)
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

impl From<f64> for Val {
    fn from(r: f64) -> Val {
        Val::Real(Some(r))
    }
}

/// Statements of one transaction, with their values.
#[derive(Default)]
pub(crate) struct Script {
    /// Queries of at most `MAX_VALUES` values each.
    parts: Vec<(String, Vec<Val>)>,
}

impl Script {
    /// Adds a statement written with `?` placeholders, one per value, in order (no `?`
    /// may appear elsewhere in it).
    pub fn add(&mut self, statement: &str, values: Vec<Val>) {
        debug_assert_eq!(statement.matches('?').count(), values.len(), "{statement}");
        if self
            .parts
            .last()
            .is_none_or(|(_, v)| v.len() + values.len() > MAX_VALUES)
        {
            self.parts.push((String::new(), Vec::new()));
        }
        let Some((sql, bound)) = self.parts.last_mut() else {
            return;
        };
        sql.push_str(statement);
        sql.push_str(";\n");
        bound.extend(values);
    }

    /// Adds `head VALUES (?, ...), (?, ...) tail` over `rows`, split to respect the value
    /// limit.
    pub fn rows(&mut self, head: &str, rows: Vec<Vec<Val>>, tail: &str) {
        let Some(width) = rows.first().map(Vec::len) else {
            return;
        };
        let tuple = format!("({})", vec!["?"; width].join(", "));
        let per = (MAX_VALUES / width.max(1)).max(1);
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Vec<Val>> = rows.by_ref().take(per).collect();
            let tuples = vec![tuple.as_str(); chunk.len()].join(", ");
            self.add(
                &format!("{head} VALUES {tuples} {tail}"),
                chunk.into_iter().flatten().collect(),
            );
        }
    }

    /// Runs the statements in one transaction on `conn`; rolls back on failure.
    pub async fn commit(self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        let last = self.parts.len().saturating_sub(1);
        let mut result = Ok(());
        for (i, (mut sql, values)) in self.parts.into_iter().enumerate() {
            if i == 0 {
                sql.insert_str(0, "BEGIN IMMEDIATE;\n");
            }
            if i == last {
                sql.push_str("COMMIT;");
            }
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for v in values {
                query = match v {
                    Val::Text(t) => query.bind(t),
                    Val::Int(i) => query.bind(i),
                    Val::Real(r) => query.bind(r),
                };
            }
            if let Err(e) = query.execute(&mut *conn).await {
                result = Err(e);
                break;
            }
        }
        if result.is_err() {
            // Whatever was left open must not leak into the connection's next use.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        }
        result
    }
}
