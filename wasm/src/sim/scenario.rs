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

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use tcphub_core::HubConfig;

use super::authenticator::AuthenticatorSettings;
use super::json::Object;
use super::step::{Action, Step};
use super::{SimError, MAX_DELAY_MS};

/// One simulated run: hub settings, network, faults and the script.
///
/// Written with serde; read by [`Scenario::from_json`] (`json.rs`), which
/// also serves as its [`Deserialize`].
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// A short name, shown by the page.
    pub name: String,
    /// What the scenario shows, for a person.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Seeds every random draw of the run (faults only).
    pub seed: u64,
    /// How the hub is configured.
    pub hub: HubSettings,
    /// The fault-free network.
    pub network: NetworkSettings,
    /// What may go wrong on the wire, drawn from the seed.
    pub faults: FaultSettings,
    /// How much the trace records.
    pub trace: TraceLevel,
    /// Several hub nodes over a simulated backplane instead of one hub;
    /// absent for one hub.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterSettings>,
    /// Answers the hub's questions about credentials, with
    /// `hub.authentication` on; absent: nobody answers them, and each
    /// waiting session is told `unauthorized` at `hub.auth_timeout_ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticator: Option<AuthenticatorSettings>,
    /// The script, in order.
    pub steps: Vec<Step>,
}

impl<'de> Deserialize<'de> for Scenario {
    /// The scenario's JSON as [`Scenario::from_json`] reads it (and
    /// checks it).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Scenario::from_json(raw.get()).map_err(serde::de::Error::custom)
    }
}

