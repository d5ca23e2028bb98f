//! What the host decides about the hub's behaviour.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::HubError;

/// Default largest frame a client may send: 64 KiB.
pub const DEFAULT_MAX_FRAME_LEN: usize = 64 * 1024;
/// Default largest number of open sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 100_000;
/// Smallest frame limit accepted: below it even a `sync` would not fit.
pub const MIN_MAX_FRAME_LEN: usize = 256;
/// Largest frame limit accepted: 16 MiB. The decoder holds up to this much
/// per session, so a larger value is a typo rather than a plan.
pub const MAX_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Largest session limit accepted: the table and the drivers' permits count
/// in 32 bits, and no machine holds more connections than this.
pub const MAX_MAX_SESSIONS: usize = 1 << 30;
/// Default queue level at which the senders filling a session's queue are
/// paused: 512 KiB, enough to keep a loopback socket busy.
pub const DEFAULT_HIGH_WATERMARK: usize = 512 * 1024;
/// Default queue level below which paused senders resume: 128 KiB.
pub const DEFAULT_LOW_WATERMARK: usize = 128 * 1024;
/// Default hard cap on one session's queue: 64 MiB, as nats-server's
/// `max_pending`. Only host messages, which cannot be paused, and many
/// senders at once can push a queue this far past the high watermark.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 64 * 1024 * 1024;
/// Largest queue cap accepted: 1 TiB, far past any machine's memory (half
/// the address space on a 32-bit target such as wasm32).
pub const MAX_MAX_QUEUED_BYTES: usize = {
    let tib = 1u64 << 40;
    if tib > usize::MAX as u64 {
        usize::MAX / 2
    } else {
        tib as usize
    }
};
/// Default time a session with queued frames may go without the driver
/// writing any of them: 10 s, as nats-server's `write_deadline`.
pub const DEFAULT_WRITE_DEADLINE: Duration = Duration::from_secs(10);
/// Default time a frame may take from its first byte to its last: 30 s.
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);
/// Default (and largest) number of rows in one `sessions` reply.
pub const DEFAULT_MAX_LIST_ROWS: usize = 1000;
/// Largest `max_list_rows` accepted: a page this long is about 6 MiB.
pub const MAX_MAX_LIST_ROWS: usize = 100_000;
/// Default cap on the rooms one session may be in at once.
pub const DEFAULT_MAX_ROOMS_PER_SESSION: usize = 64;
/// Default cap on the aliases one session may watch by name.
pub const DEFAULT_MAX_WATCHED_ALIASES: usize = 1000;
/// Largest value accepted for either cap above.
pub const MAX_PER_SESSION_CAP: usize = 100_000;
/// Most aliases one last will may name.
pub const MAX_LAST_WILL_ALIASES: usize = 100;
/// Default cap on a last will's message: 4 KiB. A will is held for the
/// whole session, so across the hub wills hold at most `max_sessions` x
/// this much.
pub const DEFAULT_MAX_LAST_WILL_BYTES: usize = 4 * 1024;

/// Largest message rate limit accepted, per second: past this a limit
/// limits nothing.
pub const MAX_RATE_LIMIT_MESSAGES: u32 = 1_000_000_000;
/// Largest byte rate limit (and burst) accepted, per second: 1 TiB.
pub const MAX_RATE_LIMIT_BYTES: u64 = 1 << 40;

/// Default time a session may wait for its credential to be checked: 10 s.
pub const DEFAULT_AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// Default time a request waits for its reply when it names none: 5 s.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Default longest wait a request may ask for: 60 s.
pub const DEFAULT_MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default most requests one session may have waiting for replies.
pub const DEFAULT_MAX_PENDING_REQUESTS: usize = 64;

/// What happens when a session claims an alias another session holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AliasPolicy {
    /// The newest claimant gets the alias; the old holder is told why and
    /// closed. A client reconnecting after a dead connection is never locked
    /// out by its own ghost.
    #[default]
    Takeover,
    /// The claimant gets an `alias_taken` error and keeps what it had.
    Reject,
    /// Several sessions hold the alias; a message sent to it reaches them all.
    Share,
}

