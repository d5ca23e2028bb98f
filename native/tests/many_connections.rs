//! Thousands of concurrent connections, all receiving one broadcast.

mod common;

use common::*;
use serde_json::json;
use tcphub_core::HubFrame;
use tcphub_native::client::Client;

const CLIENTS: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_connections_all_receive_a_broadcast() {
    // Each connection takes two descriptors in this process (both ends).
    let wanted = (CLIENTS as u64) * 2 + 256;
    let limit = rlimit::increase_nofile_limit(wanted).expect("raise RLIMIT_NOFILE");
    assert!(
        limit >= wanted,
        "RLIMIT_NOFILE is {limit}; this test needs {wanted}"
    );

    let server = TestServer::start().await;
    // Connect and sync in waves, so a 2-core machine is never swamped.
    let mut clients: Vec<Client> = Vec::with_capacity(CLIENTS);
    for wave in (0..CLIENTS).collect::<Vec<_>>().chunks(250) {
        let joins: Vec<_> = wave
            .iter()
            .map(|&i| {
                let addr = server.addr;
                tokio::spawn(async move {
                    let mut client = Client::connect(addr).await.expect("connect");
                    client.sync(&format!("client-{i}")).await.expect("sync");
                    client
                })
            })
            .collect();
        for join in joins {
            clients.push(within(join).await.unwrap());
        }
    }
    assert_eq!(server.hub.sessions().await.len(), CLIENTS);

    let reached = server.hub.broadcast(text("to all 2000")).await.unwrap();
    assert_eq!(reached, CLIENTS);
    let joins: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                match client.expect_frame().await.expect("frame") {
                    HubFrame::Info { from, message, .. } => {
                        assert_eq!((from.as_str(), message), ("#hub", json!("to all 2000")));
                    }
                    other => panic!("{other:?}"),
                }
                client
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(CLIENTS);
    for join in joins {
        clients.push(within(join).await.unwrap());
    }
    // Relay from one client to `*` reaches the other 1,999 too.
    clients[0].send_text(Some("*"), "relayed").await.unwrap();
    let joins: Vec<_> = clients
        .into_iter()
        .skip(1)
        .map(|mut client| {
            tokio::spawn(async move {
                expect_info(&mut client, "client-0", json!("relayed")).await;
            })
        })
        .collect();
    for join in joins {
        within(join).await.unwrap();
    }
    server.shutdown().await;
}
