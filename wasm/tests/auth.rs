//! Authentication: the `authentication` preset's story (the session held
//! while the authenticator decides, a takeover refused across identities,
//! `forbidden`, `unauthorized` and the spacing of repeated failures), the
//! authenticator's answers on the simulated clock (late, missing, in a
//! cluster), and the format's new fields.

mod common;

use std::time::Duration;

use common::{deliveries, host_messages, run, words_are_the_cores};
use serde_json::json;
use tcphub_core::{FIRST_AUTH_SPACING, FREE_AUTH_FAILURES};
use tcphub_wasm::sim::presets::{self, AUTH_DELAY_MS, AUTH_GUESSES};
use tcphub_wasm::sim::{
    message, Action, AuthenticatorSettings, ClusterSettings, Credential, Entry, Scenario,
    Simulator, Step,
};

/// One `auth` entry of the trace, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Auth {
    t: u64,
    asked: Option<u64>,
    client: String,
    alias: String,
    state: &'static str,
    identity: Option<String>,
    late: bool,
    node: Option<String>,
}

fn auths(sim: &Simulator) -> Vec<Auth> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Auth {
                t,
                asked,
                client,
                alias,
                state,
                identity,
                late,
                node,
                ..
            } => Some(Auth {
                t: *t,
                asked: *asked,
                client: client.clone(),
                alias: alias.clone(),
                state,
                identity: identity.clone(),
                late: *late,
                node: node.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The `auth` entries of one client.
fn auths_of(sim: &Simulator, client: &str) -> Vec<Auth> {
    auths(sim)
        .into_iter()
        .filter(|a| a.client == client)
        .collect()
}

/// When `client` read frames of type `frame`, with the line.
fn read_at(sim: &Simulator, client: &str, frame: &str) -> Vec<(u64, String)> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Deliver {
                t,
                client: c,
                frame: f,
                line,
                ..
            } if c == client && f == frame => Some((*t, line.get().to_owned())),
            _ => None,
        })
        .collect()
}

