//! Randomness for jitter, temp-file names and lease owners: unpredictable enough to
//! keep processes apart, never used for keys (those come from the OS CSPRNG).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Each call hashes with fresh random keys (seeded once per thread by the OS).
pub(crate) fn u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

/// Equal jitter: half of `ceiling` fixed, half random, so that processes failing or
/// waiting together do not retry together.
pub(crate) fn equal_jitter(ceiling: Duration) -> Duration {
    let ceiling = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(ceiling / 2 + self::u64() % (ceiling / 2 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_jitter_stays_between_half_and_the_ceiling() {
        for ms in [0, 1, 20, 320, 30_000, u64::MAX / 1000] {
            let ceiling = Duration::from_millis(ms);
            let pauses: Vec<_> = (0..200).map(|_| equal_jitter(ceiling)).collect();
            let half = Duration::from_millis(ms / 2);
            assert!(pauses.iter().all(|&pause| pause >= half && pause <= ceiling), "{ceiling:?}");
            if ceiling >= Duration::from_millis(20) {
                assert!(pauses.iter().any(|&pause| pause != pauses[0]), "{ceiling:?} is jittered");
            }
        }
    }
}
