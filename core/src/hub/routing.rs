//! What each client request does: sync, relay, list, ping, bye (rooms and
//! watches have their own files).

use std::ops::Bound;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::cluster::unknown_alias;
use super::Hub;
use crate::alias::Alias;
use crate::alias_table::Claim;
use crate::auth::Identity;
use crate::cluster::RemoteTarget;
use crate::error::{ErrorCode, PeerError};
use crate::event::{CloseReason, Event, RelayTarget};
use crate::frame::hub_encode as encode;
use crate::frame::{ClientFrame, LastWillRequest, RawMessage, SessionEntry};
use crate::handle::SessionHandle;
use crate::last_will::{LastWill, WillRules};
use crate::name::BROADCAST_TARGET;
use crate::presence::PresenceChange;

impl Hub {
    /// Acts on one frame from session `id`; `request_id` is echoed in the
    /// reply or error it causes.
    pub(super) fn on_frame(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        frame: ClientFrame<'_>,
    ) {
        if self.config.authentication && !self.admitted_before_auth(handle, request_id, &frame) {
            return;
        }
        match frame {
            ClientFrame::Sync {
                client_name,
                last_will,
                token,
            } => self.on_sync(
                handle,
                request_id,
                &client_name,
                last_will.as_ref(),
                token.as_deref(),
            ),
            ClientFrame::Info {
                to: None,
                room: None,
                message,
            } => self.on_message_for_host(handle, message),
            ClientFrame::Info {
                room: Some(room),
                message,
                ..
            } => self.on_room_relay(handle, request_id, &room, message),
            ClientFrame::Info {
                to: Some(to),
                message,
                ..
            } => self.on_relay(handle, request_id, &to, message),
            ClientFrame::List { limit, after, room } => {
                self.on_list(handle, request_id, limit, after.as_deref(), room.as_deref())
            }
            ClientFrame::Ping => self.transmit(handle, encode::pong(request_id)),
            ClientFrame::Join { room } => self.on_join(handle, request_id, &room),
            ClientFrame::Leave { room } => self.on_leave(handle, request_id, &room),
            ClientFrame::Watch(scope) => self.on_watch(handle, request_id, scope),
            ClientFrame::Unwatch(scope) => self.on_unwatch(handle, request_id, scope),
            ClientFrame::Bye => self.close(handle, CloseReason::ClientBye),
            ClientFrame::Request {
                to,
                message,
                timeout,
            } => self.on_request(handle, request_id, to.as_deref(), message, timeout),
            ClientFrame::Reply { reply_to, message } => {
                self.on_reply(handle, request_id, &reply_to, message)
            }
        }
    }

    fn on_sync(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        name: &str,
        last_will: Option<&LastWillRequest<'_>>,
        token: Option<&str>,
    ) {
        let alias = match Alias::new(name) {
            Ok(alias) => alias,
            Err(error) => return self.peer_error(handle, error, request_id),
        };
        // A will is checked before the claim, so a bad one changes nothing.
        // It is a message to other clients, which `relay` may forbid.
        if last_will.is_some() && !self.config.relay {
            let error = PeerError::new(
                ErrorCode::RelayDisabled,
                "relaying is turned off on this hub, so a last will could never be sent; sync without \"lastWill\"",
            );
            return self.peer_error(handle, error, request_id);
        }
        let rules = WillRules {
            max_bytes: self.config.max_last_will_bytes,
            observe: self.config.observe,
        };
        let last_will = match last_will.map(|w| LastWill::new(w, &alias, rules)) {
            None => None,
            Some(Ok(will)) => Some(will),
            Some(Err(error)) => return self.peer_error(handle, error, request_id),
        };
        if self.session_mut(handle).alias.as_ref() == Some(&alias) {
            // The session proved its right to the alias already; a new
            // will must still be one its identity may send.
            if let Some(error) = self.forbidden_will_of(handle, last_will.as_ref()) {
                return self.peer_error(handle, error, request_id);
            }
            let session = self.session_mut(handle);
            session.last_will = last_will;
            let frame = encode::synced(alias.as_str(), &session.session_id, request_id);
            return self.transmit(handle, frame);
        }
        if self.config.authentication {
            return self.start_auth(handle, alias, token, request_id, last_will);
        }
        if self.cluster.is_some() {
            // Other nodes may hold it: the directory settles the claim.
            return self.start_claim(handle, alias, request_id, last_will, None);
        }
        self.claim(handle, alias, request_id, last_will, None);
    }

