//! Frames a client sends to the hub.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::envelope::{self, FieldSink, FieldSpans, Fields};
use super::json::{kind_of, push_single_line, push_string};
use crate::error::{ErrorCode, PeerError};

/// One request from a client, borrowed from the bytes it arrived in.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame<'a> {
    /// `{"type":"sync","clientName":"Client-1"}`: claim an alias, and
    /// optionally leave a last will with the hub.
    Sync {
        /// The alias claimed, not yet checked against the alias rules.
        client_name: Cow<'a, str>,
        /// `lastWill`: sent for the session if it ends without a `bye`.
        last_will: Option<LastWillRequest<'a>>,
        /// `token`: the credential proving the right to the alias, on a
        /// hub with authentication on (ignored on one without).
        token: Option<Cow<'a, str>>,
    },
    /// `{"type":"info","message":...}`: a message for the host, or relayed
    /// to an alias (or `*`) when `to` is present, or to a room's members
    /// when `room` is. At most one of `to` and `room` is present.
    Info {
        /// Target alias, or `*` for every other session.
        to: Option<Cow<'a, str>>,
        /// Target room.
        room: Option<Cow<'a, str>>,
        /// Any JSON value, exactly as sent.
        message: RawMessage<'a>,
    },
    /// `{"type":"list"}`: which sessions are open (or, with `room`, which
    /// are in that room), one page at a time.
    List {
        /// Most rows wanted (`limit`); the hub also caps a page. Zero asks
        /// only for the count.
        limit: Option<u64>,
        /// Where the page starts (`after`): the `next` cursor of the
        /// previous page, or `None` for the first page.
        after: Option<Cow<'a, str>>,
        /// List only this room's members; the client must be one.
        room: Option<Cow<'a, str>>,
    },
    /// `{"type":"ping"}`: answered with `pong`.
    Ping,
    /// `{"type":"join","room":"lobby"}`: become a member of a room.
    Join {
        /// The room, not yet checked against the room rules.
        room: Cow<'a, str>,
    },
    /// `{"type":"leave","room":"lobby"}`: stop being a member.
    Leave {
        /// The room.
        room: Cow<'a, str>,
    },
    /// `{"type":"watch"}`: be sent `presence` frames.
    Watch(WatchScope<'a>),
    /// `{"type":"unwatch"}`: stop some or all `presence` frames.
    Unwatch(WatchScope<'a>),
    /// `{"type":"bye"}`: a clean close; the last will is not sent.
    Bye,
    /// `{"type":"request","to":"Client-2","message":...}`: a message that
    /// expects one reply, from the holder of `to` or, without `to`, from
    /// the host. The requester's `id` is echoed on the reply.
    Request {
        /// The alias to ask; `None` asks the host.
        to: Option<Cow<'a, str>>,
        /// Any JSON value, exactly as sent.
        message: RawMessage<'a>,
        /// `timeout`: how many milliseconds to wait for the reply (the
        /// hub's default when absent; clamped to its maximum).
        timeout: Option<u64>,
    },
    /// `{"type":"reply","replyTo":"7","message":...}`: the answer to a
    /// request this session was sent.
    Reply {
        /// The `replyTo` of the request answered, as the hub wrote it.
        reply_to: Cow<'a, str>,
        /// Any JSON value, exactly as sent.
        message: RawMessage<'a>,
    },
}

/// A message as sent: any JSON value, kept as its raw text (checked JSON,
/// borrowed from the frame). Two messages are equal when their texts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawMessage<'a>(&'a str);

impl<'a> RawMessage<'a> {
    /// The JSON text, exactly as sent.
    pub fn get(&self) -> &'a str {
        self.0
    }

    /// An owned copy, for an event that outlives the frame.
    pub fn to_raw_value(&self) -> Box<RawValue> {
        // The text was checked as JSON when the frame was read, so this
        // cannot fail; were it ever to, `null` beats a crashed hub.
        RawValue::from_string(self.0.to_owned()).unwrap_or_else(|_| {
            debug_assert!(false, "a message read from a frame is not JSON: {}", self.0);
            RawValue::NULL.to_owned()
        })
    }
}

impl<'a> From<&'a RawValue> for RawMessage<'a> {
    fn from(raw: &'a RawValue) -> Self {
        RawMessage(raw.get())
    }
}

