//! The hub state machine: session table, alias sync, routing and flow
//! control.
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
//!   the limit or past its deadline). It never reaches the driver as an `Err`.
//! - Every byte handed out for a session counts against its queue until the
//!   driver reports it written. No input of a session is processed while
//!   its own queue is backed up or while it waits on a backed-up recipient;
//!   what arrives meanwhile is kept, in order, and processed on resume.
//! - Iteration follows accept order, so the same inputs give the same
//!   outputs, byte for byte, everywhere.
//!
//! The methods live in one file per job: `input` (bytes and EOF in),
//! `routing` (what each request does), `rooms` (membership and room
//! messages), `auth` (credentials and permissions), `presence` (watches, presence frames, the host observing),
//! `delivery` (queues and flow control), `host_pace` (waiting for a host
//! that observes), `closing` (closes, last wills and timers).

mod auth;
mod backplane_pace;
mod closing;
mod cluster;
mod delivery;
mod host_pace;
mod input;
mod outputs;
mod presence;
mod requests;
mod rooms;
mod routing;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::alias::Alias;
use crate::alias_table::AliasTable;
use crate::auth::OpenQuestions;
use crate::auth_failures::AuthFailures;
use crate::cluster::RemoteTarget;
use crate::config::HubConfig;
use crate::error::HubError;
use crate::event::{CloseReason, Event, Output, Unsent};
use crate::frame::hub_encode as encode;
use crate::handle::SessionHandle;
use crate::limits::{address_of, RateLimits, SessionLimits};
use crate::presence::Watchers;
use crate::room_table::RoomTable;
use crate::session::{SessionInfo, SessionTable};
use crate::stats::HubStats;
use crate::timers::{Timer, Timers};
use outputs::Outputs;

/// The sans-IO hub. See the [crate documentation](crate) for the run loop.
///
/// Methods come in four families, as in quinn-proto:
/// - getters (`&self`): [`session`](Hub::session), [`sessions`](Hub::sessions),
///   [`poll_timeout`](Hub::poll_timeout), [`stats`](Hub::stats), ...;
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
    rooms: RoomTable,
    /// Who watches which aliases.
    watchers: Watchers,
    /// How many room memberships watch their room: while none do, no
    /// room is searched for watchers.
    room_watches: usize,
    /// Idle and frame deadlines.
    timers: Timers,
    /// How many sessions have bytes queued: while any do, the write
    /// deadline is checked every `write_sweep` (a quarter of the deadline),
    /// which costs the hot path nothing per frame.
    queued_sessions: usize,
    /// When the write deadline is checked next, while any session has a
    /// queue and a deadline is set.
    next_write_sweep: Option<Duration>,
    /// The latest `now` passed in; time may not go back past it.
    now: Duration,
    outputs: Outputs,
    /// Sessions released from waiting during this input, resumed (their
    /// kept input decoded) before the input returns, so no routing runs
    /// inside another.
    to_resume: VecDeque<SessionHandle>,
    /// Sessions whose queue passed the hard cap during this input, closed
    /// before it returns.
    over_cap: VecDeque<SessionHandle>,
    /// Recipients found backed up while a frame was being delivered.
    backed_up_scratch: Vec<SessionHandle>,
    /// After [`Hub::shutdown`] new sessions are turned away.
    shutting_down: bool,
    /// The driver said the host program is behind on events (see
    /// `host_pace`).
    host_behind: bool,
    /// The sessions paused until the host catches up.
    host_holding: Vec<SessionHandle>,
    /// This hub's part of a cluster, when it is a node of one.
    cluster: Option<Box<cluster::ClusterState>>,
    /// Events emitted so far: a frame that raised it gave the host an
    /// event (see `host_pace`).
    emitted: u64,
    /// The rate limits in force; `None` when none is configured, so that
    /// the hot path costs one branch.
    rate_limits: Option<RateLimits>,
    /// Open sessions per IP address, kept only while
    /// `max_connections_per_address` is set.
    per_address: BTreeMap<Box<str>, usize>,
    /// Addresses that presented wrong credentials lately (see
    /// `auth_failures`).
    auth_failures: AuthFailures,
    /// The sessions whose credential the driver was asked about, by
    /// question.
    auth_requests: OpenQuestions,
    last_auth_request: u64,
    /// The number of the latest request (see `requests`).
    last_request: u64,
    /// What the hub has done, for metrics (see `stats`).
    stats: HubStats,
}

