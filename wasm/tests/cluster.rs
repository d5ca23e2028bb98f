//! Several hub nodes over the simulated backplane: the `cluster` preset's
//! story, what crosses the backplane and how often, claims settled across
//! nodes under each policy, a crash and its lease, and the format.

mod common;

use common::{deliveries, info_deliveries, run, words_are_the_cores};
use serde_json::json;
use tcphub_wasm::sim::{
    message, presets, Action, ClusterSettings, Entry, Scenario, Simulator, Step,
};

/// A scenario of `nodes` nodes (`n1`, `n2`, ...) under `policy`.
fn cluster(nodes: usize, policy: &str, steps: Vec<Step>) -> Scenario {
    let mut scenario = Scenario::from_json("{}").unwrap();
    scenario.hub.alias_policy = policy.into();
    scenario.cluster = Some(ClusterSettings {
        nodes: (1..=nodes).map(|i| format!("n{i}")).collect(),
        latency_ms: 2,
        lease_ms: 1000,
    });
    scenario.steps = steps;
    scenario
}

fn connect(client: &str, node: &str) -> Step {
    Step::now(Action::Connect {
        client: client.into(),
    })
    .on(node)
}

fn sync(client: &str, alias: &str) -> Step {
    Step::now(Action::Sync {
        client: client.into(),
        alias: alias.into(),
        last_will: None,
        token: None,
    })
}

fn send(client: &str, to: &str, text: &str) -> Step {
    Step::now(Action::Send {
        client: client.into(),
        to: Some(to.into()),
        room: None,
        message: message(&json!(text).to_string()),
    })
}

/// Every backplane hop, as (from, to, message).
fn hops(sim: &Simulator) -> Vec<(String, String, &'static str)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Backplane {
                from, to, message, ..
            } => Some((from.clone(), to.clone(), *message)),
            _ => None,
        })
        .collect()
}

/// The hops that carried a frame (`forward`, `publish`, `deliver`), with
/// whether each was lost.
fn frame_hops(sim: &Simulator) -> Vec<(String, String, &'static str, bool)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Backplane {
                from,
                to,
                message,
                lost,
                ..
            } if matches!(*message, "forward" | "publish" | "deliver") => {
                Some((from.clone(), to.clone(), *message, *lost))
            }
            _ => None,
        })
        .collect()
}

fn hop(from: &str, to: &str, message: &'static str) -> (String, String, &'static str, bool) {
    (from.into(), to.into(), message, false)
}

/// An `info` line as the hub writes it (its keys in the hub's order).
fn info(from: &str, text: &str) -> String {
    format!(
        r#"{{"type":"info","from":{},"message":{}}}"#,
        json!(from),
        json!(text)
    )
}

#[test]
fn the_cluster_preset_tells_its_story() {
    let sim = run(presets::cluster());
    let infos = info_deliveries(&sim);
    assert_eq!(
        infos["Client-1"],
        [info("Client-2", "hello, every node")],
        "the old holder reads the * and nothing after the takeover"
    );
    assert_eq!(
        infos["Client-2"],
        [
            info("Client-1", "hi from n1"),
            info("#hub", "from the host on n3"),
            // On n1, after the crash: "are you there?" was lost on n2.
            info("Client-3", "welcome back"),
        ]
    );
    assert_eq!(infos["Client-3"], [info("Client-2", "hello, every node")]);
    assert_eq!(
        infos["phone"],
        [info("Client-2", "which Client-1 is this?")]
    );
    let all = deliveries(&sim);
    assert!(all["Client-1"]
        .last()
        .unwrap()
        .contains(r#""type":"bye","reason":"taken_over""#));
    // The lost message reached n2 after its crash and nobody read it.
    assert_eq!(
        frame_hops(&sim)
            .iter()
            .filter(|(_, to, _, lost)| to == "n2" && *lost)
            .count(),
        1
    );
    // The crash, its reset, the lease and the alias freed.
    let nodes: Vec<(String, &str, Vec<String>)> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Node {
                t,
                node,
                state,
                freed,
            } => Some((format!("{node}@{t}"), *state, freed.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("n2@6000".into(), "crashed", vec![]),
            ("n2@9000".into(), "lease_expired", vec!["Client-2".into()]),
        ]
    );
    assert!(sim.trace().entries().iter().any(|e| matches!(e,
        Entry::Close { client, at: "client", reason, .. } if client == "Client-2" && reason == "reset")));
    // Client-2 reclaimed on n1, displacing nobody; phone holds Client-1.
    assert_eq!(
        sim.directory_holders("Client-2"),
        [("n1".into(), "n1/10.0.0.2:40002".into())]
    );
    assert_eq!(
        sim.directory_holders("Client-1"),
        [("n3".into(), "n3/10.0.0.4:40001".into())]
    );
    let state = sim.state();
    assert_eq!(
        state
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.crashed, n.sessions))
            .collect::<Vec<_>>(),
        [("n1", false, 1), ("n2", true, 0), ("n3", false, 2)]
    );
    words_are_the_cores(&sim).unwrap();
}

