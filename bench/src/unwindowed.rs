//! The unwindowed mode of `fanout` and `pairs` (`--window 0`): senders
//! write as fast as their sockets take the bytes, as `nats bench` does,
//! without waiting for any receiver; then the run waits a bounded time
//! (`--drain`) for the deliveries still on their way. A hub either keeps
//! up, holds the senders back (flow control), or loses something: a
//! reader cut (`bye`, `error`, a closed connection) or a message that
//! never came. Both fail the run, with the figures still reported.
//!
//! The windowed mode measures what a hub delivers without being pushed
//! into dropping anyone; this one measures what a `nats bench` user sees.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;

use super::crowd::Counter;
use super::report::Report;
use super::window::STALL;

/// `--drain` when not given: long enough for a hub that buffered a burst
/// to write it out, short enough that a lost message ends the run soon.
pub const DEFAULT_DRAIN: f64 = 10.0;

/// The longest `--drain` accepted: a run is not meant to hang for hours.
const MAX_DRAIN: f64 = 3600.0;

/// How the wait for the stragglers ended.
#[derive(Debug, Clone, Copy)]
pub struct Drained {
    /// Every receiver got all it was owed.
    pub complete: bool,
    /// When the last delivery was seen, or the wait began if none came
    /// during it (the senders were done then): the end of the run's
    /// clock, so a failed run's rate does not count the time spent
    /// waiting for what never came.
    pub last_delivery: Instant,
}

/// The `--drain` of a run: `None` in the windowed mode, where it has no
/// meaning and is refused, else a finite number of seconds in range.
pub fn drain_time(window: u64, drain: Option<f64>) -> anyhow::Result<Option<Duration>> {
    if window != 0 {
        anyhow::ensure!(
            drain.is_none(),
            "--drain is for the unwindowed mode (--window 0): a windowed run waits for every delivery"
        );
        return Ok(None);
    }
    let secs = drain.unwrap_or(DEFAULT_DRAIN);
    anyhow::ensure!(
        secs.is_finite() && (0.0..=MAX_DRAIN).contains(&secs),
        "--drain must be between 0 and {MAX_DRAIN} seconds, not {secs}"
    );
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// Writes `bytes` whole, or fails if the hub takes none of them for
/// [`STALL`]: a hub that stops reading a sender must not hang the run.
pub async fn write_bounded<W: AsyncWrite + Unpin>(
    write: &mut W,
    bytes: &[u8],
) -> anyhow::Result<()> {
    let writing = async {
        write.write_all(bytes).await?;
        // TLS keeps what the socket did not take at once until flushed.
        write.flush().await
    };
    match tokio::time::timeout(STALL, writing).await {
        Ok(written) => Ok(written?),
        Err(_) => anyhow::bail!("the hub took no bytes from a sender for {STALL:?}"),
    }
}

/// Waits until receiver `i` has `expected[i]` messages for every `i`, a
/// receiver failed (`failed`), or `limit` passed since the call. `wake`
/// is notified by the receivers after each read. Call it once the senders
/// are done.
pub async fn drain(
    counters: &[Arc<Counter>],
    expected: &[u64],
    wake: &Notify,
    failed: &AtomicBool,
    limit: Duration,
) -> Drained {
    let deadline = tokio::time::Instant::now() + limit;
    let total = || counters.iter().map(|c| c.get()).sum::<u64>();
    let mut seen = (total(), Instant::now());
    loop {
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = total();
        if now != seen.0 {
            seen = (now, Instant::now());
        }
        let complete = counters.iter().zip(expected).all(|(c, &e)| c.get() >= e);
        if complete || failed.load(Ordering::Acquire) {
            return Drained {
                complete,
                last_delivery: seen.1,
            };
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            let complete = counters.iter().zip(expected).all(|(c, &e)| c.get() >= e);
            if total() != seen.0 {
                seen.1 = Instant::now();
            }
            return Drained {
                complete,
                last_delivery: seen.1,
            };
        }
    }
}

/// What went wrong in an unwindowed run, if anything, as the report's
/// failures: the sending error, the first reader cut, the deliveries lost.
pub fn verdict(
    report: &mut Report,
    sending: Option<anyhow::Error>,
    cut: Option<anyhow::Error>,
    expected: u64,
    delivered: u64,
    drain: Duration,
) {
    report.param("drain", drain.as_secs_f64());
    if let Some(e) = sending {
        report.fail(format!("a sender failed: {e:#}"));
    }
    if let Some(e) = cut {
        report.fail(format!("the hub cut a reader: {e:#}"));
    }
    let lost = expected.saturating_sub(delivered);
    if lost > 0 {
        report.fail(format!(
            "{lost} of {expected} deliveries never arrived ({:?} after the last write)",
            drain
        ));
    }
    if delivered > expected {
        report.fail(format!(
            "{delivered} deliveries for {expected} owed: the hub duplicated messages"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drain_is_refused_with_a_window_and_checked_without() {
        assert!(drain_time(512, Some(1.0)).is_err());
        assert_eq!(drain_time(512, None).unwrap(), None);
        assert_eq!(
            drain_time(0, None).unwrap(),
            Some(Duration::from_secs_f64(DEFAULT_DRAIN))
        );
        assert_eq!(
            drain_time(0, Some(0.5)).unwrap(),
            Some(Duration::from_millis(500))
        );
        for bad in [-1.0, f64::NAN, f64::INFINITY, 1e9] {
            let e = drain_time(0, Some(bad)).unwrap_err().to_string();
            assert!(e.contains("--drain must be"), "{e}");
        }
    }

    #[tokio::test]
    async fn drain_ends_when_all_arrived_or_at_its_limit() {
        let counters: Vec<Arc<Counter>> = (0..2).map(|_| Arc::default()).collect();
        let (wake, failed) = (Notify::new(), AtomicBool::new(false));
        let start = Instant::now();
        counters[0].0.store(3, Ordering::Release);
        counters[1].0.store(5, Ordering::Release);
        let done = drain(&counters, &[3, 5], &wake, &failed, STALL).await;
        assert!(done.complete);

        let short = Duration::from_millis(50);
        let done = drain(&counters, &[3, 6], &wake, &failed, short).await;
        assert!(!done.complete);
        assert!(start.elapsed() >= short);

        failed.store(true, Ordering::Release);
        let done = drain(&counters, &[3, 6], &wake, &failed, STALL).await;
        assert!(!done.complete, "a failed receiver ends the wait at once");
    }
}
