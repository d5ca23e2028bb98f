//! What the timed scenarios share, so each says only what is its own: the
//! tasks that count what a crowd receives and how their failures end a
//! run, the pacing of a sender (a message count, or a duration, in
//! batches), a timed phase under a progress bar, and the report of a run
//! that delivers messages (rates from counts, CPU per delivery).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncRead;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::cpu::CpuMeter;
use super::crowd::{self, Counter};
use super::progress::Progress;
use super::redis_info::RedisMeter;
use super::report::Report;
use super::target::Target;
use super::wire::Proto;

/// How often a phase's progress is shown.
const TICK: Duration = Duration::from_millis(100);

/// The receiving side of a run: one counting task per connection, and the
/// signal that stops them all.
#[derive(Debug)]
pub struct Receiving {
    proto: Proto,
    stop: watch::Sender<bool>,
    counting: Vec<JoinHandle<anyhow::Result<()>>>,
    /// Connections read only so the hub never blocks on them.
    draining: Vec<JoinHandle<anyhow::Result<()>>>,
    /// Set by a counting task that failed: senders stop waiting.
    pub failed: Arc<AtomicBool>,
}

impl Receiving {
    pub fn new(proto: Proto) -> Self {
        Receiving {
            proto,
            stop: watch::channel(false).0,
            counting: Vec::new(),
            draining: Vec::new(),
            failed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Counts the messages `reader` receives into `counter`, waking `wake`
    /// after every read; a failure sets [`Self::failed`] and wakes too.
    pub fn count<R>(
        &mut self,
        reader: R,
        pending: Vec<u8>,
        counter: Arc<Counter>,
        wake: Arc<Notify>,
    ) where
        R: AsyncRead + Unpin + Send + 'static,
    {
        let failed = self.failed.clone();
        let counting = crowd::count_messages(
            self.proto,
            reader,
            pending,
            counter,
            wake.clone(),
            self.stop.subscribe(),
        );
        self.counting.push(tokio::spawn(async move {
            let result = counting.await;
            if result.is_err() {
                failed.store(true, Ordering::Release);
                wake.notify_one();
            }
            result
        }));
    }

    /// Reads what arrives on `reader` and forgets it (a sender's own
    /// connection): its failures do not fail the run.
    pub fn drain<R>(&mut self, reader: R, pending: Vec<u8>)
    where
        R: AsyncRead + Unpin + Send + 'static,
    {
        self.draining.push(tokio::spawn(crowd::count_messages(
            self.proto,
            reader,
            pending,
            Arc::new(Counter::default()),
            Arc::new(Notify::new()),
            self.stop.subscribe(),
        )));
    }

    /// Stops every task and returns `outcome`, an error carrying the first
    /// counting task's error as its cause.
    pub async fn finish(self, outcome: anyhow::Result<()>) -> anyhow::Result<()> {
        let cause = self.stop_all().await?;
        outcome.map_err(|e| match cause {
            Some(cause) => e.context(cause),
            None => e,
        })
    }

    /// Stops every task and returns the first counting task's error (a
    /// reader cut, or a connection lost), for a run that reports it.
    pub async fn stop_all(self) -> anyhow::Result<Option<anyhow::Error>> {
        let _ = self.stop.send(true);
        let mut cause = None;
        for task in self.counting {
            if let Err(e) = task.await? {
                cause.get_or_insert(e);
            }
        }
        for task in self.draining {
            let _ = task.await?;
        }
        Ok(cause)
    }
}

/// The longest `--duration` accepted (a day): beyond it is a typo.
const MAX_DURATION: f64 = 86_400.0;

/// How long a sender goes on, and in what steps.
#[derive(Debug, Clone, Copy)]
pub struct Pacing {
    /// Exactly this many messages, or else for `duration`.
    pub messages: Option<u64>,
    pub duration: Duration,
    /// Messages per write at most.
    pub batch: u64,
}

impl Pacing {
    /// `batch` at least 1 and at most `window` (a batch must fit in the
    /// window; window 0 is the unwindowed mode, which has none to fit).
    /// The duration must be a finite number of seconds, not negative.
    pub fn new(
        messages: Option<u64>,
        duration: f64,
        batch: u64,
        window: u64,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(
            duration.is_finite() && (0.0..=MAX_DURATION).contains(&duration),
            "--duration must be between 0 and {MAX_DURATION} seconds, not {duration}"
        );
        let most = if window == 0 { u64::MAX } else { window };
        Ok(Pacing {
            messages,
            duration: Duration::from_secs_f64(duration),
            batch: batch.clamp(1, most),
        })
    }

    /// Messages to send next, having sent `sent` since `start`; `None` when done.
    pub fn next(&self, sent: u64, start: Instant) -> Option<u64> {
        match self.messages {
            Some(total) if sent >= total => None,
            Some(total) => Some(self.batch.min(total - sent)),
            None if start.elapsed() >= self.duration => None,
            None => Some(self.batch),
        }
    }

    /// Whether a progress bar makes sense: a run of known length.
    pub fn timed(&self) -> bool {
        self.messages.is_none()
    }
}

/// Runs `work`, showing `status()` on `progress` every tick, and closes
/// the bar when it is done.
pub async fn with_progress<T>(
    progress: &Progress,
    start: Instant,
    status: impl Fn() -> String,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            () = tokio::time::sleep(TICK) => progress.at(start.elapsed(), status()),
        }
    };
    progress.finish();
    out
}

/// The counts of a run that delivers messages.
#[derive(Debug, Clone, Copy)]
pub struct Deliveries {
    /// Messages written by the senders.
    pub published: u64,
    /// Deliveries the hub owed: each message times its receivers.
    pub expected: u64,
    /// Deliveries counted by the receivers.
    pub delivered: u64,
    /// Payload bytes of one message.
    pub payload: usize,
    pub elapsed: Duration,
}

impl Deliveries {
    /// Adds the run's figures to `report`: rates are the counts divided by
    /// the elapsed time, CPU per delivery is CPU over `delivered`.
    pub fn report(&self, report: &mut Report, cpu: &CpuMeter) {
        let secs = self.elapsed.as_secs_f64();
        let per_s = |n: u64| n as f64 / secs;
        report
            .metric("deliveries_per_s", per_s(self.delivered), "msg/s")
            .metric("published_per_s", per_s(self.published), "msg/s")
            .metric(
                "payload_mb_per_s",
                per_s(self.delivered * self.payload as u64) / 1e6,
                "MB/s",
            )
            .metric("published", self.published as f64, "msg")
            .metric("delivered", self.delivered as f64, "msg")
            .metric(
                "lost",
                self.expected.saturating_sub(self.delivered) as f64,
                "msg",
            )
            .metric("elapsed", secs, "s");
        cpu.report(report, self.delivered);
    }
}

/// The sum of `counters`.
pub fn total(counters: &[Arc<Counter>]) -> u64 {
    counters.iter().map(|c| c.get()).sum()
}

/// Ends the metering of a timed phase. Redis is read now; so are the
/// cluster's CPU times with `--cluster-pids`, so that the clients'
/// departures, which a cluster settles through Redis, are not counted
/// against the messages. A single hub's CPU is still read at the report,
/// as it always was, so its figures compare with earlier runs.
pub async fn stop_meters(
    target: &Target,
    cpu: &mut CpuMeter,
    redis: &mut RedisMeter,
) -> anyhow::Result<()> {
    if !target.cluster_pids.is_empty() {
        cpu.stop();
    }
    redis.stop().await
}
