//! The two client protocols the generator speaks, as far as a benchmark
//! needs them: join (tcphub `sync`, and `join` for a room; NATS
//! `CONNECT` + `SUB`), publish (tcphub `info` with `to` or `room`; NATS
//! `PUB`), and the frames that come back (see the `scan` module).

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Serialize;
use tcphub_core::RawValue;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dial::Dial;
use super::stream::Stream;

/// Longest a connection may take to join before the run gives up.
const JOIN_TIMEOUT: Duration = Duration::from_secs(30);

/// A protocol the generator speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// tcphub's JSON protocol (tcphub, or the Node.js peer).
    Tcphub,
    /// The NATS client protocol (nats-server).
    Nats,
}

impl Proto {
    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcphub => "tcphub",
            Proto::Nats => "nats",
        }
    }
}

/// A joined connection, with whatever arrived after the join's answer.
#[derive(Debug)]
pub struct Conn {
    pub stream: Stream,
    /// Bytes read past the join's answer: the start of the message stream.
    pub pending: Vec<u8>,
}

/// How a connection joins.
#[derive(Debug, Clone, Copy)]
pub struct Join<'a> {
    /// tcphub: the alias to sync as. NATS: the connection's name.
    pub name: &'a str,
    /// NATS only: the subject to subscribe to (tcphub routes by alias).
    pub subscribe: Option<&'a str>,
    /// tcphub only: a room to join once synced.
    pub room: Option<&'a str>,
}

/// Connects (over TLS when `dial` says so) and joins: tcphub `sync`
/// (with the credential `dial` has for the name) until `synced` (and
/// `join` until `joined`, given a room); NATS `CONNECT`, `SUB`, `PING`
/// until `PONG`.
pub async fn connect(
    dial: &Dial,
    addr: SocketAddr,
    proto: Proto,
    join: Join<'_>,
) -> anyhow::Result<Conn> {
    let attempt = async {
        let stream = dial.open(addr).await?;
        self::join(dial, stream, proto, join).await
    };
    tokio::time::timeout(JOIN_TIMEOUT, attempt)
        .await
        .with_context(|| format!("joining {addr} as {} timed out", join.name))?
}

/// Joins on a connection already open (see [`connect`]).
pub async fn join(
    dial: &Dial,
    stream: Stream,
    proto: Proto,
    join: Join<'_>,
) -> anyhow::Result<Conn> {
    let mut conn = Conn {
        stream,
        pending: Vec::new(),
    };
    match proto {
        Proto::Tcphub => join_tcphub(&mut conn, join, dial.token_for(join.name)).await?,
        Proto::Nats => join_nats(&mut conn, join).await?,
    }
    Ok(conn)
}

async fn join_tcphub(conn: &mut Conn, join: Join<'_>, token: Option<&str>) -> anyhow::Result<()> {
    // Both requests in one write: the hub answers them in order, so the
    // last answer awaited is `joined` when there is a room.
    let mut hello = tcphub_core::encode_sync_request(join.name, token, None);
    if let Some(room) = join.room {
        hello.extend_from_slice(&tcphub_core::encode_join(room));
    }
    let last = if join.room.is_some() {
        "joined"
    } else {
        "synced"
    };
    conn.stream.write_all(&hello).await?;
    // TLS keeps what the socket did not take at once until flushed.
    conn.stream.flush().await?;
    loop {
        let line = next_line(conn, b"\n").await?;
        let kind = tcphub_core::frame_type(&line);
        if kind == Some(last) {
            return Ok(());
        }
        if matches!(kind, Some("error" | "bye")) {
            bail!(
                "the hub refused {}: {}",
                join.name,
                String::from_utf8_lossy(&line).trim_end()
            );
        }
    }
}

async fn join_nats(conn: &mut Conn, join: Join<'_>) -> anyhow::Result<()> {
    let info = next_line(conn, b"\r\n").await?;
    if !info.starts_with(b"INFO ") {
        bail!(
            "not a NATS server: it said {}",
            String::from_utf8_lossy(&info).trim_end()
        );
    }
    let options = serde_json::json!({
        "verbose": false,
        "pedantic": false,
        "echo": false,
        "name": join.name,
        "lang": "rust",
        "version": "0",
        "protocol": 1,
    });
    let mut hello = format!("CONNECT {options}\r\n");
    if let Some(subject) = join.subscribe {
        hello.push_str(&format!("SUB {subject} 1\r\n"));
    }
    hello.push_str("PING\r\n");
    conn.stream.write_all(hello.as_bytes()).await?;
    conn.stream.flush().await?;
    loop {
        let line = next_line(conn, b"\r\n").await?;
        if line == b"PONG\r\n" {
            return Ok(());
        }
        if line.starts_with(b"-ERR") {
            bail!(
                "nats refused {}: {}",
                join.name,
                String::from_utf8_lossy(&line).trim_end()
            );
        }
    }
}

