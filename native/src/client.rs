//! A small async client of the tcphub protocol, used by the `tcphub`
//! client subcommands, the tests and the load example.
//!
//! The hub's stream is read with the core's [`HubLines`], as every client
//! of the hub reads it. Each request that waits for an answer (`sync`,
//! `list`, `ping`, `join`, `leave`, `watch`, `unwatch`, `request`) carries an `id` of this client's own (`"rs-1"`,
//! `"rs-2"`, ...), which the hub echoes in the reply or error it causes; a
//! wait takes only the frame with its id as its answer, so an error caused
//! by something sent before (with [`Client::send_raw`], say) is never
//! blamed on a later request.

use std::io;
use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;
use tcphub_core::{
    encode_bye, encode_info, encode_join, encode_leave, encode_reply, encode_request,
    encode_room_info, encode_sync_request, encode_unwatch, encode_watch, HubFrame, HubLines,
    LastWillRequest, LineError, RawValue, SessionEntry, WatchScope,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};

use crate::tls::{self, ClientTlsOptions, TlsConfigError, DEFAULT_TLS_HANDSHAKE_TIMEOUT};

/// Bytes asked of the socket in one read.
const READ_CHUNK: usize = 16 * 1024;

/// What went wrong talking to the hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The connection failed (a TLS handshake refused included: an
    /// untrusted certificate, a name it does not carry).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A TLS setting cannot be used (a CA file missing or not PEM, a
    /// server name that is not a host name).
    #[error(transparent)]
    TlsConfig(#[from] TlsConfigError),
    /// The hub answered the request with an `error` frame.
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
    /// The hub hung up right after an `error` that answered no request of
    /// this client (such as `too_many_sessions` or `frame_too_large`): the
    /// request was not answered, and this is the hub's last word.
    #[error("the hub closed the connection after {code}: {message}")]
    ClosedAfterError {
        /// The error code of the hub's last frame.
        code: String,
        /// The hub's explanation.
        message: String,
    },
    /// The hub closed the connection without a word.
    #[error("the hub closed the connection")]
    Closed,
    /// The hub's stream is not what the hub writes: a line that is not a
    /// frame, a line too long, or the stream ending in the middle of a line
    /// ([`LineError::Truncated`]).
    #[error("unexpected data from the hub: {0}")]
    Stream(#[from] LineError),
    /// The hub sent a frame of the protocol where the protocol has no place
    /// for it.
    #[error("unexpected frame from the hub: {0}")]
    Protocol(String),
}

/// The id of a request this client sent, to recognise its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The id as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `frame` is the hub's answer to this request: a `synced`,
    /// `sessions`, `pong` or `error` carrying this id.
    pub fn is_answered_by(&self, frame: &HubFrame) -> bool {
        matches!(frame.request_id(), Some(Value::String(id)) if *id == self.0)
    }
}

/// The answer to a [`Client::request`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Who answered: the alias asked, or `#hub` for the host.
    pub from: String,
    /// The answer, any JSON value.
    pub message: Value,
}

/// The ids this client gives its requests: `"rs-1"`, `"rs-2"`, ... A
/// string with a prefix, so that an id picked for a request of one's own
/// sent with `send_raw` (a number, say) is not taken for one of these.
const ID_PREFIX: &str = "rs-";

/// A request that waits for an answer, as written on the wire.
#[derive(Serialize)]
struct Request<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "clientName", skip_serializing_if = "Option::is_none")]
    client_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    id: &'a str,
}

impl Request<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("a request always serializes");
        line.push(b'\n');
        line
    }
}

type TlsClientStream = tokio_rustls::client::TlsStream<TcpStream>;

/// The receiving half of a connection. An enum, as on the server: plain
/// TCP goes straight to the socket, without dynamic dispatch.
#[derive(Debug)]
enum Reader {
    Plain(OwnedReadHalf),
    Tls(tokio::io::ReadHalf<TlsClientStream>),
}

impl Reader {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Reader::Plain(r) => r.read(buf).await,
            Reader::Tls(r) => match r.read(buf).await {
                // A hub that closed TCP without close_notify has still
                // ended the stream; a cut frame is noticed by the lines.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
        }
    }
}

/// The sending half of a connection.
#[derive(Debug)]
enum Writer {
    Plain(OwnedWriteHalf),
    Tls(tokio::io::WriteHalf<TlsClientStream>),
}

