//! Bytes and end-of-stream from a peer: decoding into frames, holding
//! input back while the session is paused.

use std::time::Duration;

use super::Hub;
use crate::decoder::Decoded;
use crate::error::{ErrorCode, HubError, PeerError};
use crate::event::CloseReason;
use crate::frame::ClientFrame;
use crate::handle::SessionHandle;
use crate::held_input::HeldInput;
use crate::input_scan::{utf8_prefix, InputScanner, Notes, ScannedInput};
use crate::limits::Verdict;
use crate::timers::Timer;
use serde_json::value::RawValue;

impl Hub {
    /// Bytes arrived from the session's peer. Any split of a stream into
    /// chunks gives the same outputs as the whole stream at once.
    ///
    /// While the session is paused (see [`Output::PauseReading`](crate::Output::PauseReading))
    /// the bytes are kept and processed, in order, once it resumes.
    /// Bytes after [`handle_eof`](Hub::handle_eof) are ignored.
    pub fn handle_data(
        &mut self,
        now: Duration,
        handle: SessionHandle,
        data: &[u8],
    ) -> Result<(), HubError> {
        self.take_input(now, handle, Received::Bytes(data))
    }

    /// Bytes arrived from the session's peer, with where their frames
    /// are, found by the session's [`InputScanner`] (see
    /// [`input_scanner`](Hub::input_scanner)): as
    /// [`handle_data`](Hub::handle_data) with `input.bytes()`, which it
    /// does and sends exactly the same for, only faster, since the
    /// frames need not be found again. The hub keeps `input` while the
    /// session is paused.
    pub fn handle_scanned(
        &mut self,
        now: Duration,
        handle: SessionHandle,
        input: ScannedInput,
    ) -> Result<(), HubError> {
        self.take_input(now, handle, Received::Scanned(input))
    }

    /// A scanner for a session's input, for a driver that finds each
    /// chunk's frames before handing it to
    /// [`handle_scanned`](Hub::handle_scanned), on another thread than
    /// the hub's; give it every chunk of the session's input, in order.
    pub fn input_scanner(&self) -> InputScanner {
        InputScanner::new(self.config.max_frame_len)
    }

    fn take_input(
        &mut self,
        now: Duration,
        handle: SessionHandle,
        input: Received<'_>,
    ) -> Result<(), HubError> {
        self.advance(now)?;
        let session = self
            .sessions
            .get_mut(handle)
            .ok_or(HubError::UnknownHandle(handle))?;
        if session.eof {
            return Ok(());
        }
        self.stats.received(input.bytes().len());
        if session.flow.blocked() || !session.held.is_empty() {
            input.hold_from(0, &mut session.held);
            return Ok(());
        }
        self.arm_idle(handle);
        let paused = self.decode(handle, input.bytes(), input.notes());
        if let (Some(read), Some(session)) = (paused, self.sessions.get_mut(handle)) {
            // What it sent after the frame that paused it waits.
            input.hold_from(read, &mut session.held);
        }
        self.settle();
        Ok(())
    }

    /// The peer half-closed its connection: it will send nothing more.
    ///
    /// Everything it sent before is still processed and answered; once its
    /// replies and everything else queued for it are out, the session
    /// closes with a `bye` `peer_closed` (a frame left unfinished by the
    /// EOF is answered with `bad_json` first).
    pub fn handle_eof(&mut self, now: Duration, handle: SessionHandle) -> Result<(), HubError> {
        self.advance(now)?;
        let session = self
            .sessions
            .get_mut(handle)
            .ok_or(HubError::UnknownHandle(handle))?;
        if session.eof {
            return Ok(());
        }
        session.eof = true;
        if !session.flow.blocked() && session.held.is_empty() {
            self.finish_eof(handle);
        }
        self.settle();
        Ok(())
    }

