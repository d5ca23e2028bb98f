//! What a run cost the Redis behind a clustered hub, from Redis's own
//! `INFO` before and after the timed phase: commands processed, bytes read
//! and written, CPU time, and the calls of each command. Read by the
//! generator itself, at the moments its clock starts and stops, so the
//! clients' joins and departures (claims and releases of aliases) are not
//! counted against the messages.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::report::Report;

/// One reading of `INFO all`.
#[derive(Debug, Clone, Default)]
pub struct RedisInfo {
    pub commands: u64,
    pub net_in: u64,
    pub net_out: u64,
    /// `used_cpu_sys` + `used_cpu_user`, seconds.
    pub cpu: f64,
    /// Calls of each command (`INFO commandstats`).
    pub calls: BTreeMap<String, u64>,
}

impl RedisInfo {
    /// Parses the text of `INFO all`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut info = RedisInfo::default();
        let mut cpu = (None, None);
        for line in text.lines() {
            let Some((key, value)) = line.trim_end().split_once(':') else {
                continue;
            };
            match key {
                "total_commands_processed" => info.commands = value.parse()?,
                "total_net_input_bytes" => info.net_in = value.parse()?,
                "total_net_output_bytes" => info.net_out = value.parse()?,
                "used_cpu_sys" => cpu.0 = Some(value.parse::<f64>()?),
                "used_cpu_user" => cpu.1 = Some(value.parse::<f64>()?),
                _ => {
                    if let Some(command) = key.strip_prefix("cmdstat_") {
                        let calls = value
                            .split(',')
                            .find_map(|kv| kv.strip_prefix("calls="))
                            .context("a cmdstat line without calls")?;
                        info.calls.insert(command.to_string(), calls.parse()?);
                    }
                }
            }
        }
        match cpu {
            (Some(sys), Some(user)) => info.cpu = sys + user,
            _ => bail!("INFO has no used_cpu_sys / used_cpu_user: is this Redis?"),
        }
        Ok(info)
    }

    /// Asks the Redis at `addr` (a fresh connection, one inline command).
    pub async fn read(addr: SocketAddr) -> anyhow::Result<Self> {
        let ask = async {
            let mut stream = TcpStream::connect(addr).await?;
            stream.write_all(b"INFO all\r\n").await?;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 16384];
            // The answer is one bulk string: `$LEN\r\n` then LEN bytes.
            loop {
                let n = stream.read(&mut chunk).await?;
                if n == 0 {
                    bail!("Redis closed the connection");
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = memchr::memmem::find(&buf, b"\r\n") else {
                    continue;
                };
                if buf[0] != b'$' {
                    bail!("Redis answered {}", String::from_utf8_lossy(&buf[..end]));
                }
                let len: usize = std::str::from_utf8(&buf[1..end])?.parse()?;
                if buf.len() >= end + 2 + len {
                    return RedisInfo::parse(std::str::from_utf8(&buf[end + 2..end + 2 + len])?);
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), ask)
            .await
            .context("Redis did not answer INFO within 10 s")?
            .with_context(|| format!("reading INFO from Redis at {addr}"))
    }
}

/// Redis's figures over a timed phase (nothing without `--redis`).
#[derive(Debug)]
pub struct RedisMeter {
    addr: Option<SocketAddr>,
    before: Option<RedisInfo>,
    after: Option<RedisInfo>,
}

impl RedisMeter {
    /// Reads Redis as the clock starts.
    pub async fn start(addr: Option<SocketAddr>) -> anyhow::Result<Self> {
        let before = match addr {
            Some(addr) => Some(RedisInfo::read(addr).await?),
            None => None,
        };
        Ok(RedisMeter {
            addr,
            before,
            after: None,
        })
    }

    /// Reads Redis as the clock stops.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(addr) = self.addr {
            self.after = Some(RedisInfo::read(addr).await?);
        }
        Ok(())
    }

    /// Adds commands, bytes and CPU per delivery and per published message
    /// (a broadcast is one message and N deliveries: a hub that sends it
    /// through Redis once shows 1 command per message), and the calls of
    /// each command, as `redis_calls_COMMAND`.
    pub fn report(&self, report: &mut Report, published: u64, delivered: u64) {
        let (Some(b), Some(a)) = (&self.before, &self.after) else {
            return;
        };
        // The first reading's own INFO is counted by the second.
        let commands = a.commands.saturating_sub(b.commands + 1);
        let figures = [
            ("redis_commands", commands as f64, "cmd"),
            (
                "redis_in_bytes",
                a.net_in.saturating_sub(b.net_in) as f64,
                "B",
            ),
            (
                "redis_out_bytes",
                a.net_out.saturating_sub(b.net_out) as f64,
                "B",
            ),
            ("redis_cpu", (a.cpu - b.cpu).max(0.0) * 1e9, "ns"),
        ];
        for (name, total, unit) in figures {
            report
                .metric(
                    &format!("{name}_per_delivery"),
                    total / delivered.max(1) as f64,
                    unit,
                )
                .metric(
                    &format!("{name}_per_message"),
                    total / published.max(1) as f64,
                    unit,
                );
        }
        report.metric("redis_cpu", (a.cpu - b.cpu).max(0.0), "s");
        for (command, &calls) in &a.calls {
            let mut n = calls.saturating_sub(b.calls.get(command).copied().unwrap_or(0));
            if command == "info" {
                n = n.saturating_sub(1);
            }
            if n > 0 {
                report.metric(&format!("redis_calls_{command}"), n as f64, "cmd");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_is_parsed_and_differences_are_reported() {
        let text = "# Stats\r\ntotal_commands_processed:100\r\ntotal_net_input_bytes:1000\r\n\
            total_net_output_bytes:2000\r\n# CPU\r\nused_cpu_sys:1.5\r\nused_cpu_user:0.5\r\n\
            # Commandstats\r\ncmdstat_xadd:calls=40,usec=80,usec_per_call=2.00\r\n\
            cmdstat_info:calls=3,usec=9\r\n";
        let before = RedisInfo::parse(text).unwrap();
        assert_eq!(before.commands, 100);
        assert_eq!(before.calls["xadd"], 40);
        assert!((before.cpu - 2.0).abs() < 1e-9);
        let mut after = before.clone();
        after.commands = 111;
        after.net_in = 1500;
        after.cpu = 2.5;
        after.calls.insert("xadd".into(), 50);
        after.calls.insert("info".into(), 4);
        let meter = RedisMeter {
            addr: None,
            before: Some(before),
            after: Some(after),
        };
        let target = <crate::Target as clap::FromArgMatches>::from_arg_matches(
            &<crate::Target as clap::Args>::augment_args(clap::Command::new("t"))
                .get_matches_from(["t"]),
        )
        .unwrap();
        let mut report = Report::new("fanout", &target);
        meter.report(&mut report, 10, 100);
        assert_eq!(report.get("redis_commands_per_message"), Some(1.0));
        assert_eq!(report.get("redis_commands_per_delivery"), Some(0.1));
        assert_eq!(report.get("redis_in_bytes_per_message"), Some(50.0));
        assert_eq!(report.get("redis_calls_xadd"), Some(10.0));
        assert_eq!(report.get("redis_calls_info"), None, "the meter's own INFO");
        assert!((report.get("redis_cpu_per_message").unwrap() - 5e7).abs() < 1.0);
        assert!(RedisInfo::parse("nothing").is_err());
    }
}
