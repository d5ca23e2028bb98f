//! The wire format: what clients send ([`ClientFrame`]) and what the hub
//! sends back ([`HubFrame`]). `docs/PROTOCOL.md` is the prose version.
//!
//! Both directions live here with both their readers and writers, so the hub,
//! the bundled clients and the simulator all speak through one definition.

mod client;
mod envelope;
mod hub;
mod json;
mod reader;

pub use client::{
    encode_bye, encode_info, encode_join, encode_leave, encode_list, encode_list_room, encode_ping,
    encode_reply, encode_request, encode_room_info, encode_sync, encode_sync_request,
    encode_sync_with_last_will, encode_unwatch, encode_watch, ClientFrame, LastWillRequest,
    RawMessage, WatchScope, MAX_REQUEST_ID_LEN,
};
pub use hub::{encode_too_many_sessions, HubFrame, SessionEntry, HUB_NAME};
pub use reader::{frame_type, HubLines, LineError, DEFAULT_MAX_LINE_LEN};

pub(crate) use client::FrontFrame;
pub(crate) use envelope::FieldSpans;
pub(crate) use hub::encode as hub_encode;
pub(crate) use json::json_string;
