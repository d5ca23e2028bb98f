//! The hub's side of each connection, as a driver with real sockets has
//! it: a send queue written to a bounded socket buffer, reads stopped and
//! resumed at the hub's word, and the close with its farewell.
//!
//! - Every frame the hub hands out joins the connection's send queue. The
//!   driver writes from it while the socket holds fewer than
//!   `network.socket_buffer_bytes` bytes the client has not read (in
//!   flight, or arrived and unread), a frame in pieces if only part fits,
//!   and reports each write to the hub (`handle_written`). When the client
//!   reads, room appears and the driver writes more. So the hub's queue is
//!   exactly what a stalled client's socket cannot take.
//! - `PauseReading` stops handing the client's arrivals to the hub: they
//!   wait, in order, as in a kernel's receive buffer, and are handed over
//!   on `ResumeReading` (until the hub pauses the session again).
//! - `Close`: with `Unsent::Discard` the frames not begun are dropped (a
//!   frame partly written is finished, so the stream never ends inside
//!   one); with `Unsent::Send` they all go. Then the farewell, then the end
//!   of the stream. Once closed nothing is paced any more: the rest is
//!   written at once and reaches the client whenever it reads.

use bytes::Bytes;
use tcphub_core::{CloseReason, SessionHandle, Unsent};

use super::Simulator;
use crate::sim::network::{End, Piece};
use crate::sim::trace::{Direction, Entry};

impl Simulator {
    /// A frame from the hub joins its connection's send queue.
    pub(super) fn queue_frame(&mut self, node: usize, handle: SessionHandle, frame: Bytes) {
        let Some(conn) = self.connection_index(node, handle) else {
            return;
        };
        let buffer = self.network_settings.socket_buffer_bytes;
        let c = &mut self.connections[conn];
        if c.out.is_empty()
            && !c.out.is_closing()
            && c.in_socket.saturating_add(frame.len()) <= buffer
        {
            // Nothing waits and it fits: written at once, the common case.
            c.in_socket += frame.len();
            let (len, handle) = (frame.len(), c.handle);
            self.stats.bytes_to_clients += len as u64;
            self.put_on_wire(conn, Direction::ToClient, frame);
            if self.connections[conn].hub_open {
                self.hub_call(node, |hub, now| hub.handle_written(now, handle, len));
            }
            return;
        }
        c.out.push(frame);
        self.pump(conn);
    }

    /// Writes from the send queue while the socket has room (all of it once
    /// the hub has closed the session), reports what was written, and ends
    /// the stream after the farewell.
    pub(super) fn pump(&mut self, conn: usize) {
        let buffer = self.network_settings.socket_buffer_bytes;
        let mut written = 0usize;
        loop {
            let c = &mut self.connections[conn];
            let room = if c.out.is_closing() {
                usize::MAX
            } else {
                buffer.saturating_sub(c.in_socket)
            };
            if room == 0 {
                break;
            }
            let Some(piece) = c.out.next_piece(room) else {
                break;
            };
            c.in_socket = c.in_socket.saturating_add(piece.len());
            written = written.saturating_add(piece.len());
            self.stats.bytes_to_clients += piece.len() as u64;
            self.put_on_wire(conn, Direction::ToClient, piece);
        }
        let c = &mut self.connections[conn];
        if let Some(reason) = c.out.take_end() {
            self.end_stream(conn, Direction::ToClient, End::HubClosed(reason));
            return;
        }
        // After a close the hub has forgotten the session: nothing to report.
        if written > 0 && c.hub_open {
            let (node, handle) = (c.node, c.handle);
            self.hub_call(node, |hub, now| hub.handle_written(now, handle, written));
        }
    }

