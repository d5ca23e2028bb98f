//! Relay, alias policies, limits and timers, one behaviour per test.

mod common;

use std::time::Duration;

use common::{error_code, info, Harness};
use serde_json::json;
use tcphub_core::{
    AliasPolicy, CloseReason, Event, HubConfig, HubError, HubFrame, SessionEntry, HUB_NAME,
};

fn hub_with(policy: AliasPolicy) -> Harness {
    Harness::new(HubConfig {
        alias_policy: policy,
        ..HubConfig::default()
    })
}

#[test]
fn relay_to_alias_reaches_only_that_alias() {
    let mut h = Harness::new(HubConfig::default());
    let [a, b, c] = ["a:1", "b:1", "c:1"].map(|p| h.connect(p));
    h.sync(a, "A");
    h.sync(b, "B");
    h.sync(c, "C");
    for id in [a, b, c] {
        h.take(id);
    }
    h.send(a, br#"{"type":"info","to":"B","message":{"n":1}}"#);
    assert_eq!(h.take(b), [info("A", json!({"n": 1}))]);
    assert!(h.take(a).is_empty() && h.take(c).is_empty());
}

#[test]
fn relay_to_star_reaches_every_other_session_with_one_encoding() {
    let mut h = Harness::new(HubConfig::default());
    let ids: Vec<_> = (0..5)
        .map(|i| h.connect(&format!("10.0.0.{i}:9")))
        .collect();
    h.sync(ids[0], "sender");
    h.take(ids[0]);
    h.hub
        .handle_data(h.now, ids[0], br#"{"type":"info","to":"*","message":"hi"}"#)
        .unwrap();
    let mut frames = Vec::new();
    while let Some(out) = h.hub.poll_output() {
        if let tcphub_core::Output::Transmit {
            handle: session,
            frame,
        } = out
        {
            frames.push((session, frame));
        }
    }
    let recipients: Vec<_> = frames.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        recipients,
        ids[1..],
        "everyone but the sender, in accept order"
    );
    let first = frames[0].1.as_ptr();
    assert!(
        frames.iter().all(|(_, f)| f.as_ptr() == first),
        "one shared buffer"
    );
}

#[test]
fn unsynced_sender_is_named_by_session_id() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("[::1]:5000");
    let b = h.connect("[::1]:5001");
    h.sync(b, "B");
    h.take(b);
    h.send(a, br#"{"type":"info","to":"B","message":1}"#);
    assert_eq!(h.take(b), [info("[::1]:5000", json!(1))]);
}

#[test]
fn unknown_alias_tells_the_sender() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.send(a, br#"{"type":"info","to":"ghost","message":1}"#);
    let frames = h.take(a);
    assert_eq!(error_code(&frames[0]), "unknown_alias");
    assert!(matches!(&frames[0], HubFrame::Error { message, .. } if message.contains("\"ghost\"")));
    assert!(h.closed(a).is_none(), "a mistake, not a reason to close");
}

#[test]
fn relay_disabled() {
    let mut h = Harness::new(HubConfig {
        relay: false,
        ..HubConfig::default()
    });
    let [a, b] = ["a:1", "b:1"].map(|p| h.connect(p));
    h.sync(b, "B");
    h.take(b);
    h.send(a, br#"{"type":"info","to":"B","message":1}"#);
    assert_eq!(error_code(&h.take(a)[0]), "relay_disabled");
    assert!(h.take(b).is_empty());
    // Messages for the host still flow.
    h.take_events();
    h.send(a, br#"{"type":"info","message":1}"#);
    assert!(matches!(h.take_events()[..], [Event::Message { .. }]));
}

#[test]
fn takeover_closes_the_old_holder_and_routes_to_the_new() {
    let mut h = hub_with(AliasPolicy::Takeover);
    let old = h.connect("a:1");
    h.sync(old, "Client-1");
    h.take(old);
    let new = h.connect("a:2");
    h.take_events();
    h.sync(new, "Client-1");

    let old_frames = h.take(old);
    assert!(
        matches!(&old_frames[..], [HubFrame::Bye { reason, message }] if reason == "taken_over" && message.contains("a:2")),
        "{old_frames:?}"
    );
    assert_eq!(h.closed(old), Some(CloseReason::TakenOver));
    let events = h.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::Synced { handle: session, took_over_from: Some(o), .. } if *session == new && *o == old)));
    assert!(events.iter().any(|e| matches!(e, Event::Closed { handle: session, reason: CloseReason::TakenOver, .. } if *session == old)));

    h.hub.send_to_alias("Client-1", "to the new one").unwrap();
    h.drain();
    assert_eq!(
        h.take(new).last(),
        Some(&info(HUB_NAME, json!("to the new one")))
    );
}

