//! The line grammar of the two consoles: what is typed on `tcphub connect`'s
//! stdin and on `tcphub serve --console`'s. One parser, so a line means the
//! same in both:
//!
//! - `@alias text` sends to the sessions holding `alias`;
//! - `* text` sends to everyone;
//! - `/command ...` runs one of the console's commands; an unknown one is
//!   refused, never sent;
//! - `//text` sends `/text`, for a message that starts with a slash;
//! - any other text goes to the console's own recipient: the host for
//!   `connect`, everyone for `serve`.
//!
//! A line is trimmed of surrounding whitespace first; a blank line does
//! nothing. `@alias` or `*` with no text is a mistake and gets a usage hint.

use std::fmt::Write;

use tcphub_core::BROADCAST_TARGET;

/// A console command, typed as `/name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/list`: show who is connected.
    List,
    /// `/close SESSION_ID`: close one session (the host's console).
    Close,
    /// `/quit` or `/exit`: leave (a client's console).
    Quit,
}

impl Command {
    /// The names a command answers to.
    fn names(self) -> &'static [&'static str] {
        match self {
            Command::List => &["/list"],
            Command::Close => &["/close"],
            Command::Quit => &["/quit", "/exit"],
        }
    }

    /// How it is typed.
    fn synopsis(self) -> &'static str {
        match self {
            Command::List => "/list",
            Command::Close => "/close SESSION_ID",
            Command::Quit => "/quit",
        }
    }
}

/// The commands of `tcphub connect`.
pub const CONNECT_COMMANDS: &[Command] = &[Command::List, Command::Quit];

/// The commands of `tcphub serve --console`.
pub const SERVE_COMMANDS: &[Command] = &[Command::List, Command::Close];

/// What one typed line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleLine<'a> {
    /// A blank line: nothing to do.
    Blank,
    /// Send `text`: to an alias, to everyone (`Some("*")`), or with `to`
    /// `None` to the console's own recipient (the host for `connect`,
    /// everyone for `serve`).
    Send { to: Option<&'a str>, text: &'a str },
    /// `/list`.
    List,
    /// `/close SESSION_ID`.
    Close { session_id: &'a str },
    /// `/quit`.
    Quit,
    /// The line is a mistake; the hint says what to type instead.
    Usage(String),
}

impl<'a> ConsoleLine<'a> {
    /// Parses one line for a console that knows `commands`.
    pub fn parse(line: &'a str, commands: &[Command]) -> Self {
        let line = line.trim();
        if line.is_empty() {
            return ConsoleLine::Blank;
        }
        if line.starts_with("//") {
            return ConsoleLine::Send {
                to: None,
                text: &line[1..],
            };
        }
        if line.starts_with('/') {
            return command(line, commands);
        }
        if let Some(rest) = line.strip_prefix('@') {
            return match rest.split_once(char::is_whitespace) {
                Some((alias, text)) if !alias.is_empty() => ConsoleLine::Send {
                    to: Some(alias),
                    text: text.trim_start(),
                },
                _ => usage("to send to an alias, type `@alias text`"),
            };
        }
        if line == BROADCAST_TARGET {
            return usage("to send to everyone, type `* text`");
        }
        if let Some(text) = line.strip_prefix("* ") {
            return ConsoleLine::Send {
                to: Some(BROADCAST_TARGET),
                text: text.trim_start(),
            };
        }
        ConsoleLine::Send {
            to: None,
            text: line,
        }
    }
}

fn usage(hint: &str) -> ConsoleLine<'static> {
    ConsoleLine::Usage(hint.to_owned())
}

