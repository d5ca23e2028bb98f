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
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::Event;
use crate::frame::hub_encode as encode;
use crate::frame::{json_string, HUB_NAME};
use crate::handle::SessionHandle;
use crate::name::BROADCAST_TARGET;
use crate::request::{PendingRequest, ReplyAddress, Responder};

impl Hub {
    /// A `request` from session `handle`: to the holders of `to`, or to
    /// the host when `to` is `None`.
    pub(super) fn on_request(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        to: Option<&str>,
        message: &RawValue,
        timeout_ms: Option<u64>,
    ) {
        if let Some(error) = self.refuse_request(handle, to, timeout_ms) {
            return self.peer_error(handle, error, request_id);
        }
        let timeout = timeout_ms.map_or(self.config.request_timeout, |ms| {
            Duration::from_millis(ms).min(self.config.max_request_timeout)
        });
        let Some(to) = to else {
            let number = self.remember_request(handle, request_id, Responder::Host, timeout);
            let session = self.session_mut(handle);
            let event = Event::Request {
                handle,
                session_id: session.session_id.clone(),
                alias: session.alias.clone(),
                reply_to: ReplyAddress { node: None, number },
                message: message.to_owned(),
            };
            return self.emit(event);
        };
        let held_here = !self.aliases.holders(to).is_empty();
        let alias = match Alias::new(to) {
            Ok(alias) if held_here || self.cluster.is_some() => alias,
            // An alias that breaks the alias rules is held by nobody.
            _ => return self.peer_error(handle, unknown_alias(to), request_id),
        };
        let responder = Responder::Alias(alias.clone());
        let number = self.remember_request(handle, request_id, responder, timeout);
        let address = ReplyAddress {
            node: self.cluster.as_ref().map(|c| c.node.clone()),
            number,
        };
        let from_json = &self.session_mut(handle).from_json;
        let frame = encode::request(from_json, &address.to_string(), message.get());
        if self.cluster.is_some() {
            let mut reply_to = self.reply_to(handle, request_id);
            if let Some(reply_to) = &mut reply_to {
                reply_to.request = Some(number);
            }
            if !held_here && !self.held_elsewhere(to) {
                // The replica may lag behind a claim on another node: the
                // directory decides, and answers if nobody holds it.
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
    ) -> u64 {
        let number = self.requests.insert(
            self.now,
            handle,
            request_id.map(ToOwned::to_owned),
            responder,
            timeout,
        );
        self.session_mut(handle).requests.push(number);
        number
    }

    /// A `reply` from session `handle` to the request `reply_to` names.
    pub(super) fn on_reply(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        reply_to: &str,
        message: &RawValue,
    ) {
        let here = self.cluster.as_ref().map(|c| c.node.clone());
        let from = self.session_mut(handle).alias.clone();
        let number = match ReplyAddress::parse(reply_to) {
            Some(address) if address.node == here => address.number,
            Some(ReplyAddress {
                node: Some(node),
                number,
            }) if from.is_some() && self.cluster.is_some() => {
                // Another node's request: that node checks the reply and
                // echoes the request id, which only it knows.
                let frame = encode::reply(&self.session_mut(handle).from_json, message.get(), None);
                let target = RemoteTarget::Reply {
                    request: number,
                    from,
                };
                if let Some(cluster) = &mut self.cluster {
                    let envelope = Envelope::new(target, frame);
                    cluster
                        .outputs
                        .push_back(ClusterOutput::Forward { node, envelope });
                }
                return;
            }
            _ => return self.peer_error(handle, unknown_request(reply_to), request_id),
        };
        let answers = self.requests.get(number).is_some_and(|pending| {
            matches!((&pending.responder, &from), (Responder::Alias(asked), Some(from)) if asked == from)
        });
        let Some(pending) = answers.then(|| self.take_request(number)).flatten() else {
            return self.peer_error(handle, unknown_request(reply_to), request_id);
        };
        let from_json = &self.session_mut(handle).from_json;
        let frame = encode::reply(from_json, message.get(), pending.request_id.as_deref());
        self.deliver_to_ids(Some(handle), &[pending.requester], frame);
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
        let is_the_hosts = reply_to.node.is_none()
            && self
                .requests
                .get(reply_to.number)
                .is_some_and(|p| p.responder == Responder::Host);
        if !is_the_hosts {
            return Err(unknown());
        }
        let raw = serde_json::value::to_raw_value(message).map_err(HubError::InvalidMessage)?;
        let pending = self.take_request(reply_to.number).ok_or_else(unknown)?;
        let frame = encode::reply(
            &json_string(HUB_NAME),
            raw.get(),
            pending.request_id.as_deref(),
        );
        self.transmit(pending.requester, frame);
        self.settle();
        Ok(())
    }

    /// The answer to a request of this node from another node: a reply,
    /// or word that the alias asked was held by nobody there.
    pub(super) fn deliver_remote_reply(&mut self, number: u64, from: Option<Alias>, frame: &Bytes) {
        let answers =
            self.requests
                .get(number)
                .is_some_and(|pending| match (&pending.responder, &from) {
                    (Responder::Alias(asked), Some(from)) => asked == from,
                    (Responder::Alias(_), None) => true,
                    (Responder::Host, _) => false,
                });
        if !answers {
            // Answered already, timed out, or its requester left.
            return;
        }
        if let Some(pending) = self.take_request(number) {
            let frame = encode::with_request_id(frame, pending.request_id.as_deref());
            self.deliver_to_ids(None, &[pending.requester], frame);
        }
    }

    /// The directory found nobody for request `number`: its sender is told
    /// `unknown_alias`, and it waits no longer.
    pub(super) fn request_unresolved(&mut self, number: u64, alias: &Alias) {
        if let Some(pending) = self.take_request(number) {
            let error = unknown_alias(alias.as_str());
            self.peer_error(pending.requester, error, pending.request_id.as_deref());
        }
    }

    /// Tells each requester whose request ran out of time by `now`.
    pub(super) fn expire_requests(&mut self, now: Duration) {
        for (number, pending) in self.requests.due(now) {
            let Some(session) = self.sessions.get_mut(pending.requester) else {
                continue;
            };
            session.requests.retain(|&n| n != number);
            let who = match &pending.responder {
                Responder::Host => "the host".to_owned(),
                Responder::Alias(alias) => format!("{:?}", alias.as_str()),
            };
            let error = PeerError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "no reply from {who} within {} ms",
                    pending.timeout.as_millis()
                ),
            );
            self.peer_error(pending.requester, error, pending.request_id.as_deref());
        }
    }

    /// A closed session's requests wait no longer: nobody is left to get
    /// their replies.
    pub(super) fn forget_requests(&mut self, numbers: &[u64]) {
        for &number in numbers {
            self.requests.take(number);
        }
    }

    /// Takes a waiting request out, and out of its requester's list.
    fn take_request(&mut self, number: u64) -> Option<PendingRequest> {
        let pending = self.requests.take(number)?;
        if let Some(session) = self.sessions.get_mut(pending.requester) {
            session.requests.retain(|&n| n != number);
        }
        Some(pending)
    }

    /// When the next request runs out of time.
    pub(super) fn next_request_deadline(&self) -> Option<Duration> {
        self.requests.earliest()
    }
}

/// `unknown_request`, as a replier is told it.
fn unknown_request(reply_to: &str) -> PeerError {
    PeerError::new(
        ErrorCode::UnknownRequest,
        format!("no request {reply_to:?} is waiting for this session's reply: it was answered, timed out, its sender left, or it was not sent to this session"),
    )
}
