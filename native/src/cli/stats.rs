//! `tcphub stats`: a hub's metrics (from `serve --metrics`) for a person,
//! in sections with thousands separators; with `--interval`, sampled twice
//! to show rates.

use std::fmt::Write;
use std::process::ExitCode;
use std::time::Duration;

use tcphub_native::metrics::{fetch, parse, Sample, ScrapeError};

use crate::units::positive_duration;

/// How long one scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, clap::Args)]
pub struct StatsArgs {
    /// Address of the hub's metrics endpoint (its `serve --metrics`; the
    /// URL `serve` logs works too).
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:9100",
        env = "TCPHUB_METRICS"
    )]
    metrics: String,
    /// Scrape twice, this long apart (e.g. 1s), and show rates per second.
    #[arg(long, value_parser = positive_duration)]
    interval: Option<Duration>,
}

pub async fn run(args: StatsArgs) -> Result<ExitCode, String> {
    let addr = endpoint(&args.metrics)?;
    let scrape = || async {
        let text = fetch(addr, SCRAPE_TIMEOUT).await.map_err(|e| match e {
            // Only a refused connection suggests nothing listens there.
            ScrapeError::Connect { ref source, .. }
                if source.kind() == std::io::ErrorKind::ConnectionRefused =>
            {
                format!("{e} (is `tcphub serve --metrics {addr}` running?)")
            }
            e => e.to_string(),
        })?;
        let samples = parse(&text);
        if !samples.iter().any(|s| s.name.starts_with("tcphub_")) {
            return Err(format!("{addr} serves no tcphub metrics"));
        }
        Ok::<_, String>(samples)
    };
    let first = scrape().await?;
    let (now, before) = match args.interval {
        None => (first, None),
        Some(interval) => {
            tokio::time::sleep(interval).await;
            (scrape().await?, Some((first, interval)))
        }
    };
    print!("{}", report(addr, &now, before.as_ref()));
    Ok(ExitCode::SUCCESS)
}

/// `host:port` from `--metrics`, which may also be pasted as the URL
/// `serve` logs (`http://host:port/metrics`).
fn endpoint(given: &str) -> Result<&str, String> {
    if given.starts_with("https://") {
        return Err(format!(
            "--metrics {given}: the metrics endpoint speaks plain HTTP; give its address"
        ));
    }
    let addr = given.strip_prefix("http://").unwrap_or(given);
    let addr = addr.strip_suffix("/metrics").unwrap_or(addr);
    if addr.is_empty() || addr.contains('/') {
        return Err(format!(
            "--metrics {given}: expected an address such as 127.0.0.1:9100"
        ));
    }
    Ok(addr)
}

/// The whole report; `before` is an earlier scrape and how long before.
fn report(addr: &str, now: &[Sample], before: Option<&(Vec<Sample>, Duration)>) -> String {
    let rate = |name: &str, label: Option<(&str, &str)>| {
        before.map(|(earlier, interval)| {
            (value(now, name, label) - value(earlier, name, label)) / interval.as_secs_f64()
        })
    };
    let mut out = format!("tcphub metrics at {addr}\n");
    let gauge = |out: &mut String, title: &str, name: &str, bytes: bool| {
        let v = value(now, name, None);
        line(out, title, v, bytes, None);
    };
    out.push_str("\nNow\n");
    gauge(&mut out, "sessions open", "tcphub_sessions_open", false);
    gauge(&mut out, "aliases held", "tcphub_aliases_held", false);
    gauge(&mut out, "queued", "tcphub_queued_bytes", true);

    let header = if before.is_some() {
        format!(
            "\n{:<24}{:>16}{:>14}\n",
            "Since start", "total", "per second"
        )
    } else {
        format!("\n{:<24}{:>16}\n", "Since start", "total")
    };
    out.push_str(&header);
    for (title, name, bytes) in [
        ("sessions opened", "tcphub_sessions_opened_total", false),
        ("frames received", "tcphub_frames_received_total", false),
        ("received", "tcphub_received_bytes_total", true),
        ("frames sent", "tcphub_frames_sent_total", false),
        ("sent", "tcphub_sent_bytes_total", true),
        ("flow-control pauses", "tcphub_flow_pauses_total", false),
    ] {
        let total = family_total(now, name);
        let per_second = before.map(|(earlier, interval)| {
            (total - family_total(earlier, name)) / interval.as_secs_f64()
        });
        line(&mut out, title, total, bytes, per_second);
    }
    // A hub from before the figure existed has no such sample.
    if now.iter().any(|s| s.name == BUSY) {
        busy_line(&mut out, value(now, BUSY, None), rate(BUSY, None));
    }
    for (title, name, label) in [
        (
            "Frames received by kind",
            "tcphub_frames_received_total",
            "kind",
        ),
        ("Errors by code", "tcphub_errors_total", "code"),
        ("Sessions closed by reason", "tcphub_closes_total", "reason"),
        ("Authentication", "tcphub_auth_total", "result"),
    ] {
        let _ = writeln!(out, "\n{title}");
        let rows: Vec<&Sample> = now
            .iter()
            .filter(|s| s.name == name && s.value != 0.0)
            .collect();
        if rows.is_empty() {
            out.push_str("  none\n");
        }
        for sample in rows {
            let key = sample.label(label).unwrap_or("?");
            let per_second = rate(name, Some((label, key)));
            line(&mut out, key, sample.value, false, per_second);
        }
    }
    out
}