impl AliasPolicy {
    /// The policy's name as used in options and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            AliasPolicy::Takeover => "takeover",
            AliasPolicy::Reject => "reject",
            AliasPolicy::Share => "share",
        }
    }
}

impl fmt::Display for AliasPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AliasPolicy {
    type Err = HubError;

    fn from_str(s: &str) -> Result<Self, HubError> {
        match s {
            "takeover" => Ok(AliasPolicy::Takeover),
            "reject" => Ok(AliasPolicy::Reject),
            "share" => Ok(AliasPolicy::Share),
            other => Err(HubError::InvalidConfig(format!(
                "unknown alias policy {other:?}: expected takeover, reject or share"
            ))),
        }
    }
}

/// The hub's settings. Build with `HubConfig::default()` and adjust fields;
/// [`Hub::new`](crate::Hub::new) checks them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// What a claim on a held alias does.
    pub alias_policy: AliasPolicy,
    /// Largest frame a client may send, in bytes. A longer one closes the
    /// session; the decoder never buffers more than this per session.
    pub max_frame_len: usize,
    /// Largest number of open sessions; one more is told `too_many_sessions`
    /// and closed.
    pub max_sessions: usize,
    /// Close sessions that sent nothing for this long. `None` (the default)
    /// keeps quiet sessions open forever.
    pub idle_timeout: Option<Duration>,
    /// Whether clients may send to each other (`info` with `to` or `room`,
    /// and last wills). When off, such a message, or a `sync` leaving a
    /// last will, gets a `relay_disabled` error.
    pub relay: bool,
    /// Flow control: once a session has this many bytes queued and not yet
    /// written, the sessions whose messages fill its queue stop being read
    /// (TCP pushes back on them) until it drains below `low_watermark`.
    pub high_watermark: usize,
    /// Queue level below which the senders paused by a session resume.
    pub low_watermark: usize,
    /// Hard cap on one session's queue; past it the session is closed as a
    /// slow consumer however fast it reads.
    pub max_queued_bytes: usize,
    /// A session with frames queued whose driver writes none of them for
    /// this long is closed as a slow consumer. `None` never closes it.
    pub write_deadline: Option<Duration>,
    /// A frame must arrive whole within this time of its first byte, else
    /// the session is closed with `frame_timeout`. `None` waits forever.
    pub frame_timeout: Option<Duration>,
    /// Most rows in one `sessions` reply; a client pages through the rest.
    pub max_list_rows: usize,
    /// Most rooms one session may be in at once; one more `join` gets
    /// `too_many_rooms`.
    pub max_rooms_per_session: usize,
    /// Most aliases one session may watch by name; a `watch` past it gets
    /// `too_many_watches`.
    pub max_watched_aliases: usize,
    /// Largest last will message kept, in bytes as sent; a bigger one
    /// gets `last_will_too_large`. (A will arrives inside a `sync` frame,
    /// so `max_frame_len` bounds it too.)
    pub max_last_will_bytes: usize,
    /// Run as one node of a cluster with this id: session ids become
    /// `node/peer`, and what other nodes must get comes out of
    /// [`Hub::poll_cluster`](crate::Hub::poll_cluster). `None` (the
    /// default): a hub on its own.
    pub node: Option<crate::node::NodeId>,
    /// Report every relayed message (to an alias, a room or `*`) to the
    /// host as an [`Event::Relayed`](crate::Event::Relayed). Off by
    /// default: it costs a copy of each message.
    pub observe: bool,
    /// Messages each session may send per second (every frame but `bye`
    /// counts); one over gets `rate_limited`. `None` (the default): no
    /// limit.
    pub rate_limit_messages: Option<u32>,
    /// Messages a session may send at once after being quiet. `None`: the
    /// same as `rate_limit_messages` (one second's worth).
    pub rate_limit_message_burst: Option<u32>,
    /// Bytes of frames each session may send per second. `None` (the
    /// default): no limit.
    pub rate_limit_bytes: Option<u64>,
    /// Bytes a session may send at once after being quiet; at least
    /// `max_frame_len`, so that every frame can pass. `None`: one second's
    /// worth, or `max_frame_len` if that is more.
    pub rate_limit_bytes_burst: Option<u64>,
    /// Most sessions open at once from one IP address (the session id
    /// without its port); one more is told `too_many_connections` and
    /// closed. `None` (the default): no cap.
    pub max_connections_per_address: Option<usize>,
    /// Aliases need a credential: a `sync` must carry a `token`, which the
    /// driver is asked to check ([`Output::Authenticate`](crate::Output::Authenticate)),
    /// and a session does nothing but `sync`, `ping` and `bye` until one
    /// is granted. Off by default.
    pub authentication: bool,
    /// With authentication on: how long a session waits for its
    /// credential to be checked before it is told `unauthorized`, and how
    /// long after connecting it has to be granted an alias before it is
    /// closed with `auth_timeout` (a question still open then is answered
    /// first).
    pub auth_timeout: Duration,
    /// How long a `request` without a `timeout` waits for its reply before
    /// its sender is told `request_timeout`.
    pub request_timeout: Duration,
    /// The longest wait a `request` may ask for; longer ones are cut to it.
    /// It bounds how long the hub remembers an unanswered request.
    pub max_request_timeout: Duration,
    /// Most requests one session may have waiting for replies; one more is
    /// refused with `too_many_requests`.
    pub max_pending_requests: usize,
    /// Keys the hash of the names peers choose (aliases), so that no peer
    /// can pick names that collide and slow every lookup of them. The core
    /// draws no random numbers: a driver serving peers sets this from the
    /// operating system's randomness. tcphub's own server
    /// (`tcphub_native::Server`, and so the `tcphub` binary and Python's
    /// `Server`) always does, replacing whatever is set here, and so does
    /// Python's `Hub`. The default, 0, keeps tests and the simulator
    /// reproducible; nothing the hub sends depends on it.
    pub hash_seed: u64,
    /// Hand out a session's directed frames queued one after another in
    /// one [`Output::Transmit`](crate::Output::Transmit), written straight
    /// into one buffer, rather than one `Transmit` per frame: no allocation
    /// per frame, and fewer, larger writes. Its `frame` is then one or
    /// more whole NDJSON lines. Off by default, so that each `Transmit` is
    /// one frame for a driver that reads them; tcphub's own server turns
    /// it on.
    pub merge_transmits: bool,
}

