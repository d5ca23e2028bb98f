//! A connection's writer: drains its send queue into as few syscalls as
//! possible and tells the hub how much got out.
//!
//! Each wake-up takes every queued frame at once and hands them to the
//! kernel with vectored writes. The writer waits on socket readiness rather
//! than on a write future, so the hub can interrupt a write that a slow
//! peer holds up (to drop unsent frames or abort).

use std::io;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::debug;

use super::connection::{Connection, QueueState};
use super::deadline::far_future;
use super::input::Input;
use super::reader::tell;
use super::send_queue::Frames;

/// Why a batch could not be written.
#[derive(Debug)]
enum WriteStop {
    /// The hub aborted the connection.
    Aborted,
    /// The closing deadline passed with bytes still unsent.
    DeadlinePassed,
    /// The socket failed (peer reset, ...). Read through `Debug` in the log.
    Io(#[allow(dead_code)] io::Error),
}

/// Runs until the connection is closed or aborted.
pub(crate) async fn write_loop(conn: Arc<Connection>, inputs: mpsc::Sender<Input>) {
    let mut batch = Frames::default();
    loop {
        let state = conn.take(&mut batch);
        if state == QueueState::Aborted {
            break;
        }
        // TLS records a socket did not take yet go out before anything
        // else happens; on a plain connection there never are any.
        if batch.is_empty() && !conn.stream.has_pending_writes() {
            match state {
                QueueState::Open => {
                    conn.writer_woken().await;
                    continue;
                }
                QueueState::Closing { .. } => {
                    // Everything is flushed, the farewell last: FIN tells
                    // the peer we are done. The reader keeps draining its
                    // input for a moment so the close does not turn into a
                    // reset that could discard the last frames at the peer.
                    conn.stream.shutdown_write();
                    break;
                }
                QueueState::Aborted => unreachable!("handled above"),
            }
        }
        let deadline = match state {
            QueueState::Closing { deadline } => Some(deadline),
            _ => None,
        };
        if let Err(stop) = write_batch(&conn, &mut batch, deadline, &inputs).await {
            debug!(handle = %conn.session, reason = ?stop, "writer stopped");
            conn.abort();
            break;
        }
        batch.release_if_large();
    }
    conn.writer_done();
}

/// Writes all of `batch`, waiting for the socket as needed, and reports
/// what it wrote to the hub.
async fn write_batch(
    conn: &Connection,
    batch: &mut Frames,
    mut deadline: Option<Instant>,
    inputs: &mpsc::Sender<Input>,
) -> Result<(), WriteStop> {
    loop {
        // `None`: only records rustls held were written (TLS), no frame.
        let written = if !batch.is_empty() {
            batch.write_to(&conn.stream).map(Some)
        } else if conn.stream.has_pending_writes() {
            conn.stream.try_flush().map(|()| None)
        } else {
            return Ok(());
        };
        match written {
            Ok(None) => {}
            Ok(Some(0)) => return Err(WriteStop::Io(io::ErrorKind::WriteZero.into())),
            Ok(Some(n)) => {
                if conn.written(n) {
                    // One message however many writes follow before the
                    // hub takes the count; a stopped hub needs none.
                    let session = conn.session;
                    tell(inputs, || Input::Written { session }).await;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                // Boxed: only a full socket needs this wait, and inline it
                // would make the writer's future, which every idle
                // connection holds, larger by the whole `select!`.
                Box::pin(wait_writable(conn, batch, &mut deadline)).await?;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WriteStop::Io(e)),
        }
    }
}

/// Waits until the socket takes more bytes, or the hub closes or aborts
/// the connection meanwhile (a close moves `deadline`).
async fn wait_writable(
    conn: &Connection,
    batch: &mut Frames,
    deadline: &mut Option<Instant>,
) -> Result<(), WriteStop> {
    let until = deadline.unwrap_or_else(far_future);
    tokio::select! {
        ready = conn.stream.writable() => ready.map_err(WriteStop::Io),
        () = conn.writer_woken() => match conn.state(batch) {
            QueueState::Aborted => Err(WriteStop::Aborted),
            QueueState::Closing { deadline: d } => {
                *deadline = Some(d);
                Ok(())
            }
            QueueState::Open => Ok(()),
        },
        () = tokio::time::sleep_until(until), if deadline.is_some() => {
            Err(WriteStop::DeadlinePassed)
        }
    }
}
