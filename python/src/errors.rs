//! Raising the exceptions of `tcphub._errors` from Rust.
//!
//! The exception classes are plain Python (so they can derive from both
//! `tcphub.Error` and the closest built-in); Rust looks them up by name.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyModule;
use tcphub_core::HubError;

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An exception of class `tcphub.<class>` carrying `message`.
pub fn error(py: Python<'_>, class: &str, message: impl Into<String>) -> PyErr {
    let message = message.into();
    let built = ERRORS
        .get_or_try_init(py, || py.import("tcphub._errors").map(Bound::unbind))
        .and_then(|module| module.bind(py).getattr(class))
        .and_then(|class| class.call1((message,)));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(import_failed) => import_failed,
    }
}

/// Maps the core's API-misuse errors to the Python exception a user expects.
pub fn hub_error(py: Python<'_>, err: HubError) -> PyErr {
    let class = match &err {
        HubError::UnknownAlias(_) => "UnknownAliasError",
        HubError::UnknownSession(_) | HubError::UnknownSessionId(_) => "UnknownSessionError",
        HubError::InvalidMessage(_) => "InvalidMessageError",
        HubError::InvalidConfig(_) => "ConfigError",
        _ => "Error",
    };
    error(py, class, err.to_string())
}

/// `RejectedError(code, detail)`: the hub answered a client with an `error` frame.
pub fn rejected(py: Python<'_>, code: &str, detail: &str) -> PyErr {
    let built = ERRORS
        .get_or_try_init(py, || py.import("tcphub._errors").map(Bound::unbind))
        .and_then(|module| module.bind(py).getattr("RejectedError"))
        .and_then(|class| class.call1((code, detail)));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        Err(import_failed) => import_failed,
    }
}
