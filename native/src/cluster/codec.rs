//! How cluster traffic is laid out in Redis stream entries, and how it is
//! read back: every field checked, every name validated again with the
//! core's own rules, so a malformed entry is reported and skipped, never
//! trusted and never a panic.
//!
//! Entries are flat field/value lists (values are bytes), layout version
//! `v` = 3 in every stream:
//!
//! | stream | `k` | other fields |
//! | --- | --- | --- |
//! | `inbox:{node}`, `all` | `f` frames | `o` origin (`node.incarnation`), `q` the entry's sequence number, `n` how many frames, `b` the frames, one after another (below) |
//! | `inbox:{node}` | `x` taken over (written by the claim script) | `t` alias, `i` session id |
//! | `directory` | `ah`/`ar` alias held/released, `rj`/`rl` room joined/left, `ss` session row, `sc` session closed, `wt` watching, `ng` node gone | `n` node; `t` the alias or room (for `ss` the alias, if any); `i` session id; `w` `1` or `0` |
//!
//! One frame in `b`: its kind (one byte: `a` alias, `r` room, `e`
//! everyone, `s` one session, `w` presence watchers, `y` the reply to a
//! request), a byte saying which optional parts follow (1 target, 2
//! rooms, 4 the sender's session id, 8 its request id, 16 a request's
//! reply address), those parts in that order, then the frame itself; each part
//! is a 4-byte big-endian length and its bytes. The target is the alias,
//! room or session id (for `w` the alias, if any; for `y` the alias that
//! answered, absent when a node answers that nobody holds it); rooms are
//! `\n`-separated; the frame is one NDJSON line; the sender's session id
//! and request id (raw JSON) are there when the message may be answered,
//! and the reply address (`n1/3.7`, as the core writes it) when it is a
//! `request`. `a`, `r` and `s` have a target, `w` has rooms, `e` neither,
//! `y` a reply address (the request it answers); a request id or reply
//! address comes only with a session id, except in `y`.
//!
//! The link writes, per batch of outputs it sends, one entry per stream
//! for the frames of a run of consecutive `Forward`s and `Publish`es, an
//! entry taking no more once it holds 8 KiB (see `link.rs`); the resolve
//! script writes one entry of one frame.
//! An entry is read whole or refused whole: one bad frame in it, and none
//! of its frames is delivered.
//!
//! `o` and `q` let a reader drop an entry it already had: a batch sent
//! again after a dropped connection may have reached Redis the first time.
//! Entries of layout 1 (one frame per entry, written by earlier tcphub)
//! are reported and skipped: every node of a cluster runs one layout.

use std::sync::Arc;

use bytes::Bytes;
use redis::Value;
use tcphub_core::{
    node_of, Alias, DirectoryChange, Envelope, NodeId, RawValue, RemoteTarget, ReplyAddress,
    ReplyTo, Room,
};

/// The layout written, and the only one read.
pub(crate) const VERSION: &str = "3";

