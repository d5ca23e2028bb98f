//! Helpers shared by the simulator's native tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use tcphub_wasm::sim::{Entry, Scenario, Simulator};

/// Runs a scenario to the end.
pub fn run(scenario: Scenario) -> Simulator {
    let mut sim = Simulator::new(scenario).expect("scenario is valid");
    sim.run_to_end();
    sim
}

/// What each client read, in order: the lines without times.
pub fn deliveries(sim: &Simulator) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in sim.trace().entries() {
        if let Entry::Deliver { client, line, .. } = entry {
            out.entry(client.clone())
                .or_default()
                .push(line.get().to_owned());
        }
    }
    out
}

/// Only the `info` frames each client read.
pub fn info_deliveries(sim: &Simulator) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in sim.trace().entries() {
        if let Entry::Deliver {
            client,
            line,
            frame,
            ..
        } = entry
        {
            if frame == "info" {
                out.entry(client.clone())
                    .or_default()
                    .push(line.get().to_owned());
            }
        }
    }
    out
}

/// What reached the host: (sender alias, message) in order.
pub fn host_messages(sim: &Simulator) -> Vec<(Option<String>, String)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Event {
                event: "message",
                alias,
                detail,
                ..
            } => Some((alias.clone(), detail.as_ref().unwrap().to_string())),
            _ => None,
        })
        .collect()
}

/// Close reasons seen by the hub, per client.
pub fn hub_closes(sim: &Simulator) -> Vec<(String, String)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Close {
                client,
                at: "hub",
                reason,
                ..
            } => Some((client.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

/// Whether `small` is `big` with some items left out.
pub fn is_subsequence(small: &[String], big: &[String]) -> bool {
    let mut rest = big.iter();
    small.iter().all(|item| rest.any(|b| b == item))
}

/// What reached the host, per sender: order between senders is timing.
pub fn host_messages_by_sender(sim: &Simulator) -> BTreeMap<Option<String>, Vec<String>> {
    let mut out: BTreeMap<Option<String>, Vec<String>> = BTreeMap::new();
    for (sender, message) in host_messages(sim) {
        out.entry(sender).or_default().push(message);
    }
    out
}

/// A message for a step, from a `json!` value.
pub fn msg(value: serde_json::Value) -> Box<serde_json::value::RawValue> {
    serde_json::value::to_raw_value(&value).unwrap()
}