impl Scenario {
    /// Parses a scenario from JSON, naming what is wrong.
    pub fn from_json(json: &str) -> Result<Self, SimError> {
        let read = Object::parse(String::new(), json).and_then(Scenario::read);
        let scenario = read.map_err(|e| {
            let mut message = e;
            if message.contains("unknown field `max_queued_bytes`") {
                // Scenarios saved before the hub took over flow control.
                message.push_str(
                    " (the queue cap is the hub's now: hub.max_queued_bytes; \
                     the network has socket_buffer_bytes)",
                );
            }
            SimError::Scenario(message)
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    fn read(mut o: Object<'_>) -> Result<Self, String> {
        let scenario = Scenario {
            name: o.get("name")?.unwrap_or_default(),
            description: o.get("description")?.unwrap_or_default(),
            seed: o.get("seed")?.unwrap_or_default(),
            hub: o
                .object("hub")?
                .map(HubSettings::read)
                .transpose()?
                .unwrap_or_default(),
            network: o
                .object("network")?
                .map(NetworkSettings::read)
                .transpose()?
                .unwrap_or_default(),
            faults: o
                .object("faults")?
                .map(FaultSettings::read)
                .transpose()?
                .unwrap_or_default(),
            trace: match o.get::<String>("trace")? {
                None => TraceLevel::default(),
                Some(level) => TraceLevel::parse(&level)?,
            },
            cluster: match o.raw("cluster") {
                Some(raw) if raw.get() != "null" => Some(ClusterSettings::read(Object::parse(
                    "cluster".into(),
                    raw.get(),
                )?)?),
                _ => None,
            },
            authenticator: match o.raw("authenticator") {
                Some(raw) if raw.get() != "null" => Some(AuthenticatorSettings::read(
                    Object::parse("authenticator".into(), raw.get())?,
                )?),
                _ => None,
            },
            steps: o.objects("steps", Step::read)?,
        };
        o.finish(
            "name, description, seed, hub, network, faults, trace, cluster, authenticator \
             or steps",
        )?;
        Ok(scenario)
    }

    /// Checks every setting against its bounds: the hub's through
    /// [`HubConfig::validate`], the network's and the faults' here.
    pub fn validate(&self) -> Result<(), SimError> {
        self.hub.to_config()?;
        self.network.validate()?;
        self.faults.validate()?;
        if let Some(cluster) = &self.cluster {
            cluster.validate()?;
        }
        if let Some(authenticator) = &self.authenticator {
            if !self.hub.authentication {
                return Err(SimError::Scenario(
                    "authenticator is set but hub.authentication is off: the hub would never \
                     ask it"
                        .into(),
                ));
            }
            authenticator.validate()?;
        }
        for step in &self.steps {
            let node = match &step.action {
                Action::CrashNode { node } => Some(node),
                _ => step.node.as_ref(),
            };
            if let Some(node) = node {
                self.node_index(node)?;
            }
        }
        Ok(())
    }

    /// Where `node` is in the cluster's list of nodes, or an error naming
    /// it.
    pub fn node_index(&self, node: &str) -> Result<usize, SimError> {
        let nodes = self.cluster.as_ref().map_or(&[][..], |c| &c.nodes[..]);
        nodes.iter().position(|n| n == node).ok_or_else(|| {
            SimError::Scenario(format!(
                "there is no node {node:?}: {}",
                if nodes.is_empty() {
                    "the scenario has no cluster".to_owned()
                } else {
                    format!("cluster.nodes is {nodes:?}")
                }
            ))
        })
    }

    /// The scenario as pretty JSON, ready to save.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a scenario always serializes")
    }
}

/// The hub's configuration, in JSON-friendly units: the core's
/// [`HubConfig`] field by field, durations in virtual ms. Every default is
/// the core's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Flow control: once this many bytes are queued for a session (handed
    /// to the driver, not yet written to its socket), whoever sends to it
    /// is paused, and so is the session itself.
    pub high_watermark: usize,
    /// The paused senders resume once the queue is below this.
    pub low_watermark: usize,
    /// Hard cap on one session's queue: past it the session is closed as a
    /// slow consumer.
    pub max_queued_bytes: usize,
    /// A session whose queue has not moved for this long (virtual ms) is
    /// closed as a slow consumer; `null` never.
    pub write_deadline_ms: Option<u64>,
    /// A frame must arrive whole within this long of its first byte
    /// (virtual ms); `null` waits forever.
    pub frame_timeout_ms: Option<u64>,
    /// Most rows in one `sessions` reply.
    pub max_list_rows: usize,
    /// Most rooms one session may be in at once.
    pub max_rooms_per_session: usize,
    /// Most aliases one session may watch by name.
    pub max_watched_aliases: usize,
    /// Largest last will message the hub keeps, in bytes as sent.
    pub max_last_will_bytes: usize,
    /// Whether the hub reports every message a client relays to others
    /// (`relayed` events in the trace).
    pub observe: bool,
    /// Messages each session may send per virtual second; off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_messages: Option<u64>,
    /// Messages a session may send at once; one second's worth when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_message_burst: Option<u64>,
    /// Bytes each session may send per virtual second; off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_bytes: Option<u64>,
    /// Bytes a session may send at once; one second's worth (at least
    /// `max_frame_len`) when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_bytes_burst: Option<u64>,
    /// Most sessions open at once from one address; off when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_address: Option<u64>,
    /// A `sync` needs a `token`, which the hub asks the scenario's
    /// authenticator about; until one is granted a session may only
    /// `sync`, `ping` and say `bye`. Left out of a saved scenario when off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub authentication: bool,
    /// How long a session waits for the authenticator's answer (virtual
    /// ms) before it is told `unauthorized`. Left out when the default.
    #[serde(skip_serializing_if = "is_default_auth_timeout")]
    pub auth_timeout_ms: u64,
}

fn is_default_auth_timeout(ms: &u64) -> bool {
    *ms == millis(tcphub_core::DEFAULT_AUTH_TIMEOUT)
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings::from_config(&HubConfig::default())
    }
}