#[test]
fn a_directed_message_crosses_once_to_its_node_and_a_star_once_to_each_other() {
    let mut steps = Vec::new();
    for (i, node) in ["n1", "n2", "n3"].iter().enumerate() {
        let name = format!("c{i}");
        steps.push(connect(&name, node));
        steps.push(sync(&name, &name));
    }
    steps.push(send("c0", "c1", "one"));
    steps.push(send("c0", "c0", "to myself, on my node"));
    steps.push(send("c2", "*", "all"));
    let sim = run(cluster(3, "takeover", steps));
    assert_eq!(
        frame_hops(&sim),
        [
            hop("n1", "backplane", "forward"),
            hop("backplane", "n2", "deliver"),
            // Nothing crosses for a recipient on the sender's own node.
            hop("n3", "backplane", "publish"),
            hop("backplane", "n1", "deliver"),
            hop("backplane", "n2", "deliver"),
        ]
    );
    let infos = info_deliveries(&sim);
    assert_eq!(
        infos["c0"],
        [info("c0", "to myself, on my node"), info("c2", "all")]
    );
    assert_eq!(infos["c1"], [info("c0", "one"), info("c2", "all")]);
    assert!(!infos.contains_key("c2"), "a * skips its sender");
}

#[test]
fn under_reject_simultaneous_claims_on_two_nodes_give_one_winner() {
    let mut steps = vec![connect("a", "n1"), connect("b", "n2")];
    for client in ["a", "b"] {
        steps.push(Step::at(
            100,
            Action::Sync {
                client: client.into(),
                alias: "X".into(),
                last_will: None,
                token: None,
            },
        ));
    }
    let sim = run(cluster(2, "reject", steps));
    let frames = |client: &str| deliveries(&sim)[client].join("\n");
    // Both claims left at 101 and reached the backplane at 103; the first
    // to arrive (n1's, sent first) wins.
    assert!(
        frames("a").contains(r#""type":"synced""#),
        "{}",
        frames("a")
    );
    assert!(
        frames("b").contains(r#""code":"alias_taken""#),
        "{}",
        frames("b")
    );
    assert_eq!(sim.directory_holders("X").len(), 1);
}

#[test]
fn under_share_holders_on_every_node_receive() {
    let mut steps = Vec::new();
    for (client, node) in [("a", "n1"), ("b", "n2"), ("s", "n3")] {
        steps.push(connect(client, node));
    }
    steps.push(sync("a", "X"));
    steps.push(sync("b", "X"));
    steps.push(sync("s", "S"));
    steps.push(send("s", "X", "both"));
    let sim = run(cluster(3, "share", steps));
    let infos = info_deliveries(&sim);
    assert_eq!(infos["a"], [info("S", "both")]);
    assert_eq!(infos["b"], [info("S", "both")]);
    assert_eq!(sim.directory_holders("X").len(), 2);
}

#[test]
fn a_crashed_nodes_alias_is_refused_until_its_lease_runs_out() {
    // Under reject: the directory still counts n2's holder until the
    // lease (1 s) runs out, then frees it.
    let steps = vec![
        connect("b", "n2"),
        sync("b", "X"),
        Step::at(100, Action::CrashNode { node: "n2".into() }),
        connect("a", "n1"),
        sync("a", "X"),
        Step::at(1500, Action::Connect { client: "c".into() }).on("n1"),
        sync("c", "X"),
    ];
    let sim = run(cluster(2, "reject", steps));
    let all = deliveries(&sim);
    assert!(
        all["a"]
            .iter()
            .any(|l| l.contains(r#""code":"alias_taken""#)),
        "{:?}",
        all["a"]
    );
    assert!(
        all["c"].iter().any(|l| l.contains(r#""type":"synced""#)),
        "{:?}",
        all["c"]
    );
    assert_eq!(
        sim.directory_holders("X"),
        [("n1".into(), "n1/10.0.0.3:40001".into())]
    );
    // n1 was told n2 is gone once, after the lease.
    let gone: Vec<_> = hops(&sim)
        .into_iter()
        .filter(|(_, _, m)| *m == "node_gone")
        .collect();
    assert_eq!(gone, [("backplane".into(), "n1".into(), "node_gone")]);
}

#[test]
fn a_crashed_node_takes_no_more_steps_and_its_clients_are_reset() {
    let steps = vec![
        connect("b", "n2"),
        sync("b", "B"),
        Step::at(100, Action::CrashNode { node: "n2".into() }),
        // Each of these is skipped, with the reason in the trace.
        Step::at(200, Action::CrashNode { node: "n2".into() }),
        Step::at(300, Action::Connect { client: "c".into() }).on("n2"),
        Step::at(
            400,
            Action::Broadcast {
                message: message("1"),
            },
        )
        .on("n2"),
    ];
    let sim = run(cluster(2, "takeover", steps));
    let skips: Vec<&str> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Skip { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        skips,
        [
            "node n2 has already crashed",
            "node n2 has crashed",
            "node n2 has crashed"
        ]
    );
    let state = sim.state();
    assert!(!state.clients[0].connected, "b's connection was reset");
    assert!(state.sessions.is_empty(), "a crashed node lists nothing");
}

#[test]
fn faults_on_client_links_change_when_never_what_reaches_whom() {
    let clean = info_deliveries(&run(presets::cluster()));
    for seed in 0..40 {
        let mut scenario = presets::cluster();
        scenario.seed = seed;
        scenario.faults.enabled = true;
        let sim = run(scenario);
        assert_eq!(info_deliveries(&sim), clean, "seed {seed}");
    }
}

#[test]
fn nodes_in_steps_are_checked_when_loaded() {
    let err = |json: &str| Scenario::from_json(json).unwrap_err().to_string();
    assert!(
        err(r#"{"steps":[{"action":"connect","client":"a","node":"n1"}]}"#)
            .contains("the scenario has no cluster"),
    );
    let with_cluster =
        |steps: &str| format!(r#"{{"cluster":{{"nodes":["n1","n2"]}},"steps":[{steps}]}}"#);
    assert!(err(&with_cluster(
        r#"{"action":"connect","client":"a","node":"n9"}"#
    ))
    .contains(r#"there is no node "n9""#));
    assert!(err(&with_cluster(r#"{"action":"crash_node"}"#))
        .contains(r#"action "crash_node" needs field "node""#));
    assert!(err(&with_cluster(
        r#"{"action":"ping","client":"a","node":"n1"}"#
    ))
    .contains(r#"action "ping" takes no "node""#));
    assert!(err(r#"{"cluster":{"nodes":[]}}"#).contains("expected 1 to 4"));
    assert!(err(r#"{"cluster":{"nodes":["n1","n1"]}}"#).contains("twice"));
    assert!(err(r#"{"cluster":{"nodes":["a/b"]}}"#).contains("node id"));
    assert!(err(r#"{"cluster":{"lease_ms":86400001}}"#).contains("cluster.lease_ms"));
    // And they round-trip.
    let json = presets::cluster().to_json();
    assert_eq!(Scenario::from_json(&json).unwrap().to_json(), json);
    assert!(json.contains(r#""node": "n3""#), "{json}");
}
