//! Python's `repr` of the strings every class's `__repr__` shows, in one
//! place, so the event, target and session classes share it without
//! depending on each other.

use pyo3::prelude::*;
use pyo3::types::PyString;

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
