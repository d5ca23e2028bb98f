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
//!
//! On a TLS listener each connection first does its handshake in a task of
//! its own, bounded by the handshake timeout, while the loop goes on
//! accepting; only a finished handshake takes a session permit and reaches
//! the hub task, so a stalled or hostile handshake never holds a session,
//! a place under the limit or the accept loop.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tcphub_core::ErrorCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, error, warn};

use super::deadline::deadline_after;
use super::input::Input;
use super::transport::{Stream, TlsStream};

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Refused connections being told so at once; past this, a connection over
/// the limit is closed without a word rather than grow the process.
const MAX_REFUSALS_IN_FLIGHT: usize = 64;
/// How long a refused connection may take to receive its error.
const REFUSAL_LINGER: Duration = Duration::from_secs(1);
/// TLS handshakes under way at once; past this a new connection is closed
/// at once (and logged), so a flood of stalled handshakes costs at most
/// this many sockets and small tasks, each for at most the timeout.
const MAX_HANDSHAKES_IN_FLIGHT: usize = 1024;

/// A TLS listener's settings.
#[derive(Clone)]
pub(crate) struct TlsAccept {
    pub(crate) acceptor: TlsAcceptor,
    /// A handshake not done by then is dropped.
    pub(crate) timeout: Duration,
}

/// Accepts connections and hands them to the hub task until `shutdown`
/// resolves (or the hub task is gone). The listener is dropped on return,
/// so later connection attempts are refused by the OS.
pub(crate) async fn accept_until(
    listener: TcpListener,
    limit: Arc<Semaphore>,
    refusal: Bytes,
    inputs: &mpsc::Sender<Input>,
    tls: Option<TlsAccept>,
    mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
) {
    let refusals = Arc::new(Semaphore::new(MAX_REFUSALS_IN_FLIGHT));
    let mut warned_full = false;
    // Dropped on return, which ends every handshake still under way.
    let mut handshakes = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = shutdown.as_mut() => return,
        };
        if let Some(tls) = &tls {
            while handshakes.try_join_next().is_some() {}
            if handshakes.len() >= MAX_HANDSHAKES_IN_FLIGHT {
                warn!(%peer, "too many TLS handshakes under way; closing the connection");
                continue;
            }
            let admit = Admit {
                limit: limit.clone(),
                refusal: refusal.clone(),
                refusals: refusals.clone(),
                inputs: inputs.clone(),
            };
            handshakes.spawn(handshake(tls.clone(), stream, peer, admit));
            continue;
        }
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            if !warned_full {
                warn!(%peer, code = %ErrorCode::TooManySessions, "session limit reached; turning new connections away");
                warned_full = true;
            }
            refuse(stream, refusal.clone(), &refusals);
            continue;
        };
        warned_full = false;
        if inputs
            .send(accepted(Stream::Plain(stream), peer, permit))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Sends `refusal` and closes, in a short task of its own. The client's
/// first frames are read and dropped before closing: closing a socket with
/// unread input resets it, and the reset could beat the error to the client.
fn refuse<S>(stream: S, refusal: Bytes, refusals: &Arc<Semaphore>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Ok(permit) = refusals.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let _ = tokio::time::timeout(REFUSAL_LINGER, say_and_close(stream, refusal)).await;
    });
}

async fn say_and_close<S>(mut stream: S, refusal: Bytes) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream.write_all(&refusal).await?;
    stream.shutdown().await?;
    let mut sink = [0u8; 256];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

impl std::fmt::Debug for TlsAccept {
    // `TlsAcceptor` has no `Debug`; its configuration says nothing useful.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAccept")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// What a finished handshake needs to become a session.
struct Admit {
    limit: Arc<Semaphore>,
    refusal: Bytes,
    refusals: Arc<Semaphore>,
    inputs: mpsc::Sender<Input>,
}

/// Why a connection to the TLS port did not become a TLS session.
#[derive(Debug)]
enum HandshakeFailed {
    /// Its first byte does not open a TLS handshake record.
    NotTls(u8),
    /// The peer left before sending anything.
    Left,
    Io(io::Error),
}

/// Runs a TLS handshake with `stream` by the deadline, then hands the
/// session to the hub task (or refuses it, over TLS, when the session
/// limit is reached).
async fn handshake(tls: TlsAccept, stream: TcpStream, peer: SocketAddr, admit: Admit) {
    let deadline = deadline_after(tls.timeout);
    let shaken = tokio::time::timeout_at(deadline, async {
        // A plain-text client is told apart by its first byte (a TLS
        // handshake record starts with 0x16; JSON never does), so the log
        // can say what happened rather than show a record-layer error.
        let mut first = [0u8; 1];
        match stream.peek(&mut first).await {
            Ok(0) => return Err(HandshakeFailed::Left),
            Ok(_) if first[0] != 0x16 => return Err(HandshakeFailed::NotTls(first[0])),
            Ok(_) => {}
            Err(e) => return Err(HandshakeFailed::Io(e)),
        }
        tls.acceptor
            .accept(stream)
            .await
            .map_err(HandshakeFailed::Io)
    })
    .await;
    let stream = match shaken {
        Ok(Ok(stream)) => stream,
        Err(_elapsed) => {
            warn!(%peer, timeout_ms = tls.timeout.as_millis() as u64, "TLS handshake not finished in time; closing the connection");
            return;
        }
        Ok(Err(HandshakeFailed::NotTls(byte))) => {
            warn!(%peer, first_byte = byte, "not TLS: plain text reached the TLS port; closing the connection");
            return;
        }
        Ok(Err(HandshakeFailed::Left)) => {
            debug!(%peer, "left before the TLS handshake");
            return;
        }
        Ok(Err(HandshakeFailed::Io(e))) => {
            warn!(%peer, error = %e, "TLS handshake failed; closing the connection");
            return;
        }
    };
    let Ok(permit) = admit.limit.clone().try_acquire_owned() else {
        warn!(%peer, code = %ErrorCode::TooManySessions, "session limit reached; turning a TLS connection away");
        refuse(stream, admit.refusal, &admit.refusals);
        return;
    };
    let (tcp, session) = stream.into_inner();
    let _ = admit
        .inputs
        .send(accepted(
            Stream::Tls(Box::new(TlsStream::new(tcp, session))),
            peer,
            permit,
        ))
        .await;
}

fn accepted(stream: Stream, peer: SocketAddr, permit: OwnedSemaphorePermit) -> Input {
    Input::Accepted {
        stream,
        peer,
        permit,
    }
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