    /// Reads what the session sent while it was paused, until all is read
    /// or it is paused again.
    pub(super) fn decode_held(&mut self, handle: SessionHandle) {
        loop {
            let Some(session) = self.sessions.get_mut(handle) else {
                return;
            };
            if session.flow.blocked() {
                return;
            }
            // The rest stays held meanwhile: a chunk that ends inside a
            // frame is not a session waiting for the rest of it.
            let Some(chunk) = session.held.pop_front() else {
                return;
            };
            if let Some(read) = self.decode(handle, chunk.bytes(), chunk.notes()) {
                if let Some(session) = self.sessions.get_mut(handle) {
                    session.held.push_front_unread(chunk, read);
                }
                return;
            }
        }
    }

    /// Decodes `input` and acts on each frame, until the input is used up
    /// or the session is paused. Frames `notes` has found in it are taken
    /// from there. Gives how much it read if the session was paused: the
    /// caller holds the rest for later.
    #[must_use = "input left when the session paused must be held"]
    pub(super) fn decode(
        &mut self,
        handle: SessionHandle,
        mut input: &[u8],
        mut notes: Notes<'_>,
    ) -> Option<usize> {
        let session = self.sessions.get_mut(handle)?;
        // The decoder lends out frames while routing needs `&mut self`; it
        // is lent out of the session meanwhile and put back at the end.
        let mut decoder = std::mem::take(&mut session.decoder);
        // Whole frames in the valid UTF-8 of the input are read in one pass
        // (the fast path); the decoder takes the rest: frames cut by the
        // chunk's end, garbage, anything unusual.
        let whole = input;
        let text = utf8_prefix(input);
        let mut paused_at = None;
        loop {
            let emitted = self.emitted;
            let carried = self.cluster_outputs_len();
            let front = if decoder.between_frames() {
                let at = whole.len() - input.len();
                let max_len = decoder.max_frame_len();
                notes.frame_at(text, at, max_len).or_else(|| {
                    text.get(at..)
                        .and_then(|rest| ClientFrame::read_front(rest, max_len))
                })
            } else {
                None
            };
            if let Some(front) = front {
                input = &input[front.used..];
                self.on_decoded(handle, front.len, front.request_id, front.frame);
            } else {
                let Some(item) = decoder.next(&mut input) else {
                    break;
                };
                match item {
                    Decoded::Frame(bytes) => {
                        let (request_id, frame) = ClientFrame::parse_request(bytes);
                        self.on_decoded(handle, bytes.len(), request_id, frame);
                    }
                    Decoded::Garbage(error) => {
                        if self.within_rate_limits(handle, None, 0) {
                            self.peer_error(handle, error, None);
                        }
                    }
                    Decoded::TooLarge => {
                        let error = PeerError::new(
                            ErrorCode::FrameTooLarge,
                            format!(
                                "more than {} bytes without a complete frame; closing the session",
                                self.config.max_frame_len
                            ),
                        );
                        self.close_for_error(handle, CloseReason::FrameTooLarge, error);
                        return None;
                    }
                }
            }
            if self.emitted != emitted {
                // This frame gave the host an event; a host that observes
                // and is behind is waited for.
                self.pace_to_host(handle);
            }
            if self.cluster_outputs_len() > carried {
                // It gave the backplane something to carry; a backplane
                // that is behind is waited for.
                self.pace_to_backplane(handle);
            }
            match self.sessions.get_mut(handle) {
                // Defensive: routing closes only other sessions (a
                // takeover's old holder), and over-cap ones in `settle`.
                None => return None,
                Some(session) if session.flow.blocked() => {
                    paused_at = Some(whole.len() - input.len());
                    break;
                }
                Some(_) => {}
            }
        }
        if let Some(session) = self.sessions.get_mut(handle) {
            session.decoder = decoder;
            self.update_frame_timer(handle);
        }
        paused_at
    }

    /// Acts on one frame of `len` bytes as read, under the rate limits.
    fn on_decoded(
        &mut self,
        handle: SessionHandle,
        len: usize,
        request_id: Option<&RawValue>,
        frame: Result<ClientFrame<'_>, PeerError>,
    ) {
        if let Ok(frame) = &frame {
            self.stats.frame_in(frame);
        }
        match (request_id, frame) {
            // `bye` is never refused: leaving is always allowed.
            (_, Ok(ClientFrame::Bye)) => self.close(handle, CloseReason::ClientBye),
            (request_id, _) if !self.within_rate_limits(handle, request_id, len) => {}
            (request_id, Ok(frame)) => self.on_frame(handle, request_id, frame),
            (request_id, Err(error)) => self.peer_error(handle, error, request_id),
        }
    }

