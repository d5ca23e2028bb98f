//! Directed pairs: P pairs of clients, each sending to its partner by
//! alias (NATS: to the partner's own subject), all at once.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use super::cpu::CpuMeter;
use super::crowd::{self, Counter};
use super::driver::{self, stop_meters, Deliveries, Pacing, Receiving};
use super::progress::Progress;
use super::redis_info::RedisMeter;
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
    let pacing = Pacing::new(args.messages, args.duration, args.batch, args.window);
    let count = args.pairs * 2;
    // On a cluster, pair p's ends sit on nodes p and p + 1: every message
    // crosses from one node to another, and the pairs spread evenly.
    let place = |i: usize| target.node(i / 2 + i % 2);
    let naming = |i| (name(i), Some(name(i)));
    let conns = crowd::join_all_at(target, count, naming, place, "clients").await?;

    let mut receiving = Receiving::new(target.proto);
    let counters: Vec<Arc<Counter>> = (0..count).map(|_| Arc::default()).collect();
    let wakes: Vec<Arc<Notify>> = (0..count).map(|_| Arc::new(Notify::new())).collect();
    let mut redis = RedisMeter::start(target.redis).await?;
    let mut cpu = CpuMeter::start_all(&target.hub_pids());
    let start = Instant::now();
    let mut writers = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let (read, write) = conn.stream.into_split();
        // What client i receives is what its partner's writer waits for.
        receiving.count(
            read,
            conn.pending,
            counters[i].clone(),
            wakes[i ^ 1].clone(),
        );
        let partner = Receivers {
            counters: vec![counters[i ^ 1].clone()],
            wake: wakes[i].clone(),
            failed: receiving.failed.clone(),
        };
        let mut one = Vec::new();
        let payload = wire::filler(args.payload);
        wire::encode_message(target.proto, &name(i ^ 1), &payload, &mut one);
        let window = args.window;
        writers.push(tokio::spawn(send(
            write, one, partner, pacing, window, start,
        )));
    }

    let progress = Progress::new(
        &format!("{} pairs", args.pairs),
        pacing.duration,
        !target.no_progress && pacing.timed(),
    );
    let mut sent = 0u64;
    // The write halves stay open until the readers stop: closing one
    // would end its partner's stream.
    let mut keep_open = Vec::new();
    let waiting = async {
        let mut failure = None;
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
        failure.map_or(Ok(()), Err)
    };
    let status = || format!("{} delivered", driver::total(&counters));
    let outcome = driver::with_progress(&progress, start, status, waiting).await;
    let elapsed = start.elapsed();
    let redis_read = stop_meters(target, &mut cpu, &mut redis).await;
    receiving.finish(outcome).await?;
    redis_read?;
    drop(keep_open);

    let mut report = Report::new("pairs", target);
    report
        .param("pairs", args.pairs)
        .param("payload", args.payload)
        .param("window", args.window)
        .param("batch", pacing.batch)
        .run_length(args.messages, args.duration);
    let delivered = driver::total(&counters);
    Deliveries {
        published: sent,
        expected: sent,
        delivered,
        payload: args.payload,
        elapsed,
    }
    .report(&mut report, &cpu);
    redis.report(&mut report, sent, delivered);
    Ok(report)
}

/// One client's writer: `one` message at a time in batches, at most
/// `window` ahead of its partner; returns what it sent, and its socket.
async fn send<W: tokio::io::AsyncWrite + Unpin>(
    mut write: W,
    one: Vec<u8>,
    partner: Receivers,
    pacing: Pacing,
    window: u64,
    start: Instant,
) -> anyhow::Result<(u64, W)> {
    let block = one.repeat(pacing.batch as usize);
    let mut sent = 0u64;
    while let Some(n) = pacing.next(sent, start) {
        partner.wait_for((sent + n).saturating_sub(window)).await?;
        write.write_all(&block[..one.len() * n as usize]).await?;
        write.flush().await?;
        sent += n;
    }
    partner.wait_for(sent).await?;
    Ok((sent, write))
}
