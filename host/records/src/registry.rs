//! The step registry (migration 0007): components published by tenants as `NAME@VERSION`,
//! immutable once published, private to their owner unless made public. A tenant sees its
//! own versions and every public one; a name resolves to its own versions, else the
//! built-in tenant's; another tenant's public version is used by its digest.

use crate::{Records, RecordsError, now_ms};
use serde::Serialize;
use std::cmp::Ordering;
use weft_artifacts::Digest;

/// A version to publish.
#[derive(Debug, Clone)]
pub struct NewStep<'a> {
    /// Its `describe().name`.
    pub name: &'a str,
    /// Its `describe().version`.
    pub version: &'a str,
    /// The component's address in the publishing tenant's store.
    pub digest: &'a Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its `describe()`, as JSON.
    pub info: &'a serde_json::Value,
    /// Its README, if any.
    pub readme: Option<&'a str>,
    /// Whether every tenant may use it.
    pub public: bool,
}

/// What publishing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// The version is now published.
    New,
    /// It was published already, with the same bytes: nothing changed.
    Unchanged,
}

/// A published version as a tenant sees it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RegisteredStep {
    /// The tenant that published it.
    pub owner: String,
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The component's address (in the owner's store).
    pub digest: String,
    /// Its size in bytes.
    pub size: i64,
    /// Whether every tenant may use it.
    pub public: bool,
    /// Its `describe()`, as JSON text.
    #[serde(skip)]
    pub info: String,
    /// Its README.
    #[serde(skip)]
    pub readme: Option<String>,
    /// When, ms since the epoch.
    pub published_at: i64,
}

const COLUMNS: &str = "tenant AS owner, name, version, digest, size, public, info, readme, published_at";

/// [`COLUMNS`] without the README, for listings.
const LISTED: &str =
    "tenant AS owner, name, version, digest, size, public, info, CAST(NULL AS TEXT) AS readme, published_at";

/// Most versions one tenant may publish (checked before the insert, so publications at the
/// same moment may pass it by a few): bounds what listing one tenant's steps reads.
pub const MAX_VERSIONS_PER_TENANT: i64 = 10_000;

/// Compares versions part by part, numerically where both parts are numbers (`0.10` after
/// `0.9`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

