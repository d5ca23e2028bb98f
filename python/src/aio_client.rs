//! `_tcphub.AsyncConnection`: the native half of `tcphub.AsyncClient`.
//!
//! One tokio task reads the connection, cuts it into frames with the core's
//! `HubLines` (the reader every client uses) and sorts each frame with
//! `requests::Requests`, as the blocking client does: the answer to a
//! request goes straight to the request awaiting it; what the program
//! `receive`s waits in a bounded inbox. Requests are built by `requests`
//! too, so both clients speak the same frames.
//!
//! The inbox holds at most `INBOX_FRAMES` while no request waits; when it
//! is full the task stops reading, so the hub's flow control holds back
//! whoever is sending to this client rather than this process buffering
//! without bound. While a request waits the task reads on past the limit,
//! as the blocking client's waits do, so an answer is never stuck behind
//! messages the program has not received yet.

use std::collections::{BTreeSet, VecDeque};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tcphub_core::{encode_bye, encode_info, encode_room_info, HubFrame, HubLines, LineError};
use tcphub_native::ClientTlsOptions;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinHandle;
use tokio_rustls::rustls::pki_types::ServerName;

use crate::aio::{awaitable, awaitable_with, outcome, IntoPyErr, Outcome};
use crate::client::{both_scopes, closed, cut_short, frame_to_py, tls_failed};
use crate::errors::{error, rejected};
use crate::json::to_raw;
use crate::options::{self, wait, Number, Seconds};
use crate::repr::repr_opt;
use crate::requests::{
    list_head, ping_head, request_frame, room_head, sync_head, watch_head, BothScopes, Requests,
    Route,
};
use crate::session::Session;
use crate::targets::{Aliases, LastWill};
use crate::transport::TlsFailed;

/// Frames waiting for `receive` before the reader stops reading.
const INBOX_FRAMES: usize = 4096;
/// Bytes asked of the socket in one read.
const READ_CHUNK: usize = 64 * 1024;

type Reader = Box<dyn AsyncRead + Send + Unpin>;
type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// How the connection ended, for `receive` once the inbox is empty.
#[derive(Debug, Clone)]
enum End {
    /// The hub closed it between frames.
    Clean,
    /// The hub closed it in the middle of a frame.
    Cut(LineError),
    /// This client closed it.
    Local,
    /// Reading failed.
    Failed(String),
}

/// Why a command failed; made a Python exception once it holds the GIL.
#[derive(Debug)]
enum Failure {
    Rejected { code: String, detail: String },
    Closed(String),
    Other(String),
}

impl IntoPyErr for Failure {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Rejected { code, detail } => rejected(py, &code, &detail),
            Failure::Closed(why) => closed(py, &why),
            Failure::Other(why) => error(py, "Error", why),
        }
    }
}

/// One entry of the inbox: a frame, or a line the hub sent that this
/// client cannot read (raised by the `receive` that meets it, as the
/// blocking client raises it).
type Incoming = Result<HubFrame, String>;

#[derive(Debug, Default)]
struct Inbox {
    frames: Mutex<VecDeque<Incoming>>,
    end: Mutex<Option<End>>,
    /// Woken when a frame arrives or the connection ends.
    arrived: Notify,
    /// Woken when `receive` makes room.
    space: Notify,
}

