//! The session limit, the idle timeout and the listen address.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tcphub_core::{ErrorCode, HubConfig, HubFrame};
use tcphub_native::client::ClientError;
use tcphub_native::{ServeError, Server, ServerOptions};

#[tokio::test]
async fn over_the_session_limit_a_connection_is_told_and_closed() {
    let server = TestServer::with_hub(HubConfig {
        max_sessions: 2,
        ..HubConfig::default()
    })
    .await;
    let first = server.synced("first").await;
    let mut second = server.synced("second").await;
    // The newcomer has already written its sync: the refusal must still
    // reach it (no reset beats it) and say why.
    let mut third = server.client().await;
    third
        .send_raw(br#"{"type":"sync","clientName":"third"}"#)
        .await
        .unwrap();
    match frame(&mut third).await {
        HubFrame::Error { code, message, .. } => {
            assert_eq!(code, "too_many_sessions");
            assert!(message.contains("2 sessions"), "{message}");
        }
        other => panic!("expected too_many_sessions, got {other:?}"),
    }
    assert!(
        within(third.next_frame()).await.unwrap().is_none(),
        "then the hub hangs up"
    );
    // A client waiting on its sync is told why the hub hung up: the refusal
    // answers no request (it has no id), it is the hub's last word.
    let mut fourth = server.client().await;
    match within(fourth.sync("fourth")).await {
        Err(ClientError::ClosedAfterError { code, .. }) => {
            assert_eq!(code, ErrorCode::TooManySessions.as_str())
        }
        other => panic!("expected the refusal, got {other:?}"),
    }
    let open: Vec<_> = server
        .hub
        .sessions()
        .await
        .into_iter()
        .map(|s| s.client_name.unwrap_or_default())
        .collect();
    assert_eq!(
        open,
        ["first", "second"],
        "the refused one never became a session"
    );
    expect_nothing_more(&mut second).await;

    // Once a place frees, a new client gets in.
    drop(first);
    within(async {
        loop {
            let mut fourth = server.client().await;
            match fourth.sync("fourth").await {
                Ok(_) => break,
                // The first connection's permit frees once its writer is
                // done, a moment after the hub forgot it.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn idle_sessions_are_closed_and_busy_ones_kept() {
    let server = TestServer::with_hub(HubConfig {
        idle_timeout: Some(Duration::from_millis(300)),
        ..HubConfig::default()
    })
    .await;
    let mut idle = server.synced("idle").await;
    let mut busy = server.synced("busy").await;
    let pinging = tokio::spawn(async move {
        for _ in 0..10 {
            let ping = busy.ping().await.unwrap();
            let pong = frame(&mut busy).await;
            assert!(
                matches!(pong, HubFrame::Pong { .. }) && ping.is_answered_by(&pong),
                "{pong:?}"
            );
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        busy
    });
    match frame(&mut idle).await {
        HubFrame::Bye { reason, .. } => assert_eq!(reason, "idle_timeout"),
        other => panic!("{other:?}"),
    }
    assert!(within(idle.next_frame()).await.unwrap().is_none());
    let mut busy = within(pinging).await.unwrap();
    server
        .hub
        .send_to_alias("busy".into(), text("still here"))
        .await
        .unwrap();
    expect_info(&mut busy, "#hub", json!("still here")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn ipv6_loopback_works_when_available() {
    let options = ServerOptions {
        listen: "[::1]:0".parse().unwrap(),
        ..ServerOptions::default()
    };
    let Ok((server, hub, _events)) = Server::bind(options).await else {
        eprintln!("no IPv6 loopback on this machine; skipped");
        return;
    };
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut client = tcphub_native::client::Client::connect(addr).await.unwrap();
    let id = within(client.sync("six")).await.unwrap();
    assert!(id.starts_with("[::1]:"), "{id}");
    hub.send_to_session(id, text("by session id"))
        .await
        .unwrap();
    expect_info(&mut client, "#hub", json!("by session id")).await;
    let _ = stop.send(());
    within(running).await.unwrap().unwrap();
}

#[tokio::test]
async fn address_in_use_is_an_error_naming_the_address() {
    let server = TestServer::start().await;
    let err = Server::bind(ServerOptions {
        listen: server.addr,
        ..ServerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ServeError::Bind { .. }));
    assert!(err.to_string().contains(&server.addr.to_string()), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_hub_settings_are_refused_at_bind() {
    let err = Server::bind(ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        hub: HubConfig {
            max_frame_len: 10,
            ..HubConfig::default()
        },
        ..ServerOptions::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("max_frame_len"), "{err}");
}

#[tokio::test]
async fn host_can_close_a_session_by_id() {
    let server = TestServer::start().await;
    let mut victim = server.synced("victim").await;
    let id = victim.local_addr().to_string();
    server.hub.close_session(id.clone()).await.unwrap();
    match frame(&mut victim).await {
        HubFrame::Bye { reason, .. } => assert_eq!(reason, "closed_by_host"),
        other => panic!("{other:?}"),
    }
    assert!(within(victim.next_frame()).await.unwrap().is_none());
    let err = server.hub.close_session(id).await.unwrap_err();
    assert!(err.to_string().contains("no open session has id"), "{err}");
    server.shutdown().await;
}
