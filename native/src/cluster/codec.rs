//! How cluster traffic is laid out in Redis stream entries, and how it is
//! read back: every field checked, every name validated again with the
//! core's own rules, so a malformed entry is reported and skipped, never
//! trusted and never a panic.
//!
//! Entries are flat field/value lists (values are bytes), version `v` = 1:
//!
//! | stream | `k` | other fields |
//! | --- | --- | --- |
//! | `inbox:{node}`, `all` | `a` alias, `r` room, `e` everyone, `s` one session, `w` presence watchers | `t` target: alias, room or session id (for `w` the alias, if any), `m` for `w` the rooms, `\n`-separated, `f` the frame (one NDJSON line), `o` origin (`node.incarnation`), `q` sequence number, `rs`/`ri` the sender's session id and request id (raw JSON) when it may be answered |
//! | `inbox:{node}` | `x` taken over (written by the claim script) | `t` alias, `i` session id |
//! | `directory` | `ah`/`ar` alias held/released, `rj`/`rl` room joined/left, `ss` session row, `sc` session closed, `wt` watching, `ng` node gone | `n` node; `t` the alias or room (for `ss` the alias, if any); `i` session id; `w` `1` or `0` |
//!
//! `o` and `q` let a reader drop a frame it already had: a batch sent
//! again after a dropped connection may have reached Redis the first time.

use std::sync::Arc;

use bytes::Bytes;
use redis::Value;
use tcphub_core::{
    node_of, Alias, DirectoryChange, Envelope, NodeId, RawValue, RemoteTarget, ReplyTo, Room,
};

/// The layout written, and the only one read.
pub(crate) const VERSION: &str = "1";

/// What is wrong with an entry read back from Redis.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
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
    /// A request id that is not JSON.
    #[error("field {0:?} is not JSON")]
    Json(&'static str),
    /// A flag that is neither `1` nor `0`.
    #[error("field {0:?} is not 1 or 0")]
    Flag(&'static str),
}

/// A frame from another node, and who sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameEntry {
    /// `node.incarnation` of the sender.
    pub(crate) origin: String,
    /// The sender's sequence number, increasing per origin.
    pub(crate) seq: u64,
    pub(crate) envelope: Envelope,
}

impl FrameEntry {
    /// The node part of the origin.
    pub(crate) fn origin_node(&self) -> &str {
        self.origin.split('.').next().unwrap_or("")
    }
}

/// An entry of a node's inbox or of `all`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InboxEntry {
    Frame(FrameEntry),
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

