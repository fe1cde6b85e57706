//! Support for Weft's benchmarks: percentile summaries of timing samples, and workloads
//! run through the whole engine.

mod workload;

pub use workload::{Workload, chain_yaml, fanout_yaml, scratch_engine};

use std::path::PathBuf;
use std::time::Duration;

/// The component named `name`: a test guest (`test-*`, built by `weft-test-programs`) or
/// one of Weft's steps in dist/plugins (built by `cargo xtask build-plugins`).
pub fn plugin(name: &str) -> PathBuf {
    weft_test_programs::component(name)
}

/// Percentiles of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
}

/// Summarizes samples (nearest-rank percentiles).
pub fn summarize(samples: &mut [Duration]) -> Summary {
    samples.sort_unstable();
    let pick = |q: f64| {
        if samples.is_empty() {
            return Duration::ZERO;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let idx = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[idx]
    };
    Summary {
        n: samples.len(),
        p50: pick(0.50),
        p90: pick(0.90),
        p99: pick(0.99),
    }
}

/// Microseconds with one decimal.
pub fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut s: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let sum = summarize(&mut s);
        assert_eq!(sum.p50, Duration::from_micros(50));
        assert_eq!(sum.p90, Duration::from_micros(90));
        assert_eq!(sum.p99, Duration::from_micros(99));
    }
}
