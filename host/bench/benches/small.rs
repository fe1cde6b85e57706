//! Small artifacts: the 40-step chain of `test-copy` steps passing a 1 KiB artifact down
//! (bench (b') of `overhead`), recorded as `weft run` records it, with every artifact
//! published in the object store (as before small artifacts were kept in the records) and
//! with the small-artifact tier (`weft_records::share_small_artifacts`: kept in memory until
//! committed with its step, in the records). Side by side in interleaved rounds:
//!
//! (b')  no records, local disk store (as in `overhead`);
//! (s0)  SQLite records + local disk, every artifact in the store;
//! (s1)  SQLite records + local disk, small artifacts in the records (the defaults);
//! (p0), (p1) the same on PostgreSQL records + an S3 store, when `WEFT_TEST_POSTGRES` and
//!       `WEFT_TEST_S3` name services (`cargo xtask services`).
//!
//! The cache is off: every step executes and commits. Wall time of a whole run / 40.
//! Run: `cargo bench -p weft-bench --bench small [-- NAME]` (NAME: only the configurations
//! whose label contains it, e.g. `s1`).

use std::collections::BTreeMap;
use std::time::Duration;
use weft_artifacts::{ArtifactStore, INLINE_MAX, S3Config};
use weft_bench::{Workload, chain_yaml, plugin, scratch_engine, summarize, us};
use weft_records::testing::ScratchDatabase;
use weft_records::{Durability, Location, Records, share_small_artifacts};

const CHAIN: usize = 40;
const ROUNDS: usize = 30;
const WARMUP_ROUNDS: usize = 3;

/// An S3 store under a fresh prefix, from `WEFT_TEST_S3`, as in the tests.
fn s3_store() -> Option<ArtifactStore> {
    let s3 = weft_test_programs::services::s3_if_set()?;
    let config = S3Config::with_endpoint(&s3.endpoint, &s3.access_key, &s3.secret);
    Some(ArtifactStore::open_with(&s3.fresh_store_url("bench-small"), &config).expect("open S3"))
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (sandbox, disk) = scratch_engine(dir.path());
    let copy = sandbox.load_file(&plugin("test-copy")).await.expect("load");
    let open = |location: Location| async move {
        Records::open(location, "default", Durability::Process)
            .await
            .expect("records")
    };
    let sqlite = open(Location::Sqlite(dir.path().join("records.db"))).await;
    let scratch = match weft_test_programs::services::postgres_if_set() {
        Some(admin) => Some(ScratchDatabase::create(&admin).await.expect("a bench database")),
        None => None,
    };
    let s3 = s3_store();
    let mut configs: Vec<(&str, ArtifactStore, Option<Records>)> = Vec::new();
    configs.push(("(b') no records, disk", disk.clone(), None));
    configs.push((
        "(s0) SQLite + disk, every artifact in the store",
        disk.clone(),
        Some(sqlite.clone()),
    ));
    let (r, s) = share_small_artifacts(sqlite.clone(), disk.clone(), INLINE_MAX);
    configs.push(("(s1) SQLite + disk, small artifacts in the records", s, Some(r)));
    match (&scratch, &s3) {
        (Some(db), Some(s3)) => {
            let pg = open(db.location()).await;
            configs.push((
                "(p0) Postgres + S3, every artifact in the store",
                s3.clone(),
                Some(pg.clone()),
            ));
            let (r, s) = share_small_artifacts(pg, s3.clone(), INLINE_MAX);
            configs.push(("(p1) Postgres + S3, small artifacts in the records", s, Some(r)));
        }
        _ => println!("Postgres + S3 left out: set WEFT_TEST_POSTGRES and WEFT_TEST_S3 (cargo xtask services)"),
    }
    // `cargo bench --bench small -- s1` measures only the configurations named so (to profile one).
    if let Some(only) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        configs.retain(|(name, _, _)| name.contains(only.as_str()));
    }
    let yaml = chain_yaml("test-copy", CHAIN, true);
    let mut chains = Vec::new();
    for (name, store, records) in &configs {
        // The seed sits in the object store: what is measured is the chain's own artifacts.
        let seed = store
            .put_bytes_stored(&[7u8; 1024], "application/octet-stream")
            .await
            .expect("seed");
        let inputs = BTreeMap::from([("seed".to_string(), seed)]);
        let w = Workload::new(
            &yaml,
            &sandbox,
            store,
            std::slice::from_ref(&copy),
            inputs,
            records.clone(),
        );
        chains.push((*name, w));
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); chains.len()];
    for round in 0..WARMUP_ROUNDS + ROUNDS {
        for (k, (_, w)) in chains.iter().enumerate() {
            let t = w.run(&format!("small-{k}-{round}"), 2).await / CHAIN as u32;
            if round >= WARMUP_ROUNDS {
                times[k].push(t);
            }
        }
    }
    println!("| 40-step copy chain, 1 KiB artifacts, per step | samples | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    for ((name, _), t) in chains.iter().zip(&mut times) {
        let s = summarize(t);
        println!("| {name} | {} | {} | {} | {} |", s.n, us(s.p50), us(s.p90), us(s.p99));
    }
    sqlite.close().await;
    for (_, _, records) in &configs {
        if let Some(r) = records {
            r.close().await;
        }
    }
    drop(scratch);
}
