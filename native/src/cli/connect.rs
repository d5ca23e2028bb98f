//! `tcphub connect`: an interactive client, as the tutorial's client
//! programs, that also works with stdin piped from a file.

use std::borrow::Cow;
use std::process::ExitCode;

use tcphub_core::{
    encode_join, encode_leave, encode_list, encode_list_room, encode_unwatch, encode_watch,
    CloseReason, HubFrame, LastWillRequest, RawMessage, RawValue, WatchScope,
};
use tcphub_native::client::{Client, ClientError, RequestId};
use tokio::io::AsyncBufReadExt;

use super::line::{ConsoleLine, WatchTarget, CONNECT_COMMANDS};
use super::message::typed_message;
use super::{display, leave, ServerArg, TokenArg};

#[derive(Debug, clap::Args)]
#[command(
    group(clap::ArgGroup::new("will_target").args(["last_will_room", "last_will_to"])),
    after_help = "Each line typed is sent:\n  \
    text                 to the host program\n  \
    @Client-2 text       to the client with alias Client-2\n  \
    #lobby text          to the other members of room lobby\n  \
    * text               to every other client\n  \
    //text               /text to the host (a line starting with `/` is a command)\n  \
    /join ROOM           become a member of a room (`lobby` or `#lobby`)\n  \
    /leave ROOM          stop being one\n  \
    /list [ROOM]         show who is connected, or who is in a room you are in\n  \
    /request ALIAS MSG   ask ALIAS, expecting one reply: `[ALIAS] (reply) ...`\n  \
    /reply REPLYTO MSG   answer a request shown as `[Client-2] (request 7) ...`\n                       \
    (MSG: valid JSON is sent as that value, other text as text)\n  \
    /watch [ALIAS...]    be told when these aliases (or all) come and go\n  \
    /watch #ROOM         be told who joins, leaves or drops out of a room you are in\n  \
    /unwatch [...]       stop (no argument: every watch)\n  \
    /quit, /bye          say bye and leave, as do Ctrl-C and (without --stay) the end\n                       \
    of input: a clean leave, so no last will is sent\n\n\
    Received messages print as `[Client-2] hello`, room messages as \
    `[Client-2 #lobby] hello`, last wills as `[Client-2 #lobby] (last will) ...`, \
    the host's as `[server] ...`, requests as `[Client-2] (request 7) ...` and \
    replies as `[Client-2] (reply) ...`, presence as `[presence] Client-2 joined #lobby`, \
    the hub's errors as `[error] ...`.\n\n\
    A last will (--last-will with --last-will-room or --last-will-to) is sent \
    by the hub if this connection ends without a bye: the process killed, the \
    network gone.\n\n\
    Exit status: 0 after leaving as asked (or the hub shutting down); 1 if the \
    hub refused anything sent (`[error]` lines), or on a failure to connect, \
    sync or stay connected; 3 when the hub closed the session for another \
    reason, such as `taken_over`."
)]
pub struct ConnectArgs {
    /// Alias to sync as, e.g. Client-1.
    #[arg(long, short = 'n')]
    name: String,
    #[command(flatten)]
    credential: TokenArg,
    /// Join ROOM right after syncing; repeat for several rooms.
    #[arg(long, value_name = "ROOM")]
    join: Vec<String>,
    /// A last will: text the hub sends for this client if its connection
    /// ends without a bye. Needs --last-will-room or --last-will-to.
    #[arg(long, value_name = "MESSAGE", requires = "will_target")]
    last_will: Option<String>,
    /// Send the last will to the members of ROOM.
    #[arg(long, value_name = "ROOM", requires = "last_will")]
    last_will_room: Option<String>,
    /// Send the last will to ALIAS; repeat for several aliases.
    #[arg(long, value_name = "ALIAS", requires = "last_will")]
    last_will_to: Vec<String>,
    /// After stdin ends, keep printing what arrives until the hub closes
    /// the connection or Ctrl-C.
    #[arg(long)]
    stay: bool,
    #[command(flatten)]
    server: ServerArg,
}

