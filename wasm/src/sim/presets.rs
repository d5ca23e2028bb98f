//! Scenarios that ship with the simulator.

use super::scenario::{ClusterSettings, FaultSettings, HubSettings, NetworkSettings, Scenario};
use super::step::{message, Action, Step, WatchScope};

/// Makes one preset.
pub type MakePreset = fn() -> Scenario;

// Each preset's name, written once: for the table and the scenario's `name`.
const TUTORIAL: &str = "tutorial";
const TAKEOVER: &str = "takeover";
const FAULTS: &str = "faults";
const FLOW_CONTROL: &str = "flow_control";
const CHAT_ROOM: &str = "chat_room";
const CLUSTER: &str = "cluster";
const AUTHENTICATION: &str = "authentication";

/// Every preset by name, in the order the page lists them (the first is
/// the one it loads): the one list that the page, the bindings, the errors
/// and the tests all read.
pub const PRESETS: [(&str, MakePreset); 7] = [
    (TUTORIAL, tutorial),
    (TAKEOVER, takeover),
    (FAULTS, faults),
    (FLOW_CONTROL, flow_control),
    (CHAT_ROOM, chat_room),
    (CLUSTER, cluster),
    (AUTHENTICATION, authentication),
];

/// Names of the presets, in the order the page lists them.
pub const PRESET_NAMES: [&str; PRESETS.len()] = {
    let mut names = [""; PRESETS.len()];
    let mut i = 0;
    while i < PRESETS.len() {
        names[i] = PRESETS[i].0;
        i += 1;
    }
    names
};

