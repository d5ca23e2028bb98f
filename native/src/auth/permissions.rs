//! Permissions as an auth file or a token writes them, read in one place
//! for both:
//!
//! ```toml
//! relay = ["Client-*"]   # the aliases it may relay to; default ["*"]
//! broadcast = false      # may send to "*"; default true
//! list = true            # may list and watch; default true
//! ```

use serde::{Deserialize, Serialize};
use tcphub_core::{AliasPattern, Permissions};

/// Most relay patterns one identity may have: matching is linear in their
/// number, and a token or file listing more is more likely a mistake.
pub const MAX_RELAY_PATTERNS: usize = 256;

/// Permissions as written, each field optional (absent: allowed, as
/// without authentication). Unknown fields are refused, so a typo such as
/// `brodcast = false` cannot silently leave broadcast allowed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    /// Patterns of the aliases it may relay to (`*` and `?` wildcards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<Vec<String>>,
    /// Whether it may send to everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broadcast: Option<bool>,
    /// Whether it may list who is connected, and watch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<bool>,
}

impl PermissionSpec {
    /// The permissions it grants, or why a pattern cannot be used.
    pub fn permissions(&self) -> Result<Permissions, String> {
        let mut permissions = Permissions::default();
        if let Some(patterns) = &self.relay {
            if patterns.len() > MAX_RELAY_PATTERNS {
                return Err(format!(
                    "relay lists {} patterns; at most {MAX_RELAY_PATTERNS} are allowed",
                    patterns.len()
                ));
            }
            permissions.relay = patterns
                .iter()
                .map(|p| AliasPattern::new(p).map_err(|e| format!("relay: {e}")))
                .collect::<Result<_, _>>()?;
        }
        if let Some(broadcast) = self.broadcast {
            permissions.broadcast = broadcast;
        }
        if let Some(list) = self.list {
            permissions.list = list;
        }
        Ok(permissions)
    }

    /// Whether it says nothing (every permission at its default).
    pub fn is_empty(&self) -> bool {
        self == &PermissionSpec::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_fields_allow_and_present_ones_restrict() {
        let all = PermissionSpec::default().permissions().unwrap();
        assert_eq!(all, Permissions::default());
        let spec: PermissionSpec =
            toml::from_str("relay = [\"Client-*\"]\nbroadcast = false").unwrap();
        let some = spec.permissions().unwrap();
        assert!(some.may_relay_to("Client-2") && !some.may_relay_to("ops"));
        assert!(!some.broadcast && some.list);
        let none: PermissionSpec = serde_json::from_str(r#"{"relay":[]}"#).unwrap();
        assert!(!none.permissions().unwrap().may_relay_to("anyone"));
    }

    #[test]
    fn bad_patterns_and_unknown_fields_are_refused_by_name() {
        let spec = PermissionSpec {
            relay: Some(vec!["ok".into(), String::new()]),
            ..PermissionSpec::default()
        };
        let error = spec.permissions().unwrap_err();
        assert!(
            error.contains("relay") && error.contains("empty"),
            "{error}"
        );
        let error = serde_json::from_str::<PermissionSpec>(r#"{"brodcast":false}"#).unwrap_err();
        assert!(error.to_string().contains("brodcast"), "{error}");
        let many = PermissionSpec {
            relay: Some(vec!["a".into(); MAX_RELAY_PATTERNS + 1]),
            ..PermissionSpec::default()
        };
        assert!(many.permissions().unwrap_err().contains("at most"));
    }
}
