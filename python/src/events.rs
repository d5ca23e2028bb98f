//! The hub's events as typed Python objects with readable reprs.
//!
//! Every event derives from `tcphub.Event`, which carries the two names of
//! its session: the *session id* (`session_id`, a `str`: its peer address
//! such as `127.0.0.1:53412`, as the wire names it; what `Server` commands
//! take) and the core's `SessionHandle` (`handle`, an `int`: what the
//! sans-IO `Hub` names sessions by). Nothing else names a session.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::value::RawValue;
use tcphub_core::{Event as CoreEvent, SessionHandle};

use crate::json::from_raw;
use crate::repr::{repr, repr_opt, repr_str};
use crate::targets::target_to_py;

/// Base class of every hub event.
#[pyclass(subclass, frozen, module = "tcphub", name = "Event")]
#[derive(Debug)]
pub struct Event {
    /// The session id: the peer address, as the wire names the session.
    #[pyo3(get)]
    session_id: Py<PyString>,
    /// The core's handle of the session (what `tcphub.Hub` methods take).
    #[pyo3(get)]
    handle: u64,
}

#[pymethods]
impl Event {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Event(session_id={})", repr(py, &self.session_id))
    }
}

/// A client connected.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Connected;

#[pymethods]
impl Connected {
    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("session_id",)
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let base = slf.as_super().get();
        format!("Connected(session_id={})", repr(slf.py(), &base.session_id))
    }
}

/// A session now holds `alias`.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Synced {
    /// The alias the session holds now.
    #[pyo3(get)]
    alias: String,
    /// The session id of the session that lost the alias to this one under
    /// the `takeover` policy, if any (already closed: its `Disconnected`
    /// follows). `None` too when its events were dropped.
    #[pyo3(get)]
    took_over_from: Option<Py<PyString>>,
    /// The handle of that session.
    #[pyo3(get)]
    took_over_from_handle: Option<u64>,
}

#[pymethods]
impl Synced {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        (
            "alias",
            "took_over_from",
            "took_over_from_handle",
            "session_id",
        )
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let this = slf.get();
        let base = slf.as_super().get();
        let takeover = match (&this.took_over_from, this.took_over_from_handle) {
            (Some(old), _) => format!(", took_over_from={}", repr(py, old)),
            (None, Some(handle)) => format!(", took_over_from_handle={handle}"),
            (None, None) => String::new(),
        };
        format!(
            "Synced(session_id={}, alias={}{takeover})",
            repr(py, &base.session_id),
            repr_str(py, &this.alias)
        )
    }
}

/// A session no longer holds `alias` (it re-synced, lost it, or closed).
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Released {
    /// The alias released.
    #[pyo3(get)]
    alias: String,
}

#[pymethods]
impl Released {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("alias", "session_id")
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let base = slf.as_super().get();
        format!(
            "Released(session_id={}, alias={})",
            repr(py, &base.session_id),
            repr_str(py, &slf.get().alias)
        )
    }
}

/// A client sent a message to the host program.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Message {
    /// The sender's alias, or `None` if it had not synced one.
    #[pyo3(get)]
    alias: Option<String>,
    /// The message: str, int, float, bool, None, list or dict.
    #[pyo3(get)]
    message: Py<PyAny>,
    /// The message exactly as sent, as JSON text.
    raw: Box<RawValue>,
}

#[pymethods]
impl Message {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("alias", "message", "json", "session_id")
    }

    /// The message exactly as the client sent it, as JSON text.
    #[getter]
    fn json(&self) -> &str {
        self.raw.get()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let base = slf.as_super().get();
        Ok(format!(
            "Message(session_id={}, alias={}, message={})",
            repr(py, &base.session_id),
            repr_opt(py, this.alias.as_deref()),
            this.message.bind(py).repr()?
        ))
    }
}

/// A client sent a request to the host program, which answers it with
/// `reply(event.reply_to, message)` before it times out (or, from a
/// callback registered for `Request` on a `Server`, by returning the
/// answer).
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Request {
    /// The sender's alias, or `None` if it had not synced one.
    #[pyo3(get)]
    alias: Option<String>,
    /// The message: str, int, float, bool, None, list or dict.
    #[pyo3(get)]
    message: Py<PyAny>,
    /// What the reply names: pass it to `reply`.
    #[pyo3(get)]
    reply_to: String,
    /// The message exactly as sent, as JSON text.
    raw: Box<RawValue>,
}

