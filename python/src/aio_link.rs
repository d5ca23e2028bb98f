//! The connection of an `AsyncClient`: the tasks that read and write it,
//! and what they share with the commands.
//!
//! One tokio task reads the connection, cuts it into frames with the core's
//! `HubLines` (the reader every client uses) and sorts each frame with
//! `requests::Requests`, as the blocking client does: the answer to a
//! request goes straight to the request awaiting it; what the program
//! `receive`s waits in a bounded inbox. Another writes what the program
//! sends, whole frames in the order they were sent. Requests are built by
//! `requests` too, so both clients speak the same frames.
//!
//! The inbox holds at most `INBOX_FRAMES` while no request waits; when it
//! is full the task stops reading, so the hub's flow control holds back
//! whoever is sending to this client rather than this process buffering
//! without bound. While a request waits the task reads on past the limit,
//! as the blocking client's waits do, so an answer is never stuck behind
//! messages the program has not received yet.

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use pyo3::prelude::*;
use tcphub_core::{HubFrame, HubLines, LineError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_rustls::rustls::pki_types::ServerName;

use crate::aio::IntoPyErr;
use crate::client::{closed, cut_short, tls_failed};
use crate::errors::{error, rejected};
use crate::requests::{list_head, request_frame, Requests, Route};
use crate::session::Session;
use crate::transport::TlsFailed;

/// Frames waiting for `receive` before the reader stops reading.
const INBOX_FRAMES: usize = 4096;
/// Bytes asked of the socket in one read.
const READ_CHUNK: usize = 64 * 1024;

pub(crate) type Reader = Box<dyn AsyncRead + Send + Unpin>;
pub(crate) type Writer = Box<dyn AsyncWrite + Send + Unpin>;

/// How the connection ended, for `receive` once the inbox is empty.
#[derive(Debug, Clone)]
pub(crate) enum End {
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
pub(crate) enum Failure {
    Rejected {
        code: String,
        detail: String,
    },
    Closed(String),
    /// The hub's stream ended in the middle of a frame: the blocking
    /// client's `ConnectionClosedError`, with `truncated`.
    Cut(LineError),
    Other(String),
}

impl IntoPyErr for Failure {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        match self {
            Failure::Rejected { code, detail } => rejected(py, &code, &detail),
            Failure::Closed(why) => closed(py, &why),
            Failure::Cut(cut) => cut_short(py, &cut),
            Failure::Other(why) => error(py, "Error", why),
        }
    }
}

/// One entry of the inbox: a frame, or a line the hub sent that this
/// client cannot read (raised by the `receive` that meets it, as the
/// blocking client raises it).
pub(crate) type Incoming = Result<HubFrame, String>;

#[derive(Debug, Default)]
pub(crate) struct Inbox {
    pub(crate) frames: Mutex<VecDeque<Incoming>>,
    pub(crate) end: Mutex<Option<End>>,
    /// Woken when a frame arrives or the connection ends.
    pub(crate) arrived: Notify,
    /// Woken when `receive` makes room.
    pub(crate) space: Notify,
}

/// What the reader task and the commands share.
pub(crate) struct Shared {
    /// Frames for the writer task, in the order the program sent them.
    pub(crate) outbox: mpsc::UnboundedSender<Outgoing>,
    /// Requests awaiting their answer, each with where to send it.
    pub(crate) requests: Requests<oneshot::Sender<HubFrame>>,
    /// `bye()` calls awaiting the hub's `bye`.
    pub(crate) byes: Mutex<Vec<oneshot::Sender<HubFrame>>>,
    pub(crate) inbox: Inbox,
    pub(crate) rooms: Mutex<BTreeSet<String>>,
    pub(crate) identity: Mutex<(Option<String>, Option<String>)>,
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

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves the data usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the writer task is asked to do.
pub(crate) enum Outgoing {
    /// Write this whole frame, then say how it went.
    Frame(Vec<u8>, oneshot::Sender<Result<(), Failure>>),
    /// Shut the connection's write side (after close_notify, with TLS).
    Close(oneshot::Sender<()>),
}

/// Writes the frames the program sends, one whole frame after the other,
/// in the order they were sent. A task of its own, so that a command
/// cancelled in the middle of its write still finishes the frame (half a
/// frame would run into the next one on the wire).
pub(crate) async fn write_loop(mut writer: Writer, mut outbox: mpsc::UnboundedReceiver<Outgoing>) {
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

/// A request sent, awaiting its answer. Dropped (timed out, cancelled),
/// it stops waiting: its late error goes to `receive`, a late reply is
/// dropped.
pub(crate) struct Asked {
    shared: Arc<Shared>,
    id: String,
    answer: oneshot::Receiver<HubFrame>,
}

impl Drop for Asked {
    fn drop(&mut self) {
        self.shared.requests.forget(&self.id);
    }
}

impl Asked {
    /// Registers the request and hands it to the writer task, at once, so
    /// that requests and messages go out in the order they were made.
    pub(crate) fn start(shared: &Arc<Shared>, head: Vec<u8>) -> Result<Asked, Failure> {
        let (tx, answer) = oneshot::channel();
        let id = shared.requests.register(tx);
        // A reader stopped at a full inbox reads on to find the answer.
        shared.inbox.space.notify_waiters();
        // How the write went is not awaited: one wake-up of the loop less
        // per request. A write that fails means a connection that ended,
        // and the reader fails every waiting request then.
        match shared.start_write(request_frame(head, &id)) {
            Ok(_written) => Ok(Asked {
                shared: shared.clone(),
                id,
                answer,
            }),
            Err(failed) => {
                shared.requests.forget(&id);
                Err(failed)
            }
        }
    }

    /// The frame answering the request (its reply or error, or a `bye`
    /// meanwhile), as the blocking client's wait gives it: `None` if none
    /// came within `limit`; a failure if the connection ended first.
    pub(crate) async fn frame(
        mut self,
        limit: Option<Duration>,
    ) -> Result<Option<HubFrame>, Failure> {
        let rx = std::mem::replace(&mut self.answer, oneshot::channel().1);
        let answer = match limit {
            Some(limit) => match tokio::time::timeout(limit, rx).await {
                Ok(answer) => answer,
                Err(_) => return Ok(None),
            },
            None => rx.await,
        };
        // The sender is dropped only by `finish`, which marks the end first.
        answer
            .map(Some)
            .map_err(|_| match lock(&self.shared.inbox.end).clone() {
                Some(End::Cut(cut)) => Failure::Cut(cut),
                _ => Failure::Closed("the hub closed the connection".into()),
            })
    }

    /// The frame answering the request, an `error` frame `Rejected` and
    /// a `bye` meanwhile `Closed`; `Other` if none came within `limit`.
    pub(crate) async fn answer(
        self,
        limit: Option<Duration>,
        what: &str,
    ) -> Result<HubFrame, Failure> {
        match self.frame(limit).await? {
            Some(HubFrame::Error { code, message, .. }) => Err(Failure::Rejected {
                code,
                detail: message,
            }),
            Some(HubFrame::Bye { reason, message }) => Err(Failure::Closed(format!(
                "the hub closed the connection: {reason}: {message}"
            ))),
            Some(frame) => Ok(frame),
            None => Err(Failure::Other(format!("no answer to {what} in time"))),
        }
    }
}

/// How a write handed to the writer task went.
pub(crate) async fn written(job: oneshot::Receiver<Result<(), Failure>>) -> Result<(), Failure> {
    job.await
        .unwrap_or_else(|_| Err(Failure::Closed("the connection is closed".into())))
}

impl Shared {
    /// Hands a frame to the writer task: from this call on it is sent
    /// whole, in order, whatever happens to the command that sent it.
    pub(crate) fn start_write(
        &self,
        bytes: Vec<u8>,
    ) -> Result<oneshot::Receiver<Result<(), Failure>>, Failure> {
        // A connection that ended (closed here, or by the hub) takes
        // nothing more. Checked after a request registered itself (see
        // `Asked::start`): `finish` marks the end before it fails the
        // waiting requests, so a request is either failed there or refused
        // here, never left waiting for an answer that cannot come.
        let closed = || Failure::Closed("the connection is closed".into());
        if lock(&self.inbox.end).is_some() {
            return Err(closed());
        }
        let (done, result) = oneshot::channel();
        self.outbox
            .send(Outgoing::Frame(bytes, done))
            .map_err(|_| closed())?;
        Ok(result)
    }

    pub(crate) async fn write(&self, bytes: Vec<u8>) -> Result<(), Failure> {
        written(self.start_write(bytes)?).await
    }

    /// Sends a request (`head` without its closing brace) and awaits its
    /// answer (see `Asked`).
    pub(crate) async fn ask(
        self: Arc<Self>,
        head: Vec<u8>,
        limit: Option<Duration>,
        what: &str,
    ) -> Result<HubFrame, Failure> {
        Asked::start(&self, head)?.answer(limit, what).await
    }

    /// Every page of `list` (of a room's members, or of everyone).
    pub(crate) async fn list(
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
    pub(crate) fn finish(&self, end: End) {
        lock(&self.inbox.end).get_or_insert(end);
        drop(self.requests.take_all());
        lock(&self.byes).clear();
        self.inbox.arrived.notify_waiters();
    }

    /// Resolves once something can be received or `limit` passed; true if
    /// something can.
    pub(crate) async fn readable(&self, limit: Option<Duration>) -> bool {
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
pub(crate) async fn read_loop(shared: Arc<Shared>, mut reader: Reader) {
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
pub(crate) async fn open(
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
pub(crate) enum PyErrLater {
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

/// Shuts the write half (the read half ends with it).
pub(crate) async fn close(shared: &Shared) {
    let (done, shut) = oneshot::channel();
    if shared.outbox.send(Outgoing::Close(done)).is_ok() {
        // An error: the writer task ended already, the side is shut.
        let _ = shut.await;
    }
    shared.finish(End::Local);
}
