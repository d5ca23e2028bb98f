//! Out of file descriptors, `serve` backs off instead of spinning on
//! `accept`, keeps serving the sessions it has, and takes the waiting
//! connections once descriptors free up.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::serve::*;
use serde_json::Value;
use tcphub_native::client::Client;

/// The pauses the server announces before it reaches its cap, in ms: from
/// 10 ms, doubling, below 1 s.
const GROWING_PAUSES: [u64; 7] = [10, 20, 40, 80, 160, 320, 640];
/// The cap: once there, the server retries every second.
const CAP_MS: u64 = 1000;

/// One accept failure as the server logged it.
#[derive(Debug)]
struct Failure {
    /// Microseconds since midnight, from the log line's timestamp.
    at_us: i64,
    /// The pause announced (`accept failed; pausing`), or `None` once the
    /// pause is at its cap (`accept keeps failing`).
    pause_ms: Option<u64>,
}

/// The accept failures logged so far, in order.
fn failures(stderr: &Arc<Mutex<String>>) -> Vec<Failure> {
    stderr
        .lock()
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|log| {
            let pause_ms = match log["message"].as_str()? {
                "accept failed; pausing" => Some(log["pause_ms"].as_u64().expect("pause_ms")),
                "accept keeps failing; retrying every second" => None,
                _ => return None,
            };
            let at_us = time_of_day_us(log["timestamp"].as_str().expect("timestamp"));
            Some(Failure { at_us, pause_ms })
        })
        .collect()
}

/// `2026-11-29T21:49:03.148559Z` as microseconds since midnight.
fn time_of_day_us(timestamp: &str) -> i64 {
    let time = timestamp
        .split_once('T')
        .and_then(|(_, t)| t.strip_suffix('Z'))
        .unwrap_or_else(|| panic!("timestamp {timestamp:?}"));
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut parts = hms.split(':').map(|p| p.parse::<i64>().unwrap());
    let (h, m, s) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let micros: i64 = format!("{fraction:0<6}")[..6].parse().unwrap();
    ((h * 60 + m) * 60 + s) * 1_000_000 + micros
}

/// Waits until the log holds `count` failures at the cap.
fn wait_for_capped(stderr: &Arc<Mutex<String>>, count: usize) -> Vec<Failure> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let seen = failures(stderr);
        if seen.iter().filter(|f| f.pause_ms.is_none()).count() >= count {
            return seen;
        }
        assert!(
            Instant::now() < deadline,
            "the backoff never reached its cap {count} times: {seen:?}\n{}",
            stderr.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_errors_back_off_and_the_hub_recovers() {
    let serve = ServeProcess::start_with_fd_limit(40, &[]);
    let mut first = Client::connect(serve.addr).await.unwrap();
    first.sync("first").await.unwrap();
    // More connections than the server has descriptors for: the kernel
    // completes them all (listen backlog), the server runs out on accept.
    let mut crowd = Vec::new();
    for _ in 0..60 {
        crowd.push(Client::connect(serve.addr).await.unwrap());
    }

    // The pauses double from 10 ms up to the cap, then stay there: a few
    // lines in a few seconds, not a spin. Two lines at the cap show it holds.
    let stderr = serve.stderr.clone();
    let seen = tokio::task::spawn_blocking(move || wait_for_capped(&stderr, 2))
        .await
        .unwrap();
    let first_capped = seen.iter().position(|f| f.pause_ms.is_none()).unwrap();
    let announced: Vec<u64> = seen[..first_capped]
        .iter()
        .map(|f| f.pause_ms.unwrap())
        .collect();
    assert_eq!(announced, GROWING_PAUSES, "{seen:?}");
    assert!(
        seen[first_capped + 1].pause_ms.is_none(),
        "the pause stays at its cap: {seen:?}"
    );
    // And the server does pause that long before it tries again (the log's
    // clock is to the microsecond; allow 1 ms for rounding).
    let pauses = GROWING_PAUSES.iter().chain(std::iter::once(&CAP_MS));
    for (pair, pause_ms) in seen[..=first_capped + 1].windows(2).zip(pauses) {
        // Past midnight the time of day starts again.
        let gap_us = (pair[1].at_us - pair[0].at_us).rem_euclid(86_400_000_000);
        assert!(
            gap_us >= (*pause_ms as i64 - 1) * 1000,
            "{gap_us} µs between failures after a pause of {pause_ms} ms: {seen:?}"
        );
    }

    // Existing sessions are still served meanwhile.
    first.ping().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_secs(10), first.until_pong())
            .await
            .expect("pong in time")
            .unwrap()
            .is_empty()
    );
    // Once descriptors free up, waiting and new connections get in.
    drop(crowd);
    let mut later = Client::connect(serve.addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(20), later.sync("later"))
        .await
        .expect("accepted after the crowd left")
        .unwrap();
    let (status, _, _) = serve.terminate();
    assert!(status.success());
}
