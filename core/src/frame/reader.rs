//! Reading the hub's side of a connection, for clients: one JSON object per
//! line, with TCP free to cut the stream anywhere.
//!
//! Every client of the hub (the `tcphub` commands, the Python `Client`, the
//! simulator's virtual clients, the load generator) reads the same stream
//! the same way: bytes in as they arrive, whole lines out, and at the end a
//! clear word on whether the stream stopped in the middle of a line.

use super::hub::HubFrame;

/// Default longest line accepted: 64 MiB, past any frame the hub writes (a
/// relayed message is at most the hub's frame limit, 16 MiB at most, plus
/// its envelope; a `sessions` page of 100,000 rows is about 6 MiB).
pub const DEFAULT_MAX_LINE_LEN: usize = 64 * 1024 * 1024;

/// A buffer larger than this is freed once empty.
const KEEP_CAPACITY: usize = 256 * 1024;

/// What went wrong reading the hub's stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// A line grew past the limit without a newline.
    #[error("a line from the hub is longer than {limit} bytes")]
    TooLong {
        /// The limit.
        limit: usize,
    },
    /// The stream ended in the middle of a line.
    #[error("the stream ended {len} bytes into a line")]
    Truncated {
        /// Bytes of the unfinished line.
        len: usize,
    },
    /// A whole line that is not a frame the hub sends.
    #[error("not a hub frame ({error}): {head}")]
    NotAFrame {
        /// What the JSON parser said.
        error: String,
        /// The start of the line, for a person.
        head: String,
    },
}

/// Splits the hub's output into lines as bytes arrive.
///
/// ```
/// use tcphub_core::{HubFrame, HubLines};
///
/// let mut lines = HubLines::default();
/// lines.push(b"{\"type\":\"pong\"}\n{\"type\":\"po");
/// assert_eq!(lines.next_frame(), Some(Ok(HubFrame::Pong { id: None })));
/// assert_eq!(lines.next_frame(), None, "the second line is not whole yet");
/// lines.push(b"ng\",\"id\":7}\n");
/// assert!(matches!(lines.next_frame(), Some(Ok(HubFrame::Pong { id: Some(_) }))));
/// assert_eq!(lines.finish(), Ok(()), "the stream ended between lines");
/// ```
#[derive(Debug, Clone)]
pub struct HubLines {
    buf: Vec<u8>,
    /// Where the first unread byte of `buf` is.
    start: usize,
    /// Where the search for the next newline resumes (bytes before it,
    /// from `start`, hold none).
    scanned: usize,
    max_line_len: usize,
}

impl Default for HubLines {
    fn default() -> Self {
        HubLines::new(DEFAULT_MAX_LINE_LEN)
    }
}

impl HubLines {
    /// A reader refusing lines longer than `max_line_len` bytes.
    pub fn new(max_line_len: usize) -> Self {
        HubLines {
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            max_line_len,
        }
    }

