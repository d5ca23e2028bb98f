//! Request and reply: a client asks one alias (or the host) and gets one
//! answer, correlated by its request `id`, or an error saying nobody holds
//! the alias or nobody answered in time.
//!
//! The request waits on the requester's node (see `crate::request`). The
//! recipient answers by the `replyTo` it was given; a reply from anyone but
//! the alias asked, or to a request no longer waiting, is refused, so a
//! reply can neither be forged into another session's request nor arrive
//! twice.

use std::time::Duration;

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::cluster::unknown_alias;
use super::Hub;
use crate::alias::Alias;
use crate::cluster::{ClusterOutput, Envelope, RemoteTarget};
use crate::config::whole_millis;
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::Event;
use crate::frame::hub_encode as encode;
use crate::frame::{json_string, RawMessage, HUB_NAME};
use crate::handle::SessionHandle;
use crate::name::BROADCAST_TARGET;
use crate::request::{earliest, NobodyAnswers, PendingRequest, ReplyAddress, Responder};
use crate::timers::Timer;

impl Hub {
    /// A `request` from session `handle`: to the holders of `to`, or to
    /// the host when `to` is `None`.
    pub(super) fn on_request(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        to: Option<&str>,
        message: RawMessage<'_>,
        timeout_ms: Option<u64>,
    ) {
        if let Some(error) = self.refuse_request(handle, to, timeout_ms) {
            return self.peer_error(handle, error, request_id);
        }
        let timeout = timeout_ms.map_or(self.config.request_timeout, |ms| {
            Duration::from_millis(ms).min(self.config.max_request_timeout)
        });
        let Some(to) = to else {
            let reply_to = self.remember_request(handle, request_id, Responder::Host, timeout);
            let session = self.session_mut(handle);
            let event = Event::Request {
                handle,
                session_id: session.session_id.clone(),
                alias: session.alias.clone(),
                reply_to,
                message: message.to_raw_value(),
            };
            return self.emit(event);
        };
        let held_here = !self.aliases.holders(to).is_empty();
        let alias = match Alias::new(to) {
            Ok(alias) if held_here || self.cluster.is_some() => alias,
            // An alias that breaks the alias rules is held by nobody.
            _ => return self.peer_error(handle, unknown_alias(to), request_id),
        };
        // Under `share` it may go to several nodes, any of which may find
        // its holder just gone: only the last such word ends it. With no
        // node known (the replica may lag behind a claim on another node)
        // the directory decides, and says how many nodes it went to.
        let nodes = self
            .cluster
            .as_ref()
            .map_or(0, |c| c.replica.alias_nodes(to).count());
        // (Not held here, and no cluster, was answered above.)
        let ask_directory = !held_here && nodes == 0;
        let nobody_answers = if held_here {
            NobodyAnswers::NotCounted
        } else if ask_directory {
            NobodyAnswers::Unknown { heard: 0 }
        } else {
            NobodyAnswers::Due(u32::try_from(nodes).unwrap_or(u32::MAX))
        };
        let responder = Responder::Alias(alias.clone());
        let address = self.remember_request(handle, request_id, responder, timeout);
        if let Some(pending) = self.pending_mut(&address) {
            pending.nobody_answers = nobody_answers;
        }
        let from_json = &self.session_mut(handle).from_json;
        let frame = encode::request(from_json, &address.to_string(), message.get());
        if self.cluster.is_some() {
            let mut reply_to = self.reply_to(handle, request_id);
            if let Some(reply_to) = &mut reply_to {
                reply_to.request = Some(address);
            }
            if ask_directory {
                return self.resolve_from(alias, frame, reply_to);
            }
            self.forward_from(RemoteTarget::Alias(alias), &frame, reply_to);
        }
        self.deliver_to_alias(Some(handle), to, frame);
    }

    /// Why a request may not go ahead, if it may not.
    fn refuse_request(
        &mut self,
        handle: SessionHandle,
        to: Option<&str>,
        timeout_ms: Option<u64>,
    ) -> Option<PeerError> {
        if timeout_ms == Some(0) {
            return Some(PeerError::new(
                ErrorCode::InvalidField,
                "field \"timeout\" must be at least 1 (milliseconds to wait for the reply)",
            ));
        }
        if let Some(to) = to {
            if to == BROADCAST_TARGET {
                return Some(PeerError::new(
                    ErrorCode::InvalidField,
                    "a request goes to one alias, or to the host without \"to\"; \"*\" would get many replies",
                ));
            }
            if !self.config.relay {
                return Some(PeerError::new(
                    ErrorCode::RelayDisabled,
                    format!("relaying to {to:?} is turned off on this hub; send the request without \"to\" to ask the host"),
                ));
            }
            if let Some(error) = self.forbidden_relay(handle, to) {
                return Some(error);
            }
        }
        let max = self.config.max_pending_requests;
        (self.session_mut(handle).requests.len() >= max).then(|| {
            PeerError::new(
                ErrorCode::TooManyRequests,
                format!("this session has {max} requests waiting for replies, the most allowed; wait for one to end"),
            )
        })
    }