    /// Whether a frame of `len` bytes may be acted on under the rate limits.
    /// If not, it is answered `rate_limited` (or, past the refusal
    /// allowance, the session is closed).
    fn within_rate_limits(
        &mut self,
        handle: SessionHandle,
        request_id: Option<&RawValue>,
        len: usize,
    ) -> bool {
        let Some(limits) = &self.rate_limits else {
            return true;
        };
        let now = self.now;
        let Some(state) = self
            .sessions
            .get_mut(handle)
            .and_then(|s| s.limits.as_mut())
        else {
            return true;
        };
        match state.check(limits, now, len) {
            Verdict::Admit => true,
            Verdict::Refuse(refused) => {
                let error = PeerError::new(ErrorCode::RateLimited, refused.message());
                self.peer_error(handle, error, request_id);
                false
            }
            Verdict::Close => {
                self.close(handle, CloseReason::RateLimited);
                false
            }
        }
    }

    /// Whether the input kept for a paused session holds a whole `bye`.
    pub(super) fn held_back_bye(&self, handle: SessionHandle) -> bool {
        let Some(session) = self.sessions.get(handle) else {
            return false;
        };
        if session.held.is_empty() {
            return false;
        }
        // A copy of the decoder reads on from where the session stopped.
        let mut decoder = session.decoder.clone();
        for mut input in session.held.bytes() {
            while let Some(item) = decoder.next(&mut input) {
                if let Decoded::Frame(bytes) = item {
                    if matches!(ClientFrame::parse(bytes), Ok(ClientFrame::Bye)) {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Runs the frame timeout while a frame is unfinished and the session
    /// is being read; a paused session cannot finish its frame, so its
    /// timer stops and starts again when it resumes.
    pub(super) fn update_frame_timer(&mut self, handle: SessionHandle) {
        let Some(timeout) = self.config.frame_timeout else {
            return;
        };
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        let owed = session.decoder.mid_frame()
            && !session.flow.blocked()
            && session.held.is_empty()
            && !session.eof;
        match (owed, session.timers.is_armed(Timer::Frame)) {
            (true, false) => {
                let now = self.now;
                self.timers
                    .arm(&mut session.timers, handle, Timer::Frame, now, timeout);
            }
            (false, true) => self
                .timers
                .disarm(&mut session.timers, handle, Timer::Frame),
            _ => {}
        }
    }

    /// The peer's EOF, once everything it sent before has been processed.
    pub(super) fn finish_eof(&mut self, handle: SessionHandle) {
        let Some(session) = self.sessions.get(handle) else {
            return;
        };
        if session.decoder.mid_frame() {
            let error = PeerError::new(
                ErrorCode::BadJson,
                "the connection was closed in the middle of a frame",
            );
            self.peer_error(handle, error, None);
        }
        // (Unless that error frame overflowed the queue and closed it.)
        self.close(handle, CloseReason::PeerClosed);
    }
}

/// Input from a peer, as a driver passed it.
enum Received<'a> {
    /// Bytes alone ([`Hub::handle_data`]).
    Bytes(&'a [u8]),
    /// A chunk with its notes ([`Hub::handle_scanned`]).
    Scanned(ScannedInput),
}

impl Received<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Received::Bytes(bytes) => bytes,
            Received::Scanned(input) => input.bytes(),
        }
    }

    fn notes(&self) -> Notes<'_> {
        match self {
            Received::Bytes(_) => Notes::none(),
            Received::Scanned(input) => input.notes(),
        }
    }

    /// Keeps what is unread from `from` on, for when the session resumes.
    fn hold_from(self, from: usize, held: &mut HeldInput) {
        match self {
            Received::Bytes(bytes) => held.push_bytes(&bytes[from..]),
            Received::Scanned(input) => held.push_scanned(input, from),
        }
    }
}
