//! One step of a script, and its JSON form: a flat object such as
//! `{"at": 3000, "action": "send", "client": "Client-1", "to": "Client-2", "message": "hi"}`.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use tcphub_core::{ClientFrame, LastWillRequest};

use super::json::Object;

/// One step of the script. In JSON it is one flat object:
/// `{"at": 3000, "action": "send", "client": "Client-1", "to": "Client-2", "message": "hi"}`.
#[derive(Debug, Clone, Serialize)]
#[serde(into = "StepJson")]
pub struct Step {
    /// At this virtual time (ms), whatever is in flight. Absent: as soon
    /// as the network has settled after the previous step.
    pub at: Option<u64>,
    /// In a cluster, the node a `connect` opens its connection to, or the
    /// node whose host runs a host command; absent: the first node. Only
    /// those actions take one.
    pub node: Option<String>,
    /// What happens.
    pub action: Action,
}

impl Step {
    /// A step that runs as soon as the network has settled.
    pub fn now(action: Action) -> Self {
        Step {
            at: None,
            node: None,
            action,
        }
    }

    /// A step that runs at `at` virtual ms.
    pub fn at(at: u64, action: Action) -> Self {
        Step {
            at: Some(at),
            node: None,
            action,
        }
    }

    /// The same step, on cluster node `node`.
    pub fn on(mut self, node: &str) -> Self {
        self.node = Some(node.to_owned());
        self
    }

    /// Reads one step from its JSON (a click from the page), naming what
    /// is wrong.
    pub fn from_json(json: &str) -> Result<Self, String> {
        Object::parse(String::new(), json).and_then(Step::read)
    }

    /// Reads a step's object: every field of every action, optional, then
    /// checked by its action.
    pub(crate) fn read(mut o: Object<'_>) -> Result<Self, String> {
        let Some(action) = o.get("action")? else {
            return Err(o.missing("action"));
        };
        let j = StepJson {
            at: o.opt("at")?,
            action,
            client: o.opt("client")?,
            alias: o.opt("alias")?,
            to: o.opt("to")?,
            room: o.opt("room")?,
            aliases: o.opt("aliases")?,
            last_will: o.json("last_will", false),
            token: o.opt("token")?,
            // An explicit `null` message is a message.
            message: o.json("message", true),
            data: o.opt("data")?,
            ms: o.opt("ms")?,
            enabled: o.opt("enabled")?,
            // Scenarios saved before the rename call it `session`.
            session_id: match o.opt("session_id")? {
                Some(id) => Some(id),
                None => o.opt("session")?,
            },
            node: o.opt("node")?,
            reply_to: o.opt("reply_to")?,
            timeout_ms: o.opt("timeout_ms")?,
        };
        let here = o.here();
        o.finish(
            "at, action, client, alias, to, room, aliases, last_will, token, message, data, \
             ms, enabled, session_id, node, reply_to or timeout_ms",
        )?;
        Step::try_from(j).map_err(|e| format!("{here}{e}"))
    }
}

