//! A client that stops reading holds the publisher back only until the
//! write deadline, then is closed as a slow consumer; everyone else gets
//! every message and the hub's memory stays bounded.

mod common;

use common::*;
use tcphub_core::{CloseReason, Event, HubFrame};

const MESSAGES: usize = 64 * 1024;
const PAYLOAD: usize = 1000;
const CAP: usize = 1 << 20;
/// The publisher stays at most this many messages ahead of the readers, so
/// they (unlike the slow consumer) never fall a full cap behind.
const WINDOW: usize = 256;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_closed_and_others_get_everything() {
    let mut server = TestServer::with(|o| {
        o.hub.max_queued_bytes = CAP;
        o.hub.write_deadline = Some(std::time::Duration::from_secs(1));
    })
    .await;
    // Never reads a byte: held open, untouched, until the end.
    let slow = server.synced("slow").await;
    let mut readers = Vec::new();
    let mut progress = Vec::new();
    for i in 0..2 {
        let mut client = server.synced(&format!("reader-{i}")).await;
        let (done, seen) = tokio::sync::watch::channel(0usize);
        progress.push(seen);
        readers.push(tokio::spawn(async move {
            let mut expected = 0usize;
            while expected < MESSAGES {
                match client.expect_frame().await.expect("reader connection") {
                    HubFrame::Info { message, .. } => {
                        let n = message["n"].as_u64().expect("numbered") as usize;
                        assert_eq!(n, expected, "messages arrive complete and in order");
                        expected += 1;
                        done.send_replace(expected);
                    }
                    other => panic!("{other:?}"),
                }
            }
            expected
        }));
    }
    let hwm_before = peak_rss_bytes();
    let mut publisher = server.synced("publisher").await;
    let filler = "x".repeat(PAYLOAD);
    let publishing = tokio::spawn(async move {
        for n in 0..MESSAGES {
            for seen in &mut progress {
                seen.wait_for(|&count| count + WINDOW > n)
                    .await
                    .expect("reader alive");
            }
            let body = format!(r#"{{"n":{n},"fill":"{filler}"}}"#);
            publisher
                .send_info(Some("*"), &raw(&body))
                .await
                .expect("publisher connection");
        }
        publisher
    });
    let (session, reason) = server
        .event(|e| match e {
            Event::Closed {
                alias: Some(alias),
                reason,
                handle: session,
                ..
            } if alias.as_str() == "slow" => Some((session, reason)),
            _ => None,
        })
        .await;
    assert_eq!(reason, CloseReason::SlowConsumer, "session {session}");
    for reader in readers {
        assert_eq!(within(reader).await.unwrap(), MESSAGES);
    }
    let _publisher = within(publishing).await.unwrap();
    if let (Some(before), Some(after)) = (hwm_before, peak_rss_bytes()) {
        let flood = MESSAGES * PAYLOAD;
        let growth = after.saturating_sub(before);
        // Without the cap the slow session's queue alone would hold most of
        // the flood (64 MB, less what the kernel buffers).
        assert!(
            growth < flood / 2,
            "peak memory grew by {growth} bytes for a {flood}-byte flood"
        );
    }
    drop(slow);
    server.shutdown().await;
}

/// The process's peak resident memory (`VmHWM`), on Linux.
fn peak_rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
