//! What comes out of the hub: [`Output`]s for the driver, carrying
//! [`Event`]s for the host program.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::value::RawValue;

use crate::alias::Alias;
use crate::auth::AuthRequest;
use crate::error::PeerError;
use crate::handle::SessionHandle;
use crate::request::ReplyAddress;
use crate::room::Room;

/// One thing the driver must do or pass on, from [`Hub::poll_output`](crate::Hub::poll_output).
#[derive(Debug, Clone)]
pub enum Output {
    /// Write `frame` to the session's connection. A frame for many
    /// recipients is one shared buffer: cloning `Bytes` copies nothing.
    Transmit {
        /// The recipient.
        handle: SessionHandle,
        /// One complete NDJSON line (with
        /// [`HubConfig::merge_transmits`](crate::HubConfig::merge_transmits),
        /// one or more).
        frame: Bytes,
    },
    /// Close the session's connection: deal with what is queued for it as
    /// `unsent` says, write `farewell` after it, then close the socket
    /// (FIN, not a reset). The hub has already forgotten the session: the
    /// driver need not report what it still writes, and
    /// [`handle_written`](crate::Hub::handle_written) answers such a report
    /// with [`HubError::UnknownHandle`](crate::HubError::UnknownHandle),
    /// which it may ignore.
    Close {
        /// The session to close.
        handle: SessionHandle,
        /// Why, as also reported in [`Event::Closed`].
        reason: CloseReason,
        /// The session's one last frame: an `error` when the peer caused
        /// the close, else a `bye`.
        farewell: Bytes,
        /// What to do with frames queued and not yet written.
        unsent: Unsent,
    },
    /// Stop reading from the session's connection: the frames it sends are
    /// filling a queue faster than its reader drains it (or it does not
    /// read its own replies). TCP then pushes back on the peer. Bytes the
    /// driver already read may still be passed in; the hub keeps them.
    PauseReading {
        /// The session not to read from.
        handle: SessionHandle,
    },
    /// Read from the session's connection again.
    ResumeReading {
        /// The session to read from.
        handle: SessionHandle,
    },
    /// Decide whether a credential proves the right to an alias (only
    /// with [`HubConfig::authentication`](crate::HubConfig::authentication)
    /// on), and answer with [`Hub::handle_auth_decision`](crate::Hub::handle_auth_decision).
    /// The session waits meanwhile; other sessions do not.
    Authenticate(AuthRequest),
    /// Something the host program may want to know.
    Event(Event),
}

/// What a driver closing a session does with the frames still queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsent {
    /// Write them all, then the farewell.
    Send,
    /// Finish the frame being written, so the stream never ends mid-frame,
    /// and drop the rest: the peer is not reading them. (A driver that
    /// writes frames copied together into one buffer, as tcphub's server
    /// does, may finish that whole buffer: a few more whole frames.)
    Discard,
}

/// What happened, for the host program.
///
/// Every event names the session and its peer address, so it can be logged
/// or acted on without looking the session up (it may be gone already).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    /// A session was accepted.
    Opened {
        /// Its handle.
        handle: SessionHandle,
        /// Its session id: the peer address, `sessionId` on the wire.
        session_id: Arc<str>,
    },
    /// A session now holds `alias`.
    Synced {
        /// The claimant.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// The alias it holds now.
        alias: Alias,
        /// The session that lost the alias to it under `takeover`.
        took_over_from: Option<SessionHandle>,
    },
    /// A session no longer holds `alias`: it re-synced, lost it to a
    /// takeover, or closed.
    Released {
        /// The former holder.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// The alias released.
        alias: Alias,
    },
    /// A client sent an `info` for the host program.
    Message {
        /// The sender.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// Its alias when it sent, if it had synced one.
        alias: Option<Alias>,
        /// The message, any JSON value, exactly as sent.
        message: Box<RawValue>,
    },
    /// A client sent a `request` for the host program, which answers it
    /// with [`Hub::reply`](crate::Hub::reply) before it times out.
    Request {
        /// The sender.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// Its alias when it sent, if it had synced one.
        alias: Option<Alias>,
        /// What the reply names: pass it to [`Hub::reply`](crate::Hub::reply).
        reply_to: ReplyAddress,
        /// The message, any JSON value, exactly as sent.
        message: Box<RawValue>,
    },
    /// A session sent something wrong and was told so with an `error` frame.
    ProtocolError {
        /// The offender.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// What it did wrong.
        error: PeerError,
    },
    /// A session joined a room, by its own `join` or the host's
    /// [`join_room`](crate::Hub::join_room).
    Joined {
        /// The new member.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// Its alias, if it synced one.
        alias: Option<Alias>,
        /// The room.
        room: Room,
    },
    /// A session left a room by its own `leave` or the host's
    /// [`leave_room`](crate::Hub::leave_room). (A closing session leaves
    /// all its rooms; [`Event::Closed`] says so, with no `Left` for each.)
    Left {
        /// The former member.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// Its alias, if it synced one.
        alias: Option<Alias>,
        /// The room.
        room: Room,
    },
    /// A client relayed a message to other clients: reported only when
    /// [`HubConfig::observe`](crate::HubConfig::observe) is on, right after
    /// the frames for its recipients, so events and deliveries keep one
    /// order.
    Relayed {
        /// The sender.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// Its alias, if it synced one.
        alias: Option<Alias>,
        /// Where it went.
        target: RelayTarget,
        /// The message, any JSON value, exactly as sent.
        message: Box<RawValue>,
        /// How many sessions it was queued for.
        recipients: usize,
        /// It is the sender's last will, sent because its session ended
        /// without a clean `bye`.
        last_will: bool,
    },
    /// A session is gone.
    Closed {
        /// The session.
        handle: SessionHandle,
        /// Its session id (peer address).
        session_id: Arc<str>,
        /// The alias it held until then, if any.
        alias: Option<Alias>,
        /// Why it closed.
        reason: CloseReason,
    },
}

