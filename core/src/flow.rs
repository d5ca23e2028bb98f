//! One session's side of flow control: what is queued for it, and who is
//! paused on whose account.
//!
//! The driver owns the send queues; the hub counts what it handed out and
//! what the driver reports written, which is the same number without a
//! lock or a callback.

use std::time::Duration;

use crate::handle::SessionHandle;

/// Flow-control state of one session.
#[derive(Debug, Default)]
pub(crate) struct Flow {
    /// Bytes handed to the driver for this session and not yet reported
    /// written.
    pub(crate) queued: usize,
    /// The queue passed the high watermark and has not yet drained below
    /// the low one. Whoever sends to the session meanwhile is paused, and
    /// the session itself is not read: it is not reading its replies.
    pub(crate) backed_up: bool,
    /// How many backed-up sessions this one has sent to since they backed
    /// up: it is paused until each has drained or gone.
    pub(crate) waiting_on: u32,
    /// The senders paused on this session's account, each once.
    pub(crate) holding: Vec<SessionHandle>,
    /// Paused until the host program catches up on events (counted in
    /// `waiting_on` too); see `hub::host_pace`.
    pub(crate) held_by_host: bool,
    /// Paused until the cluster's directory settles its claim (counted in
    /// `waiting_on` too).
    pub(crate) held_by_claim: bool,
    /// Paused until its credential is checked (counted in `waiting_on`
    /// too); see `hub::auth`.
    pub(crate) held_by_auth: bool,
    /// Paused until the driver's queue towards the other nodes drains
    /// (counted in `waiting_on` too); see `hub::backplane_pace`.
    pub(crate) held_by_backplane: bool,
    /// The driver was told to stop reading and not yet told to resume.
    pub(crate) reading_paused: bool,
    /// When the queue last moved: became non-empty, or some of it was
    /// written. The write deadline runs from here.
    pub(crate) progress_at: Duration,
}

impl Flow {
    /// No input from the session is processed while this holds.
    pub(crate) fn blocked(&self) -> bool {
        self.backed_up || self.waiting_on > 0
    }

    /// Counts `len` more bytes queued at `now`. Returns true when the
    /// queue was empty before (one more session with a queue).
    pub(crate) fn queue(&mut self, len: usize, high_watermark: usize, now: Duration) -> bool {
        let was_empty = self.queued == 0;
        if was_empty {
            self.progress_at = now;
        }
        self.queued = self.queued.saturating_add(len);
        if self.queued > high_watermark {
            self.backed_up = true;
        }
        was_empty
    }

    /// Counts `len` bytes written at `now`. Returns true when the queue is
    /// empty now and was not before.
    pub(crate) fn written(&mut self, len: usize, now: Duration) -> bool {
        if len == 0 || self.queued == 0 {
            return false;
        }
        self.queued = self.queued.saturating_sub(len);
        self.progress_at = now;
        self.queued == 0
    }

    /// Registers `sender` as paused on this (backed-up) session's account.
    /// Returns true when it was not yet.
    pub(crate) fn hold(&mut self, sender: SessionHandle) -> bool {
        if self.holding.contains(&sender) {
            return false;
        }
        self.holding.push(sender);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_up_past_the_high_watermark_and_counts_writes() {
        let mut f = Flow::default();
        let t = Duration::from_secs(3);
        assert!(f.queue(60, 100, t), "first bytes start a queue");
        assert_eq!(f.progress_at, t);
        assert!(!f.queue(60, 100, t));
        assert!(f.backed_up && f.blocked());
        assert!(!f.written(100, t));
        assert_eq!(f.queued, 20);
        assert!(f.written(50, t), "over-reporting clamps at empty");
        assert!(!f.written(1, t));
    }

    #[test]
    fn holds_each_sender_once() {
        let mut f = Flow::default();
        assert!(f.hold(SessionHandle(4)));
        assert!(!f.hold(SessionHandle(4)));
        assert!(f.hold(SessionHandle(5)));
        assert_eq!(f.holding, [SessionHandle(4), SessionHandle(5)]);
    }
}
