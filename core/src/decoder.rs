//! Splits a byte stream into JSON object frames.
//!
//! Clients may separate objects by newlines (NDJSON) or by nothing at all, as
//! the tutorial's clients do, and TCP may cut the stream at any byte. The
//! decoder therefore does not look for delimiters: it tracks brace depth and
//! string state across chunks and yields each complete top-level object, so
//! every way of splitting a stream yields the same frames.
//!
//! Rules, in the order they apply:
//! - Whitespace between objects is skipped.
//! - Anything else between objects (a stray byte, a bare value) is garbage:
//!   it is reported once and the decoder discards input up to and including
//!   the next newline, where NDJSON clients resume.
//! - A raw newline inside a string is never valid JSON, so it ends the broken
//!   frame there and decoding resumes after it.
//! - Nesting deeper than [`MAX_DEPTH`] is reported and skipped up to the next
//!   newline, so no consumer downstream meets a document it cannot parse.
//! - A frame longer than the limit, or a line skipped while resynchronising
//!   that is longer than the limit, is reported and nothing more is decoded;
//!   the decoder never holds more than the limit, and never discards more
//!   than the limit in search of a newline.
//!
//! The decoder only finds frame boundaries. Whether a frame is valid JSON is
//! decided by the parser in [`crate::frame`].

use memchr::{memchr, memchr3};

use crate::config::DEFAULT_MAX_FRAME_LEN;
use crate::error::{ErrorCode, PeerError};
use crate::string_scan::{find_in_words, Stop};

/// Deepest nesting accepted: one level less than serde_json's recursion
/// limit (128), which counts the level it is about to enter. A frame 128
/// deep passed the decoder but could not be read back by a client parsing
/// the relayed copy with serde_json (found by the hub fuzz target), so
/// every frame the hub accepts is one any serde_json consumer can read.
pub const MAX_DEPTH: u32 = 127;

/// A partial-frame buffer that grew past this is freed once its frame is
/// out, so a burst of large frames leaves no large buffers behind.
const KEEP_PARTIAL_CAPACITY: usize = 4096;

/// One thing found in the stream.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The bytes of one complete top-level object, braces included.
    Frame(&'a [u8]),
    /// Bytes that cannot be a JSON object; the decoder has resynchronised.
    Garbage(PeerError),
    /// A frame outgrew the limit. The stream cannot be resynchronised
    /// reliably, so the caller should close the session.
    TooLarge,
}

/// Incremental frame splitter for one session's inbound stream.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    /// Bytes of the frame in progress carried over from earlier chunks.
    /// Empty whenever a frame can be handed out straight from the input.
    partial: Partial,
    /// The last frame handed out lived in `partial`; clear it on the next call.
    partial_consumed: bool,
    /// Where the scan inside the current frame stands.
    scan: Scan,
    /// Discarding input until after the next newline.
    resync: bool,
    /// Bytes discarded so far while resynchronising.
    skipped: usize,
    /// Set once a frame outgrew the limit; the decoder stays stopped.
    failed: bool,
    max_frame_len: usize,
}

/// The frame in progress, carried over from earlier inputs.
#[derive(Debug, Clone)]
enum Partial {
    /// Its bytes, to hand out once it is whole.
    Kept(Vec<u8>),
    /// Only its length (see [`FrameDecoder::boundaries`]).
    Counted(usize),
}

impl Partial {
    /// The bytes kept; none when only counted.
    fn bytes(&self) -> &[u8] {
        match self {
            Partial::Kept(bytes) => bytes,
            Partial::Counted(_) => &[],
        }
    }
}

/// Position of the scanner inside a frame that has started.
#[derive(Debug, Clone, Copy, Default)]
struct Scan {
    /// Open braces and brackets; zero means "between frames".
    depth: u32,
    in_string: bool,
    /// The previous byte inside a string was a backslash.
    escaped: bool,
}

