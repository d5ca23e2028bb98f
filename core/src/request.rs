//! Requests waiting for their reply: who asked, which `id` to echo, whom
//! the reply must come from, and until when the hub waits for it.
//!
//! A request lives on the node of the session that sent it, under a
//! number. Its recipient is told a [`ReplyAddress`] (`"7"`, or `"n1/7"` in
//! a cluster), which its reply names, so a reply finds its way back to
//! that node without the recipient's node remembering anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::alias::Alias;
use crate::handle::SessionHandle;
use crate::node::NodeId;

/// Where a reply goes: a request's number on the node that holds it. On
/// the wire it is the `replyTo` string, `"7"` on a lone hub and `"n1/7"`
/// on node `n1` of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyAddress {
    /// The node the requester is on, in a cluster.
    pub node: Option<NodeId>,
    /// The request's number on that node.
    pub number: u64,
}

impl ReplyAddress {
    /// Reads a `replyTo` as the hub wrote it; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (node, number) = match text.split_once('/') {
            Some((node, number)) => (Some(NodeId::new(node).ok()?), number),
            None => (None, text),
        };
        // Digits only: `parse` alone would also take a leading `+`.
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(ReplyAddress {
            node,
            number: number.parse().ok()?,
        })
    }
}

impl fmt::Display for ReplyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "{node}/{}", self.number),
            None => write!(f, "{}", self.number),
        }
    }
}

/// Who must answer a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Responder {
    /// The host program (a request without `to`).
    Host,
    /// Whoever holds this alias; the first holder's reply wins.
    Alias(Alias),
}

/// One request waiting for its reply.
#[derive(Debug)]
pub(crate) struct PendingRequest {
    /// The session that asked.
    pub(crate) requester: SessionHandle,
    /// Its request `id`, echoed on the reply or the error that ends it.
    pub(crate) request_id: Option<Box<RawValue>>,
    pub(crate) responder: Responder,
    /// How long it was given, for the timeout's message.
    pub(crate) timeout: Duration,
    deadline: Duration,
}

/// Every request of this hub's sessions still waiting, by number, and
/// their deadlines in order.
#[derive(Debug, Default)]
pub(crate) struct PendingRequests {
    entries: BTreeMap<u64, PendingRequest>,
    deadlines: BTreeSet<(Duration, u64)>,
    last: u64,
}

impl PendingRequests {
    /// Remembers a request until `now + timeout`; returns its number.
    pub(crate) fn insert(
        &mut self,
        now: Duration,
        requester: SessionHandle,
        request_id: Option<Box<RawValue>>,
        responder: Responder,
        timeout: Duration,
    ) -> u64 {
        self.last += 1;
        let number = self.last;
        let deadline = now.saturating_add(timeout);
        self.deadlines.insert((deadline, number));
        self.entries.insert(
            number,
            PendingRequest {
                requester,
                request_id,
                responder,
                timeout,
                deadline,
            },
        );
        number
    }

    /// The request waiting under `number`, without taking it.
    pub(crate) fn get(&self, number: u64) -> Option<&PendingRequest> {
        self.entries.get(&number)
    }

    /// Takes the request out: it was answered, refused, or its requester
    /// left.
    pub(crate) fn take(&mut self, number: u64) -> Option<PendingRequest> {
        let entry = self.entries.remove(&number)?;
        self.deadlines.remove(&(entry.deadline, number));
        Some(entry)
    }

    /// When the next request runs out of time.
    pub(crate) fn earliest(&self) -> Option<Duration> {
        self.deadlines.first().map(|&(at, _)| at)
    }

    /// Takes out every request whose time ran out by `now`, oldest
    /// deadline first.
    pub(crate) fn due(&mut self, now: Duration) -> Vec<(u64, PendingRequest)> {
        let mut due = Vec::new();
        while let Some(&(at, number)) = self.deadlines.first() {
            if at > now {
                break;
            }
            self.deadlines.pop_first();
            if let Some(entry) = self.entries.remove(&number) {
                due.push((number, entry));
            }
        }
        due
    }

    /// How many requests are waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_addresses_read_back_what_they_write() {
        for text in ["7", "n1/7", "eu-west_2/18446744073709551615"] {
            let address = ReplyAddress::parse(text).expect(text);
            assert_eq!(address.to_string(), text);
        }
        for text in [
            "",
            "x",
            "+7",
            "-1",
            "7 ",
            "/7",
            "n1/",
            "n 1/7",
            "18446744073709551616",
        ] {
            assert_eq!(ReplyAddress::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn requests_run_out_in_deadline_order_and_leave_nothing_behind() {
        let mut pending = PendingRequests::default();
        let s = Duration::from_secs;
        let late = pending.insert(s(0), SessionHandle(1), None, Responder::Host, s(5));
        let early = pending.insert(s(1), SessionHandle(1), None, Responder::Host, s(1));
        let answered = pending.insert(s(1), SessionHandle(2), None, Responder::Host, s(1));
        assert!(pending.take(answered).is_some());
        assert!(pending.take(answered).is_none());
        assert_eq!(pending.earliest(), Some(s(2)));
        assert!(pending.due(s(1)).is_empty());
        let due: Vec<u64> = pending.due(s(5)).into_iter().map(|(n, _)| n).collect();
        assert_eq!(due, [early, late]);
        assert_eq!(pending.len(), 0);
        assert_eq!(pending.earliest(), None);
    }
}