/// Whether `version` is `prefix` or starts with `prefix.` (`0.1` takes `0.1.3`, not `0.10.0`).
pub fn version_matches(version: &str, prefix: &str) -> bool {
    version == prefix || version.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

impl Records {
    /// Publishes a version for this tenant. Publishing it again with the same bytes changes
    /// nothing; with other bytes it is refused ([`RecordsError::VersionTaken`]).
    pub async fn publish_step(&self, step: &NewStep<'_>) -> Result<Published, RecordsError> {
        let published = self
            .db
            .first::<(i64,)>(
                "SELECT COUNT(*) FROM registry WHERE tenant = $1",
                vec![self.tenant.as_str().into()],
            )
            .await?
            .map_or(0, |(n,)| n);
        // At the cap, only a version published already (the same bytes again) gets through.
        if published >= MAX_VERSIONS_PER_TENANT && self.published_digest(step).await?.is_none() {
            return Err(RecordsError::TooManyVersions {
                limit: MAX_VERSIONS_PER_TENANT,
            });
        }
        let made = self
            .db
            .execute(
                "INSERT INTO registry (tenant, name, version, digest, size, public, info, readme, published_at) \
                 VALUES ($1, $2, $3, $4, $5, FALSE, $6, $7, $8) ON CONFLICT (tenant, name, version) DO NOTHING",
                vec![
                    self.tenant.as_str().into(),
                    step.name.into(),
                    step.version.into(),
                    step.digest.to_string().into(),
                    i64::try_from(step.size).unwrap_or(i64::MAX).into(),
                    step.info.to_string().into(),
                    step.readme.map(str::to_string).into(),
                    now_ms().into(),
                ],
            )
            .await?;
        if made == 1 {
            if step.public {
                self.set_step_public(step.name, step.version, true).await?;
            }
            return Ok(Published::New);
        }
        match self.published_digest(step).await? {
            Some((digest,)) if digest == step.digest.to_string() => Ok(Published::Unchanged),
            Some((digest,)) => Err(RecordsError::VersionTaken {
                step: format!("{}@{}", step.name, step.version),
                digest,
            }),
            None => Err(RecordsError::Corrupt("a published version vanished".into())),
        }
    }

    /// The digest this tenant published `step`'s name and version with, if it did.
    async fn published_digest(&self, step: &NewStep<'_>) -> Result<Option<(String,)>, RecordsError> {
        Ok(self
            .db
            .first::<(String,)>(
                "SELECT digest FROM registry WHERE tenant = $1 AND name = $2 AND version = $3",
                vec![self.tenant.as_str().into(), step.name.into(), step.version.into()],
            )
            .await?)
    }

    /// Makes this tenant's `name@version` public (or private again); `false` when the
    /// tenant has no such version.
    pub async fn set_step_public(&self, name: &str, version: &str, public: bool) -> Result<bool, RecordsError> {
        let sql = if public {
            "UPDATE registry SET public = TRUE WHERE tenant = $1 AND name = $2 AND version = $3"
        } else {
            "UPDATE registry SET public = FALSE WHERE tenant = $1 AND name = $2 AND version = $3"
        };
        let changed = self
            .db
            .execute(sql, vec![self.tenant.as_str().into(), name.into(), version.into()])
            .await?;
        Ok(changed == 1)
    }

    /// Sets the README of this tenant's `name@version`; `false` when it has no such version.
    pub async fn set_step_readme(&self, name: &str, version: &str, readme: &str) -> Result<bool, RecordsError> {
        let changed = self
            .db
            .execute(
                "UPDATE registry SET readme = $1 WHERE tenant = $2 AND name = $3 AND version = $4",
                vec![readme.into(), self.tenant.as_str().into(), name.into(), version.into()],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Every version this tenant may use — its own and every public one — whose name
    /// contains `search` (all with `None`), by name then newest version first; without
    /// their READMEs.
    pub async fn visible_steps(&self, search: Option<&str>) -> Result<Vec<RegisteredStep>, RecordsError> {
        let mut steps: Vec<RegisteredStep> = self
            .db
            .all(
                format!("SELECT {LISTED} FROM registry WHERE tenant = $1 OR public"),
                vec![self.tenant.as_str().into()],
            )
            .await?;
        // Matched here: SQLite and PostgreSQL name substring search differently.
        if let Some(search) = search {
            steps.retain(|s| s.name.contains(search));
        }
        steps.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| (a.owner != self.tenant).cmp(&(b.owner != self.tenant)))
                .then_with(|| compare_versions(&b.version, &a.version))
        });
        Ok(steps)
    }

    /// The versions named `name` this tenant may use, its own first, newest first.
    pub async fn step_versions(&self, name: &str) -> Result<Vec<RegisteredStep>, RecordsError> {
        let mut steps: Vec<RegisteredStep> = self
            .db
            .all(
                format!("SELECT {COLUMNS} FROM registry WHERE name = $1 AND (tenant = $2 OR public)"),
                vec![name.into(), self.tenant.as_str().into()],
            )
            .await?;
        steps.sort_by(|a, b| {
            (a.owner != self.tenant)
                .cmp(&(b.owner != self.tenant))
                .then_with(|| compare_versions(&b.version, &a.version))
        });
        Ok(steps)
    }

    /// The version `uses: name@prefix` means for this tenant: the newest of its own
    /// versions matching the prefix (every version with `None`), else the newest such
    /// version of the built-in tenant. Another tenant's public version is never found by
    /// name — a name is not owned, and any tenant could publish one to shadow it — only by
    /// its digest ([`Records::step_by_digest`]).
    pub async fn resolve_step(&self, name: &str, prefix: Option<&str>) -> Result<Option<RegisteredStep>, RecordsError> {
        let candidates: Vec<RegisteredStep> = self
            .db
            .all(
                format!("SELECT {COLUMNS} FROM registry WHERE name = $1 AND (tenant = $2 OR (tenant = $3 AND public))"),
                vec![name.into(), self.tenant.as_str().into(), crate::BUILTIN_TENANT.into()],
            )
            .await?;
        let newest = |owner: &str| {
            candidates
                .iter()
                .filter(|s| s.owner == owner)
                .filter(|s| prefix.is_none_or(|p| version_matches(&s.version, p)))
                .max_by(|a, b| compare_versions(&a.version, &b.version))
                .cloned()
        };
        Ok(newest(&self.tenant).or_else(|| newest(crate::BUILTIN_TENANT)))
    }

    /// A version this tenant may use with this component digest (its own first).
    pub async fn step_by_digest(&self, digest: &Digest) -> Result<Option<RegisteredStep>, RecordsError> {
        let mut found: Vec<RegisteredStep> = self
            .db
            .all(
                format!("SELECT {COLUMNS} FROM registry WHERE digest = $1 AND (tenant = $2 OR public)"),
                vec![digest.to_string().into(), self.tenant.as_str().into()],
            )
            .await?;
        found.sort_by_key(|s| s.owner != self.tenant);
        Ok(found.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically_and_prefixes_match_whole_parts() {
        assert_eq!(compare_versions("0.10.0", "0.9.1"), Ordering::Greater);
        assert_eq!(compare_versions("1.0", "1.0.0"), Ordering::Less);
        assert_eq!(compare_versions("1.2.3", "1.2.3"), Ordering::Equal);
        assert!(version_matches("0.1.3", "0.1"));
        assert!(version_matches("0.1", "0.1"));
        assert!(!version_matches("0.10.0", "0.1"));
    }
}
