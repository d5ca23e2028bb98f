//! Flow control as the core decides it and the simulator's driver carries
//! it out: the `flow_control` preset's story, the socket buffer, the close
//! of a slow consumer on whole frames, and half-close.

mod common;

use common::{hub_closes, info_deliveries, run};
use serde_json::json;
use tcphub_wasm::sim::presets::{self, FLOW_BURST};
use tcphub_wasm::sim::{Action, Direction, Entry, Scenario, Simulator, Step};

/// `(time, state)` of every flow entry for `client`.
fn flow(sim: &Simulator, who: &str) -> Vec<(u64, &'static str)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Flow { t, client, state } if client == who => Some((*t, *state)),
            _ => None,
        })
        .collect()
}

/// When the hub closed `who`'s session, and how many bytes were dropped.
fn hub_close(sim: &Simulator, who: &str) -> (u64, String, usize) {
    sim.trace()
        .entries()
        .iter()
        .find_map(|e| match e {
            Entry::Close {
                t,
                client,
                at: "hub",
                reason,
                dropped,
            } if client == who => Some((*t, reason.clone(), *dropped)),
            _ => None,
        })
        .unwrap_or_else(|| panic!("the hub never closed {who}"))
}

/// Every byte that reached `who` from the hub, in order.
fn bytes_to(sim: &Simulator, who: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for e in sim.trace().entries() {
        if let Entry::Arrive {
            client,
            dir: Direction::ToClient,
            bytes,
            ..
        } = e
        {
            if client == who {
                match &bytes.hex {
                    Some(hex) => out.extend((0..hex.len()).step_by(2).map(|i| {
                        u8::from_str_radix(&hex[i..i + 2], 16).expect("the trace writes hex")
                    })),
                    None => out.extend_from_slice(bytes.text.as_bytes()),
                }
            }
        }
    }
    out
}

/// The `*` messages the preset's publisher sends, as its readers get them.
fn published() -> Vec<String> {
    (1..=2)
        .flat_map(|burst| {
            (0..FLOW_BURST).map(move |n| {
                format!(
                    r#"{{"type":"info","from":"publisher","message":{{"burst":{burst},"n":{n},"text":"大家来领物资了"}}}}"#
                )
            })
        })
        .collect()
}

#[test]
fn the_publisher_is_paused_by_a_stalled_reader_and_resumed_when_it_catches_up() {
    let sim = run(presets::flow_control());
    let publisher = flow(&sim, "publisher");
    let states: Vec<&str> = publisher.iter().map(|(_, s)| *s).collect();
    assert_eq!(states, ["paused", "resumed", "paused", "resumed"]);
    // First pause: napper stopped reading at 100 ms and reads again at 400.
    assert!((100..400).contains(&publisher[0].0), "{publisher:?}");
    assert!((400..450).contains(&publisher[1].0), "{publisher:?}");
    // The backed-up readers are paused themselves (they are not reading
    // their replies); napper resumes, stuck never does.
    assert_eq!(
        flow(&sim, "napper"),
        [(publisher[0].0, "paused"), (publisher[1].0, "resumed")]
    );
    assert_eq!(flow(&sim, "stuck"), [(publisher[2].0, "paused")]);
    assert!(flow(&sim, "reader").is_empty(), "reader kept up throughout");
    // The publisher's messages sent while it was paused waited in the
    // network: the hub read them only after it resumed.
    let late = sim
        .trace()
        .entries()
        .iter()
        .filter(|e| {
            matches!(e, Entry::Arrive { client, dir: Direction::ToHub, t, sent, .. }
                if client == "publisher" && *t >= publisher[1].0 && *sent < publisher[0].0 + 100)
        })
        .count();
    assert!(
        late > 0,
        "nothing of the publisher's waited while it was paused"
    );
}

