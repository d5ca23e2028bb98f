//! What the bench's tests share: a fresh in-process tcphub server for each
//! run of `tcphub-bench`.

use clap::Parser;
use tcphub_bench::{self as bench, BenchArgs, Report};
use tcphub_core::HubConfig;
use tcphub_native::{HostEvents, Server, ServerOptions};

/// The binary's command line, for a test to parse arguments as it does.
#[derive(Debug, Parser)]
pub struct Cli {
    #[command(flatten)]
    pub bench: BenchArgs,
}

/// Runs `tcphub-bench ARGS...` against a fresh server configured as `hub`;
/// "ADDR" in an argument stands for the server's address, only known here.
/// `printing` runs it as the binary does (report printed, a failed run an
/// error), else the report comes back whatever the run found. The host's
/// events come back unread.
pub async fn run_against(
    hub: HubConfig,
    args: &[&str],
    printing: bool,
) -> (anyhow::Result<Report>, HostEvents) {
    let options = ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        hub,
        ..ServerOptions::default()
    };
    let (server, _hub, events) = Server::bind(options).await.unwrap();
    let addr = server.local_addr().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut argv = vec!["tcphub-bench".to_owned(), "--server".into(), addr.clone()];
    argv.push("--no-progress".into());
    argv.extend(args.iter().map(|a| a.replace("ADDR", &addr)));
    let cli = Cli::try_parse_from(argv).unwrap();
    let outcome = if printing {
        bench::run(cli.bench).await
    } else {
        bench::execute(cli.bench).await
    };
    let _ = stop.send(());
    serving.await.unwrap().unwrap();
    let report = outcome.map(|report| report.expect("a scenario that reports"));
    (report, events)
}