/// A duration in whole milliseconds, as messages and the wire count it: a
/// `u64` rather than `as_millis`'s `u128`, whose formatting would cost the
/// simulator's .wasm its own code.
pub(crate) fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// A byte limit's burst when none is given: one second's worth, but never
/// less than the largest frame, which must always be able to pass.
pub fn default_bytes_burst(per_second: u64, max_frame_len: usize) -> u64 {
    per_second.max(max_frame_len as u64)
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            alias_policy: AliasPolicy::default(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_sessions: DEFAULT_MAX_SESSIONS,
            idle_timeout: None,
            relay: true,
            high_watermark: DEFAULT_HIGH_WATERMARK,
            low_watermark: DEFAULT_LOW_WATERMARK,
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            write_deadline: Some(DEFAULT_WRITE_DEADLINE),
            frame_timeout: Some(DEFAULT_FRAME_TIMEOUT),
            max_list_rows: DEFAULT_MAX_LIST_ROWS,
            max_rooms_per_session: DEFAULT_MAX_ROOMS_PER_SESSION,
            max_watched_aliases: DEFAULT_MAX_WATCHED_ALIASES,
            max_last_will_bytes: DEFAULT_MAX_LAST_WILL_BYTES,
            node: None,
            observe: false,
            rate_limit_messages: None,
            rate_limit_message_burst: None,
            rate_limit_bytes: None,
            rate_limit_bytes_burst: None,
            max_connections_per_address: None,
            authentication: false,
            auth_timeout: DEFAULT_AUTH_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            max_request_timeout: DEFAULT_MAX_REQUEST_TIMEOUT,
            max_pending_requests: DEFAULT_MAX_PENDING_REQUESTS,
            hash_seed: 0,
            merge_transmits: false,
        }
    }
}

