//! Seeded randomness for hermetic steps: every execution gets its own ChaCha20 streams,
//! keyed by SHA-256 of (the sandbox's run seed, the step id, the attempt number). Still
//! deterministic — the same step, attempt and seed see the same bytes, so outputs can be
//! replayed bit for bit — but no two steps or attempts share a stream, and a stream does
//! not repeat (the old source cycled through one 4096-byte block for every step).

use rand::rngs::ChaCha20Rng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Which execution a step's random bytes belong to; with [`crate::SandboxConfig::random_seed`]
/// it fixes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepSeed {
    /// The step's id in its run (`split[3]` for a matrix instance).
    pub step: String,
    /// The attempt number, from 1: a retry sees different bytes, as a transient failure
    /// caused by them may not recur.
    pub attempt: u32,
}

/// The random sources of one execution.
pub(crate) struct StepRandom {
    /// Behind `wasi:random/random`.
    pub secure: ChaCha20Rng,
    /// Behind `wasi:random/insecure`.
    pub insecure: ChaCha20Rng,
    /// What `wasi:random/insecure-seed` returns.
    pub insecure_seed: u128,
}

/// Derives an execution's random sources. The key is a hash of every part, each
/// length-prefixed, so no two (seed, step, attempt) share one; the secure and insecure
/// sources are distinct streams of the same key.
pub(crate) fn step_random(run_seed: u64, seed: &StepSeed) -> StepRandom {
    let mut h = Sha256::new();
    h.update(b"weft step random v1\0");
    h.update(run_seed.to_le_bytes());
    h.update((seed.step.len() as u64).to_le_bytes());
    h.update(seed.step.as_bytes());
    h.update(seed.attempt.to_le_bytes());
    let key: [u8; 32] = h.finalize().into();
    let secure = ChaCha20Rng::from_seed(key);
    let mut insecure = ChaCha20Rng::from_seed(key);
    insecure.set_stream(1);
    let mut seed_source = ChaCha20Rng::from_seed(key);
    seed_source.set_stream(2);
    let insecure_seed = u128::from(seed_source.next_u64()) << 64 | u128::from(seed_source.next_u64());
    StepRandom {
        secure,
        insecure,
        insecure_seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(run_seed: u64, step: &str, attempt: u32, len: usize) -> Vec<u8> {
        let mut r = step_random(
            run_seed,
            &StepSeed {
                step: step.into(),
                attempt,
            },
        );
        let mut out = vec![0; len];
        r.secure.fill_bytes(&mut out);
        out
    }

    #[test]
    fn each_execution_has_its_own_deterministic_stream() {
        assert_eq!(bytes(1, "a", 1, 64), bytes(1, "a", 1, 64));
        assert_ne!(bytes(1, "a", 1, 64), bytes(1, "b", 1, 64));
        assert_ne!(bytes(1, "a", 1, 64), bytes(1, "a", 2, 64));
        assert_ne!(bytes(1, "a", 1, 64), bytes(2, "a", 1, 64));
        // Length prefixes keep ("ab", 1) and ("a", ...) apart however the parts are cut.
        assert_ne!(bytes(1, "split[1]", 1, 64), bytes(1, "split[", 1, 64));
    }

    #[test]
    fn the_stream_does_not_cycle() {
        let long = bytes(7, "s", 1, 3 * 4096);
        assert_ne!(long[..4096], long[4096..8192]);
        assert_ne!(long[4096..8192], long[8192..]);
    }

    #[test]
    fn secure_insecure_and_seed_differ() {
        let mut r = step_random(3, &StepSeed::default());
        let (a, b) = (r.secure.next_u64(), r.insecure.next_u64());
        assert_ne!(a, b);
        assert_ne!(u128::from(a), r.insecure_seed);
    }
}