#[pymethods]
impl Request {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("alias", "message", "reply_to", "session_id")
    }

    /// The message exactly as the client sent it, as JSON text.
    #[getter]
    fn json(&self) -> &str {
        self.raw.get()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let base = slf.as_super().get();
        Ok(format!(
            "Request(session_id={}, alias={}, message={}, reply_to={})",
            repr(py, &base.session_id),
            repr_opt(py, this.alias.as_deref()),
            this.message.bind(py).repr()?,
            repr_str(py, &this.reply_to)
        ))
    }
}

/// A client sent something wrong; the hub told it so with an `error` frame.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct ProtocolError {
    /// The machine-readable kind: one of `ErrorCode::ALL`
    /// (`tcphub.ERROR_CODES`), such as `bad_json` or `unknown_alias`.
    #[pyo3(get)]
    code: &'static str,
    /// What was wrong, for a person.
    #[pyo3(get)]
    detail: String,
}

#[pymethods]
impl ProtocolError {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("code", "detail", "session_id")
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let this = slf.get();
        let base = slf.as_super().get();
        format!(
            "ProtocolError(session_id={}, code={}, detail={})",
            repr(py, &base.session_id),
            repr_str(py, this.code),
            repr_str(py, &this.detail)
        )
    }
}

/// A session is gone.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Disconnected {
    /// The alias it held until then, if any.
    #[pyo3(get)]
    alias: Option<String>,
    /// Why it closed: one of `CloseReason::ALL` (`tcphub.CLOSE_REASONS`),
    /// such as `peer_closed` or `closed_by_host`.
    #[pyo3(get)]
    reason: &'static str,
}

#[pymethods]
impl Disconnected {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("alias", "reason", "session_id")
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let this = slf.get();
        let base = slf.as_super().get();
        format!(
            "Disconnected(session_id={}, alias={}, reason={})",
            repr(py, &base.session_id),
            repr_opt(py, this.alias.as_deref()),
            repr_str(py, this.reason)
        )
    }
}

/// A session joined a room: by its own `join`, or the host's `join_room`.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Joined {
    /// The room.
    #[pyo3(get)]
    room: String,
    /// The member's alias, or `None` if it had not synced one.
    #[pyo3(get)]
    alias: Option<String>,
}

#[pymethods]
impl Joined {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("room", "alias", "session_id")
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let this = slf.get();
        format!(
            "Joined(room={}, alias={}, session_id={})",
            repr_str(py, &this.room),
            repr_opt(py, this.alias.as_deref()),
            repr(py, &slf.as_super().get().session_id)
        )
    }
}

/// A session left a room: by its own `leave`, or the host's `leave_room`.
/// A session that closes leaves its rooms with no `Left`: its
/// `Disconnected` says so.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Left {
    /// The room.
    #[pyo3(get)]
    room: String,
    /// The former member's alias, or `None` if it had not synced one.
    #[pyo3(get)]
    alias: Option<String>,
}

#[pymethods]
impl Left {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("room", "alias", "session_id")
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let this = slf.get();
        format!(
            "Left(room={}, alias={}, session_id={})",
            repr_str(py, &this.room),
            repr_opt(py, this.alias.as_deref()),
            repr(py, &slf.as_super().get().session_id)
        )
    }
}

/// A client relayed a message to other clients (reported only when the hub
/// observes: `observe=True`), right after it was queued for them, so these
/// events come in the order the messages were delivered.
#[pyclass(extends = Event, frozen, module = "tcphub")]
#[derive(Debug)]
pub struct Relayed {
    /// Where it went: `Alias(name)`, `Room(name)` or `Everyone()`.
    #[pyo3(get)]
    target: Py<PyAny>,
    /// The message: str, int, float, bool, None, list or dict.
    #[pyo3(get)]
    message: Py<PyAny>,
    /// The sender's alias, or `None` if it had not synced one.
    #[pyo3(get)]
    alias: Option<String>,
    /// How many sessions it was queued for.
    #[pyo3(get)]
    recipients: usize,
    /// It is the sender's last will, sent because its session ended
    /// without a clean `bye`.
    #[pyo3(get)]
    last_will: bool,
    /// The message exactly as sent, as JSON text.
    raw: Box<RawValue>,
}

