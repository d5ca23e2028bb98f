//! The accept loop: each connection takes a session permit, or is turned
//! away at once.
//!
//! As in mini-redis, the permit from the session semaphore travels with the
//! connection. It is given back when the connection's writer is done (its
//! last frames flushed, or the connection aborted), so it counts every
//! session still open and every closed one still flushing; the moment a
//! closed connection may then spend draining its peer's last bytes (at
//! most 2 s, see the reader) is not counted. When none is left the
//! connection never reaches the hub task: it is sent the core's
//! `too_many_sessions` error and closed, so a client learns why instead of
//! hanging unanswered in the listen backlog, and it costs nothing beyond
//! its socket for a moment. Accept errors (out of file descriptors, above
//! all) back off instead of spinning.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tcphub_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tracing::{error, warn};

use super::input::Input;

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Refused connections being told so at once; past this, a connection over
/// the limit is closed without a word rather than grow the process.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused connection may take to receive its error.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// Accepts connections and hands them to the hub task until `shutdown`
/// resolves (or the hub task is gone). The listener is dropped on return,
/// so later connection attempts are refused by the OS.
pub(crate) async fn accept_until(
    listener: TcpListener,
    limit: Arc<Semaphore>,
    refusal: Bytes,
    inputs: &mpsc::Sender<Input>,
    mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
) {
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let mut warned_full = false;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = shutdown.as_mut() => return,
        };
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            if !warned_full {
                warn!(%peer, code = %ErrorCode::TooManySessions, "session limit reached; turning new connections away");
                warned_full = true;
            }
            refuse(stream, refusal.clone(), &refusals);
            continue;
        };
        warned_full = false;
        let input = Input::Accepted {
            stream,
            peer,
            permit,
        };
        if inputs.send(input).await.is_err() {
            return;
        }
    }
}

/// Sends `refusal` and closes, in a short task of its own. The client's
/// first frames are read and dropped before closing: closing a socket with
/// unread input resets it, and the reset could beat the error to the client.
fn refuse(mut stream: TcpStream, refusal: Bytes, refusals: &Arc<Semaphore>) {
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REFUSAL_LINGER, async {
            stream.write_all(&refusal).await?;
            stream.shutdown().await?;
            let mut sink = [0u8; 256];
            while stream.read(&mut sink).await? > 0 {}
            Ok::<(), io::Error>(())
        })
        .await;
    });
}

/// Accepts one connection, waiting out errors with a growing pause.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // The writer batches frames itself; Nagle would only add
                // latency to a lone frame.
                let _ = stream.set_nodelay(true);
                limit_unsent(&stream);
                return (stream, peer);
            }
            // The client gave up before we got to it: nothing to wait for.
            Err(e) if is_per_connection(&e) => {}
            Err(e) => {
                if backoff == MAX_BACKOFF {
                    error!(error = %e, "accept keeps failing; retrying every second");
                } else {
                    warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; pausing");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Keeps at most 128 KiB unsent in the kernel for each
/// connection (TCP_NOTSENT_LOWAT, Linux). Without it the kernel accepts up
/// to its whole autotuned send buffer (4 MiB on loopback) for a slow
/// reader and reports the socket writable again only once a third of that
/// has drained: a reader taking 100 KB/s would show no progress for over
/// ten seconds and be cut as a slow consumer although it never stopped.
/// With it the socket turns writable each time half of the limit is sent,
/// so the hub sees a steady reader's progress, holds what it must queue in
/// its own (flow-controlled) queue, and a closing session's last frames
/// wait behind at most this much.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn limit_unsent(stream: &TcpStream) {
    const NOTSENT_LOWAT: u32 = 128 * 1024;
    let _ = socket2::SockRef::from(stream).set_tcp_notsent_lowat(NOTSENT_LOWAT);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn limit_unsent(_stream: &TcpStream) {}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