impl HubConfig {
    /// Checks that every value is usable. Durations have no upper bound: a
    /// deadline past what the clock can count never comes.
    pub fn validate(&self) -> Result<(), HubError> {
        in_range(
            "max_frame_len",
            self.max_frame_len,
            MIN_MAX_FRAME_LEN,
            MAX_MAX_FRAME_LEN,
        )?;
        in_range("max_sessions", self.max_sessions, 1, MAX_MAX_SESSIONS)?;
        in_range("max_list_rows", self.max_list_rows, 1, MAX_MAX_LIST_ROWS)?;
        in_range(
            "max_rooms_per_session",
            self.max_rooms_per_session,
            1,
            MAX_PER_SESSION_CAP,
        )?;
        in_range(
            "max_watched_aliases",
            self.max_watched_aliases,
            1,
            MAX_PER_SESSION_CAP,
        )?;
        in_range(
            "max_last_will_bytes",
            self.max_last_will_bytes,
            1,
            MAX_MAX_FRAME_LEN,
        )?;
        in_range(
            "max_queued_bytes",
            self.max_queued_bytes,
            MIN_MAX_FRAME_LEN,
            MAX_MAX_QUEUED_BYTES,
        )?;
        // Every frame must fit under the cap with room for the high
        // watermark, or a session could be cut for receiving one frame.
        let least_cap = self.high_watermark.saturating_add(self.max_frame_len);
        if self.max_queued_bytes < least_cap {
            return Err(HubError::InvalidConfig(format!(
                "max_queued_bytes {} must be at least high_watermark + max_frame_len ({least_cap})",
                self.max_queued_bytes
            )));
        }
        if self.low_watermark >= self.high_watermark {
            return Err(HubError::InvalidConfig(format!(
                "low_watermark {} must be below high_watermark {}",
                self.low_watermark, self.high_watermark
            )));
        }
        self.validate_limits()?;
        for (name, value) in [
            ("idle_timeout", self.idle_timeout),
            ("write_deadline", self.write_deadline),
            ("frame_timeout", self.frame_timeout),
        ] {
            if value == Some(Duration::ZERO) {
                return Err(HubError::InvalidConfig(format!(
                    "{name} must be longer than zero (leave it unset to turn it off)"
                )));
            }
        }
        if self.auth_timeout == Duration::ZERO {
            return Err(HubError::InvalidConfig(
                "auth_timeout must be longer than zero".to_owned(),
            ));
        }
        self.validate_requests()
    }
}

impl HubConfig {
    fn validate_requests(&self) -> Result<(), HubError> {
        in_range(
            "max_pending_requests",
            self.max_pending_requests,
            1,
            MAX_PER_SESSION_CAP,
        )?;
        // Whole milliseconds: the wire counts a request's timeout in them.
        if self.request_timeout < Duration::from_millis(1) {
            return Err(HubError::InvalidConfig(
                "request_timeout must be at least 1 ms".to_owned(),
            ));
        }
        if self.request_timeout > self.max_request_timeout {
            return Err(HubError::InvalidConfig(format!(
                "request_timeout {} ms must not be longer than max_request_timeout {} ms",
                whole_millis(self.request_timeout),
                whole_millis(self.max_request_timeout)
            )));
        }
        Ok(())
    }

    fn validate_limits(&self) -> Result<(), HubError> {
        let max_messages = MAX_RATE_LIMIT_MESSAGES as usize;
        if let Some(rate) = self.rate_limit_messages {
            in_range("rate_limit_messages", rate as usize, 1, max_messages)?;
        }
        if let Some(burst) = self.rate_limit_message_burst {
            if self.rate_limit_messages.is_none() {
                return Err(HubError::InvalidConfig(format!(
                    "rate_limit_message_burst {burst} needs rate_limit_messages"
                )));
            }
            in_range("rate_limit_message_burst", burst as usize, 1, max_messages)?;
        }
        if let Some(rate) = self.rate_limit_bytes {
            in_range_u64("rate_limit_bytes", rate, 1, MAX_RATE_LIMIT_BYTES)?;
        }
        if let Some(burst) = self.rate_limit_bytes_burst {
            if self.rate_limit_bytes.is_none() {
                return Err(HubError::InvalidConfig(format!(
                    "rate_limit_bytes_burst {burst} needs rate_limit_bytes"
                )));
            }
            // A frame bigger than the burst could never pass.
            in_range_u64(
                "rate_limit_bytes_burst",
                burst,
                self.max_frame_len as u64,
                MAX_RATE_LIMIT_BYTES,
            )?;
        }
        if let Some(cap) = self.max_connections_per_address {
            in_range("max_connections_per_address", cap, 1, MAX_MAX_SESSIONS)?;
        }
        Ok(())
    }
}

