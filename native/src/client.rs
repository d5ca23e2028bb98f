//! A small async client of the tcphub protocol, used by the `tcphub`
//! client subcommands, the tests and the load example.

use std::io;
use std::net::SocketAddr;

use tcphub_core::{
    encode_info, encode_list, encode_ping, encode_sync, HubFrame, RawValue, SessionEntry,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};

/// What went wrong talking to the hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The hub answered with an `error` frame.
    #[error("{code}: {message}")]
    Hub {
        /// The error code, such as `unknown_alias`.
        code: String,
        /// The hub's explanation.
        message: String,
    },
    /// The hub closed the session (`bye`).
    #[error("the hub closed the session ({reason}): {message}")]
    Bye {
        /// Why, such as `shutdown`.
        reason: String,
        /// The hub's explanation.
        message: String,
    },
    /// The hub closed the connection without a word.
    #[error("the hub closed the connection")]
    Closed,
    /// The hub sent something that is not a frame of the protocol.
    #[error("unexpected data from the hub: {0}")]
    Protocol(String),
}

/// One connection to a hub.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    local_addr: SocketAddr,
    line: Vec<u8>,
}

impl Client {
    /// Connects to the hub at `addr` (`host:port`).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let local_addr = stream.local_addr()?;
        let (read, write) = stream.into_split();
        Ok(Client {
            reader: BufReader::new(read),
            writer: write,
            local_addr,
            line: Vec::new(),
        })
    }

    /// This end's address: the session id the hub knows it by.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends raw bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await
    }

    /// Claims `alias` and waits for the answer: the session id on success,
    /// the hub's error (such as `alias_taken`) otherwise. Frames that arrive
    /// before the answer are dropped.
    pub async fn sync(&mut self, alias: &str) -> Result<String, ClientError> {
        self.send_raw(&encode_sync(alias)).await?;
        loop {
            match self.expect_frame().await? {
                HubFrame::Synced { session_id, .. } => return Ok(session_id),
                HubFrame::Error { code, message, .. } => {
                    return Err(ClientError::Hub { code, message })
                }
                HubFrame::Bye { reason, message } => {
                    return Err(ClientError::Bye { reason, message })
                }
                _ => {}
            }
        }
    }

    /// Sends `message` to `to` (an alias or `*`), or to the host when `to`
    /// is `None`.
    pub async fn send_info(&mut self, to: Option<&str>, message: &RawValue) -> io::Result<()> {
        self.send_raw(&encode_info(to, message)).await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, to: Option<&str>, text: &str) -> io::Result<()> {
        let message = serde_json::value::to_raw_value(text).expect("a string always serializes");
        self.send_info(to, &message).await
    }

    /// Sends `ping`.
    pub async fn ping(&mut self) -> io::Result<()> {
        self.send_raw(encode_ping()).await
    }

    /// Reads frames until `pong`, returning those that came before it. As
    /// the hub answers a session's frames in order, every reply to what was
    /// sent before the ping has arrived by then.
    pub async fn until_pong(&mut self) -> Result<Vec<HubFrame>, ClientError> {
        let mut before = Vec::new();
        loop {
            match self.expect_frame().await? {
                HubFrame::Pong { .. } => return Ok(before),
                frame => before.push(frame),
            }
        }
    }

    /// Asks who is connected, page by page until the last.
    pub async fn list(&mut self) -> Result<Vec<SessionEntry>, ClientError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self.list_page(after.as_deref()).await?;
            all.extend(page);
            match next {
                Some(cursor) => after = Some(cursor),
                None => return Ok(all),
            }
        }
    }

    /// One page of `list`, starting after `after`, and the cursor of the
    /// next page if there is one.
    async fn list_page(
        &mut self,
        after: Option<&str>,
    ) -> Result<(Vec<SessionEntry>, Option<String>), ClientError> {
        match after {
            None => self.send_raw(encode_list()).await?,
            Some(cursor) => {
                let mut request = br#"{"type":"list","after":"#.to_vec();
                serde_json::to_writer(&mut request, cursor).expect("a str always serializes");
                request.extend_from_slice(b"}\n");
                self.send_raw(&request).await?;
            }
        }
        loop {
            match self.expect_frame().await? {
                HubFrame::Sessions { sessions, next, .. } => return Ok((sessions, next)),
                HubFrame::Error { code, message, .. } => {
                    return Err(ClientError::Hub { code, message })
                }
                HubFrame::Bye { reason, message } => {
                    return Err(ClientError::Bye { reason, message })
                }
                _ => {}
            }
        }
    }

    /// The next frame from the hub; `None` when it closed the connection.
    pub async fn next_frame(&mut self) -> Result<Option<HubFrame>, ClientError> {
        match self.next_line().await? {
            None => Ok(None),
            Some(line) => HubFrame::parse(line).map(Some).map_err(|e| {
                ClientError::Protocol(format!("{e}: {}", String::from_utf8_lossy(line)))
            }),
        }
    }

    /// The next frame; the connection closing is an error.
    pub async fn expect_frame(&mut self) -> Result<HubFrame, ClientError> {
        self.next_frame().await?.ok_or(ClientError::Closed)
    }

    /// The next raw line from the hub, newline included; `None` at the end.
    ///
    /// Cancel-safe, so it can wait in a `select!`: a line cut short by
    /// cancellation is kept and completed by the next call.
    pub async fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        if self.line.last() == Some(&b'\n') {
            self.line.clear();
        }
        self.reader.read_until(b'\n', &mut self.line).await?;
        if self.line.last() == Some(&b'\n') {
            return Ok(Some(&self.line[..]));
        }
        // End of stream; a last line without its newline still counts.
        if self.line.is_empty() {
            Ok(None)
        } else {
            self.line.push(b'\n');
            Ok(Some(&self.line[..]))
        }
    }

    /// Closes the connection after sending what was written.
    pub async fn close(mut self) -> io::Result<()> {
        self.writer.shutdown().await
    }
}