#[test]
fn only_the_reader_that_stopped_for_good_is_cut_after_the_write_deadline() {
    let scenario = presets::flow_control();
    let deadline = scenario.hub.write_deadline_ms.unwrap();
    let sim = run(scenario);
    assert_eq!(hub_closes(&sim), [("stuck".into(), "slow_consumer".into())]);
    let (at, _, dropped) = hub_close(&sim, "stuck");
    // stuck stopped at 1000 ms; its queue stopped moving a little later.
    // The core checks the deadline every quarter of it.
    assert!(
        (1000 + deadline..1000 + deadline + deadline / 4 + 100).contains(&at),
        "cut at {at}"
    );
    assert!(dropped > 0, "the unsent frames were dropped, not sent");
    // The publisher was released at the moment stuck went.
    assert_eq!(flow(&sim, "publisher")[3], (at, "resumed"));
    let state = sim.state();
    assert!(state.done);
    assert!(state.clients.iter().all(|c| !c.paused));
    let names: Vec<_> = state.sessions.iter().map(|s| s.alias.clone()).collect();
    assert_eq!(
        names,
        [
            Some("publisher".into()),
            Some("reader".into()),
            Some("napper".into())
        ]
    );
}

#[test]
fn the_stuck_reader_gets_whole_frames_then_its_bye_and_nothing_after() {
    let sim = run(presets::flow_control());
    let stream = bytes_to(&sim, "stuck");
    assert!(stream.ends_with(b"\n"), "the stream ends inside a frame");
    let lines: Vec<serde_json::Value> = stream
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).expect("every line is a whole frame"))
        .collect();
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "bye");
    assert_eq!(last["reason"], "slow_consumer");
    assert_eq!(
        lines.iter().filter(|l| l["type"] == "bye").count(),
        1,
        "one farewell, last"
    );
    // What it got before the bye is the start of what was published, in order.
    let infos: Vec<String> = stream
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(br#"{"type":"info""#))
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect();
    assert!(infos.len() > FLOW_BURST && infos.len() < 2 * FLOW_BURST);
    assert_eq!(infos[..], published()[..infos.len()]);
    // Its connection then ended: the client saw the close after the bye.
    let closed_at_client = sim.trace().entries().iter().any(
        |e| matches!(e, Entry::Close { client, at: "client", reason, .. } if client == "stuck" && reason == "slow_consumer"),
    );
    assert!(closed_at_client);
}

#[test]
fn every_other_reader_gets_every_message_once_in_order() {
    let sim = run(presets::flow_control());
    let got = info_deliveries(&sim);
    assert_eq!(got["reader"], published());
    assert_eq!(got["napper"], published());
    assert!(!got.contains_key("publisher"), "`*` goes to everyone else");
}

#[test]
fn network_faults_change_when_never_who_gets_what() {
    let clean = run(presets::flow_control());
    let expected = info_deliveries(&clean);
    for seed in 0..40 {
        let mut scenario = presets::flow_control();
        scenario.seed = seed;
        scenario.faults.enabled = true;
        scenario.faults.max_delay_ms = 5;
        let sim = run(scenario);
        let got = info_deliveries(&sim);
        assert_eq!(got["reader"], expected["reader"], "seed {seed}");
        assert_eq!(got["napper"], expected["napper"], "seed {seed}");
        assert_eq!(hub_closes(&sim), hub_closes(&clean), "seed {seed}");
        let stream = bytes_to(&sim, "stuck");
        assert!(
            stream.ends_with(b"\"}\n"),
            "seed {seed}: stuck's stream ends mid-frame"
        );
    }
}

#[test]
fn without_a_write_deadline_the_stuck_reader_holds_the_publisher_back() {
    let mut scenario = presets::flow_control();
    scenario.hub.write_deadline_ms = None;
    let sim = run(scenario);
    assert!(hub_closes(&sim).is_empty());
    let publisher = flow(&sim, "publisher");
    assert_eq!(publisher.last().unwrap().1, "paused");
    let state = sim.state();
    assert!(state.done, "the run ends with the publisher still paused");
    let stuck = state.clients.iter().find(|c| c.name == "stuck").unwrap();
    assert!(stuck.queued > 0 && stuck.in_socket > 0);
    assert_eq!(
        stuck.in_socket,
        presets::flow_control().network.socket_buffer_bytes,
        "the socket holds exactly its buffer"
    );
    let reader = info_deliveries(&sim)["reader"].len();
    assert!(reader < 2 * FLOW_BURST, "messages held back: {reader}");
}

