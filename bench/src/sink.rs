//! A sink: a server that speaks just enough of either protocol to let
//! clients join, discards everything they publish, and floods every
//! subscriber with ready-made messages as fast as its socket takes them.
//! Against it, the `capacity` scenario measures what the generator itself can
//! publish and receive, with no hub in the way.

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};

use super::target::Target;
use super::wire::{self, Proto};

/// Size of the block of messages written to a subscriber at a time.
const FLOOD_BLOCK: usize = 64 * 1024;

#[derive(Debug, Clone, Args)]
pub struct SinkArgs {
    /// Address to listen on (port 0: the OS chooses; the port is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Payload bytes of the messages sent to subscribers.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
}

/// Serves until interrupted; prints `listening PORT` once ready.
pub async fn run(target: &Target, args: &SinkArgs) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen).await?;
    println!("listening {}", listener.local_addr()?.port());
    std::io::stdout().flush()?;
    tokio::select! {
        () = serve(listener, target.proto, args.payload) => {}
        r = tokio::signal::ctrl_c() => r?,
    }
    Ok(())
}

/// Starts a sink in this process on a loopback port.
pub async fn spawn(proto: Proto, payload: usize) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve(listener, proto, payload));
    Ok(addr)
}

/// Accepts forever.
pub async fn serve(listener: TcpListener, proto: Proto, payload: usize) {
    let block = Arc::new(flood_block(proto, payload));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(serve_client(stream, proto, block.clone()));
            }
            // Out of descriptors, most likely: let some close.
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
        }
    }
}

/// Whole messages as a subscriber of the fan-out would get them.
fn flood_block(proto: Proto, payload: usize) -> Vec<u8> {
    let payload = wire::filler(payload);
    let mut one = Vec::new();
    match proto {
        Proto::Tcphub => {
            /// A relayed `info` as the hub writes it: `type` first.
            #[derive(serde::Serialize)]
            struct Delivered<'a> {
                r#type: &'a str,
                from: &'a str,
                message: &'a str,
            }
            let message = String::from_utf8_lossy(&payload);
            let frame = Delivered {
                r#type: "info",
                from: "pub",
                message: &message,
            };
            serde_json::to_writer(&mut one, &frame).expect("a frame serializes");
            one.push(b'\n');
        }
        Proto::Nats => {
            one.extend_from_slice(format!("MSG bench.fanout 1 {}\r\n", payload.len()).as_bytes());
            one.extend_from_slice(&payload);
            one.extend_from_slice(b"\r\n");
        }
    }
    one.repeat((FLOOD_BLOCK / one.len()).max(1))
}

/// Answers joins and pings, discards the rest; floods a subscriber once
/// it has joined.
async fn serve_client(stream: TcpStream, proto: Proto, block: Arc<Vec<u8>>) -> std::io::Result<()> {
    let (mut read, mut write) = stream.into_split();
    if proto == Proto::Nats {
        write
            .write_all(b"INFO {\"server_id\":\"sink\",\"version\":\"2.9.10\",\"proto\":1,\"max_payload\":1048576}\r\n")
            .await?;
    }
    let mut buf = vec![0u8; 64 * 1024];
    let mut filled = 0;
    // NATS: payload bytes of a `PUB` still to skip.
    let mut skip = 0usize;
    let mut subscriber = false;
    loop {
        if filled == buf.len() {
            filled = 0; // A line longer than the buffer: not from the generator.
        }
        let n = read.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let mut replies = Vec::new();
        let mut start = 0;
        while start < filled {
            if skip > 0 {
                let take = skip.min(filled - start);
                skip -= take;
                start += take;
                continue;
            }
            let Some(nl) = memchr::memchr(b'\n', &buf[start..filled]) else {
                break;
            };
            let line = &buf[start..start + nl];
            start += nl + 1;
            match proto {
                Proto::Tcphub => {
                    if memchr::memmem::find(line, br#""type":"sync""#).is_some() {
                        let name = field(line, br#""clientName":""#).unwrap_or(b"?");
                        replies.extend_from_slice(br#"{"type":"synced","clientName":""#);
                        replies.extend_from_slice(name);
                        replies.extend_from_slice(b"\",\"sessionId\":\"sink\"}\n");
                        subscriber |= name.starts_with(b"sub");
                    } else if memchr::memmem::find(line, br#""type":"ping""#).is_some() {
                        replies.extend_from_slice(b"{\"type\":\"pong\"}\n");
                    }
                }
                Proto::Nats => {
                    if let Some(rest) = line.strip_prefix(b"PUB ") {
                        let size = rest
                            .rsplit(|&b| b == b' ' || b == b'\r')
                            .find(|t| !t.is_empty())
                            .and_then(|t| std::str::from_utf8(t).ok()?.parse::<usize>().ok())
                            .unwrap_or(0);
                        skip = size + 2;
                    } else if line.starts_with(b"SUB ") {
                        subscriber = true;
                    } else if line.starts_with(b"PING") {
                        replies.extend_from_slice(b"PONG\r\n");
                    }
                }
            }
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if !replies.is_empty() {
            write.write_all(&replies).await?;
            if subscriber {
                tokio::spawn(flood(write, block));
                return discard(read).await;
            }
        }
    }
}

/// The string value after `key` in a JSON line (no escapes expected).
fn field<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let at = memchr::memmem::find(line, key)? + key.len();
    let len = memchr::memchr(b'"', &line[at..])?;
    Some(&line[at..at + len])
}

async fn flood(mut write: OwnedWriteHalf, block: Arc<Vec<u8>>) -> std::io::Result<()> {
    loop {
        write.write_all(&block).await?;
    }
}

async fn discard(mut read: tokio::net::tcp::OwnedReadHalf) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while read.read(&mut buf).await? > 0 {}
    Ok(())
}
