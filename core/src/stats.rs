//! What the hub has done since it started, counted once here so every
//! front end (the tokio server, Python, the simulator) reports the same
//! numbers.
//!
//! Counters are plain `u64`s bumped by `&mut self` code, with no atomics:
//! the hub is owned by one task, and a front end reads a copy
//! ([`Hub::stats`](crate::Hub::stats)). A fan-out adds its whole recipient
//! count and byte total in one step, so counting costs a broadcast the
//! same whatever the number of recipients.
//!
//! Gauges (sessions open, aliases held, bytes queued) are what the tables
//! say when read; the queued total is kept as a running sum, since adding
//! up every session's queue on each scrape would cost a walk of the table.

use crate::error::ErrorCode;
use crate::event::CloseReason;
use crate::frame::ClientFrame;
use crate::name::BROADCAST_TARGET;

/// Which kind of frame a client sent, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameKind {
    /// `sync`: claiming an alias.
    Sync,
    /// `info` with `to`: a message relayed to an alias.
    Relay,
    /// `info` with `"to":"*"`: a message relayed to every session.
    RelayAll,
    /// `info` with `room`: a message to a room.
    Room,
    /// `info` with neither: a message for the host program.
    Host,
    /// `list`: a page of sessions or room members.
    List,
    /// `ping`.
    Ping,
    /// `join` a room.
    Join,
    /// `leave` a room.
    Leave,
    /// `watch` aliases or a room.
    Watch,
    /// `unwatch`.
    Unwatch,
    /// `bye`.
    Bye,
    /// `request`: a message that expects a reply.
    Request,
    /// `reply`: the answer to a request.
    Reply,
}

impl FrameKind {
    /// Every kind, in the order [`HubStats::frames_in`] counts them.
    pub const ALL: [FrameKind; 14] = [
        FrameKind::Sync,
        FrameKind::Relay,
        FrameKind::RelayAll,
        FrameKind::Room,
        FrameKind::Host,
        FrameKind::List,
        FrameKind::Ping,
        FrameKind::Join,
        FrameKind::Leave,
        FrameKind::Watch,
        FrameKind::Unwatch,
        FrameKind::Bye,
        FrameKind::Request,
        FrameKind::Reply,
    ];

