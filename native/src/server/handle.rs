//! The host program's side of a running server: commands in, events out.

use std::time::Duration;

use tcphub_core::{Event, HubStats, RawValue, ReplyAddress, SessionEntry};
use tokio::sync::{mpsc, oneshot};

use super::busy::BusyClock;
use super::input::{Command, Input, RoomEntry};
use crate::error::CommandError;

/// Sends host commands to the task that owns the hub. Cheap to clone;
/// `Send + Sync`. Commands sent before [`Server::run`](crate::Server::run)
/// wait for it; after the server stopped they fail with
/// [`CommandError::Stopped`].
#[derive(Debug, Clone)]
pub struct HubHandle {
    inputs: mpsc::Sender<Input>,
    busy: BusyClock,
}

impl HubHandle {
    pub(crate) fn new(inputs: mpsc::Sender<Input>, busy: BusyClock) -> Self {
        HubHandle { inputs, busy }
    }

    async fn ask<T>(
        &self,
        command: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, CommandError> {
        let (reply, answer) = oneshot::channel();
        self.inputs
            .send(Input::Command(command(reply)))
            .await
            .map_err(|_| CommandError::Stopped)?;
        answer.await.map_err(|_| CommandError::Stopped)
    }

    /// Sends `message` (any JSON value) from the host to every session.
    /// Returns how many sessions it was queued for.
    pub async fn broadcast(&self, message: Box<RawValue>) -> Result<usize, CommandError> {
        Ok(self
            .ask(|reply| Command::Broadcast { message, reply })
            .await??)
    }

    /// Sends `message` to every session holding `alias`; returns how many.
    /// An alias nobody holds is an error ([`HubError::UnknownAlias`](tcphub_core::HubError::UnknownAlias)).
    pub async fn send_to_alias(
        &self,
        alias: String,
        message: Box<RawValue>,
    ) -> Result<usize, CommandError> {
        Ok(self
            .ask(|reply| Command::SendToAlias {
                alias,
                message,
                reply,
            })
            .await??)
    }

    /// Sends `message` to the session with this id (its peer address, as
    /// in `synced` and `list`).
    pub async fn send_to_session(
        &self,
        session_id: String,
        message: Box<RawValue>,
    ) -> Result<(), CommandError> {
        Ok(self
            .ask(|reply| Command::SendToSession {
                session_id,
                message,
                reply,
            })
            .await??)
    }

    /// Closes the session with this id: what is queued for it is flushed,
    /// then a `bye` (`closed_by_host`), then its connection closes.
    pub async fn close_session(&self, session_id: String) -> Result<(), CommandError> {
        Ok(self
            .ask(|reply| Command::CloseSession { session_id, reply })
            .await??)
    }

    /// Answers a request a client sent the host ([`Event::Request`]) with
    /// `message` (any JSON value): the requester gets it as a `reply` from
    /// `#hub`. A request that no longer waits (answered already, timed
    /// out, its requester gone) or was never the host's is
    /// [`HubError::UnknownRequest`](tcphub_core::HubError::UnknownRequest),
    /// and nothing is sent.
    pub async fn reply(
        &self,
        reply_to: ReplyAddress,
        message: Box<RawValue>,
    ) -> Result<(), CommandError> {
        Ok(self
            .ask(|reply| Command::Reply {
                reply_to,
                message,
                reply,
            })
            .await??)
    }

    /// What the hub has done since it started (counters) and what it holds
    /// now (gauges): the numbers `serve --metrics` publishes. Taken in one
    /// step by the task that owns the hub, so they agree with each other.
    pub async fn stats(&self) -> Result<HubStats, CommandError> {
        self.ask(|reply| Command::Stats { reply }).await
    }

    /// How long the task that owns the hub has spent working (handling
    /// inputs and timers, routing, writing what it queued) rather than
    /// waiting, since it started. Every input of the server goes through
    /// that one task, so its rate of growth, as a fraction of a second
    /// per second, says how near the server is to what one core can do.
    /// Wall time: on a machine short of cores it also counts moments the
    /// OS ran something else mid-turn. Read without asking the task, so it
    /// answers at once even when the task is behind.
    pub fn hub_task_busy(&self) -> Duration {
        self.busy.total()
    }

    /// Every open session, oldest first; empty once the server stopped. In
    /// a cluster, this node's sessions and then the other nodes' (as this
    /// node last heard from the directory), each row naming its `node`.
    pub async fn sessions(&self) -> Vec<SessionEntry> {
        self.ask(|reply| Command::Sessions { reply })
            .await
            .unwrap_or_default()
    }

    /// Puts the session with this id in `room`, as if it had sent `join`:
    /// it is sent a `joined` frame and the room's watchers a `presence`
    /// frame. Returns false when it was a member already. A name that
    /// breaks the room rules is [`HubError::InvalidRoom`](tcphub_core::HubError::InvalidRoom);
    /// one room too many is [`HubError::TooManyRooms`](tcphub_core::HubError::TooManyRooms).
    pub async fn join_room(&self, session_id: String, room: String) -> Result<bool, CommandError> {
        Ok(self
            .ask(|reply| Command::JoinRoom {
                session_id,
                room,
                reply,
            })
            .await??)
    }

    /// Takes the session with this id out of `room`: it is sent a `left`
    /// frame. Returns false when it was not a member.
    pub async fn leave_room(&self, session_id: String, room: String) -> Result<bool, CommandError> {
        Ok(self
            .ask(|reply| Command::LeaveRoom {
                session_id,
                room,
                reply,
            })
            .await??)
    }

    /// Sends `message` from the host to every member of `room`; returns
    /// how many. A room nobody is in is an error
    /// ([`HubError::UnknownRoom`](tcphub_core::HubError::UnknownRoom)).
    pub async fn send_to_room(
        &self,
        room: String,
        message: Box<RawValue>,
    ) -> Result<usize, CommandError> {
        Ok(self
            .ask(|reply| Command::SendToRoom {
                room,
                message,
                reply,
            })
            .await??)
    }

    /// Every room with members, by name, with its member count; empty once
    /// the server stopped. (A room exists while someone is in it.)
    pub async fn rooms(&self) -> Vec<RoomEntry> {
        self.ask(|reply| Command::Rooms { reply })
            .await
            .unwrap_or_default()
    }

    /// The members of `room`, oldest session first; empty for a room
    /// nobody is in, and once the server stopped.
    pub async fn room_members(&self, room: String) -> Vec<SessionEntry> {
        self.ask(|reply| Command::RoomMembers { room, reply })
            .await
            .unwrap_or_default()
    }
}

/// The hub's [`Event`]s, for the host program: connects, syncs, messages
/// and requests for the host (answer an [`Event::Request`] with
/// [`HubHandle::reply`]), room joins and leaves, protocol errors, closes, and with
/// [`HubConfig::observe`](tcphub_core::HubConfig::observe) every message
/// clients relay to each other ([`Event::Relayed`]).
#[derive(Debug)]
pub struct HostEvents {
    events: mpsc::Receiver<Event>,
}

impl HostEvents {
    pub(crate) fn new(events: mpsc::Receiver<Event>) -> Self {
        HostEvents { events }
    }

    /// The next event; `None` once the server has stopped and every event
    /// was read.
    pub async fn recv(&mut self) -> Option<Event> {
        self.events.recv().await
    }

    /// Waits for at least one event, then appends up to `limit` events that
    /// are ready to `buf`. Returns how many were added: 0 only once the
    /// server has stopped (or when `limit` is 0).
    pub async fn recv_many(&mut self, buf: &mut Vec<Event>, limit: usize) -> usize {
        self.events.recv_many(buf, limit).await
    }

    /// The next event if one is ready, without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }
}
