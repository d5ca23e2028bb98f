//! The tutorial's scenario over real sockets: two clients sync their
//! aliases the tutorial's way, the host broadcasts and sends to each alias,
//! and only the right client receives each message.

mod common;

use common::*;
use serde_json::json;
use tcphub_core::{Event, HubFrame, HUB_NAME};

#[tokio::test]
async fn tutorial_scenario_end_to_end() {
    let mut server = TestServer::start().await;
    let mut c1 = server.client().await;
    let mut c2 = server.client().await;
    // Exactly the tutorial's bytes: no delimiter, an extra `message` field.
    c1.send_raw(r#"{"type":"sync","clientName":"Client-1","message":"同步基础信息"}"#.as_bytes())
        .await
        .unwrap();
    c2.send_raw(r#"{"type":"sync","clientName":"Client-2","message":"同步基础信息"}"#.as_bytes())
        .await
        .unwrap();
    for (client, alias) in [(&mut c1, "Client-1"), (&mut c2, "Client-2")] {
        match frame(client).await {
            HubFrame::Synced {
                client_name,
                session_id,
                ..
            } => {
                assert_eq!(client_name, alias);
                assert_eq!(session_id, client.local_addr().to_string());
            }
            other => panic!("{other:?}"),
        }
    }
    c1.send_raw(r#"{"type":"info","clientName":"Client-1","message":"1111"}"#.as_bytes())
        .await
        .unwrap();
    let (alias, message) = server
        .event(|e| match e {
            Event::Message { alias, message, .. } => Some((alias, message)),
            _ => None,
        })
        .await;
    assert_eq!(alias.unwrap().as_str(), "Client-1");
    assert_eq!(message.get(), r#""1111""#);

    assert_eq!(
        server.hub.broadcast(text("大家来领物资了")).await.unwrap(),
        2
    );
    let to_one = server
        .hub
        .send_to_alias("Client-1".into(), text("赶紧来做核酸了, 就差你了"));
    assert_eq!(to_one.await.unwrap(), 1);
    let to_two = server
        .hub
        .send_to_alias("Client-2".into(), text("一会儿上门做核酸"));
    assert_eq!(to_two.await.unwrap(), 1);

    expect_info(&mut c1, HUB_NAME, json!("大家来领物资了")).await;
    expect_info(&mut c1, HUB_NAME, json!("赶紧来做核酸了, 就差你了")).await;
    expect_nothing_more(&mut c1).await;
    expect_info(&mut c2, HUB_NAME, json!("大家来领物资了")).await;
    expect_info(&mut c2, HUB_NAME, json!("一会儿上门做核酸")).await;
    expect_nothing_more(&mut c2).await;

    let sessions = server.hub.sessions().await;
    let aliases: Vec<_> = sessions.iter().map(|s| s.client_name.as_deref()).collect();
    assert_eq!(aliases, [Some("Client-1"), Some("Client-2")]);
    server.shutdown().await;
}