enum ScanEnd {
    /// The frame ends at this index, inclusive.
    Complete(usize),
    /// Nesting went past [`MAX_DEPTH`] at this index.
    TooDeep(usize),
    /// A raw newline at this index broke a string.
    NewlineInString(usize),
    /// The frame goes on past the input.
    Incomplete,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder that refuses frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        FrameDecoder {
            partial: Partial::Kept(Vec::new()),
            partial_consumed: false,
            scan: Scan::default(),
            resync: false,
            skipped: 0,
            failed: false,
            max_frame_len,
        }
    }

    /// A decoder that finds where frames begin and end as [`new`](Self::new)
    /// does, without keeping the bytes of a frame that spans inputs: such
    /// a frame is handed out empty. For following a stream whose frames
    /// someone else reads (see [`InputScanner`](crate::InputScanner)), at
    /// the cost of a counter rather than a copy of every unfinished frame.
    pub(crate) fn boundaries(max_frame_len: usize) -> Self {
        FrameDecoder {
            partial: Partial::Counted(0),
            ..FrameDecoder::new(max_frame_len)
        }
    }

    /// Bytes held for an unfinished frame; never more than the limit.
    pub fn buffered_len(&self) -> usize {
        if self.partial_consumed {
            0
        } else {
            self.held()
        }
    }

    /// True while a frame has begun and not ended, or a broken line is
    /// still being skipped: the peer owes the rest, and the hub's frame
    /// timeout runs.
    pub fn mid_frame(&self) -> bool {
        !self.failed && (self.scan.depth > 0 || self.resync)
    }

    /// True when the next frame starts in the next input: nothing of a
    /// frame is held and no broken line is being skipped. Only then may a
    /// caller read a frame from the input without the decoder (the hub's
    /// fast path), leaving the decoder as it is.
    pub fn between_frames(&self) -> bool {
        !self.failed && !self.resync && self.scan.depth == 0 && self.buffered_len() == 0
    }

    /// The longest frame accepted.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// Decodes the next item from `input`, advancing it past what was used.
    ///
    /// Returns `None` once `input` is used up; any unfinished frame is kept
    /// for the next call. Call in a loop until `None`.
    pub fn next<'s, 'i: 's>(&'s mut self, input: &mut &'i [u8]) -> Option<Decoded<'s>> {
        if self.partial_consumed {
            self.drop_held();
            self.partial_consumed = false;
        }
        if self.failed {
            *input = &[];
            return None;
        }
        if self.resync {
            // The line being skipped counts against the frame limit too: a
            // peer cannot keep the decoder discarding forever.
            let end = memchr(b'\n', input);
            self.skipped += end.unwrap_or(input.len());
            if self.skipped > self.max_frame_len {
                *input = &[];
                return Some(self.fail());
            }
            match end {
                Some(at) => {
                    *input = &input[at + 1..];
                    self.resync = false;
                }
                None => {
                    *input = &[];
                    return None;
                }
            }
        }
        if self.scan.depth == 0 {
            // Between frames: skip whitespace, expect an opening brace.
            let Some(start) = input.iter().position(|b| !b.is_ascii_whitespace()) else {
                *input = &[];
                return None;
            };
            let first = input[start];
            if first != b'{' {
                *input = &input[start..];
                self.start_resync();
                return Some(Decoded::Garbage(garbage_error(first)));
            }
            *input = &input[start..];
        }
        match self.scan.advance(input) {
            ScanEnd::Complete(end) => {
                let (frame, rest) = input.split_at(end + 1);
                *input = rest;
                self.scan = Scan::default();
                if self.held() + frame.len() > self.max_frame_len {
                    return Some(self.fail());
                }
                if self.held() == 0 {
                    Some(Decoded::Frame(frame))
                } else {
                    self.hold(frame);
                    self.partial_consumed = true;
                    Some(Decoded::Frame(self.partial.bytes()))
                }
            }
            // A frame broken off (too deep, or by a newline in a string)
            // after more than the limit is over the limit, as it would be
            // had the stream been cut just before the break: every split
            // of a stream must decode alike.
            ScanEnd::TooDeep(at) | ScanEnd::NewlineInString(at)
                if self.held() + at > self.max_frame_len =>
            {
                *input = &[];
                Some(self.fail())
            }
            ScanEnd::TooDeep(at) => {
                *input = &input[at + 1..];
                self.scan = Scan::default();
                self.drop_held();
                self.start_resync();
                Some(Decoded::Garbage(PeerError::new(
                    ErrorCode::BadJson,
                    format!(
                        "JSON nested deeper than {MAX_DEPTH} levels; skipping to the next newline"
                    ),
                )))
            }
            ScanEnd::NewlineInString(at) => {
                *input = &input[at + 1..];
                self.scan = Scan::default();
                self.drop_held();
                Some(Decoded::Garbage(PeerError::new(
                    ErrorCode::BadJson,
                    "unterminated string: a raw newline ended the frame",
                )))
            }
            ScanEnd::Incomplete => {
                if self.held() + input.len() > self.max_frame_len {
                    *input = &[];
                    return Some(self.fail());
                }
                self.hold(input);
                *input = &[];
                None
            }
        }
    }

    fn start_resync(&mut self) {
        self.resync = true;
        self.skipped = 0;
    }

    /// Bytes of the frame in progress.
    fn held(&self) -> usize {
        match &self.partial {
            Partial::Kept(bytes) => bytes.len(),
            Partial::Counted(len) => *len,
        }
    }

    /// Adds `bytes` to the frame in progress.
    fn hold(&mut self, bytes: &[u8]) {
        match &mut self.partial {
            Partial::Kept(kept) => kept.extend_from_slice(bytes),
            Partial::Counted(len) => *len += bytes.len(),
        }
    }

    /// Forgets the frame in progress.
    fn drop_held(&mut self) {
        match &mut self.partial {
            Partial::Kept(kept) => {
                kept.clear();
                // A frame that needed a large buffer is rare: give the
                // memory back rather than hold it for the life of an idle
                // session.
                if kept.capacity() > KEEP_PARTIAL_CAPACITY {
                    *kept = Vec::new();
                }
            }
            Partial::Counted(len) => *len = 0,
        }
    }

    fn fail(&mut self) -> Decoded<'static> {
        self.failed = true;
        self.drop_held();
        if let Partial::Kept(kept) = &mut self.partial {
            *kept = Vec::new();
        }
        self.scan = Scan::default();
        Decoded::TooLarge
    }
}

