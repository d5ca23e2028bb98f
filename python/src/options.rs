//! The hub options a Python user passes as keywords, checked once here for
//! both `Server` and `Hub`. Names follow the `tcphub serve` flags.

use std::fmt;
use std::time::{Duration, Instant};

use pyo3::exceptions::PyOverflowError;
use pyo3::prelude::*;
use tcphub_core::{
    AliasPolicy, HubConfig, MAX_MAX_FRAME_LEN, MAX_MAX_LIST_ROWS, MAX_MAX_QUEUED_BYTES,
    MAX_MAX_SESSIONS, MAX_PER_SESSION_CAP, MAX_RATE_LIMIT_BYTES, MAX_RATE_LIMIT_MESSAGES,
    MIN_MAX_FRAME_LEN,
};

use crate::errors::error;

/// A timeout (idle, write deadline, frame) at least this long (about 292 billion years) never fires,
/// so it is off, as `inf` is: the same bound as `tcphub serve
/// --idle-timeout`, which keeps `start + timeout` far from overflowing.
pub const NEVER_FIRES: Duration = Duration::from_secs(u64::MAX / 2);

/// Seconds as Python passed them: any real number, ints too large for a
/// float included (as `inf` or `-inf`), so the check that follows decides
/// rather than a bare `OverflowError` from the conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(pub f64);

impl<'a, 'py> FromPyObject<'a, 'py> for Seconds {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<f64>() {
            Ok(secs) => Ok(Seconds(secs)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => Ok(Seconds(if obj.lt(0)? {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })),
            Err(e) => Err(e),
        }
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        show_float(f, self.0)
    }
}

/// A size, count or port as Python passed it: a whole number of any size
/// (saturating at the `i128` range) or a float, kept as given so that the
/// check that follows names the option and the value, rather than a bare
/// `OverflowError` or `TypeError` from the conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Whole(i128),
    Real(f64),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Number {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        match obj.extract::<i128>() {
            Ok(n) => Ok(Number::Whole(n)),
            Err(e) if e.is_instance_of::<PyOverflowError>(obj.py()) => {
                Ok(Number::Whole(if obj.lt(0)? {
                    i128::MIN
                } else {
                    i128::MAX
                }))
            }
            // A float is refused by name later; anything else keeps the
            // int conversion's TypeError.
            Err(e) => obj.extract::<f64>().map(Number::Real).map_err(|_| e),
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Whole(n) => write!(f, "{n}"),
            Number::Real(x) => show_float(f, *x),
        }
    }
}

/// The `ConfigError` for option `name` given `obj` of the wrong type
/// (`error`, the conversion's `TypeError`); any other error is kept.
pub fn wrong_type(obj: &Bound<'_, PyAny>, name: &str, error: PyErr) -> PyErr {
    let py = obj.py();
    if !error.is_instance_of::<pyo3::exceptions::PyTypeError>(py) {
        return error;
    }
    let shown = obj
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "<unprintable>".to_owned());
    crate::errors::error(
        py,
        "ConfigError",
        format!(
            "{name} has the wrong type ({}), got {shown}",
            error.value(py)
        ),
    )
}

/// A float as Python prints it: `inf`, `nan`, `-1`, `1e300` (not 301 digits).
fn show_float(f: &mut fmt::Formatter<'_>, x: f64) -> fmt::Result {
    if x.is_nan() {
        f.write_str("nan")
    } else if x.abs() < 1e16 {
        write!(f, "{x}")
    } else {
        write!(f, "{x:?}")
    }
}

/// The hub options a Python caller passes to `Hub(...)` or `Server(...)`,
/// as given, before any check. Names follow the keyword arguments.
#[derive(Debug, Clone, Copy)]
pub struct HubOptions<'a> {
    pub alias_policy: &'a str,
    pub max_frame_bytes: Number,
    pub max_sessions: Number,
    pub idle_timeout: Option<Seconds>,
    pub relay: bool,
    pub max_queued_bytes: Number,
    pub write_deadline: Option<Seconds>,
    pub frame_timeout: Option<Seconds>,
    pub max_list_rows: Number,
    pub high_watermark: Number,
    pub low_watermark: Number,
    pub observe: bool,
    pub max_rooms_per_session: Number,
    pub max_watched_aliases: Number,
    pub max_last_will_bytes: Number,
    /// Whether a `sync` must carry a credential the driver checks.
    pub authentication: bool,
    /// How long a credential's check may take.
    pub auth_timeout: Seconds,
    /// The rate limits and the per-address cap: `None` is off.
    pub limits: LimitOptions,
    /// How long requests wait for replies, and how many may wait.
    pub requests: RequestOptions,
}

