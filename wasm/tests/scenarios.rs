//! The other presets and the actions the page offers, one by one.

mod common;

use common::{deliveries, hub_closes, run};
use serde_json::json;
use tcphub_wasm::sim::{presets, Action, Entry, Scenario, Simulator, Step, TraceLevel};

fn script(steps: Vec<Step>) -> Scenario {
    let mut scenario = Scenario::from_json("{}").unwrap();
    scenario.steps = steps;
    scenario
}

fn connect(client: &str) -> Step {
    Step::now(Action::Connect {
        client: client.into(),
    })
}

fn sync(client: &str, alias: &str) -> Step {
    Step::now(Action::Sync {
        client: client.into(),
        alias: alias.into(),
        last_will: None,
        token: None,
    })
}

#[test]
fn takeover_moves_the_alias_and_closes_the_old_session() {
    let sim = run(presets::takeover());
    assert_eq!(hub_closes(&sim), [("phone".into(), "taken_over".into())]);
    let got = deliveries(&sim);
    assert!(got["phone"].iter().any(|l| l.contains("在吗?")));
    assert!(!got["phone"].iter().any(|l| l.contains("现在呢?")));
    assert!(got["phone"]
        .last()
        .unwrap()
        .contains(r#""type":"bye","reason":"taken_over""#));
    assert!(got["tablet"].iter().any(|l| l.contains("现在呢?")));
    // `*` reaches every other session: the laptop, not the closed phone.
    assert!(got["laptop"].iter().any(|l| l.contains("back online")));
    assert!(!got["tablet"].iter().any(|l| l.contains("back online")));
    let state = sim.state();
    let aliases: Vec<_> = state
        .sessions
        .iter()
        .map(|s| s.alias.clone().unwrap())
        .collect();
    assert_eq!(aliases, ["小红", "小明"]);
    assert_eq!(state.sessions[1].client.as_deref(), Some("tablet"));
}

#[test]
fn faults_preset_closes_the_reader_that_stopped_and_answers_bad_json() {
    let sim = run(presets::faults());
    assert_eq!(hub_closes(&sim), [("丙".into(), "slow_consumer".into())]);
    let got = deliveries(&sim);
    assert!(got["甲"].iter().any(|l| l.contains(r#""code":"bad_json""#)));
    let to_yi: Vec<_> = got["乙"].iter().filter(|l| l.contains("条消息")).collect();
    assert_eq!(to_yi.len(), 6, "every directed message reached 乙 once");
    assert!(!got["甲"].iter().any(|l| l.contains("条消息")));
    let state = sim.state();
    assert_eq!(state.sessions.len(), 2);
    assert!(state.clients.iter().any(|c| c.name == "丙" && !c.connected));
}

#[test]
fn drop_and_stall_faults_happen_and_are_traced() {
    let (mut drops, mut stalls, mut slow) = (0, 0, 0);
    for seed in 0..50 {
        let mut scenario = presets::faults();
        scenario.seed = seed;
        scenario.faults.drop = 10;
        scenario.faults.stall = 50;
        scenario
            .steps
            .retain(|s| !matches!(s.action, Action::StopReading { .. }));
        let sim = run(scenario);
        for entry in sim.trace().entries() {
            match entry {
                Entry::Fault { fault: "drop", .. } => drops += 1,
                Entry::Fault { fault: "stall", .. } => stalls += 1,
                Entry::Close {
                    reason, at: "hub", ..
                } if reason == "slow_consumer" => slow += 1,
                _ => {}
            }
        }
    }
    assert!(
        drops > 5 && stalls > 5 && slow > 5,
        "{drops} drops, {stalls} stalls, {slow} slow"
    );
}

#[test]
fn idle_timeout_fires_in_virtual_time() {
    let mut scenario = script(vec![
        connect("a"),
        connect("b"),
        Step::at(400, Action::Ping { client: "b".into() }),
        Step::now(Action::Wait { ms: 2000 }),
    ]);
    scenario.hub.idle_timeout_ms = Some(1000);
    let sim = run(scenario);
    let closed: Vec<(u64, String)> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Close {
                t,
                client,
                at: "hub",
                reason,
                ..
            } if reason == "idle_timeout" => Some((*t, client.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(closed, [(1000, "a".into()), (1401, "b".into())]);
    assert_eq!(sim.now(), 2402, "the wait ran the clock on");
}

#[test]
fn steps_that_cannot_run_say_why() {
    let sim = run(script(vec![
        sync("ghost", "x"),
        connect("a"),
        connect("a"),
        Step::now(Action::Disconnect { client: "a".into() }),
        Step::now(Action::Ping { client: "a".into() }),
    ]));
    let skips: Vec<String> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Skip { reason, .. } => Some(reason.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        skips,
        [
            "there is no client named ghost; connect it first",
            "a is already connected",
            "a is not connected",
        ]
    );
}

#[test]
fn reconnect_gets_a_new_port_and_host_commands_report_reach() {
    let sim = run(script(vec![
        connect("a"),
        sync("a", "小明"),
        Step::now(Action::Disconnect { client: "a".into() }),
        connect("a"),
        Step::now(Action::SendToAlias {
            alias: "小明".into(),
            message: common::msg(json!(1)),
        }),
        sync("a", "小明"),
        Step::now(Action::SendToAlias {
            alias: "小明".into(),
            message: common::msg(json!(2)),
        }),
        Step::now(Action::CloseSession {
            session_id: "10.0.0.1:40002".into(),
        }),
        Step::now(Action::CloseSession {
            session_id: "10.0.0.1:40002".into(),
        }),
    ]));
    let hosts: Vec<(Option<usize>, Option<String>)> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Host { reached, error, .. } => Some((*reached, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        hosts,
        [
            (None, Some(r#"no session holds alias "小明""#.into())),
            (Some(1), None),
            (Some(1), None),
            (
                None,
                Some(r#"no open session has id "10.0.0.1:40002""#.into())
            ),
        ]
    );
    let got = deliveries(&sim);
    assert!(got["a"][0].contains("10.0.0.1:40001"));
    assert!(got["a"][1].contains("10.0.0.1:40002"));
    assert!(got["a"].last().unwrap().contains("closed_by_host"));
}

#[test]
fn resume_reading_delivers_what_piled_up() {
    let sim = run(script(vec![
        connect("a"),
        Step::now(Action::StopReading { client: "a".into() }),
        Step::now(Action::Broadcast {
            message: common::msg(json!("x")),
        }),
        Step::now(Action::Broadcast {
            message: common::msg(json!("y")),
        }),
        Step::now(Action::ResumeReading { client: "a".into() }),
    ]));
    assert_eq!(
        deliveries(&sim)["a"],
        [
            r##"{"type":"info","from":"#hub","message":"x"}"##,
            r##"{"type":"info","from":"#hub","message":"y"}"##
        ]
    );
}

#[test]
fn trace_levels_keep_counters_alike() {
    let full = run(presets::faults());
    for level in [TraceLevel::Deliveries, TraceLevel::None] {
        let mut scenario = presets::faults();
        scenario.trace = level;
        let sim = run(scenario);
        assert_eq!(sim.stats(), full.stats(), "{level:?}");
        let has_wire = sim
            .trace()
            .entries()
            .iter()
            .any(|e| matches!(e, Entry::Write { .. } | Entry::Arrive { .. }));
        assert!(!has_wire);
        assert_eq!(sim.trace().entries().is_empty(), level == TraceLevel::None);
    }
}

#[test]
fn shutdown_says_bye_to_everyone() {
    let sim = run(script(vec![
        connect("a"),
        connect("b"),
        Step::now(Action::Shutdown),
        connect("c"),
    ]));
    let got = deliveries(&sim);
    for client in ["a", "b", "c"] {
        assert!(
            got[client]
                .last()
                .unwrap()
                .contains(r#""reason":"shutdown""#),
            "{client}"
        );
    }
    assert!(sim.hub().session_count() == 0);
}

#[test]
fn the_trace_is_incremental() {
    let mut sim = Simulator::new(presets::tutorial()).unwrap();
    sim.run(5);
    let seen = sim.trace().entries().len();
    sim.run_to_end();
    let all: serde_json::Value = serde_json::from_str(&sim.trace().to_json_from(0)).unwrap();
    let tail: serde_json::Value = serde_json::from_str(&sim.trace().to_json_from(seen)).unwrap();
    assert_eq!(
        all.as_array().unwrap()[seen..],
        tail.as_array().unwrap()[..]
    );
    assert_eq!(sim.trace().to_json_from(10_000), "[]");
}

#[test]
fn every_preset_speaks_the_cores_words() {
    for (name, make) in presets::PRESETS {
        for faults in [false, true] {
            let mut scenario = make();
            scenario.faults.enabled = faults;
            let sim = run(scenario);
            assert_eq!(common::words_are_the_cores(&sim), Ok(()), "{name}");
        }
    }
}

#[test]
fn requests_are_answered_by_the_alias_asked_or_the_host_and_end_once() {
    let scenario = Scenario::from_json(
        r#"{"steps":[
            {"action":"connect","client":"a"},
            {"action":"sync","client":"a","alias":"A"},
            {"action":"connect","client":"b"},
            {"action":"sync","client":"b","alias":"B"},
            {"action":"request","client":"a","to":"B","message":"time?"},
            {"action":"reply","client":"b","reply_to":"1.1","message":"12:00"},
            {"action":"request","client":"a","message":{"sum":[1,2]}},
            {"action":"reply","reply_to":"1.2","message":3},
            {"action":"reply","reply_to":"1.2","message":4},
            {"action":"request","client":"a","to":"Nobody","message":1},
            {"action":"request","client":"a","to":"B","message":"late?","timeout_ms":100},
            {"action":"wait","ms":200}
        ]}"#,
    )
    .unwrap();
    let sim = run(scenario);
    let got = deliveries(&sim);
    assert!(
        got["b"]
            .iter()
            .any(|l| l == r#"{"type":"request","from":"A","replyTo":"1.1","message":"time?"}"#),
        "{:?}",
        got["b"]
    );
    let replies: Vec<&str> = got["a"]
        .iter()
        .map(String::as_str)
        .filter(|l| !l.contains(r#""type":"synced""#))
        .collect();
    assert_eq!(
        replies,
        [
            r#"{"type":"reply","from":"B","message":"12:00"}"#,
            r##"{"type":"reply","from":"#hub","message":3}"##,
            r#"{"type":"error","code":"unknown_alias","message":"no session holds alias \"Nobody\"; the message was not delivered"}"#,
            r#"{"type":"error","code":"request_timeout","message":"no reply from \"B\" within 100 ms"}"#,
        ]
    );
    // The host was told of its request, and its second answer refused.
    let entries = sim.trace().entries();
    assert!(entries.iter().any(|e| matches!(
        e,
        Entry::Event {
            event: "request",
            ..
        }
    )));
    let host_errors: Vec<&str> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Host {
                command: "reply",
                error: Some(error),
                ..
            } => Some(error.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(host_errors.len(), 1, "{host_errors:?}");
    assert!(host_errors[0].contains("1.2"), "{host_errors:?}");
}
