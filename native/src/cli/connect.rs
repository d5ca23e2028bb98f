//! `tcphub connect`: an interactive client, as the tutorial's client
//! programs, that also works with stdin piped from a file.

use std::process::ExitCode;

use tcphub_core::HubFrame;
use tcphub_native::client::{Client, ClientError, RequestId};
use tokio::io::AsyncBufReadExt;

use super::{display, ServerArg};

#[derive(Debug, clap::Args)]
#[command(after_help = "Each line typed is sent:\n  \
    text            to the host program\n  \
    @Client-2 text  to the client with alias Client-2\n  \
    * text          to every other client\n  \
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

/// What one typed line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    Send { to: Option<&'a str>, text: &'a str },
    List,
    Quit,
    Nothing,
    Usage(&'static str),
}

fn parse_line(line: &str) -> Line<'_> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Line::Nothing;
    }
    match line.trim() {
        "/list" => return Line::List,
        "/quit" | "/exit" => return Line::Quit,
        _ => {}
    }
    if let Some(rest) = line.strip_prefix('@') {
        return match rest.split_once(char::is_whitespace) {
            Some((alias, text)) if !alias.is_empty() => Line::Send {
                to: Some(alias),
                text: text.trim_start(),
            },
            _ => Line::Usage("to send to an alias, type `@alias text`"),
        };
    }
    if line == "*" {
        return Line::Usage("to send to everyone, type `* text`");
    }
    if let Some(text) = line.strip_prefix("* ") {
        return Line::Send {
            to: Some("*"),
            text: text.trim_start(),
        };
    }
    Line::Send {
        to: None,
        text: line,
    }
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
                let done = match line.as_deref().map(parse_line) {
                    None | Some(Line::Quit) => true,
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

async fn act(client: &mut Client, line: Line<'_>) -> Result<(), ClientError> {
    match line {
        Line::Send { to, text } => client.send_text(to, text).await?,
        // The answer is printed by the main loop with everything else.
        Line::List => client.send_raw(tcphub_core::encode_list()).await?,
        Line::Usage(hint) => display::status(hint),
        Line::Nothing | Line::Quit => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_routed_by_their_prefix() {
        assert_eq!(
            parse_line("hello there"),
            Line::Send {
                to: None,
                text: "hello there"
            }
        );
        assert_eq!(
            parse_line("@Client-2  hi you\n"),
            Line::Send {
                to: Some("Client-2"),
                text: "hi you"
            }
        );
        assert_eq!(
            parse_line("* all of you"),
            Line::Send {
                to: Some("*"),
                text: "all of you"
            }
        );
        assert_eq!(parse_line("   "), Line::Nothing);
        assert_eq!(parse_line("/list"), Line::List);
        assert_eq!(parse_line("/quit"), Line::Quit);
        assert!(matches!(parse_line("@Client-2"), Line::Usage(_)));
        assert!(matches!(parse_line("*"), Line::Usage(_)));
        assert_eq!(
            parse_line("*bold* text"),
            Line::Send {
                to: None,
                text: "*bold* text"
            }
        );
    }
}
