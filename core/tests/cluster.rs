//! Several hubs as one cluster, wired by an in-memory backplane that
//! carries every cluster output at once (or, to show a lagging replica,
//! holds directory changes back), with a directory that settles claims and
//! resolves aliases as the Redis scripts do (docs/design/cluster.md).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{info, room_info, Harness};
use serde_json::json;
use tcphub_core::{
    Alias, AliasPolicy, CloseReason, ClusterInput, ClusterOutput, Envelope, HubConfig, HubError,
    HubFrame, NodeId, RemoteTarget, SessionHandle, HUB_NAME,
};

/// Nodes `n1`, `n2`, ..., the directory that settles their claims (as the
/// Redis claim script will: atomically, in order), and what crossed.
struct Cluster {
    nodes: Vec<Harness>,
    /// Alias to holders, as (node, session id).
    directory: BTreeMap<String, Vec<(usize, String)>>,
    /// Every cluster output, as (from node, output).
    crossed: Vec<(usize, ClusterOutput)>,
    /// Directory changes not yet told to the other nodes, while
    /// `lagging`: their replicas fall behind the directory.
    held: Vec<(usize, ClusterInput)>,
    lagging: bool,
    /// The directory's count of the nodes it carried a resolve to is
    /// held back with them, so the nodes' answers come before it.
    count_late: bool,
}

impl Cluster {
    fn new(n: usize) -> Self {
        Self::with_policy(n, AliasPolicy::Takeover)
    }

    fn with_policy(n: usize, policy: AliasPolicy) -> Self {
        Self::with_config(
            n,
            HubConfig {
                alias_policy: policy,
                ..HubConfig::default()
            },
        )
    }

    /// `n` nodes with `config`, each with its own node id.
    fn with_config(n: usize, config: HubConfig) -> Self {
        let nodes = (1..=n)
            .map(|i| {
                Harness::new(HubConfig {
                    node: Some(NodeId::new(&format!("n{i}")).unwrap()),
                    ..config.clone()
                })
            })
            .collect();
        Cluster {
            nodes,
            directory: BTreeMap::new(),
            crossed: Vec::new(),
            held: Vec::new(),
            lagging: false,
            count_late: false,
        }
    }

    /// Tells the replicas every directory change held back (and the
    /// senders' nodes every count held back).
    fn catch_up(&mut self) {
        self.lagging = false;
        for (j, input) in std::mem::take(&mut self.held) {
            let node = &mut self.nodes[j];
            node.hub.handle_cluster(node.now, input).unwrap();
            node.drain();
        }
        self.pump();
    }

    /// Node `n` died: the directory reaps what it held (as the reaper
    /// script does once its lease runs out) and tells every other node.
    fn node_gone(&mut self, n: usize) {
        for holders in self.directory.values_mut() {
            holders.retain(|(node, _)| *node != n);
        }
        self.directory.retain(|_, holders| !holders.is_empty());
        let gone = NodeId::new(&format!("n{}", n + 1)).unwrap();
        for j in (0..self.nodes.len()).filter(|&j| j != n) {
            let node = &mut self.nodes[j];
            let input = ClusterInput::NodeGone(gone.clone());
            node.hub.handle_cluster(node.now, input).unwrap();
            node.drain();
        }
        self.pump();
    }

    /// The directory's answer to a claim, and the takeovers it sends.
    fn settle(
        &mut self,
        from: usize,
        alias: &Alias,
        session_id: &str,
        policy: AliasPolicy,
    ) -> (bool, Vec<(usize, ClusterInput)>) {
        let holders = self.directory.entry(alias.to_string()).or_default();
        let claimant = (from, session_id.to_owned());
        let mut taken_over = Vec::new();
        let granted = match policy {
            AliasPolicy::Reject if !holders.is_empty() => false,
            AliasPolicy::Share => {
                holders.push(claimant);
                true
            }
            _ => {
                for (node, old) in std::mem::replace(holders, vec![claimant]) {
                    // A holder on the claimant's node is displaced there.
                    if node != from {
                        let input = ClusterInput::TakenOver {
                            alias: alias.clone(),
                            session_id: old.as_str().into(),
                        };
                        taken_over.push((node, input));
                    }
                }
                true
            }
        };
        (granted, taken_over)
    }

    fn index(&self, node: &NodeId) -> usize {
        node.as_str()[1..].parse::<usize>().unwrap() - 1
    }

    /// Carries cluster outputs until none is left.
    fn pump(&mut self) {
        loop {
            let mut outs = Vec::new();
            for (i, node) in self.nodes.iter_mut().enumerate() {
                while let Some(out) = node.hub.poll_cluster() {
                    outs.push((i, out));
                }
            }
            if outs.is_empty() {
                return;
            }
            for (from, out) in outs {
                let deliveries: Vec<(usize, ClusterInput)> = match &out {
                    ClusterOutput::Claim {
                        claim,
                        alias,
                        session_id,
                        policy,
                    } => {
                        let (granted, mut taken_over) =
                            self.settle(from, alias, session_id, *policy);
                        let settled = ClusterInput::ClaimSettled {
                            claim: *claim,
                            granted,
                        };
                        taken_over.insert(0, (from, settled));
                        taken_over
                    }
                    ClusterOutput::Release { alias, session_id } => {
                        if let Some(holders) = self.directory.get_mut(alias.as_str()) {
                            holders.retain(|(n, s)| !(*n == from && **s == **session_id));
                            if holders.is_empty() {
                                self.directory.remove(alias.as_str());
                            }
                        }
                        Vec::new()
                    }
                    ClusterOutput::Directory(change) => {
                        let told: Vec<(usize, ClusterInput)> = (0..self.nodes.len())
                            .filter(|&j| j != from)
                            .map(|j| (j, ClusterInput::Directory(change.clone())))
                            .collect();
                        if self.lagging {
                            self.held.extend(told);
                            Vec::new()
                        } else {
                            told
                        }
                    }
                    ClusterOutput::Resolve(envelope) => {
                        let mut nodes: Vec<usize> = self
                            .directory
                            .get(alias_of(envelope))
                            .into_iter()
                            .flatten()
                            .map(|(node, _)| *node)
                            .collect();
                        nodes.sort_unstable();
                        nodes.dedup();
                        let count = ClusterInput::resolved(envelope.clone(), nodes.len() as u64);
                        let mut carried: Vec<(usize, ClusterInput)> = nodes
                            .into_iter()
                            .map(|j| (j, ClusterInput::Deliver(envelope.clone())))
                            .collect();
                        if self.count_late && !carried.is_empty() {
                            self.held.push((from, count));
                        } else {
                            carried.push((from, count));
                        }
                        carried
                    }
                    ClusterOutput::Forward { node, envelope } => {
                        vec![(self.index(node), ClusterInput::Deliver(envelope.clone()))]
                    }
                    ClusterOutput::Publish(envelope) => (0..self.nodes.len())
                        .filter(|&j| j != from)
                        .map(|j| (j, ClusterInput::Deliver(envelope.clone())))
                        .collect(),
                };
                for (j, input) in deliveries {
                    let node = &mut self.nodes[j];
                    node.hub.handle_cluster(node.now, input).unwrap();
                    node.drain();
                }
                self.crossed.push((from, out));
            }
        }
    }

