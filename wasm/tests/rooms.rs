//! Rooms, presence, last wills and the host's observation, as the
//! simulator carries them out: every decision is the core's, these tests
//! check that the scenario's actions reach it and that what it decides
//! reaches the right clients, in order.

mod common;

use common::{deliveries, msg, run, words_are_the_cores};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tcphub_wasm::sim::{presets, Action, Entry, Scenario, Simulator, Step, WatchScope};

fn script(steps: Vec<Step>) -> Scenario {
    Scenario::from_json("{}").map_or_else(
        |e| panic!("{e}"),
        |mut s| {
            s.steps = steps;
            s.hub.observe = true;
            s
        },
    )
}

fn s(action: Action) -> Step {
    Step::now(action)
}

fn connect(client: &str) -> Step {
    s(Action::Connect {
        client: client.into(),
    })
}

fn sync(client: &str) -> Step {
    s(Action::Sync {
        client: client.into(),
        alias: client.into(),
        last_will: None,
        token: None,
    })
}

fn sync_with_will(client: &str, will: Box<RawValue>) -> Step {
    s(Action::Sync {
        client: client.into(),
        alias: client.into(),
        last_will: Some(will),
        token: None,
    })
}

fn room_will(room: &str, text: &str) -> Box<RawValue> {
    msg(json!({"room": room, "message": text}))
}

fn join(client: &str, room: &str) -> Step {
    s(Action::Join {
        client: client.into(),
        room: room.into(),
    })
}

fn leave(client: &str, room: &str) -> Step {
    s(Action::Leave {
        client: client.into(),
        room: room.into(),
    })
}

fn say(client: &str, room: &str, text: &str) -> Step {
    s(Action::Send {
        client: client.into(),
        to: None,
        room: Some(room.into()),
        message: msg(json!(text)),
    })
}

fn watch(client: &str, scope: WatchScope) -> Step {
    s(Action::Watch {
        client: client.into(),
        scope,
    })
}

/// Connected and synced under their own names.
fn clients(names: &[&str]) -> Vec<Step> {
    names.iter().flat_map(|n| [connect(n), sync(n)]).collect()
}

