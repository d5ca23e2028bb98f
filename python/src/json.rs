//! Messages across the boundary: a Python `str` or JSON-serialisable value
//! in, any JSON value out.
//!
//! Strings, by far the most common message, never touch Python's `json`
//! module; other values go out through `json.dumps` (so they serialise
//! exactly as Python users expect) and come back as plain Python objects.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::value::RawValue;
use serde_json::Value;

use crate::errors::error;

static DUMPS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Encodes a host message: a `str` becomes a JSON string, anything else goes
/// through `json.dumps` (no NaN, non-ASCII kept as is).
pub fn to_raw(py: Python<'_>, message: &Bound<'_, PyAny>) -> PyResult<Box<RawValue>> {
    if let Ok(text) = message.cast::<PyString>() {
        let text = text.to_cow().map_err(|cause| {
            let err = error(
                py,
                "InvalidMessageError",
                "message is not valid Unicode (a lone surrogate?)",
            );
            err.set_cause(py, Some(cause));
            err
        })?;
        // A Rust string always serialises.
        return Ok(serde_json::value::to_raw_value(&*text).expect("strings serialise"));
    }
    let dumps = DUMPS.import(py, "json", "dumps")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("ensure_ascii", false)?;
    kwargs.set_item("allow_nan", false)?;
    kwargs.set_item("separators", (",", ":"))?;
    let encoded = match dumps.call((message,), Some(&kwargs)) {
        Ok(encoded) => encoded,
        Err(cause) => {
            let err = error(
                py,
                "InvalidMessageError",
                format!(
                    "message must be a str or a JSON-serialisable value: {}",
                    cause.value(py)
                ),
            );
            err.set_cause(py, Some(cause));
            return Err(err);
        }
    };
    let encoded: String = encoded.extract()?;
    RawValue::from_string(encoded).map_err(|e| {
        error(
            py,
            "InvalidMessageError",
            format!("json.dumps gave invalid JSON: {e}"),
        )
    })
}

/// Decodes a message as it arrived (valid JSON, checked by the core).
pub fn from_raw<'py>(py: Python<'py>, raw: &RawValue) -> PyResult<Bound<'py, PyAny>> {
    let text = raw.get();
    if text.starts_with('"') {
        if let Ok(s) = serde_json::from_str::<std::borrow::Cow<'_, str>>(text) {
            return Ok(PyString::new(py, &s).into_any());
        }
    }
    match serde_json::from_str::<Value>(text) {
        Ok(value) => from_value(py, &value),
        Err(e) => Err(error(
            py,
            "Error",
            format!("message is not valid JSON: {e}"),
        )),
    }
}

/// Builds the Python object for a JSON value: dict, list, str, int, float,
/// bool or None.
pub fn from_value<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(from_value(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, from_value(py, item)?)?;
            }
            dict.into_any()
        }
    })
}
