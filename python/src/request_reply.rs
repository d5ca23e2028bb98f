//! Request and reply on a client's side, apart from any socket: the
//! request a client is asked to answer (`tcphub.ReceivedRequest`), the
//! frames a client writes to ask and to answer, how long it waits, and
//! what the hub's answer means for the caller. A client of any kind
//! (blocking, or asyncio) asks and reads the answer through these, so they
//! all word requests and raise the same errors.

use std::time::Duration;

use pyo3::prelude::*;
use serde_json::value::RawValue;
use tcphub_core::{encode_reply, ErrorCode, HubFrame, ReplyAddress};

use crate::errors::{error, rejected};
use crate::json::{from_value, to_raw};
use crate::options::{request_timeout, Seconds};
use crate::repr::repr_str;
use crate::requests::push_json_string;

/// A request this client is asked to answer: another client sent it with
/// `request`. Answer it with `client.reply(request, message)` before it
/// times out; the requester gets the reply.
#[pyclass(frozen, module = "tcphub", get_all)]
#[derive(Debug)]
pub struct ReceivedRequest {
    /// Who asks: its alias, or its session id if it has none.
    sender: String,
    /// The message: str, int, float, bool, None, list or dict.
    message: Py<PyAny>,
    /// The hub's name for the request, which the reply names (opaque:
    /// `"2.1"`, or `"n1/2.1"` in a cluster).
    reply_to: String,
}

#[pymethods]
impl ReceivedRequest {
    #[classattr]
    fn __match_args__() -> (&'static str, &'static str, &'static str) {
        ("sender", "message", "reply_to")
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ReceivedRequest(sender={}, message={}, reply_to={})",
            repr_str(py, &self.sender),
            self.message.bind(py).repr()?,
            repr_str(py, &self.reply_to)
        ))
    }
}

impl ReceivedRequest {
    /// The Python object for a `request` frame.
    pub fn from_frame(
        py: Python<'_>,
        from: String,
        reply_to: String,
        message: &serde_json::Value,
    ) -> PyResult<Self> {
        Ok(ReceivedRequest {
            sender: from,
            message: from_value(py, message)?.unbind(),
            reply_to,
        })
    }
}

/// What `client.reply` answers: the request itself, or its `reply_to`.
#[derive(Debug, FromPyObject)]
pub enum ReplyTarget {
    Request(Py<ReceivedRequest>),
    Address(String),
}

/// How long one request waits: what the frame asks of the hub, and how
/// long the client waits for the hub's answer.
#[derive(Debug, Clone, Copy)]
pub struct RequestWait {
    /// The frame's `timeout` in milliseconds; `None` leaves it to the
    /// hub's `request_timeout`.
    pub hub_ms: Option<u64>,
    /// How long the client waits for the reply or the hub's error;
    /// `None` waits until one comes (the hub always sends one).
    pub client: Option<Duration>,
}

impl RequestWait {
    /// `timeout` as a request's caller gave it (seconds; `None`: the
    /// hub's default, waited for at most `client_default`, the client's own
    /// `timeout`). The client waits a little longer than it asks the hub
    /// to, so the hub's `request_timeout`, which names who was asked,
    /// normally arrives first; the client's own limit only matters when
    /// the hub does not answer at all.
    pub fn new(
        py: Python<'_>,
        timeout: Option<Seconds>,
        client_default: Option<Duration>,
    ) -> PyResult<Self> {
        let Some(secs) = timeout else {
            return Ok(RequestWait {
                hub_ms: None,
                client: client_default,
            });
        };
        Ok(match request_timeout(py, "timeout", secs)? {
            // `inf`: as long as the hub allows (it cuts the wait to its
            // `max_request_timeout` and then answers).
            None => RequestWait {
                hub_ms: Some(u64::MAX),
                client: None,
            },
            Some(wait) => {
                // Whole milliseconds, rounded up: the wire counts in them.
                let ms = u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
                RequestWait {
                    hub_ms: Some(ms.max(1)),
                    client: wait.checked_add(wait / 10 + CLIENT_GRACE),
                }
            }
        })
    }
}

/// How much longer than a request's timeout the client waits for the
/// hub's answer: time for the hub's `request_timeout` error to arrive.
const CLIENT_GRACE: Duration = Duration::from_millis(500);

/// The start of the `request` frame asking `to` (`None`: the host):
/// its fields without the closing brace, to which
/// `requests::request_frame` adds the client's id, as for every other
/// request. `message` is as `to_raw` made it: compact JSON, one line.
pub fn request_head(to: Option<&str>, message: &RawValue, wait: RequestWait) -> Vec<u8> {
    let mut head = br#"{"type":"request""#.to_vec();
    if let Some(to) = to {
        head.extend_from_slice(br#","to":"#);
        push_json_string(&mut head, to);
    }
    if let Some(ms) = wait.hub_ms {
        head.extend_from_slice(format!(r#","timeout":{ms}"#).as_bytes());
    }
    head.extend_from_slice(br#","message":"#);
    head.extend_from_slice(message.get().as_bytes());
    head
}

/// The `reply` frame answering `target` with `message`. A `reply_to` the
/// hub cannot have written raises `UnknownRequestError` at once, rather
/// than coming back later as an `ErrorReply`.
pub fn reply_frame(
    py: Python<'_>,
    target: &ReplyTarget,
    message: &Bound<'_, PyAny>,
) -> PyResult<Vec<u8>> {
    let reply_to = match target {
        ReplyTarget::Request(request) => request.get().reply_to.clone(),
        ReplyTarget::Address(text) => {
            reply_address(py, text)?;
            text.clone()
        }
    };
    let raw = to_raw(py, message)?;
    Ok(encode_reply(&reply_to, &raw))
}

/// Reads a `reply_to` as the hub wrote it, or raises `UnknownRequestError`.
pub fn reply_address(py: Python<'_>, text: &str) -> PyResult<ReplyAddress> {
    ReplyAddress::parse(text).ok_or_else(|| {
        error(
            py,
            "UnknownRequestError",
            format!(
                "{text:?} is not a reply_to the hub wrote: copy the one of the request, \
                 such as \"2.1\" or \"n1/2.1\""
            ),
        )
    })
}

/// What the answer to a request (the frame with its id, a `bye`, or
/// nothing within `waited`) means: the reply's message, or the error to
/// raise. `to` is whom it asked (`None`: the host).
pub fn outcome(
    py: Python<'_>,
    answer: Option<HubFrame>,
    to: Option<&str>,
    waited: Option<Duration>,
) -> PyResult<Py<PyAny>> {
    match answer {
        Some(HubFrame::Reply { message, .. }) => Ok(from_value(py, &message)?.unbind()),
        Some(HubFrame::Error { code, message, .. }) => {
            if ErrorCode::from_wire(&code) == Some(ErrorCode::UnknownAlias) {
                Err(error(py, "UnknownAliasError", message))
            } else {
                Err(rejected(py, &code, &message))
            }
        }
        Some(HubFrame::Bye { reason, message }) => Err(error(
            py,
            "ConnectionClosedError",
            format!("the hub closed the connection: {reason}: {message}"),
        )),
        Some(other) => Err(error(py, "Error", format!("unexpected frame {other:?}"))),
        None => {
            let whom = match to {
                Some(alias) => format!("{alias:?}"),
                None => "the host".to_owned(),
            };
            let waited = waited.map_or_else(String::new, |w| format!(" within {w:.2?}"));
            Err(rejected(
                py,
                ErrorCode::RequestTimeout.as_str(),
                &format!("the hub did not answer the request to {whom}{waited}"),
            ))
        }
    }
}
