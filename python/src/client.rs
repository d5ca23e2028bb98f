//! `tcphub.Client`: a blocking client for scripts and tests, over std::net.
//!
//! The hub's stream is cut into frames by the core's `HubLines`, the one
//! reader of hub output every client uses, and parsed with its `HubFrame`,
//! so the client and the hub share one definition of the wire format. Every wait releases
//! the GIL and wakes a few times a second to let Ctrl-C through.
//!
//! Each request (`sync`, `list`, `ping`) carries an `id` of this client's
//! own, which the hub echoes in the reply or error it causes; a request
//! takes only the frame with its id as its answer. Errors without an id,
//! or with an id no request of this client is waiting on, are the
//! program's to `receive`.

use std::collections::{HashSet, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use parking_lot::MutexGuard;
use pyo3::prelude::*;
use pyo3::types::PyList;
use serde_json::Value;
use tcphub_core::{encode_info, HubFrame, HubLines, LineError, HUB_NAME};

use crate::errors::{error, rejected};
use crate::events::repr_str;
use crate::json::{from_value, to_raw};
use crate::options::{self, count, deadline_after, next_slice, wait, Number, Seconds};
use crate::session::Session;

/// A message delivered to this client: from another client (`sender` is its
/// alias, or session id if it has none) or from the host (`sender` is `#hub`).
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Received {
    /// Who sent it.
    sender: String,
    /// The message: str, int, float, bool, None, list or dict.
    message: Py<PyAny>,
}

#[pymethods]
impl Received {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("sender", "message")
    }

    /// Whether the host program (not another client) sent it.
    #[getter]
    // A Python property: the name reads as a question about the message.
    #[allow(clippy::wrong_self_convention)]
    fn from_host(&self) -> bool {
        self.sender == HUB_NAME
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Received(sender={}, message={})",
            repr_str(py, &self.sender),
            self.message.bind(py).repr()?
        ))
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
    stream: TcpStream,
    lines: HubLines,
    pending: VecDeque<HubFrame>,
    closed: bool,
}

enum Read1 {
    Frame(HubFrame),
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
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => self.closed = true,
                Ok(n) => self.lines.push(&chunk[..n]),
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

/// What a wait for frames is looking for.
type Want<'a> = &'a (dyn Fn(&HubFrame) -> bool + Sync);

/// The ids this client gives its requests: `"py-1"`, `"py-2"`, ... A
/// string with a prefix, so that an id a program picks for a request of
/// its own sent with `send_raw` (a number, say) is unlikely to be taken for
/// one of these.
const ID_PREFIX: &str = "py-";

/// Whether a frame answers the request with id `want`.
fn answers(frame: &HubFrame, want: &str) -> bool {
    matches!(frame.request_id(), Some(Value::String(id)) if id == want)
}

/// A request in flight: its id is registered until it is dropped, so the
/// error it causes is never handed to `receive` meanwhile.
struct Request<'a> {
    client: &'a Client,
    id: String,
}

impl Drop for Request<'_> {
    fn drop(&mut self) {
        self.client.in_flight().remove(&self.id);
    }
}

/// A blocking tcphub client (the Python class `tcphub.Client` adds the
/// pleasant parts).
#[pyclass(frozen, subclass, module = "tcphub._tcphub", name = "Client")]
#[derive(Debug)]
pub struct Client {
    writer: Mutex<TcpStream>,
    /// Fair, so waits on several threads take turns at the socket.
    reader: parking_lot::Mutex<Reader>,
    address: SocketAddr,
    /// Default wait for answers to `sync`, `sessions` and `ping`.
    timeout: Option<Duration>,
    identity: Mutex<(Option<String>, Option<String>)>,
    /// The number in the next request's id.
    next_id: AtomicU64,
    /// The ids of the requests waiting for their answer.
    in_flight: Mutex<HashSet<String>>,
}

impl Client {
    fn write(&self, py: Python<'_>, bytes: &[u8]) -> PyResult<()> {
        py.detach(|| {
            let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
            w.write_all(bytes)
        })
        .map_err(|e| closed(py, &e.to_string()))
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new request and returns it with its `id`, before the
    /// request is written, so no other thread's wait can mistake its answer
    /// for something else.
    fn request(&self) -> Request<'_> {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{ID_PREFIX}{n}");
        self.in_flight().insert(id.clone());
        Request { client: self, id }
    }