impl Writer {
    async fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match self {
            Writer::Plain(w) => w.write_all(bytes).await,
            Writer::Tls(w) => {
                w.write_all(bytes).await?;
                // Records rustls still holds go out now, not with the next write.
                w.flush().await
            }
        }
    }

    async fn shutdown(&mut self) -> io::Result<()> {
        match self {
            Writer::Plain(w) => w.shutdown().await,
            // close_notify, then FIN.
            Writer::Tls(w) => w.shutdown().await,
        }
    }
}

/// One connection to a hub.
#[derive(Debug)]
pub struct Client {
    reader: Reader,
    writer: Writer,
    local_addr: SocketAddr,
    /// What was read and not yet taken as frames.
    lines: HubLines,
    read_buf: Box<[u8]>,
    /// The number in the next request's id.
    last_id: u64,
    /// The latest `ping` sent, whose `pong` [`Client::until_pong`] waits for.
    ping: Option<RequestId>,
}

impl Client {
    /// Connects to the hub at `addr` (`host:port`).
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<Client> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let local_addr = stream.local_addr()?;
        let (read, write) = stream.into_split();
        Ok(Client::new(
            Reader::Plain(read),
            Writer::Plain(write),
            local_addr,
        ))
    }

    /// Connects to the hub at `addr` (`host:port`) over TLS, checking its
    /// certificate as `tls` says: against `tls.ca` (or the public web's
    /// CAs), for the name `tls.server_name` (or the host of `addr`, an IP
    /// address included). An untrusted certificate, or a handshake not
    /// done within 10 s, is a [`ClientError::Io`].
    pub async fn connect_tls(addr: &str, tls: &ClientTlsOptions) -> Result<Client, ClientError> {
        let config = tls::client_config(tls)?;
        let name = tls::server_name(tls, addr)?;
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let local_addr = stream.local_addr()?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let stream = tokio::time::timeout(
            DEFAULT_TLS_HANDSHAKE_TIMEOUT,
            connector.connect(name, stream),
        )
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out"))??;
        let (read, write) = tokio::io::split(stream);
        Ok(Client::new(
            Reader::Tls(read),
            Writer::Tls(write),
            local_addr,
        ))
    }

    fn new(reader: Reader, writer: Writer, local_addr: SocketAddr) -> Client {
        Client {
            reader,
            writer,
            local_addr,
            lines: HubLines::default(),
            read_buf: vec![0; READ_CHUNK].into_boxed_slice(),
            last_id: 0,
            ping: None,
        }
    }

    /// This end's address: the session id the hub knows it by.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends raw bytes as they are.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes).await
    }

    fn next_id(&mut self) -> RequestId {
        self.last_id += 1;
        RequestId(format!("{ID_PREFIX}{}", self.last_id))
    }

    /// Writes a request with a new id, and returns the id.
    async fn write_request(
        &mut self,
        kind: &'static str,
        client_name: Option<&str>,
        after: Option<&str>,
    ) -> io::Result<RequestId> {
        let id = self.next_id();
        let line = Request {
            kind,
            client_name,
            after,
            room: None,
            id: id.as_str(),
        }
        .encode();
        self.send_raw(&line).await?;
        Ok(id)
    }

    /// Writes `line`, a request as the core encodes it, with a new id
    /// added, and returns the id. The core's encoders are the one place
    /// the request grammar is written down; they leave ids to the caller.
    async fn request_line(&mut self, line: &[u8]) -> io::Result<RequestId> {
        let id = self.next_id();
        self.send_raw(&with_id(line, &id)).await?;
        Ok(id)
    }

    /// Claims `alias` and waits for the answer: the session id on success,
    /// the hub's error (such as `alias_taken`) otherwise. Frames that arrive
    /// before the answer are dropped, errors about earlier sends included.
    pub async fn sync(&mut self, alias: &str) -> Result<String, ClientError> {
        let id = self.write_request("sync", Some(alias), None).await?;
        match self.answer(&id).await? {
            HubFrame::Synced { session_id, .. } => Ok(session_id),
            other => Err(unexpected_answer("sync", &other)),
        }
    }

    /// Claims `alias` as [`Client::sync`] does, leaving `last_will` with
    /// the hub: sent for this session if it ends without [`Client::bye`]
    /// (the connection drops, say). `None` clears a will left before.
    pub async fn sync_with_last_will(
        &mut self,
        alias: &str,
        last_will: Option<&LastWillRequest<'_>>,
    ) -> Result<String, ClientError> {
        self.sync_with_token(alias, None, last_will).await
    }

    /// Claims `alias` as [`Client::sync_with_last_will`] does, sending
    /// `token` as the credential a hub with authentication asks for. A
    /// credential refused is [`ClientError::Hub`] with code
    /// `unauthorized`.
    pub async fn sync_with_token(
        &mut self,
        alias: &str,
        token: Option<&str>,
        last_will: Option<&LastWillRequest<'_>>,
    ) -> Result<String, ClientError> {
        let id = self
            .request_line(&encode_sync_request(alias, token, last_will))
            .await?;
        match self.answer(&id).await? {
            HubFrame::Synced { session_id, .. } => Ok(session_id),
            other => Err(unexpected_answer("sync", &other)),
        }
    }

    /// Joins `room` and waits for the answer: how many members it has now,
    /// this session included.
    pub async fn join(&mut self, room: &str) -> Result<usize, ClientError> {
        let id = self.request_line(&encode_join(room)).await?;
        match self.answer(&id).await? {
            HubFrame::Joined { members, .. } => Ok(members),
            other => Err(unexpected_answer("join", &other)),
        }
    }

    /// Leaves `room` and waits for the answer (`not_in_room` when this
    /// session was not a member).
    pub async fn leave(&mut self, room: &str) -> Result<(), ClientError> {
        let id = self.request_line(&encode_leave(room)).await?;
        match self.answer(&id).await? {
            HubFrame::Left { .. } => Ok(()),
            other => Err(unexpected_answer("leave", &other)),
        }
    }

    /// Sends `message` to every other member of `room`. An error (such as
    /// `unknown_room`) arrives later, as for [`Client::send_info`].
    pub async fn send_to_room(&mut self, room: &str, message: &RawValue) -> io::Result<()> {
        self.send_raw(&encode_room_info(room, message)).await
    }

    /// Sends a text message to every other member of `room`.
    pub async fn send_text_to_room(&mut self, room: &str, text: &str) -> io::Result<()> {
        let message = serde_json::value::to_raw_value(text).expect("a string always serializes");
        self.send_to_room(room, &message).await
    }

    /// Asks to be sent `presence` frames for `scope` and waits for the
    /// answer (`too_many_watches` past the hub's cap).
    pub async fn watch(&mut self, scope: &WatchScope<'_>) -> Result<(), ClientError> {
        let id = self.request_line(&encode_watch(scope)).await?;
        match self.answer(&id).await? {
            HubFrame::Watching { .. } => Ok(()),
            other => Err(unexpected_answer("watch", &other)),
        }
    }

    /// Stops the `presence` frames of `scope` ([`WatchScope::All`]: every
    /// watch) and waits for the answer.
    pub async fn unwatch(&mut self, scope: &WatchScope<'_>) -> Result<(), ClientError> {
        let id = self.request_line(&encode_unwatch(scope)).await?;
        match self.answer(&id).await? {
            HubFrame::Unwatched { .. } => Ok(()),
            other => Err(unexpected_answer("unwatch", &other)),
        }
    }

    /// Sends `bye` without waiting: the hub answers everything sent before
    /// it, then says `bye` (`client_bye`) and closes. No last will is sent.
    pub async fn send_bye(&mut self) -> io::Result<()> {
        self.send_raw(encode_bye()).await
    }

    /// Says `bye` and waits for the hub's own `bye`, returning the frames
    /// that arrived before it: a clean close, so no last will is sent.
    pub async fn bye(mut self) -> Result<Vec<HubFrame>, ClientError> {
        self.send_bye().await?;
        let mut before = Vec::new();
        loop {
            match self.expect_frame().await? {
                HubFrame::Bye { reason, .. } if reason == "client_bye" => return Ok(before),
                HubFrame::Bye { reason, message } => {
                    return Err(ClientError::Bye { reason, message })
                }
                frame => before.push(frame),
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

    /// Sends a `request` to `to` (an alias; the host when `None`) with a
    /// new id, without waiting, and returns the id: the `reply`, or the
    /// `error` that ends the request (`unknown_alias`, `request_timeout`,
    /// ...), carries it. `timeout_ms` is how long the hub waits for the
    /// reply (its default when `None`; it cuts longer waits to its
    /// maximum).
    pub async fn send_request(
        &mut self,
        to: Option<&str>,
        message: &RawValue,
        timeout_ms: Option<u64>,
    ) -> io::Result<RequestId> {
        self.request_line(&encode_request(to, message, None, timeout_ms))
            .await
    }

    /// Sends a `request` as [`Client::send_request`] does and waits for
    /// its end: the reply, or the hub's error as [`ClientError::Hub`]
    /// (code `request_timeout` when nobody answered in time). The hub
    /// ends every request, within its longest request timeout.
    pub async fn request(
        &mut self,
        to: Option<&str>,
        message: &RawValue,
        timeout_ms: Option<u64>,
    ) -> Result<Reply, ClientError> {
        let id = self.send_request(to, message, timeout_ms).await?;
        match self.answer(&id).await? {
            HubFrame::Reply { from, message, .. } => Ok(Reply { from, message }),
            other => Err(unexpected_answer("request", &other)),
        }
    }

    /// Answers a request this session was sent (`replyTo` as it came).
    /// A reply the hub refuses (the request timed out meanwhile, say) is
    /// answered later with an `unknown_request` error.
    pub async fn send_reply(&mut self, reply_to: &str, message: &RawValue) -> io::Result<()> {
        self.send_raw(&encode_reply(reply_to, message)).await
    }

    /// Sends `ping` with a new id, which [`Client::until_pong`] then waits
    /// for; the id is returned for callers that read frames themselves
    /// ([`RequestId::is_answered_by`]).
    pub async fn ping(&mut self) -> io::Result<RequestId> {
        let id = self.write_request("ping", None, None).await?;
        self.ping = Some(id.clone());
        Ok(id)
    }

    /// Reads frames until the `pong` answering the latest [`Client::ping`]
    /// (sending one first if none is waiting), returning those that came
    /// before it. As the hub answers a session's frames in order, every
    /// reply to what was sent before the ping has arrived by then.
    pub async fn until_pong(&mut self) -> Result<Vec<HubFrame>, ClientError> {
        let id = match self.ping.take() {
            Some(id) => id,
            None => self.write_request("ping", None, None).await?,
        };
        let mut before = Vec::new();
        loop {
            let frame = self.expect_frame().await?;
            if id.is_answered_by(&frame) {
                return match frame {
                    HubFrame::Pong { .. } => Ok(before),
                    other => Err(unexpected_answer("ping", &other)),
                };
            }
            before.push(frame);
        }
    }

    /// Asks who is connected, page by page until the last.
    pub async fn list(&mut self) -> Result<Vec<SessionEntry>, ClientError> {
        self.list_all(None).await
    }

    /// Asks who is in `room`, page by page until the last. Only a member
    /// may ask (`not_in_room` otherwise).
    pub async fn list_room(&mut self, room: &str) -> Result<Vec<SessionEntry>, ClientError> {
        self.list_all(Some(room)).await
    }

    async fn list_all(&mut self, room: Option<&str>) -> Result<Vec<SessionEntry>, ClientError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self.list_page(after.as_deref(), room).await?;
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
        room: Option<&str>,
    ) -> Result<(Vec<SessionEntry>, Option<String>), ClientError> {
        let id = self.next_id();
        let line = Request {
            kind: "list",
            client_name: None,
            after,
            room,
            id: id.as_str(),
        }
        .encode();
        self.send_raw(&line).await?;
        match self.answer(&id).await? {
            HubFrame::Sessions { sessions, next, .. } => Ok((sessions, next)),
            other => Err(unexpected_answer("list", &other)),
        }
    }

    /// Waits for the frame answering request `id`, dropping the others: the
    /// reply itself, or the hub's `error` as [`ClientError::Hub`]. A `bye`
    /// or the connection closing first is an error too.
    async fn answer(&mut self, id: &RequestId) -> Result<HubFrame, ClientError> {
        // An error naming no request, kept while it is the latest frame: if
        // the hub hangs up next, it is why.
        let mut last_word: Option<(String, String)> = None;
        loop {
            let frame = match self.next_frame().await? {
                Some(frame) => frame,
                None => {
                    return Err(match last_word {
                        Some((code, message)) => ClientError::ClosedAfterError { code, message },
                        None => ClientError::Closed,
                    })
                }
            };
            if id.is_answered_by(&frame) {
                return match frame {
                    HubFrame::Error { code, message, .. } => {
                        Err(ClientError::Hub { code, message })
                    }
                    answer => Ok(answer),
                };
            }
            last_word = None;
            match frame {
                HubFrame::Bye { reason, message } => {
                    return Err(ClientError::Bye { reason, message })
                }
                HubFrame::Error {
                    code,
                    message,
                    id: None,
                } => last_word = Some((code, message)),
                _ => {}
            }
        }
    }

    /// The next frame from the hub; `None` when it closed the connection
    /// between two lines, [`ClientError::Stream`] when in the middle of one.
    ///
    /// Cancel-safe, so it can wait in a `select!`: bytes are only taken
    /// from the socket by a read that completed, and kept until a whole
    /// line is in.
    pub async fn next_frame(&mut self) -> Result<Option<HubFrame>, ClientError> {
        loop {
            if let Some(frame) = self.lines.next_frame() {
                return Ok(Some(frame?));
            }
            let n = self.reader.read(&mut self.read_buf).await?;
            if n == 0 {
                self.lines.finish()?;
                return Ok(None);
            }
            self.lines.push(&self.read_buf[..n]);
        }
    }

    /// The next frame; the connection closing is an error.
    pub async fn expect_frame(&mut self) -> Result<HubFrame, ClientError> {
        self.next_frame().await?.ok_or(ClientError::Closed)
    }

    /// Closes the connection after sending what was written.
    pub async fn close(mut self) -> io::Result<()> {
        self.writer.shutdown().await
    }
}

/// `line` (one JSON object and a newline, as the core's encoders write
/// it) with `"id":ID` added as its last field.
fn with_id(line: &[u8], id: &RequestId) -> Vec<u8> {
    let body = line.trim_ascii_end();
    // Every encoder writes an object: it ends with `}`.
    let open = body.strip_suffix(b"}").unwrap_or(body);
    let mut out = Vec::with_capacity(line.len() + id.as_str().len() + 8);
    out.extend_from_slice(open);
    out.extend_from_slice(b",\"id\":");
    out.extend_from_slice(
        serde_json::to_string(id.as_str())
            .expect("a string always serializes")
            .as_bytes(),
    );
    out.extend_from_slice(b"}\n");
    out
}

/// A frame carrying a request's id that is not the kind of answer it
/// wants (the hub never sends one).
fn unexpected_answer(request: &str, frame: &HubFrame) -> ClientError {
    ClientError::Protocol(format!("{frame:?} in answer to {request}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A client of a fake hub that writes `stream` and hangs up.
    async fn client_of(stream: &'static [u8]) -> Client {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            // Cut in two writes, so lines cross reads.
            let (a, b) = stream.split_at(stream.len() / 2);
            socket.write_all(a).await.unwrap();
            socket.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            socket.write_all(b).await.unwrap();
        });
        Client::connect(addr).await.unwrap()
    }

    #[tokio::test]
    async fn a_stream_ending_mid_line_is_an_error_naming_it() {
        let mut client = client_of(b"{\"type\":\"pong\"}\n{\"type\":\"po").await;
        assert_eq!(
            client.next_frame().await.unwrap(),
            Some(HubFrame::Pong { id: None })
        );
        match client.next_frame().await {
            Err(ClientError::Stream(LineError::Truncated { len: 11 })) => {}
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_stream_ending_between_lines_is_the_end() {
        let mut client = client_of(b"{\"type\":\"pong\"}\n{\"type\":\"pong\"}\n").await;
        assert!(client.next_frame().await.unwrap().is_some());
        assert!(client.next_frame().await.unwrap().is_some());
        assert!(client.next_frame().await.unwrap().is_none());
        assert!(matches!(
            client.expect_frame().await,
            Err(ClientError::Closed)
        ));
    }

    #[tokio::test]
    async fn a_line_that_is_not_a_frame_is_an_error_and_the_next_one_reads() {
        let mut client = client_of(b"hello\n{\"type\":\"pong\"}\n").await;
        match client.next_frame().await {
            Err(ClientError::Stream(LineError::NotAFrame { head, .. })) => {
                assert_eq!(head, "hello")
            }
            other => panic!("{other:?}"),
        }
        assert!(client.next_frame().await.unwrap().is_some());
    }

    #[test]
    fn core_encoded_requests_get_an_id_as_their_last_field() {
        let id = RequestId("rs-3".into());
        assert_eq!(
            with_id(&encode_join("lobby"), &id),
            b"{\"type\":\"join\",\"room\":\"lobby\",\"id\":\"rs-3\"}\n"
        );
        let line = with_id(&encode_watch(&WatchScope::All), &id);
        let parsed: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(parsed, serde_json::json!({"type": "watch", "id": "rs-3"}));
    }

    #[test]
    fn requests_carry_their_id() {
        let line = Request {
            kind: "list",
            client_name: None,
            after: Some("a\"b"),
            room: None,
            id: "rs-7",
        }
        .encode();
        assert_eq!(
            line,
            b"{\"type\":\"list\",\"after\":\"a\\\"b\",\"id\":\"rs-7\"}\n"
        );
        let id = RequestId("rs-7".into());
        let answer = HubFrame::Pong {
            id: Some(Value::from("rs-7")),
        };
        assert!(id.is_answered_by(&answer));
        assert!(!id.is_answered_by(&HubFrame::Pong { id: None }));
        assert!(!id.is_answered_by(&HubFrame::Pong {
            id: Some(Value::from(7))
        }));
    }
}
