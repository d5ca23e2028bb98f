//! The JavaScript face of the simulator: a thin `#[wasm_bindgen]` newtype
//! over [`sim::Simulator`], in the automerge-wasm manner. Names are
//! camelCase for JS; structured data crosses as JSON strings (the trace,
//! the state, scenarios), which keeps this layer free of logic and the
//! bytes identical to what native code produces; errors are `JsError`s.

use wasm_bindgen::prelude::*;

use crate::sim::{self, presets, Scenario, SimError, Step};

/// A deterministic run of one scenario around the real hub state machine.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Simulator(sim::Simulator);

#[wasm_bindgen]
impl Simulator {
    /// Starts the scenario given as JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(scenario_json: &str) -> Result<Simulator, JsError> {
        Ok(Simulator(
            sim::Simulator::from_json(scenario_json).map_err(js)?,
        ))
    }

    /// Starts a preset by name (one of `presetNames()`).
    #[wasm_bindgen(js_name = fromPreset)]
    pub fn from_preset(name: &str) -> Result<Simulator, JsError> {
        let scenario = preset(name)?;
        Ok(Simulator(sim::Simulator::new(scenario).map_err(js)?))
    }

    /// The names of the presets.
    #[wasm_bindgen(js_name = presetNames)]
    pub fn preset_names() -> Vec<String> {
        presets::PRESET_NAMES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    /// A preset as scenario JSON, to edit or save.
    #[wasm_bindgen(js_name = presetJson)]
    pub fn preset_json(name: &str) -> Result<String, JsError> {
        Ok(preset(name)?.to_json())
    }

    /// Does the next thing; `false` when nothing is left.
    pub fn step(&mut self) -> bool {
        self.0.step()
    }

    /// Runs up to `maxSteps` steps; returns how many ran.
    pub fn run(&mut self, max_steps: u32) -> u32 {
        // At most `max_steps` ran, so the count fits back in a u32.
        self.0.run(u64::from(max_steps)) as u32
    }

    /// Runs until nothing is left; returns how many steps ran.
    #[wasm_bindgen(js_name = runToEnd)]
    pub fn run_to_end(&mut self) -> f64 {
        self.0.run_to_end() as f64
    }

    /// Queues an action (scenario step JSON without `at`, such as
    /// `{"action":"send","client":"Client-2","to":"Client-1","message":"hi"}`,
    /// or with `"node":"n2"` for a connect or host command in a cluster)
    /// to run as soon as the network settles, before the rest of the script.
    pub fn act(&mut self, action_json: &str) -> Result<(), JsError> {
        let step = Step::from_json(action_json).map_err(|e| js(SimError::Action(e)))?;
        if step.at.is_some() {
            return Err(js(SimError::Action(
                "an action runs as soon as the network settles: leave out \"at\"".into(),
            )));
        }
        self.0.act_step(step);
        Ok(())
    }

    /// Virtual time, ms.
    #[wasm_bindgen(getter)]
    pub fn now(&self) -> f64 {
        self.0.now() as f64
    }

    /// Whether nothing is left to happen.
    #[wasm_bindgen(getter)]
    pub fn done(&self) -> bool {
        self.0.is_done()
    }

    /// How many trace entries there are so far.
    #[wasm_bindgen(getter, js_name = traceLength)]
    pub fn trace_length(&self) -> u32 {
        self.0.trace().entries().len() as u32
    }

    /// The trace entries from index `from` (default 0) on, as a JSON array.
    #[wasm_bindgen(js_name = traceJson)]
    pub fn trace_json(&self, from: Option<u32>) -> String {
        self.0.trace().to_json_from(from.unwrap_or(0) as usize)
    }

    /// The whole trace in the golden-file format: one entry per line.
    #[wasm_bindgen(js_name = traceJsonLines)]
    pub fn trace_json_lines(&self) -> String {
        self.0.trace().to_json_lines()
    }

    /// Clients, the hub's session table and the counters, as JSON.
    #[wasm_bindgen(js_name = stateJson)]
    pub fn state_json(&self) -> String {
        serde_json::to_string(&self.0.state()).expect("the state always serializes")
    }

    /// The counters, as JSON.
    #[wasm_bindgen(js_name = statsJson)]
    pub fn stats_json(&self) -> String {
        serde_json::to_string(&self.0.stats()).expect("the counters always serialize")
    }

    /// The run so far as a scenario that replays it exactly, as JSON.
    #[wasm_bindgen(js_name = recordedScenarioJson)]
    pub fn recorded_scenario_json(&self) -> String {
        self.0.recorded_scenario().to_json()
    }

    /// The scenario as it was loaded, as JSON.
    #[wasm_bindgen(js_name = scenarioJson)]
    pub fn scenario_json(&self) -> String {
        self.0.scenario().to_json()
    }
}

fn preset(name: &str) -> Result<Scenario, JsError> {
    presets::preset(name).ok_or_else(|| js(SimError::UnknownPreset(name.to_owned())))
}

fn js(error: SimError) -> JsError {
    JsError::new(&error.to_string())
}
