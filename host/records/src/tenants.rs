//! Tenants and their API tokens, for `weft tenant` and (next) the server: each tenant has one
//! token at a time; only its SHA-256 is stored, so the token is shown once, when it is made
//! or rotated, and a copy of the records grants nothing. These calls concern every tenant,
//! not the one a [`Records`] handle is scoped to: they are the administrator's.

use crate::{Records, RecordsError, now_ms};
use weft_artifacts::Digest;

/// Longest tenant name: it is part of every store key and row of the tenant.
pub const MAX_TENANT_NAME: usize = 63;

/// Prefix of every token, so a leaked one is recognisable (and greppable) as Weft's.
const TOKEN_PREFIX: &str = "weft_";

/// A tenant as listed (its token is never readable again).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tenant {
    /// Its name.
    pub name: String,
    /// When it was created, in milliseconds since the epoch.
    pub created_at: i64,
    /// When its current token was made.
    pub token_created_at: i64,
}

/// The tenant that owns the steps a server publishes from its own plugin directories (public
/// to all). It has no token: no request ever acts as it, and `weft tenant create` refuses
/// its name.
pub const BUILTIN_TENANT: &str = "weft";

/// Whether `name` can name a tenant: 1 to 63 lowercase ASCII letters, digits and `-`,
/// starting with a letter or digit (it becomes part of store keys and URLs).
pub fn check_tenant_name(name: &str) -> Result<(), RecordsError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_TENANT_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(RecordsError::BadTenantName(name.chars().take(80).collect()))
    }
}

/// A new token: the prefix and 32 random bytes from the operating system, in hex.
fn new_token() -> Result<String, RecordsError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| RecordsError::Corrupt(format!("no random bytes for a token: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("{TOKEN_PREFIX}{hex}"))
}

fn token_hash(token: &str) -> String {
    Digest::of(token.as_bytes()).hex()
}

impl Records {
    /// Creates tenant `name`; returns its token (shown once: only its hash is kept).
    pub async fn create_tenant(&self, name: &str) -> Result<String, RecordsError> {
        check_tenant_name(name)?;
        if name == BUILTIN_TENANT {
            return Err(RecordsError::ReservedTenant(name.to_string()));
        }
        let token = new_token()?;
        let now = now_ms();
        let made = self
            .db
            .execute(
                "INSERT INTO tenants (name, token_sha256, created_at, token_created_at) VALUES ($1, $2, $3, $3) \
                 ON CONFLICT (name) DO NOTHING",
                vec![name.into(), token_hash(&token).into(), now.into()],
            )
            .await?;
        if made == 0 {
            return Err(RecordsError::TenantExists(name.to_string()));
        }
        Ok(token)
    }

    /// Gives tenant `name` a new token; the old one stops working at once.
    pub async fn rotate_token(&self, name: &str) -> Result<String, RecordsError> {
        let token = new_token()?;
        let rotated = self
            .db
            .execute(
                "UPDATE tenants SET token_sha256 = $1, token_created_at = $2 WHERE name = $3",
                vec![token_hash(&token).into(), now_ms().into(), name.into()],
            )
            .await?;
        if rotated == 0 {
            return Err(RecordsError::UnknownTenant(name.chars().take(80).collect()));
        }
        Ok(token)
    }

    /// Every tenant, by name.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, RecordsError> {
        Ok(self
            .db
            .all(
                "SELECT name, created_at, token_created_at FROM tenants ORDER BY name",
                vec![],
            )
            .await?)
    }

    /// The tenant `token` belongs to, if it is a current token.
    pub async fn tenant_for_token(&self, token: &str) -> Result<Option<String>, RecordsError> {
        // Only a token of the right shape is looked up: anything else is refused
        // without a query (and without hashing an arbitrarily long header).
        let well_formed = token.len() == TOKEN_PREFIX.len() + 64
            && token.starts_with(TOKEN_PREFIX)
            && token[TOKEN_PREFIX.len()..].bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Ok(None);
        }
        let row: Option<(String,)> = self
            .db
            .first(
                "SELECT name FROM tenants WHERE token_sha256 = $1",
                vec![token_hash(token).into()],
            )
            .await?;
        Ok(row.map(|(name,)| name))
    }
}

impl Records {
    /// Tenant `name`'s quota overrides (a JSON object of quota name → value; empty when it
    /// has none).
    pub async fn tenant_quotas(&self, name: &str) -> Result<serde_json::Map<String, serde_json::Value>, RecordsError> {
        let row: Option<(String,)> = self
            .db
            .first("SELECT quotas FROM tenant_quotas WHERE tenant = $1", vec![name.into()])
            .await?;
        match row {
            None => Ok(serde_json::Map::new()),
            Some((text,)) => serde_json::from_str(&text)
                .map_err(|e| RecordsError::Corrupt(format!("the quotas of tenant `{name}`: {e}"))),
        }
    }

