//! `tcphub.Client`: a blocking client for scripts and tests, over std::net.
//!
//! The hub's stream is cut into frames by the core's `HubLines`, the one
//! reader of hub output every client uses, and parsed with its `HubFrame`,
//! so the client and the hub share one definition of the wire format. Every wait releases
//! the GIL and wakes a few times a second to let Ctrl-C through.
//!
//! Requests (`sync`, `list`, `ping`, `request`, ...) and the replies that
//! answer them are matched by id as `requests` describes, the same way for
//! this client and `AsyncClient`.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;
use pyo3::prelude::*;
use pyo3::types::PyList;
use tcphub_core::{
    encode_bye, encode_info, encode_room_info, HubFrame, HubLines, LineError, HUB_NAME,
};
use tcphub_native::ClientTlsOptions;

use crate::errors::{error, rejected};
use crate::json::{from_value, to_raw};
use crate::options::{self, count, deadline_after, next_slice, wait, Number, Seconds};
use crate::repr::repr_str;
use crate::request_reply::{self, ReceivedRequest, ReplyTarget, RequestWait};
use crate::requests::{
    answers, list_head, ping_head, request_frame, room_head, sync_head, watch_head, BothScopes,
    Requests, Route,
};
use crate::session::Session;
use crate::targets::{Aliases, LastWill};
use crate::transport::{connect_tls, Filled, ReadHalf, TlsFailed, TlsStart, WriteHalf};

/// A message delivered to this client: from another client (`sender` is its
/// alias, or session id if it has none) or from the host (`sender` is `#hub`).
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Received {
    /// Who sent it.
    sender: String,
    /// The message: str, int, float, bool, None, list or dict.
    message: Py<PyAny>,
    /// The room it was sent to, when it was sent to a room.
    room: Option<String>,
    /// It is the sender's last will: its session ended without a clean `bye`.
    last_will: bool,
}

#[pymethods]
impl Received {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("sender", "message", "room")
    }

    /// Whether the host program (not another client) sent it.
    #[getter]
    // A Python property: the name reads as a question about the message.
    #[allow(clippy::wrong_self_convention)]
    fn from_host(&self) -> bool {
        self.sender == HUB_NAME
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let room = match &self.room {
            Some(room) => format!(", room={}", repr_str(py, room)),
            None => String::new(),
        };
        let will = if self.last_will {
            ", last_will=True"
        } else {
            ""
        };
        Ok(format!(
            "Received(sender={}, message={}{room}{will})",
            repr_str(py, &self.sender),
            self.message.bind(py).repr()?
        ))
    }
}

/// Something this client watches changed: an alias came or went, or a
/// member of a watched room joined, left or closed.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Presence {
    /// What happened: `synced`, `released`, `taken_over`, `joined`,
    /// `left` or `closed` (one of `tcphub.PRESENCE_CHANGES`).
    event: String,
    /// The alias concerned; `None` for a room member that has none.
    alias: Option<String>,
    /// The session concerned.
    session_id: String,
    /// The room, for `joined` and `left`.
    room: Option<String>,
    /// Why the session closed, for `closed` (one of `tcphub.CLOSE_REASONS`).
    reason: Option<String>,
}

#[pymethods]
impl Presence {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("event", "alias", "room", "reason")
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let mut out = format!(
            "Presence(event={}, alias={}, session_id={}",
            repr_str(py, &self.event),
            crate::repr::repr_opt(py, self.alias.as_deref()),
            repr_str(py, &self.session_id)
        );
        if let Some(room) = &self.room {
            out.push_str(&format!(", room={}", repr_str(py, room)));
        }
        if let Some(reason) = &self.reason {
            out.push_str(&format!(", reason={}", repr_str(py, reason)));
        }
        out.push(')');
        out
    }
}

/// The hub said something this client sent was wrong.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct ErrorReply {
    /// Machine-readable kind, such as `unknown_alias`.
    code: String,
    /// What was wrong, for a person.
    detail: String,
    /// The `id` of the request that caused it (`str` or `int`), when the
    /// request had one: frames written with `send_raw` may carry their own.
    id: Option<Py<PyAny>>,
}

