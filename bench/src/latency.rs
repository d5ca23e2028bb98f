//! Fixed-rate latency: a publisher keeps a schedule of `rate` messages per
//! second to N subscribers; each message carries its *intended* send time,
//! and latency is measured from that, as wrk2 does: when the hub (or the
//! publisher's socket) stalls, the messages that were due meanwhile count
//! the whole stall, instead of the schedule quietly slipping.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use hdrhistogram::Histogram;
use tokio::sync::watch;

use super::cpu::CpuMeter;
use super::crowd::{self, Spread};
use super::driver;
use super::progress::Progress;
use super::redis_info::RedisMeter;
use super::report::Report;
use super::scan::Inbox;
use super::target::Target;
use super::window::STALL;
use super::wire::{self, Conn, Proto, STAMP_DIGITS};

const SUBJECT: &str = "bench.latency";

#[derive(Debug, Clone, Args)]
pub struct LatencyArgs {
    /// Subscribers.
    #[arg(long, default_value_t = 100)]
    pub subs: usize,
    /// Messages per second the publisher sends (each to every subscriber).
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Payload bytes per message (at least 20: the send time).
    #[arg(long, default_value_t = 64)]
    pub payload: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds sent first and not measured.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

/// Latencies are kept in nanoseconds from 1 ns to a minute, 3 digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("the bounds are valid")
}

pub async fn run(target: &Target, args: &LatencyArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.subs > 0, "--subs must be at least 1");
    anyhow::ensure!(args.rate > 0, "--rate must be at least 1");
    anyhow::ensure!(
        args.payload >= STAMP_DIGITS,
        "--payload must be at least {STAMP_DIGITS} bytes"
    );
    let proto = target.proto;
    let (subs, publisher) =
        crowd::audience(target, args.subs, SUBJECT, None, Spread::Others).await?;

    // Before the schedule's epoch: reading Redis must not make the first
    // messages late.
    let mut redis = RedisMeter::start(target.redis).await?;
    let schedule = Schedule::new(args);
    let mut cpu = CpuMeter::start_all(&target.hub_pids());
    let (stop_tx, stop_rx) = watch::channel(false);
    let receivers: Vec<_> = subs
        .into_iter()
        .map(|conn| tokio::spawn(record(proto, conn, schedule, stop_rx.clone())))
        .collect();

    let stream = publisher
        .stream
        .into_blocking_writer()
        .context("taking the publisher's socket")?;
    let payload = wire::filler(args.payload);
    let to = if proto == Proto::Tcphub { "*" } else { SUBJECT };
    // A thread of its own: sleeping in the OS keeps the schedule to tens of
    // microseconds, where the async timer's granularity is a millisecond.
    let publishing =
        tokio::task::spawn_blocking(move || publish(proto, stream, to, payload, schedule));

    let run_length = Duration::from_nanos(schedule.intended(schedule.total));
    let progress = Progress::new(
        &format!("latency at {}/s", args.rate),
        run_length,
        !target.no_progress,
    );
    let worst_lag = driver::with_progress(&progress, schedule.epoch, String::new, publishing)
        .await
        .context("the publisher thread")??;
    // Whatever has not arrived a stall's length after the last send is lost.
    let stopper = async {
        tokio::time::sleep(STALL).await;
        let _ = stop_tx.send(true);
        std::future::pending::<()>().await
    };
    let collect = async {
        let mut merged = histogram();
        let mut received = 0u64;
        for r in receivers {
            let (hist, got) = r.await??;
            merged.add(&hist).context("merging histograms")?;
            received += got;
        }
        anyhow::Ok((merged, received))
    };
    let (hist, received) = tokio::select! {
        r = collect => r?,
        () = stopper => unreachable!("the stopper never ends"),
    };
    driver::stop_meters(target, &mut cpu, &mut redis).await?;

    let us = |ns: u64| ns as f64 / 1000.0;
    let expected = schedule.total * args.subs as u64;
    let mut report = Report::new("latency", target);
    report
        .param("subs", args.subs)
        .param("rate", args.rate)
        .param("payload", args.payload)
        .param("duration", args.duration)
        .param("warmup", args.warmup);
    report
        .metric("p50", us(hist.value_at_quantile(0.50)), "us")
        .metric("p90", us(hist.value_at_quantile(0.90)), "us")
        .metric("p99", us(hist.value_at_quantile(0.99)), "us")
        .metric("p99_9", us(hist.value_at_quantile(0.999)), "us")
        .metric("max", us(hist.max()), "us")
        .metric("mean", hist.mean() / 1000.0, "us")
        .metric("samples", hist.len() as f64, "msg")
        .metric("lost", expected.saturating_sub(received) as f64, "msg")
        .metric("publisher_worst_lag", worst_lag.as_secs_f64() * 1e6, "us");
    cpu.report(&mut report, received);
    redis.report(&mut report, schedule.total, received);
    Ok(report)
}

