//! Carrying out what the hub outputs, as the native driver does: frames to
//! send, sessions to close (a slow consumer among them), events to report.

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use tcphub_core::{CloseReason, Event, Output, SessionId};

use super::Simulator;
use crate::sim::network::End;
use crate::sim::trace::{Direction, Entry};

impl Simulator {
    /// Carries out everything the hub asked for, as the native driver does.
    pub(super) fn drain(&mut self) {
        while let Some(output) = self.hub.poll_output() {
            match output {
                Output::Transmit { session, frame } => {
                    // Interim: counted as written at once (the simulator's
                    // own queue model still decides slow consumers).
                    let len = frame.len();
                    self.transmit(session, frame);
                    let _ = self.hub.handle_written(
                        std::time::Duration::from_millis(self.now),
                        session,
                        len,
                    );
                }
                Output::PauseReading { .. } | Output::ResumeReading { .. } => {}
                Output::Close {
                    session,
                    reason,
                    farewell,
                    ..
                } => {
                    self.transmit(session, farewell);
                    let Some(conn) = self.connection_index(session) else {
                        continue;
                    };
                    self.connections[conn].hub_open = false;
                    let client = self.connections[conn].client;
                    self.trace.push(Entry::Close {
                        t: self.now,
                        client: self.clients[client].name.clone(),
                        at: "hub",
                        reason: reason.as_str().to_owned(),
                    });
                    self.end_stream(conn, Direction::ToClient, End::HubClosed(reason));
                }
                Output::Event(event) => self.record_event(event),
            }
        }
    }

    pub(super) fn transmit(&mut self, session: SessionId, frame: Bytes) {
        let Some(conn) = self.connection_index(session) else {
            return;
        };
        self.stats.bytes_to_clients += frame.len() as u64;
        let c = &mut self.connections[conn];
        c.queued += frame.len();
        let over = c.queued > self.network_settings.max_queued_bytes && !c.closing && c.hub_open;
        if over {
            c.closing = true;
        }
        self.put_on_wire(conn, Direction::ToClient, frame);
        if over {
            // What the native server does when a send queue overflows; the
            // bye frame and the close come out of the same drain loop.
            let _ = self.hub.close_session(session, CloseReason::SlowConsumer);
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
        let (name, session, peer, alias, detail) = match event {
            Event::Opened { session, peer } => ("opened", session, peer, None, None),
            Event::Synced {
                session,
                peer,
                alias,
                took_over_from,
            } => (
                "synced",
                session,
                peer,
                Some(alias),
                took_over_from.and_then(|old| {
                    raw(&TookOver {
                        took_over_from: old.0,
                    })
                }),
            ),
            Event::Released {
                session,
                peer,
                alias,
            } => ("released", session, peer, Some(alias), None),
            Event::Message {
                session,
                peer,
                alias,
                message,
            } => ("message", session, peer, alias, Some(message)),
            Event::ProtocolError {
                session,
                peer,
                error,
            } => (
                "protocol_error",
                session,
                peer,
                None,
                raw(&ErrorDetail {
                    code: error.code.as_str(),
                    message: &error.message,
                }),
            ),
            Event::Closed {
                session,
                peer,
                alias,
                reason,
            } => ("closed", session, peer, alias, raw(reason.as_str())),
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
            session: session.0,
            peer: peer.to_string(),
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
