//! Running the steps of the script: what clients and the host do.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tcphub_core::{
    encode_bye, encode_info, encode_join, encode_leave, encode_list, encode_list_room, encode_ping,
    encode_reply, encode_request, encode_room_info, encode_sync_request, encode_unwatch,
    encode_watch, CloseReason, HubError, HubLines, RawValue, ReplyAddress, SessionHandle,
};

use super::Simulator;
use crate::sim::connection::{virtual_addr, Client, Connection};
use crate::sim::network::End;
use crate::sim::step::{with_last_will, Action, Step, WatchScope};
use crate::sim::trace::{Direction, Entry};

impl Simulator {
    pub(super) fn run_step(&mut self, step: Step) {
        self.stats.steps += 1;
        let Step { node, action, .. } = step;
        if self.trace.wants_any() {
            self.trace.push(Entry::Step {
                t: self.now,
                index: self.executed.len(),
                step: Step {
                    at: None,
                    node: node.clone(),
                    action: action.clone(),
                },
            });
        }
        let acting = action.client().map(str::to_owned);
        self.executed.push(Step {
            at: Some(self.now),
            node: node.clone(),
            action: action.clone(),
        });
        // The node the step runs on: the one it names, else the first.
        let node = match node.map(|n| self.scenario.node_index(&n)) {
            None => 0,
            Some(Ok(node)) => node,
            // A click naming a node the scenario does not have.
            Some(Err(e)) => return self.skip(e.to_string()),
        };
        if action.takes_node() && self.nodes[node].crashed {
            let id = self.node_name(node).unwrap_or_default();
            return self.skip(format!("node {id} has crashed"));
        }
        match action {
            Action::Connect { client } => self.connect(&client, node),
            Action::Sync {
                client,
                alias,
                last_will,
                token,
            } => {
                let token = token.as_deref();
                let frame = match &last_will {
                    None => Ok(encode_sync_request(&alias, token, None)),
                    Some(will) => {
                        with_last_will(will, |will| encode_sync_request(&alias, token, Some(will)))
                    }
                };
                match frame {
                    Ok(frame) => self.client_write(&client, frame.into()),
                    // Only a step built in Rust gets here: JSON is checked.
                    Err(e) => self.skip(format!("{client} cannot sync: {e}")),
                }
            }
            Action::Send {
                client,
                to,
                room,
                message,
            } => {
                let frame = match room {
                    Some(room) => encode_room_info(&room, &message),
                    None => encode_info(to.as_deref(), &message),
                };
                self.client_write(&client, frame.into())
            }
            Action::Request {
                client,
                to,
                message,
                timeout_ms,
            } => {
                let frame = encode_request(to.as_deref(), &message, None, timeout_ms);
                self.client_write(&client, frame.into())
            }
            Action::Reply {
                client: Some(client),
                reply_to,
                message,
            } => self.client_write(&client, encode_reply(&reply_to, &message).into()),
            Action::Reply {
                client: None,
                reply_to,
                message,
            } => self.host_reply(&reply_to, &message),
            Action::Write { client, data } => self.client_write(&client, data.into_bytes().into()),
            Action::List { client, room } => {
                let frame = match room {
                    Some(room) => encode_list_room(&room).into(),
                    None => Bytes::from_static(encode_list()),
                };
                self.client_write(&client, frame)
            }
            Action::Join { client, room } => self.client_write(&client, encode_join(&room).into()),
            Action::Leave { client, room } => {
                self.client_write(&client, encode_leave(&room).into())
            }
            Action::Watch { client, scope } => {
                self.client_write(&client, encode_watch(&watch_scope(&scope)).into())
            }
            Action::Unwatch { client, scope } => {
                self.client_write(&client, encode_unwatch(&watch_scope(&scope)).into())
            }
            Action::Bye { client } => self.client_write(&client, Bytes::from_static(encode_bye())),
            Action::Ping { client } => {
                self.client_write(&client, Bytes::from_static(encode_ping()))
            }
            Action::Disconnect { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    self.client_close(conn, false);
                }
            }
            Action::Drop { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    self.client_close(conn, true);
                }
            }
            Action::HalfClose { client } => {
                if let Some(conn) = self.writable_connection(&client) {
                    self.client_shut_write(conn);
                }
            }
            Action::StopReading { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    self.connections[conn].reading = false;
                }
            }
            Action::ResumeReading { client } => {
                if let Some(conn) = self.open_connection(&client) {
                    let c = &mut self.connections[conn];
                    c.reading = true;
                    c.stall_after = None;
                    let unread = std::mem::take(&mut c.unread);
                    self.client_read(conn, &unread);
                }
            }
            Action::Faults { enabled } => self.faults.enabled = enabled,
            Action::Wait { ms } => self.hold_until = self.now.saturating_add(ms),
            Action::Broadcast { message } => {
                let result = self.nodes[node].hub.broadcast(&message);
                self.host_result_on(node, "broadcast", result);
            }
            Action::SendToAlias { alias, message } => {
                let result = self.nodes[node].hub.send_to_alias(&alias, &message);
                self.host_result_on(node, "send_to_alias", result);
            }
            Action::JoinRoom { session_id, room } => {
                let (node, handle) = self.session_named(&session_id);
                let result = handle
                    .and_then(|handle| self.nodes[node].hub.join_room(handle, &room))
                    // Told `joined` either way (again, if a member already).
                    .map(|_| 1);
                self.host_result_on(node, "join_room", result);
            }
            Action::LeaveRoom { session_id, room } => {
                let (node, handle) = self.session_named(&session_id);
                let result = handle
                    .and_then(|handle| self.nodes[node].hub.leave_room(handle, &room))
                    // Told `left` only if it was a member.
                    .map(usize::from);
                self.host_result_on(node, "leave_room", result);
            }
            Action::SendToRoom { room, message } => {
                let result = self.nodes[node].hub.send_to_room(&room, &message);
                self.host_result_on(node, "send_to_room", result);
            }
            Action::CloseSession { session_id } => {
                let (node, handle) = self.session_named(&session_id);
                let result = handle
                    .and_then(|handle| {
                        self.nodes[node]
                            .hub
                            .close_session(handle, CloseReason::ClosedByHost)
                    })
                    .map(|()| 1);
                self.host_result_on(node, "close_session", result);
            }
            Action::Shutdown => {
                let hub = &mut self.nodes[node].hub;
                let open = hub.session_count();
                hub.shutdown();
                self.host_result_on(node, "shutdown", Ok(open));
            }
            Action::CrashNode { node } => match self.scenario.node_index(&node) {
                Ok(node) => self.crash(node),
                Err(e) => self.skip(e.to_string()),
            },
        }
        if let Some(client) = acting {
            self.maybe_drop(&client);
        }
    }

    /// Traces a host command run on node `node`, and carries out what it
    /// made the hubs do.
    pub(super) fn host_result_on(
        &mut self,
        node: usize,
        command: &'static str,
        result: Result<usize, HubError>,
    ) {
        let (reached, error) = match result {
            Ok(n) => (Some(n), None),
            Err(e) => (None, Some(e.to_string())),
        };
        self.trace.push(Entry::Host {
            t: self.now,
            command,
            reached,
            error,
            node: self.node_name(node),
        });
        self.drain();
    }

    /// The node holding the session called `session_id` (node-scoped in a
    /// cluster, so at most one does), and its handle there; the first
    /// node's error when none does.
    /// The host answers a request, on the node its address names.
    fn host_reply(&mut self, reply_to: &str, message: &RawValue) {
        let address = ReplyAddress::parse(reply_to);
        let node = match address.as_ref().and_then(|a| a.node.as_ref()) {
            Some(node) => self.scenario.node_index(node.as_str()).unwrap_or(0),
            None => 0,
        };
        let result = match address {
            Some(address) => self.nodes[node].hub.reply(&address, message),
            None => Err(HubError::UnknownRequest(reply_to.to_owned())),
        };
        self.host_result_on(node, "reply", result.map(|()| 1));
    }

    fn session_named(&self, session_id: &str) -> (usize, Result<SessionHandle, HubError>) {
        let live = |n: &usize| !self.nodes[*n].crashed;
        for node in (0..self.nodes.len()).filter(live) {
            if let Ok(handle) = self.nodes[node].hub.handle_of(session_id) {
                return (node, Ok(handle));
            }
        }
        (0, self.nodes[0].hub.handle_of(session_id))
    }

    pub(super) fn skip(&mut self, reason: String) {
        self.trace.push(Entry::Skip {
            t: self.now,
            reason,
        });
    }

    pub(super) fn connect(&mut self, name: &str, node: usize) {
        let client = match self.client_named(name) {
            Some(c) => c,
            None => {
                self.clients.push(Client {
                    name: name.to_owned(),
                    current: None,
                    opened: 0,
                });
                self.clients.len() - 1
            }
        };
        if self.clients[client].current.is_some() {
            return self.skip(format!("{name} is already connected"));
        }
        let addr: Arc<str> = virtual_addr(client, self.clients[client].opened).into();
        self.clients[client].opened += 1;
        let handle = match self.nodes[node]
            .hub
            .handle_accept(Duration::from_millis(self.now), &addr)
        {
            Ok(handle) => handle,
            // Addresses are unique per client and connection, so this is a
            // broken invariant; report it in the trace rather than panic.
            Err(e) => return self.skip(format!("{name} could not connect: {e}")),
        };
        let conn = self.connections.len();
        let mut connection = Connection::new(client, node, handle, addr.clone());
        if self.faults.enabled && self.rng.chance(self.faults.stall) {
            let buffer = self.network_settings.socket_buffer_bytes as u64;
            connection.stall_after = Some(self.rng.below(buffer / 4 + 1));
        }
        self.connections.push(connection);
        let slot = handle.0 as usize;
        let of_handle = &mut self.nodes[node].connection_of_handle;
        if of_handle.len() <= slot {
            of_handle.resize(slot + 1, None);
        }
        of_handle[slot] = Some(conn);
        self.clients[client].current = Some(conn);
        self.trace.push(Entry::Connect {
            t: self.now,
            client: name.to_owned(),
            addr: addr.to_string(),
            handle: handle.0,
            node: self.node_name(node),
        });
        self.drain();
    }

    /// The index of the client called `name`.
    fn client_named(&self, name: &str) -> Option<usize> {
        self.clients.iter().position(|c| c.name == name)
    }

    /// The client's open connection, or `None` after tracing why not.
    pub(super) fn open_connection(&mut self, name: &str) -> Option<usize> {
        let Some(client) = self.client_named(name) else {
            self.skip(format!("there is no client named {name}; connect it first"));
            return None;
        };
        let current = self.clients[client].current;
        if current.is_none() {
            self.skip(format!("{name} is not connected"));
        }
        current
    }

    /// The client's open connection if it may still write, or `None`
    /// after tracing why not.
    pub(super) fn writable_connection(&mut self, name: &str) -> Option<usize> {
        let conn = self.open_connection(name)?;
        if self.connections[conn].write_open {
            Some(conn)
        } else {
            self.skip(format!("{name} has shut its write side"));
            None
        }
    }

    pub(super) fn client_write(&mut self, name: &str, bytes: Bytes) {
        if let Some(conn) = self.writable_connection(name) {
            self.stats.bytes_to_hub += bytes.len() as u64;
            self.put_on_wire(conn, Direction::ToHub, bytes);
        }
    }

    /// The client closes its socket: it reads nothing more, and the hub
    /// learns of it when the end of the stream arrives.
    pub(super) fn client_close(&mut self, conn: usize, abrupt: bool) {
        let c = &mut self.connections[conn];
        c.client_open = false;
        c.write_open = false;
        c.unread = Vec::new();
        c.lines = HubLines::default();
        let client = c.client;
        self.clients[client].current = None;
        let reason = if abrupt { "reset" } else { "disconnect" };
        self.trace.push(Entry::Close {
            t: self.now,
            client: self.clients[client].name.clone(),
            at: "client",
            reason: reason.to_owned(),
            dropped: 0,
        });
        self.end_stream(conn, Direction::ToHub, End::ClientClosed { abrupt });
    }

    /// The client shuts its write side: it still reads, and the hub learns
    /// of it once the end of its requests arrives.
    pub(super) fn client_shut_write(&mut self, conn: usize) {
        let c = &mut self.connections[conn];
        c.write_open = false;
        let client = c.client;
        self.trace.push(Entry::Eof {
            t: self.now,
            client: self.clients[client].name.clone(),
            at: "client",
        });
        self.end_stream(conn, Direction::ToHub, End::ClientShutWrite);
    }

    /// The drop fault: after one of its steps, a client may vanish.
    pub(super) fn maybe_drop(&mut self, name: &str) {
        if !self.faults.enabled || self.faults.drop == 0 {
            return;
        }
        let Some(conn) = self
            .client_named(name)
            .and_then(|c| self.clients[c].current)
        else {
            return;
        };
        if self.rng.chance(self.faults.drop) {
            self.trace.push(Entry::Fault {
                t: self.now,
                client: name.to_owned(),
                fault: "drop",
            });
            self.client_close(conn, true);
        }
    }
}

/// The core's form of a scripted watch scope, borrowing from it.
fn watch_scope(scope: &WatchScope) -> tcphub_core::WatchScope<'_> {
    match scope {
        WatchScope::All => tcphub_core::WatchScope::All,
        WatchScope::Aliases(aliases) => tcphub_core::WatchScope::Aliases(
            aliases.iter().map(|a| Cow::Borrowed(a.as_str())).collect(),
        ),
        WatchScope::Room(room) => tcphub_core::WatchScope::Room(Cow::Borrowed(room)),
    }
}
