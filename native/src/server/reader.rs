//! A connection's reader: forwards what the peer sends to the hub task.
//!
//! It waits for readiness and then reads into a buffer on the stack of a
//! plain function, so an idle connection holds no read buffer at all; each
//! chunk read is copied once into a `Bytes` of its exact size for the hub.
//! Sending to the hub awaits room in its bounded input queue, which is what
//! slows a client that sends faster than the hub routes.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::connection::{Connection, QueueState};
use super::deadline::deadline_after;
use super::hub_task::Input;

/// Bytes read per syscall.
const READ_CHUNK: usize = 16 * 1024;
/// Longest a closed connection keeps draining its peer's input, so its
/// last frames reach the peer instead of being lost to a reset.
const MAX_LINGER: Duration = Duration::from_secs(2);

/// Runs until the peer goes away or the writer is done; then tells the hub.
pub(crate) async fn read_loop(conn: Arc<Connection>, inputs: mpsc::Sender<Input>) {
    let stopped_by_writer = forward(&conn, &inputs).await;
    // The hub learns of every end of a connection here, once, whoever
    // noticed it first; for a session it closed itself this is a no-op.
    let _ = inputs
        .send(Input::Closed {
            session: conn.session,
        })
        .await;
    drop(inputs);
    if stopped_by_writer {
        if let QueueState::Closing { deadline } = conn.state() {
            linger(&conn, deadline.min(deadline_after(MAX_LINGER))).await;
        }
    }
}

/// Forwards input until the peer closes (false) or the writer stops the
/// reader (true).
async fn forward(conn: &Connection, inputs: &mpsc::Sender<Input>) -> bool {
    loop {
        tokio::select! {
            biased;
            () = conn.reader_stopped() => return true,
            ready = conn.stream.readable() => if ready.is_err() { return false },
        }
        match read_chunk(&conn.stream) {
            Ok(Some(bytes)) => {
                let input = Input::Data {
                    session: conn.session,
                    bytes,
                };
                if inputs.send(input).await.is_err() {
                    return false;
                }
            }
            Ok(None) => return false,
            Err(e) if would_retry(&e) => {}
            Err(_) => return false,
        }
    }
}

/// Reads and discards until the peer closes or `deadline`.
async fn linger(conn: &Connection, deadline: Instant) {
    let drain = async {
        loop {
            if conn.stream.readable().await.is_err() {
                return;
            }
            match read_chunk(&conn.stream) {
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

/// One non-blocking read; `None` at end of stream. The buffer lives only
/// for this call.
fn read_chunk(stream: &TcpStream) -> io::Result<Option<Bytes>> {
    let mut buf = [0u8; READ_CHUNK];
    match stream.try_read(&mut buf)? {
        0 => Ok(None),
        n => Ok(Some(Bytes::copy_from_slice(&buf[..n]))),
    }
}