    /// Connects a client to node `n` (0-based) and syncs `alias`.
    fn client(&mut self, n: usize, alias: &str) -> SessionHandle {
        let node = &mut self.nodes[n];
        let id = node.connect(&format!("10.0.{n}.1:{}", 1000 + node.inboxes.len()));
        node.sync(id, alias);
        self.pump();
        let synced = self.nodes[n].take(id);
        assert!(
            matches!(&synced[..], [HubFrame::Synced { .. }]),
            "{alias}: {synced:?}"
        );
        id
    }

    fn send(&mut self, n: usize, id: SessionHandle, frame: &str) {
        self.nodes[n].send(id, frame.as_bytes());
        self.pump();
    }

    fn take_crossed(&mut self) -> Vec<(usize, ClusterOutput)> {
        std::mem::take(&mut self.crossed)
    }
}

#[test]
fn session_ids_name_their_node() {
    let mut c = Cluster::new(2);
    let id = c.nodes[1].connect("127.0.0.1:5000");
    let session = c.nodes[1].hub.session(id).unwrap();
    assert_eq!(&**session.session_id, "n2/127.0.0.1:5000");
    assert_eq!(c.nodes[1].hub.handle_of("n2/127.0.0.1:5000").unwrap(), id);
}

#[test]
fn the_tutorial_across_three_nodes() {
    // Client-1 on n1, Client-2 on n2, the host on n3.
    let mut c = Cluster::new(3);
    let one = c.client(0, "Client-1");
    let two = c.client(1, "Client-2");
    c.nodes[2].hub.broadcast("大家来领物资了").unwrap();
    c.pump();
    assert_eq!(
        c.nodes[2]
            .hub
            .send_to_alias("Client-1", "赶紧来做核酸了")
            .unwrap(),
        0
    );
    c.pump();
    assert_eq!(
        c.nodes[0].take(one),
        [
            info(HUB_NAME, json!("大家来领物资了")),
            info(HUB_NAME, json!("赶紧来做核酸了"))
        ]
    );
    assert_eq!(
        c.nodes[1].take(two),
        [info(HUB_NAME, json!("大家来领物资了"))]
    );
    assert!(matches!(
        c.nodes[2].hub.send_to_alias("Nobody", "?"),
        Err(HubError::UnknownAlias(_))
    ));
}

