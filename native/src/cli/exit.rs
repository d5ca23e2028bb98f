//! The exit statuses of the client commands, one table for all of them
//! (docs/native.md lists it):
//!
//! - 0: done as asked;
//! - 1: a failure: no connection, a refused sync, a message the hub
//!   refused (`[error]` in `connect`), the connection lost;
//! - 2: a mistake on the command line (clap's own status);
//! - 3: the hub closed the session for a reason of its own (`taken_over`,
//!   `idle_timeout`, `slow_consumer`, ...; not `shutdown`, the usual end of
//!   a `--stay` session);
//! - 4: `sub --timeout` ran out before `--count` messages; `request`
//!   got no reply in time (`request_timeout`).

use std::process::ExitCode;

/// The hub closed the session for a reason of its own.
pub fn closed_by_hub() -> ExitCode {
    ExitCode::from(3)
}

/// `sub --timeout` ran out, or a request got no reply in time.
pub fn timed_out() -> ExitCode {
    ExitCode::from(4)
}
