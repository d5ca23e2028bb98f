//! The `tcphub` binary end to end, as a person uses it from two terminals.

mod common;

use common::serve::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn serve_connect_send_list_and_sigterm() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let listener =
        ClientProcess::start(&["connect", "--name", "Client-1", "--stay", "-s", &server]);
    wait_for_text(&listener.stderr, "connected to");

    // One-shot sends: to an alias, and to one nobody holds.
    let sent = tcphub(
        &[
            "send", "--to", "Client-1", "--name", "tool", "hello", "-s", &server,
        ],
        "",
    );
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    wait_for_text(&listener.stdout, "[tool] hello");
    let failed = tcphub(&["send", "--to", "Nobody", "hi", "-s", &server], "");
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        text(&failed.stderr).contains("unknown_alias"),
        "{}",
        text(&failed.stderr)
    );

    // An interactive client fed from a pipe.
    let piped = tcphub(
        &["connect", "--name", "Client-2", "-s", &server],
        "hi host\n@Client-1 direct\n* to everyone\n@Nobody lost\n",
    );
    // It printed an `[error]`: exit status 1 (issue 14).
    assert_eq!(piped.status.code(), Some(1), "{}", text(&piped.stderr));
    let piped_out = text(&piped.stdout);
    assert!(
        piped_out.contains("[error] unknown_alias: no session holds alias \"Nobody\""),
        "{piped_out}"
    );
    wait_for_text(&listener.stdout, "[Client-2] direct");
    wait_for_text(&listener.stdout, "[Client-2] to everyone");
    wait_for_text(&serve.stdout, "[Client-2] hi host");

    let listed = tcphub(&["list", "-s", &server], "");
    assert!(listed.status.success());
    let table = text(&listed.stdout);
    assert!(table.starts_with("SESSION ID"), "{table}");
    assert!(table.contains("Client-1"), "{table}");
    assert!(table.contains("(this listing)"), "{table}");

    let (status, _out, logs) = serve.terminate();
    assert!(status.success(), "serve exit: {status:?}\n{logs}");
    let (status, out) = listener.wait();
    assert!(status.success());
    assert!(out.contains("[bye] shutdown"), "{out}");
    // Logs: JSON lines with one line per connect, sync and close.
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let has = |message: &str, alias: &str| {
        lines
            .iter()
            .any(|l| l["message"] == message && l["alias"].as_str() == Some(alias))
    };
    assert!(has("synced", "Client-1"), "{logs}");
    assert!(has("closed", "Client-2"), "{logs}");
    assert!(lines.iter().any(|l| l["message"] == "connected"));
    assert!(lines.iter().any(|l| l["message"] == "stopped"));
    // Per-message lines only at debug level.
    assert!(!lines.iter().any(|l| l["message"] == "message for the host"));
}

#[test]
fn options_come_from_the_environment_too() {
    let serve = ServeProcess::start(
        &["--max-frame-bytes", "1KiB"],
        &[("TCPHUB_ALIAS_POLICY", "reject"), ("TCPHUB_RELAY", "on")],
    );
    let server = serve.server_arg();
    let holder = ClientProcess::start(&["connect", "--name", "taken", "--stay", "-s", &server]);
    wait_for_text(&holder.stderr, "connected to");
    let refused = tcphub(&["send", "--name", "taken", "x", "-s", &server], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("alias_taken"),
        "{}",
        text(&refused.stderr)
    );
    let relay = tcphub(&["send", "--to", "taken", "x", "-s", &server], "");
    assert!(relay.status.success(), "{}", text(&relay.stderr));
    let big = tcphub(&["send", &"x".repeat(2000), "-s", &server], "");
    assert!(!big.status.success());
    assert!(
        text(&big.stderr).contains("frame_too_large"),
        "{}",
        text(&big.stderr)
    );
    let (status, _, _) = serve.terminate();
    assert!(status.success());

    // The command line wins over the environment.
    let serve = ServeProcess::start(&["--relay", "off"], &[("TCPHUB_RELAY", "on")]);
    let server = serve.server_arg();
    let relay = tcphub(&["send", "--to", "*", "x", "-s", &server], "");
    assert_eq!(relay.status.code(), Some(1));
    assert!(
        text(&relay.stderr).contains("relay_disabled"),
        "{}",
        text(&relay.stderr)
    );
    let (status, _, _) = serve.terminate();
    assert!(status.success());
    let serve = ServeProcess::start(&[], &[("TCPHUB_RELAY", "off")]);
    let relay = tcphub(&["send", "--to", "*", "x", "-s", &serve.server_arg()], "");
    assert!(
        text(&relay.stderr).contains("relay_disabled"),
        "{}",
        text(&relay.stderr)
    );
    drop(serve);
}