/// What the reader task and the commands share.
struct Shared {
    /// Frames for the writer task, in the order the program sent them.
    outbox: mpsc::UnboundedSender<Outgoing>,
    /// Requests awaiting their answer, each with where to send it.
    requests: Requests<oneshot::Sender<HubFrame>>,
    /// `bye()` calls awaiting the hub's `bye`.
    byes: Mutex<Vec<oneshot::Sender<HubFrame>>>,
    inbox: Inbox,
    rooms: Mutex<BTreeSet<String>>,
    identity: Mutex<(Option<String>, Option<String>)>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("requests", &self.requests)
            .field("inbox", &self.inbox)
            .field("rooms", &self.rooms)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves the data usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the writer task is asked to do.
enum Outgoing {
    /// Write this whole frame, then say how it went.
    Frame(Vec<u8>, oneshot::Sender<Result<(), Failure>>),
    /// Shut the connection's write side (after close_notify, with TLS).
    Close(oneshot::Sender<()>),
}

/// Writes the frames the program sends, one whole frame after the other,
/// in the order they were sent. A task of its own, so that a command
/// cancelled in the middle of its write still finishes the frame (half a
/// frame would run into the next one on the wire).
async fn write_loop(mut writer: Writer, mut outbox: mpsc::UnboundedReceiver<Outgoing>) {
    let mut failed: Option<String> = None;
    while let Some(job) = outbox.recv().await {
        match job {
            Outgoing::Frame(bytes, done) => {
                let result = match &failed {
                    Some(why) => Err(Failure::Closed(why.clone())),
                    None => {
                        let written = async {
                            writer.write_all(&bytes).await?;
                            writer.flush().await
                        };
                        written.await.map_err(|e| {
                            failed = Some(e.to_string());
                            Failure::Closed(e.to_string())
                        })
                    }
                };
                // The command may have been cancelled: nobody to tell.
                let _ = done.send(result);
            }
            Outgoing::Close(done) => {
                // Already closed is fine: closing is idempotent.
                let _ = Pin::new(&mut writer).shutdown().await;
                let _ = done.send(());
                return;
            }
        }
    }
}

/// A request sent, awaiting its answer: an `error` frame answering it is
/// `Rejected`, a `bye` meanwhile `Closed`. Dropped (timed out, cancelled),
/// it stops waiting: its late error goes to `receive`, a late reply is
/// dropped.
struct Asked {
    shared: Arc<Shared>,
    id: String,
    answer: oneshot::Receiver<HubFrame>,
    written: oneshot::Receiver<Result<(), Failure>>,
}

impl Drop for Asked {
    fn drop(&mut self) {
        self.shared.requests.forget(&self.id);
    }
}

impl Asked {
    /// Registers the request and hands it to the writer task, at once, so
    /// that requests and messages go out in the order they were made.
    fn start(shared: &Arc<Shared>, head: Vec<u8>) -> Result<Asked, Failure> {
        let (tx, answer) = oneshot::channel();
        let id = shared.requests.register(tx);
        // A reader stopped at a full inbox reads on to find the answer.
        shared.inbox.space.notify_waiters();
        let asked = |written| Asked {
            shared: shared.clone(),
            id: id.clone(),
            answer,
            written,
        };
        match shared.start_write(request_frame(head, &id)) {
            Ok(written) => Ok(asked(written)),
            Err(failed) => {
                shared.requests.forget(&id);
                Err(failed)
            }
        }
    }

    async fn answer(mut self, limit: Option<Duration>, what: &str) -> Result<HubFrame, Failure> {
        written(std::mem::replace(&mut self.written, oneshot::channel().1)).await?;
        let rx = std::mem::replace(&mut self.answer, oneshot::channel().1);
        let answer = match limit {
            Some(limit) => tokio::time::timeout(limit, rx)
                .await
                .map_err(|_| Failure::Other(format!("no answer to {what} in time")))?,
            None => rx.await,
        };
        match answer {
            Ok(HubFrame::Error { code, message, .. }) => Err(Failure::Rejected {
                code,
                detail: message,
            }),
            Ok(HubFrame::Bye { reason, message }) => Err(Failure::Closed(format!(
                "the hub closed the connection: {reason}: {message}"
            ))),
            Ok(frame) => Ok(frame),
            Err(_) => Err(Failure::Closed("the hub closed the connection".into())),
        }
    }
}

/// How a write handed to the writer task went.
async fn written(job: oneshot::Receiver<Result<(), Failure>>) -> Result<(), Failure> {
    job.await
        .unwrap_or_else(|_| Err(Failure::Closed("the connection is closed".into())))
}

impl Shared {
    /// Hands a frame to the writer task: from this call on it is sent
    /// whole, in order, whatever happens to the command that sent it.
    fn start_write(
        &self,
        bytes: Vec<u8>,
    ) -> Result<oneshot::Receiver<Result<(), Failure>>, Failure> {
        let (done, result) = oneshot::channel();
        self.outbox
            .send(Outgoing::Frame(bytes, done))
            .map_err(|_| Failure::Closed("the connection is closed".into()))?;
        Ok(result)
    }

