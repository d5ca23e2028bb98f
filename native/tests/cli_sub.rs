//! `tcphub sub`, `send -` / `send --lines` and `list --json` as a script
//! uses them: JSON lines out, exit statuses that say what happened, and
//! docs/native.md's `sh` block run as written.

mod common;

use std::process::ExitStatus;

use common::serve::*;
use common::shell::{self, path_with_tcphub};
use serde_json::{json, Value};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Starts `tcphub sub ARGS -s SERVER` and waits until it has subscribed:
/// nothing sent after that is missed.
fn sub(server: &str, args: &[&str]) -> ClientProcess {
    let mut all = vec!["sub"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-s", server]);
    let process = ClientProcess::start(&all);
    wait_for_text(&process.stderr, "subscribed to");
    process
}

/// Its exit status and its stdout as JSON values, one per line.
fn finish(process: ClientProcess) -> (ExitStatus, Vec<Value>) {
    let (status, out) = process.wait();
    let lines = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {out}")))
        .collect();
    (status, lines)
}

fn message(from: &str, room: Option<&str>, message: Value) -> Value {
    json!({"type": "message", "from": from, "room": room, "lastWill": false, "message": message})
}

fn send(server: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-s", server]);
    let out = tcphub(&all, stdin);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    out
}

#[test]
fn sub_prints_one_json_object_per_message_and_exits_0_after_count() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let listener = sub(&server, &["--count", "4"]);
    // The string "null" and JSON null stay apart, as does the text `42`.
    send(&server, &["--to", "*", "--name", "ops", "null"], "");
    send(
        &server,
        &["--to", "*", "--name", "ops", "--json", "null"],
        "",
    );
    send(
        &server,
        &["--to", "*", "--name", "ops", "--json", "{\"temp\":21.5}"],
        "",
    );
    send(
        &server,
        &["--to", "*", "--name", "ops", "-"],
        "两行\n第二行\n",
    );
    let (status, lines) = finish(listener);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        lines,
        [
            message("ops", None, json!("null")),
            message("ops", None, Value::Null),
            message("ops", None, json!({"temp": 21.5})),
            message("ops", None, json!("两行\n第二行")),
        ]
    );
}

#[test]
fn sub_with_a_name_and_rooms_gets_its_own_and_its_rooms_messages() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let listener = sub(
        &server,
        &[
            "--name", "Client-1", "--room", "lobby", "--room", "kitchen", "--count", "3",
        ],
    );
    send(
        &server,
        &["--to", "Client-1", "--name", "ops", "direct"],
        "",
    );
    send(&server, &["--room", "kitchen", "--name", "ops", "soup"], "");
    send(&server, &["--room", "lobby", "--json", "[1,2]"], "");
    let (status, lines) = finish(listener);
    assert_eq!(status.code(), Some(0));
    assert_eq!(lines[0], message("ops", None, json!("direct")));
    assert_eq!(lines[1], message("ops", Some("kitchen"), json!("soup")));
    // An unnamed sender is its session id.
    assert_eq!(lines[2]["room"], "lobby");
    assert_eq!(lines[2]["message"], json!([1, 2]));
    assert!(
        lines[2]["from"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{}",
        lines[2]
    );
}

#[test]
fn sub_presence_prints_presence_events() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let watcher = sub(&server, &["--presence", "--count", "2"]);
    send(&server, &["--name", "ops", "to the host"], "");
    let (status, lines) = finish(watcher);
    assert_eq!(status.code(), Some(0));
    let events: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            assert_eq!(l["type"], "presence", "{l}");
            assert!(l["sessionId"].is_string(), "{l}");
            (l["event"].as_str().unwrap(), l["alias"].as_str().unwrap())
        })
        .collect();
    assert_eq!(events, [("synced", "ops"), ("closed", "ops")]);
    assert_eq!(lines[0]["room"], Value::Null);
    assert!(lines[1]["reason"].is_string(), "{}", lines[1]);

    // With a room: who joins it.
    let room_watcher = sub(&server, &["--room", "lobby", "--presence", "--count", "1"]);
    let member = sub(&server, &["--name", "Client-2", "--room", "lobby"]);
    let (status, lines) = finish(room_watcher);
    assert_eq!(status.code(), Some(0));
    assert_eq!(lines[0]["event"], "joined");
    assert_eq!(lines[0]["alias"], "Client-2");
    assert_eq!(lines[0]["room"], "lobby");
    drop(member);
}

