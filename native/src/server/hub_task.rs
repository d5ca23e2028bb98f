//! The one task that owns the [`Hub`]: every input goes through its queue,
//! so the core needs no lock.
//!
//! Each turn takes a batch of inputs, feeds them to the hub, dispatches its
//! outputs (frames into send queues, pauses and resumes of readers, closes,
//! events to the host) and only then flushes the connections that got
//! something, so frames queued in one turn leave together, up to 1,024 in
//! one vectored write, not one write per frame: written in place when the
//! task has caught up with its inputs, by the connections' writers while it
//! has not (see `flush`). What reaches a socket is reported back to the hub,
//! which is how its flow control learns that queues drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rustc_hash::FxHashMap;
use tcphub_core::{
    AuthDecision, AuthRequest, CloseReason, Hub, HubError, Output, SessionEntry, SessionHandle,
};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio::time::Instant;
use tracing::error;

use super::busy::BusyClock;
use super::connection::Connection;
use super::deadline::{deadline_after, saturating_at};
use super::input::{Command, Input, RoomEntry};
use super::transport::Stream;
use super::{events, reader, writer};
use crate::auth::Auth;
use crate::cluster::{ClusterInputs, ClusterPort};

/// Inputs handled per turn: large enough to amortise waking writers, small
/// enough that no input waits long behind a turn (at most 4 MiB of read
/// chunks, as 256 chunks of 16 KiB were before reads grew to 64 KiB).
const BATCH: usize = 64;

/// The connections of open sessions. Dropping the table aborts them all,
/// so no connection outlives the hub task, however that task ends.
#[derive(Debug, Default)]
/// Looked up once per frame sent or run of frames: a handle is a small
/// counter the hub hands out, so a fast hash (Fx) is as good as SipHash
/// here and far cheaper; no peer chooses it.
struct ConnectionTable(FxHashMap<SessionHandle, Entry>);

/// An open session's connection, and the frames the hub gave it this turn.
#[derive(Debug)]
struct Entry {
    conn: Arc<Connection>,
    /// Frames not yet in the connection's send queue: they go there in
    /// one lock at the end of the turn (`flush`), not one lock per frame,
    /// which is what a broadcast to many sessions costs otherwise.
    staged: Vec<Bytes>,
}

impl Drop for ConnectionTable {
    fn drop(&mut self) {
        for entry in self.0.values() {
            entry.conn.abort();
        }
    }
}

/// The hub and what it needs to drive connections.
#[derive(Debug)]
pub(crate) struct HubTask {
    hub: Hub,
    /// The epoch of the hub's clock.
    start: Instant,
    inputs: mpsc::Receiver<Input>,
    /// Given to each reader.
    inputs_tx: mpsc::WeakSender<Input>,
    conns: ConnectionTable,
    events: events::EventSink,
    close_grace: Duration,
    /// Sessions whose entry has staged frames, to be flushed.
    to_flush: Vec<SessionHandle>,
    /// In a cluster: where cluster outputs go.
    cluster: Option<ClusterPort>,
    /// In a cluster: what other nodes and the directory send.
    from_nodes: Option<ClusterInputs>,
    /// With authentication on: who checks credentials.
    auth: Option<Auth>,
    /// Where each turn's working time goes, for the metrics.
    busy: BusyClock,
}

impl HubTask {
    pub(crate) fn new(
        hub: Hub,
        start: Instant,
        inputs: mpsc::Receiver<Input>,
        inputs_tx: mpsc::WeakSender<Input>,
        events: events::EventSink,
        close_grace: Duration,
        cluster: Option<(ClusterPort, ClusterInputs)>,
    ) -> Self {
        let (cluster, from_nodes) = cluster.unzip();
        HubTask {
            hub,
            start,
            inputs,
            inputs_tx,
            conns: ConnectionTable::default(),
            events,
            close_grace,
            to_flush: Vec::new(),
            cluster,
            from_nodes,
            auth: None,
            busy: BusyClock::default(),
        }
    }