    /// Claims `alias` for `handle` under the alias policy, as settled: on
    /// this hub alone, or by the cluster's directory (which has already
    /// displaced holders on other nodes). `identity` is who the session
    /// authenticated as, on a hub with authentication on.
    pub(super) fn claim(
        &mut self,
        handle: SessionHandle,
        alias: Alias,
        request_id: Option<&RawValue>,
        last_will: Option<LastWill>,
        identity: Option<Arc<Identity>>,
    ) {
        let was_held = !self.aliases.holders(alias.as_str()).is_empty();
        let displaced = match self.aliases.claim(&alias, handle, self.config.alias_policy) {
            Claim::Granted { displaced } => displaced,
            Claim::Refused => {
                let message = format!(
                    "alias {:?} is already held by another session",
                    alias.as_str()
                );
                let error = PeerError::new(ErrorCode::AliasTaken, message);
                return self.peer_error(handle, error, request_id);
            }
        };
        self.note_alias(&alias, was_held);
        if let Some(previous) = self.session_mut(handle).alias.take() {
            self.release(handle, previous);
        }
        for &old in &displaced {
            // The alias table already moved the alias; the old holder's
            // record follows before it is closed below.
            let old_session = self.session_mut(old);
            old_session.set_alias(None);
            let session_id = old_session.session_id.clone();
            self.emit(Event::Released {
                handle: old,
                session_id,
                alias: alias.clone(),
            });
            self.notify_alias_change(Some(handle), old, PresenceChange::TakenOver, &alias);
        }
        let session = self.session_mut(handle);
        session.set_alias(Some(alias.clone()));
        session.last_will = last_will;
        let signed_in = identity.is_some();
        if signed_in {
            session.identity = identity;
        }
        let session_id = session.session_id.clone();
        if signed_in {
            self.signed_in(handle);
        }
        self.note_session(handle);
        self.emit(Event::Synced {
            handle,
            session_id: session_id.clone(),
            alias: alias.clone(),
            took_over_from: displaced.first().copied(),
        });
        self.transmit(
            handle,
            encode::synced(alias.as_str(), &session_id, request_id),
        );
        self.notify_alias_change(Some(handle), handle, PresenceChange::Synced, &alias);
        for old in displaced {
            let message = format!(
                "alias {:?} was claimed by session {session_id}",
                alias.as_str()
            );
            let farewell = encode::bye(CloseReason::TakenOver.as_str(), &message);
            self.close_with(old, CloseReason::TakenOver, farewell);
        }
    }

    fn on_message_for_host(&mut self, handle: SessionHandle, message: RawMessage<'_>) {
        let session = self.session_mut(handle);
        let event = Event::Message {
            handle,
            session_id: session.session_id.clone(),
            alias: session.alias.clone(),
            message: message.to_raw_value(),
        };
        self.emit(event);
    }

