//! Rate limits and the per-address cap through the real `tcphub serve`:
//! one client over its limit is told `rate_limited`, another is not.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::serve::*;
use serde_json::Value;

struct Raw {
    writer: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(addr: &str) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Raw {
            reader: BufReader::new(stream.try_clone().unwrap()),
            writer: stream,
        }
    }

    fn send(&mut self, frame: &str) {
        self.writer.write_all(frame.as_bytes()).unwrap();
    }

    fn frame(&mut self) -> Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("a frame");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
    }
}

#[test]
fn a_client_over_the_rate_limit_is_refused_and_another_is_not() {
    // One frame a minute after a burst of 3: the test cannot earn a token
    // back by being slow.
    let serve = ServeProcess::start(
        &["--rate-limit-message-burst", "3"],
        &[("TCPHUB_RATE_LIMIT_MESSAGES", "1")],
    );
    let addr = serve.addr.to_string();
    let mut fast = Raw::connect(&addr);
    let mut calm = Raw::connect(&addr);
    fast.send(r#"{"type":"sync","clientName":"fast"}"#);
    assert_eq!(fast.frame()["type"], "synced");
    // The sync took one token of three: two pings pass, the third does not.
    fast.send(r#"{"type":"ping","id":1}{"type":"ping","id":2}{"type":"ping","id":3}"#);
    assert_eq!(fast.frame()["type"], "pong");
    assert_eq!(fast.frame()["type"], "pong");
    let refused = fast.frame();
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "rate_limited", "{refused}");
    assert_eq!(refused["id"], 3, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("1 per second"),
        "{refused}"
    );

    calm.send(r#"{"type":"ping","id":"calm"}"#);
    let pong = calm.frame();
    assert_eq!(pong["type"], "pong", "{pong}");
    assert_eq!(pong["id"], "calm");

    // bye is never refused.
    fast.send(r#"{"type":"bye"}"#);
    let bye = fast.frame();
    assert_eq!(bye["type"], "bye", "{bye}");
    assert_eq!(bye["reason"], "client_bye", "{bye}");
    drop(serve);
}

#[test]
fn the_per_address_cap_refuses_one_connection_too_many() {
    let serve = ServeProcess::start(&["--max-connections-per-address", "1"], &[]);
    let addr = serve.addr.to_string();
    let mut first = Raw::connect(&addr);
    first.send(r#"{"type":"ping"}"#);
    assert_eq!(first.frame()["type"], "pong");
    let mut second = Raw::connect(&addr);
    let refused = second.frame();
    assert_eq!(refused["code"], "too_many_connections", "{refused}");
    first.send(r#"{"type":"ping"}"#);
    assert_eq!(first.frame()["type"], "pong");
    drop(serve);
}

#[test]
fn limit_options_are_bounded_by_name() {
    let out = tcphub(&["serve", "--rate-limit-messages", "0"], "");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--rate-limit-messages"), "{err}");
    let out = tcphub(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--rate-limit-bytes",
            "1KiB",
            "--rate-limit-bytes-burst",
            "1KiB",
        ],
        "",
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rate_limit_bytes_burst 1024"), "{err}");
}