/// The request options a Python caller passes, as given.
#[derive(Debug, Clone, Copy)]
pub struct RequestOptions {
    /// Seconds a request without its own `timeout` waits for its reply.
    pub request_timeout: Seconds,
    /// The longest wait a request may ask for, in seconds.
    pub max_request_timeout: Seconds,
    /// Most requests one session may have waiting.
    pub max_pending_requests: Number,
}

/// The limits a Python caller passes, as given; `None` is off.
#[derive(Debug, Clone, Copy, Default)]
pub struct LimitOptions {
    pub rate_limit_messages: Option<Number>,
    pub rate_limit_message_burst: Option<Number>,
    pub rate_limit_bytes: Option<Number>,
    pub rate_limit_bytes_burst: Option<Number>,
    pub max_connections_per_address: Option<Number>,
}

/// Builds a [`HubConfig`], naming the option and the value when one is
/// wrong. The rules that tie options together (the watermarks' order, the
/// queue cap's least value) are checked here too, so the error names the
/// options as Python spells them.
pub fn hub_config(py: Python<'_>, o: HubOptions<'_>) -> PyResult<HubConfig> {
    let policy: AliasPolicy = o.alias_policy.parse().map_err(|_| {
        error(
            py,
            "ConfigError",
            format!(
                "alias_policy must be 'takeover', 'reject' or 'share', got {:?}",
                o.alias_policy
            ),
        )
    })?;
    let max_frame_len = whole(
        py,
        "max_frame_bytes",
        o.max_frame_bytes,
        MIN_MAX_FRAME_LEN,
        MAX_MAX_FRAME_LEN,
    )?;
    let max_sessions = whole(py, "max_sessions", o.max_sessions, 1, MAX_MAX_SESSIONS)?;
    let max_list_rows = whole(py, "max_list_rows", o.max_list_rows, 1, MAX_MAX_LIST_ROWS)?;
    let max_rooms_per_session = whole(
        py,
        "max_rooms_per_session",
        o.max_rooms_per_session,
        1,
        MAX_PER_SESSION_CAP,
    )?;
    let max_watched_aliases = whole(
        py,
        "max_watched_aliases",
        o.max_watched_aliases,
        1,
        MAX_PER_SESSION_CAP,
    )?;
    let max_last_will_bytes = whole(
        py,
        "max_last_will_bytes",
        o.max_last_will_bytes,
        1,
        MAX_MAX_FRAME_LEN,
    )?;
    let high_watermark = whole(
        py,
        "high_watermark",
        o.high_watermark,
        1,
        MAX_MAX_QUEUED_BYTES,
    )?;
    let low_watermark = whole(
        py,
        "low_watermark",
        o.low_watermark,
        0,
        MAX_MAX_QUEUED_BYTES,
    )?;
    if low_watermark >= high_watermark {
        return Err(error(
            py,
            "ConfigError",
            format!(
                "low_watermark must be below high_watermark ({high_watermark}), got {low_watermark}"
            ),
        ));
    }
    let max_queued_bytes = whole(
        py,
        "max_queued_bytes",
        o.max_queued_bytes,
        1,
        MAX_MAX_QUEUED_BYTES,
    )?;
    // Every frame must fit under the cap on top of the high watermark, or
    // a session could be cut for receiving one frame.
    let least_cap = high_watermark.saturating_add(max_frame_len);
    if max_queued_bytes < least_cap {
        return Err(error(
            py,
            "ConfigError",
            format!(
                "max_queued_bytes must be at least high_watermark + max_frame_bytes \
                 ({least_cap}), got {max_queued_bytes}"
            ),
        ));
    }
    let optional_timeout = |name: &str, value: Option<Seconds>| match value {
        Some(secs) => timeout_option(py, name, secs),
        None => Ok(None),
    };
    let config = HubConfig {
        alias_policy: policy,
        max_frame_len,
        max_sessions,
        idle_timeout: optional_timeout("idle_timeout", o.idle_timeout)?,
        relay: o.relay,
        high_watermark,
        low_watermark,
        max_queued_bytes,
        write_deadline: optional_timeout("write_deadline", o.write_deadline)?,
        frame_timeout: optional_timeout("frame_timeout", o.frame_timeout)?,
        max_list_rows,
        max_rooms_per_session,
        max_watched_aliases,
        max_last_will_bytes,
        observe: o.observe,
        authentication: o.authentication,
        auth_timeout: auth_timeout(py, o.auth_timeout)?,
        // Python's `cluster=` option comes with the Redis shell
        // (docs/design/cluster.md, steps 4 and 5).
        node: None,
        // Seeded by whoever serves peers with it: `Hub::new` here, the
        // native `Server` for Python's `Server`.
        hash_seed: 0,
        // One frame per `Transmit` for Python's `Hub`, whose callers may
        // read them one by one; the native `Server` merges them.
        merge_transmits: false,
        rate_limit_messages: optional_whole(
            py,
            "rate_limit_messages",
            o.limits.rate_limit_messages,
            MAX_RATE_LIMIT_MESSAGES as usize,
        )?
        .map(|n| n as u32),
        rate_limit_message_burst: optional_whole(
            py,
            "rate_limit_message_burst",
            o.limits.rate_limit_message_burst,
            MAX_RATE_LIMIT_MESSAGES as usize,
        )?
        .map(|n| n as u32),
        rate_limit_bytes: optional_whole(
            py,
            "rate_limit_bytes",
            o.limits.rate_limit_bytes,
            usize::try_from(MAX_RATE_LIMIT_BYTES).unwrap_or(usize::MAX),
        )?
        .map(|n| n as u64),
        rate_limit_bytes_burst: optional_whole(
            py,
            "rate_limit_bytes_burst",
            o.limits.rate_limit_bytes_burst,
            usize::try_from(MAX_RATE_LIMIT_BYTES).unwrap_or(usize::MAX),
        )?
        .map(|n| n as u64),
        max_connections_per_address: optional_whole(
            py,
            "max_connections_per_address",
            o.limits.max_connections_per_address,
            MAX_MAX_SESSIONS,
        )?,
        request_timeout: request_wait(py, "request_timeout", o.requests.request_timeout)?,
        max_request_timeout: request_wait(
            py,
            "max_request_timeout",
            o.requests.max_request_timeout,
        )?,
        max_pending_requests: whole(
            py,
            "max_pending_requests",
            o.requests.max_pending_requests,
            1,
            MAX_PER_SESSION_CAP,
        )?,
    };
    // The core's own check, in case it grows a rule this file does not know.
    config
        .validate()
        .map_err(|e| error(py, "ConfigError", e.to_string()))?;
    Ok(config)
}

