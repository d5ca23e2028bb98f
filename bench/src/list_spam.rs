//! List spam: K idle sessions connected, one client pinging the hub at a
//! fixed interval, and, after a baseline phase without it, one client
//! writing `{"type":"list"}` requests as fast as the hub takes them (and
//! reading the replies as fast as it can, or, with `--no-read`, never).
//! The figures are the pinger's round-trip times in both phases, how many
//! requests the spammer got answered per second, the hub's CPU share and,
//! with `--pid`, its resident memory before, at its peak and after.
//! tcphub's protocol only: NATS has no `list`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use hdrhistogram::Histogram;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use super::cpu::cpu_time;
use super::crowd::{self, Counter};
use super::memory::{self, PeakSampler};
use super::progress::Progress;
use super::report::Report;
use super::scan::Inbox;
use super::stream::{ReadHalf, WriteHalf};
use super::target::Target;
use super::window::STALL;
use super::wire::{self, Conn, Join, Proto};

/// The phases a ping can be sent in; only the first two are measured.
const BASELINE: u8 = 0;
const SPAM: u8 = 1;
const AFTER: u8 = 2;

#[derive(Debug, Clone, Args)]
pub struct ListSpamArgs {
    /// Idle sessions connected (and synced) throughout.
    #[arg(long, default_value_t = 5_000)]
    pub sessions: usize,
    /// Seconds of pings before the spammer starts.
    #[arg(long, default_value_t = 5.0)]
    pub baseline: f64,
    /// Seconds the spammer runs.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Milliseconds between two pings.
    #[arg(long, default_value_t = 10.0)]
    pub ping_interval: f64,
    /// The spammer never reads its replies (the hub should stop reading
    /// it, and cut it once nothing could be written to it for its write
    /// deadline).
    #[arg(long)]
    pub no_read: bool,
    /// `list` requests per write of the spammer.
    #[arg(long, default_value_t = 1024)]
    pub batch: usize,
    /// Seconds after the spammer left before the hub's memory is read again.
    #[arg(long, default_value_t = 30.0)]
    pub settle: f64,
    /// Milliseconds between readings of the hub's memory during the run.
    #[arg(long, default_value_t = 50)]
    pub sample_ms: u64,
}

pub async fn run(target: &Target, args: &ListSpamArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        target.proto == Proto::Tcphub,
        "list-spam speaks tcphub's protocol only (NATS has no `list`)"
    );
    anyhow::ensure!(args.ping_interval > 0.0, "--ping-interval must be positive");
    let naming = |i| (format!("idle-{i}"), None);
    let mut idle = crowd::join_all(target, args.sessions, naming, "idle sessions").await?;
    let pinger = join(target, "pinger").await?;
    let spammer = join(target, "spammer").await?;

    let rss_before = memory::now(target.pid)?;
    let sampler = PeakSampler::start(target.pid, Duration::from_millis(args.sample_ms.max(1)));
    let outcome = phases(target, args, pinger, spammer).await?;
    let peak = sampler.finish().await;

    let mut report = Report::new("list-spam", target);
    params(&mut report, args);
    pings_figures(&mut report, &outcome.pings);
    spam_figures(&mut report, args, &outcome.spammed);
    cpu_figures(&mut report, outcome.cpu);
    memory::settle(args.settle).await;
    let rss_after = memory::now(target.pid)?;
    memory::report(&mut report, rss_before, peak, rss_after);
    let disturbed = disturbed(&mut idle);
    report.metric("sessions_disturbed", disturbed as f64, "session");
    verdict(&mut report, args, &outcome, disturbed);
    Ok(report)
}

/// What the two phases measured.
struct Outcome {
    pings: Pings,
    spammed: Spammed,
    /// The hub's CPU time at the start of the baseline, of the spam, and
    /// at the end of the spam.
    cpu: [CpuMark; 3],
}

