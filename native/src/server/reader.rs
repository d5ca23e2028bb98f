//! A connection's reader: forwards what the peer sends to the hub task.
//!
//! It waits for readiness and then reads into a buffer on the stack of a
//! plain function, so an idle connection holds no read buffer at all; each
//! chunk read is copied once into a `Bytes` of its exact size for the hub.
//! Three things slow a client that sends faster than its messages are
//! delivered: its reader's own bound on chunks waiting for the hub task,
//! the hub's bounded input queue shared by every reader, and the core's
//! flow control, which pauses this reader until the queues its messages
//! fill drain. The server only carries out that pause; the core decides it.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use std::cell::RefCell;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::warn;

use super::connection::{Connection, QueueState};
use super::deadline::deadline_after;
use super::input::Input;
use super::transport::Stream;

/// Bytes read per syscall, at most. A flood of small frames is the case
/// this is sized for: 64 KiB rather than 16 took ~15% off the hub's CPU
/// per directed delivery (a quarter of the reads, channel sends and hub
/// turns per byte). The buffer is on the stack for the call only.
const READ_CHUNK: usize = 64 * 1024;
/// Longest a closed connection keeps draining its peer's input, so its
/// last frames reach the peer instead of being lost to a reset.
const MAX_LINGER: Duration = Duration::from_secs(2);

/// How the peer's side of a connection ended.
enum End {
    /// The peer half-closed (FIN): it may still read what it is owed.
    Eof,
    /// The connection failed, or the hub task is gone.
    Failed,
    /// The writer is done (the hub closed the session, or aborted it).
    StoppedByWriter,
}

/// Runs until the peer goes away or the writer is done; then tells the hub.
///
/// This future lives as long as its connection, idle or not, so what it
/// holds is paid per idle connection (see `footprint`): inputs are sent
/// with [`tell`], which holds no `Input` while it waits, and the linger
/// after a close, used once per connection, is boxed.
pub(crate) async fn read_loop(conn: Arc<Connection>, inputs: mpsc::Sender<Input>) {
    let session = conn.session;
    let end = forward(&conn, &inputs).await;
    if let End::Eof = end {
        // The hub answers everything the peer sent, then closes the
        // session; the writer finishes when that is flushed.
        tell(&inputs, || Input::Eof { session }).await;
        conn.reader_stopped().await;
    }
    // The hub learns of every end of a connection here, once, whoever
    // noticed it first; for a session it closed itself this is a no-op.
    tell(&inputs, || Input::Closed { session }).await;
    drop(inputs);
    if let End::StoppedByWriter = end {
        if let QueueState::Closing { deadline } = conn.queue_state() {
            Box::pin(linger(&conn, deadline.min(deadline_after(MAX_LINGER)))).await;
        }
    }
}

/// Sends the input `make` builds once the hub's queue has room; false when
/// the hub task is gone. As `Sender::send`, which waits the same way (a
/// free slot goes to the longest waiter first, so `try_reserve` cannot
/// overtake anyone), but smaller: the input is built once there is room,
/// and the wait for room, which only a hub behind on its input needs, is
/// boxed. Inline, `send`'s future added 328 bytes to the reader's and the
/// writer's futures, which every idle connection holds (see `footprint`).
pub(crate) async fn tell(inputs: &mpsc::Sender<Input>, make: impl FnOnce() -> Input) -> bool {
    let slot = match inputs.try_reserve() {
        Ok(slot) => slot,
        Err(mpsc::error::TrySendError::Full(())) => match Box::pin(inputs.reserve()).await {
            Ok(slot) => slot,
            Err(_) => return false,
        },
        Err(mpsc::error::TrySendError::Closed(())) => return false,
    };
    slot.send(make());
    true
}

/// Forwards input until the peer closes or fails, or the writer stops the
/// reader. Each chunk's frames are found here (`Connection::scan`), so
/// that the hub task, which every connection's input goes through, need
/// not find them: it takes them as found.
async fn forward(conn: &Connection, inputs: &mpsc::Sender<Input>) -> End {
    // A TLS client on a plain port is caught here, on the first chunk,
    // before the core sees it, rather than left to the core's framing
    // error: the core would answer with a JSON `error` frame, which a TLS
    // client cannot read and which only tells a scanner what runs here;
    // and record layers are the driver's business, not the protocol's.
    // The cost on the plain path is this flag, tested once per read.
    let mut first = conn.stream.is_plain();
    loop {
        if let Err(end) = next_read(conn).await {
            return end;
        }
        // Read by a plain function, so nothing of the read but the chunk
        // lives across the send below (see `footprint`).
        let bytes = match take_chunk(conn, &mut first) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => continue,
            Err(end) => return end,
        };
        let session = conn.session;
        let input = conn.scan(bytes);
        if !tell(inputs, || Input::Data { session, input }).await {
            return End::Failed;
        }
    }
}

