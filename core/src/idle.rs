//! Deadlines for the idle timeout.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::session::SessionId;

/// Sessions ordered by when they were last heard from, so the earliest
/// deadline is the first entry. Only kept when an idle timeout is set: with
/// it off (the default) the hot path pays nothing.
#[derive(Debug, Default)]
pub(crate) struct IdleTimer {
    by_last_heard: BTreeSet<(Duration, SessionId)>,
}

impl IdleTimer {
    pub(crate) fn insert(&mut self, session: SessionId, heard: Duration) {
        self.by_last_heard.insert((heard, session));
    }

    pub(crate) fn remove(&mut self, session: SessionId, heard: Duration) {
        self.by_last_heard.remove(&(heard, session));
    }

    /// Moves `session` from `before` to `now`.
    pub(crate) fn touch(&mut self, session: SessionId, before: Duration, now: Duration) {
        if before != now {
            self.remove(session, before);
            self.insert(session, now);
        }
    }

    /// When the quietest session was last heard from.
    pub(crate) fn earliest(&self) -> Option<Duration> {
        self.by_last_heard.first().map(|(heard, _)| *heard)
    }

    /// Sessions last heard at or before `cutoff`, quietest first.
    pub(crate) fn heard_at_or_before(&self, cutoff: Duration) -> Vec<SessionId> {
        self.by_last_heard
            .iter()
            .take_while(|(heard, _)| *heard <= cutoff)
            .map(|(_, id)| *id)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_moves_a_session_later() {
        let mut t = IdleTimer::default();
        let s = |n| SessionId(n);
        t.insert(s(1), Duration::from_secs(1));
        t.insert(s(2), Duration::from_secs(2));
        assert_eq!(t.earliest(), Some(Duration::from_secs(1)));
        t.touch(s(1), Duration::from_secs(1), Duration::from_secs(5));
        assert_eq!(t.earliest(), Some(Duration::from_secs(2)));
        assert_eq!(t.heard_at_or_before(Duration::from_secs(4)), [s(2)]);
        t.remove(s(2), Duration::from_secs(2));
        assert_eq!(t.heard_at_or_before(Duration::from_secs(9)), [s(1)]);
    }
}
