//! `tcphub reply`: a responder, as `nats reply` is. It claims an alias and
//! answers every request sent to it, with a fixed message or with what a
//! shell command prints, one request at a time.

use std::process::{ExitCode, Stdio};
use std::time::Duration;

use tcphub_core::{HubFrame, RawValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::message::{message_argument, typed_message};
use super::{display, exit, leave, parse_count, ServerArg, TokenArg};
use crate::units::positive_duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Each request answered is shown on stdout as \
    `[Client-1] (request 7) what time is it?`.\n\n\
    MESSAGE is sent as the JSON value it is, or else as text (`-` reads it from \
    stdin once, at the start). With --command, CMD is run with `sh -c` for each \
    request, the request's message on its stdin as one line of JSON and the \
    asker's alias in TCPHUB_REQUEST_FROM; what it prints on stdout (trailing line \
    breaks dropped) is the reply: the JSON value it is, or else its text. Its \
    stderr goes to this command's stderr. A command that fails (a non-zero exit, \
    a signal, output over 16MiB, still running after --command-timeout) is \
    answered `{\"error\":\"...\"}` saying so, so the asker is not left waiting.\n\n\
    Requests are answered one at a time, in the order they come. Messages sent \
    to the alias that are not requests are ignored.\n\n\
    Exit status: 0 once --count requests are answered, on Ctrl-C, or when the hub \
    shuts down (without --count); 1 on a failure (no connection, a refused sync, \
    the connection lost); 3 when the hub closed the session for a reason of its \
    own (taken_over, ...).\n\n\
    Examples:\n  \
    tcphub reply --name clock --command date\n  \
    tcphub reply --name upper --command 'tr a-z A-Z'\n  \
    tcphub reply --name health --count 1 '{\"ok\":true}'")]
pub struct ReplyArgs {
    /// The alias to answer requests for (claimed as `connect` claims it).
    #[arg(long, short = 'n')]
    name: String,
    #[command(flatten)]
    credential: TokenArg,
    /// The answer to every request.
    #[arg(required_unless_present = "command", conflicts_with = "command")]
    message: Option<String>,
    /// Answer each request with what this shell command prints (see below).
    #[arg(long, value_name = "CMD")]
    command: Option<String>,
    /// Kill a --command still running after this long (e.g. 10s) and answer
    /// its request with an error.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = positive_duration, requires = "command")]
    command_timeout: Duration,
    /// Exit 0 after answering N requests.
    #[arg(long, short = 'c', value_name = "N", value_parser = parse_count)]
    count: Option<usize>,
    #[command(flatten)]
    server: ServerArg,
}

/// Most bytes of a command's output kept as a reply: the largest frame a
/// hub can be set to take.
const MAX_OUTPUT: usize = tcphub_core::MAX_MAX_FRAME_LEN;

/// How a request is answered.
enum Answer {
    Fixed(Box<RawValue>),
    Command { command: String, limit: Duration },
}

pub async fn run(args: ReplyArgs) -> Result<ExitCode, String> {
    let answer = match (&args.command, &args.message) {
        (Some(command), _) => Answer::Command {
            command: command.clone(),
            limit: args.command_timeout,
        },
        (None, Some(message)) => Answer::Fixed(message_argument(message).await?),
        // clap requires one of them.
        (None, None) => return Err("give MESSAGE or --command".into()),
    };
    let mut client = args.server.connect().await?;
    let session = client
        .sync_with_token(&args.name, args.credential.get(), None)
        .await
        .map_err(|e| format!("cannot sync alias {:?}: {e}", args.name))?;
    // A script waiting for this line knows no request sent after it is missed.
    display::status(&format!(
        "answering requests to {} at {} (session {session})",
        args.name, args.server.server
    ));
    let mut answered = 0usize;
    loop {
        if args.count.is_some_and(|n| answered >= n) {
            // The hub answers what came before `bye`: the last reply is in.
            leave(client).await;
            return Ok(ExitCode::SUCCESS);
        }
        let frame = tokio::select! {
            frame = client.next_frame() => frame.map_err(|e| e.to_string())?,
            _ = tokio::signal::ctrl_c() => {
                leave(client).await;
                return Ok(ExitCode::SUCCESS);
            }
        };
        match frame {
            None => return Err("the hub closed the connection without a bye".into()),
            Some(request @ HubFrame::Request { .. }) => {
                display::print_frame(&request);
                let HubFrame::Request {
                    from,
                    reply_to,
                    message,
                } = request
                else {
                    unreachable!("matched as a request above");
                };
                let reply = match &answer {
                    Answer::Fixed(reply) => reply.clone(),
                    Answer::Command { command, limit } => {
                        run_command(command, *limit, &from, &message).await
                    }
                };
                client
                    .send_reply(&reply_to, &reply)
                    .await
                    .map_err(|e| e.to_string())?;
                answered += 1;
            }
            // A reply refused (`unknown_request`: the asker gave up
            // waiting), a rate limit: said, and the next request answered.
            Some(HubFrame::Error { code, message, .. }) => {
                display::print_failure(&format!("{code}: {message}"));
            }
            Some(HubFrame::Bye { reason, message }) => {
                return Ok(exit::on_bye(&reason, &message, args.count.is_some()));
            }
            // Messages that are not requests ask for no answer.
            Some(_) => {}
        }
    }
}

/// Runs `command` for one request and makes its reply: the command's
/// stdout, or `{"error": ...}` when it failed.
async fn run_command(
    command: &str,
    limit: Duration,
    from: &str,
    message: &serde_json::Value,
) -> Box<RawValue> {
    match command_output(command, limit, from, message).await {
        Ok(output) => typed_message(output.trim_end_matches(['\n', '\r'])),
        Err(problem) => {
            display::print_failure(&problem);
            let error = serde_json::json!({ "error": problem });
            serde_json::value::to_raw_value(&error).expect("a JSON value always serializes")
        }
    }
}

/// What `sh -c command` prints on stdout given `message` on stdin, or why
/// it failed.
async fn command_output(
    command: &str,
    limit: Duration,
    from: &str,
    message: &serde_json::Value,
) -> Result<String, String> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .env("TCPHUB_REQUEST_FROM", from)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run `sh -c {command}`: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut input = message.to_string().into_bytes();
    input.push(b'\n');
    // Written while stdout is read, so neither pipe can fill and stall the
    // other; a command that does not read stdin (`date`) closes it early,
    // which is not an error.
    let write = async move {
        let _ = stdin.write_all(&input).await;
    };
    let mut output = Vec::new();
    let ran = tokio::time::timeout(limit, async {
        let mut limited = stdout.take(MAX_OUTPUT as u64 + 1);
        let read = limited.read_to_end(&mut output);
        let ((), read) = tokio::join!(write, read);
        read.map_err(|e| format!("reading the output of `{command}`: {e}"))?;
        if output.len() > MAX_OUTPUT {
            return Err(format!(
                "`{command}` printed more than {MAX_OUTPUT} bytes, too much for a reply"
            ));
        }
        child
            .wait()
            .await
            .map_err(|e| format!("waiting for `{command}`: {e}"))
    })
    .await;
    let status = match ran {
        Ok(status) => status?,
        Err(_) => {
            let _ = child.kill().await;
            return Err(format!("`{command}` was still running after {limit:?}"));
        }
    };
    if !status.success() {
        // `exit status: 1`, or `signal: 9 (SIGKILL)`.
        return Err(format!("`{command}` failed ({status})"));
    }
    Ok(String::from_utf8_lossy(&output).into_owned())
}
