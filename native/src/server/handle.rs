//! The host program's side of a running server: commands in, events out.

use tcphub_core::{Event, RawValue, SessionEntry};
use tokio::sync::{mpsc, oneshot};

use super::input::{Command, Input};
use crate::error::CommandError;

/// Sends host commands to the task that owns the hub. Cheap to clone;
/// `Send + Sync`. Commands sent before [`Server::run`](crate::Server::run)
/// wait for it; after the server stopped they fail with
/// [`CommandError::Stopped`].
#[derive(Debug, Clone)]
pub struct HubHandle {
    inputs: mpsc::Sender<Input>,
}

impl HubHandle {
    pub(crate) fn new(inputs: mpsc::Sender<Input>) -> Self {
        HubHandle { inputs }
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

    /// Every open session, oldest first; empty once the server stopped.
    pub async fn sessions(&self) -> Vec<SessionEntry> {
        self.ask(|reply| Command::Sessions { reply })
            .await
            .unwrap_or_default()
    }
}

/// The hub's [`Event`]s, for the host program: connects, syncs, messages
/// for the host, protocol errors, closes.
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