#[test]
fn sub_timeout_exits_4_and_count_reached_first_exits_0() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let waiting = sub(&server, &["--count", "1", "--timeout", "300ms"]);
    let (status, lines) = finish(waiting);
    assert_eq!(status.code(), Some(4));
    assert!(lines.is_empty());
    // Without --count the timeout ends it all the same, with 4.
    let (status, _) = finish(sub(&server, &["--timeout", "200ms"]));
    assert_eq!(status.code(), Some(4));
    let quick = sub(&server, &["--count", "1", "--timeout", "1m"]);
    send(&server, &["--to", "*", "hi"], "");
    let (status, lines) = finish(quick);
    assert_eq!(status.code(), Some(0));
    assert_eq!(lines.len(), 1);
}

#[test]
fn sub_exits_3_when_taken_over_and_0_when_the_hub_shuts_down() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let taken = sub(&server, &["--name", "Client-1"]);
    let stderr = taken.stderr.clone();
    send(&server, &["--name", "Client-1", "hello host"], "");
    let (status, lines) = finish(taken);
    assert_eq!(status.code(), Some(3));
    assert!(lines.is_empty());
    assert!(
        stderr.lock().unwrap().contains("taken_over"),
        "{}",
        stderr.lock().unwrap()
    );

    let until_shutdown = sub(&server, &[]);
    let with_count = sub(&server, &["--count", "5"]);
    let (status, _, _) = serve.terminate();
    assert!(status.success());
    assert_eq!(finish(until_shutdown).0.code(), Some(0));
    assert_eq!(finish(with_count).0.code(), Some(3));
}

#[test]
fn sub_into_a_pipe_closed_early_ends_quietly() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let path = path_with_tcphub();
    let env = [("PATH", path.as_str()), ("TCPHUB_SERVER", server.as_str())];
    let dir = std::env::temp_dir();
    // `head` exits after one line; the next write finds the pipe closed.
    let pipeline = shell::spawn("tcphub sub | head -n 1", &dir, &env);
    wait_for_text(&pipeline.stderr, "subscribed to");
    send(&server, &["--to", "*", "first"], "");
    wait_for_text(&pipeline.stdout, "\"first\"");
    send(&server, &["--to", "*", "second"], "");
    let stderr = pipeline.stderr.clone();
    let (status, out) = pipeline.wait();
    assert!(status.success(), "{}", stderr.lock().unwrap());
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        !stderr.lock().unwrap().contains("error"),
        "{}",
        stderr.lock().unwrap()
    );
}

#[test]
fn sub_options_are_checked() {
    for (args, needle) in [
        (&["sub", "--count", "0"][..], "--count"),
        (&["sub", "--timeout", "0s"][..], "--timeout"),
        (&["sub", "--timeout", "soon"][..], "--timeout"),
        (&["sub", "--token", "x"][..], "--name"),
        (&["send", "--lines", "hello"][..], "--lines"),
        (&["send", "--lines", "--json"][..], "--lines"),
    ] {
        let out = tcphub(args, "");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            text(&out.stderr).contains(needle),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = nobody.local_addr().unwrap().to_string();
    drop(nobody);
    let refused = tcphub(&["sub", "-s", &closed], "");
    assert_eq!(refused.status.code(), Some(1));
    let serve = ServeProcess::start(&[], &[]);
    let bad_room = tcphub(&["sub", "--room", "*", "-s", &serve.server_arg()], "");
    assert_eq!(bad_room.status.code(), Some(1));
    assert!(
        text(&bad_room.stderr).contains("invalid_room"),
        "{}",
        text(&bad_room.stderr)
    );
}

#[test]
fn send_lines_sends_json_or_text_per_line_and_stops_at_the_first_error() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let listener = sub(&server, &["--name", "Client-1", "--count", "5"]);
    send(
        &server,
        &["--to", "Client-1", "--name", "ops", "--lines"],
        "42\n\"42\"\n\n   \nnull\nplain text\r\n{\"a\": [1, 2]}\n",
    );
    let (status, lines) = finish(listener);
    assert_eq!(status.code(), Some(0));
    let messages: Vec<&Value> = lines.iter().map(|l| &l["message"]).collect();
    assert_eq!(
        messages,
        [
            &json!(42),
            &json!("42"),
            &Value::Null,
            &json!("plain text"),
            &json!({"a": [1, 2]})
        ]
    );

    // Line 2 is the first one sent (line 1 is blank), and refused.
    let refused = tcphub(
        &["send", "--to", "Nobody", "--lines", "-s", &server],
        "\nlost\nlost too\n",
    );
    assert_eq!(refused.status.code(), Some(1));
    let err = text(&refused.stderr);
    assert!(err.contains("error: line 2: unknown_alias"), "{err}");
    assert_eq!(err.matches("unknown_alias").count(), 1, "{err}");

    // No input: nothing to send, nothing refused.
    let empty = tcphub(&["send", "--lines", "-s", &server], "");
    assert!(empty.status.success(), "{}", text(&empty.stderr));

    // `send -` with --json reads the value from stdin, and says where
    // the bad JSON came from.
    let bad = tcphub(&["send", "--json", "-", "-s", &server], "{oops\n");
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stderr).contains("stdin is not valid JSON"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn list_json_is_one_document_with_every_field() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let _listener = sub(&server, &["--name", "Client-1"]);
    let out = tcphub(&["list", "--json", "-s", &server], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let listing: Value = serde_json::from_str(&stdout).unwrap();
    let sessions = listing["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{listing}");
    for row in sessions {
        assert_eq!(row.as_object().unwrap().len(), 3, "{row}");
        assert_eq!(row["node"], Value::Null);
    }
    // The documented order of fields, as printed.
    assert!(stdout.starts_with("{\"self\":\""), "{stdout}");
    assert!(
        stdout.contains("\"sessions\":[{\"sessionId\":\""),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"clientName\":\"Client-1\",\"node\":null}"),
        "{stdout}"
    );
    assert_eq!(sessions[0]["clientName"], "Client-1");
    assert_eq!(sessions[1]["clientName"], Value::Null);
    assert_eq!(sessions[1]["sessionId"], listing["self"]);
}

