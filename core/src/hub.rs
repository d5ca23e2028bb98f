//! The hub state machine: session table, alias sync and routing.
//!
//! Rules that govern every transition:
//! - The hub only reacts. Each `handle_*` call or host command queues
//!   [`Output`]s; nothing happens between calls, and no clock is read.
//! - A session is in the table from its accept until it closes; once an
//!   [`Output::Close`] or [`Event::Closed`] names it, no output names it again.
//! - A session holds at most one alias, and the alias table lists exactly the
//!   sessions whose alias it is.
//! - A peer's mistake is answered with an `error` frame to that peer alone;
//!   it closes the session only when the stream cannot go on (a frame over
//!   the limit). It never reaches the driver as an `Err`.
//! - Iteration follows accept order, so the same inputs give the same
//!   outputs, byte for byte, everywhere.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::alias::{Alias, BROADCAST_TARGET};
use crate::alias_table::{AliasTable, Claim};
use crate::config::HubConfig;
use crate::decoder::Decoded;
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::{CloseReason, Event, Output};
use crate::frame::{hub_encode as encode, ClientFrame, SessionEntry};
use crate::idle::IdleTimer;
use crate::session::{Session, SessionId, SessionInfo, SessionTable};

/// The sans-IO hub. See the [crate documentation](crate) for the run loop.
///
/// Methods come in four families, as in quinn-proto:
/// - getters (`&self`): [`session`](Hub::session), [`sessions`](Hub::sessions),
///   [`poll_timeout`](Hub::poll_timeout), ...;
/// - `handle_*`: input from the network or a timer, each taking `now`;
/// - host commands: [`broadcast`](Hub::broadcast),
///   [`send_to_alias`](Hub::send_to_alias), [`close_session`](Hub::close_session), ...;
/// - [`poll_output`](Hub::poll_output): what the driver must do next.
///
/// After any `handle_*` call or host command, call `poll_output` until it
/// returns `None`, then sleep until the next input or `poll_timeout`.
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    sessions: SessionTable,
    aliases: AliasTable,
    /// Only fed when `config.idle_timeout` is set.
    idle: IdleTimer,
    /// The latest `now` passed in; time may not go back past it.
    now: Duration,
    outputs: VecDeque<Output>,
    /// After [`Hub::shutdown`] new sessions are turned away.
    shutting_down: bool,
}

impl Hub {
    /// A hub with no sessions, after checking `config`.
    pub fn new(config: HubConfig) -> Result<Self, HubError> {
        config.validate()?;
        Ok(Hub {
            config,
            sessions: SessionTable::default(),
            aliases: AliasTable::default(),
            idle: IdleTimer::default(),
            now: Duration::ZERO,
            outputs: VecDeque::new(),
            shutting_down: false,
        })
    }

    // ----- getters -----

