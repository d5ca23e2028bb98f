//! Authentication and permissions: holding a `sync` while its credential
//! is checked, slowing down addresses that keep failing, and refusing
//! what an identity may not do.
//!
//! With authentication on, a session's life has one gate: until a
//! credential is granted it may only `sync`, `ping` and say `bye`. A
//! `sync` with a `token` pauses the session (its input kept, as flow
//! control does) and becomes an [`Output::Authenticate`]; the driver's
//! answer, or the deadline, resumes it.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::Hub;
use crate::alias::Alias;
use crate::auth::{AuthDecision, AuthRequest, AuthRequestId, AuthStage, Identity, PendingAuth};
use crate::config::whole_millis;
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::{CloseReason, Output};
use crate::frame::ClientFrame;
use crate::handle::SessionHandle;
use crate::last_will::{LastWill, WillTarget};
use crate::limits::address_of;
use crate::name::BROADCAST_TARGET;
use crate::timers::Timer;

impl Hub {
    /// Answers the [`Output::Authenticate`] named `id`. The session goes
    /// on holding the alias, or is told `unauthorized`.
    ///
    /// Returns `Ok(false)` when the question is no longer open (its
    /// deadline passed or its session closed): a late answer is not the
    /// driver's mistake, it is simply too late.
    pub fn handle_auth_decision(
        &mut self,
        now: std::time::Duration,
        id: AuthRequestId,
        decision: AuthDecision,
    ) -> Result<bool, HubError> {
        self.advance(now)?;
        let Some(handle) = self.auth_requests.remove(id) else {
            return Ok(false);
        };
        let Some(pending) = self.take_pending_auth(handle) else {
            return Ok(false);
        };
        match decision {
            AuthDecision::Grant(grant) => {
                self.stats.granted();
                let identity = Identity::from_grant(grant, &pending.alias);
                self.authenticated(handle, *pending, identity);
            }
            AuthDecision::Deny => {
                self.stats.denied();
                let address = address_of(&self.session_mut(handle).session_id).to_owned();
                self.auth_failures.failed(&address, now);
                let message = format!(
                    "the credential does not grant alias {:?}",
                    pending.alias.as_str()
                );
                let error = PeerError::new(ErrorCode::Unauthorized, message);
                self.peer_error(handle, error, pending.request_id.as_deref());
            }
        }
        self.after_question(handle);
        self.settle();
        Ok(true)
    }

    /// With authentication on: whether the session may send `frame`
    /// before it has authenticated. If not, it is told so.
    pub(super) fn admitted_before_auth(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        frame: &ClientFrame<'_>,
    ) -> bool {
        if matches!(
            frame,
            ClientFrame::Sync { .. } | ClientFrame::Ping | ClientFrame::Bye
        ) || self.session_mut(handle).identity.is_some()
        {
            return true;
        }
        let error = PeerError::new(
            ErrorCode::Unauthorized,
            "this hub needs authentication: sync with an alias and its \"token\" first",
        );
        self.peer_error(handle, error, request_id);
        false
    }

    /// A `sync` on a hub with authentication on: holds the session and
    /// asks about its credential (at its address's turn).
    pub(super) fn start_auth(
        &mut self,
        handle: SessionHandle,
        alias: Alias,
        token: Option<&str>,
        request_id: Option<&RawValue>,
        last_will: Option<LastWill>,
    ) {
        let Some(token) = token else {
            self.stats.denied();
            let error = PeerError::new(
                ErrorCode::Unauthorized,
                "this hub needs a credential: send \"token\" with \"sync\"",
            );
            return self.peer_error(handle, error, request_id);
        };
        let now = self.now;
        let session = self.session_mut(handle);
        let address = address_of(&session.session_id).to_owned();
        session.auth = Some(Box::new(PendingAuth {
            alias,
            token: token.into(),
            request_id: request_id.map(ToOwned::to_owned),
            last_will,
            stage: AuthStage::Waiting,
        }));
        session.flow.held_by_auth = true;
        session.flow.waiting_on += 1;
        self.pause(handle);
        let turn = self.auth_failures.admit(&address, now);
        if turn > now {
            self.arm_auth_timer(handle, turn - now);
        } else {
            self.ask(handle);
        }
    }

