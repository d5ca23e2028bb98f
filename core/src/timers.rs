//! Per-session deadlines: idle timeout, frame timeout, authentication and
//! the earliest of its requests. (The write
//! deadline is checked by a periodic sweep instead, see `hub::delivery`,
//! so queueing a frame never touches this set.)

use std::collections::BTreeSet;
use std::time::Duration;

use crate::handle::SessionHandle;

/// Which rule a deadline enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Nothing received for the idle timeout.
    Idle,
    /// A frame begun and not finished within the frame timeout.
    Frame,
    /// A credential waiting for its turn (an address being slowed down) or
    /// for the driver's decision.
    Auth,
    /// The earliest deadline of the session's requests waiting for replies.
    Request,
}

impl Timer {
    /// Every timer, so that forgetting a session cannot miss one.
    const ALL: [Timer; 4] = [Timer::Idle, Timer::Frame, Timer::Auth, Timer::Request];
}

/// When each armed timer of a session fires, so it can be found again to
/// move or disarm it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Armed {
    idle: Option<Duration>,
    frame: Option<Duration>,
    auth: Option<Duration>,
    request: Option<Duration>,
}

impl Armed {
    fn slot(&mut self, timer: Timer) -> &mut Option<Duration> {
        match timer {
            Timer::Idle => &mut self.idle,
            Timer::Frame => &mut self.frame,
            Timer::Auth => &mut self.auth,
            Timer::Request => &mut self.request,
        }
    }

    pub(crate) fn is_armed(&self, timer: Timer) -> bool {
        match timer {
            Timer::Idle => self.idle.is_some(),
            Timer::Frame => self.frame.is_some(),
            Timer::Auth => self.auth.is_some(),
            Timer::Request => self.request.is_some(),
        }
    }
}

/// Every armed deadline, earliest first. A session's own [`Armed`] record
/// says where its entries are; the two are updated together.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_deadline: BTreeSet<(Duration, SessionHandle, Timer)>,
}

impl Timers {
    /// Arms `timer` to fire `after` from `now`, replacing any earlier
    /// deadline. A deadline past what a `Duration` counts never comes, so
    /// the timer is simply left disarmed.
    pub(crate) fn arm(
        &mut self,
        armed: &mut Armed,
        session: SessionHandle,
        timer: Timer,
        now: Duration,
        after: Duration,
    ) {
        self.arm_at(armed, session, timer, now.checked_add(after));
    }

    /// Arms `timer` to fire at `at`, or disarms it when `at` is `None`.
    pub(crate) fn arm_at(
        &mut self,
        armed: &mut Armed,
        session: SessionHandle,
        timer: Timer,
        at: Option<Duration>,
    ) {
        if at.is_some() && *armed.slot(timer) == at {
            return;
        }
        self.disarm(armed, session, timer);
        if let Some(at) = at {
            *armed.slot(timer) = Some(at);
            self.by_deadline.insert((at, session, timer));
        }
    }

    pub(crate) fn disarm(&mut self, armed: &mut Armed, session: SessionHandle, timer: Timer) {
        if let Some(at) = armed.slot(timer).take() {
            self.by_deadline.remove(&(at, session, timer));
        }
    }

    /// Disarms every timer of a session that is going away.
    pub(crate) fn forget(&mut self, armed: &mut Armed, session: SessionHandle) {
        for timer in Timer::ALL {
            self.disarm(armed, session, timer);
        }
    }

    /// The earliest deadline.
    pub(crate) fn earliest(&self) -> Option<Duration> {
        self.by_deadline.first().map(|(at, _, _)| *at)
    }

    /// Every timer due at `now`, earliest first. They stay armed: the
    /// caller disarms each by acting on it.
    pub(crate) fn due(&self, now: Duration) -> Vec<(SessionHandle, Timer)> {
        self.by_deadline
            .iter()
            .take_while(|(at, _, _)| *at <= now)
            .map(|&(_, session, timer)| (session, timer))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: SessionHandle = SessionHandle(1);
    const S2: SessionHandle = SessionHandle(2);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn rearming_moves_a_deadline() {
        let mut t = Timers::default();
        let (mut a1, mut a2) = (Armed::default(), Armed::default());
        t.arm(&mut a1, S1, Timer::Idle, secs(0), secs(10));
        t.arm(&mut a2, S2, Timer::Frame, secs(0), secs(5));
        assert_eq!(t.earliest(), Some(secs(5)));
        t.arm(&mut a2, S2, Timer::Frame, secs(8), secs(5));
        assert_eq!(t.earliest(), Some(secs(10)));
        assert_eq!(t.due(secs(9)), []);
        assert_eq!(t.due(secs(10)), [(S1, Timer::Idle)]);
        assert_eq!(t.due(secs(13)), [(S1, Timer::Idle), (S2, Timer::Frame)]);
        t.disarm(&mut a1, S1, Timer::Idle);
        assert!(!a1.is_armed(Timer::Idle));
        assert_eq!(t.due(secs(100)), [(S2, Timer::Frame)]);
        t.forget(&mut a2, S2);
        assert_eq!(t.earliest(), None);
    }

    #[test]
    fn a_deadline_past_the_end_of_time_never_fires() {
        let mut t = Timers::default();
        let mut a = Armed::default();
        t.arm(&mut a, S1, Timer::Frame, secs(5), Duration::MAX);
        assert!(!a.is_armed(Timer::Frame));
        assert_eq!(t.earliest(), None);
        assert_eq!(t.due(Duration::MAX), []);
    }
}
