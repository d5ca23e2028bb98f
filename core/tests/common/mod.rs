//! A small in-memory driver for scenario tests: it owns a hub, a simulated
//! clock, and what each session received.

#![allow(dead_code)] // each test file uses a different part

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tcphub_core::{
    AuthDecision, AuthRequest, CloseReason, Event, Hub, HubConfig, HubFrame, Output, SessionHandle,
    Unsent,
};

#[derive(Debug, Default)]
pub struct Inbox {
    pub frames: Vec<HubFrame>,
    pub closed: Option<CloseReason>,
    /// Bytes handed out and not yet acknowledged (a stalled reader's).
    pub unread: Vec<usize>,
    /// How the close said to treat what was unread.
    pub unsent: Option<Unsent>,
    /// The hub asked the driver not to read from this session.
    pub paused: bool,
}

pub struct Harness {
    pub hub: Hub,
    pub now: Duration,
    pub inboxes: BTreeMap<SessionHandle, Inbox>,
    pub events: Vec<Event>,
    /// Sessions whose reader has stopped: what is sent to them is not
    /// reported written until [`Harness::read`].
    pub stalled: BTreeSet<SessionHandle>,
    /// Credentials the hub asked about, not yet answered.
    pub auth_requests: Vec<AuthRequest>,
}

impl Harness {
    pub fn new(config: HubConfig) -> Self {
        Harness {
            hub: Hub::new(config).expect("valid config"),
            now: Duration::ZERO,
            inboxes: BTreeMap::new(),
            events: Vec::new(),
            stalled: BTreeSet::new(),
            auth_requests: Vec::new(),
        }
    }

    pub fn connect(&mut self, peer: &str) -> SessionHandle {
        let id = self.hub.handle_accept(self.now, peer).expect("accept");
        self.drain();
        id
    }

    pub fn send(&mut self, id: SessionHandle, bytes: &[u8]) {
        self.hub
            .handle_data(self.now, id, bytes)
            .expect("open session");
        self.drain();
    }

    pub fn sync(&mut self, id: SessionHandle, alias: &str) {
        self.send(id, &tcphub_core::encode_sync(alias));
    }

    pub fn disconnect(&mut self, id: SessionHandle) {
        self.hub.handle_close(self.now, id).expect("open session");
        self.drain();
    }

    pub fn close_by_host(&mut self, id: SessionHandle) {
        self.hub
            .close_session(id, CloseReason::ClosedByHost)
            .expect("open session");
        self.drain();
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.hub
            .handle_timeout(self.now)
            .expect("time moves forward");
        self.drain();
    }

    /// Runs every pending output, checking the hub's own promises as it
    /// goes. Frames for a session that is not stalled are reported written
    /// at once, as a reader that keeps up would have them.
    pub fn drain(&mut self) {
        while let Some(output) = self.hub.poll_output() {
            match output {
                Output::Transmit {
                    handle: session,
                    frame,
                } => {
                    let inbox = self.inboxes.entry(session).or_default();
                    assert!(
                        inbox.closed.is_none(),
                        "frame sent to closed session {session}"
                    );
                    assert_eq!(frame.last(), Some(&b'\n'));
                    inbox
                        .frames
                        .push(HubFrame::parse(&frame).expect("hub frames parse"));
                    if self.stalled.contains(&session) {
                        inbox.unread.push(frame.len());
                    } else if self.hub.session(session).is_some() {
                        // (A session closed later in this batch is gone
                        // already; its writes count for nothing.)
                        self.hub
                            .handle_written(self.now, session, frame.len())
                            .expect("open session");
                    }
                }
                Output::Close {
                    handle: session,
                    reason,
                    farewell,
                    unsent,
                } => {
                    let inbox = self.inboxes.entry(session).or_default();
                    assert!(inbox.closed.is_none(), "closed twice: {session}");
                    inbox.closed = Some(reason);
                    inbox.unsent = Some(unsent);
                    assert_eq!(farewell.last(), Some(&b'\n'));
                    inbox
                        .frames
                        .push(HubFrame::parse(&farewell).expect("farewells parse"));
                }
                Output::PauseReading { handle: session } => {
                    let inbox = self.inboxes.entry(session).or_default();
                    assert!(!inbox.paused, "paused twice: {session}");
                    inbox.paused = true;
                }
                Output::ResumeReading { handle: session } => {
                    let inbox = self.inboxes.entry(session).or_default();
                    assert!(inbox.paused, "resumed without a pause: {session}");
                    inbox.paused = false;
                }
                Output::Authenticate(request) => self.auth_requests.push(request),
                Output::Event(event) => self.events.push(event),
            }
        }
    }

    /// Answers the oldest open question about a credential; returns
    /// whether the hub still wanted the answer.
    pub fn decide(&mut self, decision: AuthDecision) -> bool {
        assert!(
            !self.auth_requests.is_empty(),
            "no credential was asked about"
        );
        let request = self.auth_requests.remove(0);
        let wanted = self
            .hub
            .handle_auth_decision(self.now, request.id, decision)
            .expect("time moves forward");
        self.drain();
        wanted
    }

    /// Stops reporting writes for `id`: its reader is stuck.
    pub fn stall(&mut self, id: SessionHandle) {
        self.stalled.insert(id);
    }

    /// The stalled reader of `id` reads everything and keeps up again.
    pub fn read(&mut self, id: SessionHandle) {
        self.stalled.remove(&id);
        let unread = std::mem::take(&mut self.inboxes.entry(id).or_default().unread);
        for len in unread {
            // A session closed meanwhile no longer counts its writes.
            let _ = self.hub.handle_written(self.now, id, len);
        }
        self.drain();
    }

    /// The peer half-closes its connection.
    pub fn eof(&mut self, id: SessionHandle) {
        self.hub.handle_eof(self.now, id).expect("open session");
        self.drain();
    }

    /// Takes what `id` received so far.
    pub fn take(&mut self, id: SessionHandle) -> Vec<HubFrame> {
        std::mem::take(&mut self.inboxes.entry(id).or_default().frames)
    }

    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    pub fn closed(&self, id: SessionHandle) -> Option<CloseReason> {
        self.inboxes.get(&id).and_then(|i| i.closed)
    }
}

/// An `info` frame as a recipient sees it.
pub fn info(from: &str, message: serde_json::Value) -> HubFrame {
    HubFrame::Info {
        from: from.into(),
        room: None,
        last_will: false,
        message,
    }
}

/// An `info` frame sent to a room, as a member sees it.
pub fn room_info(from: &str, room: &str, message: serde_json::Value) -> HubFrame {
    HubFrame::Info {
        from: from.into(),
        room: Some(room.into()),
        last_will: false,
        message,
    }
}

/// The code of an `error` frame, or a panic naming what came instead.
pub fn error_code(frame: &HubFrame) -> &str {
    match frame {
        HubFrame::Error { code, .. } => code,
        other => panic!("expected an error frame, got {other:?}"),
    }
}

/// The numbers carried as `info` messages in `frames`, in order: the tests
/// number what they send and check which numbers arrived.
pub fn info_numbers(frames: &[HubFrame]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|f| match f {
            HubFrame::Info { message, .. } => message.as_u64(),
            _ => None,
        })
        .collect()
}
