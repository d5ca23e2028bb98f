//! Rooms: joining, leaving, and messages to every member.

use serde::Serialize;
use serde_json::value::RawValue;

use super::Hub;
use crate::cluster::RemoteTarget;
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::{Event, RelayTarget};
use crate::frame::hub_encode as encode;
use crate::frame::RawMessage;
use crate::handle::SessionHandle;
use crate::presence::PresenceChange;
use crate::room::Room;
use crate::session::SessionInfo;

/// Who asked for a membership change: the session itself (its request id
/// is echoed in the reply) or the host.
#[derive(Clone, Copy)]
pub(super) enum Asker<'a> {
    Client(Option<&'a RawValue>),
    Host,
}

impl Hub {
    // ----- host commands and getters -----

    /// Puts a session in `room`, as if it had sent `join`: it is sent a
    /// `joined` frame, and watchers of the room a `presence` frame.
    /// Returns false when it was a member already.
    pub fn join_room(&mut self, handle: SessionHandle, room: &str) -> Result<bool, HubError> {
        if self.sessions.get(handle).is_none() {
            return Err(HubError::UnknownHandle(handle));
        }
        let room = Room::new(room).map_err(|e| HubError::InvalidRoom(e.message))?;
        let joined = self
            .join(handle, &room, Asker::Host)
            .map_err(|e| match e.code {
                ErrorCode::TooManyRooms => HubError::TooManyRooms {
                    handle,
                    max: self.config.max_rooms_per_session,
                },
                _ => HubError::InvalidRoom(e.message),
            });
        self.settle();
        joined
    }

    /// Takes a session out of `room`: it is sent a `left` frame. Returns
    /// false when it was not a member.
    pub fn leave_room(&mut self, handle: SessionHandle, room: &str) -> Result<bool, HubError> {
        if self.sessions.get(handle).is_none() {
            return Err(HubError::UnknownHandle(handle));
        }
        Room::new(room).map_err(|e| HubError::InvalidRoom(e.message))?;
        let left = self.leave(handle, room, Asker::Host);
        self.settle();
        Ok(left)
    }

    /// Sends `message` from the host to every member of `room`, encoded
    /// once. Returns how many of this hub's sessions it was queued for
    /// (in a cluster, members on other nodes are reached too, uncounted).
    pub fn send_to_room<T: Serialize + ?Sized>(
        &mut self,
        room: &str,
        message: &T,
    ) -> Result<usize, HubError> {
        let name = room;
        let room = Room::new(room).map_err(|e| HubError::InvalidRoom(e.message))?;
        if self.rooms.members(name).is_none() && !self.room_elsewhere(name) {
            return Err(HubError::UnknownRoom(name.to_owned()));
        }
        self.refuse_if_backplane_behind(self.room_elsewhere(name))?;
        let frame =
            encode::host_info(message, Some(room.as_str())).map_err(HubError::InvalidMessage)?;
        self.forward(RemoteTarget::Room(room.clone()), &frame);
        let count = self.deliver_to_room(None, &room, frame);
        self.settle();
        Ok(count)
    }

