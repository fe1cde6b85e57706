//! Deterministic clocks and randomness for hermetic steps: outputs must depend only on
//! inputs, component and parameters, so a step sees virtual time and seeded bytes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock};

/// The instant every step's wall clock starts at: 2000-01-01T00:00:00Z.
pub const VIRTUAL_EPOCH_SECS: u64 = 946_684_800;
/// How far virtual time advances per reading, so loops that wait on time still progress.
const TICK_NANOS: u64 = 1_000;

/// A wall clock that starts at [`VIRTUAL_EPOCH_SECS`] and advances one tick per reading.
#[derive(Default)]
pub struct VirtualWallClock(AtomicU64);

impl HostWallClock for VirtualWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_nanos(TICK_NANOS)
    }

    fn now(&self) -> Duration {
        let n = self.0.fetch_add(TICK_NANOS, Ordering::Relaxed);
        Duration::from_secs(VIRTUAL_EPOCH_SECS) + Duration::from_nanos(n)
    }
}

/// A monotonic clock starting at zero and advancing one tick per reading.
#[derive(Default)]
pub struct VirtualMonotonicClock(AtomicU64);

impl HostMonotonicClock for VirtualMonotonicClock {
    fn resolution(&self) -> u64 {
        TICK_NANOS
    }

    fn now(&self) -> u64 {
        self.0.fetch_add(TICK_NANOS, Ordering::Relaxed)
    }
}

/// Bytes every step's random sources cycle through: SplitMix64 from a fixed seed.
pub fn seeded_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_are_virtual_and_advance() {
        let wall = VirtualWallClock::default();
        let a = wall.now();
        let b = wall.now();
        assert_eq!(a, Duration::from_secs(VIRTUAL_EPOCH_SECS));
        assert!(b > a);
        let mono = VirtualMonotonicClock::default();
        assert_eq!(mono.now(), 0);
        assert_eq!(mono.now(), TICK_NANOS);
    }

    #[test]
    fn seeded_bytes_are_stable() {
        assert_eq!(seeded_bytes(7, 16), seeded_bytes(7, 16));
        assert_ne!(seeded_bytes(7, 16), seeded_bytes(8, 16));
        assert_eq!(seeded_bytes(7, 13).len(), 13);
    }
}
