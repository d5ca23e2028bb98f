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
    /// Session rows this node announced, for `list` on other nodes.
    pub(crate) rows: BTreeMap<Arc<str>, Option<Alias>>,
    /// Whether this node announced having presence watchers.
    pub(crate) watching: bool,
    /// Claims sent to Redis and not answered yet.
    in_flight: BTreeSet<(Arc<str>, Alias)>,
    /// Takeovers read for claims in flight: Redis granted the claim and
    /// then displaced it, and the reader saw the second before the link
    /// saw the first. The link tells the core after its `ClaimSettled`.
    early: BTreeSet<(Arc<str>, Alias)>,
}

/// What to do with a `taken_over` note the reader found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TakenOver {
    /// Tell the core now: its `ClaimSettled` went first.
    Now,
    /// The claim's answer has not reached the core yet; the link tells it
    /// right after.
    Deferred,
}

impl Holdings {
    /// Every change that states what this node holds, to record again in
    /// a Redis that lost it; aliases only while a session still holds them.
    pub(crate) fn restatement(&self, node: &tcphub_core::NodeId) -> Vec<DirectoryChange> {
        let held: BTreeSet<&Alias> = self.claims.values().collect();
        let aliases = self
            .aliases
            .iter()
            .filter(|a| held.contains(a))
            .map(|alias| DirectoryChange::AliasHeld {
                node: node.clone(),
                alias: alias.clone(),
            });
        let rooms = self.rooms.iter().map(|room| DirectoryChange::RoomJoined {
            node: node.clone(),
            room: room.clone(),
        });
        let rows = self
            .rows
            .iter()
            .map(|(session_id, alias)| DirectoryChange::Session {
                node: node.clone(),
                session_id: session_id.clone(),
                alias: alias.clone(),
            });
        let watching = self.watching.then(|| DirectoryChange::Watching {
            node: node.clone(),
            watching: true,
        });
        aliases.chain(rooms).chain(rows).chain(watching).collect()
    }

    /// A claim goes to Redis.
    pub(crate) fn claim_sent(&mut self, session_id: &Arc<str>, alias: &Alias) {
        self.in_flight.insert((session_id.clone(), alias.clone()));
    }

    /// The core was told a claim's answer; true when the session must be
    /// told next that it lost the alias again (a takeover read early).
    pub(crate) fn claim_settled(
        &mut self,
        session_id: &Arc<str>,
        alias: &Alias,
        granted: bool,
    ) -> bool {
        let key = (session_id.clone(), alias.clone());
        self.in_flight.remove(&key);
        let displaced = self.early.remove(&key);
        if granted && !displaced {
            self.claims.insert(session_id.clone(), alias.clone());
        }
        granted && displaced
    }

    /// The reader found a `taken_over` note for a session of this node.
    pub(crate) fn taken_over(&mut self, session_id: &Arc<str>, alias: &Alias) -> TakenOver {
        if self.claims.get(session_id) == Some(alias) {
            self.claims.remove(session_id);
            return TakenOver::Now;
        }
        let key = (session_id.clone(), alias.clone());
        if self.in_flight.contains(&key) {
            self.early.insert(key);
            return TakenOver::Deferred;
        }
        // A session that gave the alias up already: the core ignores it.
        TakenOver::Now
    }

    /// The session gave `alias` up, or lost it to another node.
    pub(crate) fn released(&mut self, session_id: &str, alias: &Alias) {
        if self.claims.get(session_id) == Some(alias) {
            self.claims.remove(session_id);
        }
    }

    /// The directory recorded a change of this node's.
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
            DirectoryChange::Session {
                session_id, alias, ..
            } => {
                self.rows.insert(session_id.clone(), alias.clone());
            }
            DirectoryChange::SessionClosed { session_id, .. } => {
                self.rows.remove(session_id);
            }
            DirectoryChange::Watching { watching, .. } => self.watching = *watching,
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
        h.claim_sent(&s, &a);
        h.claim_settled(&s, &a, true);
        h.claim_sent(&s, &b);
        h.claim_settled(&s, &b, true);
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

    #[test]
    fn a_takeover_read_before_its_claim_s_answer_waits_for_it() {
        let mut h = Holdings::default();
        let a = Alias::new("A").unwrap();
        let s: Arc<str> = "n1/x".into();
        h.claim_sent(&s, &a);
        assert_eq!(h.taken_over(&s, &a), TakenOver::Deferred);
        assert!(h.claim_settled(&s, &a, true), "told right after");
        assert!(h.claims.is_empty());
        // In the usual order, at once.
        h.claim_sent(&s, &a);
        assert!(!h.claim_settled(&s, &a, true));
        assert_eq!(h.taken_over(&s, &a), TakenOver::Now);
        assert!(h.claims.is_empty());
    }
}