    /// Every room with its member count, by name.
    pub fn rooms(&self) -> impl Iterator<Item = (&Room, usize)> + '_ {
        self.rooms
            .iter()
            .map(|(room, members)| (room, members.len()))
    }

    /// The members of `room`, oldest session first (none for a room
    /// nobody is in).
    pub fn room_members(&self, room: &str) -> impl Iterator<Item = SessionInfo<'_>> + '_ {
        self.rooms
            .members(room)
            .into_iter()
            .flat_map(|members| members.keys())
            .filter_map(|&handle| self.session(handle))
    }

    // ----- client requests -----

    pub(super) fn on_join(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        room: &str,
    ) {
        let result =
            Room::new(room).and_then(|room| self.join(handle, &room, Asker::Client(request_id)));
        if let Err(error) = result {
            self.peer_error(handle, error, request_id);
        }
    }

    pub(super) fn on_leave(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        room: &str,
    ) {
        if let Err(error) = Room::new(room) {
            return self.peer_error(handle, error, request_id);
        }
        if !self.leave(handle, room, Asker::Client(request_id)) {
            let error = PeerError::new(
                ErrorCode::NotInRoom,
                format!("this session is not in room {room:?}"),
            );
            self.peer_error(handle, error, request_id);
        }
    }

    /// A message from a client to every other member of `room`. The
    /// sender need not be a member; the room must have members.
    pub(super) fn on_room_relay(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        room: &str,
        message: RawMessage<'_>,
    ) {
        if !self.config.relay {
            let error = PeerError::new(
                ErrorCode::RelayDisabled,
                format!("relaying to room {room:?} is turned off on this hub; send without \"room\" to reach the host"),
            );
            return self.peer_error(handle, error, request_id);
        }
        let name = room;
        let room = match self.rooms.get(name) {
            Some(room) => room.clone(),
            None => match Room::new(name) {
                Err(invalid) => return self.peer_error(handle, invalid, request_id),
                Ok(room) if self.room_elsewhere(name) => room,
                Ok(_) => {
                    let error = PeerError::new(
                        ErrorCode::UnknownRoom,
                        format!("no session is in room {name:?}; the message was not delivered"),
                    );
                    return self.peer_error(handle, error, request_id);
                }
            },
        };
        let from_json = &self.session_mut(handle).from_json;
        let frame = encode::info(from_json, Some(room.as_str()), false, message.get());
        self.forward(RemoteTarget::Room(room.clone()), &frame);
        let recipients = self.deliver_to_room(Some(handle), &room, frame);
        self.observe(handle, RelayTarget::Room(room), message, recipients);
    }

    // ----- shared by both -----

    /// Makes `handle` a member of `room`, telling it, the host and the
    /// room's watchers. Ok(false) when it was a member already (it is told
    /// again, so a retried `join` gets its answer).
    fn join(
        &mut self,
        handle: SessionHandle,
        room: &Room,
        asker: Asker<'_>,
    ) -> Result<bool, PeerError> {
        let max = self.config.max_rooms_per_session;
        let session = self.session_mut(handle);
        let already = session.rooms.contains(room);
        if !already && session.rooms.len() >= max {
            return Err(PeerError::new(
                ErrorCode::TooManyRooms,
                format!(
                    "this session is in {max} rooms already, the most allowed; leave one first"
                ),
            ));
        }
        if !already {
            session.rooms.insert(room.clone());
            let existed = self.rooms.members(room.as_str()).is_some();
            self.rooms.join(room, handle);
            self.note_room(room, existed);
        }
        let members = self.rooms.members(room.as_str()).map_or(0, |m| m.len());
        let request_id = match asker {
            Asker::Client(id) => id,
            Asker::Host => None,
        };
        self.transmit(handle, encode::joined(room.as_str(), members, request_id));
        if !already {
            let session = self.session_mut(handle);
            let (session_id, alias) = (session.session_id.clone(), session.alias.clone());
            let sender = matches!(asker, Asker::Client(_)).then_some(handle);
            self.notify_room_watchers(sender, handle, PresenceChange::Joined, room);
            self.emit(Event::Joined {
                handle,
                session_id,
                alias,
                room: room.clone(),
            });
        }
        Ok(!already)
    }

    /// Takes `handle` out of `room`, telling it, the host and the room's
    /// watchers. False when it was not a member.
    fn leave(&mut self, handle: SessionHandle, room: &str, asker: Asker<'_>) -> bool {
        let Some(room) = self.session_mut(handle).rooms.take(room) else {
            return false;
        };
        if let Some(membership) = self.rooms.leave(room.as_str(), handle) {
            if membership.watching {
                self.room_watches -= 1;
            }
        }
        self.note_room(&room, true);
        let request_id = match asker {
            Asker::Client(id) => id,
            Asker::Host => None,
        };
        self.transmit(handle, encode::left(room.as_str(), request_id));
        let sender = matches!(asker, Asker::Client(_)).then_some(handle);
        self.notify_room_watchers(sender, handle, PresenceChange::Left, &room);
        let session = self.session_mut(handle);
        let (session_id, alias) = (session.session_id.clone(), session.alias.clone());
        self.emit(Event::Left {
            handle,
            session_id,
            alias,
            room,
        });
        true
    }
}
