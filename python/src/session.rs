//! One row of `sessions()`: who is connected.

use pyo3::prelude::*;

use crate::repr::{repr_opt, repr_str};

/// An open session: its session id, the alias it holds, if any, and (on a
/// cluster's node) the node it is on.
#[pyclass(frozen, eq, module = "tcphub")]
#[derive(Debug, PartialEq, Eq)]
pub struct Session {
    /// The session id: its peer address, such as `127.0.0.1:53412`.
    #[pyo3(get)]
    pub session_id: String,
    /// The alias it synced, or `None`.
    #[pyo3(get)]
    pub alias: Option<String>,
    /// The node it is on, when the server is one node of a cluster.
    #[pyo3(get)]
    pub node: Option<String>,
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (session_id, alias=None, node=None))]
    fn new(session_id: String, alias: Option<String>, node: Option<String>) -> Self {
        Session {
            session_id,
            alias,
            node,
        }
    }

    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("session_id", "alias", "node")
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        // `node` only where there is one, so a lone server's rows read as
        // they always did.
        let node = match &self.node {
            Some(node) => format!(", node={}", repr_str(py, node)),
            None => String::new(),
        };
        format!(
            "Session(session_id={}, alias={}{node})",
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
            node: entry.node,
        }
    }
}
