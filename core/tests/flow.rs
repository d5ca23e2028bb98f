//! Flow control, half-close, the write deadline, the frame timeout, paged
//! `list` and request ids: the rules that keep one client from costing
//! another anything.

mod common;

use std::time::Duration;

use common::{error_code, info_numbers, Harness};
use serde_json::json;
use tcphub_core::{CloseReason, HubConfig, HubFrame, SessionHandle, Unsent};

/// Small watermarks so a few frames back a queue up.
fn small_queues() -> HubConfig {
    HubConfig {
        high_watermark: 1000,
        low_watermark: 200,
        max_queued_bytes: 1000 + 64 * 1024 + 10_000,
        write_deadline: Some(Duration::from_secs(10)),
        ..HubConfig::default()
    }
}

fn relay(to: &str, n: usize) -> Vec<u8> {
    format!(r#"{{"type":"info","to":"{to}","message":{n}}}"#).into_bytes()
}

/// Two synced sessions, "P" (publisher) and "R" (reader), inboxes empty.
fn pair(h: &mut Harness) -> (SessionHandle, SessionHandle) {
    let p = h.connect("p:1");
    let r = h.connect("r:1");
    h.sync(p, "P");
    h.sync(r, "R");
    h.take(p);
    h.take(r);
    (p, r)
}

#[test]
fn a_reader_that_keeps_reading_is_never_cut() {
    let mut h = Harness::new(small_queues());
    let (p, r) = pair(&mut h);
    let burst: Vec<u8> = (0..5000).flat_map(|n| relay("*", n)).collect();
    h.send(p, &burst);
    assert_eq!(info_numbers(&h.take(r)), (0..5000).collect::<Vec<_>>());
    assert!(h.closed(r).is_none() && h.closed(p).is_none());
    assert!(!h.inboxes[&p].paused);
}

#[test]
fn a_full_queue_pauses_its_senders_until_it_drains() {
    let mut h = Harness::new(small_queues());
    let (p, r) = pair(&mut h);
    h.stall(r);
    let burst: Vec<u8> = (0..200).flat_map(|n| relay("R", n)).collect();
    h.send(p, &burst);
    let delivered = info_numbers(&h.take(r));
    assert!(
        delivered.len() < 200,
        "the publisher was paused before its whole burst was routed"
    );
    assert!(
        h.inboxes[&p].paused,
        "the driver was told to stop reading P"
    );
    assert!(h.inboxes[&r].paused, "nor is R read while it does not read");
    // More input while paused is kept, in order, not lost.
    h.send(p, &relay("R", 200));
    // Well inside the write deadline nothing is closed.
    h.advance(Duration::from_secs(5));
    assert!(h.closed(r).is_none());
    h.read(r);
    assert!(!h.inboxes[&p].paused && !h.inboxes[&r].paused);
    let mut all = delivered;
    all.extend(info_numbers(&h.take(r)));
    assert_eq!(all, (0..=200).collect::<Vec<_>>(), "exactly once, in order");
}

#[test]
fn a_stuck_reader_is_cut_after_the_write_deadline_and_its_senders_resume() {
    let mut h = Harness::new(small_queues());
    let (p, r) = pair(&mut h);
    let other = h.connect("o:1");
    h.stall(r);
    let burst: Vec<u8> = (0..200).flat_map(|n| relay("*", n)).collect();
    h.send(p, &burst);
    assert!(h.inboxes[&p].paused);
    h.advance(Duration::from_secs(9));
    assert!(h.closed(r).is_none(), "not before the deadline");
    h.advance(Duration::from_secs(4));
    assert_eq!(h.closed(r), Some(CloseReason::SlowConsumer));
    assert_eq!(h.inboxes[&r].unsent, Some(Unsent::Discard));
    match h.take(r).last() {
        Some(HubFrame::Bye { reason, message }) => {
            assert_eq!(reason, "slow_consumer");
            assert!(message.contains("10000 ms"), "{message}");
        }
        other => panic!("expected the slow-consumer bye last, got {other:?}"),
    }
    // The publisher was held back only until then; the rest of its burst
    // reached the reader that kept up.
    assert!(!h.inboxes[&p].paused);
    assert_eq!(info_numbers(&h.take(other)), (0..200).collect::<Vec<_>>());
    assert!(h.closed(p).is_none());
}

#[test]
fn a_queue_over_the_hard_cap_is_closed_even_for_host_messages() {
    let mut h = Harness::new(small_queues());
    let (_, r) = pair(&mut h);
    h.stall(r);
    let big = "x".repeat(10_000);
    for _ in 0..10 {
        h.hub.broadcast(&big).unwrap();
        h.drain();
    }
    assert_eq!(h.closed(r), Some(CloseReason::SlowConsumer));
    assert!(
        matches!(h.take(r).last(), Some(HubFrame::Bye { message, .. }) if message.contains("bytes queued"))
    );
}

#[test]
fn replies_to_a_requester_that_does_not_read_stop_at_the_high_watermark() {
    let mut h = Harness::new(HubConfig {
        high_watermark: 64 * 1024,
        low_watermark: 16 * 1024,
        ..HubConfig::default()
    });
    let spammer = h.connect("s:1");
    for i in 0..2000 {
        h.connect(&format!("10.0.{}.{}:1", i / 250, i % 250));
    }
    h.take(spammer);
    h.stall(spammer);
    let requests = b"{\"type\":\"list\"}".repeat(1000);
    h.send(spammer, &requests);
    let replies = h.take(spammer).len();
    // Each page is ~1000 rows (~60 KB): two pages pass 64 KiB.
    assert!(
        replies <= 2,
        "{replies} pages built for a client not reading"
    );
    assert!(h.inboxes[&spammer].paused);
    // Another client is served at once meanwhile.
    let other = h.connect("o:1");
    h.send(other, b"{\"type\":\"ping\"}");
    assert_eq!(h.take(other), [HubFrame::Pong { id: None }]);
    // Once it reads, the rest of its requests are answered.
    h.read(spammer);
    assert_eq!(replies + h.take(spammer).len(), 1000);
    assert!(!h.inboxes[&spammer].paused);
}

#[test]
fn half_close_answers_everything_then_says_bye() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.hub
        .handle_data(
            h.now,
            a,
            b"{\"type\":\"ping\",\"id\":1}{\"type\":\"sync\",\"clientName\":\"A\"}",
        )
        .unwrap();
    h.hub.handle_eof(h.now, a).unwrap();
    h.drain();
    let frames = h.take(a);
    assert!(matches!(&frames[0], HubFrame::Pong { id: Some(id) } if *id == json!(1)));
    assert!(matches!(&frames[1], HubFrame::Synced { .. }));
    assert!(matches!(&frames[2], HubFrame::Bye { reason, .. } if reason == "peer_closed"));
    assert_eq!(frames.len(), 3);
    assert_eq!(h.closed(a), Some(CloseReason::PeerClosed));
    assert_eq!(h.inboxes[&a].unsent, Some(Unsent::Send));
    assert!(
        h.hub.alias_holders("A").is_empty(),
        "its alias is free again"
    );
}

