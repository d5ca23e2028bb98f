//! Burst: N subscribers reading as fast as they can, one publisher
//! broadcasting M messages as fast as its socket takes them, with no window
//! and no pacing. A hub with flow control holds the publisher back instead
//! of cutting readers; the run fails if any reader is cut (a `bye`, an
//! `error` or a lost connection), any delivery is missing, or any stream
//! ends in the middle of a frame. With `--pid` it reads the hub's resident
//! memory before the burst, at its peak (sampled during it) and `--settle`
//! seconds after it, with the subscribers still connected.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::io::AsyncWriteExt;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::cpu::CpuMeter;
use super::crowd::{self, Counter, Spread};
use super::driver::Deliveries;
use super::memory::{self, PeakSampler};
use super::progress::Progress;
use super::report::Report;
use super::scan::Inbox;
use super::stream::{Stream, WriteHalf};
use super::target::Target;
use super::window::STALL;
use super::wire::{self, Conn, Proto};

/// The NATS subject of the burst.
const SUBJECT: &str = "bench.burst";

#[derive(Debug, Clone, Args)]
pub struct BurstArgs {
    /// Subscribers, each reading as fast as it can.
    #[arg(long, default_value_t = 100)]
    pub subs: usize,
    /// Messages the publisher broadcasts.
    #[arg(long, default_value_t = 50_000)]
    pub messages: u64,
    /// Payload bytes per message.
    #[arg(long, default_value_t = 512)]
    pub payload: usize,
    /// Messages per write of the publisher.
    #[arg(long, default_value_t = 32)]
    pub batch: u64,
    /// Seconds after the burst before the hub's memory is read again.
    #[arg(long, default_value_t = 30.0)]
    pub settle: f64,
    /// Milliseconds between readings of the hub's memory during the burst.
    #[arg(long, default_value_t = 50)]
    pub sample_ms: u64,
}

/// How one subscriber's stream went.
#[derive(Debug)]
struct ReaderEnd {
    got: u64,
    /// Why it was cut: the `bye`/`error` frame, or how the connection ended.
    cut: Option<String>,
    /// It ended with part of a frame, or a frame was not a whole message.
    mid_frame: bool,
    /// When the last message arrived.
    done_at: Instant,
    /// Kept open until the memory after the burst is read.
    _stream: Option<Stream>,
}

/// What the publisher did.
#[derive(Debug)]
struct Published {
    sent: Arc<Counter>,
    task: JoinHandle<anyhow::Result<()>>,
}

pub async fn run(target: &Target, args: &BurstArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(args.subs > 0, "--subs must be at least 1");
    anyhow::ensure!(args.messages > 0, "--messages must be at least 1");
    let (subs, publisher) = crowd::audience(target, args.subs, SUBJECT, None, Spread::All).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let counters: Vec<Arc<Counter>> = (0..args.subs).map(|_| Arc::default()).collect();
    let readers = spawn_readers(target.proto, subs, &counters, args.messages, &stop_rx);
    let rss_before = memory::now(target.pid)?;
    let sampler = PeakSampler::start(target.pid, Duration::from_millis(args.sample_ms.max(1)));
    let cpu = CpuMeter::start(target.pid);
    let start = Instant::now();
    let published = publish(target.proto, publisher, args, stop_rx);
    let stalled = watch_deliveries(target, &counters, &readers, args).await;
    let _ = stop_tx.send(true);
    let ends = collect(readers).await?;
    let peak = sampler.finish().await;
    let publisher_error = finish_publisher(published.task).await;
    let sent = published.sent.get();
    let mut report = Report::new("burst", target);
    figures(&mut report, args, &ends, sent, elapsed(&ends, start), &cpu);
    memory::settle(args.settle).await;
    let rss_after = memory::now(target.pid)?;
    memory::report(&mut report, rss_before, peak, rss_after);
    verdict(&mut report, args, &ends, sent, stalled, publisher_error);
    drop(ends);
    Ok(report)
}

