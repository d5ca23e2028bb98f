//! `tcphub bench` against an in-process tcphub server: tiny runs whose
//! counts must come out exact (the figures themselves are not checked;
//! timing belongs to `tests/bench/run`).

use clap::Parser;
use tcphub_native::bench::{self, BenchArgs, Report};
use tcphub_native::{Server, ServerOptions};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// Runs `tcphub bench ARGS...` against a fresh server and returns its report.
async fn bench_against_server(args: &[&str]) -> Report {
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerOptions::default()
    };
    let (server, _hub, _events) = Server::bind(options).await.unwrap();
    let addr = server.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut argv = vec!["bench", "--server", &addr, "--no-progress"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    let report = bench::execute(cli.bench).await.unwrap().unwrap();
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_counts_every_delivery_exactly() {
    let report = bench_against_server(&[
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
    assert!(report.get("deliveries_per_s").unwrap() > 0.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["scenario"], "fanout");
    assert_eq!(json["params"]["subs"], 7);
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
    assert_eq!(report.get("delivered"), Some(3000.0));
    assert_eq!(report.get("lost"), Some(0.0));
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
    assert!(report.get("p50").unwrap() <= report.get("max").unwrap());
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
