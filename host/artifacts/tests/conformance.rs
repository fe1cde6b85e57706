//! One suite, every backend: each test runs on a local directory and on S3 (a real
//! SeaweedFS, see `support`), so the store's invariants — nothing half-written is visible,
//! no bytes that do not match their address are served — are checked where they are hard.

mod support;

use object_store::{PutMode, PutOptions};
use support::{Backend, blob_key, read_all};
use weft_artifacts::{ArtifactError, ArtifactStore, Digest, S3Config};

/// Bytes buffered before a write becomes a multipart upload (`writer::SMALL_LIMIT`).
const SMALL_LIMIT: usize = 5 * 1024 * 1024;

/// Runs each named `async fn(Backend)` as `NAME::local` and `NAME::s3`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn local() {
                super::$name(super::support::Backend::local()).await;
            }
            #[tokio::test]
            async fn s3() {
                if let Some(backend) = super::support::Backend::s3() {
                    super::$name(backend).await;
                }
            }
        }
    )*};
}

conformance!(
    round_trip_leaves_no_staging,
    an_aborted_small_write_is_never_visible,
    an_interrupted_multipart_leaves_nothing_visible,
    an_unpublished_staged_output_leaves_nothing_behind,
    concurrent_publishes_of_the_same_bytes,
    a_damaged_small_blob_is_never_served_and_publishing_repairs_it,
    a_damaged_large_blob_fails_at_its_end_and_publishing_repairs_it,
    staging_leftovers_of_a_dead_writer_are_swept,
    verify_all_finds_and_quarantines_what_does_not_match,
    tenants_are_separate,
    a_write_past_the_artifact_limit_fails_at_once_and_leaves_nothing,
);

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

async fn round_trip_leaves_no_staging(b: Backend) {
    // Larger than the in-memory staging threshold, so the multipart path runs too.
    for len in [0usize, 10, SMALL_LIMIT + 12_345] {
        let data = pattern(len);
        let mut w = b.store.stage();
        for chunk in data.chunks(70_000) {
            w.write(chunk).await.expect("write");
        }
        let staged = w.finish().await.expect("finish");
        assert_eq!(staged.digest(), Digest::of(&data));
        assert!(!b.store.contains(&staged.digest()).await, "not visible before publish");
        let meta = b
            .store
            .publish(staged, "application/octet-stream")
            .await
            .expect("publish");
        assert_eq!(meta.size, len as u64);
        assert!(b.store.contains(&meta.digest).await);
        assert_eq!(read_all(&b.store, &meta.digest).await, data);
        assert_eq!(b.store.verify(&meta.digest).await.expect("verify"), len as u64);
        // Publishing the same content again is harmless.
        let again = b.store.put_bytes(&data, "x/y").await.expect("again");
        assert_eq!(again.digest, meta.digest);
    }
    assert_eq!(b.drained("tenants/default/staging").await, Vec::<String>::new());
    let missing = Digest::of(b"never stored");
    assert!(!b.store.contains(&missing).await);
    assert!(matches!(
        b.store.reader(&missing).await,
        Err(ArtifactError::NotFound(_))
    ));
}

async fn an_aborted_small_write_is_never_visible(b: Backend) {
    let mut w = b.store.stage();
    w.write(b"half").await.expect("write");
    drop(w);
    assert!(!b.store.contains(&Digest::of(b"half")).await);
    assert!(b.keys_under("tenants").await.is_empty());
}

async fn an_interrupted_multipart_leaves_nothing_visible(b: Backend) {
    // Two parts in flight or done, then the writer is dropped mid-upload (a step that failed
    // or was cancelled while writing a large output).
    let mut w = b.store.stage();
    w.write(&pattern(SMALL_LIMIT)).await.expect("write");
    w.write(&pattern(SMALL_LIMIT + 7)).await.expect("write");
    drop(w);
    assert!(b.keys_under("tenants/default/blobs").await.is_empty());
    assert_eq!(b.drained("tenants/default/staging").await, Vec::<String>::new());
}