    /// Checks credentials with `auth` (the hub must have authentication
    /// on).
    pub(crate) fn with_auth(mut self, auth: Option<Auth>) -> Self {
        self.auth = auth;
        self
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Adds the time each turn spends working (not waiting) to `busy`.
    pub(crate) fn with_busy_clock(mut self, busy: BusyClock) -> Self {
        self.busy = busy;
        self
    }

    /// Runs until [`Input::Stop`] or until every sender is gone.
    pub(crate) async fn run(mut self) {
        // A clone, so a turn's guard borrows no part of `self`.
        let busy = self.busy.clone();
        let mut batch = Vec::with_capacity(BATCH);
        let mut from_nodes = Vec::with_capacity(BATCH);
        let timer = tokio::time::sleep_until(self.start);
        tokio::pin!(timer);
        let mut armed: Option<Duration> = None;
        loop {
            let wanted = self.hub.poll_timeout();
            if wanted != armed {
                if let Some(at) = wanted {
                    timer.as_mut().reset(saturating_at(self.start, at));
                }
                armed = wanted;
            }
            tokio::select! {
                received = self.inputs.recv_many(&mut batch, BATCH) => {
                    let _turn = busy.turn();
                    if received == 0 {
                        break;
                    }
                    let mut stop = false;
                    for input in batch.drain(..) {
                        stop |= self.handle(input);
                        self.dispatch();
                    }
                    self.flush();
                    if stop {
                        break;
                    }
                }
                () = &mut timer, if armed.is_some() => {
                    let _turn = busy.turn();
                    let now = self.now();
                    report(self.hub.handle_timeout(now));
                    armed = None;
                    self.dispatch();
                    self.flush();
                }
                received = recv_cluster(&mut self.from_nodes, &mut from_nodes) => {
                    let _turn = busy.turn();
                    if received == 0 {
                        // The cluster's tasks are gone (a bug: they run as
                        // long as this task); serve on without them.
                        error!("cluster: its tasks stopped; this node no longer hears from others");
                        self.from_nodes = None;
                    }
                    for input in from_nodes.drain(..) {
                        let now = self.now();
                        report(self.hub.handle_cluster(now, input));
                        self.dispatch();
                    }
                    self.flush();
                }
                caught_up = backplane_caught_up(&self.cluster), if self.hub.is_backplane_behind() => {
                    let _turn = busy.turn();
                    if caught_up {
                        report(self.hub.handle_backplane_backlog(false));
                        self.dispatch();
                        self.flush();
                    }
                }
                () = self.events.host_ready(), if self.events.is_behind() => {
                    let _turn = busy.turn();
                    if self.events.catch_up() {
                        // The clients paused for the host resume.
                        self.hub.handle_host_backlog(false);
                        self.dispatch();
                        self.flush();
                    }
                }
            }
        }
    }

    /// Feeds one input to the hub; true when the task must stop.
    fn handle(&mut self, input: Input) -> bool {
        let now = self.now();
        match input {
            Input::Accepted {
                stream,
                peer,
                permit,
            } => self.accept(now, stream, peer, permit),
            Input::Data { session, input } => {
                let result = self.hub.handle_scanned(now, session, input);
                report(result);
                if let Some(entry) = self.conns.0.get(&session) {
                    entry.conn.input_processed();
                }
            }
            Input::Eof { session } => report(self.hub.handle_eof(now, session)),
            Input::Written { session } => {
                if let Some(entry) = self.conns.0.get(&session) {
                    let written = entry.conn.take_unreported();
                    report(self.hub.handle_written(now, session, written));
                }
            }
            Input::Closed { session } => {
                let result = self.hub.handle_close(now, session);
                report(result);
                if let Some(entry) = self.conns.0.remove(&session) {
                    entry.conn.abort();
                }
            }
            Input::AuthDecision { id, decision } => {
                report(self.hub.handle_auth_decision(now, id, decision).map(drop));
            }
            Input::Command(command) => self.command(command),
            Input::Shutdown => self.hub.shutdown(),
            Input::Stop => return true,
        }
        false
    }

    fn accept(
        &mut self,
        now: Duration,
        stream: Stream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    ) {
        let session = match self.hub.handle_accept(now, &peer.to_string()) {
            Ok(session) => session,
            Err(e) => {
                // Only a second open session from the same address and port
                // gets here, which the OS does not allow; drop the socket.
                error!(%peer, error = %e, "cannot open a session");
                return;
            }
        };
        let Some(inputs) = self.inputs_tx.upgrade() else {
            return;
        };
        let scanner = self.hub.input_scanner();
        let conn = Arc::new(Connection::new(stream, session, scanner, permit));
        let entry = Entry {
            conn: conn.clone(),
            staged: Vec::new(),
        };
        self.conns.0.insert(session, entry);
        tokio::spawn(writer::write_loop(conn.clone(), inputs.clone()));
        tokio::spawn(reader::read_loop(conn, inputs));
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Broadcast { message, reply } => {
                let _ = reply.send(self.hub.broadcast(&*message));
            }
            Command::SendToAlias {
                alias,
                message,
                reply,
            } => {
                let _ = reply.send(self.hub.send_to_alias(&alias, &*message));
            }
            Command::SendToSession {
                session_id,
                message,
                reply,
            } => {
                let result = self
                    .hub
                    .handle_of(&session_id)
                    .and_then(|handle| self.hub.send_to_session(handle, &*message));
                let _ = reply.send(result);
            }
            Command::CloseSession { session_id, reply } => {
                let result = self
                    .hub
                    .handle_of(&session_id)
                    .and_then(|handle| self.hub.close_session(handle, CloseReason::ClosedByHost));
                let _ = reply.send(result);
            }
            Command::Sessions { reply } => {
                // In a cluster, every node's sessions, as `list` shows them:
                // this node's, then the others' as its replica knows them.
                let node = self.hub.node().map(|n| n.to_string());
                let mut rows: Vec<SessionEntry> = self
                    .hub
                    .sessions()
                    .map(|s| SessionEntry {
                        node: node.clone(),
                        ..SessionEntry::from(s)
                    })
                    .collect();
                rows.extend(
                    self.hub
                        .remote_sessions()
                        .map(|(session_id, s)| SessionEntry {
                            session_id: session_id.to_owned(),
                            client_name: s.alias.as_ref().map(|a| a.to_string()),
                            node: Some(s.node.to_string()),
                        }),
                );
                let _ = reply.send(rows);
            }
            Command::JoinRoom {
                session_id,
                room,
                reply,
            } => {
                let result = self
                    .hub
                    .handle_of(&session_id)
                    .and_then(|handle| self.hub.join_room(handle, &room));
                let _ = reply.send(result);
            }
            Command::LeaveRoom {
                session_id,
                room,
                reply,
            } => {
                let result = self
                    .hub
                    .handle_of(&session_id)
                    .and_then(|handle| self.hub.leave_room(handle, &room));
                let _ = reply.send(result);
            }
            Command::SendToRoom {
                room,
                message,
                reply,
            } => {
                let _ = reply.send(self.hub.send_to_room(&room, &*message));
            }
            Command::Rooms { reply } => {
                let rows = self
                    .hub
                    .rooms()
                    .map(|(room, members)| RoomEntry {
                        room: room.to_string(),
                        members,
                    })
                    .collect();
                let _ = reply.send(rows);
            }
            Command::RoomMembers { room, reply } => {
                let rows = self
                    .hub
                    .room_members(&room)
                    .map(SessionEntry::from)
                    .collect();
                let _ = reply.send(rows);
            }
            Command::Reply {
                reply_to,
                message,
                reply,
            } => {
                let _ = reply.send(self.hub.reply(&reply_to, &*message));
            }
            Command::Stats { reply } => {
                let _ = reply.send(self.hub.stats());
            }
        }
    }

