//! Log lines of the embedded server on stderr, as the `tcphub` binary
//! prints them. Off unless asked for (`python -m tcphub serve` asks): a
//! library embedded in someone's program stays quiet by default.

use pyo3::prelude::*;
use tcphub_native::logging::{self, LogFormat};

use crate::errors::error;

/// Installs the process-wide log subscriber: `format` is `"human"` or
/// `"json"`; `RUST_LOG`, when set, wins over `verbose` (0 info, 1 debug,
/// 2 trace). Returns False if logging was already set up.
#[pyfunction]
#[pyo3(signature = (verbose=0, format="human"))]
pub fn init_logging(py: Python<'_>, verbose: u8, format: &str) -> PyResult<bool> {
    let format = match format {
        "human" => LogFormat::Human,
        "json" => LogFormat::Json,
        other => {
            return Err(error(
                py,
                "ConfigError",
                format!("log format must be 'human' or 'json', got {other:?}"),
            ))
        }
    };
    Ok(logging::try_init(format, verbose))
}
