//! The scenario format: the settings of one simulated run plus its script,
//! saved and loaded as JSON.
//!
//! ```json
//! {"name": "tutorial", "seed": 7,
//!  "faults": {"enabled": true},
//!  "steps": [{"at": 0, "action": "connect", "client": "Client-1"},
//!            {"action": "sync", "client": "Client-1", "alias": "Client-1"},
//!            {"at": 10000, "action": "broadcast", "message": "大家来领物资了"}]}
//! ```
//!
//! Every field has a default. Steps run in order. A step with an `at`
//! (virtual milliseconds) runs at that time, or right after the step before
//! it if that ran later; a step without one waits until everything the
//! steps before it put on the wire has landed. So a script made of untimed
//! steps, or of timed ones further apart than the longest delay, reaches
//! the same recipients with every seed: faults change only when.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use tcphub_core::{AliasPolicy, HubConfig, DEFAULT_MAX_FRAME_LEN, DEFAULT_MAX_SESSIONS};

use super::SimError;

/// One simulated run: hub settings, network, faults and the script.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, shown by the page.
    #[serde(default)]
    pub name: String,
    /// What the scenario shows, for a person.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seeds every random draw of the run (faults only).
    #[serde(default)]
    pub seed: u64,
    /// How the hub is configured.
    #[serde(default)]
    pub hub: HubSettings,
    /// The fault-free network.
    #[serde(default)]
    pub network: NetworkSettings,
    /// What may go wrong on the wire, drawn from the seed.
    #[serde(default)]
    pub faults: FaultSettings,
    /// How much the trace records.
    #[serde(default)]
    pub trace: TraceLevel,
    /// The script, in order.
    #[serde(default)]
    pub steps: Vec<Step>,
}

impl Scenario {
    /// Parses a scenario from JSON, naming what is wrong.
    pub fn from_json(json: &str) -> Result<Self, SimError> {
        let scenario: Scenario =
            serde_json::from_str(json).map_err(|e| SimError::Scenario(e.to_string()))?;
        scenario.hub.to_config()?;
        scenario.faults.validate()?;
        Ok(scenario)
    }

    /// The scenario as pretty JSON, ready to save.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scenario always serializes")
    }
}

/// The hub's configuration, in JSON-friendly units.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSettings {
    /// `takeover`, `reject` or `share`.
    pub alias_policy: String,
    /// Whether clients may send to each other.
    pub relay: bool,
    /// Largest frame a client may send, in bytes.
    pub max_frame_len: usize,
    /// Largest number of open sessions.
    pub max_sessions: usize,
    /// Close sessions quiet for this long (virtual ms); off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout_ms: Option<u64>,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            alias_policy: AliasPolicy::default().as_str().to_owned(),
            relay: true,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_sessions: DEFAULT_MAX_SESSIONS,
            idle_timeout_ms: None,
        }
    }
}

impl HubSettings {
    /// The core's configuration, checked.
    pub fn to_config(&self) -> Result<HubConfig, SimError> {
        let config = HubConfig {
            alias_policy: self.alias_policy.parse()?,
            max_frame_len: self.max_frame_len,
            max_sessions: self.max_sessions,
            idle_timeout: self.idle_timeout_ms.map(std::time::Duration::from_millis),
            relay: self.relay,
        };
        config.validate()?;
        Ok(config)
    }
}

/// The network when nothing goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkSettings {
    /// Time every piece of data takes to cross, in virtual ms.
    pub latency_ms: u64,
    /// Bytes the hub's driver queues for one client (sent, not yet read)
    /// before it closes the session as a slow consumer, as the native
    /// server does.
    pub max_queued_bytes: usize,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            latency_ms: 1,
            max_queued_bytes: 16 * 1024,
        }
    }
}

