//! One accepted connection, as the hub task, its reader and its writer
//! share it.
//!
//! The hub task queues frames and follows the core's orders (pause or
//! resume reading, close with a farewell); the writer drains the queue and
//! counts what it wrote for the hub; the reader forwards what the peer
//! sends while reading is not paused. The send queue is behind a lock, held
//! for a push, a swap, or one non-blocking write by the hub task
//! (`flush_in_place`), never across a wait nor while frames are copied
//! (`send_queue::coalesce` runs before it is taken); the session permit has a lock
//! of its own, taken once. Nothing here is held per connection while it is
//! idle beyond the socket, this struct and the two tasks' small futures: no
//! read buffer, and a send queue that grew large is dropped once empty.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use tcphub_core::{InputScanner, ScannedInput, SessionHandle, Unsent};
use tokio::sync::futures::Notified;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::send_queue::{coalesce, Frames, KEEP_CAPACITY};
use super::transport::Stream;

/// Chunks one reader may have waiting for the hub task: enough to keep the
/// hub busy with one fast client, few enough that a paused client has at
/// most this much read ahead (4 x 64 KiB, see `reader::READ_CHUNK`, with
/// the notes of where their frames are: 52 bytes a frame, up to some 35
/// KiB for a chunk of small ones) and that others' requests never queue
/// behind a flood of one client's.
const MAX_CHUNKS_IN_FLIGHT: usize = 4;

/// Where a connection stands, as its writer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueueState {
    /// Frames may be queued.
    Open,
    /// The hub closed the session: flush what is queued (its farewell
    /// last) by `deadline`, then close the socket.
    Closing {
        /// After this the rest is dropped.
        deadline: Instant,
    },
    /// Drop everything and close now (peer gone, server stopped).
    Aborted,
}

#[derive(Debug)]
struct SendQueue {
    frames: Frames,
    state: QueueState,
    /// The writer task holds frames it took and has not finished writing:
    /// nothing may be written past them.
    writer_busy: bool,
    /// The session closed with its unsent frames dropped while the writer
    /// held a batch: the writer must drop the unstarted part of it.
    discard_writer_batch: bool,
    /// Bytes the writer wrote that the hub has not been told of yet.
    unreported: usize,
}

/// A connection shared by the hub task and the connection's two tasks.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) stream: Stream,
    pub(crate) session: SessionHandle,
    queue: Mutex<SendQueue>,
    /// Wakes the writer: frames were queued or the state changed.
    writer_wake: Notify,
    /// Wakes the reader: the writer is done, stop forwarding input.
    reader_stop: Notify,
    /// The core asked not to read from this peer for now (flow control).
    reading_paused: AtomicBool,
    /// Wakes a paused reader.
    reader_resume: Notify,
    /// Finds the frames in each chunk the reader reads, following the
    /// stream as the hub's decoder does; only the reader uses it.
    scanner: Mutex<InputScanner>,
    /// One permit per chunk this reader may still send before the hub task
    /// has processed those it sent (see [`MAX_CHUNKS_IN_FLIGHT`]).
    input_slots: Semaphore,
    /// The session's place under the session limit, given back when the
    /// writer is done (flushed or aborted): from then on the connection
    /// only drains its peer's last bytes for a moment before it closes, and
    /// a server shutting down need not wait for that.
    permit: Mutex<Option<OwnedSemaphorePermit>>,
}

/// What a write by the hub task did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Flushed {
    /// Bytes that reached the socket.
    pub(crate) written: usize,
    /// The writer must take over: the socket would block, an error is left
    /// for it to report, or it is itself mid-batch.
    pub(crate) writer_needed: bool,
}

impl Connection {
    pub(crate) fn new(
        stream: Stream,
        session: SessionHandle,
        scanner: InputScanner,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Connection {
            stream,
            session,
            queue: Mutex::new(SendQueue {
                frames: Frames::default(),
                state: QueueState::Open,
                writer_busy: false,
                discard_writer_batch: false,
                unreported: 0,
            }),
            writer_wake: Notify::new(),
            reader_stop: Notify::new(),
            reading_paused: AtomicBool::new(false),
            reader_resume: Notify::new(),
            scanner: Mutex::new(scanner),
            input_slots: Semaphore::new(MAX_CHUNKS_IN_FLIGHT),
            permit: Mutex::new(Some(permit)),
        }
    }

