//! Several hubs acting as one: what crosses between nodes, and each node's
//! copy of which other nodes hold which aliases and rooms.
//!
//! The core decides; a driver carries each [`ClusterOutput`] to the other
//! nodes (over Redis in `tcphub serve --cluster`, over a simulated
//! backplane in the simulator) and feeds what arrives back as a
//! [`ClusterInput`]. A frame for another node is encoded once, on the node
//! where it started, and crosses once per node that has recipients: a
//! directed message goes only to the nodes holding its alias, a broadcast
//! once to all. docs/design/cluster.md has the whole plan.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bytes::Bytes;

use crate::alias::Alias;
use crate::config::AliasPolicy;
use crate::node::NodeId;
use crate::request::ReplyAddress;
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
    /// One session of this node, by session id: an answer to a sender on
    /// another node.
    Session(Arc<str>),
    /// The answer to a request of this node: a `reply` from the holder of
    /// `from`, or (with `from` `None`) an `error` saying the request found
    /// nobody. The frame carries no `id`: the requester's node adds it,
    /// and delivers it only while the request waits.
    Reply {
        /// The request answered.
        to: ReplyAddress,
        /// The alias that answered; `None` when a node answers for nobody.
        from: Option<Alias>,
    },
    /// This node's sessions watching `alias` (or every alias), and those
    /// watching the members of any of `rooms`: a presence change of a
    /// session on another node.
    Watchers {
        /// The alias that changed, if the change concerns one.
        alias: Option<Alias>,
        /// The rooms the changed session is in.
        rooms: Vec<Room>,
    },
}

/// The sender of a relayed message, so that the node it reaches can answer
/// `unknown_alias` when the alias left that node before it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyTo {
    /// The sender's session id (node-scoped, so it names its node).
    pub session_id: Arc<str>,
    /// The `id` of the sender's request, as raw JSON, echoed in the error.
    pub request_id: Option<Arc<str>>,
    /// For a `request`, where its answer goes, so the word that it found
    /// nobody ends it there.
    pub request: Option<ReplyAddress>,
}

impl ReplyTo {
    /// The node the sender is on: the part of its session id before `/`.
    pub fn node(&self) -> Option<NodeId> {
        node_of(&self.session_id)
    }
}

/// The node a node-scoped session id (`n1/127.0.0.1:53412`) names.
pub fn node_of(session_id: &str) -> Option<NodeId> {
    let (node, _) = session_id.split_once('/')?;
    NodeId::new(node).ok()
}

/// A frame crossing between nodes, encoded once where it started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Who it is for on the receiving node.
    pub target: RemoteTarget,
    /// One complete NDJSON line, as the recipients get it.
    pub frame: Bytes,
    /// Who sent it, for a client's message to an alias; `None` otherwise.
    pub reply_to: Option<ReplyTo>,
}

impl Envelope {
    /// An envelope nobody needs to be told about if it reaches no one.
    pub fn new(target: RemoteTarget, frame: Bytes) -> Self {
        Envelope {
            target,
            frame,
            reply_to: None,
        }
    }
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
    /// A session of `node` opened, or the alias it holds changed: the row
    /// `list` shows for it anywhere in the cluster.
    Session {
        /// The node.
        node: NodeId,
        /// The session's id (node-scoped).
        session_id: Arc<str>,
        /// The alias it holds now.
        alias: Option<Alias>,
    },
    /// A session of `node` closed.
    SessionClosed {
        /// The node.
        node: NodeId,
        /// The session's id.
        session_id: Arc<str>,
    },
    /// Whether any session of `node` watches presence: presence changes
    /// cross only to nodes that have a watcher.
    Watching {
        /// The node.
        node: NodeId,
        /// Whether it has a watcher now.
        watching: bool,
    },
}

impl DirectoryChange {
    /// The node whose holdings changed.
    pub fn node(&self) -> &NodeId {
        match self {
            DirectoryChange::AliasHeld { node, .. }
            | DirectoryChange::AliasReleased { node, .. }
            | DirectoryChange::RoomJoined { node, .. }
            | DirectoryChange::RoomLeft { node, .. }
            | DirectoryChange::Session { node, .. }
            | DirectoryChange::SessionClosed { node, .. }
            | DirectoryChange::Watching { node, .. } => node,
        }
    }
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
    /// A client's message to an alias this node's replica knows no holder
    /// of. The replica may lag behind a claim on another node, so the
    /// directory decides: it carries the envelope to every node holding
    /// the alias and answers [`ClusterInput::Resolved`] with how many,
    /// or, when none does, [`ClusterInput::Unresolved`].
    Resolve(Envelope),
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
    /// The directory carried a [`ClusterOutput::Resolve`]d envelope to
    /// `nodes` nodes (at least one). A request waits for the answers of
    /// all of them: any may find its holder just gone.
    Resolved {
        /// The envelope resolved.
        envelope: Envelope,
        /// The nodes it went to.
        nodes: u32,
    },
    /// The directory found no holder for a [`ClusterOutput::Resolve`]d
    /// envelope: its sender gets `unknown_alias`.
    Unresolved(Envelope),
}

impl ClusterInput {
    /// The directory's answer to a [`ClusterOutput::Resolve`]: it carried
    /// `envelope` to `nodes` nodes, [`Unresolved`](Self::Unresolved) when
    /// none.
    pub fn resolved(envelope: Envelope, nodes: u64) -> Self {
        match nodes {
            0 => ClusterInput::Unresolved(envelope),
            nodes => ClusterInput::Resolved {
                envelope,
                nodes: u32::try_from(nodes).unwrap_or(u32::MAX),
            },
        }
    }
}

/// A session on another node, as `list` and the host's listing show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSession {
    /// Its node.
    pub node: NodeId,
    /// The alias it holds.
    pub alias: Option<Alias>,
}

/// A node's copy of which other nodes hold which aliases and rooms: a
/// cache for routing, fed by the directory, never the authority on claims.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    aliases: BTreeMap<Alias, BTreeSet<NodeId>>,
    rooms: BTreeMap<Room, BTreeSet<NodeId>>,
    /// Other nodes' sessions, by session id.
    pub(crate) sessions: BTreeMap<Arc<str>, RemoteSession>,
    /// The other nodes with a presence watcher.
    pub(crate) watching: BTreeSet<NodeId>,
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
            DirectoryChange::Session {
                node,
                session_id,
                alias,
            } => {
                self.sessions
                    .insert(session_id, RemoteSession { node, alias });
            }
            DirectoryChange::SessionClosed { session_id, .. } => {
                self.sessions.remove(&session_id);
            }
            DirectoryChange::Watching { node, watching } => {
                if watching {
                    self.watching.insert(node);
                } else {
                    self.watching.remove(&node);
                }
            }
        }
    }

    /// Forgets everything `node` held; returns its sessions, which are gone.
    pub(crate) fn forget_node(&mut self, node: &NodeId) -> Vec<(Arc<str>, RemoteSession)> {
        self.watching.remove(node);
        let (gone, kept): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.sessions)
            .into_iter()
            .partition(|(_, s)| s.node == *node);
        self.sessions = kept;
        for nodes in self.aliases.values_mut() {
            nodes.remove(node);
        }
        self.aliases.retain(|_, nodes| !nodes.is_empty());
        for nodes in self.rooms.values_mut() {
            nodes.remove(node);
        }
        self.rooms.retain(|_, nodes| !nodes.is_empty());
        gone.into_iter().collect()
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
