//! Request and reply from the shell, through the real binary: `tcphub
//! request` against `tcphub reply` (a fixed message, a command), a
//! refused request, a timeout, the host answering on `serve --console`,
//! `sub` and `connect` showing requests, the serve flags, and the
//! library's `HubHandle::reply`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::serve::*;
use serde_json::{json, Value};
use tcphub_core::{Event, HubError, HubFrame, ReplyAddress};
use tcphub_native::CommandError;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `tcphub ARGS -s SERVER` to its end with `stdin`.
fn run(server: &str, args: &[&str], stdin: &str) -> std::process::Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-s", server]);
    tcphub(&all, stdin)
}

/// Starts `tcphub reply ARGS -s SERVER` and waits until it answers.
fn responder(server: &str, args: &[&str]) -> ClientProcess {
    let mut all = vec!["reply"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-s", server]);
    let process = ClientProcess::start(&all);
    wait_for_text(&process.stderr, "answering requests to");
    process
}

/// Asserts the command exited with `code`; returns its stdout and stderr.
fn exited(out: &std::process::Output, code: i32) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (stdout, stderr)
}

#[test]
fn a_request_gets_the_fixed_reply_printed_as_json() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let clock = responder(&server, &["--name", "clock", "--count", "3", "12:00"]);

    let out = run(
        &server,
        &["request", "--name", "ops", "clock", "what time is it?"],
        "",
    );
    let (stdout, _) = exited(&out, 0);
    assert_eq!(stdout, "\"12:00\"\n");

    // --json: the whole reply.
    let out = run(&server, &["request", "--json", "clock", "1"], "");
    let (stdout, _) = exited(&out, 0);
    let reply: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        reply,
        json!({"type": "reply", "from": "clock", "message": "12:00"})
    );

    // `-`: the message from stdin, trailing line breaks dropped.
    let out = run(&server, &["request", "clock", "-"], "{\"q\": [1, 2]}\n\n");
    exited(&out, 0);

    // Three answered: the responder leaves on its own, status 0.
    let (status, shown) = clock.wait();
    assert_eq!(status.code(), Some(0), "{shown}");
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), 3, "{shown}");
    assert_eq!(lines[0], "[ops] (request 2.1) what time is it?");
    assert!(lines[1].ends_with("(request 3.2) 1"), "{shown}");
    assert!(lines[2].ends_with("(request 4.3) {\"q\":[1,2]}"), "{shown}");
}

#[test]
fn a_command_answers_with_its_output_as_json_or_text() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let _upper = responder(&server, &["--name", "upper", "--command", "tr a-z A-Z"]);
    let ask = |message: &str| {
        let out = run(&server, &["request", "--name", "ops", "upper", message], "");
        exited(&out, 0).0
    };
    // The request's message is the command's stdin, as JSON: `"hello"`
    // comes back `"HELLO"`, JSON, so the string HELLO.
    assert_eq!(ask("hello"), "\"HELLO\"\n");
    assert_eq!(ask("{\"a\":\"b\"}"), "{\"A\":\"B\"}\n");

    // Output that is not JSON is text; the asker is in the environment.
    let _who = responder(
        &server,
        &[
            "--name",
            "who",
            "--command",
            "echo \"asked by $TCPHUB_REQUEST_FROM\"",
        ],
    );
    let out = run(&server, &["request", "--name", "ops", "who", "?"], "");
    assert_eq!(exited(&out, 0).0, "\"asked by ops\"\n");

    // A failing command is answered with an error saying so.
    let failing = responder(
        &server,
        &["--name", "failing", "--command", "echo oops >&2; exit 3"],
    );
    let out = run(&server, &["request", "failing", "x"], "");
    let reply: Value = serde_json::from_str(&exited(&out, 0).0).unwrap();
    let error = reply["error"].as_str().expect("an error reply");
    assert!(error.contains("exit status: 3"), "{error}");
    // Its stderr reaches the responder's stderr.
    wait_for_text(&failing.stderr, "oops");

    // A command past --command-timeout is killed, and says so.
    let _slow = responder(
        &server,
        &[
            "--name",
            "slow",
            "--command",
            "sleep 30",
            "--command-timeout",
            "200ms",
        ],
    );
    let out = run(&server, &["request", "slow", "x"], "");
    let reply: Value = serde_json::from_str(&exited(&out, 0).0).unwrap();
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|e| e.contains("still running after 200ms")),
        "{reply}"
    );
}