async fn a_write_past_the_artifact_limit_fails_at_once_and_leaves_nothing(b: Backend) {
    // S3 publishes by a server-side copy of at most 5 GiB; the limit is lowered here so
    // the write that crosses it is a multipart one.
    let store = b.store.clone().with_max_artifact_size((SMALL_LIMIT + 100) as u64);
    let mut w = store.stage();
    w.write(&pattern(SMALL_LIMIT + 1)).await.expect("write");
    let err = w.write(&pattern(100)).await.expect_err("past the limit");
    assert!(
        matches!(err, ArtifactError::TooLarge { limit } if limit == (SMALL_LIMIT + 100) as u64),
        "{err}"
    );
    assert_eq!(w.size(), (SMALL_LIMIT + 1) as u64, "the refused bytes were not taken");
    drop(w);
    assert!(b.keys_under("tenants/default/blobs").await.is_empty());
    assert_eq!(b.drained("tenants/default/staging").await, Vec::<String>::new());
    let real = if b.store.url().starts_with("s3://") {
        Some(weft_artifacts::S3_MAX_ARTIFACT_SIZE)
    } else {
        None
    };
    assert_eq!(b.store.max_artifact_size(), real);
}

async fn an_unpublished_staged_output_leaves_nothing_behind(b: Backend) {
    let mut w = b.store.stage();
    w.write(&vec![7u8; SMALL_LIMIT + 1]).await.expect("write");
    let staged = w.finish().await.expect("finish");
    assert_eq!(b.keys_under("tenants/default/staging").await.len(), 1);
    assert!(b.keys_under("tenants/default/blobs").await.is_empty());
    drop(staged);
    assert_eq!(b.drained("tenants/default/staging").await, Vec::<String>::new());
    assert!(b.keys_under("tenants/default/blobs").await.is_empty());
}

async fn concurrent_publishes_of_the_same_bytes(b: Backend) {
    let small = pattern(1000);
    let large = pattern(SMALL_LIMIT + 100);
    let puts = (0..8).map(|i| {
        let store = b.store.clone();
        let data = if i % 4 == 0 { large.clone() } else { small.clone() };
        async move { store.put_bytes(&data, "x/y").await }
    });
    for result in futures::future::join_all(puts).await {
        result.expect("every publish succeeds");
    }
    assert_eq!(read_all(&b.store, &Digest::of(&small)).await, small);
    assert_eq!(
        b.store.verify(&Digest::of(&large)).await.expect("whole"),
        large.len() as u64
    );
    assert_eq!(b.keys_under("tenants/default/blobs").await.len(), 2);
    assert_eq!(b.drained("tenants/default/staging").await, Vec::<String>::new());
}

async fn a_damaged_small_blob_is_never_served_and_publishing_repairs_it(b: Backend) {
    let meta = b.store.put_bytes(b"the right bytes", "text/plain").await.expect("put");
    b.put_raw(&blob_key(&meta.digest), b"the wrong bytes").await;
    let err = b.store.reader(&meta.digest).await.err().expect("refused");
    assert!(err.is_corruption(), "{err}");
    assert!(err.to_string().contains(&meta.digest.to_string()), "{err}");
    assert!(b.store.verify(&meta.digest).await.is_err());
    let mut sink = Vec::new();
    assert!(b.store.copy_to(&meta.digest, &mut sink).await.is_err());
    assert!(sink.is_empty(), "not one byte of a damaged small artifact is served");
    // Producing the artifact again replaces the damaged bytes.
    b.store
        .put_bytes(b"the right bytes", "text/plain")
        .await
        .expect("again");
    assert_eq!(read_all(&b.store, &meta.digest).await, b"the right bytes");
}

async fn a_damaged_large_blob_fails_at_its_end_and_publishing_repairs_it(b: Backend) {
    let data = pattern(SMALL_LIMIT + 10);
    let meta = b.store.put_bytes(&data, "x/y").await.expect("put");
    let mut damaged = data.clone();
    damaged[3_000_000] ^= 1;
    b.put_raw(&blob_key(&meta.digest), &damaged).await;
    let mut r = b
        .store
        .reader(&meta.digest)
        .await
        .expect("opens: too big to check first");
    let err = loop {
        match r.read(1 << 20).await {
            Ok(chunk) if chunk.is_empty() => break None,
            Ok(_) => {}
            Err(e) => break Some(e),
        }
    };
    assert!(
        err.is_some_and(|e| e.is_corruption()),
        "the end is never reported as good"
    );
    assert!(b.store.verify(&meta.digest).await.is_err());
    b.store.put_bytes(&data, "x/y").await.expect("again");
    assert_eq!(b.store.verify(&meta.digest).await.expect("repaired"), data.len() as u64);
}

