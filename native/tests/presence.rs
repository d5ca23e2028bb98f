//! Presence and last wills over real connections: what watchers are told,
//! in what order, and when a client's last will goes out (its connection
//! drops) or does not (a clean `bye`, a re-sync without one).

mod common;

use std::borrow::Cow;

use common::*;
use serde_json::json;
use tcphub_core::{
    encode_sync_with_last_will, CloseReason, Event, HubConfig, HubFrame, LastWillRequest,
    RawMessage, RawValue, RelayTarget, WatchScope,
};
use tcphub_native::client::Client;
use tokio::io::AsyncWriteExt;

/// A `presence` frame's fields, as compared in these tests.
#[derive(Debug, PartialEq)]
struct Presence {
    event: String,
    alias: Option<String>,
    session_id: String,
    room: Option<String>,
    reason: Option<String>,
}

fn presence(event: &str, alias: Option<&str>, session_id: &str) -> Presence {
    Presence {
        event: event.into(),
        alias: alias.map(Into::into),
        session_id: session_id.into(),
        room: None,
        reason: None,
    }
}

async fn next_presence(client: &mut Client) -> Presence {
    match frame(client).await {
        HubFrame::Presence {
            event,
            alias,
            session_id,
            room,
            reason,
        } => Presence {
            event,
            alias,
            session_id,
            room,
            reason,
        },
        other => panic!("expected presence, got {other:?}"),
    }
}

/// Asserts the next frame is `from`'s last will: an `info` marked
/// `lastWill`, sent to `room` if it names one.
async fn expect_last_will(
    client: &mut Client,
    from: &str,
    room: Option<&str>,
    message: serde_json::Value,
) {
    match frame(client).await {
        HubFrame::Info {
            from: f,
            room: r,
            last_will,
            message: m,
        } => assert_eq!(
            (f.as_str(), r.as_deref(), last_will, m),
            (from, room, true, message)
        ),
        other => panic!("expected {from}'s last will, got {other:?}"),
    }
}

fn id(client: &Client) -> String {
    client.local_addr().to_string()
}

fn will_to_room<'a>(room: &'a str, message: &'a RawValue) -> LastWillRequest<'a> {
    LastWillRequest {
        room: Some(Cow::Borrowed(room)),
        to: Vec::new(),
        message: RawMessage::from(message),
    }
}

/// Waits for the host to see the session `session_id` close, and returns
/// why.
async fn closed(server: &mut TestServer, session_id: &str) -> CloseReason {
    server
        .event(|e| match e {
            Event::Closed {
                session_id: s,
                reason,
                ..
            } if *s == *session_id => Some(reason),
            _ => None,
        })
        .await
}

#[tokio::test]
async fn alias_watchers_are_told_of_syncs_takeovers_and_closes_in_order() {
    let server = TestServer::start().await;
    let mut watcher = server.synced("W").await;
    within(watcher.watch(&WatchScope::All)).await.unwrap();
    // A watcher is never told about itself.
    within(watcher.sync("W2")).await.unwrap();

    let mut first = server.synced("A").await;
    let first_id = id(&first);
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("synced", Some("A"), &first_id)
    );
    // A re-sync releases the old alias before claiming the new one.
    within(first.sync("A-renamed")).await.unwrap();
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("released", Some("A"), &first_id)
    );
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("synced", Some("A-renamed"), &first_id)
    );
    // A takeover: the old holder loses the alias, the new one has it.
    let second = server.synced("A-renamed").await;
    let second_id = id(&second);
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("taken_over", Some("A-renamed"), &first_id)
    );
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("synced", Some("A-renamed"), &second_id)
    );
    // Its connection drops.
    drop(second);
    assert_eq!(
        next_presence(&mut watcher).await,
        Presence {
            reason: Some("peer_closed".into()),
            ..presence("closed", Some("A-renamed"), &second_id)
        }
    );
    expect_nothing_more(&mut watcher).await;

    // Unwatched, nothing more comes.
    within(watcher.unwatch(&WatchScope::All)).await.unwrap();
    let _third = server.synced("C").await;
    expect_nothing_more(&mut watcher).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_named_alias_watch_sees_only_that_alias_even_before_it_exists() {
    let server = TestServer::start().await;
    let mut watcher = server.synced("W").await;
    let scope = WatchScope::Aliases(vec!["Later".into()]);
    within(watcher.watch(&scope)).await.unwrap();
    let _other = server.synced("Other").await;
    let later = server.synced("Later").await;
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("synced", Some("Later"), &id(&later))
    );
    expect_nothing_more(&mut watcher).await;
    server.shutdown().await;
}