/// A line starting with one `/`: one of `commands`, or refused.
fn command<'a>(line: &'a str, commands: &[Command]) -> ConsoleLine<'a> {
    let mut words = line.split_whitespace();
    let name = words.next().unwrap_or(line);
    let args: Vec<&str> = words.collect();
    let Some(&known) = commands.iter().find(|c| c.names().contains(&name)) else {
        let mut hint = format!("unknown command `{name}`; the commands are");
        for (i, c) in commands.iter().enumerate() {
            let sep = if i == 0 { " " } else { ", " };
            let _ = write!(hint, "{sep}`{}`", c.synopsis());
        }
        hint.push_str(" (type `//text` to send text starting with `/`)");
        return ConsoleLine::Usage(hint);
    };
    match (known, args.as_slice()) {
        (Command::List, []) => ConsoleLine::List,
        (Command::Quit, []) => ConsoleLine::Quit,
        (Command::Close, [session_id]) => ConsoleLine::Close { session_id },
        _ => ConsoleLine::Usage(format!("usage: `{}`", known.synopsis())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect(line: &str) -> ConsoleLine<'_> {
        ConsoleLine::parse(line, CONNECT_COMMANDS)
    }

    fn serve(line: &str) -> ConsoleLine<'_> {
        ConsoleLine::parse(line, SERVE_COMMANDS)
    }

    fn send<'a>(to: Option<&'a str>, text: &'a str) -> ConsoleLine<'a> {
        ConsoleLine::Send { to, text }
    }

    fn is_usage(line: ConsoleLine<'_>, needle: &str) -> bool {
        matches!(line, ConsoleLine::Usage(hint) if hint.contains(needle))
    }

    #[test]
    fn messages_are_routed_by_their_prefix_in_both_consoles() {
        for parse in [connect, serve] {
            assert_eq!(parse("hello there"), send(None, "hello there"));
            assert_eq!(
                parse("@Client-2  hi you\n"),
                send(Some("Client-2"), "hi you")
            );
            assert_eq!(parse("* all of you"), send(Some("*"), "all of you"));
            assert_eq!(parse("*bold* text"), send(None, "*bold* text"));
            assert_eq!(parse("  padded \r\n"), send(None, "padded"));
            assert_eq!(parse("   "), ConsoleLine::Blank);
            assert_eq!(parse(""), ConsoleLine::Blank);
        }
    }

    #[test]
    fn a_target_without_text_is_a_usage_hint_in_both_consoles() {
        for parse in [connect, serve] {
            assert!(is_usage(parse("@Client-2"), "@alias text"));
            assert!(is_usage(parse("@Client-2   "), "@alias text"));
            assert!(is_usage(parse("@"), "@alias text"));
            assert!(is_usage(parse("@ text"), "@alias text"));
            assert!(is_usage(parse("*"), "* text"));
        }
    }

    #[test]
    fn each_console_has_its_commands() {
        assert_eq!(connect("/list"), ConsoleLine::List);
        assert_eq!(serve(" /list "), ConsoleLine::List);
        assert_eq!(connect("/quit"), ConsoleLine::Quit);
        assert_eq!(connect("/exit"), ConsoleLine::Quit);
        assert_eq!(
            serve("/close 127.0.0.1:5000"),
            ConsoleLine::Close {
                session_id: "127.0.0.1:5000"
            }
        );
        assert!(is_usage(serve("/close"), "usage: `/close SESSION_ID`"));
        assert!(is_usage(serve("/close a b"), "usage: `/close SESSION_ID`"));
        assert!(is_usage(connect("/list everyone"), "usage: `/list`"));
    }

    #[test]
    fn unknown_commands_are_refused_with_the_known_ones() {
        let ConsoleLine::Usage(hint) = serve("/stats") else {
            panic!("/stats must not be sent");
        };
        assert_eq!(
            hint,
            "unknown command `/stats`; the commands are `/list`, `/close SESSION_ID` \
             (type `//text` to send text starting with `/`)"
        );
        assert!(is_usage(serve("/quit"), "`/list`, `/close SESSION_ID`"));
        assert!(is_usage(connect("/close x"), "`/list`, `/quit`"));
        assert!(is_usage(connect("/"), "unknown command `/`"));
    }

    #[test]
    fn a_double_slash_sends_text_starting_with_a_slash() {
        for parse in [connect, serve] {
            assert_eq!(parse("//stats please"), send(None, "/stats please"));
            assert_eq!(parse("//"), send(None, "/"));
        }
    }
}
