//! Keeping a bounded number of messages in flight: a sender waits until
//! its slowest receiver is within `window` messages of what was sent.
//! Throughput is then what the hub really delivers, and no hub is pushed
//! into dropping a slow consumer.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use tokio::sync::Notify;

use super::crowd::Counter;

/// No delivery for this long means the hub stalled (or dropped messages).
pub const STALL: Duration = Duration::from_secs(10);

/// The receivers a sender waits for.
#[derive(Debug, Clone)]
pub struct Receivers {
    pub counters: Vec<Arc<Counter>>,
    /// Woken by the receivers after each read.
    pub wake: Arc<Notify>,
    /// Set by a receiver that failed: stop waiting.
    pub failed: Arc<AtomicBool>,
}

impl Receivers {
    /// Messages the slowest receiver got.
    pub fn slowest(&self) -> u64 {
        self.counters.iter().map(|c| c.get()).min().unwrap_or(0)
    }

    /// Waits until every receiver got at least `at_least` messages.
    pub async fn wait_for(&self, at_least: u64) -> anyhow::Result<()> {
        let mut last = self.slowest();
        loop {
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let now = self.slowest();
            if now >= at_least {
                return Ok(());
            }
            if self.failed.load(Ordering::Acquire) {
                bail!("a receiving connection failed");
            }
            if tokio::time::timeout(STALL, notified).await.is_err() {
                let now = self.slowest();
                if now == last {
                    bail!(
                        "stalled: the slowest receiver has {now} of {at_least} messages \
                         after {STALL:?} without progress"
                    );
                }
            }
            last = self.slowest().max(last);
        }
    }
}
