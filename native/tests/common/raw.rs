//! A client on a plain blocking socket that sees the hub's bytes exactly as
//! they arrive: line by line, and how the stream ended (a clean EOF, an EOF
//! in the middle of a line, a reset). The async `Client` hides those; a user
//! with `nc` or a hand-written client does not.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one blocking read waits before the caller's deadline is
/// checked again. Short, so a deadline is kept to within this much.
const POLL: Duration = Duration::from_millis(50);

/// How a stream from the hub ended (or did not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// EOF right after a whole line: the only clean ending.
    Eof,
    /// EOF after this many bytes of an unfinished line: a frame was cut.
    MidLine { partial: usize, head: String },
    /// The read failed (typically `ConnectionReset`), after this many bytes
    /// of an unfinished line.
    Error { kind: io::ErrorKind, partial: usize },
    /// Nothing ended the stream before the deadline; this many bytes of an
    /// unfinished line are kept for the next read.
    TimedOut { partial: usize },
}

impl End {
    /// The stream is over (anything but a timeout).
    pub fn is_over(&self) -> bool {
        !matches!(self, End::TimedOut { .. })
    }
}

/// Everything a connection received up to its end.
#[derive(Debug, Clone)]
pub struct Transcript {
    /// Whole lines, without their `\n`, lossily decoded.
    pub lines: Vec<String>,
    pub end: End,
}

impl Transcript {
    /// Each line parsed as JSON; panics on a line that is not.
    pub fn frames(&self) -> Vec<Value> {
        self.lines
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {}", shorten(line)))
            })
            .collect()
    }

    /// The `type` of each line, `?` where a line is not a JSON object with one.
    pub fn types(&self) -> Vec<String> {
        self.lines
            .iter()
            .map(|line| {
                serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v["type"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "?".to_owned())
            })
            .collect()
    }

    /// A short description for assertion messages: the first and last few
    /// lines and the ending.
    pub fn summary(&self) -> String {
        let n = self.lines.len();
        let mut shown: Vec<String> = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if i < 3 || i + 3 >= n {
                shown.push(format!("  {i}: {}", shorten(line)));
            } else if i == 3 {
                shown.push(format!("  ... {} more lines ...", n - 6));
            }
        }
        shown.push(format!("then {:?}", self.end));
        format!("{n} lines:\n{}", shown.join("\n"))
    }
}

/// `text`, cut to a readable length for messages.
pub fn shorten(text: &str) -> String {
    const MAX: usize = 160;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut cut = MAX;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}... ({} bytes)", &text[..cut], text.len())
}

/// One connection to the hub on a blocking socket.
#[derive(Debug)]
pub struct RawClient {
    reader: BufReader<TcpStream>,
    /// The line being read; holds an unfinished line across timeouts.
    partial: Vec<u8>,
    /// `partial` holds the line returned last, to be cleared before the next.
    returned: bool,
    local_addr: SocketAddr,
}

