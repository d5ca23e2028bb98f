//! Queues and flow control: every frame handed to the driver is counted
//! against its recipient's queue until the driver reports it written.
//!
//! A recipient whose queue passes the high watermark is *backed up*. Each
//! session that sends it a message meanwhile is paused (its input is no
//! longer processed and the driver is asked to stop reading it, so TCP
//! pushes back on the peer), and so is the backed-up session itself: it is
//! not reading its replies, so the hub does no more work for it. When the
//! queue drains below the low watermark, everyone it paused resumes. A
//! recipient is closed as a slow consumer only when nothing of its queue is
//! written for the write deadline, or its queue passes the hard cap. So a
//! reader that keeps reading is never cut; a publisher is held to the pace
//! of its slowest recipient, for at most the write deadline if that
//! recipient stops reading altogether.

use std::time::Duration;

use bytes::Bytes;

use super::outputs::Outputs;
use super::Hub;
use crate::config::whole_millis;
use crate::error::HubError;
use crate::event::{CloseReason, Output};
use crate::frame::hub_encode as encode;
use crate::handle::SessionHandle;
use crate::room::Room;
use crate::session::{Session, SessionTable};
use crate::timers::Timer;

/// Shortest pause between two checks of the write deadline, so a tiny
/// deadline cannot make the driver spin.
const MIN_WRITE_SWEEP: Duration = Duration::from_millis(1);

impl Hub {
    /// The driver wrote `len` bytes of the frames it was handed for the
    /// session (any split of them: a frame may go out in pieces). This is
    /// how the hub learns that a queue drains; a session with queued bytes
    /// and no write for `write_deadline` is closed as a slow consumer.
    ///
    /// Reporting more than is queued counts as everything written.
    pub fn handle_written(
        &mut self,
        now: Duration,
        handle: SessionHandle,
        len: usize,
    ) -> Result<(), HubError> {
        self.advance(now)?;
        let low = self.config.low_watermark;
        let session = self
            .sessions
            .get_mut(handle)
            .ok_or(HubError::UnknownHandle(handle))?;
        let before = session.flow.queued;
        let emptied = session.flow.written(len, now);
        self.stats.dequeued(before - session.flow.queued);
        let drained = session.flow.backed_up && session.flow.queued <= low;
        let mut held = Vec::new();
        if drained {
            session.flow.backed_up = false;
            held = std::mem::take(&mut session.flow.holding);
            if !session.flow.blocked() {
                self.to_resume.push_back(handle);
            }
        }
        if emptied {
            self.one_queue_fewer();
        }
        if drained {
            self.release_held(held);
            self.settle();
        }
        Ok(())
    }

    /// Queues a frame for one session: a reply, an error, a host message.
    /// Replies never pause anyone but the session itself.
    pub(super) fn transmit(&mut self, handle: SessionHandle, frame: Bytes) {
        self.deliver_to_ids(None, &[handle], frame);
    }

    /// Queues `frame` for every session but the sender (all of them for a
    /// host message); with authentication on, for every signed-in one.
    /// Returns how many it was queued for.
    pub(super) fn deliver_to_all(&mut self, sender: Option<SessionHandle>, frame: Bytes) -> usize {
        let mut backed_up = std::mem::take(&mut self.backed_up_scratch);
        // With authentication on, "everyone" is everyone signed in: a
        // connection that has not proved any identity hears nothing.
        let signed_in_only = self.config.authentication;
        let len = frame.len();
        let recipients = self.sessions.iter_mut().filter(|(handle, session)| {
            Some(*handle) != sender && (!signed_in_only || session.identity.is_some())
        });
        let (count, newly_queued) = queue_each(
            recipients,
            &mut self.outputs,
            (self.config.high_watermark, self.now),
            frame,
            &mut backed_up,
        );
        self.stats.queued(count, len);
        self.after_delivery(sender, newly_queued, backed_up);
        count
    }