#[pymethods]
impl ErrorReply {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("code", "detail")
    }

    /// The exception a request refused this way raises: `RejectedError`,
    /// or its subclass for the code (`ForbiddenError`, `UnauthorizedError`,
    /// `RequestTimeoutError`, `TooManyRequestsError`), for a program that
    /// would rather `raise` it.
    fn exception<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        rejected(py, &self.code, &self.detail)
            .into_value(py)
            .into_bound(py)
            .into_any()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let id = match &self.id {
            Some(id) => format!(", id={}", id.bind(py).repr()?),
            None => String::new(),
        };
        Ok(format!(
            "ErrorReply(code={}, detail={}{id})",
            repr_str(py, &self.code),
            repr_str(py, &self.detail)
        ))
    }
}

/// The hub is closing this connection; `reason` says why.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Bye {
    /// Machine-readable reason, such as `shutdown` or `taken_over`.
    reason: String,
    /// The reason for a person.
    detail: String,
}

#[pymethods]
impl Bye {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("reason", "detail")
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Bye(reason={}, detail={})",
            repr_str(py, &self.reason),
            repr_str(py, &self.detail)
        )
    }
}

/// The read half: bytes not yet cut into frames, and frames read while
/// waiting for an answer to a request.
#[derive(Debug)]
struct Reader {
    stream: ReadHalf,
    lines: HubLines,
    pending: VecDeque<HubFrame>,
    closed: bool,
}

enum Read1 {
    Frame(HubFrame),
    /// A frame was read that this wait does not want (dropped as stale, or
    /// queued for another call): more may follow at once, so a wait reads
    /// on rather than time out, even a wait of zero.
    Skipped,
    TimedOut,
    /// The stream ended: between frames (`Ok`), or in the middle of one.
    Closed(Result<(), LineError>),
}

impl Reader {
    /// The next frame from the socket, waiting at most `limit`.
    fn read_frame(&mut self, limit: Duration) -> io::Result<Read1> {
        let deadline = Instant::now() + limit;
        let mut polled = false;
        loop {
            match self.lines.next_frame() {
                Some(Ok(frame)) => return Ok(Read1::Frame(frame)),
                Some(Err(e)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("the hub sent what this client cannot read: {e}"),
                    ))
                }
                None => {}
            }
            if self.closed {
                return Ok(Read1::Closed(self.lines.finish()));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if polled {
                    return Ok(Read1::TimedOut);
                }
                // A zero wait still looks at the socket once. A short timeout
                // rather than O_NONBLOCK, which the writer's handle shares.
                polled = true;
            }
            self.stream
                .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
            match self.stream.fill(&mut self.lines) {
                Ok(Filled::End) => self.closed = true,
                Ok(Filled::Bytes) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return Ok(Read1::TimedOut)
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted
                    ) =>
                {
                    self.closed = true
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Most frames a wait past its deadline reads on through when they are
/// not the ones it wants (see `Read1::Skipped`).
const MAX_SKIPPED_LATE: usize = 4096;

/// What a wait for frames is looking for.
type Want<'a> = &'a (dyn Fn(&HubFrame) -> bool + Sync);

/// A request in flight: its id is registered until it is dropped, so the
/// error it causes is never handed to `receive` meanwhile.
struct Request<'a> {
    client: &'a Client,
    id: String,
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        self.client.requests.forget(&self.id);
    }
}

/// A blocking tcphub client (the Python class `tcphub.Client` adds the
/// pleasant parts).
#[pyclass(frozen, subclass, module = "tcphub._tcphub", name = "Client")]
#[derive(Debug)]
pub struct Client {
    writer: Mutex<WriteHalf>,
    /// Fair, so waits on several threads take turns at the socket.
    reader: parking_lot::Mutex<Reader>,
    address: SocketAddr,
    /// Default wait for answers to `sync`, `sessions` and `ping`.
    timeout: Option<Duration>,
    /// The credential every `sync` carries, unless it is given its own.
    token: Option<String>,
    identity: Mutex<(Option<String>, Option<String>)>,
    /// The requests waiting for their answer.
    requests: Requests<()>,
    /// The rooms this session is in, as the hub's `joined` and `left`
    /// frames said (its own requests and the host's `join_room` alike).
    rooms: Mutex<BTreeSet<String>>,
}

