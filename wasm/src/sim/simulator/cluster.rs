//! A cluster: each node's cluster outputs carried over the backplane
//! (`backplane.rs` settles them), what comes down handed to the node's
//! core, and a node's crash with the lease that frees what it held.
//!
//! A crash is a SIGKILL: the node's core is never called again, its
//! clients' connections are reset (after what was already on the wire to
//! them), its sessions send no bye and no last will, and what the
//! backplane brings it is lost. The other nodes learn of it only when its
//! lease runs out at the backplane.

use serde_json::value::{to_raw_value, RawValue};
use tcphub_core::{Alias, ClusterInput, ClusterOutput, DirectoryChange, Envelope, RemoteTarget};

use super::Simulator;
use crate::sim::backplane::{Backplane, Hop, InFlight};
use crate::sim::network::{End, Piece};
use crate::sim::trace::{BackplaneDetail, Direction, Entry};

/// The name of the backplane in the trace's `from` and `to`.
const BACKPLANE: &str = "backplane";

impl Simulator {
    /// The backplane, which a cluster always has and the core only
    /// addresses in a cluster.
    fn plane(&mut self) -> &mut Backplane {
        self.backplane
            .as_mut()
            .expect("only a cluster's nodes have cluster outputs")
    }

    /// Sends a hop from now, arriving after the backplane's latency.
    fn send_hop(&mut self, hop: Hop) {
        let latency = self.scenario.cluster.as_ref().map_or(0, |c| c.latency_ms);
        let now = self.now;
        self.plane().send(now.saturating_add(latency), now, hop);
    }

    /// A node's cluster output leaves for the backplane.
    pub(super) fn send_up(&mut self, from: usize, output: ClusterOutput) {
        self.send_hop(Hop::Up { from, output });
    }

    /// The next backplane hop arrives: at the backplane, which settles it
    /// and sends what it gives down to nodes; or at a node, whose core
    /// takes it; or a crashed node's lease runs out.
    pub(super) fn backplane_arrive(&mut self) {
        let InFlight { time, sent, hop } = self.plane().pop().expect("next() saw a hop");
        self.now = self.now.max(time);
        match hop {
            Hop::Up { from, output } => {
                if self.trace.wants_any() {
                    let (message, detail) = describe_output(&output);
                    self.trace_hop(sent, self.node_id(from), BACKPLANE.into(), message, detail);
                }
                for (to, input) in self.plane().settle(from, &output) {
                    self.send_hop(Hop::Down { to, input });
                }
            }
            Hop::Down { to, input } => {
                let lost = self.nodes[to].crashed;
                if self.trace.wants_any() {
                    let (message, detail) = describe_input(&input);
                    self.trace.push(Entry::Backplane {
                        t: self.now,
                        sent,
                        from: BACKPLANE.into(),
                        to: self.node_id(to),
                        message,
                        detail,
                        lost,
                    });
                }
                if !lost {
                    self.hub_call(to, |hub, now| hub.handle_cluster(now, input));
                    self.drain();
                }
            }
            Hop::LeaseEnds { node } => {
                let (freed, gone) = self.plane().expire(node);
                self.trace.push(Entry::Node {
                    t: self.now,
                    node: self.node_id(node),
                    state: "lease_expired",
                    freed: freed.iter().map(|a| a.to_string()).collect(),
                });
                for (to, input) in gone {
                    self.send_hop(Hop::Down { to, input });
                }
            }
        }
    }

    fn trace_hop(
        &mut self,
        sent: u64,
        from: String,
        to: String,
        message: &'static str,
        detail: BackplaneDetail,
    ) {
        self.trace.push(Entry::Backplane {
            t: self.now,
            sent,
            from,
            to,
            message,
            detail,
            lost: false,
        });
    }

    /// Node `node` crashes: its core stops, every connection to it is
    /// reset, and its lease starts running out at the backplane.
    pub(super) fn crash(&mut self, node: usize) {
        if self.nodes[node].crashed {
            let id = self.node_id(node);
            return self.skip(format!("node {id} has already crashed"));
        }
        self.nodes[node].crashed = true;
        self.trace.push(Entry::Node {
            t: self.now,
            node: self.node_id(node),
            state: "crashed",
            freed: Vec::new(),
        });
        for conn in 0..self.connections.len() {
            let c = &mut self.connections[conn];
            if c.node != node || !c.hub_open {
                continue;
            }
            c.hub_open = false;
            c.paused = false;
            // What the core had queued dies with it; what is on the wire
            // still arrives, then the reset.
            c.out.clear();
            let held = std::mem::take(&mut c.held);
            let client = c.client;
            for piece in held {
                if let Piece::Data { bytes, .. } = piece {
                    self.discard(client, Direction::ToHub, bytes.len());
                }
            }
            self.end_stream(conn, Direction::ToClient, End::Reset);
        }
        let lease = self.scenario.cluster.as_ref().map_or(0, |c| c.lease_ms);
        let now = self.now;
        self.plane()
            .send(now.saturating_add(lease), now, Hop::LeaseEnds { node });
    }

    /// A node's id, for the trace.
    fn node_id(&self, node: usize) -> String {
        self.node_name(node).unwrap_or_default()
    }
}

