//! The metrics endpoint: a small HTTP/1.1 responder on tokio. One route
//! (`GET /metrics`), one response per connection, then close: what
//! Prometheus and `curl` need, without an HTTP framework's dozen crates
//! in the binary.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::encode::{encode, CONTENT_TYPE};
use crate::HubHandle;

/// Longest request head read: a scraper's is a few hundred bytes.
const MAX_HEAD: usize = 8 * 1024;
/// A scraper that has not sent its request (or read the answer) in this
/// time is dropped, so idle connections cannot pile up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes answered at once; more wait for their turn to be accepted.
const MAX_CONNECTIONS: usize = 16;
/// Pause after a failed `accept` (out of file descriptors, say), so the
/// loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A bound metrics listener, ready to [`run`](MetricsServer::run).
#[derive(Debug)]
pub struct MetricsServer {
    listener: TcpListener,
    local_addr: SocketAddr,
}

impl MetricsServer {
    /// Binds `addr` (port 0 picks a free port).
    pub async fn bind(addr: SocketAddr) -> io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        Ok(MetricsServer {
            listener,
            local_addr,
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Answers scrapes with `hub`'s stats until the task is dropped.
    pub async fn run(self, hub: HubHandle) {
        let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            // The permit is taken before accepting and moved into the
            // connection's task, so the limit frees itself on drop.
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let stream = match self.listener.accept().await {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "metrics: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            };
            let hub = hub.clone();
            tokio::spawn(async move {
                let answered = tokio::time::timeout(REQUEST_TIMEOUT, answer(stream, &hub)).await;
                if let Ok(Err(error)) = answered {
                    tracing::debug!(%error, "metrics: scrape failed");
                }
                drop(permit);
            });
        }
    }
}

/// Reads one request and writes its response.
async fn answer(mut stream: TcpStream, hub: &HubHandle) -> io::Result<()> {
    let response = match read_head(&mut stream).await? {
        None => response("400 Bad Request", "text/plain", "bad request\n", true),
        Some(head) => route(&head, hub).await,
    };
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// The request line and headers, up to the blank line; `None` when the
/// head is too long or the connection ends first.
async fn read_head(stream: &mut TcpStream) -> io::Result<Option<String>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(end) = find(&head, b"\r\n\r\n").or_else(|| find(&head, b"\n\n")) {
            head.truncate(end);
            return Ok(String::from_utf8(head).ok());
        }
        if head.len() > MAX_HEAD {
            return Ok(None);
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

async fn route(head: &str, hub: &HubHandle) -> Vec<u8> {
    let mut words = head.lines().next().unwrap_or("").split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    // A query string (`/metrics?x=y`) is ignored, as Prometheus may send one.
    let path = target.split('?').next().unwrap_or("");
    if path != "/metrics" {
        return response(
            "404 Not Found",
            "text/plain",
            "not found: metrics are at /metrics\n",
            true,
        );
    }
    let with_body = match method {
        "GET" => true,
        "HEAD" => false,
        _ => {
            return response(
                "405 Method Not Allowed\r\nAllow: GET, HEAD",
                "text/plain",
                "only GET and HEAD\n",
                true,
            )
        }
    };
    match hub.stats().await {
        Ok(stats) => {
            let text = encode(&stats, hub.hub_task_busy());
            response("200 OK", CONTENT_TYPE, &text, with_body)
        }
        Err(_) => response(
            "503 Service Unavailable",
            "text/plain",
            "the hub has stopped\n",
            with_body,
        ),
    }
}

fn response(status: &str, content_type: &str, body: &str, with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    out
}