impl HubSettings {
    /// Reads `hub`: an absent field takes the core's default.
    fn read(mut o: Object<'_>) -> Result<Self, String> {
        let d = HubSettings::default();
        let settings = HubSettings {
            alias_policy: o.get("alias_policy")?.unwrap_or(d.alias_policy),
            relay: o.get("relay")?.unwrap_or(d.relay),
            max_frame_len: o.get("max_frame_len")?.unwrap_or(d.max_frame_len),
            max_sessions: o.get("max_sessions")?.unwrap_or(d.max_sessions),
            idle_timeout_ms: o.nullable("idle_timeout_ms", d.idle_timeout_ms)?,
            high_watermark: o.get("high_watermark")?.unwrap_or(d.high_watermark),
            low_watermark: o.get("low_watermark")?.unwrap_or(d.low_watermark),
            max_queued_bytes: o.get("max_queued_bytes")?.unwrap_or(d.max_queued_bytes),
            write_deadline_ms: o.nullable("write_deadline_ms", d.write_deadline_ms)?,
            frame_timeout_ms: o.nullable("frame_timeout_ms", d.frame_timeout_ms)?,
            max_list_rows: o.get("max_list_rows")?.unwrap_or(d.max_list_rows),
            max_rooms_per_session: o
                .get("max_rooms_per_session")?
                .unwrap_or(d.max_rooms_per_session),
            max_watched_aliases: o
                .get("max_watched_aliases")?
                .unwrap_or(d.max_watched_aliases),
            max_last_will_bytes: o
                .get("max_last_will_bytes")?
                .unwrap_or(d.max_last_will_bytes),
            observe: o.get("observe")?.unwrap_or(d.observe),
            rate_limit_messages: o.nullable("rate_limit_messages", d.rate_limit_messages)?,
            rate_limit_message_burst: o
                .nullable("rate_limit_message_burst", d.rate_limit_message_burst)?,
            rate_limit_bytes: o.nullable("rate_limit_bytes", d.rate_limit_bytes)?,
            rate_limit_bytes_burst: o
                .nullable("rate_limit_bytes_burst", d.rate_limit_bytes_burst)?,
            max_connections_per_address: o
                .nullable("max_connections_per_address", d.max_connections_per_address)?,
            authentication: o.get("authentication")?.unwrap_or(d.authentication),
            auth_timeout_ms: o.get("auth_timeout_ms")?.unwrap_or(d.auth_timeout_ms),
        };
        o.finish(
            "alias_policy, relay, max_frame_len, max_sessions, idle_timeout_ms, \
             high_watermark, low_watermark, max_queued_bytes, write_deadline_ms, \
             frame_timeout_ms, max_list_rows, max_rooms_per_session, max_watched_aliases, \
             max_last_will_bytes, observe, rate_limit_messages, rate_limit_message_burst, \
             rate_limit_bytes, rate_limit_bytes_burst, max_connections_per_address, \
             authentication or auth_timeout_ms",
        )?;
        Ok(settings)
    }

    /// The settings that give `config`.
    pub fn from_config(config: &HubConfig) -> Self {
        HubSettings {
            alias_policy: config.alias_policy.as_str().to_owned(),
            relay: config.relay,
            max_frame_len: config.max_frame_len,
            max_sessions: config.max_sessions,
            idle_timeout_ms: config.idle_timeout.map(millis),
            high_watermark: config.high_watermark,
            low_watermark: config.low_watermark,
            max_queued_bytes: config.max_queued_bytes,
            write_deadline_ms: config.write_deadline.map(millis),
            frame_timeout_ms: config.frame_timeout.map(millis),
            max_list_rows: config.max_list_rows,
            max_rooms_per_session: config.max_rooms_per_session,
            max_watched_aliases: config.max_watched_aliases,
            max_last_will_bytes: config.max_last_will_bytes,
            observe: config.observe,
            rate_limit_messages: config.rate_limit_messages.map(u64::from),
            rate_limit_message_burst: config.rate_limit_message_burst.map(u64::from),
            rate_limit_bytes: config.rate_limit_bytes,
            rate_limit_bytes_burst: config.rate_limit_bytes_burst,
            max_connections_per_address: config.max_connections_per_address.map(|n| n as u64),
            authentication: config.authentication,
            auth_timeout_ms: millis(config.auth_timeout),
        }
    }

    /// The core's configuration, checked by [`HubConfig::validate`]: an
    /// out-of-range value is an error naming it. Durations have no upper
    /// bound (a deadline past the end of virtual time never comes).
    pub fn to_config(&self) -> Result<HubConfig, SimError> {
        // The core would refuse a zero too, but in its own words: here
        // "unset" is `null`, since an absent field takes the default.
        if self.auth_timeout_ms == 0 {
            return Err(SimError::Scenario(
                "hub.auth_timeout_ms is 0: expected at least 1 ms".into(),
            ));
        }
        for (name, value) in [
            ("idle_timeout_ms", self.idle_timeout_ms),
            ("write_deadline_ms", self.write_deadline_ms),
            ("frame_timeout_ms", self.frame_timeout_ms),
        ] {
            if value == Some(0) {
                return Err(SimError::Scenario(format!(
                    "hub.{name} is 0: expected at least 1 ms, or null for no limit"
                )));
            }
        }
        let config = HubConfig {
            alias_policy: self.alias_policy.parse()?,
            max_frame_len: self.max_frame_len,
            max_sessions: self.max_sessions,
            idle_timeout: self.idle_timeout_ms.map(Duration::from_millis),
            relay: self.relay,
            high_watermark: self.high_watermark,
            low_watermark: self.low_watermark,
            max_queued_bytes: self.max_queued_bytes,
            write_deadline: self.write_deadline_ms.map(Duration::from_millis),
            frame_timeout: self.frame_timeout_ms.map(Duration::from_millis),
            max_list_rows: self.max_list_rows,
            max_rooms_per_session: self.max_rooms_per_session,
            max_watched_aliases: self.max_watched_aliases,
            max_last_will_bytes: self.max_last_will_bytes,
            observe: self.observe,
            // One hub: the simulated cluster (several nodes over a
            // backplane) is a later step of docs/design/cluster.md.
            node: None,
            rate_limit_messages: fits("rate_limit_messages", self.rate_limit_messages)?,
            rate_limit_message_burst: fits(
                "rate_limit_message_burst",
                self.rate_limit_message_burst,
            )?,
            rate_limit_bytes: self.rate_limit_bytes,
            rate_limit_bytes_burst: self.rate_limit_bytes_burst,
            authentication: self.authentication,
            auth_timeout: Duration::from_millis(self.auth_timeout_ms),
            max_connections_per_address: fits(
                "max_connections_per_address",
                self.max_connections_per_address,
            )?,
            // Requests wait as long as a lone hub lets them by default.
            ..HubConfig::default()
        };
        config.validate()?;
        Ok(config)
    }
}

