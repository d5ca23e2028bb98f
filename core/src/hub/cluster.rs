//! This hub as one node of a cluster: telling the other nodes what it
//! holds, sending them what their sessions must get, and delivering what
//! they send. Only in use when [`HubConfig::node`](crate::HubConfig::node)
//! is set; otherwise every method here returns at once.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;

use super::Hub;
use crate::alias::Alias;
use crate::auth::Identity;
use crate::cluster::{
    node_of, ClaimId, ClusterInput, ClusterOutput, DirectoryChange, Envelope, RemoteSession,
    RemoteTarget, Replica, ReplyTo,
};
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::{CloseReason, Event};
use crate::frame::hub_encode as encode;
use crate::handle::SessionHandle;
use crate::last_will::LastWill;
use crate::node::NodeId;
use crate::presence::PresenceChange;
use crate::room::Room;

/// A handle no session has (handles start at 1): for presence about a
/// session of another node, which no local watcher can be.
const NOBODY: SessionHandle = SessionHandle(0);

/// The close reason watchers are told for the sessions of a node whose
/// lease ran out.
const NODE_GONE: &str = "node_gone";

/// `unknown_alias`, as a sender is told it wherever the alias was looked for.
pub(super) fn unknown_alias(alias: &str) -> PeerError {
    PeerError::new(
        ErrorCode::UnknownAlias,
        format!("no session holds alias {alias:?}; the message was not delivered"),
    )
}

/// A request id carried across nodes as raw JSON, back as the encoders
/// take it.
fn raw_request_id(text: Option<&str>) -> Option<Box<RawValue>> {
    RawValue::from_string(text?.to_owned()).ok()
}

/// A node's cluster state.
#[derive(Debug)]
pub(super) struct ClusterState {
    pub(super) node: NodeId,
    pub(super) replica: Replica,
    pub(super) outputs: VecDeque<ClusterOutput>,
    /// Claims waiting for the directory, by id.
    claims: BTreeMap<ClaimId, PendingClaim>,
    last_claim: u64,
    /// What the other nodes were last told about this node's watchers.
    told_watching: bool,
    /// The driver's queue towards the other nodes is over its bound.
    pub(super) behind: bool,
    /// The sessions waiting for it to drain (see `hub::backplane_pace`).
    pub(super) holding: Vec<SessionHandle>,
}

/// A `sync` waiting for the directory: what to finish it with.
#[derive(Debug)]
struct PendingClaim {
    handle: SessionHandle,
    session_id: Arc<str>,
    alias: Alias,
    request_id: Option<Box<RawValue>>,
    last_will: Option<LastWill>,
    identity: Option<Arc<Identity>>,
}