    /// `chunk`, the peer's next input, with where its frames are, for
    /// `Hub::handle_scanned`. Done by the reader, on whichever thread runs
    /// it, so that the hub task, which every connection's input goes
    /// through, need not find the frames itself: on 2 cores, that took
    /// unwindowed directed pairs from 4.18-4.36M to 4.72-4.93M
    /// deliveries/s.
    pub(crate) fn scan(&self, chunk: Bytes) -> ScannedInput {
        // Only the reader takes this lock, so it never waits; a panic
        // while scanning leaves the scanner behind the stream at worst,
        // which costs the hub time, never correctness.
        let mut scanner = self.scanner.lock().unwrap_or_else(|e| e.into_inner());
        scanner.scan(chunk)
    }

    fn queue(&self) -> MutexGuard<'_, SendQueue> {
        // A panic while holding this lock cannot leave the queue half
        // updated (every critical section is a few plain assignments), so a
        // poisoned lock is still safe to use.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    // ----- hub task side -----

    /// Queues `frames` (leaving the vector empty) for the writer; a
    /// closing connection drops them.
    pub(crate) fn push(&self, frames: &mut Vec<Bytes>) {
        coalesce(frames);
        move_staged(&mut self.queue(), frames);
    }

    /// Writes what is queued straight from the hub task when the writer is
    /// idle, so a frame for a reader that keeps up costs one non-blocking
    /// write instead of waking a task (and often a parked worker thread).
    ///
    /// The lock is held across the write, which never blocks; the writer
    /// only waits for it when it was woken at this very moment.
    ///
    /// `staged` (left empty) is queued first, under the same lock.
    pub(crate) fn flush_in_place(&self, staged: &mut Vec<Bytes>) -> Flushed {
        coalesce(staged);
        let mut queue = self.queue();
        let mut flushed = Flushed {
            written: 0,
            writer_needed: true,
        };
        if !move_staged(&mut queue, staged) || queue.writer_busy {
            return flushed;
        }
        while !queue.frames.is_empty() {
            match queue.frames.write_to(&self.stream) {
                Ok(n) if n > 0 => flushed.written += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                _ => return flushed,
            }
        }
        queue.frames.release_if_large();
        // TLS records the socket did not take yet are the writer's to send.
        flushed.writer_needed = self.stream.has_pending_writes();
        flushed
    }

    /// Bytes the writer wrote since the last call, for the hub.
    pub(crate) fn take_unreported(&self) -> usize {
        std::mem::take(&mut self.queue().unreported)
    }

    /// Lets the writer know there is something to do.
    pub(crate) fn wake_writer(&self) {
        self.writer_wake.notify_one();
    }

    /// The hub closed the session: `unsent` says what becomes of what is
    /// queued, `farewell` goes after it, and all is flushed by `deadline`.
    pub(crate) fn close(&self, farewell: Bytes, unsent: Unsent, deadline: Instant) {
        let mut queue = self.queue();
        if queue.state != QueueState::Open {
            return;
        }
        if unsent == Unsent::Discard {
            if queue.writer_busy {
                // The writer's batch holds the frame being written; what is
                // still here has not started.
                queue.frames = Frames::default();
                queue.discard_writer_batch = true;
            } else {
                queue.frames.keep_started_front();
            }
        }
        queue.frames.push(farewell);
        queue.state = QueueState::Closing { deadline };
        drop(queue);
        self.writer_wake.notify_one();
    }

    /// Drops whatever is queued and closes the connection at once.
    pub(crate) fn abort(&self) {
        let mut queue = self.queue();
        queue.state = QueueState::Aborted;
        queue.frames = Frames::default();
        drop(queue);
        self.writer_wake.notify_one();
        self.reader_stop.notify_one();
        self.resume_reading();
    }

    /// The hub task processed one chunk this connection's reader sent.
    pub(crate) fn input_processed(&self) {
        self.input_slots.add_permits(1);
    }

    /// Stops the reader before its next read (flow control).
    pub(crate) fn pause_reading(&self) {
        self.reading_paused.store(true, Ordering::Release);
    }

    /// Lets a paused reader go on.
    pub(crate) fn resume_reading(&self) {
        self.reading_paused.store(false, Ordering::Release);
        self.reader_resume.notify_one();
    }

