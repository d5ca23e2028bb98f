//! Carrying out what the hub outputs, as a driver with real sockets does:
//! frames into the send queues (`socket.rs` paces them), reads paused and
//! resumed, sessions closed with their farewell, events reported.

use serde::Serialize;
use serde_json::value::{to_raw_value, RawValue};
use tcphub_core::{Event, Output};

use super::Simulator;
use crate::sim::trace::Entry;

impl Simulator {
    /// Carries out everything the hub asked for, in order.
    pub(super) fn drain(&mut self) {
        while let Some(output) = self.hub.poll_output() {
            match output {
                Output::Transmit { handle, frame } => self.queue_frame(handle, frame),
                Output::PauseReading { handle } => self.set_reading(handle, true),
                Output::ResumeReading { handle } => self.set_reading(handle, false),
                Output::Close {
                    handle,
                    reason,
                    farewell,
                    unsent,
                } => self.close_at_hub(handle, reason, farewell, unsent),
                Output::Event(event) => self.record_event(event),
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