pub async fn run(args: ConnectArgs) -> Result<ExitCode, String> {
    // Before anything else: a Ctrl-C must find the handler in place, or it
    // would kill the process without a `bye` (and send the last will).
    let mut interrupts = Interrupts::install()?;
    let mut client = args.server.connect().await?;
    let will_message: Option<Box<RawValue>> = args.last_will.as_deref().map(text_message);
    let will = will_message.as_deref().map(|message| LastWillRequest {
        room: args.last_will_room.as_deref().map(Cow::Borrowed),
        to: args
            .last_will_to
            .iter()
            .map(|a| Cow::Borrowed(a.as_str()))
            .collect(),
        message: RawMessage::from(message),
    });
    let session = client
        .sync_with_token(&args.name, args.credential.get(), will.as_ref())
        .await
        .map_err(|e| format!("cannot sync alias {:?}: {e}", args.name))?;
    for room in &args.join {
        match client.join(room).await {
            Ok(members) => display::status(&display::joined(room, members)),
            Err(e) => {
                // A refused --join is a mistake on the command line, not a
                // client dropping out: leave cleanly, so no will is sent.
                leave(client).await;
                return Err(format!("cannot join room {room:?}: {e}"));
            }
        }
    }
    display::status(&format!(
        "connected to {} as {} (session {session}); type `@alias text`, `#room text`, `* text` or text for the host",
        args.server.server, args.name
    ));
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // The ping sent once stdin ended under --stay: its pong means every
    // reply is in.
    let mut last_ping: Option<RequestId> = None;
    // A `bye` was sent: the hub answers what came before it, then says
    // `bye` back and closes.
    let mut leaving = false;
    // `[error]` lines printed: the session then ends with status 1.
    let mut refused = 0usize;
    loop {
        tokio::select! {
            frame = client.next_frame() => match frame {
                Ok(Some(frame)) if last_ping.as_ref().is_some_and(|p| p.is_answered_by(&frame)) => {}
                Ok(Some(HubFrame::Bye { reason, .. }))
                    if leaving && reason == CloseReason::ClientBye.as_str() =>
                {
                    return Ok(ended(refused));
                }
                Ok(Some(frame)) => {
                    display::print_frame(&frame);
                    match frame {
                        HubFrame::Error { .. } => refused += 1,
                        // The hub stopping is how a `--stay` session ends.
                        HubFrame::Bye { reason, .. }
                            if reason == CloseReason::Shutdown.as_str() =>
                        {
                            return Ok(ended(refused));
                        }
                        HubFrame::Bye { reason, message } => {
                            display::print_failure(&format!(
                                "the hub closed the session ({reason}): {message}"
                            ));
                            return Ok(super::exit::closed_by_hub());
                        }
                        _ => {}
                    }
                }
                Ok(None) if leaving => return Ok(ended(refused)),
                // A hub always says `bye` before it closes: this one
                // crashed, or the network dropped.
                Ok(None) => return Err("the hub closed the connection without a bye".into()),
                Err(e) => return Err(e.to_string()),
            },
            line = stdin.next_line(), if stdin_open => {
                let line = line.map_err(|e| format!("reading stdin: {e}"))?;
                match line.as_deref().map(|l| ConsoleLine::parse(l, CONNECT_COMMANDS)) {
                    None if args.stay => {
                        stdin_open = false;
                        last_ping = Some(client.ping().await.map_err(|e| e.to_string())?);
                    }
                    None | Some(ConsoleLine::Quit) => {
                        stdin_open = false;
                        leaving = true;
                        client.send_bye().await.map_err(|e| e.to_string())?;
                    }
                    Some(line) => act(&mut client, line).await.map_err(|e| e.to_string())?,
                }
            }
            // The first Ctrl-C leaves cleanly, as /quit does; a second one,
            // should the hub not answer, leaves at once.
            () = interrupts.recv() => {
                if leaving {
                    return Ok(ended(refused));
                }
                leaving = true;
                stdin_open = false;
                client.send_bye().await.map_err(|e| e.to_string())?;
            }
        }
    }
}

/// The status of a session that ended as asked: 1 if the hub refused
/// some of what was sent (its `[error]` lines are on stdout; scripts piping
/// lines in learn it from the status), 0 otherwise.
fn ended(refused: usize) -> ExitCode {
    if refused == 0 {
        return ExitCode::SUCCESS;
    }
    let plural = if refused == 1 { "" } else { "s" };
    display::print_failure(&format!(
        "the hub refused {refused} request{plural} (see the [error] lines)"
    ));
    ExitCode::FAILURE
}

async fn act(client: &mut Client, line: ConsoleLine<'_>) -> Result<(), ClientError> {
    // Requests are sent without waiting: their answers (and errors) are
    // printed by the main loop with everything else, in the hub's order.
    match line {
        // No `to`: the host.
        ConsoleLine::Send { to, text } => client.send_text(to, text).await?,
        ConsoleLine::SendToRoom { room, text } => client.send_text_to_room(room, text).await?,
        ConsoleLine::List { room: None } => client.send_raw(encode_list()).await?,
        ConsoleLine::List { room: Some(room) } => client.send_raw(&encode_list_room(room)).await?,
        ConsoleLine::Join { room, .. } => client.send_raw(&encode_join(room)).await?,
        ConsoleLine::Leave { room, .. } => client.send_raw(&encode_leave(room)).await?,
        ConsoleLine::Watch(target) => client.send_raw(&encode_watch(&scope(&target))).await?,
        ConsoleLine::Unwatch(target) => client.send_raw(&encode_unwatch(&scope(&target))).await?,
        ConsoleLine::Request { to, text } => {
            // The reply (or the error ending the request) is printed by
            // the main loop; the hub's default timeout bounds the wait.
            client
                .send_request(Some(to), &typed_message(text), None)
                .await?;
        }
        ConsoleLine::Reply { reply_to, text } => {
            client.send_reply(reply_to, &typed_message(text)).await?
        }
        ConsoleLine::Usage(hint) => display::status(&hint),
        // Not commands of this console: parsing refuses them.
        ConsoleLine::Close { .. } | ConsoleLine::Rooms => {}
        ConsoleLine::Blank | ConsoleLine::Quit => {}
    }
    Ok(())
}

fn scope<'a>(target: &WatchTarget<'a>) -> WatchScope<'a> {
    match target {
        WatchTarget::All => WatchScope::All,
        WatchTarget::Aliases(aliases) => {
            WatchScope::Aliases(aliases.iter().map(|a| Cow::Borrowed(*a)).collect())
        }
        WatchTarget::Room(room) => WatchScope::Room(Cow::Borrowed(room)),
    }
}

/// Ctrl-C presses, caught from the moment [`Interrupts::install`] returns
/// (tokio's `ctrl_c()` only listens once first polled).
struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    fn install() -> Result<Self, String> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signal = signal(SignalKind::interrupt())
                .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
            Ok(Interrupts { signal })
        }
        #[cfg(not(unix))]
        Ok(Interrupts {})
    }

    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            self.signal.recv().await;
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

fn text_message(text: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(text).expect("a string always serializes")
}