/// The preset called `name`.
pub fn preset(name: &str) -> Option<Scenario> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, make)| make())
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
        name: TUTORIAL.into(),
        description: "The tutorial: two clients sync, the host broadcasts to both and then \
                      sends one message to each alias; each client's info reaches the host."
            .into(),
        seed: 7,
        hub: Default::default(),
        network: Default::default(),
        faults: FaultSettings::default(),
        trace: Default::default(),
        cluster: None,
        authenticator: None,
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
            last_will: None,
            token: None,
        }),
        Step::now(Action::Connect {
            client: client("laptop"),
        }),
        Step::now(Action::Sync {
            client: client("laptop"),
            alias: "小红".into(),
            last_will: None,
            token: None,
        }),
        Step::at(
            1000,
            Action::Send {
                client: client("laptop"),
                to: Some("小明".into()),
                room: None,
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
            last_will: None,
            token: None,
        }),
        Step::at(
            3000,
            Action::Send {
                client: client("laptop"),
                to: Some("小明".into()),
                room: None,
                message: message(r#""现在呢?""#),
            },
        ),
        Step::at(
            4000,
            Action::Send {
                client: client("tablet"),
                to: Some("*".into()),
                room: None,
                message: message(r#"{"status":"back online"}"#),
            },
        ),
    ];
    Scenario {
        name: TAKEOVER.into(),
        description: "小明 moves from phone to tablet: the tablet takes the alias over and \
                      the phone's session is closed with reason taken_over."
            .into(),
        seed: 1,
        hub: Default::default(),
        network: Default::default(),
        faults: FaultSettings::default(),
        trace: Default::default(),
        cluster: None,
        authenticator: None,
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
            last_will: None,
            token: None,
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
                room: None,
                message: message(&format!(r#""第{}条消息""#, round + 1)),
            },
        ));
        steps.push(Step::at(
            at,
            Action::Send {
                client: client("乙"),
                to: Some("*".into()),
                room: None,
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
        name: FAULTS.into(),
        description: "Three clients over a bad network: writes are cut and joined and \
                      delayed, 丙 stops reading and, once its socket is full and nothing more \
                      could be written to it for a second, is closed as a slow consumer; 甲 \
                      sends bad JSON and is told so."
            .into(),
        seed: 3,
        hub: HubSettings {
            write_deadline_ms: Some(1000),
            ..HubSettings::default()
        },
        network: NetworkSettings {
            latency_ms: 2,
            socket_buffer_bytes: 2048,
        },
        faults: FaultSettings {
            enabled: true,
            ..FaultSettings::default()
        },
        trace: Default::default(),
        cluster: None,
        authenticator: None,
        steps,
    }
}

/// How many messages the publisher sends in each burst of [`flow_control`].
pub const FLOW_BURST: usize = 12;

/// Flow control at work: `publisher` sends two bursts of `*` messages
/// (one every 10 ms) to `reader`, `napper` and `stuck`, with a small socket
/// buffer and low watermarks so the numbers stay readable.
///
/// - At 100 ms `napper` stops reading. Its socket fills, its queue at the
///   hub passes the high watermark, and the hub stops reading `publisher`
///   (its later messages wait in the network). At 400 ms `napper` reads
///   again; once its queue is below the low watermark the publisher
///   resumes. Nobody is cut and nothing is lost.
/// - At 1000 ms `stuck` stops reading for good. The publisher is paused on
///   its account again; after the write deadline (1 s) with nothing
///   written, the hub closes `stuck` as a slow consumer: the frame it had
///   begun is finished, the rest dropped, its `bye` written last. The
///   publisher resumes at once and `reader` and `napper` get every message.
pub fn flow_control() -> Scenario {
    let mut steps = vec![Step::at(
        0,
        Action::Connect {
            client: client("publisher"),
        },
    )];
    for name in ["publisher", "reader", "napper", "stuck"] {
        if name != "publisher" {
            steps.push(Step::now(Action::Connect {
                client: client(name),
            }));
        }
        steps.push(Step::now(Action::Sync {
            client: client(name),
            alias: name.to_owned(),
            last_will: None,
            token: None,
        }));
    }
    for (burst, start, stops) in [(1, 100, "napper"), (2, 1000, "stuck")] {
        steps.push(Step::at(
            start,
            Action::StopReading {
                client: client(stops),
            },
        ));
        for n in 0..FLOW_BURST {
            steps.push(Step::at(
                start + 10 * n as u64,
                Action::Send {
                    client: client("publisher"),
                    to: Some("*".into()),
                    room: None,
                    message: message(&format!(
                        r#"{{"burst":{burst},"n":{n},"text":"大家来领物资了"}}"#
                    )),
                },
            ));
        }
        if burst == 1 {
            steps.push(Step::at(
                400,
                Action::ResumeReading {
                    client: client("napper"),
                },
            ));
        }
    }
    Scenario {
        name: FLOW_CONTROL.into(),
        description: "A publisher bursts * messages to three readers. napper stops reading \
                      for 300 ms: the hub pauses the publisher until napper catches up, and \
                      nobody is cut. stuck stops reading for good: the publisher is paused \
                      again until, after the 1 s write deadline, the hub closes stuck as a \
                      slow consumer (whole frames, then its bye) and the publisher goes on."
            .into(),
        seed: 9,
        hub: HubSettings {
            max_frame_len: 1024,
            high_watermark: 512,
            low_watermark: 128,
            max_queued_bytes: 4096,
            write_deadline_ms: Some(1000),
            ..HubSettings::default()
        },
        network: NetworkSettings {
            latency_ms: 2,
            socket_buffer_bytes: 256,
        },
        faults: FaultSettings::default(),
        trace: Default::default(),
        cluster: None,
        authenticator: None,
        steps,
    }
}

/// The room of [`chat_room`].
pub const LOBBY: &str = "lobby";

/// A chat room with a bot, over rooms, presence, last wills and the
/// host's observation (`observe` on, so every relay is a `relayed` event).
///
/// - `alice`, `bob`, `carol` and `time-bot` sync and join `lobby`. `alice`
///   and `bob` leave a last will for the room; `alice` watches the room's
///   members (so she sees the others join) and `carol` the alias `bob`.
/// - They talk in the room; `carol` asks `!time` and `time-bot` answers.
///   The simulator's clients follow their script, so the bot's answer is
///   its scripted step a quarter of a second after the question (faults
///   move arrivals by at most 30 ms by default, so it always comes after).
/// - The host announces to the room with `send_to_room`.
/// - At 5 s `bob`'s connection drops without a `bye`: the hub closes him
///   as `peer_closed` and sends his last will to the room (`lastWill`:
///   true); `alice` and `carol` are told `presence` `closed`.
/// - `carol` leaves the room (`alice` is told `left`); `alice` says `bye`,
///   a clean close, so her last will is never sent.
pub fn chat_room() -> Scenario {
    let will = |text: &str| message(&format!(r#"{{"room":"{LOBBY}","message":"{text}"}}"#));
    let room = || Some(LOBBY.to_owned());
    let mut steps = Vec::new();
    for (name, last_will) in [
        ("alice", Some(will("alice left without a word"))),
        ("bob", Some(will("bob's connection dropped"))),
        ("carol", None),
        ("time-bot", None),
    ] {
        steps.push(Step::now(Action::Connect {
            client: client(name),
        }));
        steps.push(Step::now(Action::Sync {
            client: client(name),
            alias: name.to_owned(),
            last_will,
            token: None,
        }));
        steps.push(Step::now(Action::Join {
            client: client(name),
            room: LOBBY.into(),
        }));
        // alice watches the room's members from the start; carol, only bob.
        let scope = match name {
            "alice" => WatchScope::Room(LOBBY.into()),
            "carol" => WatchScope::Aliases(vec!["bob".into()]),
            _ => continue,
        };
        steps.push(Step::now(Action::Watch {
            client: client(name),
            scope,
        }));
    }
    for (at, name, text) in [
        (1000, "alice", r#""hi everyone""#),
        (2000, "bob", r#""hey alice""#),
        (3000, "carol", r#""!time""#),
        (3250, "time-bot", r#"{"answer":"!time","time":"00:00:03"}"#),
    ] {
        steps.push(Step::at(
            at,
            Action::Send {
                client: client(name),
                to: None,
                room: room(),
                message: message(text),
            },
        ));
    }
    steps.push(Step::at(
        4000,
        Action::SendToRoom {
            room: LOBBY.into(),
            message: message(r#""the lobby closes at 00:00:10""#),
        },
    ));
    steps.push(Step::at(
        5000,
        Action::Drop {
            client: client("bob"),
        },
    ));
    steps.push(Step::at(
        6000,
        Action::Leave {
            client: client("carol"),
            room: LOBBY.into(),
        },
    ));
    steps.push(Step::at(
        7000,
        Action::Bye {
            client: client("alice"),
        },
    ));
    Scenario {
        name: CHAT_ROOM.into(),
        description: "A chat room with a bot: four clients join lobby and talk, carol asks \
                      !time and time-bot answers, the host announces to the room. bob's \
                      connection drops without a bye: his last will reaches the room and \
                      alice and carol, who watch, see him go. carol leaves; alice says bye, \
                      so her last will is never sent. The hub observes every relay."
            .into(),
        seed: 11,
        hub: HubSettings {
            observe: true,
            ..HubSettings::default()
        },
        network: Default::default(),
        faults: FaultSettings::default(),
        trace: Default::default(),
        cluster: None,
        authenticator: None,
        steps,
    }
}

/// The nodes of [`cluster`], in order.
pub const CLUSTER_NODES: [&str; 3] = ["n1", "n2", "n3"];

/// Three hub nodes over a backplane acting as one hub (takeover policy;
/// the backplane takes 2 ms each way, a crashed node's lease is 3 s).
///
/// - `Client-1` connects to `n1`, `Client-2` to `n2`, `Client-3` to `n3`,
///   and each syncs its alias: a claim the backplane's directory settles.
/// - At 1 s `Client-1` sends to `Client-2`: one `forward`, `n1` to `n2`.
///   At 2 s `Client-2` sends to `*`: one `publish`, to `n1` and `n3`. At
///   3 s the host on `n3` sends to `Client-2`.
/// - At 4 s `phone` connects to `n3` and syncs `Client-1`: the directory
///   grants it and sends `taken_over` to `n1`, whose `Client-1` gets `bye`
///   `taken_over`. At 5 s `Client-2`'s message to `Client-1` reaches
///   `phone` on `n3`.
/// - At 6 s `n2` crashes: `Client-2`'s connection is reset. At 6.5 s
///   `Client-3`'s message to `Client-2` still goes to `n2` (the other nodes
///   do not know yet) and is lost. At 9 s the lease runs out: the
///   directory frees `Client-2` and `n1` and `n3` are told `n2` is gone.
/// - At 10 s `Client-2` reconnects, to `n1`, and claims its alias again,
///   displacing nobody; at 11 s `Client-3`'s message reaches it there.
pub fn cluster() -> Scenario {
    let [n1, n2, n3] = CLUSTER_NODES;
    let mut steps = Vec::new();
    for (name, node) in [("Client-1", n1), ("Client-2", n2), ("Client-3", n3)] {
        steps.push(
            Step::now(Action::Connect {
                client: client(name),
            })
            .on(node),
        );
        steps.push(Step::now(Action::Sync {
            client: client(name),
            alias: name.to_owned(),
            last_will: None,
            token: None,
        }));
    }
    let send = |at, from: &str, to: &str, text: &str| {
        Step::at(
            at,
            Action::Send {
                client: client(from),
                to: Some(to.to_owned()),
                room: None,
                message: message(text),
            },
        )
    };
    steps.push(send(1000, "Client-1", "Client-2", r#""hi from n1""#));
    steps.push(send(2000, "Client-2", "*", r#""hello, every node""#));
    steps.push(
        Step::at(
            3000,
            Action::SendToAlias {
                alias: "Client-2".into(),
                message: message(r#""from the host on n3""#),
            },
        )
        .on(n3),
    );
    steps.push(
        Step::at(
            4000,
            Action::Connect {
                client: client("phone"),
            },
        )
        .on(n3),
    );
    steps.push(Step::now(Action::Sync {
        client: client("phone"),
        alias: "Client-1".into(),
        last_will: None,
        token: None,
    }));
    steps.push(send(
        5000,
        "Client-2",
        "Client-1",
        r#""which Client-1 is this?""#,
    ));
    steps.push(Step::at(6000, Action::CrashNode { node: n2.into() }));
    steps.push(send(6500, "Client-3", "Client-2", r#""are you there?""#));
    steps.push(
        Step::at(
            10_000,
            Action::Connect {
                client: client("Client-2"),
            },
        )
        .on(n1),
    );
    steps.push(Step::now(Action::Sync {
        client: client("Client-2"),
        alias: "Client-2".into(),
        last_will: None,
        token: None,
    }));
    steps.push(send(11_000, "Client-3", "Client-2", r#""welcome back""#));
    Scenario {
        name: CLUSTER.into(),
        description: "Three hub nodes over a backplane act as one hub. Client-1 is on n1, \
                      Client-2 on n2, Client-3 on n3: a message crosses from n1 to n2, a * \
                      reaches every node. phone on n3 takes over Client-1, and the old holder \
                      on n1 gets bye taken_over. n2 crashes: a message for Client-2 is lost \
                      until its 3 s lease runs out and the backplane frees its alias; \
                      Client-2 then reconnects to n1 and claims it again."
            .into(),
        seed: 12,
        hub: HubSettings::default(),
        network: NetworkSettings::default(),
        faults: FaultSettings::default(),
        trace: Default::default(),
        cluster: Some(ClusterSettings {
            nodes: CLUSTER_NODES.iter().map(|n| (*n).to_owned()).collect(),
            latency_ms: 2,
            lease_ms: 3000,
        }),
        authenticator: None,
        steps,
    }
}

/// How long the `authentication` preset's authenticator takes to answer.
pub const AUTH_DELAY_MS: u64 = 250;

/// The `authentication` preset's wrong guesses at `Client-1`'s token.
pub const AUTH_GUESSES: usize = 6;

/// A hub with authentication on, and an authenticator that answers after
/// [`AUTH_DELAY_MS`] from a table of credentials.
///
/// - `Client-1` syncs with its token and, right behind, sends the host a
///   message: the hub holds the session (its input kept) until the
///   authenticator grants the credential, as identity `alice`; then it is
///   `synced` and the message goes on.
/// - `Client-2` signs in with a restricted credential: it may relay only
///   to `Client-1`, not to `*`, and may not list.
/// - `ops` holds a valid credential for `Client-1` too, but as another
///   identity: its takeover is refused as `alias_taken`. It signs in as
///   `ops` instead.
/// - `Client-2` writes to `Client-1` (delivered), then to `ops`: `error`
///   `forbidden`, naming what was refused.
/// - `intruder` asks for the session list before signing in: `error`
///   `unauthorized`. Then it guesses `Client-1`'s token six times: each
///   is `unauthorized`, and after four failures from its address the hub
///   spaces its attempts, 0.5 s, then 1 s.
///
/// Written in the scenario format itself: a worked example of the
/// format's authentication fields, a third the length of the same preset
/// built in Rust, and no bigger in the .wasm (451 bytes smaller).
pub fn authentication() -> Scenario {
    Scenario::from_json(AUTHENTICATION_JSON).expect("the authentication preset is a valid scenario")
}

const AUTHENTICATION_JSON: &str = r#"{
"name": "authentication",
"description": "A hub with authentication on. Client-1 signs in with its token and waits for the authenticator's answer (its message to the host waits too). Client-2 may write only to Client-1: its message to ops is forbidden. ops has a valid credential for Client-1 but is another identity: alias_taken. intruder may not list before signing in, and its wrong guesses at Client-1's token are unauthorized, then spaced 0.5 s and 1 s apart.",
"seed": 13,
"hub": {"authentication": true},
"authenticator": {"delay_ms": 250, "credentials": [
  {"alias": "Client-1", "token": "c1-secret", "identity": "alice"},
  {"alias": "Client-2", "token": "c2-secret", "relay": ["Client-1"], "broadcast": false, "list": false},
  {"alias": "Client-1", "token": "ops-key", "identity": "ops"},
  {"alias": "ops", "token": "ops-key", "identity": "ops"}]},
"steps": [
  {"at": 0, "action": "connect", "client": "Client-1"},
  {"at": 0, "action": "sync", "client": "Client-1", "alias": "Client-1", "token": "c1-secret"},
  {"at": 0, "action": "send", "client": "Client-1", "message": "signed in"},
  {"action": "connect", "client": "Client-2"},
  {"action": "sync", "client": "Client-2", "alias": "Client-2", "token": "c2-secret"},
  {"action": "connect", "client": "ops"},
  {"action": "sync", "client": "ops", "alias": "Client-1", "token": "ops-key"},
  {"action": "sync", "client": "ops", "alias": "ops", "token": "ops-key"},
  {"action": "send", "client": "Client-2", "to": "Client-1", "message": "hi Client-1"},
  {"action": "send", "client": "Client-2", "to": "ops", "message": "hi ops"},
  {"action": "connect", "client": "intruder"},
  {"action": "list", "client": "intruder"},
  {"action": "sync", "client": "intruder", "alias": "Client-1", "token": "guess-1"},
  {"action": "sync", "client": "intruder", "alias": "Client-1", "token": "guess-2"},
  {"action": "sync", "client": "intruder", "alias": "Client-1", "token": "guess-3"},
  {"action": "sync", "client": "intruder", "alias": "Client-1", "token": "guess-4"},
  {"action": "sync", "client": "intruder", "alias": "Client-1", "token": "guess-5"},
  {"action": "sync", "client": "intruder", "alias": "Client-1", "token": "guess-6"}]
}"#;
