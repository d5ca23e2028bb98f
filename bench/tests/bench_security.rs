//! `tcphub-bench` over TLS and with credentials, against in-process tcphub
//! servers: counts that must come out exact over TLS, a baseline run in
//! the same report, handshake phases timed, and a refused credential that
//! fails the run instead of passing unnoticed.
//!
//! Certificates are made at test time with rcgen, into a directory of the
//! test's own; no private key is ever committed.

use std::path::PathBuf;

use clap::Parser;
use tcphub_bench::{self as bench, BenchArgs, Report};
use tcphub_core::{AuthDecision, Grant};
use tcphub_native::{Auth, Server, ServerOptions, TlsOptions};

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

/// The one credential the test hubs grant.
const GOOD_TOKEN: &str = "let-me-in";

/// A self-signed certificate for `localhost` and 127.0.0.1 in a fresh
/// directory, removed on drop.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn new(name: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("tcphub-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                .unwrap();
        std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
        Certs { dir }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    fn ca(&self) -> String {
        self.path("cert.pem").display().to_string()
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A running in-process server; stopped on drop.
struct Hub {
    addr: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A hub over TLS with `certs` when given, granting only [`GOOD_TOKEN`]
/// when `auth`.
async fn hub(certs: Option<&Certs>, auth: bool) -> Hub {
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: certs.map(|c| TlsOptions::new(c.path("cert.pem"), c.path("key.pem"))),
        auth: auth.then(|| {
            Auth::from_fn("test", |request| async move {
                if &*request.token == GOOD_TOKEN {
                    AuthDecision::Grant(Grant::allow_all())
                } else {
                    AuthDecision::Deny
                }
            })
        }),
        ..ServerOptions::default()
    };
    let (server, _hub, _events) = Server::bind(options).await.unwrap();
    let addr = server.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Hub {
        addr,
        stop: Some(stop),
    }
}

/// Runs `tcphub-bench --server ADDR ARGS...` and returns its report.
async fn bench_at(addr: &str, args: &[&str]) -> Report {
    let mut argv = vec!["tcphub-bench", "--server", addr, "--no-progress"];
    argv.extend_from_slice(args);
    let cli = Cli::try_parse_from(argv).unwrap();
    bench::execute(cli.bench).await.unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_over_tls_counts_every_delivery_beside_its_plain_baseline() {
    let certs = Certs::new("fanout");
    let (tls, plain) = (hub(Some(&certs), false).await, hub(None, false).await);
    let pid = std::process::id().to_string();
    let report = bench_at(
        &tls.addr,
        &[
            "--tls",
            "--ca",
            &certs.ca(),
            "--pid",
            &pid,
            "--baseline-hub",
            &plain.addr,
            "--baseline-hub-pid",
            &pid,
            "fanout",
            "--subs",
            "5",
            "--messages",
            "2000",
            "--payload",
            "64",
        ],
    )
    .await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    for prefix in ["", "baseline_"] {
        let get = |name: &str| report.get(&format!("{prefix}{name}"));
        assert_eq!(get("published"), Some(2000.0), "{prefix}published");
        assert_eq!(get("delivered"), Some(10_000.0), "{prefix}delivered");
        assert_eq!(get("lost"), Some(0.0), "{prefix}lost");
        assert!(get("hub_cpu_per_delivery").is_some(), "{prefix}cpu");
    }
    assert_eq!(report.params["baseline_hub"], plain.addr.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_and_latency_run_over_tls() {
    let certs = Certs::new("pairs");
    let tls = hub(Some(&certs), false).await;
    let ca = certs.ca();
    let pairs = bench_at(
        &tls.addr,
        &["--ca", &ca, "pairs", "--pairs", "3", "--messages", "300"],
    )
    .await;
    assert_eq!(pairs.get("lost"), Some(0.0));
    assert_eq!(pairs.get("delivered"), Some(1800.0));
    // The latency publisher writes from a thread of its own, over the
    // TLS session the async join began.
    let latency = bench_at(
        &tls.addr,
        &[
            "--ca",
            &ca,
            "latency",
            "--subs",
            "3",
            "--rate",
            "2000",
            "--duration",
            "0.5",
            "--warmup",
            "0.1",
        ],
    )
    .await;
    assert!(latency.failures.is_empty(), "{:?}", latency.failures);
    assert_eq!(latency.get("lost"), Some(0.0));
    assert!(latency.get("samples").unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_over_tls_with_a_credential_time_each_phase() {
    let certs = Certs::new("handshake");
    let (secured, plain) = (hub(Some(&certs), true).await, hub(None, false).await);
    let pid = std::process::id().to_string();
    let report = bench_at(
        &secured.addr,
        &[
            "--ca",
            &certs.ca(),
            "--server-name",
            "localhost",
            "--token",
            GOOD_TOKEN,
            "--pid",
            &pid,
            "--baseline-hub",
            &plain.addr,
            "handshake",
            "--duration",
            "0.5",
            "--concurrency",
            "4",
        ],
    )
    .await;
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    assert_eq!(report.get("failed"), Some(0.0));
    let completed = report.get("completed").unwrap();
    assert!(completed >= 4.0, "{completed}");
    assert!(report.get("tls_p50").unwrap() > 0.0);
    assert!(report.get("hub_cpu_per_conn").is_some());
    // The baseline is plain: no TLS phase, and its own cycles.
    assert!(report.get("baseline_tls_p50").is_none());
    assert!(report.get("baseline_completed").unwrap() >= 4.0);
    assert_eq!(report.params["tls"], true);
    assert_eq!(report.params["token"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_credential_fails_the_run_and_says_why() {
    let auth = hub(None, true).await;
    let dir = std::env::temp_dir().join(format!("tcphub-bench-{}-tokens", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tokens = dir.join("tokens");
    // hs-0 has the good token, hs-1 a bad one.
    std::fs::write(&tokens, format!("hs-0 {GOOD_TOKEN}\nhs-1 wrong\n")).unwrap();
    let report = bench_at(
        &auth.addr,
        &[
            "--tokens",
            tokens.to_str().unwrap(),
            "handshake",
            "--duration",
            "0.3",
            "--concurrency",
            "2",
        ],
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(report.get("failed"), Some(1.0));
    assert!(report.get("completed").unwrap() >= 1.0);
    let failure = report.failures.join("; ");
    assert!(
        failure.contains("hs-1") && failure.contains("unauthorized"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_not_speaking_tls_is_a_clear_error() {
    let certs = Certs::new("mismatch");
    let plain = hub(None, false).await;
    let argv = [
        "tcphub-bench",
        "--server",
        &plain.addr,
        "--no-progress",
        "--ca",
        &certs.ca(),
        "churn",
        "--duration",
        "0.2",
        "--concurrency",
        "1",
    ];
    let cli = Cli::try_parse_from(argv).unwrap();
    let report = bench::execute(cli.bench).await;
    // churn reports failures per cycle and errs when none completed.
    let err = format!("{:#}", report.unwrap_err());
    assert!(err.contains("TLS handshake"), "{err}");
}

/// The scenarios that handle their connections themselves: the burst's
/// unpaced writer, idle sessions, and list spam (whose idle sessions are
/// checked for quiet at the end, through TLS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_idle_and_list_spam_run_over_tls() {
    let certs = Certs::new("others");
    let tls = hub(Some(&certs), false).await;
    let ca = certs.ca();
    let burst = bench_at(
        &tls.addr,
        &[
            "--ca",
            &ca,
            "burst",
            "--subs",
            "4",
            "--messages",
            "3000",
            "--payload",
            "64",
            "--settle",
            "0",
        ],
    )
    .await;
    assert!(burst.failures.is_empty(), "{:?}", burst.failures);
    assert_eq!(burst.get("delivered"), Some(12_000.0));
    assert_eq!(burst.get("mid_frame"), Some(0.0));

    let idle = bench_at(
        &tls.addr,
        &["--ca", &ca, "idle", "--conns", "10", "--settle", "0"],
    )
    .await;
    assert_eq!(idle.get("connections"), Some(10.0));

    let spam = bench_at(
        &tls.addr,
        &[
            "--ca",
            &ca,
            "list-spam",
            "--sessions",
            "10",
            "--baseline",
            "0.2",
            "--duration",
            "0.3",
            "--ping-interval",
            "10",
            "--settle",
            "0",
        ],
    )
    .await;
    assert!(spam.failures.is_empty(), "{:?}", spam.failures);
    assert!(spam.get("list_replies").unwrap() > 0.0);
    assert_eq!(spam.get("pings_answered"), spam.get("pings_sent"));
    assert_eq!(spam.get("sessions_disturbed"), Some(0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sink_and_nats_refuse_tls() {
    for args in [
        vec!["--ca", "x.pem", "capacity", "--in-process"],
        vec!["--proto", "nats", "--tls", "churn"],
        vec!["--proto", "nats", "--token", "t", "churn"],
    ] {
        let mut argv = vec!["tcphub-bench", "--no-progress"];
        argv.extend(args.iter().copied());
        let cli = Cli::try_parse_from(argv).unwrap();
        let err = format!("{:#}", bench::execute(cli.bench).await.unwrap_err());
        assert!(
            err.contains("plain TCP") || err.contains("tcphub's protocol"),
            "{args:?}: {err}"
        );
    }
}