/// What a `watch` or `unwatch` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchScope<'a> {
    /// No `aliases` or `room`: every alias (for `unwatch`, every watch).
    All,
    /// `aliases`: these aliases, held or not.
    Aliases(Vec<Cow<'a, str>>),
    /// `room`: the members of this room, which the client must be in.
    Room(Cow<'a, str>),
}

/// The `lastWill` of a `sync`: a message the hub sends for the session when
/// it ends without a clean `bye`. Exactly one of `room` and `to` is set.
#[derive(Debug, Clone, PartialEq)]
pub struct LastWillRequest<'a> {
    /// Send it to this room's members.
    pub room: Option<Cow<'a, str>>,
    /// Send it to these aliases (`to`: one alias or an array).
    pub to: Vec<Cow<'a, str>>,
    /// The message, any JSON value.
    pub message: RawMessage<'a>,
}

/// A frame read by [`ClientFrame::read_front`].
#[derive(Debug)]
pub(crate) struct FrontFrame<'a> {
    /// Bytes of the text used: whitespace before the frame, and the frame.
    pub(crate) used: usize,
    /// The frame's own length.
    pub(crate) len: usize,
    /// Its request id, as `parse_request` gives it.
    pub(crate) request_id: Option<&'a RawValue>,
    /// The frame, as `parse_request` reads it.
    pub(crate) frame: Result<ClientFrame<'a>, PeerError>,
}

/// The whole frame of at most `max_len` bytes at the front of `text[at..]`
/// (after whitespace), its fields put into `sink`: where in `text` it
/// starts and ends. What the fast path reads, as fields or as their spans.
fn find_front_into<'t>(
    text: &'t str,
    at: usize,
    max_len: usize,
    sink: &mut impl FieldSink<'t>,
) -> Option<(usize, usize)> {
    let rest = text.as_bytes().get(at..)?;
    let start = at
        + rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(rest.len());
    let end = envelope::scan_front_into(text, start, sink)?;
    (end - start <= max_len).then_some((start, end))
}

impl<'a> FrontFrame<'a> {
    /// The frame with `fields`, from `start` to `end` of the text read.
    fn read(fields: &Fields<'a>, start: usize, end: usize) -> Self {
        let (request_id, frame) = ClientFrame::from_scanned(fields);
        FrontFrame {
            used: end,
            len: end - start,
            request_id,
            frame,
        }
    }
}

/// Under fuzzing, every frame the fast path accepts is checked against
/// serde_json, the reference it must agree with.
#[cfg(fuzzing)]
fn same_as_serde(text: &str, fields: &Fields<'_>) {
    assert_eq!(
        serde_json::from_str::<Fields<'_>>(text).ok(),
        Some(fields.clone()),
        "the fast path accepted what serde_json reads otherwise: {text}"
    );
}

/// The fields of a `lastWill` object.
#[derive(Deserialize)]
struct WillEnvelope<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    to: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    room: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present")]
    message: Option<&'a RawValue>,
}

/// Longest request `id` accepted, in bytes as sent (a string's between its
/// quotes): room for a UUID or a counter, not for a payload smuggled into
/// every reply.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// Keeps an explicit `null` as `Some`, so "absent" and "null" stay apart.
fn present<'de, D>(d: D) -> Result<Option<&'de RawValue>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <&RawValue>::deserialize(d).map(Some)
}

