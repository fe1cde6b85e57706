//! What publishing and reading an artifact costs on a local directory and on S3
//! (SeaweedFS on loopback), for a 1 KiB and a 16 MiB artifact: medians of interleaved
//! rounds, each a `put_bytes` (stage, hash, publish) then a verified read (`copy_to`).
//! S3 is measured when `WEFT_TEST_S3` names a service (`cargo xtask services`), as in the
//! tests: `http://ACCESS_KEY:SECRET@HOST:PORT/BUCKET`.
//! Run: `WEFT_TEST_S3=... cargo bench -p weft-artifacts --bench backends`.

use std::time::{Duration, Instant};
use weft_artifacts::{ArtifactStore, S3Config};

const SIZES: [(usize, usize, &str); 2] = [(1024, 200, "1 KiB"), (16 << 20, 7, "16 MiB")];

fn s3_store() -> Option<ArtifactStore> {
    let s3 = weft_test_programs::services::s3_if_set()?;
    let config = S3Config::with_endpoint(&s3.endpoint, &s3.access_key, &s3.secret);
    Some(ArtifactStore::open_with(&s3.fresh_store_url("bench"), &config).expect("open S3"))
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut stores = vec![(
        "local",
        ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("open"),
    )];
    match s3_store() {
        Some(s3) => stores.push(("SeaweedFS", s3)),
        None => println!("S3 not measured: set WEFT_TEST_S3 (cargo xtask services)"),
    }
    for (size, rounds, label) in SIZES {
        let mut times = vec![(Vec::new(), Vec::new()); stores.len()];
        for round in 0..=rounds {
            // Distinct bytes every round: each publish is a new object, as a step's output is.
            let data: Vec<u8> = (0..size)
                .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 ^ round as u8)
                .collect();
            for (i, (_, store)) in stores.iter().enumerate() {
                let mut data = data.clone();
                data[0] ^= i as u8;
                let t = Instant::now();
                let meta = store.put_bytes(&data, "application/octet-stream").await.expect("put");
                let publish = t.elapsed();
                let t = Instant::now();
                let copied = store.copy_to(&meta.digest, &mut tokio::io::sink()).await.expect("read");
                let read = t.elapsed();
                assert_eq!(copied, size as u64);
                if round > 0 {
                    times[i].0.push(publish);
                    times[i].1.push(read);
                }
            }
        }
        for ((name, _), (publish, read)) in stores.iter().zip(&mut times) {
            println!(
                "{label:>6} {name:<9} publish {:>10.1?}  verified read {:>10.1?}  ({rounds} rounds, medians)",
                median(publish),
                median(read)
            );
        }
    }
}
