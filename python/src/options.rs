//! The hub options a Python user passes as keywords, checked once here for
//! both `Server` and `Hub`. Names follow the `tcphub serve` flags.

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use tcphub_core::{AliasPolicy, HubConfig, MIN_MAX_FRAME_LEN};

use crate::errors::error;

/// Builds a [`HubConfig`], naming the option and the value when one is wrong.
pub fn hub_config(
    py: Python<'_>,
    alias_policy: &str,
    max_frame_bytes: i64,
    max_sessions: i64,
    idle_timeout: Option<f64>,
    relay: bool,
) -> PyResult<HubConfig> {
    let policy: AliasPolicy = alias_policy.parse().map_err(|_| {
        error(
            py,
            "ConfigError",
            format!("alias_policy must be 'takeover', 'reject' or 'share', got {alias_policy:?}"),
        )
    })?;
    if max_frame_bytes < MIN_MAX_FRAME_LEN as i64 {
        return Err(error(
            py,
            "ConfigError",
            format!("max_frame_bytes must be at least {MIN_MAX_FRAME_LEN}, got {max_frame_bytes}"),
        ));
    }
    let config = HubConfig {
        alias_policy: policy,
        max_frame_len: positive(py, "max_frame_bytes", max_frame_bytes)?,
        max_sessions: positive(py, "max_sessions", max_sessions)?,
        idle_timeout: idle_timeout
            .map(|secs| seconds(py, "idle_timeout", secs))
            .transpose()?,
        relay,
        ..HubConfig::default()
    };
    config
        .validate()
        .map_err(|e| error(py, "ConfigError", e.to_string()))?;
    Ok(config)
}

/// A count or size that must be at least 1.
pub fn positive(py: Python<'_>, name: &str, value: i64) -> PyResult<usize> {
    match usize::try_from(value) {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(error(
            py,
            "ConfigError",
            format!("{name} must be a positive integer, got {value}"),
        )),
    }
}

/// A duration in seconds that must be finite and above zero.
pub fn seconds(py: Python<'_>, name: &str, secs: f64) -> PyResult<Duration> {
    if secs.is_finite() && secs > 0.0 {
        Duration::try_from_secs_f64(secs)
            .map_err(|e| error(py, "ConfigError", format!("{name}: {e}")))
    } else {
        Err(error(
            py,
            "ConfigError",
            format!("{name} must be a number of seconds above zero, got {secs}"),
        ))
    }
}

/// How long one GIL-free wait lasts before Python checks for signals, so
/// Ctrl-C interrupts a long wait promptly.
pub const SIGNAL_CHECK: Duration = Duration::from_millis(200);

/// The next slice of a wait that ends at `deadline` (`None`: never).
pub fn next_slice(deadline: Option<Instant>) -> Duration {
    match deadline {
        Some(d) => d
            .saturating_duration_since(Instant::now())
            .min(SIGNAL_CHECK),
        None => SIGNAL_CHECK,
    }
}

/// A wait: `None` waits forever; negative waits count as zero.
pub fn wait(timeout: Option<f64>) -> Option<Duration> {
    timeout.map(|secs| {
        if secs.is_finite() && secs > 0.0 {
            Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
        } else if secs.is_nan() || secs <= 0.0 {
            Duration::ZERO
        } else {
            Duration::MAX
        }
    })
}
