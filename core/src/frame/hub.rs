//! Frames the hub sends to clients: one JSON object per line.

use serde::{Deserialize, Serialize};

/// The name the host program speaks as in `from`. The leading `#` keeps it
/// apart from every alias a client can claim.
pub const HUB_NAME: &str = "#hub";

/// A frame from the hub, as a client reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HubFrame {
    /// The alias claim succeeded.
    Synced {
        /// The alias now held.
        #[serde(rename = "clientName")]
        client_name: String,
        /// This session's id: the client's address as the hub sees it.
        #[serde(rename = "sessionId")]
        session_id: String,
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// A message from another client (its alias, or session id if it has
    /// none) or from the host ([`HUB_NAME`]).
    Info {
        /// Who sent it.
        from: String,
        /// The room it was sent to, when it was sent to a room.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The sender's last will: it ended without a clean `bye`.
        #[serde(
            rename = "lastWill",
            default,
            skip_serializing_if = "std::ops::Not::not"
        )]
        last_will: bool,
        /// The message, any JSON value.
        message: serde_json::Value,
    },
    /// A request this client is asked to answer: reply with
    /// `{"type":"reply","replyTo":...,"message":...}`.
    Request {
        /// Who asks (an alias, or a session id if it has none).
        from: String,
        /// What to put in the reply's `replyTo`.
        #[serde(rename = "replyTo")]
        reply_to: String,
        /// The message, any JSON value.
        message: serde_json::Value,
    },
    /// The answer to a `request` this client sent.
    Reply {
        /// Who answered: the alias asked, or [`HUB_NAME`].
        from: String,
        /// The answer, any JSON value.
        message: serde_json::Value,
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// Something the client sent was wrong.
    Error {
        /// Machine-readable kind, see [`ErrorCode`](crate::ErrorCode).
        code: String,
        /// What was wrong, for a person.
        message: String,
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// The hub is closing this session; `reason` says why.
    Bye {
        /// Machine-readable reason, see [`CloseReason`](crate::CloseReason).
        reason: String,
        /// The reason for a person.
        message: String,
    },
    /// The answer to `ping`.
    Pong {
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// The answer to `list`: one page of the open sessions, oldest first.
    Sessions {
        /// This page's rows.
        sessions: Vec<SessionEntry>,
        /// How many sessions are open in all.
        #[serde(default)]
        total: usize,
        /// The cursor to pass as `after` for the next page; absent on the
        /// last page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<String>,
        /// The room whose members these are, for `list` with `room`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// This session is now a member of `room` (it asked, or the host put
    /// it there).
    Joined {
        /// The room.
        room: String,
        /// How many members the room has now, this session included.
        members: usize,
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// This session is no longer a member of `room`.
    Left {
        /// The room.
        room: String,
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// The answer to `watch`: `presence` frames follow as things change.
    Watching {
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// The answer to `unwatch`.
    Unwatched {
        /// The `id` of the request this answers, when it had one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<serde_json::Value>,
    },
    /// An alias (or room member) this session watches came or went.
    Presence {
        /// What happened, see [`PresenceChange`](crate::PresenceChange).
        event: String,
        /// The alias concerned; absent for a room member without one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        alias: Option<String>,
        /// The session concerned.
        #[serde(rename = "sessionId")]
        session_id: String,
        /// The room, for `joined` and `left`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        room: Option<String>,
        /// Why the session closed, for `closed` (a
        /// [`CloseReason`](crate::CloseReason)).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// One row of a `sessions` frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEntry {
    /// The session's id (its peer address).
    #[serde(rename = "sessionId")]
    pub session_id: String,
    /// Its alias, if it synced one.
    #[serde(rename = "clientName")]
    pub client_name: Option<String>,
    /// The node it is on, when the hub is one node of a cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl HubFrame {
    /// Parses one line from the hub.
    pub fn parse(line: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(line)
    }

    /// The `id` of the request this frame answers, if it answers one that
    /// carried an id (`synced`, `sessions`, `pong` and `error` can).
    pub fn request_id(&self) -> Option<&serde_json::Value> {
        match self {
            HubFrame::Synced { id, .. }
            | HubFrame::Error { id, .. }
            | HubFrame::Reply { id, .. }
            | HubFrame::Pong { id, .. }
            | HubFrame::Sessions { id, .. }
            | HubFrame::Joined { id, .. }
            | HubFrame::Left { id, .. }
            | HubFrame::Watching { id }
            | HubFrame::Unwatched { id } => id.as_ref(),
            HubFrame::Info { .. }
            | HubFrame::Request { .. }
            | HubFrame::Bye { .. }
            | HubFrame::Presence { .. } => None,
        }
    }
}

/// Writers for the hub's frames. Each returns the finished line as
/// [`Bytes`], so a frame for many recipients is encoded once and shared.
pub(crate) mod encode {
    use bytes::Bytes;
    use serde::Serialize;
    use serde_json::value::RawValue;

    use super::super::json::{push_single_line, push_string};
    use super::{SessionEntry, HUB_NAME};
    use crate::error::{ErrorCode, PeerError};
    use crate::presence::PresenceChange;

    /// `info` relayed from a client. `from_json` is the sender's name,
    /// already a JSON string literal; `message` is the raw JSON it sent.
    pub(crate) fn relayed_info(from_json: &[u8], message: &str) -> Bytes {
        info(from_json, None, false, message)
    }

    /// The length of `relayed_info` at most: exactly, unless the message
    /// has raw line breaks outside its strings, which are left out.
    pub(crate) fn relayed_info_len(from_json: &[u8], message: &str) -> usize {
        info_len(from_json, None, false, message)
    }

    /// `relayed_info`, appended to `out`.
    pub(crate) fn relayed_info_into(out: &mut Vec<u8>, from_json: &[u8], message: &str) {
        info_into(out, from_json, None, false, message);
    }

    /// `info` with every optional field: the room it went to, and whether
    /// it is a last will.
    pub(crate) fn info(
        from_json: &[u8],
        room: Option<&str>,
        last_will: bool,
        message: &str,
    ) -> Bytes {
        let mut out = Vec::with_capacity(info_len(from_json, room, last_will, message));
        info_into(&mut out, from_json, room, last_will, message);
        Bytes::from(out)
    }

    const INFO_HEAD: &[u8] = br#"{"type":"info","from":"#;
    const INFO_MIDDLE: &[u8] = br#","message":"#;

    fn info_len(from_json: &[u8], room: Option<&str>, last_will: bool, message: &str) -> usize {
        let extra = room.map_or(0, |r| r.len() + 12) + if last_will { 16 } else { 0 };
        INFO_HEAD.len() + from_json.len() + extra + INFO_MIDDLE.len() + message.len() + 2
    }

    fn info_into(
        out: &mut Vec<u8>,
        from_json: &[u8],
        room: Option<&str>,
        last_will: bool,
        message: &str,
    ) {
        out.extend_from_slice(INFO_HEAD);
        out.extend_from_slice(from_json);
        if let Some(room) = room {
            out.extend_from_slice(br#","room":"#);
            push_string(out, room);
        }
        if last_will {
            out.extend_from_slice(br#","lastWill":true"#);
        }
        out.extend_from_slice(INFO_MIDDLE);
        push_single_line(out, message);
        out.extend_from_slice(b"}\n");
    }

    /// `info` from the host program, to a room when `room` is set.
    pub(crate) fn host_info<T: Serialize + ?Sized>(
        message: &T,
        room: Option<&str>,
    ) -> Result<Bytes, serde_json::Error> {
        let raw = serde_json::value::to_raw_value(message)?;
        let mut name = Vec::with_capacity(HUB_NAME.len() + 2);
        push_string(&mut name, HUB_NAME);
        Ok(info(&name, room, false, raw.get()))
    }

    /// A `request` for its recipient to answer: `reply_to` is what the
    /// reply names it by.
    pub(crate) fn request(from_json: &[u8], reply_to: &str, message: &str) -> Bytes {
        let mut out = br#"{"type":"request","from":"#.to_vec();
        out.extend_from_slice(from_json);
        out.extend_from_slice(br#","replyTo":"#);
        push_string(&mut out, reply_to);
        out.extend_from_slice(br#","message":"#);
        push_single_line(&mut out, message);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    /// A `reply` to the requester, echoing its request `id`.
    pub(crate) fn reply(from_json: &[u8], message: &str, id: Option<&RawValue>) -> Bytes {
        let mut out = br#"{"type":"reply","from":"#.to_vec();
        out.extend_from_slice(from_json);
        out.extend_from_slice(br#","message":"#);
        push_single_line(&mut out, message);
        finish(out, id)
    }

    /// A frame made without a request id (on another node, which does
    /// not know it) with `id` added, as [`finish`] would have.
    pub(crate) fn with_request_id(frame: &[u8], id: Option<&RawValue>) -> Bytes {
        match frame.strip_suffix(b"}\n") {
            Some(head) if id.is_some() => finish(head.to_vec(), id),
            _ => Bytes::copy_from_slice(frame),
        }
    }

    pub(crate) fn joined(room: &str, members: usize, id: Option<&RawValue>) -> Bytes {
        let mut out = br#"{"type":"joined","room":"#.to_vec();
        push_string(&mut out, room);
        out.extend_from_slice(format!(r#","members":{members}"#).as_bytes());
        finish(out, id)
    }

    pub(crate) fn left(room: &str, id: Option<&RawValue>) -> Bytes {
        let mut out = br#"{"type":"left","room":"#.to_vec();
        push_string(&mut out, room);
        finish(out, id)
    }

    pub(crate) fn watching(id: Option<&RawValue>) -> Bytes {
        finish(br#"{"type":"watching""#.to_vec(), id)
    }

    pub(crate) fn unwatched(id: Option<&RawValue>) -> Bytes {
        finish(br#"{"type":"unwatched""#.to_vec(), id)
    }

    /// A `presence` frame: `change` happened to the session `session_id`
    /// (holding `alias`, if any).
    pub(crate) fn presence(
        change: PresenceChange,
        alias: Option<&str>,
        session_id: &str,
        room: Option<&str>,
        reason: Option<&str>,
    ) -> Bytes {
        let mut out = br#"{"type":"presence","event":"#.to_vec();
        push_string(&mut out, change.as_str());
        if let Some(alias) = alias {
            out.extend_from_slice(br#","alias":"#);
            push_string(&mut out, alias);
        }
        out.extend_from_slice(br#","sessionId":"#);
        push_string(&mut out, session_id);
        if let Some(room) = room {
            out.extend_from_slice(br#","room":"#);
            push_string(&mut out, room);
        }
        if let Some(reason) = reason {
            out.extend_from_slice(br#","reason":"#);
            push_string(&mut out, reason);
        }
        finish(out, None)
    }

    /// Ends a frame: the request id when there is one, `}` and newline.
    fn finish(mut out: Vec<u8>, id: Option<&RawValue>) -> Bytes {
        if let Some(id) = id {
            out.extend_from_slice(br#","id":"#);
            out.extend_from_slice(id.get().as_bytes());
        }
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    pub(crate) fn synced(alias: &str, session_id: &str, id: Option<&RawValue>) -> Bytes {
        let mut out = br#"{"type":"synced","clientName":"#.to_vec();
        push_string(&mut out, alias);
        out.extend_from_slice(br#","sessionId":"#);
        push_string(&mut out, session_id);
        finish(out, id)
    }

    pub(crate) fn error(error: &PeerError, id: Option<&RawValue>) -> Bytes {
        let mut out = br#"{"type":"error","code":"#.to_vec();
        push_string(&mut out, error.code.as_str());
        out.extend_from_slice(br#","message":"#);
        push_string(&mut out, &error.message);
        finish(out, id)
    }

    pub(crate) fn too_many_sessions(max_sessions: usize) -> Bytes {
        error(
            &PeerError::new(
                ErrorCode::TooManySessions,
                format!("the hub is full ({max_sessions} sessions); try again later"),
            ),
            None,
        )
    }

    pub(crate) fn too_many_connections(cap: usize) -> Bytes {
        error(
            &PeerError::new(
                ErrorCode::TooManyConnections,
                format!("your address has {cap} sessions open, the most one address may have"),
            ),
            None,
        )
    }

    pub(crate) fn bye(reason: &str, message: &str) -> Bytes {
        let mut out = br#"{"type":"bye","reason":"#.to_vec();
        push_string(&mut out, reason);
        out.extend_from_slice(br#","message":"#);
        push_string(&mut out, message);
        out.extend_from_slice(b"}\n");
        Bytes::from(out)
    }

    pub(crate) fn pong(id: Option<&RawValue>) -> Bytes {
        match id {
            None => Bytes::from_static(b"{\"type\":\"pong\"}\n"),
            Some(_) => finish(br#"{"type":"pong""#.to_vec(), id),
        }
    }

    /// One page of a `sessions` reply. `next` is the cursor of the page
    /// after it, if any.
    pub(crate) fn sessions(
        entries: &[SessionEntry],
        total: usize,
        next: Option<&str>,
        room: Option<&str>,
        id: Option<&RawValue>,
    ) -> Bytes {
        #[derive(Serialize)]
        struct Sessions<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            sessions: &'a [SessionEntry],
            total: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            next: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            room: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            id: Option<&'a RawValue>,
        }
        let mut out = serde_json::to_vec(&Sessions {
            kind: "sessions",
            sessions: entries,
            total,
            next,
            room,
            id,
        })
        .expect("session entries are strings and always serialize");
        out.push(b'\n');
        Bytes::from(out)
    }
}

/// The `error` frame that turns a connection away when the hub already has
/// `max_sessions` sessions. The hub sends it itself from
/// [`Hub::handle_accept`](crate::Hub::handle_accept); a driver that refuses
/// connections before they reach the hub sends the same bytes.
pub fn encode_too_many_sessions(max_sessions: usize) -> bytes::Bytes {
    encode::too_many_sessions(max_sessions)
}

/// Asserts in tests that `bytes` is one NDJSON line and returns it parsed.
#[cfg(test)]
pub(crate) fn parse_line(bytes: &[u8]) -> HubFrame {
    assert_eq!(bytes.last(), Some(&b'\n'), "frames end in a newline");
    assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1, "one line");
    HubFrame::parse(bytes).expect("hub frames are valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, PeerError};
    use serde_json::value::RawValue;

    #[test]
    fn every_encoder_round_trips() {
        assert_eq!(
            parse_line(&encode::synced("客户端", "127.0.0.1:1", None)),
            HubFrame::Synced {
                client_name: "客户端".into(),
                session_id: "127.0.0.1:1".into(),
                id: None,
            }
        );
        assert_eq!(
            parse_line(&encode::host_info("大家来领物资了", None).unwrap()),
            HubFrame::Info {
                from: HUB_NAME.into(),
                room: None,
                last_will: false,
                message: "大家来领物资了".into()
            }
        );
        let err = PeerError::new(ErrorCode::UnknownAlias, "no \"x\"");
        assert_eq!(
            parse_line(&encode::error(&err, None)),
            HubFrame::Error {
                code: "unknown_alias".into(),
                message: "no \"x\"".into(),
                id: None,
            }
        );
        assert_eq!(
            parse_line(&encode::bye("shutdown", "bye")),
            HubFrame::Bye {
                reason: "shutdown".into(),
                message: "bye".into()
            }
        );
        assert_eq!(parse_line(&encode::pong(None)), HubFrame::Pong { id: None });
        let rows = vec![SessionEntry {
            node: None,
            session_id: "a:1".into(),
            client_name: None,
        }];
        assert_eq!(
            parse_line(&encode::sessions(&rows, 7, Some("3"), None, None)),
            HubFrame::Sessions {
                sessions: rows,
                total: 7,
                next: Some("3".into()),
                room: None,
                id: None
            }
        );
    }

    #[test]
    fn request_ids_are_echoed_verbatim() {
        let id = RawValue::from_string(r#""req-1""#.into()).unwrap();
        let number = RawValue::from_string("42".into()).unwrap();
        let expect = Some(serde_json::json!("req-1"));
        match parse_line(&encode::synced("a", "b:1", Some(&id))) {
            HubFrame::Synced { id, .. } => assert_eq!(id, expect),
            other => panic!("{other:?}"),
        }
        let err = PeerError::new(ErrorCode::BadJson, "x");
        match parse_line(&encode::error(&err, Some(&number))) {
            HubFrame::Error { id, .. } => assert_eq!(id, Some(serde_json::json!(42))),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            &encode::pong(Some(&number))[..],
            b"{\"type\":\"pong\",\"id\":42}\n"
        );
        match parse_line(&encode::sessions(&[], 0, None, None, Some(&id))) {
            HubFrame::Sessions { id, next, .. } => {
                assert_eq!(id, expect);
                assert_eq!(next, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn relayed_info_keeps_message_verbatim_on_one_line() {
        let frame = encode::relayed_info(br#""C-1""#, "{\"a\":\n[1,2]}");
        assert_eq!(
            &frame[..],
            b"{\"type\":\"info\",\"from\":\"C-1\",\"message\":{\"a\":[1,2]}}\n"
        );
    }

    #[test]
    fn unserializable_host_message_is_an_error() {
        let mut map = std::collections::BTreeMap::new();
        map.insert(vec![1u8], 1);
        assert!(encode::host_info(&map, None).is_err());
    }
}
