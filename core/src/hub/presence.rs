//! Presence: `watch` and `unwatch`, and the `presence` frames sent to
//! watchers when aliases and room members come and go. Also the host's
//! view of relayed messages (observation), the other kind of being told.

use std::collections::BTreeSet;

use serde_json::value::RawValue;

use super::Hub;
use crate::alias::Alias;
use crate::error::{ErrorCode, PeerError};
use crate::event::{CloseReason, Event, RelayTarget};
use crate::frame::hub_encode as encode;
use crate::frame::{RawMessage, WatchScope};
use crate::handle::SessionHandle;
use crate::presence::PresenceChange;
use crate::room::Room;
use crate::session::Session;

impl Hub {
    pub(super) fn on_watch(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        scope: WatchScope<'_>,
    ) {
        if let Some(error) = self.forbidden_listing(handle, "watch presence") {
            return self.peer_error(handle, error, request_id);
        }
        if let Err(error) = self.watch(handle, scope) {
            return self.peer_error(handle, error, request_id);
        }
        self.transmit(handle, encode::watching(request_id));
    }

    pub(super) fn on_unwatch(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        scope: WatchScope<'_>,
    ) {
        match scope {
            WatchScope::All => {
                let session = self
                    .sessions
                    .get_mut(handle)
                    .expect("routing runs for open sessions");
                self.watchers.forget(handle, &mut session.watch);
                let rooms: Vec<Room> = session.rooms.iter().cloned().collect();
                for room in rooms {
                    self.set_room_watch(handle, room.as_str(), false);
                }
            }
            WatchScope::Aliases(aliases) => {
                let session = self
                    .sessions
                    .get_mut(handle)
                    .expect("routing runs for open sessions");
                for alias in aliases {
                    self.watchers.unwatch(handle, &mut session.watch, &alias);
                }
            }
            WatchScope::Room(room) => {
                if !self.set_room_watch(handle, &room, false) {
                    return self.not_in_room(handle, request_id, &room);
                }
            }
        }
        self.transmit(handle, encode::unwatched(request_id));
    }

    fn watch(&mut self, handle: SessionHandle, scope: WatchScope<'_>) -> Result<(), PeerError> {
        match scope {
            WatchScope::All => {
                let session = self.session_mut(handle);
                let mut watch = std::mem::take(&mut session.watch);
                self.watchers.watch_all(handle, &mut watch);
                self.session_mut(handle).watch = watch;
            }
            WatchScope::Aliases(names) => {
                let aliases = names
                    .iter()
                    .map(|name| Alias::new(name))
                    .collect::<Result<Vec<_>, _>>()?;
                let max = self.config.max_watched_aliases;
                let session = self.session_mut(handle);
                // Inserted one by one into the set type a watch already
                // uses: collecting into a new set type would bring its own
                // copy of the B-tree and of a sort into the .wasm.
                let mut seen = BTreeSet::new();
                let new = aliases
                    .iter()
                    .filter(|a| !session.watch.aliases.contains(*a) && seen.insert(Alias::clone(a)))
                    .count();
                let total = session.watch.aliases.len() + new;
                if total > max {
                    return Err(PeerError::new(
                        ErrorCode::TooManyWatches,
                        format!("this would watch {total} aliases; at most {max} are allowed"),
                    ));
                }
                let mut watch = std::mem::take(&mut session.watch);
                for alias in aliases {
                    self.watchers.watch(handle, &mut watch, alias);
                }
                self.session_mut(handle).watch = watch;
            }
            WatchScope::Room(room) => {
                if !self.set_room_watch(handle, &room, true) {
                    return Err(not_in_room_error(&room));
                }
            }
        }
        Ok(())
    }

    /// Ends every watch of every session (for a shutdown).
    pub(super) fn forget_all_watches(&mut self) {
        let handles: Vec<SessionHandle> = self.sessions.ids().collect();
        for handle in handles {
            let Some(session) = self.sessions.get_mut(handle) else {
                continue;
            };
            self.watchers.forget(handle, &mut session.watch);
            let rooms: Vec<Room> = session.rooms.iter().cloned().collect();
            for room in rooms {
                self.set_room_watch(handle, room.as_str(), false);
            }
        }
    }

    /// Turns a member's watch of a room on or off, keeping count of room
    /// watches. False when the session is not a member.
    fn set_room_watch(&mut self, handle: SessionHandle, room: &str, on: bool) -> bool {
        let was = self
            .rooms
            .members(room)
            .and_then(|m| m.get(&handle))
            .map(|m| m.watching);
        let Some(was) = was else {
            return false;
        };
        self.rooms.set_watching(room, handle, on);
        match (was, on) {
            (false, true) => self.room_watches += 1,
            (true, false) => self.room_watches -= 1,
            _ => {}
        }
        true
    }

    /// Answers a request about a room the session is not in: with
    /// `invalid_room` when no room could have that name, else
    /// `not_in_room`.
    pub(super) fn not_in_room(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        room: &str,
    ) {
        self.peer_error(handle, not_in_room_error(room), request_id);
    }

    // ----- telling watchers -----