    /// The hub stops or resumes reading a client.
    pub(super) fn set_reading(&mut self, node: usize, handle: SessionHandle, paused: bool) {
        let Some(conn) = self.connection_index(node, handle) else {
            return;
        };
        let c = &mut self.connections[conn];
        if !c.hub_open || c.paused == paused {
            return;
        }
        c.paused = paused;
        let client = self.clients[c.client].name.clone();
        self.trace.push(Entry::Flow {
            t: self.now,
            client,
            state: if paused { "paused" } else { "resumed" },
        });
        if !paused {
            self.feed_held(conn);
        }
    }

    /// Hands the hub what arrived while it was not reading, in order, until
    /// it is done or the hub pauses the session again.
    fn feed_held(&mut self, conn: usize) {
        loop {
            let c = &self.connections[conn];
            let hub = &self.nodes[c.node].hub;
            if c.paused || !c.hub_open || hub.is_reading_paused(c.handle) == Some(true) {
                return;
            }
            let Some(piece) = self.connections[conn].held.pop_front() else {
                return;
            };
            self.hub_reads(conn, piece);
        }
    }

    /// One piece from the client, read by the hub's driver: data, the end
    /// of the client's writes, or the end of the connection. The caller
    /// drains the hub's outputs.
    pub(super) fn hub_reads(&mut self, conn: usize, piece: Piece) {
        let client = self.connections[conn].client;
        match piece {
            Piece::Data { bytes, sent } => {
                self.trace_arrival(client, Direction::ToHub, &bytes, sent);
                let c = &self.connections[conn];
                let (node, handle) = (c.node, c.handle);
                if !(c.hub_open
                    && self.hub_call(node, |hub, now| hub.handle_data(now, handle, &bytes)))
                {
                    self.discard(client, Direction::ToHub, bytes.len());
                }
            }
            Piece::End(End::ClientShutWrite) => {
                let c = &self.connections[conn];
                if !c.hub_open {
                    return;
                }
                let (node, handle) = (c.node, c.handle);
                self.trace.push(Entry::Eof {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    at: "hub",
                });
                self.hub_call(node, |hub, now| hub.handle_eof(now, handle));
            }
            Piece::End(End::ClientClosed { abrupt }) => {
                let c = &mut self.connections[conn];
                if !c.hub_open {
                    return;
                }
                c.hub_open = false;
                c.paused = false;
                // Nobody is left to write to.
                c.out.clear();
                let (node, handle) = (c.node, c.handle);
                self.trace.push(Entry::Close {
                    t: self.now,
                    client: self.clients[client].name.clone(),
                    at: "hub",
                    reason: if abrupt {
                        "reset"
                    } else {
                        CloseReason::PeerClosed.as_str()
                    }
                    .to_owned(),
                    dropped: 0,
                });
                self.hub_call(node, |hub, now| hub.handle_close(now, handle));
            }
            Piece::End(end @ (End::HubClosed(_) | End::Reset)) => {
                unreachable!("{end:?} never travels to the hub")
            }
        }
    }

    /// The hub closed a session: what it queued goes out as `unsent` says,
    /// then its farewell, then the end of the stream. What the client sent
    /// and the hub never read is thrown away.
    pub(super) fn close_at_hub(
        &mut self,
        node: usize,
        handle: SessionHandle,
        reason: CloseReason,
        farewell: Bytes,
        unsent: Unsent,
    ) {
        let Some(conn) = self.connection_index(node, handle) else {
            return;
        };
        let c = &mut self.connections[conn];
        if !c.hub_open {
            return;
        }
        c.hub_open = false;
        c.paused = false;
        let dropped = c.out.close(reason, farewell, unsent);
        let held = std::mem::take(&mut c.held);
        let client = c.client;
        self.pump(conn);
        self.trace.push(Entry::Close {
            t: self.now,
            client: self.clients[client].name.clone(),
            at: "hub",
            reason: reason.as_str().to_owned(),
            dropped,
        });
        for piece in held {
            if let Piece::Data { bytes, .. } = piece {
                self.discard(client, Direction::ToHub, bytes.len());
            }
        }
    }
}
