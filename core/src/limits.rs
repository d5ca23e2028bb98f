//! Per-session rate limits (token buckets run on the time the host passes
//! in, so a simulation reproduces them) and the per-address connection cap.
//!
//! Rules: every frame a client sends counts one message and its length in
//! bytes, except `bye`, which is never refused. A frame over either limit
//! is not acted on and is answered `error` `rate_limited`; a refused frame
//! takes no tokens. A session refused more than
//! [`RATE_LIMIT_MAX_REFUSALS`] times within one
//! [`RATE_LIMIT_REFUSAL_WINDOW`] is closed with `rate_limited`.

use std::time::Duration;

use crate::config::{default_bytes_burst, HubConfig};

/// Refusals a session may collect within one window before it is closed.
pub const RATE_LIMIT_MAX_REFUSALS: u32 = 100;
/// The window refusals are counted in, from the first refusal in it.
pub const RATE_LIMIT_REFUSAL_WINDOW: Duration = Duration::from_secs(10);

/// Credit is kept in units of one token x one nanosecond, so refilling is
/// one multiplication and nothing is rounded.
const NANOS: u128 = 1_000_000_000;

/// One limit: so many tokens per second, at most `burst` saved up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub(crate) per_second: u64,
    pub(crate) burst: u64,
}

/// The limits in force, taken from the config once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimits {
    pub(crate) messages: Option<Rate>,
    pub(crate) bytes: Option<Rate>,
}

impl RateLimits {
    /// `None` when no limit is configured: the hot path then costs one
    /// branch.
    pub(crate) fn from_config(config: &HubConfig) -> Option<Self> {
        let messages = config.rate_limit_messages.map(|per_second| Rate {
            per_second: per_second.into(),
            burst: config.rate_limit_message_burst.unwrap_or(per_second).into(),
        });
        let bytes = config.rate_limit_bytes.map(|per_second| Rate {
            per_second,
            burst: config
                .rate_limit_bytes_burst
                .unwrap_or_else(|| default_bytes_burst(per_second, config.max_frame_len)),
        });
        (messages.is_some() || bytes.is_some()).then_some(RateLimits { messages, bytes })
    }
}

/// A token bucket, full when created.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    credit: u128,
    updated: u128,
}

impl Bucket {
    fn full(rate: Rate, now: u128) -> Self {
        Bucket {
            credit: u128::from(rate.burst) * NANOS,
            updated: now,
        }
    }

    /// Refills for the time passed, then takes `cost` tokens if there are
    /// that many.
    fn refill(&mut self, rate: Rate, now: u128) {
        let earned = (now - self.updated).saturating_mul(rate.per_second.into());
        self.credit = self
            .credit
            .saturating_add(earned)
            .min(u128::from(rate.burst) * NANOS);
        self.updated = now;
    }

    fn has(&self, cost: u64) -> bool {
        self.credit >= u128::from(cost) * NANOS
    }

    fn take(&mut self, cost: u64) {
        self.credit -= u128::from(cost) * NANOS;
    }
}

/// Which limit refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    Messages(Rate),
    Bytes(Rate),
}

/// What a refusal leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Admit,
    Refuse(Refused),
    /// Refused once too often: close the session.
    Close,
}

/// One session's buckets and recent refusals.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    messages: Option<Bucket>,
    bytes: Option<Bucket>,
    window_start: u128,
    refusals: u32,
}

impl SessionLimits {
    pub(crate) fn new(limits: &RateLimits, now: Duration) -> Self {
        let now = now.as_nanos();
        SessionLimits {
            messages: limits.messages.map(|r| Bucket::full(r, now)),
            bytes: limits.bytes.map(|r| Bucket::full(r, now)),
            window_start: now,
            refusals: 0,
        }
    }

