//! `tcphub.Hub`: the sans-IO core for Python programs that bring their own IO.
//!
//! A thin wrapper: every method is one core call, and `poll()` drains the
//! core's outputs into one list so the boundary is crossed once per input.
//! Nothing is decided here: what the driver writes, when it stops reading
//! and how it closes are the core's outputs, one Python object each.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use tcphub_core::{
    AuthRequest, AuthRequestId, CloseReason, Hub as CoreHub, HubError, Output, SessionHandle,
    Unsent,
};

use crate::errors::{error, hub_error};
use crate::events::{to_py, Takeovers};
use crate::grant::read_decision;
use crate::json::to_raw;
use crate::options::{
    self, count, hub_config, HubOptions, LimitOptions, Number, RequestOptions, Seconds,
};
use crate::repr::repr_str;
use crate::request_reply::reply_address;
use crate::session::Session;

/// Bytes to write to one session's connection.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Transmit {
    /// The session to write to.
    handle: u64,
    /// One complete NDJSON line. A frame for many sessions is one shared
    /// `bytes` object.
    data: Py<PyBytes>,
}

#[pymethods]
impl Transmit {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("handle", "data")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Transmit(handle={}, data={})",
            self.handle,
            self.data.bind(py).repr()?
        ))
    }
}

/// Close the session's connection: deal with what is queued for it as
/// `unsent` says, write `farewell` after it, then close (FIN, not a reset).
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Close {
    /// The session to close; the hub has already forgotten it.
    handle: u64,
    /// Why, as also reported by the `Disconnected` event.
    reason: &'static str,
    /// The session's one last frame: an `error` when the peer caused the
    /// close, else a `bye`.
    farewell: Py<PyBytes>,
    /// `"send"`: write everything still queued, then the farewell.
    /// `"discard"`: finish the frame being written, drop the frames not
    /// yet started (the peer is not reading them), then the farewell.
    unsent: &'static str,
}

#[pymethods]
impl Close {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("handle", "reason", "farewell", "unsent")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Close(handle={}, reason={}, farewell={}, unsent={})",
            self.handle,
            repr_str(py, self.reason),
            self.farewell.bind(py).repr()?,
            repr_str(py, self.unsent)
        ))
    }
}

/// Stop reading from the session's connection until `ResumeReading`: what
/// it sends fills a queue faster than the queue drains. TCP then pushes back
/// on the peer. Bytes already read may still be passed to `receive`.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct PauseReading {
    /// The session not to read from.
    handle: u64,
}

#[pymethods]
impl PauseReading {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("handle",)
    }

    fn __repr__(&self) -> String {
        format!("PauseReading(handle={})", self.handle)
    }
}

/// Read from the session's connection again.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct ResumeReading {
    /// The session to read from.
    handle: u64,
}

#[pymethods]
impl ResumeReading {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("handle",)
    }

    fn __repr__(&self) -> String {
        format!("ResumeReading(handle={})", self.handle)
    }
}

/// Check a session's credential, then answer with
/// `Hub.handle_auth_decision(id, True | False | Grant)`: a session asks for
/// `alias` with `token`. The session waits meanwhile (its input kept), at
/// most `auth_timeout`.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Authenticate {
    /// The question's number: quote it in the answer.
    id: u64,
    /// The session asking.
    handle: u64,
    /// Its session id (peer address).
    session_id: String,
    /// The alias it asks for, already checked against the alias rules.
    alias: String,
    /// The credential, exactly as sent.
    token: String,
}

impl From<AuthRequest> for Authenticate {
    fn from(request: AuthRequest) -> Self {
        Authenticate {
            id: request.id.0,
            handle: request.handle.0,
            session_id: request.session_id.to_string(),
            alias: request.alias.as_str().to_owned(),
            token: request.token.into(),
        }
    }
}

#[pymethods]
impl Authenticate {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("id", "handle", "alias", "token")
    }

    /// The token is a secret: never shown.
    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Authenticate(id={}, handle={}, session_id={}, alias={})",
            self.id,
            self.handle,
            repr_str(py, &self.session_id),
            repr_str(py, &self.alias)
        )
    }
}

