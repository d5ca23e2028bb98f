//! What the chaos test needs besides the hub: a seeded random source that
//! can be replayed, the resident memory of the `serve` process, and an
//! async line reader that says exactly how a stream ended.

use std::io;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::tcp::OwnedReadHalf;

use super::raw::{shorten, End};

/// SplitMix64: small, fast, and good enough to pick test actions. The same
/// seed gives the same sequence on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// An independent stream for `(kind, index)`, so each client's choices
    /// depend only on the seed and who it is, not on scheduling.
    pub fn derive(seed: u64, kind: u64, index: u64) -> Rng {
        let mut mix = Rng(seed ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let a = mix.next_u64();
        let mut mix = Rng(a ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        Rng(mix.next_u64())
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        assert!(n > 0, "below(0)");
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

/// The run's seed: `CHAOS_SEED` when set (to replay a failure), a
/// time-based one with `CHAOS_RANDOM=1`, else `default`. Says which.
pub fn chaos_seed(default: u64) -> (u64, &'static str) {
    if let Ok(text) = std::env::var("CHAOS_SEED") {
        let text = text.trim();
        let seed = match text.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => text.parse(),
        }
        .unwrap_or_else(|e| panic!("CHAOS_SEED={text:?}: {e}"));
        return (seed, "from CHAOS_SEED");
    }
    if std::env::var("CHAOS_RANDOM").is_ok_and(|v| v == "1") {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        return (Rng::new(nanos).next_u64(), "time-based (CHAOS_RANDOM=1)");
    }
    (default, "the fixed default")
}

/// The pid of this process's child whose command name is `comm` (the
/// kernel's name, at most 15 bytes): how a test finds the `serve` it
/// started. Panics unless there is exactly one.
pub fn child_pid(comm: &str) -> u32 {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = &stat[open + 1..close];
        let ppid = stat[close + 1..]
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if name == comm && ppid == Some(me) {
            found.push(pid);
        }
    }
    assert_eq!(found.len(), 1, "children named {comm}: {found:?}");
    found[0]
}

/// `VmRSS` of process `pid` in KiB, or `None` once it is gone.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The hub's lines as they arrive on an async socket, and how the stream
/// ended ([`End`], as the blocking [`RawClient`](super::raw::RawClient)
/// reports it).
#[derive(Debug)]
pub struct Lines {
    reader: BufReader<OwnedReadHalf>,
    /// The line being read; survives a cancelled [`next`](Self::next).
    partial: Vec<u8>,
    /// Whole lines read so far.
    pub count: u64,
}

impl Lines {
    pub fn new(read: OwnedReadHalf) -> Lines {
        Lines {
            reader: BufReader::with_capacity(16 * 1024, read),
            partial: Vec::new(),
            count: 0,
        }
    }

    pub fn into_inner(self) -> OwnedReadHalf {
        self.reader.into_inner()
    }

    /// The next whole line without its `\n`, or how the stream ended.
    /// Cancel-safe: bytes of an unfinished line are kept for the next call.
    pub async fn next(&mut self) -> Result<Vec<u8>, End> {
        loop {
            match self.reader.read_until(b'\n', &mut self.partial).await {
                Ok(0) if self.partial.is_empty() => return Err(End::Eof),
                Ok(0) => {
                    return Err(End::MidLine {
                        partial: self.partial.len(),
                        head: shorten(&String::from_utf8_lossy(&self.partial)),
                    })
                }
                Ok(_) if self.partial.last() == Some(&b'\n') => {
                    let mut line = std::mem::take(&mut self.partial);
                    line.pop();
                    self.count += 1;
                    return Ok(line);
                }
                // Bytes, then EOF before a newline: the next read says EOF.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    return Err(End::Error {
                        kind: e.kind(),
                        partial: self.partial.len(),
                    })
                }
            }
        }
    }
}
