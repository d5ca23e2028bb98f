//! What the hub task hands to the Redis link: the core's cluster outputs,
//! in order, in a queue the hub task never waits on.
//!
//! While Redis is slow or unreachable the queue fills. Past a first mark
//! the hub is told the backplane is behind (`Hub::handle_backplane_backlog`)
//! and pauses each session whose frame gave it something to carry, until
//! the queue is down to a quarter of the mark: senders wait, nothing is
//! lost. What no session can be paused for (the host's own messages) is
//! bounded by a hard cap on frames (forwards, publishes, resolves), by
//! count and by bytes: past it a frame is dropped and counted, with an
//! error logged. Claims, releases and directory changes are never dropped:
//! each stands for a session, which the session limit bounds, and losing
//! one would leave the directory wrong.

use std::collections::VecDeque;
use std::sync::Mutex;

use tcphub_core::ClusterOutput;
use tokio::sync::Notify;
use tracing::error;

/// Frames waiting for Redis past which the senders are paused.
pub(crate) const BEHIND_FRAMES: usize = 10_000;
/// Frame bytes waiting for Redis past which the senders are paused.
pub(crate) const BEHIND_FRAME_BYTES: usize = 8 << 20;
/// Most frames waiting for Redis, whatever is paused: at a few thousand
/// messages a second, tens of seconds of outage.
pub(crate) const MAX_QUEUED_FRAMES: usize = 100_000;
/// Most frame bytes waiting for Redis.
pub(crate) const MAX_QUEUED_FRAME_BYTES: usize = 64 << 20;

/// The queue, shared by the hub task (pushing) and the link (taking).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
    /// Woken each time a queue that was behind is down to a quarter of the
    /// marks.
    caught_up: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<ClusterOutput>,
    frames: usize,
    frame_bytes: usize,
    dropped: u64,
    closed: bool,
    /// Past the marks, until down to a quarter of them.
    behind: bool,
}

/// The bytes of a frame for other nodes; `None` for every other output,
/// which is never dropped (the link's `plan` is where each kind of output
/// is handled; a new kind is kept here until someone decides otherwise).
fn frame_len(output: &ClusterOutput) -> Option<usize> {
    if let ClusterOutput::Forward { envelope, .. }
    | ClusterOutput::Publish(envelope)
    | ClusterOutput::Resolve(envelope) = output
    {
        Some(envelope.frame.len())
    } else {
        None
    }
}

impl Outbox {
    /// Queues one output for Redis; never waits. True when this output put
    /// the queue past its marks: the hub must pause the senders.
    pub(crate) fn push(&self, output: ClusterOutput) -> bool {
        let mut queue = self.lock();
        if let Some(len) = frame_len(&output) {
            if queue.frames >= MAX_QUEUED_FRAMES
                || queue.frame_bytes.saturating_add(len) > MAX_QUEUED_FRAME_BYTES
            {
                queue.dropped += 1;
                // One line per thousand: an outage drops frames in floods.
                if queue.dropped % 1000 == 1 {
                    error!(
                        dropped = queue.dropped,
                        queued = queue.frames,
                        queued_bytes = queue.frame_bytes,
                        "cluster: Redis is behind or unreachable and the queue for it is full; \
                         dropping frames for other nodes"
                    );
                }
                return false;
            }
            queue.frames += 1;
            queue.frame_bytes += len;
        }
        queue.items.push_back(output);
        let fell_behind = !queue.behind
            && (queue.frames > BEHIND_FRAMES || queue.frame_bytes > BEHIND_FRAME_BYTES);
        queue.behind |= fell_behind;
        drop(queue);
        self.ready.notify_one();
        fell_behind
    }

    /// Whether the queue is past its marks (and not yet down to a quarter).
    pub(crate) fn is_behind(&self) -> bool {
        self.lock().behind
    }

    /// Waits until a queue that was behind has caught up (check
    /// [`is_behind`](Self::is_behind): it may have fallen behind again).
    pub(crate) async fn caught_up(&self) {
        self.caught_up.notified().await;
    }

    /// No more outputs will come; the link sends what is queued and stops.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }

    /// Waits for outputs and takes up to `max` of them, oldest first;
    /// `None` once closed and empty.
    pub(crate) async fn take(&self, max: usize) -> Option<Vec<ClusterOutput>> {
        loop {
            // Registered before looking, so a push in between is not missed.
            let ready = self.ready.notified();
            {
                let mut queue = self.lock();
                if !queue.items.is_empty() {
                    let n = max.min(queue.items.len());
                    let batch: Vec<ClusterOutput> = queue.items.drain(..n).collect();
                    for output in &batch {
                        if let Some(len) = frame_len(output) {
                            queue.frames -= 1;
                            queue.frame_bytes -= len;
                        }
                    }
                    if queue.behind
                        && queue.frames <= BEHIND_FRAMES / 4
                        && queue.frame_bytes <= BEHIND_FRAME_BYTES / 4
                    {
                        queue.behind = false;
                        self.caught_up.notify_one();
                    }
                    return Some(batch);
                }
                if queue.closed {
                    return None;
                }
            }
            ready.await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        // A panic while holding this lock is a bug that already stopped a
        // task; the queue itself is still consistent, so go on with it.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use tcphub_core::{Envelope, RemoteTarget};

    use super::*;

    fn publish(len: usize) -> ClusterOutput {
        ClusterOutput::Publish(Envelope::new(
            RemoteTarget::Everyone,
            Bytes::from(vec![b'x'; len]),
        ))
    }

    #[tokio::test]
    async fn past_the_marks_the_hub_is_told_and_told_again_once_caught_up() {
        let outbox = Outbox::default();
        assert!(!outbox.push(publish(BEHIND_FRAME_BYTES)));
        assert!(outbox.push(publish(1)), "past the mark");
        assert!(!outbox.push(publish(1)), "said once");
        assert!(outbox.is_behind());
        outbox.take(2).await.unwrap();
        assert!(!outbox.is_behind());
        outbox.caught_up().await;
    }

    #[tokio::test]
    async fn frames_past_the_bound_are_dropped_and_the_rest_kept_in_order() {
        let outbox = Outbox::default();
        assert!(outbox.push(publish(MAX_QUEUED_FRAME_BYTES - 10)));
        outbox.push(publish(11));
        outbox.push(publish(10));
        let release = ClusterOutput::Release {
            alias: tcphub_core::Alias::new("A").unwrap(),
            session_id: "n1/x".into(),
        };
        outbox.push(release.clone());
        let batch = outbox.take(10).await.unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(batch[2], release);
        assert_eq!(outbox.lock().dropped, 1);
        assert_eq!(outbox.lock().frame_bytes, 0);
        outbox.close();
        assert!(outbox.take(10).await.is_none());
    }
}