/// A count read as a `u64`, in the narrower type the core keeps it in.
fn fits<T: TryFrom<u64>>(name: &str, value: Option<u64>) -> Result<Option<T>, SimError> {
    value
        .map(|v| {
            T::try_from(v).map_err(|_| SimError::Scenario(format!("hub.{name} is {v}: too large")))
        })
        .transpose()
}

/// A duration in whole ms, saturating (the core's defaults are seconds).
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Largest socket buffer accepted: 1 GiB.
pub const MAX_SOCKET_BUFFER_BYTES: usize = 1 << 30;

/// The network when nothing goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSettings {
    /// Time every piece of data takes to cross, in virtual ms.
    pub latency_ms: u64,
    /// What one connection's sockets hold from the hub to the client: bytes
    /// written by the hub's driver and not yet read by the client (in
    /// flight, or arrived and unread). The driver writes only while there
    /// is room; the rest waits in its queue, which the hub counts.
    pub socket_buffer_bytes: usize,
}

impl Default for NetworkSettings {
    fn default() -> Self {
        NetworkSettings {
            latency_ms: 1,
            socket_buffer_bytes: 4 * 1024,
        }
    }
}

impl NetworkSettings {
    fn read(mut o: Object<'_>) -> Result<Self, String> {
        let d = NetworkSettings::default();
        let settings = NetworkSettings {
            latency_ms: o.get("latency_ms")?.unwrap_or(d.latency_ms),
            socket_buffer_bytes: o
                .get("socket_buffer_bytes")?
                .unwrap_or(d.socket_buffer_bytes),
        };
        o.finish("latency_ms or socket_buffer_bytes")?;
        Ok(settings)
    }

    /// Checks the latency and the buffer against their bounds.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.latency_ms > MAX_DELAY_MS {
            return Err(SimError::Scenario(format!(
                "network.latency_ms is {}: expected 0 to {MAX_DELAY_MS} (one day)",
                self.latency_ms
            )));
        }
        if !(1..=MAX_SOCKET_BUFFER_BYTES).contains(&self.socket_buffer_bytes) {
            return Err(SimError::Scenario(format!(
                "network.socket_buffer_bytes is {}: expected 1 to {MAX_SOCKET_BUFFER_BYTES}",
                self.socket_buffer_bytes
            )));
        }
        Ok(())
    }
}

/// Most nodes a simulated cluster may have: enough to show a cluster, few
/// enough to draw.
pub const MAX_NODES: usize = 4;

/// A cluster of hub nodes over a simulated backplane (what Redis is to
/// `tcphub serve --cluster`): every node runs its own core with
/// `HubConfig::node` set; the backplane carries what they send each other
/// and keeps the directory that settles claims of aliases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSettings {
    /// The nodes' ids, in order: `n1`, `n2`, ... (letters, digits, `-`
    /// and `_`, as the core's `NodeId`). A `connect` or host step names
    /// one; the first is the default.
    pub nodes: Vec<String>,
    /// Time one message takes from a node to the backplane, and again from
    /// the backplane to a node, in virtual ms. The backplane has no faults.
    pub latency_ms: u64,
    /// How long after a node crashes the backplane frees its aliases and
    /// tells the other nodes it is gone, in virtual ms.
    pub lease_ms: u64,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            nodes: vec!["n1".into(), "n2".into()],
            latency_ms: 1,
            lease_ms: 10_000,
        }
    }
}