/// A JSON string that borrows from the frame unless it had escapes.
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl<'a> ClientFrame<'a> {
    /// Parses one frame as cut by the [decoder](crate::FrameDecoder).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, PeerError> {
        Self::parse_request(bytes).1
    }

    /// Parses one frame and its optional request `id`: a JSON string or
    /// number, echoed in the replies and errors the frame causes. The id
    /// comes back even when the rest of the frame is wrong, so the error
    /// can name the request it answers.
    pub fn parse_request(bytes: &'a [u8]) -> (Option<&'a RawValue>, Result<Self, PeerError>) {
        // One UTF-8 check of the whole frame up front lets the parser borrow
        // strings and raw values without checking each piece again.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let message = format!("invalid UTF-8 at byte {}", e.valid_up_to());
                return (None, Err(PeerError::new(ErrorCode::BadJson, message)));
            }
        };
        let fields = match envelope::scan(text) {
            Some(fields) => {
                #[cfg(fuzzing)]
                same_as_serde(text, &fields);
                fields
            }
            None => match serde_json::from_str::<Fields<'a>>(text) {
                Ok(fields) => fields,
                Err(e) => {
                    let what = if e.is_data() {
                        "not a JSON object"
                    } else {
                        "invalid JSON"
                    };
                    let error = PeerError::new(ErrorCode::BadJson, format!("{what}: {e}"));
                    return (None, Err(error));
                }
            },
        };
        Self::from_scanned(&fields)
    }

    /// The frame at the front of `text` (after whitespace), read in one
    /// pass when it is a whole, well-formed frame of at most `max_len`
    /// bytes: what [`FrameDecoder`](crate::FrameDecoder) would cut there
    /// and [`parse_request`](Self::parse_request) would read from it. `None`
    /// when the fast path cannot vouch for it (a frame cut off by the end
    /// of `text`, a JSON error, a key with escapes...): the decoder and
    /// `parse_request` then take it, and report any error.
    pub(crate) fn read_front(text: &'a str, max_len: usize) -> Option<FrontFrame<'a>> {
        let (fields, start, end) = Self::find_front(text, max_len)?;
        Some(FrontFrame::read(&fields, start, end))
    }

    /// The fields of the frame [`read_front`](Self::read_front) reads, and
    /// where in `text` it starts and ends.
    fn find_front(text: &'a str, max_len: usize) -> Option<(Fields<'a>, usize, usize)> {
        let mut fields = Fields::default();
        let (start, end) = find_front_into(text, 0, max_len, &mut fields)?;
        #[cfg(fuzzing)]
        {
            let mut decoder = crate::FrameDecoder::new(max_len);
            let mut input = text.as_bytes();
            assert_eq!(
                decoder.next(&mut input),
                Some(crate::decoder::Decoded::Frame(&text.as_bytes()[start..end])),
                "the fast path cut a frame the decoder cuts otherwise: {text}"
            );
            same_as_serde(&text[start..end], &fields);
        }
        Some((fields, start, end))
    }

    /// Finds the frame [`read_front`](Self::read_front) would read from
    /// `text[at..]`, without reading its fields' values: gives where each
    /// lies in `text`, and the frame's `used` and `len` as `read_front`
    /// does. [`read_spans`](Self::read_spans) reads it from those, the
    /// same frame, perhaps on another thread. `None` also for a frame with
    /// more fields than [`FieldSpans::MAX`].
    pub(crate) fn find_spans(
        text: &str,
        at: usize,
        max_len: usize,
    ) -> Option<(usize, usize, FieldSpans)> {
        let mut spans = FieldSpans::default();
        let (start, end) = find_front_into(text, at, max_len, &mut spans)?;
        #[cfg(fuzzing)]
        assert_eq!(
            ClientFrame::find_front(&text[at..], max_len).map(|(_, s, e)| (at + s, at + e)),
            Some((start, end)),
            "the spans cut a frame the fast path cuts otherwise: {}",
            &text[at..]
        );
        Some((end - at, end - start, spans))
    }

    /// The frame that [`find_spans`](Self::find_spans) found in `text` at
    /// `at`, from what it gave; `None` if that does not fit `text`.
    #[inline]
    pub(crate) fn read_spans(
        text: &'a str,
        at: usize,
        (used, len): (usize, usize),
        spans: &FieldSpans,
    ) -> Option<FrontFrame<'a>> {
        let fields = Fields::from_spans(text, spans)?;
        let start = used.checked_sub(len)?;
        if used > text.len().checked_sub(at)? {
            return None;
        }
        #[cfg(fuzzing)]
        assert_eq!(
            Self::find_front(&text[at..], usize::MAX).map(|(f, _, e)| (f, e)),
            Some((fields.clone(), used)),
            "a frame read from its spans differs from the frame read again"
        );
        Some(FrontFrame::read(&fields, start, used))
    }

    /// The request id and the frame, from its fields.
    fn from_scanned(fields: &Fields<'a>) -> (Option<&'a RawValue>, Result<Self, PeerError>) {
        match fields.id.map(request_id).transpose() {
            Ok(id) => (id, Self::from_fields(fields)),
            Err(error) => (None, Err(error)),
        }
    }

    fn from_fields(envelope: &Fields<'a>) -> Result<Self, PeerError> {
        let kind = required_string(envelope.kind, "type")?;
        let room = || envelope.room.map(|raw| string(raw, "room")).transpose();
        match &*kind {
            "sync" => Ok(ClientFrame::Sync {
                client_name: required_string(envelope.client_name, "clientName")?,
                last_will: envelope.last_will.map(last_will).transpose()?,
                token: envelope
                    .token
                    .map(|raw| string(raw, "token"))
                    .transpose()?,
            }),
            "info" => {
                let to = envelope.to.map(|raw| string(raw, "to")).transpose()?;
                let room = room()?;
                if to.is_some() && room.is_some() {
                    return Err(PeerError::new(
                        ErrorCode::InvalidField,
                        "give \"to\" (an alias or \"*\") or \"room\", not both",
                    ));
                }
                Ok(ClientFrame::Info {
                    to,
                    room,
                    message: RawMessage(envelope.message.ok_or_else(|| missing("message"))?),
                })
            }
            "list" => Ok(ClientFrame::List {
                limit: envelope.limit.map(whole_number("limit")).transpose()?,
                after: envelope.after.map(|raw| string(raw, "after")).transpose()?,
                room: room()?,
            }),
            "ping" => Ok(ClientFrame::Ping),
            "join" => Ok(ClientFrame::Join {
                room: required_string(envelope.room, "room")?,
            }),
            "leave" => Ok(ClientFrame::Leave {
                room: required_string(envelope.room, "room")?,
            }),
            "watch" => Ok(ClientFrame::Watch(watch_scope(envelope)?)),
            "unwatch" => Ok(ClientFrame::Unwatch(watch_scope(envelope)?)),
            "bye" => Ok(ClientFrame::Bye),
            "request" => {
                if envelope.room.is_some() {
                    return Err(PeerError::new(
                        ErrorCode::InvalidField,
                        "a request goes to one alias (\"to\") or to the host (no \"to\"), not to a room",
                    ));
                }
                Ok(ClientFrame::Request {
                    to: envelope.to.map(|raw| string(raw, "to")).transpose()?,
                    message: RawMessage(envelope.message.ok_or_else(|| missing("message"))?),
                    timeout: envelope.timeout.map(whole_number("timeout")).transpose()?,
                })
            }
            "reply" => Ok(ClientFrame::Reply {
                reply_to: required_string(envelope.reply_to, "replyTo")?,
                message: RawMessage(envelope.message.ok_or_else(|| missing("message"))?),
            }),
            other => Err(PeerError::new(
                ErrorCode::UnknownType,
                format!(
                    "unknown type {other:?}: expected sync, info, request, reply, list, ping, join, leave, watch, unwatch or bye"
                ),
            )),
        }
    }
}