impl<'de> Deserialize<'de> for Step {
    /// A step's JSON as [`Step::from_json`] reads it.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Step::from_json(raw.get()).map_err(serde::de::Error::custom)
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
    /// The client claims an alias, and leaves a last will with the hub if
    /// `last_will` is set (a `sync` without one clears the one before).
    Sync {
        /// The client's name.
        client: String,
        /// The alias it claims.
        alias: String,
        /// `lastWill` on the wire, as written there:
        /// `{"room": "lobby", "message": ...}` or `{"to": "B", "message": ...}`
        /// (`to` an alias or an array). Sent for the session if it ends
        /// without a `bye`.
        last_will: Option<Box<RawValue>>,
        /// `token` on the wire: the credential the hub asks the
        /// scenario's authenticator about, with `hub.authentication` on.
        token: Option<String>,
    },
    /// The client sends an `info`: to the host when `to` and `room` are
    /// absent, else to an alias or to `*` (everyone else), or to the other
    /// members of a room. At most one of `to` and `room`.
    Send {
        /// The client's name.
        client: String,
        /// Target alias or `*`.
        to: Option<String>,
        /// Target room.
        room: Option<String>,
        /// Any JSON value.
        message: Box<RawValue>,
    },
    /// The client writes a `request`: to the holder of `to`, or to the
    /// host when `to` is absent, waiting `timeout_ms` (the hub's default
    /// when absent) for the reply.
    Request {
        /// The client's name.
        client: String,
        /// The alias asked.
        to: Option<String>,
        /// Any JSON value.
        message: Box<RawValue>,
        /// The request's `timeout`, in ms.
        timeout_ms: Option<u64>,
    },
    /// A `reply` to the request whose `replyTo` is `reply_to`: the
    /// client's `reply` frame, or without `client` the host's
    /// `Hub::reply`.
    Reply {
        /// The client answering; `None` for the host.
        client: Option<String>,
        /// The `replyTo` of the request answered.
        reply_to: String,
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
    /// The client asks for the session list, or with `room` for that
    /// room's members.
    List {
        /// The client's name.
        client: String,
        /// List only this room's members.
        room: Option<String>,
    },
    /// The client joins a room.
    Join {
        /// The client's name.
        client: String,
        /// The room.
        room: String,
    },
    /// The client leaves a room.
    Leave {
        /// The client's name.
        client: String,
        /// The room.
        room: String,
    },
    /// The client asks for `presence` frames: about every alias, some
    /// aliases, or the members of a room it is in.
    Watch {
        /// The client's name.
        client: String,
        /// About whom.
        scope: WatchScope,
    },
    /// The client stops some `presence` frames (all of them for
    /// [`WatchScope::All`]).
    Unwatch {
        /// The client's name.
        client: String,
        /// Which watch ends.
        scope: WatchScope,
    },
    /// The client says `bye`: the hub answers what it sent before, says
    /// `bye` `client_bye` and closes the session; its last will is not sent.
    Bye {
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
    /// The client's connection drops abruptly (a killed process, a pulled
    /// cable): what the `drop` fault does, on cue. For the hub it is a
    /// close without `bye`, so the client's last will is sent.
    Drop {
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
    /// The host puts a session in a room, as if it had sent `join`.
    JoinRoom {
        /// The session, by its id (peer address).
        session_id: String,
        /// The room.
        room: String,
    },
    /// The host takes a session out of a room.
    LeaveRoom {
        /// The session, by its id (peer address).
        session_id: String,
        /// The room.
        room: String,
    },
    /// The host sends a message to every member of a room.
    SendToRoom {
        /// The room.
        room: String,
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
    /// A node of the cluster crashes (a SIGKILL): its hub is gone, its
    /// clients' connections are reset, and what the backplane brings it is
    /// lost. Once its lease runs out the backplane frees its aliases and
    /// tells every other node it is gone.
    CrashNode {
        /// The node's id.
        node: String,
    },
}

/// What a `watch` or `unwatch` is about: in JSON, no field (every alias;
/// for `unwatch`, every watch), `aliases` or `room`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchScope {
    /// Every alias (for `unwatch`: every watch).
    All,
    /// These aliases, held or not.
    Aliases(Vec<String>),
    /// The members of this room (the client must be one).
    Room(String),
}

/// Checks a `last_will` with the core's own reader of `sync` (so the
/// scenario accepts exactly what the hub does) and hands the core's form
/// of it to `f`.
pub(crate) fn with_last_will<T>(
    will: &RawValue,
    f: impl FnOnce(&LastWillRequest<'_>) -> T,
) -> Result<T, String> {
    let frame = format!(
        r#"{{"type":"sync","clientName":"a","lastWill":{}}}"#,
        will.get()
    );
    match ClientFrame::parse(frame.as_bytes()) {
        Ok(ClientFrame::Sync {
            last_will: Some(request),
            ..
        }) => Ok(f(&request)),
        Ok(_) => Err("last_will is not a last will".to_owned()),
        Err(e) => Err(format!("last_will: {}", e.message)),
    }
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
/// (`RawValue`) and the WebAssembly build small. Written with serde, read
/// by [`Step::read`].
#[derive(Debug, Default, Serialize)]
struct StepJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<u64>,
    action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aliases: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_will: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Box<RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
}

impl TryFrom<StepJson> for Step {
    type Error = String;

    fn try_from(mut j: StepJson) -> Result<Self, String> {
        let kind = std::mem::take(&mut j.action);
        let need = |field: Option<String>, name: &str| field.ok_or_else(|| missing(&kind, name));
        let message = |m: Option<Box<RawValue>>| m.ok_or_else(|| missing(&kind, "message"));
        // At most one of two fields that say where something goes.
        let one_of = |a: bool, b: bool, fields: &str| {
            if a && b {
                Err(format!("action {kind:?} takes {fields}, not both"))
            } else {
                Ok(())
            }
        };
        let scope = |aliases: Option<Vec<String>>, room: Option<String>| {
            one_of(aliases.is_some(), room.is_some(), "\"aliases\" or \"room\"")?;
            Ok::<_, String>(match (aliases, room) {
                (Some(aliases), _) => WatchScope::Aliases(aliases),
                (_, Some(room)) => WatchScope::Room(room),
                _ => WatchScope::All,
            })
        };
        let action = match kind.as_str() {
            "connect" => Action::Connect {
                client: need(j.client, "client")?,
            },
            "sync" => {
                if let Some(will) = &j.last_will {
                    with_last_will(will, |_| ()).map_err(|e| format!("action {kind:?}: {e}"))?;
                }
                Action::Sync {
                    client: need(j.client, "client")?,
                    alias: need(j.alias, "alias")?,
                    last_will: j.last_will,
                    token: j.token.take(),
                }
            }
            "send" => {
                one_of(j.to.is_some(), j.room.is_some(), "\"to\" or \"room\"")?;
                Action::Send {
                    client: need(j.client, "client")?,
                    to: j.to,
                    room: j.room,
                    message: message(j.message)?,
                }
            }
            "request" => Action::Request {
                client: need(j.client, "client")?,
                to: j.to,
                message: message(j.message)?,
                timeout_ms: j.timeout_ms,
            },
            "reply" => Action::Reply {
                client: j.client,
                reply_to: need(j.reply_to, "reply_to")?,
                message: message(j.message)?,
            },
            "write" => Action::Write {
                client: need(j.client, "client")?,
                data: need(j.data, "data")?,
            },
            "list" => Action::List {
                client: need(j.client, "client")?,
                room: j.room,
            },
            "join" => Action::Join {
                client: need(j.client, "client")?,
                room: need(j.room, "room")?,
            },
            "leave" => Action::Leave {
                client: need(j.client, "client")?,
                room: need(j.room, "room")?,
            },
            "watch" => Action::Watch {
                client: need(j.client, "client")?,
                scope: scope(j.aliases, j.room)?,
            },
            "unwatch" => Action::Unwatch {
                client: need(j.client, "client")?,
                scope: scope(j.aliases, j.room)?,
            },
            "bye" => Action::Bye {
                client: need(j.client, "client")?,
            },
            "ping" => Action::Ping {
                client: need(j.client, "client")?,
            },
            "disconnect" => Action::Disconnect {
                client: need(j.client, "client")?,
            },
            "drop" => Action::Drop {
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
                enabled: j.enabled.ok_or_else(|| missing(&kind, "enabled"))?,
            },
            "wait" => Action::Wait {
                ms: j.ms.ok_or_else(|| missing(&kind, "ms"))?,
            },
            "broadcast" => Action::Broadcast {
                message: message(j.message)?,
            },
            "send_to_alias" => Action::SendToAlias {
                alias: need(j.alias, "alias")?,
                message: message(j.message)?,
            },
            "join_room" => Action::JoinRoom {
                session_id: need(j.session_id, "session_id")?,
                room: need(j.room, "room")?,
            },
            "leave_room" => Action::LeaveRoom {
                session_id: need(j.session_id, "session_id")?,
                room: need(j.room, "room")?,
            },
            "send_to_room" => Action::SendToRoom {
                room: need(j.room, "room")?,
                message: message(j.message)?,
            },
            "close_session" => Action::CloseSession {
                session_id: need(j.session_id, "session_id")?,
            },
            "shutdown" => Action::Shutdown,
            "crash_node" => Action::CrashNode {
                // The node crashed, not the node it happens on.
                node: need(j.node.take(), "node")?,
            },
            other => {
                return Err(format!(
                    "unknown action {other:?}: expected connect, sync, send, write, list, ping, \
                     join, leave, watch, unwatch, bye, disconnect, drop, half_close, stop_reading, \
                     resume_reading, faults, wait, broadcast, send_to_alias, join_room, leave_room, \
                     send_to_room, close_session, shutdown or crash_node"
                ))
            }
        };
        if j.token.is_some() {
            return Err(format!(
                "action {kind:?} takes no \"token\": only sync sends one"
            ));
        }
        if j.node.is_some() && !action.takes_node() {
            return Err(format!(
                "action {kind:?} takes no \"node\": only connect and the host's commands run on one"
            ));
        }
        Ok(Step {
            at: j.at,
            node: j.node,
            action,
        })
    }
}

/// The error for a step without a field its action needs: one function
/// rather than a `format!` at each of the thirty places that check one.
#[cold]
#[inline(never)]
fn missing(kind: &str, field: &str) -> String {
    format!("action {kind:?} needs field {field:?}")
}

impl From<Step> for StepJson {
    fn from(step: Step) -> Self {
        let mut j = StepJson {
            at: step.at,
            node: step.node,
            ..StepJson::default()
        };
        let kind = match step.action {
            Action::Connect { client } => {
                j.client = Some(client);
                "connect"
            }
            Action::Sync {
                client,
                alias,
                last_will,
                token,
            } => {
                j.client = Some(client);
                j.alias = Some(alias);
                j.last_will = last_will;
                j.token = token;
                "sync"
            }
            Action::Send {
                client,
                to,
                room,
                message,
            } => {
                j.client = Some(client);
                j.to = to;
                j.room = room;
                j.message = Some(message);
                "send"
            }
            Action::Request {
                client,
                to,
                message,
                timeout_ms,
            } => {
                j.client = Some(client);
                j.to = to;
                j.message = Some(message);
                j.timeout_ms = timeout_ms;
                "request"
            }
            Action::Reply {
                client,
                reply_to,
                message,
            } => {
                j.client = client;
                j.reply_to = Some(reply_to);
                j.message = Some(message);
                "reply"
            }
            Action::Write { client, data } => {
                j.client = Some(client);
                j.data = Some(data);
                "write"
            }
            Action::List { client, room } => {
                j.client = Some(client);
                j.room = room;
                "list"
            }
            Action::Join { client, room } => {
                j.client = Some(client);
                j.room = Some(room);
                "join"
            }
            Action::Leave { client, room } => {
                j.client = Some(client);
                j.room = Some(room);
                "leave"
            }
            Action::Watch { client, scope } => {
                j.client = Some(client);
                j.set_scope(scope);
                "watch"
            }
            Action::Unwatch { client, scope } => {
                j.client = Some(client);
                j.set_scope(scope);
                "unwatch"
            }
            Action::Bye { client } => {
                j.client = Some(client);
                "bye"
            }
            Action::Ping { client } => {
                j.client = Some(client);
                "ping"
            }
            Action::Disconnect { client } => {
                j.client = Some(client);
                "disconnect"
            }
            Action::Drop { client } => {
                j.client = Some(client);
                "drop"
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
            Action::JoinRoom { session_id, room } => {
                j.session_id = Some(session_id);
                j.room = Some(room);
                "join_room"
            }
            Action::LeaveRoom { session_id, room } => {
                j.session_id = Some(session_id);
                j.room = Some(room);
                "leave_room"
            }
            Action::SendToRoom { room, message } => {
                j.room = Some(room);
                j.message = Some(message);
                "send_to_room"
            }
            Action::CloseSession { session_id } => {
                j.session_id = Some(session_id);
                "close_session"
            }
            Action::Shutdown => "shutdown",
            Action::CrashNode { node } => {
                j.node = Some(node);
                "crash_node"
            }
        };
        j.action = kind.to_owned();
        j
    }
}

impl StepJson {
    fn set_scope(&mut self, scope: WatchScope) {
        match scope {
            WatchScope::All => {}
            WatchScope::Aliases(aliases) => self.aliases = Some(aliases),
            WatchScope::Room(room) => self.room = Some(room),
        }
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
            | Action::List { client, .. }
            | Action::Join { client, .. }
            | Action::Leave { client, .. }
            | Action::Watch { client, .. }
            | Action::Unwatch { client, .. }
            | Action::Bye { client }
            | Action::Ping { client }
            | Action::Disconnect { client }
            | Action::Drop { client }
            | Action::HalfClose { client }
            | Action::StopReading { client }
            | Action::ResumeReading { client }
            | Action::Request { client, .. } => Some(client),
            Action::Reply { client, .. } => client.as_deref(),
            Action::Wait { .. }
            | Action::Faults { .. }
            | Action::Broadcast { .. }
            | Action::SendToAlias { .. }
            | Action::JoinRoom { .. }
            | Action::LeaveRoom { .. }
            | Action::SendToRoom { .. }
            | Action::CloseSession { .. }
            | Action::Shutdown
            | Action::CrashNode { .. } => None,
        }
    }

    /// Whether the action runs on a node of its step's choosing: a
    /// client's connect, or a host command. (`close_session`, `join_room`
    /// and `leave_room` name a session, which says its node.)
    pub fn takes_node(&self) -> bool {
        matches!(
            self,
            Action::Connect { .. }
                | Action::Broadcast { .. }
                | Action::SendToAlias { .. }
                | Action::SendToRoom { .. }
                | Action::Shutdown
        )
    }
}