/// What is wrong with an entry read back from Redis.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub(crate) enum Malformed {
    /// The entry is not a flat list of field/value strings.
    #[error("not a list of field/value pairs")]
    Shape,
    /// Written by another layout version of tcphub.
    #[error("layout version {0:?}, expected {VERSION:?}")]
    Version(String),
    /// A field every entry of its kind has is absent.
    #[error("no field {0:?}")]
    Missing(&'static str),
    /// The kind field names no kind this stream carries.
    #[error("unknown kind {0:?}")]
    Kind(String),
    /// A field that must be text (a name, an id) is not UTF-8.
    #[error("field {0:?} is not UTF-8")]
    NotText(&'static str),
    /// An alias, room or node id breaks the core's rules for it.
    #[error("field {field:?}: {reason}")]
    Name { field: &'static str, reason: String },
    /// A frame that is not one complete line.
    #[error("the frame is not one NDJSON line ({0} bytes)")]
    Frame(usize),
    /// A number field that is not a decimal u64.
    #[error("field {0:?} is not a number")]
    Number(&'static str),
    /// A session id that names no node (`node/peer`).
    #[error("field {0:?} is not a session id of a node")]
    SessionId(&'static str),
    /// A request's reply address that is not one (`node/session.number`).
    #[error("field {0:?} is not a reply address")]
    ReplyAddress(&'static str),
    /// A request id that is not JSON.
    #[error("field {0:?} is not JSON")]
    Json(&'static str),
    /// A flag that is neither `1` nor `0`.
    #[error("field {0:?} is not 1 or 0")]
    Flag(&'static str),
    /// The frames of an entry end inside one of them.
    #[error("the frames end inside frame {0}")]
    Truncated(u64),
    /// An entry holds another number of frames than its `n` says.
    #[error("{found} frames where `n` says {said}")]
    Count { said: u64, found: u64 },
    /// A frame's optional parts do not fit its kind (or are unknown).
    #[error("frame of kind {kind:?} with parts {parts:#x}")]
    Parts { kind: char, parts: u8 },
}

/// Frames from another node, in the order it sent them, and who sent them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FramesEntry {
    /// `node.incarnation` of the sender.
    pub(crate) origin: String,
    /// The sender's sequence number for the entry, increasing per origin.
    pub(crate) seq: u64,
    pub(crate) envelopes: Vec<Envelope>,
}

impl FramesEntry {
    /// The node part of the origin.
    pub(crate) fn origin_node(&self) -> &str {
        self.origin.split('.').next().unwrap_or("")
    }
}

/// An entry of a node's inbox or of `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InboxEntry {
    Frames(FramesEntry),
    /// A session of this node lost its alias to a claim elsewhere.
    TakenOver {
        alias: Alias,
        session_id: String,
    },
}

/// An entry of the directory stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirectoryEntry {
    Change(DirectoryChange),
    NodeGone(NodeId),
}

/// Parts a frame in an entry may have besides its kind and the frame.
const TARGET: u8 = 1;
const ROOMS: u8 = 2;
const REPLY_SESSION: u8 = 4;
const REQUEST_ID: u8 = 8;
const REQUEST: u8 = 16;

/// The frames for one stream that go into one entry, encoded as they
/// come (see the top of this file).
#[derive(Debug, Default)]
pub(crate) struct Frames {
    count: u64,
    body: Vec<u8>,
}

impl Frames {
    pub(crate) fn push(&mut self, envelope: &Envelope) {
        let (kind, target, rooms) = match &envelope.target {
            RemoteTarget::Alias(alias) => (b'a', Some(alias.as_str()), None),
            RemoteTarget::Room(room) => (b'r', Some(room.as_str()), None),
            RemoteTarget::Everyone => (b'e', None, None),
            RemoteTarget::Session(session_id) => (b's', Some(&**session_id), None),
            RemoteTarget::Watchers { alias, rooms } => {
                // Room names have no control characters: a newline separates.
                let rooms: Vec<&str> = rooms.iter().map(Room::as_str).collect();
                (
                    b'w',
                    alias.as_ref().map(Alias::as_str),
                    Some(rooms.join("\n")),
                )
            }
            RemoteTarget::Reply { from, .. } => (b'y', from.as_ref().map(Alias::as_str), None),
        };
        let session_id = envelope.reply_to.as_ref().map(|r| &*r.session_id);
        let request_id = envelope
            .reply_to
            .as_ref()
            .and_then(|r| r.request_id.as_deref());
        let request = match &envelope.target {
            RemoteTarget::Reply { to, .. } => Some(to),
            _ => envelope.reply_to.as_ref().and_then(|r| r.request.as_ref()),
        }
        .map(ReplyAddress::to_string);
        let parts = [
            (TARGET, target),
            (ROOMS, rooms.as_deref()),
            (REPLY_SESSION, session_id),
            (REQUEST_ID, request_id),
            (REQUEST, request.as_deref()),
        ];
        let present = parts
            .iter()
            .filter(|(_, part)| part.is_some())
            .fold(0, |bits, (bit, _)| bits | bit);
        self.body.extend_from_slice(&[kind, present]);
        for part in parts.iter().filter_map(|(_, part)| *part) {
            self.put(part.as_bytes());
        }
        self.put(&envelope.frame);
        self.count += 1;
    }

    fn put(&mut self, part: &[u8]) {
        // Every part is far below 4 GiB: frames are at most 16 MiB (the
        // core's `MAX_MAX_FRAME_LEN`), names and ids shorter still.
        let len = u32::try_from(part.len()).expect("a part under 4 GiB");
        self.body.extend_from_slice(&len.to_be_bytes());
        self.body.extend_from_slice(part);
    }

    /// How many bytes they take.
    pub(crate) fn len(&self) -> usize {
        self.body.len()
    }

    /// Adds the fields of the entry to an `XADD` (or to the resolve
    /// script, which writes them).
    pub(crate) fn fields(&self, cmd: &mut redis::Cmd, origin: &str, seq: u64) {
        cmd.arg("v")
            .arg(VERSION)
            .arg("k")
            .arg("f")
            .arg("o")
            .arg(origin)
            .arg("q")
            .arg(seq)
            .arg("n")
            .arg(self.count)
            .arg("b")
            .arg(&self.body[..]);
    }
}

/// Adds a directory change to the directory script's arguments: its kind,
/// its node, then by kind the name (hex, then as is), the session id and
/// alias (`""` for none), the session id, or `1`/`0`.
pub(crate) fn change_args(cmd: &mut redis::Cmd, change: &DirectoryChange) {
    let named = |cmd: &mut redis::Cmd, kind: &str, node: &NodeId, name: &str| {
        cmd.arg(kind)
            .arg(node.as_str())
            .arg(super::keys::hex(name))
            .arg(name);
    };
    match change {
        DirectoryChange::AliasHeld { node, alias } => named(cmd, "ah", node, alias.as_str()),
        DirectoryChange::AliasReleased { node, alias } => named(cmd, "ar", node, alias.as_str()),
        DirectoryChange::RoomJoined { node, room } => named(cmd, "rj", node, room.as_str()),
        DirectoryChange::RoomLeft { node, room } => named(cmd, "rl", node, room.as_str()),
        DirectoryChange::Session {
            node,
            session_id,
            alias,
        } => {
            cmd.arg("ss")
                .arg(node.as_str())
                .arg(&**session_id)
                .arg(alias.as_ref().map_or("", |a| a.as_str()));
        }
        DirectoryChange::SessionClosed { node, session_id } => {
            cmd.arg("sc").arg(node.as_str()).arg(&**session_id);
        }
        DirectoryChange::Watching { node, watching } => {
            cmd.arg("wt")
                .arg(node.as_str())
                .arg(if *watching { "1" } else { "0" });
        }
    }
}

/// An entry's fields, from the reply to `XREAD` (an array of pairs, or a
/// map under RESP3).
#[derive(Debug)]
pub(crate) struct Fields<'a>(Vec<(&'a [u8], &'a [u8])>);

impl<'a> Fields<'a> {
    pub(crate) fn parse(value: &'a Value) -> Result<Self, Malformed> {
        let pairs = match value {
            Value::Array(items) => {
                if items.len() % 2 != 0 {
                    return Err(Malformed::Shape);
                }
                items
                    .chunks(2)
                    .map(|pair| Some((bytes_of(&pair[0])?, bytes_of(&pair[1])?)))
                    .collect::<Option<Vec<_>>>()
            }
            Value::Map(items) => items
                .iter()
                .map(|(k, v)| Some((bytes_of(k)?, bytes_of(v)?)))
                .collect(),
            _ => None,
        };
        pairs.map(Fields).ok_or(Malformed::Shape)
    }

    fn get(&self, field: &'static str) -> Result<&'a [u8], Malformed> {
        self.0
            .iter()
            .find(|(k, _)| *k == field.as_bytes())
            .map(|(_, v)| *v)
            .ok_or(Malformed::Missing(field))
    }

    fn text(&self, field: &'static str) -> Result<&'a str, Malformed> {
        text(self.get(field)?, field)
    }

    fn check_version(&self) -> Result<(), Malformed> {
        let version = self.text("v")?;
        if version == VERSION {
            Ok(())
        } else {
            Err(Malformed::Version(version.to_owned()))
        }
    }

    fn alias(&self, field: &'static str) -> Result<Alias, Malformed> {
        alias(self.text(field)?, field)
    }

    fn room(&self, field: &'static str) -> Result<Room, Malformed> {
        room(self.text(field)?, field)
    }

    fn node(&self, field: &'static str) -> Result<NodeId, Malformed> {
        node_id(self.text(field)?, field)
    }

    fn optional(&self, field: &'static str) -> Result<Option<&'a str>, Malformed> {
        match self.get(field) {
            Ok(_) => self.text(field).map(Some),
            Err(_) => Ok(None),
        }
    }

    fn session_id(&self, field: &'static str) -> Result<Arc<str>, Malformed> {
        session_id(self.text(field)?, field)
    }

    fn number(&self, field: &'static str) -> Result<u64, Malformed> {
        self.text(field)?
            .parse()
            .map_err(|_| Malformed::Number(field))
    }

    /// Reads an entry of an inbox or of `all`.
    pub(crate) fn inbox_entry(&self) -> Result<InboxEntry, Malformed> {
        self.check_version()?;
        match self.text("k")? {
            "f" => {}
            "x" => {
                return Ok(InboxEntry::TakenOver {
                    alias: self.alias("t")?,
                    session_id: self.text("i")?.to_owned(),
                })
            }
            other => return Err(Malformed::Kind(other.to_owned())),
        }
        let origin = self.text("o")?;
        node_id(origin.split('.').next().unwrap_or(""), "o")?;
        let seq = self.number("q")?;
        let said = self.number("n")?;
        let mut body = self.get("b")?;
        // `n` is checked, not trusted, so it does not size anything.
        let mut envelopes = Vec::new();
        while !body.is_empty() {
            envelopes.push(frame(&mut body, envelopes.len() as u64)?);
        }
        if envelopes.len() as u64 != said {
            return Err(Malformed::Count {
                said,
                found: envelopes.len() as u64,
            });
        }
        Ok(InboxEntry::Frames(FramesEntry {
            origin: origin.to_owned(),
            seq,
            envelopes,
        }))
    }

    /// Reads an entry of the directory stream.
    pub(crate) fn directory_entry(&self) -> Result<DirectoryEntry, Malformed> {
        self.check_version()?;
        let node = self.node("n")?;
        let change = match self.text("k")? {
            "ah" => DirectoryChange::AliasHeld {
                node,
                alias: self.alias("t")?,
            },
            "ar" => DirectoryChange::AliasReleased {
                node,
                alias: self.alias("t")?,
            },
            "rj" => DirectoryChange::RoomJoined {
                node,
                room: self.room("t")?,
            },
            "rl" => DirectoryChange::RoomLeft {
                node,
                room: self.room("t")?,
            },
            "ss" => DirectoryChange::Session {
                node,
                session_id: self.session_id("i")?,
                alias: match self.optional("t")? {
                    Some(_) => Some(self.alias("t")?),
                    None => None,
                },
            },
            "sc" => DirectoryChange::SessionClosed {
                node,
                session_id: self.session_id("i")?,
            },
            "wt" => DirectoryChange::Watching {
                node,
                watching: match self.text("w")? {
                    "1" => true,
                    "0" => false,
                    _ => return Err(Malformed::Flag("w")),
                },
            },
            "ng" => return Ok(DirectoryEntry::NodeGone(node)),
            other => return Err(Malformed::Kind(other.to_owned())),
        };
        Ok(DirectoryEntry::Change(change))
    }
}

/// Reads the frame at the head of `body` (frame number `index` of its
/// entry) and moves past it.
fn frame<'a>(body: &mut &'a [u8], index: u64) -> Result<Envelope, Malformed> {
    let whole: &'a [u8] = body;
    let [kind, present, ref rest @ ..] = *whole else {
        return Err(Malformed::Truncated(index));
    };
    *body = rest;
    let (allowed, required) = match kind {
        b'a' | b'r' | b's' => (TARGET, (TARGET, "t")),
        b'e' => (0, (0, "")),
        b'w' => (TARGET | ROOMS, (ROOMS, "m")),
        b'y' => (TARGET | REQUEST, (REQUEST, "rq")),
        other => return Err(Malformed::Kind(char::from(other).to_string())),
    };
    let allowed = match kind {
        b'y' => allowed,
        _ => allowed | REPLY_SESSION | REQUEST_ID | REQUEST,
    };
    let sender_part = REQUEST_ID | REQUEST;
    let without_sender = kind != b'y' && present & sender_part != 0 && present & REPLY_SESSION == 0;
    if present & !allowed != 0 || without_sender {
        return Err(Malformed::Parts {
            kind: char::from(kind),
            parts: present,
        });
    }
    if present & required.0 != required.0 {
        return Err(Malformed::Missing(required.1));
    }
    let mut part = |bit: u8| -> Result<Option<&'a [u8]>, Malformed> {
        if present & bit == 0 {
            return Ok(None);
        }
        take(body, index).map(Some)
    };
    let (target, rooms) = (part(TARGET)?, part(ROOMS)?);
    let (reply_session, request_id) = (part(REPLY_SESSION)?, part(REQUEST_ID)?);
    let request = match part(REQUEST)? {
        Some(address) => {
            let address = text(address, "rq")?;
            Some(ReplyAddress::parse(address).ok_or(Malformed::ReplyAddress("rq"))?)
        }
        None => None,
    };
    let frame = take(body, index)?;
    // The `required` check above means these are present; a miss is still
    // an error, never a panic, since the bytes came from the network.
    let target_text = || text(target.ok_or(Malformed::Missing("t"))?, "t");
    let target = match kind {
        b'a' => RemoteTarget::Alias(alias(target_text()?, "t")?),
        b'r' => RemoteTarget::Room(room(target_text()?, "t")?),
        b's' => RemoteTarget::Session(session_id(target_text()?, "t")?),
        b'e' => RemoteTarget::Everyone,
        b'y' => RemoteTarget::Reply {
            to: request.clone().ok_or(Malformed::Missing("rq"))?,
            from: match target {
                Some(_) => Some(alias(target_text()?, "t")?),
                None => None,
            },
        },
        _ => {
            let alias = match target {
                Some(_) => Some(alias(target_text()?, "t")?),
                None => None,
            };
            let rooms = text(rooms.ok_or(Malformed::Missing("m"))?, "m")?
                .split('\n')
                .filter(|r| !r.is_empty())
                .map(|r| room(r, "m"))
                .collect::<Result<Vec<Room>, Malformed>>()?;
            RemoteTarget::Watchers { alias, rooms }
        }
    };
    // Clients get these bytes as they are: one line, as the core encodes
    // every frame, or nothing.
    let newline = frame.iter().position(|&b| b == b'\n');
    if newline != Some(frame.len().wrapping_sub(1)) {
        return Err(Malformed::Frame(frame.len()));
    }
    let reply_to = match reply_session {
        None => None,
        Some(session) => Some(ReplyTo {
            session_id: session_id(text(session, "rs")?, "rs")?,
            request_id: match request_id {
                // Echoed in an error frame as it is: it must be JSON.
                Some(id) => Some(
                    serde_json::from_str::<&RawValue>(text(id, "ri")?)
                        .map(|raw| Arc::from(raw.get()))
                        .map_err(|_| Malformed::Json("ri"))?,
                ),
                None => None,
            },
            request,
        }),
    };
    Ok(Envelope {
        target,
        frame: Bytes::copy_from_slice(frame),
        reply_to,
    })
}

/// Takes one length-prefixed part off the head of `body`.
fn take<'a>(body: &mut &'a [u8], index: u64) -> Result<&'a [u8], Malformed> {
    let truncated = Malformed::Truncated(index);
    let (len, rest) = body.split_first_chunk::<4>().ok_or(truncated.clone())?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(truncated);
    }
    let (part, rest) = rest.split_at(len);
    *body = rest;
    Ok(part)
}

fn text<'a>(bytes: &'a [u8], field: &'static str) -> Result<&'a str, Malformed> {
    std::str::from_utf8(bytes).map_err(|_| Malformed::NotText(field))
}

fn alias(text: &str, field: &'static str) -> Result<Alias, Malformed> {
    Alias::new(text).map_err(|e| Malformed::Name {
        field,
        reason: e.to_string(),
    })
}

fn room(text: &str, field: &'static str) -> Result<Room, Malformed> {
    Room::new(text).map_err(|e| Malformed::Name {
        field,
        reason: e.to_string(),
    })
}

/// A session id names its node (`node/peer`).
fn session_id(text: &str, field: &'static str) -> Result<Arc<str>, Malformed> {
    node_of(text).ok_or(Malformed::SessionId(field))?;
    Ok(text.into())
}

/// A node id read from Redis, checked with the core's rules.
pub(crate) fn node_id(text: &str, field: &'static str) -> Result<NodeId, Malformed> {
    NodeId::new(text).map_err(|e| Malformed::Name {
        field,
        reason: e.to_string(),
    })
}

/// The bytes of a string reply.
pub(crate) fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// One stream's entries in a reply to `XREAD`: (id, fields) pairs.
pub(crate) type StreamEntries<'a> = Vec<(&'a str, &'a Value)>;

/// Splits a reply to `XREAD` into streams and their entries; `None` when
/// the reply does not have that shape (nil, when the block timed out, is
/// an empty list).
pub(crate) fn xread_reply(value: &Value) -> Option<Vec<(&str, StreamEntries<'_>)>> {
    let streams: Vec<(&Value, &Value)> = match value {
        Value::Nil => return Some(Vec::new()),
        Value::Array(streams) => streams
            .iter()
            .map(|s| match s {
                Value::Array(pair) if pair.len() == 2 => Some((&pair[0], &pair[1])),
                _ => None,
            })
            .collect::<Option<_>>()?,
        Value::Map(streams) => streams.iter().map(|(k, v)| (k, v)).collect(),
        _ => return None,
    };
    streams
        .into_iter()
        .map(|(name, entries)| {
            let name = std::str::from_utf8(bytes_of(name)?).ok()?;
            let Value::Array(entries) = entries else {
                return None;
            };
            let entries = entries
                .iter()
                .map(|entry| match entry {
                    Value::Array(pair) if pair.len() == 2 => {
                        Some((std::str::from_utf8(bytes_of(&pair[0])?).ok()?, &pair[1]))
                    }
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()?;
            Some((name, entries))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(text: &[u8]) -> Value {
        Value::BulkString(text.to_vec())
    }

    fn entry(pairs: &[(&str, &[u8])]) -> Value {
        Value::Array(
            pairs
                .iter()
                .flat_map(|(k, v)| [bulk(k.as_bytes()), bulk(v)])
                .collect(),
        )
    }

    /// The fields an XADD would carry, as Redis hands them back.
    fn written(envelopes: &[Envelope]) -> Value {
        let mut frames = Frames::default();
        for envelope in envelopes {
            frames.push(envelope);
        }
        let mut cmd = redis::cmd("XADD");
        frames.fields(&mut cmd, "n1.ab12", 7);
        // Skip the command's name; the fields are plain arguments.
        Value::Array(
            cmd.args_iter()
                .skip(1)
                .map(|a| match a {
                    redis::Arg::Simple(bytes) => bulk(bytes),
                    _ => Value::Nil,
                })
                .collect(),
        )
    }

    fn read(value: &Value) -> Result<InboxEntry, Malformed> {
        Fields::parse(value).unwrap().inbox_entry()
    }

    #[test]
    fn frames_read_back_as_written_in_one_entry_in_order() {
        let targets = [
            RemoteTarget::Alias(Alias::new("Client-2").unwrap()),
            RemoteTarget::Room(Room::new("lobby").unwrap()),
            RemoteTarget::Everyone,
            RemoteTarget::Session("n3/[::1]:9".into()),
            RemoteTarget::Watchers {
                alias: Some(Alias::new("X").unwrap()),
                rooms: vec![Room::new("lobby").unwrap(), Room::new("大厅").unwrap()],
            },
            RemoteTarget::Watchers {
                alias: None,
                rooms: vec![],
            },
        ];
        let mut envelopes = Vec::new();
        // A reply from an alias, and a node's word that nobody held it.
        for from in [Some(Alias::new("Client-2").unwrap()), None] {
            let to = ReplyAddress::parse("n1/3.7").unwrap();
            let target = RemoteTarget::Reply { to, from };
            let frame = Bytes::from_static(b"{\"type\":\"reply\",\"message\":1}\n");
            envelopes.push(Envelope::new(target, frame));
        }
        for (i, target) in targets.into_iter().enumerate() {
            let frame = format!("{{\"type\":\"info\",\"message\":\"大{i}\"}}\n");
            envelopes.push(Envelope {
                target: target.clone(),
                frame: Bytes::from(frame.clone()),
                reply_to: Some(ReplyTo {
                    session_id: "n2/127.0.0.1:5".into(),
                    request_id: Some("\"r-1\"".into()),
                    request: ReplyAddress::parse("n2/5.18446744073709551615"),
                }),
            });
            // With a sender but no request id, and with no sender at all.
            envelopes.push(Envelope {
                target: target.clone(),
                frame: Bytes::from(frame.clone()),
                reply_to: Some(ReplyTo {
                    session_id: "n2/127.0.0.1:5".into(),
                    request_id: None,
                    request: None,
                }),
            });
            envelopes.push(Envelope::new(target, Bytes::from(frame)));
        }
        for some in [&envelopes[..1], &envelopes[..]] {
            let read = read(&written(some)).unwrap();
            let InboxEntry::Frames(entry) = read else {
                panic!("{read:?}")
            };
            assert_eq!(entry.envelopes, some);
            assert_eq!((entry.origin_node(), entry.seq), ("n1", 7));
        }
    }

    /// The body of an entry, frame by frame: kind, parts present, parts.
    fn body(frames: &[(u8, u8, &[&[u8]])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, present, parts) in frames {
            body.extend_from_slice(&[*kind, *present]);
            for part in *parts {
                body.extend_from_slice(&(part.len() as u32).to_be_bytes());
                body.extend_from_slice(part);
            }
        }
        body
    }

    fn frames_entry(n: &[u8], body: &[u8]) -> Value {
        entry(&[
            ("v", b"3"),
            ("k", b"f"),
            ("o", b"n1.1"),
            ("q", b"1"),
            ("n", n),
            ("b", body),
        ])
    }

    #[test]
    fn malformed_entries_are_named_not_trusted() {
        let good: &[(u8, u8, &[&[u8]])] = &[
            (b'a', TARGET, &[b"A", b"{}\n"]),
            (b'e', 0, &[b"{}\n"]),
            (
                b'r',
                TARGET | REPLY_SESSION | REQUEST_ID,
                &[b"lobby", b"n1/1.2.3.4:5", b"{\"n\":1}", b"{}\n"],
            ),
        ];
        let ok = body(good);
        assert!(read(&frames_entry(b"3", &ok)).is_ok());
        // The header fields.
        let with = |field: &str, value: &[u8]| {
            let Value::Array(mut items) = frames_entry(b"3", &ok) else {
                unreachable!()
            };
            for pair in items.chunks_mut(2) {
                if pair[0] == bulk(field.as_bytes()) {
                    pair[1] = bulk(value);
                }
            }
            read(&Value::Array(items))
        };
        assert_eq!(with("v", b"1"), Err(Malformed::Version("1".into())));
        assert_eq!(with("k", b"?"), Err(Malformed::Kind("?".into())));
        assert!(matches!(
            with("o", b"a/b.1"),
            Err(Malformed::Name { field: "o", .. })
        ));
        assert_eq!(with("q", b"x"), Err(Malformed::Number("q")));
        assert_eq!(with("n", b"-1"), Err(Malformed::Number("n")));
        // A count that is not what the body holds, either way.
        assert_eq!(with("n", b"4"), Err(Malformed::Count { said: 4, found: 3 }));
        assert_eq!(with("n", b"2"), Err(Malformed::Count { said: 2, found: 3 }));
        assert_eq!(
            read(&frames_entry(b"1", b"")),
            Err(Malformed::Count { said: 1, found: 0 })
        );
        // Cut anywhere inside a frame, the body is refused as truncated,
        // naming the frame it ends in.
        let first = body(&good[..1]).len();
        let second = body(&good[..2]).len();
        for cut in 1..ok.len() {
            let index = if cut < first {
                0
            } else if cut < second {
                1
            } else {
                2
            };
            let expected = if cut == first || cut == second {
                // A cut between frames is a whole body of fewer frames.
                Malformed::Count {
                    said: 3,
                    found: index,
                }
            } else {
                Malformed::Truncated(index)
            };
            assert_eq!(
                read(&frames_entry(b"3", &ok[..cut])),
                Err(expected),
                "{cut}"
            );
        }
        // A length past the end of the body.
        let mut long = body(&good[..1]);
        long[2..6].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(
            read(&frames_entry(b"1", &long)),
            Err(Malformed::Truncated(0))
        );
        // Inside, every part is checked as a field of layout 1 was; one
        // bad frame refuses the entry.
        let second_is = |frame: (u8, u8, &[&[u8]])| {
            read(&frames_entry(b"3", &body(&[good[0], frame, good[2]])))
        };
        assert!(matches!(
            second_is((b'a', TARGET, &[b"#hub", b"{}\n"])),
            Err(Malformed::Name { field: "t", .. })
        ));
        assert!(matches!(
            second_is((b'a', TARGET, &[b"*", b"{}\n"])),
            Err(Malformed::Name { field: "t", .. })
        ));
        assert!(matches!(
            second_is((b'r', TARGET, &[b"", b"{}\n"])),
            Err(Malformed::Name { field: "t", .. })
        ));
        assert!(matches!(
            second_is((b'w', ROOMS, &[b"lobby\n#x", b"{}\n"])),
            Err(Malformed::Name { field: "m", .. })
        ));
        assert_eq!(
            second_is((b'a', TARGET, &[b"\xff", b"{}\n"])),
            Err(Malformed::NotText("t"))
        );
        assert_eq!(
            second_is((b's', TARGET, &[b"nobody", b"{}\n"])),
            Err(Malformed::SessionId("t"))
        );
        assert_eq!(
            second_is((b'a', TARGET, &[b"A", b"{}"])),
            Err(Malformed::Frame(2))
        );
        assert_eq!(
            second_is((b'a', TARGET, &[b"A", b"{}\n{}\n"])),
            Err(Malformed::Frame(6))
        );
        assert_eq!(second_is((b'e', 0, &[b""])), Err(Malformed::Frame(0)));
        assert_eq!(
            second_is((b'?', 0, &[b"{}\n"])),
            Err(Malformed::Kind("?".into()))
        );
        assert_eq!(
            second_is((b'a', 0, &[b"{}\n"])),
            Err(Malformed::Missing("t"))
        );
        assert_eq!(
            second_is((b'w', 0, &[b"{}\n"])),
            Err(Malformed::Missing("m"))
        );
        assert_eq!(
            second_is((b'e', TARGET, &[b"A", b"{}\n"])),
            Err(Malformed::Parts {
                kind: 'e',
                parts: TARGET
            })
        );
        assert_eq!(
            second_is((b'a', TARGET | 16, &[b"A", b"{}\n"])),
            Err(Malformed::Parts {
                kind: 'a',
                parts: TARGET | 16
            })
        );
        assert_eq!(
            second_is((b'a', TARGET | REQUEST_ID, &[b"A", b"1", b"{}\n"])),
            Err(Malformed::Parts {
                kind: 'a',
                parts: TARGET | REQUEST_ID
            })
        );
        // What a reply is addressed with is checked as well.
        let replied = |rs: &[u8], ri: &[u8]| {
            second_is((
                b'a',
                TARGET | REPLY_SESSION | REQUEST_ID,
                &[b"A", rs, ri, b"{}\n"],
            ))
        };
        assert!(replied(b"n1/1.2.3.4:5", b"{\"n\":1}").is_ok());
        assert_eq!(replied(b"n1/x", b"{oops"), Err(Malformed::Json("ri")));
        assert_eq!(replied(b"nobody", b"1"), Err(Malformed::SessionId("rs")));
        assert_eq!(replied(b"n1/x", b"\xff"), Err(Malformed::NotText("ri")));
        // Missing header fields, and entries that are no field list.
        assert_eq!(
            read(&entry(&[
                ("v", b"3"),
                ("k", b"f"),
                ("o", b"n1.1"),
                ("q", b"1")
            ])),
            Err(Malformed::Missing("n"))
        );
        assert_eq!(
            read(&entry(&[("v", b"3"), ("k", b"x"), ("t", b"X")])),
            Err(Malformed::Missing("i"))
        );
        assert!(Fields::parse(&Value::Int(3)).is_err());
        assert!(Fields::parse(&Value::Array(vec![bulk(b"v")])).is_err());
    }

    #[test]
    fn an_entry_of_layout_1_is_refused_by_its_version() {
        let v1 = entry(&[
            ("v", b"1"),
            ("k", b"a"),
            ("t", b"A"),
            ("f", b"{}\n"),
            ("o", b"n1.1"),
            ("q", b"1"),
        ]);
        assert_eq!(read(&v1), Err(Malformed::Version("1".into())));
    }

    #[test]
    fn directory_entries_and_taken_over_notes_read_back() {
        let read =
            |pairs: &[(&str, &[u8])]| Fields::parse(&entry(pairs)).unwrap().directory_entry();
        let n2 = NodeId::new("n2").unwrap();
        assert_eq!(
            read(&[("v", b"3"), ("k", b"ah"), ("n", b"n2"), ("t", b"X")]),
            Ok(DirectoryEntry::Change(DirectoryChange::AliasHeld {
                node: n2.clone(),
                alias: Alias::new("X").unwrap()
            }))
        );
        assert_eq!(
            read(&[("v", b"3"), ("k", b"ng"), ("n", b"n2")]),
            Ok(DirectoryEntry::NodeGone(n2))
        );
        assert!(read(&[("v", b"3"), ("k", b"rj"), ("n", b"n/2"), ("t", b"r")]).is_err());
        assert_eq!(
            read(&[("v", b"3"), ("k", b"ss"), ("n", b"n2"), ("i", b"n2/h:1")]),
            Ok(DirectoryEntry::Change(DirectoryChange::Session {
                node: NodeId::new("n2").unwrap(),
                session_id: "n2/h:1".into(),
                alias: None
            }))
        );
        assert_eq!(
            read(&[("v", b"3"), ("k", b"wt"), ("n", b"n2"), ("w", b"2")]),
            Err(Malformed::Flag("w"))
        );
        let note = entry(&[
            ("v", b"3"),
            ("k", b"x"),
            ("t", b"X"),
            ("i", b"n1/1.2.3.4:5"),
        ]);
        assert_eq!(
            Fields::parse(&note).unwrap().inbox_entry(),
            Ok(InboxEntry::TakenOver {
                alias: Alias::new("X").unwrap(),
                session_id: "n1/1.2.3.4:5".into()
            })
        );
    }

    #[test]
    fn xread_replies_split_into_streams_or_are_refused() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk(b"s"),
            Value::Array(vec![Value::Array(vec![
                bulk(b"1-0"),
                entry(&[("v", b"1")]),
            ])]),
        ])]);
        let streams = xread_reply(&reply).unwrap();
        assert_eq!(streams.len(), 1);
        assert_eq!(streams[0].0, "s");
        assert_eq!(streams[0].1[0].0, "1-0");
        assert_eq!(xread_reply(&Value::Nil).unwrap().len(), 0);
        assert!(xread_reply(&Value::Int(1)).is_none());
        assert!(xread_reply(&Value::Array(vec![Value::Int(1)])).is_none());
    }
}
