//! Where the records live: a SQLite file (a path) or a PostgreSQL database (a
//! `postgres://` URL), and how to name it in messages without its password.

use std::fmt;
use std::path::{Path, PathBuf};

/// The records' database.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file, created when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (`postgres://user:password@host:port/database`); the
    /// database must exist, its tables are created when missing.
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL is PostgreSQL; anything else is a file path.
    pub fn parse(text: &str) -> Location {
        if is_postgres_url(text) {
            Location::Postgres(text.to_string())
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }

    /// The location as shown to people: the path, or the URL with its password (and any
    /// query options, which may carry one) left out.
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => weft_artifacts::shown_url(url),
        }
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Location {
        Location::Sqlite(path.to_path_buf())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::Sqlite(path.clone())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}

/// Debug shows what Display shows: a URL's password must not reach a log line.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown())
    }
}

pub(crate) fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_postgres_and_its_password_is_never_shown() {
        let l = Location::parse("postgres://weft:s3cret@db.example:5432/runs?sslmode=disable&password=x");
        assert!(matches!(l, Location::Postgres(_)));
        assert_eq!(l.shown(), "postgres://weft@db.example:5432/runs");
        assert_eq!(format!("{l:?}"), "postgres://weft@db.example:5432/runs");
        assert_eq!(Location::parse("postgresql://h/d").shown(), "postgresql://h/d");
        assert_eq!(
            Location::parse(".weft/records.db"),
            Location::Sqlite(".weft/records.db".into())
        );
    }
}