/// The baseline, then the spam; the pinger runs through both.
async fn phases(
    target: &Target,
    args: &ListSpamArgs,
    pinger: Conn,
    spammer: Conn,
) -> anyhow::Result<Outcome> {
    let phase = Arc::new(AtomicU8::new(BASELINE));
    let (stop_tx, stop_rx) = watch::channel(false);
    let every = Duration::from_secs_f64(args.ping_interval / 1000.0);
    let pinging = tokio::spawn(ping(pinger, every, phase.clone(), stop_rx));
    let clock = Clock::start(target, args);
    let base = CpuMark::now(target.pid);
    clock.hold(args.baseline).await;
    let spam = CpuMark::now(target.pid);
    phase.store(SPAM, Ordering::Release);
    let spamming = Spammer::start(spammer, args);
    clock.hold(args.duration).await;
    phase.store(AFTER, Ordering::Release);
    let end = CpuMark::now(target.pid);
    let spammed = spamming.stop().await;
    let _ = stop_tx.send(true);
    let pings = pinging.await?;
    clock.progress.finish();
    Ok(Outcome {
        pings,
        spammed,
        cpu: [base, spam, end],
    })
}

async fn join(target: &Target, name: &str) -> anyhow::Result<Conn> {
    let join = Join {
        name,
        subscribe: None,
        room: None,
    };
    wire::connect(&target.dial, target.server, target.proto, join).await
}

/// The run's timeline and its progress bar.
struct Clock {
    start: Instant,
    progress: Progress,
}

impl Clock {
    fn start(target: &Target, args: &ListSpamArgs) -> Self {
        let length = Duration::from_secs_f64(args.baseline + args.duration);
        Clock {
            start: Instant::now(),
            progress: Progress::new("list spam", length, !target.no_progress),
        }
    }

    /// Waits `seconds`, moving the bar.
    async fn hold(&self, seconds: f64) {
        let until = Instant::now() + Duration::from_secs_f64(seconds.max(0.0));
        while Instant::now() < until {
            let step = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(step.min(Duration::from_millis(100))).await;
            self.progress.at(self.start.elapsed(), String::new());
        }
    }
}

/// Round trips of the pings sent in each measured phase, in microseconds.
#[derive(Debug)]
struct Pings {
    rtt: [Histogram<u64>; 2],
    sent: u64,
    answered: u64,
    /// Why the pinger stopped early: cut by the hub, or a ping unanswered.
    failed: Option<String>,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("the bounds are valid")
}

/// Pings every `every` until stopped, then waits for the last pongs.
async fn ping(
    conn: Conn,
    every: Duration,
    phase: Arc<AtomicU8>,
    stop: watch::Receiver<bool>,
) -> Pings {
    let mut pings = Pings {
        rtt: [histogram(), histogram()],
        sent: 0,
        answered: 0,
        failed: None,
    };
    if let Err(e) = ping_loop(conn, every, &phase, stop, &mut pings).await {
        pings.failed = Some(format!("{e:#}"));
    }
    pings
}

async fn ping_loop(
    conn: Conn,
    every: Duration,
    phase: &AtomicU8,
    mut stop: watch::Receiver<bool>,
    pings: &mut Pings,
) -> anyhow::Result<()> {
    let (mut read, mut write) = conn.stream.into_split();
    let mut inbox = Inbox::new(Proto::Tcphub, &conn.pending);
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut waiting = VecDeque::new();
    let mut stopping = false;
    while !(stopping && waiting.is_empty()) {
        let overdue = waiting.front().map(|&(at, _): &(Instant, u8)| at + STALL);
        tokio::select! {
            () = stopped(&mut stop), if !stopping => stopping = true,
            _ = ticker.tick(), if !stopping => {
                write.write_all(tcphub_core::encode_ping()).await?;
                write.flush().await?;
                waiting.push_back((Instant::now(), phase.load(Ordering::Acquire)));
                pings.sent += 1;
            }
            read = inbox.read_from(&mut read) => {
                anyhow::ensure!(read? > 0, "the hub closed the pinger's connection");
                pings.take_pongs(&mut inbox, &mut waiting)?;
            }
            () = tokio::time::sleep_until(overdue.unwrap_or_else(Instant::now).into()),
                if overdue.is_some() => bail!("a ping went unanswered for {STALL:?}"),
        }
    }
    Ok(())
}

/// Returns once the run says stop (without holding the watch's lock).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

