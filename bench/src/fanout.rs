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

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::Notify;

use super::cpu::CpuMeter;
use super::crowd::{self, Spread};
use super::driver::{self, stop_meters, Deliveries, Pacing, Receiving};
use super::progress::Progress;
use super::redis_info::RedisMeter;
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
    let pacing = Pacing::new(args.messages, args.duration, args.batch, args.window);
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
    let block = one.repeat(pacing.batch as usize);
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
    let mut sent = 0u64;
    let publishing = async {
        while let Some(n) = pacing.next(sent, start) {
            let in_flight = (sent + n).saturating_sub(args.window);
            receivers.wait_for(in_flight).await?;
            pub_write
                .write_all(&block[..one.len() * n as usize])
                .await?;
            // TLS keeps what the socket did not take at once until flushed.
            pub_write.flush().await?;
            sent += n;
        }
        receivers.wait_for(sent).await
    };
    let status = || format!("{} delivered", driver::total(&receivers.counters));
    let outcome = driver::with_progress(&progress, start, status, publishing).await;
    let elapsed = start.elapsed();
    let redis_read = stop_meters(target, &mut cpu, &mut redis).await;
    receiving.finish(outcome).await?;
    redis_read?;

    let mut report = Report::new("fanout", target);
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
    Deliveries {
        published: sent,
        expected: sent * args.subs as u64,
        delivered,
        payload: args.payload,
        elapsed,
    }
    .report(&mut report, &cpu);
    redis.report(&mut report, sent, delivered);
    Ok(report)
}
