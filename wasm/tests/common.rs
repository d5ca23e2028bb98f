//! Helpers shared by the simulator's native tests.

#![allow(dead_code)]

use std::collections::BTreeMap;

use tcphub_core::{CloseReason, ErrorCode};
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

/// Every close reason and error code in the trace is one the core defines
/// (`CloseReason::ALL`, `ErrorCode::ALL`), and every line a client read is
/// a frame: the simulator makes up no words of its own, apart from how a
/// client ended its own connection (`disconnect`, or `reset` for a drop).
pub fn words_are_the_cores(sim: &Simulator) -> Result<(), String> {
    let reason_ok = |r: &str| CloseReason::ALL.iter().any(|c| c.as_str() == r);
    let code_ok = |c: Option<&str>| c.and_then(ErrorCode::from_wire).is_some();
    for entry in sim.trace().entries() {
        let ok = match entry {
            Entry::Close { at, reason, .. } => {
                reason_ok(reason)
                    || reason == "reset"
                    || (*at == "client" && reason == "disconnect")
            }
            Entry::Event {
                event: "closed",
                detail,
                ..
            } => detail
                .as_ref()
                .and_then(|d| serde_json::from_str::<String>(d.get()).ok())
                .is_some_and(|r| reason_ok(&r)),
            Entry::Event {
                event: "protocol_error",
                detail,
                ..
            } => detail
                .as_ref()
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d.get()).ok())
                .is_some_and(|d| code_ok(d["code"].as_str())),
            Entry::Deliver { frame, line, .. } => {
                let line: serde_json::Value = serde_json::from_str(line.get()).unwrap_or_default();
                match frame.as_str() {
                    "error" => code_ok(line["code"].as_str()),
                    "bye" => line["reason"].as_str().is_some_and(reason_ok),
                    "garbled" => false,
                    _ => true,
                }
            }
            _ => true,
        };
        if !ok {
            return Err(format!(
                "not the core's word: {}",
                serde_json::to_string(entry).unwrap()
            ));
        }
    }
    Ok(())
}