    /// The settings the hub runs with.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// How many sessions are open.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// One open session.
    pub fn session(&self, id: SessionId) -> Option<SessionInfo<'_>> {
        self.sessions.get(id).map(|s| s.info(id))
    }

    /// Every open session, oldest first.
    pub fn sessions(&self) -> impl Iterator<Item = SessionInfo<'_>> + '_ {
        self.sessions.iter().map(|(id, s)| s.info(id))
    }

    /// The open session with this peer address (its id on the wire).
    pub fn session_by_peer(&self, peer: &str) -> Option<SessionId> {
        self.sessions.by_peer(peer)
    }

    /// The sessions a message to `alias` would reach.
    pub fn alias_holders(&self, alias: &str) -> &[SessionId] {
        self.aliases.holders(alias)
    }

    /// When the driver must call [`handle_timeout`](Hub::handle_timeout)
    /// next, on the same clock as `now`; `None` when no timer is running.
    pub fn poll_timeout(&self) -> Option<Duration> {
        let timeout = self.config.idle_timeout?;
        Some(self.idle.earliest()? + timeout)
    }

    // ----- input from the network and timers -----

    /// A connection from `peer` (such as `127.0.0.1:53412`) was accepted.
    ///
    /// Returns the new session's handle. When the hub is full or shutting
    /// down the session is refused at once: its outputs are an `error` or
    /// `bye` frame and a [`Output::Close`].
    pub fn handle_accept(&mut self, now: Duration, peer: &str) -> Result<SessionId, HubError> {
        self.advance(now)?;
        if self.sessions.contains_peer(peer) {
            return Err(HubError::DuplicatePeer(peer.to_owned()));
        }
        let id = self.sessions.next_id();
        let peer: Arc<str> = Arc::from(peer);
        self.emit(Event::Opened {
            session: id,
            peer: peer.clone(),
        });
        let refusal = if self.shutting_down {
            Some(CloseReason::Shutdown)
        } else if self.sessions.len() >= self.config.max_sessions {
            Some(CloseReason::TooManySessions)
        } else {
            None
        };
        if let Some(reason) = refusal {
            let farewell = match reason {
                CloseReason::TooManySessions => encode::too_many_sessions(self.config.max_sessions),
                _ => self.bye(reason),
            };
            self.transmit(id, farewell);
            self.outputs.push_back(Output::Close {
                session: id,
                reason,
            });
            self.emit(Event::Closed {
                session: id,
                peer,
                alias: None,
                reason,
            });
            return Ok(id);
        }
        self.sessions
            .insert(id, peer, self.config.max_frame_len, now);
        if self.config.idle_timeout.is_some() {
            self.idle.insert(id, now);
        }
        Ok(id)
    }

    /// Bytes arrived from the session's peer. Any split of a stream into
    /// chunks gives the same outputs as the whole stream at once.
    pub fn handle_data(
        &mut self,
        now: Duration,
        id: SessionId,
        data: &[u8],
    ) -> Result<(), HubError> {
        self.advance(now)?;
        let session = self
            .sessions
            .get_mut(id)
            .ok_or(HubError::UnknownSession(id))?;
        if self.config.idle_timeout.is_some() {
            self.idle.touch(id, session.last_heard, now);
        }
        session.last_heard = now;
        // The decoder lends out frames while routing needs `&mut self`; it
        // is lent out of the session meanwhile and put back at the end.
        let mut decoder = std::mem::take(&mut session.decoder);
        let mut input = data;
        while let Some(item) = decoder.next(&mut input) {
            match item {
                Decoded::Frame(bytes) => match ClientFrame::parse(bytes) {
                    Ok(frame) => self.on_frame(id, frame),
                    Err(error) => self.peer_error(id, error),
                },
                Decoded::Garbage(error) => self.peer_error(id, error),
                Decoded::TooLarge => {
                    let error = PeerError::new(
                        ErrorCode::FrameTooLarge,
                        format!(
                            "more than {} bytes without a complete frame; closing the session",
                            self.config.max_frame_len
                        ),
                    );
                    let farewell = encode::error(&error);
                    self.emit_protocol_error(id, error);
                    self.close(id, CloseReason::FrameTooLarge, farewell);
                    return Ok(());
                }
            }
        }
        if let Some(session) = self.sessions.get_mut(id) {
            session.decoder = decoder;
        }
        Ok(())
    }

    /// The peer closed the connection, or it failed. The session is
    /// forgotten; no [`Output::Close`] follows, the driver knows already.
    pub fn handle_close(&mut self, now: Duration, id: SessionId) -> Result<(), HubError> {
        self.advance(now)?;
        let session = self
            .sessions
            .remove(id)
            .ok_or(HubError::UnknownSession(id))?;
        self.forget(id, session, CloseReason::PeerClosed);
        Ok(())
    }

    /// Time has passed: closes sessions idle for longer than the timeout.
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), HubError> {
        self.advance(now)?;
        let Some(timeout) = self.config.idle_timeout else {
            return Ok(());
        };
        let Some(cutoff) = now.checked_sub(timeout) else {
            return Ok(());
        };
        for id in self.idle.heard_at_or_before(cutoff) {
            self.close(
                id,
                CloseReason::IdleTimeout,
                self.bye(CloseReason::IdleTimeout),
            );
        }
        Ok(())
    }

    // ----- host commands -----

    /// Sends `message` (any serializable value; a `&str` becomes a JSON
    /// string) from the host to every session. The frame is encoded once.
    /// Returns how many sessions it was queued for.
    pub fn broadcast<T: Serialize + ?Sized>(&mut self, message: &T) -> Result<usize, HubError> {
        let frame = encode::host_info(message).map_err(HubError::InvalidMessage)?;
        Ok(fan_out(&mut self.outputs, self.sessions.ids(), frame))
    }

    /// Sends `message` from the host to every session holding `alias`
    /// (several under the `share` policy). Returns how many it reached.
    pub fn send_to_alias<T: Serialize + ?Sized>(
        &mut self,
        alias: &str,
        message: &T,
    ) -> Result<usize, HubError> {
        let holders = self.aliases.holders(alias);
        if holders.is_empty() {
            return Err(HubError::UnknownAlias(alias.to_owned()));
        }
        let frame = encode::host_info(message).map_err(HubError::InvalidMessage)?;
        Ok(fan_out(&mut self.outputs, holders.iter().copied(), frame))
    }

    /// Sends `message` from the host to one session.
    pub fn send_to_session<T: Serialize + ?Sized>(
        &mut self,
        id: SessionId,
        message: &T,
    ) -> Result<(), HubError> {
        if self.sessions.get(id).is_none() {
            return Err(HubError::UnknownSession(id));
        }
        let frame = encode::host_info(message).map_err(HubError::InvalidMessage)?;
        self.transmit(id, frame);
        Ok(())
    }

    /// Closes a session: it is sent a `bye` frame with `reason`, then an
    /// [`Output::Close`] follows. Drivers report a slow consumer this way.
    pub fn close_session(&mut self, id: SessionId, reason: CloseReason) -> Result<(), HubError> {
        if self.sessions.get(id).is_none() {
            return Err(HubError::UnknownSession(id));
        }
        self.close(id, reason, self.bye(reason));
        Ok(())
    }

    /// Says `bye` to every session and closes it; later accepts are refused.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        let ids: Vec<SessionId> = self.sessions.ids().collect();
        for id in ids {
            self.close(id, CloseReason::Shutdown, self.bye(CloseReason::Shutdown));
        }
    }

    // ----- output -----

    /// The next thing the driver must do, in order; `None` when done.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // ----- internals -----

    fn advance(&mut self, now: Duration) -> Result<(), HubError> {
        if now < self.now {
            return Err(HubError::TimeWentBackwards {
                now,
                last: self.now,
            });
        }
        self.now = now;
        Ok(())
    }

    fn on_frame(&mut self, id: SessionId, frame: ClientFrame<'_>) {
        match frame {
            ClientFrame::Sync { client_name } => self.on_sync(id, &client_name),
            ClientFrame::Info { to: None, message } => self.on_message_for_host(id, message),
            ClientFrame::Info {
                to: Some(to),
                message,
            } => self.on_relay(id, &to, message),
            ClientFrame::List => {
                let rows: Vec<SessionEntry> = self
                    .sessions
                    .iter()
                    .map(|(_, s)| SessionEntry {
                        session_id: s.peer.to_string(),
                        client_name: s.alias.as_ref().map(|a| a.to_string()),
                    })
                    .collect();
                self.transmit(id, encode::sessions(&rows));
            }
            ClientFrame::Ping => self.transmit(id, encode::pong()),
        }
    }

    fn on_sync(&mut self, id: SessionId, name: &str) {
        let alias = match Alias::new(name) {
            Ok(alias) => alias,
            Err(error) => return self.peer_error(id, error),
        };
        let session = self.session_mut(id);
        if session.alias.as_ref() == Some(&alias) {
            let frame = encode::synced(alias.as_str(), &session.peer);
            return self.transmit(id, frame);
        }
        let displaced = match self.aliases.claim(&alias, id, self.config.alias_policy) {
            Claim::Granted { displaced } => displaced,
            Claim::Refused => {
                let message = format!(
                    "alias {:?} is already held by another session",
                    alias.as_str()
                );
                return self.peer_error(id, PeerError::new(ErrorCode::AliasTaken, message));
            }
        };
        if let Some(previous) = self.session_mut(id).alias.take() {
            self.release(id, previous);
        }
        for &old in &displaced {
            // The alias table already moved the alias; the old holder's
            // record follows before it is closed below.
            let old_session = self.session_mut(old);
            old_session.set_alias(None);
            let peer = old_session.peer.clone();
            self.emit(Event::Released {
                session: old,
                peer,
                alias: alias.clone(),
            });
        }
        let session = self.session_mut(id);
        session.set_alias(Some(alias.clone()));
        let peer = session.peer.clone();
        self.emit(Event::Synced {
            session: id,
            peer: peer.clone(),
            alias: alias.clone(),
            took_over_from: displaced.first().copied(),
        });
        self.transmit(id, encode::synced(alias.as_str(), &peer));
        for old in displaced {
            let message = format!("alias {:?} was claimed by session {peer}", alias.as_str());
            let farewell = encode::bye(CloseReason::TakenOver.as_str(), &message);
            self.close(old, CloseReason::TakenOver, farewell);
        }
    }

    fn on_message_for_host(&mut self, id: SessionId, message: &RawValue) {
        let session = self.session_mut(id);
        let event = Event::Message {
            session: id,
            peer: session.peer.clone(),
            alias: session.alias.clone(),
            message: message.to_owned(),
        };
        self.emit(event);
    }

    fn on_relay(&mut self, id: SessionId, to: &str, message: &RawValue) {
        if !self.config.relay {
            let error = PeerError::new(
                ErrorCode::RelayDisabled,
                format!("relaying to {to:?} is turned off on this hub; send without \"to\" to reach the host"),
            );
            return self.peer_error(id, error);
        }
        // Borrow fields one by one: the sender's name, the alias table and
        // the output queue are used together below.
        let from_json = &self
            .sessions
            .get(id)
            .expect("routing only runs for sessions in the table")
            .from_json;
        if to == BROADCAST_TARGET {
            let frame = encode::relayed_info(from_json, message.get());
            let others = self.sessions.ids().filter(|other| *other != id);
            fan_out(&mut self.outputs, others, frame);
            return;
        }
        let holders = self.aliases.holders(to);
        if holders.is_empty() {
            let error = PeerError::new(
                ErrorCode::UnknownAlias,
                format!("no session holds alias {to:?}; the message was not delivered"),
            );
            return self.peer_error(id, error);
        }
        let frame = encode::relayed_info(from_json, message.get());
        fan_out(&mut self.outputs, holders.iter().copied(), frame);
    }

    /// The `bye` frame for a close that is not the peer's mistake.
    fn bye(&self, reason: CloseReason) -> Bytes {
        let message = match reason {
            CloseReason::IdleTimeout => match self.config.idle_timeout {
                Some(t) => format!("nothing received for {} ms", t.as_millis()),
                None => "idle for too long".to_owned(),
            },
            CloseReason::ClosedByHost => "closed by the host".to_owned(),
            CloseReason::SlowConsumer => "too much unread data queued for this session".to_owned(),
            CloseReason::Shutdown => "the hub is shutting down".to_owned(),
            CloseReason::TakenOver => "another session claimed this alias".to_owned(),
            CloseReason::TooManySessions => {
                format!("the hub is full ({} sessions)", self.config.max_sessions)
            }
            CloseReason::FrameTooLarge => "frame too large".to_owned(),
            CloseReason::PeerClosed => "connection closed".to_owned(),
        };
        encode::bye(reason.as_str(), &message)
    }

    /// Closes a session the hub decided to close, after sending it
    /// `farewell`: an `error` frame when the peer caused it, else a `bye`.
    fn close(&mut self, id: SessionId, reason: CloseReason, farewell: Bytes) {
        let Some(session) = self.sessions.remove(id) else {
            return;
        };
        self.transmit(id, farewell);
        self.outputs.push_back(Output::Close {
            session: id,
            reason,
        });
        self.forget(id, session, reason);
    }

    /// Drops what the hub knew about a session already out of the table.
    fn forget(&mut self, id: SessionId, session: Session, reason: CloseReason) {
        if self.config.idle_timeout.is_some() {
            self.idle.remove(id, session.last_heard);
        }
        let alias = session.alias.clone();
        if let Some(alias) = &alias {
            self.aliases.release(alias, id);
            self.emit(Event::Released {
                session: id,
                peer: session.peer.clone(),
                alias: alias.clone(),
            });
        }
        self.emit(Event::Closed {
            session: id,
            peer: session.peer,
            alias,
            reason,
        });
    }

    fn release(&mut self, id: SessionId, alias: Alias) {
        self.aliases.release(&alias, id);
        let peer = self.session_mut(id).peer.clone();
        self.emit(Event::Released {
            session: id,
            peer,
            alias,
        });
    }

    fn peer_error(&mut self, id: SessionId, error: PeerError) {
        self.transmit(id, encode::error(&error));
        self.emit_protocol_error(id, error);
    }

    fn emit_protocol_error(&mut self, id: SessionId, error: PeerError) {
        let peer = self.session_mut(id).peer.clone();
        self.emit(Event::ProtocolError {
            session: id,
            peer,
            error,
        });
    }

    fn transmit(&mut self, id: SessionId, frame: Bytes) {
        self.outputs
            .push_back(Output::Transmit { session: id, frame });
    }

    fn emit(&mut self, event: Event) {
        self.outputs.push_back(Output::Event(event));
    }

    /// A session the caller knows is open: routing only runs for sessions
    /// in the table, and nothing removes one before routing finishes.
    fn session_mut(&mut self, id: SessionId) -> &mut Session {
        self.sessions
            .get_mut(id)
            .expect("routing only runs for sessions in the table")
    }
}

/// Queues one frame for every recipient, all sharing its buffer, and
/// returns how many there were. The last recipient takes the frame itself:
/// for the common single recipient, no reference count is set up at all.
fn fan_out(
    outputs: &mut VecDeque<Output>,
    recipients: impl Iterator<Item = SessionId>,
    frame: Bytes,
) -> usize {
    let mut recipients = recipients.peekable();
    let mut count = 0;
    while let Some(session) = recipients.next() {
        count += 1;
        if recipients.peek().is_none() {
            outputs.push_back(Output::Transmit { session, frame });
            break;
        }
        outputs.push_back(Output::Transmit {
            session,
            frame: frame.clone(),
        });
    }
    count
}