impl ClusterState {
    pub(super) fn new(node: NodeId) -> Self {
        ClusterState {
            node,
            replica: Replica::default(),
            outputs: VecDeque::new(),
            claims: BTreeMap::new(),
            last_claim: 0,
            told_watching: false,
            behind: false,
            holding: Vec::new(),
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
                // The replica lists other nodes only; this node knows its own.
                if *change.node() != cluster.node {
                    cluster.replica.apply(change);
                }
            }
            ClusterInput::NodeGone(node) => {
                let gone = cluster.replica.forget_node(&node);
                for (session_id, session) in gone {
                    self.notify_remote_gone(&session_id, session);
                }
                self.settle();
            }
            ClusterInput::ClaimSettled { claim, granted } => {
                let Some(pending) = cluster.claims.remove(&claim) else {
                    return Err(HubError::UnknownClaim(claim.0));
                };
                self.settle_claim(pending, granted);
                self.settle();
            }
            ClusterInput::TakenOver { alias, session_id } => {
                if let Some(handle) = self.sessions.by_session_id(&session_id) {
                    self.lose_alias(handle, &alias);
                }
                self.settle();
            }
            ClusterInput::Deliver(envelope) => {
                self.deliver_remote(envelope);
                self.settle();
            }
            ClusterInput::Resolved { envelope, nodes } => {
                self.resolved(&envelope, nodes);
                self.settle();
            }
            ClusterInput::Unresolved(envelope) => {
                self.resolved(&envelope, 0);
                self.settle();
            }
        }
        Ok(())
    }

    /// The directory carried `envelope`, which this node asked it to
    /// resolve, to `nodes` nodes (none: nobody holds its alias). A request
    /// waits for the answers of all of them; a message that reached
    /// nobody is answered `unknown_alias` to its sender.
    fn resolved(&mut self, envelope: &Envelope, nodes: u32) {
        let RemoteTarget::Alias(alias) = &envelope.target else {
            return;
        };
        let Some(reply_to) = &envelope.reply_to else {
            return;
        };
        if let Some(to) = &reply_to.request {
            return match nodes {
                0 => self.request_unresolved(to, alias),
                nodes => self.request_carried(to, alias, nodes),
            };
        }
        if nodes == 0 {
            if let Some(handle) = self.sessions.by_session_id(&reply_to.session_id) {
                let request_id = raw_request_id(reply_to.request_id.as_deref());
                self.peer_error(handle, unknown_alias(alias.as_str()), request_id.as_deref());
            }
        }
    }

    /// The sessions of the other nodes, by session id, as this node's
    /// replica knows them (it follows the directory, so it may lag a
    /// moment behind a session that just opened elsewhere).
    pub fn remote_sessions(&self) -> impl Iterator<Item = (&str, &RemoteSession)> + '_ {
        self.cluster
            .iter()
            .flat_map(|c| c.replica.sessions.iter())
            .map(|(id, s)| (&**id, s))
    }

    /// Delivers frames another node sent to this node's sessions. A
    /// client's message for an alias that left this node before it
    /// arrived is answered to its sender, on its own node.
    fn deliver_remote(&mut self, envelope: Envelope) {
        let Envelope {
            target,
            frame,
            reply_to,
        } = envelope;
        match target {
            RemoteTarget::Alias(alias) => {
                if self.deliver_to_alias(None, alias.as_str(), frame) == 0 {
                    if let Some(reply_to) = reply_to {
                        self.bounce(&alias, reply_to);
                    }
                }
            }
            RemoteTarget::Room(room) => {
                self.deliver_to_room(None, &room, frame);
            }
            RemoteTarget::Everyone => {
                self.deliver_to_all(None, frame);
            }
            RemoteTarget::Session(session_id) => {
                if let Some(handle) = self.sessions.by_session_id(&session_id) {
                    self.deliver_to_ids(None, &[handle], frame);
                }
            }
            RemoteTarget::Watchers { alias, rooms } => {
                let ids = self.presence_watchers(NOBODY, alias.as_ref(), &rooms);
                self.deliver_to_ids(None, &ids, frame);
            }
            RemoteTarget::Reply { to, from } => {
                self.deliver_remote_reply(&to, from, &frame);
            }
        }
    }

    /// Tells a sender on another node that its message to `alias` found
    /// no holder here.
    fn bounce(&mut self, alias: &Alias, reply_to: ReplyTo) {
        let Some(node) = reply_to.node() else {
            return;
        };
        let envelope = match reply_to.request {
            // A request's node echoes its id, and stops waiting for it.
            Some(to) => Envelope::new(
                RemoteTarget::Reply { to, from: None },
                encode::error(&unknown_alias(alias.as_str()), None),
            ),
            None => {
                let request_id = raw_request_id(reply_to.request_id.as_deref());
                let frame = encode::error(&unknown_alias(alias.as_str()), request_id.as_deref());
                Envelope::new(RemoteTarget::Session(reply_to.session_id), frame)
            }
        };
        if let Some(cluster) = &mut self.cluster {
            let forward = ClusterOutput::Forward { node, envelope };
            cluster.outputs.push_back(forward);
        }
    }

    /// A client's message to an alias no node holds as far as the replica
    /// knows: the directory, which may know better, decides.
    pub(super) fn resolve(
        &mut self,
        handle: SessionHandle,
        alias: Alias,
        frame: Bytes,
        request_id: Option<&RawValue>,
    ) {
        let reply_to = self.reply_to(handle, request_id);
        self.resolve_from(alias, frame, reply_to);
    }

    /// The same, for a sender already named as `reply_to`.
    pub(super) fn resolve_from(&mut self, alias: Alias, frame: Bytes, reply_to: Option<ReplyTo>) {
        if let Some(cluster) = &mut self.cluster {
            let envelope = Envelope {
                target: RemoteTarget::Alias(alias),
                frame,
                reply_to,
            };
            cluster.outputs.push_back(ClusterOutput::Resolve(envelope));
        }
    }

    /// How to answer session `handle` from another node.
    pub(super) fn reply_to(
        &self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
    ) -> Option<ReplyTo> {
        let session = self.sessions.get(handle)?;
        Some(ReplyTo {
            session_id: session.session_id.clone(),
            request_id: request_id.map(|id| Arc::from(id.get())),
            request: None,
        })
    }

    /// Tells this node's watchers that a session of a gone node closed.
    fn notify_remote_gone(&mut self, session_id: &str, session: RemoteSession) {
        let Some(alias) = session.alias else {
            return;
        };
        let ids = self.presence_watchers(NOBODY, Some(&alias), &[]);
        if ids.is_empty() {
            return;
        }
        let frame = encode::presence(
            PresenceChange::Closed,
            Some(alias.as_str()),
            session_id,
            None,
            Some(NODE_GONE),
        );
        self.deliver_to_ids(None, &ids, frame);
    }

    /// Whether a presence change here must cross to other nodes.
    pub(super) fn watched_elsewhere(&self) -> bool {
        self.cluster
            .as_ref()
            .is_some_and(|c| !c.replica.watching.is_empty())
    }

    /// Sends a presence frame to every other node with a watcher.
    pub(super) fn forward_presence(
        &mut self,
        alias: Option<&Alias>,
        rooms: Vec<Room>,
        frame: &Bytes,
    ) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let target = RemoteTarget::Watchers {
            alias: alias.cloned(),
            rooms,
        };
        let forwards: Vec<ClusterOutput> = cluster
            .replica
            .watching
            .iter()
            .map(|node| ClusterOutput::Forward {
                node: node.clone(),
                envelope: Envelope::new(target.clone(), frame.clone()),
            })
            .collect();
        cluster.outputs.extend(forwards);
    }

    /// Tells the other nodes this session's row: opened, or a new alias.
    pub(super) fn note_session(&mut self, handle: SessionHandle) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let Some(session) = self.sessions.get(handle) else {
            return;
        };
        let change = DirectoryChange::Session {
            node: cluster.node.clone(),
            session_id: session.session_id.clone(),
            alias: session.alias.clone(),
        };
        cluster.outputs.push_back(ClusterOutput::Directory(change));
    }

    /// Tells the other nodes a session of this node closed.
    pub(super) fn note_session_closed(&mut self, session_id: &Arc<str>) {
        if let Some(cluster) = &mut self.cluster {
            let change = DirectoryChange::SessionClosed {
                node: cluster.node.clone(),
                session_id: session_id.clone(),
            };
            cluster.outputs.push_back(ClusterOutput::Directory(change));
        }
    }

    /// Tells the other nodes when this node gained its first presence
    /// watcher or lost its last, so presence crosses only where watched.
    pub(super) fn note_watching(&mut self) {
        let watching = self.anyone_watching();
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        if watching != cluster.told_watching {
            cluster.told_watching = watching;
            let change = DirectoryChange::Watching {
                node: cluster.node.clone(),
                watching,
            };
            cluster.outputs.push_back(ClusterOutput::Directory(change));
        }
    }

    /// Sends `frame` to the other nodes with recipients for `target`: once
    /// to every other node for everyone, else once per node holding the
    /// alias or with members of the room.
    pub(super) fn forward(&mut self, target: RemoteTarget, frame: &Bytes) {
        self.forward_from(target, frame, None);
    }

    /// The same, naming the sender to answer if the frame finds nobody.
    pub(super) fn forward_from(
        &mut self,
        target: RemoteTarget,
        frame: &Bytes,
        reply_to: Option<ReplyTo>,
    ) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let nodes: Vec<&NodeId> = match &target {
            RemoteTarget::Alias(alias) => cluster.replica.alias_nodes(alias.as_str()).collect(),
            RemoteTarget::Room(room) => cluster.replica.room_nodes(room.as_str()).collect(),
            // A reply goes to the node its address names (see `requests`).
            RemoteTarget::Reply { .. } => return,
            RemoteTarget::Session(session_id) => {
                if let Some(node) = node_of(session_id) {
                    let envelope = Envelope {
                        target,
                        frame: frame.clone(),
                        reply_to,
                    };
                    let forward = ClusterOutput::Forward { node, envelope };
                    cluster.outputs.push_back(forward);
                }
                return;
            }
            RemoteTarget::Everyone | RemoteTarget::Watchers { .. } => {
                let envelope = Envelope {
                    target,
                    frame: frame.clone(),
                    reply_to,
                };
                cluster.outputs.push_back(ClusterOutput::Publish(envelope));
                return;
            }
        };
        let forwards: Vec<ClusterOutput> = nodes
            .into_iter()
            .map(|node| ClusterOutput::Forward {
                node: node.clone(),
                envelope: Envelope {
                    target: target.clone(),
                    frame: frame.clone(),
                    reply_to: reply_to.clone(),
                },
            })
            .collect();
        cluster.outputs.extend(forwards);
    }

    /// Asks the directory to settle a claim; the session waits (its input
    /// kept, as when flow control pauses it) until the answer.
    pub(super) fn start_claim(
        &mut self,
        handle: SessionHandle,
        alias: Alias,
        request_id: Option<&RawValue>,
        last_will: Option<LastWill>,
        identity: Option<Arc<Identity>>,
    ) {
        let policy = self.config.alias_policy;
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        cluster.last_claim += 1;
        let claim = ClaimId(cluster.last_claim);
        cluster.outputs.push_back(ClusterOutput::Claim {
            claim,
            alias: alias.clone(),
            session_id: session.session_id.clone(),
            policy,
        });
        cluster.claims.insert(
            claim,
            PendingClaim {
                handle,
                session_id: session.session_id.clone(),
                alias,
                request_id: request_id.map(ToOwned::to_owned),
                last_will,
                identity,
            },
        );
        session.flow.held_by_claim = true;
        session.flow.waiting_on += 1;
        self.pause(handle);
    }

    /// The directory answered a claim: the session goes on, holding the
    /// alias or told `alias_taken`. A session that closed meanwhile gives
    /// a granted alias straight back.
    fn settle_claim(&mut self, pending: PendingClaim, granted: bool) {
        let PendingClaim {
            handle,
            session_id,
            alias,
            request_id,
            last_will,
            identity,
        } = pending;
        let Some(session) = self.sessions.get_mut(handle) else {
            if granted {
                self.note_release_of(&session_id, &alias);
            }
            return;
        };
        session.flow.held_by_claim = false;
        session.flow.waiting_on -= 1;
        if !session.flow.blocked() {
            self.to_resume.push_back(handle);
        }
        if session.alias.as_ref() == Some(&alias) {
            return;
        }
        if granted {
            self.claim(handle, alias, request_id.as_deref(), last_will, identity);
        } else {
            let message = format!(
                "alias {:?} is already held by another session",
                alias.as_str()
            );
            let error = PeerError::new(ErrorCode::AliasTaken, message);
            self.peer_error(handle, error, request_id.as_deref());
            // Refused: a session that has not signed in is back on the
            // clock for doing so.
            self.after_question(handle);
        }
    }

    /// A local holder lost `alias` to a claim on another node.
    fn lose_alias(&mut self, handle: SessionHandle, alias: &Alias) {
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        if session.alias.as_ref() != Some(alias) {
            return;
        }
        session.set_alias(None);
        let session_id = session.session_id.clone();
        self.aliases.release(alias, handle);
        self.note_alias(alias, true);
        self.emit(Event::Released {
            handle,
            session_id,
            alias: alias.clone(),
        });
        self.notify_alias_change(None, handle, PresenceChange::TakenOver, alias);
        let message = format!("alias {:?} was claimed on another node", alias.as_str());
        let farewell = encode::bye(CloseReason::TakenOver.as_str(), &message);
        self.close_with(handle, CloseReason::TakenOver, farewell);
    }

    /// Tells the directory a session of this node gave `alias` up.
    pub(super) fn note_release(&mut self, handle: SessionHandle, alias: &Alias) {
        if let Some(session_id) = self.sessions.get(handle).map(|s| s.session_id.clone()) {
            self.note_release_of(&session_id, alias);
        }
    }

    /// The same, for a session already out of the table.
    pub(super) fn note_release_of(&mut self, session_id: &Arc<str>, alias: &Alias) {
        if let Some(cluster) = &mut self.cluster {
            cluster.outputs.push_back(ClusterOutput::Release {
                alias: alias.clone(),
                session_id: session_id.clone(),
            });
        }
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
