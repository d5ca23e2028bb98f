//! The line grammar of the two consoles: what is typed on `tcphub connect`'s
//! stdin and on `tcphub serve --console`'s. One parser, so a line means the
//! same in both:
//!
//! - `@alias text` sends to the sessions holding `alias`;
//! - `#room text` sends to the members of `room` (room names cannot start
//!   with `#`, so the mark is never part of the name);
//! - `* text` sends to everyone;
//! - `/command ...` runs one of the console's commands; an unknown one is
//!   refused, never sent;
//! - `//text` sends `/text`, for a message that starts with a slash;
//! - any other text goes to the console's own recipient: the host for
//!   `connect`, everyone for `serve`.
//!
//! A line is trimmed of surrounding whitespace first; a blank line does
//! nothing. `@alias`, `#room` or `*` with no text is a mistake and gets a
//! usage hint. Where a command takes a room, `#lobby` and `lobby` name the
//! same room.

use std::fmt::Write;

use tcphub_core::BROADCAST_TARGET;

/// A console command, typed as `/name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `/list [ROOM]`: show who is connected, or who is in a room.
    List,
    /// `/close SESSION_ID`: close one session (the host's console).
    Close,
    /// `/quit`, `/exit` or `/bye`: say `bye` and leave (a client's console).
    Quit,
    /// `/join ROOM`: become a member (a client's console).
    Join,
    /// `/leave ROOM`: stop being a member (a client's console).
    Leave,
    /// `/join SESSION_ID ROOM`: put a session in a room (the host's console).
    JoinSession,
    /// `/leave SESSION_ID ROOM`: take a session out of a room (the host's
    /// console).
    LeaveSession,
    /// `/rooms`: every room and its member count (the host's console).
    Rooms,
    /// `/watch [ALIAS... | #ROOM]`: be told who comes and goes.
    Watch,
    /// `/unwatch [ALIAS... | #ROOM]`: stop being told.
    Unwatch,
    /// `/request ALIAS MESSAGE`: ask an alias, expecting one reply (a
    /// client's console).
    Request,
    /// `/reply REPLYTO MESSAGE`: answer a request this console was sent.
    Reply,
}

impl Command {
    /// The names a command answers to.
    fn names(self) -> &'static [&'static str] {
        match self {
            Command::List => &["/list"],
            Command::Close => &["/close"],
            Command::Quit => &["/quit", "/exit", "/bye"],
            Command::Join | Command::JoinSession => &["/join"],
            Command::Leave | Command::LeaveSession => &["/leave"],
            Command::Rooms => &["/rooms"],
            Command::Watch => &["/watch"],
            Command::Unwatch => &["/unwatch"],
            Command::Request => &["/request"],
            Command::Reply => &["/reply"],
        }
    }

    /// How it is typed.
    fn synopsis(self) -> &'static str {
        match self {
            Command::List => "/list [ROOM]",
            Command::Close => "/close SESSION_ID",
            Command::Quit => "/quit",
            Command::Join => "/join ROOM",
            Command::Leave => "/leave ROOM",
            Command::JoinSession => "/join SESSION_ID ROOM",
            Command::LeaveSession => "/leave SESSION_ID ROOM",
            Command::Rooms => "/rooms",
            Command::Watch => "/watch [ALIAS... | #ROOM]",
            Command::Unwatch => "/unwatch [ALIAS... | #ROOM]",
            Command::Request => "/request ALIAS MESSAGE",
            Command::Reply => "/reply REPLYTO MESSAGE",
        }
    }
}

/// The commands of `tcphub connect`.
pub const CONNECT_COMMANDS: &[Command] = &[
    Command::List,
    Command::Join,
    Command::Leave,
    Command::Watch,
    Command::Unwatch,
    Command::Quit,
    // Last, so the hint lists the older commands as before.
    Command::Request,
    Command::Reply,
];

/// The commands of `tcphub serve --console`.
pub const SERVE_COMMANDS: &[Command] = &[
    Command::List,
    Command::Rooms,
    Command::JoinSession,
    Command::LeaveSession,
    Command::Close,
    Command::Reply,
];