/// A session named by its handle (`int`) or its session id (`str`).
#[derive(Debug, FromPyObject)]
pub enum SessionRef {
    Handle(u64),
    SessionId(String),
}

/// The sans-IO hub: the core state machine, for programs that do their own IO.
///
/// It never touches a socket or reads a clock of its own. The run loop:
///
/// 1. Feed it what happens: `handle = hub.accept("127.0.0.1:53412")` when a
///    connection arrives (the peer address is the session id); `hub.receive(handle, data)` for every chunk read
///    from it; `hub.handle_eof(handle)` when the peer half-closes (a read
///    returns no bytes); `hub.connection_lost(handle)` when the connection
///    fails; `hub.handle_written(handle, nbytes)` as bytes handed out reach
///    the socket; `hub.handle_timeout()` when `hub.poll_timeout()` comes
///    due. Host commands: `broadcast`, `send`, `send_to_session`,
///    `join_room`, `leave_room`, `send_to_room`, `close_session`, `shutdown`.
/// 2. After each of them, `for action in hub.poll():` queue each
///    `Transmit`'s `data` on its connection; stop and resume reading on
///    `PauseReading` and `ResumeReading`; on `Close`, write what is queued
///    (or drop the frames not started, when `unsent == "discard"`), then
///    `farewell`, then close; check each `Authenticate`'s credential (a hub
///    made with `authentication=True`) and answer it with
///    `handle_auth_decision`; hand the events to the program.
///
/// Every byte of a `Transmit` counts against its session's queue until the
/// driver reports it written: that is how the hub paces senders to their
/// readers and finds readers that stopped reading (`write_deadline`). A
/// driver that writes with a blocking `sock.sendall` reports each frame
/// right after sending it.
///
/// Time: methods taking `now` read it as seconds on the driver's monotonic
/// clock (`time.monotonic()`, `loop.time()`); leave it out everywhere to use
/// the hub's own clock instead, the seconds since the hub was made, which
/// `hub.now()` reads. `poll_timeout()` answers on whichever clock drives the
/// hub, so the wait for the next `handle_timeout` is
/// `max(0, hub.poll_timeout() - hub.now())` on the hub's clock. The first
/// call that takes `now` settles the clock: a later call on the other one
/// raises `tcphub.Error` naming both, since mixing them closes sessions as
/// idle at once or sends time backwards.
///
/// Sessions are named by their handle, the `int` `accept` returns. The
/// host commands `send_to_session` and `close_session` also take a session
/// id (`str`), as `Server`'s do; `handle_of` turns one into the other.
///
/// Options, as for `tcphub.Server`: `alias_policy` ("takeover", "reject"
/// or "share"), `max_frame_bytes`, `max_sessions`, `idle_timeout` (seconds;
/// None or inf: off), `relay`, `max_queued_bytes`, `write_deadline` and
/// `frame_timeout` (seconds; None or inf: off), `max_list_rows`,
/// `high_watermark`, `low_watermark`, `observe`, `max_rooms_per_session`,
/// `max_watched_aliases`, `max_last_will_bytes`, `rate_limit_messages`,
/// `rate_limit_message_burst`, `rate_limit_bytes`, `rate_limit_bytes_burst`,
/// `max_connections_per_address` (None: off), `authentication` (every
/// `sync` must carry a `token`, handed out as `Authenticate`) and
/// `auth_timeout` (seconds, 0.001 to 3600).
#[pyclass(module = "tcphub")]
#[derive(Debug)]
pub struct Hub {
    core: CoreHub,
    /// The hub's own clock, used when a caller passes no `now`.
    started: Instant,
    /// Which clock drives the hub, settled by the first call taking `now`:
    /// the two clocks have different epochs, so one value from each in
    /// turn would look like a jump of years or time going backwards.
    clock: Clock,
    /// Sees every event `poll` hands out, for `Synced.took_over_from`.
    takeovers: Takeovers,
}

