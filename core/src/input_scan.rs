//! Finding a session's frames before the hub reads them, so a driver can
//! do that work on the thread that read the bytes.
//!
//! The hub reads every frame a client sends, one session after another; on
//! a driver with one task owning the hub, that reading is the larger part
//! of the task's work for a flood of small messages, while the threads that
//! read the sockets have time to spare. An [`InputScanner`] follows one
//! session's stream as the hub's decoder does and, for each chunk, notes
//! where every frame the hub's fast path would read lies, and where its
//! fields are. [`Hub::handle_scanned`](crate::Hub::handle_scanned) then
//! takes each frame from those notes instead of scanning it again.
//!
//! The notes are a cache, never the rule. A frame's fields, found at a
//! position, depend only on the bytes from there on, which the
//! [`ScannedInput`] carries with its notes; the hub uses a note only where
//! its own decoder stands between frames at that very position, and reads
//! anything without a note as [`Hub::handle_data`](crate::Hub::handle_data)
//! does. So a scanner that lost track of the stream costs time, not
//! correctness: whatever the notes, the hub does and sends the same.

use bytes::Bytes;

use crate::decoder::{Decoded, FrameDecoder};
use crate::frame::{ClientFrame, FieldSpans, FrontFrame};

/// Follows one session's input and finds its frames (see the module docs).
/// Make it with [`Hub::input_scanner`](crate::Hub::input_scanner), one per
/// session, and give it every chunk of the session's input, in order.
#[derive(Debug, Clone)]
pub struct InputScanner {
    /// Where frames begin and end, as the session's decoder in the hub
    /// finds them; it keeps no bytes.
    decoder: FrameDecoder,
}

/// A chunk of a session's input, with where its frames are: what
/// [`InputScanner::scan`] gives, for
/// [`Hub::handle_scanned`](crate::Hub::handle_scanned).
#[derive(Debug, Clone)]
pub struct ScannedInput {
    bytes: Bytes,
    /// The frames found, in order.
    frames: Vec<ScannedFrame>,
}

/// Where one frame lies in a chunk, as the fast path reads it.
#[derive(Debug, Clone, Copy)]
struct ScannedFrame {
    /// Where the fast path starts reading: the scanner found the stream
    /// between frames here (whitespace may come before the frame). The
    /// hub checks that for itself.
    at: u32,
    /// Bytes from `at` to the frame's end.
    used: u32,
    /// The frame's own length.
    len: u32,
    /// Where its fields are in the chunk.
    fields: FieldSpans,
}

/// Bytes of a chunk per frame note set aside before scanning it: about the
/// size of a small message. (Notes are 52 bytes; a 64 KiB chunk of 100-byte
/// messages needs 34 KiB of them.)
const BYTES_PER_FRAME_GUESS: usize = 96;

impl InputScanner {
    /// A scanner for a hub that refuses frames longer than `max_frame_len`.
    pub(crate) fn new(max_frame_len: usize) -> Self {
        InputScanner {
            decoder: FrameDecoder::boundaries(max_frame_len),
        }
    }

    /// Finds the frames in `bytes`, the session's next chunk of input.
    pub fn scan(&mut self, bytes: Bytes) -> ScannedInput {
        let mut scanned = ScannedInput {
            frames: Vec::with_capacity(bytes.len() / BYTES_PER_FRAME_GUESS),
            bytes,
        };
        // Offsets are kept as `u32`: in a larger chunk (only a sans-IO
        // driver could pass one) no frame is noted, but the stream is
        // still followed.
        let noting = u32::try_from(scanned.bytes.len()).is_ok();
        let max_len = self.decoder.max_frame_len();
        let whole = &scanned.bytes[..];
        let text = utf8_prefix(whole);
        let mut input = whole;
        // The hub's decode loop, noting frames instead of acting on them.
        loop {
            let at = whole.len() - input.len();
            if noting && self.decoder.between_frames() {
                if let Some((used, len, fields)) = ClientFrame::find_spans(text, at, max_len) {
                    // All within the chunk, whose length fits in a `u32`.
                    scanned.frames.push(ScannedFrame {
                        at: at as u32,
                        used: used as u32,
                        len: len as u32,
                        fields,
                    });
                    input = &input[used..];
                    continue;
                }
            }
            match self.decoder.next(&mut input) {
                None | Some(Decoded::TooLarge) => break,
                Some(Decoded::Frame(_) | Decoded::Garbage(_)) => {}
            }
        }
        // Room set aside for notes that were not needed (a chunk of large
        // frames) is given back before the chunk waits for the hub.
        scanned.frames.shrink_to_fit();
        scanned
    }
}

