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

use tcphub_core::CloseReason;

use super::display;

/// The hub closed the session for a reason of its own.
pub fn closed_by_hub() -> ExitCode {
    ExitCode::from(3)
}

/// `sub --timeout` ran out, or a request got no reply in time.
pub fn timed_out() -> ExitCode {
    ExitCode::from(4)
}

/// How a command that listens until told (`sub`, `reply`) ends on the
/// hub's `bye`: the hub shutting down ends a run without `--count` as
/// done; anything else is the hub closing the session, said on stderr.
pub fn on_bye(reason: &str, message: &str, counting: bool) -> ExitCode {
    if reason == CloseReason::Shutdown.as_str() && !counting {
        display::status(&format!("the hub closed the session ({reason})"));
        return ExitCode::SUCCESS;
    }
    display::print_failure(&format!("the hub closed the session ({reason}): {message}"));
    closed_by_hub()
}
