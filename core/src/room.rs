//! Rooms: named groups of sessions that a message can be sent to.

use std::sync::Arc;

use crate::error::{ErrorCode, PeerError};
use crate::name::{broken_rule, name_traits, MAX_NAME_LEN};

/// Longest room name accepted, in bytes of UTF-8.
pub const MAX_ROOM_LEN: usize = MAX_NAME_LEN;

/// A validated room name such as `lobby` or `大厅`.
///
/// Rooms obey the alias rules (1 to [`MAX_ROOM_LEN`] bytes of UTF-8, no
/// control characters, not `*`, no leading `#`). They cannot be mistaken
/// for aliases because they travel in their own field, `room`, never in
/// `to`; a room and an alias may share a name. Cloning is cheap.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Room(Arc<str>);

impl Room {
    /// Checks `name` against the room rules.
    pub fn new(name: &str) -> Result<Self, PeerError> {
        match broken_rule(name) {
            None => Ok(Room(Arc::from(name))),
            Some(why) => Err(PeerError::new(
                ErrorCode::InvalidRoom,
                format!("invalid room {name:?}: {why}"),
            )),
        }
    }
}

name_traits!(Room);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_names_follow_the_alias_rules_with_their_own_code() {
        assert_eq!(Room::new("lobby").unwrap().as_str(), "lobby");
        assert!(Room::new("大厅").is_ok());
        assert!(Room::new(&"r".repeat(MAX_ROOM_LEN)).is_ok());
        for bad in ["", "*", "#ops", "a\nb", &"r".repeat(MAX_ROOM_LEN + 1)] {
            let err = Room::new(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRoom, "{bad:?}");
            assert!(err.message.starts_with("invalid room"), "{}", err.message);
        }
    }
}
