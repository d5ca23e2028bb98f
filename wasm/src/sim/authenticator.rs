//! The simulated authenticator: what a scenario's hub asks when a client
//! syncs with a `token` on a hub with `authentication` on.
//!
//! A real driver checks a credential however it was configured (a file of
//! hashed secrets, a signed token, the host program); the simulator looks
//! the alias and token up in the scenario's table of credentials and
//! answers after a fixed delay of virtual time, so a run shows the session
//! waiting and replays exactly. What a grant means (who may hold which
//! alias, who may do what, how failures are slowed) is the core's.
//!
//! ```json
//! "authenticator": {"delay_ms": 200, "credentials": [
//!   {"alias": "Client-1", "token": "c1-secret", "identity": "alice"},
//!   {"alias": "Client-2", "token": "c2-secret", "relay": ["Client-1"],
//!    "broadcast": false, "list": false}]}
//! ```

use std::sync::Arc;

use serde::Serialize;
use tcphub_core::{Alias, AliasPattern, AuthDecision, Grant, Permissions};

use super::json::Object;
use super::SimError;
use super::MAX_DELAY_MS;

/// The scenario's authenticator: a table of credentials and how long each
/// answer takes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthenticatorSettings {
    /// Virtual ms from the hub's question to the answer; the session
    /// waits meanwhile (up to the hub's `auth_timeout_ms`).
    pub delay_ms: u64,
    /// Every credential it grants; any other alias and token is denied.
    pub credentials: Vec<Credential>,
}

impl Default for AuthenticatorSettings {
    fn default() -> Self {
        AuthenticatorSettings {
            delay_ms: DEFAULT_DELAY_MS,
            credentials: Vec::new(),
        }
    }
}

/// The default answer time: long enough to see the session wait.
pub const DEFAULT_DELAY_MS: u64 = 100;

/// One credential: `token` proves the right to `alias`, as `identity`,
/// with these permissions (the core's `Grant`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// The alias it grants.
    pub alias: String,
    /// The secret a client sends as `token` in its `sync`.
    pub token: String,
    /// Who it belongs to: an alias passes by takeover only between
    /// sessions of one identity. Absent: the alias itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// The aliases it may relay to, as the core's patterns (`*` any run,
    /// `?` one character). Default: `["*"]`, everyone.
    pub relay: Vec<String>,
    /// Whether it may send to `*`.
    pub broadcast: bool,
    /// Whether it may `list` and `watch`.
    pub list: bool,
}

impl AuthenticatorSettings {
    pub(crate) fn read(mut o: Object<'_>) -> Result<Self, String> {
        let d = AuthenticatorSettings::default();
        let settings = AuthenticatorSettings {
            delay_ms: o.get("delay_ms")?.unwrap_or(d.delay_ms),
            credentials: o.objects("credentials", Credential::read)?,
        };
        o.finish("delay_ms or credentials")?;
        Ok(settings)
    }

    /// Checks the delay, and each credential's alias, patterns and
    /// identity with the core's own rules; no alias and token twice.
    pub fn validate(&self) -> Result<(), SimError> {
        let error = |message: String| Err(SimError::Scenario(message));
        if self.delay_ms > MAX_DELAY_MS {
            return error(format!(
                "authenticator.delay_ms is {}: expected 0 to {MAX_DELAY_MS} (one day)",
                self.delay_ms
            ));
        }
        for (i, credential) in self.credentials.iter().enumerate() {
            let here = format!("authenticator.credentials[{i}]");
            if let Err(e) = Alias::new(&credential.alias) {
                return error(format!("{here}.alias: {}", e.message));
            }
            if credential.token.is_empty() {
                return error(format!(
                    "{here}.token is empty: a credential needs a secret"
                ));
            }
            if credential.identity.as_deref() == Some("") {
                return error(format!(
                    "{here}.identity is empty: name one, or leave it out for the alias"
                ));
            }
            if let Err(e) = credential.permissions() {
                return error(format!("{here}.relay: {e}"));
            }
            let twice = self.credentials[..i]
                .iter()
                .any(|c| c.alias == credential.alias && c.token == credential.token);
            if twice {
                return error(format!(
                    "{here} repeats the alias {:?} and token of an earlier credential",
                    credential.alias
                ));
            }
        }
        Ok(())
    }

    /// The answer to a `sync` claiming `alias` with `token`.
    pub(crate) fn decide(&self, alias: &str, token: &str) -> AuthDecision {
        let found = self
            .credentials
            .iter()
            .find(|c| c.alias == alias && c.token == token);
        // Checked when the scenario loaded, so a pattern never fails here;
        // should one, denying is the safe answer.
        match found.map(|c| (c, c.permissions())) {
            Some((credential, Ok(permissions))) => AuthDecision::Grant(Grant {
                identity: credential.identity.as_deref().map(Arc::from),
                permissions,
            }),
            _ => AuthDecision::Deny,
        }
    }
}

