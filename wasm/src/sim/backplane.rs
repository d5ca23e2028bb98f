//! The simulated backplane of a cluster: what Redis is to `tcphub serve
//! --cluster`, with the semantics of the directory in
//! `core/tests/cluster.rs` (and of the Lua scripts docs/design/cluster.md
//! plans):
//!
//! - Every cluster output a node's core emits travels up to the backplane
//!   (`latency_ms`), is settled there, and what it gives travels down to
//!   nodes (`latency_ms` again).
//! - Claims are settled one at a time, in the order they reach the
//!   backplane: `reject` refuses an alias anyone holds, `share` adds a
//!   holder, `takeover` replaces every holder and sends `TakenOver` to the
//!   node of each one displaced on another node. The claimant's answer
//!   goes first.
//! - A directory change goes to every other node's replica, a `Forward` to
//!   its one node, a `Publish` to every other node. A `Resolve` (a message
//!   to an alias the sender's replica knows no holder of) goes to every
//!   node the directory has holding it, and comes back `Resolved` with
//!   how many, or `Unresolved`.
//! - A crashed node is not known to be gone until its lease runs out; then
//!   the directory frees its aliases, every other node is told `NodeGone`,
//!   and nothing is sent to it any more. What reaches it before is lost.
//!
//! Plain data and rules: no time of its own (the simulator says when), no
//! randomness, no faults; equal times keep the order things were sent in.

use std::sync::Arc;

use tcphub_core::{Alias, AliasPolicy, ClusterInput, ClusterOutput, NodeId, RemoteTarget};

/// One message on its way, by the node index it comes from or goes to.
#[derive(Debug, Clone)]
pub(crate) enum Hop {
    /// A node's output, on its way up to the backplane.
    Up { from: usize, output: ClusterOutput },
    /// The backplane's input for a node, on its way down.
    Down { to: usize, input: ClusterInput },
    /// A crashed node's lease runs out at the backplane.
    LeaseEnds { node: usize },
}

/// A hop and when it arrives.
#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub(crate) time: u64,
    /// When it left.
    pub(crate) sent: u64,
    pub(crate) hop: Hop,
}

/// One holder of an alias, as the directory knows it.
#[derive(Debug, Clone)]
struct Holder {
    alias: Alias,
    node: usize,
    session_id: Arc<str>,
}

/// The backplane: the hops in flight and the directory of who holds which
/// alias.
#[derive(Debug)]
pub(crate) struct Backplane {
    /// The nodes' ids, by index.
    pub(crate) ids: Vec<NodeId>,
    /// Nodes whose lease ran out: nothing is sent to them any more.
    gone: Vec<bool>,
    /// By arrival time; among equal times, in the order sent. A `Vec`, not
    /// a `VecDeque`: a handful of hops are ever in flight, and the deque's
    /// insert would cost 1.5 KB of .wasm for its own copy.
    in_flight: Vec<InFlight>,
    /// Every holder of every alias. A walk rather than a map: a simulated
    /// cluster has tens of aliases, and a map would add a B-tree layout to
    /// the .wasm.
    holders: Vec<Holder>,
}

impl Backplane {
    pub(crate) fn new(ids: Vec<NodeId>) -> Self {
        Backplane {
            gone: vec![false; ids.len()],
            ids,
            in_flight: Vec::new(),
            holders: Vec::new(),
        }
    }

    /// Puts a hop on its way, arriving at `time`.
    pub(crate) fn send(&mut self, time: u64, sent: u64, hop: Hop) {
        // After every hop already due at or before `time`: order is kept
        // among equals, so the run does not depend on how they were sorted.
        let at = self.in_flight.partition_point(|h| h.time <= time);
        self.in_flight.insert(at, InFlight { time, sent, hop });
    }

    /// When the next hop arrives.
    pub(crate) fn next_time(&self) -> Option<u64> {
        self.in_flight.first().map(|h| h.time)
    }

    /// The next hop to arrive.
    pub(crate) fn pop(&mut self) -> Option<InFlight> {
        (!self.in_flight.is_empty()).then(|| self.in_flight.remove(0))
    }

    /// Hops still on their way.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether a message is on its way (a lease running out is not one:
    /// a step waiting for the network to settle does not wait for it).
    pub(crate) fn carrying(&self) -> bool {
        self.in_flight
            .iter()
            .any(|h| !matches!(h.hop, Hop::LeaseEnds { .. }))
    }

    /// The index of a node by its id.
    pub(crate) fn index(&self, node: &NodeId) -> Option<usize> {
        self.ids.iter().position(|n| n == node)
    }

