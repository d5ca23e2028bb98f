//! The hub's events as typed Python objects with readable reprs.
//!
//! Every event derives from `tcphub.Event`, which carries the session's id
//! on the wire (`session_id`, its peer address such as `127.0.0.1:53412`,
//! what `send_to_session` and `close_session` take) and the core's small
//! integer `handle` (what the sans-IO `Hub` uses).

use pyo3::prelude::*;
use pyo3::types::PyString;
use serde_json::value::RawValue;
use tcphub_core::Event as CoreEvent;

use crate::json::from_raw;

/// Base class of every hub event.
#[pyclass(subclass, frozen, module = "tcphub", name = "Event")]
#[derive(Debug)]
pub struct Event {
    /// The session's id on the wire: its peer address.
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
    /// The handle of the session that lost the alias to this one under the
    /// `takeover` policy, if any.
    #[pyo3(get)]
    took_over_from: Option<u64>,
}

#[pymethods]
impl Synced {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("session_id", "alias")
    }

    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let py = slf.py();
        let this = slf.get();
        let base = slf.as_super().get();
        let takeover = match this.took_over_from {
            Some(h) => format!(", took_over_from={h}"),
            None => String::new(),
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
        ("session_id", "alias")
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
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("session_id", "alias", "message")
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
    fn __match_args__() -> (&'static str, &'static str) {
        ("session_id", "code")
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
        ("session_id", "alias", "reason")
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

/// Builds the Python object for one core event.
pub fn to_py(py: Python<'_>, event: CoreEvent) -> PyResult<Bound<'_, PyAny>> {
    let base = |session: tcphub_core::SessionHandle, peer: &str| Event {
        session_id: PyString::new(py, peer).unbind(),
        handle: session.0,
    };
    let init = PyClassInitializer::from;
    Ok(match event {
        CoreEvent::Opened {
            handle: session,
            session_id: peer,
        } => Bound::new(py, init(base(session, &peer)).add_subclass(Connected))?.into_any(),
        CoreEvent::Synced {
            handle: session,
            session_id: peer,
            alias,
            took_over_from,
        } => Bound::new(
            py,
            init(base(session, &peer)).add_subclass(Synced {
                alias: alias.as_str().to_owned(),
                took_over_from: took_over_from.map(|s| s.0),
            }),
        )?
        .into_any(),
        CoreEvent::Released {
            handle: session,
            session_id: peer,
            alias,
        } => Bound::new(
            py,
            init(base(session, &peer)).add_subclass(Released {
                alias: alias.as_str().to_owned(),
            }),
        )?
        .into_any(),
        CoreEvent::Message {
            handle: session,
            session_id: peer,
            alias,
            message,
        } => {
            let value = from_raw(py, &message)?.unbind();
            Bound::new(
                py,
                init(base(session, &peer)).add_subclass(Message {
                    alias: alias.map(|a| a.as_str().to_owned()),
                    message: value,
                    raw: message,
                }),
            )?
            .into_any()
        }
        CoreEvent::ProtocolError {
            handle: session,
            session_id: peer,
            error,
        } => Bound::new(
            py,
            init(base(session, &peer)).add_subclass(ProtocolError {
                code: error.code.as_str(),
                detail: error.message,
            }),
        )?
        .into_any(),
        CoreEvent::Closed {
            handle: session,
            session_id: peer,
            alias,
            reason,
        } => Bound::new(
            py,
            init(base(session, &peer)).add_subclass(Disconnected {
                alias: alias.map(|a| a.as_str().to_owned()),
                reason: reason.as_str(),
            }),
        )?
        .into_any(),
        // The core may grow new events; older bindings still hand them on.
        other => {
            let (session, peer) = session_of(&other);
            Bound::new(py, base(session, &peer))?.into_any()
        }
    })
}

/// A whole batch as one list, so the crossing costs one call per batch.
pub fn batch_to_py(
    py: Python<'_>,
    events: impl IntoIterator<Item = CoreEvent>,
) -> PyResult<Bound<'_, pyo3::types::PyList>> {
    let list = pyo3::types::PyList::empty(py);
    for event in events {
        list.append(to_py(py, event)?)?;
    }
    Ok(list)
}

fn session_of(event: &CoreEvent) -> (tcphub_core::SessionHandle, std::sync::Arc<str>) {
    match event {
        CoreEvent::Opened {
            handle: session,
            session_id: peer,
        }
        | CoreEvent::Synced {
            handle: session,
            session_id: peer,
            ..
        }
        | CoreEvent::Released {
            handle: session,
            session_id: peer,
            ..
        }
        | CoreEvent::Message {
            handle: session,
            session_id: peer,
            ..
        }
        | CoreEvent::ProtocolError {
            handle: session,
            session_id: peer,
            ..
        }
        | CoreEvent::Closed {
            handle: session,
            session_id: peer,
            ..
        } => (*session, peer.clone()),
        _ => (tcphub_core::SessionHandle(0), std::sync::Arc::from("")),
    }
}

/// Python's `repr` of a string object.
pub fn repr(py: Python<'_>, s: &Py<PyString>) -> String {
    s.bind(py)
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// Python's `repr` of a Rust string.
pub fn repr_str(py: Python<'_>, s: &str) -> String {
    repr(py, &PyString::new(py, s).unbind())
}

/// `None` or the string's repr.
pub fn repr_opt(py: Python<'_>, s: Option<&str>) -> String {
    s.map_or_else(|| "None".to_owned(), |s| repr_str(py, s))
}

/// Registers the event classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Event>()?;
    m.add_class::<Connected>()?;
    m.add_class::<Synced>()?;
    m.add_class::<Released>()?;
    m.add_class::<Message>()?;
    m.add_class::<ProtocolError>()?;
    m.add_class::<Disconnected>()?;
    Ok(())
}
