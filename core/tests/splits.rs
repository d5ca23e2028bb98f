//! Any split of a byte stream into chunks gives the same outputs as the whole
//! stream at once: TCP may cut a client's writes anywhere. And input whose
//! frames an `InputScanner` found first (`Hub::handle_scanned`, as the
//! tcphub server feeds it) gives the same outputs as the bytes alone, as
//! does merging a session's frames into fewer `Transmit`s
//! (`HubConfig::merge_transmits`, which the server turns on).

use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use tcphub_core::{Hub, HubConfig, InputScanner, Output, SessionHandle};

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

/// How the sender's chunks reach the hub.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Feed {
    /// `handle_data`.
    Bytes,
    /// `handle_scanned`, each chunk scanned by the session's scanner.
    Scanned,
}

/// Feeds the sender's stream in `chunks` and renders everything that came
/// out, in order, as text.
fn run(chunks: &[&[u8]]) -> Vec<String> {
    run_fed(Feed::Bytes, HubConfig::default(), chunks)
}

fn run_fed(feed: Feed, config: HubConfig, chunks: &[&[u8]]) -> Vec<String> {
    let (mut hub, peer, sender) = hub_with_peer(config);
    let mut scanner = hub.input_scanner();
    let mut out = Vec::new();
    for chunk in chunks {
        feed_one(&mut hub, &mut scanner, feed, sender, chunk, &mut out);
        // The peer reads only every other chunk's worth, so with small
        // watermarks the sender is paused and its input held back.
        drain(&mut hub, (out.len() % 2 == 0).then_some(peer), &mut out);
    }
    drain(&mut hub, Some(peer), &mut out);
    out
}

/// A hub with `Peer` synced and a sender connected, its outputs so far
/// taken: the hub, the peer, the sender.
fn hub_with_peer(config: HubConfig) -> (Hub, SessionHandle, SessionHandle) {
    let mut hub = Hub::new(config).unwrap();
    let now = Duration::ZERO;
    let peer = hub.handle_accept(now, "127.0.0.1:2").unwrap();
    hub.handle_data(now, peer, &tcphub_core::encode_sync("Peer"))
        .unwrap();
    let sender = hub.handle_accept(now, "127.0.0.1:1").unwrap();
    drain(&mut hub, None, &mut Vec::new());
    (hub, peer, sender)
}

/// Gives the hub one chunk from `sender`; an error (the session was
/// closed, say for a frame past the limit) is rendered into `out`.
fn feed_one(
    hub: &mut Hub,
    scanner: &mut InputScanner,
    feed: Feed,
    sender: SessionHandle,
    chunk: &[u8],
    out: &mut Vec<String>,
) {
    let now = Duration::ZERO;
    let result = match feed {
        Feed::Bytes => hub.handle_data(now, sender, chunk),
        Feed::Scanned => {
            let scanned = scanner.scan(Bytes::copy_from_slice(chunk));
            hub.handle_scanned(now, sender, scanned)
        }
    };
    if let Err(e) = result {
        out.push(format!("error: {e}"));
    }
}

