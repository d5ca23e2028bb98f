//! Reading a metrics endpoint: one `GET /metrics` and the Prometheus text
//! format's sample lines, for `tcphub stats`.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest response read; tcphub's own is a few KiB.
pub const MAX_SCRAPE_BYTES: usize = 4 * 1024 * 1024;

/// Why a scrape failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScrapeError {
    /// Could not connect, or the connection failed.
    #[error("cannot reach {addr}: {source}")]
    Connect {
        /// The address as given.
        addr: String,
        /// What went wrong.
        source: std::io::Error,
    },
    /// No complete answer in time.
    #[error("{addr} did not answer within {} s", timeout.as_secs_f64())]
    Timeout {
        /// The address as given.
        addr: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// The answer was not a successful HTTP response with a body.
    #[error("{addr} did not serve metrics: {reason}")]
    BadResponse {
        /// The address as given.
        addr: String,
        /// What was wrong with it.
        reason: String,
    },
}

/// Fetches `http://ADDR/metrics` (ADDR as `host:port`) and returns its body.
pub async fn fetch(addr: &str, timeout: Duration) -> Result<String, ScrapeError> {
    let bad = |reason: String| ScrapeError::BadResponse {
        addr: addr.to_owned(),
        reason,
    };
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request =
            format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: text/plain\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        (&mut stream)
            .take(MAX_SCRAPE_BYTES as u64 + 1)
            .read_to_end(&mut answer)
            .await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(timeout, exchange).await {
        Err(_) => {
            return Err(ScrapeError::Timeout {
                addr: addr.to_owned(),
                timeout,
            })
        }
        Ok(Err(source)) => {
            return Err(ScrapeError::Connect {
                addr: addr.to_owned(),
                source,
            })
        }
        Ok(Ok(answer)) => answer,
    };
    if answer.len() > MAX_SCRAPE_BYTES {
        return Err(bad(format!("more than {MAX_SCRAPE_BYTES} bytes")));
    }
    let text = String::from_utf8(answer).map_err(|_| bad("the answer is not UTF-8".into()))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("the answer is not HTTP".into()))?;
    let status = head.lines().next().unwrap_or("");
    if !status.starts_with("HTTP/1.") {
        return Err(bad(format!("the answer is not HTTP: {status:?}")));
    }
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(bad(format!("it answered {status:?}")));
    }
    if head
        .lines()
        .any(|h| h.to_ascii_lowercase().starts_with("transfer-encoding:"))
    {
        return Err(bad("chunked answers are not read; is this tcphub?".into()));
    }
    Ok(body.to_owned())
}

/// One sample line: `name{label="value",...} number`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The metric's name, as written (`tcphub_errors_total`).
    pub name: String,
    /// Its labels, in order.
    pub labels: Vec<(String, String)>,
    /// Its value.
    pub value: f64,
}

impl Sample {
    /// The value of label `name`, if it has one.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The sample lines of a Prometheus text body; comments and lines that
/// are not samples are skipped (a newer server may add what this reader
/// does not know).
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    let name_end = line.find(|c: char| c == '{' || c.is_whitespace())?;
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(inner)?;
        labels = parsed;
        rest = after;
    }
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `k="v",...}` and what follows the brace.
fn parse_labels(mut text: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut labels = Vec::new();
    loop {
        text = text.trim_start_matches([',', ' ']);
        if let Some(after) = text.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = text.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim().to_owned(), value));
        text = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_samples_with_and_without_labels() {
        let text = "# HELP x_total X.\n# TYPE x_total counter\nx_total 3\n\
                    y_total{code=\"a\\\"b\",kind=\"c\"} 1.5e3\nbroken{\n";
        let samples = parse(text);
        assert_eq!(samples.len(), 2);
        assert_eq!(
            (samples[0].name.as_str(), samples[0].value),
            ("x_total", 3.0)
        );
        assert_eq!(samples[1].label("code"), Some("a\"b"));
        assert_eq!(samples[1].label("kind"), Some("c"));
        assert_eq!(samples[1].value, 1500.0);
    }
}