/// Reads the next line ending in `end` during the join; what follows it
/// stays in `conn.pending`.
async fn next_line(conn: &mut Conn, end: &[u8]) -> anyhow::Result<Vec<u8>> {
    loop {
        if let Some(at) = memchr::memmem::find(&conn.pending, end) {
            let rest = conn.pending.split_off(at + end.len());
            return Ok(std::mem::replace(&mut conn.pending, rest));
        }
        let mut chunk = [0u8; 4096];
        let n = conn.stream.read(&mut chunk).await?;
        if n == 0 {
            bail!("the server closed the connection while joining");
        }
        conn.pending.extend_from_slice(&chunk[..n]);
    }
}

/// Appends one message for `to` (tcphub: an alias or `*`; NATS: a subject)
/// with `payload` to `out`. tcphub's frame is the core's `info` encoder
/// with the payload as a JSON string (escaped; bytes that are not UTF-8
/// become U+FFFD).
pub fn encode_message(proto: Proto, to: &str, payload: &[u8], out: &mut Vec<u8>) {
    match proto {
        Proto::Tcphub => {
            out.extend_from_slice(&tcphub_core::encode_info(Some(to), &text_message(payload)));
        }
        Proto::Nats => {
            out.extend_from_slice(format!("PUB {to} {}\r\n", payload.len()).as_bytes());
            out.extend_from_slice(payload);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// Appends one tcphub message for the members of `room` (NATS has no
/// rooms: a subject is one), the payload encoded as [`encode_message`] does.
pub fn encode_room_message(room: &str, payload: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&tcphub_core::encode_room_info(room, &text_message(payload)));
}

/// `payload` as a JSON string.
fn text_message(payload: &[u8]) -> Box<RawValue> {
    let text =
        serde_json::to_string(&String::from_utf8_lossy(payload)).expect("a string serializes");
    RawValue::from_string(text).expect("a JSON string is a JSON value")
}

/// A payload of `len` bytes of filler.
pub fn filler(len: usize) -> Vec<u8> {
    vec![b'x'; len]
}

/// Width of the send time stamped at the front of a latency payload.
pub const STAMP_DIGITS: usize = 20;

/// Writes `nanos` as the first [`STAMP_DIGITS`] bytes of `payload`.
pub fn stamp(payload: &mut [u8], nanos: u64) {
    let digits = format!("{nanos:0width$}", width = STAMP_DIGITS);
    payload[..STAMP_DIGITS].copy_from_slice(digits.as_bytes());
}

/// The send time stamped in a delivered message: for NATS the payload
/// starts with it; a tcphub frame carries it at the start of `message`.
pub fn read_stamp(proto: Proto, message: &[u8]) -> Option<u64> {
    let payload = match proto {
        Proto::Nats => message,
        Proto::Tcphub => {
            const KEY: &[u8] = br#""message":""#;
            let at = memchr::memmem::find(message, KEY)?;
            &message[at + KEY.len()..]
        }
    };
    let digits = payload.get(..STAMP_DIGITS)?;
    digits.iter().try_fold(0u64, |acc, &d| {
        d.is_ascii_digit().then(|| acc * 10 + u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_survives_both_encodings() {
        let mut payload = filler(32);
        stamp(&mut payload, 1_234_567_890);
        let mut nats = Vec::new();
        encode_message(Proto::Nats, "s", &payload, &mut nats);
        assert_eq!(nats, b"PUB s 32\r\n00000000001234567890xxxxxxxxxxxx\r\n");
        assert_eq!(read_stamp(Proto::Nats, &payload), Some(1_234_567_890));
        let delivered = format!(
            "{{\"type\":\"info\",\"from\":\"pub\",\"message\":\"{}\"}}\n",
            String::from_utf8(payload).unwrap()
        );
        assert_eq!(
            read_stamp(Proto::Tcphub, delivered.as_bytes()),
            Some(1_234_567_890)
        );
        assert_eq!(read_stamp(Proto::Tcphub, b"{\"message\":\"12x\"}"), None);
    }

    #[test]
    fn tcphub_messages_are_escaped_json() {
        let mut out = Vec::new();
        encode_message(Proto::Tcphub, "a\"b", b"say \"hi\"\\\n", &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1, "one line");
        let frame: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(frame["type"], "info");
        assert_eq!(frame["to"], "a\"b");
        assert_eq!(frame["message"], "say \"hi\"\\\n");
    }

    #[test]
    fn a_room_message_names_the_room_and_no_alias() {
        let mut out = Vec::new();
        encode_room_message("lob\"by", b"hi", &mut out);
        let frame: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(frame["type"], "info");
        assert_eq!(frame["room"], "lob\"by");
        assert!(frame.get("to").is_none());
        assert_eq!(frame["message"], "hi");
    }
}
