//! Frames waiting for one connection's socket, and the vectored writes
//! that drain them.
//!
//! A flood of small frames costs a few syscalls, not one per frame: each
//! write hands the kernel up to [`MAX_SLICES`] frames at once. The queue
//! remembers whether its front frame is partly written, so a close that
//! drops unsent frames can still finish that one and never cut a frame in
//! two.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes};

use super::transport::Stream;

/// Frames handed to one `writev`: `IOV_MAX` on Linux (std cuts a longer
/// list to it anyway). A 64 KiB read of small directed frames gives one
/// recipient some 700; 1,024 rather than 256 took fan-out to 100 from
/// 82 to 72 ns of hub CPU per delivery.
const MAX_SLICES: usize = 1024;
/// A deque (or the hub task's list of staged frames) that grew past this
/// many slots is dropped once empty rather than kept, so an idle
/// connection holds no large buffer.
pub(crate) const KEEP_CAPACITY: usize = 64;

/// Frames in the order they must reach the peer.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    frames: VecDeque<Bytes>,
    /// Some of the front frame has reached the socket already.
    front_started: bool,
}

impl Frames {
    pub(crate) fn push(&mut self, frame: Bytes) {
        self.frames.push_back(frame);
    }

    pub(crate) fn extend(&mut self, frames: impl Iterator<Item = Bytes>) {
        self.frames.extend(frames);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// Moves every frame of `other` to the back of this queue.
    pub(crate) fn append(&mut self, other: &mut Frames) {
        if self.frames.is_empty() {
            std::mem::swap(self, other);
        } else {
            self.frames.append(&mut other.frames);
            other.front_started = false;
        }
    }

    /// Drops every frame not yet started: only a partly written front
    /// frame is kept, so the stream can end on a whole frame.
    pub(crate) fn keep_started_front(&mut self) {
        let keep = if self.front_started { 1 } else { 0 };
        self.frames.truncate(keep);
        self.release_if_large();
    }

    /// One non-blocking vectored write of the front frames; the written
    /// bytes leave the queue. `Ok(0)` only when the queue is empty.
    pub(crate) fn write_to(&mut self, stream: &Stream) -> io::Result<usize> {
        let n = write_some(stream, &self.frames)?;
        self.consume(n);
        Ok(n)
    }

    /// Gives back a deque that grew large, once it is empty.
    pub(crate) fn release_if_large(&mut self) {
        if self.frames.is_empty() && self.frames.capacity() > KEEP_CAPACITY {
            self.frames = VecDeque::new();
        }
    }

    /// Drops the first `n` written bytes.
    fn consume(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.frames.front_mut() else {
                return;
            };
            if front.len() <= n {
                n -= front.len();
                self.frames.pop_front();
                self.front_started = false;
            } else {
                front.advance(n);
                self.front_started = true;
                return;
            }
        }
    }
}

/// One non-blocking vectored write of the front of `frames`. Kept out of
/// async code so the slice array lives on the stack, not in a task.
fn write_some(stream: &Stream, frames: &VecDeque<Bytes>) -> io::Result<usize> {
    let mut slices = [IoSlice::new(&[]); MAX_SLICES];
    let mut count = 0;
    for (slot, frame) in slices.iter_mut().zip(frames.iter()) {
        *slot = IoSlice::new(frame);
        count += 1;
    }
    match count {
        0 => Ok(0),
        _ => stream.try_write_vectored(&slices[..count]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&'static [u8]]) -> Frames {
        let mut f = Frames::default();
        for p in parts {
            f.push(Bytes::from_static(p));
        }
        f
    }

    #[test]
    fn consume_pops_whole_frames_and_advances_a_partial_one() {
        let mut f = frames(&[b"abc", b"de", b"fgh"]);
        f.consume(4);
        assert_eq!(
            f.frames,
            [Bytes::from_static(b"e"), Bytes::from_static(b"fgh")]
        );
        assert!(f.front_started);
        f.consume(1);
        assert!(!f.front_started, "the next frame has not started");
        f.consume(3);
        assert!(f.is_empty());
    }

    #[test]
    fn dropping_unsent_frames_keeps_a_started_one_whole() {
        let mut f = frames(&[b"abc", b"de"]);
        f.consume(1);
        f.keep_started_front();
        assert_eq!(f.frames, [Bytes::from_static(b"bc")]);
        let mut g = frames(&[b"abc", b"de"]);
        g.keep_started_front();
        assert!(g.is_empty(), "nothing started, nothing kept");
    }

    #[test]
    fn append_carries_the_started_front_into_an_empty_queue() {
        let mut queue = frames(&[b"abc"]);
        queue.consume(1);
        let mut batch = Frames::default();
        batch.append(&mut queue);
        assert!(batch.front_started && queue.is_empty());
        batch.keep_started_front();
        assert_eq!(batch.frames, [Bytes::from_static(b"bc")]);
    }
}
