//! Graceful shutdown: everything queued before it began is delivered, then
//! a `bye`, then the connection closes; new connections are refused.

mod common;

use common::*;
use serde_json::json;
use tcphub_core::HubFrame;
use tokio::net::TcpStream;

const QUEUED: usize = 20_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_delivers_what_was_queued_then_bye() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let mut clients = Vec::new();
    for i in 0..3 {
        clients.push(server.synced(&format!("c{i}")).await);
    }
    // Queue far more than socket buffers hold, while nobody reads.
    for n in 0..QUEUED {
        let sent = server
            .hub
            .broadcast(raw(&format!(r#"{{"n":{n},"pad":"{}"}}"#, "p".repeat(100))))
            .await
            .unwrap();
        assert_eq!(sent, 3);
    }
    let stopping = tokio::spawn(server.shutdown());
    for client in &mut clients {
        for n in 0..QUEUED {
            match frame(client).await {
                HubFrame::Info { from, message, .. } => {
                    assert_eq!(from, "#hub");
                    assert_eq!(message["n"], json!(n));
                }
                other => panic!("message {n}: {other:?}"),
            }
        }
        match frame(client).await {
            HubFrame::Bye { reason, .. } => assert_eq!(reason, "shutdown"),
            other => panic!("{other:?}"),
        }
        assert!(within(client.next_frame()).await.unwrap().is_none());
    }
    within(stopping).await.unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn handle_reports_stopped_after_shutdown_and_events_end() {
    let server = TestServer::start().await;
    let hub = server.hub.clone();
    let _client = server.synced("a").await;
    let events = server.shutdown_collecting_events().await;
    let reasons: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            tcphub_core::Event::Closed { reason, .. } => Some(*reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, [tcphub_core::CloseReason::Shutdown]);
    let err = hub.broadcast(text("late")).await.unwrap_err();
    assert!(matches!(err, tcphub_native::CommandError::Stopped), "{err}");
    assert!(hub.sessions().await.is_empty());
}