/// The clock a `Hub` is driven by.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// No call has taken `now` yet.
    Unsettled,
    /// `now` is left out: the hub's own clock, `Hub::started`.
    Own,
    /// The driver passes `now` from its clock; the last one it passed, for
    /// the error that names both clocks.
    Drivers(Duration),
}

impl Hub {
    /// The time for `call`: the driver's `now`, or the hub's own clock when
    /// it is left out; the same clock as every call before.
    fn time(&mut self, py: Python<'_>, call: &str, now: Option<Seconds>) -> PyResult<Duration> {
        let own = self.started.elapsed();
        match (now, self.clock) {
            (None, Clock::Unsettled | Clock::Own) => {
                self.clock = Clock::Own;
                Ok(own)
            }
            (Some(secs), Clock::Unsettled | Clock::Drivers(_)) => {
                let now = options::now(py, secs)?;
                self.clock = Clock::Drivers(now);
                Ok(now)
            }
            (Some(secs), Clock::Own) => Err(error(
                py,
                "Error",
                format!(
                    "{call}(now={}) mixes two clocks: this hub runs on its own clock \
                     (hub.now() = {:.3} s since it was made), as now was left out before; \
                     pass now to every call that takes it, or to none",
                    secs.0,
                    own.as_secs_f64(),
                ),
            )),
            (None, Clock::Drivers(last)) => Err(error(
                py,
                "Error",
                format!(
                    "{call}() without now mixes two clocks: this hub runs on the driver's clock \
                     (now={:.3} s last), as now was passed before, and leaving it out means the \
                     hub's own clock (hub.now() = {:.3} s since it was made); pass now to every \
                     call that takes it, or to none",
                    last.as_secs_f64(),
                    own.as_secs_f64()
                ),
            )),
        }
    }

    fn resolve(&self, py: Python<'_>, session: SessionRef) -> PyResult<SessionHandle> {
        match session {
            SessionRef::Handle(handle) => Ok(SessionHandle(handle)),
            SessionRef::SessionId(id) => self.handle_of(py, &id).map(SessionHandle),
        }
    }
}

/// The option extractors of `Hub(...)`: each raises `ConfigError` naming
/// its option and the value given when the value has the wrong type, as a
/// value out of range does (pyo3's own `TypeError` names neither plainly).
mod args {
    use pyo3::prelude::*;

    use crate::options::{wrong_type, Number, Seconds};

    macro_rules! extractors {
        ($($name:ident: $ty:ty;)*) => {$(
            pub fn $name(obj: &Bound<'_, PyAny>) -> PyResult<$ty> {
                obj.extract::<$ty>()
                    .map_err(|e| wrong_type(obj, stringify!($name), e))
            }
        )*};
    }

    extractors! {
        alias_policy: String;
        max_frame_bytes: Number;
        max_sessions: Number;
        idle_timeout: Option<Seconds>;
        relay: bool;
        max_queued_bytes: Number;
        write_deadline: Option<Seconds>;
        frame_timeout: Option<Seconds>;
        max_list_rows: Number;
        high_watermark: Number;
        low_watermark: Number;
        observe: bool;
        max_rooms_per_session: Number;
        max_watched_aliases: Number;
        max_last_will_bytes: Number;
        rate_limit_messages: Option<Number>;
        rate_limit_message_burst: Option<Number>;
        rate_limit_bytes: Option<Number>;
        rate_limit_bytes_burst: Option<Number>;
        max_connections_per_address: Option<Number>;
        authentication: bool;
        auth_timeout: Seconds;
        request_timeout: Seconds;
        max_request_timeout: Seconds;
        max_pending_requests: Number;
    }
}