impl Client {
    fn write(&self, py: Python<'_>, bytes: &[u8]) -> PyResult<()> {
        py.detach(|| {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            w.write_all(bytes)
        })
        .map_err(|e| closed(py, &e.to_string()))
    }

    /// Registers a new request and returns it with its `id`, before the
    /// request is written, so no other thread's wait can mistake its answer
    /// for something else.
    fn request(&self) -> Request<'_> {
        Request {
            client: self,
            id: self.requests.register(()),
        }
    }

    /// Writes a request frame: `head` is its opening fields without the
    /// closing brace; the request's id and the newline are added here.
    fn send_request(&self, py: Python<'_>, head: Vec<u8>, request: &Request<'_>) -> PyResult<()> {
        self.write(py, &request_frame(head, &request.id))
    }

    /// Whether `receive` may hand out this frame: messages and byes, and
    /// errors that answer no request of this client still waiting.
    fn is_for_receive(&self, frame: &HubFrame) -> bool {
        self.requests.route(frame) == Route::Receive
    }

    /// Whether a frame nobody wants now can be dropped rather than kept.
    fn is_stale_reply(&self, frame: &HubFrame) -> bool {
        self.requests.route(frame) == Route::Stale
    }

    /// Waits for a frame `want` accepts, queueing the others for whichever
    /// call wants them. `None` on timeout.
    fn wait_for(
        &self,
        py: Python<'_>,
        want: Want<'_>,
        timeout: Option<Duration>,
    ) -> PyResult<Option<HubFrame>> {
        let deadline = deadline_after(timeout);
        let mut skipped_late = 0;
        loop {
            let slice = next_slice(deadline);
            let outcome = py.detach(|| {
                let mut reader = self.reader.lock();
                // Another thread's wait may have read what this one wants.
                if let Some(at) = reader.pending.iter().position(want) {
                    return Ok(reader
                        .pending
                        .remove(at)
                        .map(Read1::Frame)
                        .unwrap_or(Read1::TimedOut));
                }
                let read = reader.read_frame(slice);
                if let Ok(Read1::Frame(frame)) = &read {
                    self.note_rooms(frame);
                }
                let outcome = match read {
                    Ok(Read1::Frame(frame)) if want(&frame) => Ok(Read1::Frame(frame)),
                    Ok(Read1::Frame(frame)) if self.is_stale_reply(&frame) => Ok(Read1::Skipped),
                    Ok(Read1::Frame(frame)) => {
                        // Someone else's answer: queue it and let go of the
                        // reader, so the thread waiting for it gets it now
                        // rather than when this wait ends.
                        reader.pending.push_back(frame);
                        Ok(Read1::Skipped)
                    }
                    other => other,
                };
                // Fair: a thread waiting for the reader gets it before this
                // one can take it back, however quickly this one loops.
                MutexGuard::unlock_fair(reader);
                outcome
            });
            match outcome {
                Ok(Read1::Frame(frame)) => return Ok(Some(frame)),
                Ok(Read1::Closed(Ok(()))) => {
                    return Err(closed(py, "the hub closed the connection"))
                }
                Ok(Read1::Closed(Err(cut))) => return Err(cut_short(py, &cut)),
                Ok(Read1::TimedOut) => {}
                Ok(Read1::Skipped) => {
                    // Past the deadline, read on through what has already
                    // arrived, but only so far: a flood of frames for
                    // other calls must not keep this wait going forever.
                    skipped_late += usize::from(deadline.is_some_and(|d| Instant::now() >= d));
                    if skipped_late < MAX_SKIPPED_LATE {
                        py.check_signals()?;
                        continue;
                    }
                }
                Err(e) => return Err(error(py, "Error", e.to_string())),
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// Keeps `rooms` as the hub's `joined` and `left` frames say.
    fn note_rooms(&self, frame: &HubFrame) {
        let mut rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        match frame {
            HubFrame::Joined { room, .. } => {
                rooms.insert(room.clone());
            }
            HubFrame::Left { room, .. } => {
                rooms.remove(room);
            }
            _ => {}
        }
    }

    /// Sends a request (`head` without its closing brace) and waits for
    /// its answer: the frame echoing its id. An `error` frame answering it
    /// raises `RejectedError`, a `bye` meanwhile `ConnectionClosedError`.
    fn ask(
        &self,
        py: Python<'_>,
        head: Vec<u8>,
        timeout: Option<Seconds>,
        what: &str,
    ) -> PyResult<HubFrame> {
        let request = self.request();
        self.send_request(py, head, &request)?;
        let want = |f: &HubFrame| answers(f, &request.id) || matches!(f, HubFrame::Bye { .. });
        match self.wait_for(py, &want, self.limit(timeout))? {
            Some(HubFrame::Error { code, message, .. }) => Err(rejected(py, &code, &message)),
            Some(HubFrame::Bye { reason, message }) => Err(closed(
                py,
                &format!("the hub closed the connection: {reason}: {message}"),
            )),
            Some(frame) => Ok(frame),
            None => Err(error(py, "Error", format!("no answer to {what} in time"))),
        }
    }

    /// Sends a `request` to `to` (`None`: the host) and waits for its
    /// answer: the reply's message, or the error the hub's answer means
    /// (see `request_reply::outcome`).
    fn ask_reply(
        &self,
        py: Python<'_>,
        to: Option<&str>,
        message: &Bound<'_, PyAny>,
        timeout: Option<Seconds>,
    ) -> PyResult<Py<PyAny>> {
        let raw = to_raw(py, message)?;
        let wait = RequestWait::new(py, timeout, self.timeout)?;
        let request = self.request();
        let head = request_reply::request_head(to, &raw, wait);
        self.send_request(py, head, &request)?;
        let want = |f: &HubFrame| answers(f, &request.id) || matches!(f, HubFrame::Bye { .. });
        let answer = self.wait_for(py, &want, wait.client)?;
        request_reply::outcome(py, answer, to, wait.client)
    }

    /// `watch` or `unwatch` with its scope: every alias, these aliases, or
    /// a room's members.
    fn watch_request(
        &self,
        py: Python<'_>,
        kind: &str,
        aliases: Option<Aliases>,
        room: Option<&str>,
        timeout: Option<Seconds>,
    ) -> PyResult<()> {
        let head = watch_head(kind, aliases.map(Aliases::into_vec), room)
            .map_err(|BothScopes| both_scopes(py, kind))?;
        self.ask(py, head, timeout, kind).map(drop)
    }

    /// The limit of a request's wait: its own `timeout`, else the client's.
    fn limit(&self, timeout: Option<Seconds>) -> Option<Duration> {
        timeout.map_or(self.timeout, |t| wait(Some(t)))
    }
}

/// `watch` and `unwatch` take one scope.
pub(crate) fn both_scopes(py: Python<'_>, kind: &str) -> PyErr {
    error(
        py,
        "ConfigError",
        format!("{kind}() takes aliases or room=, not both"),
    )
}

pub(crate) fn closed(py: Python<'_>, why: &str) -> PyErr {
    error(py, "ConnectionClosedError", why.to_owned())
}

/// The stream ended inside a frame: never dropped silently, but a
/// `ConnectionClosedError` whose `truncated` counts the bytes of the frame
/// that never arrived whole (so that iteration raises it rather than ending).
pub(crate) fn cut_short(py: Python<'_>, cut: &LineError) -> PyErr {
    let err = closed(
        py,
        &format!("the hub closed the connection in the middle of a frame: {cut}"),
    );
    let len = match cut {
        LineError::Truncated { len } => *len,
        _ => 1,
    };
    match err.value(py).setattr("truncated", len) {
        Ok(()) => err,
        Err(e) => e,
    }
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (
        host="127.0.0.1", port=Number::Whole(9000), name=None, *, timeout=Some(Seconds(10.0)),
        last_will=None, tls=false, ca=None, server_name=None, token=None
    ))]
    #[pyo3(
        text_signature = "(host='127.0.0.1', port=9000, name=None, *, timeout=10.0, last_will=None, tls=False, ca=None, server_name=None, token=None)"
    )]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: Number,
        name: Option<&str>,
        timeout: Option<Seconds>,
        last_will: Option<PyRef<'_, LastWill>>,
        tls: bool,
        ca: Option<PathBuf>,
        server_name: Option<String>,
        token: Option<String>,
    ) -> PyResult<Self> {
        let port = options::port(py, port)?;
        let timeout = wait(timeout);
        let target = format!("{host}:{port}");
        // Files and names are checked before connecting.
        let tls_start = if tls || ca.is_some() || server_name.is_some() {
            let options = ClientTlsOptions { ca, server_name };
            let start = TlsStart::new(&options, &target);
            Some(start.map_err(|failed| tls_failed(py, &target, failed))?)
        } else {
            None
        };
        let stream = py
            .detach(|| -> io::Result<TcpStream> {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address found");
                for addr in (host, port).to_socket_addrs()? {
                    let attempt = match timeout {
                        Some(t) => {
                            TcpStream::connect_timeout(&addr, t.max(Duration::from_millis(1)))
                        }
                        None => TcpStream::connect(addr),
                    };
                    match attempt {
                        Ok(stream) => return Ok(stream),
                        Err(e) => last = e,
                    }
                }
                Err(last)
            })
            .map_err(|e| {
                error(
                    py,
                    "ConnectionClosedError",
                    format!("cannot connect to {target}: {e}"),
                )
            })?;
        stream.set_nodelay(true).ok();
        let address = stream.peer_addr().map_err(|e| {
            error(
                py,
                "ConnectionClosedError",
                format!("cannot connect to {target}: {e}"),
            )
        })?;
        let (reader, writer) = if let Some(start) = tls_start {
            py.detach(|| connect_tls(stream, start, timeout))
                .map_err(|failed| tls_failed(py, &target, failed))?
        } else {
            let writer = stream
                .try_clone()
                .map_err(|e| error(py, "Error", e.to_string()))?;
            (ReadHalf::Plain(stream), WriteHalf::Plain(writer))
        };
        let client = Client {
            writer: Mutex::new(writer),
            reader: parking_lot::Mutex::new(Reader {
                stream: reader,
                lines: HubLines::default(),
                pending: VecDeque::new(),
                closed: false,
            }),
            address,
            timeout,
            token,
            identity: Mutex::new((None, None)),
            requests: Requests::default(),
            rooms: Mutex::new(BTreeSet::new()),
        };
        if let Some(name) = name {
            client.sync(py, name, None, last_will, None)?;
        } else if last_will.is_some() {
            return Err(error(
                py,
                "ConfigError",
                "a last_will is left with the hub by sync: give a name too",
            ));
        }
        Ok(client)
    }

    /// Claims `name` as this client's alias; returns the session id.
    /// `last_will` replaces the will left with the hub (`None` clears it).
    /// `token` is the credential it carries (default: the client's).
    #[pyo3(signature = (name, timeout=None, *, last_will=None, token=None))]
    fn sync(
        &self,
        py: Python<'_>,
        name: &str,
        timeout: Option<Seconds>,
        last_will: Option<PyRef<'_, LastWill>>,
        token: Option<&str>,
    ) -> PyResult<String> {
        let request = self.request();
        let head = sync_head(name, token.or(self.token.as_deref()), last_will.as_deref());
        self.send_request(py, head, &request)?;
        let want = |f: &HubFrame| answers(f, &request.id) || matches!(f, HubFrame::Bye { .. });
        match self.wait_for(py, &want, self.limit(timeout))? {
            Some(HubFrame::Synced {
                client_name,
                session_id,
                ..
            }) => {
                *self.identity.lock().unwrap_or_else(|p| p.into_inner()) =
                    (Some(client_name), Some(session_id.clone()));
                Ok(session_id)
            }
            Some(HubFrame::Error { code, message, .. }) => Err(rejected(py, &code, &message)),
            Some(HubFrame::Bye { reason, message }) => Err(closed(
                py,
                &format!("the hub closed the connection: {reason}: {message}"),
            )),
            _ => Err(error(
                py,
                "Error",
                format!("no answer to sync {name:?} in time"),
            )),
        }
    }

    /// The alias this client synced, or `None`.
    #[getter]
    fn name(&self) -> Option<String> {
        self.identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
            .clone()
    }

    /// This client's session id (its address as the hub sees it), known
    /// once synced.
    #[getter]
    fn session_id(&self) -> Option<String> {
        self.identity
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .1
            .clone()
    }

    /// The hub's address, as `(host, port)`.
    #[getter]
    fn address(&self) -> (String, u16) {
        (self.address.ip().to_string(), self.address.port())
    }

    /// Sends `message` to the host program.
    fn send_to_host(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = to_raw(py, message)?;
        self.write(py, &encode_info(None, &raw))
    }

    /// Sends `message` to every client holding `alias` (relayed by the hub;
    /// an unknown alias comes back as an `ErrorReply`).
    fn send(&self, py: Python<'_>, alias: &str, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = to_raw(py, message)?;
        self.write(py, &encode_info(Some(alias), &raw))
    }

    /// Sends `message` to `alias` as a request and returns the reply's
    /// message. `timeout` (seconds) is how long the hub waits for the reply
    /// (cut to its `max_request_timeout`); `None` leaves it to the hub's
    /// `request_timeout` (5 s by default), waited for at most the client's
    /// own `timeout`. Raises `UnknownAliasError`, `RequestTimeoutError`,
    /// `TooManyRequestsError` or `RejectedError` (`ForbiddenError`, ...).
    // `request` is taken, by the registering of an id (see `Client::request`).
    #[pyo3(name = "request", signature = (alias, message, timeout=None))]
    fn request_alias(
        &self,
        py: Python<'_>,
        alias: &str,
        message: &Bound<'_, PyAny>,
        timeout: Option<Seconds>,
    ) -> PyResult<Py<PyAny>> {
        self.ask_reply(py, Some(alias), message, timeout)
    }

    /// Sends `message` to the host program as a request and returns the
    /// reply's message; as `request` otherwise.
    #[pyo3(signature = (message, timeout=None))]
    fn request_host(
        &self,
        py: Python<'_>,
        message: &Bound<'_, PyAny>,
        timeout: Option<Seconds>,
    ) -> PyResult<Py<PyAny>> {
        self.ask_reply(py, None, message, timeout)
    }

    /// Answers a `ReceivedRequest` (or its `reply_to`) with `message`.
    /// A reply the hub no longer waits for comes back through `receive` as
    /// an `ErrorReply` (`unknown_request`); a `reply_to` the hub cannot
    /// have written raises `UnknownRequestError` at once.
    fn reply(
        &self,
        py: Python<'_>,
        request: ReplyTarget,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let frame = request_reply::reply_frame(py, &request, message)?;
        self.write(py, &frame)
    }

    /// Sends `message` to every other client.
    fn broadcast(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = to_raw(py, message)?;
        self.write(py, &encode_info(Some(tcphub_core::BROADCAST_TARGET), &raw))
    }

    /// Sends `message` to every other member of `room` (this client need
    /// not be one; a room nobody is in comes back as an `ErrorReply`).
    fn send_to_room(&self, py: Python<'_>, room: &str, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = to_raw(py, message)?;
        self.write(py, &encode_room_info(room, &raw))
    }

    /// Joins `room`; returns how many members it has now, this client
    /// included. `RejectedError` (`invalid_room`, `too_many_rooms`) if refused.
    #[pyo3(signature = (room, timeout=None))]
    fn join(&self, py: Python<'_>, room: &str, timeout: Option<Seconds>) -> PyResult<usize> {
        match self.ask(py, room_head("join", room), timeout, "join")? {
            HubFrame::Joined { members, .. } => Ok(members),
            other => Err(unexpected(py, &other)),
        }
    }

    /// Leaves `room`. `RejectedError` (`not_in_room`) if not a member,
    /// (`invalid_room`) for a name breaking the room rules.
    #[pyo3(signature = (room, timeout=None))]
    fn leave(&self, py: Python<'_>, room: &str, timeout: Option<Seconds>) -> PyResult<()> {
        self.ask(py, room_head("leave", room), timeout, "leave")
            .map(drop)
    }

    /// The rooms this client is in, by name, as the hub last said: its
    /// own `join` and `leave`, and the host's `join_room` and `leave_room`
    /// (known once a frame after them has been read).
    #[getter]
    fn rooms(&self) -> Vec<String> {
        let rooms = self.rooms.lock().unwrap_or_else(|p| p.into_inner());
        rooms.iter().cloned().collect()
    }

    /// The members of `room`, oldest first. `RejectedError`
    /// (`not_in_room`) unless this client is one.
    #[pyo3(signature = (room, timeout=None))]
    fn room_members(
        &self,
        py: Python<'_>,
        room: &str,
        timeout: Option<Seconds>,
    ) -> PyResult<Vec<Session>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let head = list_head(Some(room), after.as_deref());
            match self.ask(py, head, timeout, "list")? {
                HubFrame::Sessions { sessions, next, .. } => {
                    all.extend(sessions.into_iter().map(Session::from));
                    match next {
                        Some(cursor) => after = Some(cursor),
                        None => return Ok(all),
                    }
                }
                other => return Err(unexpected(py, &other)),
            }
        }
    }

    /// Asks for `Presence` frames: about every alias (no arguments), the
    /// aliases named (`aliases`: one or a list, held or not), or the
    /// members of `room` (which this client must be in). They arrive
    /// through `receive`. `RejectedError` if refused.
    #[pyo3(signature = (aliases=None, *, room=None, timeout=None))]
    fn watch(
        &self,
        py: Python<'_>,
        aliases: Option<Aliases>,
        room: Option<&str>,
        timeout: Option<Seconds>,
    ) -> PyResult<()> {
        self.watch_request(py, "watch", aliases, room, timeout)
    }

    /// Stops `Presence` frames: all of them (no arguments), about the
    /// aliases named, or about `room`'s members.
    #[pyo3(signature = (aliases=None, *, room=None, timeout=None))]
    fn unwatch(
        &self,
        py: Python<'_>,
        aliases: Option<Aliases>,
        room: Option<&str>,
        timeout: Option<Seconds>,
    ) -> PyResult<()> {
        self.watch_request(py, "unwatch", aliases, room, timeout)
    }

    /// Closes cleanly: says `bye`, so the last will is not sent, and
    /// returns the hub's `Bye` (reason `client_bye`), which comes after
    /// the answers to everything sent before; those stay readable with
    /// `receive` and `drain`. Then closes the connection.
    #[pyo3(signature = (timeout=None))]
    fn bye(&self, py: Python<'_>, timeout: Option<Seconds>) -> PyResult<Bye> {
        self.write(py, encode_bye())?;
        let want = |f: &HubFrame| matches!(f, HubFrame::Bye { .. });
        let got = self.wait_for(py, &want, self.limit(timeout));
        self.close(py);
        match got? {
            Some(HubFrame::Bye { reason, message }) => Ok(Bye {
                reason,
                detail: message,
            }),
            _ => Err(error(py, "Error", "no answer to bye in time")),
        }
    }

    /// Writes bytes as they are, for speaking the protocol by hand.
    fn send_raw(&self, py: Python<'_>, data: &[u8]) -> PyResult<()> {
        self.write(py, data)
    }

    /// Who is connected, as the hub sees it.
    #[pyo3(signature = (timeout=None))]
    fn sessions(&self, py: Python<'_>, timeout: Option<Seconds>) -> PyResult<Vec<Session>> {
        let limit = self.limit(timeout);
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        // The hub answers in pages; walk them to the last.
        loop {
            let request = self.request();
            self.send_request(py, list_head(None, after.as_deref()), &request)?;
            let want = |f: &HubFrame| answers(f, &request.id);
            match self.wait_for(py, &want, limit)? {
                Some(HubFrame::Sessions { sessions, next, .. }) => {
                    all.extend(sessions.into_iter().map(Session::from));
                    match next {
                        Some(cursor) => after = Some(cursor),
                        None => return Ok(all),
                    }
                }
                Some(HubFrame::Error { code, message, .. }) => {
                    return Err(rejected(py, &code, &message))
                }
                _ => return Err(error(py, "Error", "no answer to list in time")),
            }
        }
    }

    /// Round trip to the hub and back, in seconds.
    #[pyo3(signature = (timeout=None))]
    fn ping(&self, py: Python<'_>, timeout: Option<Seconds>) -> PyResult<f64> {
        let request = self.request();
        let start = Instant::now();
        self.send_request(py, ping_head(), &request)?;
        let want = |f: &HubFrame| answers(f, &request.id);
        match self.wait_for(py, &want, self.limit(timeout))? {
            Some(HubFrame::Pong { .. }) => Ok(start.elapsed().as_secs_f64()),
            Some(HubFrame::Error { code, message, .. }) => Err(error(
                py,
                "Error",
                format!("ping refused: {code}: {message}"),
            )),
            _ => Err(error(py, "Error", "no answer to ping in time")),
        }
    }

    /// The next message, error reply or bye; `None` if nothing arrived
    /// within `timeout` seconds (`None` waits forever). Raises
    /// `ConnectionClosedError` once the connection is closed and drained.
    #[pyo3(signature = (timeout=None))]
    fn receive<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Seconds>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.wait_for(py, &|f| self.is_for_receive(f), wait(timeout))? {
            Some(frame) => frame_to_py(py, frame).map(Some),
            None => Ok(None),
        }
    }

    /// Everything already received, without waiting (at most `limit`).
    #[pyo3(signature = (limit=None))]
    fn drain<'py>(&self, py: Python<'py>, limit: Option<Number>) -> PyResult<Bound<'py, PyList>> {
        let limit = match limit {
            Some(limit) => count(py, "limit", limit)?,
            None => usize::MAX,
        };
        let out = PyList::empty(py);
        while out.len() < limit {
            let got = self.wait_for(py, &|f| self.is_for_receive(f), Some(Duration::ZERO));
            match got {
                Ok(Some(frame)) => out.append(frame_to_py(py, frame)?)?,
                Ok(None) => break,
                Err(e) if out.is_empty() => return Err(e),
                Err(_) => break,
            }
        }
        Ok(out)
    }

    /// Closes the connection. Safe to call more than once.
    fn close(&self, py: Python<'_>) {
        py.detach(|| {
            let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            // Already closed is fine: closing is idempotent.
            let _ = w.shutdown();
        });
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (name, _) = &*self.identity.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "Client(address='{}', name={})",
            self.address,
            crate::repr::repr_opt(py, name.as_deref())
        )
    }
}

