//! Random scripts (rooms, presence and last wills among their actions):
//! faults never change which messages arrive where, only when; drops and
//! stalls only take messages away, never misdirect one.

mod common;

use common::{host_messages_by_sender, hub_closes, info_deliveries, is_subsequence, run};
use proptest::prelude::*;
use serde_json::json;
use tcphub_wasm::sim::{Action, FaultSettings, Scenario, Step, WatchScope};

const CLIENTS: [&str; 4] = ["c0", "c1", "客户端", "c3"];
const ALIASES: [&str; 3] = ["A", "B", "核酸"];

fn client() -> impl Strategy<Value = String> {
    prop::sample::select(&CLIENTS[..]).prop_map(str::to_owned)
}

fn alias() -> impl Strategy<Value = String> {
    prop::sample::select(&ALIASES[..]).prop_map(str::to_owned)
}

fn action() -> impl Strategy<Value = Action> {
    let target = prop_oneof![
        Just(None),
        alias().prop_map(Some),
        Just(Some("*".to_owned())),
        Just(Some("nobody".to_owned())),
    ];
    prop_oneof![
        3 => client().prop_map(|client| Action::Connect { client }),
        3 => (client(), alias()).prop_map(|(client, alias)| Action::Sync { client, alias, last_will: None, token: None }),
        5 => (client(), target, 0..1000u32).prop_map(|(client, to, n)| Action::Send {
            client,
            to,
            message: common::msg(json!({"n": n, "text": "大家来领物资了"})),
            room: None,
        }),
        1 => (client(), alias()).prop_map(|(client, alias)| Action::Write {
            client,
            // Two frames with no delimiter, then garbage and a newline.
            data: format!(
                r#"{{"type":"sync","clientName":"{alias}"}}{{"type":"info","message":"无分隔"}}{{"bad"}}"#
            ) + "\n",
        }),
        1 => client().prop_map(|client| Action::Ping { client }),
        1 => client().prop_map(|client| Action::List { client, room: None }),
        1 => client().prop_map(|client| Action::Disconnect { client }),
        2 => (0..1000u32).prop_map(|n| Action::Broadcast { message: common::msg(json!(n)) }),
        2 => (alias(), 0..1000u32).prop_map(|(alias, n)| Action::SendToAlias {
            alias,
            message: common::msg(json!(format!("给{n}"))),
        }),
        6 => room_action(),
    ]
}

const ROOMS: [&str; 2] = ["lobby", "大厅"];

fn room() -> impl Strategy<Value = String> {
    prop::sample::select(&ROOMS[..]).prop_map(str::to_owned)
}

/// Rooms, presence, last wills and closes with and without `bye`.
fn room_action() -> impl Strategy<Value = Action> {
    let scope = prop_oneof![
        Just(WatchScope::All),
        alias().prop_map(|a| WatchScope::Aliases(vec![a])),
        room().prop_map(WatchScope::Room),
    ];
    let will = prop_oneof![
        room().prop_map(|room| json!({"room": room, "message": "再见"})),
        alias().prop_map(|to| json!({"to": [to, "nobody"], "message": {"gone": true}})),
    ];
    prop_oneof![
        3 => (client(), room()).prop_map(|(client, room)| Action::Join { client, room }),
        1 => (client(), room()).prop_map(|(client, room)| Action::Leave { client, room }),
        3 => (client(), room(), 0..1000u32).prop_map(|(client, room, n)| Action::Send {
            client,
            to: None,
            room: Some(room),
            message: common::msg(json!({"n": n})),
        }),
        1 => (client(), room()).prop_map(|(client, room)| Action::List { client, room: Some(room) }),
        2 => (client(), scope.clone()).prop_map(|(client, scope)| Action::Watch { client, scope }),
        1 => (client(), scope).prop_map(|(client, scope)| Action::Unwatch { client, scope }),
        2 => (client(), alias(), will).prop_map(|(client, alias, will)| Action::Sync {
            client,
            alias,
            last_will: Some(common::msg(will)),
            token: None,
        }),
        1 => client().prop_map(|client| Action::Bye { client }),
        1 => client().prop_map(|client| Action::Drop { client }),
        1 => (room(), 0..1000u32).prop_map(|(room, n)| Action::SendToRoom {
            room,
            message: common::msg(json!(n)),
        }),
    ]
}

