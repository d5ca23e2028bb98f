//! Routing over real connections: relay to an alias and to `*`, unknown
//! aliases, relay switched off, and the three alias policies.

mod common;

use common::*;
use serde_json::json;
use tcphub_core::{AliasPolicy, Event, HubConfig, HubFrame};

#[tokio::test]
async fn relay_to_an_alias_reaches_only_that_client() {
    let server = TestServer::start().await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    let mut c = server.synced("C").await;
    a.send_info(Some("B"), &raw(r#"{"n":1,"text":"hi B"}"#))
        .await
        .unwrap();
    expect_info(&mut b, "A", json!({"n": 1, "text": "hi B"})).await;
    expect_nothing_more(&mut a).await;
    expect_nothing_more(&mut b).await;
    expect_nothing_more(&mut c).await;
    server.shutdown().await;
}

#[tokio::test]
async fn relay_to_star_reaches_everyone_else_including_unsynced() {
    let server = TestServer::start().await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    let mut anonymous = server.client().await;
    a.send_text(Some("*"), "to all").await.unwrap();
    expect_info(&mut b, "A", json!("to all")).await;
    expect_info(&mut anonymous, "A", json!("to all")).await;
    expect_nothing_more(&mut a).await;
    // An unsynced sender is named by its session id (its address).
    anonymous.send_text(Some("*"), "who am I").await.unwrap();
    let id = anonymous.local_addr().to_string();
    expect_info(&mut a, &id, json!("who am I")).await;
    expect_info(&mut b, &id, json!("who am I")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_alias_gets_an_error_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut a = server.synced("A").await;
    a.send_text(Some("Nobody"), "hello?").await.unwrap();
    match frame(&mut a).await {
        HubFrame::Error { code, message, .. } => {
            assert_eq!(code, "unknown_alias");
            assert!(message.contains("\"Nobody\""), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let mut b = server.synced("B").await;
    a.send_text(Some("B"), "still here").await.unwrap();
    expect_info(&mut b, "A", json!("still here")).await;
    // The host gets the same answer from its handle.
    let err = server
        .hub
        .send_to_alias("Nobody".into(), text("x"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Nobody"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn relay_off_refuses_client_to_client_messages() {
    let mut server = TestServer::with_hub(HubConfig {
        relay: false,
        ..HubConfig::default()
    })
    .await;
    let mut a = server.synced("A").await;
    let mut b = server.synced("B").await;
    a.send_text(Some("B"), "psst").await.unwrap();
    match frame(&mut a).await {
        HubFrame::Error { code, .. } => assert_eq!(code, "relay_disabled"),
        other => panic!("{other:?}"),
    }
    expect_nothing_more(&mut b).await;
    // Messages for the host still arrive.
    a.send_text(None, "for the host").await.unwrap();
    let message = server
        .event(|e| match e {
            Event::Message { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(message.get(), r#""for the host""#);
    server.shutdown().await;
}

#[tokio::test]
async fn takeover_closes_the_old_holder_and_routes_to_the_new_one() {
    let server = TestServer::start().await;
    let mut old = server.synced("X").await;
    let mut new = server.synced("X").await;
    match frame(&mut old).await {
        HubFrame::Bye { reason, .. } => assert_eq!(reason, "taken_over"),
        other => panic!("{other:?}"),
    }
    assert!(within(old.next_frame()).await.unwrap().is_none(), "closed");
    server
        .hub
        .send_to_alias("X".into(), text("yours"))
        .await
        .unwrap();
    expect_info(&mut new, "#hub", json!("yours")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn reject_keeps_the_first_holder() {
    let server = TestServer::with_hub(HubConfig {
        alias_policy: AliasPolicy::Reject,
        ..HubConfig::default()
    })
    .await;
    let mut first = server.synced("X").await;
    let mut second = server.client().await;
    let err = within(second.sync("X")).await.unwrap_err();
    assert!(err.to_string().starts_with("alias_taken"), "{err}");
    server
        .hub
        .send_to_alias("X".into(), text("first"))
        .await
        .unwrap();
    expect_info(&mut first, "#hub", json!("first")).await;
    expect_nothing_more(&mut second).await;
    server.shutdown().await;
}

#[tokio::test]
async fn share_delivers_to_every_holder() {
    let server = TestServer::with_hub(HubConfig {
        alias_policy: AliasPolicy::Share,
        ..HubConfig::default()
    })
    .await;
    let mut one = server.synced("team").await;
    let mut two = server.synced("team").await;
    let mut sender = server.synced("boss").await;
    assert_eq!(
        server
            .hub
            .send_to_alias("team".into(), text("meeting"))
            .await
            .unwrap(),
        2
    );
    sender.send_text(Some("team"), "relayed").await.unwrap();
    for client in [&mut one, &mut two] {
        expect_info(client, "#hub", json!("meeting")).await;
        expect_info(client, "boss", json!("relayed")).await;
    }
    server.shutdown().await;
}