/// Faults drawn from the seed. Chances are whole percentages, so no float
/// arithmetic can make two platforms disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Master switch: off means a perfect network.
    pub enabled: bool,
    /// Chance that one write is cut into 2 to 4 pieces at random bytes.
    pub split: u8,
    /// Chance that a write joins the previous one still in flight.
    pub join: u8,
    /// Extra delay of each piece: 0 to this many virtual ms.
    pub max_delay_ms: u64,
    /// Chance that a client drops its connection abruptly after one of its
    /// steps. Unlike the faults above, this changes what arrives.
    pub drop: u8,
    /// Chance that a client, when it connects, is one that stops reading
    /// at some point. Unlike split, join and delay, this changes what
    /// arrives (the hub closes it as a slow consumer once enough is queued).
    pub stall: u8,
}

impl Default for FaultSettings {
    fn default() -> Self {
        FaultSettings {
            enabled: false,
            split: 40,
            join: 25,
            max_delay_ms: 30,
            drop: 0,
            stall: 0,
        }
    }
}

impl FaultSettings {
    /// Checks that every chance is a percentage.
    pub fn validate(&self) -> Result<(), SimError> {
        for (name, chance) in [
            ("split", self.split),
            ("join", self.join),
            ("drop", self.drop),
            ("stall", self.stall),
        ] {
            if chance > 100 {
                return Err(SimError::Scenario(format!(
                    "faults.{name} is {chance}: a chance is a percentage from 0 to 100"
                )));
            }
        }
        Ok(())
    }
}

/// How much of the run the trace keeps. Counters are kept at every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceLevel {
    /// Everything, bytes on the wire included.
    #[default]
    Full,
    /// Steps, deliveries, hub events and closes; no wire bytes.
    Deliveries,
    /// Nothing but the counters (for benchmarks).
    None,
}

/// One step of the script. In JSON it is one flat object:
/// `{"at": 3000, "action": "send", "client": "Client-1", "to": "Client-2", "message": "hi"}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "StepJson", into = "StepJson")]
pub struct Step {
    /// At this virtual time (ms), whatever is in flight. Absent: as soon
    /// as the network has settled after the previous step.
    pub at: Option<u64>,
    /// What happens.
    pub action: Action,
}

impl Step {
    /// A step that runs as soon as the network has settled.
    pub fn now(action: Action) -> Self {
        Step { at: None, action }
    }

    /// A step that runs at `at` virtual ms.
    pub fn at(at: u64, action: Action) -> Self {
        Step {
            at: Some(at),
            action,
        }
    }
}

/// What a client or the host does. Clients are named; a client exists from
/// its first `connect`. Messages are any JSON value, kept byte for byte.
#[derive(Debug, Clone)]
pub enum Action {
    /// The client opens a connection (a new one, with a new port, after a
    /// disconnect).
    Connect {
        /// The client's name.
        client: String,
    },
    /// The client claims an alias.
    Sync {
        /// The client's name.
        client: String,
        /// The alias it claims.
        alias: String,
    },
    /// The client sends an `info`: to the host when `to` is absent, else
    /// to an alias or to `*` (everyone else).
    Send {
        /// The client's name.
        client: String,
        /// Target alias or `*`.
        to: Option<String>,
        /// Any JSON value.
        message: Box<RawValue>,
    },
    /// The client writes these bytes (UTF-8 text) as they are: for the
    /// tutorial's undelimited frames, or for garbage.
    Write {
        /// The client's name.
        client: String,
        /// What it writes.
        data: String,
    },
    /// The client asks for the session list.
    List {
        /// The client's name.
        client: String,
    },
    /// The client pings the hub.
    Ping {
        /// The client's name.
        client: String,
    },
    /// The client closes its connection.
    Disconnect {
        /// The client's name.
        client: String,
    },
    /// The client stops reading what the hub sends it.
    StopReading {
        /// The client's name.
        client: String,
    },
    /// The client reads again, starting with what piled up.
    ResumeReading {
        /// The client's name.
        client: String,
    },
    /// Faults are turned on or off from here on (a click on the page's
    /// switch, recorded so that a saved run replays exactly).
    Faults {
        /// On or off.
        enabled: bool,
    },
    /// Virtual time passes.
    Wait {
        /// How long, in ms.
        ms: u64,
    },
    /// The host sends a message to every session.
    Broadcast {
        /// Any JSON value.
        message: Box<RawValue>,
    },
    /// The host sends a message to the sessions holding an alias.
    SendToAlias {
        /// The alias.
        alias: String,
        /// Any JSON value.
        message: Box<RawValue>,
    },
    /// The host closes a session, named by its session id (peer address).
    CloseSession {
        /// Such as `10.0.0.1:40001`.
        session: String,
    },
    /// The host shuts the hub down.
    Shutdown,
}

