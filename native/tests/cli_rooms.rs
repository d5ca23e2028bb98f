//! Rooms, presence and last wills with the `tcphub` binary: the commands
//! and options beyond the docs' walkthrough (native/tests/docs.rs), their
//! errors, and how each way of leaving `connect` treats a last will.

mod common;

use common::serve::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether the hub's JSON log has a `closed` line for `alias` with `reason`.
fn logged_close(logs: &str, alias: &str, reason: &str) -> bool {
    logs.lines().any(|l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["message"] == "closed" && v["alias"] == alias && v["reason"] == reason
    })
}

#[test]
fn connect_reports_each_room_and_watch_error_by_its_code() {
    let serve = ServeProcess::start(
        &["--max-rooms-per-session", "1", "--max-watched-aliases", "2"],
        &[],
    );
    let server = serve.server_arg();
    let piped = tcphub(
        &["connect", "--name", "Client-1", "-s", &server],
        "/join *\n/join lobby\n/join kitchen\n/leave kitchen\n#empty anyone?\n\
         /list #kitchen\n/watch A B C\n/watch #kitchen\n/join #\n#lobby\n",
    );
    // It printed `[error]` lines: exit status 1 (issue 14).
    assert_eq!(piped.status.code(), Some(1), "{}", text(&piped.stderr));
    let out = text(&piped.stdout);
    let err = text(&piped.stderr);
    // In the order typed, each with the hub's code.
    let expected = [
        "[error] invalid_room: invalid room \"*\"",
        "[hub] joined #lobby (1 member)",
        "[error] too_many_rooms: this session is in 1 rooms already",
        "[error] not_in_room: this session is not in room \"kitchen\"",
        "[error] unknown_room: no session is in room \"empty\"",
        "[error] not_in_room:",
        "[error] too_many_watches: this would watch 3 aliases; at most 2 are allowed",
        "[error] not_in_room:",
    ];
    let mut rest = out.as_str();
    for line in expected {
        let at = rest
            .find(line)
            .unwrap_or_else(|| panic!("{line:?} missing (or out of order) in:\n{out}"));
        rest = &rest[at + line.len()..];
    }
    // Mistakes of the console itself are never sent.
    assert!(err.contains("usage: `/join ROOM`"), "{err}");
    assert!(
        err.contains("to send to a room, type `#room text`"),
        "{err}"
    );
    let (status, _, _) = serve.terminate();
    assert!(status.success());
}

#[test]
fn the_host_console_manages_rooms() {
    let mut serve = ServeProcess::start(&["--console"], &[]);
    let server = serve.server_arg();
    let client = ClientProcess::start(&["connect", "--name", "Client-1", "--stay", "-s", &server]);
    wait_for_text(&client.stderr, "connected to");
    let listed = tcphub(&["list", "-s", &server], "");
    let id = text(&listed.stdout)
        .lines()
        .find(|l| l.contains("Client-1"))
        .and_then(|l| l.split_whitespace().next())
        .expect("Client-1's session id")
        .to_owned();

    serve.console(&format!("/join {id} #ops"));
    wait_for_text(&client.stdout, "[hub] joined #ops (1 member)");
    wait_for_text(&serve.stdout, "Client-1 joined #ops");
    serve.console(&format!("/join {id} ops"));
    wait_for_text(&serve.stderr, &format!("{id} is in room \"ops\" already"));
    serve.console("#ops deploy at 18:00");
    wait_for_text(&client.stdout, "[server #ops] deploy at 18:00");
    serve.console("/rooms");
    wait_for_text(&serve.stdout, "ops   1");
    serve.console("/list ops");
    wait_for_text(&serve.stdout, &format!("{id}  Client-1"));
    serve.console(&format!("/leave {id} ops"));
    wait_for_text(&client.stdout, "[hub] left #ops");
    wait_for_text(&serve.stdout, "Client-1 left #ops");

    // Typed errors, named.
    serve.console("#ops anyone?");
    wait_for_text(&serve.stderr, "no session is in room \"ops\"");
    serve.console(&format!("/leave {id} ops"));
    wait_for_text(&serve.stderr, &format!("{id} is not in room \"ops\""));
    serve.console("/join 127.0.0.1:1 ops");
    wait_for_text(&serve.stderr, "127.0.0.1:1");
    serve.console(&format!("/join {id} *"));
    wait_for_text(&serve.stderr, "invalid room \"*\"");
    serve.console("/list nowhere");
    wait_for_text(&serve.stderr, "no session is in room \"nowhere\"");
    serve.console("/join lobby");
    wait_for_text(&serve.stderr, "usage: `/join SESSION_ID ROOM`");
    let (status, _, _) = serve.terminate();
    assert!(status.success());
}

