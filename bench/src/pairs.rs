//! Directed pairs: P pairs of clients, each sending to its partner by
//! alias (NATS: to the partner's own subject), all at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Notify};

use super::cpu::CpuMeter;
use super::crowd::{self, Counter};
use super::progress::Progress;
use super::report::Report;
use super::target::Target;
use super::window::Receivers;
use super::wire;

#[derive(Debug, Clone, Args)]
pub struct PairsArgs {
    /// Pairs of clients (twice as many connections).
    #[arg(long, default_value_t = 50)]
    pub pairs: usize,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Seconds to send for.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Each client sends exactly this many messages instead of for `--duration`.
    #[arg(long)]
    pub messages: Option<u64>,
    /// Messages in flight from one client to its partner at most.
    #[arg(long, default_value_t = 256)]
    pub window: u64,
    /// Messages per write.
    #[arg(long, default_value_t = 16)]
    pub batch: u64,
}

/// Client `i`'s name (and NATS subject); its partner is `i ^ 1`.
fn name(i: usize) -> String {
    format!("pair-{}-{}", i / 2, if i % 2 == 0 { "a" } else { "b" })
}

pub async fn run(target: &Target, args: &PairsArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.pairs > 0, "--pairs must be at least 1");
    let proto = target.proto;
    let batch = args.batch.clamp(1, args.window.max(1));
    let count = args.pairs * 2;
    let conns = crowd::join_all(target, count, |i| (name(i), Some(name(i))), "clients").await?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let counters: Vec<Arc<Counter>> = (0..count).map(|_| Arc::new(Counter::default())).collect();
    let wakes: Vec<Arc<Notify>> = (0..count).map(|_| Arc::new(Notify::new())).collect();
    let failed = Arc::new(AtomicBool::new(false));
    let duration = Duration::from_secs_f64(args.duration);
    let cpu = CpuMeter::start(target.pid);
    let start = Instant::now();
    let mut readers = Vec::new();
    let mut writers = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let (read, mut write) = conn.stream.into_split();
        // What client i receives is what its partner's writer waits for.
        let partner_wake = wakes[i ^ 1].clone();
        let counting = crowd::count_messages(
            proto,
            read,
            conn.pending,
            counters[i].clone(),
            partner_wake.clone(),
            stop_rx.clone(),
        );
        let failed_flag = failed.clone();
        readers.push(tokio::spawn(async move {
            let result = counting.await;
            if result.is_err() {
                failed_flag.store(true, Ordering::Release);
                partner_wake.notify_one();
            }
            result
        }));
        let partner = Receivers {
            counters: vec![counters[i ^ 1].clone()],
            wake: wakes[i].clone(),
            failed: failed.clone(),
        };
        let mut one = Vec::new();
        wire::encode_message(proto, &name(i ^ 1), &wire::filler(args.payload), &mut one);
        let block = one.repeat(batch as usize);
        let (messages, window) = (args.messages, args.window);
        writers.push(tokio::spawn(async move {
            let mut sent = 0u64;
            loop {
                let n = match messages {
                    Some(total) if sent >= total => break,
                    Some(total) => batch.min(total - sent),
                    None if start.elapsed() >= duration => break,
                    None => batch,
                };
                partner.wait_for((sent + n).saturating_sub(window)).await?;
                write.write_all(&block[..one.len() * n as usize]).await?;
                sent += n;
            }
            partner.wait_for(sent).await?;
            anyhow::Ok((sent, write))
        }));
    }

    let progress = Progress::new(
        &format!("{} pairs", args.pairs),
        duration,
        !target.no_progress && args.messages.is_none(),
    );
    let ticker = async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let got: u64 = counters.iter().map(|c| c.get()).sum();
            progress.at(start.elapsed(), format!("{got} delivered"));
        }
    };
    let mut sent = 0u64;
    let mut failure: Option<anyhow::Error> = None;
    let mut keep_open = Vec::new();
    let waiting = async {
        for writer in writers {
            match writer.await.context("a writer task ended")? {
                Ok((n, write)) => {
                    sent += n;
                    keep_open.push(write);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        anyhow::Ok(())
    };
    tokio::select! {
        r = waiting => r?,
        () = ticker => unreachable!("the ticker never ends"),
    }
    let elapsed = start.elapsed();
    progress.finish();
    let _ = stop_tx.send(true);
    let mut reader_error = None;
    for reader in readers {
        if let Err(e) = reader.await? {
            reader_error.get_or_insert(e);
        }
    }
    drop(keep_open);
    if let Some(e) = failure {
        return Err(match reader_error {
            Some(cause) => e.context(cause),
            None => e,
        });
    }

    let delivered: u64 = counters.iter().map(|c| c.get()).sum();
    let secs = elapsed.as_secs_f64();
    let mut report = Report::new("pairs", target);
    report
        .param("pairs", args.pairs)
        .param("payload", args.payload)
        .param("window", args.window)
        .param("batch", batch);
    report.run_length(args.messages, args.duration);
    report
        .metric("deliveries_per_s", delivered as f64 / secs, "msg/s")
        .metric("delivered", delivered as f64, "msg")
        .metric("lost", sent.saturating_sub(delivered) as f64, "msg")
        .metric("elapsed", secs, "s");
    cpu.report(&mut report, delivered);
    Ok(report)
}
