//! Log output: human-readable or JSON lines on stderr, level from
//! `RUST_LOG` or the `-v` count. Shared by the binary and by the Python
//! module's `serve`, so both print the same lines.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the process-wide subscriber, unless one is installed already
/// (then returns false). `RUST_LOG`, when set, wins over `verbose` (0: info,
/// 1: debug, 2 or more: trace). Colours only when stderr is a terminal.
pub fn try_init(format: LogFormat, verbose: u8) -> bool {
    let default = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    match format {
        LogFormat::Human => builder.try_init().is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    }
}
