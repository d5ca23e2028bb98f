//! `tcphub serve --metrics`: a real hub scraped over HTTP after known
//! traffic, `tcphub stats` reading the same endpoint, bad addresses, and
//! docs/metrics.md run as written.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::raw::RawClient;
use common::serve::{tcphub, wait_for_text, ServeProcess};
use common::shell::{self, path_with_tcphub};
use common::WAIT;
use tcphub_native::metrics::{parse, Sample};

/// A hub with metrics on a free port; returns it and the metrics address
/// (read from its log, as the port was picked by the OS).
/// `tcphub stats --interval 200ms` against the metrics endpoint: its
/// output, once it exited successfully.
fn stats_every_200ms(metrics: SocketAddr) -> String {
    let out = tcphub(
        &[
            "stats",
            "--metrics",
            &metrics.to_string(),
            "--interval",
            "200ms",
        ],
        "",
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

fn serve_with_metrics(args: &[&str]) -> (ServeProcess, SocketAddr) {
    let mut all = vec!["--metrics", "127.0.0.1:0"];
    all.extend_from_slice(args);
    ServeProcess::start(&all, &[]).metrics_pair()
}

trait MetricsAddr {
    fn metrics_addr(&self) -> SocketAddr;
    fn metrics_pair(self) -> (ServeProcess, SocketAddr);
}

impl MetricsAddr for ServeProcess {
    /// The address of the `metrics on http://.../metrics` log line.
    fn metrics_addr(&self) -> SocketAddr {
        wait_for_text(&self.stderr, "metrics on http://");
        let logs = self.stderr.lock().unwrap().clone();
        logs.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|j| {
                j["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("metrics on"))
            })
            .and_then(|j| j["addr"].as_str().and_then(|a| a.parse().ok()))
            .unwrap_or_else(|| panic!("no metrics address in\n{logs}"))
    }

    fn metrics_pair(self) -> (ServeProcess, SocketAddr) {
        let addr = self.metrics_addr();
        (self, addr)
    }
}

/// One HTTP exchange: `request` sent as is, the whole answer back.
fn http(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect to metrics");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    answer
}

fn scrape(addr: SocketAddr) -> Vec<Sample> {
    let answer = http(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(
        head.contains("Content-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    parse(body)
}

fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    samples
        .iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.label(k) == Some(v)))
        .unwrap_or_else(|| panic!("no {name} {label:?}"))
        .value
}

/// Scrapes until `check` holds (the hub counts a frame when it hands it
/// out, before the peer has read it, but a close is counted only once
/// the hub task has heard of it).
fn scrape_until(addr: SocketAddr, what: &str, check: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let deadline = Instant::now() + WAIT;
    loop {
        let samples = scrape(addr);
        if check(&samples) {
            return samples;
        }
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_scrape_counts_the_traffic_exactly() {
    let (hub, metrics) = serve_with_metrics(&[]);
    let mut a = RawClient::connect(hub.addr);
    let mut b = RawClient::connect(hub.addr);
    let mut c = RawClient::connect(hub.addr);
    a.sync("A");
    b.sync("B");
    c.sync("C");
    a.send_line(r#"{"type":"info","to":"*","message":"to all"}"#);
    b.expect_json(WAIT, "the broadcast");
    c.expect_json(WAIT, "the broadcast");
    a.send_line(r#"{"type":"info","to":"B","message":"to B"}"#);
    b.expect_json(WAIT, "the relay");
    a.send_line(r#"{"type":"info","to":"Nobody","message":"lost"}"#);
    a.expect_json(WAIT, "unknown_alias");
    c.send_line(r#"{"type":"bye"}"#);
    c.read_to_end(WAIT);

    let samples = scrape_until(metrics, "c's close", |s| {
        value(s, "tcphub_closes_total", Some(("reason", "client_bye"))) == 1.0
    });
    let frames = |kind| {
        value(
            &samples,
            "tcphub_frames_received_total",
            Some(("kind", kind)),
        )
    };
    assert_eq!(
        (
            frames("sync"),
            frames("relay_all"),
            frames("relay"),
            frames("bye")
        ),
        (3.0, 1.0, 2.0, 1.0)
    );
    // 3 `synced`, 2 of the broadcast, 1 relay, 1 error, c's farewell.
    assert_eq!(value(&samples, "tcphub_frames_sent_total", None), 8.0);
    assert_eq!(
        value(
            &samples,
            "tcphub_errors_total",
            Some(("code", "unknown_alias"))
        ),
        1.0
    );
    assert_eq!(value(&samples, "tcphub_sessions_open", None), 2.0);
    assert_eq!(value(&samples, "tcphub_aliases_held", None), 2.0);
    assert_eq!(value(&samples, "tcphub_sessions_opened_total", None), 3.0);
    assert!(value(&samples, "tcphub_received_bytes_total", None) > 100.0);

    // A person's view of the same numbers.
    let out = tcphub(&["stats", "--metrics", &metrics.to_string()], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (label, expected) in [
        ("sessions open", "2"),
        ("frames sent", "8"),
        ("unknown_alias", "1"),
        ("client_bye", "1"),
        ("relay_all", "1"),
    ] {
        assert_eq!(row(&text, label), Some(expected), "{label} in\n{text}");
    }
    drop((a, b));
}

/// The value on the row of `tcphub stats` output that starts with `label`.
fn row<'a>(text: &'a str, label: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| {
            l.trim_start()
                .strip_prefix(label)
                .is_some_and(|r| r.starts_with("  "))
        })
        .and_then(|l| l.split_whitespace().last())
}

#[test]
fn stats_with_an_interval_shows_rates() {
    let (hub, metrics) = serve_with_metrics(&[]);
    let mut a = RawClient::connect(hub.addr);
    a.sync("A");
    let text = stats_every_200ms(metrics);
    assert!(text.contains("per second"), "{text}");
    assert!(text.contains("0/s"), "nothing moved meanwhile: {text}");
}

#[test]
fn other_paths_and_methods_are_refused() {
    let (_hub, metrics) = serve_with_metrics(&[]);
    let not_found = http(metrics, "GET / HTTP/1.1\r\n\r\n");
    assert!(not_found.starts_with("HTTP/1.1 404"), "{not_found}");
    let post = http(metrics, "POST /metrics HTTP/1.1\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
    let head = http(metrics, "HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        head.starts_with("HTTP/1.1 200") && head.ends_with("\r\n\r\n"),
        "{head}"
    );
    let garbage = http(metrics, &"x".repeat(20_000));
    assert!(garbage.starts_with("HTTP/1.1 400"), "{garbage}");
}

#[test]
fn a_bad_metrics_address_is_named() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = tcphub(
        &["serve", "--listen", "127.0.0.1:0", "--metrics", &addr],
        "",
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("--metrics {addr}")), "{err}");

    let out = tcphub(&["serve", "--metrics", "localhost:nine"], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("--metrics") && err.contains("localhost:nine"),
        "{err}"
    );

    // `stats` against nothing, and against something that is not metrics.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = tcphub(&["stats", "--metrics", &closed], "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(&format!("cannot reach {closed}")), "{err}");
}

/// The library's side: `HubHandle::stats` and a metrics server run by a
/// host program; once the hub stops, a scrape says so (503) rather than
/// hanging.
#[tokio::test]
async fn a_host_program_reads_stats_and_serves_them() {
    let server = common::TestServer::start().await;
    let mut client = server.synced("A").await;
    client.send_text(Some("*"), "nobody else").await.unwrap();
    let ping = client.ping().await.unwrap();
    loop {
        let frame = client.next_frame().await.unwrap().expect("pong");
        if ping.is_answered_by(&frame) {
            break;
        }
    }
    let stats = server.hub.stats().await.unwrap();
    assert_eq!((stats.sessions_open(), stats.aliases_held()), (1, 1));
    assert_eq!(stats.frames_in(tcphub_core::FrameKind::RelayAll), 1);
    assert_eq!(
        stats.frames_out(),
        2,
        "synced and pong; the relay reached no one"
    );

    let metrics = tcphub_native::metrics::MetricsServer::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let addr = metrics.local_addr();
    tokio::spawn(metrics.run(server.hub.clone()));
    let text = tcphub_native::metrics::fetch(&addr.to_string(), WAIT)
        .await
        .unwrap();
    assert!(text.contains("tcphub_sessions_open 1\n"), "{text}");
    server.shutdown().await;
    let stopped = tcphub_native::metrics::fetch(&addr.to_string(), WAIT).await;
    assert!(
        stopped
            .as_ref()
            .is_err_and(|e| e.to_string().contains("503")),
        "{stopped:?}"
    );
}

/// The hub task's working time is published, grows with the work the
/// hub does, and `tcphub stats --interval` shows its share of one core.
/// (Only "it grows": how much a turn takes depends on the machine.)
#[test]
fn the_hub_task_busy_time_grows_with_work() {
    const BUSY: &str = "tcphub_hub_task_busy_seconds_total";
    let (hub, metrics) = serve_with_metrics(&[]);
    let mut a = RawClient::connect(hub.addr);
    let mut b = RawClient::connect(hub.addr);
    a.sync("A");
    b.sync("B");
    let before = value(&scrape(metrics), BUSY, None);
    assert!(before >= 0.0);
    const MESSAGES: usize = 500;
    for i in 0..MESSAGES {
        a.send_line(&format!(r#"{{"type":"info","to":"B","message":{i}}}"#));
    }
    for _ in 0..MESSAGES {
        b.expect_json(WAIT, "a relay");
    }
    let after = scrape_until(metrics, "the relays' time counted", |s| {
        value(s, BUSY, None) > before
    });
    assert!(value(&after, BUSY, None) > 0.0);

    let text = stats_every_200ms(metrics);
    let share = row(&text, "hub task busy").unwrap_or_else(|| panic!("no busy row in\n{text}"));
    let percent: f64 = share
        .strip_suffix('%')
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("not a share: {share:?} in\n{text}"));
    // Not bounded above: a turn's time is added when it ends, so a turn
    // that began before the first scrape can land in the interval.
    assert!(percent >= 0.0, "{text}");
    drop((a, b));
}

/// A host program reads the same figure from its handle, without asking
/// the hub task.
#[tokio::test]
async fn a_host_program_reads_the_hub_task_busy_time() {
    let server = common::TestServer::start().await;
    let mut client = server.synced("A").await;
    let ping = client.ping().await.unwrap();
    loop {
        let frame = client.next_frame().await.unwrap().expect("pong");
        if ping.is_answered_by(&frame) {
            break;
        }
    }
    assert!(server.hub.hub_task_busy() > Duration::ZERO);
    server.shutdown().await;
}

/// A directory of the test's own, removed at the end.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The "Try it" block of docs/metrics.md, line by line with a real shell.
/// The hub and its metrics listen on free ports; the lines after it are
/// pointed at them (the hub by `TCPHUB_SERVER`, the metrics address by
/// replacing the documented one).
#[test]
fn the_metrics_example_runs_as_written() {
    const DOC_METRICS: &str = "127.0.0.1:9100";
    let dir = TempDir(std::env::temp_dir().join(format!("tcphub-metrics-{}", std::process::id())));
    let _ = std::fs::remove_dir_all(&dir.0);
    std::fs::create_dir_all(&dir.0).unwrap();
    let section = shell::section("metrics.md", "## Try it");
    let path = path_with_tcphub();
    let mut hub: Option<(ServeProcess, SocketAddr)> = None;
    let mut ran = 0;
    for line in section.sh.iter().flatten() {
        if line.command.starts_with("tcphub serve") {
            assert!(line.command.ends_with('&'), "a hub runs in the background");
            let words: Vec<String> = line
                .command
                .split_whitespace()
                .filter(|w| *w != "&")
                .map(str::to_owned)
                .collect();
            let args = common::doc_block::with_value(&words[1..], "--listen", "127.0.0.1:0");
            let args = common::doc_block::with_value(&args, "--metrics", "127.0.0.1:0");
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let started =
                ServeProcess::start_exactly_in(&dir.0, &args, &[("TCPHUB_LOG_FORMAT", "json")]);
            hub = Some(started.metrics_pair());
            continue;
        }
        let (serving, metrics) = hub.as_ref().expect("the hub starts first");
        let server = serving.server_arg();
        let command = line.command.replace(DOC_METRICS, &metrics.to_string());
        let env = [("PATH", path.as_str()), ("TCPHUB_SERVER", server.as_str())];
        let out = shell::run(&command, &dir.0, &env);
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{command:?}: {said}");
        if let Some(expected) = &line.printed {
            assert!(said.contains(expected.as_str()), "{command:?}: {said}");
        }
        ran += 1;
    }
    assert!(ran >= 3, "the block runs commands against the hub");
    let (serving, _) = hub.expect("a hub");
    let (status, _out, logs) = serving.terminate();
    assert!(status.success(), "{logs}");
}
