//! Closing sessions: the one last frame each gets, what becomes of its
//! queue, and forgetting it everywhere.

use bytes::Bytes;

use super::Hub;
use crate::cluster::RemoteTarget;
use crate::config::whole_millis;
use crate::error::{ErrorCode, PeerError};
use crate::event::{CloseReason, Event, Output, RelayTarget};
use crate::frame::hub_encode as encode;
use crate::handle::SessionHandle;
use crate::last_will::{LastWill, WillTarget};
use crate::limits::address_of;
use crate::session::Session;

impl Hub {
    /// Closes a session the hub decided to close, with the `bye` for
    /// `reason`.
    pub(super) fn close(&mut self, handle: SessionHandle, reason: CloseReason) {
        self.close_with(handle, reason, self.bye(reason));
    }

    /// Closes a session because of its peer's mistake: `error` is its last
    /// frame and is reported to the host.
    pub(super) fn close_for_error(
        &mut self,
        handle: SessionHandle,
        reason: CloseReason,
        error: PeerError,
    ) {
        let farewell = encode::error(&error, None);
        self.emit_protocol_error(handle, error);
        self.close_with(handle, reason, farewell);
    }

    /// A frame took longer than the frame timeout.
    pub(super) fn close_frame_timeout(&mut self, handle: SessionHandle) {
        let timeout = self.config.frame_timeout.unwrap_or_default();
        let error = PeerError::new(
            ErrorCode::FrameTimeout,
            format!(
                "no complete frame within {} ms of its first byte; closing the session",
                whole_millis(timeout)
            ),
        );
        self.close_for_error(handle, CloseReason::FrameTimeout, error);
    }

    /// Closes a session with `farewell` as its one last frame.
    pub(super) fn close_with(
        &mut self,
        handle: SessionHandle,
        reason: CloseReason,
        farewell: Bytes,
    ) {
        let Some(session) = self.remove(handle) else {
            return;
        };
        self.stats.farewell(farewell.len());
        self.outputs.push_back(Output::Close {
            handle,
            reason,
            farewell,
            unsent: reason.unsent(),
        });
        self.report_closed(handle, session, reason);
    }

    /// Forgets a session whose connection is already gone.
    pub(super) fn forget(&mut self, handle: SessionHandle, reason: CloseReason) {
        if let Some(session) = self.remove(handle) {
            self.report_closed(handle, session, reason);
        }
    }

    /// Takes a session out of the table and out of every timer and flow
    /// count; the senders it held resume.
    fn remove(&mut self, handle: SessionHandle) -> Option<Session> {
        let mut session = self.sessions.remove(handle)?;
        self.note_address_closed(&session.session_id);
        self.timers.forget(&mut session.timers, handle);
        if session.flow.queued > 0 {
            // Written or dropped by the driver, it no longer counts.
            self.stats.dequeued(session.flow.queued);
            self.one_queue_fewer();
        }
        let held = std::mem::take(&mut session.flow.holding);
        self.release_held(held);
        if session.flow.held_by_host {
            self.host_holding.retain(|&h| h != handle);
        }
        if session.flow.held_by_backplane {
            self.forget_backplane_hold(handle);
        }
        self.forget_pending_auth(session.auth.take());
        Some(session)
    }

    /// Releases the alias and rooms of a removed session, sends its last
    /// will if it ended without a clean `bye`, tells its watchers and the
    /// host.
    fn report_closed(&mut self, handle: SessionHandle, mut session: Session, reason: CloseReason) {
        self.stats.closed(reason);
        // Out of every room and watch first: no table lists a closed
        // session while anything is sent for it (room delivery relies on
        // it). Its own `rooms` still say which watchers to tell.
        self.watchers.forget(handle, &mut session.watch);
        for room in &session.rooms {
            if let Some(membership) = self.rooms.leave(room.as_str(), handle) {
                if membership.watching {
                    self.room_watches -= 1;
                }
            }
            self.note_room(room, true);
        }
        if reason.sends_last_will() {
            if let Some(will) = session.last_will.take() {
                self.send_last_will(handle, &session, will);
            }
        }
        self.notify_closed(handle, &session, reason);
        let alias = session.alias.clone();
        if let Some(alias) = &alias {
            self.aliases.release(alias, handle);
            self.note_alias(alias, true);
            self.note_release_of(&session.session_id, alias);
            self.emit(Event::Released {
                handle,
                session_id: session.session_id.clone(),
                alias: alias.clone(),
            });
        }
        self.note_session_closed(&session.session_id);
        self.emit(Event::Closed {
            handle,
            session_id: session.session_id,
            alias,
            reason,
        });
    }

