//! One row of `sessions()`: who is connected.

use pyo3::prelude::*;

use crate::events::{repr_opt, repr_str};

/// An open session: its session id and the alias it holds, if any.
#[pyclass(frozen, eq, module = "tcphub")]
#[derive(Debug, PartialEq, Eq)]
pub struct Session {
    /// The session id: its peer address, such as `127.0.0.1:53412`.
    #[pyo3(get)]
    pub session_id: String,
    /// The alias it synced, or `None`.
    #[pyo3(get)]
    pub alias: Option<String>,
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (session_id, alias=None))]
    fn new(session_id: String, alias: Option<String>) -> Self {
        Session { session_id, alias }
    }

    #[classattr]
    fn __match_args__() -> (&'static str, &'static str) {
        ("session_id", "alias")
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Session(session_id={}, alias={})",
            repr_str(py, &self.session_id),
            repr_opt(py, self.alias.as_deref())
        )
    }
}

impl From<tcphub_core::SessionEntry> for Session {
    fn from(entry: tcphub_core::SessionEntry) -> Self {
        Session {
            session_id: entry.session_id,
            alias: entry.client_name,
        }
    }
}
