//! What a paused session sent, kept until it resumes.
//!
//! A session is paused while a recipient of its messages is behind; what
//! it sends meanwhile is not acted on but kept, in order, and read once it
//! resumes. It is kept in the chunks it came in: a chunk found by the
//! session's [`InputScanner`](crate::InputScanner) keeps its notes, so
//! the hub takes its frames from them then as it would have at once. (A
//! chunk kept as bytes alone was read again in full on the hub's task:
//! under a flood of 512-byte directed messages a tenth of all input
//! passes through here, and the runs where more of it did were the slow
//! ones.)

use bytes::Bytes;

use crate::input_scan::{Notes, ScannedInput};

/// The input a paused session sent, oldest first. Empty (no allocation)
/// while it is not paused.
#[derive(Debug, Default)]
pub(crate) struct HeldInput {
    chunks: Vec<HeldChunk>,
}

/// One chunk of held input: the part of `input` from `from` on is unread.
#[derive(Debug)]
pub(crate) struct HeldChunk {
    input: ScannedInput,
    from: usize,
}

impl HeldInput {
    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Keeps `bytes`, which come without notes, after what is held.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.chunks.push(HeldChunk {
                input: ScannedInput::unscanned(Bytes::copy_from_slice(bytes)),
                from: 0,
            });
        }
    }

    /// Keeps `input` from `from` on, with its notes, after what is held.
    /// The chunk's bytes are shared, not copied.
    pub(crate) fn push_scanned(&mut self, input: &ScannedInput, from: usize) {
        if from < input.bytes().len() {
            self.chunks.push(HeldChunk {
                input: input.rest(from),
                from,
            });
        }
    }

    /// Takes everything held, oldest first; see [`HeldInput::put_back`].
    pub(crate) fn take(&mut self) -> Vec<HeldChunk> {
        std::mem::take(&mut self.chunks)
    }

    /// Puts back, before anything held since, the chunks of a
    /// [`take`](Self::take) that the session did not get through: the
    /// first of `rest` read up to `read` bytes further.
    pub(crate) fn put_back(&mut self, mut rest: Vec<HeldChunk>, read: usize) {
        if let Some(first) = rest.first_mut() {
            first.from += read;
            if first.from >= first.input.bytes().len() {
                rest.remove(0);
            }
        }
        rest.append(&mut self.chunks);
        self.chunks = rest;
    }

    /// The unread bytes, chunk by chunk, oldest first.
    pub(crate) fn bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(HeldChunk::bytes)
    }
}

impl HeldChunk {
    /// Its unread bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.input.bytes()[self.from..]
    }

    /// The notes for its unread bytes, by their position in those.
    pub(crate) fn notes(&self) -> Notes<'_> {
        self.input.notes_from(self.from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(input: &HeldInput) -> Vec<Vec<u8>> {
        input.bytes().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn chunks_come_back_in_order_and_the_first_from_where_reading_stopped() {
        let mut input = HeldInput::default();
        assert!(input.is_empty());
        input.push_bytes(b"");
        assert!(input.is_empty(), "nothing to hold is not held");
        input.push_bytes(b"abc");
        input.push_scanned(&ScannedInput::unscanned(Bytes::from_static(b"0123")), 1);
        input.push_scanned(&ScannedInput::unscanned(Bytes::from_static(b"xy")), 2);
        assert_eq!(held(&input), [&b"abc"[..], b"123"]);

        let taken = input.take();
        assert!(input.is_empty());
        input.push_bytes(b"later");
        input.put_back(taken, 2);
        assert_eq!(held(&input), [&b"c"[..], b"123", b"later"]);

        let taken = input.take();
        input.put_back(taken, 1);
        assert_eq!(
            held(&input),
            [&b"123"[..], b"later"],
            "a chunk read to its end goes"
        );
        let mut taken = input.take();
        taken.remove(0);
        input.put_back(taken, 0);
        assert_eq!(held(&input), [b"later"]);
    }
}