#[test]
fn reject_refuses_the_claimant_and_keeps_its_old_alias() {
    let mut h = hub_with(AliasPolicy::Reject);
    let [a, b] = ["a:1", "b:1"].map(|p| h.connect(p));
    h.sync(a, "X");
    h.sync(b, "Y");
    h.take(b);
    h.sync(b, "X");
    assert_eq!(error_code(&h.take(b)[0]), "alias_taken");
    assert_eq!(h.hub.alias_holders("X"), [a]);
    assert_eq!(h.hub.alias_holders("Y"), [b]);
    assert!(h.closed(a).is_none() && h.closed(b).is_none());
}

#[test]
fn share_delivers_to_every_holder() {
    let mut h = hub_with(AliasPolicy::Share);
    let [a, b, c] = ["a:1", "b:1", "c:1"].map(|p| h.connect(p));
    h.sync(a, "room");
    h.sync(b, "room");
    h.take(a);
    h.take(b);
    h.send(c, br#"{"type":"info","to":"room","message":"x"}"#);
    assert_eq!(h.take(a), [info("c:1", json!("x"))]);
    assert_eq!(h.take(b), [info("c:1", json!("x"))]);
    assert_eq!(h.hub.send_to_alias("room", "y").unwrap(), 2);
}

#[test]
fn resync_releases_the_old_alias() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.sync(a, "old");
    h.take_events();
    h.sync(a, "new");
    let events = h.take_events();
    assert!(
        matches!(&events[..], [Event::Released { alias: r, .. }, Event::Synced { alias: s, .. }] if r.as_str() == "old" && s.as_str() == "new")
    );
    assert!(h.hub.alias_holders("old").is_empty());
    // Syncing to the alias already held is answered again and changes nothing.
    h.take(a);
    h.sync(a, "new");
    assert!(matches!(&h.take(a)[..], [HubFrame::Synced { .. }]));
    assert!(h.take_events().is_empty());
}

#[test]
fn invalid_alias_is_refused_and_session_stays() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    for bad in ["*", "#hub", "", &"x".repeat(65)] {
        h.sync(a, bad);
        assert_eq!(error_code(&h.take(a)[0]), "invalid_alias", "{bad:?}");
    }
    assert!(h.closed(a).is_none());
    assert!(h.hub.session(a).unwrap().alias.is_none());
}

#[test]
fn list_and_ping() {
    let mut h = Harness::new(HubConfig::default());
    let [a, _b] = ["a:1", "b:1"].map(|p| h.connect(p));
    h.sync(a, "A");
    h.take(a);
    h.send(a, b"{\"type\":\"list\"}\n{\"type\":\"ping\"}\n");
    let expected = vec![
        SessionEntry {
            node: None,
            session_id: "a:1".into(),
            client_name: Some("A".into()),
        },
        SessionEntry {
            node: None,
            session_id: "b:1".into(),
            client_name: None,
        },
    ];
    assert_eq!(
        h.take(a),
        [
            HubFrame::Sessions {
                sessions: expected,
                total: 2,
                next: None,
                room: None,
                id: None
            },
            HubFrame::Pong { id: None }
        ]
    );
}

#[test]
fn bad_json_is_answered_and_the_session_goes_on() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.send(
        a,
        b"{\"type\":}\nnot json at all\n{\"type\":\"jump\"}{\"type\":\"ping\"}",
    );
    let frames = h.take(a);
    let codes: Vec<&str> = frames[..3].iter().map(error_code).collect();
    assert_eq!(codes, ["bad_json", "bad_json", "unknown_type"]);
    assert_eq!(frames[3], HubFrame::Pong { id: None });
    assert!(h.closed(a).is_none());
    let errors = h
        .take_events()
        .into_iter()
        .filter(|e| matches!(e, Event::ProtocolError { .. }))
        .count();
    assert_eq!(errors, 3);
}

#[test]
fn oversized_frame_closes_only_that_session() {
    let mut h = Harness::new(HubConfig {
        max_frame_len: 1024,
        ..HubConfig::default()
    });
    let [a, b] = ["a:1", "b:1"].map(|p| h.connect(p));
    h.sync(b, "B");
    h.take(b);
    h.send(a, b"{\"type\":\"info\",\"message\":\"");
    h.send(a, &[b'x'; 2000]);
    assert_eq!(error_code(&h.take(a)[0]), "frame_too_large");
    assert_eq!(h.closed(a), Some(CloseReason::FrameTooLarge));
    assert!(matches!(
        h.hub.handle_data(h.now, a, b"{}"),
        Err(HubError::UnknownHandle(_))
    ));
    h.hub.broadcast("still here").unwrap();
    h.drain();
    assert_eq!(h.take(b), [info(HUB_NAME, json!("still here"))]);
}

