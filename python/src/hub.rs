//! `tcphub.Hub`: the sans-IO core for Python programs that bring their own IO.
//!
//! A thin wrapper: every method is one core call, and `poll()` drains the
//! core's outputs into one list so the boundary is crossed once per input.

use std::time::{Duration, Instant};

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList};
use tcphub_core::{CloseReason, Hub as CoreHub, Output, SessionId};

use crate::errors::{error, hub_error};
use crate::events::{repr_str, to_py};
use crate::json::to_raw;
use crate::options::{self, hub_config, Number, Seconds};
use crate::session::Session;

/// Bytes to write to one session's connection.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Transmit {
    /// The session to write to.
    handle: u64,
    /// One or more complete NDJSON lines. A frame for many sessions is one
    /// shared `bytes` object.
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

/// Flush what was written to the session, then close its connection.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct Close {
    /// The session to close; the hub has already forgotten it.
    handle: u64,
    /// Why, as also reported by the `Disconnected` event.
    reason: &'static str,
}

#[pymethods]
impl Close {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("handle", "reason")
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Close(handle={}, reason={})",
            self.handle,
            repr_str(py, self.reason)
        )
    }
}

/// A session named by its handle (`int`) or its id on the wire (`str`).
#[derive(Debug, FromPyObject)]
pub enum SessionRef {
    Handle(u64),
    Id(String),
}

/// The sans-IO hub: the core state machine, for programs that do their own IO.
///
/// It never touches a socket or reads a clock of its own. The run loop:
///
/// 1. `handle = hub.accept("127.0.0.1:53412")` when a connection arrives;
///    `hub.receive(handle, data)` for every chunk read from it;
///    `hub.connection_lost(handle)` when the peer goes away;
///    `hub.handle_timeout()` when `hub.poll_timeout()` comes due.
///    Host commands: `broadcast`, `send`, `send_to_session`, `close_session`.
/// 2. After each of them, `for action in hub.poll():` write each `Transmit`'s
///    `data` to its session, close each `Close`'s session after flushing,
///    and handle the events (`Connected`, `Synced`, `Message`, ...).
///
/// Methods taking `now` read it as seconds on any monotonic clock; leave it
/// out to use the time since the hub was created (do not mix the two).
///
/// Options: `alias_policy` ("takeover", "reject" or "share"),
/// `max_frame_bytes`, `max_sessions`, `idle_timeout` (seconds or None),
/// `relay` (whether clients may message each other).
#[pyclass(module = "tcphub")]
#[derive(Debug)]
pub struct Hub {
    core: CoreHub,
    /// The clock used when a caller passes no `now`.
    started: Instant,
}

impl Hub {
    fn now(&self, py: Python<'_>, now: Option<Seconds>) -> PyResult<Duration> {
        match now {
            None => Ok(self.started.elapsed()),
            Some(secs) => options::now(py, secs),
        }
    }

    fn resolve(&self, py: Python<'_>, session: SessionRef) -> PyResult<SessionId> {
        match session {
            SessionRef::Handle(h) => Ok(SessionId(h)),
            SessionRef::Id(id) => self.core.session_by_peer(&id).ok_or_else(|| {
                error(
                    py,
                    "UnknownSessionError",
                    format!("no session has id {id:?}"),
                )
            }),
        }
    }
}

