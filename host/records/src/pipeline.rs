//! A [`Script`] as one PostgreSQL statement: each of its statements becomes a
//! data-modifying CTE (`WITH s0 AS (DELETE ...), s1 AS (INSERT ...) SELECT 1`), and the
//! rows of an insert or update travel as one array per column spread by `UNNEST`.
//!
//! Why one statement: it is one round trip and atomic on its own (no `BEGIN`/`COMMIT`
//! trips), its text does not grow with the rows (one prepared statement per shape, and no
//! 65,535-parameter limit), and foreign keys are checked when the statement ends, so a
//! parent row and its children may come in sibling CTEs. The CTEs all see the snapshot
//! taken when the statement starts, which is what the scripts assume: none reads what a
//! sibling writes, and none modifies a row twice.

use crate::script::{Op, Script, Val};
use sqlx::postgres::PgArguments;
use sqlx::{AssertSqlSafe, Postgres};

/// A value or a column of values, bound in order.
enum Bind {
    One(Val),
    Texts(Vec<Option<String>>),
    Ints(Vec<Option<i64>>),
    Reals(Vec<Option<f64>>),
    Blobs(Vec<Option<Vec<u8>>>),
}

/// The statement and its binds.
#[derive(Default)]
struct Statement {
    sql: String,
    binds: Vec<Bind>,
}

impl Statement {
    /// `$n` for the next bind.
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }

    /// `UNNEST($1::text[], $2::int8[], ...) AS u(c0, c1, ...)` over the columns of `rows`.
    fn unnest(&mut self, rows: Vec<Vec<Val>>) -> String {
        let width = rows.first().map_or(0, Vec::len);
        let mut columns: Vec<Bind> = match rows.first() {
            Some(first) => first
                .iter()
                .map(|v| match v {
                    Val::Text(_) => Bind::Texts(Vec::with_capacity(rows.len())),
                    Val::Int(_) => Bind::Ints(Vec::with_capacity(rows.len())),
                    Val::Real(_) => Bind::Reals(Vec::with_capacity(rows.len())),
                    Val::Blob(_) => Bind::Blobs(Vec::with_capacity(rows.len())),
                })
                .collect(),
            None => Vec::new(),
        };
        for row in rows {
            for (column, v) in columns.iter_mut().zip(row) {
                // A value of another type than its column's first is a bug in the script;
                // it goes in as NULL rather than panicking, and the NOT NULL or the read
                // back says so.
                match (column, v) {
                    (Bind::Texts(c), Val::Text(t)) => c.push(t),
                    (Bind::Ints(c), Val::Int(i)) => c.push(i),
                    (Bind::Reals(c), Val::Real(r)) => c.push(r),
                    (Bind::Blobs(c), Val::Blob(b)) => c.push(b),
                    (Bind::Texts(c), _) => c.push(None),
                    (Bind::Ints(c), _) => c.push(None),
                    (Bind::Reals(c), _) => c.push(None),
                    (Bind::Blobs(c), _) => c.push(None),
                    (Bind::One(_), _) => {}
                }
            }
        }
        let arrays: Vec<String> = columns
            .into_iter()
            .map(|c| {
                let cast = match &c {
                    Bind::Texts(_) | Bind::One(_) => "text[]",
                    Bind::Ints(_) => "int8[]",
                    Bind::Reals(_) => "float8[]",
                    Bind::Blobs(_) => "bytea[]",
                };
                format!("{}::{cast}", self.bind(c))
            })
            .collect();
        let names: Vec<String> = (0..width).map(|i| format!("c{i}")).collect();
        format!("UNNEST({}) AS u({})", arrays.join(", "), names.join(", "))
    }

    /// `sql` with each `?` replaced by the next `$n`.
    fn numbered(&mut self, sql: &str, values: Vec<Val>) -> String {
        let mut values = values.into_iter();
        let mut out = String::with_capacity(sql.len() + 8);
        for (i, piece) in sql.split('?').enumerate() {
            if i > 0 {
                let v = values.next().unwrap_or(Val::Text(None));
                out.push_str(&self.bind(Bind::One(v)));
            }
            out.push_str(piece);
        }
        out
    }

    fn op(&mut self, op: Op) -> String {
        match op {
            Op::Statement { sql, values } => self.numbered(&sql, values),
            Op::Insert { head, rows, tail } => {
                let unnest = self.unnest(rows);
                format!("{head} SELECT * FROM {unnest} {tail}")
            }
            Op::Update {
                table,
                set,
                keys,
                condition,
                rows,
            } => {
                let unnest = self.unnest(rows);
                let set: Vec<String> = set.iter().enumerate().map(|(i, c)| format!("{c} = u.c{i}")).collect();
                let keys: Vec<String> = keys
                    .iter()
                    .enumerate()
                    .map(|(i, c)| format!("t.{c} = u.c{}", i + set.len()))
                    .collect();
                format!(
                    "UPDATE {table} AS t SET {} FROM {unnest} WHERE {}{condition}",
                    set.join(", "),
                    keys.join(" AND ")
                )
            }
        }
    }
}

/// Runs `script` as one statement on `conn` (a pool's: its own transaction; or inside an
/// open one).
pub(crate) async fn commit<'c>(
    script: Script,
    conn: impl sqlx::Executor<'c, Database = Postgres>,
) -> Result<(), sqlx::Error> {
    let mut statement = Statement::default();
    let parts: Vec<String> = script.ops.into_iter().map(|op| statement.op(op)).collect();
    statement.sql = match parts.len() {
        0 => return Ok(()),
        1 => parts.concat(),
        _ => {
            let ctes: Vec<String> = parts
                .iter()
                .enumerate()
                .map(|(i, p)| format!("s{i} AS ({p})"))
                .collect();
            format!("WITH {} SELECT 1", ctes.join(", "))
        }
    };
    let mut query = sqlx::query::<Postgres>(AssertSqlSafe(statement.sql));
    for b in statement.binds {
        query = bind(query, b);
    }
    query.execute(conn).await?;
    Ok(())
}

fn bind(
    query: sqlx::query::Query<'_, Postgres, PgArguments>,
    b: Bind,
) -> sqlx::query::Query<'_, Postgres, PgArguments> {
    match b {
        Bind::One(Val::Text(t)) => query.bind(t),
        Bind::One(Val::Int(i)) => query.bind(i),
        Bind::One(Val::Real(r)) => query.bind(r),
        Bind::One(Val::Blob(b)) => query.bind(b),
        Bind::Texts(c) => query.bind(c),
        Bind::Ints(c) => query.bind(c),
        Bind::Reals(c) => query.bind(c),
        Bind::Blobs(c) => query.bind(c),
    }
}
