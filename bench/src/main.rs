//! `tcphub-bench`: the load generator's command line (see [`tcphub_bench`]).

use std::process::ExitCode;

use clap::Parser;

use tcphub_bench::BenchArgs;

#[derive(Debug, Parser)]
#[command(name = "tcphub-bench", version)]
struct Cli {
    #[command(flatten)]
    bench: BenchArgs,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let result = runtime.block_on(tcphub_bench::run(cli.bench));
    runtime.shutdown_background();
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
