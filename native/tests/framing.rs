//! However TCP cuts the stream, the same frames come out.

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use tcphub_core::{Event, HubFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

#[tokio::test]
async fn a_client_writing_one_byte_at_a_time() {
    let mut server = TestServer::start().await;
    let mut b = server.synced("B").await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let bytes = "{\"type\":\"sync\",\"clientName\":\"慢\"}\n{\"type\":\"info\",\"to\":\"B\",\"message\":{\"k\":[1,\"二\"]}}\n{\"type\":\"info\",\"message\":\"host\"}";
    for byte in bytes.as_bytes() {
        stream.write_all(&[*byte]).await.unwrap();
        stream.flush().await.unwrap();
        // A pause now and then so reads really see single bytes.
        if *byte == b':' {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    expect_info(&mut b, "慢", json!({"k": [1, "二"]})).await;
    let message = server
        .event(|e| match e {
            Event::Message { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(message.get(), r#""host""#);
    drop(stream);
    server.shutdown().await;
}

#[tokio::test]
async fn two_messages_in_one_write() {
    let server = TestServer::start().await;
    let mut b = server.synced("B").await;
    let mut a = server.client().await;
    // The tutorial's way: objects back to back, no delimiter, one write.
    a.send_raw(br#"{"type":"sync","clientName":"A"}{"type":"info","to":"B","message":"first"}"#)
        .await
        .unwrap();
    match frame(&mut a).await {
        HubFrame::Synced { client_name, .. } => assert_eq!(client_name, "A"),
        other => panic!("{other:?}"),
    }
    expect_info(&mut b, "A", json!("first")).await;
    // And two NDJSON lines in one write.
    a.send_raw(b"{\"type\":\"info\",\"to\":\"B\",\"message\":2}\n{\"type\":\"info\",\"to\":\"B\",\"message\":3}\n")
        .await
        .unwrap();
    expect_info(&mut b, "A", json!(2)).await;
    expect_info(&mut b, "A", json!(3)).await;
    server.shutdown().await;
}