impl Scan {
    /// Scans `bytes`, the continuation of the current frame (or its start,
    /// beginning with `{`), for the frame's end.
    fn advance(&mut self, bytes: &[u8]) -> ScanEnd {
        let mut i = 0;
        while i < bytes.len() {
            if self.in_string {
                if self.escaped {
                    self.escaped = false;
                    i += 1;
                    continue;
                }
                // Strings are most of a frame's bytes: jump to what matters.
                let Some(offset) = string_stop(&bytes[i..]) else {
                    return ScanEnd::Incomplete;
                };
                i += offset;
                match bytes[i] {
                    b'"' => self.in_string = false,
                    b'\\' => self.escaped = true,
                    b'\n' => return ScanEnd::NewlineInString(i),
                    // Another control character: invalid JSON, which is
                    // the parser's to report; it does not end the frame.
                    _ => {}
                }
            } else {
                match bytes[i] {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => {
                        self.depth += 1;
                        if self.depth > MAX_DEPTH {
                            return ScanEnd::TooDeep(i);
                        }
                    }
                    b'}' | b']' => {
                        // Mismatched pairs such as `{]` still end the frame;
                        // the parser reports them.
                        self.depth = self.depth.saturating_sub(1);
                        if self.depth == 0 {
                            return ScanEnd::Complete(i);
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        ScanEnd::Incomplete
    }
}

/// Where the string `bytes` continues needs a look: a `"`, a `\\` or a
/// control character. Short strings (keys, types, aliases) are most
/// strings and are scanned a word at a time; a long one goes to `memchr3`,
/// which then finds only what can end the frame.
fn string_stop(bytes: &[u8]) -> Option<usize> {
    /// Words looked at before handing over to `memchr3`.
    const SHORT_STRING_WORDS: usize = 4;
    match find_in_words(bytes, SHORT_STRING_WORDS) {
        Stop::At(at) => Some(at),
        Stop::Clear(clear) => memchr3(b'"', b'\\', b'\n', &bytes[clear..]).map(|at| clear + at),
    }
}

fn garbage_error(first: u8) -> PeerError {
    let shown = if first.is_ascii_graphic() {
        format!("{:?}", first as char)
    } else {
        format!("byte 0x{first:02x}")
    };
    PeerError::new(
        ErrorCode::BadJson,
        format!("expected a JSON object starting with '{{', found {shown}; skipping to the next newline"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `chunks` one after another and describes everything decoded.
    fn decode(decoder: &mut FrameDecoder, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for chunk in chunks {
            let mut input = *chunk;
            while let Some(item) = decoder.next(&mut input) {
                out.push(match item {
                    Decoded::Frame(f) => String::from_utf8_lossy(f).into_owned(),
                    Decoded::Garbage(e) => format!("garbage: {}", e.message),
                    Decoded::TooLarge => "too large".to_string(),
                });
            }
            assert!(input.is_empty(), "decoder must use up its input");
        }
        out
    }

    #[test]
    fn concatenated_objects_without_delimiter() {
        let mut d = FrameDecoder::default();
        let out = decode(
            &mut d,
            &[br#"{"type":"sync"}{"type":"info","message":"}{"}"#],
        );
        assert_eq!(
            out,
            [r#"{"type":"sync"}"#, r#"{"type":"info","message":"}{"}"#]
        );
    }

    #[test]
    fn ndjson_and_whitespace() {
        let mut d = FrameDecoder::default();
        let out = decode(&mut d, &[b"\r\n {\"a\":1}\n\n\t{\"b\":[1,{\"c\":2}]}\n"]);
        assert_eq!(out, [r#"{"a":1}"#, r#"{"b":[1,{"c":2}]}"#]);
    }

    #[test]
    fn escaped_quotes_and_backslashes_do_not_end_strings() {
        let mut d = FrameDecoder::default();
        let frame = br#"{"m":"a\"}\\","n":"\\"}"#;
        assert_eq!(decode(&mut d, &[frame]), [String::from_utf8_lossy(frame)]);
    }

    #[test]
    fn split_inside_multibyte_character_and_escape() {
        let whole = r#"{"message":"大家来领物资了 \" \\"}"#.as_bytes();
        for cut in 0..=whole.len() {
            let mut d = FrameDecoder::default();
            let out = decode(&mut d, &[&whole[..cut], &whole[cut..]]);
            assert_eq!(out, [std::str::from_utf8(whole).unwrap()], "cut at {cut}");
            assert_eq!(d.buffered_len(), 0);
        }
    }

    #[test]
    fn garbage_skips_to_next_newline_then_recovers() {
        let mut d = FrameDecoder::default();
        let out = decode(&mut d, &[b"hello {\"x\":1}", b" more\n{\"ok\":true}"]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(
            out[0].starts_with("garbage: expected a JSON object"),
            "{}",
            out[0]
        );
        assert!(out[0].contains("'h'"), "{}", out[0]);
        assert_eq!(out[1], r#"{"ok":true}"#);
    }

    #[test]
    fn skipped_line_longer_than_limit_is_too_large() {
        let limit = 300;
        let mut d = FrameDecoder::new(limit);
        let mut out = decode(&mut d, &[b"garbage"]);
        for _ in 0..10 {
            out.extend(decode(&mut d, &[&[b'x'; 100]]));
        }
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].starts_with("garbage:"));
        assert_eq!(out[1], "too large");
        // Up to the limit, a skipped line is forgiven.
        let mut d = FrameDecoder::new(limit);
        let line = format!("{}\n{{\"ok\":1}}", "x".repeat(limit));
        let out = decode(&mut d, &[line.as_bytes()]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert_eq!(out[1], r#"{"ok":1}"#);
    }

    #[test]
    fn raw_newline_inside_string_ends_broken_frame() {
        let mut d = FrameDecoder::default();
        let out = decode(&mut d, &[b"{\"a\":\"unterminated\n{\"b\":2}"]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("unterminated string"));
        assert_eq!(out[1], r#"{"b":2}"#);
    }

    #[test]
    fn frame_at_limit_passes_and_one_byte_more_fails() {
        let limit = 300;
        let body = |n: usize| format!("{{\"m\":\"{}\"}}", "x".repeat(n - 8));
        let exact = body(limit);
        assert_eq!(exact.len(), limit);
        let mut d = FrameDecoder::new(limit);
        assert_eq!(decode(&mut d, &[exact.as_bytes()]), [exact]);

        let over = body(limit + 1);
        let mut d = FrameDecoder::new(limit);
        assert_eq!(decode(&mut d, &[over.as_bytes()]), ["too large"]);
        // Split so the excess shows while the frame is still open.
        let mut d = FrameDecoder::new(limit);
        let (a, b) = over.as_bytes().split_at(limit - 5);
        assert_eq!(decode(&mut d, &[a, b]), ["too large"]);
    }

    #[test]
    fn unbounded_input_never_buffers_past_limit() {
        let limit = 1024;
        let mut d = FrameDecoder::new(limit);
        let mut out = decode(&mut d, &[b"{\"m\":\""]);
        let chunk = [b'a'; 100];
        for _ in 0..100 {
            out.extend(decode(&mut d, &[&chunk]));
            assert!(d.buffered_len() <= limit);
        }
        assert_eq!(out, ["too large"], "reported once, then stopped");
    }

    #[test]
    fn nesting_limit() {
        let ok = format!(
            "{}{}",
            "[".repeat(MAX_DEPTH as usize),
            "]".repeat(MAX_DEPTH as usize)
        );
        let ok = format!("{{\"m\":{}}}", &ok[1..ok.len() - 1]);
        let mut d = FrameDecoder::default();
        assert_eq!(decode(&mut d, &[ok.as_bytes()]), [ok]);
        let deep = format!("{{\"m\":{}}}\n{{\"b\":2}}", "[".repeat(10_000));
        let mut d = FrameDecoder::default();
        let out = decode(&mut d, &[deep.as_bytes()]);
        assert_eq!(out.len(), 2, "{out:?}");
        assert!(out[0].contains("nested deeper than 127"), "{}", out[0]);
        assert_eq!(out[1], r#"{"b":2}"#);
    }

    #[test]
    fn a_frame_broken_off_past_the_limit_is_too_large_however_it_is_cut() {
        // Found by the decoder fuzz target: whole, this was bad_json (the
        // session stayed), cut before the newline it was frame_too_large.
        for stream in [&b"{\"abc\n"[..], b"{\"a\":[[[[[[[\n"] {
            let mut whole = FrameDecoder::new(4);
            let expected = decode(&mut whole, &[stream]);
            for cut in 0..=stream.len() {
                let mut d = FrameDecoder::new(4);
                let (a, b) = stream.split_at(cut);
                assert_eq!(decode(&mut d, &[a, b]), expected, "cut at {cut}");
            }
            assert_eq!(expected, ["too large"]);
        }
    }

    #[test]
    fn mid_frame_while_a_frame_or_a_skipped_line_is_open() {
        let mut d = FrameDecoder::default();
        assert!(!d.mid_frame());
        decode(&mut d, &[b"  {\"a\":"]);
        assert!(d.mid_frame());
        decode(&mut d, &[b"1}"]);
        assert!(!d.mid_frame());
        decode(&mut d, &[b"oops"]);
        assert!(d.mid_frame(), "skipping a broken line");
        decode(&mut d, &[b"\n"]);
        assert!(!d.mid_frame());
    }

    #[test]
    fn large_partial_buffer_is_freed_after_its_frame() {
        let mut d = FrameDecoder::default();
        let big = format!("{{\"m\":\"{}\"}}", "x".repeat(20_000));
        let (a, b) = big.as_bytes().split_at(10_000);
        decode(&mut d, &[a, b, b"{}"]);
        assert!(
            matches!(&d.partial, Partial::Kept(kept) if kept.capacity() <= KEEP_PARTIAL_CAPACITY)
        );
    }

    #[test]
    fn partial_buffer_is_released_after_frame() {
        let mut d = FrameDecoder::default();
        let out = decode(&mut d, &[b"{\"a\":", b"1}{\"b\":2}"]);
        assert_eq!(out, [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(d.buffered_len(), 0);
    }
}
