//! The one task that owns the [`Hub`]: every input goes through its queue,
//! so the core needs no lock.
//!
//! Each turn takes a batch of inputs, feeds them to the hub, dispatches its
//! outputs (frames into send queues, closes, events to the host) and only
//! then wakes the writers that got something, so frames queued in one turn
//! leave in one write per connection.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tcphub_core::{CloseReason, Hub, HubError, Output, RawValue, SessionEntry, SessionId};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit};
use tokio::time::Instant;
use tracing::{error, warn};

use super::connection::{Connection, Push};
use super::deadline::{deadline_after, saturating_at};
use super::{events, reader, writer};

/// Inputs handled per turn: large enough to amortise waking writers, small
/// enough that no input waits long behind a turn.
const BATCH: usize = 256;

/// Everything the hub task is told.
#[derive(Debug)]
pub(crate) enum Input {
    /// The acceptor took a connection (and a session permit for it).
    Accepted {
        stream: TcpStream,
        peer: SocketAddr,
        permit: OwnedSemaphorePermit,
    },
    /// A session's peer sent bytes.
    Data { session: SessionId, bytes: Bytes },
    /// A session's reader is done: the peer left, or the connection closed.
    Closed { session: SessionId },
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
}

/// The connections of open sessions. Dropping the table aborts them all,
/// so no connection outlives the hub task, however that task ends.
#[derive(Debug, Default)]
struct ConnectionTable(HashMap<SessionId, Arc<Connection>>);

impl Drop for ConnectionTable {
    fn drop(&mut self) {
        for conn in self.0.values() {
            conn.abort();
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
    max_queued_bytes: usize,
    close_grace: Duration,
    /// Connections that got frames this turn and must be woken.
    to_wake: Vec<Arc<Connection>>,
    /// Sessions found over the queue cap while dispatching.
    slow: Vec<SessionId>,
    acks: Vec<(SessionId, usize)>,
}

impl HubTask {
    pub(crate) fn new(
        hub: Hub,
        start: Instant,
        inputs: mpsc::Receiver<Input>,
        inputs_tx: mpsc::WeakSender<Input>,
        events: events::EventSink,
        max_queued_bytes: usize,
        close_grace: Duration,
    ) -> Self {
        HubTask {
            hub,
            start,
            inputs,
            inputs_tx,
            conns: ConnectionTable::default(),
            events,
            max_queued_bytes,
            close_grace,
            to_wake: Vec::new(),
            slow: Vec::new(),
            acks: Vec::new(),
        }
    }

    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    /// Runs until [`Input::Stop`] or until every sender is gone.
    pub(crate) async fn run(mut self) {
        let mut batch = Vec::with_capacity(BATCH);
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
                    if received == 0 {
                        break;
                    }
                    let mut stop = false;
                    for input in batch.drain(..) {
                        stop |= self.handle(input);
                        self.dispatch();
                    }
                    self.wake_writers();
                    if stop {
                        break;
                    }
                }
                () = &mut timer, if armed.is_some() => {
                    let now = self.now();
                    report(self.hub.handle_timeout(now));
                    armed = None;
                    self.dispatch();
                    self.wake_writers();
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
            Input::Data { session, bytes } => {
                let result = self.hub.handle_data(now, session, &bytes);
                report(result);
            }
            Input::Closed { session } => {
                let result = self.hub.handle_close(now, session);
                report(result);
                if let Some(conn) = self.conns.0.remove(&session) {
                    conn.abort();
                }
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
        stream: TcpStream,
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
        let conn = Arc::new(Connection::new(stream, session, permit));
        self.conns.0.insert(session, conn.clone());
        tokio::spawn(writer::write_loop(conn.clone()));
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
                let result = match self.hub.session_by_peer(&session_id) {
                    Some(id) => self.hub.send_to_session(id, &*message),
                    None => Err(HubError::UnknownSessionId(session_id)),
                };
                let _ = reply.send(result);
            }
            Command::CloseSession { session_id, reply } => {
                let result = match self.hub.session_by_peer(&session_id) {
                    Some(id) => self.hub.close_session(id, CloseReason::ClosedByHost),
                    None => Err(HubError::UnknownSessionId(session_id)),
                };
                let _ = reply.send(result);
            }
            Command::Sessions { reply } => {
                let rows = self
                    .hub
                    .sessions()
                    .map(|s| SessionEntry {
                        session_id: s.peer.to_string(),
                        client_name: s.alias.map(|a| a.to_string()),
                    })
                    .collect();
                let _ = reply.send(rows);
            }
        }
    }

    /// Carries out everything the hub asked for.
    fn dispatch(&mut self) {
        loop {
            while let Some(output) = self.hub.poll_output() {
                match output {
                    Output::Transmit { session, frame } => {
                        // Interim: counted as written at once (no flow
                        // control yet in this driver).
                        self.acks.push((session, frame.len()));
                        self.transmit(session, frame)
                    }
                    Output::Close {
                        session, farewell, ..
                    } => {
                        if let Some(conn) = self.conns.0.remove(&session) {
                            conn.push(farewell, usize::MAX);
                            conn.close_after_flush(deadline_after(self.close_grace));
                            self.to_wake.push(conn);
                        }
                    }
                    Output::PauseReading { .. } | Output::ResumeReading { .. } => {}
                    Output::Event(event) => self.events.emit(event),
                }
            }
            let now = self.now();
            let acks = std::mem::take(&mut self.acks);
            for &(session, len) in &acks {
                report(self.hub.handle_written(now, session, len));
            }
            if !acks.is_empty() {
                continue;
            }
            if self.slow.is_empty() {
                return;
            }
            for session in std::mem::take(&mut self.slow) {
                // Its queue is already dropped; the hub reports the close
                // (event, log) and forgets the session.
                let result = self.hub.close_session(session, CloseReason::SlowConsumer);
                report(result);
            }
        }
    }

    fn transmit(&mut self, session: SessionId, frame: Bytes) {
        let Some(conn) = self.conns.0.get(&session) else {
            return;
        };
        match conn.push(frame, self.max_queued_bytes) {
            Push::Queued { was_empty: true } => self.to_wake.push(conn.clone()),
            Push::Queued { was_empty: false } | Push::Closed => {}
            Push::Overflow => {
                warn!(
                    session = %session,
                    limit = self.max_queued_bytes,
                    "slow consumer: send queue over its limit; closing the session"
                );
                if let Some(conn) = self.conns.0.remove(&session) {
                    conn.abort();
                }
                self.slow.push(session);
            }
        }
    }

    fn wake_writers(&mut self) {
        for conn in self.to_wake.drain(..) {
            if conn.flush_in_place() {
                conn.wake_writer();
            }
        }
    }
}

/// A hub error from driving it. `UnknownSession` is expected when a socket
/// read races a close the hub decided; anything else is a bug.
fn report(result: Result<(), HubError>) {
    match result {
        Ok(()) | Err(HubError::UnknownSession(_)) => {}
        Err(e) => error!(error = %e, "hub rejected a driver call"),
    }
}
