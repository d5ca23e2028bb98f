//! Hub events: logged, then handed to the host program.

use tcphub_core::Event;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Logs each event and passes it to the host without ever waiting: a host
/// that reads late loses events (counted in a warning), never stalls the hub.
#[derive(Debug)]
pub(crate) struct EventSink {
    host: Option<mpsc::Sender<Event>>,
    dropped: u64,
}

impl EventSink {
    pub(crate) fn new(host: mpsc::Sender<Event>) -> Self {
        EventSink {
            host: Some(host),
            dropped: 0,
        }
    }

    pub(crate) fn emit(&mut self, event: Event) {
        log(&event);
        let Some(host) = &self.host else {
            return;
        };
        match host.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.dropped += 1;
                if self.dropped.is_power_of_two() {
                    warn!(
                        dropped = self.dropped,
                        "the host program is not reading hub events fast enough; events dropped"
                    );
                }
            }
            // The host dropped its `HostEvents`: it does not want them.
            Err(mpsc::error::TrySendError::Closed(_)) => self.host = None,
        }
    }
}

/// One line per connect, sync, takeover, room join or leave and close;
/// per-message lines (relays seen with `observe` included) only at debug
/// level.
fn log(event: &Event) {
    match event {
        Event::Opened {
            handle: session,
            session_id: peer,
        } => info!(session = %session, %peer, "connected"),
        Event::Synced {
            handle: session,
            session_id: peer,
            alias,
            took_over_from: Some(old),
        } => {
            info!(session = %session, %peer, alias = %alias, from_session = %old, "synced, taking the alias over")
        }
        Event::Synced {
            handle: session,
            session_id: peer,
            alias,
            took_over_from: None,
        } => info!(session = %session, %peer, alias = %alias, "synced"),
        Event::Released {
            handle: session,
            session_id: peer,
            alias,
        } => debug!(session = %session, %peer, alias = %alias, "alias released"),
        Event::Message {
            handle: session,
            session_id: peer,
            alias,
            message,
        } => debug!(
            session = %session,
            %peer,
            alias = alias.as_ref().map(|a| a.as_str()),
            message = message.get(),
            "message for the host"
        ),
        Event::ProtocolError {
            handle: session,
            session_id: peer,
            error,
        } => {
            info!(session = %session, %peer, code = %error.code, error = %error.message, "protocol error")
        }
        Event::Closed {
            handle: session,
            session_id: peer,
            alias,
            reason,
        } => info!(
            session = %session,
            %peer,
            alias = alias.as_ref().map(|a| a.as_str()),
            reason = %reason,
            "closed"
        ),
        Event::Joined {
            handle: session,
            session_id: peer,
            alias,
            room,
        } => info!(
            session = %session,
            %peer,
            alias = alias.as_ref().map(|a| a.as_str()),
            room = %room,
            "joined room"
        ),
        Event::Left {
            handle: session,
            session_id: peer,
            alias,
            room,
        } => info!(
            session = %session,
            %peer,
            alias = alias.as_ref().map(|a| a.as_str()),
            room = %room,
            "left room"
        ),
        Event::Relayed {
            handle: session,
            session_id: peer,
            alias,
            target,
            message,
            recipients,
            last_will,
        } => debug!(
            session = %session,
            %peer,
            alias = alias.as_ref().map(|a| a.as_str()),
            target = ?target,
            recipients,
            last_will,
            message = message.get(),
            "relayed"
        ),
        _ => debug!(?event, "event"),
    }
}