    /// Queues `frame` for every member of `room` but the sender, in accept
    /// order. Returns how many.
    pub(super) fn deliver_to_room(
        &mut self,
        sender: Option<SessionHandle>,
        room: &Room,
        frame: Bytes,
    ) -> usize {
        let Some(members) = self.rooms.members(room.as_str()) else {
            return 0;
        };
        let mut backed_up = std::mem::take(&mut self.backed_up_scratch);
        let limits = (self.config.high_watermark, self.now);
        let len = frame.len();
        let (mut count, mut newly_queued) = (0, 0);
        let mut queue = |handle, session: &mut Session| {
            count += 1;
            let newly = queue_one(
                handle,
                session,
                frame.clone(),
                limits,
                &mut self.outputs,
                &mut backed_up,
            );
            newly_queued += usize::from(newly);
        };
        let others = members.keys().copied().filter(|&m| Some(m) != sender);
        // A room that is much of the hub is delivered to by walking the
        // session table beside its members (both are in handle order), a
        // step or two per member; a small one by looking each member up,
        // which searches the table from its root. (The room table lists
        // only open sessions.)
        if members.len().saturating_mul(DENSE_ROOM) >= self.sessions.len() {
            // Every member is an open session (a closing session leaves its
            // rooms before anything is sent for it), and both tables are in
            // handle order, so the walk finds each member further on.
            let mut walk = self.sessions.iter_mut();
            for member in others {
                let found = walk.by_ref().find(|(handle, _)| *handle == member);
                debug_assert!(found.is_some(), "room member {member} is not open");
                let Some((handle, session)) = found else {
                    break;
                };
                queue(handle, session);
            }
        } else {
            for member in others {
                if let Some(session) = self.sessions.get_mut(member) {
                    queue(member, session);
                }
            }
        }
        self.stats.queued(count, len);
        self.after_delivery(sender, newly_queued, backed_up);
        count
    }

    /// Queues `frame` for every holder of `alias`. Returns how many.
    pub(super) fn deliver_to_alias(
        &mut self,
        sender: Option<SessionHandle>,
        alias: &str,
        frame: Bytes,
    ) -> usize {
        let mut backed_up = std::mem::take(&mut self.backed_up_scratch);
        let len = frame.len();
        let (count, newly_queued) = queue_for(
            self.aliases.holders(alias),
            &mut self.sessions,
            &mut self.outputs,
            (self.config.high_watermark, self.now),
            frame,
            &mut backed_up,
        );
        self.stats.queued(count, len);
        self.after_delivery(sender, newly_queued, backed_up);
        count
    }

    /// Queues for `recipient` alone a message `sender` relays, encoded
    /// straight into the recipient's outputs (see `Outputs`). Returns how
    /// many got it: 1, or 0 if either session is gone.
    pub(super) fn deliver_relayed_to(
        &mut self,
        sender: SessionHandle,
        recipient: SessionHandle,
        message: &str,
    ) -> usize {
        let Some(from) = self.sessions.get(sender) else {
            return 0;
        };
        if self.sessions.get(recipient).is_none() {
            return 0;
        }
        let from_json = &from.from_json;
        let len = self.outputs.push_frame_with(
            recipient,
            encode::relayed_info_len(from_json, message),
            |buf| encode::relayed_info_into(buf, from_json, message),
        );
        let mut backed_up = std::mem::take(&mut self.backed_up_scratch);
        let limits = (self.config.high_watermark, self.now);
        let Some(session) = self.sessions.get_mut(recipient) else {
            return 0;
        };
        let newly_queued = count_queued(recipient, session, len, limits, &mut backed_up);
        self.stats.queued(1, len);
        self.after_delivery(Some(sender), usize::from(newly_queued), backed_up);
        1
    }

    /// Queues `frame` for each of `ids`. Returns how many.
    pub(super) fn deliver_to_ids(
        &mut self,
        sender: Option<SessionHandle>,
        ids: &[SessionHandle],
        frame: Bytes,
    ) -> usize {
        let mut backed_up = std::mem::take(&mut self.backed_up_scratch);
        let len = frame.len();
        let (count, newly_queued) = queue_for(
            ids,
            &mut self.sessions,
            &mut self.outputs,
            (self.config.high_watermark, self.now),
            frame,
            &mut backed_up,
        );
        self.stats.queued(count, len);
        self.after_delivery(sender, newly_queued, backed_up);
        count
    }