    /// With authentication on, a new session has `auth_timeout` to be
    /// granted an alias.
    pub(super) fn arm_sign_in_deadline(&mut self, handle: SessionHandle) {
        if !self.config.authentication {
            return;
        }
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        session.sign_in_by = self.now.checked_add(self.config.auth_timeout);
        self.arm_auth_timer(handle, self.config.auth_timeout);
    }

    /// The session was granted an alias: the deadline to sign in no
    /// longer applies.
    pub(super) fn signed_in(&mut self, handle: SessionHandle) {
        if let Some(session) = self.sessions.get_mut(handle) {
            if session.sign_in_by.take().is_some() {
                self.timers.disarm(&mut session.timers, handle, Timer::Auth);
            }
        }
    }

    /// After a question is answered (the answer sent, the alias claimed
    /// or refused): a session still not signed in goes back to its
    /// sign-in deadline, and is closed at once if that passed meanwhile.
    /// One waiting for the cluster's directory is left to its answer.
    pub(super) fn after_question(&mut self, handle: SessionHandle) {
        let Some(session) = self.sessions.get(handle) else {
            return;
        };
        if session.identity.is_some() || session.auth.is_some() || session.flow.held_by_claim {
            return;
        }
        let Some(by) = session.sign_in_by else {
            return;
        };
        if by <= self.now {
            self.close(handle, CloseReason::AuthTimeout);
        } else {
            self.arm_auth_timer(handle, by - self.now);
        }
    }

    /// The session's auth timer fired: its turn came, the driver's
    /// deadline, or the deadline to sign in.
    pub(super) fn on_auth_timer(&mut self, handle: SessionHandle) {
        let Some(session) = self.sessions.get(handle) else {
            return;
        };
        match session.auth.as_ref().map(|p| p.stage) {
            None if session.identity.is_none() && session.sign_in_by.is_some() => {
                self.close(handle, CloseReason::AuthTimeout);
            }
            None => {
                // Signed in meanwhile: the deadline no longer applies.
                // (`due` leaves timers armed until acted on.)
                if let Some(session) = self.sessions.get_mut(handle) {
                    self.timers.disarm(&mut session.timers, handle, Timer::Auth);
                }
            }
            Some(AuthStage::Waiting) => self.ask(handle),
            Some(AuthStage::Asked(id)) => {
                self.auth_requests.remove(id);
                let Some(pending) = self.take_pending_auth(handle) else {
                    return;
                };
                self.stats.denied();
                let message = format!(
                    "the credential could not be checked within {} ms",
                    whole_millis(self.config.auth_timeout)
                );
                let error = PeerError::new(ErrorCode::Unauthorized, message);
                self.peer_error(handle, error, pending.request_id.as_deref());
                self.after_question(handle);
            }
        }
    }

    /// Asks the driver about a held session's credential.
    fn ask(&mut self, handle: SessionHandle) {
        self.last_auth_request += 1;
        let id = AuthRequestId(self.last_auth_request);
        let session = self.session_mut(handle);
        let Some(pending) = session.auth.as_mut() else {
            return;
        };
        pending.stage = AuthStage::Asked(id);
        let request = AuthRequest {
            id,
            handle,
            session_id: session.session_id.clone(),
            alias: pending.alias.clone(),
            token: pending.token.clone(),
        };
        self.auth_requests.insert(id, handle);
        self.arm_auth_timer(handle, self.config.auth_timeout);
        self.outputs.push_back(Output::Authenticate(request));
    }

    fn arm_auth_timer(&mut self, handle: SessionHandle, after: std::time::Duration) {
        let now = self.now;
        if let Some(session) = self.sessions.get_mut(handle) {
            self.timers
                .arm(&mut session.timers, handle, Timer::Auth, now, after);
        }
    }

    /// Ends a session's wait for its credential: its held `sync` is
    /// handed back and its input resumes.
    fn take_pending_auth(&mut self, handle: SessionHandle) -> Option<Box<PendingAuth>> {
        let session = self.sessions.get_mut(handle)?;
        let pending = session.auth.take()?;
        self.timers.disarm(&mut session.timers, handle, Timer::Auth);
        session.flow.held_by_auth = false;
        session.flow.waiting_on -= 1;
        if !session.flow.blocked() {
            self.to_resume.push_back(handle);
        }
        Some(pending)
    }

