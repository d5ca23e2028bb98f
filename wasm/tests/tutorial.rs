//! The tutorial preset: the deliveries the tutorial promises, with and
//! without faults.

mod common;

use common::{deliveries, host_messages, host_messages_by_sender, run};
use tcphub_wasm::sim::{presets, Entry};

fn info(message: &str) -> String {
    format!(r##"{{"type":"info","from":"#hub","message":"{message}"}}"##)
}

fn synced(alias: &str, addr: &str) -> String {
    format!(r#"{{"type":"synced","clientName":"{alias}","sessionId":"{addr}"}}"#)
}

#[test]
fn tutorial_gives_the_tutorials_deliveries() {
    let sim = run(presets::tutorial());
    let got = deliveries(&sim);
    assert_eq!(
        got["Client-1"],
        [
            synced("Client-1", "10.0.0.1:40001"),
            info("大家来领物资了"),
            info("赶紧来做核酸了"),
        ]
    );
    assert_eq!(
        got["Client-2"],
        [
            synced("Client-2", "10.0.0.2:40001"),
            info("大家来领物资了"),
            info("一会儿上门做核酸"),
        ]
    );
    assert_eq!(got.len(), 2, "nobody else read anything");
    // The sender is who the session synced as; the `clientName` the
    // tutorial puts in `info` is not trusted (and here agrees anyway).
    assert_eq!(
        host_messages(&sim),
        [
            (Some("Client-1".into()), "\"1111\"".into()),
            (Some("Client-2".into()), "\"222\"".into()),
        ]
    );
    let state = sim.state();
    assert!(state.done);
    let table: Vec<(String, Option<String>)> = state
        .sessions
        .iter()
        .map(|s| (s.session_id.clone(), s.alias.clone()))
        .collect();
    assert_eq!(
        table,
        [
            ("10.0.0.1:40001".into(), Some("Client-1".into())),
            ("10.0.0.2:40001".into(), Some("Client-2".into())),
        ]
    );
}

#[test]
fn the_host_messages_arrive_at_ten_seconds() {
    let sim = run(presets::tutorial());
    let times: Vec<u64> = sim
        .trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Deliver { t, frame, .. } if frame == "info" => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(times.len(), 4);
    assert!(
        times.iter().all(|t| (10_000..10_010).contains(t)),
        "{times:?}"
    );
}

#[test]
fn faults_change_when_not_what_for_many_seeds() {
    let clean = run(presets::tutorial());
    let expected = (deliveries(&clean), host_messages_by_sender(&clean));
    let mut cut = 0;
    let mut joined = 0;
    let mut later = 0;
    for seed in 0..300 {
        let mut scenario = presets::tutorial();
        scenario.seed = seed;
        scenario.faults.enabled = true;
        let sim = run(scenario);
        assert_eq!(
            (deliveries(&sim), host_messages_by_sender(&sim)),
            expected,
            "seed {seed} changed what arrived where"
        );
        for entry in sim.trace().entries() {
            match entry {
                Entry::Write { pieces, .. } if *pieces > 1 => cut += 1,
                Entry::Write { joined: true, .. } => joined += 1,
                _ => {}
            }
        }
        if sim.now() > clean.now() {
            later += 1;
        }
    }
    // The faults really happened: otherwise this test proves nothing.
    assert!(cut > 300, "only {cut} writes were cut");
    assert!(joined > 0, "no write was ever joined");
    assert!(later > 250, "delays moved only {later} runs");
}

#[test]
fn splits_fall_inside_multibyte_characters() {
    let mut inside = 0;
    for seed in 0..100 {
        let mut scenario = presets::tutorial();
        scenario.seed = seed;
        scenario.faults.enabled = true;
        let sim = run(scenario);
        inside += sim
            .trace()
            .entries()
            .iter()
            .filter(|e| matches!(e, Entry::Arrive { bytes, .. } if bytes.hex.is_some()))
            .count();
    }
    assert!(inside > 0, "no cut ever fell inside a character");
}