    /// Flow control after a frame was queued: pauses the sender on account
    /// of each backed-up recipient, pauses the recipients themselves, and
    /// closes any recipient past the hard cap.
    fn after_delivery(
        &mut self,
        sender: Option<SessionHandle>,
        newly_queued: usize,
        mut backed_up: Vec<SessionHandle>,
    ) {
        if newly_queued > 0 {
            self.queued_sessions += newly_queued;
            self.start_write_sweep();
        }
        for &recipient in &backed_up {
            let cap = self.config.max_queued_bytes;
            let Some(session) = self.sessions.get_mut(recipient) else {
                continue;
            };
            if session.flow.queued > cap {
                // Closed once the current input is done (see `settle`), so
                // no routing step finds a session gone from under it.
                if !self.over_cap.contains(&recipient) {
                    self.over_cap.push_back(recipient);
                }
                continue;
            }
            let newly_holding = match sender {
                Some(sender) if sender != recipient => session.flow.hold(sender),
                _ => false,
            };
            self.pause(recipient);
            if let (true, Some(sender)) = (newly_holding, sender) {
                if let Some(sender_session) = self.sessions.get_mut(sender) {
                    sender_session.flow.waiting_on += 1;
                    self.pause(sender);
                }
            }
        }
        backed_up.clear();
        self.backed_up_scratch = backed_up;
    }

    /// Tells the driver to stop reading a session that is now blocked; its
    /// idle and frame timers stop too, since it cannot be heard meanwhile.
    pub(super) fn pause(&mut self, handle: SessionHandle) {
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        if session.flow.reading_paused {
            return;
        }
        session.flow.reading_paused = true;
        self.stats.paused();
        self.timers.disarm(&mut session.timers, handle, Timer::Idle);
        self.timers
            .disarm(&mut session.timers, handle, Timer::Frame);
        self.outputs.push_back(Output::PauseReading { handle });
    }

    /// The senders a drained or closed session held: each waits on one
    /// session fewer, and those waiting on none are resumed.
    pub(super) fn release_held(&mut self, held: Vec<SessionHandle>) {
        for sender in held {
            let Some(session) = self.sessions.get_mut(sender) else {
                continue;
            };
            session.flow.waiting_on = session.flow.waiting_on.saturating_sub(1);
            if !session.flow.blocked() {
                self.to_resume.push_back(sender);
            }
        }
    }

    /// Closes every session found over the hard cap during this input, and
    /// resumes every session released, in order. Runs at the end of each
    /// public entry point, so no routing happens inside another and no
    /// session disappears in the middle of one.
    pub(super) fn settle(&mut self) {
        loop {
            if let Some(handle) = self.over_cap.pop_front() {
                self.close_over_cap(handle);
            } else if let Some(handle) = self.to_resume.pop_front() {
                self.resume(handle);
            } else {
                self.note_watching();
                return;
            }
        }
    }

    /// Closes a session whose queue passed the hard cap.
    fn close_over_cap(&mut self, handle: SessionHandle) {
        let cap = self.config.max_queued_bytes;
        let message = format!(
            "more than {cap} bytes queued for this session; frames not yet sent were dropped"
        );
        let farewell = encode::bye(CloseReason::SlowConsumer.as_str(), &message);
        self.close_with(handle, CloseReason::SlowConsumer, farewell);
    }

    /// Processes what a session sent while paused; if it is still free
    /// after that, tells the driver to read it again.
    fn resume(&mut self, handle: SessionHandle) {
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        if session.flow.blocked() {
            return;
        }
        self.decode_held(handle);
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        if session.flow.blocked() {
            return;
        }
        if session.flow.reading_paused {
            session.flow.reading_paused = false;
            self.outputs.push_back(Output::ResumeReading { handle });
            if !session.eof {
                self.arm_idle(handle);
            }
            self.update_frame_timer(handle);
        }
        if self.sessions.get(handle).is_some_and(|s| s.eof) {
            self.finish_eof(handle);
        }
    }

    /// A queue emptied or went away; with none left, nothing needs the
    /// write deadline checked.
    pub(super) fn one_queue_fewer(&mut self) {
        self.queued_sessions -= 1;
        if self.queued_sessions == 0 {
            self.next_write_sweep = None;
        }
    }

    /// Starts checking write deadlines, if one is set and no check is due.
    fn start_write_sweep(&mut self) {
        if self.next_write_sweep.is_some() {
            return;
        }
        if let Some(deadline) = self.config.write_deadline {
            self.next_write_sweep = self.now.checked_add(sweep_interval(deadline));
        }
    }