fn script(steps: Vec<Step>) -> Scenario {
    let mut scenario = Scenario::from_json("{}").unwrap();
    scenario.steps = steps;
    scenario
}

#[test]
fn the_hub_counts_exactly_what_the_socket_could_not_take() {
    let mut scenario = script(vec![
        Step::now(Action::Connect { client: "a".into() }),
        Step::now(Action::StopReading { client: "a".into() }),
    ]);
    for n in 0..40 {
        scenario.steps.push(Step::now(Action::Broadcast {
            message: common::msg(json!({"n": n, "pad": "x".repeat(200)})),
        }));
    }
    scenario.network.socket_buffer_bytes = 1000;
    scenario.hub.write_deadline_ms = None;
    let sim = run(scenario);
    let a = &sim.state().clients[0];
    assert_eq!(a.in_socket, 1000);
    assert_eq!(a.unread, 1000, "everything in the socket has arrived");
    let session = sim.hub().sessions().next().unwrap().handle;
    assert_eq!(sim.hub().queued_bytes(session), Some(a.queued));
    assert!(a.queued > 0);
}

#[test]
fn a_half_closed_client_gets_its_replies_then_bye() {
    let sim = run(script(vec![
        Step::now(Action::Connect { client: "a".into() }),
        Step::at(
            10,
            Action::Write {
                client: "a".into(),
                data: r#"{"type":"ping"}{"type":"sync","clientName":"小明"}"#.into(),
            },
        ),
        Step::at(10, Action::HalfClose { client: "a".into() }),
        Step::at(10, Action::Ping { client: "a".into() }),
    ]));
    let got = common::deliveries(&sim);
    let types: Vec<String> = got["a"]
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["type"].to_string())
        .collect();
    assert_eq!(types, [r#""pong""#, r#""synced""#, r#""bye""#]);
    assert!(got["a"][2].contains(r#""reason":"peer_closed""#));
    let eofs: Vec<&str> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Eof { at, .. } => Some(*at),
            _ => None,
        })
        .collect();
    assert_eq!(eofs, ["client", "hub"]);
    let skipped =
        sim.trace().entries().iter().any(
            |e| matches!(e, Entry::Skip { reason, .. } if reason == "a has shut its write side"),
        );
    assert!(skipped, "a write after the half-close is refused");
    assert_eq!(sim.hub().session_count(), 0);
}

#[test]
fn a_paused_clients_end_of_stream_waits_behind_its_data() {
    // A reader that stopped reading, whose own requests are then held: its
    // half-close reaches the hub only once the hub reads it again.
    let mut scenario = script(vec![
        Step::now(Action::Connect { client: "a".into() }),
        Step::now(Action::StopReading { client: "a".into() }),
    ]);
    for n in 0..8 {
        scenario.steps.push(Step::now(Action::Broadcast {
            message: common::msg(json!({"n": n, "pad": "y".repeat(200)})),
        }));
    }
    scenario.steps.extend([
        Step::now(Action::Ping { client: "a".into() }),
        Step::now(Action::HalfClose { client: "a".into() }),
        Step::at(500, Action::ResumeReading { client: "a".into() }),
    ]);
    scenario.network.socket_buffer_bytes = 300;
    scenario.hub.high_watermark = 1000;
    scenario.hub.low_watermark = 100;
    scenario.hub.max_frame_len = 1024;
    scenario.hub.max_queued_bytes = 4096;
    let sim = run(scenario);
    let states: Vec<&str> = flow(&sim, "a").iter().map(|(_, s)| *s).collect();
    assert_eq!(states, ["paused", "resumed"]);
    let hub_eof = sim
        .trace()
        .entries()
        .iter()
        .find_map(|e| match e {
            Entry::Eof { t, at: "hub", .. } => Some(*t),
            _ => None,
        })
        .unwrap();
    assert!(hub_eof >= 500, "the hub read the end at {hub_eof}");
    let got = common::deliveries(&sim);
    let lines = &got["a"];
    assert_eq!(lines.len(), 8 + 2, "8 broadcasts, the pong, the bye");
    assert!(lines[8].contains("pong") && lines[9].contains("peer_closed"));
}
