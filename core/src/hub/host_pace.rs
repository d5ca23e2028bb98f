//! Pacing clients to the host program when it observes: a host that asked
//! to see every relayed message must not miss one because it read events
//! late, so the clients producing its events wait for it instead.
//!
//! The driver says when the host falls behind on events and when it has
//! caught up ([`Hub::handle_host_backlog`]). Meanwhile every session whose
//! frame gave the host any event (a relay it observes, a message for the
//! host, a sync, a join, a mistake) is paused after that frame, exactly as
//! a sender to a backed-up recipient is, and resumes once the host catches
//! up; so the events a driver must hold back are bounded by the sessions,
//! not by what they send. Without `observe` the host is never waited for:
//! a driver drops events the host cannot take, and clients are served as
//! usual.

use super::Hub;
use crate::handle::SessionHandle;

impl Hub {
    /// The host program has fallen behind on the events it is handed
    /// (`true`), or caught up (`false`). Only matters with
    /// [`observe`](crate::HubConfig::observe) on; see the module
    /// documentation of `host_pace` for what it does.
    pub fn handle_host_backlog(&mut self, behind: bool) {
        if !self.config.observe || behind == self.host_behind {
            return;
        }
        self.host_behind = behind;
        if !behind {
            let held = std::mem::take(&mut self.host_holding);
            for &handle in &held {
                if let Some(session) = self.sessions.get_mut(handle) {
                    session.flow.held_by_host = false;
                }
            }
            self.release_held(held);
            self.settle();
        }
    }

    /// Whether the driver last said the host is behind on events.
    pub fn is_host_behind(&self) -> bool {
        self.host_behind
    }

    /// After a frame of `handle` gave the host an event: while the host is
    /// behind, the session waits for it.
    pub(super) fn pace_to_host(&mut self, handle: SessionHandle) {
        if !self.host_behind {
            return;
        }
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        if session.flow.held_by_host {
            return;
        }
        session.flow.held_by_host = true;
        session.flow.waiting_on += 1;
        self.host_holding.push(handle);
        self.pause(handle);
    }
}