#[test]
fn too_many_sessions_refuses_the_newcomer_only() {
    let mut h = Harness::new(HubConfig {
        max_sessions: 2,
        ..HubConfig::default()
    });
    let [a, b, c] = ["a:1", "b:1", "c:1"].map(|p| h.connect(p));
    assert_eq!(error_code(&h.take(c)[0]), "too_many_sessions");
    assert_eq!(h.closed(c), Some(CloseReason::TooManySessions));
    assert!(h.closed(a).is_none() && h.closed(b).is_none());
    assert_eq!(h.hub.session_count(), 2);
    h.disconnect(a);
    let d = h.connect("d:1");
    assert!(h.closed(d).is_none(), "room again after a close");
}

#[test]
fn idle_timeout_closes_quiet_sessions_and_sets_deadlines() {
    let timeout = Duration::from_secs(10);
    let mut h = Harness::new(HubConfig {
        idle_timeout: Some(timeout),
        ..HubConfig::default()
    });
    assert_eq!(h.hub.poll_timeout(), None);
    let quiet = h.connect("q:1");
    h.advance(Duration::from_secs(4));
    let chatty = h.connect("c:1");
    assert_eq!(h.hub.poll_timeout(), Some(Duration::from_secs(10)));
    h.advance(Duration::from_secs(5));
    h.send(chatty, b"{\"type\":\"ping\"}");
    h.advance(Duration::from_secs(1)); // t = 10 s: the quiet one's deadline
    assert_eq!(h.closed(quiet), Some(CloseReason::IdleTimeout));
    assert!(
        matches!(h.take(quiet).last(), Some(HubFrame::Bye { reason, .. }) if reason == "idle_timeout")
    );
    assert!(h.closed(chatty).is_none());
    assert_eq!(h.hub.poll_timeout(), Some(Duration::from_secs(19)));
    h.advance(Duration::from_secs(9));
    assert_eq!(h.closed(chatty), Some(CloseReason::IdleTimeout));
    assert_eq!(h.hub.poll_timeout(), None);
}

#[test]
fn shutdown_says_bye_to_everyone_and_refuses_newcomers() {
    let mut h = Harness::new(HubConfig::default());
    let [a, b] = ["a:1", "b:1"].map(|p| h.connect(p));
    h.hub.broadcast("last words").unwrap();
    h.hub.shutdown();
    h.drain();
    for id in [a, b] {
        let frames = h.take(id);
        assert_eq!(
            frames[0],
            info(HUB_NAME, json!("last words")),
            "queued before shutdown, kept"
        );
        assert!(matches!(&frames[1], HubFrame::Bye { reason, .. } if reason == "shutdown"));
        assert_eq!(h.closed(id), Some(CloseReason::Shutdown));
    }
    let late = h.connect("c:1");
    assert_eq!(h.closed(late), Some(CloseReason::Shutdown));
}

#[test]
fn driver_reported_slow_consumer() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    h.sync(a, "A");
    h.hub.close_session(a, CloseReason::SlowConsumer).unwrap();
    h.drain();
    assert_eq!(h.closed(a), Some(CloseReason::SlowConsumer));
    assert!(h.hub.alias_holders("A").is_empty());
}

#[test]
fn driver_misuse_is_an_error_not_a_panic() {
    let mut h = Harness::new(HubConfig::default());
    let a = h.connect("a:1");
    assert!(matches!(
        h.hub.handle_accept(h.now, "a:1"),
        Err(HubError::DuplicateSessionId(_))
    ));
    h.advance(Duration::from_secs(5));
    assert!(matches!(
        h.hub.handle_data(Duration::from_secs(1), a, b"{}"),
        Err(HubError::TimeWentBackwards { .. })
    ));
    h.disconnect(a);
    assert!(matches!(
        h.hub.handle_close(h.now, a),
        Err(HubError::UnknownHandle(_))
    ));
    assert!(matches!(
        h.hub.send_to_alias("nobody", "x"),
        Err(HubError::UnknownAlias(_))
    ));
    assert!(matches!(
        h.hub.send_to_session(a, "x"),
        Err(HubError::UnknownHandle(_))
    ));
    let mut bad_key = std::collections::BTreeMap::new();
    bad_key.insert((1, 2), 3);
    assert!(matches!(
        h.hub.broadcast(&bad_key),
        Err(HubError::InvalidMessage(_))
    ));
    assert!(HubConfig {
        max_sessions: 0,
        ..HubConfig::default()
    }
    .validate()
    .is_err());
}

#[test]
fn pretty_printed_message_is_relayed_on_one_line() {
    let mut h = Harness::new(HubConfig::default());
    let [a, b] = ["a:1", "b:1"].map(|p| h.connect(p));
    h.sync(b, "B");
    h.take(b);
    h.send(
        a,
        b"{\"type\":\"info\",\n \"to\": \"B\",\n \"message\": {\n  \"k\": [1,\n 2]\n }\n}\n",
    );
    assert_eq!(h.take(b), [info("a:1", json!({"k": [1, 2]}))]);
}
