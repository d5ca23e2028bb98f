//! Fuzzes the whole `tcphub_core::Hub`: an arbitrary configuration, then an
//! arbitrary sequence of operations (accepts, reads, EOFs, closes, writes
//! reported, timeouts, host commands), checking after every call into the
//! hub that what came out of `poll_output` and what the getters say agree
//! with a model the target keeps from the calls it made and the outputs it
//! saw. That includes rooms (`join`, `leave`, room `info` and `list`, the
//! host's `join_room`/`leave_room`/`send_to_room`), presence (`watch`,
//! `unwatch`), last wills (`sync` with `lastWill`), `bye`, and the host
//! observing relays (`observe`).
//!
//! Each `Op` is one arm of `Driver::run`; each call into the hub is followed
//! by `Driver::drain`, which checks every output against the model and
//! updates it, and `Driver::check_tables`, which checks the getters.
//!
//! Known bugs, tolerated unless `TCPHUB_FUZZ_KNOWN_BUGS` names them (see
//! fuzz/README.md): frames that `HubFrame::parse` refuses because a relayed
//! message is nested exactly 128 deep (`depth`), or because a relayed
//! message or an echoed request id is a number outside what an `f64` holds
//! (`number`).
#![no_main]

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use tcphub_core::{
    encode_bye, encode_info, encode_join, encode_leave, encode_ping, encode_reply, encode_request,
    encode_room_info, encode_sync, encode_sync_with_last_will, encode_unwatch, encode_watch,
    AliasPolicy, CloseReason, ErrorCode, Event, Hub, HubConfig, HubError, HubFrame, InputScanner,
    LastWillRequest, Output, PresenceChange, RawMessage, RawValue, RelayTarget, ReplyAddress,
    SessionEntry, SessionHandle, WatchScope, HUB_NAME, MAX_LAST_WILL_ALIASES, MAX_MAX_FRAME_LEN,
    MAX_MAX_LIST_ROWS, MAX_MAX_QUEUED_BYTES, MAX_MAX_SESSIONS, MAX_NAME_LEN, MAX_PER_SESSION_CAP,
    MIN_MAX_FRAME_LEN,
};

// ----- the fuzzer's input -----

#[derive(Debug, Arbitrary)]
struct Input {
    config: FuzzConfig,
    ops: Vec<Op>,
}

#[derive(Debug, Arbitrary)]
struct FuzzConfig {
    policy: Policy,
    max_frame_len: FrameLimit,
    /// `% 10`: 0 is refused by `Hub::new`, 1..=9 sessions.
    max_sessions: u8,
    idle_timeout: Option<Span>,
    relay: bool,
    high_watermark: Watermark,
    /// The low watermark as a fraction of the high one, in 256ths (256 and
    /// more are refused by `Hub::new`).
    low_watermark: u16,
    max_queued_bytes: QueueCap,
    write_deadline: Option<Span>,
    frame_timeout: Option<Span>,
    /// `% 6`: 0 is refused, 1..=5 rows per `sessions` page; or the default.
    max_list_rows: Option<u8>,
    max_rooms_per_session: Cap,
    max_watched_aliases: Cap,
    max_last_will_bytes: WillCap,
    /// Report relayed messages as `Event::Relayed`.
    observe: bool,
    /// `request_timeout`: the default; under 1 ms (refused) or any span.
    request_timeout: Option<Span>,
    /// `max_request_timeout`: the default, or any span (refused when
    /// shorter than `request_timeout`).
    max_request_timeout: Option<Span>,
    /// `% 5`: 0 is refused, 1..=4 requests waiting (`too_many_requests`
    /// within reach); or the default.
    max_pending_requests: Option<u8>,
    /// A session's directed frames in one `Transmit`, as tcphub's server
    /// has them.
    merge_transmits: bool,
}

/// `max_last_will_bytes`.
#[derive(Debug, Arbitrary)]
enum WillCap {
    /// 1..=1024 bytes: `last_will_too_large` within reach.
    Small(u16),
    Default,
    /// The largest accepted, `MAX_MAX_FRAME_LEN`.
    Max,
    /// 0 or past `MAX_MAX_FRAME_LEN`: refused.
    Invalid(bool),
}

