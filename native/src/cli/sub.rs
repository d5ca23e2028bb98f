//! `tcphub sub`: listen, and print what the session is sent as one JSON
//! object per line, for `jq` and scripts (as `nats sub` and
//! `mosquitto_sub -F` do).

use std::borrow::Cow;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tcphub_core::{HubFrame, WatchScope};

use super::{display, exit, leave, parse_count, ServerArg, TokenArg};
use crate::units::positive_duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Each line printed on stdout is one JSON object:\n  \
    {\"type\":\"message\",\"from\":\"Client-1\",\"room\":null,\"lastWill\":false,\"message\":\"hi\"}\n  \
    {\"type\":\"presence\",\"event\":\"joined\",\"alias\":\"Client-2\",\"sessionId\":\"127.0.0.1:55130\",\"room\":\"lobby\",\"reason\":null}\n  \
    {\"type\":\"request\",\"from\":\"Client-1\",\"replyTo\":\"7\",\"message\":\"time?\"}\n\
    `from` is the sender's alias (its session id if it has none, `#hub` for the \
    host); `room` the room it was sent to, or null; `message` the JSON value \
    sent, as sent. A request (to this alias) is printed, not answered: \
    `tcphub reply` answers them. Status lines and the hub's errors go to stderr.\n\n\
    Exit status: 0 once --count lines are printed (or the hub shut down, \
    without --count), 1 on a failure (no connection, a refused sync or join, \
    the connection lost), 3 when the hub closed the session for a reason of its \
    own (taken_over, ...; shutdown too with --count unreached), 4 when \
    --timeout ran out first.\n\n\
    Examples:\n  \
    tcphub sub | jq -r .message                 (everything sent to everyone)\n  \
    tcphub sub --name Client-1 --count 1        (wait for one message)\n  \
    tcphub sub --room lobby --presence --timeout 30s")]
pub struct SubArgs {
    /// Sync this alias, to be sent what is sent to it too (without it, the
    /// session holds no alias and is sent what goes to everyone, to its
    /// rooms and from the host).
    #[arg(long, short = 'n')]
    name: Option<String>,
    #[command(flatten)]
    credential: TokenArg,
    /// Join ROOM and print its messages; repeat for several rooms.
    #[arg(long, short = 'r', value_name = "ROOM")]
    room: Vec<String>,
    /// Print presence too: who syncs, leaves or closes (every alias), or
    /// with --room who joins, leaves or drops out of those rooms.
    #[arg(long)]
    presence: bool,
    /// Exit 0 after printing N lines (messages, requests and presence
    /// events).
    #[arg(long, short = 'c', value_name = "N", value_parser = parse_count)]
    count: Option<usize>,
    /// Exit 4 when this much time (e.g. 30s, 500ms) has passed since
    /// subscribing without --count lines printed (without --count: after
    /// this long, whatever came).
    #[arg(long, short = 'w', value_name = "DURATION", value_parser = positive_duration)]
    timeout: Option<Duration>,
    #[command(flatten)]
    server: ServerArg,
}

/// One line of output: a message. Every field is always there (`null`
/// when absent), so scripts can rely on the shape.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessageLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: &'a str,
    room: Option<&'a str>,
    last_will: bool,
    message: &'a serde_json::Value,
}

/// One line of output: a presence event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PresenceLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    event: &'a str,
    alias: Option<&'a str>,
    session_id: &'a str,
    room: Option<&'a str>,
    reason: Option<&'a str>,
}

/// One line of output: a request sent to this session's alias. `sub`
/// does not answer it (`tcphub reply` does); it ends for its sender with
/// `request_timeout`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RequestLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: &'a str,
    reply_to: &'a str,
    message: &'a serde_json::Value,
}

pub async fn run(args: SubArgs) -> Result<ExitCode, String> {
    let mut client = args
        .server
        .connect_as(args.name.as_deref(), &args.credential)
        .await?;
    for room in &args.room {
        if let Err(e) = client.join(room).await {
            leave(client).await;
            return Err(format!("cannot join room {room:?}: {e}"));
        }
    }
    if args.presence {
        let scopes: Vec<WatchScope<'_>> = if args.room.is_empty() {
            vec![WatchScope::All]
        } else {
            args.room
                .iter()
                .map(|r| WatchScope::Room(Cow::Borrowed(r.as_str())))
                .collect()
        };
        for scope in &scopes {
            if let Err(e) = client.watch(scope).await {
                leave(client).await;
                return Err(format!("cannot watch: {e}"));
            }
        }
    }
    // Only now: a script waiting for this line knows nothing sent after it
    // is missed.
    let who = match &args.name {
        Some(name) => format!("as {name}"),
        None => "without an alias".to_owned(),
    };
    display::status(&format!(
        "subscribed to {} {who} (session {})",
        args.server.server,
        client.local_addr()
    ));
    // `inf` and the like: no deadline.
    let deadline = args
        .timeout
        .and_then(|t| tokio::time::Instant::now().checked_add(t));
    let mut printed = 0usize;
    let mut stdout = std::io::stdout().lock();
    loop {
        if args.count.is_some_and(|n| printed >= n) {
            leave(client).await;
            return Ok(ExitCode::SUCCESS);
        }
        let frame = tokio::select! {
            frame = client.next_frame() => frame.map_err(|e| e.to_string())?,
            () = sleep_until(deadline) => {
                leave(client).await;
                return Ok(exit::timed_out());
            }
            _ = tokio::signal::ctrl_c() => {
                leave(client).await;
                return Ok(ExitCode::SUCCESS);
            }
        };
        let line = match frame {
            None => return Err("the hub closed the connection without a bye".into()),
            Some(HubFrame::Info {
                from,
                room,
                last_will,
                message,
            }) => serde_json::to_string(&MessageLine {
                kind: "message",
                from: &from,
                room: room.as_deref(),
                last_will,
                message: &message,
            }),
            Some(HubFrame::Request {
                from,
                reply_to,
                message,
            }) => serde_json::to_string(&RequestLine {
                kind: "request",
                from: &from,
                reply_to: &reply_to,
                message: &message,
            }),
            Some(HubFrame::Presence {
                event,
                alias,
                session_id,
                room,
                reason,
            }) => serde_json::to_string(&PresenceLine {
                kind: "presence",
                event: &event,
                alias: alias.as_deref(),
                session_id: &session_id,
                room: room.as_deref(),
                reason: reason.as_deref(),
            }),
            Some(HubFrame::Bye { reason, message }) => {
                return Ok(exit::on_bye(&reason, &message, args.count.is_some()));
            }
            // Sent nothing that could be refused: an error here is the
            // hub's own word (rate limits, say); it goes with the status
            // lines, not into the JSON stream.
            Some(HubFrame::Error { code, message, .. }) => {
                display::print_failure(&format!("{code}: {message}"));
                continue;
            }
            // The host putting this session in a room, and the like: the
            // messages that follow are what is printed.
            Some(_) => continue,
        }
        .expect("the output lines always serialize");
        // stdout closed (`| head -1`): nobody reads any more.
        if writeln!(stdout, "{line}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            leave(client).await;
            return Ok(ExitCode::SUCCESS);
        }
        printed += 1;
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