/// A size or count from `min` to `max`, refused by name otherwise.
pub fn whole(py: Python<'_>, name: &str, value: Number, min: usize, max: usize) -> PyResult<usize> {
    let reason = match value {
        Number::Whole(n) if n < min as i128 && min == 1 => "a positive integer".to_owned(),
        Number::Whole(n) if n < min as i128 && min == 0 => "a whole number of 0 or more".to_owned(),
        Number::Whole(n) if n < min as i128 => format!("at least {min}"),
        Number::Whole(n) if n > max as i128 => format!("at most {max}"),
        // Within min..=max, so within usize.
        Number::Whole(n) => return Ok(n as usize),
        Number::Real(_) => "a whole number".to_owned(),
    };
    Err(error(
        py,
        "ConfigError",
        format!("{name} must be {reason}, got {value}"),
    ))
}

/// An optional limit from 1 to `max`: `None` is off. (The casts of its
/// result fit: every `max` passed fits the field it fills.)
fn optional_whole(
    py: Python<'_>,
    name: &str,
    value: Option<Number>,
    max: usize,
) -> PyResult<Option<usize>> {
    value.map(|v| whole(py, name, v, 1, max)).transpose()
}

/// A count that may be zero; a huge one means "all" and saturates.
pub fn count(py: Python<'_>, name: &str, value: Number) -> PyResult<usize> {
    match value {
        Number::Whole(n) if n >= 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(error(
            py,
            "ConfigError",
            format!("{name} must be a whole number of 0 or more, got {value}"),
        )),
    }
}

