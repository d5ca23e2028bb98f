//! The hub's counters after known scenarios: every frame in, out, error,
//! close and pause is counted once, and the gauges match the tables.

mod common;

use std::time::Duration;

use common::Harness;
use tcphub_core::{
    AuthDecision, CloseReason, ErrorCode, FrameKind, Grant, HubConfig, HubStats, SessionHandle,
};

/// Every frame each session received so far (replies, deliveries and
/// farewells), without taking them.
fn frames_received(h: &Harness) -> u64 {
    h.inboxes.values().map(|i| i.frames.len() as u64).sum()
}

/// `h.send`, adding the bytes to `sent`.
fn send(h: &mut Harness, sent: &mut u64, id: SessionHandle, bytes: &[u8]) {
    *sent += bytes.len() as u64;
    h.send(id, bytes);
}

fn kinds(stats: &HubStats) -> Vec<(&'static str, u64)> {
    FrameKind::ALL
        .into_iter()
        .map(|k| (k.as_str(), stats.frames_in(k)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[test]
fn every_kind_of_frame_and_every_delivery_is_counted_once() {
    let mut h = Harness::new(HubConfig::default());
    let mut sent = 0;
    let a = h.connect("a:1");
    let b = h.connect("b:1");
    let c = h.connect("c:1");
    for (id, alias) in [(a, "A"), (b, "B"), (c, "C")] {
        send(&mut h, &mut sent, id, &tcphub_core::encode_sync(alias));
    }
    send(
        &mut h,
        &mut sent,
        a,
        br#"{"type":"info","to":"B","message":1}"#,
    );
    send(
        &mut h,
        &mut sent,
        a,
        br#"{"type":"info","to":"*","message":2}"#,
    );
    send(&mut h, &mut sent, a, br#"{"type":"info","message":3}"#);
    send(&mut h, &mut sent, b, br#"{"type":"join","room":"lobby"}"#);
    send(&mut h, &mut sent, c, br#"{"type":"join","room":"lobby"}"#);
    send(
        &mut h,
        &mut sent,
        b,
        br#"{"type":"info","room":"lobby","message":4}"#,
    );
    send(&mut h, &mut sent, c, br#"{"type":"leave","room":"lobby"}"#);
    send(&mut h, &mut sent, a, br#"{"type":"watch","aliases":["B"]}"#);
    send(
        &mut h,
        &mut sent,
        a,
        br#"{"type":"unwatch","aliases":["B"]}"#,
    );
    send(&mut h, &mut sent, a, br#"{"type":"ping"}"#);
    send(&mut h, &mut sent, a, br#"{"type":"list"}"#);
    // Two mistakes: a relay to nobody, and a frame that is not JSON.
    send(
        &mut h,
        &mut sent,
        a,
        br#"{"type":"info","to":"Nobody","message":5}"#,
    );
    send(&mut h, &mut sent, a, b"{not json}\n");
    send(&mut h, &mut sent, c, br#"{"type":"bye"}"#);

    let stats = h.hub.stats();
    assert_eq!(
        kinds(&stats),
        [
            ("sync", 3),
            ("relay", 2),
            ("relay_all", 1),
            ("room", 1),
            ("host", 1),
            ("list", 1),
            ("ping", 1),
            ("join", 2),
            ("leave", 1),
            ("watch", 1),
            ("unwatch", 1),
            ("bye", 1),
        ],
        "a bad frame has no kind; a relay to nobody is still a relay"
    );
    assert_eq!(stats.bytes_in(), sent);
    assert_eq!(
        stats.frames_out(),
        frames_received(&h),
        "one per frame handed out"
    );
    assert!(stats.bytes_out() > 0);
    assert_eq!(stats.errors(ErrorCode::UnknownAlias), 1);
    assert_eq!(stats.errors(ErrorCode::BadJson), 1);
    let all_errors: u64 = ErrorCode::ALL.into_iter().map(|c| stats.errors(c)).sum();
    assert_eq!(all_errors, 2);
    assert_eq!(stats.closes(CloseReason::ClientBye), 1);
    assert_eq!(
        (
            stats.sessions_opened(),
            stats.sessions_open(),
            stats.aliases_held()
        ),
        (3, 2, 2)
    );
    assert_eq!(
        stats.queued_bytes(),
        0,
        "a reader that keeps up has no queue"
    );
    assert_eq!(stats.flow_pauses(), 0);
}

#[test]
fn a_broadcast_counts_each_recipient_and_its_bytes() {
    let mut h = Harness::new(HubConfig::default());
    let ids: Vec<_> = (0..5).map(|i| h.connect(&format!("s:{i}"))).collect();
    for (i, &id) in ids.iter().enumerate() {
        h.sync(id, &format!("S{i}"));
    }
    let before = h.hub.stats();
    let reached = h.hub.broadcast("hello").unwrap();
    h.drain();
    let after = h.hub.stats();
    assert_eq!(reached, 5);
    assert_eq!(after.frames_out() - before.frames_out(), 5);
    let frame_len = (after.bytes_out() - before.bytes_out()) / 5;
    assert_eq!(
        after.bytes_out() - before.bytes_out(),
        5 * frame_len,
        "the same frame to each"
    );
    assert!(frame_len > "hello".len() as u64);
}

#[test]
fn queued_bytes_follow_a_stalled_reader_and_pauses_are_counted() {
    let mut h = Harness::new(HubConfig {
        high_watermark: 1000,
        low_watermark: 200,
        max_queued_bytes: 100_000,
        write_deadline: Some(Duration::from_secs(10)),
        ..HubConfig::default()
    });
    let p = h.connect("p:1");
    let r = h.connect("r:1");
    h.sync(p, "P");
    h.sync(r, "R");
    h.stall(r);
    let relay = br#"{"type":"info","to":"R","message":"0123456789012345678901234567890123456789"}"#;
    for _ in 0..40 {
        h.send(p, relay);
    }
    let unread: usize = h.inboxes[&r].unread.iter().sum();
    let stats = h.hub.stats();
    assert_eq!(stats.queued_bytes(), unread as u64);
    assert_eq!(h.hub.queued_bytes(r), Some(unread));
    assert_eq!(
        stats.flow_pauses(),
        2,
        "the backed-up reader and the sender it held"
    );
    h.read(r);
    assert_eq!(h.hub.stats().queued_bytes(), 0);

    // Stalled again past the write deadline: closed, and its queue dropped.
    h.stall(r);
    h.send(p, relay);
    assert!(h.hub.stats().queued_bytes() > 0);
    h.advance(Duration::from_secs(13));
    let stats = h.hub.stats();
    assert_eq!(h.closed(r), Some(CloseReason::SlowConsumer));
    assert_eq!(stats.closes(CloseReason::SlowConsumer), 1);
    assert_eq!(stats.queued_bytes(), 0, "a closed session's queue is gone");
}

#[test]
fn refused_connections_are_opened_and_closed() {
    let mut h = Harness::new(HubConfig {
        max_sessions: 1,
        ..HubConfig::default()
    });
    let a = h.connect("a:1");
    let refused = h.connect("b:1");
    assert_eq!(h.closed(refused), Some(CloseReason::TooManySessions));
    h.disconnect(a);
    let stats = h.hub.stats();
    assert_eq!(stats.sessions_opened(), 2);
    assert_eq!(stats.sessions_open(), 0);
    assert_eq!(stats.closes(CloseReason::TooManySessions), 1);
    assert_eq!(stats.closes(CloseReason::PeerClosed), 1);
    assert_eq!(stats.frames_out(), 1, "the refusal's farewell");
}

#[test]
fn credentials_granted_and_denied_are_counted() {
    let mut h = Harness::new(HubConfig {
        authentication: true,
        ..HubConfig::default()
    });
    let sync =
        |alias: &str, token: Option<&str>| tcphub_core::encode_sync_request(alias, token, None);
    let a = h.connect("10.0.0.1:1");
    h.send(a, &sync("A", Some("good")));
    assert!(h.decide(AuthDecision::Grant(Grant::allow_all())));
    let b = h.connect("10.0.0.2:1");
    h.send(b, &sync("B", Some("bad")));
    assert!(h.decide(AuthDecision::Deny));
    h.send(b, &sync("B", None));
    let stats = h.hub.stats();
    assert_eq!((stats.auth_granted(), stats.auth_denied()), (1, 2));
    assert_eq!(stats.errors(ErrorCode::Unauthorized), 2);
    assert_eq!(stats.flow_pauses(), 2, "each session waits on its check");
}

mod random {
    //! Random operation sequences: after every step the counters agree
    //! with what a driver saw come out, and the gauges with the tables.

    use std::collections::{BTreeMap, BTreeSet};
    use std::time::Duration;

    use proptest::prelude::*;
    use tcphub_core::{
        CloseReason, ErrorCode, Event, FrameKind, Hub, HubConfig, Output, SessionHandle,
    };

    #[derive(Debug, Clone)]
    enum Op {
        Connect,
        /// Bytes from "the n-th open session", modulo how many are open.
        Send(usize, usize),
        Raw(usize, Vec<u8>),
        Disconnect(usize),
        HostBroadcast,
        Stall(usize),
        Read(usize),
        Advance(u64),
    }

    /// Frames a client may send, good and bad.
    const FRAMES: [&str; 10] = [
        r#"{"type":"sync","clientName":"a"}"#,
        r#"{"type":"sync","clientName":"b"}"#,
        r#"{"type":"info","to":"a","message":"0123456789012345678901234567890123456789"}"#,
        r#"{"type":"info","to":"*","message":"0123456789012345678901234567890123456789"}"#,
        r#"{"type":"join","room":"r"}"#,
        r#"{"type":"info","room":"r","message":1}"#,
        r#"{"type":"list"}"#,
        r#"{"type":"ping"}"#,
        r#"{"type":"bye"}"#,
        r#"{"type":"nope"}"#,
    ];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => Just(Op::Connect),
            8 => (any::<usize>(), 0..FRAMES.len()).prop_map(|(s, f)| Op::Send(s, f)),
            1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 0..48))
                .prop_map(|(s, b)| Op::Raw(s, b)),
            1 => any::<usize>().prop_map(Op::Disconnect),
            1 => Just(Op::HostBroadcast),
            2 => any::<usize>().prop_map(Op::Stall),
            2 => any::<usize>().prop_map(Op::Read),
            1 => (0u64..4000).prop_map(Op::Advance),
        ]
    }

    /// A driver that counts everything the hub hands out.
    struct Driver {
        hub: Hub,
        now: Duration,
        open: Vec<SessionHandle>,
        stalled: BTreeSet<SessionHandle>,
        unread: BTreeMap<SessionHandle, usize>,
        frames_out: u64,
        bytes_out: u64,
        bytes_in: u64,
        errors: u64,
        closes: u64,
        peers: u64,
    }

    impl Driver {
        fn drain(&mut self) {
            while let Some(output) = self.hub.poll_output() {
                match output {
                    Output::Transmit { handle, frame } => {
                        self.frames_out += 1;
                        self.bytes_out += frame.len() as u64;
                        if self.stalled.contains(&handle) {
                            *self.unread.entry(handle).or_default() += frame.len();
                        } else if self.hub.session(handle).is_some() {
                            self.hub
                                .handle_written(self.now, handle, frame.len())
                                .unwrap();
                        }
                    }
                    Output::Close {
                        handle, farewell, ..
                    } => {
                        self.frames_out += 1;
                        self.bytes_out += farewell.len() as u64;
                        self.open.retain(|&h| h != handle);
                        self.unread.remove(&handle);
                    }
                    Output::Event(Event::ProtocolError { .. }) => self.errors += 1,
                    Output::Event(Event::Closed { handle, .. }) => {
                        self.closes += 1;
                        self.open.retain(|&h| h != handle);
                    }
                    _ => {}
                }
            }
        }

        fn nth(&self, n: usize) -> Option<SessionHandle> {
            (!self.open.is_empty()).then(|| self.open[n % self.open.len()])
        }

        fn send(&mut self, n: usize, bytes: &[u8]) {
            if let Some(handle) = self.nth(n) {
                self.bytes_in += bytes.len() as u64;
                self.hub.handle_data(self.now, handle, bytes).unwrap();
            }
        }

        fn apply(&mut self, op: Op) {
            match op {
                Op::Connect => {
                    self.peers += 1;
                    let handle = self
                        .hub
                        .handle_accept(self.now, &format!("p:{}", self.peers))
                        .unwrap();
                    self.open.push(handle);
                }
                Op::Send(n, f) => self.send(n, format!("{}\n", FRAMES[f]).as_bytes()),
                Op::Raw(n, bytes) => self.send(n, &bytes),
                Op::Disconnect(n) => {
                    if let Some(handle) = self.nth(n) {
                        self.hub.handle_close(self.now, handle).unwrap();
                    }
                }
                Op::HostBroadcast => {
                    let _ = self.hub.broadcast("0123456789".repeat(20).as_str());
                }
                Op::Stall(n) => {
                    if let Some(handle) = self.nth(n) {
                        self.stalled.insert(handle);
                    }
                }
                Op::Read(n) => {
                    if let Some(handle) = self.nth(n) {
                        self.stalled.remove(&handle);
                        if let Some(len) = self.unread.remove(&handle) {
                            self.hub.handle_written(self.now, handle, len).unwrap();
                        }
                    }
                }
                Op::Advance(ms) => {
                    self.now += Duration::from_millis(ms);
                    self.hub.handle_timeout(self.now).unwrap();
                }
            }
            self.drain();
        }

        fn check(&self) {
            let stats = self.hub.stats();
            assert_eq!(stats.frames_out(), self.frames_out, "frames out");
            assert_eq!(stats.bytes_out(), self.bytes_out, "bytes out");
            assert_eq!(stats.bytes_in(), self.bytes_in, "bytes in");
            let errors: u64 = ErrorCode::ALL.into_iter().map(|c| stats.errors(c)).sum();
            assert_eq!(errors, self.errors, "one error counted per ProtocolError");
            let closes: u64 = CloseReason::ALL.into_iter().map(|r| stats.closes(r)).sum();
            assert_eq!(closes, self.closes, "one close counted per Closed");
            assert_eq!(stats.sessions_opened(), self.peers);
            assert_eq!(
                stats.sessions_open() + closes,
                stats.sessions_opened(),
                "every session opened is open or closed once"
            );
            assert_eq!(stats.sessions_open(), self.hub.session_count() as u64);
            let queued: usize = self
                .hub
                .sessions()
                .filter_map(|s| self.hub.queued_bytes(s.handle))
                .sum();
            assert_eq!(stats.queued_bytes(), queued as u64, "the running total");
            let frames_in: u64 = FrameKind::ALL.into_iter().map(|k| stats.frames_in(k)).sum();
            assert!(
                frames_in <= stats.bytes_in(),
                "every frame is a byte at least"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        #[test]
        fn counters_agree_with_what_came_out(ops in proptest::collection::vec(op(), 1..80)) {
            let config = HubConfig {
                high_watermark: 600,
                low_watermark: 100,
                max_frame_len: 1024,
                max_queued_bytes: 600 + 1024 + 400,
                write_deadline: Some(Duration::from_secs(3)),
                ..HubConfig::default()
            };
            let mut driver = Driver {
                hub: Hub::new(config).unwrap(),
                now: Duration::ZERO,
                open: Vec::new(),
                stalled: BTreeSet::new(),
                unread: BTreeMap::new(),
                frames_out: 0,
                bytes_out: 0,
                bytes_in: 0,
                errors: 0,
                closes: 0,
                peers: 0,
            };
            for op in ops {
                driver.apply(op);
                driver.check();
            }
        }
    }
}
