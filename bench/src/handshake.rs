//! Handshakes: clients that connect, shake hands (TLS, with `--tls`),
//! sync (with a credential, with `--token`), wait for the hub's first
//! reply and close, over and over, as many at once as `--concurrency`.
//! Each phase is timed on its own, and the hub's CPU time is divided by
//! the cycles completed: what one new client costs the hub.
//!
//! Unlike `churn`, which times whole cycles, this splits a cycle into the
//! TCP connect, the TLS handshake and the `sync` up to `synced`, so a
//! run over TLS, or against a hub that checks credentials, shows where
//! the time goes; with `--baseline-hub` the same cycles against a plain hub
//! come first, in the same report.

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;

use super::cpu::CpuMeter;
use super::progress::Progress;
use super::report::Report;
use super::target::Target;
use super::wire::{self, Join};

/// Longest one cycle may take: a hub that stops answering fails the run
/// instead of hanging it.
const CYCLE_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Args)]
pub struct HandshakeArgs {
    /// Seconds to connect for.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Clients connecting at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

/// Microseconds, from 1 µs up to a minute.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("the bounds are valid")
}

/// What the connectors measured, each phase in microseconds.
#[derive(Debug)]
struct Phases {
    connect: Histogram<u64>,
    tls: Histogram<u64>,
    sync: Histogram<u64>,
    cycle: Histogram<u64>,
    failures: u64,
    first_failure: Option<String>,
}

impl Phases {
    fn new() -> Self {
        Phases {
            connect: histogram(),
            tls: histogram(),
            sync: histogram(),
            cycle: histogram(),
            failures: 0,
            first_failure: None,
        }
    }

    fn add(&mut self, other: &Phases) -> anyhow::Result<()> {
        self.connect.add(&other.connect)?;
        self.tls.add(&other.tls)?;
        self.sync.add(&other.sync)?;
        self.cycle.add(&other.cycle)?;
        self.failures += other.failures;
        if self.first_failure.is_none() {
            self.first_failure.clone_from(&other.first_failure);
        }
        Ok(())
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().clamp(1, 60_000_000) as u64
}

/// One cycle: connect, handshake, sync, first reply; closed on return.
async fn cycle(target: &Target, name: &str, phases: &mut Phases) -> anyhow::Result<()> {
    let (dial, addr) = (&target.dial, target.server);
    let server_name = dial.server_name(addr)?;
    let began = Instant::now();
    let tcp = dial.tcp(addr).await?;
    let connected = Instant::now();
    let stream = dial.secure(tcp, server_name).await?;
    let secured = Instant::now();
    let join = Join {
        name,
        subscribe: Some(name),
        room: None,
    };
    let conn = wire::join(dial, stream, target.proto, join).await?;
    let synced = Instant::now();
    drop(conn);
    let _ = phases.connect.record(micros(connected - began));
    if dial.is_tls() {
        let _ = phases.tls.record(micros(secured - connected));
    }
    let _ = phases.sync.record(micros(synced - secured));
    let _ = phases.cycle.record(micros(synced - began));
    Ok(())
}

pub async fn run(target: &Target, args: &HandshakeArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!(
        args.duration.is_finite() && args.duration > 0.0,
        "--duration must be a positive number of seconds"
    );
    // A bad --server-name fails here, once, not in every connector.
    target.dial.server_name(target.server)?;
    let duration = Duration::from_secs_f64(args.duration);
    let cpu = CpuMeter::start(target.pid);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let target = target.clone();
        workers.push(tokio::spawn(async move {
            // NATS subjects take dots; aliases and subjects alike take dashes.
            let name = format!("hs-{w}");
            let mut phases = Phases::new();
            while start.elapsed() < duration {
                let attempt =
                    tokio::time::timeout(CYCLE_TIMEOUT, cycle(&target, &name, &mut phases))
                        .await
                        .unwrap_or_else(|_| {
                            Err(anyhow::anyhow!("no reply within {CYCLE_TIMEOUT:?}"))
                        });
                if let Err(e) = attempt {
                    phases.failures += 1;
                    phases.first_failure.get_or_insert(format!("{name}: {e:#}"));
                    // A hub that refuses at once would be hammered in a
                    // tight loop: one failure is enough to report.
                    break;
                }
            }
            phases
        }));
    }
    let progress = Progress::new("handshakes", duration, !target.no_progress);
    let ticking = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            progress.at(start.elapsed(), String::new());
        }
    };
    let collect = async {
        let mut all = Phases::new();
        for worker in workers {
            all.add(&worker.await.context("a connector task ended")?)?;
        }
        anyhow::Ok(all)
    };
    let phases = tokio::select! {
        r = collect => r?,
        () = ticking => unreachable!("the ticker never ends"),
    };
    progress.finish();
    let elapsed = start.elapsed().as_secs_f64();
    let completed = phases.cycle.len();
    if completed == 0 {
        anyhow::bail!(
            "no connection completed: {}",
            phases.first_failure.unwrap_or_default()
        );
    }

    let ms = |us: u64| us as f64 / 1000.0;
    let mut report = Report::new("handshake", target);
    report
        .param("duration", args.duration)
        .param("concurrency", args.concurrency)
        .param("tls", target.dial.is_tls())
        .param("token", target.dial_args.authenticates());
    report
        .metric("conns_per_s", completed as f64 / elapsed, "conn/s")
        .metric(
            "connect_p50",
            ms(phases.connect.value_at_quantile(0.5)),
            "ms",
        );
    if !phases.tls.is_empty() {
        report
            .metric("tls_p50", ms(phases.tls.value_at_quantile(0.5)), "ms")
            .metric("tls_p99", ms(phases.tls.value_at_quantile(0.99)), "ms");
    }
    report
        .metric("sync_p50", ms(phases.sync.value_at_quantile(0.5)), "ms")
        .metric("sync_p99", ms(phases.sync.value_at_quantile(0.99)), "ms")
        .metric("cycle_p50", ms(phases.cycle.value_at_quantile(0.5)), "ms")
        .metric("cycle_p99", ms(phases.cycle.value_at_quantile(0.99)), "ms")
        .metric("completed", completed as f64, "conn")
        .metric("failed", phases.failures as f64, "conn");
    cpu.report_per(&mut report, completed, "conn");
    if let Some(e) = phases.first_failure {
        report.fail(format!("{} cycles failed; the first: {e}", phases.failures));
    }
    Ok(report)
}
