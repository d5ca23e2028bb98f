//! Sessions: one per connection, keyed by a small handle.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::alias::Alias;
use crate::auth::{Identity, PendingAuth};
use crate::decoder::FrameDecoder;
use crate::flow::Flow;
use crate::frame::{json_string, SessionEntry};
use crate::handle::SessionHandle;
use crate::held_input::HeldInput;
use crate::last_will::LastWill;
use crate::limits::SessionLimits;
use crate::presence::AliasWatch;
use crate::room::Room;
use crate::timers::Armed;

/// A read-only view of one open session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo<'a> {
    /// Its handle.
    pub handle: SessionHandle,
    /// Its peer address such as `127.0.0.1:53412`: its id on the wire.
    pub session_id: &'a Arc<str>,
    /// The alias it holds, if any.
    pub alias: Option<&'a Alias>,
    /// The rooms it is in, by name.
    pub rooms: &'a BTreeSet<Room>,
    /// Who it authenticated as, on a hub with authentication on.
    pub identity: Option<&'a str>,
}

impl From<SessionInfo<'_>> for SessionEntry {
    /// The row a session gets in `sessions` replies and host listings.
    fn from(info: SessionInfo<'_>) -> Self {
        SessionEntry {
            session_id: info.session_id.to_string(),
            client_name: info.alias.map(|a| a.to_string()),
            node: None,
        }
    }
}

/// The hub's record of one open session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) session_id: Arc<str>,
    pub(crate) alias: Option<Alias>,
    /// The sender name put in `from` of what this session relays: its alias,
    /// or its peer address before it syncs. Kept encoded, because it is
    /// copied into every relayed frame.
    pub(crate) from_json: Box<[u8]>,
    pub(crate) decoder: FrameDecoder,
    /// Its idle and frame deadlines, as entered in the hub's timers.
    pub(crate) timers: Armed,
    /// What is queued for it, and who is paused on whose account.
    pub(crate) flow: Flow,
    /// Input passed in while the session was paused, decoded when it
    /// resumes. Empty (no allocation) otherwise.
    pub(crate) held: HeldInput,
    /// The peer half-closed: once everything it sent is answered, the
    /// session closes.
    pub(crate) eof: bool,
    /// The rooms it is in.
    pub(crate) rooms: BTreeSet<Room>,
    /// The aliases it watches.
    pub(crate) watch: AliasWatch,
    /// What to send for it if it ends without a clean `bye`.
    pub(crate) last_will: Option<LastWill>,
    /// Its rate limit buckets; `None` when no limit is configured. Boxed:
    /// inline they would make every session 120 bytes larger on a hub
    /// without rate limits, where they are never used.
    pub(crate) limits: Option<Box<SessionLimits>>,
    /// Who it authenticated as, with authentication on; `None` until then.
    pub(crate) identity: Option<Arc<Identity>>,
    /// The `sync` whose credential is being checked.
    pub(crate) auth: Option<Box<PendingAuth>>,
    /// With authentication on and no alias granted yet: when the session
    /// is closed unless one is.
    pub(crate) sign_in_by: Option<std::time::Duration>,
    /// Its requests waiting for replies (at most `max_pending_requests`);
    /// they go with it when it closes.
    pub(crate) requests: Vec<crate::request::PendingRequest>,
}

impl Session {
    fn new(session_id: Arc<str>, max_frame_len: usize) -> Self {
        Session {
            from_json: json_string(&session_id),
            session_id,
            alias: None,
            decoder: FrameDecoder::new(max_frame_len),
            timers: Armed::default(),
            flow: Flow::default(),
            held: HeldInput::default(),
            eof: false,
            rooms: BTreeSet::new(),
            watch: AliasWatch::default(),
            last_will: None,
            limits: None,
            identity: None,
            auth: None,
            sign_in_by: None,
            requests: Vec::new(),
        }
    }

    /// Records the alias the session holds now (or none).
    pub(crate) fn set_alias(&mut self, alias: Option<Alias>) {
        self.from_json = json_string(alias.as_ref().map_or(&*self.session_id, Alias::as_str));
        self.alias = alias;
    }

    pub(crate) fn info(&self, id: SessionHandle) -> SessionInfo<'_> {
        SessionInfo {
            handle: id,
            session_id: &self.session_id,
            alias: self.alias.as_ref(),
            rooms: &self.rooms,
            identity: self.identity.as_ref().map(|i| &*i.name),
        }
    }
}

/// Open sessions in the order they were accepted, with an index by peer.
///
/// Ordered maps rather than hash maps: iteration order decides the order of
/// a broadcast's outputs, and it must be the same on every platform and run.
///
/// Each session is boxed: handles only grow, so every insert lands at the
/// right edge of the map, and a B-tree filled that way leaves its nodes
/// about half full (6 of 11 slots). Unboxed, each session paid for nearly
/// two `Session`s of node space; boxed, it pays for one `Session` and a
/// pointer and a half (see `a_session_stays_small` in the tests below).
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    sessions: BTreeMap<SessionHandle, Box<Session>>,
    by_session_id: BTreeMap<Arc<str>, SessionHandle>,
    last_id: u64,
}