    async fn write(&self, bytes: Vec<u8>) -> Result<(), Failure> {
        written(self.start_write(bytes)?).await
    }

    /// Sends a request (`head` without its closing brace) and awaits its
    /// answer (see `Asked`).
    async fn ask(
        self: Arc<Self>,
        head: Vec<u8>,
        limit: Option<Duration>,
        what: &str,
    ) -> Result<HubFrame, Failure> {
        Asked::start(&self, head)?.answer(limit, what).await
    }

    /// Every page of `list` (of a room's members, or of everyone).
    async fn list(
        self: Arc<Self>,
        room: Option<String>,
        limit: Option<Duration>,
    ) -> Result<Vec<Session>, Failure> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let head = list_head(room.as_deref(), after.as_deref());
            match self.clone().ask(head, limit, "list").await? {
                HubFrame::Sessions { sessions, next, .. } => {
                    all.extend(sessions.into_iter().map(Session::from));
                    match next {
                        Some(cursor) => after = Some(cursor),
                        None => return Ok(all),
                    }
                }
                other => return Err(Failure::Other(format!("unexpected frame {other:?}"))),
            }
        }
    }

    /// Hands one frame read from the hub to whoever wants it.
    async fn deliver(&self, incoming: Incoming) {
        if let Ok(frame) = &incoming {
            match frame {
                HubFrame::Joined { room, .. } => {
                    lock(&self.rooms).insert(room.clone());
                }
                HubFrame::Left { room, .. } => {
                    lock(&self.rooms).remove(room);
                }
                _ => {}
            }
            match self.requests.route(frame) {
                Route::Answer(id) => {
                    if let Some(waiter) = self.requests.forget(&id) {
                        // Gone only if that request was dropped this instant.
                        let _ = waiter.send(frame.clone());
                    }
                    return;
                }
                Route::Stale => return,
                Route::Receive => {}
            }
            if matches!(frame, HubFrame::Bye { .. }) {
                // The hub closes next: requests still waiting learn why.
                for waiter in self.requests.take_all() {
                    let _ = waiter.send(frame.clone());
                }
                let byes = std::mem::take(&mut *lock(&self.byes));
                if !byes.is_empty() {
                    // `bye()` takes it, as the blocking client's does.
                    for waiter in byes {
                        let _ = waiter.send(frame.clone());
                    }
                    return;
                }
            }
        }
        self.enqueue(incoming).await;
    }

    /// Puts a frame in the inbox, waiting while it is full and no request
    /// (nor `bye()`) waits for an answer that may come behind it.
    async fn enqueue(&self, incoming: Incoming) {
        let mut incoming = Some(incoming);
        loop {
            if matches!(*lock(&self.inbox.end), Some(End::Local)) {
                return; // closed by the program: nobody receives it
            }
            let space = self.inbox.space.notified();
            tokio::pin!(space);
            space.as_mut().enable();
            {
                let mut frames = lock(&self.inbox.frames);
                let answer_awaited = self.requests.any_waiting() || !lock(&self.byes).is_empty();
                if frames.len() < INBOX_FRAMES || answer_awaited {
                    frames.extend(incoming.take());
                    drop(frames);
                    self.inbox.arrived.notify_waiters();
                    return;
                }
            }
            space.await;
        }
    }

    /// The connection ended: `receive` raises once the inbox is drained,
    /// and requests still waiting fail.
    fn finish(&self, end: End) {
        lock(&self.inbox.end).get_or_insert(end);
        drop(self.requests.take_all());
        lock(&self.byes).clear();
        self.inbox.arrived.notify_waiters();
    }

    /// Resolves once something can be received or `limit` passed; true if
    /// something can.
    async fn readable(&self, limit: Option<Duration>) -> bool {
        let arrived = self.inbox.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        if self.has_something() {
            return true;
        }
        match limit {
            Some(limit) => tokio::time::timeout(limit, arrived).await.is_ok(),
            None => {
                arrived.await;
                true
            }
        }
    }

    fn has_something(&self) -> bool {
        !lock(&self.inbox.frames).is_empty() || lock(&self.inbox.end).is_some()
    }
}