#[test]
fn half_close_while_paused_waits_for_the_kept_input() {
    let mut h = Harness::new(small_queues());
    let (p, r) = pair(&mut h);
    h.stall(r);
    let burst: Vec<u8> = (0..100).flat_map(|n| relay("R", n)).collect();
    h.send(p, &burst);
    h.send(p, b"{\"type\":\"ping\"}");
    h.eof(p);
    assert!(h.closed(p).is_none(), "its input is not all answered yet");
    h.read(r);
    assert_eq!(info_numbers(&h.take(r)), (0..100).collect::<Vec<_>>());
    let frames = h.take(p);
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0], HubFrame::Pong { id: None });
    assert!(matches!(&frames[1], HubFrame::Bye { reason, .. } if reason == "peer_closed"));
}

#[test]
fn half_close_inside_a_frame_is_reported() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.send(a, b"{\"type\":\"ping\"}{\"type\":");
    h.eof(a);
    let frames = h.take(a);
    assert_eq!(frames[0], HubFrame::Pong { id: None });
    assert_eq!(error_code(&frames[1]), "bad_json");
    assert!(matches!(&frames[2], HubFrame::Bye { reason, .. } if reason == "peer_closed"));
}

#[test]
fn a_frame_must_arrive_within_the_frame_timeout() {
    let mut h = Harness::new(HubConfig {
        frame_timeout: Some(Duration::from_secs(2)),
        ..HubConfig::default()
    });
    let [trickler, slow] = ["t:1", "s:1"].map(|p| h.connect(p));
    h.send(trickler, b"{\"type\":\"info\",\"message\":\"");
    for _ in 0..3 {
        h.advance(Duration::from_millis(600));
        h.send(trickler, b"x");
        h.send(slow, b"{\"type\":\"ping\"}");
    }
    assert!(h.closed(trickler).is_none());
    h.advance(Duration::from_millis(300)); // 2.1 s after its first byte
    assert_eq!(h.closed(trickler), Some(CloseReason::FrameTimeout));
    assert_eq!(
        error_code(h.take(trickler).last().unwrap()),
        "frame_timeout"
    );
    // Whole frames, however far apart, never trip it.
    h.advance(Duration::from_secs(60));
    assert!(h.closed(slow).is_none());
    assert_eq!(h.take(slow).len(), 3);
}