/// docs/native.md's `sh` block for `sub`, run as written: the hub in the
/// background, each `tcphub sub` left running as in a terminal of its own,
/// the other lines run to completion, and each `# prints:` checked.
#[test]
fn the_sub_section_runs_as_written() {
    let dir = std::env::temp_dir().join(format!("tcphub-cli-sub-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let section = shell::section("native.md", "### `tcphub sub`");
    let lines: Vec<_> = section.sh.iter().flatten().collect();
    assert!(lines.len() >= 4, "{lines:?}");
    let path = path_with_tcphub();
    let mut hub: Option<ServeProcess> = None;
    let mut server = String::new();
    let mut subs = Vec::new();
    for line in lines {
        let env = [("PATH", path.as_str()), ("TCPHUB_SERVER", server.as_str())];
        if line.command.starts_with("tcphub serve") {
            let words: Vec<&str> = line.command.split_whitespace().collect();
            assert_eq!(words, ["tcphub", "serve", "&"], "{}", line.command);
            let started = ServeProcess::start(&[], &[]);
            server = started.server_arg();
            hub = Some(started);
        } else if line.command.starts_with("tcphub sub") {
            let process = shell::spawn(&line.command, &dir, &env);
            wait_for_text(&process.stderr, "subscribed to");
            subs.push((process, line.printed.clone()));
        } else {
            let out = shell::run(&line.command, &dir, &env);
            let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(out.status.success(), "{:?}: {said}", line.command);
            if let Some(expected) = &line.printed {
                assert!(
                    said.contains(expected.as_str()),
                    "{:?}: {said}",
                    line.command
                );
            }
        }
    }
    assert!(hub.is_some(), "the block starts a hub");
    assert!(subs.iter().any(|(_, p)| p.is_some()));
    for (process, expected) in &subs {
        if let Some(expected) = expected {
            wait_for_text(&process.stdout, expected);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The hashes of `two-s3cret` and `ops-s3cret`, from docs/security.md.
const AUTH_TOML: &str = r#"
[aliases.Client-2]
secret = "$argon2id$v=19$m=19456,t=2,p=1$9EW1pUagSIGEP1KVc9IrGA$WD8Ybj9MmD3G1f200xojWt+CSVlTYY2ZbBqQM3AfiwQ"

[aliases.ops]
secret = "$argon2id$v=19$m=19456,t=2,p=1$9AdcxLklK24Db2oU395XrA$BjvrxQXVZo/5+Edo3pQTK4w2WF7SfyOJ/uylI2y9Agg"
relay = []
"#;

#[test]
fn sub_signs_in_with_a_token_on_a_hub_with_authentication() {
    let file =
        std::env::temp_dir().join(format!("tcphub-cli-sub-auth-{}.toml", std::process::id()));
    std::fs::write(&file, AUTH_TOML).unwrap();
    let serve = ServeProcess::start(&["--auth", file.to_str().unwrap()], &[]);
    let server = serve.server_arg();
    let listener = sub(
        &server,
        &[
            "--name",
            "Client-2",
            "--token",
            "two-s3cret",
            "--count",
            "1",
        ],
    );
    send(
        &server,
        &[
            "--to",
            "*",
            "--name",
            "ops",
            "--token",
            "ops-s3cret",
            "hello",
        ],
        "",
    );
    let (status, lines) = finish(listener);
    assert_eq!(status.code(), Some(0));
    assert_eq!(lines, [message("ops", None, json!("hello"))]);

    let refused = tcphub(
        &[
            "sub", "--name", "Client-2", "--token", "guess", "-s", &server,
        ],
        "",
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("unauthorized"),
        "{}",
        text(&refused.stderr)
    );
    let _ = std::fs::remove_file(&file);
}
