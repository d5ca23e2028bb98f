//! What the hub task hands to the Redis link: the core's cluster outputs,
//! in order, in a queue the hub task never waits on.
//!
//! While Redis is unreachable the queue fills; frames (forwards and
//! publishes) are bounded, by count and by bytes, so an outage cannot eat
//! the node's memory. Past the bound a frame is dropped and counted, with
//! an error logged: the core has no way yet to answer its sender
//! (`cluster_unavailable`, docs/design/cluster.md). Claims, releases and
//! directory changes are never dropped: each stands for a session, which
//! the session limit bounds, and losing one would leave the directory
//! wrong.

use std::collections::VecDeque;
use std::sync::Mutex;

use tcphub_core::ClusterOutput;
use tokio::sync::Notify;
use tracing::error;

/// Most frames waiting for Redis: at a few thousand messages a second,
/// tens of seconds of outage.
pub(crate) const MAX_QUEUED_FRAMES: usize = 100_000;
/// Most frame bytes waiting for Redis.
pub(crate) const MAX_QUEUED_FRAME_BYTES: usize = 64 << 20;

/// The queue, shared by the hub task (pushing) and the link (taking).
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    ready: Notify,
}

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<ClusterOutput>,
    frames: usize,
    frame_bytes: usize,
    dropped: u64,
    closed: bool,
}

/// The bytes of a frame for other nodes; `None` for every other output,
/// which is never dropped (the link's `plan` is where each kind of output
/// is handled; a new kind is kept here until someone decides otherwise).
fn frame_len(output: &ClusterOutput) -> Option<usize> {
    if let ClusterOutput::Forward { envelope, .. } | ClusterOutput::Publish(envelope) = output {
        Some(envelope.frame.len())
    } else {
        None
    }
}

impl Outbox {
    /// Queues one output for Redis; never waits.
    pub(crate) fn push(&self, output: ClusterOutput) {
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
                return;
            }
            queue.frames += 1;
            queue.frame_bytes += len;
        }
        queue.items.push_back(output);
        drop(queue);
        self.ready.notify_one();
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
        ClusterOutput::Publish(Envelope {
            target: RemoteTarget::Everyone,
            frame: Bytes::from(vec![b'x'; len]),
        })
    }

    #[tokio::test]
    async fn frames_past_the_bound_are_dropped_and_the_rest_kept_in_order() {
        let outbox = Outbox::default();
        outbox.push(publish(MAX_QUEUED_FRAME_BYTES - 10));
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
