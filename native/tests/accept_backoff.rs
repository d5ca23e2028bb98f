//! Out of file descriptors, `serve` backs off instead of spinning on
//! `accept`, keeps serving the sessions it has, and takes the waiting
//! connections once descriptors free up.

mod common;

use std::time::Duration;

use common::serve::*;
use tcphub_native::client::Client;

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
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let failures = serve
        .stderr
        .lock()
        .unwrap()
        .lines()
        .filter(|l| l.contains("accept failed") || l.contains("accept keeps failing"))
        .count();
    assert!(failures >= 1, "the server never ran out of descriptors");
    // Pauses of 10 ms doubling up to 1 s: a handful of lines, not thousands.
    assert!(failures <= 20, "{failures} accept failures logged in 1.5 s");
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
