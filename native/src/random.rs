//! Randomness from the operating system, for the few values that need it.

use std::hash::{BuildHasher, Hasher};

/// 64 random bits. std seeds each `RandomState` from the OS, so hashing
/// nothing with a fresh one is enough for seeds and names, with no
/// dependency for it. Not for keys that must stay secret for long.
pub fn os_random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
