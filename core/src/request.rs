//! Requests waiting for their reply: who asked, which `id` to echo, whom
//! the reply must come from, and until when the hub waits for it.
//!
//! A request waits in its requester's session record, on the requester's
//! node. Its recipient is told a [`ReplyAddress`] naming that node, session
//! and request, which its reply quotes, so a reply finds its way back
//! without the recipient's node remembering anything. (Keeping requests in
//! their session, with one timer per session for the earliest, needs no
//! table of its own: the simulator's .wasm has a size budget.)

use std::fmt;
use std::time::Duration;

use serde_json::value::RawValue;

use crate::alias::Alias;
use crate::handle::SessionHandle;
use crate::node::NodeId;

/// Where a reply goes: a request of one session, on the node that holds
/// it. On the wire it is the `replyTo` string: `"3.7"` (request 7 of
/// session 3) on a lone hub, `"n1/3.7"` on node `n1` of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReplyAddress {
    /// The node the requester is on, in a cluster.
    pub node: Option<NodeId>,
    /// The requester.
    pub handle: SessionHandle,
    /// The request's number on its hub.
    pub number: u64,
}

impl ReplyAddress {
    /// Reads a `replyTo` as the hub wrote it; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let (node, rest) = match text.split_once('/') {
            Some((node, rest)) => (Some(NodeId::new(node).ok()?), rest),
            None => (None, text),
        };
        let (handle, number) = rest.split_once('.')?;
        Some(ReplyAddress {
            node,
            handle: SessionHandle(decimal(handle)?),
            number: decimal(number)?,
        })
    }
}

/// A whole number written in decimal digits only (`parse` alone would
/// also take a leading `+`).
fn decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

impl fmt::Display for ReplyAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(node) = &self.node {
            write!(f, "{node}/")?;
        }
        write!(f, "{}.{}", self.handle.0, self.number)
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

/// One request waiting for its reply, kept in its requester's session.
#[derive(Debug)]
pub(crate) struct PendingRequest {
    pub(crate) number: u64,
    /// The requester's `id`, echoed on the reply or the error that ends it.
    pub(crate) request_id: Option<Box<RawValue>>,
    pub(crate) responder: Responder,
    /// How long it was given, for the timeout's message.
    pub(crate) timeout: Duration,
    pub(crate) deadline: Duration,
    /// In a cluster: which answers from other nodes that they found
    /// nobody end it (with `unknown_alias`).
    pub(crate) nobody_answers: NobodyAnswers,
}

/// What ends a request that other nodes may answer by saying that they
/// found no holder of its alias: under `share` it may go to several
/// nodes, any of which may find its holder just gone, so only the last
/// such word ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NobodyAnswers {
    /// None does: a holder on this node has it, or the host is asked.
    NotCounted,
    /// The last of this many nodes' answers does.
    Due(u32),
    /// It went to the directory, which has not said yet how many nodes
    /// it carried it to; this many nodes said that they found nobody.
    Unknown {
        /// Answers heard so far.
        heard: u32,
    },
}

impl NobodyAnswers {
    /// Counts one node's answer that it found nobody; true if that ends
    /// the request.
    pub(crate) fn heard_one(&mut self) -> bool {
        match self {
            NobodyAnswers::NotCounted => false,
            NobodyAnswers::Due(due) => {
                *due = due.saturating_sub(1);
                *due == 0
            }
            NobodyAnswers::Unknown { heard } => {
                *heard = heard.saturating_add(1);
                false
            }
        }
    }

    /// The directory carried it to `nodes` nodes; true if all of them
    /// have said already that they found nobody.
    pub(crate) fn carried_to(&mut self, nodes: u32) -> bool {
        match *self {
            NobodyAnswers::Unknown { heard } if heard >= nodes => true,
            NobodyAnswers::Unknown { heard } => {
                *self = NobodyAnswers::Due(nodes - heard);
                false
            }
            NobodyAnswers::NotCounted | NobodyAnswers::Due(_) => false,
        }
    }
}

/// The earliest deadline among a session's requests.
pub(crate) fn earliest(requests: &[PendingRequest]) -> Option<Duration> {
    requests.iter().map(|r| r.deadline).min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_addresses_read_back_what_they_write() {
        for text in ["3.7", "n1/3.7", "eu-west_2/1.18446744073709551615"] {
            let address = ReplyAddress::parse(text).expect(text);
            assert_eq!(address.to_string(), text);
        }
        for text in [
            "",
            "x",
            "7",
            "+3.7",
            "3.+7",
            "-1.1",
            "3.7 ",
            "/3.7",
            "n1/",
            "n 1/3.7",
            "3..7",
            "1.18446744073709551616",
        ] {
            assert_eq!(ReplyAddress::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn the_last_word_of_nobody_ends_a_request_however_the_count_arrives() {
        let mut not_counted = NobodyAnswers::NotCounted;
        assert!(!not_counted.heard_one());
        assert!(!not_counted.carried_to(1));

        let mut due = NobodyAnswers::Due(2);
        assert!(!due.carried_to(1), "a count for a request routed here");
        assert_eq!(due, NobodyAnswers::Due(2), "changes nothing");
        assert!(!due.heard_one());
        assert!(due.heard_one());

        // The directory's count before any answer, and after some.
        let mut unknown = NobodyAnswers::Unknown { heard: 0 };
        assert!(!unknown.carried_to(2));
        assert!(!unknown.heard_one());
        assert!(unknown.heard_one());
        let mut unknown = NobodyAnswers::Unknown { heard: 0 };
        assert!(!unknown.heard_one());
        assert!(!unknown.carried_to(2), "one of two still to answer");
        assert!(unknown.heard_one());
        let mut unknown = NobodyAnswers::Unknown { heard: 0 };
        assert!(!unknown.heard_one());
        assert!(!unknown.heard_one());
        assert!(unknown.carried_to(2), "both answered before the count came");
    }
}
