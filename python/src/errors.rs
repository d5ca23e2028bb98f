//! Raising the exceptions of `tcphub._errors` from Rust.
//!
//! The exception classes are plain Python (so they can derive from both
//! `tcphub.Error` and the closest built-in); Rust looks them up by name.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyModule, PyTuple};
use tcphub_core::{ErrorCode, HubError};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// An instance of `tcphub.<class>` built from `args`, as a `PyErr`.
fn raise<'py>(py: Python<'py>, class: &str, args: Bound<'py, PyTuple>) -> PyErr {
    let built = ERRORS
        .get_or_try_init(py, || py.import("tcphub._errors").map(Bound::unbind))
        .and_then(|module| module.bind(py).getattr(class))
        .and_then(|class| class.call1(args));
    match built {
        Ok(instance) => PyErr::from_value(instance),
        // Only if the package is broken; that error says more than ours.
        Err(import_failed) => import_failed,
    }
}

/// An exception of class `tcphub.<class>` carrying `message`.
pub fn error(py: Python<'_>, class: &str, message: impl Into<String>) -> PyErr {
    match PyTuple::new(py, [message.into()]) {
        Ok(args) => raise(py, class, args),
        Err(e) => e,
    }
}

/// `RejectedError(code, detail)`: the hub answered a client with an
/// `error` frame. The codes a program handles apart have a subclass of
/// their own: `unauthorized`, `forbidden`, `request_timeout` and
/// `too_many_requests`.
pub fn rejected(py: Python<'_>, code: &str, detail: &str) -> PyErr {
    let class = match ErrorCode::from_wire(code) {
        Some(ErrorCode::Unauthorized) => "UnauthorizedError",
        Some(ErrorCode::Forbidden) => "ForbiddenError",
        Some(ErrorCode::RequestTimeout) => "RequestTimeoutError",
        Some(ErrorCode::TooManyRequests) => "TooManyRequestsError",
        _ => "RejectedError",
    };
    match PyTuple::new(py, [code, detail]) {
        Ok(args) => raise(py, class, args),
        Err(e) => e,
    }
}

/// Maps the core's API-misuse errors to the Python exception a user expects.
pub fn hub_error(py: Python<'_>, err: HubError) -> PyErr {
    let class = match &err {
        HubError::UnknownAlias(_) => "UnknownAliasError",
        HubError::UnknownRoom(_) => "UnknownRoomError",
        HubError::UnknownRequest(_) => "UnknownRequestError",
        HubError::InvalidRoom(_) => "InvalidRoomError",
        HubError::TooManyRooms { .. } => "TooManyRoomsError",
        HubError::UnknownHandle(_) | HubError::UnknownSessionId(_) => "UnknownSessionError",
        HubError::InvalidMessage(_) => "InvalidMessageError",
        HubError::InvalidConfig(_) => "ConfigError",
        HubError::BackplaneBehind => "ClusterError",
        _ => "Error",
    };
    error(py, class, err.to_string())
}