/// Where a relayed message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelayTarget {
    /// Every holder of an alias.
    Alias(Alias),
    /// Every member of a room but the sender.
    Room(Room),
    /// Every session but the sender (`to: "*"`).
    Everyone,
}

/// Why a session closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed the connection (after everything it sent was
    /// answered, when it only half-closed), or the connection failed.
    PeerClosed,
    /// The host program asked.
    ClosedByHost,
    /// Another session claimed this one's alias under `takeover`.
    TakenOver,
    /// The peer sent a frame over the size limit.
    FrameTooLarge,
    /// The peer sent nothing for longer than the idle timeout.
    IdleTimeout,
    /// The hub was full when the peer connected.
    TooManySessions,
    /// The peer did not read what was sent to it fast enough (reported by
    /// the driver, which owns the send queues).
    SlowConsumer,
    /// The hub is shutting down.
    Shutdown,
    /// The peer took longer than the frame timeout to send one frame.
    FrameTimeout,
    /// The peer said `bye`: a clean close, so its last will is not sent.
    ClientBye,
    /// The peer went on sending over the rate limit after being told.
    RateLimited,
    /// The peer's address had as many sessions open as one address may
    /// when it connected.
    TooManyConnections,
    /// Authentication is on and the peer was granted no alias within
    /// `auth_timeout` of connecting (as nats-server's `auth_timeout`):
    /// a connection that never authenticates does not hold a session.
    AuthTimeout,
}

impl CloseReason {
    /// The reason as it appears in `bye` frames and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::PeerClosed => "peer_closed",
            CloseReason::ClosedByHost => "closed_by_host",
            CloseReason::TakenOver => "taken_over",
            CloseReason::FrameTooLarge => "frame_too_large",
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::TooManySessions => "too_many_sessions",
            CloseReason::SlowConsumer => "slow_consumer",
            CloseReason::Shutdown => "shutdown",
            CloseReason::FrameTimeout => "frame_timeout",
            CloseReason::ClientBye => "client_bye",
            CloseReason::RateLimited => "rate_limited",
            CloseReason::TooManyConnections => "too_many_connections",
            CloseReason::AuthTimeout => "auth_timeout",
        }
    }

    /// Every reason, for bindings and documentation.
    pub const ALL: [CloseReason; 13] = [
        CloseReason::PeerClosed,
        CloseReason::ClosedByHost,
        CloseReason::TakenOver,
        CloseReason::FrameTooLarge,
        CloseReason::IdleTimeout,
        CloseReason::TooManySessions,
        CloseReason::SlowConsumer,
        CloseReason::Shutdown,
        CloseReason::FrameTimeout,
        CloseReason::ClientBye,
        CloseReason::RateLimited,
        CloseReason::TooManyConnections,
        CloseReason::AuthTimeout,
    ];

    /// Whether a session closed for this reason has its last will sent:
    /// whenever it ended without a clean `bye`, except when its alias lives
    /// on in a new session (`taken_over`), the hub is going away
    /// (`shutdown`), or it never got in (`too_many_sessions`,
    /// `too_many_connections`, `auth_timeout`).
    pub fn sends_last_will(self) -> bool {
        !matches!(
            self,
            CloseReason::ClientBye
                | CloseReason::TakenOver
                | CloseReason::Shutdown
                | CloseReason::TooManySessions
                | CloseReason::TooManyConnections
                | CloseReason::AuthTimeout
        )
    }

    /// What becomes of frames still queued for a session closed for this
    /// reason: a slow consumer's are dropped (it was not reading them);
    /// every other session gets what was queued before its farewell.
    pub fn unsent(self) -> Unsent {
        match self {
            CloseReason::SlowConsumer => Unsent::Discard,
            _ => Unsent::Send,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
