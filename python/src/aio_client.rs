//! `_tcphub.AsyncConnection`: the native half of `tcphub.AsyncClient`,
//! each method an awaitable (see `aio`) over the connection `aio_link`
//! reads and writes.

use std::collections::BTreeSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tcphub_core::{encode_bye, encode_info, encode_room_info, HubFrame};
use tcphub_native::ClientTlsOptions;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::aio::{awaitable, awaitable_with, outcome, Outcome};
use crate::aio_link::{
    close, lock, open, read_loop, write_loop, written, Asked, End, Failure, Inbox, PyErrLater,
    Shared,
};
use crate::client::{both_scopes, closed, cut_short, frame_to_py, tls_failed};
use crate::errors::error;
use crate::json::to_raw;
use crate::options::{self, wait, Number, Seconds};
use crate::repr::repr_opt;
use crate::request_reply::{self, ReplyTarget, RequestWait};
use crate::requests::{ping_head, room_head, sync_head, watch_head, BothScopes, Requests};
use crate::targets::{Aliases, LastWill};
use crate::transport::TlsFailed;

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

impl AsyncConnection {
    /// Sends a `request` to `to` (`None`: the host) and resolves to the
    /// reply's message, or fails with what the blocking client's request
    /// raises: the answer is read by the same `request_reply::outcome`.
    fn ask_reply<'py>(
        &self,
        py: Python<'py>,
        to: Option<String>,
        message: &Bound<'_, PyAny>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        let wait = RequestWait::new(py, timeout, self.timeout)?;
        let head = request_reply::request_head(to.as_deref(), &raw, wait);
        let asked = Asked::start(&self.shared, head);
        awaitable_with(py, async move {
            let answer = match asked {
                Ok(asked) => asked.frame(wait.client).await,
                Err(failed) => Err(failed),
            };
            match answer {
                Ok(answer) => Box::new(move |py: Python<'_>| {
                    request_reply::outcome(py, answer, to.as_deref(), wait.client)
                }) as Outcome,
                Err(failed) => outcome::<(), _>(Err(failed)),
            }
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

    /// A request to `alias`, resolving to the reply's message; raises as
    /// `Client.request` does.
    #[pyo3(name = "request", signature = (alias, message, timeout=None))]
    fn request_alias<'py>(
        &self,
        py: Python<'py>,
        alias: String,
        message: &Bound<'_, PyAny>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.ask_reply(py, Some(alias), message, timeout)
    }

    /// A request to the host program; as `request` otherwise.
    #[pyo3(signature = (message, timeout=None))]
    fn request_host<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'_, PyAny>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.ask_reply(py, None, message, timeout)
    }

    /// Answers a `ReceivedRequest` (or its `reply_to`) with `message`.
    fn reply<'py>(
        &self,
        py: Python<'py>,
        request: ReplyTarget,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let frame = request_reply::reply_frame(py, &request, message)?;
        self.write(py, frame)
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

impl Drop for AsyncConnection {
    fn drop(&mut self) {
        // Never closed: the reader task lets the socket go as it ends.
        if let Some(reader) = lock(&self.reader).take() {
            reader.abort();
        }
    }
}
