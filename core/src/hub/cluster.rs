//! This hub as one node of a cluster: telling the other nodes what it
//! holds, sending them what their sessions must get, and delivering what
//! they send. Only in use when [`HubConfig::node`](crate::HubConfig::node)
//! is set; otherwise every method here returns at once.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::Hub;
use crate::alias::Alias;
use crate::cluster::{
    ClusterInput, ClusterOutput, DirectoryChange, Envelope, NodeId, RemoteTarget, Replica,
};
use crate::error::HubError;
use crate::room::Room;

/// A node's cluster state.
#[derive(Debug)]
pub(super) struct ClusterState {
    pub(super) node: NodeId,
    pub(super) replica: Replica,
    pub(super) outputs: VecDeque<ClusterOutput>,
}

impl ClusterState {
    pub(super) fn new(node: NodeId) -> Self {
        ClusterState {
            node,
            replica: Replica::default(),
            outputs: VecDeque::new(),
        }
    }
}

impl Hub {
    /// This hub's node id, when it is one node of a cluster.
    pub fn node(&self) -> Option<&NodeId> {
        self.cluster.as_ref().map(|c| &c.node)
    }

    /// The next thing to carry to other nodes, in order; `None` when done
    /// (always, outside a cluster). Poll it after each input, as
    /// [`poll_output`](Hub::poll_output).
    pub fn poll_cluster(&mut self) -> Option<ClusterOutput> {
        self.cluster.as_mut()?.outputs.pop_front()
    }

    /// Something arrived from another node: frames for this node's
    /// sessions (delivered like the host's, counted against their queues),
    /// or a change to what another node holds.
    pub fn handle_cluster(&mut self, now: Duration, input: ClusterInput) -> Result<(), HubError> {
        self.advance(now)?;
        let Some(cluster) = &mut self.cluster else {
            return Err(HubError::NotInCluster);
        };
        match input {
            ClusterInput::Directory(change) => {
                let node = match &change {
                    DirectoryChange::AliasHeld { node, .. }
                    | DirectoryChange::AliasReleased { node, .. }
                    | DirectoryChange::RoomJoined { node, .. }
                    | DirectoryChange::RoomLeft { node, .. } => node,
                };
                // The replica lists other nodes only; this node knows its own.
                if *node != cluster.node {
                    cluster.replica.apply(change);
                }
            }
            ClusterInput::NodeGone(node) => cluster.replica.forget_node(&node),
            ClusterInput::Deliver(Envelope { target, frame }) => {
                match target {
                    RemoteTarget::Alias(alias) => {
                        self.deliver_to_alias(None, alias.as_str(), frame);
                    }
                    RemoteTarget::Room(room) => {
                        self.deliver_to_room(None, &room, frame);
                    }
                    RemoteTarget::Everyone => {
                        self.deliver_to_all(None, frame);
                    }
                }
                self.settle();
            }
        }
        Ok(())
    }

    /// Sends `frame` to the other nodes with recipients for `target`: once
    /// to every other node for everyone, else once per node holding the
    /// alias or with members of the room.
    pub(super) fn forward(&mut self, target: RemoteTarget, frame: &Bytes) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let nodes: Vec<&NodeId> = match &target {
            RemoteTarget::Everyone => {
                let envelope = Envelope {
                    target,
                    frame: frame.clone(),
                };
                cluster.outputs.push_back(ClusterOutput::Publish(envelope));
                return;
            }
            RemoteTarget::Alias(alias) => cluster.replica.alias_nodes(alias.as_str()).collect(),
            RemoteTarget::Room(room) => cluster.replica.room_nodes(room.as_str()).collect(),
        };
        let forwards: Vec<ClusterOutput> = nodes
            .into_iter()
            .map(|node| ClusterOutput::Forward {
                node: node.clone(),
                envelope: Envelope {
                    target: target.clone(),
                    frame: frame.clone(),
                },
            })
            .collect();
        cluster.outputs.extend(forwards);
    }

    /// Whether another node holds `alias`.
    pub(super) fn held_elsewhere(&self, alias: &str) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| c.replica.alias_nodes(alias).next().is_some())
    }

    /// Whether another node has members of `room`.
    pub(super) fn room_elsewhere(&self, room: &str) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| c.replica.room_nodes(room).next().is_some())
    }

    /// Tells the other nodes when this node's first holder of `alias`
    /// appeared or its last one went; `was_held` is whether it had one
    /// before the change.
    pub(super) fn note_alias(&mut self, alias: &Alias, was_held: bool) {
        let held = !self.aliases.holders(alias.as_str()).is_empty();
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        if held == was_held {
            return;
        }
        let (node, alias) = (cluster.node.clone(), alias.clone());
        let change = if held {
            DirectoryChange::AliasHeld { node, alias }
        } else {
            DirectoryChange::AliasReleased { node, alias }
        };
        cluster.outputs.push_back(ClusterOutput::Directory(change));
    }

    /// Tells the other nodes when this node's first member of `room`
    /// joined or its last one left; `existed` is whether it had one before.
    pub(super) fn note_room(&mut self, room: &Room, existed: bool) {
        let exists = self.rooms.members(room.as_str()).is_some();
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        if exists == existed {
            return;
        }
        let (node, room) = (cluster.node.clone(), room.clone());
        let change = if exists {
            DirectoryChange::RoomJoined { node, room }
        } else {
            DirectoryChange::RoomLeft { node, room }
        };
        cluster.outputs.push_back(ClusterOutput::Directory(change));
    }
}