    /// Every node but `from` still in the cluster.
    fn others(&self, from: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.ids.len()).filter(move |&n| n != from && !self.gone[n])
    }

    /// Settles `output`, which reached the backplane from node `from`:
    /// what it gives each node, in the order to send it.
    pub(crate) fn settle(
        &mut self,
        from: usize,
        output: &ClusterOutput,
    ) -> Vec<(usize, ClusterInput)> {
        match output {
            ClusterOutput::Claim {
                claim,
                alias,
                session_id,
                policy,
            } => {
                let (granted, mut inputs) = self.claim(from, alias, session_id, *policy);
                let answer = ClusterInput::ClaimSettled {
                    claim: *claim,
                    granted,
                };
                inputs.insert(0, (from, answer));
                inputs
            }
            ClusterOutput::Release { alias, session_id } => {
                self.holders.retain(|h| {
                    !(h.node == from && h.alias == *alias && h.session_id == *session_id)
                });
                Vec::new()
            }
            ClusterOutput::Directory(change) => self
                .others(from)
                .map(|n| (n, ClusterInput::Directory(change.clone())))
                .collect(),
            ClusterOutput::Forward { node, envelope } => self
                .index(node)
                .filter(|&n| !self.gone[n])
                .map(|n| (n, ClusterInput::Deliver(envelope.clone())))
                .into_iter()
                .collect(),
            ClusterOutput::Publish(envelope) => self
                .others(from)
                .map(|n| (n, ClusterInput::Deliver(envelope.clone())))
                .collect(),
            ClusterOutput::Resolve(envelope) => {
                // The sender's replica knew no holder; the directory may.
                let alias = match &envelope.target {
                    RemoteTarget::Alias(alias) => alias.as_str(),
                    _ => "",
                };
                let mut nodes: Vec<usize> = Vec::new();
                for h in self.holders.iter().filter(|h| h.alias.as_str() == alias) {
                    if !nodes.contains(&h.node) && !self.gone[h.node] {
                        nodes.push(h.node);
                    }
                }
                let resolved = ClusterInput::resolved(envelope.clone(), nodes.len() as u64);
                nodes
                    .into_iter()
                    .map(|n| (n, ClusterInput::Deliver(envelope.clone())))
                    .chain([(from, resolved)])
                    .collect()
            }
        }
    }

    /// One claim, settled against every node's holders at once: whether it
    /// is granted, and the `TakenOver`s it sends.
    fn claim(
        &mut self,
        from: usize,
        alias: &Alias,
        session_id: &Arc<str>,
        policy: AliasPolicy,
    ) -> (bool, Vec<(usize, ClusterInput)>) {
        let held = self.holders.iter().any(|h| h.alias == *alias);
        let mut taken_over = Vec::new();
        match policy {
            AliasPolicy::Reject if held => return (false, taken_over),
            AliasPolicy::Share | AliasPolicy::Reject => {}
            // Takeover, and any policy the core may add: the later claim
            // wins, as one hub would have it.
            _ => self.holders.retain(|h| {
                if h.alias != *alias {
                    return true;
                }
                // A holder on the claimant's node is displaced there, by
                // the claimant's own core.
                if h.node != from && !self.gone[h.node] {
                    let input = ClusterInput::TakenOver {
                        alias: alias.clone(),
                        session_id: h.session_id.clone(),
                    };
                    taken_over.push((h.node, input));
                }
                false
            }),
        }
        self.holders.push(Holder {
            alias: alias.clone(),
            node: from,
            session_id: session_id.clone(),
        });
        (true, taken_over)
    }

    /// A crashed node's lease has run out: the directory frees its
    /// aliases (returned, in the order they were claimed) and tells every
    /// other node it is gone.
    pub(crate) fn expire(&mut self, node: usize) -> (Vec<Alias>, Vec<(usize, ClusterInput)>) {
        let mut freed = Vec::new();
        self.holders.retain(|h| {
            if h.node == node {
                freed.push(h.alias.clone());
            }
            h.node != node
        });
        self.gone[node] = true;
        let gone = self
            .others(node)
            .map(|n| (n, ClusterInput::NodeGone(self.ids[node].clone())))
            .collect();
        (freed, gone)
    }

    /// The holders of `alias`, as (node index, session id), oldest first.
    pub(crate) fn holders(&self, alias: &str) -> Vec<(usize, &str)> {
        self.holders
            .iter()
            .filter(|h| h.alias.as_str() == alias)
            .map(|h| (h.node, &*h.session_id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(n: usize) -> Backplane {
        Backplane::new(
            (1..=n)
                .map(|i| NodeId::new(&format!("n{i}")).unwrap())
                .collect(),
        )
    }

    fn claim(from: usize, alias: &str, session: &str, policy: AliasPolicy) -> ClusterOutput {
        ClusterOutput::Claim {
            claim: tcphub_core::ClaimId(from as u64),
            alias: Alias::new(alias).unwrap(),
            session_id: session.into(),
            policy,
        }
    }

    fn granted(inputs: &[(usize, ClusterInput)]) -> bool {
        matches!(inputs[0].1, ClusterInput::ClaimSettled { granted, .. } if granted)
    }

    #[test]
    fn reject_gives_one_winner_in_arrival_order() {
        let mut b = plane(2);
        assert!(granted(
            &b.settle(1, &claim(1, "X", "n2/b", AliasPolicy::Reject))
        ));
        let refused = b.settle(0, &claim(0, "X", "n1/a", AliasPolicy::Reject));
        assert!(!granted(&refused));
        assert_eq!(refused.len(), 1);
        assert_eq!(b.holders("X"), [(1, "n2/b")]);
    }

    #[test]
    fn takeover_tells_the_displaced_node_only_when_it_is_another() {
        let mut b = plane(3);
        b.settle(0, &claim(0, "X", "n1/a", AliasPolicy::Takeover));
        let out = b.settle(2, &claim(2, "X", "n3/c", AliasPolicy::Takeover));
        assert!(granted(&out));
        assert!(matches!(
            &out[1..],
            [(0, ClusterInput::TakenOver { session_id, .. })] if &**session_id == "n1/a"
        ));
        let out = b.settle(2, &claim(2, "X", "n3/d", AliasPolicy::Takeover));
        assert_eq!(out.len(), 1, "the claimant's own core displaces n3/c");
        assert_eq!(b.holders("X"), [(2, "n3/d")]);
    }

    #[test]
    fn share_adds_and_release_removes() {
        let mut b = plane(2);
        b.settle(0, &claim(0, "X", "n1/a", AliasPolicy::Share));
        b.settle(1, &claim(1, "X", "n2/b", AliasPolicy::Share));
        assert_eq!(b.holders("X").len(), 2);
        let release = ClusterOutput::Release {
            alias: Alias::new("X").unwrap(),
            session_id: "n1/a".into(),
        };
        // Only the node that holds it can release it.
        b.settle(1, &release);
        assert_eq!(b.holders("X").len(), 2);
        b.settle(0, &release);
        assert_eq!(b.holders("X"), [(1, "n2/b")]);
    }

    #[test]
    fn an_expired_lease_frees_aliases_and_the_node_gets_nothing_more() {
        let mut b = plane(3);
        b.settle(1, &claim(1, "X", "n2/b", AliasPolicy::Reject));
        let (freed, gone) = b.expire(1);
        assert_eq!(freed, [Alias::new("X").unwrap()]);
        assert_eq!(
            gone.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            [0, 2],
            "every other node is told"
        );
        assert!(granted(
            &b.settle(0, &claim(0, "X", "n1/a", AliasPolicy::Reject))
        ));
        let publish = ClusterOutput::Publish(tcphub_core::Envelope::new(
            RemoteTarget::Everyone,
            bytes::Bytes::from_static(b"{}\n"),
        ));
        assert_eq!(
            b.settle(0, &publish)
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>(),
            [2]
        );
    }

    #[test]
    fn resolve_finds_the_holders_nodes_or_comes_back_unresolved() {
        let mut b = plane(3);
        b.settle(2, &claim(2, "X", "n3/c", AliasPolicy::Takeover));
        let to = |alias: &str| {
            ClusterOutput::Resolve(tcphub_core::Envelope::new(
                RemoteTarget::Alias(Alias::new(alias).unwrap()),
                bytes::Bytes::from_static(b"{}\n"),
            ))
        };
        assert!(matches!(
            &b.settle(0, &to("X"))[..],
            [
                (2, ClusterInput::Deliver(_)),
                (0, ClusterInput::Resolved { nodes: 1, .. })
            ]
        ));
        assert!(matches!(
            &b.settle(0, &to("Y"))[..],
            [(0, ClusterInput::Unresolved(_))]
        ));
    }

    #[test]
    fn hops_arrive_by_time_and_in_order_among_equals() {
        let mut b = plane(2);
        let lease = |node| Hop::LeaseEnds { node };
        b.send(5, 0, lease(0));
        b.send(3, 0, lease(1));
        b.send(5, 1, lease(1));
        let order: Vec<(u64, u64)> = std::iter::from_fn(|| b.pop())
            .map(|h| (h.time, h.sent))
            .collect();
        assert_eq!(order, [(3, 0), (5, 0), (5, 1)]);
    }
}
