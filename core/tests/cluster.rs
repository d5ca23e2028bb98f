//! Several hubs as one cluster, wired by an in-memory backplane that
//! carries every cluster output at once: the routing half of the cluster
//! (docs/design/cluster.md, step 1). Claims settled across nodes and
//! presence across nodes are not built yet, so these tests give each alias
//! one node.

mod common;

use common::{info, room_info, Harness};
use serde_json::json;
use tcphub_core::{
    ClusterInput, ClusterOutput, HubConfig, HubError, HubFrame, NodeId, SessionHandle, HUB_NAME,
};

/// Nodes `n1`, `n2`, ... and what crossed between them.
struct Cluster {
    nodes: Vec<Harness>,
    /// Every cluster output, as (from node, output).
    crossed: Vec<(usize, ClusterOutput)>,
}

impl Cluster {
    fn new(n: usize) -> Self {
        let nodes = (1..=n)
            .map(|i| {
                Harness::new(HubConfig {
                    node: Some(NodeId::new(&format!("n{i}")).unwrap()),
                    ..HubConfig::default()
                })
            })
            .collect();
        Cluster {
            nodes,
            crossed: Vec::new(),
        }
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
                    ClusterOutput::Directory(change) => (0..self.nodes.len())
                        .filter(|&j| j != from)
                        .map(|j| (j, ClusterInput::Directory(change.clone())))
                        .collect(),
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
        node.take(id);
        self.pump();
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
    assert!(
        c.take_crossed().is_empty(),
        "nothing crosses for an unknown alias"
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
    let now = c.nodes[0].now;
    c.nodes[0]
        .hub
        .handle_cluster(now, ClusterInput::NodeGone(NodeId::new("n2").unwrap()))
        .unwrap();
    c.send(0, a, r#"{"type":"info","to":"B","message":1}"#);
    assert!(
        matches!(&c.nodes[0].take(a)[..], [HubFrame::Error { code, .. }] if code == "unknown_alias")
    );
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
    use tcphub_core::{HubFrame, SessionHandle};

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

    /// Aliases are per node (`a1` lives on node 1 only): claims across
    /// nodes are the next step of the cluster.
    fn alias(node: usize, k: usize) -> String {
        format!("{}{}", ["a", "b"][k % 2], node + 1)
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
        fn the_cluster_delivers_as_one_hub(ops in proptest::collection::vec(op(), 1..80)) {
            let mut c = Cluster::new(NODES);
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
            }
        }
    }
}
