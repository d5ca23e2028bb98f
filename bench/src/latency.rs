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
use super::crowd;
use super::driver;
use super::progress::Progress;
use super::report::Report;
use super::scan::Inbox;
use super::target::Target;
use super::window::STALL;
use super::wire::{self, Proto, STAMP_DIGITS};

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
    let (subs, publisher) = crowd::audience(target, args.subs, SUBJECT).await?;

    let interval_ns = 1e9 / args.rate as f64;
    let warmup_count = (args.warmup * args.rate as f64).round() as u64;
    let total = warmup_count + (args.duration * args.rate as f64).round() as u64;
    let cpu = CpuMeter::start(target.pid);
    let epoch = Instant::now();
    // The schedule starts a moment from now, so the first messages are not
    // already late when the publisher thread gets going.
    let first_ns = 20_000_000u64;
    let intended = move |k: u64| first_ns + (k as f64 * interval_ns) as u64;
    let measured_from = intended(warmup_count);

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut receivers = Vec::new();
    for conn in subs {
        let mut stop = stop_rx.clone();
        receivers.push(tokio::spawn(async move {
            let mut hist = histogram();
            let mut inbox = Inbox::new(proto, &conn.pending);
            let mut reader = conn.stream;
            let mut got = 0u64;
            let mut bad = 0u64;
            while got < total {
                tokio::select! {
                    biased;
                    _ = stop.wait_for(|s| *s) => break,
                    read = inbox.read_from(&mut reader) => {
                        if read? == 0 { anyhow::bail!("the hub closed a subscriber"); }
                    }
                }
                // One clock read per read: the messages in it arrived together.
                let now = epoch.elapsed().as_nanos() as u64;
                let tally = inbox.drain(|m| match wire::read_stamp(proto, m) {
                    Some(sent) if sent >= measured_from => {
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
            anyhow::Ok((hist, got))
        }));
    }

    let mut stream = publisher
        .stream
        .into_std()
        .context("taking the publisher's socket")?;
    stream.set_nonblocking(false)?;
    let payload = wire::filler(args.payload);
    let to = if proto == Proto::Tcphub { "*" } else { SUBJECT };
    let to = to.to_string();
    // A thread of its own: sleeping in the OS keeps the schedule to tens of
    // microseconds, where the async timer's granularity is a millisecond.
    let publishing = tokio::task::spawn_blocking(move || -> anyhow::Result<Duration> {
        let mut out = Vec::new();
        let mut payload = payload;
        let mut worst_lag = Duration::ZERO;
        let mut k = 0u64;
        while k < total {
            let now = epoch.elapsed();
            let now_ns = now.as_nanos() as u64;
            let next = intended(k);
            if next > now_ns {
                std::thread::sleep(Duration::from_nanos(next - now_ns));
                continue;
            }
            worst_lag = worst_lag.max(Duration::from_nanos(now_ns - next));
            out.clear();
            while k < total && intended(k) <= now_ns {
                wire::stamp(&mut payload, intended(k));
                wire::encode_message(proto, &to, &payload, &mut out);
                k += 1;
            }
            stream.write_all(&out)?;
        }
        Ok(worst_lag)
    });

    let run_length = Duration::from_nanos(intended(total));
    let progress = Progress::new(
        &format!("latency at {}/s", args.rate),
        run_length,
        !target.no_progress,
    );
    let worst_lag = driver::with_progress(&progress, epoch, String::new, publishing)
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

    let us = |ns: u64| ns as f64 / 1000.0;
    let expected = total * args.subs as u64;
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
    Ok(report)
}