    /// Writes a request frame: `head` is its opening fields without the
    /// closing brace; the request's id and the newline are added here.
    fn send_request(&self, py: Python<'_>, head: Vec<u8>, request: &Request<'_>) -> PyResult<()> {
        let mut frame = head;
        frame.extend_from_slice(br#","id":"#);
        push_json_string(&mut frame, &request.id);
        frame.extend_from_slice(b"}\n");
        self.write(py, &frame)
    }

    /// Whether `receive` may hand out this frame: messages and byes, and
    /// errors that answer no request of this client still waiting.
    fn is_for_receive(&self, frame: &HubFrame) -> bool {
        match frame {
            HubFrame::Info { .. } | HubFrame::Bye { .. } => true,
            HubFrame::Error { id, .. } => match id {
                Some(Value::String(id)) => !self.in_flight().contains(id),
                _ => true,
            },
            _ => false,
        }
    }

    /// Whether a frame nobody wants now can be dropped rather than kept:
    /// a reply (not an error) to a request that no longer waits, or to one
    /// written by hand with `send_raw`.
    fn is_stale_reply(&self, frame: &HubFrame) -> bool {
        match frame {
            HubFrame::Synced { id, .. }
            | HubFrame::Pong { id, .. }
            | HubFrame::Sessions { id, .. } => match id {
                Some(Value::String(id)) => !self.in_flight().contains(id),
                _ => true,
            },
            _ => false,
        }
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
                let outcome = match reader.read_frame(slice) {
                    Ok(Read1::Frame(frame)) if want(&frame) => Ok(Read1::Frame(frame)),
                    Ok(Read1::Frame(frame)) if self.is_stale_reply(&frame) => Ok(Read1::TimedOut),
                    Ok(Read1::Frame(frame)) => {
                        // Someone else's answer: queue it and let go of the
                        // reader, so the thread waiting for it gets it now
                        // rather than when this wait ends.
                        reader.pending.push_back(frame);
                        Ok(Read1::TimedOut)
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
                Err(e) => return Err(error(py, "Error", e.to_string())),
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(None);
            }
        }
    }

    /// The limit of a request's wait: its own `timeout`, else the client's.
    fn limit(&self, timeout: Option<Seconds>) -> Option<Duration> {
        timeout.map_or(self.timeout, |t| wait(Some(t)))
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a str always serializes");
}

fn closed(py: Python<'_>, why: &str) -> PyErr {
    error(py, "ConnectionClosedError", why.to_owned())
}

/// The stream ended inside a frame: never dropped silently, but a
/// `ConnectionClosedError` whose `truncated` counts the bytes of the frame
/// that never arrived whole (so that iteration raises it rather than ending).
fn cut_short(py: Python<'_>, cut: &LineError) -> PyErr {
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
        host="127.0.0.1", port=Number::Whole(9000), name=None, *, timeout=Some(Seconds(10.0))
    ))]
    #[pyo3(text_signature = "(host='127.0.0.1', port=9000, name=None, *, timeout=10.0)")]
    fn new(
        py: Python<'_>,
        host: &str,
        port: Number,
        name: Option<&str>,
        timeout: Option<Seconds>,
    ) -> PyResult<Self> {
        let port = options::port(py, port)?;
        let timeout = wait(timeout);
        let target = format!("{host}:{port}");
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
        let writer = stream
            .try_clone()
            .map_err(|e| error(py, "Error", e.to_string()))?;
        let client = Client {
            writer: Mutex::new(writer),
            reader: parking_lot::Mutex::new(Reader {
                stream,
                lines: HubLines::default(),
                pending: VecDeque::new(),
                closed: false,
            }),
            address,
            timeout,
            identity: Mutex::new((None, None)),
            next_id: AtomicU64::new(0),
            in_flight: Mutex::new(HashSet::new()),
        };
        if let Some(name) = name {
            client.sync(py, name, None)?;
        }
        Ok(client)
    }

    /// Claims `name` as this client's alias; returns the session id.
    #[pyo3(signature = (name, timeout=None))]
    fn sync(&self, py: Python<'_>, name: &str, timeout: Option<Seconds>) -> PyResult<String> {
        let request = self.request();
        let mut head = br#"{"type":"sync","clientName":"#.to_vec();
        push_json_string(&mut head, name);
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

    /// Sends `message` to every other client.
    fn broadcast(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let raw = to_raw(py, message)?;
        self.write(py, &encode_info(Some(tcphub_core::BROADCAST_TARGET), &raw))
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
            let mut head = br#"{"type":"list""#.to_vec();
            if let Some(cursor) = &after {
                head.extend_from_slice(br#","after":"#);
                push_json_string(&mut head, cursor);
            }
            self.send_request(py, head, &request)?;
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
                    return Err(error(
                        py,
                        "Error",
                        format!("list refused: {code}: {message}"),
                    ))
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
        self.send_request(py, br#"{"type":"ping""#.to_vec(), &request)?;
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
            let _ = w.shutdown(Shutdown::Both);
        });
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let (name, _) = &*self.identity.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "Client(address='{}', name={})",
            self.address,
            crate::events::repr_opt(py, name.as_deref())
        )
    }
}

fn frame_to_py(py: Python<'_>, frame: HubFrame) -> PyResult<Bound<'_, PyAny>> {
    Ok(match frame {
        HubFrame::Info { from, message, .. } => Bound::new(
            py,
            Received {
                sender: from,
                message: from_value(py, &message)?.unbind(),
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
        other => return Err(error(py, "Error", format!("unexpected frame {other:?}"))),
    })
}