impl Pings {
    /// Records the round trip of every pong that arrived.
    fn take_pongs(
        &mut self,
        inbox: &mut Inbox,
        waiting: &mut VecDeque<(Instant, u8)>,
    ) -> anyhow::Result<()> {
        let now = Instant::now();
        let tally = inbox.drain(|_| {});
        if let Some(error) = tally.error {
            bail!("the hub told the pinger {error}");
        }
        // Pongs come back in the order of the pings: the oldest is answered.
        for _ in 0..tally.other {
            let (sent, phase) = waiting.pop_front().context("a pong for no ping")?;
            self.answered += 1;
            if let Some(rtt) = self.rtt.get_mut(usize::from(phase)) {
                let us = now.duration_since(sent).as_micros().max(1);
                let _ = rtt.record(u64::try_from(us).unwrap_or(u64::MAX));
            }
        }
        Ok(())
    }
}

/// The client that floods the hub with `list` requests.
struct Spammer {
    started: Instant,
    requests: Arc<Counter>,
    replies: Arc<Counter>,
    reply_bytes: Arc<Counter>,
    writer: JoinHandle<Failure>,
    reader: Option<JoinHandle<Failure>>,
    /// With `--no-read`: held, never read.
    _unread: Option<ReadHalf>,
}

/// Why and when a spammer's half stopped: it only stops when it fails.
#[derive(Debug)]
struct Failure {
    at: Instant,
    why: String,
}

impl Failure {
    fn now(why: impl std::fmt::Display) -> Self {
        Failure {
            at: Instant::now(),
            why: why.to_string(),
        }
    }
}

/// What the spammer got done, counted when the spam phase ended.
#[derive(Debug)]
struct Spammed {
    seconds: f64,
    requests: u64,
    replies: u64,
    reply_bytes: u64,
    /// When (seconds into the spam) and why the hub cut the spammer.
    cut: Option<(f64, String)>,
}

impl Spammer {
    fn start(conn: Conn, args: &ListSpamArgs) -> Self {
        let (read, write) = conn.stream.into_split();
        let requests = Arc::new(Counter::default());
        let replies = Arc::new(Counter::default());
        let reply_bytes = Arc::new(Counter::default());
        let writer = tokio::spawn(write_requests(write, args.batch, requests.clone()));
        let (reader, unread) = if args.no_read {
            (None, Some(read))
        } else {
            let reading = read_replies(read, conn.pending, replies.clone(), reply_bytes.clone());
            (Some(tokio::spawn(reading)), None)
        };
        Spammer {
            started: Instant::now(),
            requests,
            replies,
            reply_bytes,
            writer,
            reader,
            _unread: unread,
        }
    }

    /// Counts what was done and closes the spammer's connection.
    async fn stop(self) -> Spammed {
        let seconds = self.started.elapsed().as_secs_f64();
        let (requests, replies) = (self.requests.get(), self.replies.get());
        let reply_bytes = self.reply_bytes.get();
        let mut first: Option<Failure> = None;
        for task in std::iter::once(self.writer).chain(self.reader) {
            if !task.is_finished() {
                task.abort();
            } else if let Ok(failure) = task.await {
                if first.as_ref().is_none_or(|f| failure.at < f.at) {
                    first = Some(failure);
                }
            }
        }
        let since = |at: Instant| at.saturating_duration_since(self.started).as_secs_f64();
        Spammed {
            seconds,
            requests,
            replies,
            reply_bytes,
            cut: first.map(|f| (since(f.at), f.why)),
        }
    }
}

/// Writes `batch` requests at a time, as fast as the hub takes them,
/// until the connection fails.
async fn write_requests(mut write: WriteHalf, batch: usize, requests: Arc<Counter>) -> Failure {
    let block = tcphub_core::encode_list().repeat(batch.max(1));
    loop {
        if let Err(e) = async {
            write.write_all(&block).await?;
            write.flush().await
        }
        .await
        {
            return Failure::now(format!("writing list requests: {e}"));
        }
        requests.0.fetch_add(batch.max(1) as u64, Ordering::Release);
    }
}

/// Reads and counts `sessions` replies until the connection fails or the
/// hub sends an error.
async fn read_replies(
    mut read: ReadHalf,
    pending: Vec<u8>,
    replies: Arc<Counter>,
    bytes: Arc<Counter>,
) -> Failure {
    let mut inbox = Inbox::new(Proto::Tcphub, &pending);
    loop {
        match inbox.read_from(&mut read).await {
            Ok(0) => return Failure::now("the hub closed the spammer's connection"),
            Ok(n) => bytes.0.fetch_add(n as u64, Ordering::Release),
            Err(e) => return Failure::now(format!("reading list replies: {e}")),
        };
        let tally = inbox.drain(|_| {});
        if let Some(error) = tally.error {
            return Failure::now(format!("the hub told the spammer {error}"));
        }
        replies.0.fetch_add(tally.other, Ordering::Release);
    }
}

