//! `_tcphub.Server`: the `tcphub-native` server embedded in the process.
//!
//! The server runs on a tokio runtime owned by this object; Python threads
//! talk to it through the native `HubHandle` (commands) and `HostEvents`
//! (events, fetched in batches). Every wait releases the GIL and wakes a few
//! times a second so Ctrl-C still reaches Python. `AsyncHub` (`aio_server`)
//! reaches the same handle and events without blocking.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use tcphub_core::NodeId;
use tcphub_native::metrics::MetricsServer;
use tcphub_native::{
    AuthFile, ClusterOptions, CommandError, HostEvents, HubHandle, ServeError,
    Server as NativeServer, ServerOptions, TlsOptions, MAX_EVENT_QUEUE_LEN,
};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::{JoinError, JoinHandle};

use crate::auth_options::{self, checker, AuthOptions, Checker};
use crate::errors::{error, hub_error};
use crate::events::{batch_to_py, Takeovers};
use crate::host_auth::{host_auth, AuthQuestion, Questions};
use crate::json::to_raw;
use crate::options::{
    self, deadline_after, grace, hub_config, next_slice, wait, whole, HubOptions, LimitOptions,
    Number, RequestOptions, Seconds,
};
use crate::request_reply::reply_address;
use crate::session::Session;

/// Where the server is in its life.
#[derive(Debug)]
struct Lifecycle {
    /// Resolves the future `run` waits on; taken by the first `stop`.
    shutdown: Option<oneshot::Sender<()>>,
    /// The task running the server; taken by the first `stop`.
    task: Option<JoinHandle<Result<(), ServeError>>>,
    stopped: bool,
}

/// The native server, embedded. `tcphub.Server` wraps it.
#[pyclass(frozen, module = "tcphub._tcphub", name = "Server")]
#[derive(Debug)]
pub struct Server {
    /// Runs the server's tasks. Kept until this object is dropped, so a
    /// thread still waiting on events after `stop` never meets a runtime
    /// that is gone.
    runtime: Option<Runtime>,
    handle: HubHandle,
    /// A tokio mutex, so that an async wait (`AsyncHub`) can hold it while
    /// it waits; blocking waits lock it with `blocking_lock`.
    events: tokio::sync::Mutex<EventSource>,
    local_addr: SocketAddr,
    life: Mutex<Lifecycle>,
    stopped_signal: Condvar,
    /// With `authentication=True`: the questions for the host program.
    questions: Option<Mutex<Questions>>,
    /// With `auth_file=`: the file, to read again on `reload_auth_file`.
    auth_file: Option<AuthFile>,
    /// With `metrics=`: where Prometheus metrics are served.
    metrics_addr: Option<SocketAddr>,
}

/// The hub's events, and what is needed to read them in order.
#[derive(Debug)]
pub(crate) struct EventSource {
    events: HostEvents,
    /// Events an async wait took from `events` and left for the next
    /// `next_batch`: the wait only says that events are there, so a
    /// cancelled wait loses none.
    arrived: Vec<tcphub_core::Event>,
    /// Read under the same lock as `events`, so that it sees every event
    /// in the order the hub emitted them, whichever thread fetches them.
    takeovers: Takeovers,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks leaves the data usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Server {
    fn runtime(&self) -> &Runtime {
        self.runtime
            .as_ref()
            .expect("the runtime lives until the server is dropped")
    }

    pub(crate) fn handle(&self) -> &HubHandle {
        &self.handle
    }

    /// Waits at most `limit` for events to read with `next_batch`; false
    /// once the server stopped and every event was read.
    pub(crate) async fn events_ready(&self, limit: Option<Duration>) -> bool {
        let mut source = self.events.lock().await;
        let EventSource {
            events, arrived, ..
        } = &mut *source;
        if !arrived.is_empty() {
            return true;
        }
        let fetch = events.recv_many(arrived, 1);
        match limit {
            // recv_many is cancel-safe: a timeout loses nothing.
            Some(limit) => tokio::time::timeout(limit, fetch)
                .await
                .map_or(true, |n| n > 0),
            None => fetch.await > 0,
        }
    }

    /// The first half of `stop`: tells the server to stop and takes its
    /// task to wait for (`None` if another `stop` did).
    pub(crate) fn begin_stop(&self) -> Option<JoinHandle<Result<(), ServeError>>> {
        let (shutdown, task) = {
            let mut life = lock(&self.life);
            (life.shutdown.take(), life.task.take())
        };
        if let Some(shutdown) = shutdown {
            // The server may have ended already; then there is nothing to tell.
            let _ = shutdown.send(());
        }
        task
    }

    /// The second half of `stop`: the server's task ended with `result`.
    pub(crate) fn end_stop(
        &self,
        py: Python<'_>,
        result: Result<Result<(), ServeError>, JoinError>,
    ) -> PyResult<()> {
        {
            let mut life = lock(&self.life);
            life.stopped = true;
            self.stopped_signal.notify_all();
        }
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(serve_error(py, e)),
            Err(join) => Err(error(
                py,
                "Error",
                format!("the server task failed: {join}"),
            )),
        }
    }