/// A message as JSON, for building scripts in Rust: `message(r#""hi""#)`.
///
/// # Panics
/// When `json` is not valid JSON.
pub fn message(json: &str) -> Box<RawValue> {
    RawValue::from_string(json.to_owned()).expect("message() needs valid JSON")
}

/// A step as it is written in JSON: every field of every action, optional.
/// Plain fields rather than a serde-tagged enum keep messages byte-exact
/// (`RawValue`) and the WebAssembly build small.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepJson {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<u64>,
    action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    alias: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    message: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    session: Option<String>,
}

/// Keeps an explicit `null` message as a message, apart from "absent".
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

impl TryFrom<StepJson> for Step {
    type Error = String;

    fn try_from(mut j: StepJson) -> Result<Self, String> {
        let kind = std::mem::take(&mut j.action);
        let need = |field: Option<String>, name: &str| {
            field.ok_or_else(|| format!("action {kind:?} needs field {name:?}"))
        };
        let message = |m: Option<Box<RawValue>>| {
            m.ok_or_else(|| format!("action {kind:?} needs field \"message\""))
        };
        let action = match kind.as_str() {
            "connect" => Action::Connect {
                client: need(j.client, "client")?,
            },
            "sync" => Action::Sync {
                client: need(j.client, "client")?,
                alias: need(j.alias, "alias")?,
            },
            "send" => Action::Send {
                client: need(j.client, "client")?,
                to: j.to,
                message: message(j.message)?,
            },
            "write" => Action::Write {
                client: need(j.client, "client")?,
                data: need(j.data, "data")?,
            },
            "list" => Action::List {
                client: need(j.client, "client")?,
            },
            "ping" => Action::Ping {
                client: need(j.client, "client")?,
            },
            "disconnect" => Action::Disconnect {
                client: need(j.client, "client")?,
            },
            "stop_reading" => Action::StopReading {
                client: need(j.client, "client")?,
            },
            "resume_reading" => Action::ResumeReading {
                client: need(j.client, "client")?,
            },
            "faults" => Action::Faults {
                enabled: j
                    .enabled
                    .ok_or_else(|| format!("action {kind:?} needs field \"enabled\""))?,
            },
            "wait" => Action::Wait {
                ms: j
                    .ms
                    .ok_or_else(|| format!("action {kind:?} needs field \"ms\""))?,
            },
            "broadcast" => Action::Broadcast {
                message: message(j.message)?,
            },
            "send_to_alias" => Action::SendToAlias {
                alias: need(j.alias, "alias")?,
                message: message(j.message)?,
            },
            "close_session" => Action::CloseSession {
                session: need(j.session, "session")?,
            },
            "shutdown" => Action::Shutdown,
            other => {
                return Err(format!(
                    "unknown action {other:?}: expected connect, sync, send, write, list, ping, \
                     disconnect, stop_reading, resume_reading, faults, wait, broadcast, \
                     send_to_alias, close_session or shutdown"
                ))
            }
        };
        Ok(Step { at: j.at, action })
    }
}

