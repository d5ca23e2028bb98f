//! What this node has told the directory it holds, as Redis confirmed it:
//! the node re-asserts exactly this after Redis was lost (restarted, or
//! long enough for the lease to run out and the reaper to clear it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tcphub_core::{Alias, DirectoryChange, Room};

/// Shared by the link (which applies outputs and re-asserts) and the
/// reader (which learns of takeovers).
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedHoldings(Arc<Mutex<Holdings>>);

impl SharedHoldings {
    pub(crate) fn lock(&self) -> MutexGuard<'_, Holdings> {
        // Plain data, consistent after every method: a panic elsewhere
        // while holding the lock leaves nothing half-done.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Holdings {
    /// Granted claims: session id to its alias (a session holds one).
    pub(crate) claims: BTreeMap<Arc<str>, Alias>,
    /// Aliases this node announced as held in the directory.
    pub(crate) aliases: BTreeSet<Alias>,
    /// Rooms this node announced having members of.
    pub(crate) rooms: BTreeSet<Room>,
}

impl Holdings {
    pub(crate) fn granted(&mut self, session_id: &Arc<str>, alias: &Alias) {
        self.claims.insert(session_id.clone(), alias.clone());
    }

    /// The session gave `alias` up, or lost it to another node.
    pub(crate) fn released(&mut self, session_id: &str, alias: &Alias) {
        if self.claims.get(session_id) == Some(alias) {
            self.claims.remove(session_id);
        }
    }

    pub(crate) fn announced(&mut self, change: &DirectoryChange) {
        match change {
            DirectoryChange::AliasHeld { alias, .. } => {
                self.aliases.insert(alias.clone());
            }
            DirectoryChange::AliasReleased { alias, .. } => {
                self.aliases.remove(alias);
            }
            DirectoryChange::RoomJoined { room, .. } => {
                self.rooms.insert(room.clone());
            }
            DirectoryChange::RoomLeft { room, .. } => {
                self.rooms.remove(room);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcphub_core::NodeId;

    #[test]
    fn a_release_of_an_alias_the_session_no_longer_holds_keeps_its_new_one() {
        let mut h = Holdings::default();
        let (a, b) = (Alias::new("A").unwrap(), Alias::new("B").unwrap());
        let s: Arc<str> = "n1/x".into();
        h.granted(&s, &a);
        h.granted(&s, &b);
        h.released(&s, &a);
        assert_eq!(h.claims.get(&s), Some(&b));
        h.released(&s, &b);
        assert!(h.claims.is_empty());
        let node = NodeId::new("n1").unwrap();
        h.announced(&DirectoryChange::AliasHeld {
            node: node.clone(),
            alias: a.clone(),
        });
        h.announced(&DirectoryChange::AliasReleased { node, alias: a });
        assert!(h.aliases.is_empty());
    }
}
