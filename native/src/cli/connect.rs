//! `tcphub connect`: an interactive client, as the tutorial's client
//! programs, that also works with stdin piped from a file.

use std::process::ExitCode;

use tcphub_core::HubFrame;
use tcphub_native::client::{Client, ClientError, RequestId};
use tokio::io::AsyncBufReadExt;

use super::line::{ConsoleLine, CONNECT_COMMANDS};
use super::{display, ServerArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Each line typed is sent:\n  \
    text            to the host program\n  \
    @Client-2 text  to the client with alias Client-2\n  \
    * text          to every other client\n  \
    //text          /text to the host (a line starting with `/` is a command)\n  \
    /list           show who is connected\n  \
    /quit           leave (as does Ctrl-D or the end of piped input)\n\n\
    Received messages print as `[Client-2] hello`, the host's as `[server] ...`, \
    the hub's errors as `[error] ...`.")]
pub struct ConnectArgs {
    /// Alias to sync as, e.g. Client-1.
    #[arg(long, short = 'n')]
    name: String,
    /// After stdin ends, keep printing what arrives until the hub closes
    /// the connection or Ctrl-C.
    #[arg(long)]
    stay: bool,
    #[command(flatten)]
    server: ServerArg,
}

pub async fn run(args: ConnectArgs) -> Result<ExitCode, String> {
    let mut client = args.server.connect().await?;
    let session = client
        .sync(&args.name)
        .await
        .map_err(|e| format!("cannot sync alias {:?}: {e}", args.name))?;
    display::status(&format!(
        "connected to {} as {} (session {session}); type `@alias text`, `* text` or text for the host",
        args.server.server, args.name
    ));
    let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    // The ping sent once stdin ended: its pong means every reply is in.
    let mut last_ping: Option<RequestId> = None;
    loop {
        tokio::select! {
            frame = client.next_frame() => match frame {
                Ok(Some(frame)) if last_ping.as_ref().is_some_and(|p| p.is_answered_by(&frame)) => {
                    if !args.stay {
                        break;
                    }
                }
                Ok(Some(frame)) => {
                    display::print_frame(&frame);
                    if matches!(frame, HubFrame::Bye { .. }) {
                        return Ok(ExitCode::SUCCESS);
                    }
                }
                Ok(None) => {
                    display::status("the hub closed the connection");
                    return Ok(ExitCode::SUCCESS);
                }
                Err(e) => return Err(e.to_string()),
            },
            line = stdin.next_line(), if stdin_open => {
                let line = line.map_err(|e| format!("reading stdin: {e}"))?;
                let done = match line.as_deref().map(|l| ConsoleLine::parse(l, CONNECT_COMMANDS)) {
                    None | Some(ConsoleLine::Quit) => true,
                    Some(line) => {
                        act(&mut client, line).await.map_err(|e| e.to_string())?;
                        false
                    }
                };
                if done {
                    stdin_open = false;
                    // Replies to what was sent arrive before the pong.
                    last_ping = Some(client.ping().await.map_err(|e| e.to_string())?);
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    let _ = client.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn act(client: &mut Client, line: ConsoleLine<'_>) -> Result<(), ClientError> {
    match line {
        // No `to`: the host.
        ConsoleLine::Send { to, text } => client.send_text(to, text).await?,
        // The answer is printed by the main loop with everything else.
        ConsoleLine::List => client.send_raw(tcphub_core::encode_list()).await?,
        ConsoleLine::Usage(hint) => display::status(&hint),
        // Not a command of this console: parsing refuses it.
        ConsoleLine::Close { .. } => {}
        ConsoleLine::Blank | ConsoleLine::Quit => {}
    }
    Ok(())
}
