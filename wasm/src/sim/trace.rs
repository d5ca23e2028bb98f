//! What happened in a run, entry by entry, each with its virtual time.
//!
//! The trace serializes to JSON with no floats and no hash-ordered maps, so
//! one run gives the same bytes natively and in WebAssembly.

use serde::Serialize;
use serde_json::value::RawValue;

use super::scenario::TraceLevel;
use super::step::Step;

/// Which way bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Client to hub.
    ToHub,
    /// Hub to client.
    ToClient,
}

/// Bytes as they were, readable: `text` is the UTF-8 reading (with U+FFFD
/// where a cut fell inside a character) and `hex` the exact bytes whenever
/// the text is not exact.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireBytes {
    /// The bytes as text.
    pub text: String,
    /// The exact bytes, when `text` could not hold them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hex: Option<String>,
    /// How many bytes.
    pub len: usize,
}

impl WireBytes {
    pub(crate) fn new(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => WireBytes {
                text: text.to_owned(),
                hex: None,
                len: bytes.len(),
            },
            Err(_) => WireBytes {
                text: String::from_utf8_lossy(bytes).into_owned(),
                hex: Some(bytes.iter().map(|b| format!("{b:02x}")).collect()),
                len: bytes.len(),
            },
        }
    }
}

/// One thing that happened. `t` is the virtual time in ms.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A step of the script (or a click on the page) ran.
    Step {
        /// Virtual ms.
        t: u64,
        /// Its position among the steps run so far, from 0.
        index: usize,
        /// What it did (a step without `at`: `t` says when).
        step: Step,
    },
    /// A client opened a connection and the hub accepted it.
    Connect {
        /// Virtual ms.
        t: u64,
        /// The client's name.
        client: String,
        /// Its virtual address: its session id on the wire.
        addr: String,
        /// The hub's handle for the session.
        handle: u64,
        /// The node it connected to, in a cluster.
        #[serde(skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// One write: a client's request, or a frame the hub sent.
    Write {
        /// Virtual ms.
        t: u64,
        /// The client at one end.
        client: String,
        /// Which way.
        dir: Direction,
        /// What was written.
        #[serde(flatten)]
        bytes: WireBytes,
        /// How many pieces the network cut it into.
        pieces: usize,
        /// Whether it joined the previous write still in flight.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        joined: bool,
    },
    /// A piece of data reached the other end: one TCP read.
    Arrive {
        /// Virtual ms.
        t: u64,
        /// When it left.
        sent: u64,
        /// The client at one end.
        client: String,
        /// Which way.
        dir: Direction,
        /// What arrived.
        #[serde(flatten)]
        bytes: WireBytes,
    },
    /// A client read one whole frame from the hub.
    Deliver {
        /// Virtual ms.
        t: u64,
        /// The recipient.
        client: String,
        /// The frame's `type`: `info`, `synced`, `error`, `bye`, ...
        frame: String,
        /// The sender, for `info`.
        #[serde(skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// The line exactly as read (without its newline).
        line: Box<RawValue>,
    },
    /// The hub reported an event to the host.
    Event {
        /// Virtual ms.
        t: u64,
        /// `opened`, `synced`, `released`, `message`, `protocol_error`,
        /// `joined`, `left`, `relayed` (with `observe` on), `closed`.
        event: &'static str,
        /// The hub's handle for the session.
        handle: u64,
        /// Its session id: the peer address, `sessionId` on the wire.
        session_id: String,
        /// The alias concerned, if any.
        #[serde(skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
        /// Details: the message, the error, the close reason, ...
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<Box<RawValue>>,
    },
    /// A host command and what it reached.
    Host {
        /// Virtual ms.
        t: u64,
        /// `broadcast`, `send_to_alias`, `join_room`, `leave_room`,
        /// `send_to_room`, `close_session`, `reply` or `shutdown`.
        command: &'static str,
        /// How many sessions it reached.
        #[serde(skip_serializing_if = "Option::is_none")]
        reached: Option<usize>,
        /// Why it failed.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        /// The node whose host ran it, in a cluster.
        #[serde(skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// A connection closed at one end.
    Close {
        /// Virtual ms.
        t: u64,
        /// The client.
        client: String,
        /// The end that saw it close: `hub` or `client`.
        at: &'static str,
        /// Why.
        reason: String,
        /// Bytes queued for the client and never written: a slow
        /// consumer's unsent frames, dropped by the hub's driver.
        #[serde(skip_serializing_if = "is_zero")]
        dropped: usize,
    },
    /// Flow control: the hub stopped reading a client (what it sends waits
    /// in the network, in order) or reads it again.
    Flow {
        /// Virtual ms.
        t: u64,
        /// The client.
        client: String,
        /// `paused` or `resumed`.
        state: &'static str,
    },
    /// A client shut its write side (half-close): `at` `client` when it
    /// did, `at` `hub` when the hub read the end of its requests.
    Eof {
        /// Virtual ms.
        t: u64,
        /// The client.
        client: String,
        /// `client` or `hub`.
        at: &'static str,
    },
    /// A fault drawn from the seed that changes the story: a drop or a stall.
    Fault {
        /// Virtual ms.
        t: u64,
        /// The client hit.
        client: String,
        /// `drop` or `stall`.
        fault: &'static str,
    },
    /// Data that arrived at an end already closed, and was thrown away.
    Discard {
        /// Virtual ms.
        t: u64,
        /// The client at one end.
        client: String,
        /// Which way it travelled.
        dir: Direction,
        /// How many bytes.
        len: usize,
    },
    /// One message of a cluster reached the backplane from a node (`to`
    /// is `backplane`) or a node from the backplane (`from` is
    /// `backplane`): one hop, `latency_ms` after it left.
    Backplane {
        /// Virtual ms.
        t: u64,
        /// When it left.
        sent: u64,
        /// A node's id, or `backplane`.
        from: String,
        /// A node's id, or `backplane`.
        to: String,
        /// The core's name for it: on the way up `claim`, `release`,
        /// `directory`, `forward`, `publish`, `resolve`; on the way down
        /// `claim_settled`, `taken_over`, `directory`, `deliver`,
        /// `resolved`, `unresolved`, `node_gone`.
        message: &'static str,
        /// What it says, in words; see [`BackplaneDetail`].
        #[serde(flatten)]
        detail: BackplaneDetail,
        /// It reached a node that had crashed: nobody read it.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        lost: bool,
    },
    /// A node of the cluster crashed (`state` `crashed`), or the backplane
    /// let its lease run out (`lease_expired`) and freed its aliases.
    Node {
        /// Virtual ms.
        t: u64,
        /// The node's id.
        node: String,
        /// `crashed` or `lease_expired`.
        state: &'static str,
        /// For `lease_expired`: the aliases the directory freed.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        freed: Vec<String>,
    },
    /// The hub asked the scenario's authenticator about a client's
    /// credential (`state` `asked`), or the answer reached the hub
    /// (`granted` or `denied`, `asked` saying when it was asked).
    Auth {
        /// Virtual ms.
        t: u64,
        /// For an answer: when the hub asked.
        #[serde(skip_serializing_if = "Option::is_none")]
        asked: Option<u64>,
        /// The client whose session asks.
        client: String,
        /// The core's number for the question (`AuthRequestId`).
        request: u64,
        /// The alias the session asks for.
        alias: String,
        /// `asked`, `granted` or `denied`.
        state: &'static str,
        /// For a grant: who the credential belongs to, when it names
        /// someone other than the alias.
        #[serde(skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
        /// The hub no longer waited (its `auth_timeout_ms` had passed, or
        /// the session had closed) and ignored the answer.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        late: bool,
        /// The node that asked, in a cluster.
        #[serde(skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// A step that could not run, and why.
    Skip {
        /// Virtual ms.
        t: u64,
        /// Why.
        reason: String,
    },
}

impl Entry {
    /// The entry's virtual time.
    pub fn time(&self) -> u64 {
        match self {
            Entry::Step { t, .. }
            | Entry::Connect { t, .. }
            | Entry::Write { t, .. }
            | Entry::Arrive { t, .. }
            | Entry::Deliver { t, .. }
            | Entry::Event { t, .. }
            | Entry::Host { t, .. }
            | Entry::Close { t, .. }
            | Entry::Flow { t, .. }
            | Entry::Eof { t, .. }
            | Entry::Fault { t, .. }
            | Entry::Discard { t, .. }
            | Entry::Backplane { t, .. }
            | Entry::Node { t, .. }
            | Entry::Auth { t, .. }
            | Entry::Skip { t, .. } => *t,
        }
    }

    /// Whether `level` keeps this kind of entry.
    fn kept_at(&self, level: TraceLevel) -> bool {
        match level {
            TraceLevel::Full => true,
            TraceLevel::Deliveries => !matches!(self, Entry::Write { .. } | Entry::Arrive { .. }),
            TraceLevel::None => false,
        }
    }
}

/// What one backplane message says, each field only when it applies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BackplaneDetail {
    /// The alias claimed, released, held, taken over, or a frame is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The room a frame is for, or a node joined or left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// A frame for every session (a `*` or a host broadcast).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub everyone: bool,
    /// A presence frame for the sessions watching `alias` (or every
    /// alias) or the members of `rooms`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub watchers: bool,
    /// The rooms of a presence frame's session.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// The node a `forward` is for, a `directory` change is about, or that
    /// is gone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The session claiming, releasing, taken over, listed, or a frame is
    /// for (node-scoped id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// For a reply crossing back: the reply address of the request it
    /// answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// The sender of a message to an alias, told `unknown_alias` if it
    /// reaches nobody.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    /// A `watching` change: whether the node has a presence watcher now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watching: Option<bool>,
    /// A `directory` change: `alias_held`, `alias_released`,
    /// `room_joined`, `room_left`, `session`, `session_closed` or
    /// `watching`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change: Option<&'static str>,
    /// A claim's number, on the claim and on its answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<u64>,
    /// A claim's policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<&'static str>,
    /// A claim's answer: whether the alias is the claimant's now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted: Option<bool>,
    /// The frame carried, as its recipients will read it (without its
    /// newline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<Box<RawValue>>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Running totals, kept at every trace level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Steps run.
    pub steps: u64,
    /// Whole frames read by clients.
    pub deliveries: u64,
    /// Of those, `info` frames (messages from the host or another client).
    pub info_deliveries: u64,
    /// Messages clients sent to the host that reached it.
    pub host_messages: u64,
    /// Bytes written by clients.
    pub bytes_to_hub: u64,
    /// Bytes the hub's driver wrote to clients' sockets.
    pub bytes_to_clients: u64,
    /// Pieces of data that crossed the network.
    pub pieces: u64,
    /// Sessions closed, by anyone.
    pub closes: u64,
}

/// The entries of a run, filtered by level.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    level: TraceLevel,
    entries: Vec<Entry>,
}

impl Trace {
    pub(crate) fn new(level: TraceLevel) -> Self {
        Trace {
            level,
            entries: Vec::new(),
        }
    }

    /// Whether entries of this kind are kept; callers check before building
    /// costly ones.
    pub(crate) fn wants_wire(&self) -> bool {
        self.level == TraceLevel::Full
    }

    pub(crate) fn wants_any(&self) -> bool {
        self.level != TraceLevel::None
    }

    pub(crate) fn push(&mut self, entry: Entry) {
        if entry.kept_at(self.level) {
            self.entries.push(entry);
        }
    }

    /// Every entry so far.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries from `from` on, as a JSON array.
    pub fn to_json_from(&self, from: usize) -> String {
        let tail = self.entries.get(from..).unwrap_or_default();
        serde_json::to_string(tail).expect("trace entries always serialize")
    }

    /// The whole trace as a JSON array, one entry per line: the format the
    /// golden files and the determinism tests compare byte for byte.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::from("[\n");
        for (i, entry) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push_str(",\n");
            }
            out.push_str(&serde_json::to_string(entry).expect("trace entries always serialize"));
        }
        out.push_str("\n]\n");
        out
    }
}
