//! A connection's writer: drains its send queue into as few syscalls as
//! possible.
//!
//! Each wake-up takes every queued frame at once and hands them to the
//! kernel with vectored writes (up to [`MAX_SLICES`] frames per syscall), so
//! a flood of small frames costs a few writes, not one write per frame.
//! The writer waits on socket readiness rather than on a write future, so
//! the hub can interrupt a write that a slow peer holds up.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::Shutdown;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tracing::debug;

use super::connection::{Connection, QueueState};
use super::deadline::far_future;

/// Frames handed to one `writev`: well under `IOV_MAX` (1024 on Linux),
/// and enough to fill a socket buffer with small frames.
const MAX_SLICES: usize = 256;
/// A batch deque that grew past this many slots is dropped after use
/// rather than kept, so an idle connection holds no large buffer.
pub(crate) const KEEP_BATCH_CAPACITY: usize = 64;

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
pub(crate) async fn write_loop(conn: Arc<Connection>) {
    let mut batch = VecDeque::new();
    loop {
        let state = conn.take(&mut batch);
        if state == QueueState::Aborted {
            break;
        }
        if batch.is_empty() {
            match state {
                QueueState::Open => {
                    conn.writer_woken().await;
                    continue;
                }
                QueueState::Closing { .. } => {
                    // Everything is flushed: FIN tells the peer we are done.
                    // The reader keeps draining its input for a moment so
                    // the close does not turn into a reset that could
                    // discard the last frames at the peer.
                    let _ = socket2::SockRef::from(&conn.stream).shutdown(Shutdown::Write);
                    break;
                }
                QueueState::Aborted => unreachable!("handled above"),
            }
        }
        let deadline = match state {
            QueueState::Closing { deadline } => Some(deadline),
            _ => None,
        };
        if let Err(stop) = write_batch(&conn, &mut batch, deadline).await {
            debug!(session = %conn.session, reason = ?stop, "writer stopped");
            conn.abort();
            break;
        }
        if batch.capacity() > KEEP_BATCH_CAPACITY {
            batch = VecDeque::new();
        }
    }
    conn.writer_done();
}

/// Writes all of `batch`, waiting for the socket as needed.
async fn write_batch(
    conn: &Connection,
    batch: &mut VecDeque<Bytes>,
    mut deadline: Option<Instant>,
) -> Result<(), WriteStop> {
    while !batch.is_empty() {
        match write_some(&conn.stream, batch) {
            Ok(0) => return Err(WriteStop::Io(io::ErrorKind::WriteZero.into())),
            Ok(n) => {
                consume(batch, n);
                conn.written(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let until = deadline.unwrap_or_else(far_future);
                tokio::select! {
                    ready = conn.stream.writable() => ready.map_err(WriteStop::Io)?,
                    () = conn.writer_woken() => match conn.state() {
                        QueueState::Aborted => return Err(WriteStop::Aborted),
                        QueueState::Closing { deadline: d } => deadline = Some(d),
                        QueueState::Open => {}
                    },
                    () = tokio::time::sleep_until(until), if deadline.is_some() => {
                        return Err(WriteStop::DeadlinePassed);
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(WriteStop::Io(e)),
        }
    }
    Ok(())
}

/// One non-blocking vectored write of the front of `batch`. Kept out of
/// the async code so the slice array lives on the stack, not in the task.
pub(crate) fn write_some(stream: &TcpStream, batch: &VecDeque<Bytes>) -> io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let mut count = 0;
    for (slot, frame) in slices.iter_mut().zip(batch.iter()) {
        *slot = IoSlice::new(frame);
        count += 1;
    }
    if count == 1 {
        return stream.try_write(&batch[0]);
    }
    stream.try_write_vectored(&slices[..count])
}

/// Drops the first `n` written bytes from `batch`.
pub(crate) fn consume(batch: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = batch.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            batch.pop_front();
        } else {
            front.advance(n);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_pops_whole_frames_and_advances_a_partial_one() {
        let mut batch: VecDeque<Bytes> = [&b"abc"[..], b"de", b"fgh"]
            .into_iter()
            .map(Bytes::from_static)
            .collect();
        consume(&mut batch, 4);
        assert_eq!(
            batch,
            [Bytes::from_static(b"e"), Bytes::from_static(b"fgh")]
        );
        consume(&mut batch, 4);
        assert!(batch.is_empty());
    }
}
