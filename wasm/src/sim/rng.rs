//! The run's only source of randomness: a seeded xoshiro256++ generator.
//! Its output is fixed by the algorithm, so a seed gives the same draws
//! natively and in WebAssembly.

use rand_xoshiro::rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Draws for the fault model.
#[derive(Debug, Clone)]
pub(crate) struct SimRng(Xoshiro256PlusPlus);

impl SimRng {
    pub(crate) fn new(seed: u64) -> Self {
        SimRng(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// A number in `0..n` (`n` > 0), by multiply-and-shift: integer-only,
    /// so identical everywhere.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        ((u128::from(self.0.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with a chance of `percent` in 100. 0 and 100 draw nothing, so
    /// a fault that is off does not shift the draws of the others.
    pub(crate) fn chance(&mut self, percent: u8) -> bool {
        match percent {
            0 => false,
            100.. => true,
            p => self.below(100) < u64::from(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_draws_and_in_range() {
        let mut a = SimRng::new(42);
        let mut b = SimRng::new(42);
        for n in 1..500 {
            let x = a.below(n);
            assert_eq!(x, b.below(n));
            assert!(x < n);
        }
        // Pinned: a change of generator or seeding would change every
        // golden trace, so it must be noticed here first.
        let mut c = SimRng::new(7);
        let first: Vec<u64> = (0..4).map(|_| c.below(1000)).collect();
        assert_eq!(first, [55, 172, 717, 427], "pinned draws of seed 7");
    }

    #[test]
    fn chance_extremes_draw_nothing() {
        let mut a = SimRng::new(1);
        let mut b = SimRng::new(1);
        assert!(!a.chance(0));
        assert!(a.chance(100));
        assert_eq!(a.below(1 << 40), b.below(1 << 40));
    }
}