/// When each message is due: `rate` a second from a moment after the start,
/// the first `warmup` seconds' worth not measured.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    epoch: Instant,
    interval_ns: f64,
    /// Messages in all, warm-up included.
    total: u64,
    /// Messages due before this are not measured.
    measured_from: u64,
}

impl Schedule {
    /// The schedule starts this long after the epoch, so the first messages
    /// are not already late when the publisher thread gets going.
    const FIRST_NS: u64 = 20_000_000;

    fn new(args: &LatencyArgs) -> Self {
        let warmup_count = (args.warmup * args.rate as f64).round() as u64;
        let mut schedule = Schedule {
            epoch: Instant::now(),
            interval_ns: 1e9 / args.rate as f64,
            total: warmup_count + (args.duration * args.rate as f64).round() as u64,
            measured_from: 0,
        };
        schedule.measured_from = schedule.intended(warmup_count);
        schedule
    }

    /// Nanoseconds after the epoch when message `k` is due.
    fn intended(&self, k: u64) -> u64 {
        Self::FIRST_NS + (k as f64 * self.interval_ns) as u64
    }

    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// One subscriber: the latency of every measured message it receives,
/// and how many it received, until it has them all or the run stops.
async fn record(
    proto: Proto,
    conn: Conn,
    schedule: Schedule,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let mut hist = histogram();
    let mut inbox = Inbox::new(proto, &conn.pending);
    let mut reader = conn.stream;
    let mut got = 0u64;
    let mut bad = 0u64;
    while got < schedule.total {
        tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            read = inbox.read_from(&mut reader) => {
                if read? == 0 { anyhow::bail!("the hub closed a subscriber"); }
            }
        }
        // One clock read per read: the messages in it arrived together.
        let now = schedule.now_ns();
        let tally = inbox.drain(|m| match wire::read_stamp(proto, m) {
            Some(sent) if sent >= schedule.measured_from => {
                let _ = hist.record(now.saturating_sub(sent).max(1));
            }
            Some(_) => {}
            None => bad += 1,
        });
        got += tally.messages;
        if let Some(error) = tally.error {
            anyhow::bail!("the hub sent an error: {error}");
        }
    }
    anyhow::ensure!(bad == 0, "{bad} messages without a send time");
    Ok((hist, got))
}

/// The publisher, on a thread: every message at its due time, each
/// stamped with it (all that are due at once in one write). Returns how
/// late it fell behind the schedule at worst.
fn publish(
    proto: Proto,
    mut stream: Box<dyn std::io::Write + Send>,
    to: &str,
    mut payload: Vec<u8>,
    schedule: Schedule,
) -> anyhow::Result<Duration> {
    let mut out = Vec::new();
    let mut worst_lag = Duration::ZERO;
    let mut k = 0u64;
    while k < schedule.total {
        let now_ns = schedule.now_ns();
        let next = schedule.intended(k);
        if next > now_ns {
            std::thread::sleep(Duration::from_nanos(next - now_ns));
            continue;
        }
        worst_lag = worst_lag.max(Duration::from_nanos(now_ns - next));
        out.clear();
        while k < schedule.total && schedule.intended(k) <= now_ns {
            wire::stamp(&mut payload, schedule.intended(k));
            wire::encode_message(proto, to, &payload, &mut out);
            k += 1;
        }
        stream.write_all(&out)?;
        stream.flush()?;
    }
    Ok(worst_lag)
}