impl ScannedInput {
    /// The chunk's bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// How many frames were found in it.
    pub fn frames_found(&self) -> usize {
        self.frames.len()
    }

    /// The notes, to be read in order of position.
    pub(crate) fn notes(&self) -> Notes<'_> {
        self.notes_from(0)
    }

    /// The notes for the chunk's bytes from `from` on, by their position
    /// in those.
    pub(crate) fn notes_from(&self, from: usize) -> Notes<'_> {
        Notes {
            scanned: Some(self),
            next: 0,
            base: from,
        }
    }
}

/// A reader of a [`ScannedInput`]'s notes, for positions in increasing
/// order.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Notes<'s> {
    scanned: Option<&'s ScannedInput>,
    /// The first frame not passed yet.
    next: usize,
    /// Where in the chunk the text read starts: the notes are by position
    /// in the chunk.
    base: usize,
}

impl<'s> Notes<'s> {
    /// No notes: every frame is read afresh.
    pub(crate) fn none() -> Self {
        Notes {
            scanned: None,
            next: 0,
            base: 0,
        }
    }

    /// The frame noted at `at` of `text` (the valid UTF-8 of the chunk
    /// the notes are for, from the notes' base on), read from its note;
    /// `None` if there is none, or if the frame is longer than `max_len`
    /// (a scanner made for another hub).
    #[inline]
    pub(crate) fn frame_at<'t>(
        &mut self,
        text: &'t str,
        at: usize,
        max_len: usize,
    ) -> Option<FrontFrame<'t>> {
        let frames = &self.scanned?.frames;
        let in_chunk = self.base.checked_add(at)?;
        while (frames.get(self.next)?.at as usize) < in_chunk {
            self.next += 1;
        }
        let frame = &frames[self.next];
        if frame.at as usize != in_chunk || frame.len as usize > max_len {
            return None;
        }
        self.next += 1;
        let sizes = (frame.used as usize, frame.len as usize);
        let fields = frame.fields.shifted_back(self.base)?;
        ClientFrame::read_spans(text, at, sizes, &fields)
    }
}