/// The scope of a `watch` or `unwatch`: `aliases`, `room`, or neither.
fn watch_scope<'a>(envelope: &Fields<'a>) -> Result<WatchScope<'a>, PeerError> {
    match (envelope.aliases, envelope.room) {
        (Some(_), Some(_)) => Err(PeerError::new(
            ErrorCode::InvalidField,
            "give \"aliases\" or \"room\", not both",
        )),
        (Some(raw), None) => match strings(raw, "aliases")? {
            aliases if aliases.is_empty() => Err(PeerError::new(
                ErrorCode::InvalidField,
                "field \"aliases\" is empty: name at least one alias, or leave it out for every alias",
            )),
            aliases => Ok(WatchScope::Aliases(aliases)),
        },
        (None, Some(raw)) => Ok(WatchScope::Room(string(raw, "room")?)),
        (None, None) => Ok(WatchScope::All),
    }
}

/// A `lastWill` object: `message` and exactly one of `room` and `to`.
fn last_will(raw: &str) -> Result<LastWillRequest<'_>, PeerError> {
    let will: WillEnvelope<'_> = serde_json::from_str(raw).map_err(|_| {
        PeerError::new(
            ErrorCode::InvalidField,
            format!(
                "field \"lastWill\" must be an object with \"message\" and \"room\" or \"to\", got {}",
                kind_of(raw)
            ),
        )
    })?;
    let message = will.message.ok_or_else(|| missing("lastWill.message"))?;
    let room = will
        .room
        .map(|raw| string(raw.get(), "lastWill.room"))
        .transpose()?;
    let to = match will.to {
        None => Vec::new(),
        Some(raw) if raw.get().starts_with('"') => vec![string(raw.get(), "lastWill.to")?],
        Some(raw) => strings(raw.get(), "lastWill.to")?,
    };
    if room.is_some() != to.is_empty() {
        return Err(PeerError::new(
            ErrorCode::InvalidField,
            "field \"lastWill\" needs exactly one of \"room\" and \"to\" (an alias or a non-empty array of aliases)",
        ));
    }
    Ok(LastWillRequest {
        room,
        to,
        message: RawMessage::from(message),
    })
}

/// A field that must be an array of strings.
fn strings<'a>(raw: &'a str, field: &str) -> Result<Vec<Cow<'a, str>>, PeerError> {
    match serde_json::from_str::<Vec<Text<'a>>>(raw) {
        Ok(texts) => Ok(texts.into_iter().map(|Text(s)| s).collect()),
        Err(_) => Err(PeerError::new(
            ErrorCode::InvalidField,
            format!(
                "field {field:?} must be an array of strings, got {}",
                kind_of(raw)
            ),
        )),
    }
}

