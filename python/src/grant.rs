//! `tcphub.Grant` and the decisions a Python program gives about a
//! credential: `True`, `False` or a `Grant` naming an identity and what it
//! may do. One reading of a decision, shared by `Server`'s callback and
//! the sans-IO `Hub.handle_auth_decision`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyTuple};
use tcphub_core::{AliasPattern, AuthDecision, Permissions};
use tcphub_native::MAX_RELAY_PATTERNS;

use crate::errors::error;
use crate::repr::{repr_opt, repr_str};
use crate::targets::Aliases;

/// Longest identity accepted, in bytes. An identity is echoed in the
/// `forbidden` errors its sessions are sent, so it is kept to a name's
/// size rather than left unbounded.
pub const MAX_IDENTITY_LEN: usize = 256;

/// What a granted credential proves: who it belongs to and what its
/// sessions may do.
#[pyclass(frozen, eq, module = "tcphub")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    identity: Option<String>,
    permissions: Permissions,
}

#[pymethods]
impl Grant {
    #[new]
    #[pyo3(signature = (identity=None, *, relay=None, broadcast=true, list=true))]
    fn new(
        py: Python<'_>,
        identity: Option<String>,
        relay: Option<Aliases>,
        broadcast: bool,
        list: bool,
    ) -> PyResult<Self> {
        if let Some(identity) = &identity {
            check_identity(py, identity)?;
        }
        let relay = match relay {
            None => Permissions::default().relay,
            Some(patterns) => {
                let patterns = patterns.into_vec();
                if patterns.len() > MAX_RELAY_PATTERNS {
                    return Err(error(
                        py,
                        "ConfigError",
                        format!(
                            "relay takes at most {MAX_RELAY_PATTERNS} patterns, got {}",
                            patterns.len()
                        ),
                    ));
                }
                patterns
                    .iter()
                    .map(|p| AliasPattern::new(p))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| error(py, "ConfigError", format!("relay: {e}")))?
            }
        };
        Ok(Grant {
            identity,
            permissions: Permissions {
                relay,
                broadcast,
                list,
            },
        })
    }

    /// Who the credential belongs to; `None`: the alias itself.
    #[getter]
    fn identity(&self) -> Option<&str> {
        self.identity.as_deref()
    }

    /// The patterns of the aliases its sessions may relay to.
    #[getter]
    fn relay<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, self.permissions.relay.iter().map(AliasPattern::as_str))
    }

    /// Whether its sessions may send to everyone (`to: "*"`).
    #[getter]
    fn broadcast(&self) -> bool {
        self.permissions.broadcast
    }

    /// Whether its sessions may see who is connected (`list`, `watch`).
    #[getter]
    fn list(&self) -> bool {
        self.permissions.list
    }

    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str, &'static str) {
        ("identity", "relay", "broadcast", "list")
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let relay: Vec<String> = self
            .permissions
            .relay
            .iter()
            .map(|p| repr_str(py, p.as_str()))
            .collect();
        // A one-element tuple as Python writes it.
        let relay = match relay.as_slice() {
            [one] => format!("({one},)"),
            many => format!("({})", many.join(", ")),
        };
        let py_bool = |b: bool| if b { "True" } else { "False" };
        format!(
            "Grant(identity={}, relay={relay}, broadcast={}, list={})",
            repr_opt(py, self.identity.as_deref()),
            py_bool(self.permissions.broadcast),
            py_bool(self.permissions.list)
        )
    }
}

impl Grant {
    /// The core's grant.
    pub fn to_core(&self) -> tcphub_core::Grant {
        tcphub_core::Grant {
            identity: self.identity.as_deref().map(Arc::from),
            permissions: self.permissions.clone(),
        }
    }
}

fn check_identity(py: Python<'_>, identity: &str) -> PyResult<()> {
    let reason = if identity.is_empty() {
        "may not be empty".to_owned()
    } else if identity.len() > MAX_IDENTITY_LEN {
        format!("is longer than {MAX_IDENTITY_LEN} bytes")
    } else if identity.chars().any(char::is_control) {
        "contains a control character".to_owned()
    } else {
        return Ok(());
    };
    let shown: String = identity.chars().take(64).collect();
    Err(error(
        py,
        "ConfigError",
        format!("identity {shown:?} {reason}"),
    ))
}

/// A decision as Python gives it: `True` (granted with every permission,
/// as the identity named by the alias), `False` (denied) or a `Grant`.
/// Anything else is a `TypeError` naming what was given: `None` or `1` are
/// no decision, and a hub never reads them as one.
pub fn read_decision(value: &Bound<'_, PyAny>) -> PyResult<AuthDecision> {
    if let Ok(grant) = value.cast::<Grant>() {
        return Ok(AuthDecision::Grant(grant.get().to_core()));
    }
    if let Ok(flag) = value.cast::<PyBool>() {
        return Ok(if flag.is_true() {
            AuthDecision::Grant(tcphub_core::Grant::allow_all())
        } else {
            AuthDecision::Deny
        });
    }
    let kind = value
        .get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into());
    Err(PyTypeError::new_err(format!(
        "a decision is True, False or a tcphub.Grant, got {kind}"
    )))
}
