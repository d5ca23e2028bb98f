//! Deadlines that never overflow the clock.
//!
//! Grace periods and timeouts come from the host and may be as long as
//! `Duration::MAX` ("practically never"); `Instant + Duration` panics when
//! the sum is past what the clock can hold. Every deadline the server sets
//! goes through here instead.

use std::time::Duration;

use tokio::time::Instant;

/// About thirty years (as tokio's own far future): a deadline that never
/// comes, yet one every clock can hold.
const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// `from + after`, or a far-future instant when that would overflow.
pub(crate) fn saturating_at(from: Instant, after: Duration) -> Instant {
    from.checked_add(after).unwrap_or(from + FAR_FUTURE)
}

/// The instant `after` from now, or a far-future one when that would
/// overflow.
pub(crate) fn deadline_after(after: Duration) -> Instant {
    saturating_at(Instant::now(), after)
}

/// A deadline that never comes, for a `select!` branch that is disabled.
pub(crate) fn far_future() -> Instant {
    deadline_after(FAR_FUTURE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate_instead_of_panicking() {
        let now = Instant::now();
        for after in [
            Duration::MAX,
            Duration::from_secs(10_000_000_000_000_000_000),
            Duration::from_secs(u64::MAX / 2),
        ] {
            assert!(saturating_at(now, after) >= now + FAR_FUTURE);
            assert!(deadline_after(after) >= now + FAR_FUTURE);
        }
        assert!(far_future() >= now + FAR_FUTURE);
    }

    #[test]
    fn ordinary_durations_are_exact() {
        let now = Instant::now();
        assert_eq!(
            saturating_at(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
        assert_eq!(saturating_at(now, Duration::ZERO), now);
    }
}
