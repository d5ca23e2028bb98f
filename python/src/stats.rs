//! `stats()` for `Hub` and `Server`: the core's counters as one plain dict,
//! keyed by the Prometheus metric names of docs/metrics.md without the
//! `tcphub_` prefix, so a number read in Python and one scraped from
//! `serve --metrics` are found under the same name.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use tcphub_core::{CloseReason, ErrorCode, FrameKind, HubStats};

/// The dict `stats()` returns; labelled metrics are nested dicts keyed by
/// label value, every label present (zero included) so a caller can index
/// without `.get`.
pub fn to_dict<'py>(py: Python<'py>, stats: &HubStats) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("sessions_open", stats.sessions_open())?;
    dict.set_item("aliases_held", stats.aliases_held())?;
    dict.set_item("queued_bytes", stats.queued_bytes())?;
    dict.set_item("sessions_opened_total", stats.sessions_opened())?;
    let kinds = PyDict::new(py);
    for kind in FrameKind::ALL {
        kinds.set_item(kind.as_str(), stats.frames_in(kind))?;
    }
    dict.set_item("frames_received_total", kinds)?;
    dict.set_item("received_bytes_total", stats.bytes_in())?;
    dict.set_item("frames_sent_total", stats.frames_out())?;
    dict.set_item("sent_bytes_total", stats.bytes_out())?;
    let codes = PyDict::new(py);
    for code in ErrorCode::ALL {
        codes.set_item(code.as_str(), stats.errors(code))?;
    }
    dict.set_item("errors_total", codes)?;
    let reasons = PyDict::new(py);
    for reason in CloseReason::ALL {
        reasons.set_item(reason.as_str(), stats.closes(reason))?;
    }
    dict.set_item("closes_total", reasons)?;
    dict.set_item("flow_pauses_total", stats.flow_pauses())?;
    let auth = PyDict::new(py);
    auth.set_item("granted", stats.auth_granted())?;
    auth.set_item("denied", stats.auth_denied())?;
    dict.set_item("auth_total", auth)?;
    Ok(dict)
}
