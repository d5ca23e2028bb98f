//! What the hub task is told: by the acceptor, the connections' readers
//! and writers, and the host program's handle.

use std::net::SocketAddr;

use super::transport::Stream;
use tcphub_core::{
    HubError, HubStats, RawValue, ReplyAddress, ScannedInput, SessionEntry, SessionHandle,
};
use tokio::sync::{oneshot, OwnedSemaphorePermit};

/// Everything the hub task is told.
#[derive(Debug)]
pub(crate) enum Input {
    /// The acceptor took a connection (and a session permit for it); a
    /// TLS one once its handshake is done.
    Accepted {
        stream: Stream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    },
    /// A session's peer sent bytes.
    Data {
        session: SessionHandle,
        input: ScannedInput,
    },
    /// The session's peer half-closed: it sends nothing more.
    Eof { session: SessionHandle },
    /// The session's writer wrote bytes; how many is kept on the
    /// connection, so one message stands for any number of writes.
    Written { session: SessionHandle },
    /// A session's reader is done: the peer left, or the connection closed.
    Closed { session: SessionHandle },
    /// The authenticator's answer about a session's credential.
    AuthDecision {
        id: tcphub_core::AuthRequestId,
        decision: tcphub_core::AuthDecision,
    },
    /// A host program's command.
    Command(Command),
    /// Say `bye` to everyone and refuse new sessions.
    Shutdown,
    /// Stop the task.
    Stop,
}

/// A host command with the channel for its answer.
#[derive(Debug)]
pub(crate) enum Command {
    Broadcast {
        message: Box<RawValue>,
        reply: oneshot::Sender<Result<usize, HubError>>,
    },
    SendToAlias {
        alias: String,
        message: Box<RawValue>,
        reply: oneshot::Sender<Result<usize, HubError>>,
    },
    SendToSession {
        session_id: String,
        message: Box<RawValue>,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    CloseSession {
        session_id: String,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    Sessions {
        reply: oneshot::Sender<Vec<SessionEntry>>,
    },
    JoinRoom {
        session_id: String,
        room: String,
        reply: oneshot::Sender<Result<bool, HubError>>,
    },
    LeaveRoom {
        session_id: String,
        room: String,
        reply: oneshot::Sender<Result<bool, HubError>>,
    },
    SendToRoom {
        room: String,
        message: Box<RawValue>,
        reply: oneshot::Sender<Result<usize, HubError>>,
    },
    Rooms {
        reply: oneshot::Sender<Vec<RoomEntry>>,
    },
    RoomMembers {
        room: String,
        reply: oneshot::Sender<Vec<SessionEntry>>,
    },
    /// The host's answer to a request it was sent.
    Reply {
        reply_to: ReplyAddress,
        message: Box<RawValue>,
        reply: oneshot::Sender<Result<(), HubError>>,
    },
    /// A copy of the hub's counters and gauges, for metrics.
    Stats { reply: oneshot::Sender<HubStats> },
}

/// One row of `HubHandle::rooms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomEntry {
    /// The room's name.
    pub room: String,
    /// How many sessions are in it (at least one).
    pub members: usize,
}
