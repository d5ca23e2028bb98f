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
    /// Whether clients may send to each other (`info` with `to`). When off,
    /// such a message gets a `relay_disabled` error.
    pub relay: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            alias_policy: AliasPolicy::default(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            max_sessions: DEFAULT_MAX_SESSIONS,
            idle_timeout: None,
            relay: true,
        }
    }
}

impl HubConfig {
    /// Checks that every value is usable.
    pub fn validate(&self) -> Result<(), HubError> {
        if self.max_frame_len < MIN_MAX_FRAME_LEN {
            return Err(HubError::InvalidConfig(format!(
                "max_frame_len {} is below the minimum of {MIN_MAX_FRAME_LEN} bytes",
                self.max_frame_len
            )));
        }
        if self.max_sessions == 0 {
            return Err(HubError::InvalidConfig(
                "max_sessions must be at least 1".into(),
            ));
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return Err(HubError::InvalidConfig(
                "idle_timeout must be longer than zero (leave it unset to turn it off)".into(),
            ));
        }
        Ok(())
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
            .contains("max_frame_len 10"));
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
    }
}