/// A cluster output in the trace's words.
fn describe_output(output: &ClusterOutput) -> (&'static str, BackplaneDetail) {
    match output {
        ClusterOutput::Claim {
            claim,
            alias,
            session_id,
            policy,
        } => (
            "claim",
            BackplaneDetail {
                claim: Some(claim.0),
                policy: Some(policy.as_str()),
                ..holder(alias, session_id)
            },
        ),
        ClusterOutput::Release { alias, session_id } => ("release", holder(alias, session_id)),
        ClusterOutput::Directory(change) => ("directory", describe_change(change)),
        ClusterOutput::Forward { node, envelope } => (
            "forward",
            BackplaneDetail {
                node: Some(node.to_string()),
                ..describe_envelope(envelope)
            },
        ),
        ClusterOutput::Publish(envelope) => ("publish", describe_envelope(envelope)),
        ClusterOutput::Resolve(envelope) => ("resolve", describe_envelope(envelope)),
    }
}

/// A cluster input in the trace's words.
fn describe_input(input: &ClusterInput) -> (&'static str, BackplaneDetail) {
    match input {
        ClusterInput::Deliver(envelope) => ("deliver", describe_envelope(envelope)),
        ClusterInput::Directory(change) => ("directory", describe_change(change)),
        ClusterInput::NodeGone(node) => (
            "node_gone",
            BackplaneDetail {
                node: Some(node.to_string()),
                ..BackplaneDetail::default()
            },
        ),
        ClusterInput::ClaimSettled { claim, granted } => (
            "claim_settled",
            BackplaneDetail {
                claim: Some(claim.0),
                granted: Some(*granted),
                ..BackplaneDetail::default()
            },
        ),
        ClusterInput::TakenOver { alias, session_id } => ("taken_over", holder(alias, session_id)),
        ClusterInput::Resolved { envelope, .. } => ("resolved", describe_envelope(envelope)),
        ClusterInput::Unresolved(envelope) => ("unresolved", describe_envelope(envelope)),
    }
}

/// An alias and one holder of it: a claim's, a release's, a takeover's.
fn holder(alias: &Alias, session_id: &str) -> BackplaneDetail {
    BackplaneDetail {
        alias: Some(alias.to_string()),
        session_id: Some(session_id.to_owned()),
        ..BackplaneDetail::default()
    }
}

fn describe_change(change: &DirectoryChange) -> BackplaneDetail {
    let mut detail = BackplaneDetail {
        node: Some(change.node().to_string()),
        ..BackplaneDetail::default()
    };
    let name = match change {
        DirectoryChange::AliasHeld { alias, .. } => {
            detail.alias = Some(alias.to_string());
            "alias_held"
        }
        DirectoryChange::AliasReleased { alias, .. } => {
            detail.alias = Some(alias.to_string());
            "alias_released"
        }
        DirectoryChange::RoomJoined { room, .. } => {
            detail.room = Some(room.to_string());
            "room_joined"
        }
        DirectoryChange::RoomLeft { room, .. } => {
            detail.room = Some(room.to_string());
            "room_left"
        }
        DirectoryChange::Session {
            session_id, alias, ..
        } => {
            detail.session_id = Some(session_id.to_string());
            detail.alias = alias.as_ref().map(|a| a.to_string());
            "session"
        }
        DirectoryChange::SessionClosed { session_id, .. } => {
            detail.session_id = Some(session_id.to_string());
            "session_closed"
        }
        DirectoryChange::Watching { watching, .. } => {
            detail.watching = Some(*watching);
            "watching"
        }
    };
    detail.change = Some(name);
    detail
}

fn describe_envelope(envelope: &Envelope) -> BackplaneDetail {
    let mut detail = BackplaneDetail {
        frame: Some(frame_json(&envelope.frame)),
        reply_to: envelope.reply_to.as_ref().map(|r| r.session_id.to_string()),
        ..BackplaneDetail::default()
    };
    match &envelope.target {
        RemoteTarget::Alias(alias) => detail.alias = Some(alias.to_string()),
        RemoteTarget::Room(room) => detail.room = Some(room.to_string()),
        RemoteTarget::Everyone => detail.everyone = true,
        RemoteTarget::Session(session_id) => detail.session_id = Some(session_id.to_string()),
        RemoteTarget::Watchers { alias, rooms } => {
            detail.watchers = true;
            detail.alias = alias.as_ref().map(|a| a.to_string());
            detail.rooms = rooms.iter().map(|r| r.to_string()).collect();
        }
        RemoteTarget::Reply { to, from } => {
            detail.request = Some(to.to_string());
            detail.alias = from.as_ref().map(|a| a.to_string());
        }
    }
    detail
}

/// A frame as the JSON it is (the core only encodes JSON lines); as a
/// string if it ever were not.
fn frame_json(frame: &[u8]) -> Box<RawValue> {
    let text = String::from_utf8_lossy(frame);
    let line = text.trim_end_matches('\n').to_owned();
    RawValue::from_string(line.clone())
        .unwrap_or_else(|_| to_raw_value(&line).expect("a string always serializes"))
}