    /// Replaces tenant `name`'s quota overrides.
    pub async fn set_tenant_quotas(
        &self,
        name: &str,
        quotas: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), RecordsError> {
        if !self.list_tenants().await?.iter().any(|t| t.name == name) {
            return Err(RecordsError::UnknownTenant(name.chars().take(80).collect()));
        }
        self.db
            .execute(
                "INSERT INTO tenant_quotas (tenant, quotas) VALUES ($1, $2) \
                 ON CONFLICT (tenant) DO UPDATE SET quotas = excluded.quotas",
                vec![
                    name.into(),
                    serde_json::Value::Object(quotas.clone()).to_string().into(),
                ],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Durability, Location};

    #[test]
    fn tenant_names_are_path_and_url_safe() {
        for good in ["a", "team-a", "0day", "x".repeat(63).as_str()] {
            assert!(check_tenant_name(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "Team", "a/b", "a b", "..", "é", "x".repeat(64).as_str()] {
            assert!(
                matches!(check_tenant_name(bad), Err(RecordsError::BadTenantName(_))),
                "{bad}"
            );
        }
    }

    /// The whole life of a tenant's tokens, on `records`; and what the table holds.
    async fn tokens_are_shown_once_and_only_their_hash_is_kept(records: Records) {
        let token = records.create_tenant("team-a").await.expect("created");
        assert!(token.starts_with("weft_") && token.len() == 69, "{token}");
        assert_eq!(
            records.tenant_for_token(&token).await.expect("lookup").as_deref(),
            Some("team-a")
        );
        assert!(matches!(
            records.create_tenant("team-a").await,
            Err(RecordsError::TenantExists(_))
        ));
        let other = records.create_tenant("team-b").await.expect("created");
        assert_ne!(token, other);

        let rotated = records.rotate_token("team-a").await.expect("rotated");
        assert_ne!(rotated, token);
        assert_eq!(
            records.tenant_for_token(&token).await.expect("lookup"),
            None,
            "the old token is dead"
        );
        assert_eq!(
            records.tenant_for_token(&rotated).await.expect("lookup").as_deref(),
            Some("team-a")
        );
        assert!(matches!(
            records.rotate_token("nobody").await,
            Err(RecordsError::UnknownTenant(_))
        ));
        let (longer, upper, huge) = (format!("{rotated}0"), rotated.to_uppercase(), "x".repeat(10_000));
        for forged in ["", "weft_", longer.as_str(), upper.as_str(), huge.as_str()] {
            assert_eq!(
                records.tenant_for_token(forged).await.expect("lookup"),
                None,
                "{forged}"
            );
        }

        let names: Vec<String> = records
            .list_tenants()
            .await
            .expect("list")
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(names, ["team-a", "team-b"]);
        // No token is stored, only hashes.
        let rows: Vec<(String, String)> = records
            .db
            .all("SELECT name, token_sha256 FROM tenants", vec![])
            .await
            .expect("rows");
        for (name, stored) in rows {
            assert!(stored.len() == 64 && !stored.contains("weft_"), "{name}: {stored}");
            assert!(stored != rotated && stored != other && stored != token);
        }
        records.close().await;
    }

    #[tokio::test]
    async fn sqlite_tokens_are_shown_once_and_only_their_hash_is_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let records = Records::open(dir.path().join("r.db").as_path(), "default", Durability::Process)
            .await
            .expect("open");
        tokens_are_shown_once_and_only_their_hash_is_kept(records).await;
    }

    /// `weft records recover` keeps the tenants (and so their tokens) with everything else.
    #[tokio::test]
    async fn recover_keeps_the_tenants() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("r.db");
        let records = Records::open(path.as_path(), "default", Durability::Process)
            .await
            .expect("open");
        let token = records.create_tenant("team-a").await.expect("created");
        records.close().await;
        let done = crate::recover(&path).await.expect("recover");
        assert!(done.lost.is_empty(), "{:?}", done.lost);
        assert!(done.copied.iter().any(|(table, rows)| table == "tenants" && *rows == 1));
        let records = Records::open(path.as_path(), "default", Durability::Process)
            .await
            .expect("open");
        assert_eq!(
            records.tenant_for_token(&token).await.expect("lookup").as_deref(),
            Some("team-a")
        );
        records.close().await;
    }

    #[tokio::test]
    async fn postgres_tokens_are_shown_once_and_only_their_hash_is_kept() {
        let Some(admin) = weft_test_programs::services::postgres() else {
            return;
        };
        let scratch = crate::testing::ScratchDatabase::create(&admin)
            .await
            .expect("a test database");
        let location: Location = scratch.location();
        let records = Records::open(location, "default", Durability::Process)
            .await
            .expect("open");
        tokens_are_shown_once_and_only_their_hash_is_kept(records).await;
    }
}