/// The lines a client read, parsed.
fn frames(sim: &Simulator, client: &str) -> Vec<Value> {
    deliveries(sim)
        .remove(client)
        .unwrap_or_default()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The messages of the `info` frames a client read from `room`.
fn room_messages(sim: &Simulator, client: &str, room: &str) -> Vec<String> {
    frames(sim, client)
        .into_iter()
        .filter(|f| f["type"] == "info" && f["room"] == room)
        .map(|f| f["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The `presence` frames a client read, as (event, alias, room, reason).
fn presence(sim: &Simulator, client: &str) -> Vec<(String, String, String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    frames(sim, client)
        .into_iter()
        .filter(|f| f["type"] == "presence")
        .map(|f| {
            (
                text(&f["event"]),
                text(&f["alias"]),
                text(&f["room"]),
                text(&f["reason"]),
            )
        })
        .collect()
}

fn p(event: &str, alias: &str, room: &str, reason: &str) -> (String, String, String, String) {
    (event.into(), alias.into(), room.into(), reason.into())
}

/// The hub's events of one kind, with their details.
fn events(sim: &Simulator, kind: &str) -> Vec<(Option<String>, Value)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Event {
                event,
                alias,
                detail,
                ..
            } if *event == kind => Some((
                alias.clone(),
                detail
                    .as_ref()
                    .map_or(Value::Null, |d| serde_json::from_str(d.get()).unwrap()),
            )),
            _ => None,
        })
        .collect()
}

fn host_results(sim: &Simulator) -> Vec<(&'static str, Option<usize>, Option<String>)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Host {
                command,
                reached,
                error,
                ..
            } => Some((*command, *reached, error.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_room_message_reaches_exactly_the_other_members() {
    let mut steps = clients(&["a", "b", "c", "outsider"]);
    steps.extend([join("a", "lobby"), join("b", "lobby"), join("c", "den")]);
    steps.extend([
        say("a", "lobby", "from a"),
        // The sender need not be a member.
        say("outsider", "lobby", "from outside"),
        say("c", "den", "alone in den"),
        // Nobody is in `attic`: the sender is told, nobody else reads it.
        say("b", "attic", "to nobody"),
    ]);
    let sim = run(script(steps));
    words_are_the_cores(&sim).unwrap();
    assert_eq!(room_messages(&sim, "a", "lobby"), ["from outside"]);
    assert_eq!(
        room_messages(&sim, "b", "lobby"),
        ["from a", "from outside"]
    );
    for client in ["c", "outsider"] {
        assert_eq!(room_messages(&sim, client, "lobby"), [] as [&str; 0]);
    }
    assert_eq!(room_messages(&sim, "c", "den"), [] as [&str; 0]);
    let errors: Vec<_> = frames(&sim, "b")
        .into_iter()
        .filter(|f| f["type"] == "error")
        .map(|f| f["code"].clone())
        .collect();
    assert_eq!(errors, [json!("unknown_room")]);
    // `joined` tells the member count.
    let counts: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|c| {
            frames(&sim, c)
                .into_iter()
                .find(|f| f["type"] == "joined")
                .unwrap()["members"]
                .clone()
        })
        .collect();
    assert_eq!(counts, [json!(1), json!(2), json!(1)]);
}

#[test]
fn leave_disconnect_drop_and_bye_take_a_member_out() {
    let mut steps = clients(&["stays", "leaves", "quits", "drops", "byes"]);
    for c in ["stays", "leaves", "quits", "drops", "byes"] {
        steps.push(join(c, "lobby"));
    }
    steps.push(s(Action::List {
        client: "stays".into(),
        room: Some("lobby".into()),
    }));
    steps.extend([
        leave("leaves", "lobby"),
        s(Action::Disconnect {
            client: "quits".into(),
        }),
        s(Action::Drop {
            client: "drops".into(),
        }),
        s(Action::Bye {
            client: "byes".into(),
        }),
        // Not a member any more: told so.
        leave("leaves", "lobby"),
        s(Action::List {
            client: "stays".into(),
            room: Some("lobby".into()),
        }),
        say("leaves", "lobby", "after"),
    ]);
    let mut sim = Simulator::new(script(steps)).unwrap();
    // Before the leaves: everyone is in the room, in the view and the hub.
    while !sim.trace().entries().iter().any(|e| {
        matches!(e, Entry::Deliver { client, frame, .. } if client == "stays" && frame == "sessions")
    }) {
        assert!(sim.step());
    }
    let state = sim.state();
    assert!(state.clients.iter().all(|c| c.rooms == ["lobby"]));
    assert!(state.sessions.iter().all(|s| s.rooms == ["lobby"]));
    assert_eq!(sim.hub().room_members("lobby").count(), 5);
    sim.run_to_end();
    words_are_the_cores(&sim).unwrap();

    let lists: Vec<Vec<String>> = frames(&sim, "stays")
        .into_iter()
        .filter(|f| f["type"] == "sessions")
        .map(|f| {
            assert_eq!(f["room"], "lobby");
            f["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["clientName"].as_str().unwrap().to_owned())
                .collect()
        })
        .collect();
    assert_eq!(
        lists,
        [
            vec!["stays", "leaves", "quits", "drops", "byes"],
            vec!["stays"]
        ]
    );
    assert_eq!(room_messages(&sim, "stays", "lobby"), ["after"]);
    let leaves = frames(&sim, "leaves");
    assert!(leaves.iter().any(|f| f["type"] == "left"));
    assert!(leaves
        .iter()
        .any(|f| f["type"] == "error" && f["code"] == "not_in_room"));
    // Only the explicit leave is a `left` event; closes say `closed`.
    assert_eq!(events(&sim, "left").len(), 1);
    let closed: Vec<_> = events(&sim, "closed")
        .into_iter()
        .map(|(alias, reason)| (alias.unwrap(), reason))
        .collect();
    assert_eq!(
        closed,
        [
            ("quits".to_owned(), json!("peer_closed")),
            ("drops".to_owned(), json!("peer_closed")),
            ("byes".to_owned(), json!("client_bye")),
        ]
    );
    let state = sim.state();
    let rooms: Vec<_> = state
        .clients
        .iter()
        .map(|c| (c.name.as_str(), c.rooms.len()))
        .collect();
    assert_eq!(
        rooms,
        [
            ("stays", 1),
            ("leaves", 0),
            ("quits", 0),
            ("drops", 0),
            ("byes", 0)
        ]
    );
    assert_eq!(sim.hub().room_members("lobby").count(), 1);
}

#[test]
fn presence_arrives_in_order_with_the_right_reasons() {
    let mut steps = clients(&["all", "some", "member"]);
    steps.extend([
        join("member", "lobby"),
        watch("all", WatchScope::All),
        watch("some", WatchScope::Aliases(vec!["x".into()])),
        watch("member", WatchScope::Room("lobby".into())),
        // x: synced, joins, leaves, rejoins, then is taken over by y's
        // second connection, which then drops.
        connect("x"),
        sync("x"),
        join("x", "lobby"),
        leave("x", "lobby"),
        join("x", "lobby"),
        connect("y"),
        s(Action::Sync {
            client: "y".into(),
            alias: "x".into(),
            last_will: None,
            token: None,
        }),
        s(Action::Drop { client: "y".into() }),
        // z re-syncs as w: z is released, w synced.
        connect("z"),
        sync("z"),
        s(Action::Sync {
            client: "z".into(),
            alias: "w".into(),
            last_will: None,
            token: None,
        }),
    ]);
    let sim = run(script(steps));
    words_are_the_cores(&sim).unwrap();
    // Watching every alias: alias events only, never room ones.
    assert_eq!(
        presence(&sim, "all"),
        [
            p("synced", "x", "", ""),
            p("taken_over", "x", "", ""),
            p("synced", "x", "", ""),
            p("closed", "x", "", "peer_closed"),
            p("synced", "z", "", ""),
            p("released", "z", "", ""),
            p("synced", "w", "", ""),
        ]
    );
    // Watching the alias x: the same, about x only.
    assert_eq!(presence(&sim, "some"), presence(&sim, "all")[..4]);
    // Watching the room: its members' joins and leaves, and what becomes
    // of them while members.
    assert_eq!(
        presence(&sim, "member"),
        [
            p("joined", "x", "lobby", ""),
            p("left", "x", "lobby", ""),
            p("joined", "x", "lobby", ""),
            p("taken_over", "x", "", ""),
            // The old session, a member, holds no alias when it closes.
            p("closed", "", "", "taken_over"),
        ]
    );
    // Nobody is told about itself.
    for c in ["all", "some", "member"] {
        assert!(presence(&sim, c).iter().all(|(_, alias, _, _)| alias != c));
    }
}

#[test]
fn a_last_will_is_sent_when_the_connection_drops_and_not_after_bye() {
    let mut steps = clients(&["listener", "friend"]);
    steps.push(join("listener", "lobby"));
    for (name, to_room) in [
        ("dropper", true),
        ("quitter", true),
        ("byer", true),
        ("direct", false),
    ] {
        steps.push(connect(name));
        let will = if to_room {
            room_will("lobby", &format!("{name}'s will"))
        } else {
            msg(json!({"to": ["friend", "nobody"], "message": "direct's will"}))
        };
        steps.push(sync_with_will(name, will));
    }
    // A sync without a will clears the will before.
    steps.push(connect("cleared"));
    steps.push(sync_with_will(
        "cleared",
        room_will("lobby", "cleared's will"),
    ));
    steps.push(sync("cleared"));
    steps.extend([
        s(Action::Drop {
            client: "dropper".into(),
        }),
        s(Action::Bye {
            client: "byer".into(),
        }),
        s(Action::Disconnect {
            client: "quitter".into(),
        }),
        s(Action::Drop {
            client: "direct".into(),
        }),
        s(Action::Bye {
            client: "cleared".into(),
        }),
        s(Action::Drop {
            client: "cleared".into(),
        }),
    ]);
    let sim = run(script(steps));
    words_are_the_cores(&sim).unwrap();
    let wills = |client: &str| -> Vec<(String, String)> {
        frames(&sim, client)
            .into_iter()
            .filter(|f| f["lastWill"] == true)
            .map(|f| {
                assert_eq!(f["type"], "info");
                (
                    f["from"].as_str().unwrap().to_owned(),
                    f["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        wills("listener"),
        [
            ("dropper".to_owned(), "dropper's will".to_owned()),
            ("quitter".to_owned(), "quitter's will".to_owned()),
        ]
    );
    assert_eq!(
        wills("friend"),
        [("direct".to_owned(), "direct's will".to_owned())]
    );
    // The will carries its room; the direct one none.
    let will_frames: Vec<_> = frames(&sim, "listener")
        .into_iter()
        .filter(|f| f["lastWill"] == true)
        .collect();
    assert!(will_frames.iter().all(|f| f["room"] == "lobby"));
    // The bye was answered with a bye of its own.
    assert!(frames(&sim, "byer")
        .iter()
        .any(|f| f["type"] == "bye" && f["reason"] == "client_bye"));
    // The host saw each will relayed, marked: one event per target, so
    // a will for two aliases is two, one of them reaching nobody.
    let relayed: Vec<_> = events(&sim, "relayed")
        .into_iter()
        .map(|(alias, d)| {
            assert_eq!(d["last_will"], true);
            let target = d.get("room").or(d.get("to")).unwrap().clone();
            (alias.unwrap(), target, d["recipients"].clone())
        })
        .collect();
    let r = |alias: &str, target: &str, n: usize| (alias.to_owned(), json!(target), json!(n));
    assert_eq!(
        relayed,
        [
            r("dropper", "lobby", 1),
            r("quitter", "lobby", 1),
            r("direct", "friend", 1),
            r("direct", "nobody", 0),
        ]
    );
}

#[test]
fn the_host_observes_every_relay_in_order_only_when_asked() {
    let mut steps = clients(&["a", "b", "c"]);
    steps.extend([join("b", "lobby"), join("c", "lobby")]);
    for (i, target) in ["room", "alias", "everyone", "room", "alias"]
        .iter()
        .enumerate()
    {
        let (to, room) = match *target {
            "room" => (None, Some("lobby".to_owned())),
            "alias" => (Some("b".to_owned()), None),
            _ => (Some("*".to_owned()), None),
        };
        steps.push(s(Action::Send {
            client: "a".into(),
            to,
            room,
            message: msg(json!(i)),
        }));
    }
    // To the host: a `message` event, not a relay.
    steps.push(s(Action::Send {
        client: "a".into(),
        to: None,
        room: None,
        message: msg(json!("for the host")),
    }));
    let scenario = script(steps);
    let sim = run(scenario.clone());
    let relayed: Vec<_> = events(&sim, "relayed")
        .into_iter()
        .map(|(alias, d)| {
            assert_eq!(alias.as_deref(), Some("a"));
            assert!(d.get("last_will").is_none());
            d
        })
        .collect();
    assert_eq!(
        relayed,
        [
            json!({"room": "lobby", "recipients": 2, "message": 0}),
            json!({"to": "b", "recipients": 1, "message": 1}),
            json!({"to": "*", "recipients": 2, "message": 2}),
            json!({"room": "lobby", "recipients": 2, "message": 3}),
            json!({"to": "b", "recipients": 1, "message": 4}),
        ]
    );
    // Each relayed event comes after the frames it reports were queued and
    // before anyone read them: the trace keeps the hub's order.
    let entries = sim.trace().entries();
    for (i, e) in entries.iter().enumerate() {
        if let Entry::Event {
            event: "relayed",
            t,
            ..
        } = e
        {
            let next_read = entries[i..]
                .iter()
                .find_map(|e| match e {
                    Entry::Deliver { t, frame, .. } if frame == "info" => Some(*t),
                    _ => None,
                })
                .unwrap();
            assert!(next_read > *t);
        }
    }
    let mut quiet = scenario;
    quiet.hub.observe = false;
    let quiet = run(quiet);
    assert!(events(&quiet, "relayed").is_empty());
    assert_eq!(deliveries(&quiet), deliveries(&sim));
}

#[test]
fn host_room_commands_report_their_reach_and_errors() {
    let mut steps = clients(&["a", "b"]);
    let host = |action| s(action);
    steps.extend([
        host(Action::SendToRoom {
            room: "lobby".into(),
            message: msg(json!("too early")),
        }),
        host(Action::JoinRoom {
            session_id: "10.0.0.1:40001".into(),
            room: "lobby".into(),
        }),
        host(Action::JoinRoom {
            session_id: "10.0.0.1:40001".into(),
            room: "lobby".into(),
        }),
        host(Action::JoinRoom {
            session_id: "10.0.0.2:40001".into(),
            room: "lobby".into(),
        }),
        host(Action::SendToRoom {
            room: "lobby".into(),
            message: msg(json!("to both")),
        }),
        host(Action::LeaveRoom {
            session_id: "10.0.0.2:40001".into(),
            room: "lobby".into(),
        }),
        host(Action::LeaveRoom {
            session_id: "10.0.0.2:40001".into(),
            room: "lobby".into(),
        }),
        host(Action::SendToRoom {
            room: "lobby".into(),
            message: msg(json!("to a")),
        }),
        host(Action::JoinRoom {
            session_id: "10.9.9.9:1".into(),
            room: "lobby".into(),
        }),
        host(Action::JoinRoom {
            session_id: "10.0.0.1:40001".into(),
            room: "*".into(),
        }),
    ]);
    let sim = run(script(steps));
    words_are_the_cores(&sim).unwrap();
    let results = host_results(&sim);
    let reached: Vec<_> = results.iter().map(|(c, r, _)| (*c, *r)).collect();
    assert_eq!(
        reached,
        [
            ("send_to_room", None),
            ("join_room", Some(1)),
            ("join_room", Some(1)),
            ("join_room", Some(1)),
            ("send_to_room", Some(2)),
            ("leave_room", Some(1)),
            ("leave_room", Some(0)),
            ("send_to_room", Some(1)),
            ("join_room", None),
            ("join_room", None),
        ]
    );
    assert!(results[0].2.as_deref().unwrap().contains("lobby"));
    let host_info = |client: &str| -> Vec<Value> {
        frames(&sim, client)
            .into_iter()
            .filter(|f| f["type"] == "info")
            .map(|f| {
                assert_eq!(f["from"], "#hub");
                assert_eq!(f["room"], "lobby");
                f["message"].clone()
            })
            .collect()
    };
    assert_eq!(host_info("a"), [json!("to both"), json!("to a")]);
    assert_eq!(host_info("b"), [json!("to both")]);
    // A host join is told to the session like its own.
    let joined: Vec<_> = frames(&sim, "a")
        .into_iter()
        .filter(|f| f["type"] == "joined")
        .collect();
    assert_eq!(joined.len(), 2);
}

#[test]
fn the_new_actions_round_trip_and_refuse_two_targets() {
    let json = r#"{"hub":{"max_rooms_per_session":2,"max_watched_aliases":3,"observe":true},"steps":[
        {"action":"sync","client":"a","alias":"a","last_will":{"room":"lobby","message":{"k":[1, 2]}}},
        {"action":"sync","client":"a","alias":"a","last_will":{"to":"b","message":"x"}},
        {"action":"sync","client":"a","alias":"a","last_will":{"to":["b","c"],"message":null}},
        {"action":"join","client":"a","room":"lobby"},
        {"action":"leave","client":"a","room":"lobby"},
        {"action":"send","client":"a","room":"lobby","message":1},
        {"action":"list","client":"a","room":"lobby"},
        {"action":"watch","client":"a"},
        {"action":"watch","client":"a","aliases":["b"]},
        {"action":"unwatch","client":"a","room":"lobby"},
        {"action":"unwatch","client":"a"},
        {"action":"bye","client":"a"},
        {"action":"drop","client":"a"},
        {"action":"join_room","session_id":"10.0.0.1:40001","room":"lobby"},
        {"action":"leave_room","session_id":"10.0.0.1:40001","room":"lobby"},
        {"action":"send_to_room","room":"lobby","message":"hi"}]}"#;
    let scenario = Scenario::from_json(json).unwrap();
    let config = scenario.hub.to_config().unwrap();
    assert_eq!(
        (
            config.max_rooms_per_session,
            config.max_watched_aliases,
            config.observe
        ),
        (2, 3, true)
    );
    let saved = scenario.to_json();
    assert_eq!(Scenario::from_json(&saved).unwrap().to_json(), saved);
    // A last will is kept as written, like a message.
    assert!(
        saved.contains(r#""last_will": {"room":"lobby","message":{"k":[1, 2]}}"#),
        "{saved}"
    );
    assert!(
        saved.contains(r#""last_will": {"to":"b","message":"x"}"#),
        "{saved}"
    );
    assert!(saved.contains(r#""aliases": ["#), "{saved}");

    for (bad, says) in [
        (
            r#"{"action":"send","client":"a","to":"b","room":"r","message":1}"#,
            r#"takes "to" or "room", not both"#,
        ),
        (
            r#"{"action":"watch","client":"a","aliases":[],"room":"r"}"#,
            r#"takes "aliases" or "room", not both"#,
        ),
        (
            r#"{"action":"sync","client":"a","alias":"a","last_will":{"message":1}}"#,
            r#"last_will: field "lastWill" needs exactly one of "room" and "to""#,
        ),
        (
            r#"{"action":"sync","client":"a","alias":"a","last_will":{"to":"b"}}"#,
            r#"lastWill.message"#,
        ),
        (r#"{"action":"join","client":"a"}"#, r#"needs field "room""#),
        (
            r#"{"action":"send_to_room","room":"r"}"#,
            r#"needs field "message""#,
        ),
        (
            r#"{"action":"join_room","room":"r"}"#,
            r#"needs field "session_id""#,
        ),
    ] {
        let err = Scenario::from_json(&format!(r#"{{"steps":[{bad}]}}"#)).unwrap_err();
        assert!(err.to_string().contains(says), "{bad}: {err}");
    }
    for field in [
        "max_rooms_per_session",
        "max_watched_aliases",
        "max_last_will_bytes",
    ] {
        let err = Scenario::from_json(&format!(r#"{{"hub":{{"{field}":0}}}}"#)).unwrap_err();
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn the_chat_room_preset_tells_its_story() {
    for faults in [false, true] {
        for seed in 0..if faults { 40 } else { 1 } {
            let mut scenario = presets::chat_room();
            scenario.faults.enabled = faults;
            if faults {
                scenario.seed = seed;
            }
            let sim = run(scenario);
            words_are_the_cores(&sim).unwrap();
            let lobby = presets::LOBBY;
            // Every member reads everyone else's chat, the bot's answer
            // after the question, and the host's notice.
            assert_eq!(
                room_messages(&sim, "alice", lobby),
                [
                    "hey alice",
                    "!time",
                    "",
                    "the lobby closes at 00:00:10",
                    "bob's connection dropped"
                ]
            );
            let bot_answer = frames(&sim, "carol")
                .into_iter()
                .filter(|f| f["room"] == lobby && f["from"] == "time-bot")
                .map(|f| f["message"].clone())
                .collect::<Vec<_>>();
            assert_eq!(bot_answer, [json!({"answer": "!time", "time": "00:00:03"})]);
            // bob's will reaches those left in the room, marked, once.
            for client in ["alice", "carol", "time-bot"] {
                let wills: Vec<_> = frames(&sim, client)
                    .into_iter()
                    .filter(|f| f["lastWill"] == true)
                    .map(|f| f["from"].clone())
                    .collect();
                assert_eq!(wills, [json!("bob")], "{client}");
            }
            // alice said bye: her will is never sent.
            assert!(events(&sim, "relayed")
                .iter()
                .all(|(alias, d)| d["last_will"] != true || alias.as_deref() == Some("bob")));
            // The watchers saw bob go, with the reason.
            assert_eq!(
                presence(&sim, "alice"),
                [
                    p("joined", "bob", lobby, ""),
                    p("joined", "carol", lobby, ""),
                    p("joined", "time-bot", lobby, ""),
                    p("closed", "bob", "", "peer_closed"),
                    p("left", "carol", lobby, ""),
                ]
            );
            assert_eq!(
                presence(&sim, "carol"),
                [p("closed", "bob", "", "peer_closed")]
            );
            let state = sim.state();
            let rooms: Vec<_> = state
                .clients
                .iter()
                .map(|c| (c.name.as_str(), c.rooms.len()))
                .collect();
            assert_eq!(
                rooms,
                [("alice", 0), ("bob", 0), ("carol", 0), ("time-bot", 1)]
            );
        }
    }
}

#[test]
fn the_hubs_caps_on_rooms_watches_and_wills_are_the_scenarios() {
    let mut steps = clients(&["a"]);
    steps.extend([
        join("a", "one"),
        join("a", "two"),
        watch("a", WatchScope::Aliases(vec!["b".into(), "c".into()])),
        sync_with_will("a", room_will("one", "a will longer than sixteen bytes")),
    ]);
    let mut scenario = script(steps);
    scenario.hub.max_rooms_per_session = 1;
    scenario.hub.max_watched_aliases = 1;
    scenario.hub.max_last_will_bytes = 16;
    let sim = run(scenario);
    words_are_the_cores(&sim).unwrap();
    let errors: Vec<_> = frames(&sim, "a")
        .into_iter()
        .filter(|f| f["type"] == "error")
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        errors,
        ["too_many_rooms", "too_many_watches", "last_will_too_large"]
    );
}

#[test]
fn a_last_will_follows_the_close_reason() {
    // Each client leaves a will for `lobby`, where `listener` waits, and
    // ends its session in its own way.
    let mut steps = clients(&["listener"]);
    steps.push(join("listener", "lobby"));
    let enders = ["half", "host", "taken", "idle"];
    for name in enders {
        steps.push(connect(name));
        steps.push(sync_with_will(name, room_will("lobby", name)));
    }
    steps.extend([
        s(Action::HalfClose {
            client: "half".into(),
        }),
        s(Action::CloseSession {
            session_id: "10.0.0.3:40001".into(),
        }),
        connect("thief"),
        s(Action::Sync {
            client: "thief".into(),
            alias: "taken".into(),
            last_will: None,
            token: None,
        }),
    ]);
    let mut scenario = script(steps);
    // Everyone but `idle` keeps talking (pings) until `idle` times out.
    scenario.hub.idle_timeout_ms = Some(5_000);
    for at in [1_000, 2_000, 3_000, 4_000, 5_000, 6_000] {
        for name in ["listener", "thief"] {
            scenario.steps.push(Step::at(
                at,
                Action::Ping {
                    client: name.into(),
                },
            ));
        }
    }
    scenario.steps.push(Step::at(6_500, Action::Shutdown));
    let sim = run(scenario);
    words_are_the_cores(&sim).unwrap();
    let closed: Vec<_> = events(&sim, "closed")
        .into_iter()
        .map(|(alias, reason)| (alias.unwrap_or_default(), reason))
        .collect();
    assert_eq!(
        closed,
        [
            ("half".to_owned(), json!("peer_closed")),
            ("host".to_owned(), json!("closed_by_host")),
            (String::new(), json!("taken_over")),
            ("idle".to_owned(), json!("idle_timeout")),
            ("listener".to_owned(), json!("shutdown")),
            ("taken".to_owned(), json!("shutdown")),
        ]
    );
    // Sent for a half-close, the host's close and the idle timeout; not
    // for a takeover (the alias lives on) or a shutdown.
    assert_eq!(
        room_messages(&sim, "listener", "lobby"),
        ["half", "host", "idle"]
    );
}
