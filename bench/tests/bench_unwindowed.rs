//! The unwindowed mode of `fanout` and `pairs` (`--window 0`) against an
//! in-process tcphub server: the counts come out exact when the hub
//! delivers everything, and the run fails, with its figures, when the hub
//! loses a message or cuts a reader.

mod common;

use clap::Parser;
use common::Cli;
use tcphub_bench::{self as bench, Report};
use tcphub_core::{Event, HubConfig};
use tcphub_native::{Server, ServerOptions};

/// Runs `tcphub-bench ARGS...` against a fresh server configured as
/// `hub`; `printing` runs it as the binary does (report printed, failures
/// an error), else it returns the report whatever it found.
async fn against(hub: HubConfig, args: &[&str], printing: bool) -> anyhow::Result<Report> {
    common::run_against(hub, args, printing).await.0
}

fn get(report: &Report, name: &str) -> f64 {
    report
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {report:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwindowed_fanout_counts_every_delivery_exactly() {
    let pid = std::process::id().to_string();
    let args = [
        "--pid",
        &pid,
        "fanout",
        "--window",
        "0",
        "--subs",
        "5",
        "--messages",
        "5000",
        "--batch",
        "64",
    ];
    let report = against(HubConfig::default(), &args, true).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(get(&report, "published"), 5000.0);
    assert_eq!(get(&report, "delivered"), 25_000.0);
    assert_eq!(get(&report, "lost"), 0.0);
    assert!(get(&report, "deliveries_per_s") > 0.0);
    assert!(get(&report, "hub_cpu_per_delivery") >= 0.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["params"]["window"], 0);
    assert_eq!(json["params"]["batch"], 64, "no window clamps the batch");
    assert_eq!(json["params"]["drain"], 10.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwindowed_pairs_burst_and_count_every_delivery_exactly() {
    let args = [
        "pairs",
        "--window",
        "0",
        "--pairs",
        "3",
        "--messages",
        "2000",
        "--drain",
        "5",
    ];
    let report = against(HubConfig::default(), &args, true).await.unwrap();
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(get(&report, "published"), 12_000.0);
    assert_eq!(get(&report, "delivered"), 12_000.0);
    assert_eq!(get(&report, "lost"), 0.0);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["params"]["drain"], 5.0);
}

/// A hub that relays nothing (`relay: false` answers each message with an
/// error to its sender): every delivery is lost, and after `--drain` the
/// run fails, as the binary would, with a non-zero exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_message_fails_the_unwindowed_run() {
    let dropping = HubConfig {
        relay: false,
        ..HubConfig::default()
    };
    for scenario in [
        &["fanout", "--subs", "3"][..],
        &["pairs", "--pairs", "2"][..],
    ] {
        let mut args = scenario.to_vec();
        args.extend(["--window", "0", "--messages", "50", "--drain", "0.3"]);
        let error = against(dropping.clone(), &args, true).await.unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains("deliveries never arrived"), "{text}");

        let report = against(dropping.clone(), &args, false).await.unwrap();
        assert!(get(&report, "lost") > 0.0);
        assert_eq!(get(&report, "delivered"), 0.0);
        assert!(
            report
                .failures
                .iter()
                .any(|f| f.contains("deliveries never arrived")),
            "{:?}",
            report.failures
        );
    }
}

/// The host closes the first subscriber as soon as the publisher joins
/// (its `bye` arrives in the middle of the run, as a slow consumer's
/// would): the run fails, naming the hub's farewell, and counts the rest
/// of that reader's deliveries lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cut_fails_the_unwindowed_run() {
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
    let closer = tokio::spawn(async move {
        let mut victim = None;
        while let Some(event) = events.recv().await {
            if let Event::Synced {
                session_id, alias, ..
            } = event
            {
                match alias.as_str() {
                    "sub-0" => victim = Some(session_id.to_string()),
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
        "fanout",
        "--window",
        "0",
        "--subs",
        "3",
        "--messages",
        "20000",
        "--drain",
        "2",
    ])
    .unwrap();
    let report = bench::execute(cli.bench).await.unwrap().unwrap();
    closer.await.unwrap();
    let _ = stop.send(());
    serving.await.unwrap().unwrap();

    assert!(
        report
            .failures
            .iter()
            .any(|f| f.contains("the hub cut a reader") && f.contains("bye")),
        "{:?}",
        report.failures
    );
    assert!(get(&report, "lost") > 0.0);
    assert_eq!(
        get(&report, "delivered") + get(&report, "lost"),
        get(&report, "published") * 3.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_belongs_to_the_unwindowed_mode() {
    let args = [
        "fanout",
        "--window",
        "8",
        "--drain",
        "1",
        "--messages",
        "10",
    ];
    let error = against(HubConfig::default(), &args, false)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("--drain is for"), "{error}");
    let args = ["pairs", "--window", "0", "--drain=-1", "--messages", "10"];
    let error = against(HubConfig::default(), &args, false)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("--drain must be"), "{error}");
}