impl Credential {
    fn read(mut o: Object<'_>) -> Result<Self, String> {
        let all = Permissions::default();
        let Some(alias) = o.get("alias")? else {
            return Err(o.missing("alias"));
        };
        let Some(token) = o.get("token")? else {
            return Err(o.missing("token"));
        };
        let credential = Credential {
            alias,
            token,
            identity: o.opt("identity")?,
            relay: o.get("relay")?.unwrap_or_else(|| vec!["*".to_owned()]),
            broadcast: o.get("broadcast")?.unwrap_or(all.broadcast),
            list: o.get("list")?.unwrap_or(all.list),
        };
        o.finish("alias, token, identity, relay, broadcast or list")?;
        Ok(credential)
    }

    /// The core's permissions: the relay patterns checked by
    /// [`AliasPattern::new`].
    fn permissions(&self) -> Result<Permissions, tcphub_core::PatternError> {
        Ok(Permissions {
            relay: self
                .relay
                .iter()
                .map(|p| AliasPattern::new(p))
                .collect::<Result<_, _>>()?,
            broadcast: self.broadcast,
            list: self.list,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: &str) -> Result<AuthenticatorSettings, String> {
        let settings = AuthenticatorSettings::read(Object::parse("authenticator".into(), json)?)?;
        settings.validate().map_err(|e| e.to_string())?;
        Ok(settings)
    }

    #[test]
    fn a_credential_grants_its_alias_with_its_permissions_and_nothing_else() {
        let auth = settings(
            r#"{"delay_ms":5,"credentials":[
                {"alias":"A","token":"t","identity":"alice"},
                {"alias":"B","token":"u","relay":["A","C-*"],"broadcast":false,"list":false}]}"#,
        )
        .unwrap();
        assert_eq!(auth.delay_ms, 5);
        let AuthDecision::Grant(a) = auth.decide("A", "t") else {
            panic!("A with t is granted")
        };
        assert_eq!(a.identity.as_deref(), Some("alice"));
        assert_eq!(a.permissions, Permissions::default());
        let AuthDecision::Grant(b) = auth.decide("B", "u") else {
            panic!("B with u is granted")
        };
        assert_eq!(b.identity, None, "the alias is the identity");
        assert!(b.permissions.may_relay_to("C-3") && !b.permissions.may_relay_to("D"));
        assert!(!b.permissions.broadcast && !b.permissions.list);
        assert_eq!(auth.decide("A", "u"), AuthDecision::Deny, "another's token");
        assert_eq!(auth.decide("A", "T"), AuthDecision::Deny, "case matters");
        assert_eq!(auth.decide("Z", "t"), AuthDecision::Deny, "no credential");
    }

    #[test]
    fn defaults_allow_everything_after_a_short_delay() {
        let auth = settings(r#"{"credentials":[{"alias":"A","token":"t"}]}"#).unwrap();
        assert_eq!(auth.delay_ms, DEFAULT_DELAY_MS);
        assert_eq!(auth.credentials[0].relay, ["*"]);
        assert!(auth.credentials[0].broadcast && auth.credentials[0].list);
        assert!(settings("{}").unwrap().credentials.is_empty());
    }

    #[test]
    fn errors_name_the_credential_and_the_field() {
        let err = |json: &str| settings(json).unwrap_err();
        let e = err(r#"{"credentials":[{"token":"t"}]}"#);
        assert_eq!(e, "authenticator.credentials[0]: missing field `alias`");
        let e = err(r#"{"credentials":[{"alias":"A"}]}"#);
        assert_eq!(e, "authenticator.credentials[0]: missing field `token`");
        let e = err(r#"{"credentials":[{"alias":"A","token":""}]}"#);
        assert!(e.contains("credentials[0].token is empty"), "{e}");
        let e = err(r#"{"credentials":[{"alias":"A","token":"t"},{"alias":"","token":"t"}]}"#);
        assert!(
            e.starts_with("invalid scenario: authenticator.credentials[1].alias: invalid alias"),
            "{e}"
        );
        let e = err(r#"{"credentials":[{"alias":"A","token":"t","relay":["ok",""]}]}"#);
        assert!(
            e.contains("credentials[0].relay: an alias pattern may not be empty"),
            "{e}"
        );
        let e = err(r#"{"credentials":[{"alias":"A","token":"t","identity":""}]}"#);
        assert!(e.contains("credentials[0].identity is empty"), "{e}");
        let e = err(r#"{"credentials":[{"alias":"A","token":"t"},{"alias":"A","token":"t"}]}"#);
        assert!(e.contains("credentials[1] repeats the alias \"A\""), "{e}");
        let e = err(r#"{"credentials":[{"alias":"A","token":"t","broadcast":"no"}]}"#);
        assert!(
            e.starts_with("authenticator.credentials[0].broadcast: invalid type"),
            "{e}"
        );
        let e = err(r#"{"credentials":[{"alias":"A","token":"t","colour":1}]}"#);
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = err(r#"{"delay_ms":-1}"#);
        assert!(
            e.starts_with("authenticator.delay_ms: invalid value"),
            "{e}"
        );
        let e = err(&format!(r#"{{"delay_ms":{}}}"#, MAX_DELAY_MS + 1));
        assert!(e.contains("authenticator.delay_ms is 86400001"), "{e}");
        let e = err(r#"{"credentials":{}}"#);
        assert!(
            e.starts_with("authenticator.credentials: invalid type"),
            "{e}"
        );
    }
}