fn spawn_readers(
    proto: Proto,
    subs: Vec<Conn>,
    counters: &[Arc<Counter>],
    expected: u64,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<ReaderEnd>> {
    let reading = |(conn, counter): (Conn, &Arc<Counter>)| {
        tokio::spawn(read(proto, conn, expected, counter.clone(), stop.clone()))
    };
    subs.into_iter().zip(counters).map(reading).collect()
}

/// Reads one subscriber's stream until it has `expected` messages, is cut,
/// or the run is stopped.
async fn read(
    proto: Proto,
    conn: Conn,
    expected: u64,
    counter: Arc<Counter>,
    mut stop: watch::Receiver<bool>,
) -> ReaderEnd {
    let mut inbox = Inbox::new(proto, &conn.pending);
    let mut stream = conn.stream;
    let mut frame_len = None;
    let mut end = ReaderEnd {
        got: 0,
        cut: None,
        mid_frame: false,
        done_at: Instant::now(),
        _stream: None,
    };
    loop {
        let tally = inbox.drain(|m| {
            // Every message of the burst has the same length: another
            // length is a frame cut short and run into the next one.
            end.mid_frame |= *frame_len.get_or_insert(m.len()) != m.len();
        });
        if tally.messages > 0 {
            end.got += tally.messages;
            end.done_at = Instant::now();
            counter.0.fetch_add(tally.messages, Ordering::Release);
        }
        if tally.error.is_some() || end.got >= expected {
            end.cut = tally.error;
            break;
        }
        let read = tokio::select! {
            biased;
            _ = stop.wait_for(|s| *s) => break,
            read = inbox.read_from(&mut stream) => read,
        };
        match read {
            Ok(n) if n > 0 => continue,
            Ok(_) => end.cut = Some("the hub closed the connection".into()),
            Err(e) => end.cut = Some(format!("the connection failed: {e}")),
        }
        end.mid_frame |= inbox.buffered() > 0;
        break;
    }
    end._stream = Some(stream);
    end
}

/// Starts the publisher: every message as fast as the socket takes them.
fn publish(
    proto: Proto,
    publisher: Conn,
    args: &BurstArgs,
    stop: watch::Receiver<bool>,
) -> Published {
    let (read, write) = publisher.stream.into_split();
    // Nothing comes back to the publisher of a broadcast, unless the hub
    // tells it something went wrong: that is an error of the run.
    let drain = crowd::count_messages(
        proto,
        read,
        publisher.pending,
        Arc::default(),
        Arc::new(Notify::new()),
        stop,
    );
    let sent = Arc::new(Counter::default());
    let writing = write_all_messages(proto, write, args.clone(), sent.clone());
    let task = tokio::spawn(async move {
        tokio::select! {
            written = writing => written,
            // Ends when the run is stopped, or with the hub's error.
            drained = drain => drained,
        }
    });
    Published { sent, task }
}

async fn write_all_messages(
    proto: Proto,
    mut write: WriteHalf,
    args: BurstArgs,
    sent: Arc<Counter>,
) -> anyhow::Result<()> {
    let mut one = Vec::new();
    let to = if proto == Proto::Tcphub { "*" } else { SUBJECT };
    wire::encode_message(proto, to, &wire::filler(args.payload), &mut one);
    let batch = args.batch.max(1);
    let block = one.repeat(batch as usize);
    let mut done = 0;
    while done < args.messages {
        let n = batch.min(args.messages - done);
        write.write_all(&block[..one.len() * n as usize]).await?;
        write.flush().await?;
        done += n;
        sent.0.store(done, Ordering::Release);
    }
    // Keep the connection open: closing it could end the burst early.
    std::future::pending().await
}

/// Waits until every reader is done (has all its messages or was cut), or
/// until no delivery arrived for [`STALL`]. Returns whether it stalled.
async fn watch_deliveries(
    target: &Target,
    counters: &[Arc<Counter>],
    readers: &[JoinHandle<ReaderEnd>],
    args: &BurstArgs,
) -> bool {
    let expected = args.messages * args.subs as u64;
    let progress = Progress::counting("burst deliveries", expected, !target.no_progress);
    let mut last = (0, Instant::now());
    let stalled = loop {
        if readers.iter().all(|r| r.is_finished()) {
            break false;
        }
        let total: u64 = counters.iter().map(|c| c.get()).sum();
        progress.set(total);
        if total != last.0 {
            last = (total, Instant::now());
        } else if last.1.elapsed() >= STALL {
            break true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    progress.finish();
    stalled
}

/// The readers' outcomes.
async fn collect(readers: Vec<JoinHandle<ReaderEnd>>) -> anyhow::Result<Vec<ReaderEnd>> {
    let mut ends = Vec::new();
    for reader in readers {
        ends.push(reader.await?);
    }
    Ok(ends)
}

/// The publisher's error, if it had one: once the run is stopped it ends
/// at once, unless it is stuck in a write the hub does not take.
async fn finish_publisher(task: JoinHandle<anyhow::Result<()>>) -> Option<anyhow::Error> {
    let abort = task.abort_handle();
    let outcome = tokio::time::timeout(Duration::from_secs(1), task).await;
    abort.abort();
    match outcome {
        Ok(Ok(Err(e))) => Some(e),
        _ => None,
    }
}

/// From the start of the burst to its last delivery.
fn elapsed(ends: &[ReaderEnd], start: Instant) -> Duration {
    ends.iter()
        .map(|e| e.done_at.saturating_duration_since(start))
        .max()
        .unwrap_or_default()
}

fn figures(
    report: &mut Report,
    args: &BurstArgs,
    ends: &[ReaderEnd],
    sent: u64,
    took: Duration,
    cpu: &CpuMeter,
) {
    let expected = sent * args.subs as u64;
    report
        .param("subs", args.subs)
        .param("messages", args.messages)
        .param("payload", args.payload)
        .param("batch", args.batch)
        .param("settle", args.settle);
    report
        .metric("readers_cut", cut(ends).count() as f64, "reader")
        .metric(
            "mid_frame",
            ends.iter().filter(|e| e.mid_frame).count() as f64,
            "stream",
        )
        .metric("expected", expected as f64, "msg");
    Deliveries {
        published: sent,
        expected,
        delivered: ends.iter().map(|e| e.got).sum(),
        payload: args.payload,
        elapsed: took.max(Duration::from_nanos(1)),
    }
    .report(report, cpu);
}

fn cut(ends: &[ReaderEnd]) -> impl Iterator<Item = &ReaderEnd> {
    ends.iter().filter(|e| e.cut.is_some())
}

/// Records what went wrong, if anything.
fn verdict(
    report: &mut Report,
    args: &BurstArgs,
    ends: &[ReaderEnd],
    sent: u64,
    stalled: bool,
    publisher_error: Option<anyhow::Error>,
) {
    if let Some(first) = cut(ends).next() {
        let reason = first.cut.as_deref().unwrap_or_default();
        let count = cut(ends).count();
        report.fail(format!(
            "the hub cut {count} of {} readers (first: {reason})",
            args.subs
        ));
    }
    let mid = ends.iter().filter(|e| e.mid_frame).count();
    if mid > 0 {
        report.fail(format!("{mid} streams ended in the middle of a frame"));
    }
    let lost = report.get("lost").unwrap_or(0.0);
    if lost > 0.0 {
        let expected = report.get("expected").unwrap_or(0.0);
        report.fail(format!("{lost} of {expected} deliveries never arrived"));
    }
    if stalled {
        report.fail(format!("no delivery for {STALL:?}: the run stopped"));
    }
    if sent < args.messages {
        report.fail(format!(
            "the publisher sent {sent} of {} messages",
            args.messages
        ));
    }
    if let Some(e) = publisher_error {
        report.fail(format!("the publisher failed: {e:#}"));
    }
}