    /// The name metrics use for it (a label value).
    pub fn as_str(self) -> &'static str {
        match self {
            FrameKind::Sync => "sync",
            FrameKind::Relay => "relay",
            FrameKind::RelayAll => "relay_all",
            FrameKind::Room => "room",
            FrameKind::Host => "host",
            FrameKind::List => "list",
            FrameKind::Ping => "ping",
            FrameKind::Join => "join",
            FrameKind::Leave => "leave",
            FrameKind::Watch => "watch",
            FrameKind::Unwatch => "unwatch",
            FrameKind::Bye => "bye",
            FrameKind::Request => "request",
            FrameKind::Reply => "reply",
        }
    }

    /// The kind of a parsed frame.
    pub(crate) fn of(frame: &ClientFrame<'_>) -> FrameKind {
        match frame {
            ClientFrame::Sync { .. } => FrameKind::Sync,
            ClientFrame::Info { room: Some(_), .. } => FrameKind::Room,
            ClientFrame::Info { to: Some(to), .. } if to.as_ref() == BROADCAST_TARGET => {
                FrameKind::RelayAll
            }
            ClientFrame::Info { to: Some(_), .. } => FrameKind::Relay,
            ClientFrame::Info { .. } => FrameKind::Host,
            ClientFrame::List { .. } => FrameKind::List,
            ClientFrame::Ping => FrameKind::Ping,
            ClientFrame::Join { .. } => FrameKind::Join,
            ClientFrame::Leave { .. } => FrameKind::Leave,
            ClientFrame::Watch(_) => FrameKind::Watch,
            ClientFrame::Unwatch(_) => FrameKind::Unwatch,
            ClientFrame::Bye => FrameKind::Bye,
            ClientFrame::Request { .. } => FrameKind::Request,
            ClientFrame::Reply { .. } => FrameKind::Reply,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters of everything the hub has done since it was made, and the
/// gauges read with them. Read it with [`Hub::stats`](crate::Hub::stats);
/// every counter only grows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HubStats {
    sessions_opened: u64,
    frames_in: [u64; FrameKind::ALL.len()],
    bytes_in: u64,
    frames_out: u64,
    bytes_out: u64,
    errors: [u64; ErrorCode::ALL.len()],
    closes: [u64; CloseReason::ALL.len()],
    flow_pauses: u64,
    auth_granted: u64,
    auth_denied: u64,
    queued_bytes: u64,
    sessions_open: u64,
    aliases_held: u64,
}

impl HubStats {
    /// Connections accepted, including those refused at once (hub full,
    /// shutting down, too many from one address).
    pub fn sessions_opened(&self) -> u64 {
        self.sessions_opened
    }

    /// Complete, well-formed frames received of `kind` (counted before
    /// rate limits and permissions are applied: what clients asked).
    pub fn frames_in(&self, kind: FrameKind) -> u64 {
        self.frames_in[kind.index()]
    }

    /// Bytes received from clients, as handed to the hub.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Frames handed to the driver to send (one per recipient of a
    /// fan-out), including each session's last frame at close.
    pub fn frames_out(&self) -> u64 {
        self.frames_out
    }

    /// Bytes of those frames.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// `error` frames sent with `code`.
    pub fn errors(&self, code: ErrorCode) -> u64 {
        position(&ErrorCode::ALL, code).map_or(0, |i| self.errors[i])
    }

    /// Sessions closed for `reason`.
    pub fn closes(&self, reason: CloseReason) -> u64 {
        position(&CloseReason::ALL, reason).map_or(0, |i| self.closes[i])
    }

    /// Times a session's reading was paused by flow control (its own queue
    /// or a recipient's backed up, or it waits on the host, the backplane
    /// or its credential check).
    pub fn flow_pauses(&self) -> u64 {
        self.flow_pauses
    }

    /// Credentials that were granted an alias.
    pub fn auth_granted(&self) -> u64 {
        self.auth_granted
    }

    /// `sync`s refused `unauthorized`: no token, the driver denied it, or
    /// it could not be checked in time.
    pub fn auth_denied(&self) -> u64 {
        self.auth_denied
    }

    /// Gauge: bytes handed to the driver for open sessions and not yet
    /// reported written, summed over all sessions.
    pub fn queued_bytes(&self) -> u64 {
        self.queued_bytes
    }

    /// Gauge: sessions open now.
    pub fn sessions_open(&self) -> u64 {
        self.sessions_open
    }

    /// Gauge: distinct aliases held now.
    pub fn aliases_held(&self) -> u64 {
        self.aliases_held
    }

    // ----- counting, by the hub -----

    pub(crate) fn opened(&mut self) {
        self.sessions_opened += 1;
    }

    pub(crate) fn received(&mut self, len: usize) {
        self.bytes_in += len as u64;
    }

    pub(crate) fn frame_in(&mut self, frame: &ClientFrame<'_>) {
        self.frames_in[FrameKind::of(frame).index()] += 1;
    }

    /// One frame of `len` bytes handed out to `recipients` sessions (and
    /// counted against their queues).
    #[inline]
    pub(crate) fn queued(&mut self, recipients: usize, len: usize) {
        let bytes = (recipients as u64).saturating_mul(len as u64);
        self.frames_out += recipients as u64;
        self.bytes_out = self.bytes_out.saturating_add(bytes);
        self.queued_bytes = self.queued_bytes.saturating_add(bytes);
    }

    /// A session's last frame, not counted against any queue.
    pub(crate) fn farewell(&mut self, len: usize) {
        self.frames_out += 1;
        self.bytes_out += len as u64;
    }

    /// `len` queued bytes were written or dropped.
    pub(crate) fn dequeued(&mut self, len: usize) {
        self.queued_bytes = self.queued_bytes.saturating_sub(len as u64);
    }

    pub(crate) fn error(&mut self, code: ErrorCode) {
        if let Some(i) = position(&ErrorCode::ALL, code) {
            self.errors[i] += 1;
        }
    }

    pub(crate) fn closed(&mut self, reason: CloseReason) {
        if let Some(i) = position(&CloseReason::ALL, reason) {
            self.closes[i] += 1;
        }
    }

    pub(crate) fn paused(&mut self) {
        self.flow_pauses += 1;
    }

    pub(crate) fn granted(&mut self) {
        self.auth_granted += 1;
    }

    pub(crate) fn denied(&mut self) {
        self.auth_denied += 1;
    }

    /// Sets the gauges read from the tables.
    pub(crate) fn with_gauges(mut self, sessions: usize, aliases: usize) -> Self {
        self.sessions_open = sessions as u64;
        self.aliases_held = aliases as u64;
        self
    }
}

/// Where `item` is in `all`. Errors and closes are rare next to frames, so
/// a search of a short array is cheaper than keeping a second table of
/// indexes in step with the enums.
fn position<T: PartialEq>(all: &[T], item: T) -> Option<usize> {
    all.iter().position(|x| *x == item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_counted_in_the_order_of_all() {
        for (i, kind) in FrameKind::ALL.into_iter().enumerate() {
            assert_eq!(kind.index(), i, "{kind:?}");
        }
    }

    #[test]
    fn every_code_and_reason_has_its_own_counter() {
        let mut stats = HubStats::default();
        for code in ErrorCode::ALL {
            stats.error(code);
        }
        for reason in CloseReason::ALL {
            stats.closed(reason);
            stats.closed(reason);
        }
        assert!(ErrorCode::ALL.into_iter().all(|c| stats.errors(c) == 1));
        assert!(CloseReason::ALL.into_iter().all(|r| stats.closes(r) == 2));
    }

    #[test]
    fn a_fanout_counts_each_recipient_and_the_queue_drains() {
        let mut stats = HubStats::default();
        stats.queued(3, 10);
        stats.farewell(5);
        assert_eq!((stats.frames_out(), stats.bytes_out()), (4, 35));
        assert_eq!(stats.queued_bytes(), 30, "a farewell is not queued");
        stats.dequeued(25);
        stats.dequeued(25);
        assert_eq!(stats.queued_bytes(), 0, "never below zero");
    }
}