    fn remember_request(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        responder: Responder,
        timeout: Duration,
    ) -> ReplyAddress {
        self.last_request += 1;
        let number = self.last_request;
        let deadline = self.now.saturating_add(timeout);
        self.session_mut(handle).requests.push(PendingRequest {
            number,
            request_id: request_id.map(ToOwned::to_owned),
            responder,
            timeout,
            deadline,
            nobody_answers: NobodyAnswers::NotCounted,
        });
        self.arm_request_timer(handle);
        ReplyAddress {
            node: self.cluster.as_ref().map(|c| c.node.clone()),
            handle,
            number,
        }
    }

    /// A `reply` from session `handle` to the request `reply_to` names.
    pub(super) fn on_reply(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        reply_to: &str,
        message: RawMessage<'_>,
    ) {
        let here = self.cluster.as_ref().map(|c| c.node.clone());
        let from = self.session_mut(handle).alias.clone();
        let address = match ReplyAddress::parse(reply_to) {
            Some(address) if address.node == here => address,
            Some(address) if address.node.is_some() && from.is_some() && self.cluster.is_some() => {
                // Another node's request: that node checks the reply and
                // echoes the request id, which only it knows.
                let frame = encode::reply(&self.session_mut(handle).from_json, message.get(), None);
                if let (Some(node), Some(cluster)) = (address.node.clone(), &mut self.cluster) {
                    let target = RemoteTarget::Reply { to: address, from };
                    let envelope = Envelope::new(target, frame);
                    cluster
                        .outputs
                        .push_back(ClusterOutput::Forward { node, envelope });
                }
                return;
            }
            _ => return self.peer_error(handle, unknown_request(reply_to), request_id),
        };
        let answers = |responder: &Responder| matches!((responder, &from), (Responder::Alias(asked), Some(from)) if asked == from);
        let Some(pending) = self.take_request(&address, answers) else {
            return self.peer_error(handle, unknown_request(reply_to), request_id);
        };
        let from_json = &self.session_mut(handle).from_json;
        let frame = encode::reply(from_json, message.get(), pending.request_id.as_deref());
        self.deliver_to_ids(Some(handle), &[address.handle], frame);
    }

    /// The host answers a request it was sent as [`Event::Request`].
    ///
    /// Fails with [`HubError::UnknownRequest`] when the request no longer
    /// waits (it was answered, timed out, or its sender left) or was
    /// never the host's, and with [`HubError::InvalidMessage`] when
    /// `message` cannot be encoded; nothing is sent then.
    pub fn reply<T: Serialize + ?Sized>(
        &mut self,
        reply_to: &ReplyAddress,
        message: &T,
    ) -> Result<(), HubError> {
        let unknown = || HubError::UnknownRequest(reply_to.to_string());
        let is_the_hosts = |responder: &Responder| *responder == Responder::Host;
        // The host answers on the node the request came to (its node's
        // address names it, in a cluster).
        let here = self.cluster.as_ref().map(|c| &c.node);
        if reply_to.node.as_ref() != here || self.find_request(reply_to, is_the_hosts).is_none() {
            return Err(unknown());
        }
        let raw = serde_json::value::to_raw_value(message).map_err(HubError::InvalidMessage)?;
        let pending = self
            .take_request(reply_to, is_the_hosts)
            .ok_or_else(unknown)?;
        let frame = encode::reply(
            &json_string(HUB_NAME),
            raw.get(),
            pending.request_id.as_deref(),
        );
        self.transmit(reply_to.handle, frame);
        self.settle();
        Ok(())
    }

