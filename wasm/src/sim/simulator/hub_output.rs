//! Carrying out what the hub outputs, as a driver with real sockets does:
//! frames into the send queues (`socket.rs` paces them), reads paused and
//! resumed, sessions closed with their farewell, events reported.

use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use tcphub_core::{Event, Output, RelayTarget};

use super::Simulator;
use crate::sim::trace::Entry;

impl Simulator {
    /// Carries out everything the hub (every node of a cluster) asked for,
    /// in order. Carrying out one node's outputs calls only that node's
    /// hub, and what it sends other nodes leaves by the backplane, so one
    /// pass over the nodes leaves nothing behind.
    pub(super) fn drain(&mut self) {
        for node in 0..self.nodes.len() {
            if !self.nodes[node].crashed {
                self.drain_node(node);
            }
        }
    }

    fn drain_node(&mut self, node: usize) {
        loop {
            if let Some(output) = self.nodes[node].hub.poll_output() {
                match output {
                    Output::Transmit { handle, frame } => self.queue_frame(node, handle, frame),
                    Output::PauseReading { handle } => self.set_reading(node, handle, true),
                    Output::ResumeReading { handle } => self.set_reading(node, handle, false),
                    Output::Close {
                        handle,
                        reason,
                        farewell,
                        unsent,
                    } => self.close_at_hub(node, handle, reason, farewell, unsent),
                    Output::Authenticate(request) => self.ask_authenticator(node, request),
                    Output::Event(event) => self.record_event(event),
                }
            } else if let Some(output) = self.nodes[node].hub.poll_cluster() {
                self.send_up(node, output);
            } else {
                return;
            }
        }
    }

    pub(super) fn record_event(&mut self, event: Event) {
        if let Event::Message { .. } = event {
            self.stats.host_messages += 1;
        }
        if let Event::Closed { .. } = event {
            self.stats.closes += 1;
        }
        if !self.trace.wants_any() {
            return;
        }
        fn raw<T: Serialize + ?Sized>(value: &T) -> Option<Box<RawValue>> {
            Some(to_raw_value(value).expect("event details always serialize"))
        }
        let (name, handle, session_id, alias, detail) = match event {
            Event::Opened { handle, session_id } => ("opened", handle, session_id, None, None),
            Event::Synced {
                handle,
                session_id,
                alias,
                took_over_from,
            } => (
                "synced",
                handle,
                session_id,
                Some(alias),
                took_over_from.and_then(|old| {
                    raw(&TookOver {
                        took_over_from: old.0,
                    })
                }),
            ),
            Event::Released {
                handle,
                session_id,
                alias,
            } => ("released", handle, session_id, Some(alias), None),
            Event::Message {
                handle,
                session_id,
                alias,
                message,
            } => ("message", handle, session_id, alias, Some(message)),
            Event::ProtocolError {
                handle,
                session_id,
                error,
            } => (
                "protocol_error",
                handle,
                session_id,
                None,
                raw(&ErrorDetail {
                    code: error.code.as_str(),
                    message: &error.message,
                }),
            ),
            Event::Closed {
                handle,
                session_id,
                alias,
                reason,
            } => ("closed", handle, session_id, alias, raw(reason.as_str())),
            Event::Joined {
                handle,
                session_id,
                alias,
                room,
            } => (
                "joined",
                handle,
                session_id,
                alias,
                raw(&InRoom {
                    room: room.as_str(),
                }),
            ),
            Event::Left {
                handle,
                session_id,
                alias,
                room,
            } => (
                "left",
                handle,
                session_id,
                alias,
                raw(&InRoom {
                    room: room.as_str(),
                }),
            ),
            Event::Relayed {
                handle,
                session_id,
                alias,
                target,
                message,
                recipients,
                last_will,
            } => {
                // Where it went, in the wire's words: `to` an alias or
                // `*`, or `room`.
                let (to, room) = match &target {
                    RelayTarget::Alias(alias) => (Some(alias.as_str()), None),
                    RelayTarget::Everyone => (Some(tcphub_core::BROADCAST_TARGET), None),
                    RelayTarget::Room(room) => (None, Some(room.as_str())),
                };
                let detail = raw(&Relayed {
                    to,
                    room,
                    recipients,
                    last_will,
                    message: &message,
                });
                ("relayed", handle, session_id, alias, detail)
            }
            Event::Request {
                handle,
                session_id,
                alias,
                reply_to,
                message,
            } => {
                let detail = raw(&RequestDetail {
                    reply_to: reply_to.to_string(),
                    message: &message,
                });
                ("request", handle, session_id, alias, detail)
            }
            // A kind of event added to the core after this simulator: show
            // it rather than lose it.
            other => {
                let text = format!("{other:?}");
                self.trace.push(Entry::Skip {
                    t: self.now,
                    reason: format!("unknown hub event {text}"),
                });
                return;
            }
        };
        self.trace.push(Entry::Event {
            t: self.now,
            event: name,
            handle: handle.0,
            session_id: session_id.to_string(),
            alias: alias.map(|a| a.to_string()),
            detail,
        });
    }
}

#[derive(Serialize)]
struct TookOver {
    took_over_from: u64,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'static str,
    message: &'a str,
}

/// A request to the host: what its reply names, and what it asks.
#[derive(Serialize)]
struct RequestDetail<'a> {
    reply_to: String,
    message: &'a RawValue,
}

#[derive(Serialize)]
struct InRoom<'a> {
    room: &'a str,
}

#[derive(Serialize)]
struct Relayed<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    to: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    room: Option<&'a str>,
    recipients: usize,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    last_will: bool,
    message: &'a RawValue,
}
