//! Fan-out: one publisher, N subscribers; every message reaches all of
//! them (tcphub: `to: "*"`; NATS: one subject all subscribe to).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Notify};

use super::cpu::CpuMeter;
use super::crowd::{self, Counter};
use super::progress::Progress;
use super::report::Report;
use super::target::Target;
use super::window::Receivers;
use super::wire::{self, Proto};

/// The NATS subject of the fan-out.
const SUBJECT: &str = "bench.fanout";

#[derive(Debug, Clone, Args)]
pub struct FanoutArgs {
    /// Subscribers.
    #[arg(long, default_value_t = 100)]
    pub subs: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Seconds to publish for.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Publish exactly this many messages instead of for `--duration`.
    #[arg(long)]
    pub messages: Option<u64>,
    /// Messages in flight to the slowest subscriber at most.
    #[arg(long, default_value_t = 512)]
    pub window: u64,
    /// Messages per write of the publisher.
    #[arg(long, default_value_t = 32)]
    pub batch: u64,
}

pub async fn run(target: &Target, args: &FanoutArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.subs > 0, "--subs must be at least 1");
    let batch = args.batch.clamp(1, args.window.max(1));
    let proto = target.proto;
    let (subs, publisher) = crowd::audience(target, args.subs, SUBJECT).await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let receivers = Receivers {
        counters: (0..args.subs)
            .map(|_| Arc::new(Counter::default()))
            .collect(),
        wake: Arc::new(Notify::new()),
        failed: Arc::new(AtomicBool::new(false)),
    };
    let mut readers = Vec::new();
    for (conn, counter) in subs.into_iter().zip(&receivers.counters) {
        let (wake, failed) = (receivers.wake.clone(), receivers.failed.clone());
        let counting = crowd::count_messages(
            proto,
            conn.stream,
            conn.pending,
            counter.clone(),
            wake.clone(),
            stop_rx.clone(),
        );
        readers.push(tokio::spawn(async move {
            let result = counting.await;
            if result.is_err() {
                failed.store(true, Ordering::Release);
                wake.notify_one();
            }
            result
        }));
    }
    let (pub_read, mut pub_write) = publisher.stream.into_split();
    let pub_drain = tokio::spawn(crowd::count_messages(
        proto,
        pub_read,
        publisher.pending,
        Arc::new(Counter::default()),
        Arc::new(Notify::new()),
        stop_rx.clone(),
    ));

    let mut one = Vec::new();
    wire::encode_message(
        proto,
        if proto == Proto::Tcphub { "*" } else { SUBJECT },
        &wire::filler(args.payload),
        &mut one,
    );
    let block = one.repeat(batch as usize);
    let duration = Duration::from_secs_f64(args.duration);
    let progress = Progress::new(
        &format!("fan-out to {}", args.subs),
        duration,
        !target.no_progress && args.messages.is_none(),
    );

    let cpu = CpuMeter::start(target.pid);
    let start = Instant::now();
    let mut sent = 0u64;
    let mut last_tick = start;
    let outcome = async {
        loop {
            let n = match args.messages {
                Some(total) if sent >= total => break,
                Some(total) => batch.min(total - sent),
                None if start.elapsed() >= duration => break,
                None => batch,
            };
            receivers
                .wait_for((sent + n).saturating_sub(args.window))
                .await?;
            pub_write
                .write_all(&block[..one.len() * n as usize])
                .await?;
            sent += n;
            if last_tick.elapsed() >= Duration::from_millis(100) {
                last_tick = Instant::now();
                progress.at(start.elapsed(), format!("{sent} published"));
            }
        }
        receivers.wait_for(sent).await
    }
    .await;
    let elapsed = start.elapsed();
    progress.finish();
    let _ = stop_tx.send(true);
    let mut reader_error = None;
    for reader in readers {
        if let Err(e) = reader.await? {
            reader_error.get_or_insert(e);
        }
    }
    let _ = pub_drain.await?;
    if let Err(e) = outcome {
        return Err(match reader_error {
            Some(cause) => e.context(cause),
            None => e,
        });
    }

    let delivered: u64 = receivers.counters.iter().map(|c| c.get()).sum();
    let expected = sent * args.subs as u64;
    let secs = elapsed.as_secs_f64();
    let mut report = Report::new("fanout", target);
    report
        .param("subs", args.subs)
        .param("payload", args.payload)
        .param("window", args.window)
        .param("batch", batch);
    report.run_length(args.messages, args.duration);
    report
        .metric("deliveries_per_s", delivered as f64 / secs, "msg/s")
        .metric("published_per_s", sent as f64 / secs, "msg/s")
        .metric(
            "payload_mb_per_s",
            (delivered * args.payload as u64) as f64 / secs / 1e6,
            "MB/s",
        )
        .metric("published", sent as f64, "msg")
        .metric("delivered", delivered as f64, "msg")
        .metric("lost", expected.saturating_sub(delivered) as f64, "msg")
        .metric("elapsed", secs, "s");
    cpu.report(&mut report, delivered);
    Ok(report)
}