/// What a `/watch` or `/unwatch` is about.
#[derive(Debug, PartialEq, Eq)]
pub enum WatchTarget<'a> {
    /// No argument: every alias (for `/unwatch`, every watch).
    All,
    /// `ALIAS...`: these aliases.
    Aliases(Vec<&'a str>),
    /// `#ROOM`: the members of a room this session is in.
    Room(&'a str),
}

/// What one typed line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleLine<'a> {
    /// A blank line: nothing to do.
    Blank,
    /// Send `text`: to an alias, to everyone (`Some("*")`), or with `to`
    /// `None` to the console's own recipient (the host for `connect`,
    /// everyone for `serve`).
    Send { to: Option<&'a str>, text: &'a str },
    /// Send `text` to the members of `room` (`#room text`).
    SendToRoom { room: &'a str, text: &'a str },
    /// `/list`, or `/list ROOM` for a room's members.
    List { room: Option<&'a str> },
    /// `/close SESSION_ID`.
    Close { session_id: &'a str },
    /// `/join ROOM` (`session_id` `None`: this console's own session) or
    /// `/join SESSION_ID ROOM`.
    Join {
        session_id: Option<&'a str>,
        room: &'a str,
    },
    /// `/leave ROOM` or `/leave SESSION_ID ROOM`.
    Leave {
        session_id: Option<&'a str>,
        room: &'a str,
    },
    /// `/rooms`.
    Rooms,
    /// `/watch ...`.
    Watch(WatchTarget<'a>),
    /// `/unwatch ...`.
    Unwatch(WatchTarget<'a>),
    /// `/request ALIAS MESSAGE`: `text` is read as a message from the
    /// command line is (see [`typed_message`](super::message::typed_message)).
    Request { to: &'a str, text: &'a str },
    /// `/reply REPLYTO MESSAGE`, `replyTo` as the request showed it.
    Reply { reply_to: &'a str, text: &'a str },
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
        if let Some(rest) = line.strip_prefix('#') {
            return match rest.split_once(char::is_whitespace) {
                Some((room, text)) if !room.is_empty() => ConsoleLine::SendToRoom {
                    room,
                    text: text.trim_start(),
                },
                _ => usage("to send to a room, type `#room text`"),
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
    let usage = || ConsoleLine::Usage(format!("usage: `{}`", known.synopsis()));
    match (known, args.as_slice()) {
        // The message is the rest of the line, spaces inside it kept.
        (Command::Request, [to, _, ..]) => ConsoleLine::Request {
            to,
            text: after_words(line, 2),
        },
        (Command::Reply, [reply_to, _, ..]) => ConsoleLine::Reply {
            reply_to,
            text: after_words(line, 2),
        },
        (Command::List, []) => ConsoleLine::List { room: None },
        (Command::List, [room]) => match room_name(room) {
            Some(room) => ConsoleLine::List { room: Some(room) },
            None => usage(),
        },
        (Command::Quit, []) => ConsoleLine::Quit,
        (Command::Rooms, []) => ConsoleLine::Rooms,
        (Command::Close, [session_id]) => ConsoleLine::Close { session_id },
        (Command::Join, [room]) | (Command::Leave, [room]) => {
            let Some(room) = room_name(room) else {
                return usage();
            };
            if known == Command::Join {
                ConsoleLine::Join {
                    session_id: None,
                    room,
                }
            } else {
                ConsoleLine::Leave {
                    session_id: None,
                    room,
                }
            }
        }
        (Command::JoinSession, [session_id, room])
        | (Command::LeaveSession, [session_id, room]) => {
            let Some(room) = room_name(room) else {
                return usage();
            };
            let session_id = Some(*session_id);
            if known == Command::JoinSession {
                ConsoleLine::Join { session_id, room }
            } else {
                ConsoleLine::Leave { session_id, room }
            }
        }
        (Command::Watch | Command::Unwatch, args) => {
            let target = match args {
                [] => WatchTarget::All,
                [one] if one.starts_with('#') => match room_name(one) {
                    Some(room) => WatchTarget::Room(room),
                    None => return usage(),
                },
                // A room among aliases, or a second room: `#` names one room.
                many if many.iter().any(|a| a.starts_with('#')) => return usage(),
                aliases => WatchTarget::Aliases(aliases.to_vec()),
            };
            if known == Command::Watch {
                ConsoleLine::Watch(target)
            } else {
                ConsoleLine::Unwatch(target)
            }
        }
        _ => usage(),
    }
}

/// What follows the command's name and its first `n - 1` arguments,
/// trimmed: a message typed after them, spaces inside it kept.
fn after_words(line: &str, n: usize) -> &str {
    let mut rest = line.trim_start();
    for _ in 0..n {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest = rest[end..].trim_start();
    }
    rest.trim_end()
}

/// A room as typed in a command: `#lobby` or `lobby`. Room names cannot
/// start with `#`, so the mark is dropped; what is left must not be empty
/// (the hub checks the other rules and names the one broken).
fn room_name(typed: &str) -> Option<&str> {
    let room = typed.strip_prefix('#').unwrap_or(typed);
    (!room.is_empty()).then_some(room)
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
            assert!(is_usage(parse("#lobby"), "#room text"));
            assert!(is_usage(parse("#"), "#room text"));
            assert!(is_usage(parse("# text"), "#room text"));
        }
    }

    #[test]
    fn a_hash_mark_sends_to_a_room_in_both_consoles() {
        for parse in [connect, serve] {
            assert_eq!(
                parse("#lobby  hello room "),
                ConsoleLine::SendToRoom {
                    room: "lobby",
                    text: "hello room"
                }
            );
            assert_eq!(
                parse("#大厅 你好"),
                ConsoleLine::SendToRoom {
                    room: "大厅",
                    text: "你好"
                }
            );
            assert_eq!(
                parse("/list #lobby"),
                ConsoleLine::List {
                    room: Some("lobby")
                }
            );
            assert_eq!(
                parse("/list lobby"),
                ConsoleLine::List {
                    room: Some("lobby")
                }
            );
            assert!(is_usage(parse("/list #"), "usage: `/list [ROOM]`"));
            assert!(is_usage(parse("/list a b"), "usage: `/list [ROOM]`"));
        }
    }

    #[test]
    fn room_and_watch_commands_take_their_arguments() {
        let join = |session_id, room| ConsoleLine::Join { session_id, room };
        assert_eq!(connect("/join lobby"), join(None, "lobby"));
        assert_eq!(connect("/join #lobby"), join(None, "lobby"));
        assert_eq!(
            connect("/leave #lobby"),
            ConsoleLine::Leave {
                session_id: None,
                room: "lobby"
            }
        );
        assert_eq!(
            serve("/join 127.0.0.1:5000 #lobby"),
            join(Some("127.0.0.1:5000"), "lobby")
        );
        assert_eq!(
            serve("/leave 127.0.0.1:5000 lobby"),
            ConsoleLine::Leave {
                session_id: Some("127.0.0.1:5000"),
                room: "lobby"
            }
        );
        assert!(is_usage(connect("/join"), "usage: `/join ROOM`"));
        assert!(is_usage(connect("/join a b"), "usage: `/join ROOM`"));
        assert!(is_usage(connect("/join #"), "usage: `/join ROOM`"));
        assert!(is_usage(
            serve("/join lobby"),
            "usage: `/join SESSION_ID ROOM`"
        ));
        assert_eq!(serve("/rooms"), ConsoleLine::Rooms);

        assert_eq!(connect("/watch"), ConsoleLine::Watch(WatchTarget::All));
        assert_eq!(
            connect("/watch A B"),
            ConsoleLine::Watch(WatchTarget::Aliases(vec!["A", "B"]))
        );
        assert_eq!(
            connect("/unwatch #lobby"),
            ConsoleLine::Unwatch(WatchTarget::Room("lobby"))
        );
        assert_eq!(connect("/unwatch"), ConsoleLine::Unwatch(WatchTarget::All));
        assert!(is_usage(connect("/watch A #lobby"), "usage: `/watch"));
        assert!(is_usage(connect("/watch #a #b"), "usage: `/watch"));
        assert_eq!(connect("/bye"), ConsoleLine::Quit);
    }

    #[test]
    fn each_console_has_its_commands() {
        assert_eq!(connect("/list"), ConsoleLine::List { room: None });
        assert_eq!(serve(" /list "), ConsoleLine::List { room: None });
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
        assert!(is_usage(
            connect("/list every one"),
            "usage: `/list [ROOM]`"
        ));
        assert!(is_usage(serve("/watch"), "unknown command `/watch`"));
        assert!(is_usage(connect("/rooms"), "unknown command `/rooms`"));
    }

    #[test]
    fn unknown_commands_are_refused_with_the_known_ones() {
        let ConsoleLine::Usage(hint) = serve("/stats") else {
            panic!("/stats must not be sent");
        };
        assert_eq!(
            hint,
            "unknown command `/stats`; the commands are `/list [ROOM]`, `/rooms`, \
             `/join SESSION_ID ROOM`, `/leave SESSION_ID ROOM`, `/close SESSION_ID`, \
             `/reply REPLYTO MESSAGE` (type `//text` to send text starting with `/`)"
        );
        assert!(is_usage(serve("/quit"), "`/list [ROOM]`, `/rooms`"));
        assert!(is_usage(
            connect("/close x"),
            "`/list [ROOM]`, `/join ROOM`"
        ));
        assert!(is_usage(connect("/"), "unknown command `/`"));
    }

    #[test]
    fn request_and_reply_take_the_rest_of_the_line_as_the_message() {
        for parse in [connect, serve] {
            assert_eq!(
                parse("/reply n1/7   until  21:00 "),
                ConsoleLine::Reply {
                    reply_to: "n1/7",
                    text: "until  21:00"
                }
            );
            assert!(is_usage(
                parse("/reply 7"),
                "usage: `/reply REPLYTO MESSAGE`"
            ));
            assert!(is_usage(parse("/reply"), "usage: `/reply REPLYTO MESSAGE`"));
        }
        assert_eq!(
            connect("/request clock {\"tz\": \"UTC\"}"),
            ConsoleLine::Request {
                to: "clock",
                text: "{\"tz\": \"UTC\"}"
            }
        );
        assert!(is_usage(
            connect("/request clock"),
            "usage: `/request ALIAS MESSAGE`"
        ));
        assert!(is_usage(
            serve("/request clock hi"),
            "unknown command `/request`"
        ));
    }

    #[test]
    fn a_double_slash_sends_text_starting_with_a_slash() {
        for parse in [connect, serve] {
            assert_eq!(parse("//stats please"), send(None, "/stats please"));
            assert_eq!(parse("//"), send(None, "/"));
        }
    }
}
