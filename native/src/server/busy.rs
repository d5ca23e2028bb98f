//! How long the hub task has spent working rather than waiting for
//! input: the one number that says how close a node is to what one core
//! can do, since every input of the node goes through that one task.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Time the hub task spent handling its inputs, timers and outputs, in
/// nanoseconds, shared by the task (which adds to it once per turn) and
/// the [`HubHandle`](super::HubHandle)s (which read it for the metrics
/// without queueing behind the task's inputs). Wall time, not CPU time:
/// on a machine with more runnable threads than cores it also counts
/// moments the OS took the task's thread away mid-turn.
#[derive(Debug, Clone, Default)]
pub(crate) struct BusyClock(Arc<AtomicU64>);

impl BusyClock {
    /// Starts timing one turn; the time is added when the guard drops,
    /// so a turn that ends in `break` counts too.
    pub(crate) fn turn(&self) -> Turn<'_> {
        Turn {
            clock: self,
            started: Instant::now(),
        }
    }

    /// Everything counted so far.
    pub(crate) fn total(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Relaxed))
    }

    fn add(&self, spent: Duration) {
        // u64 nanoseconds last 584 years of busy time.
        let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// One turn of the hub task being timed.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    clock: &'a BusyClock,
    started: Instant,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.clock.add(self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turn_adds_its_time_when_it_ends() {
        let clock = BusyClock::default();
        let reader = clock.clone();
        assert_eq!(reader.total(), Duration::ZERO);
        {
            let _turn = clock.turn();
            let spin = Instant::now();
            while spin.elapsed() < Duration::from_millis(2) {}
            assert_eq!(reader.total(), Duration::ZERO, "not before it ends");
        }
        assert!(reader.total() >= Duration::from_millis(2));
    }
}
