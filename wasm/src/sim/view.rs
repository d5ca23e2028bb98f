//! Snapshots of the run for display: the clients and the hub's session table.

use serde::Serialize;

use super::trace::Stats;

/// The simulator's state at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct StateView {
    /// Virtual ms.
    pub now: u64,
    /// Nothing is left to happen.
    pub done: bool,
    /// Pieces of data (and stream ends) still travelling.
    pub in_flight: usize,
    /// Steps not yet run.
    pub queued_steps: usize,
    /// Whether faults are on.
    pub faults: bool,
    /// Every client ever connected, in order of appearance.
    pub clients: Vec<ClientView>,
    /// The hub's session table, oldest first (in a cluster, node by node).
    pub sessions: Vec<SessionView>,
    /// A cluster's nodes, in order; empty for one hub.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeView>,
    /// Counters.
    pub stats: Stats,
}

/// One virtual client.
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    /// Its name.
    pub name: String,
    /// Its open connection's address (its session id on the wire).
    pub addr: Option<String>,
    /// In a cluster, the node its open connection is to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Whether it has an open connection.
    pub connected: bool,
    /// The alias the hub has it holding.
    pub alias: Option<String>,
    /// Who it authenticated as, on a hub with authentication on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The rooms the hub has it in, by name.
    pub rooms: Vec<String>,
    /// Whether it reads what arrives.
    pub reading: bool,
    /// Whether it may still write (false after a half-close).
    pub writing: bool,
    /// Whether the hub has stopped reading it (flow control): what it
    /// sends waits, in order, until the hub reads it again.
    pub paused: bool,
    /// Bytes arrived but not read.
    pub unread: usize,
    /// Bytes written to its socket by the hub that it has not read (in
    /// flight or unread), at most the socket buffer.
    pub in_socket: usize,
    /// Bytes the hub queued for it that its socket could not take yet:
    /// what the hub counts for flow control and the write deadline.
    pub queued: usize,
}

/// One row of the hub's session table.
#[derive(Debug, Clone, Serialize)]
pub struct SessionView {
    /// The hub's handle.
    pub handle: u64,
    /// Its session id: the peer address, `sessionId` on the wire.
    pub session_id: String,
    /// Its alias.
    pub alias: Option<String>,
    /// Who it authenticated as, on a hub with authentication on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The rooms it is in, by name.
    pub rooms: Vec<String>,
    /// The virtual client at the other end.
    pub client: Option<String>,
    /// In a cluster, the node it is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// One node of a cluster.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// Its id.
    pub id: String,
    /// Whether it crashed.
    pub crashed: bool,
    /// Its open sessions.
    pub sessions: usize,
}