/// The hub task's working time: seconds so far, and per second of the
/// interval, which is the share of one core it kept busy (a node cannot
/// route faster than its one hub task; near 100% it is the bottleneck).
const BUSY: &str = "tcphub_hub_task_busy_seconds_total";

fn busy_line(out: &mut String, seconds: f64, per_second: Option<f64>) {
    let _ = write!(
        out,
        "  {:<22}{:>16}",
        "hub task busy",
        format!("{seconds:.1} s")
    );
    if let Some(share) = per_second {
        let _ = write!(out, "{:>14}", format!("{:.0}%", share * 100.0));
    }
    out.push('\n');
}

/// The value of the sample `name` (with `label`, if given); 0 if absent.
fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> f64 {
    samples
        .iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.label(k) == Some(v)))
        .map_or(0.0, |s| s.value)
}

/// The sum of every sample named `name` (a family's total).
fn family_total(samples: &[Sample], name: &str) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}

fn line(out: &mut String, title: &str, value: f64, bytes: bool, per_second: Option<f64>) {
    let shown = if bytes {
        bytes_text(value)
    } else {
        thousands(value)
    };
    let _ = write!(out, "  {title:<22}{shown:>16}");
    if let Some(rate) = per_second {
        let rate = if bytes {
            format!("{}/s", bytes_text(rate))
        } else {
            format!("{}/s", thousands(rate))
        };
        let _ = write!(out, "{rate:>14}");
    }
    out.push('\n');
}

/// `1234567` as `1,234,567` (rounded to a whole number).
fn thousands(value: f64) -> String {
    let whole = value.round();
    if !whole.is_finite() || whole.abs() >= 1e18 {
        return format!("{value}");
    }
    let digits = (whole.abs() as u64).to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if whole < 0.0 {
        out.insert(0, '-');
    }
    out
}

/// Bytes with a binary unit: `12,345` as `12.1 KiB`.
fn bytes_text(value: f64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if value.abs() < 1024.0 {
        return format!("{} B", thousands(value));
    }
    let mut scaled = value;
    let mut unit = "B";
    for next in UNITS {
        if scaled.abs() < 1024.0 {
            break;
        }
        scaled /= 1024.0;
        unit = next;
    }
    format!("{scaled:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logged_url_works_as_an_address() {
        assert_eq!(endpoint("127.0.0.1:9100"), Ok("127.0.0.1:9100"));
        assert_eq!(
            endpoint("http://127.0.0.1:9100/metrics"),
            Ok("127.0.0.1:9100")
        );
        assert!(endpoint("https://x:1").unwrap_err().contains("plain HTTP"));
        assert!(endpoint("http://x:1/other").is_err());
    }

    #[test]
    fn the_hub_task_shows_as_a_share_of_one_core() {
        let mut out = String::new();
        busy_line(&mut out, 12.34, Some(0.874));
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>(),
            ["hub", "task", "busy", "12.3", "s", "87%"]
        );
        let mut out = String::new();
        busy_line(&mut out, 0.0, None);
        assert_eq!(out.trim_end(), "  hub task busy                    0.0 s");
    }

    #[test]
    fn numbers_read_easily() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
        assert_eq!(thousands(1_234_567.0), "1,234,567");
        assert_eq!(bytes_text(512.0), "512 B");
        assert_eq!(bytes_text(12_345.0), "12.1 KiB");
        assert_eq!(bytes_text(3.0 * 1024.0 * 1024.0), "3.0 MiB");
    }
}
