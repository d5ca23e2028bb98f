//! `tcphub send`: one message (from the command line or stdin), or one per
//! stdin line with `--lines`, then exit; non-zero with the hub's first
//! error.

use std::process::ExitCode;

use serde::Serialize;
use tcphub_core::{HubFrame, RawValue};
use tcphub_native::client::Client;
use tokio::io::AsyncBufReadExt;

use super::message::{read_stdin, text_message, typed_message};
use super::{display, ServerArg, TokenArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    tcphub send --to Client-1 'hello'\n  \
    tcphub send --to '*' --name ops 'maintenance at 18:00'\n  \
    tcphub send --room lobby --name ops 'lunch is served'\n  \
    tcphub send --json '{\"temp\":21.5}'        (to the host)\n  \
    date | tcphub send --to Client-1 -          (MESSAGE from stdin)\n  \
    tail -f app.log | tcphub send --room ops --lines\n\n\
    With --lines, each line of stdin is one message: a line that is valid JSON \
    is sent as that value (`42`, `null`, `\"42\"`, `{\"a\":1}`), any other line \
    as text; blank lines are skipped. Messages are sent as they are read, and \
    the first one the hub refuses ends `send` with status 1, naming its line.")]
pub struct SendArgs {
    /// Recipient: an alias, or `*` for every other session. Without it (or
    /// --room) the message goes to the host program.
    #[arg(long, short = 't')]
    to: Option<String>,
    /// Send to the members of ROOM instead (the sender need not be one).
    #[arg(long, short = 'r', value_name = "ROOM", conflicts_with = "to")]
    room: Option<String>,
    /// Sync this alias first, so recipients see who sent it (otherwise they
    /// see this connection's address).
    #[arg(long, short = 'n')]
    name: Option<String>,
    #[command(flatten)]
    credential: TokenArg,
    /// Send MESSAGE as a JSON value rather than as text.
    #[arg(long)]
    json: bool,
    /// Send one message per line of stdin (blank lines skipped): a line
    /// that is valid JSON as that value, any other as text.
    #[arg(long, short = 'l', conflicts_with_all = ["message", "json"])]
    lines: bool,
    /// The message; `-` reads it from stdin (up to its end, trailing line
    /// breaks dropped). A message that is a dash: `--json '"-"'`.
    #[arg(required_unless_present = "lines")]
    message: Option<String>,
    #[command(flatten)]
    server: ServerArg,
}

/// An `info` with an id, so the hub's error names the message it refuses.
#[derive(Serialize)]
struct Info<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    message: &'a RawValue,
    id: u64,
}

impl Info<'_> {
    fn encode(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("an info always serializes");
        line.push(b'\n');
        line
    }
}

/// The send failed: the hub refused a message or closed the session; the
/// reason is printed already.
struct Failed;

pub async fn run(args: SendArgs) -> Result<ExitCode, String> {
    // Read and check the message before connecting: a mistake in it costs
    // no connection, and a recipient sees no half-made attempt.
    let single = match &args.message {
        Some(message) => Some(message_of(message, args.json).await?),
        None => None,
    };
    let mut client = args
        .server
        .connect_as(args.name.as_deref(), &args.credential)
        .await?;
    let io = |e: std::io::Error| e.to_string();
    let info = |message: &RawValue, id: u64| {
        Info {
            kind: "info",
            to: args.to.as_deref(),
            room: args.room.as_deref(),
            message,
            id,
        }
        .encode()
    };
    let outcome = match single {
        Some(message) => {
            client.send_raw(&info(&message, 1)).await.map_err(io)?;
            Ok(())
        }
        None => send_lines(&mut client, info).await?,
    };
    let outcome = match outcome {
        Ok(()) => confirm(&mut client, args.lines).await?,
        failed => failed,
    };
    let _ = client.close().await;
    Ok(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::FAILURE,
    })
}

/// The one message: MESSAGE, or stdin for `-`; as text or (`--json`) JSON.
async fn message_of(given: &str, json: bool) -> Result<Box<RawValue>, String> {
    let text = if given == "-" {
        read_stdin().await?
    } else {
        given.to_owned()
    };
    if json {
        let what = if given == "-" { "stdin" } else { "MESSAGE" };
        RawValue::from_string(text.trim().to_owned())
            .map_err(|e| format!("{what} is not valid JSON ({e}); drop --json to send it as text"))
    } else {
        Ok(text_message(&text))
    }
}

/// A line of `--lines`: the JSON value it is, or else its text.
fn line_message(line: &str) -> Box<RawValue> {
    typed_message(line)
}

/// Sends each non-blank stdin line as it is read, its line number as the
/// id, and stops at the hub's first error (which may come while stdin is
/// still open: `tail -f | tcphub send --lines` must not wait for an end).
async fn send_lines(
    client: &mut Client,
    encode: impl Fn(&RawValue, u64) -> Vec<u8>,
) -> Result<Result<(), Failed>, String> {
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut number = 0u64;
    loop {
        tokio::select! {
            // Both are cancel-safe: a frame or line half read is kept.
            biased;
            frame = client.next_frame() => {
                let frame = frame.map_err(|e| e.to_string())?;
                if let Some(failed) = judge(frame, true) {
                    return Ok(Err(failed));
                }
            }
            line = stdin.next_line() => {
                let Some(line) = line.map_err(|e| format!("reading stdin: {e}"))? else {
                    return Ok(Ok(()));
                };
                number += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let message = line_message(&line);
                client
                    .send_raw(&encode(&message, number))
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
}

/// Waits until the hub has answered everything sent: it answers a
/// session's frames in order, so once `pong` is back, any error about the
/// messages has arrived. A frame over the size limit gets its error and
/// then the connection closes, without a `pong`.
async fn confirm(client: &mut Client, lines: bool) -> Result<Result<(), Failed>, String> {
    let ping = client.ping().await.map_err(|e| e.to_string())?;
    loop {
        let frame = client.next_frame().await.map_err(|e| e.to_string())?;
        if frame.as_ref().is_some_and(|f| ping.is_answered_by(f)) {
            return Ok(Ok(()));
        }
        if let Some(failed) = judge(frame, lines) {
            return Ok(Err(failed));
        }
    }
}

/// What a frame from the hub means for the send: a failure (printed),
/// or nothing (a relay to `*` or to our own alias can come back to us,
/// and is shown).
fn judge(frame: Option<HubFrame>, lines: bool) -> Option<Failed> {
    match frame {
        None => {
            display::print_failure("the hub closed the connection before confirming");
            Some(Failed)
        }
        Some(HubFrame::Error { code, message, id }) => {
            let line = match id.as_ref().and_then(serde_json::Value::as_u64) {
                Some(n) if lines => format!("line {n}: "),
                _ => String::new(),
            };
            display::print_failure(&format!("{line}{code}: {message}"));
            Some(Failed)
        }
        Some(HubFrame::Bye { reason, message }) => {
            display::print_failure(&format!("the hub closed the session ({reason}): {message}"));
            Some(Failed)
        }
        Some(other) => {
            display::print_frame(&other);
            None
        }
    }
}
