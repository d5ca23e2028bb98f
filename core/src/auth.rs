//! Authentication as the core sees it: a question to the driver and its
//! answer.
//!
//! With [`HubConfig::authentication`](crate::HubConfig::authentication) on,
//! a `sync` carrying a `token` becomes an [`Output::Authenticate`]
//! (crate::Output::Authenticate) holding an [`AuthRequest`]. The driver
//! decides however it was configured to (a file of hashed secrets, a
//! signed token, the host program) and feeds the answer back with
//! [`Hub::handle_auth_decision`](crate::Hub::handle_auth_decision). The
//! session waits meanwhile, its input kept, for at most
//! [`HubConfig::auth_timeout`](crate::HubConfig::auth_timeout). How a
//! credential is checked is the driver's business; what a decision means
//! (who may hold which alias, who may do what) is decided here.

use std::fmt;
use std::sync::Arc;

use crate::alias::Alias;
use crate::handle::SessionHandle;
use crate::permission::Permissions;

/// Names one question to the driver, so that a late answer (after the
/// deadline, or for a session gone meanwhile) is recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthRequestId(pub u64);

impl fmt::Display for AuthRequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "auth#{}", self.0)
    }
}

/// A session asks for an alias with a credential: may it have it?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// Quote it in the answer.
    pub id: AuthRequestId,
    /// The session asking.
    pub handle: SessionHandle,
    /// Its session id (peer address).
    pub session_id: Arc<str>,
    /// The alias it asks for, already checked against the alias rules.
    pub alias: Alias,
    /// The credential it sent as `token`, exactly as sent.
    pub token: Box<str>,
}

/// The driver's answer to an [`AuthRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthDecision {
    /// The credential proves the right to the alias.
    Grant(Grant),
    /// It does not (or it could not be checked). The client is told
    /// `unauthorized`, with no hint why.
    Deny,
}

/// What a granted credential proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Who the credential belongs to. Under `takeover` and `share`, an
    /// alias passes only between sessions of the same identity. `None`:
    /// the alias itself, as for credentials issued per alias.
    pub identity: Option<Arc<str>>,
    /// What the session may do once it holds the alias.
    pub permissions: Permissions,
}

impl Grant {
    /// A grant of the alias with every permission, as the identity named
    /// by the alias.
    pub fn allow_all() -> Self {
        Grant {
            identity: None,
            permissions: Permissions::default(),
        }
    }
}

/// An authenticated session's identity and permissions, shared by every
/// session it authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) name: Arc<str>,
    pub(crate) permissions: Permissions,
}

impl Identity {
    pub(crate) fn from_grant(grant: Grant, alias: &Alias) -> Arc<Self> {
        let name = grant.identity.unwrap_or_else(|| Arc::from(alias.as_str()));
        Arc::new(Identity {
            name,
            permissions: grant.permissions,
        })
    }
}

/// A `sync` with a credential, held while the credential is checked.
#[derive(Debug)]
pub(crate) struct PendingAuth {
    pub(crate) alias: Alias,
    pub(crate) token: Box<str>,
    pub(crate) request_id: Option<Box<serde_json::value::RawValue>>,
    pub(crate) last_will: Option<crate::last_will::LastWill>,
    pub(crate) stage: AuthStage,
}

/// Where a held `sync` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthStage {
    /// Its address is being slowed down: it is asked about at its turn.
    Waiting,
    /// The driver was asked and has not answered.
    Asked(AuthRequestId),
}

/// The sessions whose credential the driver was asked about, by question.
/// A `Vec` sorted by id (ids only grow, so each is pushed at the end)
/// rather than a B-tree: as fast for the few questions open at once, and
/// no B-tree code of its own in the simulator's .wasm.
#[derive(Debug, Default)]
pub(crate) struct OpenQuestions(Vec<(AuthRequestId, SessionHandle)>);

impl OpenQuestions {
    pub(crate) fn insert(&mut self, id: AuthRequestId, handle: SessionHandle) {
        debug_assert!(self.0.last().is_none_or(|&(last, _)| last < id));
        self.0.push((id, handle));
    }

    /// The session asked about by `id`, forgotten; `None` when no such
    /// question is open.
    pub(crate) fn remove(&mut self, id: AuthRequestId) -> Option<SessionHandle> {
        let at = self.0.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        Some(self.0.remove(at).1)
    }
}