    fn on_relay(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        to: &str,
        message: RawMessage<'_>,
    ) {
        if !self.config.relay {
            let error = PeerError::new(
                ErrorCode::RelayDisabled,
                format!("relaying to {to:?} is turned off on this hub; send without \"to\" to reach the host"),
            );
            return self.peer_error(handle, error, request_id);
        }
        if let Some(error) = self.forbidden_relay(handle, to) {
            return self.peer_error(handle, error, request_id);
        }
        if to != BROADCAST_TARGET && self.cluster.is_none() {
            if let &[recipient] = self.aliases.holders(to) {
                // The common case, a message for one session: written
                // straight into what the recipient is sent, not into a
                // frame of its own first.
                let recipients = self.deliver_relayed_to(handle, recipient, message.get());
                return self.observe_relay_to(handle, to, message, recipients);
            }
        }
        let from_json = &self.session_mut(handle).from_json;
        let frame = encode::relayed_info(from_json, message.get());
        if to == BROADCAST_TARGET {
            self.forward(RemoteTarget::Everyone, &frame);
            let recipients = self.deliver_to_all(Some(handle), frame);
            self.observe(handle, RelayTarget::Everyone, message, recipients);
            return;
        }
        let alias = self.cluster.as_ref().and_then(|_| Alias::new(to).ok());
        if self.aliases.holders(to).is_empty() && !self.held_elsewhere(to) {
            if let Some(alias) = alias {
                // The replica may not know of a claim just made on
                // another node: the directory decides.
                return self.resolve(handle, alias, frame, request_id);
            }
            return self.peer_error(handle, unknown_alias(to), request_id);
        }
        if let Some(alias) = alias {
            let reply_to = self.reply_to(handle, request_id);
            self.forward_from(RemoteTarget::Alias(alias), &frame, reply_to);
        }
        let recipients = self.deliver_to_alias(Some(handle), to, frame);
        self.observe_relay_to(handle, to, message, recipients);
    }

    /// Reports a message relayed to the holders of `to` to the host, when
    /// it observes.
    fn observe_relay_to(
        &mut self,
        handle: SessionHandle,
        to: &str,
        message: RawMessage<'_>,
        recipients: usize,
    ) {
        if self.config.observe {
            if let Some(alias) = self.aliases.get(to).cloned() {
                self.observe(handle, RelayTarget::Alias(alias), message, recipients);
            }
        }
    }

    /// One page of the session table, or of a room's members. Its size is
    /// capped by `max_list_rows`, so a `list` costs the hub a bounded
    /// amount of work however many sessions are open.
    fn on_list(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        limit: Option<u64>,
        after: Option<&str>,
        room: Option<&str>,
    ) {
        if let Some(error) = self.forbidden_listing(handle, "list sessions") {
            return self.peer_error(handle, error, request_id);
        }
        let after = match after.map(parse_cursor).transpose() {
            Ok(after) => after,
            Err(error) => return self.peer_error(handle, error, request_id),
        };
        let members = match room {
            None => None,
            Some(room) => match self.rooms.members(room) {
                Some(members) if members.contains_key(&handle) => Some(members),
                _ => return self.not_in_room(handle, request_id, room),
            },
        };
        // A cluster's other nodes list after this node's own sessions
        // (a room's members are listed from this node only).
        let remote = match (&self.cluster, members) {
            (Some(cluster), None) => Some(&cluster.replica.sessions),
            _ => None,
        };
        let node = self.cluster.as_ref().map(|c| c.node.to_string());
        let max = self.config.max_list_rows;
        let limit = limit.map_or(max, |l| usize::try_from(l).unwrap_or(usize::MAX).min(max));
        let total =
            members.map_or(self.sessions.len(), |m| m.len()) + remote.map_or(0, |r| r.len());
        let mut rows = Vec::with_capacity(limit.min(total));
        // The cursor names the last row sent; "0" (before every handle)
        // when a count-only request leaves every row for later.
        let mut last = match &after {
            Some(ListCursor::Remote(id)) => ListCursor::Remote(id.clone()),
            Some(ListCursor::Local(h)) => ListCursor::Local(*h),
            None => ListCursor::Local(SessionHandle(0)),
        };
        let mut more = false;
        let local_after = match after {
            Some(ListCursor::Local(h)) => Some(Some(h)),
            Some(ListCursor::Remote(_)) => None,
            None => Some(None),
        };
        if let Some(local_after) = local_after {
            let start = local_after.map_or(Bound::Unbounded, Bound::Excluded);
            let page: Box<dyn Iterator<Item = SessionHandle>> = match members {
                Some(members) => {
                    Box::new(members.range((start, Bound::Unbounded)).map(|(h, _)| *h))
                }
                None => Box::new(self.sessions.iter_after(local_after).map(|(h, _)| h)),
            };
            for row in page {
                if rows.len() == limit {
                    more = true;
                    break;
                }
                if let Some(session) = self.sessions.get(row) {
                    let mut entry = SessionEntry::from(session.info(row));
                    entry.node.clone_from(&node);
                    rows.push(entry);
                }
                last = ListCursor::Local(row);
            }
        }
        if let (false, Some(remote)) = (more, remote) {
            let start = match &last {
                ListCursor::Remote(id) => Bound::Excluded(id.as_str()),
                ListCursor::Local(_) => Bound::Unbounded,
            };
            for (session_id, session) in remote.range::<str, _>((start, Bound::Unbounded)) {
                if rows.len() == limit {
                    more = true;
                    break;
                }
                rows.push(SessionEntry {
                    session_id: session_id.to_string(),
                    client_name: session.alias.as_ref().map(|a| a.to_string()),
                    node: Some(session.node.to_string()),
                });
                last = ListCursor::Remote(session_id.to_string());
            }
        }
        let next = more.then(|| last.to_string());
        let frame = encode::sessions(&rows, total, next.as_deref(), room, request_id);
        self.transmit(handle, frame);
    }