#[test]
fn list_pages_walk_every_session_once() {
    let mut h = Harness::new(HubConfig {
        max_list_rows: 100,
        ..HubConfig::default()
    });
    let asker = h.connect("asker:1");
    for i in 0..250 {
        h.connect(&format!("10.0.0.{}:{}", i % 200, i));
    }
    h.take(asker);
    h.send(asker, br#"{"type":"list","limit":0,"id":"count"}"#);
    match &h.take(asker)[..] {
        [HubFrame::Sessions {
            sessions,
            total,
            next,
            id,
            ..
        }] => {
            assert!(sessions.is_empty());
            assert_eq!(*total, 251);
            assert_eq!(next.as_deref(), Some("0"));
            assert_eq!(id, &Some(json!("count")));
        }
        other => panic!("{other:?}"),
    }
    let mut seen = Vec::new();
    let mut request = r#"{"type":"list","limit":1000}"#.to_owned();
    loop {
        h.send(asker, request.as_bytes());
        let HubFrame::Sessions { sessions, next, .. } = h.take(asker).remove(0) else {
            panic!("expected sessions");
        };
        assert!(sessions.len() <= 100, "a page is capped");
        seen.extend(sessions.into_iter().map(|s| s.session_id));
        match next {
            Some(cursor) => request = format!(r#"{{"type":"list","after":"{cursor}"}}"#),
            None => break,
        }
    }
    let expected: Vec<String> = h.hub.sessions().map(|s| s.session_id.to_string()).collect();
    assert_eq!(seen, expected);
    h.send(asker, br#"{"type":"list","after":"nonsense","id":2}"#);
    let frames = h.take(asker);
    assert_eq!(error_code(&frames[0]), "invalid_field");
    assert!(matches!(&frames[0], HubFrame::Error { id: Some(id), .. } if *id == json!(2)));
}

#[test]
fn replies_and_errors_carry_the_request_id() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","id":"s"}{"type":"ping","id":7}{"type":"info","to":"ghost","message":1,"id":"r1"}{"type":"info","to":"ghost","message":1}{"type":"ping","id":{"x":1}}"#,
    );
    let frames = h.take(a);
    assert!(matches!(&frames[0], HubFrame::Synced { id: Some(id), .. } if *id == json!("s")));
    assert_eq!(frames[1], HubFrame::Pong { id: Some(json!(7)) });
    assert!(
        matches!(&frames[2], HubFrame::Error { code, id: Some(id), .. } if code == "unknown_alias" && *id == json!("r1"))
    );
    assert!(matches!(&frames[3], HubFrame::Error { id: None, .. }));
    assert!(
        matches!(&frames[4], HubFrame::Error { code, id: None, .. } if code == "invalid_field")
    );
}

#[test]
fn a_relay_to_ones_own_alias_backs_up_only_oneself() {
    let mut h = Harness::new(small_queues());
    let (p, _) = pair(&mut h);
    h.stall(p);
    let burst: Vec<u8> = (0..100).flat_map(|n| relay("P", n)).collect();
    h.send(p, &burst);
    assert!(h.inboxes[&p].paused);
    h.read(p);
    let got = info_numbers(&h.take(p));
    assert_eq!(got, (0..100).collect::<Vec<_>>());
    assert!(!h.inboxes[&p].paused);
    assert_eq!(h.take(p), Vec::<HubFrame>::new());
}

#[test]
fn every_relayed_frame_reads_back_with_serde_json() {
    // Found by the hub fuzz target: a message nested to the decoder's old
    // limit was relayed in a frame serde_json refuses to read (its
    // recursion limit), and a number past f64 as a request id was echoed
    // in a reply no serde_json client could parse.
    let mut h = Harness::new(HubConfig::default());
    let (p, r) = pair(&mut h);
    let depth = tcphub_core::MAX_DEPTH as usize - 1; // plus the frame's own object
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    h.send(
        p,
        format!(r#"{{"type":"info","to":"R","message":{deep}}}"#).as_bytes(),
    );
    assert!(
        matches!(&h.take(r)[..], [HubFrame::Info { .. }]),
        "the harness parses every frame"
    );
    let too_deep = format!("[{deep}]");
    h.send(
        p,
        format!(r#"{{"type":"info","to":"R","message":{too_deep}}}"#).as_bytes(),
    );
    assert!(h.take(r).is_empty());
    assert_eq!(error_code(&h.take(p)[0]), "bad_json");
    // (After a broken frame the hub skips to the next newline.)
    h.send(p, b"\n{\"type\":\"ping\",\"id\":1e400}");
    assert_eq!(error_code(&h.take(p)[0]), "invalid_field");
}

#[test]
fn an_error_frame_that_overflows_its_queue_closes_the_session_without_a_panic() {
    // Found by the hub fuzz target: with a tiny queue cap, the error about
    // a long invalid alias passed the cap and closed the session, and the
    // hub then looked the closed session up to report the error.
    let mut h = Harness::new(HubConfig {
        max_frame_len: 256,
        high_watermark: 60,
        low_watermark: 10,
        max_queued_bytes: 316,
        ..HubConfig::default()
    });
    let a = h.connect("a:1");
    h.stall(a);
    let alias = "\u{c}".repeat(40);
    h.send(a, &tcphub_core::encode_sync(&alias));
    assert_eq!(h.closed(a), Some(CloseReason::SlowConsumer));
    let events = h.take_events();
    assert!(events
        .iter()
        .any(|e| matches!(e, tcphub_core::Event::ProtocolError { handle, .. } if *handle == a)));
    // And at end of stream, with a frame left open:
    let b = h.connect("b:1");
    h.stall(b);
    h.send(b, format!("{{\"type\":\"{}", "\u{c}".repeat(60)).as_bytes());
    h.eof(b);
    assert!(h.closed(b).is_some());
}