impl From<Step> for StepJson {
    fn from(step: Step) -> Self {
        let mut j = StepJson {
            at: step.at,
            ..StepJson::default()
        };
        let kind = match step.action {
            Action::Connect { client } => {
                j.client = Some(client);
                "connect"
            }
            Action::Sync { client, alias } => {
                j.client = Some(client);
                j.alias = Some(alias);
                "sync"
            }
            Action::Send {
                client,
                to,
                message,
            } => {
                j.client = Some(client);
                j.to = to;
                j.message = Some(message);
                "send"
            }
            Action::Write { client, data } => {
                j.client = Some(client);
                j.data = Some(data);
                "write"
            }
            Action::List { client } => {
                j.client = Some(client);
                "list"
            }
            Action::Ping { client } => {
                j.client = Some(client);
                "ping"
            }
            Action::Disconnect { client } => {
                j.client = Some(client);
                "disconnect"
            }
            Action::StopReading { client } => {
                j.client = Some(client);
                "stop_reading"
            }
            Action::ResumeReading { client } => {
                j.client = Some(client);
                "resume_reading"
            }
            Action::Faults { enabled } => {
                j.enabled = Some(enabled);
                "faults"
            }
            Action::Wait { ms } => {
                j.ms = Some(ms);
                "wait"
            }
            Action::Broadcast { message } => {
                j.message = Some(message);
                "broadcast"
            }
            Action::SendToAlias { alias, message } => {
                j.alias = Some(alias);
                j.message = Some(message);
                "send_to_alias"
            }
            Action::CloseSession { session } => {
                j.session = Some(session);
                "close_session"
            }
            Action::Shutdown => "shutdown",
        };
        j.action = kind.to_owned();
        j
    }
}

impl Action {
    /// The client acting, or `None` for the host and for `wait`.
    pub fn client(&self) -> Option<&str> {
        match self {
            Action::Connect { client }
            | Action::Sync { client, .. }
            | Action::Send { client, .. }
            | Action::Write { client, .. }
            | Action::List { client }
            | Action::Ping { client }
            | Action::Disconnect { client }
            | Action::StopReading { client }
            | Action::ResumeReading { client } => Some(client),
            Action::Wait { .. }
            | Action::Faults { .. }
            | Action::Broadcast { .. }
            | Action::SendToAlias { .. }
            | Action::CloseSession { .. }
            | Action::Shutdown => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = Scenario::from_json(r#"{"steps":[{"action":"connect","client":"a"}]}"#).unwrap();
        assert_eq!(s.hub, HubSettings::default());
        assert!(!s.faults.enabled);
        assert!(
            matches!(&s.steps[..], [Step { at: None, action: Action::Connect { client } }] if client == "a")
        );
    }

    #[test]
    fn round_trips_through_json() {
        for name in super::super::presets::PRESET_NAMES {
            let json = super::super::presets::preset(name).unwrap().to_json();
            assert_eq!(Scenario::from_json(&json).unwrap().to_json(), json);
        }
        // Messages stay byte for byte: key order, spacing inside, null.
        let json = r#"{"steps":[{"action":"broadcast","message":{"z":1,"a":[1, 2]}},{"action":"broadcast","message":null}]}"#;
        let s = Scenario::from_json(json).unwrap();
        match (&s.steps[0].action, &s.steps[1].action) {
            (Action::Broadcast { message: a }, Action::Broadcast { message: b }) => {
                assert_eq!(a.get(), r#"{"z":1,"a":[1, 2]}"#);
                assert_eq!(b.get(), "null");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let err = Scenario::from_json(r#"{"steps":[{"action":"fly","client":"a"}]}"#).unwrap_err();
        assert!(err.to_string().contains("fly"), "{err}");
        let err = Scenario::from_json(r#"{"hub":{"alias_policy":"steal"}}"#).unwrap_err();
        assert!(err.to_string().contains("steal"), "{err}");
        let err = Scenario::from_json(r#"{"faults":{"split":101}}"#).unwrap_err();
        assert!(err.to_string().contains("faults.split is 101"), "{err}");
        let err = Scenario::from_json(r#"{"steps":[{"action":"sync","client":"a"}]}"#).unwrap_err();
        assert!(
            err.to_string()
                .contains(r#"action "sync" needs field "alias""#),
            "{err}"
        );
        let err = Scenario::from_json(r#"{"steps":[{"action":"broadcast"}]}"#).unwrap_err();
        assert!(
            err.to_string().contains(r#"needs field "message""#),
            "{err}"
        );
        let err = Scenario::from_json(r#"{"steps":[{"action":"ping","client":"a","colour":1}]}"#)
            .unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let err = Scenario::from_json(r#"{"sedd":1}"#).unwrap_err();
        assert!(err.to_string().contains("sedd"), "{err}");
    }
}