/// Reads the connection until it ends, delivering each frame.
async fn read_loop(shared: Arc<Shared>, mut reader: Reader) {
    let mut lines = HubLines::default();
    let mut chunk = vec![0u8; READ_CHUNK];
    let end = loop {
        while let Some(next) = lines.next_frame() {
            let incoming =
                next.map_err(|e| format!("the hub sent what this client cannot read: {e}"));
            shared.deliver(incoming).await;
        }
        match reader.read(&mut chunk).await {
            Ok(0) => break lines.finish().map_or_else(End::Cut, |()| End::Clean),
            Ok(n) => lines.push(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                        // TLS without close_notify.
                        | io::ErrorKind::UnexpectedEof
                ) =>
            {
                break lines.finish().map_or_else(End::Cut, |()| End::Clean)
            }
            Err(e) => break End::Failed(e.to_string()),
        }
    };
    shared.finish(end);
}

/// Connects (and shakes hands, with TLS) within `limit`.
async fn open(
    host: String,
    port: u16,
    limit: Option<Duration>,
    tls: Option<(ServerName<'static>, tokio_rustls::TlsConnector)>,
) -> Result<(Reader, Writer, SocketAddr), PyErrLater> {
    let target = format!("{host}:{port}");
    let connect = TcpStream::connect((host.as_str(), port));
    let tcp = match limit {
        Some(limit) => tokio::time::timeout(limit.max(Duration::from_millis(1)), connect)
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ))
            }),
        None => connect.await,
    }
    .map_err(|e| PyErrLater::Closed(format!("cannot connect to {target}: {e}")))?;
    tcp.set_nodelay(true).ok();
    let address = tcp
        .peer_addr()
        .map_err(|e| PyErrLater::Closed(format!("cannot connect to {target}: {e}")))?;
    let Some((name, connector)) = tls else {
        let (r, w) = tcp.into_split();
        return Ok((Box::new(r), Box::new(w), address));
    };
    let handshake = connector.connect(name, tcp);
    let stream = match limit {
        Some(limit) => tokio::time::timeout(limit.max(Duration::from_millis(1)), handshake)
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake timed out",
                ))
            }),
        None => handshake.await,
    }
    .map_err(|e| PyErrLater::Tls(target, e))?;
    let (r, w) = tokio::io::split(stream);
    Ok((Box::new(r), Box::new(w), address))
}

/// An error of `open`, raised once it holds the GIL.
#[derive(Debug)]
enum PyErrLater {
    Closed(String),
    Tls(String, io::Error),
}

impl IntoPyErr for PyErrLater {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            PyErrLater::Closed(why) => error(py, "ConnectionClosedError", why),
            PyErrLater::Tls(target, e) => tls_failed(py, &target, TlsFailed::Handshake(e)),
        }
    }
}

/// The native half of `tcphub.AsyncClient`: every request is an awaitable.
#[pyclass(frozen, module = "tcphub._tcphub", name = "AsyncConnection")]
#[derive(Debug)]
pub struct AsyncConnection {
    shared: Arc<Shared>,
    reader: Mutex<Option<JoinHandle<()>>>,
    address: SocketAddr,
    /// Default wait for answers to requests.
    timeout: Option<Duration>,
    /// The credential every `sync` carries, unless it is given its own.
    token: Option<String>,
}

