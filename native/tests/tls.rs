//! TLS on the listener: the tutorial over TLS, a client that does not
//! trust the hub's certificate, plain text sent to the TLS port and TLS to
//! a plain port, a handshake that never finishes, and the `tcphub` binary
//! with `serve --tls-cert --tls-key` and `connect --tls --ca`.
//!
//! Certificates are made at test time with rcgen, into a directory of the
//! test's own; no private key is ever committed.

mod common;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::serve::{tcphub, wait_for_text, ClientProcess, ServeProcess};
use common::*;
use serde_json::json;
use tcphub_core::{Event, HubFrame};
use tcphub_native::client::{Client, ClientError};
use tcphub_native::{ClientTlsOptions, ServeError, TlsOptions};

/// A self-signed certificate for `localhost` and 127.0.0.1, written as
/// `cert.pem` and `key.pem` in a fresh directory removed on drop; the
/// certificate is its own CA.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new(name: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("tcphub-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
        Certs { dir }
    }

    fn cert(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    fn key(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    fn arg(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn options(&self) -> TlsOptions {
        TlsOptions::new(self.cert(), self.key())
    }

    fn client(&self) -> ClientTlsOptions {
        ClientTlsOptions {
            ca: Some(self.cert()),
            server_name: None,
        }
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn tls_server(certs: &Certs) -> TestServer {
    let tls = certs.options();
    TestServer::with(move |o| o.tls = Some(tls)).await
}

async fn tls_client(server: &TestServer, certs: &Certs) -> Client {
    within(Client::connect_tls(
        &server.addr.to_string(),
        &certs.client(),
    ))
    .await
    .expect("TLS connect")
}

#[tokio::test]
async fn the_tutorial_over_tls() {
    let certs = Certs::new("tutorial");
    let mut server = tls_server(&certs).await;
    let mut c1 = tls_client(&server, &certs).await;
    let mut c2 = tls_client(&server, &certs).await;
    // The tutorial's own bytes, no delimiter: the core sees the same
    // plaintext as over plain TCP.
    c1.send_raw(br#"{"type":"sync","clientName":"Client-1"}"#)
        .await
        .unwrap();
    assert!(matches!(frame(&mut c1).await, HubFrame::Synced { .. }));
    within(c2.sync("Client-2")).await.unwrap();

    c1.send_text(Some("Client-2"), "hello over TLS")
        .await
        .unwrap();
    expect_info(&mut c2, "Client-1", json!("hello over TLS")).await;
    c2.send_text(Some("*"), "to everyone").await.unwrap();
    expect_info(&mut c1, "Client-2", json!("to everyone")).await;
    c1.send_text(None, "for the host").await.unwrap();
    let message = server
        .event(|e| match e {
            Event::Message { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(message.get(), r#""for the host""#);
    assert_eq!(
        server.hub.broadcast(text("from the host")).await.unwrap(),
        2
    );
    for client in [&mut c1, &mut c2] {
        expect_info(client, tcphub_core::HUB_NAME, json!("from the host")).await;
    }

    // A message larger than a TLS record (16 KiB) arrives whole.
    let big = "x".repeat(40_000);
    c2.send_text(Some("Client-1"), &big).await.unwrap();
    expect_info(&mut c1, "Client-2", json!(big)).await;

    let listed = within(c1.list()).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    // A clean `bye` answered, and the stream ends on a whole frame.
    within(c1.bye()).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_reader_that_falls_behind_gets_every_message_in_order() {
    // Enough to fill the socket buffers while the receiver does not read,
    // so the hub's writes over TLS block with records left inside rustls.
    const MESSAGES: usize = 3_000;
    let certs = Certs::new("volume");
    let server = tls_server(&certs).await;
    let mut sender = tls_client(&server, &certs).await;
    let mut receiver = tls_client(&server, &certs).await;
    within(sender.sync("sender")).await.unwrap();
    within(receiver.sync("receiver")).await.unwrap();
    let filler = "y".repeat(2_000);
    let sending = tokio::spawn(async move {
        for i in 0..MESSAGES {
            let message = json!({ "n": i, "filler": filler }).to_string();
            let message = tcphub_core::RawValue::from_string(message).unwrap();
            sender.send_info(Some("receiver"), &message).await.unwrap();
        }
        sender
    });
    for i in 0..MESSAGES {
        match frame(&mut receiver).await {
            HubFrame::Info { message, .. } => assert_eq!(message["n"], json!(i)),
            other => panic!("{other:?}"),
        }
    }
    within(sending).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_trust_the_certificate_is_refused() {
    let certs = Certs::new("trusted");
    let other = Certs::new("other");
    let mut server = tls_server(&certs).await;
    let refused = within(Client::connect_tls(
        &server.addr.to_string(),
        &other.client(),
    ))
    .await;
    match refused {
        Err(ClientError::Io(e)) => assert!(e.to_string().contains("certificate"), "{e}"),
        other => panic!("{other:?}"),
    }
    // A name the certificate does not carry is refused too.
    let wrong_name = ClientTlsOptions {
        server_name: Some("hub.example".into()),
        ..certs.client()
    };
    let refused = within(Client::connect_tls(&server.addr.to_string(), &wrong_name)).await;
    assert!(matches!(refused, Err(ClientError::Io(_))), "{refused:?}");
    // Neither became a session; a trusted client still gets in, by name too.
    let by_name = ClientTlsOptions {
        server_name: Some("localhost".into()),
        ..certs.client()
    };
    let mut client = within(Client::connect_tls(&server.addr.to_string(), &by_name))
        .await
        .unwrap();
    within(client.sync("Client-1")).await.unwrap();
    let connected = server
        .event(|e| match e {
            Event::Opened { session_id, .. } => Some(session_id),
            _ => None,
        })
        .await;
    assert_eq!(connected.to_string(), client.local_addr().to_string());
    assert_eq!(within(server.hub.sessions()).await.len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_ca_file_is_a_config_error_naming_it() {
    let missing = ClientTlsOptions {
        ca: Some("/nonexistent/ca.pem".into()),
        server_name: None,
    };
    match Client::connect_tls("127.0.0.1:9", &missing).await {
        Err(ClientError::TlsConfig(e)) => {
            assert_eq!(e.option, "ca");
            assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn bad_certificate_files_fail_at_bind_naming_the_option() {
    let certs = Certs::new("bad-files");
    let not_pem = certs.dir.join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    for (tls, option) in [
        (
            TlsOptions::new("/nonexistent/cert.pem", certs.key()),
            "tls.cert",
        ),
        (TlsOptions::new(&not_pem, certs.key()), "tls.cert"),
        (TlsOptions::new(certs.cert(), &not_pem), "tls.key"),
        (TlsOptions::new(certs.key(), certs.key()), "tls.cert"),
    ] {
        let options = tcphub_native::ServerOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            tls: Some(tls),
            ..Default::default()
        };
        match tcphub_native::Server::bind(options).await {
            Err(ServeError::Tls(e)) => assert_eq!(e.option, option, "{e}"),
            other => panic!("{option}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_stalled_handshake_is_dropped_at_the_deadline_and_holds_no_session() {
    let certs = Certs::new("stalled");
    let tls = TlsOptions {
        handshake_timeout: Duration::from_millis(300),
        ..certs.options()
    };
    let server = TestServer::with(move |o| {
        o.tls = Some(tls);
        // One session at most: a stalled handshake must not take it.
        o.hub.max_sessions = 1;
    })
    .await;
    // A TLS record header and nothing more, held open.
    let mut stalled = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, &[0x16, 0x03, 0x01])
        .await
        .unwrap();
    // Meanwhile a real client takes the one session and is served.
    let mut client = tls_client(&server, &certs).await;
    within(client.sync("Client-1")).await.unwrap();
    // The stalled one is closed by the server after the deadline.
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = within(tokio::io::AsyncReadExt::read(&mut stalled, &mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let sessions = within(server.hub.sessions()).await;
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn past_the_session_limit_a_tls_client_is_told_so_over_tls() {
    let certs = Certs::new("limit");
    let tls = certs.options();
    let server = TestServer::with(move |o| {
        o.tls = Some(tls);
        o.hub.max_sessions = 1;
    })
    .await;
    let mut first = tls_client(&server, &certs).await;
    within(first.sync("Client-1")).await.unwrap();
    let mut second = tls_client(&server, &certs).await;
    match within(second.sync("Client-2")).await {
        Err(ClientError::ClosedAfterError { code, .. }) => assert_eq!(code, "too_many_sessions"),
        other => panic!("{other:?}"),
    }
    // The first is served as before.
    within(first.list()).await.unwrap();
    server.shutdown().await;
}

/// Reads until the server closes; everything it sent.
fn read_to_close(stream: &mut std::net::TcpStream) -> Vec<u8> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn plain_text_to_the_tls_port_is_closed_and_logged() {
    let certs = Certs::new("plain-to-tls");
    let serve = ServeProcess::start(
        &[
            "--tls-cert",
            &certs.arg("cert.pem"),
            "--tls-key",
            &certs.arg("key.pem"),
        ],
        &[],
    );
    let mut plain = std::net::TcpStream::connect(serve.addr).unwrap();
    plain
        .write_all(b"{\"type\":\"sync\",\"clientName\":\"Client-1\"}\n")
        .unwrap();
    let answer = read_to_close(&mut plain);
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    wait_for_text(&serve.stderr, "not TLS: plain text reached the TLS port");
    // The port still serves TLS clients.
    let listed = tcphub(
        &[
            "list",
            "-s",
            &serve.server_arg(),
            "--ca",
            &certs.arg("cert.pem"),
        ],
        "",
    );
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let (status, _out, logs) = serve.terminate();
    assert!(status.success(), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn tls_to_a_plain_port_gets_no_json_and_is_logged() {
    let certs = Certs::new("tls-to-plain");
    let serve = ServeProcess::start(&[], &[]);
    let refused = tcphub(
        &[
            "list",
            "-s",
            &serve.server_arg(),
            "--tls",
            "--ca",
            &certs.arg("cert.pem"),
        ],
        "",
    );
    assert_eq!(refused.status.code(), Some(1));
    wait_for_text(&serve.stderr, "a TLS client reached a plain port");
    // By hand: a ClientHello's first bytes, and nothing JSON comes back.
    let mut raw = std::net::TcpStream::connect(serve.addr).unwrap();
    raw.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])
        .unwrap();
    let answer = read_to_close(&mut raw);
    assert!(
        !answer.contains(&b'{'),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
    // Plain clients are served as ever.
    let listed = tcphub(&["list", "-s", &serve.server_arg()], "");
    assert!(listed.status.success());
    let (status, _out, logs) = serve.terminate();
    assert!(status.success(), "{logs}");
    assert!(!logs.contains("panicked"), "{logs}");
}

#[test]
fn a_stalled_handshake_is_logged_after_the_cli_deadline() {
    let certs = Certs::new("cli-stalled");
    let serve = ServeProcess::start(
        &[
            "--tls-cert",
            &certs.arg("cert.pem"),
            "--tls-key",
            &certs.arg("key.pem"),
            "--tls-handshake-timeout",
            "200ms",
        ],
        &[],
    );
    let mut stalled = std::net::TcpStream::connect(serve.addr).unwrap();
    stalled.write_all(&[0x16, 0x03, 0x01]).unwrap();
    assert!(read_to_close(&mut stalled).is_empty());
    wait_for_text(&serve.stderr, "TLS handshake not finished in time");
}

#[test]
fn the_cli_connects_over_tls() {
    let certs = Certs::new("cli");
    let serve = ServeProcess::start(
        &[],
        &[
            ("TCPHUB_TLS_CERT", &certs.arg("cert.pem")),
            ("TCPHUB_TLS_KEY", &certs.arg("key.pem")),
        ],
    );
    let server = serve.server_arg();
    let ca = certs.arg("cert.pem");
    let listener = ClientProcess::start(&[
        "connect", "--name", "Client-1", "--stay", "-s", &server, "--tls", "--ca", &ca,
    ]);
    wait_for_text(&listener.stderr, "connected to");
    let sent = tcphub(
        &[
            "send",
            "--to",
            "Client-1",
            "--name",
            "tool",
            "hello",
            "-s",
            &server,
            "--tls",
            "--ca",
            &ca,
            "--server-name",
            "localhost",
        ],
        "",
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    wait_for_text(&listener.stdout, "[tool] hello");
    // Without --tls the client speaks plain JSON to the TLS port: refused.
    let plain = tcphub(&["list", "-s", &server], "");
    assert_eq!(plain.status.code(), Some(1));
    let (status, _out, logs) = serve.terminate();
    assert!(status.success(), "{logs}");
}

#[test]
fn serve_refuses_half_a_tls_configuration_and_bad_files() {
    let certs = Certs::new("cli-bad");
    let half = tcphub(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &certs.arg("cert.pem"),
        ],
        "",
    );
    assert_eq!(half.status.code(), Some(2));
    let err = String::from_utf8_lossy(&half.stderr);
    assert!(err.contains("--tls-key"), "{err}");
    let bad = tcphub(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            &certs.arg("cert.pem"),
            "--tls-key",
            "/nonexistent/key.pem",
        ],
        "",
    );
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--tls-key") && err.contains("/nonexistent/key.pem"),
        "{err}"
    );
    assert!(!err.contains("listening"), "{err}");
}
