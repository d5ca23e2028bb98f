//! `tcphub._tcphub`: the native half of the `tcphub` Python package.
//!
//! The pure-Python package `tcphub` (python/tcphub) re-exports these classes
//! and adds the pleasant parts: the exception classes, callbacks, asyncio
//! iteration and the command line. Nothing here implements the hub itself:
//! `Hub` wraps `tcphub-core` and `Server` embeds `tcphub-native`.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use tcphub_core::{CloseReason, ErrorCode, PresenceChange};

mod aio;
mod aio_client;
mod aio_link;
mod aio_server;
mod auth_options;
mod client;
mod errors;
mod events;
mod grant;
mod host_auth;
mod hub;
mod json;
mod logging;
mod options;
mod repr;
mod request_reply;
mod requests;
mod secrets;
mod server;
mod session;
mod stats;
mod targets;
mod transport;

#[pymodule]
fn _tcphub(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("HUB_NAME", tcphub_core::HUB_NAME)?;
    // The core's own lists, so that no list of names is copied by hand on
    // the Python side (the stub's Literal types are checked against these).
    m.add(
        "CLOSE_REASONS",
        PyTuple::new(m.py(), CloseReason::ALL.map(CloseReason::as_str))?,
    )?;
    m.add(
        "ERROR_CODES",
        PyTuple::new(m.py(), ErrorCode::ALL.map(ErrorCode::as_str))?,
    )?;
    m.add(
        "PRESENCE_CHANGES",
        PyTuple::new(m.py(), PresenceChange::ALL.map(PresenceChange::as_str))?,
    )?;
    events::register(m)?;
    targets::register(m)?;
    m.add_function(wrap_pyfunction!(logging::init_logging, m)?)?;
    m.add_function(wrap_pyfunction!(secrets::hash_secret, m)?)?;
    m.add_class::<session::Session>()?;
    m.add_class::<server::Server>()?;
    m.add_class::<aio::Completions>()?;
    m.add_class::<aio_server::AsyncHub>()?;
    m.add_class::<aio_client::AsyncConnection>()?;
    m.add_class::<hub::Hub>()?;
    m.add_class::<hub::Transmit>()?;
    m.add_class::<hub::Close>()?;
    m.add_class::<hub::PauseReading>()?;
    m.add_class::<hub::ResumeReading>()?;
    m.add_class::<hub::Authenticate>()?;
    m.add_class::<grant::Grant>()?;
    m.add_class::<host_auth::AuthQuestion>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Received>()?;
    m.add_class::<client::ErrorReply>()?;
    m.add_class::<client::Bye>()?;
    m.add_class::<client::Presence>()?;
    m.add_class::<request_reply::ReceivedRequest>()?;
    Ok(())
}
