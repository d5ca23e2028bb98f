//! The generator's own capacity: the fan-out's publisher and subscribers
//! against a [`super::sink`], which costs next to nothing per message. What
//! the generator publishes and receives here is the most it could drive a
//! hub to; a hub measured below that is the bottleneck, not the generator.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Notify};

use super::crowd::{self, Counter, Spread};
use super::progress::Progress;
use super::report::Report;
use super::target::Target;
use super::wire::{self, Proto};

#[derive(Debug, Clone, Args)]
pub struct CapacityArgs {
    /// Subscribers (0: measure publishing alone).
    #[arg(long, default_value_t = 100)]
    pub subs: usize,
    /// Payload bytes per message (start the sink with the same).
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Seconds to run.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Messages per write of the publisher.
    #[arg(long, default_value_t = 32)]
    pub batch: u64,
    /// Start a sink inside this process instead of using `--server`.
    #[arg(long)]
    pub in_process: bool,
}

pub async fn run(target: &Target, args: &CapacityArgs) -> anyhow::Result<Report> {
    let mut target = target.clone();
    if args.in_process {
        target.server = super::sink::spawn(target.proto, args.payload).await?;
        target
            .label
            .get_or_insert_with(|| "sink (in-process)".into());
    }
    let target = &target;
    let proto = target.proto;
    let (subs, publisher) =
        crowd::audience(target, args.subs, "bench.fanout", None, Spread::All).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let counters: Vec<Arc<Counter>> = (0..args.subs)
        .map(|_| Arc::new(Counter::default()))
        .collect();
    let wake = Arc::new(Notify::new());
    let mut readers = Vec::new();
    for (conn, counter) in subs.into_iter().zip(&counters) {
        readers.push(tokio::spawn(crowd::count_messages(
            proto,
            conn.stream,
            conn.pending,
            counter.clone(),
            wake.clone(),
            stop_rx.clone(),
        )));
    }
    let mut one = Vec::new();
    let to = if proto == Proto::Tcphub {
        "*"
    } else {
        "bench.fanout"
    };
    wire::encode_message(proto, to, &wire::filler(args.payload), &mut one);
    let block = one.repeat(args.batch.max(1) as usize);
    let per_block = args.batch.max(1);
    let duration = Duration::from_secs_f64(args.duration);
    let progress = Progress::new("capacity", duration, !target.no_progress);
    let mut stream = publisher.stream;
    let start = Instant::now();
    let mut published = 0u64;
    let mut ticks = 0u32;
    while start.elapsed() < duration {
        stream.write_all(&block).await?;
        stream.flush().await?;
        published += per_block;
        ticks = ticks.wrapping_add(1);
        if ticks % 1024 == 0 {
            progress.at(start.elapsed(), format!("{published} published"));
        }
    }
    let received: u64 = counters.iter().map(|c| c.get()).sum();
    let elapsed = start.elapsed().as_secs_f64();
    progress.finish();
    let _ = stop_tx.send(true);
    for reader in readers {
        reader.await??;
    }

    let mut report = Report::new("capacity", target);
    report
        .param("subs", args.subs)
        .param("payload", args.payload)
        .param("duration", args.duration)
        .param("batch", per_block);
    report
        .metric("published_per_s", published as f64 / elapsed, "msg/s")
        .metric("received_per_s", received as f64 / elapsed, "msg/s")
        .metric(
            "received_mb_per_s",
            (received * args.payload as u64) as f64 / elapsed / 1e6,
            "MB/s",
        );
    Ok(report)
}
