//! How the client commands show what arrives: one readable line per frame.

use std::io::{IsTerminal, Write};

use tcphub_core::{HubFrame, SessionEntry, HUB_NAME};

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// A message body for people: a string as its text, anything else as
/// JSON, so that what is shown reads back as what was sent. A string
/// whose text would itself read as JSON (`"null"`, `"42"`, `"{}"`) is
/// shown quoted, as JSON, or it could not be told from the value; so is
/// an empty string or one with a line break or other control character,
/// which would not show as one line. This is the rule `send --lines`
/// reads lines by: text that parses as JSON is that value.
pub fn message_text(message: &serde_json::Value) -> String {
    match message {
        serde_json::Value::String(s) if !needs_quotes(s) => s.clone(),
        other => other.to_string(),
    }
}

fn needs_quotes(text: &str) -> bool {
    text.trim().is_empty()
        || text.chars().any(char::is_control)
        || serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// Who sent a message, as shown in brackets: the host is `server`.
pub fn sender(from: &str) -> &str {
    if from == HUB_NAME {
        "server"
    } else {
        from
    }
}

/// How a room is shown: `#lobby`, as it is typed in the consoles.
pub fn room_mark(room: &str) -> String {
    format!("#{room}")
}

/// A join as reported: `joined #lobby (2 members)`.
pub fn joined(room: &str, members: usize) -> String {
    let plural = if members == 1 { "" } else { "s" };
    format!("joined {} ({members} member{plural})", room_mark(room))
}

/// The mark of a last will in front of its text.
pub const LAST_WILL_MARK: &str = "(last will) ";

/// The mark of a request in front of its text, naming the `replyTo` to
/// answer it with (`/reply 7 ...`): `(request 7) `.
pub fn request_mark(reply_to: &str) -> String {
    format!("(request {reply_to}) ")
}

/// The mark of a reply in front of its text.
pub const REPLY_MARK: &str = "(reply) ";

/// Prints one frame from the hub on stdout: `[Client-2] hello`,
/// `[Client-2 #lobby] hello` for a room, `[Client-2 #lobby] (last will)
/// ...`, `[server] ...`, `[Client-2] (request 7) ...`, `[Client-2] (reply)
/// ...`, `[presence] Client-2 joined #lobby`, `[error]
/// code: ...` (red on a terminal), `[bye] ...`.
pub fn print_frame(frame: &HubFrame) {
    let colour = std::io::stdout().is_terminal();
    let paint = |code: &'static str| if colour { code } else { "" };
    let reset = paint(RESET);
    let line = match frame {
        HubFrame::Info {
            from,
            room,
            last_will,
            message,
        } => {
            let room = room
                .as_deref()
                .map(|r| format!(" {}", room_mark(r)))
                .unwrap_or_default();
            let text = message_text(message);
            if *last_will {
                // A will means its sender is gone: worth the colour.
                format!(
                    "{}[{}{room}] {LAST_WILL_MARK}{text}{reset}",
                    paint(YELLOW),
                    sender(from)
                )
            } else {
                format!("[{}{room}] {text}", sender(from))
            }
        }
        HubFrame::Request {
            from,
            reply_to,
            message,
        } => format!(
            "[{}] {}{}",
            sender(from),
            request_mark(reply_to),
            message_text(message)
        ),
        HubFrame::Reply { from, message, .. } => {
            format!("[{}] {REPLY_MARK}{}", sender(from), message_text(message))
        }
        HubFrame::Joined { room, members, .. } => {
            format!("{}[hub] {}{reset}", paint(DIM), joined(room, *members))
        }
        HubFrame::Left { room, .. } => {
            format!("{}[hub] left {}{reset}", paint(DIM), room_mark(room))
        }
        HubFrame::Watching { .. } => format!("{}[hub] watching{reset}", paint(DIM)),
        HubFrame::Unwatched { .. } => format!("{}[hub] stopped watching{reset}", paint(DIM)),
        HubFrame::Presence {
            event,
            alias,
            session_id,
            room,
            reason,
        } => {
            let who = alias.as_deref().unwrap_or(session_id);
            let mut line = format!("[presence] {who} {event}");
            if let Some(room) = room {
                line.push(' ');
                line.push_str(&room_mark(room));
            }
            if let Some(reason) = reason {
                line.push_str(&format!(" ({reason})"));
            }
            line
        }
        HubFrame::Sessions {
            sessions,
            room: Some(room),
            ..
        } => format!(
            "[hub] members of {}\n{}",
            room_mark(room),
            sessions_table(sessions, None)
        ),
        HubFrame::Error { code, message, .. } => {
            format!("{}[error] {code}: {message}{reset}", paint(RED))
        }
        HubFrame::Bye { reason, message } => {
            format!("{}[bye] {reason}: {message}{reset}", paint(YELLOW))
        }
        HubFrame::Synced {
            client_name,
            session_id,
            ..
        } => format!(
            "{}[hub] synced as {client_name} (session {session_id}){reset}",
            paint(DIM)
        ),
        HubFrame::Pong { .. } => format!("{}[hub] pong{reset}", paint(DIM)),
        HubFrame::Sessions { sessions, .. } => sessions_table(sessions, None),
        other => format!("{other:?}"),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The `list` table; `own` marks the session that asked.
pub fn sessions_table(sessions: &[SessionEntry], own: Option<&str>) -> String {
    let width = sessions
        .iter()
        .map(|s| s.session_id.len())
        .max()
        .unwrap_or(0)
        .max("SESSION ID".len());
    let mut out = format!("{:width$}  ALIAS", "SESSION ID");
    for s in sessions {
        let alias = s.client_name.as_deref().unwrap_or("-");
        let note = if own == Some(s.session_id.as_str()) {
            "  (this listing)"
        } else {
            ""
        };
        out.push_str(&format!("\n{:width$}  {alias}{note}", s.session_id));
    }
    out
}

/// Prints a client-side failure on stderr, red on a terminal.
pub fn print_failure(message: &str) {
    let colour = std::io::stderr().is_terminal();
    if colour {
        eprintln!("{RED}error:{RESET} {message}");
    } else {
        eprintln!("error: {message}");
    }
}

/// Prints a status line of the client itself on stderr.
pub fn status(message: &str) {
    if std::io::stderr().is_terminal() {
        eprintln!("{DIM}{message}{RESET}");
    } else {
        eprintln!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::message_text;
    use serde_json::json;

    #[test]
    fn a_string_is_shown_as_text_unless_it_would_read_as_something_else() {
        assert_eq!(message_text(&json!("hello there")), "hello there");
        assert_eq!(message_text(&json!("*bold*")), "*bold*");
        assert_eq!(message_text(&json!(null)), "null");
        assert_eq!(message_text(&json!("null")), "\"null\"");
        assert_eq!(message_text(&json!(42)), "42");
        assert_eq!(message_text(&json!("42")), "\"42\"");
        assert_eq!(message_text(&json!(" true ")), "\" true \"");
        assert_eq!(message_text(&json!("{}")), "\"{}\"");
        assert_eq!(message_text(&json!("\"quoted\"")), "\"\\\"quoted\\\"\"");
        assert_eq!(message_text(&json!("")), "\"\"");
        assert_eq!(message_text(&json!("two\nlines")), "\"two\\nlines\"");
        assert_eq!(message_text(&json!({"a": [1]})), "{\"a\":[1]}");
    }
}