async fn staging_leftovers_of_a_dead_writer_are_swept(b: Backend) {
    // Names as `writer::staging_id` makes them: pid-nanos-counter-hosttag.
    let dead = format!(
        "tenants/default/staging/4294967295-1-0-{}",
        weft_artifacts::machine::tag()
    );
    let live = format!(
        "tenants/default/staging/{}-1-0-{}",
        std::process::id(),
        weft_artifacts::machine::tag()
    );
    b.put_raw(&dead, &[0u8; 1000]).await;
    b.put_raw(&live, &[0u8; 10]).await;
    assert_eq!(b.store.sweep_staging().await.expect("sweep"), (1, 1000));
    assert_eq!(b.keys_under("tenants/default/staging").await, vec![live]);
}

async fn verify_all_finds_and_quarantines_what_does_not_match(b: Backend) {
    let good = b.store.put_bytes(b"good", "text/plain").await.expect("put").digest;
    let bad = b.store.put_bytes(b"bad", "text/plain").await.expect("put").digest;
    b.put_raw(&blob_key(&bad), b"tampered").await;
    // A blob filed under the wrong directory.
    let stray = Digest::of(b"stray");
    b.put_raw(&format!("tenants/default/blobs/sha256/00/{}", stray.hex()), b"stray")
        .await;

    let mut seen = 0;
    let summary = b.store.verify_all(false, |_| seen += 1).await.expect("verify");
    assert_eq!((seen, summary.good, summary.bad.len()), (3, 1, 2));
    assert!(summary.bad.iter().all(|c| c.quarantined.is_none() && !c.unreadable));

    let repaired = b.store.verify_all(true, |_| {}).await.expect("repair");
    assert_eq!(repaired.bad.len(), 2);
    assert!(repaired.bad.iter().all(|c| c.quarantined.is_some()));
    assert!(!b.store.contains(&bad).await);
    assert_eq!(b.keys_under("tenants/default/quarantine").await.len(), 2);
    let after = b.store.verify_all(false, |_| {}).await.expect("verify");
    assert_eq!((after.good, after.bad.len()), (1, 0));
    assert_eq!(b.store.verify(&good).await.expect("good"), 4);
}

async fn tenants_are_separate(b: Backend) {
    let meta = b.store.put_bytes(b"mine", "text/plain").await.expect("put");
    assert!(!b.store.for_tenant("other").contains(&meta.digest).await);
    assert!(b.store.contains(&meta.digest).await);
}

/// What `PutMode::Create` (`If-None-Match: *`) relies on: of concurrent creates of one key,
/// exactly one succeeds and the others are told the object exists. Checked on the server the
/// tests use, because an S3 look-alike that ignores the header silently breaks it.
#[tokio::test]
async fn s3_conditional_create_has_exactly_one_winner() {
    let Some(b) = Backend::s3() else { return };
    for round in 0..5 {
        let key = object_store::path::Path::from(format!("claims/{round}"));
        let creates = (0..8u8).map(|i| {
            let raw = b.raw.clone();
            let key = key.clone();
            async move {
                raw.put_opts(&key, vec![i].into(), PutOptions::from(PutMode::Create))
                    .await
            }
        });
        let results = futures::future::join_all(creates).await;
        let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        let lost = results
            .iter()
            .filter(|r| matches!(r, Err(object_store::Error::AlreadyExists { .. })))
            .count();
        assert_eq!((won.len(), lost), (1, 7), "round {round}: {results:?}");
    }
}

/// A wrong secret is refused, and neither the error nor its debug form shows the secret.
#[tokio::test]
async fn s3_a_wrong_secret_is_refused_without_showing_it() {
    let Some((config, bucket)) = support::s3_service() else {
        return;
    };
    let secret = "Wr0ngSecretThatMustNeverBePrinted";
    let config = S3Config {
        secret_access_key: Some(secret.into()),
        ..config
    };
    let url = format!("s3://{bucket}/{}", support::random_prefix());
    let store = ArtifactStore::open_with(&url, &config).expect("open");
    assert!(!format!("{store:?}").contains(secret));
    let err = store.put_bytes(b"x", "text/plain").await.expect_err("refused");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(secret), "{shown}");
    let err = store.verify(&Digest::of(b"x")).await.expect_err("refused");
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(secret), "{shown}");
}