impl RawClient {
    pub fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Self::wrap(stream)
    }

    /// A connection whose receive buffer is about `bytes` (set before the
    /// handshake, so the window stays small): a reader that stops reading
    /// holds little in the kernel and the hub notices sooner.
    pub fn connect_with_recv_buffer(addr: SocketAddr, bytes: usize) -> RawClient {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .expect("socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        socket
            .connect(&addr.into())
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        Self::wrap(socket.into())
    }

    fn wrap(stream: TcpStream) -> RawClient {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream.set_read_timeout(Some(POLL)).expect("SO_RCVTIMEO");
        // A hub that stops reading for good fails the test, not hangs it.
        stream
            .set_write_timeout(Some(Duration::from_secs(60)))
            .expect("SO_SNDTIMEO");
        let local_addr = stream.local_addr().expect("local address");
        RawClient {
            reader: BufReader::with_capacity(64 * 1024, stream),
            partial: Vec::new(),
            returned: false,
            local_addr,
        }
    }

    /// The session id the hub knows this connection by.
    pub fn session_id(&self) -> String {
        self.local_addr.to_string()
    }

    /// The socket itself, for a reader of another kind; panics if bytes
    /// were read ahead and would be lost.
    pub fn into_stream(self) -> TcpStream {
        assert!(
            self.reader.buffer().is_empty() && (self.returned || self.partial.is_empty()),
            "bytes read ahead would be lost"
        );
        self.reader.into_inner()
    }

    /// Writes all of `bytes`.
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        let mut stream = self.reader.get_ref();
        stream.write_all(bytes)
    }

    /// Writes all of `bytes`; panics if the connection refuses them.
    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes)
            .unwrap_or_else(|e| panic!("send to the hub failed: {e}"));
    }

    /// Writes `bytes` and the FIN in one TCP segment where the kernel
    /// allows (`MSG_MORE` holds the data back until the FIN joins it), so
    /// the hub reads the request and the EOF together.
    pub fn send_with_fin(&mut self, bytes: &[u8]) {
        /// `MSG_MORE` from `<sys/socket.h>` on Linux.
        #[cfg(target_os = "linux")]
        const MORE: i32 = 0x8000;
        #[cfg(not(target_os = "linux"))]
        const MORE: i32 = 0;
        let socket = socket2::SockRef::from(self.reader.get_ref());
        let mut rest = bytes;
        while !rest.is_empty() {
            match socket.send_with_flags(rest, MORE) {
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("send to the hub failed: {e}"),
            }
        }
        self.shutdown_write();
    }

    /// Another handle on the socket, for writing from a second thread while
    /// this one reads.
    pub fn writer(&self) -> TcpStream {
        self.reader.get_ref().try_clone().expect("clone the socket")
    }

    /// Sends `json` followed by a newline.
    pub fn send_line(&mut self, json: &str) {
        self.send(format!("{json}\n").as_bytes());
    }

    /// Half-closes: sends FIN, keeps reading (what `nc -N` does at the end
    /// of its input).
    pub fn shutdown_write(&mut self) {
        self.reader
            .get_ref()
            .shutdown(Shutdown::Write)
            .expect("shutdown(SHUT_WR)");
    }

    /// The next whole line (without `\n`), or how the stream ended. A line
    /// still unfinished at the deadline is kept for the next call.
    pub fn next_line(&mut self, timeout: Duration) -> Result<&[u8], End> {
        if self.returned {
            self.partial.clear();
            self.returned = false;
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.reader.read_until(b'\n', &mut self.partial) {
                Ok(0) if self.partial.is_empty() => return Err(End::Eof),
                Ok(0) => {
                    let head = String::from_utf8_lossy(&self.partial);
                    return Err(End::MidLine {
                        partial: self.partial.len(),
                        head: shorten(&head),
                    });
                }
                Ok(_) if self.partial.last() == Some(&b'\n') => {
                    self.returned = true;
                    let len = self.partial.len() - 1;
                    return Ok(&self.partial[..len]);
                }
                // Bytes, then EOF before a newline: the next read says EOF.
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if Instant::now() >= deadline {
                        return Err(End::TimedOut {
                            partial: self.partial.len(),
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(End::Error {
                        kind: e.kind(),
                        partial: self.partial.len(),
                    })
                }
            }
        }
    }

    /// The next line as JSON, or how the stream ended; panics on a whole
    /// line that is not JSON.
    pub fn next_json(&mut self, timeout: Duration) -> Result<Value, End> {
        let line = self.next_line(timeout)?;
        Ok(serde_json::from_slice(line).unwrap_or_else(|e| {
            panic!(
                "the hub sent a line that is not JSON ({e}): {}",
                shorten(&String::from_utf8_lossy(line))
            )
        }))
    }

    /// The next line as JSON, which must come within `timeout`.
    pub fn expect_json(&mut self, timeout: Duration, waiting_for: &str) -> Value {
        self.next_json(timeout).unwrap_or_else(|end| {
            panic!("waiting for {waiting_for} from the hub, the stream gave {end:?}")
        })
    }

    /// Reads until the stream ends or `timeout` passes.
    pub fn read_to_end(&mut self, timeout: Duration) -> Transcript {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(line) => lines.push(String::from_utf8_lossy(line).into_owned()),
                Err(end) => return Transcript { lines, end },
            }
        }
    }

    /// Claims `alias` and waits for `synced`; returns the session id.
    pub fn sync(&mut self, alias: &str) -> String {
        let request = serde_json::json!({"type": "sync", "clientName": alias});
        self.send_line(&request.to_string());
        let reply = self.expect_json(Duration::from_secs(20), "synced");
        assert_eq!(reply["type"], "synced", "sync {alias}: {reply}");
        assert_eq!(reply["clientName"], alias, "sync {alias}: {reply}");
        reply["sessionId"].as_str().expect("sessionId").to_owned()
    }

    /// Sends a `ping` and returns the frames that came before its `pong`.
    pub fn ping(&mut self, timeout: Duration) -> Vec<Value> {
        self.send_line(r#"{"type":"ping"}"#);
        let deadline = Instant::now() + timeout;
        let mut before = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.expect_json(left, "pong");
            if frame["type"] == "pong" {
                return before;
            }
            before.push(frame);
        }
    }
}
