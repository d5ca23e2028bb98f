//! Several hubs acting as one: what crosses between nodes, and each node's
//! copy of which other nodes hold which aliases and rooms.
//!
//! The core decides; a driver carries each [`ClusterOutput`] to the other
//! nodes (over Redis in `tcphub serve --cluster`, over a simulated
//! backplane in the simulator) and feeds what arrives back as a
//! [`ClusterInput`]. A frame for another node is encoded once, on the node
//! where it started, and crosses once per node that has recipients: a
//! directed message goes only to the nodes holding its alias, a broadcast
//! once to all. docs/design/cluster.md has the whole plan; this is its
//! first step (routing across nodes; claims settled across nodes and
//! presence across nodes come next).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::alias::Alias;
use crate::config::AliasPolicy;
use crate::node::NodeId;
use crate::room::Room;

/// Who a frame from another node is for, on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoteTarget {
    /// This node's holders of an alias.
    Alias(Alias),
    /// This node's members of a room.
    Room(Room),
    /// Every session of this node.
    Everyone,
}

/// A frame crossing between nodes, encoded once where it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who it is for on the receiving node.
    pub target: RemoteTarget,
    /// One complete NDJSON line, as the recipients get it.
    pub frame: Bytes,
}

/// A change to what a node holds: the first local holder of an alias or
/// member of a room appeared, or the last one went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryChange {
    /// `node` now has a session holding `alias`.
    AliasHeld {
        /// The node.
        node: NodeId,
        /// The alias.
        alias: Alias,
    },
    /// `node` no longer has any session holding `alias`.
    AliasReleased {
        /// The node.
        node: NodeId,
        /// The alias.
        alias: Alias,
    },
    /// `node` now has a member of `room`.
    RoomJoined {
        /// The node.
        node: NodeId,
        /// The room.
        room: Room,
    },
    /// `node` no longer has any member of `room`.
    RoomLeft {
        /// The node.
        node: NodeId,
        /// The room.
        room: Room,
    },
}

/// One claim of an alias waiting for the directory, named so its answer
/// finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClaimId(pub u64);

/// What a node's hub asks its driver to carry to other nodes, from
/// [`Hub::poll_cluster`](crate::Hub::poll_cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterOutput {
    /// Tell every other node (and the shared directory) what this node
    /// holds now.
    Directory(DirectoryChange),
    /// Frames for the sessions of one other node.
    Forward {
        /// The node.
        node: NodeId,
        /// What to deliver there.
        envelope: Envelope,
    },
    /// Frames for every other node, once each.
    Publish(Envelope),
    /// A session of this node claims `alias`: the directory settles it
    /// under `policy` against every node's holders, atomically, and
    /// answers with [`ClusterInput::ClaimSettled`]; holders it displaces on
    /// other nodes get [`ClusterInput::TakenOver`] there. The session waits
    /// meanwhile.
    Claim {
        /// Names the answer.
        claim: ClaimId,
        /// The alias claimed.
        alias: Alias,
        /// The claimant (node-scoped).
        session_id: Arc<str>,
        /// The hub's alias policy.
        policy: AliasPolicy,
    },
    /// A session of this node no longer holds `alias` (it claimed another
    /// or closed): the directory forgets it.
    Release {
        /// The alias.
        alias: Alias,
        /// The former holder.
        session_id: Arc<str>,
    },
}

/// What the driver brings from other nodes, for
/// [`Hub::handle_cluster`](crate::Hub::handle_cluster).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterInput {
    /// Frames another node sent for this node's sessions.
    Deliver(Envelope),
    /// Another node's holdings changed.
    Directory(DirectoryChange),
    /// A node is gone (its lease ran out): it holds nothing any more.
    NodeGone(NodeId),
    /// The directory's answer to a [`ClusterOutput::Claim`]. Answers must
    /// come in the order the directory settled the claims.
    ClaimSettled {
        /// The claim answered.
        claim: ClaimId,
        /// Whether the alias is the claimant's now (else `alias_taken`).
        granted: bool,
    },
    /// A session of this node lost `alias` to a claim on another node
    /// (under `takeover`): it is told `bye` `taken_over` and closed.
    TakenOver {
        /// The alias.
        alias: Alias,
        /// The former holder, on this node.
        session_id: Arc<str>,
    },
}

/// A node's copy of which other nodes hold which aliases and rooms: a
/// cache for routing, fed by the directory, never the authority on claims.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    aliases: BTreeMap<Alias, BTreeSet<NodeId>>,
    rooms: BTreeMap<Room, BTreeSet<NodeId>>,
}

impl Replica {
    pub(crate) fn apply(&mut self, change: DirectoryChange) {
        match change {
            DirectoryChange::AliasHeld { node, alias } => {
                self.aliases.entry(alias).or_default().insert(node);
            }
            DirectoryChange::AliasReleased { node, alias } => {
                remove(&mut self.aliases, &alias, &node)
            }
            DirectoryChange::RoomJoined { node, room } => {
                self.rooms.entry(room).or_default().insert(node);
            }
            DirectoryChange::RoomLeft { node, room } => remove(&mut self.rooms, &room, &node),
        }
    }

    pub(crate) fn forget_node(&mut self, node: &NodeId) {
        for nodes in self.aliases.values_mut() {
            nodes.remove(node);
        }
        self.aliases.retain(|_, nodes| !nodes.is_empty());
        for nodes in self.rooms.values_mut() {
            nodes.remove(node);
        }
        self.rooms.retain(|_, nodes| !nodes.is_empty());
    }

    /// The other nodes holding `alias`.
    pub(crate) fn alias_nodes(&self, alias: &str) -> impl Iterator<Item = &NodeId> + '_ {
        self.aliases.get(alias).into_iter().flatten()
    }

    /// The other nodes with members of `room`.
    pub(crate) fn room_nodes(&self, room: &str) -> impl Iterator<Item = &NodeId> + '_ {
        self.rooms.get(room).into_iter().flatten()
    }
}

fn remove<K: Ord>(map: &mut BTreeMap<K, BTreeSet<NodeId>>, key: &K, node: &NodeId) {
    if let Some(nodes) = map.get_mut(key) {
        nodes.remove(node);
        if nodes.is_empty() {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_are_short_and_plain() {
        use crate::node::MAX_NODE_ID_LEN;
        assert!(NodeId::new("n1").is_ok());
        assert!(NodeId::new("eu-west_2").is_ok());
        for bad in ["", "a/b", "a b", "ü", &"n".repeat(MAX_NODE_ID_LEN + 1)] {
            assert!(NodeId::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_replica_follows_changes_and_forgets_gone_nodes() {
        let n = |s| NodeId::new(s).unwrap();
        let a = Alias::new("A").unwrap();
        let mut r = Replica::default();
        r.apply(DirectoryChange::AliasHeld {
            node: n("n2"),
            alias: a.clone(),
        });
        r.apply(DirectoryChange::AliasHeld {
            node: n("n3"),
            alias: a.clone(),
        });
        assert_eq!(r.alias_nodes("A").count(), 2);
        r.apply(DirectoryChange::AliasReleased {
            node: n("n2"),
            alias: a.clone(),
        });
        assert_eq!(r.alias_nodes("A").collect::<Vec<_>>(), [&n("n3")]);
        r.forget_node(&n("n3"));
        assert_eq!(r.alias_nodes("A").count(), 0);
        assert!(r.aliases.is_empty());
    }
}