/// A request id as sent: a string or a number, short enough to echo.
fn request_id(text: &str) -> Result<&RawValue, PeerError> {
    let is_string_or_number = matches!(text.as_bytes().first(), Some(b'"' | b'-' | b'0'..=b'9'));
    if !is_string_or_number {
        return Err(PeerError::new(
            ErrorCode::InvalidField,
            format!(
                "field \"id\" must be a string or a number, got {}",
                kind_of(text)
            ),
        ));
    }
    // A number must fit an f64, or clients reading the echo with serde_json
    // (or JavaScript) could not parse the reply (found by the fuzzer).
    if !text.starts_with('"') && !fits_f64(text) {
        return Err(PeerError::new(
            ErrorCode::InvalidField,
            format!("field \"id\" is {text}, a number too large to echo"),
        ));
    }
    // A string's length is counted between its quotes, as sent.
    let len = text.strip_prefix('"').map_or(text.len(), |t| t.len() - 1);
    if len > MAX_REQUEST_ID_LEN {
        return Err(PeerError::new(
            ErrorCode::InvalidField,
            format!("field \"id\" is {len} bytes long; at most {MAX_REQUEST_ID_LEN} are echoed"),
        ));
    }
    // Echoed as a raw value; the frame's text was checked as JSON already,
    // so this only re-reads a short string or number.
    serde_json::from_str(text).map_err(|e| {
        PeerError::new(
            ErrorCode::InvalidField,
            format!("field \"id\" is not a JSON string or number: {e}"),
        )
    })
}

/// Whether a JSON number is surely below `f64::MAX`: its integer digits
/// plus its exponent are at most 308, so it is below 1e308. Read from the text rather than
/// by parsing a float, which would add the float parser to the .wasm.
fn fits_f64(number: &str) -> bool {
    let (mantissa, exponent) = match number.find(['e', 'E']) {
        Some(at) => (
            &number[..at],
            number[at + 1..].parse::<i64>().unwrap_or(i64::MAX),
        ),
        None => (number, 0),
    };
    let integer = mantissa
        .trim_start_matches('-')
        .split('.')
        .next()
        .unwrap_or("");
    let digits = integer.trim_start_matches('0').len() as i64;
    digits.saturating_add(exponent) <= 308
}

/// A field that must be a whole number from zero up.
fn whole_number(field: &'static str) -> impl Fn(&str) -> Result<u64, PeerError> {
    move |text| {
        // Counts beyond u64 are as good as "all": saturate rather than refuse.
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(text.parse().unwrap_or(u64::MAX));
        }
        Err(PeerError::new(
            ErrorCode::InvalidField,
            format!(
                "field {field:?} must be a whole number from 0 up, got {}",
                if kind_of(text) == "a number" {
                    text
                } else {
                    kind_of(text)
                }
            ),
        ))
    }
}

fn missing(field: &str) -> PeerError {
    PeerError::new(ErrorCode::MissingField, format!("missing field {field:?}"))
}

fn required_string<'a>(raw: Option<&'a str>, field: &str) -> Result<Cow<'a, str>, PeerError> {
    string(raw.ok_or_else(|| missing(field))?, field)
}

fn string<'a>(text: &'a str, field: &str) -> Result<Cow<'a, str>, PeerError> {
    // Fast path: a string without escapes is its own text between the
    // quotes (the parser has already validated it). Most are like that.
    if let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        if !inner.contains('\\') {
            return Ok(Cow::Borrowed(inner));
        }
    }
    match serde_json::from_str::<Text<'a>>(text) {
        Ok(Text(s)) => Ok(s),
        Err(_) => Err(PeerError::new(
            ErrorCode::InvalidField,
            format!("field {field:?} must be a string, got {}", kind_of(text)),
        )),
    }
}

/// The `sync` frame claiming `alias`, newline-terminated.
pub fn encode_sync(alias: &str) -> Vec<u8> {
    encode_sync_with_last_will(alias, None)
}

/// The `sync` frame claiming `alias` and leaving `last_will`, if any.
pub fn encode_sync_with_last_will(alias: &str, last_will: Option<&LastWillRequest<'_>>) -> Vec<u8> {
    encode_sync_request(alias, None, last_will)
}