#[test]
fn a_request_to_nobody_exits_1_naming_the_code() {
    let serve = ServeProcess::start(&[], &[]);
    let out = run(&serve.server_arg(), &["request", "nobody", "1"], "");
    let (stdout, stderr) = exited(&out, 1);
    assert_eq!(stdout, "");
    assert!(
        stderr.contains("error: unknown_alias: no session holds alias \"nobody\""),
        "{stderr}"
    );
}

#[test]
fn an_unanswered_request_exits_4_and_sub_shows_it() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let sub = ClientProcess::start(&["sub", "--name", "quiet", "--count", "1", "-s", &server]);
    wait_for_text(&sub.stderr, "subscribed to");
    let out = run(
        &server,
        &[
            "request",
            "--name",
            "ops",
            "--timeout",
            "300ms",
            "quiet",
            "anyone?",
        ],
        "",
    );
    let (stdout, stderr) = exited(&out, 4);
    assert_eq!(stdout, "");
    assert!(stderr.contains("error: request_timeout:"), "{stderr}");
    assert!(stderr.contains("quiet"), "{stderr}");
    let (status, shown) = sub.wait();
    assert_eq!(status.code(), Some(0));
    let line: Value = serde_json::from_str(shown.trim()).unwrap();
    assert_eq!(
        line,
        json!({"type": "request", "from": "ops", "replyTo": "2.1", "message": "anyone?"})
    );

    // Without --timeout, the hub's --request-timeout applies.
    let serve = ServeProcess::start(&["--request-timeout", "200ms"], &[]);
    let out = run(&serve.server_arg(), &["request", "--host", "anyone?"], "");
    let (_, stderr) = exited(&out, 4);
    assert!(stderr.contains("request_timeout"), "{stderr}");
}

#[test]
fn the_host_answers_on_its_console() {
    let mut serve = ServeProcess::start(&["--console"], &[]);
    let server = serve.server_arg();
    let asking = ClientProcess::start(&[
        "request",
        "--host",
        "--name",
        "ops",
        "is the kitchen open?",
        "-s",
        &server,
    ]);
    wait_for_text(&serve.stdout, "[ops] (request 1.1) is the kitchen open?");
    serve.console("/reply 1.1 until 21:00");
    let (status, shown) = asking.wait();
    assert_eq!(status.code(), Some(0));
    assert_eq!(shown, "\"until 21:00\"\n");

    // Answered already; and a replyTo that is none.
    serve.console("/reply 1.1 again");
    wait_for_text(
        &serve.stderr,
        "no request \"1.1\" is waiting for the host's reply",
    );
    serve.console("/reply seven x");
    wait_for_text(&serve.stderr, "\"seven\" is not a replyTo");
}

#[test]
fn connect_asks_and_answers_with_slash_commands() {
    let serve = ServeProcess::start(&[], &[]);
    let server = serve.server_arg();
    let env = [("TCPHUB_SERVER", server.as_str())];
    // One after the other, so Client-1 is session 1 and its first
    // request's replyTo is 1.1.
    let mut one = ClientProcess::start_typing(&["connect", "--name", "Client-1"], &env);
    wait_for_text(&one.stderr, "connected to");
    let mut two = ClientProcess::start_typing(&["connect", "--name", "Client-2"], &env);
    wait_for_text(&two.stderr, "connected to");
    one.type_line("/request Client-2 are you there?");
    wait_for_text(&two.stdout, "[Client-1] (request 1.1) are you there?");
    two.type_line("/reply 1.1 yes, here");
    wait_for_text(&one.stdout, "[Client-2] (reply) yes, here");
    two.type_line("/reply 1.1 twice");
    wait_for_text(&two.stdout, "[error] unknown_request:");
}

#[test]
fn bad_flags_exit_2_naming_them() {
    let usage = |args: &[&str], needle: &str| {
        let out = tcphub(args, "");
        let (_, stderr) = exited(&out, 2);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    };
    usage(&["request"], "give ALIAS and MESSAGE");
    usage(&["request", "--host"], "give MESSAGE");
    usage(&["request", "clock"], "give ALIAS and MESSAGE");
    usage(
        &["request", "--host", "clock", "hi"],
        "--host asks the host",
    );
    usage(&["request", "--timeout", "0", "clock", "hi"], "--timeout");
    usage(
        &["request", "--timeout", "soon", "clock", "hi"],
        "--timeout",
    );
    usage(&["reply", "--name", "clock"], "required");
    usage(
        &["reply", "--name", "clock", "12:00", "--command", "date"],
        "cannot be used with",
    );
    usage(&["reply", "clock"], "--name");
    usage(&["reply", "--name", "c", "--count", "0", "x"], "--count");
    usage(&["serve", "--request-timeout", "0"], "--request-timeout");
    usage(
        &["serve", "--max-request-timeout", "nan"],
        "--max-request-timeout",
    );
    usage(
        &["serve", "--max-pending-requests", "0"],
        "--max-pending-requests",
    );
    usage(
        &[
            "serve",
            "--request-timeout",
            "2m",
            "--max-request-timeout",
            "1m",
        ],
        "--request-timeout 120s must not be longer than --max-request-timeout 60s",
    );
    usage(
        &["serve", "--max-request-timeout", "1s"],
        "--request-timeout 5s must not be longer than --max-request-timeout 1s",
    );
}

