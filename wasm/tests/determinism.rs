//! Same scenario and seed, same trace, byte for byte; and the golden traces
//! that the Node test compares the WebAssembly build against.
//!
//! After a deliberate change of the simulator or of the hub's wire bytes,
//! regenerate them with `UPDATE_GOLDEN=1 cargo test -p tcphub-wasm --test determinism`
//! and review the diff.

mod common;

use std::path::PathBuf;

use common::run;
use tcphub_wasm::sim::{presets, Scenario, Simulator};

/// The runs the golden files hold: (file, preset, seed, faults on).
const GOLDEN: [(&str, &str, u64, bool); 7] = [
    ("tutorial-seed7.json", "tutorial", 7, false),
    ("tutorial-seed7-faults.json", "tutorial", 7, true),
    ("faults-seed3.json", "faults", 3, true),
    ("flow_control-seed9.json", "flow_control", 9, false),
    ("chat_room-seed11.json", "chat_room", 11, false),
    ("cluster-seed12.json", "cluster", 12, false),
    ("authentication-seed13.json", "authentication", 13, false),
];

fn golden_scenario(preset: &str, seed: u64, faults: bool) -> Scenario {
    let mut scenario = presets::preset(preset).expect("preset exists");
    scenario.seed = seed;
    scenario.faults.enabled = faults;
    scenario
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

#[test]
fn golden_traces_match() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (file, preset, seed, faults) in GOLDEN {
        let trace = run(golden_scenario(preset, seed, faults))
            .trace()
            .to_json_lines();
        let path = golden_dir().join(file);
        if update {
            std::fs::write(&path, &trace).unwrap();
            continue;
        }
        let golden = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run with UPDATE_GOLDEN=1", path.display()));
        assert!(
            trace == golden,
            "{file} differs from this run's trace; if the change is deliberate, \
             regenerate with UPDATE_GOLDEN=1 and review the diff"
        );
    }
}

#[test]
fn golden_scenarios_are_on_disk_for_the_node_test() {
    // The Node test replays exactly these scenarios in WebAssembly.
    for (file, preset, seed, faults) in GOLDEN {
        let scenario = golden_scenario(preset, seed, faults);
        let path = golden_dir().join(file.replace(".json", ".scenario.json"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, scenario.to_json()).unwrap();
            continue;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            Scenario::from_json(&on_disk).unwrap().to_json(),
            scenario.to_json(),
            "{file}"
        );
    }
}

#[test]
fn same_seed_same_trace_other_seed_other_trace() {
    for preset in presets::PRESET_NAMES {
        let mut scenario = presets::preset(preset).unwrap();
        scenario.faults.enabled = true;
        let a = run(scenario.clone()).trace().to_json_lines();
        let b = run(scenario.clone()).trace().to_json_lines();
        assert_eq!(a, b, "{preset}");
        scenario.seed += 1;
        let c = run(scenario).trace().to_json_lines();
        assert_ne!(a, c, "{preset}: the seed made no difference");
    }
}

#[test]
fn stepping_and_running_give_the_same_trace() {
    let whole = run(presets::faults()).trace().to_json_lines();
    let mut sim = Simulator::new(presets::faults()).unwrap();
    while sim.run(3) > 0 {}
    assert_eq!(sim.trace().to_json_lines(), whole);
}

#[test]
fn a_recorded_run_replays_exactly() {
    // A run with clicks in the middle, saved and loaded again.
    let mut scenario = presets::tutorial();
    scenario.faults.enabled = true;
    let mut sim = Simulator::new(scenario).unwrap();
    sim.run(25);
    sim.act(tcphub_wasm::sim::Action::Send {
        client: "Client-2".into(),
        to: Some("Client-1".into()),
        room: None,
        message: common::msg(serde_json::json!({"hello": "世界"})),
    });
    sim.act(tcphub_wasm::sim::Action::Faults { enabled: false });
    sim.run_to_end();
    let saved = sim.recorded_scenario().to_json();
    let replay = run(Scenario::from_json(&saved).unwrap());
    assert_eq!(replay.trace().to_json_lines(), sim.trace().to_json_lines());
}