#[pymethods]
impl Relayed {
    #[classattr]
    fn __match_args__() -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        (
            "target",
            "message",
            "alias",
            "recipients",
            "last_will",
            "json",
            "session_id",
        )
    }

    /// The message exactly as the client sent it, as JSON text.
    #[getter]
    fn json(&self) -> &str {
        self.raw.get()
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        let this = slf.get();
        let will = if this.last_will {
            ", last_will=True"
        } else {
            ""
        };
        Ok(format!(
            "Relayed(target={}, message={}, alias={}, session_id={}, recipients={}{will})",
            this.target.bind(py).repr()?,
            this.message.bind(py).repr()?,
            repr_opt(py, this.alias.as_deref()),
            repr(py, &slf.as_super().get().session_id),
            this.recipients,
        ))
    }
}

/// Finds the session id of the session a `Synced` took its alias from.
///
/// The core's `Event::Synced` names that session by its handle only, and
/// the session is closed by the time the host reads the event, so its id
/// cannot be looked up then. But the core reports the loss first: the
/// `Released` of that session comes just before the `Synced` (after the
/// claimant's own `Released`, if it gave up another alias), from the same
/// input. So the ids of the `Released` events since the last other event
/// are kept, and the `Synced` takes its id from them.
#[derive(Debug, Default)]
pub struct Takeovers {
    released: Vec<(SessionHandle, Arc<str>)>,
}

impl Takeovers {
    /// Most `Released` events kept: a takeover releases one alias of the
    /// claimant and the alias of each holder, of which `takeover` leaves one.
    const KEEP: usize = 16;

    /// Looks at the next event, in order; for a `Synced` that took an alias
    /// over, returns the session id of the session it took it from. `None`
    /// as well when that `Released` never came (a `Server` drops events its
    /// program reads too late, see `event_queue_len`).
    pub fn see(&mut self, event: &CoreEvent) -> Option<Arc<str>> {
        match event {
            CoreEvent::Released {
                handle, session_id, ..
            } => {
                if self.released.len() == Self::KEEP {
                    self.released.remove(0);
                }
                self.released.push((*handle, session_id.clone()));
                None
            }
            CoreEvent::Synced {
                took_over_from: Some(old),
                ..
            } => {
                let found = self.released.iter().rev().find(|(h, _)| h == old);
                let session_id = found.map(|(_, id)| id.clone());
                self.released.clear();
                session_id
            }
            _ => {
                self.released.clear();
                None
            }
        }
    }
}

