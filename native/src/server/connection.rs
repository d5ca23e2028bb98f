//! One accepted connection, as the hub task, its reader and its writer
//! share it.
//!
//! The hub task queues frames; the writer drains the queue; the reader
//! forwards what the peer sends. The queue is the only state behind a lock,
//! held for a push, a swap, or one non-blocking write by the hub task
//! (`flush_in_place`), never across a wait. Nothing here is held per
//! connection while it is idle beyond the socket, this struct and the two
//! tasks' small futures: no read buffer, and the send queue's storage is
//! dropped when it grows large.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tcphub_core::SessionId;
use tokio::net::TcpStream;
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

/// Where a connection stands, as its writer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueState {
    /// Frames may be queued.
    Open,
    /// The hub closed the session: flush what is queued by `deadline`, then
    /// close the socket.
    Closing {
        /// After this the rest is dropped.
        deadline: Instant,
    },
    /// Drop everything and close now (peer gone, slow consumer, server
    /// stopped).
    Aborted,
}

/// What became of a frame offered to a connection.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Push {
    /// Queued; `was_empty` says the writer must be woken for it.
    Queued { was_empty: bool },
    /// Queuing it would pass the byte cap: the peer is a slow consumer.
    Overflow,
    /// The connection is closing; the frame was dropped.
    Closed,
}

#[derive(Debug)]
struct SendQueue {
    frames: VecDeque<Bytes>,
    /// Bytes queued or taken by the writer and not yet written to the
    /// socket: what the slow-consumer cap applies to.
    bytes: usize,
    state: QueueState,
    /// The writer task holds frames it took and has not finished writing:
    /// nothing may be written past them.
    writer_busy: bool,
}

/// A connection shared by the hub task and the connection's two tasks.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: TcpStream,
    pub(crate) session: SessionId,
    queue: Mutex<SendQueue>,
    /// Wakes the writer: frames were queued or the state changed.
    writer_wake: Notify,
    /// Wakes the reader: the writer is done, stop forwarding input.
    reader_stop: Notify,
    /// The session's place under the session limit, given back when the
    /// writer is done (flushed or aborted): from then on the connection
    /// only drains its peer's last bytes for a moment before it closes, and
    /// a server shutting down need not wait for that.
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

impl Connection {
    pub(crate) fn new(stream: TcpStream, session: SessionId, permit: OwnedSemaphorePermit) -> Self {
        Connection {
            stream,
            session,
            queue: Mutex::new(SendQueue {
                frames: VecDeque::new(),
                bytes: 0,
                state: QueueState::Open,
                writer_busy: false,
            }),
            writer_wake: Notify::new(),
            reader_stop: Notify::new(),
            permit: Mutex::new(Some(permit)),
        }
    }

    fn queue(&self) -> MutexGuard<'_, SendQueue> {
        // A panic while holding this lock cannot leave the queue half
        // updated (every critical section is a few plain assignments), so a
        // poisoned lock is still safe to use.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- hub task side -----

    /// Queues `frame` unless that would pass `cap` bytes. A single frame
    /// is always accepted into an empty queue, so a cap below the frame
    /// size limit cannot shut every client out.
    pub(crate) fn push(&self, frame: Bytes, cap: usize) -> Push {
        let mut queue = self.queue();
        if queue.state != QueueState::Open {
            return Push::Closed;
        }
        if queue.bytes > 0 && queue.bytes + frame.len() > cap {
            return Push::Overflow;
        }
        let was_empty = queue.frames.is_empty();
        queue.bytes += frame.len();
        queue.frames.push_back(frame);
        Push::Queued { was_empty }
    }

    /// Writes what is queued straight from the hub task when the writer is
    /// idle, so a frame for a reader that keeps up costs one non-blocking
    /// write instead of waking a task (and often a parked worker thread).
    /// True when the writer must take over: the socket would block, an
    /// error is left for it to report, or it is itself mid-batch.
    ///
    /// The lock is held across the write, which never blocks; the writer
    /// only waits for it when it was woken at this very moment.
    pub(crate) fn flush_in_place(&self) -> bool {
        let mut queue = self.queue();
        if queue.state != QueueState::Open || queue.writer_busy {
            return true;
        }
        while !queue.frames.is_empty() {
            match super::writer::write_some(&self.stream, &queue.frames) {
                Ok(n) if n > 0 => {
                    super::writer::consume(&mut queue.frames, n);
                    queue.bytes = queue.bytes.saturating_sub(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                _ => return true,
            }
        }
        if queue.frames.capacity() > super::writer::KEEP_BATCH_CAPACITY {
            queue.frames = VecDeque::new();
        }
        false
    }

    /// Lets the writer know there is something to do.
    pub(crate) fn wake_writer(&self) {
        self.writer_wake.notify_one();
    }

    /// The hub closed the session: flush by `deadline`, then close.
    pub(crate) fn close_after_flush(&self, deadline: Instant) {
        let mut queue = self.queue();
        if queue.state == QueueState::Open {
            queue.state = QueueState::Closing { deadline };
        }
        drop(queue);
        self.writer_wake.notify_one();
    }

    /// Drops whatever is queued and closes the connection at once.
    pub(crate) fn abort(&self) {
        let mut queue = self.queue();
        queue.state = QueueState::Aborted;
        queue.frames = VecDeque::new();
        queue.bytes = 0;
        drop(queue);
        self.writer_wake.notify_one();
        self.reader_stop.notify_one();
    }

    // ----- writer side -----

    /// Moves every queued frame into `batch` (which the writer has
    /// emptied) and says what state the connection is in.
    pub(crate) fn take(&self, batch: &mut VecDeque<Bytes>) -> QueueState {
        let mut queue = self.queue();
        if batch.is_empty() {
            std::mem::swap(batch, &mut queue.frames);
        } else {
            batch.append(&mut queue.frames);
        }
        queue.writer_busy = !batch.is_empty();
        queue.state
    }

    /// The current state, for a writer woken in the middle of a write.
    pub(crate) fn state(&self) -> QueueState {
        self.queue().state
    }

    /// `n` bytes reached the socket.
    pub(crate) fn written(&self, n: usize) {
        let mut queue = self.queue();
        queue.bytes = queue.bytes.saturating_sub(n);
    }

    /// Resolves when the hub wakes the writer (or at once if it did since
    /// the last call).
    pub(crate) async fn writer_woken(&self) {
        self.writer_wake.notified().await;
    }

    /// The writer is done: the reader must stop too, and the session no
    /// longer counts against the limit.
    pub(crate) fn writer_done(&self) {
        self.reader_stop.notify_one();
        drop(self.permit.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    // ----- reader side -----

    /// Resolves once the writer is done with the connection.
    pub(crate) async fn reader_stopped(&self) {
        self.reader_stop.notified().await;
    }
}