    /// Hands a credential to the authenticator on a task of its own, so
    /// a slow decision holds up only the session asking; its answer comes
    /// back as an input. (Without an authenticator, which `bind` does not
    /// allow, the answer is no.)
    fn authenticate(&mut self, request: AuthRequest) {
        let Some(inputs) = self.inputs_tx.upgrade() else {
            return;
        };
        let id = request.id;
        let decision = self.auth.as_ref().map(|auth| auth.authenticate(request));
        tokio::spawn(async move {
            let decision = match decision {
                Some(decision) => decision.await,
                None => AuthDecision::Deny,
            };
            let _ = inputs.send(Input::AuthDecision { id, decision }).await;
        });
    }

    /// Carries out everything the hub asked for.
    fn dispatch(&mut self) {
        while let Some(output) = self.hub.poll_output() {
            self.carry_out(output);
        }
        if let Some(port) = &self.cluster {
            while let Some(output) = self.hub.poll_cluster() {
                if port.push(output) {
                    report(self.hub.handle_backplane_backlog(true));
                }
            }
        }
    }

    /// Carries out one output of the hub.
    fn carry_out(&mut self, output: Output) {
        match output {
            Output::Transmit { handle, frame } => self.transmit(handle, frame),
            Output::PauseReading { handle: session } => {
                if let Some(entry) = self.conns.0.get(&session) {
                    entry.conn.pause_reading();
                }
            }
            Output::ResumeReading { handle: session } => {
                if let Some(entry) = self.conns.0.get(&session) {
                    entry.conn.resume_reading();
                }
            }
            Output::Close {
                handle: session,
                reason,
                farewell,
                unsent,
            } => {
                if let Some(Entry { conn, mut staged }) = self.conns.0.remove(&session) {
                    // The farewell goes after what was given it this turn
                    // (and `unsent` decides what becomes of that).
                    conn.push(&mut staged);
                    if reason == CloseReason::SlowConsumer {
                        tracing::warn!(
                            handle = %session,
                            "slow consumer: closing after the frames being written and a bye"
                        );
                    }
                    conn.close(farewell, unsent, deadline_after(self.close_grace));
                }
            }
            Output::Authenticate(request) => self.authenticate(request),
            Output::Event(event) => {
                if self.events.emit(event) == events::Backlog::FellBehind {
                    self.hub.handle_host_backlog(true);
                }
            }
        }
    }