    /// The question about a closing session's credential is closed too.
    pub(super) fn forget_pending_auth(&mut self, pending: Option<Box<PendingAuth>>) {
        if let Some(AuthStage::Asked(id)) = pending.map(|p| p.stage) {
            self.auth_requests.remove(id);
        }
    }

    /// A granted credential: the `sync` goes on as on a hub without
    /// authentication, under the identity it proved.
    fn authenticated(
        &mut self,
        handle: SessionHandle,
        pending: PendingAuth,
        identity: Arc<Identity>,
    ) {
        let PendingAuth {
            alias,
            request_id,
            last_will,
            ..
        } = pending;
        let request_id = request_id.as_deref();
        if let Some(error) = forbidden_will(&identity, last_will.as_ref()) {
            return self.peer_error(handle, error, request_id);
        }
        if let Some(error) = self.held_by_other_identity(&alias, &identity) {
            return self.peer_error(handle, error, request_id);
        }
        if self.cluster.is_some() {
            return self.start_claim(handle, alias, request_id, last_will, Some(identity));
        }
        self.claim(handle, alias, request_id, last_will, Some(identity));
    }

    /// With authentication on, an alias passes only between sessions of
    /// one identity, whatever the policy: takeover exists so that a
    /// reconnecting client is not locked out by its dead connection, not
    /// so that anyone with a credential can take anyone's alias.
    pub(super) fn held_by_other_identity(
        &self,
        alias: &Alias,
        identity: &Identity,
    ) -> Option<PeerError> {
        let other = self.aliases.holders(alias.as_str()).iter().any(|&holder| {
            self.sessions
                .get(holder)
                .and_then(|s| s.identity.as_ref())
                .is_some_and(|held| held.name != identity.name)
        });
        other.then(|| {
            PeerError::new(
                ErrorCode::AliasTaken,
                format!("alias {:?} is held by another identity", alias.as_str()),
            )
        })
    }

    /// The `forbidden` error for relaying to `to`, if the session's
    /// identity may not.
    pub(super) fn forbidden_relay(&self, handle: SessionHandle, to: &str) -> Option<PeerError> {
        let identity = self.sessions.get(handle)?.identity.as_ref()?;
        let permissions = &identity.permissions;
        if to == BROADCAST_TARGET {
            return (!permissions.broadcast).then(|| {
                PeerError::new(
                    ErrorCode::Forbidden,
                    format!("identity {:?} may not send to \"*\"", &*identity.name),
                )
            });
        }
        (!permissions.may_relay_to(to)).then(|| forbidden_alias(&identity.name, to))
    }

    /// The `forbidden` error for seeing who is connected (`what` names the
    /// request), if the session's identity may not.
    pub(super) fn forbidden_listing(&self, handle: SessionHandle, what: &str) -> Option<PeerError> {
        let identity = self.sessions.get(handle)?.identity.as_ref()?;
        (!identity.permissions.list).then(|| {
            PeerError::new(
                ErrorCode::Forbidden,
                format!("identity {:?} may not {what}", &*identity.name),
            )
        })
    }

    /// The `forbidden` error for a re-sync's new will, if its identity may
    /// not send it.
    pub(super) fn forbidden_will_of(
        &self,
        handle: SessionHandle,
        last_will: Option<&LastWill>,
    ) -> Option<PeerError> {
        let identity = self.sessions.get(handle)?.identity.as_ref()?;
        forbidden_will(identity, last_will)
    }
}

fn forbidden_alias(identity: &str, to: &str) -> PeerError {
    PeerError::new(
        ErrorCode::Forbidden,
        format!("identity {identity:?} may not relay to {to:?}"),
    )
}

/// A will is a relay sent later: it must name only aliases the identity
/// may relay to.
fn forbidden_will(identity: &Identity, last_will: Option<&LastWill>) -> Option<PeerError> {
    let WillTarget::Aliases(aliases) = &last_will?.target else {
        return None;
    };
    let refused = aliases
        .iter()
        .find(|alias| !identity.permissions.may_relay_to(alias.as_str()))?;
    let mut error = forbidden_alias(&identity.name, refused.as_str());
    error.message.push_str(" (in \"lastWill\")");
    Some(error)
}