impl Hub {
    /// A hub with no sessions, after checking `config`.
    pub fn new(config: HubConfig) -> Result<Self, HubError> {
        config.validate()?;
        let cluster = config
            .node
            .clone()
            .map(|node| Box::new(cluster::ClusterState::new(node)));
        let rate_limits = RateLimits::from_config(&config);
        let aliases = AliasTable::new(config.hash_seed);
        let outputs = Outputs::new(config.merge_transmits);
        Ok(Hub {
            config,
            rate_limits,
            per_address: BTreeMap::new(),
            auth_failures: AuthFailures::default(),
            auth_requests: OpenQuestions::default(),
            last_auth_request: 0,
            last_request: 0,
            sessions: SessionTable::default(),
            aliases,
            rooms: RoomTable::default(),
            watchers: Watchers::default(),
            room_watches: 0,
            timers: Timers::default(),
            queued_sessions: 0,
            next_write_sweep: None,
            now: Duration::ZERO,
            outputs,
            to_resume: VecDeque::new(),
            over_cap: VecDeque::new(),
            backed_up_scratch: Vec::new(),
            shutting_down: false,
            host_behind: false,
            host_holding: Vec::new(),
            emitted: 0,
            cluster,
            stats: HubStats::default(),
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

    /// A copy of the hub's counters, with its gauges (sessions open,
    /// aliases held, bytes queued) as they are now. A copy rather than a
    /// borrow, so a driver can hand it to another task; it is a few
    /// hundred bytes.
    pub fn stats(&self) -> HubStats {
        self.stats
            .clone()
            .with_gauges(self.sessions.len(), self.aliases.len())
    }

    /// One open session.
    pub fn session(&self, handle: SessionHandle) -> Option<SessionInfo<'_>> {
        self.sessions.get(handle).map(|s| s.info(handle))
    }

    /// Every open session, oldest first.
    pub fn sessions(&self) -> impl Iterator<Item = SessionInfo<'_>> + '_ {
        self.sessions.iter().map(|(handle, s)| s.info(handle))
    }

    /// The handle of the open session with this session id (its peer
    /// address, as the wire names it).
    pub fn handle_of(&self, session_id: &str) -> Result<SessionHandle, HubError> {
        self.sessions
            .by_session_id(session_id)
            .ok_or_else(|| HubError::UnknownSessionId(session_id.to_owned()))
    }

    /// The sessions a message to `alias` would reach.
    pub fn alias_holders(&self, alias: &str) -> &[SessionHandle] {
        self.aliases.holders(alias)
    }

    /// Bytes handed out for an open session and not yet reported written.
    pub fn queued_bytes(&self, handle: SessionHandle) -> Option<usize> {
        self.sessions.get(handle).map(|s| s.flow.queued)
    }

    /// Whether the hub has asked the driver not to read from the session.
    pub fn is_reading_paused(&self, handle: SessionHandle) -> Option<bool> {
        self.sessions.get(handle).map(|s| s.flow.reading_paused)
    }

    /// The latest time passed in.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// When the driver must call [`handle_timeout`](Hub::handle_timeout)
    /// next, on the same clock as `now`; `None` when no timer is running.
    pub fn poll_timeout(&self) -> Option<Duration> {
        match (self.timers.earliest(), self.next_write_sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ----- input from the network and timers -----

    /// A connection from `peer` (such as `127.0.0.1:53412`) was accepted.
    ///
    /// Returns the new session's handle. When the hub is full or shutting
    /// down the session is refused at once: its only output is an
    /// [`Output::Close`] whose farewell says why.
    pub fn handle_accept(
        &mut self,
        now: Duration,
        session_id: &str,
    ) -> Result<SessionHandle, HubError> {
        self.advance(now)?;
        // In a cluster a peer address is unique on its node only.
        let scoped;
        let session_id = match &self.cluster {
            Some(cluster) => {
                scoped = format!("{}/{session_id}", cluster.node);
                scoped.as_str()
            }
            None => session_id,
        };
        if self.sessions.contains_session_id(session_id) {
            return Err(HubError::DuplicateSessionId(session_id.to_owned()));
        }
        let handle = self.sessions.next_handle();
        self.stats.opened();
        let session_id: Arc<str> = Arc::from(session_id);
        self.emit(Event::Opened {
            handle,
            session_id: session_id.clone(),
        });
        let refusal = if self.shutting_down {
            Some(CloseReason::Shutdown)
        } else if self.sessions.len() >= self.config.max_sessions {
            Some(CloseReason::TooManySessions)
        } else if self.address_full(&session_id) {
            Some(CloseReason::TooManyConnections)
        } else {
            None
        };
        if let Some(reason) = refusal {
            let farewell = match reason {
                CloseReason::TooManySessions => encode::too_many_sessions(self.config.max_sessions),
                CloseReason::TooManyConnections => encode::too_many_connections(
                    self.config.max_connections_per_address.unwrap_or_default(),
                ),
                _ => self.bye(reason),
            };
            self.stats.farewell(farewell.len());
            self.stats.closed(reason);
            self.outputs.push_back(Output::Close {
                handle,
                reason,
                farewell,
                unsent: Unsent::Send,
            });
            self.emit(Event::Closed {
                handle,
                session_id,
                alias: None,
                reason,
            });
            return Ok(handle);
        }
        if self.config.max_connections_per_address.is_some() {
            *self
                .per_address
                .entry(address_of(&session_id).into())
                .or_default() += 1;
        }
        self.sessions
            .insert(handle, session_id, self.config.max_frame_len);
        if let Some(limits) = &self.rate_limits {
            self.session_mut(handle).limits = Some(Box::new(SessionLimits::new(limits, now)));
        }
        self.note_session(handle);
        self.arm_idle(handle);
        self.arm_sign_in_deadline(handle);
        Ok(handle)
    }

    /// The peer closed the connection, or it failed. The session is
    /// forgotten; no [`Output::Close`] follows, the driver knows already.
    /// (A peer that only half-closed is [`handle_eof`](Hub::handle_eof).)
    pub fn handle_close(&mut self, now: Duration, handle: SessionHandle) -> Result<(), HubError> {
        self.advance(now)?;
        if self.sessions.get(handle).is_none() {
            return Err(HubError::UnknownHandle(handle));
        }
        // A client that said `bye` and closed leaves cleanly even when the
        // hub held its `bye` back unread (the session was paused).
        let reason = if self.held_back_bye(handle) {
            CloseReason::ClientBye
        } else {
            CloseReason::PeerClosed
        };
        self.forget(handle, reason);
        self.settle();
        Ok(())
    }

    /// Time has passed: fires every deadline due by `now` (idle timeout,
    /// frame timeout, write deadline, authentication's turns and deadline,
    /// requests waiting for replies).
    pub fn handle_timeout(&mut self, now: Duration) -> Result<(), HubError> {
        self.advance(now)?;
        // Every deadline due by `now` is taken first: closing one session
        // can send others a last will or a presence frame and pause them,
        // which stops their timers, but a deadline already past stays past.
        for (handle, timer) in self.timers.due(now) {
            if self.sessions.get(handle).is_none() {
                // Its other deadline closed it already.
                continue;
            }
            match timer {
                Timer::Idle => self.close(handle, CloseReason::IdleTimeout),
                Timer::Frame => self.close_frame_timeout(handle),
                Timer::Auth => self.on_auth_timer(handle),
                Timer::Request => self.expire_requests(handle),
            }
        }
        if self.next_write_sweep.is_some_and(|at| at <= now) {
            self.sweep_write_deadlines();
        }
        self.settle();
        Ok(())
    }

    // ----- host commands -----

    /// Sends `message` (any serializable value; a `&str` becomes a JSON
    /// string) from the host to every session (with authentication on,
    /// every session that has signed in). The frame is encoded once.
    /// Returns how many sessions of this hub it was queued for (in a
    /// cluster, the other nodes' sessions are reached through
    /// [`poll_cluster`](Hub::poll_cluster) and not counted).
    ///
    /// Host messages are not paused by flow control (the host is not a
    /// socket to push back on); a session whose queue they push past
    /// `max_queued_bytes` is closed as a slow consumer.
    pub fn broadcast<T: Serialize + ?Sized>(&mut self, message: &T) -> Result<usize, HubError> {
        self.refuse_if_backplane_behind(self.cluster.is_some())?;
        let frame = encode::host_info(message, None).map_err(HubError::InvalidMessage)?;
        self.forward(RemoteTarget::Everyone, &frame);
        let count = self.deliver_to_all(None, frame);
        self.settle();
        Ok(count)
    }

    /// Sends `message` from the host to every session holding `alias`
    /// (several under the `share` policy), on any node of a cluster.
    /// Returns how many of this hub's sessions it reached.
    pub fn send_to_alias<T: Serialize + ?Sized>(
        &mut self,
        alias: &str,
        message: &T,
    ) -> Result<usize, HubError> {
        if self.aliases.holders(alias).is_empty() && !self.held_elsewhere(alias) {
            return Err(HubError::UnknownAlias(alias.to_owned()));
        }
        self.refuse_if_backplane_behind(self.held_elsewhere(alias))?;
        let frame = encode::host_info(message, None).map_err(HubError::InvalidMessage)?;
        if let Ok(alias) = Alias::new(alias) {
            self.forward(RemoteTarget::Alias(alias), &frame);
        }
        let count = self.deliver_to_alias(None, alias, frame);
        self.settle();
        Ok(count)
    }

    /// Sends `message` from the host to one session.
    pub fn send_to_session<T: Serialize + ?Sized>(
        &mut self,
        handle: SessionHandle,
        message: &T,
    ) -> Result<(), HubError> {
        if self.sessions.get(handle).is_none() {
            return Err(HubError::UnknownHandle(handle));
        }
        let frame = encode::host_info(message, None).map_err(HubError::InvalidMessage)?;
        self.transmit(handle, frame);
        self.settle();
        Ok(())
    }

    /// Closes a session: it is sent a `bye` frame with `reason`, then an
    /// [`Output::Close`] follows. Frames still queued are sent first, except
    /// for [`CloseReason::SlowConsumer`], whose are dropped.
    pub fn close_session(
        &mut self,
        handle: SessionHandle,
        reason: CloseReason,
    ) -> Result<(), HubError> {
        if self.sessions.get(handle).is_none() {
            return Err(HubError::UnknownHandle(handle));
        }
        self.close(handle, reason);
        self.settle();
        Ok(())
    }

    /// Says `bye` to every session and closes it; later accepts are refused.
    pub fn shutdown(&mut self) {
        self.shutting_down = true;
        // Everyone is leaving: telling each watcher about every other
        // session's close would queue n*(n-1)/2 presence frames.
        self.forget_all_watches();
        let ids: Vec<SessionHandle> = self.sessions.ids().collect();
        for handle in ids {
            self.close(handle, CloseReason::Shutdown);
        }
        self.settle();
    }

    // ----- output -----

    /// The next thing the driver must do, in order; `None` when done.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    // ----- internals shared by the parts -----

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

    fn emit(&mut self, event: Event) {
        self.emitted += 1;
        self.outputs.push_back(Output::Event(event));
    }

    /// (Re)starts a session's idle timer, when an idle timeout is set.
    fn arm_idle(&mut self, handle: SessionHandle) {
        let Some(timeout) = self.config.idle_timeout else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(handle) {
            let now = self.now;
            self.timers
                .arm(&mut session.timers, handle, Timer::Idle, now, timeout);
        }
    }
}