    /// Adds bytes read from the connection.
    pub fn push(&mut self, bytes: &[u8]) {
        // Move the unread rest to the front before growing, so the buffer
        // stays about as large as one read plus one unfinished line.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.scanned -= self.start;
            self.start = 0;
        }
        // A buffer that grew for one huge line is not kept for the rest of
        // the connection.
        if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = Vec::new();
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held that are not yet a whole line.
    pub fn buffered_len(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next whole line, without its newline; `None` until one is in.
    pub fn next_line(&mut self) -> Option<Result<&[u8], LineError>> {
        match memchr::memchr(b'\n', &self.buf[self.scanned..]) {
            Some(at) => {
                let end = self.scanned + at;
                let line_start = self.start;
                self.start = end + 1;
                self.scanned = self.start;
                Some(Ok(&self.buf[line_start..end]))
            }
            None => {
                self.scanned = self.buf.len();
                if self.buffered_len() > self.max_line_len {
                    return Some(Err(LineError::TooLong {
                        limit: self.max_line_len,
                    }));
                }
                None
            }
        }
    }

    /// The next whole line, parsed; `None` until one is in.
    pub fn next_frame(&mut self) -> Option<Result<HubFrame, LineError>> {
        let line = match self.next_line()? {
            Ok(line) => line,
            Err(e) => return Some(Err(e)),
        };
        Some(HubFrame::parse(line).map_err(|e| LineError::NotAFrame {
            error: e.to_string(),
            head: String::from_utf8_lossy(&line[..line.len().min(80)]).into_owned(),
        }))
    }

    /// At the end of the stream: `Ok` when it ended between lines.
    pub fn finish(&self) -> Result<(), LineError> {
        match self.buffered_len() {
            0 => Ok(()),
            len => Err(LineError::Truncated { len }),
        }
    }
}

/// The `type` of a line the hub wrote, read without parsing it: the hub's
/// encoders always write `type` first (`{"type":"info",...`), so a client
/// counting frames by kind can skip the JSON parser. `None` for a line the
/// hub did not write.
pub fn frame_type(line: &[u8]) -> Option<&str> {
    let rest = line.strip_prefix(br#"{"type":""#)?;
    let end = memchr::memchr(b'"', rest)?;
    std::str::from_utf8(&rest[..end]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, PeerError};
    use crate::frame::hub::encode;

    fn all_lines(lines: &mut HubLines) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(line) = lines.next_line() {
            out.push(line.expect("whole lines").to_vec());
        }
        out
    }

    #[test]
    fn every_split_gives_the_same_lines() {
        let stream =
            b"{\"type\":\"pong\"}\n{\"type\":\"info\",\"from\":\"\xe5\xae\xa2\",\"message\":1}\n\n";
        let mut whole = HubLines::default();
        whole.push(stream);
        let expected = all_lines(&mut whole);
        assert_eq!(expected.len(), 3, "an empty line is a line");
        for cut in 0..=stream.len() {
            let mut lines = HubLines::default();
            let mut got = Vec::new();
            lines.push(&stream[..cut]);
            got.extend(all_lines(&mut lines));
            lines.push(&stream[cut..]);
            got.extend(all_lines(&mut lines));
            assert_eq!(got, expected, "cut at {cut}");
            assert_eq!(lines.finish(), Ok(()));
        }
    }

    #[test]
    fn a_stream_ending_mid_line_is_truncated() {
        let mut lines = HubLines::default();
        lines.push(b"{\"type\":\"pong\"}\n{\"type\":\"in");
        assert!(lines.next_line().is_some());
        assert!(lines.next_line().is_none());
        assert_eq!(lines.finish(), Err(LineError::Truncated { len: 11 }));
    }

    #[test]
    fn a_line_past_the_limit_is_refused() {
        let mut lines = HubLines::new(10);
        lines.push(b"0123456789");
        assert!(lines.next_line().is_none());
        lines.push(b"a");
        assert_eq!(
            lines.next_line(),
            Some(Err(LineError::TooLong { limit: 10 }))
        );
    }

    #[test]
    fn garbage_lines_say_so() {
        let mut lines = HubLines::default();
        lines.push(b"hello\n");
        match lines.next_frame() {
            Some(Err(LineError::NotAFrame { head, .. })) => assert_eq!(head, "hello"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_type_of_every_frame_the_hub_writes_reads_without_parsing() {
        let error = PeerError::new(ErrorCode::BadJson, "x");
        let frames = [
            encode::synced("a", "b:1", None),
            encode::relayed_info(br#""a""#, "1"),
            encode::error(&error, None),
            encode::bye("shutdown", "x"),
            encode::pong(None),
            encode::sessions(&[], 0, None, None, None),
        ];
        for frame in frames {
            let line = &frame[..frame.len() - 1];
            let parsed: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert_eq!(frame_type(line), parsed["type"].as_str(), "{parsed}");
        }
        assert_eq!(
            frame_type(b"{ \"type\": \"pong\"}"),
            None,
            "only the hub's own layout"
        );
    }
}