#[tokio::test]
async fn room_watchers_are_told_who_joins_leaves_and_closes() {
    let server = TestServer::start().await;
    let mut watcher = server.synced("W").await;
    within(watcher.join("lobby")).await.unwrap();
    within(watcher.watch(&WatchScope::Room("lobby".into())))
        .await
        .unwrap();
    let mut a = server.synced("A").await;
    let a_id = id(&a);
    // Syncing is no room event; joining another room is none of its business.
    within(a.join("kitchen")).await.unwrap();
    expect_nothing_more(&mut watcher).await;

    within(a.join("lobby")).await.unwrap();
    let in_lobby = |event: &str| Presence {
        room: Some("lobby".into()),
        ..presence(event, Some("A"), &a_id)
    };
    assert_eq!(next_presence(&mut watcher).await, in_lobby("joined"));
    within(a.leave("lobby")).await.unwrap();
    assert_eq!(next_presence(&mut watcher).await, in_lobby("left"));
    within(a.join("lobby")).await.unwrap();
    assert_eq!(next_presence(&mut watcher).await, in_lobby("joined"));
    // A member's alias changes reach the room's watchers too.
    within(a.sync("A2")).await.unwrap();
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("released", Some("A"), &a_id)
    );
    assert_eq!(
        next_presence(&mut watcher).await,
        presence("synced", Some("A2"), &a_id)
    );
    drop(a);
    assert_eq!(
        next_presence(&mut watcher).await,
        Presence {
            reason: Some("peer_closed".into()),
            ..presence("closed", Some("A2"), &a_id)
        }
    );
    expect_nothing_more(&mut watcher).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_sends_its_last_will_to_the_room() {
    let mut server = TestServer::with_hub(HubConfig {
        observe: true,
        ..HubConfig::default()
    })
    .await;
    let mut b = server.synced("B").await;
    let mut c = server.synced("C").await;
    let mut outsider = server.synced("D").await;
    within(b.join("lobby")).await.unwrap();
    within(c.join("lobby")).await.unwrap();
    let mut a = server.client().await;
    let message = raw(r#""A dropped out""#);
    within(a.sync_with_last_will("A", Some(&will_to_room("lobby", &message))))
        .await
        .unwrap();
    within(a.join("lobby")).await.unwrap();
    let a_id = id(&a);
    // Closed without a `bye`: the process died, say.
    drop(a);
    expect_last_will(&mut b, "A", Some("lobby"), json!("A dropped out")).await;
    expect_last_will(&mut c, "A", Some("lobby"), json!("A dropped out")).await;
    expect_nothing_more(&mut outsider).await;
    // The observing host sees the will as a relay, before the close.
    let (target, recipients, last_will) = server
        .event(|e| match e {
            Event::Relayed {
                target,
                recipients,
                last_will,
                ..
            } => Some((target, recipients, last_will)),
            _ => None,
        })
        .await;
    assert_eq!(
        (target, recipients, last_will),
        (
            RelayTarget::Room(tcphub_core::Room::new("lobby").unwrap()),
            2,
            true
        )
    );
    assert_eq!(closed(&mut server, &a_id).await, CloseReason::PeerClosed);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_connection_sends_its_last_will_to_aliases() {
    let mut server = TestServer::start().await;
    let mut b = server.synced("B").await;
    let mut c = server.synced("C").await;
    // A raw socket, so it can end with a reset rather than a FIN.
    let mut a = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let a_id = a.local_addr().unwrap().to_string();
    let message = raw(r#"{"gone":"A"}"#);
    let will = LastWillRequest {
        room: None,
        to: vec!["B".into(), "C".into()],
        message: RawMessage::from(&*message),
    };
    a.write_all(&encode_sync_with_last_will("A", Some(&will)))
        .await
        .unwrap();
    server
        .event(|e| {
            matches!(e, Event::Synced { session_id, .. } if *session_id == *a_id).then_some(())
        })
        .await;
    socket2::SockRef::from(&a)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(a);
    expect_last_will(&mut b, "A", None, json!({"gone": "A"})).await;
    expect_last_will(&mut c, "A", None, json!({"gone": "A"})).await;
    assert_eq!(closed(&mut server, &a_id).await, CloseReason::PeerClosed);
    server.shutdown().await;
}

#[tokio::test]
async fn a_clean_bye_or_a_cleared_will_sends_nothing() {
    let mut server = TestServer::start().await;
    let mut b = server.synced("B").await;
    within(b.join("lobby")).await.unwrap();
    let message = raw(r#""should not arrive""#);

    // A clean bye: the hub says bye back, and the will stays unsent.
    let mut a = server.client().await;
    within(a.sync_with_last_will("A", Some(&will_to_room("lobby", &message))))
        .await
        .unwrap();
    let a_id = id(&a);
    let before = within(a.bye()).await.unwrap();
    assert!(before.is_empty(), "{before:?}");
    assert_eq!(closed(&mut server, &a_id).await, CloseReason::ClientBye);
    expect_nothing_more(&mut b).await;

    // A later sync without a will clears it.
    let mut a = server.client().await;
    within(a.sync_with_last_will("A", Some(&will_to_room("lobby", &message))))
        .await
        .unwrap();
    within(a.sync("A")).await.unwrap();
    let a_id = id(&a);
    drop(a);
    assert_eq!(closed(&mut server, &a_id).await, CloseReason::PeerClosed);
    expect_nothing_more(&mut b).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_last_will_over_the_limits_is_refused_by_name() {
    let server = TestServer::with_hub(HubConfig {
        max_frame_len: 1024,
        max_last_will_bytes: 500,
        ..HubConfig::default()
    })
    .await;
    let mut a = server.client().await;
    let big = serde_json::value::to_raw_value(&"x".repeat(600)).unwrap();
    match within(a.sync_with_last_will("A", Some(&will_to_room("lobby", &big)))).await {
        Err(tcphub_native::client::ClientError::Hub { code, message }) => {
            assert_eq!(code, "last_will_too_large");
            assert!(message.contains("at most 500"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let small = raw("1");
    let many: Vec<String> = (0..=tcphub_core::MAX_LAST_WILL_ALIASES)
        .map(|i| format!("A{i}"))
        .collect();
    let will = LastWillRequest {
        room: None,
        to: many.iter().map(|a| Cow::Borrowed(a.as_str())).collect(),
        message: RawMessage::from(&*small),
    };
    match within(a.sync_with_last_will("A", Some(&will))).await {
        Err(tcphub_native::client::ClientError::Hub { code, message }) => {
            assert_eq!(code, "invalid_field");
            assert!(message.contains("101 aliases"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Refused wills leave the session as it was: unsynced, and usable.
    assert_eq!(within(a.sync("A")).await.unwrap(), id(&a));
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_gone_silent_has_its_last_will_sent_at_the_idle_timeout() {
    let mut server = TestServer::with_hub(HubConfig {
        idle_timeout: Some(std::time::Duration::from_millis(500)),
        ..HubConfig::default()
    })
    .await;
    let mut b = server.synced("B").await;
    within(b.join("lobby")).await.unwrap();
    let mut a = server.client().await;
    let message = raw(r#""A went quiet""#);
    within(a.sync_with_last_will("A", Some(&will_to_room("lobby", &message))))
        .await
        .unwrap();
    let a_id = id(&a);
    // A says nothing more (its socket stays open); B keeps itself alive
    // with pings until the will arrives.
    let mut keepalive = tokio::time::interval(std::time::Duration::from_millis(100));
    let will = within(async {
        loop {
            tokio::select! {
                frame = b.expect_frame() => match frame.unwrap() {
                    HubFrame::Pong { .. } => {}
                    other => return other,
                },
                _ = keepalive.tick() => b.send_raw(tcphub_core::encode_ping()).await.unwrap(),
            }
        }
    })
    .await;
    match will {
        HubFrame::Info {
            from,
            room,
            last_will,
            message,
        } => assert_eq!(
            (from.as_str(), room.as_deref(), last_will, message),
            ("A", Some("lobby"), true, json!("A went quiet"))
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(closed(&mut server, &a_id).await, CloseReason::IdleTimeout);
    drop(a);
    server.shutdown().await;
}
