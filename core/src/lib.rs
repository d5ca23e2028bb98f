//! The sans-IO core of tcphub: session table, alias sync and routing as a
//! pure state machine.
//!
//! The [`Hub`] is fed bytes and time and returns what to send, what to close
//! and what happened. It does no IO, reads no clock and draws no random
//! numbers, so the same inputs give the same outputs on every platform: the
//! tokio server, the Python module and the WebAssembly simulator all drive
//! this one state machine.
//!
//! # The run loop
//!
//! 1. Create a [`Hub`] from a [`HubConfig`].
//! 2. Feed it input as it happens, with the current time (any monotonic
//!    clock, as a [`Duration`](std::time::Duration) since an epoch of your
//!    choosing): [`Hub::handle_accept`], [`Hub::handle_data`],
//!    [`Hub::handle_eof`], [`Hub::handle_close`], [`Hub::handle_written`],
//!    [`Hub::handle_timeout`]; and the host program's commands:
//!    [`Hub::broadcast`], [`Hub::send_to_alias`], ...
//! 3. After each input, call [`Hub::poll_output`] until it returns `None`:
//!    queue each [`Output::Transmit`] on its session's connection and report
//!    what reaches the socket with [`Hub::handle_written`]; stop and resume
//!    reading a connection on [`Output::PauseReading`] and
//!    [`Output::ResumeReading`]; close on [`Output::Close`] after writing its
//!    farewell; hand [`Output::Event`]s to the host.
//! 4. Sleep until the next input or [`Hub::poll_timeout`], whichever comes
//!    first, then go to 2.
//!
//! The hub counts every byte it hands out against its session's queue until
//! it is reported written: that is how it paces senders to their readers
//! (flow control) and finds readers that stopped reading (the write
//! deadline). A driver that writes synchronously reports each frame as
//! written right after writing it.
//!
//! ```
//! use std::time::Duration;
//! use tcphub_core::{Event, Hub, HubConfig, HubFrame, Output};
//!
//! let mut hub = Hub::new(HubConfig::default())?;
//! let now = Duration::ZERO;
//! let client = hub.handle_accept(now, "127.0.0.1:53412")?;
//! // Two frames in one read, no delimiter, as the tutorial's clients send.
//! hub.handle_data(now, client, br#"{"type":"sync","clientName":"Client-1"}{"type":"info","message":"1111"}"#)?;
//! hub.broadcast("大家来领物资了")?;
//!
//! let mut sent = Vec::new();
//! while let Some(output) = hub.poll_output() {
//!     match output {
//!         Output::Transmit { handle: session, frame } => {
//!             sent.push((session, HubFrame::parse(&frame)?));
//!             // Written to the socket at once, say.
//!             hub.handle_written(now, session, frame.len())?;
//!         }
//!         Output::Event(Event::Message { alias, message, .. }) => {
//!             assert_eq!(alias.unwrap().as_str(), "Client-1");
//!             assert_eq!(message.get(), r#""1111""#);
//!         }
//!         Output::Event(_) => {}
//!         other => unreachable!("nobody misbehaved or fell behind: {other:?}"),
//!     }
//! }
//! assert_eq!(sent.len(), 2); // `synced`, then the broadcast
//! assert!(matches!(&sent[1].1, HubFrame::Info { from, .. } if from == "#hub"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! [`HubError`] means the driver misused the API (an unknown session, time
//! going backwards). A peer's mistakes never surface as an `Err`: they become
//! an `error` frame to that peer and an [`Event::ProtocolError`], and a frame
//! over the size limit or past the frame timeout closes that one session. A panic means a broken
//! internal invariant; no input from a peer can cause one.

mod alias;
mod alias_table;
mod auth;
mod auth_failures;
mod cluster;
mod config;
mod decoder;
mod error;
mod event;
mod flow;
mod frame;
mod handle;
mod held_input;
mod hub;
mod input_scan;
mod last_will;
mod limits;
mod name;
mod node;
mod permission;
mod presence;
mod request;
mod room;
mod room_table;
mod session;
mod stats;
mod string_scan;
mod timers;

pub use alias::{Alias, MAX_ALIAS_LEN};
pub use auth::{AuthDecision, AuthRequest, AuthRequestId, Grant};
pub use auth_failures::{
    AUTH_FAILURE_MEMORY, FIRST_AUTH_SPACING, FREE_AUTH_FAILURES, MAX_AUTH_SPACING,
    MAX_REMEMBERED_ADDRESSES,
};
pub use cluster::{
    node_of, ClaimId, ClusterInput, ClusterOutput, DirectoryChange, Envelope, RemoteSession,
    RemoteTarget, ReplyTo,
};
pub use config::{
    default_bytes_burst, AliasPolicy, HubConfig, DEFAULT_AUTH_TIMEOUT, DEFAULT_FRAME_TIMEOUT,
    DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK, DEFAULT_MAX_FRAME_LEN,
    DEFAULT_MAX_LAST_WILL_BYTES, DEFAULT_MAX_LIST_ROWS, DEFAULT_MAX_PENDING_REQUESTS,
    DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_REQUEST_TIMEOUT, DEFAULT_MAX_ROOMS_PER_SESSION,
    DEFAULT_MAX_SESSIONS, DEFAULT_MAX_WATCHED_ALIASES, DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_WRITE_DEADLINE, MAX_LAST_WILL_ALIASES, MAX_MAX_FRAME_LEN, MAX_MAX_LIST_ROWS,
    MAX_MAX_QUEUED_BYTES, MAX_MAX_SESSIONS, MAX_PER_SESSION_CAP, MAX_RATE_LIMIT_BYTES,
    MAX_RATE_LIMIT_MESSAGES, MIN_MAX_FRAME_LEN,
};
pub use decoder::{Decoded, FrameDecoder, MAX_DEPTH};
pub use error::{ErrorCode, HubError, PeerError};
pub use event::{CloseReason, Event, Output, RelayTarget, Unsent};
pub use frame::{
    encode_bye, encode_info, encode_join, encode_leave, encode_list, encode_list_room, encode_ping,
    encode_reply, encode_request, encode_room_info, encode_sync, encode_sync_request,
    encode_sync_with_last_will, encode_too_many_sessions, encode_unwatch, encode_watch, frame_type,
    ClientFrame, HubFrame, HubLines, LastWillRequest, LineError, RawMessage, SessionEntry,
    WatchScope, DEFAULT_MAX_LINE_LEN, HUB_NAME, MAX_REQUEST_ID_LEN,
};
pub use handle::SessionHandle;
pub use hub::Hub;
pub use input_scan::{InputScanner, ScannedInput};
pub use limits::{RATE_LIMIT_MAX_REFUSALS, RATE_LIMIT_REFUSAL_WINDOW};
pub use name::{BROADCAST_TARGET, MAX_NAME_LEN};
pub use node::{NodeId, MAX_NODE_ID_LEN};
pub use permission::{AliasPattern, PatternError, Permissions, MAX_PATTERN_LEN};
pub use presence::PresenceChange;
pub use request::ReplyAddress;
pub use room::{Room, MAX_ROOM_LEN};
pub use session::SessionInfo;
pub use stats::{FrameKind, HubStats};

/// Re-exported so callers can build raw messages without naming serde_json.
pub use serde_json::value::RawValue;
