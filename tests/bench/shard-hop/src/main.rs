//! The cost of carrying envelopes from one shard's task to another's, as
//! the in-process backplane planned in docs/native.md would: a frame
//! shared as `Bytes` (not copied), the target alias and the sender's
//! session id as `Arc<str>`, over a bounded tokio channel, between two
//! tasks of a two-worker runtime, received with `recv_many` as the hub
//! task takes its inputs.
//!
//! Two ways: one channel operation per envelope (in bursts of 1, 16 or 256
//! before the sender yields), and each turn's envelopes for one shard as
//! one `Vec` (16 or 256 to a batch). It prints the process's CPU time per
//! envelope (both sides together; user + system from /proc/self/stat, so
//! Linux only) and the wall time per envelope.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

/// What crosses: the fields of `tcphub_core::Envelope` that cost something.
#[derive(Debug)]
struct Envelope {
    target: Arc<str>,
    frame: Bytes,
    sender: Option<Arc<str>>,
}

/// Envelopes per measurement.
const N: usize = 5_000_000;

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux /proc");
    let (_, rest) = stat.rsplit_once(')').expect("a stat line");
    let fields: Vec<f64> = rest
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    (fields[11] + fields[12]) / 100.0
}

fn envelope(frame: &Bytes, target: &Arc<str>, sender: &Arc<str>) -> Envelope {
    Envelope {
        target: target.clone(),
        frame: frame.clone(),
        sender: Some(sender.clone()),
    }
}

/// Looks at every field, as a receiving shard would.
fn read(e: &Envelope) -> bool {
    !e.frame.is_empty() && !e.target.is_empty() && e.sender.as_ref().is_some_and(|s| !s.is_empty())
}

fn report(what: &str, started: Instant, cpu: f64, got: usize) {
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{what:<28} {:>5.0} ns CPU, {:>5.0} ns wall per envelope",
        (cpu_seconds() - cpu) * 1e9 / got as f64,
        wall * 1e9 / got as f64
    );
}

async fn one_by_one(burst: usize) {
    let frame = Bytes::from(vec![b'x'; 120]);
    let target: Arc<str> = Arc::from("Client-42");
    let sender: Arc<str> = Arc::from("n1-s0/127.0.0.1:50000");
    let (tx, mut rx) = mpsc::channel::<Envelope>(1024);
    let receiver = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(256);
        let mut got = 0;
        while got < N && rx.recv_many(&mut buf, 256).await > 0 {
            got += buf.drain(..).map(|e| usize::from(read(&e))).sum::<usize>();
        }
        got
    });
    let (cpu, started) = (cpu_seconds(), Instant::now());
    // A task of its own, as a shard's hub task is, not the runtime's
    // `block_on` thread.
    let sending = tokio::spawn(async move {
        let mut sent = 0;
        while sent < N {
            for _ in 0..burst.min(N - sent) {
                let _ = tx.send(envelope(&frame, &target, &sender)).await;
                sent += 1;
            }
            tokio::task::yield_now().await;
        }
    });
    let _ = sending.await;
    let got = receiver.await.unwrap_or(0);
    report(&format!("one by one, bursts of {burst}"), started, cpu, got);
}

async fn batched(batch: usize) {
    let frame = Bytes::from(vec![b'x'; 120]);
    let target: Arc<str> = Arc::from("Client-42");
    let sender: Arc<str> = Arc::from("n1-s0/127.0.0.1:50000");
    let (tx, mut rx) = mpsc::channel::<Vec<Envelope>>(64);
    let receiver = tokio::spawn(async move {
        let mut buf = Vec::with_capacity(64);
        let mut got = 0;
        while got < N && rx.recv_many(&mut buf, 64).await > 0 {
            for turn in buf.drain(..) {
                got += turn
                    .into_iter()
                    .map(|e| usize::from(read(&e)))
                    .sum::<usize>();
            }
        }
        got
    });
    let (cpu, started) = (cpu_seconds(), Instant::now());
    let sending = tokio::spawn(async move {
        let mut sent = 0;
        while sent < N {
            let k = batch.min(N - sent);
            let turn = (0..k).map(|_| envelope(&frame, &target, &sender)).collect();
            let _ = tx.send(turn).await;
            sent += k;
            tokio::task::yield_now().await;
        }
    });
    let _ = sending.await;
    let got = receiver.await.unwrap_or(0);
    report(&format!("a Vec per turn of {batch}"), started, cpu, got);
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        for _ in 0..3 {
            for burst in [1, 16, 256] {
                one_by_one(burst).await;
            }
            for batch in [16, 256] {
                batched(batch).await;
            }
        }
    });
}
