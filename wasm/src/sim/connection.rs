//! Virtual clients and their connections to the hub.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use tcphub_core::{CloseReason, HubLines, SessionHandle, Unsent};

use super::network::{Piece, Pipe};
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
    /// The hub it is to: the node's index (0 for a single hub).
    pub(crate) node: usize,
    /// The hub's handle for its session.
    pub(crate) handle: SessionHandle,
    /// The virtual address: the session id on the wire.
    pub(crate) addr: Arc<str>,
    /// The client has not closed it nor seen it closed.
    pub(crate) client_open: bool,
    /// The client may still write: it has not shut its write side.
    pub(crate) write_open: bool,
    /// The hub still holds the session.
    pub(crate) hub_open: bool,
    pub(crate) to_hub: Pipe,
    pub(crate) to_client: Pipe,
    /// The hub's driver: frames the core handed out for this connection
    /// and not yet written to its socket.
    pub(crate) out: SendQueue,
    /// Bytes written to the socket that the client has not read yet (in
    /// flight, or arrived and unread). The driver writes only while this
    /// is under the socket buffer.
    pub(crate) in_socket: usize,
    /// The hub asked its driver not to read this connection (flow control).
    pub(crate) paused: bool,
    /// What arrived from the client while the hub was not reading it, in
    /// order: handed to the hub when it reads again.
    pub(crate) held: VecDeque<Piece>,
    /// Whether the client reads what arrives.
    pub(crate) reading: bool,
    /// A stall fault: the client stops reading after this many bytes.
    pub(crate) stall_after: Option<u64>,
    /// Bytes the client has read.
    pub(crate) read: u64,
    /// Arrived while the client was not reading.
    pub(crate) unread: Vec<u8>,
    /// What the client read, split into the hub's lines (the core's
    /// reader, as every client of the hub uses).
    pub(crate) lines: HubLines,
}

impl Connection {
    pub(crate) fn new(client: usize, node: usize, handle: SessionHandle, addr: Arc<str>) -> Self {
        Connection {
            client,
            node,
            handle,
            addr,
            client_open: true,
            write_open: true,
            hub_open: true,
            to_hub: Pipe::default(),
            to_client: Pipe::default(),
            out: SendQueue::default(),
            in_socket: 0,
            paused: false,
            held: VecDeque::new(),
            reading: true,
            stall_after: None,
            read: 0,
            unread: Vec::new(),
            lines: HubLines::default(),
        }
    }

    pub(crate) fn pipe(&mut self, dir: Direction) -> &mut Pipe {
        match dir {
            Direction::ToHub => &mut self.to_hub,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

/// The hub driver's send queue for one connection: the frames the core
/// handed out, written to the socket as room appears (a frame may go out
/// in pieces), then, once the hub closes the session, its farewell and the
/// end of the stream.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    frames: VecDeque<Bytes>,
    /// Bytes of the front frame already written.
    started: usize,
    /// Bytes queued and not yet written.
    len: usize,
    /// Set by the hub's close: the stream ends once the queue is empty.
    closing: Option<CloseReason>,
}

impl SendQueue {
    /// Bytes queued and not yet written.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn push(&mut self, frame: Bytes) {
        self.len += frame.len();
        self.frames.push_back(frame);
    }

    /// Nothing is waiting to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The next `room` bytes at most, off the front frame.
    pub(crate) fn next_piece(&mut self, room: usize) -> Option<Bytes> {
        let front = self.frames.front()?;
        if self.started == 0 && front.len() <= room {
            // The whole frame: handed over as it is, no new reference.
            let frame = self.frames.pop_front()?;
            self.len -= frame.len();
            return Some(frame);
        }
        let end = front.len().min(self.started.saturating_add(room));
        let piece = front.slice(self.started..end);
        if end == front.len() {
            self.frames.pop_front();
            self.started = 0;
        } else {
            self.started = end;
        }
        self.len -= piece.len();
        Some(piece)
    }

    /// The hub closed the session: with [`Unsent::Discard`] the frames not
    /// yet begun are dropped (a frame partly written is finished, so the
    /// stream never ends inside one); then `farewell`, then the end.
    /// Returns how many bytes were dropped.
    pub(crate) fn close(&mut self, reason: CloseReason, farewell: Bytes, unsent: Unsent) -> usize {
        let mut dropped = 0;
        if unsent == Unsent::Discard {
            let keep = usize::from(self.started > 0);
            for frame in self.frames.drain(keep..) {
                dropped += frame.len();
            }
            self.len -= dropped;
        }
        self.push(farewell);
        self.closing = Some(reason);
        dropped
    }

    /// Whether the hub has closed the session: nothing is paced any more.
    pub(crate) fn is_closing(&self) -> bool {
        self.closing.is_some()
    }

    /// Once the hub has closed and everything is written: the reason, once.
    pub(crate) fn take_end(&mut self) -> Option<CloseReason> {
        if self.frames.is_empty() {
            self.closing.take()
        } else {
            None
        }
    }

    /// The client is gone: nothing more will be written.
    pub(crate) fn clear(&mut self) {
        *self = SendQueue::default();
    }
}

/// The virtual address of a client's `n`th connection (from 0): one host
/// per client, a new port per connection. Labels only: nothing touches a
/// network.
pub(crate) fn virtual_addr(client: usize, n: u32) -> String {
    format!("10.0.{}.{}:{}", client / 250, client % 250 + 1, 40001 + n)
}