/// The longest start of `bytes` that is valid UTF-8.
///
/// This runs over every byte a client sends. simdutf8 checks it with
/// vector instructions where the CPU has them: std's `from_utf8` is as
/// fast on ASCII but goes a character at a time through anything else
/// (half the core's time on a frame of 500 bytes of Chinese text). A
/// chunk that is not all valid, which is most 64 KiB reads of non-ASCII
/// text (they end inside a character), is checked again by simdutf8's
/// slower `compat` check, which says where the valid part ends.
pub(crate) fn utf8_prefix(bytes: &[u8]) -> &str {
    if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        return text;
    }
    match simdutf8::compat::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            // The prefix is valid by that check; checking it again here
            // costs one more fast pass and needs no `unsafe`.
            simdutf8::basic::from_utf8(&bytes[..error.valid_up_to()]).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Event, Hub, HubConfig, Output};

    #[test]
    fn the_utf8_prefix_stops_before_the_first_byte_that_is_not_valid() {
        let cut = "核酸".as_bytes();
        assert_eq!(utf8_prefix(b"{\"a\":1}"), "{\"a\":1}");
        assert_eq!(utf8_prefix(&cut[..4]), "核");
        assert_eq!(utf8_prefix(b"ok\xffok"), "ok");
        assert_eq!(utf8_prefix(b"\x80"), "");
        assert_eq!(utf8_prefix(b""), "");
    }

    /// What came out, as Peer reads it (each frame it is sent reported
    /// written): the frames Peer got; the messages the host got, each
    /// with how many frames Peer had read by then; and the sender's
    /// pauses and resumptions.
    #[derive(Debug, Default)]
    struct Seen {
        sent: Vec<String>,
        to_host: Vec<(String, usize)>,
        paused: usize,
        resumed: usize,
    }

    fn outputs(hub: &mut Hub, [peer, sender]: [crate::SessionHandle; 2], seen: &mut Seen) {
        while let Some(output) = hub.poll_output() {
            match output {
                Output::Transmit { handle, frame } if handle == peer => {
                    hub.handle_written(Duration::ZERO, peer, frame.len())
                        .unwrap();
                    seen.sent.push(String::from_utf8(frame.to_vec()).unwrap());
                }
                Output::Event(Event::Message { message, .. }) => {
                    seen.to_host.push((message.to_string(), seen.sent.len()));
                }
                Output::PauseReading { handle } if handle == sender => seen.paused += 1,
                Output::ResumeReading { handle } if handle == sender => seen.resumed += 1,
                _ => {}
            }
        }
    }

    #[test]
    fn input_held_while_paused_is_read_from_its_notes_on_resuming() {
        // Issue 15: the input of a paused session was kept as bytes and
        // read again in full when it resumed. A note is trusted for where
        // a frame's fields lie, so a chunk carrying the notes of another,
        // one without its `to`, shows which was read.
        let filler = format!(
            r#"{{"type":"info","to":"Peer","message":"{}"}}"#,
            "f".repeat(300)
        );
        let noted = r#"{"type":"info","xx":"Peer","message":"hi"}"#;
        let written = r#"{"type":"info","to":"Peer","message":"hi"}"#;
        // Each filler passes Peer's high watermark and pauses the sender.
        // The frame is held: in a chunk of its own; after the filler that
        // pauses the sender in the same chunk; or after a filler that
        // pauses it again as it resumes.
        let cases = [
            ("own chunk", filler.as_str(), ""),
            ("same chunk", "", filler.as_str()),
            ("paused again", filler.as_str(), filler.as_str()),
        ];
        for (case, first, lead) in cases {
            let now = Duration::ZERO;
            let mut hub = Hub::new(HubConfig {
                high_watermark: 200,
                low_watermark: 100,
                ..HubConfig::default()
            })
            .unwrap();
            let peer = hub.handle_accept(now, "127.0.0.1:2").unwrap();
            hub.handle_data(now, peer, &crate::encode_sync("Peer"))
                .unwrap();
            let sender = hub.handle_accept(now, "127.0.0.1:1").unwrap();
            outputs(&mut hub, [peer, sender], &mut Seen::default());
            let mut scanner = hub.input_scanner();
            let first = scanner.scan(Bytes::from(first.to_owned()));
            hub.handle_scanned(now, sender, first).unwrap();
            let lying = ScannedInput {
                bytes: Bytes::from(format!("{lead}{written}")),
                frames: scanner.scan(Bytes::from(format!("{lead}{noted}"))).frames,
            };
            hub.handle_scanned(now, sender, lying).unwrap();
            let mut seen = Seen::default();
            outputs(&mut hub, [peer, sender], &mut seen);
            // (Paused again while resuming, it stays paused: one each.)
            assert_eq!((seen.paused, seen.resumed), (1, 1), "{case}: {seen:?}");
            let fillers = if case == "paused again" { 2 } else { 1 };
            assert_eq!(seen.sent.len(), fillers, "{case}: {seen:?}");
            assert!(
                seen.sent.iter().all(|f| f.contains("fff")),
                "{case}: {seen:?}"
            );
            // Read from its notes, which have no `to`, the held frame is a
            // message for the host (read again, it would go to Peer), and
            // only once Peer has read every filler.
            let hi = (r#""hi""#.to_owned(), fillers);
            assert_eq!(seen.to_host, [hi], "{case}");
        }
    }
}
