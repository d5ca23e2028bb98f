//! Rooms over real connections: who a room message reaches, how
//! membership ends, the host's room commands, the typed errors of bad
//! requests, and a host observing every relay.

mod common;

use common::*;
use serde_json::json;
use tcphub_core::{CloseReason, Event, HubConfig, HubError, HubFrame, RelayTarget, HUB_NAME};
use tcphub_native::client::{Client, ClientError};
use tcphub_native::{CommandError, RoomEntry};

/// Asserts the next frame is an `info` sent to `room` by `from`.
async fn expect_room_info(client: &mut Client, from: &str, room: &str, message: serde_json::Value) {
    match frame(client).await {
        HubFrame::Info {
            from: f,
            room: r,
            last_will,
            message: m,
        } => {
            assert_eq!(
                (f.as_str(), r.as_deref(), last_will, m),
                (from, Some(room), false, message)
            );
        }
        other => panic!("expected info from {from} in {room}, got {other:?}"),
    }
}

/// Asserts the next frame is the hub's `error` with `code`, and returns
/// its message.
async fn expect_error(client: &mut Client, code: &str) -> String {
    match frame(client).await {
        HubFrame::Error {
            code: c, message, ..
        } => {
            assert_eq!(c, code, "{message}");
            message
        }
        other => panic!("expected error {code}, got {other:?}"),
    }
}

fn hub_error(result: Result<impl std::fmt::Debug, ClientError>, code: &str) -> String {
    match result {
        Err(ClientError::Hub { code: c, message }) if c == code => message,
        other => panic!("expected the hub's {code}, got {other:?}"),
    }
}

fn id(client: &Client) -> String {
    client.local_addr().to_string()
}

