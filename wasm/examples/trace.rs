//! Prints the trace of a preset or a scenario file, one entry per line.
//!
//! `cargo run -p tcphub-wasm --example trace -- tutorial [SEED] [--faults]`
//! or `... -- path/to/scenario.json`.

use tcphub_wasm::sim::{presets, Scenario, Simulator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args.first().map_or("tutorial", String::as_str);
    let mut scenario = match presets::preset(name) {
        Some(preset) => preset,
        None => Scenario::from_json(&std::fs::read_to_string(name)?)?,
    };
    if let Some(seed) = args.get(1).and_then(|s| s.parse().ok()) {
        scenario.seed = seed;
    }
    if args.iter().any(|a| a == "--faults") {
        scenario.faults.enabled = true;
    }
    let mut sim = Simulator::new(scenario)?;
    sim.run_to_end();
    print!("{}", sim.trace().to_json_lines());
    eprintln!("{}", serde_json::to_string(&sim.stats())?);
    Ok(())
}
