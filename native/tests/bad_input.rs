//! Bad input from one client gets that client its error (and a close when
//! the stream cannot go on); the hub keeps serving everyone else and never
//! panics.

mod common;

use common::*;
use serde_json::json;
use tcphub_core::HubFrame;
use tcphub_native::client::Client;

/// A bystander that must keep being served while others misbehave.
async fn still_served(server: &TestServer, bystander: &mut Client, round: u32) {
    let mut probe = server.synced(&format!("probe-{round}")).await;
    probe
        .send_text(Some("bystander"), &format!("round {round}"))
        .await
        .unwrap();
    expect_info(
        bystander,
        &format!("probe-{round}"),
        json!(format!("round {round}")),
    )
    .await;
}

/// Sends `bytes` from a task (the hub may close before all of it is sent,
/// so write errors are expected and ignored).
fn send_in_background(mut client: Client, bytes: Vec<u8>) -> tokio::task::JoinHandle<Client> {
    tokio::spawn(async move {
        let _ = client.send_raw(&bytes).await;
        client
    })
}

/// The next frame says the stream passed the frame limit (the default,
/// 64 KiB), and then the hub hangs up.
async fn expect_closed_over_limit(attacker: &mut Client) {
    let message = expect_error(frame(attacker).await, "frame_too_large");
    assert!(message.contains("65536"), "{message}");
    assert!(
        within(attacker.next_frame()).await.unwrap().is_none(),
        "closed"
    );
}

fn expect_error(frame: HubFrame, expected_code: &str) -> String {
    match frame {
        HubFrame::Error { code, message, .. } => {
            assert_eq!(code, expected_code, "{message}");
            message
        }
        other => panic!("expected error {expected_code}, got {other:?}"),
    }
}

#[tokio::test]
async fn ten_mib_frame_without_newline_is_refused_and_closed() {
    let server = TestServer::start().await;
    let mut bystander = server.synced("bystander").await;
    let attacker = server.client().await;
    let mut bytes = br#"{"type":"info","message":""#.to_vec();
    bytes.resize(10 << 20, b'a');
    let mut attacker = within(send_in_background(attacker, bytes)).await.unwrap();
    expect_closed_over_limit(&mut attacker).await;
    still_served(&server, &mut bystander, 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn ten_mib_of_garbage_without_newline_is_skipped_then_closed() {
    let server = TestServer::start().await;
    let mut bystander = server.synced("bystander").await;
    let attacker = server.client().await;
    let sending = send_in_background(attacker, vec![b'x'; 10 << 20]);
    let mut attacker = within(sending).await.unwrap();
    // Garbage is reported once and skipped up to the next newline, but
    // never for more than the frame limit: past it the session is closed.
    expect_error(frame(&mut attacker).await, "bad_json");
    expect_closed_over_limit(&mut attacker).await;
    still_served(&server, &mut bystander, 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_garbage_line_is_skipped_and_the_session_goes_on() {
    let server = TestServer::start().await;
    let mut attacker = server.client().await;
    attacker.send_raw(&[b'x'; 60 << 10]).await.unwrap();
    expect_error(frame(&mut attacker).await, "bad_json");
    attacker.send_raw(b"\n").await.unwrap();
    within(attacker.sync("recovered")).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn an_error_about_an_earlier_raw_send_is_not_the_answer_to_a_request() {
    let server = TestServer::start().await;
    let mut client = server.client().await;
    // Three mistakes, one with an id of the sender's own, all still
    // unanswered when each request below is written.
    let mistakes: &[u8] = b"{\"type\":\"info\",\"to\":\"Nobody\",\"message\":1}\n\
        not json\n\
        {\"type\":\"sync\",\"clientName\":\"\",\"id\":1}\n";
    client.send_raw(mistakes).await.unwrap();
    let session = within(client.sync("careful"))
        .await
        .expect("the sync succeeded; the errors before it answer other frames");
    assert_eq!(session, client.local_addr().to_string());
    client.send_raw(mistakes).await.unwrap();
    let rows = within(client.list()).await.expect("the list succeeded");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].client_name.as_deref(), Some("careful"));
    // The errors are still there to be read by whoever waits for them.
    client.send_raw(mistakes).await.unwrap();
    let before = within(client.until_pong()).await.expect("the pong came");
    let codes: Vec<_> = before
        .iter()
        .map(|f| match f {
            HubFrame::Error { code, .. } => code.as_str(),
            other => panic!("only errors, got {other:?}"),
        })
        .collect();
    assert_eq!(codes, ["unknown_alias", "bad_json", "invalid_alias"]);
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_utf8_gets_bad_json() {
    let server = TestServer::start().await;
    let mut bystander = server.synced("bystander").await;
    let mut attacker = server.synced("attacker").await;
    attacker
        .send_raw(b"{\"type\":\"info\",\"to\":\"bystander\",\"message\":\"\xff\xfe\xc3\x28\"}\n")
        .await
        .unwrap();
    expect_error(frame(&mut attacker).await, "bad_json");
    expect_nothing_more(&mut bystander).await;
    still_served(&server, &mut bystander, 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn deeply_nested_json_gets_bad_json() {
    let server = TestServer::start().await;
    let mut bystander = server.synced("bystander").await;
    let attacker = server.synced("attacker").await;
    let depth = 100_000;
    let mut bytes = br#"{"type":"info","to":"bystander","message":"#.to_vec();
    bytes.extend(std::iter::repeat_n(b'[', depth));
    bytes.extend(std::iter::repeat_n(b']', depth));
    bytes.extend_from_slice(b"}\n");
    let sending = send_in_background(attacker, bytes);
    let mut attacker = within(sending).await.unwrap();
    let message = expect_error(frame(&mut attacker).await, "bad_json");
    assert!(message.contains("nested"), "{message}");
    expect_nothing_more(&mut bystander).await;
    still_served(&server, &mut bystander, 1).await;
    server.shutdown().await;
}

#[tokio::test]
async fn binary_garbage_gets_errors_and_nothing_panics() {
    let server = TestServer::start().await;
    let mut bystander = server.synced("bystander").await;
    let attacker = server.synced("attacker").await;
    // Deterministic pseudo-random bytes, with braces and newlines mixed in.
    let garbage = pseudo_random_bytes(256 * 1024);
    assert_eq!(garbage[0], garbage_first_byte());
    let sending = send_in_background(attacker, garbage);
    let mut attacker = within(sending).await.unwrap();
    // Its first bytes are not `{`: an error at once. What follows may open
    // frames that never end or grow too large; either way only this
    // session is affected.
    assert_ne!(garbage_first_byte(), b'{');
    expect_error(frame(&mut attacker).await, "bad_json");
    still_served(&server, &mut bystander, 1).await;
    // Several attackers at once, while the bystander keeps being served.
    let mut attacks = Vec::new();
    for i in 0..8u8 {
        let client = server.client().await;
        attacks.push(send_in_background(
            client,
            vec![i.wrapping_mul(37); 1 << 20],
        ));
    }
    still_served(&server, &mut bystander, 2).await;
    for attack in attacks {
        within(attack).await.unwrap();
    }
    still_served(&server, &mut bystander, 3).await;
    server.shutdown().await;
}

/// Deterministic xorshift bytes: binary garbage with braces, quotes and
/// newlines mixed in.
fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn garbage_first_byte() -> u8 {
    pseudo_random_bytes(1)[0]
}