    pub(crate) fn command_error(py: Python<'_>, err: CommandError) -> PyErr {
        match err {
            CommandError::Hub(e) => hub_error(py, e),
            CommandError::Stopped => error(py, "ServerStoppedError", "the server has stopped"),
            other => error(py, "Error", other.to_string()),
        }
    }
}

fn serve_error(py: Python<'_>, err: ServeError) -> PyErr {
    match &err {
        ServeError::Bind { addr, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
            error(
                py,
                "AddressInUseError",
                format!("cannot listen on {addr}: the address is already in use"),
            )
        }
        ServeError::Config(_) | ServeError::InvalidOption { .. } => {
            error(py, "ConfigError", err.to_string())
        }
        ServeError::Cluster { .. } => error(py, "ClusterError", err.to_string()),
        // Named as the Python arguments are.
        ServeError::Tls(e) => {
            let option = match e.option {
                "tls.cert" => "tls_cert",
                "tls.key" => "tls_key",
                other => other,
            };
            error(
                py,
                "ConfigError",
                format!("{option} {}: {}", e.path.display(), e.reason),
            )
        }
        _ => error(py, "Error", err.to_string()),
    }
}

/// `tls_cert=`, `tls_key=` and `tls_handshake_timeout=` as the native
/// options; the files are read by `Server::bind`.
fn tls_options(
    py: Python<'_>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    handshake_timeout: Seconds,
) -> PyResult<Option<TlsOptions>> {
    let (cert, key) = match (cert, key) {
        (None, None) => return Ok(None),
        (Some(cert), Some(key)) => (cert, key),
        (Some(_), None) => return Err(error(py, "ConfigError", "tls_cert needs tls_key")),
        (None, Some(_)) => return Err(error(py, "ConfigError", "tls_key needs tls_cert")),
    };
    Ok(Some(TlsOptions {
        handshake_timeout: grace(py, "tls_handshake_timeout", handshake_timeout)?,
        ..TlsOptions::new(cert, key)
    }))
}

/// `cluster=`, `node_id=`, `cluster_lease=` and `cluster_name=` as the
/// native options; the lease's bounds and the name's rules are checked by
/// `Server::bind` (a `ConfigError` naming the option).
fn cluster_options(
    py: Python<'_>,
    url: Option<String>,
    node_id: Option<String>,
    lease: Seconds,
    name: String,
) -> PyResult<Option<ClusterOptions>> {
    let Some(url) = url else {
        if node_id.is_some() {
            return Err(error(
                py,
                "ConfigError",
                "node_id needs cluster= (a Redis URL)",
            ));
        }
        return Ok(None);
    };
    let mut options = ClusterOptions::new(url);
    options.name = name;
    if let Some(id) = node_id {
        options.node = NodeId::new(&id).map_err(|e| error(py, "ConfigError", e.to_string()))?;
    }
    options.lease = Duration::try_from_secs_f64(lease.0).map_err(|_| {
        error(
            py,
            "ConfigError",
            format!("cluster_lease must be a finite number of seconds, got {lease}"),
        )
    })?;
    Ok(Some(options))
}

