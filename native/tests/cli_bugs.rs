//! The CLI traps of issue 14, each as a user meets it: the help that
//! contradicted itself, the hint added to every connection failure, `send
//! -` sending a dash, `connect` exiting 0 after errors, and output that
//! showed the string "null" and JSON null alike.

mod common;

use common::serve::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn relay_is_documented_and_checked_as_on_or_off() {
    let help = text(&tcphub(&["serve", "--help"], "").stdout);
    let relay = help
        .split("--relay")
        .nth(1)
        .expect("--relay is in the help");
    let relay = &relay[..relay.find("\n  -").unwrap_or(relay.len())];
    assert!(relay.contains("[possible values: on, off]"), "{relay}");
    assert!(!relay.contains("true"), "{relay}");

    let bad = tcphub(&["serve", "--relay", "maybe"], "");
    assert_eq!(bad.status.code(), Some(2));
    let err = text(&bad.stderr);
    assert!(err.contains("'maybe'"), "{err}");
    assert!(err.contains("on, off"), "{err}");
    assert!(!err.contains("boolean"), "{err}");
}

#[test]
fn relay_false_from_an_older_setting_is_still_taken() {
    let serve = ServeProcess::start(&[], &[("TCPHUB_RELAY", "false")]);
    let sent = tcphub(&["send", "--to", "*", "x", "-s", &serve.server_arg()], "");
    assert_eq!(sent.status.code(), Some(1));
    assert!(
        text(&sent.stderr).contains("relay_disabled"),
        "{}",
        text(&sent.stderr)
    );
}

#[test]
fn relay_off_still_refuses_relays() {
    // The parser change keeps the meaning: `off` turns relaying off.
    let serve = ServeProcess::start(&["--relay", "off"], &[]);
    let sent = tcphub(&["send", "--to", "*", "x", "-s", &serve.server_arg()], "");
    assert_eq!(sent.status.code(), Some(1));
    assert!(
        text(&sent.stderr).contains("relay_disabled"),
        "{}",
        text(&sent.stderr)
    );
}

#[test]
fn the_top_level_help_says_delimiters_are_optional() {
    let help = text(&tcphub(&["--help"], "").stdout);
    assert!(!help.contains("newline-delimited"), "{help}");
    assert!(help.contains("newline between them is optional"), "{help}");
    for command in ["sub", "send", "list"] {
        assert!(help.contains(command), "{help}");
    }
}

#[test]
fn the_serve_hint_follows_only_a_refused_connection() {
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = nobody.local_addr().unwrap().to_string();
    drop(nobody);
    let refused = tcphub(&["list", "-s", &closed], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("(is `tcphub serve` running there?)"),
        "{}",
        text(&refused.stderr)
    );

    // A port alone is not an address: say what --server takes.
    let port_only = tcphub(&["list", "-s", "9600"], "");
    assert_eq!(port_only.status.code(), Some(1));
    let err = text(&port_only.stderr);
    assert!(!err.contains("running there"), "{err}");
    assert!(err.contains("HOST:PORT"), "{err}");

    // A name that does not resolve (`.invalid` never does, RFC 2606).
    let unknown_host = tcphub(&["list", "-s", "no-such-host.invalid:9000"], "");
    assert_eq!(unknown_host.status.code(), Some(1));
    let err = text(&unknown_host.stderr);
    assert!(err.contains("no-such-host.invalid"), "{err}");
    assert!(!err.contains("running there"), "{err}");
}

#[test]
fn send_dash_reads_the_message_from_stdin() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let sent = tcphub(
        &["send", "--name", "ops", "-", "-s", &server],
        "from stdin\n",
    );
    assert!(sent.status.success(), "{}", text(&sent.stderr));
    wait_for_text(&serve.stdout, "[ops] from stdin\n");
    let json = tcphub(
        &["send", "--name", "ops", "--json", "-", "-s", &server],
        "{\"temp\": 21.5}\n",
    );
    assert!(json.status.success(), "{}", text(&json.stderr));
    wait_for_text(&serve.stdout, "[ops] {\"temp\":21.5}\n");
    let host = serve.stdout.lock().unwrap().clone();
    assert!(!host.contains("[ops] -\n"), "{host}");
}

#[test]
fn connect_exits_non_zero_after_hub_errors() {
    let serve = ServeProcess::start(&[], &[]);
    let piped = tcphub(
        &["connect", "--name", "Client-2", "-s", &serve.server_arg()],
        "@Nobody are you there?\n",
    );
    assert!(
        text(&piped.stdout).contains("[error] unknown_alias"),
        "{}",
        text(&piped.stdout)
    );
    assert_eq!(piped.status.code(), Some(1), "{}", text(&piped.stderr));
    assert!(
        text(&piped.stderr).contains("the hub refused 1 request"),
        "{}",
        text(&piped.stderr)
    );
}

#[test]
fn connect_exits_non_zero_when_taken_over() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let first = ClientProcess::start(&["connect", "--name", "Client-1", "--stay", "-s", &server]);
    wait_for_text(&first.stderr, "connected to");
    let second = ClientProcess::start(&["connect", "--name", "Client-1", "--stay", "-s", &server]);
    wait_for_text(&second.stderr, "connected to");
    let stderr = first.stderr.clone();
    let (status, out) = first.wait();
    assert!(out.contains("[bye] taken_over"), "{out}");
    assert_eq!(status.code(), Some(3), "{}", stderr.lock().unwrap());
    assert!(
        stderr.lock().unwrap().contains("taken_over"),
        "{}",
        stderr.lock().unwrap()
    );
}

#[test]
fn a_string_that_reads_as_json_is_shown_quoted() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let client = ClientProcess::start(&["connect", "--name", "Client-1", "--stay", "-s", &server]);
    wait_for_text(&client.stderr, "connected to");
    for message in ["null", "\"null\"", "42", "\"42\"", "\"plain text\""] {
        let sent = tcphub(
            &[
                "send", "--to", "Client-1", "--name", "ops", "--json", message, "-s", &server,
            ],
            "",
        );
        assert!(sent.status.success(), "{}", text(&sent.stderr));
    }
    // Sent to the host too: serve prints it the same way.
    let to_host = tcphub(
        &["send", "--name", "ops", "--json", "\"null\"", "-s", &server],
        "",
    );
    assert!(to_host.status.success());
    wait_for_text(&client.stdout, "[ops] plain text\n");
    let out = client.stdout.lock().unwrap().clone();
    assert_eq!(
        out,
        "[ops] null\n[ops] \"null\"\n[ops] 42\n[ops] \"42\"\n[ops] plain text\n"
    );
    wait_for_text(&serve.stdout, "[ops] \"null\"\n");
}
