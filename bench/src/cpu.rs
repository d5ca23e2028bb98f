//! CPU time a process used over a run, from `/proc/PID/stat`: a figure
//! that, unlike throughput, hardly moves when other programs share the
//! machine, so it compares hubs fairly on a busy box.

use std::time::Duration;

/// Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time of `pid` so far (`None` where `/proc` is not).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it do not.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_secs_f64((utime + stime) / TICKS_PER_SECOND))
}

/// The CPU time of all of `pids` (`None` if one of them has none).
fn cpu_time_of(pids: &[u32]) -> Option<Duration> {
    pids.iter().map(|&pid| cpu_time(pid)).sum()
}

/// CPU time of the hub (when its pid, or its nodes' pids, are known) and
/// of this generator since [`CpuMeter::start`], up to [`CpuMeter::stop`]
/// or else the report.
#[derive(Debug)]
pub struct CpuMeter {
    hub: Option<(Vec<u32>, Duration)>,
    own: Option<Duration>,
    /// The hub's and the generator's CPU time when stopped.
    stopped: Option<(Option<Duration>, Option<Duration>)>,
}

impl CpuMeter {
    pub fn start(hub_pid: Option<u32>) -> Self {
        Self::start_all(&hub_pid.into_iter().collect::<Vec<_>>())
    }

    /// Meters the processes of a hub of several (a cluster's nodes).
    pub fn start_all(hub_pids: &[u32]) -> Self {
        let hub = (!hub_pids.is_empty())
            .then(|| Some((hub_pids.to_vec(), cpu_time_of(hub_pids)?)))
            .flatten();
        CpuMeter {
            hub,
            own: cpu_time(std::process::id()),
            stopped: None,
        }
    }

    /// Takes the final readings now rather than at the report.
    pub fn stop(&mut self) {
        let hub = self.hub.as_ref().and_then(|(pids, _)| cpu_time_of(pids));
        self.stopped = Some((hub, cpu_time(std::process::id())));
    }

    /// Adds the hub's and the generator's CPU per message to `report`.
    pub fn report(&self, report: &mut super::report::Report, messages: u64) {
        self.report_per(report, messages, "delivery");
    }

    /// Adds the hub's and the generator's CPU per `what` (`count` of them)
    /// to `report`: `hub_cpu_per_WHAT`, `generator_cpu_per_WHAT`.
    pub fn report_per(&self, report: &mut super::report::Report, count: u64, what: &str) {
        let per = |used: Duration| used.as_secs_f64() * 1e9 / count.max(1) as f64;
        let (hub_now, own_now) = self.stopped.unwrap_or_else(|| {
            let hub = self.hub.as_ref().and_then(|(pids, _)| cpu_time_of(pids));
            (hub, cpu_time(std::process::id()))
        });
        if let (Some((_, before)), Some(after)) = (&self.hub, hub_now) {
            let used = after.saturating_sub(*before);
            report.metric("hub_cpu", used.as_secs_f64(), "s").metric(
                &format!("hub_cpu_per_{what}"),
                per(used),
                "ns",
            );
        }
        if let (Some(before), Some(after)) = (self.own, own_now) {
            report.metric(
                &format!("generator_cpu_per_{what}"),
                per(after.saturating_sub(before)),
                "ns",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_a_cpu_time() {
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_time(std::process::id()).is_some());
        assert!(cpu_time(u32::MAX).is_none());
    }
}