    /// Decides on one frame of `len` bytes arriving at `now`.
    pub(crate) fn check(&mut self, limits: &RateLimits, now: Duration, len: usize) -> Verdict {
        let now = now.as_nanos();
        let len = len as u64;
        let mut refused = None;
        if let (Some(rate), Some(bucket)) = (limits.messages, self.messages.as_mut()) {
            bucket.refill(rate, now);
            if !bucket.has(1) {
                refused = Some(Refused::Messages(rate));
            }
        }
        if let (Some(rate), Some(bucket)) = (limits.bytes, self.bytes.as_mut()) {
            bucket.refill(rate, now);
            if refused.is_none() && !bucket.has(len) {
                refused = Some(Refused::Bytes(rate));
            }
        }
        match refused {
            None => {
                if let Some(bucket) = self.messages.as_mut() {
                    bucket.take(1);
                }
                if let Some(bucket) = self.bytes.as_mut() {
                    bucket.take(len);
                }
                Verdict::Admit
            }
            Some(refused) => {
                if self.refusals == 0
                    || now - self.window_start >= RATE_LIMIT_REFUSAL_WINDOW.as_nanos()
                {
                    self.window_start = now;
                    self.refusals = 0;
                }
                self.refusals += 1;
                if self.refusals > RATE_LIMIT_MAX_REFUSALS {
                    Verdict::Close
                } else {
                    Verdict::Refuse(refused)
                }
            }
        }
    }
}

impl Refused {
    /// The `rate_limited` error's message, naming the limit.
    pub(crate) fn message(self) -> String {
        match self {
            Refused::Messages(rate) => format!(
                "over the message rate limit ({} per second, burst {}); frame not processed",
                rate.per_second, rate.burst
            ),
            Refused::Bytes(rate) => format!(
                "over the byte rate limit ({} bytes per second, burst {}); frame not processed",
                rate.per_second, rate.burst
            ),
        }
    }
}

/// The address part of a session id: `127.0.0.1:53412` gives `127.0.0.1`,
/// `[::1]:80` gives `[::1]`, `node-a/10.0.0.1:5` gives `10.0.0.1`. An id
/// without a port is its own address.
pub(crate) fn address_of(session_id: &str) -> &str {
    let peer = session_id.rsplit_once('/').map_or(session_id, |(_, p)| p);
    peer.rsplit_once(':').map_or(peer, |(addr, _)| addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(messages: u64, burst: u64) -> RateLimits {
        RateLimits {
            messages: Some(Rate {
                per_second: messages,
                burst,
            }),
            bytes: None,
        }
    }

    #[test]
    fn burst_then_refill() {
        let l = limits(10, 3);
        let mut s = SessionLimits::new(&l, Duration::ZERO);
        for _ in 0..3 {
            assert_eq!(s.check(&l, Duration::ZERO, 10), Verdict::Admit);
        }
        assert!(matches!(
            s.check(&l, Duration::ZERO, 10),
            Verdict::Refuse(_)
        ));
        // 100 ms earns one message at 10 per second.
        assert_eq!(s.check(&l, Duration::from_millis(100), 10), Verdict::Admit);
        assert!(matches!(
            s.check(&l, Duration::from_millis(100), 10),
            Verdict::Refuse(_)
        ));
    }

    #[test]
    fn closes_past_the_refusal_allowance() {
        let l = limits(1, 1);
        let mut s = SessionLimits::new(&l, Duration::ZERO);
        assert_eq!(s.check(&l, Duration::ZERO, 1), Verdict::Admit);
        for _ in 0..RATE_LIMIT_MAX_REFUSALS {
            assert!(matches!(s.check(&l, Duration::ZERO, 1), Verdict::Refuse(_)));
        }
        assert_eq!(s.check(&l, Duration::ZERO, 1), Verdict::Close);
    }

    #[test]
    fn addresses() {
        assert_eq!(address_of("127.0.0.1:53412"), "127.0.0.1");
        assert_eq!(address_of("[::1]:80"), "[::1]");
        assert_eq!(address_of("node-a/10.0.0.1:5"), "10.0.0.1");
        assert_eq!(address_of("peer"), "peer");
    }
}
