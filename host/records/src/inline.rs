//! Small artifacts kept in the records (weft-artifacts' `inline.rs`): the store's pending
//! bytes written with the commit that makes their producer durable, and read back for the
//! store. One row per tenant and digest; a row whose bytes differ from what is committed
//! again (a damaged copy) is replaced, as publishing replaces a damaged object.

use crate::script::{Script, Val};
use crate::{Records, RecordsError};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::collections::HashSet;
use std::sync::Arc;
use weft_artifacts::{ArtifactStore, Digest, InlineBlobs, InlineTier};

/// The insert of inline blobs: nothing for a row already holding these bytes (dedup), a
/// rewrite of one holding others (the repair of a damaged row).
const UPSERT_TAIL: &str =
    "ON CONFLICT (tenant, digest) DO UPDATE SET bytes = excluded.bytes WHERE inline_blobs.bytes <> excluded.bytes";

/// `records` and `store` sharing a small-artifact tier: the store keeps artifacts of at
/// most `max` bytes in memory until `records` commits them with their producing step, and
/// reads them back from `records`. With `max` 0 the store keeps every new artifact itself
/// but still reads those the records hold. Both handles (and their clones) must be used
/// together: a store linked to records that never commit loses what it keeps pending.
pub fn share_small_artifacts(records: Records, store: ArtifactStore, max: u64) -> (Records, ArtifactStore) {
    let tier = InlineTier::new(max);
    let records = Records {
        inline: Some(tier.clone()),
        ..records
    };
    let store = store.with_inline(tier, Arc::new(records.clone()));
    (records, store)
}

/// Pending bytes gathered for one transaction.
#[derive(Default)]
pub(crate) struct PendingBlobs {
    digests: Vec<Digest>,
    rows: Vec<Vec<Val>>,
}

impl PendingBlobs {
    /// Adds the rows to `script`.
    pub(crate) fn write(&mut self, script: &mut Script) {
        script.rows(
            "INSERT INTO inline_blobs (tenant, digest, bytes)",
            std::mem::take(&mut self.rows),
            UPSERT_TAIL,
        );
    }
}

impl Records {
    /// The pending bytes of those of `digests` the store holds in memory uncommitted, each
    /// once (a row may appear only once in one upsert).
    pub(crate) fn pending_blobs<'a>(&self, digests: impl IntoIterator<Item = (&'a Digest, u64)>) -> PendingBlobs {
        let mut out = PendingBlobs::default();
        let Some(tier) = &self.inline else {
            return out;
        };
        let mut seen = HashSet::new();
        for (digest, size) in digests {
            if !tier.takes(size) || !seen.insert(*digest) {
                continue;
            }
            if let Some(bytes) = tier.pending(&self.tenant, digest) {
                out.rows.push(vec![
                    self.tenant.as_str().into(),
                    digest.to_string().into(),
                    bytes.to_vec().into(),
                ]);
                out.digests.push(*digest);
            }
        }
        out
    }

    /// After the transaction holding `blobs` committed: the store's copies are durable.
    pub(crate) fn blobs_committed(&self, blobs: &PendingBlobs) {
        if let Some(tier) = &self.inline {
            tier.committed(&self.tenant, &blobs.digests);
        }
    }

    /// Makes durable the small artifacts among `digests` that were published outside a
    /// step commit (a replay's repaired output): one transaction.
    pub async fn save_small_artifacts(&self, digests: &[(Digest, u64)]) -> Result<(), RecordsError> {
        let mut blobs = self.pending_blobs(digests.iter().map(|(d, s)| (d, *s)));
        if blobs.digests.is_empty() {
            return Ok(());
        }
        let mut script = Script::default();
        blobs.write(&mut script);
        script.commit(&self.db).await?;
        self.blobs_committed(&blobs);
        Ok(())
    }

    /// Bytes of the small artifacts the records hold for this tenant.
    pub async fn inline_bytes(&self) -> Result<u64, RecordsError> {
        let row = self
            .db
            .first::<(i64,)>(
                "SELECT CAST(COALESCE(SUM(LENGTH(bytes)), 0) AS BIGINT) FROM inline_blobs WHERE tenant = $1",
                vec![self.tenant.as_str().into()],
            )
            .await?;
        Ok(row.map_or(0, |(n,)| u64::try_from(n).unwrap_or(0)))
    }

    /// The stored bytes of a small artifact, unchecked.
    pub(crate) async fn inline_blob(&self, tenant: &str, digest: &Digest) -> Result<Option<Bytes>, RecordsError> {
        let row = self
            .db
            .first::<(Vec<u8>,)>(
                "SELECT bytes FROM inline_blobs WHERE tenant = $1 AND digest = $2",
                vec![tenant.into(), digest.to_string().into()],
            )
            .await?;
        Ok(row.map(|(bytes,)| Bytes::from(bytes)))
    }
}

impl InlineBlobs for Records {
    fn get<'a>(&'a self, tenant: &'a str, digest: &'a Digest) -> BoxFuture<'a, Result<Option<Bytes>, String>> {
        Box::pin(async move {
            self.inline_blob(tenant, digest)
                .await
                .map_err(|e| format!("{e} ({})", self.location()))
        })
    }
}

/// A small artifact in the records whose bytes do not match its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInlineBlob {
    /// The digest it is stored under (as stored: it may not even parse).
    pub digest: String,
    /// What is wrong.
    pub problem: String,
    /// Whether `repair` deleted it (the next run that produces it stores it again).
    pub removed: bool,
}

/// What checking the small artifacts in the records found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InlineCheck {
    /// Rows whose bytes match their digest.
    pub good: usize,
    /// Their bytes.
    pub bytes: u64,
    /// The others.
    pub bad: Vec<BadInlineBlob>,
}

/// Rows read per query while checking.
const CHECK_PAGE: i64 = 256;

impl Records {
    /// Reads every small artifact of this tenant kept in the records and checks it against
    /// its digest (`weft store verify`); with `repair`, deletes the bad rows, so a cache
    /// hit on them misses and the step that produces them runs and stores them again.
    pub async fn check_small_artifacts(&self, repair: bool) -> Result<InlineCheck, RecordsError> {
        let mut check = InlineCheck::default();
        let mut after = String::new();
        loop {
            let page = self
                .db
                .all::<(String, Vec<u8>)>(
                    "SELECT digest, bytes FROM inline_blobs WHERE tenant = $1 AND digest > $2 \
                     ORDER BY digest LIMIT $3",
                    vec![self.tenant.as_str().into(), after.as_str().into(), CHECK_PAGE.into()],
                )
                .await?;
            let Some((last, _)) = page.last() else { break };
            after = last.clone();
            for (digest, bytes) in page {
                let problem = match digest.parse::<Digest>() {
                    Err(_) => Some("the name is not a sha256 address".to_string()),
                    Ok(d) if Digest::of(&bytes) != d => Some(format!("its bytes hash to {}", Digest::of(&bytes))),
                    Ok(_) => None,
                };
                let Some(problem) = problem else {
                    check.good += 1;
                    check.bytes += bytes.len() as u64;
                    continue;
                };
                if repair {
                    self.db
                        .execute(
                            "DELETE FROM inline_blobs WHERE tenant = $1 AND digest = $2",
                            vec![self.tenant.as_str().into(), digest.as_str().into()],
                        )
                        .await?;
                }
                check.bad.push(BadInlineBlob {
                    digest,
                    problem,
                    removed: repair,
                });
            }
        }
        Ok(check)
    }
}