fn scenario(actions: Vec<Action>, policy: &str) -> Scenario {
    let mut scenario = Scenario::from_json("{}").unwrap();
    scenario.hub.alias_policy = policy.to_owned();
    scenario.steps = actions.into_iter().map(Step::now).collect();
    scenario
}

fn with_faults(mut scenario: Scenario, seed: u64, faults: FaultSettings) -> Scenario {
    scenario.seed = seed;
    scenario.faults = FaultSettings {
        enabled: true,
        ..faults
    };
    scenario
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn split_join_and_delay_change_only_when(
        actions in prop::collection::vec(action(), 1..40),
        policy in prop::sample::select(&["takeover", "reject", "share"][..]),
        seed in any::<u64>(),
    ) {
        let clean = run(scenario(actions.clone(), policy));
        let harsh = FaultSettings { split: 80, join: 60, max_delay_ms: 50, ..FaultSettings::default() };
        let faulty = run(with_faults(scenario(actions, policy), seed, harsh));
        prop_assert_eq!(common::deliveries(&faulty), common::deliveries(&clean));
        prop_assert_eq!(host_messages_by_sender(&faulty), host_messages_by_sender(&clean));
        prop_assert_eq!(hub_closes(&faulty), hub_closes(&clean));
        prop_assert_eq!(common::words_are_the_cores(&faulty), Ok(()));
    }

    /// Each client connects once and holds its own alias, so a drop cannot
    /// hand an alias to someone else (with reconnects and takeovers it can,
    /// legitimately: the story changes).
    #[test]
    fn drops_and_stalls_only_take_messages_away(
        actions in prop::collection::vec(settled_action(), 1..40),
        seed in any::<u64>(),
    ) {
        let mut script: Vec<Action> = CLIENTS
            .iter()
            .zip(["A", "B", "核酸", "D"])
            .flat_map(|(client, alias)| {
                [
                    Action::Connect { client: (*client).to_owned() },
                    Action::Sync { client: (*client).to_owned(), alias: alias.to_owned(), last_will: None, token: None },
                ]
            })
            .collect();
        script.extend(actions);
        let clean = run(scenario(script.clone(), "takeover"));
        let mut broken = with_faults(
            scenario(script, "takeover"),
            seed,
            FaultSettings { drop: 15, stall: 30, ..FaultSettings::default() },
        );
        broken.network.socket_buffer_bytes = 300;
        let faulty = run(broken);
        let expected = info_deliveries(&clean);
        for (client, got) in info_deliveries(&faulty) {
            let wanted = expected.get(&client).cloned().unwrap_or_default();
            prop_assert!(
                is_subsequence(&got, &wanted),
                "{} read {:?}, which is not part of {:?}", client, got, wanted
            );
        }
    }
}

/// Actions that neither connect nor claim aliases.
fn settled_action() -> impl Strategy<Value = Action> {
    let target = prop_oneof![
        Just(None),
        prop::sample::select(&["A", "B", "核酸", "D", "*"][..]).prop_map(|a| Some(a.to_owned())),
    ];
    prop_oneof![
        6 => (client(), target, 0..1000u32).prop_map(|(client, to, n)| Action::Send {
            client,
            to,
            message: common::msg(json!({"n": n, "text": "一会儿上门做核酸"})),
            room: None,
        }),
        1 => client().prop_map(|client| Action::Disconnect { client }),
        1 => client().prop_map(|client| Action::Ping { client }),
        2 => (0..1000u32).prop_map(|n| Action::Broadcast { message: common::msg(json!(n)) }),
        2 => (alias(), 0..1000u32).prop_map(|(alias, n)| Action::SendToAlias {
            alias,
            message: common::msg(json!(format!("给{n}"))),
        }),
    ]
}

/// Every action, with readers that stop, resume and half-close.
fn flow_action() -> impl Strategy<Value = Action> {
    let heavy = || json!({"pad": "大家来领物资了".repeat(15)});
    prop_oneof![
        6 => action(),
        4 => (client(), prop::sample::select(&["*", "A", "B"][..])).prop_map(move |(client, to)| {
            Action::Send { client, to: Some(to.to_owned()), room: None, message: common::msg(heavy()) }
        }),
        2 => Just(Action::Broadcast { message: common::msg(heavy()) }),
        2 => client().prop_map(|client| Action::StopReading { client }),
        2 => client().prop_map(|client| Action::ResumeReading { client }),
        1 => client().prop_map(|client| Action::HalfClose { client }),
        1 => (1..3000u64).prop_map(|ms| Action::Wait { ms }),
    ]
}