impl AsyncConnection {
    fn limit(&self, timeout: Option<Seconds>) -> Option<Duration> {
        timeout.map_or(self.timeout, |t| wait(Some(t)))
    }

    /// Writes `bytes` as an awaitable resolving to None.
    fn write<'py>(&self, py: Python<'py>, bytes: Vec<u8>) -> PyResult<Bound<'py, PyAny>> {
        let job = self.shared.start_write(bytes);
        awaitable(py, async move { written(job?).await })
    }

    /// Sends a request and awaits its answer, made a Python value by
    /// `answer`.
    fn ask_with<'py, T, F>(
        &self,
        py: Python<'py>,
        head: Vec<u8>,
        timeout: Option<Seconds>,
        what: &'static str,
        answer: F,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
        F: FnOnce(HubFrame) -> Result<T, Failure> + Send + 'static,
    {
        let limit = self.limit(timeout);
        let asked = Asked::start(&self.shared, head);
        awaitable(py, async move {
            asked?.answer(limit, what).await.and_then(answer)
        })
    }
}

fn unexpected(frame: HubFrame) -> Failure {
    Failure::Other(format!("unexpected frame {frame:?}"))
}

#[pymethods]
impl AsyncConnection {
    /// Connects to `host:port`: an awaitable resolving to the connection.
    /// Files and names for TLS are checked at once, before connecting.
    #[staticmethod]
    #[pyo3(signature = (
        host, port, *, timeout=Some(Seconds(10.0)), tls=false, ca=None, server_name=None,
        token=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn open<'py>(
        py: Python<'py>,
        host: String,
        port: Number,
        timeout: Option<Seconds>,
        tls: bool,
        ca: Option<PathBuf>,
        server_name: Option<String>,
        token: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let port = options::port(py, port)?;
        let limit = wait(timeout);
        let target = format!("{host}:{port}");
        let tls = if tls || ca.is_some() || server_name.is_some() {
            // The checks `Client` makes, in the same order.
            let options = ClientTlsOptions { ca, server_name };
            let config = options.config();
            let name = config.and_then(|config| Ok((config, options.name_for(&target)?)));
            let (config, name) = name.map_err(|e| tls_failed(py, &target, TlsFailed::Config(e)))?;
            Some((name, tokio_rustls::TlsConnector::from(config)))
        } else {
            None
        };
        awaitable(py, async move {
            let (reader, writer, address) = open(host, port, limit, tls).await?;
            let (outbox, jobs) = mpsc::unbounded_channel();
            tokio::spawn(write_loop(writer, jobs));
            let shared = Arc::new(Shared {
                outbox,
                requests: Requests::default(),
                byes: Mutex::new(Vec::new()),
                inbox: Inbox::default(),
                rooms: Mutex::new(BTreeSet::new()),
                identity: Mutex::new((None, None)),
            });
            let task = tokio::spawn(read_loop(shared.clone(), reader));
            Ok::<_, PyErrLater>(AsyncConnection {
                shared,
                reader: Mutex::new(Some(task)),
                address,
                timeout: limit,
                token,
            })
        })
    }

    /// Claims `name`; resolves to the session id.
    #[pyo3(signature = (name, timeout=None, *, last_will=None, token=None))]
    fn sync<'py>(
        &self,
        py: Python<'py>,
        name: &str,
        timeout: Option<Seconds>,
        last_will: Option<PyRef<'_, LastWill>>,
        token: Option<&str>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let head = sync_head(name, token.or(self.token.as_deref()), last_will.as_deref());
        let shared = self.shared.clone();
        let what = format!("sync {name:?}");
        let limit = self.limit(timeout);
        let asked = Asked::start(&self.shared, head);
        awaitable(py, async move {
            let answer = asked?.answer(limit, "sync").await.map_err(|f| match f {
                Failure::Other(_) => Failure::Other(format!("no answer to {what} in time")),
                other => other,
            });
            answer.and_then(|frame| match frame {
                HubFrame::Synced {
                    client_name,
                    session_id,
                    ..
                } => {
                    *lock(&shared.identity) = (Some(client_name), Some(session_id.clone()));
                    Ok(session_id)
                }
                other => Err(unexpected(other)),
            })
        })
    }

    #[getter]
    fn name(&self) -> Option<String> {
        lock(&self.shared.identity).0.clone()
    }

    #[getter]
    fn session_id(&self) -> Option<String> {
        lock(&self.shared.identity).1.clone()
    }

    #[getter]
    fn address(&self) -> (String, u16) {
        (self.address.ip().to_string(), self.address.port())
    }

    #[getter]
    fn rooms(&self) -> Vec<String> {
        lock(&self.shared.rooms).iter().cloned().collect()
    }

    fn send_to_host<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.write(py, encode_info(None, &raw))
    }

    fn send<'py>(
        &self,
        py: Python<'py>,
        alias: &str,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.write(py, encode_info(Some(alias), &raw))
    }

    fn broadcast<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.write(py, encode_info(Some(tcphub_core::BROADCAST_TARGET), &raw))
    }

    fn send_to_room<'py>(
        &self,
        py: Python<'py>,
        room: &str,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.write(py, encode_room_info(room, &raw))
    }

    fn send_raw<'py>(&self, py: Python<'py>, data: Vec<u8>) -> PyResult<Bound<'py, PyAny>> {
        self.write(py, data)
    }

    #[pyo3(signature = (room, timeout=None))]
    fn join<'py>(
        &self,
        py: Python<'py>,
        room: &str,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.ask_with(
            py,
            room_head("join", room),
            timeout,
            "join",
            |frame| match frame {
                HubFrame::Joined { members, .. } => Ok(members),
                other => Err(unexpected(other)),
            },
        )
    }

    #[pyo3(signature = (room, timeout=None))]
    fn leave<'py>(
        &self,
        py: Python<'py>,
        room: &str,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.ask_with(py, room_head("leave", room), timeout, "leave", |_| Ok(()))
    }

    #[pyo3(signature = (aliases=None, *, room=None, timeout=None))]
    fn watch<'py>(
        &self,
        py: Python<'py>,
        aliases: Option<Aliases>,
        room: Option<&str>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let head = watch_head("watch", aliases.map(Aliases::into_vec), room)
            .map_err(|BothScopes| both_scopes(py, "watch"))?;
        self.ask_with(py, head, timeout, "watch", |_| Ok(()))
    }

    #[pyo3(signature = (aliases=None, *, room=None, timeout=None))]
    fn unwatch<'py>(
        &self,
        py: Python<'py>,
        aliases: Option<Aliases>,
        room: Option<&str>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let head = watch_head("unwatch", aliases.map(Aliases::into_vec), room)
            .map_err(|BothScopes| both_scopes(py, "unwatch"))?;
        self.ask_with(py, head, timeout, "unwatch", |_| Ok(()))
    }

    #[pyo3(signature = (timeout=None))]
    fn sessions<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        let limit = self.limit(timeout);
        awaitable(py, async move { shared.list(None, limit).await })
    }

    #[pyo3(signature = (room, timeout=None))]
    fn room_members<'py>(
        &self,
        py: Python<'py>,
        room: String,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        let limit = self.limit(timeout);
        awaitable(py, async move { shared.list(Some(room), limit).await })
    }

    /// Round trip to the hub and back, in seconds.
    #[pyo3(signature = (timeout=None))]
    fn ping<'py>(&self, py: Python<'py>, timeout: Option<Seconds>) -> PyResult<Bound<'py, PyAny>> {
        let limit = self.limit(timeout);
        let start = Instant::now();
        let asked = Asked::start(&self.shared, ping_head());
        awaitable(py, async move {
            let answer = asked?.answer(limit, "ping").await;
            match answer {
                Ok(_) => Ok(start.elapsed().as_secs_f64()),
                Err(Failure::Rejected { code, detail }) => {
                    Err(Failure::Other(format!("ping refused: {code}: {detail}")))
                }
                Err(other) => Err(other),
            }
        })
    }

    /// Says `bye` and resolves to the hub's `Bye` (answers to what was
    /// sent before stay receivable); then closes the connection.
    #[pyo3(signature = (timeout=None))]
    fn bye<'py>(&self, py: Python<'py>, timeout: Option<Seconds>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        let limit = self.limit(timeout);
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.byes).push(tx);
        // A reader stopped at a full inbox reads on to find the hub's bye.
        self.shared.inbox.space.notify_waiters();
        awaitable_with(py, async move {
            let got = async {
                shared.write(encode_bye().to_vec()).await?;
                let answer = match limit {
                    Some(limit) => tokio::time::timeout(limit, rx)
                        .await
                        .map_err(|_| Failure::Other("no answer to bye in time".into()))?,
                    None => rx.await,
                };
                answer.map_err(|_| Failure::Closed("the hub closed the connection".into()))
            }
            .await;
            close(&shared).await;
            match got {
                Ok(frame) => {
                    Box::new(move |py: Python<'_>| frame_to_py(py, frame).map(Bound::unbind))
                        as Outcome
                }
                Err(failed) => outcome::<(), _>(Err(failed)),
            }
        })
    }

    /// Resolves to True once `try_receive` has something to give (a
    /// frame, or the end of the connection), to False if `timeout` seconds
    /// passed first (`None`: no limit). It takes nothing itself, so
    /// cancelling it loses nothing.
    #[pyo3(signature = (timeout=None))]
    fn readable<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        let limit = wait(timeout);
        awaitable(py, async move {
            Ok::<_, Infallible>(shared.readable(limit).await)
        })
    }

    /// The next message, error reply, bye or presence received, without
    /// waiting: None if there is none yet. Raises `ConnectionClosedError`
    /// once the connection ended and all was received (with `truncated`
    /// when it ended in the middle of a frame).
    fn try_receive<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let next = lock(&self.shared.inbox.frames).pop_front();
        match next {
            Some(incoming) => {
                self.shared.inbox.space.notify_waiters();
                match incoming {
                    Ok(frame) => frame_to_py(py, frame).map(Some),
                    Err(why) => Err(error(py, "Error", why)),
                }
            }
            None => match lock(&self.shared.inbox.end).clone() {
                None => Ok(None),
                Some(End::Clean) => Err(closed(py, "the hub closed the connection")),
                Some(End::Local) => Err(closed(py, "the connection is closed")),
                Some(End::Cut(cut)) => Err(cut_short(py, &cut)),
                Some(End::Failed(why)) => Err(closed(py, &why)),
            },
        }
    }

    /// Closes the connection (with TLS, after close_notify): an awaitable.
    /// Safe to call more than once.
    fn close<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let shared = self.shared.clone();
        let reader = lock(&self.reader).take();
        // The reader first: what the hub says once this side is shut (its
        // `bye` saying so) is not for a program that closed.
        if let Some(reader) = reader {
            reader.abort();
        }
        awaitable(py, async move {
            close(&shared).await;
            Ok::<_, Infallible>(())
        })
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let name = lock(&self.shared.identity).0.clone();
        format!(
            "AsyncClient(address='{}', name={})",
            self.address,
            repr_opt(py, name.as_deref())
        )
    }
}

/// Shuts the write half (the read half ends with it).
async fn close(shared: &Shared) {
    let (done, shut) = oneshot::channel();
    if shared.outbox.send(Outgoing::Close(done)).is_ok() {
        // An error: the writer task ended already, the side is shut.
        let _ = shut.await;
    }
    shared.finish(End::Local);
}

impl Drop for AsyncConnection {
    fn drop(&mut self) {
        // Never closed: the reader task lets the socket go as it ends.
        if let Some(reader) = lock(&self.reader).take() {
            reader.abort();
        }
    }
}