impl ClusterSettings {
    fn read(mut o: Object<'_>) -> Result<Self, String> {
        let d = ClusterSettings::default();
        let settings = ClusterSettings {
            nodes: o.get("nodes")?.unwrap_or(d.nodes),
            latency_ms: o.get("latency_ms")?.unwrap_or(d.latency_ms),
            lease_ms: o.get("lease_ms")?.unwrap_or(d.lease_ms),
        };
        o.finish("nodes, latency_ms or lease_ms")?;
        Ok(settings)
    }

    /// Checks the node ids (with the core's `NodeId`), their number and
    /// the times against their bounds.
    pub fn validate(&self) -> Result<(), SimError> {
        let n = self.nodes.len();
        if !(1..=MAX_NODES).contains(&n) {
            return Err(SimError::Scenario(format!(
                "cluster.nodes has {n} nodes: expected 1 to {MAX_NODES}"
            )));
        }
        for (i, node) in self.nodes.iter().enumerate() {
            tcphub_core::NodeId::new(node)
                .map_err(|e| SimError::Scenario(format!("cluster.nodes: {e}")))?;
            if self.nodes[..i].contains(node) {
                return Err(SimError::Scenario(format!(
                    "cluster.nodes names {node:?} twice"
                )));
            }
        }
        for (name, ms) in [("latency_ms", self.latency_ms), ("lease_ms", self.lease_ms)] {
            if ms > MAX_DELAY_MS {
                return Err(SimError::Scenario(format!(
                    "cluster.{name} is {ms}: expected 0 to {MAX_DELAY_MS} (one day)"
                )));
            }
        }
        Ok(())
    }
}

/// Faults drawn from the seed. Chances are whole percentages, so no float
/// arithmetic can make two platforms disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// arrives (once its socket is full and nothing more can be written
    /// for the write deadline, the hub closes it as a slow consumer).
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
    fn read(mut o: Object<'_>) -> Result<Self, String> {
        let d = FaultSettings::default();
        let settings = FaultSettings {
            enabled: o.get("enabled")?.unwrap_or(d.enabled),
            split: o.get("split")?.unwrap_or(d.split),
            join: o.get("join")?.unwrap_or(d.join),
            max_delay_ms: o.get("max_delay_ms")?.unwrap_or(d.max_delay_ms),
            drop: o.get("drop")?.unwrap_or(d.drop),
            stall: o.get("stall")?.unwrap_or(d.stall),
        };
        o.finish("enabled, split, join, max_delay_ms, drop or stall")?;
        Ok(settings)
    }

    /// Checks that every chance is a percentage and the delay is bounded.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.max_delay_ms > MAX_DELAY_MS {
            return Err(SimError::Scenario(format!(
                "faults.max_delay_ms is {}: expected 0 to {MAX_DELAY_MS} (one day)",
                self.max_delay_ms
            )));
        }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
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

impl TraceLevel {
    fn parse(level: &str) -> Result<Self, String> {
        match level {
            "full" => Ok(TraceLevel::Full),
            "deliveries" => Ok(TraceLevel::Deliveries),
            "none" => Ok(TraceLevel::None),
            other => Err(format!(
                "trace: unknown level `{other}`, expected `full`, `deliveries` or `none`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::step::Action;

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = Scenario::from_json(r#"{"steps":[{"action":"connect","client":"a"}]}"#).unwrap();
        assert_eq!(s.hub, HubSettings::default());
        assert!(!s.faults.enabled);
        assert!(
            matches!(&s.steps[..], [Step { at: None, action: Action::Connect { client }, .. }] if client == "a")
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
    fn close_session_names_a_session_id_and_loads_the_old_name() {
        let new = r#"{"steps":[{"action":"close_session","session_id":"10.0.0.1:40001"}]}"#;
        let old = r#"{"steps":[{"action":"close_session","session":"10.0.0.1:40001"}]}"#;
        let saved = Scenario::from_json(new).unwrap().to_json();
        assert!(
            saved.contains(r#""session_id": "10.0.0.1:40001""#),
            "{saved}"
        );
        assert_eq!(Scenario::from_json(old).unwrap().to_json(), saved);
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
