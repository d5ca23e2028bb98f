//! Pacing clients to the cluster's backplane: what a node must carry to
//! other nodes (a relay to a remote alias, a broadcast, a claim) goes out
//! through its driver, and a driver whose link is slow or down must not
//! have to choose between an unbounded queue and dropping frames.
//!
//! The driver says when its queue towards the other nodes passes its
//! bound and when it has drained ([`Hub::handle_backplane_backlog`]).
//! Meanwhile every session whose frame gave the backplane anything to
//! carry is paused after that frame, exactly as a sender to a backed-up
//! recipient is, and resumes once the backlog drains. So what a driver
//! holds beyond its bound is one frame's worth per session, and senders
//! whose messages stay on this node are not slowed at all. It is the same
//! mechanism as pacing to an observing host (`hub::host_pace`). The host
//! itself cannot be paused: its messages for other nodes are refused with
//! [`HubError::BackplaneBehind`] meanwhile.

use super::Hub;
use crate::error::HubError;
use crate::handle::SessionHandle;

impl Hub {
    /// The driver's queue towards the other nodes passed its bound
    /// (`true`), or drained (`false`). Refused outside a cluster.
    pub fn handle_backplane_backlog(&mut self, behind: bool) -> Result<(), HubError> {
        let Some(cluster) = &mut self.cluster else {
            return Err(HubError::NotInCluster);
        };
        if behind == cluster.behind {
            return Ok(());
        }
        cluster.behind = behind;
        if !behind {
            let held = std::mem::take(&mut cluster.holding);
            for &handle in &held {
                if let Some(session) = self.sessions.get_mut(handle) {
                    session.flow.held_by_backplane = false;
                }
            }
            self.release_held(held);
            self.settle();
        }
        Ok(())
    }

    /// Whether the driver last said its backplane queue is over its bound.
    pub fn is_backplane_behind(&self) -> bool {
        self.cluster.as_ref().is_some_and(|c| c.behind)
    }

    /// A host message that must cross (`crosses`) while the backplane is
    /// behind is refused whole: the host cannot be paused like a client,
    /// and a driver past its bound would have to drop it.
    pub(super) fn refuse_if_backplane_behind(&self, crosses: bool) -> Result<(), HubError> {
        if crosses && self.is_backplane_behind() {
            return Err(HubError::BackplaneBehind);
        }
        Ok(())
    }

    /// After a frame of `handle` gave the backplane something to carry:
    /// while the backplane is behind, the session waits for it.
    pub(super) fn pace_to_backplane(&mut self, handle: SessionHandle) {
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        if !cluster.behind {
            return;
        }
        let Some(session) = self.sessions.get_mut(handle) else {
            return;
        };
        if session.flow.held_by_backplane {
            return;
        }
        session.flow.held_by_backplane = true;
        session.flow.waiting_on += 1;
        cluster.holding.push(handle);
        self.pause(handle);
    }

    /// How many cluster outputs wait for the driver: a frame that adds to
    /// it gave the backplane something to carry.
    pub(super) fn cluster_outputs_len(&self) -> usize {
        self.cluster.as_ref().map_or(0, |c| c.outputs.len())
    }

    /// Forgets a closed session among those waiting for the backplane.
    pub(super) fn forget_backplane_hold(&mut self, handle: SessionHandle) {
        if let Some(cluster) = &mut self.cluster {
            cluster.holding.retain(|&h| h != handle);
        }
    }
}