/// A TCP port, 0 to 65535.
pub fn port(py: Python<'_>, value: Number) -> PyResult<u16> {
    match value {
        Number::Whole(n) => u16::try_from(n).ok(),
        Number::Real(_) => None,
    }
    .ok_or_else(|| {
        error(
            py,
            "ConfigError",
            format!("port must be between 0 and 65535, got {value}"),
        )
    })
}

/// A duration option in seconds, above zero (and at least a nanosecond,
/// the clock's step); `None` (no limit) for one too long for a `Duration`,
/// `inf` included.
fn seconds(py: Python<'_>, name: &str, secs: Seconds) -> PyResult<Option<Duration>> {
    let duration = Duration::try_from_secs_f64(secs.0);
    match duration {
        Ok(d) if d.is_zero() => {}
        Ok(d) => return Ok(Some(d)),
        Err(_) if secs.0 > 0.0 => return Ok(None),
        Err(_) => {}
    }
    Err(error(
        py,
        "ConfigError",
        format!("{name} must be a number of seconds above zero, got {secs}"),
    ))
}

/// A request wait option: above zero; `inf` (or one too long for a
/// `Duration`) waits practically for ever, as `tcphub serve
/// --max-request-timeout inf` does. (The core checks the finer rules, such
/// as the whole millisecond, and names the option too.)
fn request_wait(py: Python<'_>, name: &str, secs: Seconds) -> PyResult<Duration> {
    Ok(seconds(py, name, secs)?.unwrap_or(Duration::MAX))
}

/// A request's own timeout: above zero; `None` for `inf` (or one too
/// long for a `Duration`), which asks for as long as the hub allows.
pub fn request_timeout(py: Python<'_>, name: &str, secs: Seconds) -> PyResult<Option<Duration>> {
    seconds(py, name, secs)
}

/// A timeout option that may be off: `inf` and anything from
/// [`NEVER_FIRES`] up turn it off.
pub fn timeout_option(py: Python<'_>, name: &str, secs: Seconds) -> PyResult<Option<Duration>> {
    Ok(seconds(py, name, secs)?.filter(|d| *d < NEVER_FIRES))
}

/// The bounds of `auth_timeout`, as `tcphub serve --auth-timeout`'s.
pub const MIN_AUTH_TIMEOUT: Duration = Duration::from_millis(1);
pub const MAX_AUTH_TIMEOUT: Duration = Duration::from_secs(3600);

/// How long a credential's check may take: 1 ms to an hour. Unlike the
/// other timeouts it cannot be off: a session waiting for its check holds
/// its input, so the wait must end.
fn auth_timeout(py: Python<'_>, secs: Seconds) -> PyResult<Duration> {
    match Duration::try_from_secs_f64(secs.0) {
        Ok(d) if (MIN_AUTH_TIMEOUT..=MAX_AUTH_TIMEOUT).contains(&d) => Ok(d),
        _ => Err(error(
            py,
            "ConfigError",
            format!("auth_timeout must be 0.001 to 3600 seconds, got {secs}"),
        )),
    }
}

/// A grace period: `inf`, or one too long for a `Duration`, waits as long
/// as it takes (`Duration::MAX`, which the server's deadlines saturate).
pub fn grace(py: Python<'_>, name: &str, secs: Seconds) -> PyResult<Duration> {
    Ok(seconds(py, name, secs)?.unwrap_or(Duration::MAX))
}

/// A time on the sans-IO hub's clock: finite, 0 or more, and within what a
/// `Duration` holds (about 1.8e19 seconds).
pub fn now(py: Python<'_>, secs: Seconds) -> PyResult<Duration> {
    match Duration::try_from_secs_f64(secs.0) {
        Ok(now) => Ok(now),
        Err(_) => Err(error(
            py,
            "ConfigError",
            format!("now must be a finite number of seconds, 0 or more, got {secs}"),
        )),
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

/// A wait: `None` waits forever, and so do `inf` and waits too long for a
/// `Duration`; zero, negative and NaN waits do not wait.
pub fn wait(timeout: Option<Seconds>) -> Option<Duration> {
    let Seconds(secs) = timeout?;
    if secs > 0.0 {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        Some(Duration::ZERO)
    }
}

/// When a wait of `timeout` starting now ends: `None` (never) when there is
/// no limit or the end is past what the clock can represent.
pub fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|t| Instant::now().checked_add(t))
}
