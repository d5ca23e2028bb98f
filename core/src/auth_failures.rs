//! Slowing down an address that keeps presenting wrong credentials.
//!
//! The first [`FREE_AUTH_FAILURES`] failures from an address cost nothing
//! (people mistype). After that, the address's attempts are served one at
//! a time, spaced by a delay that doubles with each further failure, up
//! to [`MAX_AUTH_SPACING`]: an address guessing secrets gets a handful of
//! guesses a minute, over however many connections it opens. A failure is
//! forgotten after [`AUTH_FAILURE_MEMORY`] without another. Success does
//! not wipe the record: one valid credential must not buy an attacker
//! fresh guesses.

use std::collections::BTreeMap;
use std::time::Duration;

/// Failures from one address that are not slowed down.
pub const FREE_AUTH_FAILURES: u32 = 3;
/// The spacing after the first slowed failure; it doubles with each one.
pub const FIRST_AUTH_SPACING: Duration = Duration::from_millis(500);
/// The longest spacing between two attempts from one address.
pub const MAX_AUTH_SPACING: Duration = Duration::from_secs(30);
/// How long an address's failures are remembered after its last one.
pub const AUTH_FAILURE_MEMORY: Duration = Duration::from_secs(600);
/// Most addresses remembered at once; past it the longest-quiet one is
/// forgotten, so that a flood of addresses cannot grow the table.
pub const MAX_REMEMBERED_ADDRESSES: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Duration,
    /// No attempt from the address is checked before this time.
    next_attempt: Duration,
}

/// The failure record of every address that failed recently.
#[derive(Debug, Default)]
pub(crate) struct AuthFailures {
    by_address: BTreeMap<Box<str>, Record>,
}

/// How long to wait between attempts after `failures` failures.
fn spacing(failures: u32) -> Duration {
    let Some(slowed) = failures.checked_sub(FREE_AUTH_FAILURES + 1) else {
        return Duration::ZERO;
    };
    FIRST_AUTH_SPACING
        .checked_mul(1u32.checked_shl(slowed).unwrap_or(u32::MAX))
        .map_or(MAX_AUTH_SPACING, |d| d.min(MAX_AUTH_SPACING))
}

impl AuthFailures {
    /// When an attempt from `address` arriving at `now` may be checked:
    /// `now`, or a later slot reserved for it, so that attempts waiting
    /// at once are spaced too.
    pub(crate) fn admit(&mut self, address: &str, now: Duration) -> Duration {
        let Some(record) = self.by_address.get_mut(address) else {
            return now;
        };
        if now.saturating_sub(record.last_failure) > AUTH_FAILURE_MEMORY {
            self.by_address.remove(address);
            return now;
        }
        if record.next_attempt <= now {
            return now;
        }
        let at = record.next_attempt;
        record.next_attempt = at.saturating_add(spacing(record.failures));
        at
    }

    /// An attempt from `address` failed at `now`.
    pub(crate) fn failed(&mut self, address: &str, now: Duration) {
        if !self.by_address.contains_key(address)
            && self.by_address.len() >= MAX_REMEMBERED_ADDRESSES
        {
            self.make_room(now);
        }
        let record = self.by_address.entry(address.into()).or_insert(Record {
            failures: 0,
            last_failure: now,
            next_attempt: now,
        });
        if now.saturating_sub(record.last_failure) > AUTH_FAILURE_MEMORY {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
        record.next_attempt = record
            .next_attempt
            .max(now.saturating_add(spacing(record.failures)));
    }

    /// Forgets every expired record, or else the one quiet the longest.
    fn make_room(&mut self, now: Duration) {
        self.by_address
            .retain(|_, r| now.saturating_sub(r.last_failure) <= AUTH_FAILURE_MEMORY);
        if self.by_address.len() >= MAX_REMEMBERED_ADDRESSES {
            let oldest = self
                .by_address
                .iter()
                .min_by_key(|(_, r)| r.last_failure)
                .map(|(a, _)| a.clone());
            if let Some(oldest) = oldest {
                self.by_address.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_address.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn spacing_starts_after_the_free_failures_and_doubles_to_the_cap() {
        assert_eq!(spacing(0), Duration::ZERO);
        assert_eq!(spacing(FREE_AUTH_FAILURES), Duration::ZERO);
        assert_eq!(spacing(FREE_AUTH_FAILURES + 1), FIRST_AUTH_SPACING);
        assert_eq!(spacing(FREE_AUTH_FAILURES + 2), FIRST_AUTH_SPACING * 2);
        assert_eq!(spacing(FREE_AUTH_FAILURES + 20), MAX_AUTH_SPACING);
        assert_eq!(spacing(u32::MAX), MAX_AUTH_SPACING);
    }

    #[test]
    fn free_failures_cost_nothing_then_attempts_wait() {
        let mut failures = AuthFailures::default();
        let now = 10 * S;
        for _ in 0..FREE_AUTH_FAILURES {
            assert_eq!(failures.admit("10.0.0.1", now), now);
            failures.failed("10.0.0.1", now);
        }
        assert_eq!(failures.admit("10.0.0.1", now), now);
        failures.failed("10.0.0.1", now);
        assert_eq!(failures.admit("10.0.0.1", now), now + FIRST_AUTH_SPACING);
        // A second attempt waiting at the same time takes the next slot.
        assert_eq!(
            failures.admit("10.0.0.1", now),
            now + FIRST_AUTH_SPACING * 2
        );
        assert_eq!(failures.admit("10.0.0.2", now), now, "other addresses");
    }

    #[test]
    fn failures_are_forgotten_after_a_quiet_spell() {
        let mut failures = AuthFailures::default();
        for _ in 0..10 {
            failures.failed("a", S);
        }
        let later = S + AUTH_FAILURE_MEMORY + S;
        assert_eq!(failures.admit("a", later), later);
        assert_eq!(failures.len(), 0);
    }

    #[test]
    fn the_table_never_grows_past_its_cap() {
        let mut failures = AuthFailures::default();
        for i in 0..MAX_REMEMBERED_ADDRESSES + 10 {
            failures.failed(&format!("10.{i}"), S + Duration::from_nanos(i as u64));
        }
        assert_eq!(failures.len(), MAX_REMEMBERED_ADDRESSES);
        // The longest-quiet went first.
        assert!(!failures.by_address.contains_key("10.0"));
        let newest = format!("10.{}", MAX_REMEMBERED_ADDRESSES + 9);
        assert!(failures.by_address.contains_key(newest.as_str()));
    }
}
