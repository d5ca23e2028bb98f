//! Virtual clients and their connections to the hub.

use std::sync::Arc;

use tcphub_core::SessionId;

use super::network::Pipe;
use super::trace::Direction;

/// A named client. It has at most one open connection; each reconnect
/// opens a new one from a new port.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) name: String,
    /// Its open connection, an index into the simulator's connections.
    pub(crate) current: Option<usize>,
    /// Connections opened so far, for the next port number.
    pub(crate) opened: u32,
}

/// One TCP connection, as both ends see it.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: usize,
    pub(crate) session: SessionId,
    /// The virtual address: the session id on the wire.
    pub(crate) addr: Arc<str>,
    /// The client has not closed it nor seen it closed.
    pub(crate) client_open: bool,
    /// The hub still holds the session.
    pub(crate) hub_open: bool,
    /// The driver asked the hub to close it as a slow consumer already.
    pub(crate) closing: bool,
    pub(crate) to_hub: Pipe,
    pub(crate) to_client: Pipe,
    /// Bytes the hub wrote that the client has not read: what a real
    /// driver's send queue plus the socket buffers would hold.
    pub(crate) queued: usize,
    /// Whether the client reads what arrives.
    pub(crate) reading: bool,
    /// A stall fault: the client stops reading after this many bytes.
    pub(crate) stall_after: Option<u64>,
    /// Bytes the client has read.
    pub(crate) read: u64,
    /// Arrived while the client was not reading.
    pub(crate) unread: Vec<u8>,
    /// Read, but not yet a whole line.
    pub(crate) partial: Vec<u8>,
}

impl Connection {
    pub(crate) fn new(client: usize, session: SessionId, addr: Arc<str>) -> Self {
        Connection {
            client,
            session,
            addr,
            client_open: true,
            hub_open: true,
            closing: false,
            to_hub: Pipe::default(),
            to_client: Pipe::default(),
            queued: 0,
            reading: true,
            stall_after: None,
            read: 0,
            unread: Vec::new(),
            partial: Vec::new(),
        }
    }

    pub(crate) fn pipe(&mut self, dir: Direction) -> &mut Pipe {
        match dir {
            Direction::ToHub => &mut self.to_hub,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

/// The virtual address of a client's `n`th connection (from 0): one host
/// per client, a new port per connection. Labels only: nothing touches a
/// network.
pub(crate) fn virtual_addr(client: usize, n: u32) -> String {
    format!("10.0.{}.{}:{}", client / 250, client % 250 + 1, 40001 + n)
}