#[pymethods]
impl Server {
    #[new]
    #[pyo3(signature = (
        host, port, *, alias_policy="takeover", max_frame_bytes=Number::Whole(65536),
        max_sessions=Number::Whole(100_000), idle_timeout=None, relay=true,
        max_queued_bytes=Number::Whole(67_108_864), write_deadline=Some(Seconds(10.0)),
        frame_timeout=Some(Seconds(30.0)), max_list_rows=Number::Whole(1000),
        high_watermark=Number::Whole(524_288), low_watermark=Number::Whole(131_072),
        shutdown_grace=Seconds(5.0), event_queue_len=Number::Whole(16_384), observe=false,
        max_rooms_per_session=Number::Whole(64), max_watched_aliases=Number::Whole(1000),
        max_last_will_bytes=Number::Whole(4096), rate_limit_messages=None,
        rate_limit_message_burst=None, rate_limit_bytes=None, rate_limit_bytes_burst=None,
        max_connections_per_address=None, cluster=None, node_id=None,
        cluster_lease=Seconds(10.0), cluster_name=String::from("tcphub"), tls_cert=None,
        tls_key=None, tls_handshake_timeout=Seconds(10.0), authentication=false,
        auth_timeout=Seconds(10.0), auth_file=None, auth_jwt_key=None, auth_jwt_algorithm=None,
        auth_jwt_audience=None, auth_jwt_issuer=None, auth_jwt_leeway=None, metrics=None,
        request_timeout=Seconds(5.0), max_request_timeout=Seconds(60.0),
        max_pending_requests=Number::Whole(64)
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        host: &str,
        port: Number,
        alias_policy: &str,
        max_frame_bytes: Number,
        max_sessions: Number,
        idle_timeout: Option<Seconds>,
        relay: bool,
        max_queued_bytes: Number,
        write_deadline: Option<Seconds>,
        frame_timeout: Option<Seconds>,
        max_list_rows: Number,
        high_watermark: Number,
        low_watermark: Number,
        shutdown_grace: Seconds,
        event_queue_len: Number,
        observe: bool,
        max_rooms_per_session: Number,
        max_watched_aliases: Number,
        max_last_will_bytes: Number,
        rate_limit_messages: Option<Number>,
        rate_limit_message_burst: Option<Number>,
        rate_limit_bytes: Option<Number>,
        rate_limit_bytes_burst: Option<Number>,
        max_connections_per_address: Option<Number>,
        cluster: Option<String>,
        node_id: Option<String>,
        cluster_lease: Seconds,
        cluster_name: String,
        tls_cert: Option<PathBuf>,
        tls_key: Option<PathBuf>,
        tls_handshake_timeout: Seconds,
        authentication: bool,
        auth_timeout: Seconds,
        auth_file: Option<PathBuf>,
        auth_jwt_key: Option<PathBuf>,
        auth_jwt_algorithm: Option<String>,
        auth_jwt_audience: Option<String>,
        auth_jwt_issuer: Option<String>,
        auth_jwt_leeway: Option<Seconds>,
        metrics: Option<String>,
        request_timeout: Seconds,
        max_request_timeout: Seconds,
        max_pending_requests: Number,
    ) -> PyResult<Self> {
        let metrics = match metrics {
            None => None,
            Some(addr) => Some(
                addr.to_socket_addrs()
                    .ok()
                    .and_then(|mut a| a.next())
                    .ok_or_else(|| {
                        error(
                            py,
                            "ConfigError",
                            format!("metrics {addr:?}: expected HOST:PORT, such as 127.0.0.1:9100"),
                        )
                    })?,
            ),
        };
        let port = options::port(py, port)?;
        let checker = checker(
            py,
            AuthOptions {
                host: authentication,
                file: auth_file,
                jwt_key: auth_jwt_key,
                jwt_algorithm: auth_jwt_algorithm,
                jwt_audience: auth_jwt_audience,
                jwt_issuer: auth_jwt_issuer,
                jwt_leeway: auth_jwt_leeway,
            },
        )?;
        let hub = hub_config(
            py,
            HubOptions {
                alias_policy,
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
                authentication: !matches!(checker, Checker::Off),
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
        let listen = (host, port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| error(py, "ConfigError", format!("cannot resolve host {host:?}")))?;
        let cluster = cluster_options(py, cluster, node_id, cluster_lease, cluster_name)?;
        let (auth, questions, auth_file) = match checker {
            Checker::Off => (None, None, None),
            Checker::Host => {
                let (auth, questions) = host_auth(hub.auth_timeout);
                (Some(auth), Some(Mutex::new(questions)), None)
            }
            Checker::Native(auth, file) => (Some(auth), None, file),
        };
        let options = ServerOptions {
            listen,
            cluster,
            hub,
            shutdown_grace: grace(py, "shutdown_grace", shutdown_grace)?,
            event_queue_len: whole(
                py,
                "event_queue_len",
                event_queue_len,
                1,
                MAX_EVENT_QUEUE_LEN,
            )?,
            tls: tls_options(py, tls_cert, tls_key, tls_handshake_timeout)?,
            auth,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tcphub-server")
            .enable_all()
            .build()
            .map_err(|e| {
                error(
                    py,
                    "Error",
                    format!("cannot start the server's threads: {e}"),
                )
            })?;
        // The metrics listener first, as `tcphub serve` does: an address
        // that cannot be bound fails before clients can connect.
        let metrics = match metrics {
            None => None,
            Some(addr) => Some(
                py.detach(|| runtime.block_on(MetricsServer::bind(addr)))
                    .map_err(|e| error(py, "ConfigError", format!("metrics {addr}: {e}")))?,
            ),
        };
        let metrics_addr = metrics.as_ref().map(MetricsServer::local_addr);
        let (server, handle, events) = py
            .detach(|| runtime.block_on(NativeServer::bind(options)))
            .map_err(|e| serve_error(py, e))?;
        if let Some(metrics) = metrics {
            runtime.spawn(metrics.run(handle.clone()));
        }
        let local_addr = server.local_addr();
        let (shutdown, stop) = oneshot::channel::<()>();
        let task = runtime.spawn(server.run(async move {
            // A dropped sender (the Python object went away) stops it too.
            let _ = stop.await;
        }));
        Ok(Server {
            runtime: Some(runtime),
            handle,
            events: tokio::sync::Mutex::new(EventSource {
                events,
                arrived: Vec::new(),
                takeovers: Takeovers::default(),
            }),
            local_addr,
            life: Mutex::new(Lifecycle {
                shutdown: Some(shutdown),
                task: Some(task),
                stopped: false,
            }),
            stopped_signal: Condvar::new(),
            questions,
            auth_file,
            metrics_addr,
        })
    }

    /// `(host, port)` the server listens on.
    #[getter]
    fn address(&self) -> (String, u16) {
        (self.local_addr.ip().to_string(), self.local_addr.port())
    }

    /// `(host, port)` of `http://HOST:PORT/metrics`, with `metrics=`.
    #[getter]
    fn metrics_address(&self) -> Option<(String, u16)> {
        self.metrics_addr.map(|a| (a.ip().to_string(), a.port()))
    }

    #[getter]
    fn stopped(&self) -> bool {
        lock(&self.life).stopped
    }

    /// The hub's counters and gauges, taken in one step by the task that
    /// owns the hub, as one dict (see `stats::to_dict`).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py
            .detach(|| self.runtime().block_on(self.handle.stats()))
            .map_err(|e| Self::command_error(py, e))?;
        crate::stats::to_dict(py, &stats)
    }

    fn broadcast(&self, py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        py.detach(|| self.runtime().block_on(self.handle.broadcast(raw)))
            .map_err(|e| Self::command_error(py, e))
    }

    fn send(&self, py: Python<'_>, alias: String, message: &Bound<'_, PyAny>) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        py.detach(|| {
            self.runtime()
                .block_on(self.handle.send_to_alias(alias, raw))
        })
        .map_err(|e| Self::command_error(py, e))
    }

    /// Returns how many sessions the message was queued for, as
    /// `broadcast` and `send` do: 1 (else it raises).
    fn send_to_session(
        &self,
        py: Python<'_>,
        session_id: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        py.detach(|| {
            self.runtime()
                .block_on(self.handle.send_to_session(session_id, raw))
        })
        .map(|()| 1)
        .map_err(|e| Self::command_error(py, e))
    }

    /// Answers a `Request` event (by its `reply_to`) with `message`.
    fn reply(&self, py: Python<'_>, reply_to: &str, message: &Bound<'_, PyAny>) -> PyResult<()> {
        let address = reply_address(py, reply_to)?;
        let raw = to_raw(py, message)?;
        py.detach(|| self.runtime().block_on(self.handle.reply(address, raw)))
            .map_err(|e| Self::command_error(py, e))
    }

    fn close_session(&self, py: Python<'_>, session_id: String) -> PyResult<()> {
        py.detach(|| {
            self.runtime()
                .block_on(self.handle.close_session(session_id))
        })
        .map_err(|e| Self::command_error(py, e))
    }

    fn join_room(&self, py: Python<'_>, session_id: String, room: String) -> PyResult<bool> {
        py.detach(|| {
            self.runtime()
                .block_on(self.handle.join_room(session_id, room))
        })
        .map_err(|e| Self::command_error(py, e))
    }

    fn leave_room(&self, py: Python<'_>, session_id: String, room: String) -> PyResult<bool> {
        py.detach(|| {
            self.runtime()
                .block_on(self.handle.leave_room(session_id, room))
        })
        .map_err(|e| Self::command_error(py, e))
    }

    fn send_to_room(
        &self,
        py: Python<'_>,
        room: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<usize> {
        let raw = to_raw(py, message)?;
        py.detach(|| self.runtime().block_on(self.handle.send_to_room(room, raw)))
            .map_err(|e| Self::command_error(py, e))
    }

    /// Every room with members, by name, with its member count.
    fn rooms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let rooms = py.detach(|| self.runtime().block_on(self.handle.rooms()));
        let out = PyDict::new(py);
        for entry in rooms {
            out.set_item(entry.room, entry.members)?;
        }
        Ok(out)
    }

    fn room_members(&self, py: Python<'_>, room: String) -> Vec<Session> {
        py.detach(|| self.runtime().block_on(self.handle.room_members(room)))
            .into_iter()
            .map(Session::from)
            .collect()
    }

    fn sessions(&self, py: Python<'_>) -> Vec<Session> {
        py.detach(|| self.runtime().block_on(self.handle.sessions()))
            .into_iter()
            .map(Session::from)
            .collect()
    }

    /// Up to `limit` events: waits at most `timeout` seconds for the first
    /// (`None`: forever). `[]` on timeout; `None` once the server stopped
    /// and every event was read.
    #[pyo3(signature = (timeout=None, limit=4096))]
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Seconds>,
        limit: usize,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let deadline = deadline_after(wait(timeout));
        let limit = limit.max(1);
        loop {
            let slice = next_slice(deadline);
            let (buf, finished) = py.detach(|| {
                let mut source = self.events.blocking_lock();
                let EventSource {
                    events,
                    arrived,
                    takeovers,
                } = &mut *source;
                let mut buf = std::mem::take(arrived);
                // Events ready now need no timer: the common case under load.
                while buf.len() < limit {
                    match events.try_recv() {
                        Some(event) => buf.push(event),
                        None => break,
                    }
                }
                let mut finished = false;
                if buf.is_empty() && !slice.is_zero() {
                    let got = self.runtime().block_on(async {
                        tokio::time::timeout(slice, events.recv_many(&mut buf, limit)).await
                    });
                    finished = matches!(got, Ok(0));
                }
                let buf: Vec<_> = buf
                    .into_iter()
                    .map(|event| {
                        let took_over_from = takeovers.see(&event);
                        (event, took_over_from)
                    })
                    .collect();
                (buf, finished)
            });
            if !buf.is_empty() {
                return batch_to_py(py, buf).map(Some);
            }
            if finished {
                return Ok(None);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(PyList::empty(py)));
            }
        }
    }

    /// Up to `limit` open authentication questions: waits at most
    /// `timeout` seconds for the first (`None`: forever). `[]` on timeout;
    /// `None` once the server stopped, or when the host does not decide
    /// (no `authentication=True`). Questions whose deadline passed are
    /// left out.
    #[pyo3(signature = (timeout=None, limit=256))]
    fn next_auth_questions(
        &self,
        py: Python<'_>,
        timeout: Option<Seconds>,
        limit: usize,
    ) -> PyResult<Option<Vec<AuthQuestion>>> {
        let Some(questions) = &self.questions else {
            return Ok(None);
        };
        let deadline = deadline_after(wait(timeout));
        let limit = limit.max(1);
        loop {
            let slice = next_slice(deadline);
            let got = py.detach(|| {
                let mut rx = lock(questions);
                let mut buf = Vec::new();
                while buf.len() < limit {
                    match rx.try_recv() {
                        Ok(q) => buf.push(q),
                        Err(_) => break,
                    }
                }
                if buf.is_empty() && !slice.is_zero() && !lock(&self.life).stopped {
                    let _ = self.runtime().block_on(async {
                        tokio::time::timeout(slice, rx.recv_many(&mut buf, limit)).await
                    });
                }
                buf.into_iter()
                    .map(AuthQuestion::from)
                    .filter(AuthQuestion::is_open)
                    .collect::<Vec<_>>()
            });
            if !got.is_empty() {
                return Ok(Some(got));
            }
            if lock(&self.life).stopped {
                return Ok(None);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(Some(Vec::new()));
            }
        }
    }

    /// Reads `auth_file` again; returns how many aliases it lists. The new
    /// file is used from the next check on; sessions signed in keep what
    /// they were granted. On error (`ConfigError` naming the file) the
    /// file loaded before stays in use.
    fn reload_auth_file(&self, py: Python<'_>) -> PyResult<usize> {
        match &self.auth_file {
            Some(file) => auth_options::reload(py, file),
            None => Err(error(
                py,
                "ConfigError",
                "this server was not started with auth_file=: there is no file to reload",
            )),
        }
    }

    /// Stops the server: no more accepts, `bye` to every client, queues
    /// flushed within the grace period. Idempotent.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let result = match self.begin_stop() {
            Some(task) => py.detach(|| self.runtime().block_on(task)),
            None => Ok(Ok(())),
        };
        self.end_stop(py, result)
    }

    /// Blocks until `stop` was called; `False` if `timeout` passed first.
    #[pyo3(signature = (timeout=None))]
    fn wait_stopped(&self, py: Python<'_>, timeout: Option<Seconds>) -> PyResult<bool> {
        let deadline = deadline_after(wait(timeout));
        loop {
            let slice = next_slice(deadline);
            let stopped = py.detach(|| {
                let life = lock(&self.life);
                if life.stopped {
                    return true;
                }
                let (life, _) = self
                    .stopped_signal
                    .wait_timeout(life, slice)
                    .unwrap_or_else(|p| p.into_inner());
                life.stopped
            });
            if stopped {
                return Ok(true);
            }
            py.check_signals()?;
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let life = self.life.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(shutdown) = life.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(runtime) = self.runtime.take() {
            // Never block the thread that drops the last Python reference.
            runtime.shutdown_background();
        }
    }
}