#[test]
fn serve_flags_set_the_hub_and_metrics_count_requests() {
    let serve = ServeProcess::start(
        &[
            "--max-pending-requests",
            "1",
            "--max-request-timeout",
            "300ms",
            "--request-timeout",
            "100ms",
            "--metrics",
            "127.0.0.1:0",
        ],
        &[],
    );
    // A raw session: one request waits (its timeout cut to 300ms), the
    // second is refused.
    let mut raw = TcpStream::connect(serve.addr).unwrap();
    raw.write_all(b"{\"type\":\"request\",\"message\":1,\"id\":1,\"timeout\":600000}\n{\"type\":\"request\",\"message\":2,\"id\":2}\n")
        .unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.lines().count() < 2 {
        let n = raw.read(&mut buf).unwrap();
        assert!(n > 0, "{seen}");
        seen.push_str(&text(&buf[..n]));
    }
    let lines: Vec<Value> = seen
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["code"], "too_many_requests", "{seen}");
    assert_eq!(lines[0]["id"], 2);
    assert_eq!(lines[1]["code"], "request_timeout", "{seen}");
    assert_eq!(lines[1]["id"], 1);

    // The new frame kinds and error codes are exported.
    wait_for_text(&serve.stderr, "metrics on http://");
    let logs = serve.stderr.lock().unwrap().clone();
    let addr = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|j| {
            j["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("metrics on"))
        })
        .and_then(|j| j["addr"].as_str().map(str::to_owned))
        .unwrap();
    let mut http = TcpStream::connect(addr.as_str()).unwrap();
    http.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    http.read_to_string(&mut body).unwrap();
    for sample in [
        "tcphub_frames_received_total{kind=\"request\"} 2",
        "tcphub_frames_received_total{kind=\"reply\"} 0",
        "tcphub_errors_total{code=\"too_many_requests\"} 1",
        "tcphub_errors_total{code=\"request_timeout\"} 1",
        "tcphub_errors_total{code=\"unknown_request\"} 0",
    ] {
        assert!(body.contains(sample), "no {sample} in\n{body}");
    }
}

/// The library's side: a request for the host is an `Event::Request`, and
/// `HubHandle::reply` answers it once.
#[tokio::test]
async fn the_host_program_answers_with_hub_handle_reply() {
    let mut server = common::TestServer::start().await;
    let mut asker = server.synced("asker").await;
    asker
        .send_request(None, &common::raw("{\"q\":\"time?\"}"), Some(5000))
        .await
        .unwrap();
    let (reply_to, message, alias) = server
        .event(|event| match event {
            Event::Request {
                reply_to,
                message,
                alias,
                ..
            } => Some((reply_to, message, alias)),
            _ => None,
        })
        .await;
    assert_eq!(message.get(), "{\"q\":\"time?\"}");
    assert_eq!(alias.map(|a| a.to_string()).as_deref(), Some("asker"));
    server
        .hub
        .reply(reply_to.clone(), common::raw("\"12:00\""))
        .await
        .unwrap();
    match common::frame(&mut asker).await {
        HubFrame::Reply { from, message, id } => {
            assert_eq!(from, "#hub");
            assert_eq!(message, json!("12:00"));
            assert!(id.is_some());
        }
        other => panic!("{other:?}"),
    }
    // Answered: a second reply, and one to a request never made, are
    // refused with a typed error, and nothing is sent.
    for address in [reply_to, ReplyAddress::parse("9.99").unwrap()] {
        match server.hub.reply(address.clone(), common::raw("1")).await {
            Err(CommandError::Hub(HubError::UnknownRequest(named))) => {
                assert_eq!(named, address.to_string())
            }
            other => panic!("{other:?}"),
        }
    }
    common::expect_nothing_more(&mut asker).await;
    server.shutdown().await;
}
