//! Where a relayed message goes, as values a program can build, compare and
//! `match` on: `Alias("Bob")`, `Room("lobby")` and `Everyone()`, the three
//! cases of the core's `RelayTarget`. `Relayed.target` is one of them.
//!
//! They are names, not checked ones: the hub checks a name where it is used
//! (a `join`, a `send_to_room`), and says which rule it broke there.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use serde_json::value::RawValue;

use crate::errors::error;
use crate::json::to_raw;
use crate::repr::repr_str;

/// Every session holding an alias.
#[pyclass(frozen, eq, hash, module = "tcphub")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Alias {
    /// The alias.
    #[pyo3(get)]
    pub name: String,
}

#[pymethods]
impl Alias {
    #[new]
    fn new(name: String) -> Self {
        Alias { name }
    }

    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("name",)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Alias({})", repr_str(py, &self.name))
    }
}

/// Every member of a room (but the sender).
#[pyclass(frozen, eq, hash, module = "tcphub")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Room {
    /// The room's name.
    #[pyo3(get)]
    pub name: String,
}

#[pymethods]
impl Room {
    #[new]
    fn new(name: String) -> Self {
        Room { name }
    }

    #[classattr]
    fn __match_args__() -> (&'static str,) {
        ("name",)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Room({})", repr_str(py, &self.name))
    }
}

/// Every session but the sender (`to: "*"` on the wire).
#[pyclass(frozen, eq, hash, module = "tcphub")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Everyone;

#[pymethods]
impl Everyone {
    #[new]
    fn new() -> Self {
        Everyone
    }

    #[classattr]
    fn __match_args__(py: Python<'_>) -> Bound<'_, PyTuple> {
        PyTuple::empty(py)
    }

    fn __repr__(&self) -> &'static str {
        "Everyone()"
    }
}

/// The Python object for a core relay target.
pub fn target_to_py<'py>(
    py: Python<'py>,
    target: &tcphub_core::RelayTarget,
) -> PyResult<Bound<'py, PyAny>> {
    use tcphub_core::RelayTarget;
    Ok(match target {
        RelayTarget::Alias(alias) => Bound::new(
            py,
            Alias {
                name: alias.as_str().to_owned(),
            },
        )?
        .into_any(),
        RelayTarget::Room(room) => Bound::new(
            py,
            Room {
                name: room.as_str().to_owned(),
            },
        )?
        .into_any(),
        RelayTarget::Everyone => Bound::new(py, Everyone)?.into_any(),
    })
}

/// A last will: a message the hub sends for a client whose session ends
/// without a clean `bye` (dropped, killed, timed out, closed by the host),
/// to the members of `room` or the holders of the aliases in `to`.
#[pyclass(frozen, module = "tcphub")]
#[derive(Debug)]
pub struct LastWill {
    /// The message as given: a `str` or a JSON-serialisable value.
    #[pyo3(get)]
    message: Py<PyAny>,
    target: WillTarget,
    /// The message encoded once, when the will was made.
    raw: Box<RawValue>,
}

#[derive(Debug)]
enum WillTarget {
    Room(String),
    Aliases(Vec<String>),
}

/// `to` as given: one alias or a sequence of them.
#[derive(Debug, FromPyObject)]
pub enum Aliases {
    One(String),
    Many(Vec<String>),
}

impl Aliases {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Aliases::One(alias) => vec![alias],
            Aliases::Many(aliases) => aliases,
        }
    }
}

#[pymethods]
impl LastWill {
    #[new]
    #[pyo3(signature = (message, *, room=None, to=None))]
    fn new(
        py: Python<'_>,
        message: Bound<'_, PyAny>,
        room: Option<String>,
        to: Option<Aliases>,
    ) -> PyResult<Self> {
        let target =
            match (room, to.map(Aliases::into_vec)) {
                (Some(room), None) => WillTarget::Room(room),
                (None, Some(aliases)) if !aliases.is_empty() => WillTarget::Aliases(aliases),
                _ => return Err(error(
                    py,
                    "ConfigError",
                    "a LastWill goes to a room or to aliases: give exactly one of room= and to= \
                     (an alias or a non-empty list of aliases)",
                )),
            };
        let raw = to_raw(py, &message)?;
        Ok(LastWill {
            message: message.unbind(),
            target,
            raw,
        })
    }

    /// The room it goes to, or `None`.
    #[getter]
    fn room(&self) -> Option<&str> {
        match &self.target {
            WillTarget::Room(room) => Some(room),
            WillTarget::Aliases(_) => None,
        }
    }

    /// The aliases it goes to, as a tuple; `None` for a room's will.
    #[getter]
    fn to<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match &self.target {
            WillTarget::Room(_) => Ok(None),
            WillTarget::Aliases(aliases) => PyTuple::new(py, aliases).map(Some),
        }
    }

    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("message", "room", "to")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let target = match &self.target {
            WillTarget::Room(room) => format!("room={}", repr_str(py, room)),
            WillTarget::Aliases(to) => format!(
                "to=[{}]",
                to.iter()
                    .map(|a| repr_str(py, a))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Ok(format!(
            "LastWill({}, {target})",
            self.message.bind(py).repr()?
        ))
    }
}

impl LastWill {
    /// The `lastWill` field of a `sync`, as JSON text.
    pub fn to_json(&self) -> String {
        let target = match &self.target {
            WillTarget::Room(room) => ("room", serde_json::to_string(room)),
            WillTarget::Aliases(to) => ("to", serde_json::to_string(to)),
        };
        let (field, value) = target;
        let value = value.expect("strings and lists of strings serialise");
        let target = format!("\"{field}\":{value}");
        format!("{{{target},\"message\":{}}}", self.raw.get())
    }
}

/// Registers the target classes on the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Alias>()?;
    m.add_class::<Room>()?;
    m.add_class::<Everyone>()?;
    m.add_class::<LastWill>()?;
    Ok(())
}