#[pymethods]
impl Hub {
    #[new]
    #[pyo3(signature = (
        *, alias_policy="takeover", max_frame_bytes=Number::Whole(65536),
        max_sessions=Number::Whole(100_000), idle_timeout=None, relay=true
    ))]
    #[pyo3(
        text_signature = "(*, alias_policy='takeover', max_frame_bytes=65536, max_sessions=100000, idle_timeout=None, relay=True)"
    )]
    fn new(
        py: Python<'_>,
        alias_policy: &str,
        max_frame_bytes: Number,
        max_sessions: Number,
        idle_timeout: Option<Seconds>,
        relay: bool,
    ) -> PyResult<Self> {
        let config = hub_config(
            py,
            alias_policy,
            max_frame_bytes,
            max_sessions,
            idle_timeout,
            relay,
        )?;
        let core = CoreHub::new(config).map_err(|e| hub_error(py, e))?;
        Ok(Hub {
            core,
            started: Instant::now(),
        })
    }

    /// A connection from `peer` was accepted; returns its handle.
    #[pyo3(signature = (peer, now=None))]
    fn accept(&mut self, py: Python<'_>, peer: &str, now: Option<Seconds>) -> PyResult<u64> {
        let now = self.now(py, now)?;
        self.core
            .handle_accept(now, peer)
            .map(|id| id.0)
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
        let now = self.now(py, now)?;
        self.core
            .handle_data(now, SessionId(handle), data)
            .map_err(|e| hub_error(py, e))
    }

    /// The peer closed the connection, or it failed.
    #[pyo3(signature = (handle, now=None))]
    fn connection_lost(
        &mut self,
        py: Python<'_>,
        handle: u64,
        now: Option<Seconds>,
    ) -> PyResult<()> {
        let now = self.now(py, now)?;
        self.core
            .handle_close(now, SessionId(handle))
            .map_err(|e| hub_error(py, e))
    }

    /// Time passed: closes sessions idle past `idle_timeout`.
    #[pyo3(signature = (now=None))]
    fn handle_timeout(&mut self, py: Python<'_>, now: Option<Seconds>) -> PyResult<()> {
        let now = self.now(py, now)?;
        self.core.handle_timeout(now).map_err(|e| hub_error(py, e))
    }

    /// When `handle_timeout` is due next, on the clock of `now`; `None`
    /// when no timer runs.
    fn poll_timeout(&self) -> Option<f64> {
        self.core.poll_timeout().map(|d| d.as_secs_f64())
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

    /// Sends `message` from the host to one session.
    fn send_to_session(
        &mut self,
        py: Python<'_>,
        session: SessionRef,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let id = self.resolve(py, session)?;
        let raw = to_raw(py, message)?;
        self.core
            .send_to_session(id, &raw)
            .map_err(|e| hub_error(py, e))
    }

    /// Says `bye` to a session and closes it.
    #[pyo3(signature = (session, reason="closed_by_host"))]
    fn close_session(&mut self, py: Python<'_>, session: SessionRef, reason: &str) -> PyResult<()> {
        let id = self.resolve(py, session)?;
        let reason = close_reason(py, reason)?;
        self.core
            .close_session(id, reason)
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
            .map(|s| Session {
                session_id: s.peer.to_string(),
                alias: s.alias.map(|a| a.as_str().to_owned()),
            })
            .collect()
    }

    /// How many sessions are open.
    fn __len__(&self) -> usize {
        self.core.session_count()
    }

    /// Everything the driver must do, in order: `Transmit`, `Close` and
    /// events. Call after every input.
    fn poll<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        // One bytes object per distinct frame: a broadcast shares one.
        let mut last: Option<(Bytes, Py<PyBytes>)> = None;
        while let Some(output) = self.core.poll_output() {
            match output {
                Output::Transmit { session, frame } => {
                    // Interim: counted as written when handed to Python.
                    let _ = self
                        .core
                        .handle_written(self.core.now(), session, frame.len());
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
                        handle: session.0,
                        data,
                    })?;
                }
                Output::Close {
                    session,
                    reason,
                    farewell,
                    ..
                } => {
                    // Interim: the farewell as a last Transmit, then Close.
                    out.append(Transmit {
                        handle: session.0,
                        data: PyBytes::new(py, &farewell).unbind(),
                    })?;
                    out.append(Close {
                        handle: session.0,
                        reason: reason.as_str(),
                    })?
                }
                Output::PauseReading { .. } | Output::ResumeReading { .. } => {}
                Output::Event(event) => out.append(to_py(py, event)?)?,
            }
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        format!("Hub(sessions={})", self.core.session_count())
    }
}

const CLOSE_REASONS: [CloseReason; 8] = [
    CloseReason::PeerClosed,
    CloseReason::ClosedByHost,
    CloseReason::TakenOver,
    CloseReason::FrameTooLarge,
    CloseReason::IdleTimeout,
    CloseReason::TooManySessions,
    CloseReason::SlowConsumer,
    CloseReason::Shutdown,
];

fn close_reason(py: Python<'_>, name: &str) -> PyResult<CloseReason> {
    CLOSE_REASONS
        .into_iter()
        .find(|r| r.as_str() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = CLOSE_REASONS.iter().map(|r| r.as_str()).collect();
            error(
                py,
                "ConfigError",
                format!(
                    "unknown close reason {name:?}: expected one of {}",
                    names.join(", ")
                ),
            )
        })
}
