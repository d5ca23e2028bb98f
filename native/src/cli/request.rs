//! `tcphub request`: asks one alias (or the host) and prints the reply, as
//! `nats request` does; the exit status tells a reply from a refusal or a
//! timeout.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;
use tcphub_core::ErrorCode;
use tcphub_native::client::{ClientError, Reply};

use super::message::message_argument;
use super::{display, exit, leave, ServerArg, TokenArg};

#[derive(Debug, clap::Args)]
#[command(
    override_usage = "tcphub request [OPTIONS] ALIAS MESSAGE\n       tcphub request [OPTIONS] --host MESSAGE",
    after_help = "MESSAGE is sent as the JSON value it is (`42`, `null`, \
    `'\"now?\"'`, `'{\"tz\":\"UTC\"}'`), or else as text (`hello`, `what time is it?`); \
    `-` reads it from stdin, up to its end, trailing line breaks dropped.\n\n\
    The reply's message is printed on stdout as one line of JSON (`\"12:00\"`); \
    with --json the whole reply, `{\"type\":\"reply\",\"from\":\"clock\",\"message\":\"12:00\"}`.\n\n\
    Exit status: 0 with the reply printed; 1 when the hub refused the request \
    (`unknown_alias`: nobody holds ALIAS, `too_many_requests`, `forbidden`, ...; \
    the code is named on stderr) or on a failure (no connection, a refused sync, \
    the connection lost); 2 on a mistake on the command line; 3 when the hub \
    closed the session first; 4 when nobody answered in time (`request_timeout`).\n\n\
    Examples:\n  \
    tcphub request clock 'what time is it?'\n  \
    tcphub request --timeout 500ms upper hello || echo \"no answer ($?)\"\n  \
    tcphub request --host --name ops '{\"deploy\":\"now?\"}'   (the host answers)\n  \
    date | tcphub request log -"
)]
pub struct RequestArgs {
    /// The alias to ask (with --host, the MESSAGE: there is no ALIAS).
    #[arg(value_name = "ALIAS")]
    first: Option<String>,
    /// The message; `-` reads it from stdin.
    #[arg(value_name = "MESSAGE")]
    second: Option<String>,
    /// Ask the host program instead of an alias (the hub's own console,
    /// `serve --console`, answers with `/reply`).
    #[arg(long)]
    host: bool,
    /// Sync this alias first, so the one asked sees who asks (otherwise
    /// it sees this connection's address).
    #[arg(long, short = 'n')]
    name: Option<String>,
    #[command(flatten)]
    credential: TokenArg,
    /// How long the hub waits for the reply before answering
    /// `request_timeout` (e.g. 2s, 500ms; at least 1ms; the hub cuts it to
    /// its --max-request-timeout). Without it the hub's --request-timeout
    /// (5s by default) applies.
    #[arg(long, short = 'w', value_name = "DURATION", value_parser = parse_timeout)]
    timeout: Option<Duration>,
    /// Print the whole reply as a JSON object, not only its message.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArg,
}

/// How much longer than its `--timeout` the command waits for the hub's
/// answer: the hub itself says `request_timeout` at the timeout, so this
/// only covers a hub that stopped answering.
const ANSWER_MARGIN: Duration = Duration::from_secs(2);

fn parse_timeout(text: &str) -> Result<Duration, String> {
    let timeout = crate::units::parse_duration(text)?;
    if timeout < Duration::from_millis(1) {
        return Err("must be at least 1ms (the request's timeout is in milliseconds)".into());
    }
    Ok(timeout)
}

/// The request's `timeout` on the wire: whole milliseconds, rounded up so
/// that `500us` is not 0.
fn timeout_ms(timeout: Duration) -> u64 {
    let ms = timeout.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// `--json`'s line.
#[derive(Serialize)]
struct ReplyLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    from: &'a str,
    message: &'a serde_json::Value,
}

pub async fn run(args: RequestArgs) -> Result<ExitCode, String> {
    let (to, given) = match (args.host, &args.first, &args.second) {
        (false, Some(alias), Some(message)) => (Some(alias.as_str()), message),
        (true, Some(message), None) => (None, message),
        (false, _, _) => return usage("give ALIAS and MESSAGE (or --host and MESSAGE)"),
        (true, None, _) => return usage("give MESSAGE to ask the host"),
        (true, Some(_), Some(_)) => {
            return usage("--host asks the host: give MESSAGE only, no ALIAS")
        }
    };
    // Read before connecting: a mistake costs no connection.
    let message = message_argument(given).await?;
    let mut client = args
        .server
        .connect_as(args.name.as_deref(), &args.credential)
        .await?;
    let wait = args.timeout.and_then(|t| t.checked_add(ANSWER_MARGIN));
    let asked = client.request(to, &message, args.timeout.map(timeout_ms));
    let answer = match wait {
        Some(wait) => match tokio::time::timeout(wait, asked).await {
            Ok(answer) => answer,
            Err(_) => {
                display::print_failure(&format!(
                    "the hub did not answer within {wait:?} (--timeout plus {ANSWER_MARGIN:?})"
                ));
                return Ok(exit::timed_out());
            }
        },
        // The hub ends every request, by its --max-request-timeout at most.
        None => asked.await,
    };
    let status = match answer {
        Ok(reply) => print_reply(&reply, args.json),
        Err(ClientError::Hub { code, message }) => {
            display::print_failure(&format!("{code}: {message}"));
            if code == ErrorCode::RequestTimeout.as_str() {
                exit::timed_out()
            } else {
                ExitCode::FAILURE
            }
        }
        Err(ClientError::Bye { reason, message }) => {
            display::print_failure(&format!("the hub closed the session ({reason}): {message}"));
            return Ok(exit::closed_by_hub());
        }
        Err(e) => return Err(e.to_string()),
    };
    leave(client).await;
    Ok(status)
}

fn usage(problem: &str) -> Result<ExitCode, String> {
    display::print_failure(&format!(
        "{problem}\n\nUsage: tcphub request [OPTIONS] ALIAS MESSAGE\n       \
         tcphub request [OPTIONS] --host MESSAGE\n\nFor more information, try '--help'."
    ));
    Ok(ExitCode::from(2))
}

fn print_reply(reply: &Reply, whole: bool) -> ExitCode {
    let line = if whole {
        serde_json::to_string(&ReplyLine {
            kind: "reply",
            from: &reply.from,
            message: &reply.message,
        })
    } else {
        serde_json::to_string(&reply.message)
    }
    .expect("a reply always serializes");
    let mut stdout = std::io::stdout().lock();
    // stdout closed (`| true`): the reply came all the same.
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wire_timeout_is_whole_milliseconds_rounded_up() {
        assert_eq!(timeout_ms(Duration::from_secs(2)), 2000);
        assert_eq!(timeout_ms(Duration::from_micros(500)), 1);
        assert_eq!(timeout_ms(Duration::from_micros(1500)), 2);
        assert_eq!(timeout_ms(Duration::MAX), u64::MAX);
        assert!(parse_timeout("0.5ms").is_err());
        assert!(parse_timeout("0").is_err());
        assert_eq!(parse_timeout("1ms"), Ok(Duration::from_millis(1)));
    }
}
