//! Fan-out: one publisher, N subscribers; every message reaches all of
//! them (tcphub: `to: "*"`, or with `--room` a room every subscriber
//! joined; NATS: one subject all subscribe to).
//!
//! A room run differs from a broadcast run only in the two frames that
//! name the recipients, so their figures compare directly: the
//! subscribers also `join` the room (before the clock starts), and the
//! publisher, who is not a member, sends `info` with `room` instead of
//! `to: "*"`. Each delivery then carries `"room":NAME` too, a few bytes
//! more than a broadcast's.
//!
//! With `--window 0` the publisher does not wait for the subscribers at
//! all (see [`unwindowed`]): the figures are what `nats bench` would
//! measure, and a reader cut or a delivery lost fails the run.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::AsyncWrite;
use tokio::sync::Notify;

use super::cpu::CpuMeter;
use super::crowd::{self, Counter, Spread};
use super::driver::{self, stop_meters, Deliveries, Pacing, Receiving};
use super::progress::Progress;
use super::redis_info::RedisMeter;
use super::report::Report;
use super::target::Target;
use super::unwindowed;
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
    /// Messages in flight to the slowest subscriber at most. 0: no
    /// window, the unwindowed mode of `nats bench`: publish as fast as the
    /// socket takes it, then wait up to `--drain` seconds for the
    /// deliveries; the run fails if any is lost or a reader is cut.
    #[arg(long, default_value_t = 512)]
    pub window: u64,
    /// With `--window 0`: seconds to wait after the last write for the
    /// deliveries still on their way; what has not arrived is lost
    /// (default 10).
    #[arg(long)]
    pub drain: Option<f64>,
    /// Messages per write of the publisher.
    #[arg(long, default_value_t = 32)]
    pub batch: u64,
    /// tcphub only: every subscriber joins this room and the publisher
    /// sends to it, instead of broadcasting to `*`.
    #[arg(long)]
    pub room: Option<String>,
}

pub async fn run(target: &Target, args: &FanoutArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.subs > 0, "--subs must be at least 1");
    let proto = target.proto;
    anyhow::ensure!(
        args.room.is_none() || proto == Proto::Tcphub,
        "--room is tcphub's: a NATS subject is already a room"
    );
    let pacing = Pacing::new(args.messages, args.duration, args.batch, args.window)?;
    let drain = unwindowed::drain_time(args.window, args.drain)?;
    let room = args.room.as_deref();
    let (subs, publisher) = crowd::audience(target, args.subs, SUBJECT, room, Spread::All).await?;

    let mut receiving = Receiving::new(proto);
    let receivers = Receivers {
        counters: (0..args.subs).map(|_| Arc::default()).collect(),
        wake: Arc::new(Notify::new()),
        failed: receiving.failed.clone(),
    };
    for (conn, counter) in subs.into_iter().zip(&receivers.counters) {
        receiving.count(
            conn.stream,
            conn.pending,
            counter.clone(),
            receivers.wake.clone(),
        );
    }
    let (pub_read, mut pub_write) = publisher.stream.into_split();
    receiving.drain(pub_read, publisher.pending);

    let mut one = Vec::new();
    let payload = wire::filler(args.payload);
    match (proto, room) {
        (Proto::Tcphub, Some(room)) => wire::encode_room_message(room, &payload, &mut one),
        (Proto::Tcphub, None) => wire::encode_message(proto, "*", &payload, &mut one),
        (Proto::Nats, _) => wire::encode_message(proto, SUBJECT, &payload, &mut one),
    }
    let progress = Progress::new(
        &match room {
            Some(room) => format!("fan-out to {} in room {room}", args.subs),
            None => format!("fan-out to {}", args.subs),
        },
        pacing.duration,
        !target.no_progress && pacing.timed(),
    );

    let mut redis = RedisMeter::start(target.redis).await?;
    let mut cpu = CpuMeter::start_all(&target.hub_pids());
    let start = Instant::now();
    let sent = Counter::default();
    let window = drain.is_none().then_some((&receivers, args.window));
    let work = async {
        let mut published = publish(&mut pub_write, &one, pacing, start, window, &sent).await;
        let drained = match drain {
            None => {
                if published.is_ok() {
                    published = receivers.wait_for(sent.get()).await;
                }
                None
            }
            Some(limit) => {
                let owed = vec![sent.get(); args.subs];
                let (counters, wake) = (&receivers.counters, &receivers.wake);
                let failed = &receivers.failed;
                Some(unwindowed::drain(counters, &owed, wake, failed, limit).await)
            }
        };
        (published, drained)
    };
    let status = || format!("{} delivered", driver::total(&receivers.counters));
    let (published, drained) = driver::with_progress(&progress, start, status, work).await;
    let elapsed = match drained {
        Some(d) => d.last_delivery.saturating_duration_since(start),
        None => start.elapsed(),
    };
    let redis_read = stop_meters(target, &mut cpu, &mut redis).await;
    let (sending, cut) = match drain {
        None => {
            receiving.finish(published).await?;
            (None, None)
        }
        Some(_) => (published.err(), receiving.stop_all().await?),
    };
    redis_read?;

    let mut report = Report::new("fanout", target);
    let sent = sent.get();
    report
        .param("subs", args.subs)
        .param("payload", args.payload)
        .param("window", args.window)
        .param("batch", pacing.batch)
        .run_length(args.messages, args.duration);
    if let Some(room) = room {
        report.param("room", room);
    }
    let delivered = driver::total(&receivers.counters);
    let expected = sent * args.subs as u64;
    Deliveries {
        published: sent,
        expected,
        delivered,
        payload: args.payload,
        elapsed: elapsed.max(Duration::from_nanos(1)),
    }
    .report(&mut report, &cpu);
    redis.report(&mut report, sent, delivered);
    if let Some(limit) = drain {
        unwindowed::verdict(&mut report, sending, cut, expected, delivered, limit);
    }
    Ok(report)
}

/// The publisher: `one` message at a time in batches as `pacing` says,
/// each batch, with a window, at most `window` messages ahead of the
/// slowest receiver; counts what it wrote into `sent`.
async fn publish<W: AsyncWrite + Unpin>(
    write: &mut W,
    one: &[u8],
    pacing: Pacing,
    start: Instant,
    window: Option<(&Receivers, u64)>,
    sent: &Counter,
) -> anyhow::Result<()> {
    let block = one.repeat(pacing.batch as usize);
    let mut done = 0u64;
    while let Some(n) = pacing.next(done, start) {
        if let Some((receivers, window)) = window {
            receivers
                .wait_for((done + n).saturating_sub(window))
                .await?;
        }
        unwindowed::write_bounded(write, &block[..one.len() * n as usize]).await?;
        done += n;
        sent.0.store(done, Ordering::Release);
    }
    Ok(())
}