/// Builds the Python object for one core event; `took_over_from` is what
/// [`Takeovers::see`] found for it.
pub fn to_py(
    py: Python<'_>,
    event: CoreEvent,
    took_over_from: Option<Arc<str>>,
) -> PyResult<Bound<'_, PyAny>> {
    let base = |handle: SessionHandle, session_id: &str| Event {
        session_id: PyString::new(py, session_id).unbind(),
        handle: handle.0,
    };
    let init = PyClassInitializer::from;
    Ok(match event {
        CoreEvent::Opened { handle, session_id } => {
            Bound::new(py, init(base(handle, &session_id)).add_subclass(Connected))?.into_any()
        }
        CoreEvent::Synced {
            handle,
            session_id,
            alias,
            took_over_from: old_handle,
        } => Bound::new(
            py,
            init(base(handle, &session_id)).add_subclass(Synced {
                alias: alias.as_str().to_owned(),
                took_over_from: took_over_from.map(|id| PyString::new(py, &id).unbind()),
                took_over_from_handle: old_handle.map(|h| h.0),
            }),
        )?
        .into_any(),
        CoreEvent::Released {
            handle,
            session_id,
            alias,
        } => Bound::new(
            py,
            init(base(handle, &session_id)).add_subclass(Released {
                alias: alias.as_str().to_owned(),
            }),
        )?
        .into_any(),
        CoreEvent::Message {
            handle,
            session_id,
            alias,
            message,
        } => {
            let value = from_raw(py, &message)?.unbind();
            Bound::new(
                py,
                init(base(handle, &session_id)).add_subclass(Message {
                    alias: alias.map(|a| a.as_str().to_owned()),
                    message: value,
                    raw: message,
                }),
            )?
            .into_any()
        }
        CoreEvent::Request {
            handle,
            session_id,
            alias,
            reply_to,
            message,
        } => {
            let value = from_raw(py, &message)?.unbind();
            Bound::new(
                py,
                init(base(handle, &session_id)).add_subclass(Request {
                    alias: alias.map(|a| a.as_str().to_owned()),
                    message: value,
                    reply_to: reply_to.to_string(),
                    raw: message,
                }),
            )?
            .into_any()
        }
        CoreEvent::ProtocolError {
            handle,
            session_id,
            error,
        } => Bound::new(
            py,
            init(base(handle, &session_id)).add_subclass(ProtocolError {
                code: error.code.as_str(),
                detail: error.message,
            }),
        )?
        .into_any(),
        CoreEvent::Closed {
            handle,
            session_id,
            alias,
            reason,
        } => Bound::new(
            py,
            init(base(handle, &session_id)).add_subclass(Disconnected {
                alias: alias.map(|a| a.as_str().to_owned()),
                reason: reason.as_str(),
            }),
        )?
        .into_any(),
        CoreEvent::Joined {
            handle,
            session_id,
            alias,
            room,
        } => Bound::new(
            py,
            init(base(handle, &session_id)).add_subclass(Joined {
                room: room.as_str().to_owned(),
                alias: alias.map(|a| a.as_str().to_owned()),
            }),
        )?
        .into_any(),
        CoreEvent::Left {
            handle,
            session_id,
            alias,
            room,
        } => Bound::new(
            py,
            init(base(handle, &session_id)).add_subclass(Left {
                room: room.as_str().to_owned(),
                alias: alias.map(|a| a.as_str().to_owned()),
            }),
        )?
        .into_any(),
        CoreEvent::Relayed {
            handle,
            session_id,
            alias,
            target,
            message,
            recipients,
            last_will,
        } => {
            let value = from_raw(py, &message)?.unbind();
            Bound::new(
                py,
                init(base(handle, &session_id)).add_subclass(Relayed {
                    target: target_to_py(py, &target)?.unbind(),
                    message: value,
                    alias: alias.map(|a| a.as_str().to_owned()),
                    recipients,
                    last_will,
                    raw: message,
                }),
            )?
            .into_any()
        }
        // The core may grow new events; older bindings still hand them on.
        other => {
            let (handle, session_id) = session_of(&other);
            Bound::new(py, base(handle, &session_id))?.into_any()
        }
    })
}

/// A whole batch as one list, so the crossing costs one call per batch.
pub fn batch_to_py(
    py: Python<'_>,
    events: impl IntoIterator<Item = (CoreEvent, Option<Arc<str>>)>,
) -> PyResult<Bound<'_, pyo3::types::PyList>> {
    let list = pyo3::types::PyList::empty(py);
    for (event, took_over_from) in events {
        list.append(to_py(py, event, took_over_from)?)?;
    }
    Ok(list)
}

fn session_of(event: &CoreEvent) -> (SessionHandle, Arc<str>) {
    match event {
        CoreEvent::Opened { handle, session_id }
        | CoreEvent::Synced {
            handle, session_id, ..
        }
        | CoreEvent::Released {
            handle, session_id, ..
        }
        | CoreEvent::Message {
            handle, session_id, ..
        }
        | CoreEvent::Request {
            handle, session_id, ..
        }
        | CoreEvent::ProtocolError {
            handle, session_id, ..
        }
        | CoreEvent::Closed {
            handle, session_id, ..
        }
        | CoreEvent::Joined {
            handle, session_id, ..
        }
        | CoreEvent::Left {
            handle, session_id, ..
        }
        | CoreEvent::Relayed {
            handle, session_id, ..
        } => (*handle, session_id.clone()),
        _ => (SessionHandle(0), Arc::from("")),
    }
}

/// Registers the event classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Event>()?;
    m.add_class::<Connected>()?;
    m.add_class::<Synced>()?;
    m.add_class::<Released>()?;
    m.add_class::<Message>()?;
    m.add_class::<Request>()?;
    m.add_class::<ProtocolError>()?;
    m.add_class::<Disconnected>()?;
    m.add_class::<Joined>()?;
    m.add_class::<Left>()?;
    m.add_class::<Relayed>()?;
    Ok(())
}
