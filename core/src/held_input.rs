//! What a paused session sent, kept until it resumes.
//!
//! While a session is paused (a recipient of its messages is behind),
//! what it sends is kept, in order, and read when it resumes. A chunk
//! found by the session's [`InputScanner`](crate::InputScanner) is kept
//! with its notes, so that its frames need not be looked for again then:
//! under a flood of 512-byte directed messages a tenth of all input waits
//! here.

use std::collections::VecDeque;

use crate::input_scan::{Notes, ScannedInput};

/// The input a paused session sent, oldest first.
#[derive(Debug, Default)]
pub(crate) struct HeldInput {
    /// `None` when nothing is held. Boxed, because every session pays
    /// for this field and few hold input at any time (see
    /// `a_session_stays_small`).
    #[expect(
        clippy::box_collection,
        reason = "a pointer, not a VecDeque, in every session"
    )]
    chunks: Option<Box<VecDeque<HeldChunk>>>,
}

/// One chunk of held input, unread from `from` on.
#[derive(Debug)]
pub(crate) struct HeldChunk {
    input: Held,
    from: usize,
}

#[derive(Debug)]
enum Held {
    /// Bytes given without notes; more such bytes given next are added
    /// to them, as a driver feeding small pieces would otherwise make a
    /// chunk of each.
    Bytes(Vec<u8>),
    /// A chunk with its notes.
    Scanned(ScannedInput),
}

impl HeldInput {
    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_none()
    }

    /// Keeps `bytes`, which come without notes, after what is held.
    pub(crate) fn push_bytes(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let chunks = self.chunks.get_or_insert_with(Box::default);
        if let Some(HeldChunk {
            input: Held::Bytes(held),
            ..
        }) = chunks.back_mut()
        {
            held.extend_from_slice(bytes);
        } else {
            chunks.push_back(HeldChunk {
                input: Held::Bytes(bytes.to_vec()),
                from: 0,
            });
        }
    }

    /// Keeps `input` from `from` on, with its notes, after what is held.
    pub(crate) fn push_scanned(&mut self, input: ScannedInput, from: usize) {
        if from < input.bytes().len() {
            let chunks = self.chunks.get_or_insert_with(Box::default);
            chunks.push_back(HeldChunk {
                input: Held::Scanned(input),
                from,
            });
        }
    }

    /// Takes the oldest chunk, to be read.
    pub(crate) fn pop_front(&mut self) -> Option<HeldChunk> {
        let chunks = self.chunks.as_mut()?;
        let chunk = chunks.pop_front();
        if chunks.is_empty() {
            self.chunks = None;
        }
        chunk
    }

    /// Puts `chunk`, taken by [`pop_front`](Self::pop_front) and read
    /// `read` bytes further, back first; nothing if that was all of it.
    pub(crate) fn push_front_unread(&mut self, mut chunk: HeldChunk, read: usize) {
        chunk.from += read;
        if chunk.from < chunk.input_bytes().len() {
            let chunks = self.chunks.get_or_insert_with(Box::default);
            chunks.push_front(chunk);
        }
    }

    /// The unread bytes, chunk by chunk, oldest first.
    pub(crate) fn bytes(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks
            .iter()
            .flat_map(|chunks| chunks.iter().map(HeldChunk::bytes))
    }
}

impl HeldChunk {
    /// Its unread bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.input_bytes()[self.from..]
    }

    /// The notes for its unread bytes, by their position in those.
    pub(crate) fn notes(&self) -> Notes<'_> {
        match &self.input {
            Held::Bytes(_) => Notes::none(),
            Held::Scanned(input) => input.notes_from(self.from),
        }
    }

    fn input_bytes(&self) -> &[u8] {
        match &self.input {
            Held::Bytes(bytes) => bytes,
            Held::Scanned(input) => input.bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn held(input: &HeldInput) -> Vec<Vec<u8>> {
        input.bytes().map(<[u8]>::to_vec).collect()
    }

    fn scanned(bytes: &'static [u8]) -> ScannedInput {
        crate::Hub::new(crate::HubConfig::default())
            .unwrap()
            .input_scanner()
            .scan(Bytes::from_static(bytes))
    }

    #[test]
    fn chunks_come_back_in_order_and_the_first_from_where_reading_stopped() {
        let mut input = HeldInput::default();
        input.push_bytes(b"");
        input.push_scanned(scanned(b"xy"), 2);
        assert!(input.is_empty(), "nothing to hold is not held");
        input.push_bytes(b"ab");
        input.push_bytes(b"c");
        input.push_scanned(scanned(b"0123"), 1);
        input.push_bytes(b"later");
        assert_eq!(
            held(&input),
            [&b"abc"[..], b"123", b"later"],
            "bytes given one after another are one chunk"
        );

        let first = input.pop_front().unwrap();
        assert_eq!(first.bytes(), b"abc");
        input.push_front_unread(first, 2);
        assert_eq!(held(&input), [&b"c"[..], b"123", b"later"]);
        let first = input.pop_front().unwrap();
        input.push_front_unread(first, 1);
        assert_eq!(
            held(&input),
            [&b"123"[..], b"later"],
            "a chunk read to its end goes"
        );
    }

    #[test]
    fn a_held_chunk_keeps_the_notes_for_what_is_unread() {
        let frame = br#"{"type":"ping"}"#;
        let two: &'static [u8] = br#"{"type":"ping"}{"type":"ping"}"#;
        let mut input = HeldInput::default();
        input.push_scanned(scanned(two), 0);
        let chunk = input.pop_front().unwrap();
        let text = std::str::from_utf8(chunk.bytes()).unwrap();
        let mut notes = chunk.notes();
        assert!(notes.frame_at(text, 0, usize::MAX).is_some());
        assert!(notes.frame_at(text, frame.len(), usize::MAX).is_some());

        // Read one frame further, the notes are by position in the rest.
        input.push_front_unread(chunk, frame.len());
        let chunk = input.pop_front().unwrap();
        assert_eq!(chunk.bytes(), frame);
        let text = std::str::from_utf8(chunk.bytes()).unwrap();
        let mut notes = chunk.notes();
        let read = notes.frame_at(text, 0, usize::MAX).unwrap();
        assert_eq!((read.used, read.len), (frame.len(), frame.len()));
        assert!(notes.frame_at(text, 1, usize::MAX).is_none());

        // Bytes held without notes have none.
        input.push_bytes(frame);
        let chunk = input.pop_front().unwrap();
        assert!(chunk.notes().frame_at(text, 0, usize::MAX).is_none());
    }
}
