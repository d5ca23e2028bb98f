//! The hub under test, as every scenario's options name it.

use std::net::SocketAddr;

use clap::Args;

use super::dial::{Dial, DialArgs};
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
    /// The nodes of a clustered hub, comma-separated (replaces `--server`):
    /// `fanout` puts the publisher on the first node and the subscribers
    /// round-robin on all of them, `pairs` puts the two ends of each pair
    /// on different nodes, `latency` puts the publisher on the first node
    /// and every subscriber on another (run it with `--server` set to the
    /// first node for the same schedule with both ends on one node).
    #[arg(long, value_delimiter = ',', global = true)]
    pub cluster: Vec<SocketAddr>,
    /// With `--cluster`: seconds to wait after every client joined and
    /// before the clock starts. A cluster spreads subscriptions between its
    /// nodes asynchronously (a nats-server route forwards a SUB after
    /// answering it), and a message published before a remote node knows
    /// of a subscriber is dropped for it: the run would count it lost.
    #[arg(long, default_value_t = 1.0, global = true)]
    pub cluster_settle: f64,
    /// A name for the hub in the report (default: the protocol's name).
    #[arg(long, global = true)]
    pub label: Option<String>,
    /// Process id of the hub (Linux): adds its CPU time per delivery to the
    /// report, and is the process whose memory `idle`, `burst` and
    /// `list-spam` measure.
    #[arg(long, global = true)]
    pub pid: Option<u32>,
    /// With `--cluster`: the process ids of the cluster's nodes (Linux),
    /// comma-separated: their CPU time together, over the timed phase only,
    /// is the hub's CPU per delivery.
    #[arg(long, value_delimiter = ',', global = true)]
    pub cluster_pids: Vec<u32>,
    /// The Redis a clustered hub runs over (`HOST:PORT`): its commands,
    /// bytes and CPU over the timed phase, per delivery and per message,
    /// from its `INFO` (fanout, pairs and latency).
    #[arg(long, global = true)]
    pub redis: Option<SocketAddr>,
    /// Print the report as one line of JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long, global = true)]
    pub no_progress: bool,
    /// TLS and credentials.
    #[command(flatten)]
    pub dial_args: DialArgs,
    /// A hub to run the same scenario against first, over plain TCP and
    /// without a credential, for comparison in the same report: its
    /// figures come out as `baseline_NAME` (e.g. a hub without TLS or
    /// authentication beside one with).
    #[arg(long, value_name = "ADDR", global = true)]
    pub baseline_hub: Option<SocketAddr>,
    /// Process id of the --baseline-hub: its CPU time, as --pid's.
    #[arg(long, value_name = "PID", global = true, requires = "baseline_hub")]
    pub baseline_hub_pid: Option<u32>,
    /// How clients connect: built from `dial_args` by [`Target::prepare`].
    #[arg(skip)]
    pub dial: Dial,
}

impl Target {
    /// Reads the files the TLS and credential options name.
    pub fn prepare(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.proto == Proto::Tcphub
                || !(self.dial_args.tls() || self.dial_args.authenticates()),
            "--tls, --ca, --server-name, --token and --tokens are for tcphub's protocol"
        );
        self.dial = Dial::new(&self.dial_args)?;
        Ok(())
    }

    /// The same run against the --baseline-hub: plain TCP, no credential,
    /// its own pid.
    pub fn baseline_target(&self) -> Option<Target> {
        let addr = self.baseline_hub?;
        Some(Target {
            server: addr,
            pid: self.baseline_hub_pid,
            dial_args: DialArgs::default(),
            dial: Dial::default(),
            baseline_hub: None,
            baseline_hub_pid: None,
            ..self.clone()
        })
    }

    /// How many nodes the connections are spread over (1 without `--cluster`).
    pub fn nodes(&self) -> usize {
        self.cluster.len().max(1)
    }

    /// The address of node `i` (modulo the number of nodes): `--server`
    /// without `--cluster`, so single-hub runs are unchanged.
    pub fn node(&self, i: usize) -> SocketAddr {
        if self.cluster.is_empty() {
            self.server
        } else {
            self.cluster[i % self.cluster.len()]
        }
    }

    /// Waits `--cluster-settle` seconds when the run is on a cluster.
    pub async fn settle(&self) {
        if !self.cluster.is_empty() && self.cluster_settle > 0.0 {
            tokio::time::sleep(std::time::Duration::from_secs_f64(self.cluster_settle)).await;
        }
    }

    /// Where the report says the hub was: `--server`, or the cluster's nodes.
    pub fn address(&self) -> String {
        if self.cluster.is_empty() {
            self.server.to_string()
        } else {
            let nodes: Vec<String> = self.cluster.iter().map(|a| a.to_string()).collect();
            nodes.join(",")
        }
    }

    /// The processes whose CPU time is the hub's: `--cluster-pids`, or `--pid`.
    pub fn hub_pids(&self) -> Vec<u32> {
        if self.cluster_pids.is_empty() {
            self.pid.into_iter().collect()
        } else {
            self.cluster_pids.clone()
        }
    }

    /// The hub's name in reports.
    pub fn label(&self) -> String {
        self.label
            .clone()
            .unwrap_or_else(|| self.proto.name().to_string())
    }
}