    /// The answer to a request of this node from another node: a reply,
    /// or word that the alias asked was held by nobody there.
    pub(super) fn deliver_remote_reply(
        &mut self,
        to: &ReplyAddress,
        from: Option<Alias>,
        frame: &Bytes,
    ) {
        if from.is_none() && !self.last_word_of_nobody(to) {
            // Another place may still answer: this node's word is dropped.
            return;
        }
        let answers = |responder: &Responder| match (responder, &from) {
            (Responder::Alias(asked), Some(from)) => asked == from,
            // The last node's word that the alias had no holder there.
            (Responder::Alias(_), None) => true,
            (Responder::Host, _) => false,
        };
        // Answered already, timed out, or its requester left: dropped.
        if let Some(pending) = self.take_request(to, answers) {
            let frame = encode::with_request_id(frame, pending.request_id.as_deref());
            self.deliver_to_ids(None, &[to.handle], frame);
        }
    }

    /// The directory carried the request at `to` to `nodes` nodes: the
    /// last of their words that they found nobody ends it.
    pub(super) fn request_carried(&mut self, to: &ReplyAddress, alias: &Alias, nodes: u32) {
        let all_said_nobody = self
            .pending_mut(to)
            .is_some_and(|pending| pending.nobody_answers.carried_to(nodes));
        if all_said_nobody {
            self.request_unresolved(to, alias);
        }
    }

    /// The directory found nobody for the request at `to`: its sender is
    /// told `unknown_alias`, and it waits no longer.
    pub(super) fn request_unresolved(&mut self, to: &ReplyAddress, alias: &Alias) {
        if let Some(pending) = self.take_request(to, |_| true) {
            let error = unknown_alias(alias.as_str());
            self.peer_error(to.handle, error, pending.request_id.as_deref());
        }
    }

    /// Tells session `handle` of each of its requests that ran out of time
    /// by `now` (its request timer fired).
    pub(super) fn expire_requests(&mut self, handle: SessionHandle) {
        let now = self.now;
        let requests = &mut self.session_mut(handle).requests;
        let mut expired = Vec::new();
        requests.retain_mut(|r| {
            let due = r.deadline <= now;
            if due {
                expired.push((r.request_id.take(), r.responder.clone(), r.timeout));
            }
            !due
        });
        self.arm_request_timer(handle);
        for (request_id, responder, timeout) in expired {
            let who = match &responder {
                Responder::Host => "the host".to_owned(),
                Responder::Alias(alias) => format!("{:?}", alias.as_str()),
            };
            let millis = whole_millis(timeout);
            let error = PeerError::new(
                ErrorCode::RequestTimeout,
                format!("no reply from {who} within {millis} ms"),
            );
            self.peer_error(handle, error, request_id.as_deref());
        }
    }

    /// The waiting request `address` names, if `responder` may answer it.
    fn find_request(
        &self,
        address: &ReplyAddress,
        may_answer: impl Fn(&Responder) -> bool,
    ) -> Option<usize> {
        let requests = &self.sessions.get(address.handle)?.requests;
        requests
            .iter()
            .position(|r| r.number == address.number && may_answer(&r.responder))
    }

    /// The waiting request `address` names.
    fn pending_mut(&mut self, address: &ReplyAddress) -> Option<&mut PendingRequest> {
        let requests = &mut self.sessions.get_mut(address.handle)?.requests;
        requests.iter_mut().find(|r| r.number == address.number)
    }

    /// Counts one node's word that it found no holder for the request at
    /// `address`; true when that was the last word due, so the request
    /// ends with it.
    fn last_word_of_nobody(&mut self, address: &ReplyAddress) -> bool {
        self.pending_mut(address)
            .is_some_and(|pending| pending.nobody_answers.heard_one())
    }

    /// Takes the waiting request `address` names out of its session, if
    /// `may_answer` its responder.
    fn take_request(
        &mut self,
        address: &ReplyAddress,
        may_answer: impl Fn(&Responder) -> bool,
    ) -> Option<PendingRequest> {
        let at = self.find_request(address, may_answer)?;
        let pending = self.session_mut(address.handle).requests.swap_remove(at);
        self.arm_request_timer(address.handle);
        Some(pending)
    }

    /// Points the session's request timer at its earliest deadline.
    fn arm_request_timer(&mut self, handle: SessionHandle) {
        if let Some(session) = self.sessions.get_mut(handle) {
            let at = earliest(&session.requests);
            self.timers
                .arm_at(&mut session.timers, handle, Timer::Request, at);
        }
    }
}

/// `unknown_request`, as a replier is told it.
fn unknown_request(reply_to: &str) -> PeerError {
    PeerError::new(
        ErrorCode::UnknownRequest,
        format!("no request {reply_to:?} is waiting for this session's reply: it was answered, timed out, its sender left, or it was not sent to this session"),
    )
}