/// Renders every output as text, a line per frame (so a `Transmit` of
/// several frames, with `merge_transmits`, reads as those frames); what is
/// sent to `reader` is reported written a frame at a time, as a driver
/// whose socket took each would. (Reported a `Transmit` at a time, a
/// merged run would drain a queue in one step where single frames drain it
/// in several, and a paused sender would resume at another point: the
/// same flow control, fed other reports.)
fn drain(hub: &mut Hub, reader: Option<SessionHandle>, out: &mut Vec<String>) {
    while let Some(output) = hub.poll_output() {
        match output {
            Output::Transmit {
                handle: session,
                frame,
            } => {
                let text = String::from_utf8(frame.to_vec()).unwrap();
                for line in text.split_inclusive('\n') {
                    if Some(session) == reader {
                        hub.handle_written(Duration::ZERO, session, line.len())
                            .unwrap();
                    }
                    out.push(format!("{session} <- {line}"));
                }
            }
            other => out.push(format!("{other:?}")),
        }
    }
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

#[test]
fn scanned_input_matches_the_bytes_however_it_is_cut() {
    let whole = STREAM.as_bytes();
    let config = HubConfig::default();
    let expected = run_fed(Feed::Bytes, config.clone(), &[whole]);
    assert_eq!(run_fed(Feed::Scanned, config.clone(), &[whole]), expected);
    for cut in 0..=whole.len() {
        assert_eq!(
            run_fed(
                Feed::Scanned,
                config.clone(),
                &[&whole[..cut], &whole[cut..]]
            ),
            expected,
            "split at byte {cut}"
        );
    }
    let bytes: Vec<&[u8]> = whole.chunks(1).collect();
    assert_eq!(run_fed(Feed::Scanned, config, &bytes), expected);
}

#[test]
fn the_scanner_finds_whole_frames_and_those_a_chunk_finishes() {
    let hub = Hub::new(HubConfig::default()).unwrap();
    let mut scanner = hub.input_scanner();
    let frame = br#"{"type":"info","to":"Peer","message":"x"}"#;
    let stream = [&frame[..], b"\n", frame, b" ", frame].concat();
    let whole = scanner.scan(Bytes::from(stream.clone()));
    assert_eq!(whole.frames_found(), 3);
    // A chunk ending inside the second frame: that frame is not noted in
    // either chunk (the hub puts it together), the third is.
    let cut = frame.len() + 10;
    assert_eq!(
        scanner
            .scan(Bytes::copy_from_slice(&stream[..cut]))
            .frames_found(),
        1
    );
    assert_eq!(
        scanner
            .scan(Bytes::copy_from_slice(&stream[cut..]))
            .frames_found(),
        1
    );
    // Garbage is skipped to the newline, as the hub's decoder skips it;
    // the decoder then cuts the next frame itself, as in the hub, and the
    // one after is noted.
    let garbage = [&b"nonsense {\"type\":\"ping\"}\n"[..], frame, frame].concat();
    assert_eq!(scanner.scan(Bytes::from(garbage)).frames_found(), 1);
}

#[test]
fn a_scanner_that_lost_track_changes_nothing_the_hub_does() {
    // The scanner misses the first chunk, which ends inside a frame, so
    // it takes the next chunk's start for a frame's: its notes are wrong
    // there, and the hub must not be misled by them.
    let whole = STREAM.as_bytes();
    let expected = run_fed(Feed::Bytes, HubConfig::default(), &[whole]);
    let mut noted = 0;
    for cut in 1..whole.len() {
        let (mut hub, peer, sender) = hub_with_peer(HubConfig::default());
        let mut out = Vec::new();
        hub.handle_data(Duration::ZERO, sender, &whole[..cut])
            .unwrap();
        drain(&mut hub, Some(peer), &mut out);
        let rest = &whole[cut..];
        let mut scanner = hub.input_scanner();
        // What the lost scanner notes: frames that are there and, where
        // it starts inside one, perhaps some that are not.
        noted += scanner
            .clone()
            .scan(Bytes::copy_from_slice(rest))
            .frames_found();
        feed_one(
            &mut hub,
            &mut scanner,
            Feed::Scanned,
            sender,
            rest,
            &mut out,
        );
        drain(&mut hub, Some(peer), &mut out);
        assert_eq!(out, expected, "scanner started at byte {cut}");
    }
    assert!(
        noted > 0,
        "the lost scanners noted frames for the hub to take"
    );
}

/// Pieces of a client's stream: frames of each kind, bad input, text that
/// is not UTF-8, frames past the size limit, whitespace.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(br#"{"type":"info","to":"Peer","message":"hello"}"#.to_vec()),
        Just(br#"{"type":"info","to":"*","message":{"a":[1,2,"\"\u6838"]}}"#.to_vec()),
        Just(
            r#"{"type":"info","to":"Peer","message":"核酸检测"}"#
                .as_bytes()
                .to_vec()
        ),
        Just(br#"{"type":"info","to":"nobody","message":1,"id":7}"#.to_vec()),
        Just(br#"{"type":"ping","id":"x","limit":1,"after":"a","room":"r"}"#.to_vec()),
        Just(br#"{"type":"info","type":"info","message":1}"#.to_vec()),
        Just(br#"{"type":"list"}"#.to_vec()),
        Just(br#"{"type":"sync","clientName":"Sender"}"#.to_vec()),
        Just(br#"{"type":}"#.to_vec()),
        Just(b"garbage\n".to_vec()),
        Just(b"{\"type\":\"info\",\"message\":\"\xff\xfe\"}".to_vec()),
        Just(
            format!(
                r#"{{"type":"info","to":"Peer","message":"{}"}}"#,
                "y".repeat(300)
            )
            .into_bytes()
        ),
        Just(b"\n".to_vec()),
        Just(b" \r\n\t".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Scanned or not, cut anywhere, paused by a slow reader or not, its
    /// frames merged into fewer `Transmit`s or not, the hub does and sends
    /// the same.
    #[test]
    fn scanned_input_matches_the_bytes(
        pieces in proptest::collection::vec(piece(), 1..40),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..8),
        small in any::<bool>(),
        merge in any::<bool>(),
    ) {
        let stream = pieces.concat();
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        at.sort_unstable();
        let mut chunks = Vec::new();
        let mut start = 0;
        for end in at {
            chunks.push(&stream[start..end]);
            start = end;
        }
        chunks.push(&stream[start..]);
        let config = if small {
            // Small queues and frames: pauses, held-back input, frames
            // past the limit.
            HubConfig {
                max_frame_len: 256,
                high_watermark: 300,
                low_watermark: 100,
                ..HubConfig::default()
            }
        } else {
            HubConfig::default()
        };
        let merged = HubConfig { merge_transmits: merge, ..config.clone() };
        prop_assert_eq!(
            run_fed(Feed::Scanned, merged, &chunks),
            run_fed(Feed::Bytes, config, &chunks)
        );
    }
}

#[test]
fn a_note_for_a_frame_past_the_hubs_limit_is_not_taken() {
    // A scanner made by a hub with a larger frame limit notes a frame
    // this hub refuses: it must refuse it as handle_data does.
    let small = HubConfig {
        max_frame_len: 256,
        ..HubConfig::default()
    };
    let long = format!(
        r#"{{"type":"info","to":"Peer","message":"{}"}}"#,
        "y".repeat(300)
    );
    let stream = [long.as_bytes(), br#"{"type":"ping"}"#].concat();
    let expected = run_fed(Feed::Bytes, small.clone(), &[&stream]);
    assert!(
        expected.iter().any(|line| line.contains("frame_too_large")),
        "the hub refuses the frame: {expected:?}"
    );
    let (mut hub, peer, sender) = hub_with_peer(small);
    let mut looser = Hub::new(HubConfig::default()).unwrap().input_scanner();
    let mut out = Vec::new();
    feed_one(
        &mut hub,
        &mut looser,
        Feed::Scanned,
        sender,
        &stream,
        &mut out,
    );
    drain(&mut hub, Some(peer), &mut out);
    assert_eq!(out, expected);
}

#[test]
fn a_paused_sender_s_messages_all_arrive_once_and_in_order() {
    // The comparisons above feed both ways through the same held input;
    // this checks what the peer gets against what was sent. The peer
    // reads what it was sent only when the next chunk has come in, so
    // the sender is paused and goes on sending (a driver's read-ahead).
    let small = HubConfig {
        high_watermark: 300,
        low_watermark: 100,
        ..HubConfig::default()
    };
    let sent: Vec<String> = (0..200).map(|n| format!("{n:040}")).collect();
    let stream: String = sent
        .iter()
        .map(|n| format!(r#"{{"type":"info","to":"Peer","message":"{n}"}}"#))
        .collect();
    // Chunks cut across frames, in several sizes.
    let mut chunks = Vec::new();
    let mut rest = stream.as_bytes();
    for size in [7, 100, 333, 64, 1000, 5].iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at((*size).min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    for feed in [Feed::Scanned, Feed::Bytes] {
        let (mut hub, peer, sender) = hub_with_peer(small.clone());
        let mut scanner = hub.input_scanner();
        let (mut got, mut unread, mut pauses) = (Vec::new(), Vec::new(), 0);
        let mut chunks = chunks.iter();
        loop {
            let chunk = chunks.next();
            if let Some(chunk) = chunk {
                feed_one(&mut hub, &mut scanner, feed, sender, chunk, &mut got);
            } else if unread.is_empty() {
                break;
            }
            for len in unread.drain(..) {
                hub.handle_written(Duration::ZERO, peer, len).unwrap();
            }
            while let Some(output) = hub.poll_output() {
                match output {
                    Output::Transmit { handle, frame } if handle == peer => {
                        unread.push(frame.len());
                        let text = String::from_utf8(frame.to_vec()).unwrap();
                        got.extend(
                            text.split(r#""message":""#)
                                .skip(1)
                                .map(|rest| rest[..40].to_owned()),
                        );
                    }
                    Output::PauseReading { handle } if handle == sender => pauses += 1,
                    _ => {}
                }
            }
        }
        assert!(pauses > 0, "{feed:?}: the sender is never paused");
        assert_eq!(got, sent, "{feed:?}");
    }
}
