//! The hub under test, as every scenario's options name it.

use std::net::SocketAddr;

use clap::Args;

use super::wire::Proto;

/// The hub under test and how to report.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Protocol the hub speaks.
    #[arg(long, value_enum, default_value_t = Proto::Tcphub, global = true)]
    pub proto: Proto,
    /// Address of the hub under test.
    #[arg(long, short = 's', default_value = "127.0.0.1:9000", global = true)]
    pub server: SocketAddr,
    /// A name for the hub in the report (default: the protocol's name).
    #[arg(long, global = true)]
    pub label: Option<String>,
    /// Process id of the hub (Linux): adds its CPU time per delivery to the
    /// report, and is the process whose memory `idle`, `burst` and
    /// `list-spam` measure.
    #[arg(long, global = true)]
    pub pid: Option<u32>,
    /// Print the report as one line of JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
}

impl Target {
    /// The hub's name in reports.
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.proto.name().to_string())
    }
}
