//! `_tcphub.AsyncHub`: the commands of a `Server` as awaitables, for
//! `tcphub.AsyncServer`.
//!
//! It reaches the hub exactly as the blocking methods do, through the
//! server's `HubHandle` (a message to the task that owns the hub and a
//! oneshot back), but awaits the answer as a future the event loop polls
//! instead of blocking a thread on it (see `aio`).

use std::convert::Infallible;
use std::future::Future;

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tcphub_native::CommandError;

use crate::aio::{awaitable, awaitable_with, IntoPyErr, Outcome};
use crate::json::to_raw;
use crate::options::{wait, Seconds};
use crate::request_reply::reply_address;
use crate::server::Server;
use crate::session::Session;

/// A command's error, raised as the blocking method raises it.
struct Failed(CommandError);

impl IntoPyErr for Failed {
    fn into_py_err(self, py: Python<'_>) -> PyErr {
        Server::command_error(py, self.0)
    }
}

/// Awaitable commands of one `Server`.
#[pyclass(frozen, module = "tcphub._tcphub", name = "AsyncHub")]
#[derive(Debug)]
pub struct AsyncHub {
    server: Py<Server>,
}

impl AsyncHub {
    /// Runs `command` on the server's handle as an awaitable, its error
    /// raised as the blocking method raises it.
    fn command<'py, F, Fut, T>(&self, py: Python<'py>, command: F) -> PyResult<Bound<'py, PyAny>>
    where
        F: FnOnce(tcphub_native::HubHandle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, CommandError>> + Send,
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let handle = self.server.get().handle().clone();
        awaitable(py, async move { command(handle).await.map_err(Failed) })
    }
}

#[pymethods]
impl AsyncHub {
    #[new]
    fn new(server: Py<Server>) -> Self {
        AsyncHub { server }
    }

    fn broadcast<'py>(
        &self,
        py: Python<'py>,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.command(py, |h| async move { h.broadcast(raw).await })
    }

    fn send<'py>(
        &self,
        py: Python<'py>,
        alias: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.command(py, |h| async move { h.send_to_alias(alias, raw).await })
    }

    fn send_to_session<'py>(
        &self,
        py: Python<'py>,
        session_id: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        // 1, as the blocking method returns (else it raises).
        self.command(py, |h| async move {
            h.send_to_session(session_id, raw).await.map(|()| 1usize)
        })
    }

    fn reply<'py>(
        &self,
        py: Python<'py>,
        reply_to: &str,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let address = reply_address(py, reply_to)?;
        let raw = to_raw(py, message)?;
        self.command(py, |h| async move { h.reply(address, raw).await })
    }

    fn close_session<'py>(
        &self,
        py: Python<'py>,
        session_id: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |h| async move { h.close_session(session_id).await })
    }

    fn join_room<'py>(
        &self,
        py: Python<'py>,
        session_id: String,
        room: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |h| async move { h.join_room(session_id, room).await })
    }

    fn leave_room<'py>(
        &self,
        py: Python<'py>,
        session_id: String,
        room: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.command(py, |h| async move { h.leave_room(session_id, room).await })
    }

    fn send_to_room<'py>(
        &self,
        py: Python<'py>,
        room: String,
        message: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let raw = to_raw(py, message)?;
        self.command(py, |h| async move { h.send_to_room(room, raw).await })
    }

    /// Every room with members, by name, with its member count.
    fn rooms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.server.get().handle().clone();
        awaitable_with(py, async move {
            let rooms = handle.rooms().await;
            Box::new(move |py: Python<'_>| {
                let out = PyDict::new(py);
                for entry in rooms {
                    out.set_item(entry.room, entry.members)?;
                }
                Ok(out.into_any().unbind())
            }) as Outcome
        })
    }

    fn room_members<'py>(&self, py: Python<'py>, room: String) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.server.get().handle().clone();
        awaitable(py, async move {
            let members = handle.room_members(room).await;
            Ok::<_, Infallible>(members.into_iter().map(Session::from).collect::<Vec<_>>())
        })
    }

    fn sessions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.server.get().handle().clone();
        awaitable(py, async move {
            let sessions = handle.sessions().await;
            Ok::<_, Infallible>(sessions.into_iter().map(Session::from).collect::<Vec<_>>())
        })
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let handle = self.server.get().handle().clone();
        awaitable_with(py, async move {
            let stats = handle.stats().await;
            Box::new(move |py: Python<'_>| match stats {
                Ok(stats) => Ok(crate::stats::to_dict(py, &stats)?.into_any().unbind()),
                Err(e) => Err(Server::command_error(py, e)),
            }) as Outcome
        })
    }

    /// Resolves to True once events may be there for `Server.next_batch`
    /// or `timeout` seconds passed (`None`: no limit), and to False once
    /// the server stopped and every event was read. What it fetches waits
    /// for `next_batch`, so cancelling it loses no event.
    #[pyo3(signature = (timeout=None))]
    fn events_ready<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<Seconds>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let server = self.server.clone_ref(py);
        let limit = wait(timeout);
        awaitable(py, async move {
            Ok::<_, Infallible>(server.get().events_ready(limit).await)
        })
    }

    /// Stops the server as `Server.stop` does, awaiting the flush.
    fn stop<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let server = self.server.clone_ref(py);
        awaitable_with(py, async move {
            let result = match server.get().begin_stop() {
                Some(task) => task.await,
                None => Ok(Ok(())),
            };
            Box::new(move |py: Python<'_>| {
                server.get().end_stop(py, result)?;
                Ok(py.None())
            }) as Outcome
        })
    }
}
