//! Randomness for jitter, temp-file names and lease owners: unpredictable enough to
//! keep processes apart, never used for keys (those come from the OS CSPRNG).

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Each call hashes with fresh random keys (seeded once per thread by the OS).
pub(crate) fn u64() -> u64 {
    RandomState::new().build_hasher().finish()
}