impl SessionTable {
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn contains_session_id(&self, session_id: &str) -> bool {
        self.by_session_id.contains_key(session_id)
    }

    /// Hands out the next handle without opening a session (for a refusal).
    pub(crate) fn next_handle(&mut self) -> SessionHandle {
        self.last_id += 1;
        SessionHandle(self.last_id)
    }

    pub(crate) fn insert(&mut self, id: SessionHandle, session_id: Arc<str>, max_frame_len: usize) {
        self.by_session_id.insert(session_id.clone(), id);
        self.sessions
            .insert(id, Box::new(Session::new(session_id, max_frame_len)));
    }

    pub(crate) fn remove(&mut self, id: SessionHandle) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        self.by_session_id.remove(&session.session_id);
        Some(*session)
    }

    pub(crate) fn get(&self, id: SessionHandle) -> Option<&Session> {
        self.sessions.get(&id).map(|s| &**s)
    }

    pub(crate) fn get_mut(&mut self, id: SessionHandle) -> Option<&mut Session> {
        self.sessions.get_mut(&id).map(|s| &mut **s)
    }

    pub(crate) fn by_session_id(&self, session_id: &str) -> Option<SessionHandle> {
        self.by_session_id.get(session_id).copied()
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = SessionHandle> + '_ {
        self.sessions.keys().copied()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (SessionHandle, &Session)> + '_ {
        self.sessions.iter().map(|(id, s)| (*id, &**s))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (SessionHandle, &mut Session)> + '_ {
        self.sessions.iter_mut().map(|(id, s)| (*id, &mut **s))
    }

    /// Sessions accepted after `after` (all of them for `None`), oldest first.
    pub(crate) fn iter_after(
        &self,
        after: Option<SessionHandle>,
    ) -> impl Iterator<Item = (SessionHandle, &Session)> + '_ {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.sessions
            .range((start, Bound::Unbounded))
            .map(|(id, s)| (*id, &**s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(peers: &[&str]) -> (SessionTable, Vec<SessionHandle>) {
        let mut table = SessionTable::default();
        let ids = peers
            .iter()
            .map(|peer| {
                let id = table.next_handle();
                table.insert(id, Arc::from(*peer), 1024);
                id
            })
            .collect();
        (table, ids)
    }

    #[test]
    fn handles_are_never_reused() {
        let (mut table, ids) = table_with(&["a:1", "b:1"]);
        table.remove(ids[1]);
        let next = table.next_handle();
        assert!(next > ids[1], "{next} after {}", ids[1]);
        assert!(table.get(ids[1]).is_none());
    }

    #[test]
    fn peer_index_follows_inserts_and_removes() {
        let (mut table, ids) = table_with(&["a:1", "b:1", "c:1"]);
        assert_eq!(table.by_session_id("b:1"), Some(ids[1]));
        assert!(table.contains_session_id("c:1"));
        table.remove(ids[1]);
        assert_eq!(table.by_session_id("b:1"), None);
        assert_eq!(table.len(), 2);
        assert!(table.remove(ids[1]).is_none(), "removing twice is a no-op");
    }

    #[test]
    fn iteration_is_in_accept_order() {
        let (table, ids) = table_with(&["z:9", "a:1", "m:5"]);
        assert_eq!(table.ids().collect::<Vec<_>>(), ids);
        let peers: Vec<&str> = table.iter().map(|(_, s)| &*s.session_id).collect();
        assert_eq!(peers, ["z:9", "a:1", "m:5"]);
    }

    #[test]
    fn iteration_after_a_handle_skips_up_to_it() {
        let (mut table, ids) = table_with(&["a:1", "b:1", "c:1", "d:1"]);
        table.remove(ids[1]);
        let after = |from| table.iter_after(from).map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(after(None), [ids[0], ids[2], ids[3]]);
        assert_eq!(
            after(Some(ids[1])),
            [ids[2], ids[3]],
            "a gone handle still works"
        );
        assert!(after(Some(ids[3])).is_empty());
    }

    /// `Session` is paid once per open session, idle or not (issue 15: at
    /// most 3 KiB of the hub's memory per idle connection, all parts
    /// together; docs/benchmarks.md, "Idle connections"). It was 576
    /// bytes, stored unboxed in a map that keeps its nodes half empty;
    /// it is 456 now, boxed. If this fails, put the new field's rarely
    /// used state behind an `Option<Box<..>>` (as `limits` and `auth`)
    /// rather than raise the bound.
    #[test]
    fn a_session_stays_small() {
        const MAX_SESSION: usize = 456;
        let size = std::mem::size_of::<Session>();
        assert!(
            size <= MAX_SESSION,
            "Session grew to {size} bytes (bound {MAX_SESSION})"
        );
    }

    #[test]
    fn sender_name_follows_the_alias() {
        let (mut table, ids) = table_with(&["127.0.0.1:5"]);
        let session = table.get_mut(ids[0]).unwrap();
        assert_eq!(&*session.from_json, br#""127.0.0.1:5""#);
        session.set_alias(Some(Alias::new("客户端").unwrap()));
        assert_eq!(&*session.from_json, "\"客户端\"".as_bytes());
        session.set_alias(None);
        assert_eq!(&*session.from_json, br#""127.0.0.1:5""#);
    }
}
