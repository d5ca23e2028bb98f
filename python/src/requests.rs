//! Requests a client sends and the replies that answer them, shared by the
//! blocking `Client` and the asyncio `AsyncClient`.
//!
//! Each request (`sync`, `list`, `join`, `ping`, ...) carries an `id` of the
//! client's own, which the hub echoes in the reply or error it causes; a
//! request takes only the frame with its id as its answer. Errors without
//! an id, or with an id no request is waiting on, are the program's to
//! `receive`. Both clients build their requests and sort what arrives
//! here, so a new kind of request (or of reply) is added in one place.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;
use tcphub_core::HubFrame;

use crate::targets::LastWill;

/// The ids clients give their requests: `"py-1"`, `"py-2"`, ... A string
/// with a prefix, so that an id a program picks for a request of its own
/// sent with `send_raw` (a number, say) is unlikely to be taken for one of
/// these.
const ID_PREFIX: &str = "py-";

/// The requests of one client waiting for their answer, each with what
/// the client needs to hand the answer over (`()` for the blocking client,
/// whose waits read the socket themselves; a channel for the async one,
/// whose reader task delivers answers).
#[derive(Debug)]
pub struct Requests<W> {
    /// The number in the next request's id.
    next_id: AtomicU64,
    waiting: Mutex<HashMap<String, W>>,
}

impl<W> Default for Requests<W> {
    fn default() -> Self {
        Requests {
            next_id: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

/// What a frame that arrived is for.
#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    /// The answer to the waiting request with this id.
    Answer(String),
    /// The program's, through `receive`: messages, presence, byes, and
    /// errors that answer no waiting request.
    Receive,
    /// A reply (not an error) to a request that no longer waits, or to one
    /// written by hand with `send_raw`: dropped.
    Stale,
}

impl<W> Requests<W> {
    fn waiting(&self) -> MutexGuard<'_, HashMap<String, W>> {
        // A panic while holding the lock leaves the map usable.
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a new request before it is written, so no reply can be
    /// mistaken for something else; returns its id.
    pub fn register(&self, waiter: W) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let id = format!("{ID_PREFIX}{n}");
        self.waiting().insert(id.clone(), waiter);
        id
    }

    /// The request no longer waits (answered, timed out or cancelled): a
    /// late error for it goes to `receive`, a late reply is dropped.
    pub fn forget(&self, id: &str) -> Option<W> {
        self.waiting().remove(id)
    }

    /// Every waiting request, taken: the connection ended.
    pub fn take_all(&self) -> Vec<W> {
        self.waiting().drain().map(|(_, w)| w).collect()
    }

    /// Whether any request waits for its answer.
    pub fn any_waiting(&self) -> bool {
        !self.waiting().is_empty()
    }

    fn is_waiting(&self, id: &str) -> bool {
        self.waiting().contains_key(id)
    }

    /// Sorts a frame that arrived.
    pub fn route(&self, frame: &HubFrame) -> Route {
        let waited_id = |id: &Option<Value>| match id {
            Some(Value::String(id)) if self.is_waiting(id) => Some(id.clone()),
            _ => None,
        };
        match frame {
            HubFrame::Info { .. }
            | HubFrame::Request { .. }
            | HubFrame::Bye { .. }
            | HubFrame::Presence { .. } => Route::Receive,
            HubFrame::Error { id, .. } => waited_id(id).map_or(Route::Receive, Route::Answer),
            HubFrame::Synced { id, .. }
            | HubFrame::Pong { id, .. }
            | HubFrame::Reply { id, .. }
            | HubFrame::Sessions { id, .. }
            | HubFrame::Joined { id, .. }
            | HubFrame::Left { id, .. }
            | HubFrame::Watching { id }
            | HubFrame::Unwatched { id } => waited_id(id).map_or(Route::Stale, Route::Answer),
            // A kind of frame this client does not know yet: nobody's.
            _ => Route::Stale,
        }
    }
}

/// Whether a frame answers the request with id `want`.
pub fn answers(frame: &HubFrame, want: &str) -> bool {
    matches!(frame.request_id(), Some(Value::String(id)) if id == want)
}

/// A request frame: `head` is its opening fields without the closing
/// brace; the request's id and the newline are added here.
pub fn request_frame(mut head: Vec<u8>, id: &str) -> Vec<u8> {
    head.extend_from_slice(br#","id":"#);
    push_json_string(&mut head, id);
    head.extend_from_slice(b"}\n");
    head
}

/// Appends `text` as a JSON string literal.
pub fn push_json_string(out: &mut Vec<u8>, text: &str) {
    serde_json::to_writer(out, text).expect("a str always serializes");
}

/// `sync`: claims `name`, with the credential and the last will.
pub fn sync_head(name: &str, token: Option<&str>, last_will: Option<&LastWill>) -> Vec<u8> {
    let mut head = br#"{"type":"sync","clientName":"#.to_vec();
    push_json_string(&mut head, name);
    if let Some(token) = token {
        head.extend_from_slice(br#","token":"#);
        push_json_string(&mut head, token);
    }
    if let Some(will) = last_will {
        head.extend_from_slice(br#","lastWill":"#);
        head.extend_from_slice(will.to_json().as_bytes());
    }
    head
}

/// `join` or `leave` (`kind`) of `room`.
pub fn room_head(kind: &str, room: &str) -> Vec<u8> {
    let mut head = format!(r#"{{"type":"{kind}","room":"#).into_bytes();
    push_json_string(&mut head, room);
    head
}

/// `list`: one page of every session, or of `room`'s members, after the
/// cursor the previous page gave.
pub fn list_head(room: Option<&str>, after: Option<&str>) -> Vec<u8> {
    let mut head = br#"{"type":"list""#.to_vec();
    if let Some(room) = room {
        head.extend_from_slice(br#","room":"#);
        push_json_string(&mut head, room);
    }
    if let Some(cursor) = after {
        head.extend_from_slice(br#","after":"#);
        push_json_string(&mut head, cursor);
    }
    head
}

/// `ping`.
pub fn ping_head() -> Vec<u8> {
    br#"{"type":"ping""#.to_vec()
}

/// Why a `watch` or `unwatch` cannot be sent as asked.
#[derive(Debug)]
pub struct BothScopes;

/// `watch` or `unwatch` (`kind`) with its scope: every alias, these
/// aliases, or a room's members (not both).
pub fn watch_head(
    kind: &str,
    aliases: Option<Vec<String>>,
    room: Option<&str>,
) -> Result<Vec<u8>, BothScopes> {
    let mut head = format!(r#"{{"type":"{kind}""#).into_bytes();
    match (aliases, room) {
        (Some(_), Some(_)) => return Err(BothScopes),
        (Some(aliases), None) => {
            head.extend_from_slice(br#","aliases":"#);
            serde_json::to_writer(&mut head, &aliases)
                .expect("a list of strings always serializes");
        }
        (None, Some(room)) => {
            head.extend_from_slice(br#","room":"#);
            push_json_string(&mut head, room);
        }
        (None, None) => {}
    }
    Ok(head)
}