/// Idle sessions that were closed or sent anything during the run: none
/// should be.
fn disturbed(idle: &mut [Conn]) -> usize {
    idle.iter_mut()
        .map(|conn| !conn.stream.is_quiet() || !conn.pending.is_empty())
        .filter(|&disturbed| disturbed)
        .count()
}

/// The hub's CPU time at a moment of the run.
#[derive(Debug, Clone, Copy)]
struct CpuMark {
    at: Instant,
    used: Option<Duration>,
}

impl CpuMark {
    fn now(pid: Option<u32>) -> Self {
        CpuMark {
            at: Instant::now(),
            used: pid.and_then(cpu_time),
        }
    }

    /// Percent of one core the hub used from `self` to `later`.
    fn share(self, later: CpuMark) -> Option<f64> {
        let used = later.used?.saturating_sub(self.used?).as_secs_f64();
        let wall = later.at.duration_since(self.at).as_secs_f64();
        (wall > 0.0).then(|| 100.0 * used / wall)
    }
}

fn params(report: &mut Report, args: &ListSpamArgs) {
    report
        .param("sessions", args.sessions)
        .param("baseline", args.baseline)
        .param("duration", args.duration)
        .param("ping_interval_ms", args.ping_interval)
        .param("read", !args.no_read)
        .param("batch", args.batch)
        .param("settle", args.settle);
}

fn pings_figures(report: &mut Report, pings: &Pings) {
    let us = |v: u64| v as f64;
    for (name, rtt) in ["base", "spam"].iter().zip(&pings.rtt) {
        if rtt.is_empty() {
            continue;
        }
        report
            .metric(
                &format!("ping_{name}_p50"),
                us(rtt.value_at_quantile(0.5)),
                "us",
            )
            .metric(
                &format!("ping_{name}_p99"),
                us(rtt.value_at_quantile(0.99)),
                "us",
            )
            .metric(&format!("ping_{name}_max"), us(rtt.max()), "us")
            .metric(&format!("pings_{name}"), rtt.len() as f64, "ping");
    }
    report
        .metric("pings_sent", pings.sent as f64, "ping")
        .metric("pings_answered", pings.answered as f64, "ping");
}

fn spam_figures(report: &mut Report, args: &ListSpamArgs, spammed: &Spammed) {
    let per_s = |n: u64| n as f64 / spammed.seconds.max(1e-9);
    report
        .metric("list_requests_sent", spammed.requests as f64, "request")
        .metric("list_replies", spammed.replies as f64, "reply")
        .metric("list_answered_per_s", per_s(spammed.replies), "reply/s");
    if !args.no_read && spammed.replies > 0 {
        let kib = spammed.reply_bytes as f64 / spammed.replies as f64 / 1024.0;
        report.metric("list_reply_size", kib, "KiB");
    }
    report.metric(
        "spammer_cut",
        f64::from(u8::from(spammed.cut.is_some())),
        "client",
    );
    if let Some((after, _)) = &spammed.cut {
        report.metric("spammer_cut_after", *after, "s");
    }
}

fn cpu_figures(report: &mut Report, [base, spam, end]: [CpuMark; 3]) {
    if let (Some(b), Some(s)) = (base.share(spam), spam.share(end)) {
        report
            .metric("hub_cpu_base", b, "% of a core")
            .metric("hub_cpu_spam", s, "% of a core");
    }
}

/// Records what went wrong: the pinger or an idle session cut, a ping
/// unanswered, or a spammer that reads cut.
fn verdict(report: &mut Report, args: &ListSpamArgs, outcome: &Outcome, idle: usize) {
    if let Some(why) = &outcome.pings.failed {
        report.fail(format!("the pinger failed: {why}"));
    }
    if idle > 0 {
        report.fail(format!(
            "{idle} of {} idle sessions were closed or disturbed",
            args.sessions
        ));
    }
    if let (false, Some((after, why))) = (args.no_read, &outcome.spammed.cut) {
        report.fail(format!(
            "the hub cut a spammer that reads, {after:.1} s in: {why}"
        ));
    }
}
