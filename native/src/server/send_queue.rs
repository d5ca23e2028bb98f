//! Frames waiting for one connection's socket, and the vectored writes
//! that drain them.
//!
//! A flood of small frames costs a few syscalls, not one per frame: the
//! frames the hub task staged in one turn are queued as runs copied into
//! one buffer (`coalesce`), and each write hands the kernel up to
//! [`MAX_SLICES`] buffers at once. Each buffer holds whole frames, and the
//! queue remembers whether its front buffer is partly written, so a close
//! that drops unsent frames can still finish that one and never cut a
//! frame in two.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes};

use super::transport::Stream;

/// Buffers handed to one `writev`: `IOV_MAX` on Linux (std cuts a longer
/// list to it anyway). A 64 KiB read of small directed frames gives one
/// recipient some 700; 1,024 rather than 256 took fan-out to 100 from
/// 82 to 72 ns of hub CPU per delivery.
const MAX_SLICES: usize = 1024;
/// A deque (or the hub task's list of staged frames) that grew past this
/// many slots is dropped once empty rather than kept, so an idle
/// connection holds no large buffer.
pub(crate) const KEEP_CAPACITY: usize = 64;
/// Most bytes of frames copied into one buffer by [`coalesce`].
const COALESCED_LEN: usize = 64 * 1024;
/// Frames at least this long are left as they are by [`coalesce`]: a
/// buffer the core already filled with a run of frames
/// (`HubConfig::merge_transmits`) or one large frame is worth its own
/// slice of a write, and copying it would only cost a copy.
const COPIED_LEN: usize = 4 * 1024;

/// Frames in the order they must reach the peer, as buffers of one or
/// more whole frames.
#[derive(Debug, Default)]
pub(crate) struct Frames {
    frames: VecDeque<Bytes>,
    /// Some of the front buffer has reached the socket already.
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
            // Left empty: a deque a burst grew is not kept.
            other.release_if_large();
        }
    }

    /// Drops every buffer not yet started: only a partly written front
    /// buffer (whole frames) is kept, so the stream can end on a whole
    /// frame.
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

/// Replaces each run of small `staged` frames (under [`COPIED_LEN`]) that
/// fits [`COALESCED_LEN`] bytes with one buffer holding them, in order; a
/// frame alone, or a larger one, stays as it is. So does a frame other
/// connections share (a broadcast's, a room's): copied, it would take its
/// memory once per recipient rather than once. Done by the hub task before
/// it takes the connection's lock, so the copying holds up no writer.
///
/// A frame is allocated by the hub task and freed by whichever thread
/// wrote it, and glibc's malloc handles that poorly once the writers run
/// on other cores (a fifth of the hub's CPU under directed pairs went to
/// malloc and free, before the core merged runs of directed frames).
/// Copied here, each small frame is freed on the thread that made it, and
/// the writer frees one buffer per run; a large one (a run the core
/// merged) is one free in many frames' worth of work anyway. A close that
/// drops unsent frames still finishes a started buffer, so it may send a
/// few more whole frames than it would have, never part of one.
pub(crate) fn coalesce(staged: &mut Vec<Bytes>) {
    let mut kept = 0;
    let mut start = 0;
    while start < staged.len() {
        // The longest run from `start` of frames only this connection
        // holds that fits one buffer.
        let mut len = staged[start].len();
        let mut end = start + 1;
        if is_copied(&staged[start]) {
            while let Some(next) = staged.get(end) {
                if !is_copied(next) || len + next.len() > COALESCED_LEN {
                    break;
                }
                len += next.len();
                end += 1;
            }
        }
        staged[kept] = if end - start == 1 {
            // Moved, not cloned: a clone would make the frame shared.
            std::mem::take(&mut staged[start])
        } else {
            let mut buffer = Vec::with_capacity(len);
            for frame in &staged[start..end] {
                buffer.extend_from_slice(frame);
            }
            Bytes::from(buffer)
        };
        kept += 1;
        start = end;
    }
    staged.truncate(kept);
}

/// Whether `coalesce` copies `frame` into a run: a small frame only this
/// connection holds.
fn is_copied(frame: &Bytes) -> bool {
    frame.len() < COPIED_LEN && frame.is_unique()
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
    fn staged_frames_are_queued_in_order_as_runs_that_fit_one_buffer() {
        // Each frame its own allocation, as the core makes a directed one.
        let frame = |byte: u8, len: usize| Bytes::from(vec![byte; len]);
        let small = COPIED_LEN - 1;
        let fit = COALESCED_LEN / small;
        let mut staged = vec![frame(b'a', 1), frame(b'b', 2), frame(b'c', COPIED_LEN)];
        staged.extend((0..=fit).map(|_| frame(b'h', small)));
        staged.push(frame(b'd', 1));
        let whole: Vec<u8> = staged.iter().flat_map(|f| f.to_vec()).collect();
        coalesce(&mut staged);
        // Read as (first byte, length), so a failure prints briefly.
        let runs: Vec<(u8, usize)> = staged.iter().map(|f| (f[0], f.len())).collect();
        assert_eq!(
            runs,
            [
                (b'a', 3),
                // A large frame (say a run the core merged) is not copied.
                (b'c', COPIED_LEN),
                // As many small frames as fit one buffer, then the rest.
                (b'h', small * fit),
                (b'h', small + 1),
            ]
        );
        let after: Vec<u8> = staged.iter().flat_map(|f| f.to_vec()).collect();
        assert!(after == whole, "the bytes and their order are kept");
        let mut lone = vec![Bytes::from_static(b"x")];
        coalesce(&mut lone);
        assert_eq!(lone, [Bytes::from_static(b"x")]);
    }

    #[test]
    fn a_frame_other_connections_share_is_queued_as_it_is() {
        let own = || Bytes::from(b"own".to_vec());
        let shared = Bytes::from(b"all".to_vec());
        let elsewhere = shared.clone();
        let mut staged = vec![own(), own(), shared, own(), own()];
        coalesce(&mut staged);
        assert_eq!(
            staged,
            [
                Bytes::from_static(b"ownown"),
                Bytes::from_static(b"all"),
                Bytes::from_static(b"ownown"),
            ]
        );
        // Still the one buffer the other holder has, not a copy of it.
        assert_eq!(staged[1].as_ptr(), elsewhere.as_ptr());
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
