//! Scenarios that ship with the simulator.

use super::scenario::{FaultSettings, Scenario};
use super::step::{message, Action, Step};

/// Names of the presets, in the order the page lists them.
pub const PRESET_NAMES: [&str; 3] = ["tutorial", "takeover", "faults"];

/// The preset called `name`.
pub fn preset(name: &str) -> Option<Scenario> {
    match name {
        "tutorial" => Some(tutorial()),
        "takeover" => Some(takeover()),
        "faults" => Some(faults()),
        _ => None,
    }
}

fn client(name: &str) -> String {
    name.to_owned()
}

/// The tutorial's run: Client-1 and Client-2 connect and sync, each sends an
/// `info` for the host three seconds later, and at ten seconds the host
/// broadcasts 大家来领物资了, tells Client-1 赶紧来做核酸了 and Client-2
/// 一会儿上门做核酸. The clients write exactly what the tutorial's clients
/// write: JSON with no delimiter, and a `clientName` in `info` that the hub
/// does not trust.
pub fn tutorial() -> Scenario {
    let mut steps = Vec::new();
    for name in ["Client-1", "Client-2"] {
        steps.push(Step::at(
            0,
            Action::Connect {
                client: client(name),
            },
        ));
        steps.push(Step::at(
            0,
            Action::Write {
                client: client(name),
                data: format!(
                    r#"{{"type":"sync","clientName":"{name}","message":"同步基础信息"}}"#
                ),
            },
        ));
    }
    for (name, message) in [("Client-1", "1111"), ("Client-2", "222")] {
        steps.push(Step::at(
            3000,
            Action::Write {
                client: client(name),
                data: format!(r#"{{"type":"info","clientName":"{name}","message":"{message}"}}"#),
            },
        ));
    }
    steps.push(Step::at(
        10_000,
        Action::Broadcast {
            message: message(r#""大家来领物资了""#),
        },
    ));
    steps.push(Step::at(
        10_000,
        Action::SendToAlias {
            alias: "Client-1".into(),
            message: message(r#""赶紧来做核酸了""#),
        },
    ));
    steps.push(Step::at(
        10_000,
        Action::SendToAlias {
            alias: "Client-2".into(),
            message: message(r#""一会儿上门做核酸""#),
        },
    ));
    Scenario {
        name: "tutorial".into(),
        description: "The tutorial: two clients sync, the host broadcasts to both and then \
                      sends one message to each alias; each client's info reaches the host."
            .into(),
        seed: 7,
        hub: Default::default(),
        network: Default::default(),
        faults: FaultSettings::default(),
        trace: Default::default(),
        steps,
    }
}

/// A client reconnects while its old connection is still open: under the
/// default `takeover` policy the new session gets the alias and the old one
/// is told why and closed.
pub fn takeover() -> Scenario {
    let steps = vec![
        Step::at(
            0,
            Action::Connect {
                client: client("phone"),
            },
        ),
        Step::now(Action::Sync {
            client: client("phone"),
            alias: "小明".into(),
        }),
        Step::now(Action::Connect {
            client: client("laptop"),
        }),
        Step::now(Action::Sync {
            client: client("laptop"),
            alias: "小红".into(),
        }),
        Step::at(
            1000,
            Action::Send {
                client: client("laptop"),
                to: Some("小明".into()),
                message: message(r#""在吗?""#),
            },
        ),
        Step::at(
            2000,
            Action::Connect {
                client: client("tablet"),
            },
        ),
        Step::now(Action::Sync {
            client: client("tablet"),
            alias: "小明".into(),
        }),
        Step::at(
            3000,
            Action::Send {
                client: client("laptop"),
                to: Some("小明".into()),
                message: message(r#""现在呢?""#),
            },
        ),
        Step::at(
            4000,
            Action::Send {
                client: client("tablet"),
                to: Some("*".into()),
                message: message(r#"{"status":"back online"}"#),
            },
        ),
    ];
    Scenario {
        name: "takeover".into(),
        description: "小明 moves from phone to tablet: the tablet takes the alias over and \
                      the phone's session is closed with reason taken_over."
            .into(),
        seed: 1,
        hub: Default::default(),
        network: Default::default(),
        faults: FaultSettings::default(),
        trace: Default::default(),
        steps,
    }
}

/// Three clients chatting over a bad network: writes cut and joined,
/// delays, and one client that stops reading.
pub fn faults() -> Scenario {
    let mut steps = Vec::new();
    for name in ["甲", "乙", "丙"] {
        steps.push(Step::now(Action::Connect {
            client: client(name),
        }));
        steps.push(Step::now(Action::Sync {
            client: client(name),
            alias: name.to_owned(),
        }));
    }
    steps.push(Step::now(Action::StopReading {
        client: client("丙"),
    }));
    for round in 0..6 {
        let at = 500 + round * 500;
        steps.push(Step::at(
            at,
            Action::Send {
                client: client("甲"),
                to: Some("乙".into()),
                message: message(&format!(r#""第{}条消息""#, round + 1)),
            },
        ));
        steps.push(Step::at(
            at,
            Action::Send {
                client: client("乙"),
                to: Some("*".into()),
                message: message(&format!(
                    r#"{{"round":{round},"text":"{}"}}"#,
                    "大家好".repeat(80)
                )),
            },
        ));
    }
    steps.push(Step::at(
        4000,
        Action::Write {
            client: client("甲"),
            data: "{\"type\":\"info\",\"message\":oops}\n".into(),
        },
    ));
    steps.push(Step::at(
        4500,
        Action::Broadcast {
            message: message(r#""演习结束""#),
        },
    ));
    Scenario {
        name: "faults".into(),
        description: "Three clients over a bad network: writes are cut and joined and \
                      delayed, 丙 stops reading and is closed as a slow consumer, 甲 sends \
                      bad JSON and is told so."
            .into(),
        seed: 3,
        hub: Default::default(),
        network: super::scenario::NetworkSettings {
            latency_ms: 2,
            max_queued_bytes: 2048,
        },
        faults: FaultSettings {
            enabled: true,
            ..FaultSettings::default()
        },
        trace: Default::default(),
        steps,
    }
}