/// The error codes `client` read, in order.
fn error_codes(sim: &Simulator, client: &str) -> Vec<String> {
    read_at(sim, client, "error")
        .into_iter()
        .map(|(_, line)| {
            let line: serde_json::Value = serde_json::from_str(&line).unwrap();
            line["code"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// When the hub stopped (`paused`) or resumed reading `client`.
fn flow_at(sim: &Simulator, client: &str, state: &str) -> Vec<u64> {
    sim.trace()
        .entries()
        .iter()
        .filter_map(|e| match e {
            Entry::Flow {
                t,
                client: c,
                state: s,
            } if c == client && *s == state => Some(*t),
            _ => None,
        })
        .collect()
}

#[test]
fn the_presets_constants_are_its_own() {
    let preset = presets::authentication();
    assert_eq!(preset.authenticator.unwrap().delay_ms, AUTH_DELAY_MS);
    let guesses = preset
        .steps
        .iter()
        .filter(|s| matches!(&s.action, Action::Sync { client, .. } if client == "intruder"))
        .count();
    assert_eq!(guesses, AUTH_GUESSES);
}

#[test]
fn the_decision_delay_holds_the_session_and_its_input() {
    let sim = run(presets::authentication());
    let client1 = auths_of(&sim, "Client-1");
    let [asked, granted] = &client1[..] else {
        panic!("one question and one answer: {client1:?}")
    };
    assert_eq!((asked.state, asked.asked), ("asked", None));
    assert_eq!(granted.state, "granted");
    assert_eq!(granted.asked, Some(asked.t));
    assert_eq!(
        granted.t,
        asked.t + AUTH_DELAY_MS,
        "answered after the delay"
    );
    assert_eq!(granted.identity.as_deref(), Some("alice"));
    // Held from the question to the answer: reading stopped, no reply.
    assert_eq!(flow_at(&sim, "Client-1", "paused"), [asked.t]);
    assert_eq!(flow_at(&sim, "Client-1", "resumed"), [granted.t]);
    let synced = read_at(&sim, "Client-1", "synced");
    assert_eq!(synced.len(), 1);
    assert!(synced[0].0 > granted.t, "synced only after the grant");
    // Its message, written right behind the sync at 0, reached the host
    // when the session was let go, not when it arrived.
    let message_at = sim.trace().entries().iter().find_map(|e| match e {
        Entry::Event {
            t,
            event: "message",
            ..
        } => Some(*t),
        _ => None,
    });
    assert_eq!(message_at, Some(granted.t));
    assert_eq!(
        host_messages(&sim),
        [(Some("Client-1".into()), r#""signed in""#.into())]
    );
    // The next untimed step waited for the answer, as for the network.
    let next_step = sim.trace().entries().iter().find_map(|e| match e {
        Entry::Step { t, index: 3, .. } => Some(*t),
        _ => None,
    });
    assert!(next_step.unwrap() > granted.t);
    words_are_the_cores(&sim).unwrap();
}

#[test]
fn another_identity_cannot_take_over_and_a_restricted_one_is_forbidden() {
    let sim = run(presets::authentication());
    // ops's credential for Client-1 is valid: granted, then refused.
    let ops = auths_of(&sim, "ops");
    let states: Vec<_> = ops.iter().map(|a| (a.alias.as_str(), a.state)).collect();
    assert_eq!(
        states,
        [
            ("Client-1", "asked"),
            ("Client-1", "granted"),
            ("ops", "asked"),
            ("ops", "granted")
        ]
    );
    assert_eq!(error_codes(&sim, "ops"), ["alias_taken"]);
    assert_eq!(read_at(&sim, "ops", "synced").len(), 1, "then ops as ops");
    // Client-1 kept its alias and its first session noticed nothing.
    let state = sim.state();
    let rows: Vec<_> = state
        .sessions
        .iter()
        .map(|s| {
            (
                s.client.as_deref(),
                s.alias.as_deref(),
                s.identity.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (Some("Client-1"), Some("Client-1"), Some("alice")),
            (Some("Client-2"), Some("Client-2"), Some("Client-2")),
            (Some("ops"), Some("ops"), Some("ops")),
        ]
    );
    // The intruder never signed in: once its time to (the hub's
    // auth_timeout) was up, it was closed.
    let byes = read_at(&sim, "intruder", "bye");
    assert_eq!(byes.len(), 1, "{byes:?}");
    assert!(byes[0].1.contains(r#""reason":"auth_timeout""#), "{byes:?}");
    assert_eq!(state.clients[0].identity.as_deref(), Some("alice"));
    assert!(error_codes(&sim, "Client-1").is_empty());
    assert!(read_at(&sim, "Client-1", "bye").is_empty());
    // Client-2 may relay to Client-1 and nobody else.
    let got = deliveries(&sim);
    let infos: Vec<_> = got["Client-1"]
        .iter()
        .filter(|l| l.contains(r#""type":"info""#))
        .collect();
    assert_eq!(
        infos,
        [r#"{"type":"info","from":"Client-2","message":"hi Client-1"}"#]
    );
    assert_eq!(error_codes(&sim, "Client-2"), ["forbidden"]);
    let (_, forbidden) = &read_at(&sim, "Client-2", "error")[0];
    assert!(
        forbidden.contains(r#"may not relay to \"ops\""#),
        "{forbidden}"
    );
    assert!(!got["ops"].iter().any(|l| l.contains("hi ops")));
}

#[test]
fn the_intruder_is_unauthorized_and_its_guesses_are_slowed() {
    let sim = run(presets::authentication());
    let codes = error_codes(&sim, "intruder");
    assert_eq!(codes.len(), 1 + AUTH_GUESSES);
    assert!(codes.iter().all(|c| c == "unauthorized"), "{codes:?}");
    // The first: its `list` before signing in, refused without asking.
    let errors = read_at(&sim, "intruder", "error");
    assert!(
        errors[0].1.contains("sync with an alias"),
        "{}",
        errors[0].1
    );
    let intruder = auths_of(&sim, "intruder");
    assert!(errors[0].0 < intruder[0].t);
    let asked: Vec<u64> = intruder
        .iter()
        .filter(|a| a.state == "asked")
        .map(|a| a.t)
        .collect();
    let denied: Vec<u64> = intruder
        .iter()
        .filter(|a| a.state == "denied")
        .map(|a| a.t)
        .collect();
    assert_eq!(asked.len(), AUTH_GUESSES);
    assert_eq!(denied.len(), AUTH_GUESSES, "every guess is denied");
    assert!(intruder.iter().all(|a| !a.late && a.alias == "Client-1"));
    // How long each guess waited after the answer to the one before: the
    // first failures only the round trip, then the core's spacing.
    let waits: Vec<u64> = (1..AUTH_GUESSES)
        .map(|i| asked[i] - denied[i - 1])
        .collect();
    let free = FREE_AUTH_FAILURES as usize;
    let spacing = FIRST_AUTH_SPACING.as_millis() as u64;
    assert!(waits[..free].iter().all(|&w| w <= 2), "{waits:?}");
    assert_eq!(waits[free..], [spacing, 2 * spacing], "{waits:?}");
    // Visible in the trace: the guesses come ever further apart.
    let gaps: Vec<u64> = asked.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps[free] > gaps[free - 1] && gaps[free + 1] > gaps[free],
        "{gaps:?}"
    );
    // Other addresses were never slowed.
    for client in ["Client-1", "Client-2", "ops"] {
        for pair in auths_of(&sim, client).chunks(2) {
            assert_eq!(pair[1].t - pair[0].t, AUTH_DELAY_MS, "{client}");
        }
    }
}

#[test]
fn the_story_holds_under_network_faults() {
    let clean = deliveries(&run(presets::authentication()));
    for seed in 0..40 {
        let mut scenario = presets::authentication();
        scenario.seed = seed;
        scenario.faults.enabled = true;
        let sim = run(scenario);
        assert_eq!(deliveries(&sim), clean, "seed {seed}");
        words_are_the_cores(&sim).unwrap();
    }
}

/// A hub with authentication on; `authenticator` as given.
fn authenticated(authenticator: Option<AuthenticatorSettings>, steps: Vec<Step>) -> Scenario {
    let mut scenario = Scenario::from_json("{}").unwrap();
    scenario.hub.authentication = true;
    scenario.hub.auth_timeout_ms = 1000;
    scenario.authenticator = authenticator;
    scenario.steps = steps;
    scenario
}

fn a_credential(alias: &str, token: &str) -> Credential {
    Credential {
        alias: alias.into(),
        token: token.into(),
        identity: None,
        relay: vec!["*".into()],
        broadcast: true,
        list: true,
    }
}

fn connect(client: &str) -> Step {
    Step::now(Action::Connect {
        client: client.into(),
    })
}

fn sync(client: &str, alias: &str, token: Option<&str>) -> Step {
    Step::now(Action::Sync {
        client: client.into(),
        alias: alias.into(),
        last_will: None,
        token: token.map(Into::into),
    })
}

#[test]
fn an_answer_after_the_deadline_is_late_and_ignored() {
    let authenticator = AuthenticatorSettings {
        delay_ms: 3000,
        credentials: vec![a_credential("A", "t")],
    };
    let sim = run(authenticated(
        Some(authenticator),
        vec![connect("a"), sync("a", "A", Some("t"))],
    ));
    let [asked, answer] = &auths(&sim)[..] else {
        panic!("{:?}", auths(&sim))
    };
    assert_eq!(answer.t, asked.t + 3000);
    assert_eq!((answer.state, answer.late), ("granted", true));
    let errors = read_at(&sim, "a", "error");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].0 < answer.t && errors[0].0 >= asked.t + 1000);
    assert!(errors[0].1.contains("unauthorized"), "{}", errors[0].1);
    assert!(read_at(&sim, "a", "synced").is_empty());
}

#[test]
fn without_an_authenticator_nobody_answers_and_the_deadline_does() {
    let sim = run(authenticated(
        None,
        vec![connect("a"), sync("a", "A", Some("t"))],
    ));
    let [asked] = &auths(&sim)[..] else {
        panic!("{:?}", auths(&sim))
    };
    assert_eq!(asked.state, "asked");
    let errors = read_at(&sim, "a", "error");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].1.contains("within"), "{}", errors[0].1);
    assert_eq!(
        errors[0].0,
        asked.t + 1000 + 1,
        "the deadline, plus latency"
    );
}

#[test]
fn a_sync_without_a_token_asks_nothing_and_without_authentication_a_token_is_ignored() {
    let steps = vec![connect("a"), sync("a", "A", None)];
    let sim = run(authenticated(None, steps.clone()));
    assert!(auths(&sim).is_empty());
    assert_eq!(error_codes(&sim, "a"), ["unauthorized"]);

    let mut open = Scenario::from_json("{}").unwrap();
    open.steps = vec![connect("a"), sync("a", "A", Some("t"))];
    let sim = run(open);
    assert!(auths(&sim).is_empty());
    assert_eq!(read_at(&sim, "a", "synced").len(), 1);
    // The token went on the wire all the same.
    let wrote =
        sim.trace().entries().iter().any(
            |e| matches!(e, Entry::Write { bytes, .. } if bytes.text.contains(r#""token":"t""#)),
        );
    assert!(wrote);
}

#[test]
fn the_nodes_of_a_cluster_ask_the_same_authenticator() {
    let mut scenario = authenticated(
        Some(AuthenticatorSettings {
            delay_ms: 50,
            credentials: vec![a_credential("A", "t"), a_credential("B", "u")],
        }),
        vec![
            connect("a").on("n1"),
            sync("a", "A", Some("t")),
            connect("b").on("n2"),
            sync("b", "B", Some("u")),
            Step::now(Action::Send {
                client: "b".into(),
                to: Some("A".into()),
                room: None,
                message: message(&json!("across").to_string()),
            }),
        ],
    );
    scenario.cluster = Some(ClusterSettings {
        nodes: vec!["n1".into(), "n2".into()],
        latency_ms: 2,
        lease_ms: 1000,
    });
    let sim = run(scenario);
    let nodes: Vec<_> = auths(&sim)
        .into_iter()
        .map(|a| (a.node.unwrap(), a.state))
        .collect();
    assert_eq!(
        nodes,
        [
            ("n1".into(), "asked"),
            ("n1".into(), "granted"),
            ("n2".into(), "asked"),
            ("n2".into(), "granted")
        ]
    );
    assert!(deliveries(&sim)["a"]
        .iter()
        .any(|l| l.contains(r#""from":"B","message":"across""#)));
}

#[test]
fn the_format_reads_authentication_and_names_what_is_wrong() {
    let err = |json: &str| Scenario::from_json(json).unwrap_err().to_string();
    let e = err(r#"{"hub":{"authentication":"yes"}}"#);
    assert!(e.contains("hub.authentication: invalid type"), "{e}");
    let e = err(r#"{"hub":{"authentication":true,"auth_timeout_ms":0}}"#);
    assert!(e.contains("hub.auth_timeout_ms is 0"), "{e}");
    let e = err(r#"{"hub":{"auth_timeout_ms":-5}}"#);
    assert!(e.contains("hub.auth_timeout_ms: invalid value"), "{e}");
    let e = err(r#"{"authenticator":{"credentials":[]}}"#);
    assert!(e.contains("hub.authentication is off"), "{e}");
    let on = |authenticator: &str| {
        format!(r#"{{"hub":{{"authentication":true}},"authenticator":{authenticator}}}"#)
    };
    let e = err(&on(
        r#"{"credentials":[{"alias":"A","token":"t","relay":"*"}]}"#,
    ));
    assert!(
        e.contains("authenticator.credentials[0].relay: invalid type"),
        "{e}"
    );
    let e = err(&on(r#"{"credentials":[{"alias":"a b\n","token":"t"}]}"#));
    assert!(
        e.contains("authenticator.credentials[0].alias: invalid alias"),
        "{e}"
    );
    let e = err(&on(r#"{"delay":5}"#));
    assert!(e.contains("authenticator: unknown field `delay`"), "{e}");
    let e = err(&on("[]"));
    assert!(e.contains("authenticator: invalid type: sequence"), "{e}");
    let e = err(r#"{"steps":[{"action":"send","client":"a","message":1,"token":"t"}]}"#);
    assert!(e.contains(r#"action "send" takes no "token""#), "{e}");
    let e = err(r#"{"steps":[{"action":"sync","client":"a","alias":"A","token":7}]}"#);
    assert!(e.contains("steps[0].token: invalid type"), "{e}");

    // What loads, saves and loads again the same.
    let json = on(
        r#"{"delay_ms":7,"credentials":[{"alias":"A","token":"t","identity":"x","relay":["A*"],"list":false}]}"#,
    );
    let s = Scenario::from_json(&json).unwrap();
    assert!(s.hub.authentication);
    assert_eq!(
        s.hub.to_config().unwrap().auth_timeout,
        Duration::from_secs(10)
    );
    let auth = s.authenticator.as_ref().unwrap();
    assert_eq!(auth.delay_ms, 7);
    assert_eq!(auth.credentials[0].identity.as_deref(), Some("x"));
    assert!(!auth.credentials[0].list && auth.credentials[0].broadcast);
    assert_eq!(
        Scenario::from_json(&s.to_json()).unwrap().to_json(),
        s.to_json()
    );
    // `null` is no authenticator; off, nothing new is saved.
    let s = Scenario::from_json(r#"{"authenticator":null}"#).unwrap();
    assert!(s.authenticator.is_none());
    let saved = s.to_json();
    assert!(!saved.contains("auth"), "{saved}");
}

#[test]
fn a_recorded_run_with_a_sign_in_by_click_replays_exactly() {
    let mut scenario = presets::authentication();
    scenario.faults.enabled = true;
    let mut sim = Simulator::new(scenario).unwrap();
    sim.run(40);
    sim.act(Action::Connect {
        client: "laptop".into(),
    });
    sim.act(Action::Sync {
        client: "laptop".into(),
        alias: "Client-1".into(),
        last_will: None,
        token: Some("c1-secret".into()),
    });
    sim.run_to_end();
    let saved = sim.recorded_scenario().to_json();
    assert!(saved.contains(r#""token": "c1-secret""#), "{saved}");
    let replay = run(Scenario::from_json(&saved).unwrap());
    assert_eq!(replay.trace().to_json_lines(), sim.trace().to_json_lines());
    let laptop = auths_of(&sim, "laptop");
    assert_eq!(laptop.last().unwrap().identity.as_deref(), Some("alice"));
}
