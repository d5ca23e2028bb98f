//! Log lines of the embedded server on stderr, as the `tcphub` binary
//! prints them. Off unless asked for (`python -m tcphub serve` asks): a
//! library embedded in someone's program stays quiet by default.

use std::io::IsTerminal;

use pyo3::prelude::*;
use tracing_subscriber::EnvFilter;

use crate::errors::error;

/// Installs the process-wide log subscriber: `format` is `"human"` or
/// `"json"`; `RUST_LOG`, when set, wins over `verbose` (0 info, 1 debug,
/// 2 trace). Returns False if logging was already set up.
#[pyfunction]
#[pyo3(signature = (verbose=0, format="human"))]
pub fn init_logging(py: Python<'_>, verbose: u8, format: &str) -> PyResult<bool> {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let installed = match format {
        "human" => builder.try_init().is_ok(),
        "json" => builder.json().flatten_event(true).try_init().is_ok(),
        other => {
            return Err(error(
                py,
                "ConfigError",
                format!("log format must be 'human' or 'json', got {other:?}"),
            ))
        }
    };
    Ok(installed)
}