fn in_range_u64(name: &str, value: u64, min: u64, max: u64) -> Result<(), HubError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(HubError::InvalidConfig(format!(
            "{name} {value} is out of range: expected {min} to {max}"
        )))
    }
}

fn in_range(name: &str, value: usize, min: usize, max: usize) -> Result<(), HubError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(HubError::InvalidConfig(format!(
            "{name} {value} is out of range: expected {min} to {max}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in [
            AliasPolicy::Takeover,
            AliasPolicy::Reject,
            AliasPolicy::Share,
        ] {
            assert_eq!(p.as_str().parse::<AliasPolicy>().unwrap(), p);
        }
        let err = "steal".parse::<AliasPolicy>().unwrap_err();
        assert!(err.to_string().contains("\"steal\""), "{err}");
    }

    #[test]
    fn validation_names_the_bad_value() {
        assert!(HubConfig::default().validate().is_ok());
        let small = HubConfig {
            max_frame_len: 10,
            ..HubConfig::default()
        };
        assert!(small
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_frame_len 10 is out of range"));
        let none = HubConfig {
            max_sessions: 0,
            ..HubConfig::default()
        };
        assert!(none
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_sessions"));
        let zero = HubConfig {
            idle_timeout: Some(Duration::ZERO),
            ..HubConfig::default()
        };
        assert!(zero
            .validate()
            .unwrap_err()
            .to_string()
            .contains("idle_timeout"));
        let huge = HubConfig {
            max_frame_len: usize::MAX,
            ..HubConfig::default()
        };
        assert!(huge
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_frame_len"));
        let inverted = HubConfig {
            low_watermark: 1 << 20,
            high_watermark: 1 << 10,
            ..HubConfig::default()
        };
        assert!(inverted
            .validate()
            .unwrap_err()
            .to_string()
            .contains("low_watermark"));
        let tiny_cap = HubConfig {
            max_queued_bytes: 1024,
            ..HubConfig::default()
        };
        assert!(tiny_cap
            .validate()
            .unwrap_err()
            .to_string()
            .contains("max_queued_bytes"));
        let forever = HubConfig {
            idle_timeout: Some(Duration::MAX),
            write_deadline: Some(Duration::MAX),
            frame_timeout: Some(Duration::MAX),
            ..HubConfig::default()
        };
        assert!(forever.validate().is_ok(), "huge durations mean never");
    }

    #[test]
    fn limits_are_bounded() {
        let fails = |config: HubConfig, needle: &str| {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        };
        fails(
            HubConfig {
                rate_limit_messages: Some(0),
                ..HubConfig::default()
            },
            "rate_limit_messages 0 is out of range",
        );
        fails(
            HubConfig {
                rate_limit_message_burst: Some(5),
                ..HubConfig::default()
            },
            "rate_limit_message_burst 5 needs rate_limit_messages",
        );
        fails(
            HubConfig {
                rate_limit_bytes: Some(MAX_RATE_LIMIT_BYTES + 1),
                ..HubConfig::default()
            },
            "rate_limit_bytes",
        );
        fails(
            HubConfig {
                rate_limit_bytes: Some(1000),
                rate_limit_bytes_burst: Some(1000),
                ..HubConfig::default()
            },
            "rate_limit_bytes_burst 1000 is out of range: expected 65536",
        );
        fails(
            HubConfig {
                max_connections_per_address: Some(0),
                ..HubConfig::default()
            },
            "max_connections_per_address 0",
        );
        let on = HubConfig {
            rate_limit_messages: Some(10),
            rate_limit_message_burst: Some(20),
            rate_limit_bytes: Some(1),
            max_connections_per_address: Some(4),
            ..HubConfig::default()
        };
        assert!(on.validate().is_ok());
    }
}
