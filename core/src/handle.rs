//! The handle naming one session inside the hub: a leaf module, so that
//! errors, events and tables can all name a session without depending on
//! each other.

use std::fmt;

/// Handle of one session, chosen by the hub at accept time: what a driver
/// and a host program name a session by.
///
/// Handles count up from 1 and are never reused, so a stale handle can only
/// miss, never hit another session. Clients never see handles: on the wire
/// a session is known by its *session id*, its peer address such as
/// `127.0.0.1:53412` (see [`SessionInfo::session_id`](crate::SessionInfo::session_id)
/// and [`Hub::handle_of`](crate::Hub::handle_of)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionHandle(pub u64);

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
