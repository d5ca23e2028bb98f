//! The handle naming one session inside the hub: a leaf module, so that
//! errors, events and tables can all name a session without depending on
//! each other.

use std::fmt;

/// Handle of one session, chosen by the hub at accept time.
///
/// Handles count up from 1 and are never reused, so a stale handle can only
/// miss, never hit another session. On the wire a session is known by its
/// peer address instead (see [`SessionInfo::peer`](crate::SessionInfo::peer)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}