    /// Closes every session whose queue has not moved for the write
    /// deadline, then schedules the next check while any queue remains.
    pub(super) fn sweep_write_deadlines(&mut self) {
        self.next_write_sweep = None;
        let Some(deadline) = self.config.write_deadline else {
            return;
        };
        let now = self.now;
        let stuck: Vec<SessionHandle> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                s.flow.queued > 0 && now.saturating_sub(s.flow.progress_at) >= deadline
            })
            .map(|(handle, _)| handle)
            .collect();
        for handle in stuck {
            let message = format!(
                "nothing sent to this session could be written for {} ms; frames not yet sent were dropped",
                whole_millis(deadline)
            );
            let farewell = encode::bye(CloseReason::SlowConsumer.as_str(), &message);
            self.close_with(handle, CloseReason::SlowConsumer, farewell);
        }
        if self.queued_sessions > 0 {
            self.start_write_sweep();
        }
    }
}

/// How often the write deadline is checked: a quarter of it, so a stuck
/// session is closed between 1 and 1.25 deadlines after its last write.
fn sweep_interval(deadline: Duration) -> Duration {
    (deadline / 4).max(MIN_WRITE_SWEEP)
}

/// The frame for the next recipient: the last one takes it, the others
/// share it. For the common single recipient no reference count is set up.
fn take_or_share(frame: &mut Option<Bytes>, last: bool) -> Bytes {
    let shared = frame
        .as_ref()
        .expect("a frame is taken only by the last recipient");
    if last {
        frame.take().expect("checked just above")
    } else {
        shared.clone()
    }
}

/// A room with at least 1 in `DENSE_ROOM` of all sessions is delivered to
/// by walking the session table rather than by lookups (see
/// `deliver_to_room`); measured with `cargo bench -p tcphub-core --bench
/// route fanout`, this keeps a room's per-recipient cost within a few
/// percent of a broadcast's.
const DENSE_ROOM: usize = 8;

/// Queues `frame` for one recipient: counts it against its queue, notes
/// the queue if it is backed up now, and hands the frame to the driver.
/// Returns true when the queue was empty before.
#[inline]
fn queue_one(
    handle: SessionHandle,
    session: &mut Session,
    frame: Bytes,
    limits: (usize, Duration),
    outputs: &mut Outputs,
    backed_up: &mut Vec<SessionHandle>,
) -> bool {
    let newly_queued = count_queued(handle, session, frame.len(), limits, backed_up);
    outputs.push_back(Output::Transmit { handle, frame });
    newly_queued
}

/// Counts `len` bytes against `session`'s queue, noting it if it is now
/// backed up. Returns whether its queue was empty before.
fn count_queued(
    handle: SessionHandle,
    session: &mut Session,
    len: usize,
    (high, now): (usize, Duration),
    backed_up: &mut Vec<SessionHandle>,
) -> bool {
    let newly_queued = session.flow.queue(len, high, now);
    if session.flow.backed_up {
        backed_up.push(handle);
    }
    newly_queued
}

/// Queues `frame` for each recipient in turn; all but the last share it.
/// Returns how many got it and how many queues were empty before.
#[inline]
fn queue_each<'a>(
    recipients: impl Iterator<Item = (SessionHandle, &'a mut Session)>,
    outputs: &mut Outputs,
    limits: (usize, Duration),
    frame: Bytes,
    backed_up: &mut Vec<SessionHandle>,
) -> (usize, usize) {
    let mut recipients = recipients.peekable();
    let mut frame = Some(frame);
    let mut count = 0;
    let mut newly_queued = 0;
    while let Some((handle, session)) = recipients.next() {
        let frame = take_or_share(&mut frame, recipients.peek().is_none());
        count += 1;
        newly_queued += usize::from(queue_one(
            handle, session, frame, limits, outputs, backed_up,
        ));
    }
    (count, newly_queued)
}

/// Queues `frame` for each of `ids`, counting it against their queues and
/// noting those now backed up. Returns how many got it and how many queues
/// were empty before.
fn queue_for(
    ids: &[SessionHandle],
    sessions: &mut SessionTable,
    outputs: &mut Outputs,
    limits: (usize, Duration),
    frame: Bytes,
    backed_up: &mut Vec<SessionHandle>,
) -> (usize, usize) {
    let mut frame = Some(frame);
    let mut count = 0;
    let mut newly_queued = 0;
    for (i, &handle) in ids.iter().enumerate() {
        // The alias table lists only open sessions; a closed id is skipped.
        let Some(session) = sessions.get_mut(handle) else {
            continue;
        };
        let frame = take_or_share(&mut frame, i + 1 == ids.len());
        count += 1;
        newly_queued += usize::from(queue_one(
            handle, session, frame, limits, outputs, backed_up,
        ));
    }
    (count, newly_queued)
}