    /// Sends a closed session's last will to the room or aliases it names,
    /// as they are now; with observation on, each delivery is followed by
    /// its `Relayed` event.
    fn send_last_will(&mut self, handle: SessionHandle, session: &Session, will: LastWill) {
        let targets: Vec<RelayTarget> = match &will.target {
            WillTarget::Room(room) => vec![RelayTarget::Room(room.clone())],
            WillTarget::Aliases(aliases) => {
                aliases.iter().cloned().map(RelayTarget::Alias).collect()
            }
        };
        for target in targets {
            // The closed session is out of every table, so never a recipient.
            let recipients = match &target {
                RelayTarget::Room(room) => {
                    self.forward(RemoteTarget::Room(room.clone()), &will.frame);
                    self.deliver_to_room(None, room, will.frame.clone())
                }
                RelayTarget::Alias(alias) => {
                    self.forward(RemoteTarget::Alias(alias.clone()), &will.frame);
                    self.deliver_to_alias(None, alias.as_str(), will.frame.clone())
                }
                RelayTarget::Everyone => 0,
            };
            if let Some(message) = &will.message {
                self.emit(Event::Relayed {
                    handle,
                    session_id: session.session_id.clone(),
                    alias: session.alias.clone(),
                    target,
                    message: message.clone(),
                    recipients,
                    last_will: true,
                });
            }
        }
    }

    /// Whether the address `session_id` connects from has as many sessions
    /// open as one address may.
    pub(super) fn address_full(&self, session_id: &str) -> bool {
        self.config.max_connections_per_address.is_some_and(|cap| {
            self.per_address
                .get(address_of(session_id))
                .is_some_and(|&open| open >= cap)
        })
    }

    /// One session fewer from its address.
    fn note_address_closed(&mut self, session_id: &str) {
        if self.config.max_connections_per_address.is_none() {
            return;
        }
        let address = address_of(session_id);
        if let Some(open) = self.per_address.get_mut(address) {
            *open -= 1;
            if *open == 0 {
                self.per_address.remove(address);
            }
        }
    }

    /// The `bye` frame for a close that is not the peer's mistake.
    pub(super) fn bye(&self, reason: CloseReason) -> Bytes {
        let message = match reason {
            CloseReason::IdleTimeout => match self.config.idle_timeout {
                Some(t) => format!("nothing received for {} ms", whole_millis(t)),
                None => "idle for too long".to_owned(),
            },
            CloseReason::ClosedByHost => "closed by the host".to_owned(),
            CloseReason::SlowConsumer => {
                "this session did not read what was sent to it; frames not yet sent were dropped"
                    .to_owned()
            }
            CloseReason::Shutdown => "the hub is shutting down".to_owned(),
            CloseReason::TakenOver => "another session claimed this alias".to_owned(),
            CloseReason::TooManySessions => {
                format!("the hub is full ({} sessions)", self.config.max_sessions)
            }
            CloseReason::TooManyConnections => match self.config.max_connections_per_address {
                Some(cap) => format!("your address has {cap} sessions open already"),
                None => "too many sessions from your address".to_owned(),
            },
            CloseReason::RateLimited => format!(
                "more than {} frames refused for the rate limit within {} s",
                crate::limits::RATE_LIMIT_MAX_REFUSALS,
                crate::limits::RATE_LIMIT_REFUSAL_WINDOW.as_secs()
            ),
            CloseReason::AuthTimeout => format!(
                "no alias was granted within {} ms of connecting; sync with an alias and its \"token\"",
                whole_millis(self.config.auth_timeout)
            ),
            CloseReason::FrameTooLarge => "frame too large".to_owned(),
            CloseReason::FrameTimeout => "a frame took too long to arrive".to_owned(),
            CloseReason::ClientBye => "goodbye; everything queued for you was sent".to_owned(),
            CloseReason::PeerClosed => {
                "you closed your side; everything queued for you was sent".to_owned()
            }
        };
        encode::bye(reason.as_str(), &message)
    }

    /// A session the caller knows is open: routing only runs for sessions
    /// in the table, and nothing removes one before routing finishes.
    pub(super) fn session_mut(&mut self, handle: SessionHandle) -> &mut Session {
        self.sessions
            .get_mut(handle)
            .expect("routing only runs for sessions in the table")
    }
}
