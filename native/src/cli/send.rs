//! `tcphub send`: one message, then exit; non-zero with the hub's error.

use std::process::ExitCode;

use tcphub_core::{HubFrame, RawValue};

use super::{display, ServerArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    tcphub send --to Client-1 'hello'\n  \
    tcphub send --to '*' --name ops 'maintenance at 18:00'\n  \
    tcphub send --room lobby --name ops 'lunch is served'\n  \
    tcphub send --json '{\"temp\":21.5}'        (to the host)")]
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
    /// The credential for --name, on a hub with authentication: its
    /// secret, or a JWT (prefer the environment variable: a command line
    /// is visible to other users of the machine).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TCPHUB_TOKEN",
        hide_env_values = true,
        requires = "name"
    )]
    token: Option<String>,
    /// Send MESSAGE as a JSON value rather than as text.
    #[arg(long)]
    json: bool,
    /// The message.
    message: String,
    #[command(flatten)]
    server: ServerArg,
}

pub async fn run(args: SendArgs) -> Result<ExitCode, String> {
    let message: Box<RawValue> = if args.json {
        RawValue::from_string(args.message.clone()).map_err(|e| {
            format!("MESSAGE is not valid JSON ({e}); drop --json to send it as text")
        })?
    } else {
        serde_json::value::to_raw_value(&args.message).expect("a string always serializes")
    };
    let mut client = args.server.connect().await?;
    if let Some(name) = &args.name {
        client
            .sync_with_token(name, args.token.as_deref(), None)
            .await
            .map_err(|e| format!("cannot sync alias {name:?}: {e}"))?;
    }
    let io = |e: std::io::Error| e.to_string();
    match &args.room {
        Some(room) => client.send_to_room(room, &message).await,
        None => client.send_info(args.to.as_deref(), &message).await,
    }
    .map_err(io)?;
    // The hub answers a session's frames in order: once `pong` is back, any
    // error about the message has arrived. A frame over the size limit gets
    // its error and then the connection closes, without a `pong`.
    let ping = client.ping().await.map_err(io)?;
    let mut failed = false;
    loop {
        match client.next_frame().await {
            Ok(Some(frame)) if ping.is_answered_by(&frame) => break,
            Ok(None) => {
                if !failed {
                    display::print_failure("the hub closed the connection before confirming");
                    failed = true;
                }
                break;
            }
            Ok(Some(HubFrame::Error { code, message, .. })) => {
                display::print_failure(&format!("{code}: {message}"));
                failed = true;
            }
            Ok(Some(HubFrame::Bye { reason, message })) => {
                display::print_failure(&format!(
                    "the hub closed the session ({reason}): {message}"
                ));
                failed = true;
            }
            // A relay to `*` or to our own alias can come back to us.
            Ok(Some(other)) => display::print_frame(&other),
            Err(e) => return Err(e.to_string()),
        }
    }
    let _ = client.close().await;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
