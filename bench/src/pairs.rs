//! Directed pairs: P pairs of clients, each sending to its partner by
//! alias (NATS: to the partner's own subject), all at once.
//!
//! With `--window 0` each client bursts its messages as fast as its
//! socket takes them (`--messages N`: as `nats bench` does), without
//! waiting for its partner (see [`unwindowed`]); a reader cut or a
//! delivery lost fails the run.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::sync::Notify;

use super::cpu::CpuMeter;
use super::crowd::{self, Counter};
use super::driver::{self, stop_meters, Deliveries, Pacing, Receiving};
use super::progress::Progress;
use super::redis_info::RedisMeter;
use super::report::Report;
use super::target::Target;
use super::unwindowed;
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
    /// Messages in flight from one client to its partner at most. 0: no
    /// window, the unwindowed mode of `nats bench`: every client sends as
    /// fast as its socket takes it, then the run waits up to `--drain`
    /// seconds for the deliveries; it fails if any is lost or a reader is
    /// cut.
    #[arg(long, default_value_t = 256)]
    pub window: u64,
    /// With `--window 0`: seconds to wait after the last write for the
    /// deliveries still on their way; what has not arrived is lost
    /// (default 10).
    #[arg(long)]
    pub drain: Option<f64>,
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
    let pacing = Pacing::new(args.messages, args.duration, args.batch, args.window)?;
    let drain = unwindowed::drain_time(args.window, args.drain)?;
    let count = args.pairs * 2;
    // On a cluster, pair p's ends sit on nodes p and p + 1: every message
    // crosses from one node to another, and the pairs spread evenly.
    let place = |i: usize| target.node(i / 2 + i % 2);
    let naming = |i| (name(i), Some(name(i)));
    let conns = crowd::join_all_at(target, count, naming, place, "clients").await?;

    let mut receiving = Receiving::new(target.proto);
    let failed = receiving.failed.clone();
    let counters: Vec<Arc<Counter>> = (0..count).map(|_| Arc::default()).collect();
    let sent: Vec<Arc<Counter>> = (0..count).map(|_| Arc::default()).collect();
    let wakes: Vec<Arc<Notify>> = (0..count).map(|_| Arc::new(Notify::new())).collect();
    // Unwindowed, no writer waits: every receiver wakes the one drain.
    let everyone = Arc::new(Notify::new());
    let mut redis = RedisMeter::start(target.redis).await?;
    let mut cpu = CpuMeter::start_all(&target.hub_pids());
    let start = Instant::now();
    let mut writers = Vec::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let (read, write) = conn.stream.into_split();
        // Windowed, what client i receives is what its partner's writer
        // waits for.
        let wake = match drain {
            None => wakes[i ^ 1].clone(),
            Some(_) => everyone.clone(),
        };
        receiving.count(read, conn.pending, counters[i].clone(), wake);
        let partner = drain.is_none().then(|| Receivers {
            counters: vec![counters[i ^ 1].clone()],
            wake: wakes[i].clone(),
            failed: failed.clone(),
        });
        let mut one = Vec::new();
        let payload = wire::filler(args.payload);
        wire::encode_message(target.proto, &name(i ^ 1), &payload, &mut one);
        let window = partner.map(|p| (p, args.window));
        writers.push(tokio::spawn(send(
            write,
            one,
            window,
            pacing,
            start,
            sent[i].clone(),
        )));
    }

    let progress = Progress::new(
        &format!("{} pairs", args.pairs),
        pacing.duration,
        !target.no_progress && pacing.timed(),
    );
    // The write halves stay open until the readers stop: closing one
    // would end its partner's stream.
    let mut keep_open = Vec::new();
    let waiting = async {
        let mut failure = None;
        for writer in writers {
            match writer.await.context("a writer task ended")? {
                Ok(write) => keep_open.push(write),
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let drained = match drain {
            None => None,
            Some(limit) => {
                // Client j is owed what its partner wrote.
                let owed: Vec<u64> = (0..count).map(|j| sent[j ^ 1].get()).collect();
                let wait = unwindowed::drain(&counters, &owed, &everyone, &failed, limit);
                Some(wait.await)
            }
        };
        anyhow::Ok((failure, drained))
    };
    let status = || format!("{} delivered", driver::total(&counters));
    let (failure, drained) = driver::with_progress(&progress, start, status, waiting).await?;
    let elapsed = match drained {
        Some(d) => d.last_delivery.saturating_duration_since(start),
        None => start.elapsed(),
    };
    let redis_read = stop_meters(target, &mut cpu, &mut redis).await;
    let (sending, cut) = match drain {
        None => {
            receiving.finish(failure.map_or(Ok(()), Err)).await?;
            (None, None)
        }
        Some(_) => (failure, receiving.stop_all().await?),
    };
    redis_read?;
    drop(keep_open);

    let mut report = Report::new("pairs", target);
    report
        .param("pairs", args.pairs)
        .param("payload", args.payload)
        .param("window", args.window)
        .param("batch", pacing.batch)
        .run_length(args.messages, args.duration);
    let sent = driver::total(&sent);
    let delivered = driver::total(&counters);
    Deliveries {
        published: sent,
        expected: sent,
        delivered,
        payload: args.payload,
        elapsed: elapsed.max(Duration::from_nanos(1)),
    }
    .report(&mut report, &cpu);
    redis.report(&mut report, sent, delivered);
    if let Some(limit) = drain {
        unwindowed::verdict(&mut report, sending, cut, sent, delivered, limit);
    }
    Ok(report)
}

/// One client's writer: `one` message at a time in batches, with a
/// window at most `window` ahead of its partner; counts what it wrote into
/// `sent` and returns its socket.
async fn send<W: tokio::io::AsyncWrite + Unpin>(
    mut write: W,
    one: Vec<u8>,
    window: Option<(Receivers, u64)>,
    pacing: Pacing,
    start: Instant,
    sent: Arc<Counter>,
) -> anyhow::Result<W> {
    let block = one.repeat(pacing.batch as usize);
    let mut done = 0u64;
    while let Some(n) = pacing.next(done, start) {
        if let Some((partner, window)) = &window {
            partner.wait_for((done + n).saturating_sub(*window)).await?;
        }
        unwindowed::write_bounded(&mut write, &block[..one.len() * n as usize]).await?;
        done += n;
        sent.0.store(done, Ordering::Release);
    }
    if let Some((partner, _)) = &window {
        partner.wait_for(done).await?;
    }
    Ok(write)
}