    /// Stages `frame` for `session`, if it is still open.
    fn transmit(&mut self, session: SessionHandle, frame: Bytes) {
        let Some(entry) = self.conns.0.get_mut(&session) else {
            return;
        };
        if entry.staged.is_empty() {
            self.to_flush.push(session);
        }
        entry.staged.push(frame);
    }

    /// Sends what this turn queued on its way.
    ///
    /// While more inputs wait, the hub task is what limits the server's
    /// rate, so it leaves the writing to the connections' writers, which
    /// run on the other cores: on 2 cores that took unwindowed directed
    /// pairs from 3.4-3.9M to 4.2-4.6M deliveries/s, and fan-out to 100
    /// from 12M to 16M. Once it has caught up, it writes in place, which
    /// saves waking a writer and the `Written` input that comes back from
    /// it: at 10k messages/s that is a fifth of the CPU per delivery.
    fn flush(&mut self) {
        if self.inputs.is_empty() {
            self.write_in_place();
        }
        for session in self.to_flush.drain(..) {
            if let Some(entry) = self.conns.0.get_mut(&session) {
                entry.conn.push(&mut entry.staged);
                entry.conn.wake_writer();
            }
        }
    }

    /// Writes what this turn queued, in place where the socket takes it,
    /// and tells the hub what got out. Those reports may release paused
    /// senders, whose kept input then queues more: that is left to the
    /// connections' writers (in `flush`), whose reports come back as inputs
    /// in a later turn. Writing it here too would let one client that
    /// reads as fast as it asks (a `list` in a loop) keep the hub task busy
    /// for it while everyone else's inputs wait: with a second round in
    /// place, pings behind a `list` flood took 16-21 ms at p99, with a loop
    /// until done 280 ms, with one round 10-15 ms (5,000 sessions, 2 loaded
    /// cores).
    fn write_in_place(&mut self) {
        let now = self.now();
        for session in std::mem::take(&mut self.to_flush) {
            // A session closed since has had its frames queued with its
            // farewell.
            let Some(entry) = self.conns.0.get_mut(&session) else {
                continue;
            };
            let flushed = entry.conn.flush_in_place(&mut entry.staged);
            if flushed.writer_needed {
                entry.conn.wake_writer();
            }
            if flushed.written > 0 {
                report(self.hub.handle_written(now, session, flushed.written));
            }
        }
        self.dispatch();
    }
}

/// Inputs from other nodes; never ready outside a cluster.
async fn recv_cluster(
    port: &mut Option<ClusterInputs>,
    buf: &mut Vec<tcphub_core::ClusterInput>,
) -> usize {
    match port {
        Some(port) => port.recv_many(buf, BATCH).await,
        None => std::future::pending().await,
    }
}

/// Resolves when the queue to the other nodes caught up (true) or was
/// found behind again (false); never outside a cluster.
async fn backplane_caught_up(port: &Option<ClusterPort>) -> bool {
    match port {
        Some(port) => port.caught_up().await,
        None => std::future::pending().await,
    }
}

/// A hub error from driving it. `UnknownHandle` is expected when a socket
/// read races a close the hub decided; anything else is a bug.
fn report(result: Result<(), HubError>) {
    match result {
        Ok(()) | Err(HubError::UnknownHandle(_)) => {}
        Err(e) => error!(error = %e, "hub rejected a driver call"),
    }
}
