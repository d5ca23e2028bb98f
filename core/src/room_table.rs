//! Which sessions are in which room.

use std::collections::BTreeMap;

use crate::handle::SessionHandle;
use crate::room::Room;

/// One session's membership of one room.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Membership {
    /// The member asked for `presence` frames about the room's members.
    /// A room watch ends when the member leaves.
    pub(crate) watching: bool,
}

/// Room to members, in accept order. A room exists while it has members.
///
/// Invariant, kept together with the session table by the hub: a session
/// is listed in a room exactly when the room is in that session's `rooms`.
#[derive(Debug, Default)]
pub(crate) struct RoomTable {
    rooms: BTreeMap<Room, BTreeMap<SessionHandle, Membership>>,
}

impl RoomTable {
    /// The room's members, oldest session first; `None` when it has none.
    pub(crate) fn members(&self, room: &str) -> Option<&BTreeMap<SessionHandle, Membership>> {
        self.rooms.get(room)
    }

    /// The room's own name, for a name given as text.
    pub(crate) fn get(&self, room: &str) -> Option<&Room> {
        self.rooms.get_key_value(room).map(|(room, _)| room)
    }

    /// Adds `session` to `room`. Returns false when it was a member already.
    pub(crate) fn join(&mut self, room: &Room, session: SessionHandle) -> bool {
        let members = self.rooms.entry(room.clone()).or_default();
        members.insert(session, Membership::default()).is_none()
    }

    /// Removes `session` from `room`, forgetting the room when it empties.
    /// Returns its membership, if it was a member.
    pub(crate) fn leave(&mut self, room: &str, session: SessionHandle) -> Option<Membership> {
        let members = self.rooms.get_mut(room)?;
        let membership = members.remove(&session);
        if members.is_empty() {
            self.rooms.remove(room);
        }
        membership
    }

    /// Sets whether a member watches the room. Returns false when
    /// `session` is not a member.
    pub(crate) fn set_watching(&mut self, room: &str, session: SessionHandle, on: bool) -> bool {
        match self.rooms.get_mut(room).and_then(|m| m.get_mut(&session)) {
            Some(membership) => {
                membership.watching = on;
                true
            }
            None => false,
        }
    }

    /// Every room with its members, by name.
    pub(crate) fn iter(
        &self,
    ) -> impl Iterator<Item = (&Room, &BTreeMap<SessionHandle, Membership>)> + '_ {
        self.rooms.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(name: &str) -> Room {
        Room::new(name).unwrap()
    }

    #[test]
    fn a_room_lives_while_it_has_members() {
        let mut t = RoomTable::default();
        let lobby = room("lobby");
        assert!(t.join(&lobby, SessionHandle(2)));
        assert!(t.join(&lobby, SessionHandle(1)));
        assert!(
            !t.join(&lobby, SessionHandle(1)),
            "joining twice is a no-op"
        );
        let members: Vec<_> = t.members("lobby").unwrap().keys().copied().collect();
        assert_eq!(
            members,
            [SessionHandle(1), SessionHandle(2)],
            "accept order"
        );
        assert!(t.set_watching("lobby", SessionHandle(1), true));
        assert!(!t.set_watching("lobby", SessionHandle(9), true));
        assert_eq!(
            t.leave("lobby", SessionHandle(1)),
            Some(Membership { watching: true })
        );
        assert_eq!(t.leave("lobby", SessionHandle(1)), None);
        assert_eq!(t.iter().count(), 1);
        t.leave("lobby", SessionHandle(2));
        assert!(t.members("lobby").is_none());
        assert_eq!(t.iter().count(), 0);
    }
}
