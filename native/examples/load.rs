//! A simple load run against a release `tcphub serve` started as a child
//! process (so its memory is measured alone):
//!
//! 1. fan-out: one publisher relays to `*`, N subscribers count what they
//!    get; prints deliveries per second;
//! 2. idle: M clients connect and sync, then sit still; prints the
//!    server's resident memory per connection.
//!
//! ```text
//! cargo build --release -p tcphub-native --bin tcphub --example load
//! target/release/examples/load --subscribers 1000 --messages 2000 --idle 10000
//! ```
//!
//! Not a timed test: it prints figures for people. The load generator
//! shares the machine with the hub, so on few cores it caps the figure.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug, Parser)]
struct Args {
    /// Subscribers in the fan-out run.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages the publisher sends.
    #[arg(long, default_value_t = 2000)]
    messages: usize,
    /// Bytes of payload per message.
    #[arg(long, default_value_t = 64)]
    payload: usize,
    /// Idle connections in the memory run (0 skips it).
    #[arg(long, default_value_t = 10_000)]
    idle: usize,
    /// The `tcphub` binary (default: next to this example's directory).
    #[arg(long)]
    tcphub: Option<std::path::PathBuf>,
    /// Run the fan-out against this already running hub instead (for
    /// profiling it with perf or strace); the idle run is skipped.
    #[arg(long)]
    server: Option<SocketAddr>,
    /// With --server: the hub speaks the NATS client protocol (a rough
    /// same-machine reference; subscribers on one subject).
    #[arg(long)]
    nats: bool,
}

fn main() {
    let args = Args::parse();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let binary = args.tcphub.clone().unwrap_or_else(|| {
        let exe = std::env::current_exe().expect("own path");
        exe.parent()
            .and_then(|d| d.parent())
            .expect("target dir")
            .join("tcphub")
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(addr) = args.server {
        let rate = if args.nats {
            runtime.block_on(nats_fan_out(addr, &args))
        } else {
            runtime.block_on(fan_out(addr, &args))
        };
        println!(
            "fan-out: {} subscribers x {} messages of {} bytes: {:.0} deliveries/s",
            args.subscribers, args.messages, args.payload, rate
        );
        return;
    }
    {
        let (mut server, addr) = start_server(&binary);
        let rate = runtime.block_on(fan_out(addr, &args));
        println!(
            "fan-out: {} subscribers x {} messages of {} bytes: {:.0} deliveries/s",
            args.subscribers, args.messages, args.payload, rate
        );
        let _ = server.kill();
        let _ = server.wait();
    }
    if args.idle > 0 {
        let (mut server, addr) = start_server(&binary);
        let (per_connection, total) = runtime.block_on(idle(addr, server.id(), args.idle));
        println!(
            "idle: {} synced connections: server RSS grew {:.1} MiB, {:.0} bytes ({:.2} KiB) per connection",
            args.idle,
            total as f64 / (1 << 20) as f64,
            per_connection,
            per_connection / 1024.0
        );
        let _ = server.kill();
        let _ = server.wait();
    }
    runtime.shutdown_background();
}

// The caller kills and waits for the child; the lint cannot see that, nor
// that a panic here ends this whole program (and so the child's pipe).
#[allow(clippy::zombie_processes)]
fn start_server(binary: &std::path::Path) -> (Child, SocketAddr) {
    let mut child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("RUST_LOG", "warn,tcphub_native::server=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let mut lines = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).unwrap_or(0) == 0 {
            let status = child.wait();
            panic!("serve exited before listening: {status:?}");
        }
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if json["message"] == "listening" {
            let addr = json["addr"].as_str().unwrap().parse().unwrap();
            // Keep draining its logs so it never blocks on a full pipe.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while lines.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                    sink.clear();
                }
            });
            return (child, addr);
        }
    }
}

