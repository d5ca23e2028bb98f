//! Which sessions hold which alias, and the policy for contested claims.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::alias::Alias;
use crate::config::AliasPolicy;
use crate::handle::SessionHandle;

/// The outcome of a claim.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The claimant holds the alias now. Under `takeover`, `displaced` lists
    /// the sessions that held it before and must be closed.
    Granted { displaced: Vec<SessionHandle> },
    /// Another session holds it and the policy is `reject`.
    Refused,
}

/// Alias to holders. Under `takeover` and `reject` an alias has exactly one
/// holder; under `share` it may have several, kept in the order they synced.
///
/// Invariant, kept together with the session table by the hub: a session is
/// listed under an alias exactly when that session's `alias` is that alias.
///
/// Every directed message looks its alias up here, so it is a hash map:
/// a B-tree of a hundred aliases compared about seven strings per lookup.
/// Peers choose the aliases, so the hash is keyed by the hub's seed and a
/// peer cannot pick names that all land in one bucket. Nothing iterates
/// the table in an order anyone sees.
#[derive(Debug)]
pub(crate) struct AliasTable {
    holders: HashMap<Alias, Vec<SessionHandle>, FixedState>,
}

impl AliasTable {
    /// An empty table hashing with `seed` (see `HubConfig::hash_seed`).
    pub(crate) fn new(seed: u64) -> Self {
        AliasTable {
            holders: HashMap::with_hasher(FixedState::with_seed(seed)),
        }
    }

    /// How many distinct aliases are held.
    pub(crate) fn len(&self) -> usize {
        self.holders.len()
    }

    /// The sessions a message to `alias` reaches; empty when none.
    pub(crate) fn holders(&self, alias: &str) -> &[SessionHandle] {
        self.holders.get(alias).map_or(&[], Vec::as_slice)
    }

    /// The alias itself, for a name given as text, while anyone holds it.
    pub(crate) fn get(&self, alias: &str) -> Option<&Alias> {
        self.holders.get_key_value(alias).map(|(alias, _)| alias)
    }

    /// Claims `alias` for `session`, which must not already hold it.
    pub(crate) fn claim(
        &mut self,
        alias: &Alias,
        session: SessionHandle,
        policy: AliasPolicy,
    ) -> Claim {
        let holders = self.holders.entry(alias.clone()).or_default();
        debug_assert!(!holders.contains(&session));
        if holders.is_empty() {
            holders.push(session);
            return Claim::Granted {
                displaced: Vec::new(),
            };
        }
        match policy {
            AliasPolicy::Reject => Claim::Refused,
            AliasPolicy::Takeover => Claim::Granted {
                displaced: std::mem::replace(holders, vec![session]),
            },
            AliasPolicy::Share => {
                holders.push(session);
                Claim::Granted {
                    displaced: Vec::new(),
                }
            }
        }
    }

    /// Removes `session` from `alias`'s holders, forgetting the alias when
    /// no holder is left.
    pub(crate) fn release(&mut self, alias: &Alias, session: SessionHandle) {
        if let Some(holders) = self.holders.get_mut(alias.as_str()) {
            holders.retain(|s| *s != session);
            if holders.is_empty() {
                self.holders.remove(alias.as_str());
            }
        }
    }

    /// Every alias with its holders, for consistency checks.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Alias, &[SessionHandle])> {
        self.holders.iter().map(|(a, h)| (a, h.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alias(s: &str) -> Alias {
        Alias::new(s).unwrap()
    }

    #[test]
    fn takeover_displaces_the_holder() {
        let mut t = AliasTable::new(7);
        let a = alias("Client-1");
        assert_eq!(
            t.claim(&a, SessionHandle(1), AliasPolicy::Takeover),
            Claim::Granted { displaced: vec![] }
        );
        assert_eq!(
            t.claim(&a, SessionHandle(2), AliasPolicy::Takeover),
            Claim::Granted {
                displaced: vec![SessionHandle(1)]
            }
        );
        assert_eq!(t.holders("Client-1"), [SessionHandle(2)]);
    }

    #[test]
    fn reject_keeps_the_holder() {
        let mut t = AliasTable::new(7);
        let a = alias("Client-1");
        t.claim(&a, SessionHandle(1), AliasPolicy::Reject);
        assert_eq!(
            t.claim(&a, SessionHandle(2), AliasPolicy::Reject),
            Claim::Refused
        );
        assert_eq!(t.holders("Client-1"), [SessionHandle(1)]);
    }

    #[test]
    fn share_keeps_every_holder_and_release_forgets_empty_aliases() {
        let mut t = AliasTable::new(7);
        let a = alias("room");
        t.claim(&a, SessionHandle(1), AliasPolicy::Share);
        t.claim(&a, SessionHandle(2), AliasPolicy::Share);
        assert_eq!(t.holders("room"), [SessionHandle(1), SessionHandle(2)]);
        t.release(&a, SessionHandle(1));
        assert_eq!(t.holders("room"), [SessionHandle(2)]);
        t.release(&a, SessionHandle(2));
        assert!(t.holders("room").is_empty());
        assert_eq!(t.iter().count(), 0);
    }
}
