//! Connection churn: clients that connect, join and close, over and over,
//! as many at once as `--concurrency`. Each reconnects under the same
//! name, as a real client restarting would.

use std::time::{Duration, Instant};

use clap::Args;
use hdrhistogram::Histogram;

use super::progress::Progress;
use super::report::Report;
use super::target::Target;
use super::wire::{self, Join};

#[derive(Debug, Clone, Args)]
pub struct ChurnArgs {
    /// Seconds to churn for.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Clients churning at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
}

pub async fn run(target: &Target, args: &ChurnArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let duration = Duration::from_secs_f64(args.duration);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (addr, proto) = (target.server, target.proto);
        let dial = target.dial.clone();
        workers.push(tokio::spawn(async move {
            let name = format!("churn-{w}");
            let subject = format!("churn.{w}");
            // Cycle times in microseconds, up to a minute.
            let mut cycles =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("the bounds are valid");
            let mut failures = 0u64;
            let mut first_failure = None;
            while start.elapsed() < duration {
                let began = Instant::now();
                let join = Join {
                    name: &name,
                    subscribe: Some(&subject),
                    room: None,
                };
                match wire::connect(&dial, addr, proto, join).await {
                    Ok(conn) => {
                        drop(conn);
                        let _ = cycles.record(began.elapsed().as_micros().max(1) as u64);
                    }
                    Err(e) => {
                        failures += 1;
                        first_failure.get_or_insert(format!("{e:#}"));
                    }
                }
            }
            (cycles, failures, first_failure)
        }));
    }
    let progress = Progress::new("churn", duration, !target.no_progress);
    let ticking = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            progress.at(start.elapsed(), String::new());
        }
    };
    let collect = async {
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut failures = 0;
        let mut first = None;
        for worker in workers {
            let (h, f, e) = worker.await?;
            all.add(&h)?;
            failures += f;
            first = first.or(e);
        }
        anyhow::Ok((all, failures, first))
    };
    let (cycles, failures, first_failure) = tokio::select! {
        r = collect => r?,
        () = ticking => unreachable!("the ticker never ends"),
    };
    progress.finish();
    let elapsed = start.elapsed().as_secs_f64();
    if cycles.is_empty() {
        anyhow::bail!(
            "no connection completed: {}",
            first_failure.unwrap_or_default()
        );
    }
    let ms = |us: u64| us as f64 / 1000.0;
    let mut report = Report::new("churn", target);
    report
        .param("duration", args.duration)
        .param("concurrency", args.concurrency);
    report
        .metric("conns_per_s", cycles.len() as f64 / elapsed, "conn/s")
        .metric("cycle_p50", ms(cycles.value_at_quantile(0.5)), "ms")
        .metric("cycle_p99", ms(cycles.value_at_quantile(0.99)), "ms")
        .metric("completed", cycles.len() as f64, "conn")
        .metric("failed", failures as f64, "conn");
    if let Some(e) = first_failure {
        eprintln!("churn: first failure: {e}");
    }
    Ok(report)
}