/// The `sync` frame claiming `alias` with the credential `token` and
/// leaving `last_will`, each if any.
pub fn encode_sync_request(
    alias: &str,
    token: Option<&str>,
    last_will: Option<&LastWillRequest<'_>>,
) -> Vec<u8> {
    let mut out = br#"{"type":"sync","clientName":"#.to_vec();
    push_string(&mut out, alias);
    if let Some(token) = token {
        out.extend_from_slice(br#","token":"#);
        push_string(&mut out, token);
    }
    if let Some(will) = last_will {
        out.extend_from_slice(br#","lastWill":{"#);
        if let Some(room) = &will.room {
            out.extend_from_slice(br#""room":"#);
            push_string(&mut out, room);
        } else {
            out.extend_from_slice(br#""to":"#);
            push_strings(&mut out, &will.to);
        }
        out.extend_from_slice(br#","message":"#);
        push_single_line(&mut out, will.message.get());
        out.push(b'}');
    }
    out.extend_from_slice(b"}\n");
    out
}

/// An `info` frame: for the host when `to` is `None`, else relayed to an
/// alias or to `*`. `message` is any JSON value.
pub fn encode_info(to: Option<&str>, message: &RawValue) -> Vec<u8> {
    let mut out = br#"{"type":"info""#.to_vec();
    if let Some(to) = to {
        out.extend_from_slice(br#","to":"#);
        push_string(&mut out, to);
    }
    finish_info(out, message)
}

/// An `info` frame for the members of `room`.
pub fn encode_room_info(room: &str, message: &RawValue) -> Vec<u8> {
    let mut out = br#"{"type":"info","room":"#.to_vec();
    push_string(&mut out, room);
    finish_info(out, message)
}

/// A `request` frame: to the holder of `to`, or the host when `to` is
/// `None`; `id` (raw JSON, a string or number) is echoed on the reply, and
/// `timeout_ms` bounds the wait, the hub's default when `None`.
pub fn encode_request(
    to: Option<&str>,
    message: &RawValue,
    id: Option<&RawValue>,
    timeout_ms: Option<u64>,
) -> Vec<u8> {
    let mut out = br#"{"type":"request""#.to_vec();
    if let Some(to) = to {
        out.extend_from_slice(br#","to":"#);
        push_string(&mut out, to);
    }
    if let Some(id) = id {
        out.extend_from_slice(br#","id":"#);
        out.extend_from_slice(id.get().as_bytes());
    }
    if let Some(timeout) = timeout_ms {
        out.extend_from_slice(format!(r#","timeout":{timeout}"#).as_bytes());
    }
    finish_info(out, message)
}

/// A `reply` frame answering the request whose `replyTo` was `reply_to`.
pub fn encode_reply(reply_to: &str, message: &RawValue) -> Vec<u8> {
    let mut out = br#"{"type":"reply","replyTo":"#.to_vec();
    push_string(&mut out, reply_to);
    finish_info(out, message)
}

fn finish_info(mut out: Vec<u8>, message: &RawValue) -> Vec<u8> {
    out.extend_from_slice(br#","message":"#);
    push_single_line(&mut out, message.get());
    out.extend_from_slice(b"}\n");
    out
}

/// A request naming one room: `join`, `leave`, or `list` with `room`.
fn room_request(kind: &str, room: &str) -> Vec<u8> {
    let mut out = br#"{"type":"#.to_vec();
    push_string(&mut out, kind);
    out.extend_from_slice(br#","room":"#);
    push_string(&mut out, room);
    out.extend_from_slice(b"}\n");
    out
}

/// The `join` request for `room`.
pub fn encode_join(room: &str) -> Vec<u8> {
    room_request("join", room)
}

/// The `leave` request for `room`.
pub fn encode_leave(room: &str) -> Vec<u8> {
    room_request("leave", room)
}

/// The `list` request for the members of `room`.
pub fn encode_list_room(room: &str) -> Vec<u8> {
    room_request("list", room)
}

/// The `watch` request for `scope`.
pub fn encode_watch(scope: &WatchScope<'_>) -> Vec<u8> {
    watch_request("watch", scope)
}

/// The `unwatch` request for `scope` ([`WatchScope::All`] ends every watch).
pub fn encode_unwatch(scope: &WatchScope<'_>) -> Vec<u8> {
    watch_request("unwatch", scope)
}

fn watch_request(kind: &str, scope: &WatchScope<'_>) -> Vec<u8> {
    match scope {
        WatchScope::All => format!("{{\"type\":\"{kind}\"}}\n").into_bytes(),
        WatchScope::Room(room) => room_request(kind, room),
        WatchScope::Aliases(aliases) => {
            let mut out = br#"{"type":"#.to_vec();
            push_string(&mut out, kind);
            out.extend_from_slice(br#","aliases":"#);
            push_strings(&mut out, aliases);
            out.extend_from_slice(b"}\n");
            out
        }
    }
}

/// The `bye` request: a clean close.
pub fn encode_bye() -> &'static [u8] {
    b"{\"type\":\"bye\"}\n"
}

/// Appends a JSON array of strings.
fn push_strings(out: &mut Vec<u8>, items: &[Cow<'_, str>]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        push_string(out, item);
    }
    out.push(b']');
}

/// The `list` request, newline-terminated.
pub fn encode_list() -> &'static [u8] {
    b"{\"type\":\"list\"}\n"
}

/// The `ping` request, newline-terminated.
pub fn encode_ping() -> &'static [u8] {
    b"{\"type\":\"ping\"}\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ClientFrame<'_>, PeerError> {
        ClientFrame::parse(s.as_bytes())
    }

    #[test]
    fn tutorial_frames_parse() {
        let sync = parse(r#"{"type":"sync","clientName":"Client-1","message":"同步基础信息"}"#);
        assert_eq!(
            sync.unwrap(),
            ClientFrame::Sync {
                client_name: "Client-1".into(),
                last_will: None,
                token: None,
            }
        );
        let info = parse(r#"{"type":"info","clientName":"Client-1","message":"1111"}"#).unwrap();
        match info {
            ClientFrame::Info {
                to: None, message, ..
            } => assert_eq!(message.get(), r#""1111""#),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn escapes_and_null_message() {
        let f = parse(r#"{"type":"s\u0079nc","clientName":"C\u002d1"}"#).unwrap();
        assert_eq!(
            f,
            ClientFrame::Sync {
                client_name: "C-1".into(),
                last_will: None,
                token: None,
            }
        );
        match parse(r#"{"type":"info","message":null,"to":"*"}"#).unwrap() {
            ClientFrame::Info { to, message, .. } => {
                assert_eq!(to.as_deref(), Some("*"));
                assert_eq!(message.get(), "null");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            (
                r#"{"type":"sync"}"#,
                ErrorCode::MissingField,
                "\"clientName\"",
            ),
            (r#"{"clientName":"x"}"#, ErrorCode::MissingField, "\"type\""),
            (
                r#"{"type":7}"#,
                ErrorCode::InvalidField,
                "\"type\" must be a string, got a number",
            ),
            (
                r#"{"type":"sync","clientName":["x"]}"#,
                ErrorCode::InvalidField,
                "got an array",
            ),
            (
                r#"{"type":"info","to":null,"message":1}"#,
                ErrorCode::InvalidField,
                "\"to\"",
            ),
            (r#"{"type":"info"}"#, ErrorCode::MissingField, "\"message\""),
            (r#"{"type":"jump"}"#, ErrorCode::UnknownType, "\"jump\""),
            (r#"{"type":"ping",}"#, ErrorCode::BadJson, "invalid JSON"),
            (
                r#"{"type":"ping","type":"list"}"#,
                ErrorCode::BadJson,
                "duplicate field",
            ),
            (r#"{"a":tru}"#, ErrorCode::BadJson, "invalid JSON"),
        ];
        for (input, code, needle) in cases {
            let err = parse(input).unwrap_err();
            assert_eq!(err.code, code, "{input}: {err}");
            assert!(err.message.contains(needle), "{input}: {err}");
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        // The decoder refuses such frames first; the parser must not crash
        // on them either when handed one directly.
        let deep = format!(r#"{{"type":{}{}}}"#, "[".repeat(5000), "]".repeat(5000));
        let err = parse(&deep).map(|_| ()).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidField);
        assert!(
            err.message
                .contains("\"type\" must be a string, got an array"),
            "{}",
            err.message
        );
    }

    #[test]
    fn request_ids_come_back_even_with_an_error() {
        let (id, frame) = ClientFrame::parse_request(br#"{"type":"ping","id":"a-1"}"#);
        assert_eq!(id.map(RawValue::get), Some(r#""a-1""#));
        assert_eq!(frame.unwrap(), ClientFrame::Ping);
        let (id, frame) = ClientFrame::parse_request(br#"{"type":"jump","id":7}"#);
        assert_eq!(id.map(RawValue::get), Some("7"));
        assert_eq!(frame.unwrap_err().code, ErrorCode::UnknownType);
        for bad in [r#"{"type":"ping","id":{}}"#, r#"{"type":"ping","id":null}"#] {
            let (id, frame) = ClientFrame::parse_request(bad.as_bytes());
            assert!(id.is_none());
            let err = frame.unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidField, "{bad}");
            assert!(err.message.contains("\"id\""), "{err}");
        }
        let longest = format!(
            r#"{{"type":"ping","id":"{}"}}"#,
            "x".repeat(MAX_REQUEST_ID_LEN)
        );
        assert!(ClientFrame::parse(longest.as_bytes()).is_ok());
        let long = format!(
            r#"{{"type":"ping","id":"{}"}}"#,
            "x".repeat(MAX_REQUEST_ID_LEN + 1)
        );
        assert_eq!(
            ClientFrame::parse(long.as_bytes()).unwrap_err().code,
            ErrorCode::InvalidField
        );
    }

    #[test]
    fn numbers_past_f64_are_not_echoed() {
        for (id, ok) in [
            ("7", true),
            ("-1.5e10", true),
            ("1e307", true),
            ("1E+307", true),
            ("1e-400", true),
            ("1e309", false),
            ("10e308", false),
            ("1e400", false),
            ("1e99999999999999999999", false),
        ] {
            let frame = format!(r#"{{"type":"ping","id":{id}}}"#);
            let (echoed, result) = ClientFrame::parse_request(frame.as_bytes());
            assert_eq!(result.is_ok(), ok, "{id}");
            assert_eq!(echoed.is_some(), ok, "{id}");
            if ok {
                let value: serde_json::Value = serde_json::from_str(id).unwrap();
                assert!(value.is_number(), "{id}");
            }
        }
    }

    #[test]
    fn list_takes_a_limit_and_a_cursor() {
        let frame = parse(r#"{"type":"list","limit":5,"after":"17"}"#).unwrap();
        assert_eq!(
            frame,
            ClientFrame::List {
                limit: Some(5),
                after: Some("17".into()),
                room: None,
            }
        );
        let huge = parse(r#"{"type":"list","limit":99999999999999999999999}"#).unwrap();
        assert!(matches!(
            huge,
            ClientFrame::List {
                limit: Some(u64::MAX),
                ..
            }
        ));
        for bad in [
            r#"{"type":"list","limit":-1}"#,
            r#"{"type":"list","limit":1.5}"#,
            r#"{"type":"list","limit":"5"}"#,
        ] {
            let err = parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidField, "{bad}");
            assert!(err.message.contains("\"limit\""), "{err}");
        }
    }

    #[test]
    fn invalid_utf8_is_bad_json() {
        let err =
            ClientFrame::parse(b"{\"type\":\"sync\",\"clientName\":\"\xff\xfe\"}").unwrap_err();
        assert_eq!(err.code, ErrorCode::BadJson);
    }

    #[test]
    fn encoders_produce_parseable_single_lines() {
        let message = RawValue::from_string("{\n \"k\": [1, 2]\n}".into()).unwrap();
        let bytes = encode_info(Some("客户端"), &message);
        assert_eq!(bytes.iter().filter(|b| **b == b'\n').count(), 1);
        match ClientFrame::parse(&bytes[..bytes.len() - 1]).unwrap() {
            ClientFrame::Info { to, message, .. } => {
                assert_eq!(to.as_deref(), Some("客户端"));
                assert_eq!(message.get(), r#"{ "k": [1, 2]}"#);
            }
            other => panic!("{other:?}"),
        }
        let sync = encode_sync("a\"b");
        assert_eq!(
            ClientFrame::parse(&sync).unwrap(),
            ClientFrame::Sync {
                client_name: "a\"b".into(),
                last_will: None,
                token: None,
            }
        );
        let sync = encode_sync_request("C-1", Some("tok\"en"), None);
        assert_eq!(
            ClientFrame::parse(&sync).unwrap(),
            ClientFrame::Sync {
                client_name: "C-1".into(),
                last_will: None,
                token: Some("tok\"en".into()),
            }
        );
        let err =
            ClientFrame::parse(br#"{"type":"sync","clientName":"C","token":42}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidField);
        assert!(err.message.contains("\"token\""), "{}", err.message);
        assert_eq!(
            ClientFrame::parse(encode_list()).unwrap(),
            ClientFrame::List {
                limit: None,
                after: None,
                room: None,
            }
        );
        assert_eq!(
            ClientFrame::parse(encode_ping()).unwrap(),
            ClientFrame::Ping
        );
    }
}
