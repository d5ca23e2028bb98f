//! Hub events: logged, then handed to the host program.

use std::collections::VecDeque;

use tcphub_core::Event;
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

/// Most events held back for an observing host beyond its queue. The hub
/// pauses the clients producing observed events as soon as the host falls
/// behind, so only events no client can be paused for (connects, closes,
/// timers) can pile up here; past this many, they are dropped and counted.
const MAX_HELD_BACK: usize = 1 << 16;

/// Logs each event and passes it to the host.
///
/// A host that does not observe relays is never waited for: when its queue
/// is full, events are dropped (counted in a warning) and clients are
/// served as usual. A host that observes is waited for instead: events it
/// has no room for are held back, in order, the hub is told the host is
/// behind (it then pauses the clients producing its events), and the held
/// events go out as the host makes room.
#[derive(Debug)]
pub(crate) struct EventSink {
    host: Option<mpsc::Sender<Event>>,
    /// Whether the hub observes relays, so the host is waited for.
    observe: bool,
    /// Events the observing host had no room for yet, oldest first.
    held_back: VecDeque<Event>,
    dropped: u64,
}

/// What an emitted event did to the host's backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backlog {
    /// Nothing changed.
    Same,
    /// The host just fell behind: tell the hub.
    FellBehind,
}

impl EventSink {
    pub(crate) fn new(host: mpsc::Sender<Event>, observe: bool) -> Self {
        EventSink {
            host: Some(host),
            observe,
            held_back: VecDeque::new(),
            dropped: 0,
        }
    }

    pub(crate) fn emit(&mut self, event: Event) -> Backlog {
        log(&event);
        let Some(host) = &self.host else {
            return Backlog::Same;
        };
        if !self.held_back.is_empty() {
            self.hold_back(event);
            return Backlog::Same;
        }
        match host.try_send(event) {
            Ok(()) => Backlog::Same,
            Err(mpsc::error::TrySendError::Full(event)) if self.observe => {
                self.hold_back(event);
                Backlog::FellBehind
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.count_dropped();
                Backlog::Same
            }
            // The host dropped its `HostEvents`: it does not want them.
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.host = None;
                Backlog::Same
            }
        }
    }

    /// Whether events are held back for an observing host.
    pub(crate) fn is_behind(&self) -> bool {
        !self.held_back.is_empty()
    }

    /// Waits until the host has room for an event (or is gone).
    pub(crate) async fn host_ready(&self) {
        if let Some(host) = &self.host {
            // The permit is given back at once: `catch_up` sends.
            let _ = host.reserve().await;
        }
    }

    /// Sends held-back events while the host has room. Returns true when
    /// none is left: the host has caught up (or is gone).
    pub(crate) fn catch_up(&mut self) -> bool {
        let Some(host) = &self.host else {
            self.held_back.clear();
            return true;
        };
        while let Some(event) = self.held_back.pop_front() {
            match host.try_send(event) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(event)) => {
                    self.held_back.push_front(event);
                    return false;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    self.host = None;
                    self.held_back.clear();
                    return true;
                }
            }
        }
        true
    }

    fn hold_back(&mut self, event: Event) {
        if self.held_back.len() < MAX_HELD_BACK {
            self.held_back.push_back(event);
        } else {
            self.count_dropped();
        }
    }

    fn count_dropped(&mut self) {
        self.dropped += 1;
        if self.dropped.is_power_of_two() {
            warn!(
                dropped = self.dropped,
                "the host program is not reading hub events fast enough; events dropped"
            );
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
        } => info!(session_id = %peer, handle = %session, "connected"),
        Event::Synced {
            handle: session,
            session_id: peer,
            alias,
            took_over_from: Some(old),
        } => {
            info!(session_id = %peer, handle = %session, alias = %alias, took_over_from_handle = %old, "synced, taking the alias over")
        }
        Event::Synced {
            handle: session,
            session_id: peer,
            alias,
            took_over_from: None,
        } => info!(session_id = %peer, handle = %session, alias = %alias, "synced"),
        Event::Released {
            handle: session,
            session_id: peer,
            alias,
        } => debug!(session_id = %peer, handle = %session, alias = %alias, "alias released"),
        Event::Message {
            handle: session,
            session_id: peer,
            alias,
            message,
        } => debug!(
            session_id = %peer,
            handle = %session,
            alias = alias.as_ref().map(|a| a.as_str()),
            message = message.get(),
            "message for the host"
        ),
        Event::Request {
            handle: session,
            session_id: peer,
            alias,
            reply_to,
            message,
        } => debug!(
            session_id = %peer,
            handle = %session,
            alias = alias.as_ref().map(|a| a.as_str()),
            reply_to = %reply_to,
            message = message.get(),
            "request for the host"
        ),
        Event::ProtocolError {
            handle: session,
            session_id: peer,
            error,
        } => {
            info!(session_id = %peer, handle = %session, code = %error.code, error = %error.message, "protocol error")
        }
        Event::Closed {
            handle: session,
            session_id: peer,
            alias,
            reason,
        } => info!(
            session_id = %peer,
            handle = %session,
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
            session_id = %peer,
            handle = %session,
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
            session_id = %peer,
            handle = %session,
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
            session_id = %peer,
            handle = %session,
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
