//! The hub's questions about credentials (`Output::Authenticate`),
//! answered by the scenario's authenticator `delay_ms` later on the
//! simulated clock, as the native server's authenticator task answers
//! them later on the real one. Meanwhile the hub holds the session; an
//! untimed step waits for the answer, as it waits for the network.

use tcphub_core::{AuthDecision, AuthRequest};

use super::Simulator;
use crate::sim::trace::Entry;

/// An answer on its way back to the hub.
#[derive(Debug)]
pub(super) struct Answer {
    /// When it reaches the hub, virtual ms.
    at: u64,
    /// When the hub asked.
    asked: u64,
    node: usize,
    request: AuthRequest,
    decision: AuthDecision,
}

impl Answer {
    /// When it reaches the hub.
    pub(super) fn at(&self) -> u64 {
        self.at
    }
}

impl Simulator {
    /// The hub on `node` asks about a credential: the authenticator looks
    /// it up now and answers after its delay. Without an authenticator
    /// nobody answers, and the hub's `auth_timeout` does.
    pub(super) fn ask_authenticator(&mut self, node: usize, request: AuthRequest) {
        self.trace_auth(node, &request, None, "asked", None, false);
        let Some(authenticator) = &self.scenario.authenticator else {
            return;
        };
        let decision = authenticator.decide(request.alias.as_str(), &request.token);
        // The delay is the same for every question and time only moves
        // forward, so the queue stays in order of arrival.
        self.answers.push_back(Answer {
            at: self.now.saturating_add(authenticator.delay_ms),
            asked: self.now,
            node,
            request,
            decision,
        });
    }

    /// The next answer reaches its hub.
    pub(super) fn answer(&mut self) {
        let Some(answer) = self.answers.pop_front() else {
            return;
        };
        self.now = self.now.max(answer.at);
        let Answer {
            asked,
            node,
            request,
            decision,
            ..
        } = answer;
        let (state, identity) = match &decision {
            AuthDecision::Grant(grant) => ("granted", grant.identity.as_deref().map(str::to_owned)),
            AuthDecision::Deny => ("denied", None),
        };
        // A crashed node hears nothing more.
        let mut heard = false;
        if !self.nodes[node].crashed {
            self.hub_call(node, |hub, now| {
                heard = hub.handle_auth_decision(now, request.id, decision)?;
                Ok(())
            });
        }
        self.trace_auth(node, &request, Some(asked), state, identity, !heard);
        self.drain();
    }

    /// Traces a question (`asked` `None`) or its answer.
    fn trace_auth(
        &mut self,
        node: usize,
        request: &AuthRequest,
        asked: Option<u64>,
        state: &'static str,
        identity: Option<String>,
        late: bool,
    ) {
        if !self.trace.wants_any() {
            return;
        }
        let client = match self.connection_index(node, request.handle) {
            Some(c) => self.clients[self.connections[c].client].name.clone(),
            None => request.session_id.to_string(),
        };
        self.trace.push(Entry::Auth {
            t: self.now,
            asked,
            client,
            request: request.id.0,
            alias: request.alias.to_string(),
            state,
            identity,
            late,
            node: self.node_name(node),
        });
    }
}