    // ----- writer side -----

    /// Moves every queued frame behind those in `batch` and says what state
    /// the connection is in. When the session closed with its unsent
    /// frames dropped, the unstarted part of `batch` is dropped first.
    pub(crate) fn take(&self, batch: &mut Frames) -> QueueState {
        let mut queue = self.queue();
        if std::mem::take(&mut queue.discard_writer_batch) {
            batch.keep_started_front();
        }
        batch.append(&mut queue.frames);
        queue.writer_busy = !batch.is_empty();
        queue.state
    }

    /// The current state, for a writer woken in the middle of a write; a
    /// close that drops unsent frames trims `batch` at once.
    pub(crate) fn state(&self, batch: &mut Frames) -> QueueState {
        let mut queue = self.queue();
        if std::mem::take(&mut queue.discard_writer_batch) {
            batch.keep_started_front();
        }
        queue.state
    }

    /// The current state, without touching a batch.
    pub(crate) fn queue_state(&self) -> QueueState {
        self.queue().state
    }

    /// `n` bytes reached the socket. True when the hub must be told (the
    /// first unreported bytes since it last took them); a closed session's
    /// writes concern nobody.
    pub(crate) fn written(&self, n: usize) -> bool {
        let mut queue = self.queue();
        if queue.state != QueueState::Open {
            return false;
        }
        queue.unreported += n;
        queue.unreported == n
    }

    /// Resolves when the hub wakes the writer (or at once if it did since
    /// the last call). The `Notified` itself rather than an `async fn`
    /// around it, which would add its own state to every idle writer.
    pub(crate) fn writer_woken(&self) -> Notified<'_> {
        self.writer_wake.notified()
    }

    /// The writer is done: the reader must stop too, and the session no
    /// longer counts against the limit.
    pub(crate) fn writer_done(&self) {
        self.reader_stop.notify_one();
        self.resume_reading();
        drop(self.permit.lock().unwrap_or_else(|e| e.into_inner()).take());
    }

    // ----- reader side -----

    /// Resolves once the writer is done with the connection (a
    /// `Notified`, as [`writer_woken`](Self::writer_woken)).
    pub(crate) fn reader_stopped(&self) -> Notified<'_> {
        self.reader_stop.notified()
    }

    /// Resolves at once unless reading is paused; then when it resumes.
    ///
    /// The wait is boxed, as in [`input_slot`](Self::input_slot): only a
    /// paused reader needs it, and inline it would make every idle
    /// connection's reader future larger by a `Notified` (64 bytes).
    pub(crate) async fn reading_allowed(&self) {
        while self.reading_paused.load(Ordering::Acquire) {
            Box::pin(self.reader_resume.notified()).await;
        }
    }

    /// Waits until fewer than [`MAX_CHUNKS_IN_FLIGHT`] chunks of this
    /// reader wait for the hub task, then takes a slot for one more, given
    /// back by [`input_processed`](Self::input_processed).
    ///
    /// A slot is usually free: only a reader that sent a run of chunks the
    /// hub has not processed yet waits, and only then is the wait (an
    /// `Acquire` of 88 bytes) allocated, rather than carried by every idle
    /// connection's reader future. Taking a free slot first overtakes
    /// nobody: this reader is the semaphore's only user.
    pub(crate) async fn input_slot(&self) {
        // The semaphore is never closed, so acquiring cannot fail.
        match self.input_slots.try_acquire() {
            Ok(permit) => permit.forget(),
            Err(_) => {
                if let Ok(permit) = Box::pin(self.input_slots.acquire()).await {
                    permit.forget();
                }
            }
        }
    }
}

/// Moves the frames the hub task staged into `queue`, or drops them if the
/// connection no longer takes frames (false then). `staged` is left empty
/// and, after a burst, without its large allocation: it belongs to the
/// connection's entry for the life of the session.
fn move_staged(queue: &mut SendQueue, staged: &mut Vec<Bytes>) -> bool {
    let open = queue.state == QueueState::Open;
    if open {
        queue.frames.extend(staged.drain(..));
    } else {
        staged.clear();
    }
    if staged.capacity() > KEEP_CAPACITY {
        *staged = Vec::new();
    }
    open
}
