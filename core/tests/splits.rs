//! Any split of a byte stream into chunks gives the same outputs as the whole
//! stream at once: TCP may cut a client's writes anywhere.

use std::time::Duration;

use tcphub_core::{Hub, HubConfig, Output};

/// A stream with every kind of frame, bad input, multi-byte UTF-8 and
/// escapes, with and without newlines between objects.
const STREAM: &str = concat!(
    r#"{"type":"sync","clientName":"客户端-1","message":"同步基础信息"}"#,
    r#"{"type":"info","clientName":"x","message":"大家来领物资了 \"quoted\" \\ \u6838"}"#,
    "\n",
    r#"{"type":"info","to":"Peer","message":{"nested":[1,{"deep":["赶紧"]}]}}"#,
    "garbage that skips to the newline {\"type\":\"ping\"}\n",
    r#"{"type":"info","to":"nobody","message":null}"#,
    r#"{"type":}"#,
    "\r\n  ",
    r#"{"type":"list"}{"type":"ping"}"#,
    r#"{"type":"sync","clientName":"*"}"#,
    r#"{"type":"info","to":"*","message":"一会儿上门做核酸"}"#,
);

/// Feeds the sender's stream in `chunks` and renders everything that came
/// out, in order, as text.
fn run(chunks: &[&[u8]]) -> Vec<String> {
    let mut hub = Hub::new(HubConfig::default()).unwrap();
    let now = Duration::ZERO;
    let peer = hub.handle_accept(now, "127.0.0.1:2").unwrap();
    hub.handle_data(now, peer, &tcphub_core::encode_sync("Peer"))
        .unwrap();
    let sender = hub.handle_accept(now, "127.0.0.1:1").unwrap();
    while hub.poll_output().is_some() {}
    for chunk in chunks {
        hub.handle_data(now, sender, chunk).unwrap();
    }
    let mut out = Vec::new();
    while let Some(output) = hub.poll_output() {
        out.push(match output {
            Output::Transmit {
                handle: session,
                frame,
            } => {
                format!(
                    "{session} <- {}",
                    String::from_utf8(frame.to_vec()).unwrap()
                )
            }
            other => format!("{other:?}"),
        });
    }
    out
}

#[test]
fn every_two_way_split_matches_the_whole() {
    let whole = STREAM.as_bytes();
    let expected = run(&[whole]);
    // The stream must exercise what it claims to.
    let text = expected.join("\n");
    for needle in [
        "synced",
        "Message",
        "unknown_alias",
        "bad_json",
        "sessions",
        "pong",
        "invalid_alias",
        "一会儿上门做核酸",
    ] {
        assert!(
            text.contains(needle),
            "stream should produce {needle}:\n{text}"
        );
    }
    for cut in 0..=whole.len() {
        assert_eq!(
            run(&[&whole[..cut], &whole[cut..]]),
            expected,
            "split at byte {cut}"
        );
    }
}

#[test]
fn one_byte_at_a_time_matches_the_whole() {
    let whole = STREAM.as_bytes();
    let bytes: Vec<&[u8]> = whole.chunks(1).collect();
    assert_eq!(run(&bytes), run(&[whole]));
}

#[test]
fn every_three_way_split_of_a_short_stream() {
    let whole = r#"{"type":"sync","clientName":"核酸"}{"type":"info","message":"é\""}"#.as_bytes();
    let expected = run(&[whole]);
    for i in 0..=whole.len() {
        for j in i..=whole.len() {
            assert_eq!(
                run(&[&whole[..i], &whole[i..j], &whole[j..]]),
                expected,
                "cuts {i}, {j}"
            );
        }
    }
}
