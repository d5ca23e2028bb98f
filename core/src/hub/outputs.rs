//! The hub's outputs, in order, waiting for the driver; with
//! [`HubConfig::merge_transmits`](crate::HubConfig::merge_transmits), a
//! session's directed frames queued one after another go out as one
//! `Transmit`, written straight into one buffer.
//!
//! A flood of directed messages otherwise costs the hub an allocation per
//! frame, freed by whichever thread writes it, and the driver a copy to put
//! the frames of one write together again. A message relayed to the one
//! holder of an alias (`Hub::deliver_relayed_to`, the hot path) is written
//! instead into the *open* buffer: the frames for one session that come
//! after every output queued so far. Anything else queued (another
//! session's frame, any other frame, a close, an event) first closes it
//! into a `Transmit`, as does the driver taking the last output, so the
//! order of everything the driver is handed stays as it was queued.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::event::Output;
use crate::handle::SessionHandle;

/// Most bytes of frames an open buffer takes: about the size of one write.
/// One that gets a second frame is given this much room at once, and is
/// trimmed to its length when it closes.
const MAX_OPEN_LEN: usize = 64 * 1024;

/// What the hub has for the driver (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Outputs {
    queue: VecDeque<Output>,
    /// Frames for one session, after everything in `queue`.
    open: Option<(SessionHandle, Vec<u8>)>,
    /// Whether frames for one session may share a `Transmit`.
    merge: bool,
}

impl Outputs {
    pub(super) fn new(merge: bool) -> Self {
        Outputs {
            merge,
            ..Outputs::default()
        }
    }

    /// Queues `output` after everything queued so far.
    pub(super) fn push_back(&mut self, output: Output) {
        self.close_open();
        self.queue.push_back(output);
    }

    /// The oldest output.
    pub(super) fn pop_front(&mut self) -> Option<Output> {
        if self.queue.is_empty() {
            self.close_open();
        }
        self.queue.pop_front()
    }

    /// Queues for `handle` alone the frame `encode` writes (appending to
    /// the buffer it is given), which is about `len` bytes long; returns
    /// its length.
    pub(super) fn push_frame_with(
        &mut self,
        handle: SessionHandle,
        len: usize,
        encode: impl FnOnce(&mut Vec<u8>),
    ) -> usize {
        if !self.merge {
            let mut frame = Vec::with_capacity(len);
            encode(&mut frame);
            let len = frame.len();
            self.queue.push_back(Output::Transmit {
                handle,
                frame: Bytes::from(frame),
            });
            return len;
        }
        let buf = match &mut self.open {
            Some((open, buf)) if *open == handle && buf.len() + len <= MAX_OPEN_LEN => {
                if buf.capacity() - buf.len() < len {
                    // A second frame: room for a whole run at once, so
                    // that the buffer is not copied as it grows (and, at
                    // most 64 KiB, stays clear of glibc's mmap threshold).
                    buf.reserve_exact(MAX_OPEN_LEN - buf.len());
                }
                buf
            }
            _ => {
                self.close_open();
                // A frame alone, the usual case but under a flood, gets a
                // buffer of its size.
                &mut self.open.insert((handle, Vec::with_capacity(len))).1
            }
        };
        let before = buf.len();
        encode(buf);
        buf.len() - before
    }

    /// Turns the open buffer, if any, into a `Transmit`.
    fn close_open(&mut self) {
        if let Some((handle, mut buf)) = self.open.take() {
            // Shrinking in place costs glibc no copy, and a buffer whose
            // length is its capacity becomes `Bytes` without another
            // allocation.
            buf.shrink_to_fit();
            self.queue.push_back(Output::Transmit {
                handle,
                frame: Bytes::from(buf),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(outputs: &mut Outputs) -> Vec<(u64, Vec<u8>)> {
        std::iter::from_fn(|| outputs.pop_front())
            .map(|output| match output {
                Output::Transmit { handle, frame } => (handle.0, frame.to_vec()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    fn line(text: &str) -> impl FnOnce(&mut Vec<u8>) + '_ {
        move |buf| buf.extend_from_slice(text.as_bytes())
    }

    #[test]
    fn a_run_of_frames_for_one_session_goes_out_as_one() {
        let mut outputs = Outputs::new(true);
        assert_eq!(outputs.push_frame_with(SessionHandle(1), 2, line("a\n")), 2);
        outputs.push_frame_with(SessionHandle(1), 2, line("b\n"));
        outputs.push_frame_with(SessionHandle(2), 2, line("c\n"));
        outputs.push_frame_with(SessionHandle(1), 2, line("d\n"));
        assert_eq!(
            frames(&mut outputs),
            [
                (1, b"a\nb\n".to_vec()),
                (2, b"c\n".to_vec()),
                (1, b"d\n".to_vec())
            ]
        );
    }

    #[test]
    fn anything_else_queued_closes_the_run_first() {
        let mut outputs = Outputs::new(true);
        outputs.push_frame_with(SessionHandle(1), 2, line("a\n"));
        outputs.push_back(Output::Transmit {
            handle: SessionHandle(1),
            frame: Bytes::from_static(b"shared\n"),
        });
        outputs.push_frame_with(SessionHandle(1), 2, line("b\n"));
        // The driver takes one output: the run ahead of it is closed.
        assert!(
            matches!(outputs.pop_front(), Some(Output::Transmit { frame, .. }) if frame == "a\n")
        );
        outputs.push_frame_with(SessionHandle(1), 2, line("c\n"));
        assert_eq!(
            frames(&mut outputs),
            [(1, b"shared\n".to_vec()), (1, b"b\nc\n".to_vec())]
        );
    }

    #[test]
    fn a_run_is_cut_at_about_the_size_of_a_write() {
        let mut outputs = Outputs::new(true);
        let big = "x".repeat(MAX_OPEN_LEN - 2) + "\n";
        outputs.push_frame_with(SessionHandle(1), 2, line(&big));
        outputs.push_frame_with(SessionHandle(1), 2, line("y\n"));
        let out = frames(&mut outputs);
        assert_eq!(out.len(), 2);
        assert_eq!(out[1], (1, b"y\n".to_vec()));
    }

    #[test]
    fn without_merging_every_frame_is_its_own() {
        let mut outputs = Outputs::new(false);
        outputs.push_frame_with(SessionHandle(1), 2, line("a\n"));
        outputs.push_frame_with(SessionHandle(1), 2, line("b\n"));
        assert_eq!(
            frames(&mut outputs),
            [(1, b"a\n".to_vec()), (1, b"b\n".to_vec())]
        );
    }
}
