//! Idle connections: N clients connected and joined, then nothing. The
//! figure is the hub process's resident memory per connection, read from
//! `/proc/PID/status` (VmRSS) before the clients connect and after.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use super::crowd;
use super::report::Report;
use super::target::Target;

#[derive(Debug, Clone, Args)]
pub struct IdleArgs {
    /// Connections to open and join.
    #[arg(long, default_value_t = 10_000)]
    pub conns: usize,
    /// Seconds to wait after the last join before measuring.
    #[arg(long, default_value_t = 2.0)]
    pub settle: f64,
}

/// Resident memory of `pid` in bytes.
pub fn resident_bytes(pid: u32) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .with_context(|| format!("no VmRSS in {path}"))?;
    let kib: u64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .with_context(|| format!("reading {line:?}"))?;
    Ok(kib * 1024)
}

pub async fn run(target: &Target, args: &IdleArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.conns > 0, "--conns must be at least 1");
    let before = target.pid.map(resident_bytes).transpose()?;
    let start = Instant::now();
    let conns = crowd::join_all(
        target,
        args.conns,
        |i| (format!("idle-{i}"), Some(format!("idle.{i}"))),
        "idle connections",
    )
    .await?;
    let joined_in = start.elapsed();
    tokio::time::sleep(Duration::from_secs_f64(args.settle)).await;
    let after = target.pid.map(resident_bytes).transpose()?;

    let mut report = Report::new("idle", target);
    report
        .param("conns", args.conns)
        .param("settle", args.settle);
    report
        .metric("connections", conns.len() as f64, "conn")
        .metric(
            "joins_per_s",
            conns.len() as f64 / joined_in.as_secs_f64(),
            "conn/s",
        );
    if let (Some(before), Some(after)) = (before, after) {
        let per_conn = after.saturating_sub(before) as f64 / conns.len() as f64;
        report
            .metric("rss_per_conn", per_conn / 1024.0, "KiB")
            .metric("rss_before", before as f64 / 1048576.0, "MiB")
            .metric("rss_after", after as f64 / 1048576.0, "MiB");
    }
    drop(conns);
    Ok(report)
}