#[tokio::test]
async fn a_room_message_reaches_the_other_members_only() {
    let server = TestServer::start().await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    let mut c = server.synced("C").await;
    let mut outsider = server.synced("D").await;
    assert_eq!(within(a.join("lobby")).await.unwrap(), 1);
    assert_eq!(within(b.join("lobby")).await.unwrap(), 2);
    assert_eq!(within(c.join("kitchen")).await.unwrap(), 1);

    a.send_text_to_room("lobby", "hi lobby").await.unwrap();
    expect_room_info(&mut b, "A", "lobby", json!("hi lobby")).await;
    // Not the sender, not a member of another room, not an outsider.
    expect_nothing_more(&mut a).await;
    expect_nothing_more(&mut c).await;
    expect_nothing_more(&mut outsider).await;

    // A sender need not be a member: every member gets it.
    outsider
        .send_to_room("lobby", &raw(r#"{"knock":true}"#))
        .await
        .unwrap();
    expect_room_info(&mut a, "D", "lobby", json!({"knock": true})).await;
    expect_room_info(&mut b, "D", "lobby", json!({"knock": true})).await;
    expect_nothing_more(&mut outsider).await;
    expect_nothing_more(&mut c).await;

    // Only members see the member list.
    let members = within(a.list_room("lobby")).await.unwrap();
    let aliases: Vec<_> = members.iter().map(|m| m.client_name.as_deref()).collect();
    assert_eq!(aliases, [Some("A"), Some("B")]);
    let refused = within(outsider.list_room("lobby")).await;
    assert!(hub_error(refused, "not_in_room").contains("\"lobby\""));
    server.shutdown().await;
}

#[tokio::test]
async fn leaving_and_disconnecting_end_membership() {
    let mut server = TestServer::start().await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    let mut c = server.synced("C").await;
    for client in [&mut a, &mut b, &mut c] {
        within(client.join("lobby")).await.unwrap();
    }
    within(b.leave("lobby")).await.unwrap();
    a.send_text_to_room("lobby", "after B left").await.unwrap();
    expect_room_info(&mut c, "A", "lobby", json!("after B left")).await;
    expect_nothing_more(&mut b).await;
    // Leaving again is a mistake the hub names.
    let again = within(b.leave("lobby")).await;
    assert!(hub_error(again, "not_in_room").contains("\"lobby\""));

    // C's connection drops: it is no member any more once it is gone.
    let c_id = id(&c);
    drop(c);
    let reason = server
        .event(|e| match e {
            Event::Closed {
                session_id, reason, ..
            } if *session_id == *c_id => Some(reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, CloseReason::PeerClosed);
    let members = server.hub.room_members("lobby".into()).await;
    assert_eq!(
        members
            .iter()
            .map(|m| m.session_id.as_str())
            .collect::<Vec<_>>(),
        [id(&a)]
    );
    assert_eq!(
        server.hub.rooms().await,
        [RoomEntry {
            room: "lobby".into(),
            members: 1
        }]
    );
    // The last member leaves: the room is gone.
    within(a.leave("lobby")).await.unwrap();
    assert!(server.hub.rooms().await.is_empty());
    b.send_text_to_room("lobby", "anyone?").await.unwrap();
    let message = expect_error(&mut b, "unknown_room").await;
    assert!(message.contains("\"lobby\""), "{message}");
    server.shutdown().await;
}

#[tokio::test]
async fn the_host_puts_sessions_in_rooms_and_sends_to_them() {
    let mut server = TestServer::with_hub(HubConfig {
        max_rooms_per_session: 1,
        ..HubConfig::default()
    })
    .await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    let hub = server.hub.clone();

    assert!(hub.join_room(id(&a), "ops".into()).await.unwrap());
    match frame(&mut a).await {
        HubFrame::Joined { room, members, id } => {
            assert_eq!((room.as_str(), members, id), ("ops", 1, None))
        }
        other => panic!("{other:?}"),
    }
    let (alias, room) = server
        .event(|e| match e {
            Event::Joined { alias, room, .. } => Some((alias.unwrap(), room)),
            _ => None,
        })
        .await;
    assert_eq!((alias.as_str(), room.as_str()), ("A", "ops"));
    // Already a member: false, and told again.
    assert!(!hub.join_room(id(&a), "ops".into()).await.unwrap());
    assert!(matches!(frame(&mut a).await, HubFrame::Joined { .. }));

    assert_eq!(
        hub.send_to_room("ops".into(), text("deploy"))
            .await
            .unwrap(),
        1
    );
    expect_room_info(&mut a, HUB_NAME, "ops", json!("deploy")).await;
    expect_nothing_more(&mut b).await;
    let members = hub.room_members("ops".into()).await;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].client_name.as_deref(), Some("A"));
    assert!(hub.room_members("nowhere".into()).await.is_empty());

    // The cap of one room, a bad name, an unknown session: typed errors.
    match hub.join_room(id(&a), "second".into()).await {
        Err(CommandError::Hub(HubError::TooManyRooms { max: 1, .. })) => {}
        other => panic!("{other:?}"),
    }
    match hub.join_room(id(&b), "#ops".into()).await {
        Err(CommandError::Hub(HubError::InvalidRoom(message))) => {
            assert!(message.contains("\"#ops\""), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match hub.join_room("127.0.0.1:1".into(), "ops".into()).await {
        Err(CommandError::Hub(HubError::UnknownSessionId(_))) => {}
        other => panic!("{other:?}"),
    }
    expect_nothing_more(&mut b).await;

    assert!(hub.leave_room(id(&a), "ops".into()).await.unwrap());
    match frame(&mut a).await {
        HubFrame::Left { room, .. } => assert_eq!(room, "ops"),
        other => panic!("{other:?}"),
    }
    assert!(!hub.leave_room(id(&a), "ops".into()).await.unwrap());
    match hub.send_to_room("ops".into(), text("anyone?")).await {
        Err(CommandError::Hub(HubError::UnknownRoom(room))) => assert_eq!(room, "ops"),
        other => panic!("{other:?}"),
    }
    expect_nothing_more(&mut a).await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_room_requests_get_typed_errors_and_the_session_goes_on() {
    let server = TestServer::with_hub(HubConfig {
        max_rooms_per_session: 2,
        max_watched_aliases: 2,
        ..HubConfig::default()
    })
    .await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;

    for bad in ["#lobby", "*", "", &"x".repeat(65)] {
        let message = hub_error(within(a.join(bad)).await, "invalid_room");
        assert!(message.starts_with("invalid room"), "{message}");
    }
    within(a.join("one")).await.unwrap();
    within(a.join("two")).await.unwrap();
    let message = hub_error(within(a.join("three")).await, "too_many_rooms");
    assert!(message.contains('2'), "{message}");
    hub_error(within(a.leave("three")).await, "not_in_room");
    a.send_text_to_room("empty", "hello?").await.unwrap();
    expect_error(&mut a, "unknown_room").await;
    a.send_raw(br#"{"type":"info","to":"B","room":"one","message":1}"#)
        .await
        .unwrap();
    a.send_raw(b"\n").await.unwrap();
    expect_error(&mut a, "invalid_field").await;
    let watch = tcphub_core::WatchScope::Aliases(vec!["X".into(), "Y".into(), "Z".into()]);
    let message = hub_error(within(a.watch(&watch)).await, "too_many_watches");
    assert!(message.contains('2'), "{message}");
    // A room watch needs membership.
    let scope = tcphub_core::WatchScope::Room("elsewhere".into());
    hub_error(within(a.watch(&scope)).await, "not_in_room");

    // None of that closed anything: the session still works.
    within(b.join("one")).await.unwrap();
    a.send_text_to_room("one", "still here").await.unwrap();
    expect_room_info(&mut b, "A", "one", json!("still here")).await;
    expect_nothing_more(&mut a).await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_observing_host_sees_every_relay_in_order() {
    let mut server = TestServer::with_hub(HubConfig {
        observe: true,
        ..HubConfig::default()
    })
    .await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    within(a.join("lobby")).await.unwrap();
    within(b.join("lobby")).await.unwrap();

    a.send_text(Some("B"), "direct").await.unwrap();
    a.send_text(Some("*"), "everyone").await.unwrap();
    a.send_text_to_room("lobby", "room").await.unwrap();
    expect_info(&mut b, "A", json!("direct")).await;
    expect_info(&mut b, "A", json!("everyone")).await;
    expect_room_info(&mut b, "A", "lobby", json!("room")).await;
    // Only once those arrived, so the hub's order is known.
    b.send_info(Some("A"), &raw(r#"{"n":4}"#)).await.unwrap();
    expect_info(&mut a, "B", json!({"n": 4})).await;
    // Not relays: a message for the host, and one nobody receives.
    a.send_text(None, "for the host").await.unwrap();
    a.send_text(Some("Nobody"), "lost").await.unwrap();
    expect_error(&mut a, "unknown_alias").await;

    let mut seen = Vec::new();
    while seen.len() < 4 {
        let relay = server
            .event(|e| match e {
                Event::Relayed {
                    alias,
                    target,
                    message,
                    recipients,
                    last_will,
                    ..
                } => Some((
                    alias.map(|a| a.to_string()),
                    target,
                    message.get().to_owned(),
                    recipients,
                    last_will,
                )),
                _ => None,
            })
            .await;
        seen.push(relay);
    }
    let alias = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        [
            (
                alias("A"),
                RelayTarget::Alias(tcphub_core::Alias::new("B").unwrap()),
                r#""direct""#.to_owned(),
                1,
                false
            ),
            (
                alias("A"),
                RelayTarget::Everyone,
                r#""everyone""#.to_owned(),
                1,
                false
            ),
            (
                alias("A"),
                RelayTarget::Room(tcphub_core::Room::new("lobby").unwrap()),
                r#""room""#.to_owned(),
                1,
                false
            ),
            (
                alias("B"),
                RelayTarget::Alias(tcphub_core::Alias::new("A").unwrap()),
                r#"{"n":4}"#.to_owned(),
                1,
                false
            ),
        ]
    );
    // Nothing more was relayed: the host message and the lost one are not.
    let rest = server.shutdown_collecting_events().await;
    assert!(
        !rest.iter().any(|e| matches!(e, Event::Relayed { .. })),
        "{rest:?}"
    );
}

#[tokio::test]
async fn a_host_that_does_not_observe_sees_no_relays() {
    let server = TestServer::start().await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    a.send_text(Some("B"), "direct").await.unwrap();
    expect_info(&mut b, "A", json!("direct")).await;
    drop((a, b));
    let events = server.shutdown_collecting_events().await;
    assert!(
        !events.iter().any(|e| matches!(e, Event::Relayed { .. })),
        "{events:?}"
    );
}

#[tokio::test]
async fn room_and_watch_caps_out_of_range_are_refused_at_bind() {
    for (config, name) in [
        (
            HubConfig {
                max_rooms_per_session: 0,
                ..HubConfig::default()
            },
            "max_rooms_per_session",
        ),
        (
            HubConfig {
                max_watched_aliases: tcphub_core::MAX_PER_SESSION_CAP + 1,
                ..HubConfig::default()
            },
            "max_watched_aliases",
        ),
    ] {
        let options = tcphub_native::ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            hub: config,
            ..tcphub_native::ServerOptions::default()
        };
        match tcphub_native::Server::bind(options).await {
            Err(e @ tcphub_native::ServeError::Config(_)) => {
                assert!(e.to_string().contains(name), "{e}")
            }
            Err(other) => panic!("{other}"),
            Ok(_) => panic!("{name} out of range was accepted"),
        }
    }
}

#[tokio::test]
async fn an_observing_host_that_reads_late_misses_no_relay() {
    // A queue of 8 events for the host, and 500 relays sent before it reads
    // any: without pacing, almost all would be dropped.
    let mut server = TestServer::with(|o| {
        o.hub.observe = true;
        o.event_queue_len = 8;
    })
    .await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    const N: usize = 500;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            a.send_info(Some("B"), &raw(&i.to_string())).await.unwrap();
        }
        a
    });
    let mut observed = Vec::new();
    while observed.len() < N {
        let message = server
            .event(|e| match e {
                Event::Relayed { message, .. } => Some(message.get().to_owned()),
                _ => None,
            })
            .await;
        observed.push(message);
    }
    let expected: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(observed, expected, "every relay, in order");
    for i in 0..N {
        expect_info(&mut b, "A", json!(i)).await;
    }
    let _a = within(sender).await.unwrap();
    server.shutdown().await;
}
