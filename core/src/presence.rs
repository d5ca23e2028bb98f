//! Presence: who asked to be told when aliases come and go.
//!
//! A session can watch every alias, the aliases it names, or the members of
//! a room it is in (that last kind lives on the membership, see
//! [`RoomTable`](crate::room_table::RoomTable), so leaving the room ends it).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::alias::Alias;
use crate::handle::SessionHandle;

/// What happened, as a `presence` frame's `event` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PresenceChange {
    /// A session claimed the alias.
    Synced,
    /// The session gave the alias up by claiming another one.
    Released,
    /// Another session claimed the alias under `takeover`; the old holder
    /// is being closed.
    TakenOver,
    /// The session joined the watched room (room watches only).
    Joined,
    /// The session left the watched room (room watches only).
    Left,
    /// The session closed; `reason` says why.
    Closed,
}

impl PresenceChange {
    /// The change as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceChange::Synced => "synced",
            PresenceChange::Released => "released",
            PresenceChange::TakenOver => "taken_over",
            PresenceChange::Joined => "joined",
            PresenceChange::Left => "left",
            PresenceChange::Closed => "closed",
        }
    }

    /// Every change, for bindings and documentation.
    pub const ALL: [PresenceChange; 6] = [
        PresenceChange::Synced,
        PresenceChange::Released,
        PresenceChange::TakenOver,
        PresenceChange::Joined,
        PresenceChange::Left,
        PresenceChange::Closed,
    ];

    /// Parses a wire name, for clients reading `presence` frames.
    pub fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for PresenceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One session's alias watches.
#[derive(Debug, Default)]
pub(crate) struct AliasWatch {
    /// It watches every alias.
    pub(crate) all: bool,
    /// The aliases it named.
    pub(crate) aliases: BTreeSet<Alias>,
}

/// Watchers of aliases, indexed by alias. An alias nobody holds can be
/// watched: that is how a client learns it arrived.
///
/// Invariant, kept together with the session table by the hub: a session is
/// listed here exactly as its own [`AliasWatch`] says.
#[derive(Debug, Default)]
pub(crate) struct Watchers {
    all: BTreeSet<SessionHandle>,
    by_alias: BTreeMap<Alias, BTreeSet<SessionHandle>>,
}

impl Watchers {
    /// Whether anyone watches any alias: when nobody does, the hub skips
    /// looking for watchers altogether.
    pub(crate) fn is_empty(&self) -> bool {
        self.all.is_empty() && self.by_alias.is_empty()
    }

    /// Adds every watcher of `alias` to `into`.
    pub(crate) fn collect(&self, alias: &str, into: &mut BTreeSet<SessionHandle>) {
        into.extend(self.all.iter().copied());
        if let Some(watchers) = self.by_alias.get(alias) {
            into.extend(watchers.iter().copied());
        }
    }

    pub(crate) fn watch_all(&mut self, session: SessionHandle, watch: &mut AliasWatch) {
        watch.all = true;
        self.all.insert(session);
    }

    pub(crate) fn watch(&mut self, session: SessionHandle, watch: &mut AliasWatch, alias: Alias) {
        self.by_alias
            .entry(alias.clone())
            .or_default()
            .insert(session);
        watch.aliases.insert(alias);
    }

    pub(crate) fn unwatch_all(&mut self, session: SessionHandle, watch: &mut AliasWatch) {
        watch.all = false;
        self.all.remove(&session);
    }

    pub(crate) fn unwatch(&mut self, session: SessionHandle, watch: &mut AliasWatch, alias: &str) {
        watch.aliases.remove(alias);
        if let Some(watchers) = self.by_alias.get_mut(alias) {
            watchers.remove(&session);
            if watchers.is_empty() {
                self.by_alias.remove(alias);
            }
        }
    }

    /// Ends every alias watch of a session.
    pub(crate) fn forget(&mut self, session: SessionHandle, watch: &mut AliasWatch) {
        self.unwatch_all(session, watch);
        for alias in std::mem::take(&mut watch.aliases) {
            let mut none = AliasWatch::default();
            self.unwatch(session, &mut none, alias.as_str());
        }
    }

    /// How many sessions watch each alias, for consistency checks.
    #[cfg(test)]
    pub(crate) fn watchers_of(&self, alias: &str) -> usize {
        self.by_alias.get(alias).map_or(0, BTreeSet::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for change in PresenceChange::ALL {
            assert_eq!(PresenceChange::from_wire(change.as_str()), Some(change));
        }
    }

    #[test]
    fn watchers_follow_watches_and_forget() {
        let mut w = Watchers::default();
        let mut one = AliasWatch::default();
        let mut two = AliasWatch::default();
        let a = Alias::new("A").unwrap();
        w.watch(SessionHandle(1), &mut one, a.clone());
        w.watch_all(SessionHandle(2), &mut two);
        let mut found = BTreeSet::new();
        w.collect("A", &mut found);
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [SessionHandle(1), SessionHandle(2)]
        );
        w.forget(SessionHandle(1), &mut one);
        assert_eq!(w.watchers_of("A"), 0);
        assert!(one.aliases.is_empty());
        w.forget(SessionHandle(2), &mut two);
        assert!(w.is_empty());
    }
}
