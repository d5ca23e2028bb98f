//! A [`HubStats`] as Prometheus text (version 0.0.4), written by the
//! `prometheus-client` crate: it names, escapes and types each metric as
//! scrapers expect (`_total` on counters, units in names).

use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::{Registry, Unit};
use tcphub_core::{CloseReason, ErrorCode, FrameKind, HubStats};

pub use prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Every metric `serve --metrics` publishes, from one copy of the stats
/// and the hub task's working time so far
/// ([`HubHandle::hub_task_busy`](crate::HubHandle::hub_task_busy)).
pub fn encode(stats: &HubStats, hub_task_busy: Duration) -> String {
    let mut registry = Registry::with_prefix("tcphub");
    registry.register_collector(Box::new(Snapshot(stats.clone(), hub_task_busy)));
    let mut text = String::new();
    // Writing to a String cannot fail, and every name below is valid.
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)
        .expect("encoding into a String");
    text
}

/// The stats of one scrape. A collector rather than registered metrics,
/// so the output keeps the order below (a `Family` is a hash map) and
/// families list every label value, zeros included, as dashboards expect.
#[derive(Debug)]
struct Snapshot(HubStats, Duration);

impl Collector for Snapshot {
    fn encode(&self, mut out: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.0;
        gauge(
            &mut out,
            "sessions_open",
            "Sessions open now.",
            None,
            s.sessions_open(),
        )?;
        gauge(
            &mut out,
            "aliases_held",
            "Distinct aliases held now.",
            None,
            s.aliases_held(),
        )?;
        gauge(
            &mut out,
            "queued",
            "Bytes handed to connections and not yet written, over all sessions.",
            Some(&Unit::Bytes),
            s.queued_bytes(),
        )?;
        counter(
            &mut out,
            "sessions_opened",
            "Connections accepted, including those refused at once.",
            None,
            s.sessions_opened(),
        )?;
        family(
            &mut out,
            "frames_received",
            "Well-formed frames received from clients, by kind.",
            "kind",
            FrameKind::ALL.map(|k| (k.as_str(), s.frames_in(k))),
        )?;
        counter(
            &mut out,
            "received",
            "Bytes received from clients.",
            Some(&Unit::Bytes),
            s.bytes_in(),
        )?;
        counter(
            &mut out,
            "frames_sent",
            "Frames handed to connections to send (one per recipient), last frames at close included.",
            None,
            s.frames_out(),
        )?;
        counter(
            &mut out,
            "sent",
            "Bytes of the frames sent.",
            Some(&Unit::Bytes),
            s.bytes_out(),
        )?;
        family(
            &mut out,
            "errors",
            "Error frames sent to clients, by code.",
            "code",
            ErrorCode::ALL.map(|c| (c.as_str(), s.errors(c))),
        )?;
        family(
            &mut out,
            "closes",
            "Sessions closed, by reason.",
            "reason",
            CloseReason::ALL.map(|r| (r.as_str(), s.closes(r))),
        )?;
        counter(
            &mut out,
            "flow_pauses",
            "Times flow control stopped reading a session.",
            None,
            s.flow_pauses(),
        )?;
        family(
            &mut out,
            "auth",
            "Credentials checked, by result.",
            "result",
            [("granted", s.auth_granted()), ("denied", s.auth_denied())],
        )?;
        // Seconds, as Prometheus counts time; its rate is the fraction of
        // one core the hub task keeps busy.
        let busy = ConstCounter::new(self.1.as_secs_f64());
        busy.encode(out.encode_descriptor(
            "hub_task_busy",
            "Time the task that owns the hub spent working rather than waiting for input.",
            Some(&Unit::Seconds),
            busy.metric_type(),
        )?)
    }
}

fn gauge(
    out: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    // A gauge is an i64 in prometheus-client; these never come near it.
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(out.encode_descriptor(name, help, unit, metric.metric_type())?)
}

fn counter(
    out: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(out.encode_descriptor(name, help, unit, metric.metric_type())?)
}

fn family<const N: usize>(
    out: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &'static str,
    values: [(&'static str, u64); N],
) -> Result<(), std::fmt::Error> {
    let kind = ConstCounter::new(0u64).metric_type();
    let mut descriptor = out.encode_descriptor(name, help, None, kind)?;
    for (value, count) in values {
        let labels = [(label, value)];
        ConstCounter::new(count).encode(descriptor.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let text = encode(&HubStats::default(), Duration::from_millis(1500));
        for line in [
            "# TYPE tcphub_sessions_open gauge",
            "tcphub_queued_bytes 0",
            "tcphub_sessions_opened_total 0",
            "tcphub_frames_received_total{kind=\"relay_all\"} 0",
            "tcphub_received_bytes_total 0",
            "tcphub_sent_bytes_total 0",
            "tcphub_errors_total{code=\"unknown_alias\"} 0",
            "tcphub_closes_total{reason=\"slow_consumer\"} 0",
            "tcphub_auth_total{result=\"denied\"} 0",
            "# TYPE tcphub_hub_task_busy_seconds_total counter",
            "tcphub_hub_task_busy_seconds_total 1.5",
        ] {
            assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
        }
    }
}
