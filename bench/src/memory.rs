//! The hub's resident memory around a load: read before it, sampled for
//! its peak while it runs, and read again once it has been over for a
//! while (does the hub give memory back?). From `/proc/PID/status`, as
//! [`super::idle`] reads it.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::idle::resident_bytes;
use super::report::Report;

const MIB: f64 = 1024.0 * 1024.0;

/// Samples a process's resident memory in the background, keeping the
/// highest reading.
#[derive(Debug)]
pub struct PeakSampler {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Peak>>,
}

/// The highest resident memory seen, and how many readings it is from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Peak {
    pub bytes: u64,
    pub samples: u64,
}

impl PeakSampler {
    /// Starts sampling `pid` every `every` (nothing without a pid).
    pub fn start(pid: Option<u32>, every: Duration) -> Self {
        let (stop, mut stopped) = watch::channel(false);
        let task = pid.map(|pid| {
            tokio::spawn(async move {
                let mut peak = Peak::default();
                loop {
                    if let Ok(bytes) = resident_bytes(pid) {
                        peak.bytes = peak.bytes.max(bytes);
                        peak.samples += 1;
                    }
                    tokio::select! {
                        _ = stopped.wait_for(|s| *s) => return peak,
                        () = tokio::time::sleep(every) => {}
                    }
                }
            })
        });
        PeakSampler { stop, task }
    }

    /// Takes a last reading and returns the peak (`None` without a pid).
    pub async fn finish(mut self) -> Option<Peak> {
        let _ = self.stop.send(true);
        self.task.take()?.await.ok()
    }
}

/// The hub's memory now, when its pid is known.
pub fn now(pid: Option<u32>) -> anyhow::Result<Option<u64>> {
    pid.map(resident_bytes).transpose()
}

/// Adds `rss_before`, `rss_peak` and `rss_after` (MiB) to `report`, and
/// how many samples the peak is from. The peak covers the readings before
/// and after too, so it is never below either.
pub fn report(report: &mut Report, before: Option<u64>, peak: Option<Peak>, after: Option<u64>) {
    let (Some(before), Some(peak), Some(after)) = (before, peak, after) else {
        return;
    };
    let highest = peak.bytes.max(before).max(after);
    report
        .metric("rss_before", before as f64 / MIB, "MiB")
        .metric("rss_peak", highest as f64 / MIB, "MiB")
        .metric("rss_after", after as f64 / MIB, "MiB")
        .metric("rss_samples", peak.samples as f64, "reading");
}

/// Waits `seconds` (the settle time after a load).
pub async fn settle(seconds: f64) {
    tokio::time::sleep(Duration::from_secs_f64(seconds.max(0.0))).await;
}
