//! The browser benchmark's scenario, natively, for comparison with the
//! Node and Chromium figures (`node wasm/bench/node.mjs`, `.../browser.mjs`).
//!
//! `cargo run --release -p tcphub-wasm --example bench`

use std::time::Instant;

use tcphub_wasm::sim::{message, Action, Scenario, Simulator, Step, TraceLevel};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let clients = 1000;
    let messages = 300;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let mut scenario = Scenario::from_json("{}")?;
        scenario.trace = TraceLevel::None;
        for i in 0..clients {
            scenario.steps.push(Step::now(Action::Connect {
                client: format!("c{i}"),
            }));
            scenario.steps.push(Step::now(Action::Sync {
                client: format!("c{i}"),
                alias: format!("alias-{i}"),
                last_will: None,
                token: None,
            }));
        }
        let mut sim = Simulator::new(scenario)?;
        sim.run_to_end();
        for m in 0..messages {
            sim.act(Action::Broadcast {
                message: message(&format!(r#"{{"n":{m},"text":"大家来领物资了"}}"#)),
            });
        }
        let before = sim.stats().deliveries;
        let start = Instant::now();
        sim.run_to_end();
        let seconds = start.elapsed().as_secs_f64();
        let deliveries = sim.stats().deliveries - before;
        assert_eq!(deliveries, (clients * messages) as u64);
        best = best.max(deliveries as f64 / seconds);
    }
    println!("native: 1,000-client broadcast: {best:.0} simulated deliveries/s (best of 3)");
    Ok(())
}