#[test]
fn only_a_dropped_connect_sends_its_last_will() {
    let serve = ServeProcess::start(&["--observe"], &[]);
    let server = serve.server_arg();
    let heir = ClientProcess::start(&["connect", "--name", "Heir", "--stay", "-s", &server]);
    wait_for_text(&heir.stderr, "connected to");
    let will = |name: &str| {
        [
            "connect",
            "--name",
            name,
            "--last-will-to",
            "Heir",
            "--last-will",
            "gone",
            "-s",
            &server,
        ]
        .map(str::to_owned)
    };
    let args = |a: &[String; 9]| a.iter().map(String::to_owned).collect::<Vec<_>>();

    // The end of piped input says bye: no will.
    let piped = args(&will("Piped"));
    let piped: Vec<&str> = piped.iter().map(String::as_str).collect();
    let ended = tcphub(&piped, "@Heir hello\n");
    assert!(ended.status.success(), "{}", text(&ended.stderr));
    wait_for_text(&heir.stdout, "[Piped] hello");

    // Ctrl-C says bye too: no will.
    let interrupted = args(&will("Interrupted"));
    let interrupted: Vec<&str> = interrupted.iter().map(String::as_str).collect();
    let mut process = ClientProcess::start_typing(&interrupted, &[]);
    wait_for_text(&process.stderr, "connected to");
    let status = std::process::Command::new("kill")
        .args(["-INT", &process.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    process.stdin.take();
    let (status, _) = process.wait();
    assert!(status.success(), "{status:?}");

    // A refused --join ends connect with an error, yet cleanly: no will.
    let mut refused = args(&will("Refused"));
    refused.extend(["--join".to_owned(), "*".to_owned()]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let failed = tcphub(&refused, "");
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        text(&failed.stderr).contains("cannot join room \"*\": invalid_room"),
        "{}",
        text(&failed.stderr)
    );

    // Killed: the will arrives, marked.
    let killed = args(&will("Killed"));
    let killed: Vec<&str> = killed.iter().map(String::as_str).collect();
    let mut process = ClientProcess::start_typing(&killed, &[]);
    wait_for_text(&process.stderr, "connected to");
    process.kill();
    wait_for_text(&heir.stdout, "[Killed] (last will) gone");
    wait_for_text(&serve.stdout, "[Killed -> Heir] (last will) gone");

    let (status, hub_out, logs) = serve.terminate();
    assert!(status.success());
    assert!(logged_close(&logs, "Piped", "client_bye"), "{logs}");
    assert!(logged_close(&logs, "Interrupted", "client_bye"), "{logs}");
    assert!(logged_close(&logs, "Refused", "client_bye"), "{logs}");
    assert!(logged_close(&logs, "Killed", "peer_closed"), "{logs}");
    let (_, heard) = heir.wait();
    assert_eq!(heard.matches("(last will)").count(), 1, "{heard}");
    assert_eq!(hub_out.matches("(last will)").count(), 1, "{hub_out}");
    // --observe printed the direct relay too.
    assert!(hub_out.contains("[Piped -> Heir] hello"), "{hub_out}");
}

#[test]
fn send_to_a_room_and_its_errors() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let member = ClientProcess::start(&[
        "connect", "--name", "Client-1", "--join", "lobby", "--stay", "-s", &server,
    ]);
    wait_for_text(&member.stderr, "connected to");
    let sent = tcphub(
        &[
            "send", "--room", "lobby", "--name", "ops", "hi", "-s", &server,
        ],
        "",
    );
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    wait_for_text(&member.stdout, "[ops #lobby] hi");
    let json = tcphub(
        &["send", "-r", "lobby", "--json", r#"{"n":1}"#, "-s", &server],
        "",
    );
    assert!(json.status.success(), "{}", text(&json.stderr));
    wait_for_text(&member.stdout, r#"#lobby] {"n":1}"#);

    let empty = tcphub(&["send", "--room", "kitchen", "x", "-s", &server], "");
    assert_eq!(empty.status.code(), Some(1));
    assert!(
        text(&empty.stderr).contains("unknown_room: no session is in room \"kitchen\""),
        "{}",
        text(&empty.stderr)
    );
    let bad = tcphub(&["send", "--room", "#kitchen", "x", "-s", &server], "");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("invalid_room"),
        "{}",
        text(&bad.stderr)
    );
    let both = tcphub(&["send", "--room", "lobby", "--to", "A", "x"], "");
    assert_eq!(both.status.code(), Some(2));
    assert!(
        text(&both.stderr).contains("cannot be used with"),
        "{}",
        text(&both.stderr)
    );
    let (status, _, _) = serve.terminate();
    assert!(status.success());
}

#[test]
fn room_options_are_checked_and_documented() {
    for (args, needle) in [
        (
            &["connect", "--name", "A", "--last-will", "x"][..],
            "--last-will-room",
        ),
        (
            &["connect", "--name", "A", "--last-will-room", "lobby"][..],
            "--last-will <MESSAGE>",
        ),
        (
            &[
                "connect",
                "--name",
                "A",
                "--last-will",
                "x",
                "--last-will-room",
                "lobby",
                "--last-will-to",
                "B",
            ][..],
            "cannot be used with",
        ),
        (&["serve", "--max-rooms-per-session", "0"][..], "at least 1"),
        (
            &["serve", "--max-watched-aliases", "100001"][..],
            "at most 100000",
        ),
    ] {
        let refused = tcphub(args, "");
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        let err = text(&refused.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    // A bad room at start is the hub's error, named.
    let serve = ServeProcess::start(&[], &[]);
    let joined = tcphub(
        &[
            "connect",
            "--name",
            "A",
            "--join",
            "*",
            "-s",
            &serve.server_arg(),
        ],
        "",
    );
    assert_eq!(joined.status.code(), Some(1));
    let err = text(&joined.stderr);
    assert!(
        err.contains("cannot join room \"*\": invalid_room"),
        "{err}"
    );
    drop(serve);

    let help = text(&tcphub(&["serve", "--help"], "").stdout);
    for needle in [
        "--observe",
        "TCPHUB_OBSERVE",
        "--max-rooms-per-session",
        "TCPHUB_MAX_ROOMS_PER_SESSION",
        "--max-watched-aliases",
        "TCPHUB_MAX_WATCHED_ALIASES",
        "#room text",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let help = text(&tcphub(&["connect", "--help"], "").stdout);
    for needle in [
        "--join",
        "--last-will",
        "--last-will-room",
        "--last-will-to",
        "/watch",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    // Settings from the environment reach the hub.
    let serve = ServeProcess::start(&[], &[("TCPHUB_MAX_ROOMS_PER_SESSION", "1")]);
    let capped = tcphub(
        &[
            "connect",
            "--name",
            "A",
            "--join",
            "a",
            "--join",
            "b",
            "-s",
            &serve.server_arg(),
        ],
        "",
    );
    assert!(
        text(&capped.stderr).contains("too_many_rooms"),
        "{}",
        text(&capped.stderr)
    );
    drop(serve);
    let mut serve = ServeProcess::start(&["--console"], &[("TCPHUB_OBSERVE", "true")]);
    let member = ClientProcess::start(&[
        "connect",
        "--name",
        "B",
        "--stay",
        "-s",
        &serve.server_arg(),
    ]);
    wait_for_text(&member.stderr, "connected to");
    let sent = tcphub(
        &["send", "--to", "B", "seen", "-s", &serve.server_arg()],
        "",
    );
    assert!(sent.status.success());
    wait_for_text(&serve.stdout, " -> B] seen");
    serve.console("/rooms");
    wait_for_text(&serve.stdout, "ROOM  MEMBERS");
}
