//! Finding delivered messages in what a hub sends, for both protocols,
//! without parsing more than the framing: a receiver must be cheaper than
//! the hub it measures.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::wire::Proto;

/// Bytes read per syscall.
const READ_CHUNK: usize = 64 * 1024;

/// What one [`Inbox::drain`] found besides messages.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    /// Messages handed to the callback.
    pub messages: u64,
    /// Other frames (tcphub `pong`, NATS `PING`/`PONG`/`+OK`, ...).
    pub other: u64,
    /// The first error or `bye` frame, as text.
    pub error: Option<String>,
}

/// A connection's receive buffer and framing.
#[derive(Debug)]
pub struct Inbox {
    proto: Proto,
    buf: Vec<u8>,
    filled: usize,
}

impl Inbox {
    /// An inbox that starts with `pending` (bytes read during the join).
    pub fn new(proto: Proto, pending: &[u8]) -> Self {
        let mut buf = vec![0; READ_CHUNK.max(pending.len() * 2)];
        buf[..pending.len()].copy_from_slice(pending);
        Inbox {
            proto,
            buf,
            filled: pending.len(),
        }
    }

    /// One read; `Ok(0)` at the end of the stream.
    pub async fn read_from<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> io::Result<usize> {
        if self.filled == self.buf.len() {
            // A frame larger than the buffer: make room for the rest of it.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = reader.read(&mut self.buf[self.filled..]).await?;
        self.filled += n;
        Ok(n)
    }

    /// Bytes received that do not make a whole frame yet: at the end of a
    /// stream, anything here means it ended in the middle of a frame.
    pub fn buffered(&self) -> usize {
        self.filled
    }

    /// Hands every complete message to `on_message` (tcphub: the whole
    /// `info` line; NATS: the payload) and keeps the incomplete rest.
    pub fn drain(&mut self, mut on_message: impl FnMut(&[u8])) -> Tally {
        let mut tally = Tally::default();
        let data = &self.buf[..self.filled];
        let used = match self.proto {
            Proto::Tcphub => drain_lines(data, &mut tally, &mut on_message),
            Proto::Nats => drain_nats(data, &mut tally, &mut on_message),
        };
        self.buf.copy_within(used..self.filled, 0);
        self.filled -= used;
        tally
    }
}

/// The start of every `info` line: `frame_type(line) == Some("info")`
/// exactly when a line starts with it.
const INFO_START: &[u8] = br#"{"type":"info""#;

/// tcphub: one frame per line; relayed messages are `info` frames.
///
/// The same split as [`tcphub_core::HubLines`] and the same sniffing as
/// [`tcphub_core::frame_type`], but cheaper, for a receiver must cost less
/// than the hub it measures: `HubLines` copies every read into a buffer of
/// its own, where the inbox cuts lines in the buffer it read into; and the
/// messages, 20 million lines a second in `capacity`, are recognised by
/// one prefix comparison ([`INFO_START`]), which `frame_type` semantics
/// allow, where calling `frame_type` on each line measured 10 to 30% below
/// (`capacity --in-process --subs 100`, a loaded 2-core machine). Other
/// lines, a few, go through `frame_type`.
fn drain_lines(data: &[u8], tally: &mut Tally, on_message: &mut impl FnMut(&[u8])) -> usize {
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', data) {
        let line = &data[start..=end];
        start = end + 1;
        if line.starts_with(INFO_START) {
            tally.messages += 1;
            on_message(line);
            continue;
        }
        tally.other += 1;
        if tally.error.is_none() && matches!(tcphub_core::frame_type(line), Some("error" | "bye")) {
            tally.error = Some(String::from_utf8_lossy(line).trim_end().to_string());
        }
    }
    start
}

/// NATS: `MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n`, and
/// one-line control frames.
fn drain_nats(data: &[u8], tally: &mut Tally, on_message: &mut impl FnMut(&[u8])) -> usize {
    let mut start = 0;
    while let Some(nl) = memchr::memchr(b'\n', &data[start..]).map(|i| start + i) {
        let line = &data[start..nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.starts_with(b"MSG ") {
            let size = line
                .rsplit(|&b| b == b' ')
                .next()
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse::<usize>().ok());
            let Some(size) = size else {
                tally.error = Some(format!("bad MSG line: {}", String::from_utf8_lossy(line)));
                return data.len();
            };
            let end = nl + 1 + size + 2;
            if end > data.len() {
                break;
            }
            tally.messages += 1;
            on_message(&data[nl + 1..nl + 1 + size]);
            start = end;
        } else {
            tally.other += 1;
            if line.starts_with(b"-ERR") && tally.error.is_none() {
                tally.error = Some(String::from_utf8_lossy(line).to_string());
            }
            start = nl + 1;
        }
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(proto: Proto, chunks: &[&[u8]]) -> (Vec<Vec<u8>>, Tally) {
        let mut inbox = Inbox::new(proto, b"");
        let mut seen = Vec::new();
        let mut total = Tally::default();
        for chunk in chunks {
            inbox.buf[inbox.filled..inbox.filled + chunk.len()].copy_from_slice(chunk);
            inbox.filled += chunk.len();
            let t = inbox.drain(|m| seen.push(m.to_vec()));
            total.messages += t.messages;
            total.other += t.other;
            total.error = total.error.or(t.error);
        }
        (seen, total)
    }

    #[test]
    fn tcphub_lines_split_anywhere_are_counted_once() {
        let (seen, tally) = feed(
            Proto::Tcphub,
            &[
                b"{\"type\":\"info\",\"from\":\"a\",\"message\":1}\n{\"type\":\"in",
                b"fo\",\"from\":\"a\",\"message\":2}\n{\"type\":\"pong\"}\n",
                b"{\"type\":\"error\",\"code\":\"x\"}\n",
            ],
        );
        assert_eq!(seen.len(), 2);
        assert_eq!(tally.messages, 2);
        assert_eq!(tally.other, 2);
        assert!(tally.error.unwrap().contains("\"x\""));
    }

    #[test]
    fn the_info_prefix_means_what_frame_type_says() {
        for line in [
            &b"{\"type\":\"info\",\"from\":\"a\",\"message\":1}\n"[..],
            b"{\"type\":\"info\"}",
            b"{\"type\":\"infos\",\"x\":1}\n",
            b"{\"type\":\"inf\"}\n",
            b"{\"type\": \"info\"}\n",
            b"{\"type\":\"pong\"}\n",
            b"info\n",
        ] {
            assert_eq!(
                line.starts_with(INFO_START),
                tcphub_core::frame_type(line) == Some("info"),
                "{}",
                String::from_utf8_lossy(line)
            );
        }
    }

    #[test]
    fn nats_payloads_are_cut_by_their_size_even_across_reads() {
        let (seen, tally) = feed(
            Proto::Nats,
            &[
                b"PING\r\nMSG s 1 5\r\nab\r\n",
                b"c\r\nMSG s 1 reply 2\r\nhi\r\n+OK\r\n",
            ],
        );
        assert_eq!(seen, vec![b"ab\r\nc".to_vec(), b"hi".to_vec()]);
        assert_eq!(tally.messages, 2);
        assert_eq!(tally.other, 2);
    }
}