#[test]
fn a_directed_message_crosses_only_to_the_node_holding_its_alias() {
    let mut c = Cluster::new(3);
    let a = c.client(0, "A");
    let b = c.client(1, "B");
    c.take_crossed();
    c.send(0, a, r#"{"type":"info","to":"B","message":"hi"}"#);
    assert_eq!(c.nodes[1].take(b), [info("A", json!("hi"))]);
    let crossed = c.take_crossed();
    assert_eq!(crossed.len(), 1, "{crossed:?}");
    assert!(
        matches!(&crossed[0], (0, ClusterOutput::Forward { node, .. }) if node.as_str() == "n2")
    );
    c.send(0, a, r#"{"type":"info","to":"Nobody","message":1}"#);
    assert!(
        matches!(&c.nodes[0].take(a)[..], [HubFrame::Error { code, .. }] if code == "unknown_alias")
    );
    let crossed = c.take_crossed();
    assert!(
        matches!(&crossed[..], [(0, ClusterOutput::Resolve(_))]),
        "an alias the replica does not know goes to the directory only: {crossed:?}"
    );
}

#[test]
fn everyone_reaches_every_other_session_of_every_node_once_crossing_once() {
    let mut c = Cluster::new(3);
    let ids: Vec<(usize, SessionHandle)> = (0..6)
        .map(|i| (i % 3, c.client(i % 3, &format!("C{i}"))))
        .collect();
    c.take_crossed();
    let (n, sender) = ids[0];
    c.send(n, sender, r#"{"type":"info","to":"*","message":"all"}"#);
    for &(n, id) in &ids[1..] {
        assert_eq!(c.nodes[n].take(id), [info("C0", json!("all"))], "{n} {id}");
    }
    assert!(c.nodes[n].take(sender).is_empty());
    let crossed = c.take_crossed();
    assert_eq!(crossed.len(), 1, "a broadcast crosses once: {crossed:?}");
    assert!(matches!(crossed[0].1, ClusterOutput::Publish(_)));
}

#[test]
fn a_room_message_crosses_once_per_node_with_members() {
    let mut c = Cluster::new(3);
    let a = c.client(0, "A");
    let b1 = c.client(1, "B1");
    let b2 = c.client(1, "B2");
    let outsider = c.client(2, "X");
    for (n, id) in [(0, a), (1, b1), (1, b2)] {
        c.send(n, id, r#"{"type":"join","room":"lobby"}"#);
        c.nodes[n].take(id);
    }
    c.take_crossed();
    c.send(0, a, r#"{"type":"info","room":"lobby","message":"hello"}"#);
    for id in [b1, b2] {
        assert_eq!(
            c.nodes[1].take(id),
            [room_info("A", "lobby", json!("hello"))]
        );
    }
    assert!(c.nodes[2].take(outsider).is_empty());
    let crossed = c.take_crossed();
    assert_eq!(crossed.len(), 1, "{crossed:?}");
    assert!(
        matches!(&crossed[0], (0, ClusterOutput::Forward { node, .. }) if node.as_str() == "n2")
    );
    // A member on another node may be the only one left: the room still
    // exists for a sender anywhere.
    c.send(0, a, r#"{"type":"leave","room":"lobby"}"#);
    c.nodes[0].take(a);
    c.send(
        2,
        outsider,
        r#"{"type":"info","room":"lobby","message":"knock"}"#,
    );
    for id in [b1, b2] {
        assert_eq!(
            c.nodes[1].take(id),
            [room_info("X", "lobby", json!("knock"))]
        );
    }
    assert_eq!(c.nodes[1].hub.send_to_room("lobby", "host").unwrap(), 2);
    c.nodes[2].hub.send_to_room("lobby", "from n3").unwrap();
    c.pump();
    assert_eq!(c.nodes[1].take(b1).len(), 2);
}

#[test]
fn a_last_will_reaches_a_room_on_other_nodes() {
    let mut c = Cluster::new(2);
    let b = c.client(1, "B");
    c.send(1, b, r#"{"type":"join","room":"lobby"}"#);
    c.nodes[1].take(b);
    let a = c.nodes[0].connect("10.9.9.9:1");
    c.send(
        0,
        a,
        r#"{"type":"sync","clientName":"A","lastWill":{"room":"lobby","message":"A dropped"}}"#,
    );
    c.nodes[0].disconnect(a);
    c.pump();
    assert!(matches!(
        &c.nodes[1].take(b)[..],
        [HubFrame::Info { from, last_will: true, .. }] if from == "A"
    ));
}

#[test]
fn a_gone_node_holds_nothing_and_its_aliases_are_unknown() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    c.client(1, "B");
    c.node_gone(1);
    c.send(0, a, r#"{"type":"info","to":"B","message":1}"#);
    assert!(
        matches!(&c.nodes[0].take(a)[..], [HubFrame::Error { code, .. }] if code == "unknown_alias")
    );
}

/// The alias a resolved envelope is for.
fn alias_of(envelope: &Envelope) -> &str {
    match &envelope.target {
        RemoteTarget::Alias(alias) => alias.as_str(),
        other => panic!("only messages to an alias are resolved, not {other:?}"),
    }
}

/// Every holder of `alias` on every node, as (node, session id).
fn holders(c: &Cluster, alias: &str) -> Vec<(usize, String)> {
    (0..c.nodes.len())
        .flat_map(|n| {
            c.nodes[n]
                .hub
                .alias_holders(alias)
                .iter()
                .map(|h| {
                    (
                        n,
                        c.nodes[n].hub.session(*h).unwrap().session_id.to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn under_reject_two_nodes_claiming_at_once_give_exactly_one_winner() {
    let mut c = Cluster::with_policy(2, AliasPolicy::Reject);
    let a = c.nodes[0].connect("10.0.0.1:1");
    let b = c.nodes[1].connect("10.0.1.1:1");
    // Both claims leave their nodes before either is settled.
    c.nodes[0].sync(a, "X");
    c.nodes[1].sync(b, "X");
    assert!(
        c.nodes[0].take(a).is_empty(),
        "the claimant waits for the directory"
    );
    c.pump();
    let answers = [c.nodes[0].take(a), c.nodes[1].take(b)];
    let won = answers
        .iter()
        .filter(|f| matches!(&f[..], [HubFrame::Synced { .. }]))
        .count();
    let lost = answers
        .iter()
        .filter(|f| matches!(&f[..], [HubFrame::Error { code, .. }] if code == "alias_taken"))
        .count();
    assert_eq!((won, lost), (1, 1), "{answers:?}");
    assert_eq!(holders(&c, "X").len(), 1);
}

#[test]
fn under_takeover_the_later_claim_wins_wherever_the_holder_is() {
    let mut c = Cluster::new(3);
    let old = c.client(0, "X");
    let sender = c.client(2, "S");
    let new = c.client(1, "X");
    assert_eq!(c.nodes[0].closed(old), Some(CloseReason::TakenOver));
    assert!(matches!(
        c.nodes[0].take(old).last(),
        Some(HubFrame::Bye { reason, .. }) if reason == "taken_over"
    ));
    assert_eq!(holders(&c, "X"), [(1, "n2/10.0.1.1:1000".to_owned())]);
    c.send(
        2,
        sender,
        r#"{"type":"info","to":"X","message":"to the new X"}"#,
    );
    assert_eq!(c.nodes[1].take(new), [info("S", json!("to the new X"))]);
}

#[test]
fn under_share_every_holder_on_every_node_receives() {
    let mut c = Cluster::with_policy(3, AliasPolicy::Share);
    let x1 = c.client(0, "X");
    let x2 = c.client(1, "X");
    let s = c.client(2, "S");
    c.send(2, s, r#"{"type":"info","to":"X","message":1}"#);
    assert_eq!(c.nodes[0].take(x1), [info("S", json!(1))]);
    assert_eq!(c.nodes[1].take(x2), [info("S", json!(1))]);
}

#[test]
fn a_claimant_s_later_frames_wait_for_its_claim() {
    let mut c = Cluster::new(2);
    let b = c.client(1, "B");
    let a = c.nodes[0].connect("10.0.0.9:1");
    c.nodes[0].send(
        a,
        br#"{"type":"sync","clientName":"A"}{"type":"info","to":"B","message":"from A"}"#,
    );
    c.pump();
    assert_eq!(
        c.nodes[1].take(b),
        [info("A", json!("from A"))],
        "sent as A, after the claim"
    );
}

#[test]
fn a_session_gone_before_its_claim_is_settled_gives_the_alias_back() {
    let mut c = Cluster::new(2);
    let a = c.nodes[0].connect("10.0.0.9:1");
    c.nodes[0].sync(a, "X");
    c.nodes[0].disconnect(a);
    c.pump();
    assert!(!c.directory.contains_key("X"), "{:?}", c.directory);
    c.client(1, "X");
    assert_eq!(holders(&c, "X").len(), 1);
}

#[test]
fn a_hub_outside_a_cluster_has_no_cluster_outputs_and_refuses_cluster_input() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.sync(a, "A");
    h.send(a, br#"{"type":"info","to":"*","message":1}"#);
    assert!(h.hub.poll_cluster().is_none());
    assert!(h.hub.node().is_none());
    let input = ClusterInput::NodeGone(NodeId::new("n1").unwrap());
    assert!(matches!(
        h.hub.handle_cluster(h.now, input),
        Err(HubError::NotInCluster)
    ));
}

mod properties {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;
    use tcphub_core::{AliasPolicy, HubFrame, SessionHandle};

    use super::Cluster;

    #[derive(Debug, Clone)]
    enum Op {
        Connect(usize),
        Sync(usize, usize),
        Join(usize, usize),
        Leave(usize, usize),
        ToAlias(usize, usize, usize),
        ToEveryone(usize),
        ToRoom(usize, usize),
        Disconnect(usize),
    }

    const NODES: usize = 3;
    const ROOMS: [&str; 2] = ["lobby", "ops"];

    /// A few aliases, claimed from any node.
    fn alias(node: usize, k: usize) -> String {
        ["a", "b", "c"][(node + k) % 3].to_owned()
    }

    fn op() -> impl Strategy<Value = Op> {
        let s = any::<usize>;
        prop_oneof![
            2 => (0..NODES).prop_map(Op::Connect),
            2 => (s(), 0..2usize).prop_map(|(x, k)| Op::Sync(x, k)),
            2 => (s(), 0..ROOMS.len()).prop_map(|(x, r)| Op::Join(x, r)),
            1 => (s(), 0..ROOMS.len()).prop_map(|(x, r)| Op::Leave(x, r)),
            3 => (s(), 0..NODES, 0..2usize).prop_map(|(x, n, k)| Op::ToAlias(x, n, k)),
            2 => s().prop_map(Op::ToEveryone),
            3 => (s(), 0..ROOMS.len()).prop_map(|(x, r)| Op::ToRoom(x, r)),
            1 => s().prop_map(Op::Disconnect),
        ]
    }

    /// Every open session of the cluster, as (node, handle).
    fn everyone(c: &Cluster) -> Vec<(usize, SessionHandle)> {
        c.nodes
            .iter()
            .enumerate()
            .flat_map(|(n, h)| h.hub.sessions().map(move |s| (n, s.handle)))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Each message reaches exactly the sessions that one hub holding
        /// every session would have sent it to.
        #[test]
        fn the_cluster_delivers_as_one_hub(
            policy in prop_oneof![
                Just(AliasPolicy::Takeover),
                Just(AliasPolicy::Reject),
                Just(AliasPolicy::Share)
            ],
            ops in proptest::collection::vec(op(), 1..80),
        ) {
            let mut c = Cluster::with_policy(NODES, policy);
            let mut said = 0u64;
            let mut connected = 0u32;
            for op in ops {
                let all = everyone(&c);
                let pick = |x: usize| (!all.is_empty()).then(|| all[x % all.len()]);
                let mut expect: Option<(u64, BTreeSet<(usize, SessionHandle)>)> = None;
                match op {
                    Op::Connect(n) => {
                        connected += 1;
                        c.nodes[n].connect(&format!("10.1.{n}.1:{connected}"));
                    }
                    Op::Sync(x, k) => if let Some((n, id)) = pick(x) {
                        c.nodes[n].sync(id, &alias(n, k));
                    },
                    Op::Join(x, r) => if let Some((n, id)) = pick(x) {
                        c.nodes[n].send(id, format!(r#"{{"type":"join","room":"{}"}}"#, ROOMS[r]).as_bytes());
                    },
                    Op::Leave(x, r) => if let Some((n, id)) = pick(x) {
                        c.nodes[n].send(id, format!(r#"{{"type":"leave","room":"{}"}}"#, ROOMS[r]).as_bytes());
                    },
                    Op::ToAlias(x, node, k) => if let Some((n, id)) = pick(x) {
                        said += 1;
                        let to = alias(node, k);
                        let holders: BTreeSet<_> = (0..NODES)
                            .flat_map(|m| c.nodes[m].hub.alias_holders(&to).iter().map(move |h| (m, *h)))
                            .collect();
                        expect = Some((said, holders));
                        c.nodes[n].send(id, format!(r#"{{"type":"info","to":"{to}","message":{said}}}"#).as_bytes());
                    },
                    Op::ToEveryone(x) => if let Some((n, id)) = pick(x) {
                        said += 1;
                        let others: BTreeSet<_> = all.iter().copied().filter(|&s| s != (n, id)).collect();
                        expect = Some((said, others));
                        c.nodes[n].send(id, format!(r#"{{"type":"info","to":"*","message":{said}}}"#).as_bytes());
                    },
                    Op::ToRoom(x, r) => if let Some((n, id)) = pick(x) {
                        said += 1;
                        let members: BTreeSet<_> = (0..NODES)
                            .flat_map(|m| {
                                c.nodes[m].hub.room_members(ROOMS[r]).map(move |s| (m, s.handle)).collect::<Vec<_>>()
                            })
                            .filter(|&s| s != (n, id))
                            .collect();
                        expect = Some((said, members));
                        c.nodes[n].send(id, format!(r#"{{"type":"info","room":"{}","message":{said}}}"#, ROOMS[r]).as_bytes());
                    },
                    Op::Disconnect(x) => if let Some((n, id)) = pick(x) {
                        c.nodes[n].disconnect(id);
                    },
                }
                c.pump();
                let mut got: BTreeMap<u64, BTreeSet<(usize, SessionHandle)>> = BTreeMap::new();
                for (n, node) in c.nodes.iter_mut().enumerate() {
                    let ids: Vec<SessionHandle> = node.inboxes.keys().copied().collect();
                    for id in ids {
                        for frame in node.take(id) {
                            if let HubFrame::Info { message, .. } = frame {
                                if let Some(k) = message.as_u64() {
                                    got.entry(k).or_default().insert((n, id));
                                }
                            }
                        }
                    }
                }
                if let Some((k, expected)) = expect {
                    prop_assert_eq!(got.remove(&k).unwrap_or_default(), expected, "message {}", k);
                }
                prop_assert!(got.is_empty(), "stray deliveries {:?}", got);
                // Every node's view of the session table (its own rows
                // and its replica's) is the whole cluster's, as `list`
                // shows it.
                let table: BTreeSet<(String, Option<String>)> = c
                    .nodes
                    .iter()
                    .flat_map(|h| h.hub.sessions().map(|s| (s.session_id.to_string(), s.alias.map(|a| a.to_string()))).collect::<Vec<_>>())
                    .collect();
                for (n, node) in c.nodes.iter().enumerate() {
                    let seen: BTreeSet<(String, Option<String>)> = node
                        .hub
                        .sessions()
                        .map(|s| (s.session_id.to_string(), s.alias.map(|a| a.to_string())))
                        .chain(node.hub.remote_sessions().map(|(id, s)| (id.to_owned(), s.alias.as_ref().map(|a| a.to_string()))))
                        .collect();
                    prop_assert_eq!(&seen, &table, "node n{}'s view", n + 1);
                }
                // The directory and the nodes agree on every holder, and
                // only `share` lets an alias have several.
                for k in 0..3 {
                    let name = alias(0, k);
                    let mut on_nodes = super::holders(&c, &name);
                    on_nodes.sort();
                    let mut listed = c.directory.get(&name).cloned().unwrap_or_default();
                    listed.sort();
                    prop_assert_eq!(&on_nodes, &listed, "holders of {}", name);
                    if policy != AliasPolicy::Share {
                        prop_assert!(on_nodes.len() <= 1, "{} held by {:?}", name, on_nodes);
                    }
                }
            }
        }
    }
}

#[test]
fn a_relay_just_after_a_claim_elsewhere_reaches_it_though_the_replica_lags() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    c.lagging = true;
    let b = c.client(1, "B");
    c.send(0, a, r#"{"type":"info","to":"B","message":"first"}"#);
    assert_eq!(c.nodes[1].take(b), [info("A", json!("first"))]);
    assert!(c.nodes[0].take(a).is_empty());
    // Nobody anywhere: the directory says so and the sender is told, with
    // its request id.
    c.send(0, a, r#"{"type":"info","to":"Nobody","message":1,"id":7}"#);
    let frames = c.nodes[0].take(a);
    assert!(
        matches!(&frames[..], [HubFrame::Error { code, id: Some(id), .. }] if code == "unknown_alias" && *id == json!(7)),
        "{frames:?}"
    );
    // Once the replica knows, relays go straight to the holder's node.
    c.catch_up();
    c.take_crossed();
    c.send(0, a, r#"{"type":"info","to":"B","message":"second"}"#);
    assert_eq!(c.nodes[1].take(b), [info("A", json!("second"))]);
    let crossed = c.take_crossed();
    assert!(
        matches!(&crossed[..], [(0, ClusterOutput::Forward { .. })]),
        "{crossed:?}"
    );
}

#[test]
fn a_message_whose_alias_left_its_node_on_the_way_is_answered_to_its_sender() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    let b = c.client(1, "B");
    // A's message is on its way when B goes: nothing is pumped in between.
    c.nodes[0].send(a, br#"{"type":"info","to":"B","message":"late","id":"m1"}"#);
    c.nodes[1].disconnect(b);
    c.pump();
    let frames = c.nodes[0].take(a);
    assert!(
        matches!(&frames[..], [HubFrame::Error { code, id: Some(id), .. }] if code == "unknown_alias" && *id == json!("m1")),
        "{frames:?}"
    );
}

/// A `list` row: session id, alias, node.
type Row = (String, Option<String>, Option<String>);

/// A `presence` frame: event, alias, session id, room, reason.
type PresenceRow = (
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// Every row of the session table as node `n` lists it, page by page of
/// `limit` rows, with the `total` of the first page.
fn list_all(c: &mut Cluster, n: usize, id: SessionHandle, limit: usize) -> (Vec<Row>, usize) {
    let mut rows = Vec::new();
    let mut after: Option<String> = None;
    let mut first_total = None;
    loop {
        let request = match &after {
            None => json!({"type": "list", "limit": limit}),
            Some(cursor) => json!({"type": "list", "limit": limit, "after": cursor}),
        };
        c.send(n, id, &request.to_string());
        let frames = c.nodes[n].take(id);
        let [HubFrame::Sessions {
            sessions,
            total,
            next,
            ..
        }] = &frames[..]
        else {
            panic!("{frames:?}");
        };
        first_total.get_or_insert(*total);
        rows.extend(
            sessions
                .iter()
                .map(|s| (s.session_id.clone(), s.client_name.clone(), s.node.clone())),
        );
        match next {
            Some(next) => after = Some(next.clone()),
            None => return (rows, first_total.unwrap()),
        }
    }
}

#[test]
fn list_shows_every_session_of_the_cluster_and_its_node_page_by_page() {
    let mut c = Cluster::new(3);
    let a = c.client(0, "A");
    c.client(1, "B");
    c.client(1, "B2");
    c.nodes[2].connect("10.0.2.9:9");
    c.pump();
    let mut expected: Vec<Row> = vec![
        (
            "n1/10.0.0.1:1000".into(),
            Some("A".into()),
            Some("n1".into()),
        ),
        (
            "n2/10.0.1.1:1000".into(),
            Some("B".into()),
            Some("n2".into()),
        ),
        (
            "n2/10.0.1.1:1001".into(),
            Some("B2".into()),
            Some("n2".into()),
        ),
        ("n3/10.0.2.9:9".into(), None, Some("n3".into())),
    ];
    for limit in [1, 2, 3, 1000] {
        let (rows, total) = list_all(&mut c, 0, a, limit);
        assert_eq!(total, 4);
        assert_eq!(rows, expected, "limit {limit}");
    }
    // A session that closed elsewhere leaves every node's list.
    let b2 = c.nodes[1].hub.handle_of("n2/10.0.1.1:1001").unwrap();
    c.nodes[1].disconnect(b2);
    c.pump();
    expected.remove(2);
    assert_eq!(list_all(&mut c, 0, a, 1000).0, expected);
    let remote: Vec<&str> = c.nodes[0].hub.remote_sessions().map(|(id, _)| id).collect();
    assert_eq!(remote, ["n2/10.0.1.1:1000", "n3/10.0.2.9:9"]);
    // And so do a gone node's.
    c.node_gone(1);
    expected.remove(1);
    assert_eq!(list_all(&mut c, 0, a, 1000).0, expected);
}

/// The presence frames in `frames`, as (event, alias, session id, room,
/// reason).
fn presence(frames: &[HubFrame]) -> Vec<PresenceRow> {
    frames
        .iter()
        .map(|f| match f {
            HubFrame::Presence {
                event,
                alias,
                session_id,
                room,
                reason,
            } => (
                event.clone(),
                alias.clone(),
                session_id.clone(),
                room.clone(),
                reason.clone(),
            ),
            other => panic!("not presence: {other:?}"),
        })
        .collect()
}

#[test]
fn presence_crosses_to_watchers_on_other_nodes_and_only_to_them() {
    let mut c = Cluster::new(3);
    let w = c.client(0, "W");
    c.send(0, w, r#"{"type":"watch"}"#);
    assert!(matches!(
        &c.nodes[0].take(w)[..],
        [HubFrame::Watching { .. }]
    ));
    c.take_crossed();
    let b = c.client(1, "B");
    let x = c.client(2, "X");
    c.nodes[1].disconnect(b);
    c.pump();
    c.node_gone(2);
    let _ = x;
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        presence(&c.nodes[0].take(w)),
        [
            (
                "synced".into(),
                s("B"),
                "n2/10.0.1.1:1000".into(),
                None,
                None
            ),
            (
                "synced".into(),
                s("X"),
                "n3/10.0.2.1:1000".into(),
                None,
                None
            ),
            (
                "closed".into(),
                s("B"),
                "n2/10.0.1.1:1000".into(),
                None,
                s("peer_closed")
            ),
            (
                "closed".into(),
                s("X"),
                "n3/10.0.2.1:1000".into(),
                None,
                s("node_gone")
            ),
        ]
    );
    // Presence went only to the node with a watcher.
    let presence_to = |crossed: &[(usize, ClusterOutput)]| -> Vec<String> {
        crossed
            .iter()
            .filter_map(|(_, out)| match out {
                ClusterOutput::Forward { node, envelope }
                    if matches!(envelope.target, RemoteTarget::Watchers { .. }) =>
                {
                    Some(node.to_string())
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(presence_to(&c.take_crossed()), ["n1", "n1", "n1"]);
    // Once nobody watches, presence does not cross at all.
    c.send(0, w, r#"{"type":"unwatch"}"#);
    c.nodes[0].take(w);
    c.client(1, "C");
    assert!(presence_to(&c.take_crossed()).is_empty());
}

#[test]
fn a_room_watcher_hears_members_on_other_nodes_join_and_leave() {
    let mut c = Cluster::new(2);
    let w = c.client(0, "W");
    c.send(0, w, r#"{"type":"join","room":"lobby"}"#);
    c.send(0, w, r#"{"type":"watch","room":"lobby"}"#);
    c.nodes[0].take(w);
    let m = c.client(1, "M");
    c.send(1, m, r#"{"type":"join","room":"lobby"}"#);
    c.send(1, m, r#"{"type":"leave","room":"lobby"}"#);
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        presence(&c.nodes[0].take(w)),
        [
            (
                "joined".into(),
                s("M"),
                "n2/10.0.1.1:1000".into(),
                s("lobby"),
                None
            ),
            (
                "left".into(),
                s("M"),
                "n2/10.0.1.1:1000".into(),
                s("lobby"),
                None
            ),
        ]
    );
}

#[test]
fn a_backed_up_backplane_pauses_only_the_sessions_sending_across_it() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    let l = c.client(0, "L");
    let b = c.client(1, "B");
    c.nodes[0].hub.handle_backplane_backlog(true).unwrap();
    assert!(c.nodes[0].hub.is_backplane_behind());
    // A message that stays on the node is not slowed.
    c.send(0, l, r#"{"type":"info","to":"A","message":"local"}"#);
    assert_eq!(c.nodes[0].take(a), [info("L", json!("local"))]);
    assert_eq!(c.nodes[0].hub.is_reading_paused(l), Some(false));
    // One that crosses goes out, and its sender waits after it.
    c.nodes[0].send(
        a,
        br#"{"type":"info","to":"B","message":1}{"type":"info","to":"B","message":2}"#,
    );
    c.pump();
    assert_eq!(c.nodes[0].hub.is_reading_paused(a), Some(true));
    assert_eq!(c.nodes[1].take(b), [info("A", json!(1))]);
    // Once the backlog drains, the frame kept meanwhile goes on.
    c.nodes[0].hub.handle_backplane_backlog(false).unwrap();
    c.nodes[0].drain();
    c.pump();
    assert_eq!(c.nodes[1].take(b), [info("A", json!(2))]);
    assert_eq!(c.nodes[0].hub.is_reading_paused(a), Some(false));
}

#[test]
fn a_session_closed_while_waiting_for_the_backplane_is_forgotten() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    c.client(1, "B");
    c.nodes[0].hub.handle_backplane_backlog(true).unwrap();
    c.send(0, a, r#"{"type":"info","to":"B","message":1}"#);
    assert_eq!(c.nodes[0].hub.is_reading_paused(a), Some(true));
    c.nodes[0].disconnect(a);
    c.nodes[0].hub.handle_backplane_backlog(false).unwrap();
    c.pump();
    assert!(c.nodes[0].hub.session(a).is_none());
    let mut alone = Harness::new(HubConfig::default());
    assert!(matches!(
        alone.hub.handle_backplane_backlog(true),
        Err(HubError::NotInCluster)
    ));
}

#[test]
fn the_host_is_refused_rather_than_dropped_while_the_backplane_is_behind() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    c.client(1, "B");
    c.send(0, a, r#"{"type":"join","room":"local"}"#);
    c.nodes[0].take(a);
    c.nodes[0].hub.handle_backplane_backlog(true).unwrap();
    c.take_crossed();
    let hub = &mut c.nodes[0].hub;
    assert!(matches!(
        hub.broadcast("all"),
        Err(HubError::BackplaneBehind)
    ));
    assert!(matches!(
        hub.send_to_alias("B", "b"),
        Err(HubError::BackplaneBehind)
    ));
    // What stays on the node still goes.
    assert_eq!(hub.send_to_alias("A", "a").unwrap(), 1);
    assert_eq!(hub.send_to_room("local", "r").unwrap(), 1);
    c.nodes[0].drain();
    c.pump();
    assert!(c.take_crossed().is_empty(), "nothing crossed");
    assert_eq!(
        c.nodes[0].take(a),
        [
            info(HUB_NAME, json!("a")),
            room_info(HUB_NAME, "local", json!("r"))
        ]
    );
    c.nodes[0].hub.handle_backplane_backlog(false).unwrap();
    assert_eq!(c.nodes[0].hub.broadcast("all").unwrap(), 1);
}

#[test]
fn an_authenticated_sync_is_claimed_through_the_directory_after_its_grant() {
    use tcphub_core::{AliasPattern, AuthDecision, Grant, Permissions};
    let mut c = Cluster::with_config(
        2,
        HubConfig {
            authentication: true,
            ..HubConfig::default()
        },
    );
    let sign_in = |c: &mut Cluster, n: usize, alias: &str, permissions: Permissions| {
        let node = &mut c.nodes[n];
        let id = node.connect(&format!("10.0.{n}.1:{}", 1000 + node.inboxes.len()));
        node.send(
            id,
            &tcphub_core::encode_sync_request(alias, Some("token"), None),
        );
        c.pump();
        let claims = c
            .take_crossed()
            .into_iter()
            .filter(|(_, out)| matches!(out, ClusterOutput::Claim { .. }))
            .count();
        assert_eq!(claims, 0, "nothing is claimed before the grant");
        assert!(c.nodes[n].decide(AuthDecision::Grant(Grant {
            identity: None,
            permissions,
        })));
        c.pump();
        let synced = c.nodes[n].take(id);
        assert!(
            matches!(&synced[..], [HubFrame::Synced { .. }]),
            "{synced:?}"
        );
        c.take_crossed();
        id
    };
    let admin = sign_in(&mut c, 0, "Admin", Permissions::default());
    let restricted = Permissions {
        relay: vec![AliasPattern::new("Client-*").unwrap()],
        ..Permissions::default()
    };
    let client = sign_in(&mut c, 1, "Client-1", restricted);
    assert_eq!(holders(&c, "Admin"), [(0, "n1/10.0.0.1:1000".to_owned())]);
    c.send(1, client, r#"{"type":"info","to":"Admin","message":"x"}"#);
    let frames = c.nodes[1].take(client);
    assert!(
        matches!(&frames[..], [HubFrame::Error { code, .. }] if code == "forbidden"),
        "{frames:?}"
    );
    let crossed = c.take_crossed();
    assert!(
        !crossed.iter().any(|(_, out)| matches!(
            out,
            ClusterOutput::Forward { .. } | ClusterOutput::Resolve(_)
        )),
        "a refused relay does not cross: {crossed:?}"
    );
    assert!(c.nodes[0].take(admin).is_empty());
    c.send(0, admin, r#"{"type":"info","to":"Client-1","message":"y"}"#);
    assert_eq!(c.nodes[1].take(client), [info("Admin", json!("y"))]);
}

/// The `replyTo` of the one request frame in `frames`.
fn reply_to_of(frames: &[HubFrame]) -> String {
    match frames {
        [HubFrame::Request { reply_to, .. }] => reply_to.clone(),
        other => panic!("expected one request, got {other:?}"),
    }
}

#[test]
fn a_request_to_another_node_is_answered_there_and_ends_where_it_began() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    let b = c.client(1, "B");
    let c2 = c.client(1, "C");
    c.send(
        0,
        a,
        r#"{"type":"request","to":"B","message":"ping?","id":"q1"}"#,
    );
    let reply_to = reply_to_of(&c.nodes[1].take(b));
    assert!(reply_to.starts_with("n1/"), "{reply_to}");
    // Another session of B's node cannot answer in B's place: the
    // requester's node checks who answered, and drops the forgery.
    let forged = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":"forged"}}"#);
    c.send(1, c2, &forged);
    assert!(c.nodes[0].take(a).is_empty());
    let answer = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":"pong"}}"#);
    c.send(1, b, &answer);
    assert_eq!(
        c.nodes[0].take(a),
        [HubFrame::Reply {
            from: "B".into(),
            message: json!("pong"),
            id: Some(json!("q1")),
        }]
    );
    // Answered: a second reply is dropped, and no timeout follows.
    c.send(1, b, &answer);
    c.nodes[0].advance(Duration::from_secs(60));
    assert!(c.nodes[0].take(a).is_empty());
    assert_eq!(c.nodes[0].hub.poll_timeout(), None);
}

#[test]
fn a_request_that_finds_nobody_anywhere_is_told_so_once() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    let b = c.client(1, "B");
    // Nobody, though the directory had to be asked.
    c.send(
        0,
        a,
        r#"{"type":"request","to":"Nobody","message":1,"id":1}"#,
    );
    // B leaves while A's request to it is on its way.
    c.nodes[0].send(a, br#"{"type":"request","to":"B","message":1,"id":2}"#);
    c.nodes[1].disconnect(b);
    c.pump();
    let frames = c.nodes[0].take(a);
    let errors: Vec<(&str, &serde_json::Value)> = frames
        .iter()
        .map(|f| match f {
            HubFrame::Error {
                code, id: Some(id), ..
            } => (code.as_str(), id),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        errors,
        [("unknown_alias", &json!(1)), ("unknown_alias", &json!(2))]
    );
    // Both ended there: no timeout follows.
    assert_eq!(c.nodes[0].hub.poll_timeout(), None);
    c.nodes[0].advance(Duration::from_secs(60));
    assert!(c.nodes[0].take(a).is_empty());
}

#[test]
fn a_node_s_host_answers_the_requests_sent_to_it() {
    let mut c = Cluster::new(2);
    let a = c.client(0, "A");
    c.nodes[0].take_events();
    c.send(0, a, r#"{"type":"request","message":"hours?","id":3}"#);
    let reply_to = c.nodes[0]
        .take_events()
        .into_iter()
        .find_map(|e| match e {
            tcphub_core::Event::Request { reply_to, .. } => Some(reply_to),
            _ => None,
        })
        .expect("the host was asked");
    assert_eq!(reply_to.node.as_ref().map(NodeId::as_str), Some("n1"));
    // Only the node the request came to can answer it.
    assert!(matches!(
        c.nodes[1].hub.reply(&reply_to, "9 to 5"),
        Err(HubError::UnknownRequest(_))
    ));
    c.nodes[0].hub.reply(&reply_to, "9 to 5").unwrap();
    c.nodes[0].drain();
    assert_eq!(
        c.nodes[0].take(a),
        [HubFrame::Reply {
            from: HUB_NAME.into(),
            message: json!("9 to 5"),
            id: Some(json!(3)),
        }]
    );
}

/// How the directory takes part in a request to B from node 0.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Directory {
    /// Not at all: node 0's replica knows B's holders.
    Bypassed,
    /// Node 0's replica lags and knows no holder of B: the directory
    /// resolves the request, and its count of the nodes it carried it to
    /// reaches node 0 before their answers...
    CountsFirst,
    /// ...or after them.
    CountsLast,
}

/// A cluster of 3 under `share`, with A on node 0 and B held on nodes
/// 1 and 2, the directory taking part as `directory` says.
fn shared_b(directory: Directory) -> (Cluster, [SessionHandle; 3]) {
    let mut c = Cluster::with_policy(3, AliasPolicy::Share);
    let a = c.client(0, "A");
    c.lagging = directory != Directory::Bypassed;
    c.count_late = directory == Directory::CountsLast;
    let b1 = c.client(1, "B");
    let b2 = c.client(2, "B");
    c.take_crossed();
    (c, [a, b1, b2])
}

/// A request from node 0 to B, whose holder on node 2 leaves while the
/// request is on its way, so that node finds nobody; B's holder on node
/// 1 answers it.
fn request_while_one_shared_holder_leaves(directory: Directory) {
    let (mut c, [a, b1, b2]) = shared_b(directory);
    c.nodes[0].send(
        a,
        br#"{"type":"request","to":"B","message":"ping?","id":"q1"}"#,
    );
    c.nodes[2].disconnect(b2);
    c.pump();
    let resolved = c
        .take_crossed()
        .iter()
        .any(|(from, out)| *from == 0 && matches!(out, ClusterOutput::Resolve(_)));
    assert_eq!(resolved, directory != Directory::Bypassed, "{directory:?}");
    assert!(
        c.nodes[0].take(a).is_empty(),
        "one node's \"nobody here\" ends nothing while another holder has it"
    );
    if directory == Directory::CountsLast {
        c.catch_up();
        assert!(c.nodes[0].take(a).is_empty(), "nor does the count after it");
    }
    let reply_to = reply_to_of(&c.nodes[1].take(b1));
    let answer = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":"pong"}}"#);
    c.send(1, b1, &answer);
    assert_eq!(
        c.nodes[0].take(a),
        [HubFrame::Reply {
            from: "B".into(),
            message: json!("pong"),
            id: Some(json!("q1")),
        }],
        "{directory:?}"
    );
    assert!(c.nodes[1].take(b1).is_empty(), "the reply was taken");
}

#[test]
fn a_node_that_no_longer_holds_a_shared_alias_does_not_end_a_request_another_holder_answers() {
    request_while_one_shared_holder_leaves(Directory::Bypassed);
}

#[test]
fn a_request_the_directory_carries_is_not_ended_by_one_node_that_found_nobody() {
    request_while_one_shared_holder_leaves(Directory::CountsFirst);
    request_while_one_shared_holder_leaves(Directory::CountsLast);
}

/// As above, but both of B's holders leave: the requester is told
/// `unknown_alias` once, when every node has said so and (with the
/// directory) its count is in, and nothing waits for the request then.
fn request_while_every_shared_holder_leaves(directory: Directory) {
    let (mut c, [a, b1, b2]) = shared_b(directory);
    c.nodes[0].send(a, br#"{"type":"request","to":"B","message":1,"id":7}"#);
    c.nodes[1].disconnect(b1);
    c.nodes[2].disconnect(b2);
    c.pump();
    if directory == Directory::CountsLast {
        assert!(
            c.nodes[0].take(a).is_empty(),
            "both said nobody, but how many nodes had it is not known yet"
        );
        c.catch_up();
    }
    match &c.nodes[0].take(a)[..] {
        [HubFrame::Error { code, id, .. }] => {
            assert_eq!((code.as_str(), id), ("unknown_alias", &Some(json!(7))));
        }
        other => panic!("{directory:?}: expected one unknown_alias, got {other:?}"),
    }
    assert_eq!(c.nodes[0].hub.poll_timeout(), None, "nothing waits for it");
}

#[test]
fn a_request_whose_every_remote_holder_left_is_told_so_once_they_all_said_so() {
    request_while_every_shared_holder_leaves(Directory::Bypassed);
}

#[test]
fn a_request_the_directory_carries_to_holders_that_all_left_is_told_so_once() {
    request_while_every_shared_holder_leaves(Directory::CountsFirst);
    request_while_every_shared_holder_leaves(Directory::CountsLast);
}
