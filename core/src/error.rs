//! The two kinds of failure: the driver misused the API ([`HubError`]), or a
//! peer sent something wrong ([`PeerError`]).
//!
//! A peer's mistake never becomes an `Err` returned to the driver: the hub
//! answers it with an `error` frame, reports it as an event and, for the few
//! mistakes that cannot be recovered from, closes that one session.

use std::fmt;
use std::time::Duration;

use crate::handle::SessionHandle;

/// The driver (the program hosting the hub) used the API wrongly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// No open session has this handle: never accepted, or already closed.
    ///
    /// Drivers see this legitimately when bytes read from a socket race a
    /// close the hub decided on; they may ignore it.
    #[error("no open session has handle {0}")]
    UnknownHandle(SessionHandle),
    /// A session with the same session id (peer address) is already open.
    #[error("a session with id {0:?} is already open")]
    DuplicateSessionId(String),
    /// No open session holds the alias a host command named.
    #[error("no session holds alias {0:?}")]
    UnknownAlias(String),
    /// No session is in the room a host command named.
    #[error("no session is in room {0:?}")]
    UnknownRoom(String),
    /// A host command named a room that breaks the room rules; the message
    /// says which.
    #[error("{0}")]
    InvalidRoom(String),
    /// The host put a session in more rooms than `max_rooms_per_session`.
    #[error("session {handle} is already in {max} rooms, the most allowed")]
    TooManyRooms {
        /// The session.
        handle: SessionHandle,
        /// The configured cap.
        max: usize,
    },
    /// The host replied to a request that is not waiting for a reply (it
    /// was answered, timed out or its requester left), or to a `replyTo`
    /// that was never one of this hub's.
    #[error("no request {0:?} is waiting for the host's reply (answered, timed out, or its requester left)")]
    UnknownRequest(String),
    /// A claim answer named no claim waiting for one.
    #[error("no claim {0} is waiting for the directory")]
    UnknownClaim(u64),
    /// A host message must cross to other nodes while the driver's queue
    /// towards them is over its bound
    /// ([`Hub::handle_backplane_backlog`](crate::Hub::handle_backplane_backlog)).
    /// Nothing was sent, on this node or any other: the host is told
    /// rather than the message dropped, and may retry once it drains.
    #[error("the cluster's backplane is backed up: a message for other nodes was not sent; retry once it drains")]
    BackplaneBehind,
    /// A cluster input reached a hub that is not a cluster node.
    #[error("this hub is not a cluster node (HubConfig::node is not set)")]
    NotInCluster,
    /// No open session has the session id (peer address) a host command
    /// named.
    #[error("no open session has id {0:?}")]
    UnknownSessionId(String),
    /// `now` was earlier than a time passed before.
    // Seconds written out rather than `Duration`'s Debug, whose formatting
    // code (2 KB of .wasm) nothing else needs.
    #[error(
        "time went backwards: {}.{:09} s is before {}.{:09} s",
        now.as_secs(),
        now.subsec_nanos(),
        last.as_secs(),
        last.subsec_nanos()
    )]
    TimeWentBackwards {
        /// The time just passed.
        now: Duration,
        /// The latest time passed before it.
        last: Duration,
    },
    /// A host message could not be encoded as JSON.
    #[error("message is not valid JSON: {0}")]
    InvalidMessage(#[source] serde_json::Error),
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

/// What a peer did wrong, as carried by an `error` frame's `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The bytes were not a JSON object.
    BadJson,
    /// A frame grew past the hub's frame size limit; the session is closed.
    FrameTooLarge,
    /// `type` named no known request.
    UnknownType,
    /// A required field was absent.
    MissingField,
    /// A field had the wrong JSON type.
    InvalidField,
    /// A claimed alias broke the alias rules.
    InvalidAlias,
    /// The alias is held by another session and the policy is `reject`.
    AliasTaken,
    /// A relayed `info` named an alias no session holds.
    UnknownAlias,
    /// The host turned relaying between clients off.
    RelayDisabled,
    /// The hub is full; the session is closed.
    TooManySessions,
    /// A frame did not arrive whole within the frame timeout; the session
    /// is closed.
    FrameTimeout,
    /// A room name broke the room rules.
    InvalidRoom,
    /// Joining would put the session in more rooms than the hub allows.
    TooManyRooms,
    /// The request needs membership of a room the session is not in.
    NotInRoom,
    /// A message was sent to a room nobody is in.
    UnknownRoom,
    /// A `watch` would make the session watch more aliases than the hub
    /// allows, or a last will names too many.
    TooManyWatches,
    /// A last will would not fit in the frame size limit.
    LastWillTooLarge,
    /// The session sent faster than the hub's rate limit; the frame was
    /// not acted on.
    RateLimited,
    /// The peer's address has as many sessions open as the hub allows one
    /// address; the session is closed.
    TooManyConnections,
    /// The hub needs a credential and the `sync` carried none, a wrong
    /// one, or one that could not be checked in time; or the session has
    /// not authenticated and asked for something other than `sync`.
    Unauthorized,
    /// The session's identity may not do what it asked (relay to that
    /// alias, send to `*`, list or watch); the frame was not acted on.
    Forbidden,
    /// Nobody answered a `request` within its timeout.
    RequestTimeout,
    /// A `request` past the most one session may have waiting.
    TooManyRequests,
    /// A `reply` named no request waiting for this session's answer: it
    /// was answered already, timed out, its requester left, or it was
    /// never sent to this session.
    UnknownRequest,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::MissingField => "missing_field",
            ErrorCode::InvalidField => "invalid_field",
            ErrorCode::InvalidAlias => "invalid_alias",
            ErrorCode::AliasTaken => "alias_taken",
            ErrorCode::UnknownAlias => "unknown_alias",
            ErrorCode::RelayDisabled => "relay_disabled",
            ErrorCode::TooManySessions => "too_many_sessions",
            ErrorCode::FrameTimeout => "frame_timeout",
            ErrorCode::InvalidRoom => "invalid_room",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::NotInRoom => "not_in_room",
            ErrorCode::UnknownRoom => "unknown_room",
            ErrorCode::TooManyWatches => "too_many_watches",
            ErrorCode::LastWillTooLarge => "last_will_too_large",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RequestTimeout => "request_timeout",
            ErrorCode::TooManyRequests => "too_many_requests",
            ErrorCode::UnknownRequest => "unknown_request",
        }
    }

    /// Every code, for documentation and exhaustive tests.
    pub const ALL: [ErrorCode; 24] = [
        ErrorCode::BadJson,
        ErrorCode::FrameTooLarge,
        ErrorCode::UnknownType,
        ErrorCode::MissingField,
        ErrorCode::InvalidField,
        ErrorCode::InvalidAlias,
        ErrorCode::AliasTaken,
        ErrorCode::UnknownAlias,
        ErrorCode::RelayDisabled,
        ErrorCode::TooManySessions,
        ErrorCode::FrameTimeout,
        ErrorCode::InvalidRoom,
        ErrorCode::TooManyRooms,
        ErrorCode::NotInRoom,
        ErrorCode::UnknownRoom,
        ErrorCode::TooManyWatches,
        ErrorCode::LastWillTooLarge,
        ErrorCode::RateLimited,
        ErrorCode::TooManyConnections,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::RequestTimeout,
        ErrorCode::TooManyRequests,
        ErrorCode::UnknownRequest,
    ];

    /// Parses a wire code, for clients reading `error` frames.
    pub fn from_wire(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A peer's mistake: the code and a human-readable message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PeerError {
    /// Machine-readable kind.
    pub code: ErrorCode,
    /// What exactly was wrong, for a person.
    pub message: String,
}

impl PeerError {
    /// Builds an error from its parts.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        PeerError {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_codes_round_trip_and_are_distinct() {
        let mut seen = std::collections::BTreeSet::new();
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
            assert!(seen.insert(code.as_str()), "duplicate {code}");
        }
        assert_eq!(ErrorCode::from_wire("nope"), None);
    }
}
