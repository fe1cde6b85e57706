//! What checking artifacts against their address costs, measured side by side in
//! interleaved rounds on one file in the page cache:
//!
//! (r) reading a published artifact's file with `std::fs` in 256 KiB chunks (no checks:
//!     the floor);
//! (h) the same, hashing every chunk with SHA-256 (the hashing alone);
//! (v) reading it through `ArtifactStore::copy_to` into a sink (no-follow open, SHA-256
//!     of every byte, digest checked at the end) — what a step's input, `weft artifact
//!     get` and a cache hit's check cost;
//! (s) opening and reading a 64 KiB artifact, verified whole before the first byte, against
//!     a plain `std::fs::read` of it.
//! Run: `cargo bench -p weft-artifacts --bench verify`.

use sha2::{Digest as _, Sha256};
use std::io::Read;
use std::time::{Duration, Instant};
use weft_artifacts::{ArtifactStore, Digest};

const LARGE: usize = 256 << 20;
const SMALL: usize = 64 << 10;
const ROUNDS: usize = 7;
const SMALL_ROUNDS: usize = 2000;

fn blob_path(root: &std::path::Path, d: &Digest) -> std::path::PathBuf {
    root.join("tenants/default/blobs/sha256")
        .join(&d.hex()[..2])
        .join(d.hex())
}

#[allow(clippy::cast_precision_loss)]
fn mb_per_s(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = ArtifactStore::open(dir.path().to_str().expect("utf8")).expect("store");
    let data: Vec<u8> = (0..LARGE)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let large = store
        .put_bytes(&data, "application/octet-stream")
        .await
        .expect("put")
        .digest;
    let small = store
        .put_bytes(&data[..SMALL], "application/octet-stream")
        .await
        .expect("put")
        .digest;
    drop(data);
    let large_path = blob_path(dir.path(), &large);
    let small_path = blob_path(dir.path(), &small);

    let (mut raw, mut hashed, mut verified) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..=ROUNDS {
        let t = Instant::now();
        let n = read_chunks(&large_path, |_| {});
        let r = t.elapsed();
        let t = Instant::now();
        let mut hasher = Sha256::new();
        let m = read_chunks(&large_path, |chunk| hasher.update(chunk));
        assert_eq!(Digest::from_hasher(hasher), large);
        let h = t.elapsed();
        let t = Instant::now();
        let copied = store
            .copy_to(&large, &mut tokio::io::sink())
            .await
            .expect("verified read");
        let v = t.elapsed();
        assert_eq!((n, m, copied), (LARGE, LARGE, LARGE as u64));
        if round > 0 {
            raw.push(r);
            hashed.push(h);
            verified.push(v);
        }
    }
    let (raw, hashed, verified) = (median(&mut raw), median(&mut hashed), median(&mut verified));
    println!("large artifact ({} MiB), {ROUNDS} rounds, medians:", LARGE >> 20);
    for (label, d) in [
        ("(r) read, no check:    ", raw),
        ("(h) read + SHA-256:    ", hashed),
        ("(v) copy_to, checked:  ", verified),
    ] {
        println!(
            "  {label} {:>8.1} ms  {:>7.0} MB/s",
            d.as_secs_f64() * 1e3,
            mb_per_s(LARGE, d)
        );
    }
    println!(
        "  checked / unchecked: {:.2}x",
        verified.as_secs_f64() / raw.as_secs_f64()
    );

    let (mut raw, mut verified) = (Vec::new(), Vec::new());
    for _ in 0..SMALL_ROUNDS {
        let t = Instant::now();
        let n = std::fs::read(&small_path).expect("read").len();
        raw.push(t.elapsed());
        let t = Instant::now();
        let mut reader = store.reader(&small).await.expect("open");
        let chunk = reader.read(SMALL).await.expect("read");
        verified.push(t.elapsed());
        assert_eq!((n, chunk.len()), (SMALL, SMALL));
    }
    let (raw, verified) = (median(&mut raw), median(&mut verified));
    println!("small artifact (64 KiB), {SMALL_ROUNDS} rounds, medians:");
    println!("  std::fs::read, no check:       {:>8.1} µs", raw.as_secs_f64() * 1e6);
    println!(
        "  open + read, checked whole:    {:>8.1} µs",
        verified.as_secs_f64() * 1e6
    );
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Reads a file in 256 KiB chunks into one reused buffer; returns the bytes read.
fn read_chunks(path: &std::path::Path, mut each: impl FnMut(&[u8])) -> usize {
    let mut file = std::fs::File::open(path).expect("open");
    let mut buf = vec![0u8; 256 << 10];
    let mut total = 0;
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            return total;
        }
        each(&buf[..n]);
        total += n;
    }
}