    /// Answers a peer's mistake with an `error` frame to it alone.
    pub(super) fn peer_error(
        &mut self,
        handle: SessionHandle,
        error: PeerError,
        request_id: Option<&RawValue>,
    ) {
        // The error frame itself may push the session's queue past the
        // hard cap and close it (found by the hub fuzz target), so its
        // session id is taken first.
        let session_id = self.session_mut(handle).session_id.clone();
        self.stats.error(error.code);
        self.transmit(handle, encode::error(&error, request_id));
        self.emit(Event::ProtocolError {
            handle,
            session_id,
            error,
        });
    }

    pub(super) fn emit_protocol_error(&mut self, handle: SessionHandle, error: PeerError) {
        self.stats.error(error.code);
        let session_id = self.session_mut(handle).session_id.clone();
        self.emit(Event::ProtocolError {
            handle,
            session_id,
            error,
        });
    }

    /// A session gives its alias up by claiming another.
    fn release(&mut self, handle: SessionHandle, alias: Alias) {
        self.aliases.release(&alias, handle);
        self.note_alias(&alias, true);
        self.note_release(handle, &alias);
        let session_id = self.session_mut(handle).session_id.clone();
        self.notify_alias_change(Some(handle), handle, PresenceChange::Released, &alias);
        self.emit(Event::Released {
            handle,
            session_id,
            alias,
        });
    }
}

/// Where a `list` page ends: after a session of this node, or (in a
/// cluster, once this node's are done) after another node's session.
enum ListCursor {
    Local(SessionHandle),
    Remote(String),
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListCursor::Local(handle) => write!(f, "{}", handle.0),
            ListCursor::Remote(session_id) => write!(f, "@{session_id}"),
        }
    }
}

/// Reads a `list` cursor: the handle of the last row of the page before,
/// in decimal, or `@` and a session id of another node. It is opaque to
/// clients; any other text is refused.
fn parse_cursor(text: &str) -> Result<ListCursor, PeerError> {
    if let Some(session_id) = text.strip_prefix('@') {
        return Ok(ListCursor::Remote(session_id.to_owned()));
    }
    text.parse()
        .map(|h| ListCursor::Local(SessionHandle(h)))
        .map_err(|_| {
            PeerError::new(
                ErrorCode::InvalidField,
                format!("field \"after\" must be the \"next\" cursor of an earlier sessions reply, got {text:?}"),
            )
        })
}