/// One non-blocking read: the chunk read, `None` when there was none
/// after all, or how the input ended.
fn take_chunk(conn: &Connection, first: &mut bool) -> Result<Option<Bytes>, End> {
    let read = read_chunk(&conn.stream);
    if !matches!(read, Ok(Some(_))) {
        conn.input_processed();
    }
    match read {
        Ok(Some(bytes)) => {
            if std::mem::take(first) && is_tls_client_hello(&bytes) {
                // The peer's address costs a syscall, paid only here.
                let peer = conn.stream.tcp().peer_addr().ok();
                warn!(
                    session = %conn.session,
                    peer = ?peer,
                    "a TLS client reached a plain port (a TLS handshake, not JSON); closing \
                     without an answer (serve with --tls-cert and --tls-key for TLS)"
                );
                conn.input_processed();
                return Err(End::Failed);
            }
            Ok(Some(bytes))
        }
        Ok(None) => Err(End::Eof),
        Err(e) if would_retry(&e) => Ok(None),
        Err(_) => Err(End::Failed),
    }
}

/// Waits until the next read may go ahead, or for the writer to stop the
/// reader.
async fn next_read(conn: &Connection) -> Result<(), End> {
    tokio::select! {
        biased;
        () = conn.reader_stopped() => Err(End::StoppedByWriter),
        ready = wait_readable(conn) => ready.map_err(|_| End::Failed),
    }
}

/// Waits until reading is allowed (not paused by flow control, and a slot
/// free among the chunks this reader may have waiting for the hub) and the
/// socket is readable. The slot is given back by the hub task once it has
/// processed the chunk, or here when no chunk was read into it.
async fn wait_readable(conn: &Connection) -> io::Result<()> {
    conn.reading_allowed().await;
    conn.input_slot().await;
    conn.stream.readable().await
}

/// Reads and discards until the peer closes or `deadline`.
async fn linger(conn: &Connection, deadline: Instant) {
    let drain = async {
        loop {
            // Raw bytes, TLS or not: they are dropped unread.
            let tcp = conn.stream.tcp();
            if tcp.readable().await.is_err() {
                return;
            }
            match discard_some(tcp) {
                Ok(Some(_)) => {}
                Err(e) if would_retry(&e) => {}
                Ok(None) | Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, drain).await;
}

fn would_retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

thread_local! {
    /// Where a worker thread's reads land before they are copied out at
    /// their size. One per thread, zeroed once: a fresh 64 KiB array per
    /// read would be a 64 KiB memset for every small request. No
    /// connection holds a read buffer while idle.
    static READ_BUF: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// One non-blocking read; `None` at end of stream.
fn read_chunk(stream: &Stream) -> io::Result<Option<Bytes>> {
    READ_BUF.with_borrow_mut(|buf| match stream.try_read(buf)? {
        0 => Ok(None),
        n => Ok(Some(Bytes::copy_from_slice(&buf[..n]))),
    })
}

/// One non-blocking read whose bytes are dropped; `None` at end of stream.
fn discard_some(tcp: &tokio::net::TcpStream) -> io::Result<Option<()>> {
    READ_BUF.with_borrow_mut(|buf| Ok((tcp.try_read(buf)? > 0).then_some(())))
}

/// Whether a connection's first bytes open a TLS handshake record:
/// content type 22 (handshake), then major version 3. No JSON text starts
/// with byte 0x16.
fn is_tls_client_hello(first: &[u8]) -> bool {
    matches!(first, [0x16, 0x03, ..] | [0x16])
}

#[cfg(test)]
mod tests {
    use super::is_tls_client_hello;

    #[test]
    fn a_tls_record_header_is_told_from_json() {
        assert!(is_tls_client_hello(&[0x16, 0x03, 0x01, 0x02, 0x00]));
        assert!(is_tls_client_hello(&[0x16]));
        assert!(!is_tls_client_hello(b"{\"type\":\"sync\"}"));
        assert!(!is_tls_client_hello(b" {}"));
        assert!(!is_tls_client_hello(&[0x16, 0x7b]));
    }
}