/// A per-session cap (`max_rooms_per_session`, `max_watched_aliases`).
#[derive(Debug, Arbitrary)]
enum Cap {
    /// 1..=3: the cap within reach.
    Small(u8),
    Default,
    /// The largest accepted.
    Max,
    /// Out of range (0 or past `MAX_PER_SESSION_CAP`): refused.
    Invalid(bool),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Policy {
    Takeover,
    Reject,
    Share,
}

#[derive(Debug, Arbitrary)]
enum FrameLimit {
    /// 256..=511 bytes: `frame_too_large` within reach.
    Small(u8),
    /// 256..=4351 bytes.
    Medium(u16),
    Default,
    /// Out of range: `Hub::new` must refuse it.
    Invalid(u64),
}

#[derive(Debug, Arbitrary)]
enum Watermark {
    /// 1..=4096 bytes: a few frames back a session up.
    Small(u16),
    Default,
}

#[derive(Debug, Arbitrary)]
enum QueueCap {
    /// Just above the least accepted, `high_watermark + max_frame_len`.
    Tight(u16),
    Default,
    /// Anything: often refused.
    Any(u64),
}

/// A length of time, from nothing to `Duration::MAX`.
#[derive(Debug, Clone, Copy, Arbitrary)]
enum Span {
    Zero,
    Nanos(u16),
    Millis(u16),
    Secs(u16),
    AnySecs(u64),
    AnyNanos(u64),
    Max,
}

/// One thing that happens to the hub: one arm each in `Driver::run`.
#[derive(Debug, Arbitrary)]
enum Op {
    /// A connection from one of a few peers (so duplicates happen).
    Accept(PeerSel),
    /// Bytes from a session; `cut` splits them over two reads.
    Data {
        session: SessionSel,
        chunks: Vec<Chunk>,
        cut: Option<u16>,
    },
    /// The peer half-closed: it sends nothing more.
    Eof(SessionSel),
    /// The connection is gone.
    Close(SessionSel),
    /// The driver wrote some of what was queued for a session.
    Written(SessionSel, Amount),
    /// The driver wrote everything queued, for every session.
    WriteAll,
    /// Time moves (or is claimed to move back) and `handle_timeout` runs.
    Timeout(Step),
    /// The clock moves on with no call; the next call brings the new time.
    Wait(Span),
    Broadcast(HostMessage),
    SendToAlias(AliasSel, HostMessage),
    SendToSession(SessionSel, HostMessage),
    CloseSession(SessionSel, Reason),
    Shutdown,
    /// The host puts a session in a room (`Hub::join_room`).
    JoinRoom(SessionSel, RoomSel),
    /// The host takes a session out of a room (`Hub::leave_room`).
    LeaveRoom(SessionSel, RoomSel),
    /// The host sends to a room's members (`Hub::send_to_room`).
    SendToRoom(RoomSel, HostMessage),
    /// The host answers a request it was sent (`Hub::reply`), or a stale
    /// or forged one.
    Reply(HostReplySel, HostMessage),
}

/// The request `Hub::reply` answers.
#[derive(Debug, Arbitrary)]
enum HostReplySel {
    /// The n-th `Event::Request` seen: waiting, answered, timed out or its
    /// requester gone.
    Known(u8),
    /// Any address, on a node or not: mostly unknown.
    Forged {
        handle: u64,
        number: u64,
        node: bool,
    },
}

/// The `replyTo` of a client's `reply`.
#[derive(Debug, Arbitrary)]
enum ReplySel {
    /// The n-th `replyTo` this session was sent in a `request` frame.
    Received(u8),
    /// The n-th `replyTo` the hub handed to anyone (host requests too): a
    /// reply from a session never asked.
    Anyones(u8),
    /// A received one changed a little: refused.
    Mangled(u8, u8),
    /// Anything.
    Custom(String),
}

/// A `request`'s `timeout`.
#[derive(Debug, Arbitrary)]
enum TimeoutSel {
    Millis(u16),
    /// Refused: at least 1 ms.
    Zero,
    /// Up to `u64::MAX` ms: cut to `max_request_timeout`.
    Huge(u64),
    /// Not a whole number: refused.
    Bad(u8),
}

#[derive(Debug, Arbitrary)]
enum PeerSel {
    Pool(u8),
    Custom(String),
}

const PEERS: [&str; 6] = [
    "127.0.0.1:53412",
    "127.0.0.1:53413",
    "[::1]:9000",
    "10.0.0.7:1",
    "客户端:5",
    "q\"uote\\:6",
];

#[derive(Debug, Clone, Copy, Arbitrary)]
enum SessionSel {
    /// The n-th open session (modulo how many); a never-issued id if none.
    Open(u8),
    /// The n-th id ever handed out: may be closed or refused.
    Issued(u8),
    /// Any id at all.
    Raw(u64),
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Amount {
    /// Everything queued.
    All,
    /// Some bytes (maybe more than queued, which counts as all).
    Bytes(u16),
    Zero,
    Max,
}

#[derive(Debug, Arbitrary)]
enum AliasSel {
    Pool(u8),
    Custom(String),
}

/// Valid aliases first, then ones the alias rules refuse.
const ALIASES: [&str; 10] = [
    "Client-1",
    "Client-2",
    "客户端一",
    "a\"b\\c",
    "**",
    "*",
    "#hub",
    "",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "tab\there",
];

#[derive(Debug, Arbitrary)]
enum RoomSel {
    Pool(u8),
    Custom(String),
}

/// Valid room names first (one shares a name with an alias), then ones
/// the room rules refuse.
const ROOMS: [&str; 10] = [
    "lobby",
    "大厅",
    "Client-1",
    "r\"q\\",
    "*",
    "#x",
    "",
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr",
    "bell\u{7}",
    "nl\nx",
];

/// Numbers at the edges of what JSON readers hold.
const EDGE_NUMBERS: [&str; 8] = [
    "1e400",
    "-1e400",
    "1e-400",
    "123456789012345678901234567890",
    "-0",
    "0.1",
    "18446744073709551616",
    "-9223372036854775809",
];

/// A piece of what a session sends: whole frames or raw bytes.
#[derive(Debug, Arbitrary)]
enum Chunk {
    Raw(Vec<u8>),
    Sync {
        alias: AliasSel,
        /// A `lastWill`, valid or not.
        will: Option<WillSel>,
        id: Option<ReqId>,
        ndjson: bool,
    },
    Info {
        to: Option<AliasSel>,
        message: ClientMessage,
        id: Option<ReqId>,
        ndjson: bool,
    },
    List {
        limit: Option<Limit>,
        after: Option<Cursor>,
        /// List a room's members.
        room: Option<RoomSel>,
        id: Option<ReqId>,
        ndjson: bool,
    },
    Ping {
        id: Option<ReqId>,
        ndjson: bool,
    },
    /// A frame cut short: the first n bytes of a `sync`.
    Truncated(AliasSel, u8),
    Newline,
    Join {
        room: RoomSel,
        id: Option<ReqId>,
        ndjson: bool,
    },
    Leave {
        room: RoomSel,
        id: Option<ReqId>,
        ndjson: bool,
    },
    /// `info` to a room; with `to` as well it is refused.
    RoomInfo {
        room: RoomSel,
        to: Option<AliasSel>,
        message: ClientMessage,
        id: Option<ReqId>,
        ndjson: bool,
    },
    /// `watch`, or `unwatch` when `unwatch`.
    Watch {
        unwatch: bool,
        scope: ScopeSel,
        id: Option<ReqId>,
        ndjson: bool,
    },
    Bye {
        id: Option<ReqId>,
        ndjson: bool,
    },
    /// `request` to an alias (`*` and invalid ones included) or, without
    /// `to`, to the host.
    Request {
        to: Option<AliasSel>,
        message: ClientMessage,
        id: Option<ReqId>,
        timeout: Option<TimeoutSel>,
        ndjson: bool,
    },
    /// `reply` to a request this session was sent, or to another one.
    Reply {
        reply_to: ReplySel,
        message: ClientMessage,
        id: Option<ReqId>,
        ndjson: bool,
    },
}

#[derive(Debug, Arbitrary)]
enum ScopeSel {
    All,
    Aliases(Vec<AliasSel>),
    Room(RoomSel),
    /// `aliases` and `room` together: refused.
    Both(RoomSel),
    /// `aliases` that is not an array of strings: refused.
    NotArray(u8),
}

/// A `sync`'s `lastWill`.
#[derive(Debug, Arbitrary)]
enum WillSel {
    Room(RoomSel, WillMessage),
    /// `"to":"A"`.
    To(AliasSel, WillMessage),
    /// `"to":[...]` (empty: refused).
    ToMany(Vec<AliasSel>, WillMessage),
    /// Past `MAX_LAST_WILL_ALIASES` by 1..=16: refused.
    TooMany(u8, WillMessage),
    /// Not an object, both targets, no message...: refused.
    Malformed(u8),
}

#[derive(Debug, Arbitrary)]
enum WillMessage {
    Str(String),
    Int(i64),
    /// A string of 0..=8191 bytes: past `max_last_will_bytes`
    /// (`last_will_too_large`) or the frame limit when large.
    Big(u16),
}

#[derive(Debug, Arbitrary)]
enum ReqId {
    Int(i64),
    Str(String),
    Edge(u8),
    /// Not a string or number, or too long: refused.
    Bad(u8),
}

#[derive(Debug, Arbitrary)]
enum Limit {
    Rows(u8),
    Huge,
    /// Not a whole number: refused.
    Bad(u8),
}

#[derive(Debug, Arbitrary)]
enum Cursor {
    /// A handle, as a `next` cursor names one.
    Handle(u8),
    /// Anything: refused unless it is a number.
    Text(String),
}

#[derive(Debug, Arbitrary)]
enum ClientMessage {
    Str(String),
    Int(i64),
    Null,
    /// Arrays nested n deep (1..=200), across the decoder's depth limit.
    Nested(u8),
    /// Arrays nested 124..=131 deep: around the decoder's `MAX_DEPTH`.
    NearMaxDepth(u8),
    Edge(u8),
    /// Pretty-printed, with newlines outside strings.
    Pretty,
    /// Any text: often not JSON at all.
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum HostMessage {
    Str(String),
    Int(i64),
    /// Arrays nested n deep (0..=64).
    Nested(u8),
    /// Text parsed as JSON when it is, sent as a string when not.
    Json(String),
    /// A map with non-string keys: serde_json refuses it.
    Unserializable,
}

#[derive(Debug, Arbitrary)]
enum Step {
    Forward(Span),
    Back(Span),
}

/// A close reason, as an index into the core's own list of them, so a
/// reason the core adds is fuzzed without touching this file.
#[derive(Debug, Clone, Copy, Arbitrary)]
struct Reason(u8);

// ----- turning selections into values -----

impl Span {
    fn get(self) -> Duration {
        match self {
            Span::Zero => Duration::ZERO,
            Span::Nanos(n) => Duration::from_nanos(n.into()),
            Span::Millis(n) => Duration::from_millis(n.into()),
            Span::Secs(n) => Duration::from_secs(n.into()),
            Span::AnySecs(n) => Duration::from_secs(n),
            Span::AnyNanos(n) => Duration::from_nanos(n),
            Span::Max => Duration::MAX,
        }
    }
}

impl PeerSel {
    fn get(&self) -> &str {
        match self {
            PeerSel::Pool(n) => PEERS[usize::from(*n) % PEERS.len()],
            PeerSel::Custom(s) => s,
        }
    }
}

impl AliasSel {
    fn get(&self) -> &str {
        match self {
            AliasSel::Pool(n) => ALIASES[usize::from(*n) % ALIASES.len()],
            AliasSel::Custom(s) => s,
        }
    }
}

impl RoomSel {
    fn get(&self) -> &str {
        match self {
            RoomSel::Pool(n) => ROOMS[usize::from(*n) % ROOMS.len()],
            RoomSel::Custom(s) => s,
        }
    }
}

impl WillMessage {
    fn json(&self) -> String {
        match self {
            WillMessage::Str(s) => serde_json::to_string(s).expect("a str serializes"),
            WillMessage::Int(n) => n.to_string(),
            WillMessage::Big(n) => format!("\"{}\"", "w".repeat(usize::from(*n) % 8192)),
        }
    }
}

impl ClientMessage {
    /// The message as a client writes it: JSON, except for `Raw`.
    fn text(&self) -> String {
        match self {
            ClientMessage::Str(s) => serde_json::to_string(s).expect("a str serializes"),
            ClientMessage::Int(n) => n.to_string(),
            ClientMessage::Null => "null".to_owned(),
            ClientMessage::Nested(n) => nested(1 + usize::from(*n) % 200),
            ClientMessage::NearMaxDepth(n) => nested(124 + usize::from(*n) % 8),
            ClientMessage::Edge(n) => EDGE_NUMBERS[usize::from(*n) % EDGE_NUMBERS.len()].to_owned(),
            ClientMessage::Pretty => "{\n  \"k\": [1,\r\n 2],\n  \"s\": \"a\\nb\"\n}".into(),
            ClientMessage::Raw(s) => s.clone(),
        }
    }
}

/// Whether `name` is a valid room name, as `Room::new` documents: 1 to 64
/// bytes, no control characters, not `*`, no leading `#`.
fn room_is_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name != "*"
        && !name.starts_with('#')
        && !name.chars().any(char::is_control)
}

/// An `info` frame with `to` and/or `room`; both, or a message that is not
/// JSON, written by hand as a careless client would.
fn info_frame(to: Option<&str>, room: Option<&str>, message: &ClientMessage) -> Vec<u8> {
    let text = message.text();
    match (RawValue::from_string(text.clone()), to, room) {
        (Ok(raw), to, None) => encode_info(to, &raw),
        (Ok(raw), None, Some(room)) => encode_room_info(room, &raw),
        (parsed, _, _) => {
            if let Err(e) = parsed {
                assert!(
                    matches!(message, ClientMessage::Raw(_)),
                    "{message:?} is not JSON: {e}"
                );
            }
            let mut f = br#"{"type":"info","#.to_vec();
            for (field, value) in [("to", to), ("room", room)] {
                if let Some(value) = value {
                    f.extend_from_slice(format!("\"{field}\":").as_bytes());
                    f.extend_from_slice(serde_json::to_string(value).unwrap().as_bytes());
                    f.push(b',');
                }
            }
            f.extend_from_slice(br#""message":"#);
            f.extend_from_slice(text.as_bytes());
            f.push(b'}');
            f
        }
    }
}

/// A `sync` frame with a `lastWill`, valid or not.
fn sync_with_will(alias: &str, will: &WillSel) -> Vec<u8> {
    let (room, to, message): (Option<&str>, Vec<Cow<'_, str>>, &WillMessage) = match will {
        WillSel::Room(room, m) => (Some(room.get()), Vec::new(), m),
        WillSel::To(alias, m) => (None, vec![Cow::Borrowed(alias.get())], m),
        WillSel::ToMany(aliases, m) => (
            None,
            aliases.iter().map(|a| Cow::Borrowed(a.get())).collect(),
            m,
        ),
        WillSel::TooMany(n, m) => (
            None,
            (0..MAX_LAST_WILL_ALIASES + 1 + usize::from(*n) % 16)
                .map(|i| Cow::Owned(format!("A{i}")))
                .collect(),
            m,
        ),
        WillSel::Malformed(n) => {
            let will = [
                r#""x""#,
                "null",
                r#"{"room":"lobby","to":"Client-1","message":1}"#,
                r#"{"room":"lobby"}"#,
                r#"{"to":[],"message":1}"#,
                r#"{"to":[1],"message":1}"#,
                r#"{"room":7,"message":1}"#,
                r#"{"message":1}"#,
            ][usize::from(*n) % 8];
            let mut f = encode_sync(alias);
            f.truncate(f.len() - 2); // the closing brace and newline
            f.extend_from_slice(b",\"lastWill\":");
            f.extend_from_slice(will.as_bytes());
            f.extend_from_slice(b"}\n");
            return f;
        }
    };
    let raw = RawValue::from_string(message.json()).expect("a will message is JSON");
    let request = LastWillRequest {
        room: room.map(Cow::Borrowed),
        to,
        message: RawMessage::from(&*raw),
    };
    // A will with neither target is written with `"to":[]`: refused.
    encode_sync_with_last_will(alias, Some(&request))
}

impl ScopeSel {
    fn frame(&self, unwatch: bool) -> Vec<u8> {
        let kind = if unwatch { "unwatch" } else { "watch" };
        let scope = match self {
            ScopeSel::All => WatchScope::All,
            ScopeSel::Aliases(aliases) => {
                WatchScope::Aliases(aliases.iter().map(|a| Cow::Borrowed(a.get())).collect())
            }
            ScopeSel::Room(room) => WatchScope::Room(Cow::Borrowed(room.get())),
            ScopeSel::Both(room) => {
                let room = serde_json::to_string(room.get()).unwrap();
                let text = format!(r#"{{"type":"{kind}","aliases":["Client-1"],"room":{room}}}"#);
                return text.into_bytes();
            }
            ScopeSel::NotArray(n) => {
                let aliases = [r#""Client-1""#, "7", "[1]", "null", "{}"][usize::from(*n) % 5];
                return format!(r#"{{"type":"{kind}","aliases":{aliases}}}"#).into_bytes();
            }
        };
        if unwatch {
            encode_unwatch(&scope)
        } else {
            encode_watch(&scope)
        }
    }
}

impl Reason {
    fn get(self) -> CloseReason {
        CloseReason::ALL[usize::from(self.0) % CloseReason::ALL.len()]
    }
}

impl ReqId {
    fn json(&self) -> String {
        match self {
            ReqId::Int(n) => n.to_string(),
            ReqId::Str(s) => serde_json::to_string(s).expect("a str serializes"),
            ReqId::Edge(n) => EDGE_NUMBERS[usize::from(*n) % EDGE_NUMBERS.len()].to_owned(),
            ReqId::Bad(n) => match n % 5 {
                0 => "null".into(),
                1 => "true".into(),
                2 => "[1]".into(),
                3 => "{}".into(),
                _ => format!("\"{}\"", "i".repeat(70)),
            },
        }
    }
}

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

/// Appends `frame` (an encoded frame ending in `}` and a newline), with the
/// request id added and the newline kept or dropped.
fn push_frame(out: &mut Vec<u8>, mut frame: Vec<u8>, id: &Option<ReqId>, ndjson: bool) {
    if frame.last() == Some(&b'\n') {
        frame.pop();
    }
    if let Some(id) = id {
        frame.pop(); // the closing brace
        frame.extend_from_slice(b",\"id\":");
        frame.extend_from_slice(id.json().as_bytes());
        frame.push(b'}');
    }
    out.extend_from_slice(&frame);
    if ndjson {
        out.push(b'\n');
    }
}

/// The `replyTo`s a session can pick from for its `reply` chunks.
struct ReplyBook<'a> {
    /// Those it was sent in `request` frames, oldest first.
    received: &'a [String],
    /// Every one the hub handed out (to sessions or the host).
    anyones: &'a [String],
    /// The one the hub will hand out next if this session asks: for a
    /// list still empty, so that a request and its reply fit in one
    /// `Op::Data`.
    next: String,
}

impl ReplySel {
    fn get(&self, book: &ReplyBook<'_>) -> String {
        let pick = |list: &[String], n: u8| {
            list.get(usize::from(n) % list.len().max(1))
                .cloned()
                .unwrap_or_else(|| book.next.clone())
        };
        match self {
            ReplySel::Received(n) => pick(book.received, *n),
            ReplySel::Anyones(n) => pick(book.anyones, *n),
            ReplySel::Mangled(n, how) => {
                let text = pick(book.received, *n);
                match how % 6 {
                    0 => format!("n1/{text}"),
                    1 => format!("+{text}"),
                    2 => format!("{text}0"),
                    3 => format!("{text} "),
                    4 => text.replace('.', ".."),
                    _ => String::new(),
                }
            }
            ReplySel::Custom(s) => s.clone(),
        }
    }
}

/// A frame of `kind` with the string fields `head`, then `message`: through
/// the core's encoder when the message is JSON, else by hand, as a careless
/// client would.
fn message_frame(
    kind: &str,
    head: &[(&str, String)],
    message: &ClientMessage,
    encode: impl FnOnce(&RawValue) -> Vec<u8>,
) -> Vec<u8> {
    let text = message.text();
    if let Ok(raw) = RawValue::from_string(text.clone()) {
        return encode(&raw);
    }
    assert!(matches!(message, ClientMessage::Raw(_)), "{message:?}");
    let mut f = format!(r#"{{"type":"{kind}","#).into_bytes();
    for (field, value) in head {
        f.extend_from_slice(format!("\"{field}\":{value},").as_bytes());
    }
    f.extend_from_slice(br#""message":"#);
    f.extend_from_slice(text.as_bytes());
    f.push(b'}');
    f
}

fn request_frame(
    to: Option<&str>,
    message: &ClientMessage,
    timeout: Option<&TimeoutSel>,
) -> Vec<u8> {
    let timeout = timeout.map(|t| match t {
        TimeoutSel::Millis(n) => n.to_string(),
        TimeoutSel::Zero => "0".to_owned(),
        TimeoutSel::Huge(n) => n.saturating_mul(1 << 20).to_string(),
        TimeoutSel::Bad(n) => ["-1", "1.5", "\"5\"", "null", "1e3", "18446744073709551616"]
            [usize::from(*n) % 6]
            .to_owned(),
    });
    let whole: Option<Option<u64>> = match &timeout {
        None => Some(None),
        Some(t) => t.parse().ok().map(Some),
    };
    match whole {
        Some(ms) => message_frame("request", &[], message, |raw| {
            encode_request(to, raw, None, ms)
        }),
        None => {
            // A timeout the encoder cannot write: by hand.
            let mut head = vec![("timeout", timeout.unwrap_or_default())];
            if let Some(to) = to {
                head.push(("to", serde_json::to_string(to).unwrap()));
            }
            let text = message.text();
            let mut f = br#"{"type":"request","#.to_vec();
            for (field, value) in head {
                f.extend_from_slice(format!("\"{field}\":{value},").as_bytes());
            }
            f.extend_from_slice(br#""message":"#);
            f.extend_from_slice(text.as_bytes());
            f.push(b'}');
            f
        }
    }
}

impl Chunk {
    /// Whether what it encodes is only the frames it names: no raw bytes
    /// and no message text that could close its frame and open another
    /// (such as a `reply` with a `replyTo` of its own).
    fn is_clean(&self) -> bool {
        let raw = |m: &ClientMessage| matches!(m, ClientMessage::Raw(_));
        match self {
            Chunk::Raw(_) | Chunk::Truncated(..) => false,
            Chunk::Info { message, .. }
            | Chunk::RoomInfo { message, .. }
            | Chunk::Request { message, .. }
            | Chunk::Reply { message, .. } => !raw(message),
            _ => true,
        }
    }

    fn encode(&self, out: &mut Vec<u8>, book: &ReplyBook<'_>) {
        match self {
            Chunk::Request {
                to,
                message,
                id,
                timeout,
                ndjson,
            } => {
                let to = to.as_ref().map(AliasSel::get);
                push_frame(
                    out,
                    request_frame(to, message, timeout.as_ref()),
                    id,
                    *ndjson,
                );
            }
            Chunk::Reply {
                reply_to,
                message,
                id,
                ndjson,
            } => {
                let reply_to = reply_to.get(book);
                let head = [("replyTo", serde_json::to_string(&reply_to).unwrap())];
                let frame =
                    message_frame("reply", &head, message, |raw| encode_reply(&reply_to, raw));
                push_frame(out, frame, id, *ndjson);
            }
            Chunk::Raw(bytes) => out.extend_from_slice(bytes),
            Chunk::Sync {
                alias,
                will,
                id,
                ndjson,
            } => {
                let frame = match will {
                    None => encode_sync(alias.get()),
                    Some(will) => sync_with_will(alias.get(), will),
                };
                push_frame(out, frame, id, *ndjson)
            }
            Chunk::Info {
                to,
                message,
                id,
                ndjson,
            } => {
                let frame = info_frame(to.as_ref().map(AliasSel::get), None, message);
                push_frame(out, frame, id, *ndjson);
            }
            Chunk::RoomInfo {
                room,
                to,
                message,
                id,
                ndjson,
            } => {
                let to = to.as_ref().map(AliasSel::get);
                let frame = info_frame(to, Some(room.get()), message);
                push_frame(out, frame, id, *ndjson);
            }
            Chunk::Join { room, id, ndjson } => {
                push_frame(out, encode_join(room.get()), id, *ndjson)
            }
            Chunk::Leave { room, id, ndjson } => {
                push_frame(out, encode_leave(room.get()), id, *ndjson)
            }
            Chunk::Watch {
                unwatch,
                scope,
                id,
                ndjson,
            } => push_frame(out, scope.frame(*unwatch), id, *ndjson),
            Chunk::Bye { id, ndjson } => push_frame(out, encode_bye().to_vec(), id, *ndjson),
            Chunk::List {
                limit,
                after,
                room,
                id,
                ndjson,
            } => {
                let mut f = br#"{"type":"list""#.to_vec();
                if let Some(limit) = limit {
                    let text = match limit {
                        Limit::Rows(n) => n.to_string(),
                        Limit::Huge => "99999999999999999999999".into(),
                        Limit::Bad(n) => {
                            ["-1", "1.5", "\"2\"", "null", "1e3"][usize::from(*n) % 5].into()
                        }
                    };
                    f.extend_from_slice(b",\"limit\":");
                    f.extend_from_slice(text.as_bytes());
                }
                if let Some(after) = after {
                    let text = match after {
                        Cursor::Handle(n) => n.to_string(),
                        Cursor::Text(s) => s.clone(),
                    };
                    f.extend_from_slice(b",\"after\":");
                    f.extend_from_slice(serde_json::to_string(&text).unwrap().as_bytes());
                }
                if let Some(room) = room {
                    f.extend_from_slice(b",\"room\":");
                    f.extend_from_slice(serde_json::to_string(room.get()).unwrap().as_bytes());
                }
                f.push(b'}');
                push_frame(out, f, id, *ndjson);
            }
            Chunk::Ping { id, ndjson } => push_frame(out, encode_ping().to_vec(), id, *ndjson),
            Chunk::Truncated(alias, n) => {
                let sync = encode_sync(alias.get());
                out.extend_from_slice(&sync[..usize::from(*n) % sync.len()]);
            }
            Chunk::Newline => out.push(b'\n'),
        }
    }
}

/// What a host command sends.
enum Message {
    Json(serde_json::Value),
    Unserializable(BTreeMap<Vec<u8>, u8>),
}

impl HostMessage {
    fn get(&self) -> Message {
        match self {
            HostMessage::Str(s) => Message::Json(s.clone().into()),
            HostMessage::Int(n) => Message::Json((*n).into()),
            HostMessage::Nested(n) => {
                let mut v = serde_json::Value::Array(Vec::new());
                for _ in 0..usize::from(*n) % 65 {
                    v = serde_json::Value::Array(vec![v]);
                }
                Message::Json(v)
            }
            HostMessage::Json(s) => Message::Json(
                serde_json::from_str(s).unwrap_or_else(|_| serde_json::Value::String(s.clone())),
            ),
            HostMessage::Unserializable => {
                Message::Unserializable(BTreeMap::from([(vec![1u8], 1u8)]))
            }
        }
    }
}

impl Cap {
    fn get(&self, default: usize) -> usize {
        match self {
            Cap::Small(n) => 1 + usize::from(*n) % 3,
            Cap::Default => default,
            Cap::Max => MAX_PER_SESSION_CAP,
            Cap::Invalid(false) => 0,
            Cap::Invalid(true) => MAX_PER_SESSION_CAP + 1,
        }
    }
}

fn build_config(c: &FuzzConfig) -> HubConfig {
    let max_frame_len = match c.max_frame_len {
        FrameLimit::Small(n) => MIN_MAX_FRAME_LEN + usize::from(n),
        FrameLimit::Medium(n) => MIN_MAX_FRAME_LEN + usize::from(n) % 4096,
        FrameLimit::Default => HubConfig::default().max_frame_len,
        FrameLimit::Invalid(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let high_watermark = match c.high_watermark {
        Watermark::Small(n) => 1 + usize::from(n) % 4096,
        Watermark::Default => HubConfig::default().high_watermark,
    };
    let low_watermark = high_watermark * usize::from(c.low_watermark) / 256;
    let max_queued_bytes = match c.max_queued_bytes {
        QueueCap::Tight(n) => high_watermark
            .saturating_add(max_frame_len)
            .saturating_add(usize::from(n) % 8192),
        QueueCap::Default => HubConfig::default().max_queued_bytes,
        QueueCap::Any(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    HubConfig {
        alias_policy: match c.policy {
            Policy::Takeover => AliasPolicy::Takeover,
            Policy::Reject => AliasPolicy::Reject,
            Policy::Share => AliasPolicy::Share,
        },
        max_frame_len,
        max_sessions: usize::from(c.max_sessions % 10),
        idle_timeout: c.idle_timeout.map(Span::get),
        relay: c.relay,
        high_watermark,
        low_watermark,
        max_queued_bytes,
        write_deadline: c.write_deadline.map(Span::get),
        frame_timeout: c.frame_timeout.map(Span::get),
        max_list_rows: c
            .max_list_rows
            .map_or(HubConfig::default().max_list_rows, |n| usize::from(n % 6)),
        max_rooms_per_session: c
            .max_rooms_per_session
            .get(HubConfig::default().max_rooms_per_session),
        max_watched_aliases: c
            .max_watched_aliases
            .get(HubConfig::default().max_watched_aliases),
        max_last_will_bytes: match c.max_last_will_bytes {
            WillCap::Small(n) => 1 + usize::from(n) % 1024,
            WillCap::Default => HubConfig::default().max_last_will_bytes,
            WillCap::Max => MAX_MAX_FRAME_LEN,
            WillCap::Invalid(false) => 0,
            WillCap::Invalid(true) => MAX_MAX_FRAME_LEN + 1,
        },
        observe: c.observe,
        request_timeout: c
            .request_timeout
            .map_or(HubConfig::default().request_timeout, Span::get),
        max_request_timeout: c
            .max_request_timeout
            .map_or(HubConfig::default().max_request_timeout, Span::get),
        max_pending_requests: c
            .max_pending_requests
            .map_or(HubConfig::default().max_pending_requests, |n| {
                usize::from(n % 5)
            }),
        // One hub; a fuzz target for clusters would wire several.
        node: None,
        // Rate limits and the per-address cap stay off: this model does
        // not restate token buckets (core/tests/limits.rs covers them).
        merge_transmits: c.merge_transmits,
        ..HubConfig::default()
    }
}

/// What `HubConfig::validate` documents, restated.
fn config_is_valid(c: &HubConfig) -> bool {
    (MIN_MAX_FRAME_LEN..=MAX_MAX_FRAME_LEN).contains(&c.max_frame_len)
        && (1..=MAX_MAX_SESSIONS).contains(&c.max_sessions)
        && (1..=MAX_MAX_LIST_ROWS).contains(&c.max_list_rows)
        && (1..=MAX_PER_SESSION_CAP).contains(&c.max_rooms_per_session)
        && (1..=MAX_PER_SESSION_CAP).contains(&c.max_watched_aliases)
        && (1..=MAX_MAX_FRAME_LEN).contains(&c.max_last_will_bytes)
        && (MIN_MAX_FRAME_LEN..=MAX_MAX_QUEUED_BYTES).contains(&c.max_queued_bytes)
        && c.max_queued_bytes >= c.high_watermark.saturating_add(c.max_frame_len)
        && c.low_watermark < c.high_watermark
        && (1..=MAX_PER_SESSION_CAP).contains(&c.max_pending_requests)
        && c.request_timeout >= Duration::from_millis(1)
        && c.request_timeout <= c.max_request_timeout
        && [c.idle_timeout, c.write_deadline, c.frame_timeout]
            .iter()
            .all(|d| *d != Some(Duration::ZERO))
}

// ----- the model -----

/// Whether to stop stepping around the known bug `name`: set
/// `TCPHUB_FUZZ_KNOWN_BUGS` to `1` (all of them) or to a comma-separated
/// list of names (`split`, `depth`, `number`).
fn expose(name: &str) -> bool {
    // `split` and `depth` are fixed in the core (the decoder checks the
    // limit on broken-off frames too; MAX_DEPTH is 127): always checked.
    if name != "number" {
        return true;
    }
    static KNOWN: OnceLock<String> = OnceLock::new();
    let bugs = KNOWN.get_or_init(|| std::env::var("TCPHUB_FUZZ_KNOWN_BUGS").unwrap_or_default());
    bugs == "1" || bugs == "all" || bugs.split(',').any(|b| b.trim() == name)
}

/// How often the write deadline is checked, as `hub::delivery` documents:
/// a quarter of it, at least 1 ms.
fn sweep_interval(deadline: Duration) -> Duration {
    (deadline / 4).max(Duration::from_millis(1))
}

#[derive(Debug)]
struct SessionState {
    peer: String,
    alias: Option<String>,
    opened_at: Duration,
    /// When the idle timer was last (re)started; `None` while paused.
    idle_since: Option<Duration>,
    /// Bytes handed out and not yet reported written.
    queued: usize,
    /// When the queue last moved (became non-empty, or some was written).
    progress_at: Duration,
    /// Told `PauseReading` and not yet `ResumeReading`.
    paused: bool,
    eof: bool,
    sent_bytes: bool,
    /// The rooms it is in, from `Joined`, `Left` and `Closed` events.
    rooms: BTreeSet<String>,
    /// The `replyTo`s it was sent in `request` frames, oldest first.
    received: Vec<String>,
    /// The requests (requester, number) its `reply` chunks named.
    answered: BTreeSet<(SessionHandle, u64)>,
    /// The ids of its `request` chunks, as JSON (`None`: one had none).
    request_ids: Vec<Option<serde_json::Value>>,
    /// It sent a chunk that is not `Chunk::is_clean`: its frames may be
    /// anything, so `answered` and `request_ids` say nothing.
    tainted: bool,
}

/// A request waiting for its reply, learned from the outputs: a `request`
/// frame (to an alias) or `Event::Request` (to the host). Its `timeout`
/// and `id` are not in those outputs; see `Driver::fuzzy`.
#[derive(Debug)]
struct ModelRequest {
    requester: SessionHandle,
    number: u64,
    /// The alias asked; `None`: the host.
    responder: Option<String>,
    /// The hub's time when it took the request: its deadline is this plus
    /// the timeout asked, at most `max_request_timeout`.
    learned_at: Duration,
}

/// Who an `info` frame is from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum InfoKind {
    /// The host command being run (before anything it caused).
    Host,
    /// A client relaying (to an alias, `*` or a room).
    Relay,
    /// A closing session's last will.
    Will,
}

/// A relayed frame waiting for its `Event::Relayed` (with `observe` on).
#[derive(Debug)]
struct RelayedFrame {
    to: SessionHandle,
    /// From, room, lastWill, message; `None` for a known-bug frame the
    /// parser refused (it matches any event).
    info: Option<(String, Option<String>, bool, serde_json::Value)>,
}

/// What one call's outputs have announced and not yet completed.
#[derive(Default)]
struct Pending {
    /// Sessions named by a Close and awaiting their Closed event.
    closing: BTreeMap<SessionHandle, CloseReason>,
    /// The session being closed (from its `Close`, or the call for
    /// `handle_close`) until its `Closed`: the only one whose last will and
    /// `closed` presence may be sent.
    closer: Option<(SessionHandle, CloseReason)>,
    /// `joined`/`left` frames sent whose `Joined`/`Left` event is due.
    joining: BTreeSet<(SessionHandle, String)>,
    leaving: BTreeSet<(SessionHandle, String)>,
    /// Relayed frames whose `Event::Relayed` is due (with `observe` on).
    relays: VecDeque<RelayedFrame>,
    /// Requests to an alias sent in this call, by number: the alias, its
    /// holders when the first frame went out, and who got a frame.
    asked: BTreeMap<u64, (String, BTreeSet<SessionHandle>, BTreeSet<SessionHandle>)>,
    /// A host command's own frames come before anything it causes (a
    /// session closed for its queue, others resumed by that).
    host_phase: bool,
}

impl Pending {
    /// With `observe` on, relayed frames are followed by their `Relayed`
    /// event before anything else (but flow control) comes out.
    fn no_relays_due(&self, what: &dyn std::fmt::Debug) {
        assert!(
            self.relays.is_empty(),
            "{what:?} while relayed frames await their Relayed event: {:?}",
            self.relays
        );
    }
}

/// The call whose outputs are being checked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Call {
    Accept { refused: Option<CloseReason> },
    Data(SessionHandle),
    Eof(SessionHandle),
    Close(SessionHandle),
    Written(SessionHandle),
    Timeout,
    Host,
    CloseSession(SessionHandle, CloseReason),
    Shutdown,
}

struct Driver {
    hub: Hub,
    config: HubConfig,
    /// The driver's clock: what the next call will pass.
    now: Duration,
    /// The latest time passed to the hub: it may not go back past it.
    hub_now: Duration,
    /// Every id `handle_accept` returned, in order.
    issued: Vec<SessionHandle>,
    /// Sessions opened and not yet closed, according to the outputs.
    open: BTreeMap<SessionHandle, SessionState>,
    /// Sessions named by a `Close` or `Closed`.
    closed: BTreeSet<SessionHandle>,
    shutting_down: bool,
    /// Every alias ever claimed, to check the alias table against.
    aliases_seen: BTreeSet<String>,
    /// Every room ever joined, to check the room table against.
    rooms_seen: BTreeSet<String>,
    /// Sessions whose idle deadline had passed when the current
    /// `handle_timeout` began.
    idle_due: BTreeSet<SessionHandle>,
    /// Requests waiting for their reply, oldest first.
    requests: Vec<ModelRequest>,
    /// The number of the latest request the hub took.
    last_request: u64,
    /// Every `Event::Request`'s address, for `Op::Reply`.
    host_requests: Vec<ReplyAddress>,
    /// Every `replyTo` handed out, for `reply` chunks.
    reply_tos: Vec<String>,
    /// Requesters for whom the model knows how many requests wait, and
    /// for whom, but maybe not which: a reply or a `request_timeout` that
    /// could have ended more than one of them (the outputs do not say
    /// which: the request's `timeout` and `id` are only in its frame,
    /// which the model does not map to its outcome) removes one, and
    /// marks the requester. Checks that need the exact numbers skip it.
    fuzzy: BTreeSet<SessionHandle>,
    /// The input scanner of each session whose input is scanned (those
    /// with odd handles), as the tcphub server scans all input: every
    /// frame read from a note is also checked, under `cfg(fuzzing)`,
    /// against the same frame read afresh.
    scanners: BTreeMap<SessionHandle, InputScanner>,
}

/// What `drain` saw in one call's outputs, for the call's own checks.
#[derive(Default)]
struct Seen {
    /// Frames, in order, with their sizes (`None`: a known-bug frame) and,
    /// for `info`, who sent it.
    transmits: Vec<(SessionHandle, Option<HubFrame>, usize, Option<InfoKind>)>,
    /// Sessions closed, in order, with why.
    closed: Vec<(SessionHandle, CloseReason)>,
    opened: Vec<(SessionHandle, String)>,
    /// Everything, for calls that must have no output.
    outputs: usize,
}

impl Driver {
    fn new(config: HubConfig) -> Option<Self> {
        let valid = config_is_valid(&config);
        let hub = match Hub::new(config.clone()) {
            Ok(hub) => {
                assert!(valid, "Hub::new accepted {config:?}");
                hub
            }
            Err(HubError::InvalidConfig(_)) if !valid => return None,
            Err(e) => panic!("Hub::new({config:?}): {e:?}"),
        };
        Some(Driver {
            hub,
            config,
            now: Duration::ZERO,
            hub_now: Duration::ZERO,
            issued: Vec::new(),
            open: BTreeMap::new(),
            closed: BTreeSet::new(),
            shutting_down: false,
            aliases_seen: BTreeSet::new(),
            rooms_seen: BTreeSet::new(),
            idle_due: BTreeSet::new(),
            requests: Vec::new(),
            last_request: 0,
            host_requests: Vec::new(),
            reply_tos: Vec::new(),
            fuzzy: BTreeSet::new(),
            scanners: BTreeMap::new(),
        })
    }

    fn later(&self, span: Span) -> Duration {
        self.now.checked_add(span.get()).unwrap_or(Duration::MAX)
    }

    fn session(&self, sel: SessionSel) -> SessionHandle {
        match sel {
            SessionSel::Open(n) => {
                let open: Vec<SessionHandle> = self.open.keys().copied().collect();
                if open.is_empty() {
                    SessionHandle(0)
                } else {
                    open[usize::from(n) % open.len()]
                }
            }
            SessionSel::Issued(n) if !self.issued.is_empty() => {
                self.issued[usize::from(n) % self.issued.len()]
            }
            SessionSel::Issued(_) => SessionHandle(0),
            SessionSel::Raw(n) => SessionHandle(n),
        }
    }

    fn holders_model(&self, alias: &str) -> BTreeSet<SessionHandle> {
        self.open
            .iter()
            .filter(|(_, s)| s.alias.as_deref() == Some(alias))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The members of `room`, from the model.
    fn members(&self, room: &str) -> BTreeSet<SessionHandle> {
        self.open
            .iter()
            .filter(|(_, s)| s.rooms.contains(room))
            .map(|(id, _)| *id)
            .collect()
    }

    fn name(&self, id: SessionHandle) -> &str {
        let s = &self.open[&id];
        s.alias.as_deref().unwrap_or(&s.peer)
    }

    /// Runs one operation: one arm per `Op`.
    fn run(&mut self, op: &Op) {
        match op {
            Op::Accept(peer) => self.accept(peer.get()),
            Op::Data {
                session,
                chunks,
                cut,
            } => {
                let id = self.session(*session);
                let mut bytes = Vec::new();
                let (mut tainted, mut ids, mut answered) = (false, Vec::new(), Vec::new());
                {
                    let received = self.open.get(&id).map_or(&[][..], |s| &s.received[..]);
                    let book = ReplyBook {
                        received,
                        anyones: &self.reply_tos,
                        next: format!("{}.{}", id.0, self.last_request + 1),
                    };
                    for chunk in chunks {
                        chunk.encode(&mut bytes, &book);
                        tainted |= !chunk.is_clean();
                        match chunk {
                            Chunk::Request { id: None, .. } => ids.push(None),
                            Chunk::Request { id: Some(id), .. } => {
                                ids.extend(serde_json::from_str(&id.json()).ok().map(Some));
                            }
                            Chunk::Reply { reply_to, .. } => {
                                if let Some(a) = ReplyAddress::parse(&reply_to.get(&book)) {
                                    answered.push((a.handle, a.number));
                                }
                            }
                            _ => {}
                        }
                    }
                }
                // Recorded even if the input is never read: more that may
                // have been sent only weakens the checks using them.
                if let Some(s) = self.open.get_mut(&id) {
                    s.tainted |= tainted;
                    s.request_ids.extend(ids);
                    s.answered.extend(answered);
                }
                match cut {
                    None => self.data(id, &bytes),
                    Some(cut) => {
                        let (a, b) = bytes.split_at(usize::from(*cut) % (bytes.len() + 1));
                        self.data(id, a);
                        self.data(id, b);
                    }
                }
            }
            Op::Eof(session) => {
                let id = self.session(*session);
                let open = self.open.contains_key(&id);
                let was_eof = open && self.open[&id].eof;
                expect_session_result(self.hub.handle_eof(self.now, id), id, open);
                self.hub_now = self.now;
                if let Some(s) = self.open.get_mut(&id) {
                    s.eof = true;
                }
                let seen = self.drain(Call::Eof(id));
                if !open || was_eof {
                    assert_eq!(seen.outputs, 0, "a repeated or unknown EOF does nothing");
                }
                self.check_tables();
            }
            Op::Close(session) => {
                let id = self.session(*session);
                let open = self.open.contains_key(&id);
                let paused = self.open.get(&id).is_some_and(|s| s.paused);
                expect_session_result(self.hub.handle_close(self.now, id), id, open);
                self.hub_now = self.now;
                let seen = self.drain(Call::Close(id));
                if open {
                    let reason = seen.closed.first().map(|(_, reason)| *reason);
                    let clean = paused && reason == Some(CloseReason::ClientBye);
                    let expected = if clean {
                        CloseReason::ClientBye
                    } else {
                        CloseReason::PeerClosed
                    };
                    assert_eq!(seen.closed.first(), Some(&(id, expected)));
                } else {
                    assert_eq!(seen.outputs, 0);
                }
                self.check_tables();
            }
            Op::Written(session, amount) => {
                let id = self.session(*session);
                let queued = self.open.get(&id).map_or(0, |s| s.queued);
                let len = match amount {
                    Amount::All => queued,
                    Amount::Bytes(n) => usize::from(*n),
                    Amount::Zero => 0,
                    Amount::Max => usize::MAX,
                };
                self.written(id, len);
            }
            Op::WriteAll => {
                let queued: Vec<(SessionHandle, usize)> = self
                    .open
                    .iter()
                    .filter(|(_, s)| s.queued > 0)
                    .map(|(id, s)| (*id, s.queued))
                    .collect();
                for (id, len) in queued {
                    // Earlier writes may have closed it, or resumed
                    // senders that queued more: write what is there now.
                    if let Some(s) = self.open.get(&id) {
                        let len = len.max(s.queued);
                        self.written(id, len);
                    }
                }
            }
            Op::Timeout(Step::Forward(span)) => {
                let now = self.later(*span);
                self.timeout(now);
            }
            Op::Timeout(Step::Back(span)) => {
                // Back from the driver's clock: only an error when it is
                // before the last time the hub was given.
                let now = self.now.saturating_sub(span.get());
                if now >= self.hub_now {
                    self.timeout(now);
                } else {
                    match self.hub.handle_timeout(now) {
                        Err(HubError::TimeWentBackwards { now: n, last }) => {
                            assert_eq!((n, last), (now, self.hub_now));
                        }
                        other => {
                            panic!(
                                "handle_timeout({now:?}) after {:?}: {other:?}",
                                self.hub_now
                            )
                        }
                    }
                    let seen = self.drain(Call::Timeout);
                    assert_eq!(seen.outputs, 0);
                    self.check_tables();
                }
            }
            Op::Wait(span) => {
                self.now = self.later(*span);
                self.check_tables();
            }
            Op::Broadcast(message) => {
                let open: Vec<SessionHandle> = self.open.keys().copied().collect();
                let unserializable = matches!(message, HostMessage::Unserializable);
                let result = match message.get() {
                    Message::Json(v) => self.hub.broadcast(&v),
                    Message::Unserializable(m) => self.hub.broadcast(&m),
                };
                match result {
                    Ok(n) => {
                        assert!(!unserializable);
                        assert_eq!(n, open.len());
                    }
                    Err(HubError::InvalidMessage(_)) => assert!(unserializable),
                    Err(e) => panic!("broadcast: {e:?}"),
                }
                let seen = self.drain(Call::Host);
                let to: Vec<SessionHandle> = host_frames(&seen).map(|t| t.0).collect();
                if unserializable {
                    assert_eq!(seen.outputs, 0);
                } else {
                    assert_eq!(to, open, "a broadcast reaches every session, oldest first");
                }
                self.check_tables();
            }
            Op::SendToAlias(alias, message) => {
                let alias = alias.get();
                let holders = self.holders_model(alias);
                let unserializable = matches!(message, HostMessage::Unserializable);
                let result = match message.get() {
                    Message::Json(v) => self.hub.send_to_alias(alias, &v),
                    Message::Unserializable(m) => self.hub.send_to_alias(alias, &m),
                };
                match result {
                    Ok(n) => {
                        assert!(!unserializable && !holders.is_empty());
                        assert_eq!(n, holders.len());
                    }
                    Err(HubError::UnknownAlias(a)) => {
                        assert!(holders.is_empty(), "{alias:?} is held by {holders:?}");
                        assert_eq!(a, alias);
                    }
                    Err(HubError::InvalidMessage(_)) => {
                        assert!(unserializable && !holders.is_empty())
                    }
                    Err(e) => panic!("send_to_alias({alias:?}): {e:?}"),
                }
                let seen = self.drain(Call::Host);
                let to: Vec<SessionHandle> = host_frames(&seen).map(|t| t.0).collect();
                let set: BTreeSet<SessionHandle> = to.iter().copied().collect();
                assert_eq!(set.len(), to.len(), "one frame each");
                if unserializable || holders.is_empty() {
                    assert_eq!(seen.outputs, 0);
                } else {
                    assert_eq!(set, holders);
                }
                self.check_tables();
            }
            Op::SendToSession(session, message) => {
                let id = self.session(*session);
                let open = self.open.contains_key(&id);
                let unserializable = matches!(message, HostMessage::Unserializable);
                let result = match message.get() {
                    Message::Json(v) => self.hub.send_to_session(id, &v),
                    Message::Unserializable(m) => self.hub.send_to_session(id, &m),
                };
                let sent = match result {
                    Ok(()) => {
                        assert!(open && !unserializable);
                        true
                    }
                    Err(HubError::UnknownHandle(s)) => {
                        assert!(!open);
                        assert_eq!(s, id);
                        false
                    }
                    Err(HubError::InvalidMessage(_)) => {
                        assert!(open && unserializable);
                        false
                    }
                    Err(e) => panic!("send_to_session({id}): {e:?}"),
                };
                let seen = self.drain(Call::Host);
                let to: Vec<SessionHandle> = host_frames(&seen).map(|t| t.0).collect();
                if sent {
                    assert_eq!(to, [id]);
                } else {
                    assert_eq!(seen.outputs, 0);
                }
                self.check_tables();
            }
            Op::CloseSession(session, reason) => {
                let id = self.session(*session);
                let open = self.open.contains_key(&id);
                let reason = reason.get();
                expect_session_result(self.hub.close_session(id, reason), id, open);
                let seen = self.drain(Call::CloseSession(id, reason));
                if open {
                    assert_eq!(seen.closed.first(), Some(&(id, reason)));
                } else {
                    assert_eq!(seen.outputs, 0);
                }
                self.check_tables();
            }
            Op::JoinRoom(session, room) => {
                let id = self.session(*session);
                self.join_room(id, room.get());
            }
            Op::LeaveRoom(session, room) => {
                let id = self.session(*session);
                self.leave_room(id, room.get());
            }
            Op::SendToRoom(room, message) => self.send_to_room(room.get(), message),
            Op::Reply(which, message) => self.host_reply(which, message),
            Op::Shutdown => {
                let open: Vec<SessionHandle> = self.open.keys().copied().collect();
                self.hub.shutdown();
                self.shutting_down = true;
                let seen = self.drain(Call::Shutdown);
                let closed: Vec<(SessionHandle, CloseReason)> =
                    open.iter().map(|id| (*id, CloseReason::Shutdown)).collect();
                assert_eq!(seen.closed, closed, "shutdown closes every session");
                // Nothing but watchers told of the closes (no last wills).
                for (to, frame, ..) in &seen.transmits {
                    assert!(
                        matches!(frame, Some(HubFrame::Presence { event, reason: Some(r), .. })
                            if event == "closed" && r == "shutdown"),
                        "shutdown sent {frame:?} to {to}"
                    );
                }
                self.check_tables();
            }
        }
    }

    /// `Hub::reply`: `Ok` exactly when the model has that host request
    /// waiting (and the message serializes), and then one `reply` from
    /// `#hub` to its requester, echoing one of its ids; else nothing.
    fn host_reply(&mut self, which: &HostReplySel, message: &HostMessage) {
        let address = match which {
            HostReplySel::Known(n) if !self.host_requests.is_empty() => {
                self.host_requests[usize::from(*n) % self.host_requests.len()].clone()
            }
            HostReplySel::Known(n) => ReplyAddress {
                node: None,
                handle: SessionHandle(1),
                number: u64::from(*n),
            },
            HostReplySel::Forged {
                handle,
                number,
                node,
            } => ReplyAddress {
                node: node.then(|| tcphub_core::NodeId::new("n1").expect("a node id")),
                handle: SessionHandle(*handle),
                number: *number,
            },
        };
        let requester = address.handle;
        let at = self.requests.iter().position(|r| {
            address.node.is_none()
                && r.requester == requester
                && r.number == address.number
                && r.responder.is_none()
        });
        // Known for its requester's host requests by count only.
        let fuzzy = address.node.is_none() && self.fuzzy.contains(&requester);
        let unserializable = matches!(message, HostMessage::Unserializable);
        let result = match message.get() {
            Message::Json(v) => self.hub.reply(&address, &v),
            Message::Unserializable(m) => self.hub.reply(&address, &m),
        };
        let answered = match result {
            Ok(()) => {
                assert!(!unserializable);
                assert!(at.is_some() || fuzzy, "reply to {address}, not waiting");
                // Fuzzy, one for the host ends (none when a timeout whose
                // alias the model could not read took the wrong one).
                let at = at.or_else(|| {
                    self.requests
                        .iter()
                        .position(|r| r.requester == requester && r.responder.is_none())
                });
                if let Some(at) = at {
                    self.requests.remove(at);
                }
                true
            }
            Err(HubError::UnknownRequest(text)) => {
                assert_eq!(text, address.to_string());
                assert!(at.is_none() || fuzzy, "{address} waits, yet UnknownRequest");
                false
            }
            Err(HubError::InvalidMessage(_)) => {
                assert!(unserializable);
                assert!(
                    at.is_some() || fuzzy,
                    "InvalidMessage for {address}, not waiting"
                );
                false
            }
            Err(e) => panic!("reply({address}): {e:?}"),
        };
        let seen = self.drain(Call::Host);
        let replies: Vec<(SessionHandle, &HubFrame)> = seen
            .transmits
            .iter()
            .filter_map(|t| match &t.1 {
                Some(f @ HubFrame::Reply { .. }) => Some((t.0, f)),
                _ => None,
            })
            .collect();
        if answered {
            let [(to, HubFrame::Reply { from, id, .. })] = replies[..] else {
                panic!("reply({address}) sent {replies:?}");
            };
            assert_eq!((to, from.as_str()), (requester, HUB_NAME));
            let raw = id
                .as_ref()
                .map(|id| RawValue::from_string(id.to_string()).unwrap());
            if self.open.contains_key(&requester) {
                self.check_echoed_id(requester, raw.as_ref());
            }
        } else {
            assert_eq!(seen.outputs, 0, "reply({address}) refused");
        }
        self.check_tables();
    }

    /// `Hub::join_room`: refused for a closed session, an invalid room or
    /// one room too many; else the session is told `joined` (and the host
    /// `Joined` when it was not a member yet).
    fn join_room(&mut self, id: SessionHandle, room: &str) {
        let state = self
            .open
            .get(&id)
            .map(|s| (s.rooms.contains(room), s.rooms.len()));
        let max = self.config.max_rooms_per_session;
        let result = self.hub.join_room(id, room);
        let seen = self.drain(Call::Host);
        let joined_frames = |seen: &Seen| -> Vec<SessionHandle> {
            seen.transmits
                .iter()
                .filter(|t| matches!(&t.1, Some(HubFrame::Joined { room: r, .. }) if r == room))
                .map(|t| t.0)
                .collect()
        };
        match (result, state) {
            (Err(HubError::UnknownHandle(h)), None) => {
                assert_eq!(h, id);
                assert_eq!(seen.outputs, 0);
            }
            (Err(HubError::InvalidRoom(_)), Some(_)) => {
                assert!(!room_is_valid(room), "{room:?} refused");
                assert_eq!(seen.outputs, 0);
            }
            (Err(HubError::TooManyRooms { handle, max: m }), Some((false, n))) => {
                assert!(room_is_valid(room));
                assert_eq!((handle, m), (id, max));
                assert!(n >= max, "{id} in {n} rooms, refused a room more");
                assert_eq!(seen.outputs, 0);
            }
            (Ok(joined), Some((member, n))) => {
                assert!(room_is_valid(room), "{room:?} accepted");
                assert_eq!(joined, !member, "join_room({id}, {room:?})");
                assert!(member || n < max, "{id} in {n} rooms, max {max}");
                assert_eq!(joined_frames(&seen), [id]);
            }
            (result, state) => {
                panic!("join_room({id}, {room:?}) with {state:?} (max {max}): {result:?}")
            }
        }
        self.check_tables();
    }

    /// `Hub::leave_room`: refused for a closed session or an invalid room;
    /// else the session is told `left` if it was a member.
    fn leave_room(&mut self, id: SessionHandle, room: &str) {
        let member = self.open.get(&id).map(|s| s.rooms.contains(room));
        let result = self.hub.leave_room(id, room);
        let seen = self.drain(Call::Host);
        match (result, member) {
            (Err(HubError::UnknownHandle(h)), None) => {
                assert_eq!(h, id);
                assert_eq!(seen.outputs, 0);
            }
            (Err(HubError::InvalidRoom(_)), Some(member)) => {
                assert!(!room_is_valid(room) && !member, "{room:?} refused");
                assert_eq!(seen.outputs, 0);
            }
            (Ok(left), Some(member)) => {
                assert!(room_is_valid(room), "{room:?} accepted");
                assert_eq!(left, member, "leave_room({id}, {room:?})");
                if member {
                    let to: Vec<SessionHandle> = seen
                        .transmits
                        .iter()
                        .filter(
                            |t| matches!(&t.1, Some(HubFrame::Left { room: r, .. }) if r == room),
                        )
                        .map(|t| t.0)
                        .collect();
                    assert_eq!(to, [id]);
                } else {
                    assert_eq!(seen.outputs, 0);
                }
            }
            (result, member) => panic!("leave_room({id}, {room:?}), member {member:?}: {result:?}"),
        }
        self.check_tables();
    }

    /// `Hub::send_to_room`: refused for an invalid room or one nobody is
    /// in; else one frame from the host to each member, in accept order,
    /// naming the room.
    fn send_to_room(&mut self, room: &str, message: &HostMessage) {
        let members: Vec<SessionHandle> = self.members(room).into_iter().collect();
        let unserializable = matches!(message, HostMessage::Unserializable);
        let result = match message.get() {
            Message::Json(v) => self.hub.send_to_room(room, &v),
            Message::Unserializable(m) => self.hub.send_to_room(room, &m),
        };
        match result {
            Ok(n) => {
                assert!(!unserializable && !members.is_empty());
                assert_eq!(n, members.len());
            }
            Err(HubError::InvalidRoom(_)) => {
                assert!(!room_is_valid(room), "{room:?} refused");
                assert!(members.is_empty());
            }
            Err(HubError::UnknownRoom(r)) => {
                assert!(room_is_valid(room), "{room:?} is not a room name");
                assert!(members.is_empty(), "{room:?} has members {members:?}");
                assert_eq!(r, room);
            }
            Err(HubError::InvalidMessage(_)) => assert!(unserializable && !members.is_empty()),
            Err(e) => panic!("send_to_room({room:?}): {e:?}"),
        }
        let seen = self.drain(Call::Host);
        let to: Vec<SessionHandle> = host_frames(&seen).map(|t| t.0).collect();
        if unserializable || members.is_empty() {
            assert_eq!(seen.outputs, 0);
        } else {
            assert_eq!(to, members, "to every member, oldest first");
            for (_, frame, ..) in host_frames(&seen) {
                assert!(
                    matches!(frame, Some(HubFrame::Info { room: Some(r), .. }) if r == room),
                    "{frame:?}"
                );
            }
        }
        self.check_tables();
    }

    fn accept(&mut self, peer: &str) {
        let duplicate = self.open.values().any(|s| s.peer == peer);
        let refused = if self.shutting_down {
            Some(CloseReason::Shutdown)
        } else if self.open.len() >= self.config.max_sessions {
            Some(CloseReason::TooManySessions)
        } else {
            None
        };
        let result = self.hub.handle_accept(self.now, peer);
        self.hub_now = self.now;
        match result {
            Ok(id) => {
                assert!(!duplicate, "accepted a second session for {peer:?}");
                assert!(
                    self.issued.last().is_none_or(|last| id > *last),
                    "handle {id} reused or out of order after {:?}",
                    self.issued.last()
                );
                assert!(id.0 >= 1, "handles count from 1");
                self.issued.push(id);
                let seen = self.drain(Call::Accept { refused });
                assert_eq!(seen.opened, [(id, peer.to_owned())]);
                assert!(seen.transmits.is_empty(), "a refusal is only its Close");
                match refused {
                    None => {
                        assert!(seen.closed.is_empty());
                        assert!(self.open.contains_key(&id));
                    }
                    Some(reason) => assert_eq!(seen.closed, [(id, reason)]),
                }
            }
            Err(HubError::DuplicateSessionId(p)) => {
                assert!(duplicate, "{peer:?} is not open");
                assert_eq!(p, peer);
                let seen = self.drain(Call::Accept { refused });
                assert_eq!(seen.outputs, 0);
            }
            Err(e) => panic!("handle_accept({peer:?}): {e:?}"),
        }
        self.check_tables();
    }

    fn data(&mut self, id: SessionHandle, bytes: &[u8]) {
        let state = self.open.get(&id).map(|s| (s.paused, s.eof));
        let result = if id.0 % 2 == 1 {
            let hub = &self.hub;
            let scanner = self
                .scanners
                .entry(id)
                .or_insert_with(|| hub.input_scanner());
            let scanned = scanner.scan(bytes.to_vec().into());
            self.hub.handle_scanned(self.now, id, scanned)
        } else {
            self.hub.handle_data(self.now, id, bytes)
        };
        expect_session_result(result, id, state.is_some());
        self.hub_now = self.now;
        let decoded = state == Some((false, false));
        if let Some(s) = self.open.get_mut(&id) {
            s.sent_bytes |= !bytes.is_empty();
            if decoded && self.config.idle_timeout.is_some() {
                s.idle_since = Some(self.hub_now);
            }
        }
        let seen = self.drain(Call::Data(id));
        if !decoded {
            // Unknown, paused (kept for later) or after EOF (ignored).
            assert_eq!(
                seen.outputs, 0,
                "input processed for {id} in state {state:?}"
            );
        }
        self.check_tables();
    }

    fn written(&mut self, id: SessionHandle, len: usize) {
        let open = self.open.contains_key(&id);
        expect_session_result(self.hub.handle_written(self.now, id, len), id, open);
        self.hub_now = self.now;
        if let Some(s) = self.open.get_mut(&id) {
            if len > 0 && s.queued > 0 {
                s.queued = s.queued.saturating_sub(len);
                s.progress_at = self.hub_now;
            }
        }
        let seen = self.drain(Call::Written(id));
        if !open {
            assert_eq!(seen.outputs, 0);
        }
        self.check_tables();
    }

    fn timeout(&mut self, now: Duration) {
        // Idle deadlines due by `now`.
        let due: Vec<SessionHandle> = match self.config.idle_timeout {
            None => Vec::new(),
            Some(t) => self
                .open
                .iter()
                .filter(|(_, s)| {
                    s.idle_since
                        .and_then(|since| since.checked_add(t))
                        .is_some_and(|at| at <= now)
                })
                .map(|(id, _)| *id)
                .collect(),
        };
        self.idle_due = due.iter().copied().collect();
        if let Err(e) = self.hub.handle_timeout(now) {
            panic!("handle_timeout({now:?}) after {:?}: {e:?}", self.hub_now);
        }
        self.now = now;
        self.hub_now = now;
        let seen = self.drain(Call::Timeout);
        let closed: BTreeSet<SessionHandle> = seen.closed.iter().map(|c| c.0).collect();
        for id in due {
            assert!(
                closed.contains(&id),
                "{id} is past its idle deadline at {now:?}"
            );
        }
        // Every request waits at most `max_request_timeout`: by now those
        // taken that long ago have been told `request_timeout`.
        let max = self.config.max_request_timeout;
        for r in &self.requests {
            if !self.fuzzy.contains(&r.requester) {
                assert!(
                    r.learned_at.saturating_add(max) > now,
                    "{r:?} still waits at {now:?}, max_request_timeout {max:?}"
                );
            }
        }
        if let Some(deadline) = self.hub.poll_timeout() {
            assert!(
                deadline > now,
                "after handle_timeout({now:?}) the next deadline {deadline:?} has passed"
            );
        }
        // A queue that has not moved for the write deadline is closed by
        // the next check, at most a sweep interval later.
        if let Some(d) = self.config.write_deadline {
            let interval = sweep_interval(d);
            if now.checked_add(interval).is_some() {
                for (id, s) in &self.open {
                    if s.queued > 0 {
                        let stuck = now - s.progress_at;
                        assert!(
                            stuck < d.saturating_add(interval),
                            "{id} stuck with {} bytes for {stuck:?}, deadline {d:?}",
                            s.queued
                        );
                    }
                }
            }
        }
        self.check_tables();
    }

    /// Runs every pending output, checking each against the model and the
    /// call that caused it, and updates the model.
    fn drain(&mut self, call: Call) -> Seen {
        let mut seen = Seen::default();
        // Sessions whose input may be processed in this call: the one the
        // call is about, and any paused one (it may resume and go on).
        let mut active: BTreeSet<SessionHandle> = self
            .open
            .iter()
            .filter(|(_, s)| s.paused)
            .map(|(id, _)| *id)
            .collect();
        if let Call::Data(id) | Call::Eof(id) = call {
            active.insert(id);
        }
        let mut p = Pending {
            host_phase: call == Call::Host,
            ..Pending::default()
        };
        if let Call::Close(id) = call {
            // `handle_close` forgets the session with no `Close` output.
            if self.open.contains_key(&id) {
                p.closer = Some((id, CloseReason::PeerClosed));
            }
        }
        // Error codes told to each session, and reported to the host.
        let mut told: BTreeMap<SessionHandle, Vec<String>> = BTreeMap::new();
        let mut reported: BTreeMap<SessionHandle, Vec<String>> = BTreeMap::new();
        while let Some(output) = self.hub.poll_output() {
            seen.outputs += 1;
            let named = match &output {
                Output::Transmit {
                    handle: session, ..
                }
                | Output::Close {
                    handle: session, ..
                }
                | Output::PauseReading { handle: session }
                | Output::ResumeReading { handle: session } => Some(*session),
                _ => None,
            };
            if let Some(session) = named {
                assert!(
                    self.open.contains_key(&session) && !p.closing.contains_key(&session),
                    "{output:?} names {session}, which is not open"
                );
            }
            match output {
                Output::Transmit {
                    handle: session,
                    frame,
                } => {
                    // A merged `Transmit` holds several frames: each is
                    // checked as a `Transmit` of its own would be.
                    for frame in lines_of(&frame) {
                        let s = self.open.get_mut(&session).unwrap();
                        if s.queued == 0 {
                            s.progress_at = self.hub_now;
                        }
                        s.queued = s.queued.saturating_add(frame.len());
                        let parsed = check_line(&frame);
                        // Read loosely, so that a request or reply whose
                        // message is a known bug is still followed.
                        let fields = loose_fields(&frame);
                        let frame_type = fields.as_ref().and_then(|f| text_field(f, "type"));
                        let kind = match &parsed {
                            Some(HubFrame::Info {
                                from, last_will, ..
                            }) => Some(if *last_will {
                                InfoKind::Will
                            } else if p.host_phase && from == HUB_NAME {
                                InfoKind::Host
                            } else {
                                InfoKind::Relay
                            }),
                            Some(_) => None,
                            // Only a relayed message gets here (a known bug),
                            // or a request or reply carrying one.
                            None if frame_type.as_deref() == Some("info") => Some(InfoKind::Relay),
                            None => None,
                        };
                        if let Some(parsed) = &parsed {
                            self.check_frame(call, session, parsed, kind, &active, &mut p);
                        }
                        match (frame_type.as_deref(), &fields) {
                            (Some("request"), Some(f)) => {
                                self.request_frame(call, session, f, &active, &mut p)
                            }
                            (Some("reply"), Some(f)) => self.reply_frame(call, session, f, &active),
                            _ => {}
                        }
                        match kind {
                            Some(InfoKind::Relay | InfoKind::Will) => {
                                if self.config.observe {
                                    let info = match &parsed {
                                        Some(HubFrame::Info {
                                            from,
                                            room,
                                            last_will,
                                            message,
                                        }) => Some((
                                            from.clone(),
                                            room.clone(),
                                            *last_will,
                                            message.clone(),
                                        )),
                                        _ => None,
                                    };
                                    p.relays.push_back(RelayedFrame { to: session, info });
                                }
                            }
                            _ => p.no_relays_due(&parsed),
                        }
                        if let Some(code) = error_code(&frame) {
                            assert!(
                                ErrorCode::from_wire(&code).is_some(),
                                "error code {code:?} is not in ErrorCode::ALL"
                            );
                            match code.as_str() {
                                "too_many_requests" => {
                                    let waiting = self.waiting(session).count();
                                    let max = self.config.max_pending_requests;
                                    assert!(
                                        waiting >= max,
                                        "too_many_requests to {session} with {waiting} of {max} waiting"
                                    );
                                }
                                "request_timeout" => self.request_timeout(call, session, &frame),
                                _ => {}
                            }
                            told.entry(session).or_default().push(code);
                        }
                        seen.transmits.push((session, parsed, frame.len(), kind));
                    }
                }
                Output::Close {
                    handle: session,
                    reason,
                    farewell,
                    unsent,
                } => {
                    assert_eq!(unsent, reason.unsent(), "{reason}");
                    p.no_relays_due(&(session, reason));
                    // A host command's own frames are out; what follows
                    // is what it caused.
                    p.host_phase = false;
                    assert_eq!(p.closer, None, "{session} closes while another is closing");
                    p.closer = Some((session, reason));
                    // Exactly one last frame: an error when the peer caused
                    // the close, else a bye (docs/PROTOCOL.md).
                    match check_line(&farewell) {
                        Some(HubFrame::Bye { reason: r, .. }) => assert_eq!(r, reason.as_str()),
                        Some(HubFrame::Error { code, .. }) => {
                            assert!(
                                matches!(
                                    reason,
                                    CloseReason::FrameTooLarge
                                        | CloseReason::TooManySessions
                                        | CloseReason::TooManyConnections
                                        | CloseReason::FrameTimeout
                                ),
                                "error farewell for {reason}"
                            );
                            assert_eq!(code, reason.as_str());
                            assert!(ErrorCode::from_wire(&code).is_some(), "{code}");
                            if !matches!(
                                reason,
                                CloseReason::TooManySessions | CloseReason::TooManyConnections
                            ) {
                                told.entry(session).or_default().push(code);
                            }
                        }
                        other => panic!("{session} closed ({reason}) with farewell {other:?}"),
                    }
                    self.check_close_reason(call, session, reason, &active);
                    p.closing.insert(session, reason);
                }
                Output::PauseReading { handle: session } => {
                    // Some queue went past the high watermark and has not
                    // yet drained to the low one.
                    let low = self.config.low_watermark;
                    assert!(
                        self.open.values().any(|s| s.queued > low),
                        "{session} paused with no queue backed up"
                    );
                    let s = self.open.get_mut(&session).unwrap();
                    assert!(!s.paused, "{session} paused twice");
                    s.paused = true;
                    s.idle_since = None;
                    active.insert(session);
                }
                Output::ResumeReading { handle: session } => {
                    p.no_relays_due(&"ResumeReading");
                    let high = self.config.high_watermark;
                    let idle = self.config.idle_timeout.is_some();
                    let now = self.hub_now;
                    let s = self.open.get_mut(&session).unwrap();
                    assert!(s.paused, "{session} resumed without a pause");
                    assert!(
                        s.queued <= high,
                        "{session} resumed with {} queued",
                        s.queued
                    );
                    s.paused = false;
                    if idle && !s.eof {
                        s.idle_since = Some(now);
                    }
                }
                Output::Event(event) => {
                    if !matches!(event, Event::Relayed { .. }) {
                        p.no_relays_due(&event);
                    }
                    self.event(call, event, &mut p, &mut seen, &mut reported, &active)
                }
                #[allow(unreachable_patterns)]
                other => panic!("teach the fuzz target about {other:?}"),
            }
        }
        assert!(
            p.closing.is_empty(),
            "Close without Closed: {:?}",
            p.closing
        );
        assert_eq!(p.closer, None, "a close without its Closed event");
        p.no_relays_due(&"the end of the call's outputs");
        assert!(
            p.joining.is_empty() && p.leaving.is_empty(),
            "joined/left frames without their event: {:?} {:?}",
            p.joining,
            p.leaving
        );
        assert_eq!(told, reported, "error frames vs ProtocolError events");
        // A request to an alias reaches each of its holders once.
        for (number, (alias, holders, got)) in &p.asked {
            assert_eq!(got, holders, "request {number} to {alias:?}");
        }
        seen
    }

    fn event(
        &mut self,
        call: Call,
        event: Event,
        p: &mut Pending,
        seen: &mut Seen,
        reported: &mut BTreeMap<SessionHandle, Vec<String>>,
        active: &BTreeSet<SessionHandle>,
    ) {
        match event {
            Event::Opened {
                handle: session,
                session_id: peer,
            } => {
                assert!(matches!(call, Call::Accept { .. }), "Opened in {call:?}");
                assert!(
                    !self.closed.contains(&session) && !self.open.contains_key(&session),
                    "{session} opened twice"
                );
                seen.opened.push((session, peer.to_string()));
                let idle = self.config.idle_timeout.map(|_| self.hub_now);
                self.open.insert(
                    session,
                    SessionState {
                        peer: peer.to_string(),
                        alias: None,
                        opened_at: self.hub_now,
                        idle_since: idle,
                        queued: 0,
                        progress_at: self.hub_now,
                        paused: false,
                        eof: false,
                        sent_bytes: false,
                        rooms: BTreeSet::new(),
                        received: Vec::new(),
                        answered: BTreeSet::new(),
                        request_ids: Vec::new(),
                        tainted: false,
                    },
                );
            }
            Event::Synced {
                handle: session,
                session_id: peer,
                alias,
                took_over_from,
            } => {
                assert!(
                    active.contains(&session),
                    "Synced for {session} in {call:?}"
                );
                let s = self
                    .open
                    .get_mut(&session)
                    .expect("Synced for an open session");
                assert!(!p.closing.contains_key(&session));
                assert_eq!(*peer, *s.peer);
                assert_eq!(
                    s.alias, None,
                    "Synced while holding an alias: release first"
                );
                s.alias = Some(alias.to_string());
                self.aliases_seen.insert(alias.to_string());
                if let Some(old) = took_over_from {
                    assert_eq!(self.config.alias_policy, AliasPolicy::Takeover);
                    assert_ne!(old, session);
                    let o = self
                        .open
                        .get(&old)
                        .expect("taken over from an open session");
                    assert_eq!(o.alias, None, "the old holder released it first");
                }
            }
            Event::Released {
                handle: session,
                session_id: peer,
                alias,
            } => {
                let s = self
                    .open
                    .get_mut(&session)
                    .expect("Released for an open session");
                assert_eq!(*peer, *s.peer);
                assert_eq!(
                    s.alias.as_deref(),
                    Some(alias.as_str()),
                    "released what it held"
                );
                s.alias = None;
            }
            Event::Message {
                handle: session,
                session_id: peer,
                alias,
                message,
            } => {
                assert!(
                    active.contains(&session),
                    "Message from {session} in {call:?}"
                );
                let s = &self.open[&session];
                assert!(!p.closing.contains_key(&session));
                assert_eq!(*peer, *s.peer);
                assert_eq!(alias.map(|a| a.to_string()), s.alias);
                assert!(serde_json::from_str::<Box<RawValue>>(message.get()).is_ok());
            }
            Event::ProtocolError {
                handle: session,
                session_id: peer,
                error,
            } => {
                // A peer's mistake found while reading it, or a frame timeout.
                let timed_out = call == Call::Timeout
                    && matches!(error.code.as_str(), "frame_timeout" | "request_timeout");
                assert!(
                    active.contains(&session) || timed_out,
                    "ProtocolError {error:?} for {session} in {call:?}"
                );
                assert_eq!(*peer, *self.open[&session].peer);
                reported
                    .entry(session)
                    .or_default()
                    .push(error.code.as_str().to_owned());
            }
            Event::Closed {
                handle: session,
                session_id: peer,
                alias,
                reason,
            } => {
                let s = self
                    .open
                    .remove(&session)
                    .unwrap_or_else(|| panic!("Closed for {session}, which is not open"));
                assert_eq!(*peer, *s.peer);
                assert_eq!(
                    s.alias, None,
                    "Closed while holding {:?}: no Released",
                    s.alias
                );
                if let Some(alias) = alias {
                    assert!(!alias.as_str().is_empty());
                }
                // A paused session's input is held back; if it holds a
                // `bye`, the close is clean even though the connection
                // failed (the core reads the held input for it).
                let closed_by_peer = if s.paused && reason == CloseReason::ClientBye {
                    CloseReason::ClientBye
                } else {
                    CloseReason::PeerClosed
                };
                match p.closing.remove(&session) {
                    Some(r) => assert_eq!(r, reason, "Close and Closed disagree"),
                    None => assert_eq!(
                        (call, reason),
                        (Call::Close(session), closed_by_peer),
                        "Closed {session} without Output::Close"
                    ),
                }
                if p.closer == Some((session, CloseReason::PeerClosed)) {
                    p.closer = Some((session, closed_by_peer));
                }
                assert_eq!(p.closer, Some((session, reason)), "Closed {session}");
                p.closer = None;
                // Its rooms go with it, silently.
                assert!(
                    !p.joining
                        .iter()
                        .chain(&p.leaving)
                        .any(|(h, _)| *h == session),
                    "{session} closed between a joined/left frame and its event"
                );
                assert!(self.closed.insert(session));
                seen.closed.push((session, reason));
                // Its requests go with it; those it was sent stay, for
                // their requesters to time out.
                self.requests.retain(|r| r.requester != session);
                self.fuzzy.remove(&session);
            }
            Event::Joined {
                handle,
                session_id,
                alias,
                room,
            } => {
                assert!(
                    active.contains(&handle) || call == Call::Host,
                    "Joined for {handle} in {call:?}"
                );
                let room = room.to_string();
                assert!(
                    p.joining.remove(&(handle, room.clone())),
                    "Joined {handle} {room:?} without a joined frame first"
                );
                let max = self.config.max_rooms_per_session;
                let s = self
                    .open
                    .get_mut(&handle)
                    .expect("Joined for an open session");
                assert_eq!(*session_id, *s.peer);
                assert_eq!(alias.map(|a| a.to_string()), s.alias);
                assert!(
                    s.rooms.insert(room.clone()),
                    "{handle} joined {room:?} twice"
                );
                assert!(s.rooms.len() <= max, "{handle} in more than {max} rooms");
                self.rooms_seen.insert(room);
            }
            Event::Left {
                handle,
                session_id,
                alias,
                room,
            } => {
                assert!(
                    active.contains(&handle) || call == Call::Host,
                    "Left for {handle} in {call:?}"
                );
                let room = room.to_string();
                assert!(
                    p.leaving.remove(&(handle, room.clone())),
                    "Left {handle} {room:?} without a left frame first"
                );
                let s = self
                    .open
                    .get_mut(&handle)
                    .expect("Left for an open session");
                assert_eq!(*session_id, *s.peer);
                assert_eq!(alias.map(|a| a.to_string()), s.alias);
                assert!(s.rooms.remove(&room), "{handle} left {room:?}, not in it");
            }
            Event::Relayed {
                handle,
                session_id,
                alias,
                target,
                message,
                recipients,
                last_will,
            } => {
                assert!(self.config.observe, "Relayed with observe off");
                let s = self
                    .open
                    .get(&handle)
                    .expect("Relayed from an open session");
                assert_eq!(*session_id, *s.peer);
                assert_eq!(alias.map(|a| a.to_string()), s.alias);
                if last_will {
                    let (closer, reason) = p
                        .closer
                        .unwrap_or_else(|| panic!("last will of {handle} in {call:?}"));
                    assert_eq!(closer, handle, "last will relayed for another session");
                    assert!(reason.sends_last_will(), "last will sent on {reason}");
                } else {
                    assert!(
                        active.contains(&handle) && !p.closing.contains_key(&handle),
                        "Relayed from {handle} in {call:?}"
                    );
                }
                // Who it must have reached: a will is sent once its session
                // is out of the table, so never to itself.
                let expected: BTreeSet<SessionHandle> = match &target {
                    RelayTarget::Room(room) => self.members(room.as_str()),
                    RelayTarget::Alias(a) => self.holders_model(a.as_str()),
                    RelayTarget::Everyone => {
                        assert!(!last_will, "a will to everyone");
                        self.open.keys().copied().collect()
                    }
                }
                .into_iter()
                .filter(|h| *h != handle || (!last_will && matches!(target, RelayTarget::Alias(_))))
                .collect();
                assert_eq!(recipients, expected.len(), "recipients of {target:?}");
                assert!(
                    p.relays.len() >= recipients,
                    "Relayed to {recipients}, {} frames: {:?}",
                    p.relays.len(),
                    p.relays
                );
                let batch: Vec<RelayedFrame> = p.relays.drain(..recipients).collect();
                let to: BTreeSet<SessionHandle> = batch.iter().map(|f| f.to).collect();
                assert_eq!(to.len(), batch.len(), "one frame each");
                assert_eq!(to, expected, "Relayed to {target:?}");
                let sent: Option<serde_json::Value> = serde_json::from_str(message.get()).ok();
                let name = self.name(handle).to_owned();
                for frame in batch {
                    let Some((from, room, will, m)) = frame.info else {
                        continue;
                    };
                    assert_eq!(from, name);
                    assert_eq!(will, last_will);
                    let target_room = match &target {
                        RelayTarget::Room(r) => Some(r.to_string()),
                        _ => None,
                    };
                    assert_eq!(room, target_room);
                    if let Some(sent) = &sent {
                        assert_eq!(&m, sent, "relayed message");
                    }
                }
            }
            Event::Request {
                handle,
                session_id,
                alias,
                reply_to,
                message,
            } => {
                // A request without `to`, read from an active session.
                assert!(
                    active.contains(&handle) && !p.closing.contains_key(&handle),
                    "Request from {handle} in {call:?}"
                );
                let s = &self.open[&handle];
                assert_eq!(*session_id, *s.peer);
                assert_eq!(alias.map(|a| a.to_string()), s.alias);
                assert_eq!(reply_to.node, None, "a lone hub's reply address");
                assert_eq!(reply_to.handle, handle, "{reply_to} names its requester");
                assert_eq!(
                    ReplyAddress::parse(&reply_to.to_string()).as_ref(),
                    Some(&reply_to)
                );
                assert!(serde_json::from_str::<Box<RawValue>>(message.get()).is_ok());
                self.took_request(handle, reply_to.number, None);
                self.host_requests.push(reply_to);
            }
            other => panic!("teach the fuzz target about {other:?}"),
        }
    }

    /// The requests `requester` has waiting, by the model.
    fn waiting(&self, requester: SessionHandle) -> impl Iterator<Item = &ModelRequest> {
        self.requests
            .iter()
            .filter(move |r| r.requester == requester)
    }

    /// The hub took request `number` from `requester`: the next number,
    /// within the requester's allowance.
    fn took_request(&mut self, requester: SessionHandle, number: u64, responder: Option<String>) {
        assert_eq!(
            number,
            self.last_request + 1,
            "request numbers count up by one"
        );
        let waiting = self.waiting(requester).count();
        let max = self.config.max_pending_requests;
        assert!(
            waiting < max,
            "{requester} got request {number} with {waiting} of {max} waiting"
        );
        self.last_request = number;
        self.reply_tos.push(format!("{}.{number}", requester.0));
        self.requests.push(ModelRequest {
            requester,
            number,
            responder,
            learned_at: self.hub_now,
        });
    }

    /// A `request` frame to `session`: from an active session, with a
    /// `replyTo` naming it, to the holders of one alias.
    fn request_frame(
        &mut self,
        call: Call,
        session: SessionHandle,
        fields: &BTreeMap<String, Box<RawValue>>,
        active: &BTreeSet<SessionHandle>,
        p: &mut Pending,
    ) {
        let from = text_field(fields, "from").expect("a request names its sender");
        let reply_to = text_field(fields, "replyTo").expect("a request has a replyTo");
        assert!(fields.contains_key("message"), "a request without message");
        let address = ReplyAddress::parse(&reply_to)
            .unwrap_or_else(|| panic!("replyTo {reply_to:?} does not parse"));
        assert_eq!(address.node, None, "a lone hub's replyTo {reply_to:?}");
        let sender = address.handle;
        assert!(
            active.contains(&sender)
                && self.open.contains_key(&sender)
                && !p.closing.contains_key(&sender),
            "request {reply_to} to {session} from {sender}, not a sender in {call:?}"
        );
        assert_eq!(from, self.name(sender), "request {reply_to} from {sender}");
        let alias = self.open[&session]
            .alias
            .clone()
            .unwrap_or_else(|| panic!("request {reply_to} to {session}, which holds no alias"));
        if address.number > self.last_request {
            self.took_request(sender, address.number, Some(alias.clone()));
            let holders = self.holders_model(&alias);
            p.asked
                .insert(address.number, (alias.clone(), holders, BTreeSet::new()));
        }
        let (asked, _, got) = p
            .asked
            .get_mut(&address.number)
            .unwrap_or_else(|| panic!("request {reply_to} to {session} again, in another call"));
        assert_eq!(
            *asked, alias,
            "request {reply_to} to holders of two aliases"
        );
        assert!(got.insert(session), "request {reply_to} to {session} twice");
        self.open.get_mut(&session).unwrap().received.push(reply_to);
    }

    /// A `reply` frame to `session` from a client: it has a request waiting
    /// for the alias the reply comes from, which an active session holds;
    /// that request ends. (A reply from the host is checked by
    /// `Op::Reply`.)
    fn reply_frame(
        &mut self,
        call: Call,
        session: SessionHandle,
        fields: &BTreeMap<String, Box<RawValue>>,
        active: &BTreeSet<SessionHandle>,
    ) {
        let from = text_field(fields, "from").expect("a reply names who answers");
        assert!(fields.contains_key("message"), "a reply without message");
        if call == Call::Host {
            assert_eq!(from, HUB_NAME, "a client's reply in a host command");
            return;
        }
        assert_ne!(from, HUB_NAME, "a reply from the host in {call:?}");
        // Who may have sent it: the holders of `from` whose input was read.
        let repliers: Vec<&SessionState> = active
            .iter()
            .filter_map(|a| self.open.get(a))
            .filter(|s| s.alias.as_deref() == Some(from.as_str()))
            .collect();
        assert!(
            !repliers.is_empty(),
            "reply to {session} from {from:?}, not a replier in {call:?}"
        );
        // With clean input, the replier named the request it answers.
        let named: Option<BTreeSet<u64>> = (!repliers.iter().any(|s| s.tainted)).then(|| {
            repliers
                .iter()
                .flat_map(|s| &s.answered)
                .filter(|(h, _)| *h == session)
                .map(|(_, n)| *n)
                .collect()
        });
        let candidates: Vec<usize> = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.requester == session && r.responder.as_deref() == Some(&from))
            .filter(|(_, r)| named.as_ref().is_none_or(|n| n.contains(&r.number)))
            .map(|(i, _)| i)
            .collect();
        let fuzzy = self.fuzzy.contains(&session);
        assert!(
            !candidates.is_empty() || fuzzy,
            "reply from {from:?} to {session}, which has no request waiting for it: {:?}",
            self.waiting(session).collect::<Vec<_>>()
        );
        let at = match candidates[..] {
            [at] => at,
            [] => {
                // Fuzzy: which one is not known (nor, after a timeout whose
                // alias the model could not read, for whom); one ends.
                let any = self
                    .requests
                    .iter()
                    .position(|r| r.requester == session && r.responder.as_deref() == Some(&from));
                any.or_else(|| self.requests.iter().position(|r| r.requester == session))
                    .unwrap_or_else(|| panic!("reply from {from:?} to {session}: none waits"))
            }
            [at, ..] => {
                self.fuzzy.insert(session);
                at
            }
        };
        self.requests.remove(at);
        self.check_echoed_id(session, fields.get("id"));
    }

    /// An id echoed to `requester` on a reply or `request_timeout`: one of
    /// its requests', when its input was clean.
    fn check_echoed_id(&self, requester: SessionHandle, id: Option<&Box<RawValue>>) {
        let s = &self.open[&requester];
        let id = match id.map(|id| serde_json::from_str::<serde_json::Value>(id.get())) {
            None => None,
            Some(Ok(id)) => Some(id),
            // Out of f64 range: the known bug `number`.
            Some(Err(_)) => return,
        };
        check_request_id(&id);
        if !s.tainted {
            assert!(
                s.request_ids.contains(&id),
                "{requester} never sent a request with id {id:?}"
            );
        }
    }

    /// A `request_timeout` error to `session`: only from `handle_timeout`,
    /// for a request of its, to whom the message says, waiting since at
    /// least the timeout the message says.
    fn request_timeout(&mut self, call: Call, session: SessionHandle, frame: &[u8]) {
        assert_eq!(call, Call::Timeout, "request_timeout to {session}");
        let fields = loose_fields(frame).expect("an error frame is an object");
        let message = text_field(&fields, "message").expect("an error has a message");
        // "no reply from WHO within MS ms"
        let (who, ms) = message
            .strip_prefix("no reply from ")
            .and_then(|m| m.strip_suffix(" ms"))
            .and_then(|m| m.rsplit_once(" within "))
            .unwrap_or_else(|| panic!("request_timeout message {message:?}"));
        let ms: u64 = ms.parse().expect("whole milliseconds");
        let responder: Option<Option<String>> = match who {
            "the host" => Some(None),
            // The alias in Rust's Debug quoting: JSON reads most of them.
            quoted => serde_json::from_str(quoted).ok().map(Some),
        };
        let waited = Duration::from_millis(ms);
        let now = self.hub_now;
        let candidates: Vec<usize> = self
            .requests
            .iter()
            .enumerate()
            .filter(|(_, r)| r.requester == session)
            .filter(|(_, r)| responder.as_ref().is_none_or(|who| r.responder == *who))
            .filter(|(_, r)| r.learned_at.saturating_add(waited) <= now)
            .map(|(i, _)| i)
            .collect();
        let fuzzy = self.fuzzy.contains(&session);
        assert!(
            !candidates.is_empty() || fuzzy,
            "{message:?} to {session} at {now:?}, waiting: {:?}",
            self.waiting(session).collect::<Vec<_>>()
        );
        let at = match candidates[..] {
            [at] => Some(at),
            [] => self.requests.iter().position(|r| r.requester == session),
            [at, ..] => {
                self.fuzzy.insert(session);
                Some(at)
            }
        };
        if responder.is_none() || candidates.is_empty() {
            self.fuzzy.insert(session);
        }
        let at = at.unwrap_or_else(|| panic!("{message:?} to {session}: nothing waits"));
        self.requests.remove(at);
        self.check_echoed_id(session, fields.get("id"));
    }

    /// What a frame may be, given the call and the sessions whose input
    /// may be processed in it.
    fn check_frame(
        &self,
        call: Call,
        session: SessionHandle,
        frame: &HubFrame,
        kind: Option<InfoKind>,
        active: &BTreeSet<SessionHandle>,
        p: &mut Pending,
    ) {
        let recipient = &self.open[&session];
        match frame {
            HubFrame::Info { from, room, .. } => {
                match kind.expect("an info frame has a kind") {
                    // From the host, in its own command.
                    InfoKind::Host => assert!(call == Call::Host && from == HUB_NAME),
                    // From a sender whose input was processed: its alias,
                    // or its peer before it syncs (a peer may even be
                    // called "#hub").
                    InfoKind::Relay => assert!(
                        active.iter().any(|a| self.open.contains_key(a)
                            && !p.closing.contains_key(a)
                            && self.name(*a) == from),
                        "info to {session} from {from:?}, not a sender in {call:?}"
                    ),
                    // From the session being closed, for a reason that
                    // sends it.
                    InfoKind::Will => {
                        let (closer, reason) = p.closer.unwrap_or_else(|| {
                            panic!(
                                "last will from {from:?} to {session} in {call:?}, nobody closing"
                            )
                        });
                        assert!(
                            reason.sends_last_will(),
                            "{closer}'s last will sent on {reason}"
                        );
                        assert_eq!(from, self.name(closer), "a last will from {closer}");
                    }
                }
                if let Some(room) = room {
                    assert!(
                        recipient.rooms.contains(room),
                        "info for room {room:?} to {session}, not a member"
                    );
                }
            }
            HubFrame::Joined { room, members, id } => {
                assert!(
                    active.contains(&session) || call == Call::Host,
                    "joined to {session} in {call:?}"
                );
                assert!(room_is_valid(room), "joined {room:?}");
                let mut all = self.members(room);
                if all.insert(session) {
                    assert!(
                        p.joining.insert((session, room.clone())),
                        "{session} joined {room:?} twice in a row"
                    );
                }
                assert_eq!(
                    *members,
                    all.len(),
                    "members of {room:?} after {session} joined"
                );
                check_request_id(id);
            }
            HubFrame::Left { room, id } => {
                assert!(
                    active.contains(&session) || call == Call::Host,
                    "left to {session} in {call:?}"
                );
                assert!(
                    recipient.rooms.contains(room),
                    "{session} left {room:?} without being in it"
                );
                assert!(
                    p.leaving.insert((session, room.clone())),
                    "{session} left {room:?} twice"
                );
                check_request_id(id);
            }
            HubFrame::Watching { id } | HubFrame::Unwatched { id } => {
                assert!(
                    active.contains(&session),
                    "{frame:?} to {session} in {call:?}"
                );
                check_request_id(id);
            }
            HubFrame::Presence {
                event,
                alias,
                session_id,
                room,
                reason,
            } => {
                assert_ne!(
                    session_id, &recipient.peer,
                    "{session} told about itself: {frame:?}"
                );
                let change = PresenceChange::from_wire(event)
                    .unwrap_or_else(|| panic!("presence event {event:?}"));
                let about_room = matches!(change, PresenceChange::Joined | PresenceChange::Left);
                assert_eq!(room.is_some(), about_room, "{frame:?}");
                assert_eq!(
                    reason.is_some(),
                    change == PresenceChange::Closed,
                    "{frame:?}"
                );
                if change == PresenceChange::Closed {
                    // Only about the session being closed, with its reason.
                    let (closer, why) = p
                        .closer
                        .unwrap_or_else(|| panic!("{frame:?} in {call:?}, nobody closing"));
                    let c = &self.open[&closer];
                    assert_eq!(*session_id, c.peer, "{frame:?} while {closer} closes");
                    assert_eq!(reason.as_deref(), Some(why.as_str()));
                    assert_eq!(*alias, c.alias, "{frame:?}");
                    return;
                }
                let (about, s) = self
                    .open
                    .iter()
                    .find(|(_, s)| s.peer == *session_id)
                    .unwrap_or_else(|| panic!("{frame:?} about no open session"));
                match change {
                    PresenceChange::Synced | PresenceChange::Released => {
                        assert!(alias.is_some());
                        assert_eq!(*alias, s.alias, "{frame:?}");
                    }
                    PresenceChange::TakenOver => {
                        assert_eq!(self.config.alias_policy, AliasPolicy::Takeover);
                        assert!(alias.is_some());
                        assert_eq!(s.alias, None, "{about} was released first");
                    }
                    _ => {
                        // Room watchers are members.
                        let room = room.as_ref().unwrap();
                        assert!(
                            recipient.rooms.contains(room),
                            "{frame:?} to {session}, not in {room:?}"
                        );
                        assert_eq!(*alias, s.alias, "{frame:?}");
                        let due = if change == PresenceChange::Joined {
                            &p.joining
                        } else {
                            &p.leaving
                        };
                        assert!(
                            due.contains(&(*about, room.clone())),
                            "{frame:?} without {about}'s own frame first"
                        );
                    }
                }
            }
            HubFrame::Synced {
                client_name,
                session_id,
                id,
            } => {
                assert!(active.contains(&session), "synced to {session} in {call:?}");
                let s = &self.open[&session];
                assert_eq!(Some(client_name.as_str()), s.alias.as_deref());
                assert_eq!(session_id, &s.peer);
                check_request_id(id);
            }
            HubFrame::Sessions {
                sessions,
                total,
                next,
                room,
                id,
            } => {
                assert!(
                    active.contains(&session),
                    "sessions to {session} in {call:?}"
                );
                let rows: Vec<SessionHandle> = match room {
                    None => self.open.keys().copied().collect(),
                    Some(room) => {
                        assert!(
                            recipient.rooms.contains(room),
                            "members of {room:?} listed to {session}, not in it"
                        );
                        self.members(room).into_iter().collect()
                    }
                };
                self.check_page(&rows, sessions, *total, next.as_deref());
                check_request_id(id);
            }
            HubFrame::Pong { id } => {
                assert!(active.contains(&session), "pong to {session} in {call:?}");
                check_request_id(id);
            }
            HubFrame::Error { id, code, .. } => {
                // A request that timed out is told in `handle_timeout`.
                let timed_out = call == Call::Timeout && code == "request_timeout";
                assert!(
                    active.contains(&session) || timed_out,
                    "error {code} to {session} in {call:?}"
                );
                check_request_id(id);
            }
            // Read loosely, with the model, in `request_frame` and
            // `reply_frame`.
            HubFrame::Request { .. } | HubFrame::Reply { .. } => {}
            // A bye only ever comes as a farewell, in `Output::Close`.
            other => panic!("{call:?} sent {other:?} to {session}"),
        }
    }

    /// A `sessions` page: a run of the open sessions, oldest first, no
    /// longer than `max_list_rows`, with the total and a `next` cursor
    /// exactly when rows remain after it.
    fn check_page(
        &self,
        listed: &[SessionHandle],
        rows: &[SessionEntry],
        total: usize,
        next: Option<&str>,
    ) {
        assert_eq!(total, listed.len(), "sessions total");
        assert!(
            rows.len() <= self.config.max_list_rows,
            "{} rows",
            rows.len()
        );
        let all: Vec<(SessionHandle, SessionEntry)> = listed
            .iter()
            .map(|id| {
                let s = &self.open[id];
                let entry = SessionEntry {
                    session_id: s.peer.clone(),
                    client_name: s.alias.clone(),
                    node: None,
                };
                (*id, entry)
            })
            .collect();
        let start = match rows.first() {
            Some(first) => all
                .iter()
                .position(|(_, e)| e == first)
                .unwrap_or_else(|| panic!("row {first:?} is not an open session")),
            None => 0,
        };
        let page = &all[start..start + rows.len()];
        assert!(
            page.iter().map(|(_, e)| e).eq(rows.iter()),
            "rows {rows:?} are not a run of {all:?}"
        );
        match next {
            Some(cursor) => {
                let after: u64 = cursor.parse().expect("a cursor is a handle");
                if let Some((last, _)) = page.last() {
                    assert_eq!(after, last.0, "next names the last row");
                }
                assert!(
                    listed.iter().any(|id| id.0 > after),
                    "next {cursor} with nothing after it"
                );
            }
            None => {
                if let Some((last, _)) = page.last() {
                    assert_eq!(Some(last), listed.last(), "rows left without next");
                }
            }
        }
    }

    fn check_close_reason(
        &self,
        call: Call,
        session: SessionHandle,
        reason: CloseReason,
        active: &BTreeSet<SessionHandle>,
    ) {
        if call == Call::CloseSession(session, reason) {
            return;
        }
        let s = &self.open[&session];
        let ok = match reason {
            CloseReason::TooManySessions => {
                call == (Call::Accept {
                    refused: Some(reason),
                })
            }
            CloseReason::Shutdown => {
                call == Call::Shutdown
                    || call
                        == (Call::Accept {
                            refused: Some(reason),
                        })
            }
            CloseReason::TakenOver => self.config.alias_policy == AliasPolicy::Takeover,
            CloseReason::FrameTooLarge => active.contains(&session),
            CloseReason::PeerClosed => s.eof,
            CloseReason::IdleTimeout => {
                // Due when the call began: closing another session first
                // may have paused this one since (a will or presence frame
                // backing up its queue), which stops its timer but does not
                // undo a deadline already past.
                call == Call::Timeout
                    && (self.idle_due.contains(&session)
                        || self.config.idle_timeout.is_some_and(|t| {
                            s.idle_since
                                .and_then(|since| since.checked_add(t))
                                .is_some_and(|at| at <= self.hub_now)
                        }))
            }
            CloseReason::FrameTimeout => {
                call == Call::Timeout
                    && s.sent_bytes
                    && self.config.frame_timeout.is_some_and(|t| {
                        s.opened_at
                            .checked_add(t)
                            .is_some_and(|at| at <= self.hub_now)
                    })
            }
            CloseReason::SlowConsumer => {
                let cap = s.queued > self.config.max_queued_bytes;
                let stuck = call == Call::Timeout
                    && s.queued > 0
                    && self
                        .config
                        .write_deadline
                        .is_some_and(|d| self.hub_now - s.progress_at >= d);
                cap || stuck
            }
            CloseReason::ClosedByHost => false,
            // Its own `bye`, read in this call.
            CloseReason::ClientBye => active.contains(&session),
            other => panic!("teach the fuzz target about {other}"),
        };
        assert!(ok, "{call:?} closed {session} ({s:?}) with {reason}");
    }

    /// The hub's getters against the model.
    fn check_tables(&self) {
        let hub = &self.hub;
        assert_eq!(
            hub.session_count(),
            self.open.len(),
            "accepted minus closed"
        );
        let ids: Vec<SessionHandle> = hub.sessions().map(|s| s.handle).collect();
        let model: Vec<SessionHandle> = self.open.keys().copied().collect();
        assert_eq!(ids, model, "sessions(), oldest first");
        for info in hub.sessions() {
            let s = &self.open[&info.handle];
            assert_eq!(**info.session_id, *s.peer);
            assert_eq!(info.alias.map(|a| a.as_str()), s.alias.as_deref());
            assert_eq!(
                hub.session(info.handle).map(|i| i.handle),
                Some(info.handle)
            );
            assert_eq!(hub.handle_of(&s.peer).ok(), Some(info.handle));
            if let Some(alias) = info.alias {
                assert!(hub.alias_holders(alias.as_str()).contains(&info.handle));
            }
            assert_eq!(
                hub.queued_bytes(info.handle),
                Some(s.queued),
                "queued for {}",
                info.handle
            );
            assert_eq!(
                hub.is_reading_paused(info.handle),
                Some(s.paused),
                "{} paused",
                info.handle
            );
            // A half-closed session is only kept while it waits to resume.
            assert!(
                !s.eof || s.paused,
                "{} half-closed and not paused",
                info.handle
            );
            let rooms: BTreeSet<String> = info.rooms.iter().map(|r| r.to_string()).collect();
            assert_eq!(rooms, s.rooms, "rooms of {}", info.handle);
        }
        // The room table: exactly the rooms open sessions are in (none of
        // a closed session), with their members in accept order.
        let mut rooms: BTreeMap<&str, Vec<SessionHandle>> = BTreeMap::new();
        for (id, s) in &self.open {
            for room in &s.rooms {
                rooms.entry(room).or_default().push(*id);
            }
        }
        let listed: Vec<(String, usize)> = hub.rooms().map(|(r, n)| (r.to_string(), n)).collect();
        let model: Vec<(String, usize)> = rooms
            .iter()
            .map(|(r, m)| (r.to_string(), m.len()))
            .collect();
        assert_eq!(listed, model, "rooms()");
        for name in ROOMS
            .iter()
            .copied()
            .chain(self.rooms_seen.iter().map(String::as_str))
        {
            let members: Vec<SessionHandle> = hub.room_members(name).map(|i| i.handle).collect();
            let expected = rooms.get(name).map_or(&[][..], Vec::as_slice);
            assert_eq!(members, expected, "room_members({name:?})");
        }
        for id in &self.closed {
            assert!(hub.session(*id).is_none(), "closed {id} is still there");
            assert_eq!(hub.queued_bytes(*id), None);
        }
        assert_eq!(hub.now(), self.hub_now);
        let pool = ALIASES.iter().copied();
        for alias in pool.chain(self.aliases_seen.iter().map(String::as_str)) {
            let holders = hub.alias_holders(alias);
            let set: BTreeSet<SessionHandle> = holders.iter().copied().collect();
            assert_eq!(set.len(), holders.len(), "{alias:?} lists a holder twice");
            assert_eq!(set, self.holders_model(alias), "holders of {alias:?}");
            if self.config.alias_policy != AliasPolicy::Share {
                assert!(holders.len() <= 1, "{alias:?} held by {holders:?}");
            }
        }
        // Nothing waits on a queue that is empty: with every queue written,
        // nobody is paused.
        if self.open.values().all(|s| s.queued == 0) {
            let paused: Vec<&SessionHandle> = self
                .open
                .iter()
                .filter(|(_, s)| s.paused)
                .map(|(id, _)| id)
                .collect();
            assert!(
                paused.is_empty(),
                "every queue is empty, yet {paused:?} paused"
            );
        }
        // The next wakeup is no later than the first idle deadline, and
        // there is one while a queue waits for the write deadline.
        let wakeup = hub.poll_timeout();
        if let Some(t) = self.config.idle_timeout {
            for (id, s) in &self.open {
                if let Some(at) = s.idle_since.and_then(|since| since.checked_add(t)) {
                    let w = wakeup.unwrap_or_else(|| panic!("{id} idle deadline, no wakeup"));
                    assert!(w <= at, "wakeup {w:?} after {id}'s idle deadline {at:?}");
                }
            }
        }
        // And no later than the latest a waiting request may time out.
        for r in &self.requests {
            if !self.fuzzy.contains(&r.requester) {
                let at = r.learned_at.saturating_add(self.config.max_request_timeout);
                let w = wakeup.unwrap_or_else(|| panic!("{r:?} waits, no wakeup"));
                assert!(w <= at, "wakeup {w:?} after {r:?} must time out, {at:?}");
            }
        }
        if let Some(d) = self.config.write_deadline {
            let queues = self.open.values().any(|s| s.queued > 0);
            if queues && self.hub_now.checked_add(sweep_interval(d)).is_some() {
                assert!(
                    wakeup.is_some(),
                    "queued bytes and a write deadline, but no wakeup"
                );
            }
        }
    }
}

/// Frames from the host, with their recipients.
fn host_frames(
    seen: &Seen,
) -> impl Iterator<Item = &(SessionHandle, Option<HubFrame>, usize, Option<InfoKind>)> {
    seen.transmits
        .iter()
        .filter(|t| t.3 == Some(InfoKind::Host))
}

/// The frames of a `Transmit`: its lines, each with its newline.
fn lines_of(frame: &Bytes) -> Vec<Bytes> {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', frame) {
        lines.push(frame.slice(start..=end));
        start = end + 1;
    }
    if start < frame.len() {
        lines.push(frame.slice(start..));
    }
    lines
}

/// The code of an `error` frame, read without parsing numbers (a request
/// id out of `f64` range is one of the known bugs).
fn error_code(frame: &[u8]) -> Option<String> {
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(frame).ok()?;
    if fields.get("type")?.get() != r#""error""# {
        return None;
    }
    serde_json::from_str(fields.get("code")?.get()).ok()
}

/// A frame's fields, values unparsed (so a known-bug number reads).
fn loose_fields(frame: &[u8]) -> Option<BTreeMap<String, Box<RawValue>>> {
    serde_json::from_slice(frame).ok()
}

/// A string field of `loose_fields`.
fn text_field(fields: &BTreeMap<String, Box<RawValue>>, name: &str) -> Option<String> {
    serde_json::from_str(fields.get(name)?.get()).ok()
}

/// An echoed request id is a string or a number.
fn check_request_id(id: &Option<serde_json::Value>) {
    if let Some(id) = id {
        assert!(id.is_string() || id.is_number(), "request id {id:?}");
    }
}

/// `Ok` for an open session, `UnknownHandle` for any other.
fn expect_session_result(result: Result<(), HubError>, id: SessionHandle, open: bool) {
    match result {
        Ok(()) => assert!(open, "{id} is not open, yet Ok"),
        Err(HubError::UnknownHandle(s)) => {
            assert!(!open, "{id} is open, yet UnknownHandle");
            assert_eq!(s, id);
        }
        Err(e) => panic!("{id}: {e:?}"),
    }
}

/// How deep the brackets of a JSON text nest.
fn json_depth(text: &[u8]) -> u32 {
    let (mut depth, mut max, mut in_string, mut escaped) = (0u32, 0u32, false, false);
    for &b in text {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => {
                depth += 1;
                max = max.max(depth);
            }
            (false, _, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// One NDJSON line that the hub's own frame parser reads; `None` for a
/// frame it refuses for one of the known bugs (see the module comment).
fn check_line(frame: &[u8]) -> Option<HubFrame> {
    assert_eq!(
        frame.last(),
        Some(&b'\n'),
        "frame without newline: {frame:?}"
    );
    assert_eq!(
        memchr::memchr_iter(b'\n', frame).count(),
        1,
        "more than one line: {:?}",
        String::from_utf8_lossy(frame)
    );
    match HubFrame::parse(frame) {
        Ok(parsed) => Some(parsed),
        Err(e)
            if (!expose("depth") && e.to_string().starts_with("recursion limit exceeded"))
                || (!expose("number") && e.to_string().starts_with("number out of range")) =>
        {
            let e = e.to_string();
            let too_deep = e.starts_with("recursion limit exceeded")
                && json_depth(frame) == tcphub_core::MAX_DEPTH;
            let big_number = e.starts_with("number out of range");
            assert!(
                too_deep || big_number,
                "HubFrame::parse fails on the hub's own frame ({e}): {:?}",
                String::from_utf8_lossy(frame)
            );
            // Only what a client sent comes back this way: a relayed
            // message, or a request id echoed in a reply.
            assert!(serde_json::from_slice::<Box<RawValue>>(frame).is_ok());
            None
        }
        Err(e) => panic!(
            "HubFrame::parse fails on the hub's own frame ({e}): {:?}",
            String::from_utf8_lossy(frame)
        ),
    }
}

fuzz_target!(|input: Input| {
    let Some(mut driver) = Driver::new(build_config(&input.config)) else {
        return;
    };
    for op in &input.ops {
        driver.run(op);
    }
});
