//! Randomness from the operating system, for the few values that need it.

use std::hash::{BuildHasher, Hasher};

/// 64 random bits: a hash seed, part of a name. std keys its hasher with
/// 128 bits from the OS (once per thread, then a counter), and SipHash of
/// nothing under those keys gives nothing of them away, so a peer that
/// sees one value (in a node id, say) learns nothing of another, with no
/// dependency for it. Not a generator for cryptographic keys.
pub fn os_random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}