/// `ConfigError` naming the option for a setting, `TlsError` for a
/// handshake that failed.
pub(crate) fn tls_failed(py: Python<'_>, target: &str, failed: TlsFailed) -> PyErr {
    match failed {
        TlsFailed::Config(e) => {
            let option = if e.option == "server" {
                "host"
            } else {
                e.option
            };
            error(
                py,
                "ConfigError",
                format!("{option} {}: {}", e.path.display(), e.reason),
            )
        }
        TlsFailed::Handshake(e) => error(
            py,
            "TlsError",
            format!("cannot connect to {target} over TLS: {e}"),
        ),
    }
}

pub(crate) fn frame_to_py(py: Python<'_>, frame: HubFrame) -> PyResult<Bound<'_, PyAny>> {
    Ok(match frame {
        HubFrame::Info {
            from,
            room,
            last_will,
            message,
        } => Bound::new(
            py,
            Received {
                sender: from,
                message: from_value(py, &message)?.unbind(),
                room,
                last_will,
            },
        )?
        .into_any(),
        HubFrame::Request {
            from,
            reply_to,
            message,
        } => Bound::new(
            py,
            ReceivedRequest::from_frame(py, from, reply_to, &message)?,
        )?
        .into_any(),
        HubFrame::Presence {
            event,
            alias,
            session_id,
            room,
            reason,
        } => Bound::new(
            py,
            Presence {
                event,
                alias,
                session_id,
                room,
                reason,
            },
        )?
        .into_any(),
        HubFrame::Error { code, message, id } => Bound::new(
            py,
            ErrorReply {
                code,
                detail: message,
                id: match id {
                    Some(id) => Some(from_value(py, &id)?.unbind()),
                    None => None,
                },
            },
        )?
        .into_any(),
        HubFrame::Bye { reason, message } => Bound::new(
            py,
            Bye {
                reason,
                detail: message,
            },
        )?
        .into_any(),
        other => return Err(unexpected(py, &other)),
    })
}

fn unexpected(py: Python<'_>, frame: &HubFrame) -> PyErr {
    error(py, "Error", format!("unexpected frame {frame:?}"))
}