/// Adds the fields of a frame entry to an `XADD` (or to the resolve
/// script, which writes them).
pub(crate) fn frame_fields(cmd: &mut redis::Cmd, envelope: &Envelope, origin: &str, seq: u64) {
    cmd.arg("v").arg(VERSION);
    match &envelope.target {
        RemoteTarget::Alias(alias) => cmd.arg("k").arg("a").arg("t").arg(alias.as_str()),
        RemoteTarget::Room(room) => cmd.arg("k").arg("r").arg("t").arg(room.as_str()),
        RemoteTarget::Everyone => cmd.arg("k").arg("e"),
        RemoteTarget::Session(session_id) => cmd.arg("k").arg("s").arg("t").arg(&**session_id),
        RemoteTarget::Watchers { alias, rooms } => {
            cmd.arg("k").arg("w");
            if let Some(alias) = alias {
                cmd.arg("t").arg(alias.as_str());
            }
            // Room names have no control characters: a newline separates.
            let rooms: Vec<&str> = rooms.iter().map(Room::as_str).collect();
            cmd.arg("m").arg(rooms.join("\n"))
        }
    };
    if let Some(reply_to) = &envelope.reply_to {
        cmd.arg("rs").arg(&*reply_to.session_id);
        if let Some(request_id) = &reply_to.request_id {
            cmd.arg("ri").arg(&**request_id);
        }
    }
    cmd.arg("f")
        .arg(&envelope.frame[..])
        .arg("o")
        .arg(origin)
        .arg("q")
        .arg(seq);
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
        std::str::from_utf8(self.get(field)?).map_err(|_| Malformed::NotText(field))
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
        Alias::new(self.text(field)?).map_err(|e| Malformed::Name {
            field,
            reason: e.to_string(),
        })
    }

    fn room(&self, field: &'static str) -> Result<Room, Malformed> {
        Room::new(self.text(field)?).map_err(|e| Malformed::Name {
            field,
            reason: e.to_string(),
        })
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
        let id = self.text(field)?;
        node_of(id).ok_or(Malformed::SessionId(field))?;
        Ok(id.into())
    }

    /// Reads an entry of an inbox or of `all`.
    pub(crate) fn inbox_entry(&self) -> Result<InboxEntry, Malformed> {
        self.check_version()?;
        let kind = self.text("k")?;
        let target = match kind {
            "a" => RemoteTarget::Alias(self.alias("t")?),
            "r" => RemoteTarget::Room(self.room("t")?),
            "e" => RemoteTarget::Everyone,
            "s" => RemoteTarget::Session(self.session_id("t")?),
            "w" => {
                let alias = match self.optional("t")? {
                    Some(_) => Some(self.alias("t")?),
                    None => None,
                };
                let rooms = self.text("m")?;
                let rooms = rooms
                    .split('\n')
                    .filter(|r| !r.is_empty())
                    .map(|r| {
                        Room::new(r).map_err(|e| Malformed::Name {
                            field: "m",
                            reason: e.to_string(),
                        })
                    })
                    .collect::<Result<Vec<Room>, Malformed>>()?;
                RemoteTarget::Watchers { alias, rooms }
            }
            "x" => {
                return Ok(InboxEntry::TakenOver {
                    alias: self.alias("t")?,
                    session_id: self.text("i")?.to_owned(),
                })
            }
            other => return Err(Malformed::Kind(other.to_owned())),
        };
        let frame = self.get("f")?;
        // Clients get these bytes as they are: one line, as the core
        // encodes every frame, or nothing.
        let newline = frame.iter().position(|&b| b == b'\n');
        if newline != Some(frame.len().wrapping_sub(1)) {
            return Err(Malformed::Frame(frame.len()));
        }
        let reply_to = match self.optional("rs")? {
            None => None,
            Some(_) => {
                let request_id = match self.optional("ri")? {
                    // Echoed in an error frame as it is: it must be JSON.
                    Some(id) => Some(
                        serde_json::from_str::<&RawValue>(id)
                            .map(|raw| Arc::from(raw.get()))
                            .map_err(|_| Malformed::Json("ri"))?,
                    ),
                    None => None,
                };
                Some(ReplyTo {
                    session_id: self.session_id("rs")?,
                    request_id,
                })
            }
        };
        let origin = self.text("o")?;
        node_id(origin.split('.').next().unwrap_or(""), "o")?;
        let seq = self
            .text("q")?
            .parse()
            .map_err(|_| Malformed::Number("q"))?;
        Ok(InboxEntry::Frame(FrameEntry {
            origin: origin.to_owned(),
            seq,
            envelope: Envelope {
                target,
                frame: Bytes::copy_from_slice(frame),
                reply_to,
            },
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
    fn written(envelope: &Envelope) -> Value {
        let mut cmd = redis::cmd("XADD");
        frame_fields(&mut cmd, envelope, "n1.ab12", 7);
        // Skip the command's name; frame fields are plain arguments.
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

    #[test]
    fn a_frame_entry_reads_back_as_written() {
        for target in [
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
        ] {
            let envelope = Envelope {
                target,
                frame: Bytes::from_static(b"{\"type\":\"info\",\"message\":\"\xe5\xa4\xa7\"}\n"),
                reply_to: Some(ReplyTo {
                    session_id: "n2/127.0.0.1:5".into(),
                    request_id: Some("\"r-1\"".into()),
                }),
            };
            let value = written(&envelope);
            let read = Fields::parse(&value).unwrap().inbox_entry().unwrap();
            let InboxEntry::Frame(frame) = read else {
                panic!("{read:?}")
            };
            assert_eq!(frame.envelope, envelope);
            assert_eq!((frame.origin_node(), frame.seq), ("n1", 7));
        }
    }

    #[test]
    fn malformed_entries_are_named_not_trusted() {
        let ok: &[(&str, &[u8])] = &[
            ("v", b"1"),
            ("k", b"a"),
            ("t", b"A"),
            ("f", b"{}\n"),
            ("o", b"n1.1"),
            ("q", b"1"),
        ];
        assert!(Fields::parse(&entry(ok)).unwrap().inbox_entry().is_ok());
        let with = |field: &str, value: &'static [u8]| {
            let pairs: Vec<(&str, &[u8])> = ok
                .iter()
                .map(|&(k, v)| if k == field { (k, value) } else { (k, v) })
                .collect();
            Fields::parse(&entry(&pairs)).unwrap().inbox_entry()
        };
        assert_eq!(with("v", b"2"), Err(Malformed::Version("2".into())));
        assert_eq!(with("k", b"?"), Err(Malformed::Kind("?".into())));
        assert!(matches!(
            with("t", b"#hub"),
            Err(Malformed::Name { field: "t", .. })
        ));
        assert!(matches!(with("t", b"*"), Err(Malformed::Name { .. })));
        assert_eq!(with("t", b"\xff"), Err(Malformed::NotText("t")));
        assert_eq!(with("f", b"{}"), Err(Malformed::Frame(2)));
        assert_eq!(with("f", b"{}\n{}\n"), Err(Malformed::Frame(6)));
        assert_eq!(with("f", b""), Err(Malformed::Frame(0)));
        assert!(matches!(
            with("o", b"a/b.1"),
            Err(Malformed::Name { field: "o", .. })
        ));
        assert_eq!(with("q", b"x"), Err(Malformed::Number("q")));
        // What a reply is addressed with is checked as well.
        let replied = |rs: &'static [u8], ri: &'static [u8]| {
            let mut pairs = ok.to_vec();
            pairs.extend_from_slice(&[("rs", rs), ("ri", ri)]);
            Fields::parse(&entry(&pairs)).unwrap().inbox_entry()
        };
        assert!(replied(b"n1/1.2.3.4:5", b"{\"n\":1}").is_ok());
        assert_eq!(replied(b"n1/x", b"{oops"), Err(Malformed::Json("ri")));
        assert_eq!(replied(b"nobody", b"1"), Err(Malformed::SessionId("rs")));
        assert_eq!(
            Fields::parse(&entry(&ok[..2])).unwrap().inbox_entry(),
            Err(Malformed::Missing("t"))
        );
        assert!(Fields::parse(&Value::Int(3)).is_err());
        assert!(Fields::parse(&Value::Array(vec![bulk(b"v")])).is_err());
    }

    #[test]
    fn directory_entries_and_taken_over_notes_read_back() {
        let read =
            |pairs: &[(&str, &[u8])]| Fields::parse(&entry(pairs)).unwrap().directory_entry();
        let n2 = NodeId::new("n2").unwrap();
        assert_eq!(
            read(&[("v", b"1"), ("k", b"ah"), ("n", b"n2"), ("t", b"X")]),
            Ok(DirectoryEntry::Change(DirectoryChange::AliasHeld {
                node: n2.clone(),
                alias: Alias::new("X").unwrap()
            }))
        );
        assert_eq!(
            read(&[("v", b"1"), ("k", b"ng"), ("n", b"n2")]),
            Ok(DirectoryEntry::NodeGone(n2))
        );
        assert!(read(&[("v", b"1"), ("k", b"rj"), ("n", b"n/2"), ("t", b"r")]).is_err());
        assert_eq!(
            read(&[("v", b"1"), ("k", b"ss"), ("n", b"n2"), ("i", b"n2/h:1")]),
            Ok(DirectoryEntry::Change(DirectoryChange::Session {
                node: NodeId::new("n2").unwrap(),
                session_id: "n2/h:1".into(),
                alias: None
            }))
        );
        assert_eq!(
            read(&[("v", b"1"), ("k", b"wt"), ("n", b"n2"), ("w", b"2")]),
            Err(Malformed::Flag("w"))
        );
        let note = entry(&[
            ("v", b"1"),
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
