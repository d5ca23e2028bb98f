//! `tcphub-bench` against an in-process tcphub server: tiny runs whose
//! counts must come out exact and whose figures must agree with each other
//! (their size is not checked: timing belongs to `tests/bench/run`).

mod common;

use clap::Parser;
use common::Cli;
use tcphub_bench::{self as bench, Report};
use tcphub_core::{Event, HubConfig, RelayTarget};
use tcphub_native::{HostEvents, Server, ServerOptions};

/// Runs `tcphub-bench ARGS...` against a fresh server and returns its report.
async fn bench_against_server(args: &[&str]) -> Report {
    bench_against_hub(HubConfig::default(), args).await.0
}

/// Runs `tcphub-bench ARGS...` against a fresh server with `hub` as its
/// configuration; returns the report and the host's events, unread.
async fn bench_against_hub(hub: HubConfig, args: &[&str]) -> (Report, HostEvents) {
    let (report, events) = common::run_against(hub, args, false).await;
    (report.unwrap(), events)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_every_delivery_exactly() {
    let pid = std::process::id().to_string();
    let report = bench_against_server(&[
        "--pid",
        &pid,
        "fanout",
        "--subs",
        "7",
        "--messages",
        "1000",
        "--payload",
        "64",
        "--window",
        "64",
        "--batch",
        "10",
    ])
    .await;
    assert_eq!(report.get("published"), Some(1000.0));
    assert_eq!(report.get("delivered"), Some(7000.0));
    assert_eq!(report.get("lost"), Some(0.0));
    rates_agree_with_counts(&report, 64.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["scenario"], "fanout");
    assert_eq!(json["params"]["subs"], 7);
}

/// A room run counts as a broadcast run does, and the hub really routed
/// it to the room: observed, every message went to the room, to each
/// subscriber (the publisher is no member).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_to_a_room_counts_every_delivery_exactly() {
    let pid = std::process::id().to_string();
    let observing = HubConfig {
        observe: true,
        ..HubConfig::default()
    };
    let (report, mut events) = bench_against_hub(
        observing,
        &[
            "--pid",
            &pid,
            "fanout",
            "--room",
            "lobby",
            "--subs",
            "7",
            "--messages",
            "1000",
            "--payload",
            "64",
            "--window",
            "64",
            "--batch",
            "10",
        ],
    )
    .await;
    assert_eq!(report.get("published"), Some(1000.0));
    assert_eq!(report.get("delivered"), Some(7000.0));
    assert_eq!(report.get("lost"), Some(0.0));
    rates_agree_with_counts(&report, 64.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["params"]["room"], "lobby");
    let (mut relayed, mut joined) = (0, 0);
    while let Some(event) = events.try_recv() {
        match event {
            Event::Joined { room, .. } => {
                assert_eq!(room.as_str(), "lobby");
                joined += 1;
            }
            Event::Relayed {
                alias,
                target,
                recipients,
                ..
            } => {
                assert_eq!(alias.unwrap().as_str(), "pub");
                assert!(
                    matches!(&target, RelayTarget::Room(room) if room.as_str() == "lobby"),
                    "{target:?}"
                );
                assert_eq!(recipients, 7);
                relayed += 1;
            }
            _ => {}
        }
    }
    assert_eq!((joined, relayed), (7, 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_run_needs_tcphub() {
    let cli = Cli::try_parse_from([
        "bench",
        "--proto",
        "nats",
        "--server",
        "127.0.0.1:9",
        "fanout",
        "--room",
        "lobby",
    ])
    .unwrap();
    let error = bench::execute(cli.bench).await.unwrap_err();
    assert!(error.to_string().contains("--room is tcphub's"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_deliver_each_message_to_the_partner() {
    let report = bench_against_server(&[
        "pairs",
        "--pairs",
        "3",
        "--messages",
        "500",
        "--window",
        "50",
    ])
    .await;
    assert_eq!(report.get("published"), Some(3000.0));
    assert_eq!(report.get("delivered"), Some(3000.0));
    assert_eq!(report.get("lost"), Some(0.0));
    rates_agree_with_counts(&report, 64.0);
}

/// `--cluster` with one server named twice: the placement code runs (the
/// publisher on the first "node", the others spread), the counts stay
/// exact and the report names the nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_runs_spread_clients_and_count_exactly() {
    let cluster = ["--cluster", "ADDR,ADDR", "--cluster-settle", "0"];
    // The "cluster's processes" are this one, where the server runs.
    let pid = std::process::id().to_string();
    let mut args = cluster.to_vec();
    args.extend(["--cluster-pids", &pid, "fanout", "--subs", "5"]);
    args.extend(["--messages", "300", "--window", "64"]);
    let fanout = bench_against_server(&args).await;
    assert!(fanout.get("hub_cpu_per_delivery").is_some());
    assert_eq!(fanout.get("delivered"), Some(1500.0));
    assert_eq!(fanout.get("lost"), Some(0.0));
    assert_eq!(fanout.params["nodes"], 2);
    assert_eq!(fanout.server.split(',').count(), 2);

    let mut args = cluster.to_vec();
    args.extend(["pairs", "--pairs", "3", "--messages", "200"]);
    let pairs = bench_against_server(&args).await;
    assert_eq!(pairs.get("delivered"), Some(1200.0));

    let mut args = cluster.to_vec();
    args.extend([
        "latency",
        "--subs",
        "2",
        "--rate",
        "1000",
        "--duration",
        "0.1",
    ]);
    args.extend(["--warmup", "0"]);
    let latency = bench_against_server(&args).await;
    assert_eq!(latency.get("samples"), Some(200.0));
}

/// Scenarios without a cluster placement refuse `--cluster` rather than
/// quietly measuring one node; latency needs a node besides the publisher's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_is_refused_where_it_has_no_meaning() {
    for args in [
        &["--cluster", "127.0.0.1:1", "churn", "--duration", "0.1"][..],
        &["--cluster", "127.0.0.1:1", "latency"][..],
    ] {
        let mut argv = vec!["tcphub-bench", "--no-progress"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).unwrap();
        let error = bench::execute(cli.bench).await.unwrap_err();
        assert!(error.to_string().contains("--cluster"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_samples_every_message_after_warmup() {
    let report = bench_against_server(&[
        "latency",
        "--subs",
        "3",
        "--rate",
        "1000",
        "--duration",
        "0.2",
        "--warmup",
        "0",
    ])
    .await;
    assert_eq!(report.get("samples"), Some(600.0));
    assert_eq!(report.get("lost"), Some(0.0));
    let get = |name: &str| report.get(name).unwrap_or_else(|| panic!("no {name}"));
    assert!(0.0 < get("p50") && get("p50") <= get("p90"));
    assert!(get("p90") <= get("p99") && get("p99") <= get("p99_9"));
    assert!(
        get("p99_9") <= get("max") * 1.001,
        "within the histogram's precision"
    );
    assert!(get("mean") <= get("max"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_measures_the_memory_of_a_process() {
    let pid = std::process::id().to_string();
    let report =
        bench_against_server(&["--pid", &pid, "idle", "--conns", "20", "--settle", "0"]).await;
    assert_eq!(report.get("connections"), Some(20.0));
    assert!(report.get("rss_after").unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_generator_speaks_nats_to_a_sink() {
    for proto in ["nats", "tcphub"] {
        let cli = Cli::try_parse_from([
            "bench",
            "--proto",
            proto,
            "--no-progress",
            "capacity",
            "--in-process",
            "--subs",
            "2",
            "--duration",
            "0.2",
        ])
        .unwrap();
        let report = bench::execute(cli.bench).await.unwrap().unwrap();
        assert!(report.get("published_per_s").unwrap() > 0.0, "{proto}");
        assert!(report.get("received_per_s").unwrap() > 0.0, "{proto}");
    }
}

/// A run's rates are its counts over its elapsed time, and the CPU per
/// delivery (when measured) is the CPU time over the deliveries.
fn rates_agree_with_counts(report: &Report, payload: f64) {
    let get = |name: &str| report.get(name).unwrap_or_else(|| panic!("no {name}"));
    let elapsed = get("elapsed");
    assert!(elapsed > 0.0);
    let delivered = get("delivered");
    assert!(close_to(get("deliveries_per_s") * elapsed, delivered, 1e-9));
    assert!(close_to(
        get("published_per_s") * elapsed,
        get("published"),
        1e-9
    ));
    assert!(close_to(
        get("payload_mb_per_s") * elapsed * 1e6,
        delivered * payload,
        1e-9
    ));
    if let Some(cpu) = report.get("hub_cpu") {
        let per_delivery = get("hub_cpu_per_delivery");
        assert!(close_to(per_delivery, cpu * 1e9 / delivered, 1e-9));
        assert!(cpu > 0.0, "the hub (this process) did work");
    }
    assert!(report.get("generator_cpu_per_delivery").unwrap() >= 0.0);
}

/// `a` and `b` agree to within `tolerance` (relative).
fn close_to(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance * a.abs().max(b.abs())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_delivers_everything_and_reports_the_memory() {
    let pid = std::process::id().to_string();
    let report = bench_against_server(&[
        "--pid",
        &pid,
        "burst",
        "--subs",
        "5",
        "--messages",
        "2000",
        "--payload",
        "64",
        "--batch",
        "50",
        "--settle",
        "0",
        "--sample-ms",
        "5",
    ])
    .await;
    let get = |name: &str| report.get(name).unwrap_or_else(|| panic!("no {name}"));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(get("published"), 2000.0);
    assert_eq!(get("expected"), 10_000.0);
    assert_eq!(get("delivered"), 10_000.0);
    assert_eq!(get("lost"), 0.0);
    rates_agree_with_counts(&report, 64.0);
    assert_eq!(get("readers_cut"), 0.0);
    assert_eq!(get("mid_frame"), 0.0);
    assert!(close_to(
        get("deliveries_per_s") * get("elapsed"),
        10_000.0,
        1e-6
    ));
    assert!(close_to(
        get("payload_mb_per_s") * get("elapsed") * 1e6,
        10_000.0 * 64.0,
        1e-6
    ));
    assert!(get("rss_samples") >= 1.0);
    assert!(get("rss_before") > 0.0);
    assert!(get("rss_peak") >= get("rss_before"));
    assert!(get("rss_peak") >= get("rss_after"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_fails_when_the_hub_cuts_a_reader() {
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerOptions::default()
    };
    let (server, hub, mut events) = Server::bind(options).await.unwrap();
    let addr = server.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    // The host closes the first subscriber as soon as the publisher joins.
    let closer = tokio::spawn(async move {
        let mut victim = None;
        while let Some(event) = events.recv().await {
            if let Event::Synced {
                session_id: peer,
                alias,
                ..
            } = event
            {
                match alias.as_str() {
                    "sub-0" => victim = Some(peer.to_string()),
                    "pub" => return hub.close_session(victim.unwrap()).await.unwrap(),
                    _ => {}
                }
            }
        }
    });
    let cli = Cli::try_parse_from([
        "bench",
        "--server",
        &addr,
        "--no-progress",
        "burst",
        "--subs",
        "3",
        "--messages",
        "20000",
        "--payload",
        "64",
        "--settle",
        "0",
    ])
    .unwrap();
    let report = bench::execute(cli.bench).await.unwrap().unwrap();
    closer.await.unwrap();
    let _ = stop.send(());
    serving.await.unwrap().unwrap();

    let get = |name: &str| report.get(name).unwrap();
    assert_eq!(get("readers_cut"), 1.0);
    assert_eq!(
        get("mid_frame"),
        0.0,
        "the hub ends a closed stream on a whole frame"
    );
    assert!(get("lost") > 0.0);
    assert_eq!(get("delivered") + get("lost"), get("expected"));
    assert!(
        report.failures[0].contains("cut 1 of 3 readers"),
        "{:?}",
        report.failures
    );
    let json = serde_json::to_value(&report).unwrap();
    assert!(json["failures"].as_array().is_some_and(|f| !f.is_empty()));
}

/// p50 <= p99 <= max for the pings of one phase, and how many there were.
fn ping_phase(report: &Report, phase: &str) -> f64 {
    let get = |what: &str| report.get(&format!("ping_{phase}_{what}")).unwrap();
    assert!(get("p50") > 0.0);
    assert!(
        get("p50") <= get("p99") && get("p99") <= get("max"),
        "{phase}"
    );
    report.get(&format!("pings_{phase}")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_spam_answers_every_ping_and_counts_the_replies() {
    let pid = std::process::id().to_string();
    let report = bench_against_server(&[
        "--pid",
        &pid,
        "list-spam",
        "--sessions",
        "30",
        "--baseline",
        "0.3",
        "--duration",
        "0.5",
        "--ping-interval",
        "10",
        "--batch",
        "64",
        "--settle",
        "0",
    ])
    .await;
    let get = |name: &str| report.get(name).unwrap_or_else(|| panic!("no {name}"));
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    let measured = ping_phase(&report, "base") + ping_phase(&report, "spam");
    assert_eq!(get("pings_answered"), get("pings_sent"));
    // Pings sent after the spam phase are answered but not measured.
    assert!(measured <= get("pings_answered") && measured >= 20.0);
    assert!(get("list_replies") > 0.0);
    assert!(get("list_replies") <= get("list_requests_sent"));
    let seconds = get("list_replies") / get("list_answered_per_s");
    assert!((0.5..1.5).contains(&seconds), "{seconds}");
    // 32 rows (30 idle sessions, the pinger, the spammer) of about 50 bytes.
    let size = get("list_reply_size") * 1024.0;
    assert!((32.0 * 40.0..32.0 * 80.0).contains(&size), "{size}");
    assert_eq!(get("spammer_cut"), 0.0);
    assert_eq!(get("sessions_disturbed"), 0.0);
    assert!(get("rss_peak") >= get("rss_before"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_spam_without_reading_gets_no_replies_and_disturbs_no_one() {
    let report = bench_against_server(&[
        "list-spam",
        "--sessions",
        "10",
        "--baseline",
        "0.1",
        "--duration",
        "0.4",
        "--no-read",
        "--settle",
        "0",
    ])
    .await;
    let get = |name: &str| report.get(name).unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(get("list_replies"), 0.0);
    assert_eq!(get("list_answered_per_s"), 0.0);
    assert!(get("list_requests_sent") > 0.0);
    assert_eq!(get("spammer_cut"), 0.0, "the write deadline is 10 s");
    assert_eq!(get("pings_answered"), get("pings_sent"));
    assert_eq!(get("sessions_disturbed"), 0.0);
    assert!(report.get("rss_before").is_none(), "no --pid, no memory");
}

/// What the generator sends is what a client of the hub receives: a
/// watcher joined beside the fan-out's subscribers gets every broadcast,
/// each from `pub` with the payload the generator wrote.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_delivers_the_messages_it_sent() {
    use tcphub_core::{HubFrame, HubLines};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerOptions::default()
    };
    let (server, _hub, _events) = Server::bind(options).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut watcher = tokio::net::TcpStream::connect(addr).await.unwrap();
    watcher
        .write_all(&tcphub_core::encode_sync("watcher"))
        .await
        .unwrap();
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    let watching = tokio::spawn(async move {
        let mut lines = HubLines::default();
        let mut synced = Some(synced_tx);
        let mut messages = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = watcher.read(&mut chunk).await.unwrap();
            if n == 0 {
                return messages;
            }
            lines.push(&chunk[..n]);
            while let Some(frame) = lines.next_frame() {
                match frame.unwrap() {
                    HubFrame::Synced { .. } => {
                        let _ = synced.take().unwrap().send(());
                    }
                    HubFrame::Info { from, message, .. } => {
                        messages.push((from, message));
                        if messages.len() == 300 {
                            return messages;
                        }
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
    });
    synced_rx.await.unwrap();
    let addr = addr.to_string();
    let cli = Cli::try_parse_from([
        "tcphub-bench",
        "--server",
        &addr,
        "--no-progress",
        "fanout",
        "--subs",
        "3",
        "--messages",
        "300",
        "--payload",
        "40",
    ])
    .unwrap();
    let report = bench::execute(cli.bench).await.unwrap().unwrap();
    assert_eq!(report.get("published"), Some(300.0));
    assert_eq!(report.get("delivered"), Some(900.0));
    let seen = watching.await.unwrap();
    assert_eq!(seen.len(), 300);
    let payload = serde_json::Value::String("x".repeat(40));
    for (from, message) in seen {
        assert_eq!(from, "pub");
        assert_eq!(message, payload);
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}

/// A client of the hub as a test reads it: one frame at a time.
struct Client {
    stream: tokio::net::TcpStream,
    lines: tcphub_core::HubLines,
}

impl Client {
    /// Syncs as `name`, joins `room` if given, and waits for the answer.
    async fn join(addr: std::net::SocketAddr, name: &str, room: Option<&str>) -> Client {
        use tokio::io::AsyncWriteExt;
        let mut client = Client {
            stream: tokio::net::TcpStream::connect(addr).await.unwrap(),
            lines: tcphub_core::HubLines::default(),
        };
        let mut hello = tcphub_core::encode_sync(name);
        hello.extend_from_slice(&room.map(tcphub_core::encode_join).unwrap_or_default());
        client.stream.write_all(&hello).await.unwrap();
        loop {
            match client.next().await {
                tcphub_core::HubFrame::Synced { .. } if room.is_none() => return client,
                tcphub_core::HubFrame::Joined { .. } => return client,
                tcphub_core::HubFrame::Synced { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    async fn next(&mut self) -> tcphub_core::HubFrame {
        use tokio::io::AsyncReadExt;
        loop {
            if let Some(frame) = self.lines.next_frame() {
                return frame.unwrap();
            }
            let mut chunk = vec![0u8; 64 * 1024];
            let n = self.stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "the hub closed the connection");
            self.lines.push(&chunk[..n]);
        }
    }
}

/// A room run reaches the room's members and no one else: a member
/// beside the subscribers gets every message, from `pub` and naming the
/// room; a client that only synced gets none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_to_a_room_reaches_its_members_only() {
    use tcphub_core::HubFrame;
    use tokio::io::AsyncWriteExt;

    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerOptions::default()
    };
    let (server, _hub, _events) = Server::bind(options).await.unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut member = Client::join(addr, "member", Some("lobby")).await;
    let mut outsider = Client::join(addr, "outsider", None).await;
    let listening = tokio::spawn(async move {
        let mut messages = Vec::new();
        while messages.len() < 300 {
            match member.next().await {
                HubFrame::Info {
                    from,
                    room,
                    message,
                    ..
                } => messages.push((from, room, message)),
                other => panic!("unexpected {other:?}"),
            }
        }
        messages
    });
    let addr_text = addr.to_string();
    let cli = Cli::try_parse_from([
        "tcphub-bench",
        "--server",
        &addr_text,
        "--no-progress",
        "fanout",
        "--room",
        "lobby",
        "--subs",
        "3",
        "--messages",
        "300",
        "--payload",
        "40",
    ])
    .unwrap();
    let report = bench::execute(cli.bench).await.unwrap().unwrap();
    assert_eq!(report.get("published"), Some(300.0));
    assert_eq!(report.get("delivered"), Some(900.0));
    let seen = listening.await.unwrap();
    let payload = serde_json::Value::String("x".repeat(40));
    for (from, room, message) in seen {
        assert_eq!(from, "pub");
        assert_eq!(room.as_deref(), Some("lobby"));
        assert_eq!(message, payload);
    }
    // Everything the hub sent the outsider before this pong is all it got.
    outsider
        .stream
        .write_all(tcphub_core::encode_ping())
        .await
        .unwrap();
    match outsider.next().await {
        HubFrame::Pong { .. } => {}
        other => panic!("the outsider got {other:?}"),
    }
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
}
