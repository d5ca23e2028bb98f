//! One step of a script, and its JSON form: a flat object such as
//! `{"at": 3000, "action": "send", "client": "Client-1", "to": "Client-2", "message": "hi"}`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

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
    /// The client shuts its write side (`shutdown(SHUT_WR)`, what
    /// `nc -N` does at the end of its input): it sends nothing more but
    /// keeps reading, and the hub answers everything it sent, then says
    /// `bye` with reason `peer_closed`.
    HalfClose {
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
        session_id: String,
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
    /// Scenarios saved before the rename call it `session`; they still load.
    #[serde(default, alias = "session", skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
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
            "half_close" => Action::HalfClose {
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
                session_id: need(j.session_id, "session_id")?,
            },
            "shutdown" => Action::Shutdown,
            other => {
                return Err(format!(
                    "unknown action {other:?}: expected connect, sync, send, write, list, ping, \
                     disconnect, half_close, stop_reading, resume_reading, faults, wait, broadcast, \
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
            Action::HalfClose { client } => {
                j.client = Some(client);
                "half_close"
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
            Action::CloseSession { session_id } => {
                j.session_id = Some(session_id);
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
            | Action::HalfClose { client }
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
