//! The `tcphub` binary: the hub server and its client commands.

mod cli;
mod units;

fn main() -> std::process::ExitCode {
    cli::main()
}