#[test]
fn console_commands_reach_clients() {
    let mut serve = ServeProcess::start(&["--console"], &[]);
    let server = serve.server_arg();
    let client = ClientProcess::start(&["connect", "--name", "Client-1", "--stay", "-s", &server]);
    wait_for_text(&client.stderr, "connected to");
    serve.console("大家来领物资了");
    serve.console("@Client-1 赶紧来做核酸了");
    serve.console("@Nobody x");
    wait_for_text(&client.stdout, "[server] 大家来领物资了");
    wait_for_text(&client.stdout, "[server] 赶紧来做核酸了");
    wait_for_text(&serve.stderr, "no session holds alias");
    // The grammar `connect` reads: an unknown command is refused, never
    // broadcast; `@alias` without text is a mistake, not an empty message.
    serve.console("/stats");
    serve.console("@Client-1");
    serve.console("//stats as text");
    wait_for_text(
        &serve.stderr,
        "unknown command `/stats`; the commands are `/list [ROOM]`, `/rooms`, \
         `/join SESSION_ID ROOM`, `/leave SESSION_ID ROOM`, `/close SESSION_ID`",
    );
    wait_for_text(&serve.stderr, "to send to an alias, type `@alias text`");
    // Console lines are handled in order: once this one arrived, the two
    // before it would have too.
    wait_for_text(&client.stdout, "[server] /stats as text");
    let seen = client.stdout.lock().unwrap().clone();
    assert_eq!(seen.matches("/stats").count(), 1, "{seen}");
    assert!(!seen.contains("[server] \n"), "{seen}");
    let (status, _, _) = serve.terminate();
    assert!(status.success());
}

#[test]
fn connect_refuses_unknown_commands_instead_of_sending_them() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let piped = tcphub(
        &["connect", "--name", "Client-2", "-s", &server],
        "/stats\n@Client-2\n//stats as text\n",
    );
    assert!(piped.status.success(), "{}", text(&piped.stderr));
    let err = text(&piped.stderr);
    assert!(
        err.contains(
            "unknown command `/stats`; the commands are `/list [ROOM]`, `/join ROOM`, \
             `/leave ROOM`, `/watch [ALIAS... | #ROOM]`, `/unwatch [ALIAS... | #ROOM]`, `/quit`"
        ),
        "{err}"
    );
    assert!(err.contains("type `@alias text`"), "{err}");
    // The pong that ends a piped session comes after the text, so the host
    // has printed it by the time `connect` exited.
    wait_for_text(&serve.stdout, "[Client-2] /stats as text");
    let host = serve.stdout.lock().unwrap().clone();
    assert_eq!(host.matches("/stats").count(), 1, "{host}");
    let (status, _, _) = serve.terminate();
    assert!(status.success());
}

#[test]
fn help_names_every_option_and_its_variable() {
    let help = tcphub(&["serve", "--help"], "");
    assert!(help.status.success());
    let help = text(&help.stdout);
    for needle in [
        "--listen",
        "TCPHUB_LISTEN",
        "--alias-policy",
        "TCPHUB_ALIAS_POLICY",
        "--max-frame-bytes",
        "TCPHUB_MAX_FRAME_BYTES",
        "--max-sessions",
        "TCPHUB_MAX_SESSIONS",
        "--idle-timeout",
        "TCPHUB_IDLE_TIMEOUT",
        "--relay",
        "TCPHUB_RELAY",
        "--max-queued-bytes",
        "TCPHUB_MAX_QUEUED_BYTES",
        "--shutdown-grace",
        "--rate-limit-messages",
        "TCPHUB_RATE_LIMIT_MESSAGES",
        "--rate-limit-bytes",
        "TCPHUB_RATE_LIMIT_BYTES_BURST",
        "--max-connections-per-address",
        "TCPHUB_MAX_CONNECTIONS_PER_ADDRESS",
        "--log-format",
        "takeover",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
    let top = text(&tcphub(&["--help"], "").stdout);
    for command in ["serve", "connect", "send", "list"] {
        assert!(top.contains(command), "{top}");
    }
}

#[test]
fn errors_are_clear_and_exit_non_zero() {
    let serve = ServeProcess::start(&[], &[]);
    let in_use = tcphub(&["serve", "--listen", &serve.server_arg()], "");
    assert!(!in_use.status.success());
    let err = text(&in_use.stderr);
    assert!(
        err.contains(&format!("cannot listen on {}", serve.addr)),
        "{err}"
    );
    drop(serve);

    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = nobody.local_addr().unwrap().to_string();
    drop(nobody);
    let refused = tcphub(&["list", "-s", &closed], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("cannot connect"),
        "{}",
        text(&refused.stderr)
    );

    let bad = tcphub(&["serve", "--alias-policy", "steal"], "");
    assert_eq!(bad.status.code(), Some(2));
    assert!(text(&bad.stderr).contains("takeover"));
}