/// Connects and syncs `alias`; returns the stream once `synced` arrived.
async fn synced(addr: SocketAddr, alias: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    stream
        .write_all(&tcphub_core::encode_sync(alias))
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let mut got = Vec::new();
    while !got.contains(&b'\n') {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before synced");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(br#"{"type":"synced""#),
        "{}",
        String::from_utf8_lossy(&got)
    );
    stream
}

async fn fan_out(addr: SocketAddr, args: &Args) -> f64 {
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let mut streams = Vec::new();
    for i in 0..args.subscribers {
        streams.push(synced(addr, &format!("sub-{i}")).await);
    }
    let per_subscriber: Vec<Arc<AtomicU64>> = (0..args.subscribers)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    for (mut stream, mine) in streams.into_iter().zip(per_subscriber.iter().cloned()) {
        let total = received.clone();
        let expected = args.messages as u64;
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut seen = 0u64;
            while seen < expected {
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "subscriber closed by the hub");
                let lines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                seen += lines;
                mine.fetch_add(lines, Ordering::Relaxed);
                total.fetch_add(lines, Ordering::Relaxed);
            }
        }));
    }
    let mut publisher = synced(addr, "publisher").await;
    let payload = serde_json::value::to_raw_value(&"x".repeat(args.payload)).unwrap();
    let frame = tcphub_core::encode_info(Some("*"), &payload);
    const BATCH: usize = 64;
    // Stay at most this many messages ahead of the slowest subscriber, so
    // nobody is closed as a slow consumer.
    let window = ((4 << 20) / frame.len()).max(BATCH) as u64;
    let batch: Vec<u8> = frame.repeat(BATCH);
    let expected = (args.subscribers * args.messages) as u64;
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < args.messages {
        let slowest = per_subscriber
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        if sent as u64 > slowest + window {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        let count = BATCH.min(args.messages - sent);
        publisher
            .write_all(&batch[..count * frame.len()])
            .await
            .unwrap();
        sent += count;
    }
    while received.load(Ordering::Relaxed) < expected {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let elapsed = start.elapsed();
    for task in tasks {
        task.await.unwrap();
    }
    expected as f64 / elapsed.as_secs_f64()
}

async fn idle(addr: SocketAddr, pid: u32, count: usize) -> (f64, u64) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = rss_bytes(pid);
    let mut streams = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(500) {
        let joins: Vec<_> = chunk
            .iter()
            .map(|&i| tokio::spawn(async move { synced(addr, &format!("idle-{i}")).await }))
            .collect();
        for join in joins {
            streams.push(join.await.unwrap());
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes(pid);
    let grew = after.saturating_sub(before);
    drop(streams);
    (grew as f64 / count as f64, grew)
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// A NATS subscriber or publisher, past the handshake.
async fn nats_connect(addr: SocketAddr, subscribe: bool) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    let mut hello = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n".to_vec();
    if subscribe {
        hello.extend_from_slice(b"SUB load 1\r\n");
    }
    hello.extend_from_slice(b"PING\r\n");
    stream.write_all(&hello).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"PONG") {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "nats closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    stream
}

async fn nats_fan_out(addr: SocketAddr, args: &Args) -> f64 {
    let received = Arc::new(AtomicU64::new(0));
    let per_subscriber: Vec<Arc<AtomicU64>> = (0..args.subscribers)
        .map(|_| Arc::new(AtomicU64::new(0)))
        .collect();
    let mut tasks = Vec::new();
    for mine in &per_subscriber {
        let mine = mine.clone();
        let mut stream = nats_connect(addr, true).await;
        let total = received.clone();
        let expected = args.messages as u64;
        tasks.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            // Each message is two lines: `MSG ...` and the payload.
            let mut lines = 0u64;
            while lines / 2 < expected {
                let n = stream.read(&mut buf).await.expect("read");
                assert!(n > 0, "subscriber closed by nats");
                let new = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                let before = lines / 2;
                lines += new;
                mine.fetch_add(lines / 2 - before, Ordering::Relaxed);
                total.fetch_add(lines / 2 - before, Ordering::Relaxed);
            }
        }));
    }
    let mut publisher = nats_connect(addr, false).await;
    let mut frame = format!("PUB load {}\r\n", args.payload).into_bytes();
    frame.extend(std::iter::repeat_n(b'x', args.payload));
    frame.extend_from_slice(b"\r\n");
    const BATCH: usize = 64;
    let window = ((4 << 20) / frame.len()).max(BATCH) as u64;
    let batch: Vec<u8> = frame.repeat(BATCH);
    let expected = (args.subscribers * args.messages) as u64;
    let start = Instant::now();
    let mut sent = 0usize;
    while sent < args.messages {
        let slowest = per_subscriber
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .min()
            .unwrap_or(0);
        if sent as u64 > slowest + window {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        let count = BATCH.min(args.messages - sent);
        publisher
            .write_all(&batch[..count * frame.len()])
            .await
            .unwrap();
        sent += count;
    }
    while received.load(Ordering::Relaxed) < expected {
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let elapsed = start.elapsed();
    for task in tasks {
        task.await.unwrap();
    }
    expected as f64 / elapsed.as_secs_f64()
}