/// For every connection the hub closed, the bytes that reached the client
/// (cut anywhere by the network) are whole lines, the last one its one
/// farewell: a `bye` or an `error`.
fn hub_closed_streams_end_on_a_farewell(sim: &tcphub_wasm::sim::Simulator) -> Result<(), String> {
    use std::collections::BTreeMap;
    use tcphub_wasm::sim::{Direction, Entry};
    let mut streams: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for entry in sim.trace().entries() {
        match entry {
            Entry::Connect { client, .. } => {
                streams.insert(client, Vec::new());
            }
            Entry::Arrive {
                client,
                dir: Direction::ToClient,
                bytes,
                ..
            } => {
                let stream = streams.entry(client).or_default();
                match &bytes.hex {
                    Some(hex) => stream.extend(
                        (0..hex.len())
                            .step_by(2)
                            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()),
                    ),
                    None => stream.extend_from_slice(bytes.text.as_bytes()),
                }
            }
            // Bytes that reached a connection the client had closed (a
            // drop, then maybe a reconnect): traced as they arrived, right
            // before this, and belonging to no stream.
            Entry::Discard {
                client,
                dir: Direction::ToClient,
                len,
                ..
            } => {
                if let Some(stream) = streams.get_mut(client.as_str()) {
                    stream.truncate(stream.len().saturating_sub(*len));
                }
            }
            Entry::Close {
                client,
                at: "client",
                reason,
                ..
            } if reason != "disconnect" && reason != "reset" => {
                let stream = streams.remove(client.as_str()).unwrap_or_default();
                if !stream.ends_with(b"\n") {
                    return Err(format!("{client}'s stream ended mid-frame ({reason})"));
                }
                let lines: Vec<&[u8]> = stream[..stream.len() - 1].split(|b| *b == b'\n').collect();
                let types: Vec<String> = lines
                    .iter()
                    .map(|l| match serde_json::from_slice::<serde_json::Value>(l) {
                        Ok(v) => v["type"].as_str().unwrap_or("?").to_owned(),
                        Err(_) => "garbled".to_owned(),
                    })
                    .collect();
                let last = types.last().map(String::as_str);
                if types.iter().any(|t| t == "garbled") || !matches!(last, Some("bye" | "error")) {
                    return Err(format!("{client} ({reason}) got {types:?}"));
                }
                if types.iter().filter(|t| *t == "bye").count() > 1 {
                    return Err(format!("{client} got two byes: {types:?}"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Small buffers and watermarks, readers that stall, faults or not:
    /// whatever the hub closes, it closes on a whole frame and a farewell,
    /// and the simulator's view of each queue is the hub's.
    #[test]
    fn closed_streams_end_on_whole_frames_and_a_farewell(
        actions in prop::collection::vec(flow_action(), 1..60),
        buffer in 16usize..1000,
        high in 300usize..1500,
        deadline in prop::option::of(50u64..3000),
        faults in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut script: Vec<Action> = CLIENTS
            .iter()
            .zip(["A", "B", "核酸", "D"])
            .flat_map(|(client, alias)| {
                [
                    Action::Connect { client: (*client).to_owned() },
                    Action::Sync { client: (*client).to_owned(), alias: alias.to_owned(), last_will: None, token: None },
                ]
            })
            .collect();
        script.extend(actions);
        let mut scenario = scenario(script, "takeover");
        scenario.network.socket_buffer_bytes = buffer;
        scenario.hub.high_watermark = high;
        scenario.hub.low_watermark = high / 4;
        scenario.hub.max_frame_len = 1024;
        scenario.hub.max_queued_bytes = high + 1024 + 500;
        scenario.hub.write_deadline_ms = deadline;
        if faults {
            scenario = with_faults(
                scenario,
                seed,
                FaultSettings { drop: 5, stall: 20, max_delay_ms: 20, ..FaultSettings::default() },
            );
        }
        let sim = run(scenario);
        prop_assert_eq!(hub_closed_streams_end_on_a_farewell(&sim), Ok(()));
        prop_assert_eq!(common::words_are_the_cores(&sim), Ok(()));
        for session in sim.hub().sessions() {
            let view = sim.state().clients.into_iter().find(|c| c.addr.as_deref() == Some(&**session.session_id));
            if let Some(view) = view {
                prop_assert_eq!(sim.hub().queued_bytes(session.handle), Some(view.queued));
                prop_assert!(view.in_socket <= buffer);
            }
        }
    }
}