    /// Whether any session watches anything: while none does, presence
    /// costs one check per change.
    pub(super) fn anyone_watching(&self) -> bool {
        !self.watchers.is_empty() || self.room_watches > 0
    }

    /// The watchers told about a change to session `handle`: those of
    /// `alias` (if any) and of every room in `rooms`, never `handle`
    /// itself, in accept order.
    pub(super) fn presence_watchers<'r>(
        &self,
        handle: SessionHandle,
        alias: Option<&Alias>,
        rooms: impl IntoIterator<Item = &'r Room>,
    ) -> Vec<SessionHandle> {
        let mut watchers = BTreeSet::new();
        if let Some(alias) = alias {
            self.watchers.collect(alias.as_str(), &mut watchers);
        }
        if self.room_watches > 0 {
            for room in rooms {
                self.collect_room_watchers(room.as_str(), &mut watchers);
            }
        }
        watchers.remove(&handle);
        watchers.into_iter().collect()
    }

    /// Tells the watchers of `alias` and of the rooms session `handle` is
    /// in that `change` happened to `alias` in that session. The session
    /// is open; `sender` is who caused it, paused if a watcher is backed up.
    pub(super) fn notify_alias_change(
        &mut self,
        sender: Option<SessionHandle>,
        handle: SessionHandle,
        change: PresenceChange,
        alias: &Alias,
    ) {
        let elsewhere = self.watched_elsewhere();
        if !self.anyone_watching() && !elsewhere {
            return;
        }
        let Some(session) = self.sessions.get(handle) else {
            return;
        };
        let ids = self.presence_watchers(handle, Some(alias), &session.rooms);
        if ids.is_empty() && !elsewhere {
            return;
        }
        let frame = encode::presence(
            change,
            Some(alias.as_str()),
            &session.session_id,
            None,
            None,
        );
        if elsewhere {
            let rooms = session.rooms.iter().cloned().collect();
            self.forward_presence(Some(alias), rooms, &frame);
        }
        self.deliver_to_ids(sender, &ids, frame);
    }

    /// Tells the watchers of a closed session's alias and rooms that it is
    /// gone, and why. `session` is already out of the table.
    pub(super) fn notify_closed(
        &mut self,
        handle: SessionHandle,
        session: &Session,
        reason: CloseReason,
    ) {
        let elsewhere = self.watched_elsewhere();
        if !self.anyone_watching() && !elsewhere {
            return;
        }
        let ids = self.presence_watchers(handle, session.alias.as_ref(), &session.rooms);
        if ids.is_empty() && !elsewhere {
            return;
        }
        let frame = encode::presence(
            PresenceChange::Closed,
            session.alias.as_ref().map(Alias::as_str),
            &session.session_id,
            None,
            Some(reason.as_str()),
        );
        if elsewhere {
            let rooms = session.rooms.iter().cloned().collect();
            self.forward_presence(session.alias.as_ref(), rooms, &frame);
        }
        self.deliver_to_ids(None, &ids, frame);
    }

    /// Tells the watchers of `room` that `handle` joined or left it.
    pub(super) fn notify_room_watchers(
        &mut self,
        sender: Option<SessionHandle>,
        handle: SessionHandle,
        change: PresenceChange,
        room: &Room,
    ) {
        let elsewhere = self.watched_elsewhere();
        if self.room_watches == 0 && !elsewhere {
            return;
        }
        let mut watchers = BTreeSet::new();
        self.collect_room_watchers(room.as_str(), &mut watchers);
        watchers.remove(&handle);
        if watchers.is_empty() && !elsewhere {
            return;
        }
        let session = self.session_mut(handle);
        let frame = encode::presence(
            change,
            session.alias.as_ref().map(Alias::as_str),
            &session.session_id,
            Some(room.as_str()),
            None,
        );
        if elsewhere {
            self.forward_presence(None, vec![room.clone()], &frame);
        }
        let ids: Vec<SessionHandle> = watchers.into_iter().collect();
        self.deliver_to_ids(sender, &ids, frame);
    }

    fn collect_room_watchers(&self, room: &str, into: &mut BTreeSet<SessionHandle>) {
        if let Some(members) = self.rooms.members(room) {
            into.extend(
                members
                    .iter()
                    .filter(|(_, m)| m.watching)
                    .map(|(handle, _)| *handle),
            );
        }
    }

    // ----- the host observing -----

    /// Reports a message relayed by session `handle` to the host, when it
    /// observes.
    pub(super) fn observe(
        &mut self,
        handle: SessionHandle,
        target: RelayTarget,
        message: RawMessage<'_>,
        recipients: usize,
    ) {
        if !self.config.observe {
            return;
        }
        let Some(session) = self.sessions.get(handle) else {
            return;
        };
        let (session_id, alias) = (session.session_id.clone(), session.alias.clone());
        self.emit(Event::Relayed {
            handle,
            session_id,
            alias,
            target,
            message: message.to_raw_value(),
            recipients,
            last_will: false,
        });
    }
}

fn not_in_room_error(room: &str) -> PeerError {
    match Room::new(room) {
        Err(invalid) => invalid,
        Ok(_) => PeerError::new(
            ErrorCode::NotInRoom,
            format!("this session is not in room {room:?}; join it first"),
        ),
    }
}