#[pymethods]
impl Hub {
    #[new]
    #[pyo3(signature = (
        *, alias_policy="takeover".to_owned(), max_frame_bytes=Number::Whole(65536),
        max_sessions=Number::Whole(100_000), idle_timeout=None, relay=true,
        max_queued_bytes=Number::Whole(67_108_864), write_deadline=Some(Seconds(10.0)),
        frame_timeout=Some(Seconds(30.0)), max_list_rows=Number::Whole(1000),
        high_watermark=Number::Whole(524_288), low_watermark=Number::Whole(131_072),
        observe=false, max_rooms_per_session=Number::Whole(64),
        max_watched_aliases=Number::Whole(1000), max_last_will_bytes=Number::Whole(4096),
        rate_limit_messages=None, rate_limit_message_burst=None, rate_limit_bytes=None,
        rate_limit_bytes_burst=None, max_connections_per_address=None, authentication=false,
        auth_timeout=Seconds(10.0), request_timeout=Seconds(5.0),
        max_request_timeout=Seconds(60.0), max_pending_requests=Number::Whole(64)
    ))]
    #[pyo3(
        text_signature = "(*, alias_policy='takeover', max_frame_bytes=65536, max_sessions=100000, idle_timeout=None, relay=True, max_queued_bytes=67108864, write_deadline=10.0, frame_timeout=30.0, max_list_rows=1000, high_watermark=524288, low_watermark=131072, observe=False, max_rooms_per_session=64, max_watched_aliases=1000, max_last_will_bytes=4096, rate_limit_messages=None, rate_limit_message_burst=None, rate_limit_bytes=None, rate_limit_bytes_burst=None, max_connections_per_address=None, authentication=False, auth_timeout=10.0, request_timeout=5.0, max_request_timeout=60.0, max_pending_requests=64)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        #[pyo3(from_py_with = args::alias_policy)] alias_policy: String,
        #[pyo3(from_py_with = args::max_frame_bytes)] max_frame_bytes: Number,
        #[pyo3(from_py_with = args::max_sessions)] max_sessions: Number,
        #[pyo3(from_py_with = args::idle_timeout)] idle_timeout: Option<Seconds>,
        #[pyo3(from_py_with = args::relay)] relay: bool,
        #[pyo3(from_py_with = args::max_queued_bytes)] max_queued_bytes: Number,
        #[pyo3(from_py_with = args::write_deadline)] write_deadline: Option<Seconds>,
        #[pyo3(from_py_with = args::frame_timeout)] frame_timeout: Option<Seconds>,
        #[pyo3(from_py_with = args::max_list_rows)] max_list_rows: Number,
        #[pyo3(from_py_with = args::high_watermark)] high_watermark: Number,
        #[pyo3(from_py_with = args::low_watermark)] low_watermark: Number,
        #[pyo3(from_py_with = args::observe)] observe: bool,
        #[pyo3(from_py_with = args::max_rooms_per_session)] max_rooms_per_session: Number,
        #[pyo3(from_py_with = args::max_watched_aliases)] max_watched_aliases: Number,
        #[pyo3(from_py_with = args::max_last_will_bytes)] max_last_will_bytes: Number,
        #[pyo3(from_py_with = args::rate_limit_messages)] rate_limit_messages: Option<Number>,
        #[pyo3(from_py_with = args::rate_limit_message_burst)] rate_limit_message_burst: Option<
            Number,
        >,
        #[pyo3(from_py_with = args::rate_limit_bytes)] rate_limit_bytes: Option<Number>,
        #[pyo3(from_py_with = args::rate_limit_bytes_burst)] rate_limit_bytes_burst: Option<Number>,
        #[pyo3(from_py_with = args::max_connections_per_address)]
        max_connections_per_address: Option<Number>,
        #[pyo3(from_py_with = args::authentication)] authentication: bool,
        #[pyo3(from_py_with = args::auth_timeout)] auth_timeout: Seconds,
        #[pyo3(from_py_with = args::request_timeout)] request_timeout: Seconds,
        #[pyo3(from_py_with = args::max_request_timeout)] max_request_timeout: Seconds,
        #[pyo3(from_py_with = args::max_pending_requests)] max_pending_requests: Number,
    ) -> PyResult<Self> {
        let mut config = hub_config(
            py,
            HubOptions {
                alias_policy: &alias_policy,
                max_frame_bytes,
                max_sessions,
                idle_timeout,
                relay,
                max_queued_bytes,
                write_deadline,
                frame_timeout,
                max_list_rows,
                high_watermark,
                low_watermark,
                observe,
                max_rooms_per_session,
                max_watched_aliases,
                max_last_will_bytes,
                authentication,
                auth_timeout,
                limits: LimitOptions {
                    rate_limit_messages,
                    rate_limit_message_burst,
                    rate_limit_bytes,
                    rate_limit_bytes_burst,
                    max_connections_per_address,
                },
                requests: RequestOptions {
                    request_timeout,
                    max_request_timeout,
                    max_pending_requests,
                },
            },
        )?;
        // Its host feeds it bytes from peers, who choose the aliases.
        config.hash_seed = tcphub_native::os_random_u64();
        let core = CoreHub::new(config).map_err(|e| hub_error(py, e))?;
        Ok(Hub {
            core,
            started: Instant::now(),
            clock: Clock::Unsettled,
            takeovers: Takeovers::default(),
        })
    }

    /// A connection was accepted from the peer address `session_id`,
    /// which becomes the session id; returns the session's handle.
    #[pyo3(signature = (session_id, now=None))]
    fn accept(&mut self, py: Python<'_>, session_id: &str, now: Option<Seconds>) -> PyResult<u64> {
        let now = self.time(py, "accept", now)?;
        self.core
            .handle_accept(now, session_id)
            .map(|handle| handle.0)
            .map_err(|e| hub_error(py, e))
    }

    /// The handle of the open session with this session id;
    /// `UnknownSessionError` when none has it.
    fn handle_of(&self, py: Python<'_>, session_id: &str) -> PyResult<u64> {
        self.core
            .handle_of(session_id)
            .map(|handle| handle.0)
            .map_err(|e| hub_error(py, e))
    }

    /// Bytes arrived from the session's peer.
    #[pyo3(signature = (handle, data, now=None))]
    fn receive(
        &mut self,
        py: Python<'_>,
        handle: u64,
        data: &[u8],
        now: Option<Seconds>,
    ) -> PyResult<()> {
        let now = self.time(py, "receive", now)?;
        self.core
            .handle_data(now, SessionHandle(handle), data)
            .map_err(|e| hub_error(py, e))
    }

    /// The peer half-closed: it sends nothing more. Everything it sent is
    /// still answered; then the session closes with `peer_closed`.
    #[pyo3(signature = (handle, now=None))]
    fn handle_eof(&mut self, py: Python<'_>, handle: u64, now: Option<Seconds>) -> PyResult<()> {
        let now = self.time(py, "handle_eof", now)?;
        self.core
            .handle_eof(now, SessionHandle(handle))
            .map_err(|e| hub_error(py, e))
    }

    /// `nbytes` of what `poll` handed out for the session reached its
    /// socket. A report for a session the hub has closed is ignored.
    #[pyo3(signature = (handle, nbytes, now=None))]
    fn handle_written(
        &mut self,
        py: Python<'_>,
        handle: u64,
        nbytes: Number,
        now: Option<Seconds>,
    ) -> PyResult<()> {
        let nbytes = count(py, "nbytes", nbytes)?;
        let now = self.time(py, "handle_written", now)?;
        match self.core.handle_written(now, SessionHandle(handle), nbytes) {
            // The driver still flushes a closed session's queue; the hub
            // forgot it at the Close and has nothing to count.
            Ok(()) | Err(HubError::UnknownHandle(_)) => Ok(()),
            Err(e) => Err(hub_error(py, e)),
        }
    }

    /// The peer closed the connection, or it failed. No `Close` follows.
    #[pyo3(signature = (handle, now=None))]
    fn connection_lost(
        &mut self,
        py: Python<'_>,
        handle: u64,
        now: Option<Seconds>,
    ) -> PyResult<()> {
        let now = self.time(py, "connection_lost", now)?;
        self.core
            .handle_close(now, SessionHandle(handle))
            .map_err(|e| hub_error(py, e))
    }

    /// Time passed: fires the idle timeout, the frame timeout and the
    /// write deadline where they are due.
    #[pyo3(signature = (now=None))]
    fn handle_timeout(&mut self, py: Python<'_>, now: Option<Seconds>) -> PyResult<()> {
        let now = self.time(py, "handle_timeout", now)?;
        self.core.handle_timeout(now).map_err(|e| hub_error(py, e))
    }

    /// The hub's own clock: seconds since it was made, the time every call
    /// uses when `now` is left out, and so the clock `poll_timeout()`
    /// answers on for such a driver. Reading it settles nothing.
    fn now(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// When `handle_timeout` is due next, on the clock that drives the hub
    /// (the driver's `now`, or `hub.now()`'s); `None` when no timer runs.
    fn poll_timeout(&self) -> Option<f64> {
        self.core.poll_timeout().map(|d| d.as_secs_f64())
    }

    /// Bytes handed out for the session and not yet reported written.
    fn queued_bytes(&self, py: Python<'_>, handle: u64) -> PyResult<usize> {
        self.core
            .queued_bytes(SessionHandle(handle))
            .ok_or_else(|| hub_error(py, HubError::UnknownHandle(SessionHandle(handle))))
    }

    /// What the hub has counted since it was made, and what it holds now,
    /// as one dict under the metric names of docs/metrics.md.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        crate::stats::to_dict(py, &self.core.stats())
    }

    /// Sends `message` from the host to every session; returns how many.
    fn broadcast(&mut self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        self.core.broadcast(&raw).map_err(|e| hub_error(py, e))
    }

    /// Sends `message` from the host to every session holding `alias`.
    fn send(&mut self, py: Python<'_>, alias: &str, message: &Bound<'_, PyAny>) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        self.core
            .send_to_alias(alias, &raw)
            .map_err(|e| hub_error(py, e))
    }

    /// Sends `message` from the host to one session; returns how many it
    /// was queued for, as `broadcast` and `send` do: 1 (else it raises).
    fn send_to_session(
        &mut self,
        py: Python<'_>,
        session: SessionRef,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let handle = self.resolve(py, session)?;
        let raw = to_raw(py, message)?;
        self.core
            .send_to_session(handle, &raw)
            .map(|()| 1)
            .map_err(|e| hub_error(py, e))
    }

    /// Puts a session in `room`, as if it had sent `join`; False when it
    /// was a member already.
    fn join_room(&mut self, py: Python<'_>, session: SessionRef, room: &str) -> PyResult<bool> {
        let handle = self.resolve(py, session)?;
        self.core
            .join_room(handle, room)
            .map_err(|e| hub_error(py, e))
    }

    /// Takes a session out of `room`; False when it was not a member.
    /// `InvalidRoomError` for a name breaking the room rules.
    fn leave_room(&mut self, py: Python<'_>, session: SessionRef, room: &str) -> PyResult<bool> {
        let handle = self.resolve(py, session)?;
        self.core
            .leave_room(handle, room)
            .map_err(|e| hub_error(py, e))
    }

    /// Sends `message` from the host to every member of `room`; returns
    /// how many. `UnknownRoomError` when nobody is in it,
    /// `InvalidRoomError` for a name breaking the room rules.
    fn send_to_room(
        &mut self,
        py: Python<'_>,
        room: &str,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        self.core
            .send_to_room(room, &raw)
            .map_err(|e| hub_error(py, e))
    }

    /// Answers a `Request` event (by its `reply_to`) with `message`.
    /// `UnknownRequestError` when the request no longer waits: answered,
    /// timed out, or its sender left.
    fn reply(
        &mut self,
        py: Python<'_>,
        reply_to: &str,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let address = reply_address(py, reply_to)?;
        let raw = to_raw(py, message)?;
        self.core
            .reply(&address, &raw)
            .map_err(|e| hub_error(py, e))
    }

    /// Every room with members, by name, with its member count.
    fn rooms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for (room, members) in self.core.rooms() {
            out.set_item(room.as_str(), members)?;
        }
        Ok(out)
    }

    /// The members of `room`, oldest first; none for a room nobody is in.
    fn room_members(&self, room: &str) -> Vec<Session> {
        self.core
            .room_members(room)
            .map(|s| Session::from(tcphub_core::SessionEntry::from(s)))
            .collect()
    }

    /// Says `bye` to a session and closes it, with `reason` (one of
    /// `tcphub.CLOSE_REASONS`) as the bye's reason.
    #[pyo3(signature = (session, reason=CloseReason::ClosedByHost.as_str()))]
    #[pyo3(text_signature = "($self, session, reason='closed_by_host')")]
    fn close_session(&mut self, py: Python<'_>, session: SessionRef, reason: &str) -> PyResult<()> {
        let handle = self.resolve(py, session)?;
        let reason = close_reason(py, reason)?;
        self.core
            .close_session(handle, reason)
            .map_err(|e| hub_error(py, e))
    }

    /// Answers the `Authenticate` numbered `id`: `True` (the alias with
    /// every permission, as the identity the alias names), a `Grant`, or
    /// `False` (the client is told `unauthorized`). False when the
    /// question is no longer open (its deadline passed or its session
    /// closed): the answer is ignored.
    #[pyo3(signature = (id, decision, now=None))]
    fn handle_auth_decision(
        &mut self,
        py: Python<'_>,
        id: u64,
        decision: &Bound<'_, PyAny>,
        now: Option<Seconds>,
    ) -> PyResult<bool> {
        let decision = read_decision(decision)?;
        let now = self.time(py, "handle_auth_decision", now)?;
        self.core
            .handle_auth_decision(now, AuthRequestId(id), decision)
            .map_err(|e| hub_error(py, e))
    }

    /// Says `bye` to every session; later connections are refused.
    fn shutdown(&mut self) {
        self.core.shutdown();
    }

    /// Every open session, oldest first.
    fn sessions(&self) -> Vec<Session> {
        self.core
            .sessions()
            .map(|s| Session::from(tcphub_core::SessionEntry::from(s)))
            .collect()
    }

    /// How many sessions are open.
    fn __len__(&self) -> usize {
        self.core.session_count()
    }

    /// Everything the driver must do, in order: `Transmit`, `PauseReading`,
    /// `ResumeReading`, `Close` and events. Call after every input.
    fn poll<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        // One bytes object per distinct frame: a broadcast shares one.
        let mut last: Option<(Bytes, Py<PyBytes>)> = None;
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit { handle, frame } => {
                    let data = match &last {
                        Some((bytes, obj))
                            if bytes.as_ptr() == frame.as_ptr() && bytes.len() == frame.len() =>
                        {
                            obj.clone_ref(py)
                        }
                        _ => {
                            let obj = PyBytes::new(py, &frame).unbind();
                            last = Some((frame, obj.clone_ref(py)));
                            obj
                        }
                    };
                    out.append(Transmit {
                        handle: handle.0,
                        data,
                    })?;
                }
                Output::Close {
                    handle,
                    reason,
                    farewell,
                    unsent,
                } => out.append(Close {
                    handle: handle.0,
                    reason: reason.as_str(),
                    farewell: PyBytes::new(py, &farewell).unbind(),
                    unsent: match unsent {
                        Unsent::Send => "send",
                        Unsent::Discard => "discard",
                    },
                })?,
                Output::PauseReading { handle } => out.append(PauseReading { handle: handle.0 })?,
                Output::ResumeReading { handle } => {
                    out.append(ResumeReading { handle: handle.0 })?
                }
                Output::Authenticate(request) => out.append(Authenticate::from(request))?,
                Output::Event(event) => {
                    let took_over_from = self.takeovers.see(&event);
                    out.append(to_py(py, event, took_over_from)?)?
                }
            }
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("Hub(sessions={})", self.core.session_count())
    }
}

/// A close reason by its name, one of `CloseReason::ALL` (the tuple
/// `tcphub.CLOSE_REASONS`).
fn close_reason(py: Python<'_>, name: &str) -> PyResult<CloseReason> {
    CloseReason::ALL
        .into_iter()
        .find(|r| r.as_str() == name)
        .ok_or_else(|| {
            let names = CloseReason::ALL.map(CloseReason::as_str);
            error(
                py,
                "ConfigError",
                format!(
                    "unknown close reason {name:?}: expected one of tcphub.CLOSE_REASONS ({})",
                    names.join(", ")
                ),
            )
        })
}
