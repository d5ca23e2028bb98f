//! Sessions: one per connection, keyed by a small handle.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alias::Alias;
use crate::decoder::FrameDecoder;
use crate::flow::Flow;
use crate::frame::json_string;
use crate::handle::SessionId;
use crate::timers::Armed;

/// A read-only view of one open session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionInfo<'a> {
    /// Its handle.
    pub id: SessionId,
    /// Its peer address such as `127.0.0.1:53412`: its id on the wire.
    pub peer: &'a Arc<str>,
    /// The alias it holds, if any.
    pub alias: Option<&'a Alias>,
}

/// The hub's record of one open session.
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) peer: Arc<str>,
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
    pub(crate) pending: Vec<u8>,
    /// The peer half-closed: once everything it sent is answered, the
    /// session closes.
    pub(crate) eof: bool,
}

impl Session {
    fn new(peer: Arc<str>, max_frame_len: usize) -> Self {
        Session {
            from_json: json_string(&peer),
            peer,
            alias: None,
            decoder: FrameDecoder::new(max_frame_len),
            timers: Armed::default(),
            flow: Flow::default(),
            pending: Vec::new(),
            eof: false,
        }
    }

    /// Records the alias the session holds now (or none).
    pub(crate) fn set_alias(&mut self, alias: Option<Alias>) {
        self.from_json = json_string(alias.as_ref().map_or(&*self.peer, Alias::as_str));
        self.alias = alias;
    }

    pub(crate) fn info(&self, id: SessionId) -> SessionInfo<'_> {
        SessionInfo {
            id,
            peer: &self.peer,
            alias: self.alias.as_ref(),
        }
    }
}

/// Open sessions in the order they were accepted, with an index by peer.
///
/// Ordered maps rather than hash maps: iteration order decides the order of
/// a broadcast's outputs, and it must be the same on every platform and run.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    sessions: BTreeMap<SessionId, Session>,
    by_peer: BTreeMap<Arc<str>, SessionId>,
    last_id: u64,
}

impl SessionTable {
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    pub(crate) fn contains_peer(&self, peer: &str) -> bool {
        self.by_peer.contains_key(peer)
    }

    /// Hands out the next handle without opening a session (for a refusal).
    pub(crate) fn next_id(&mut self) -> SessionId {
        self.last_id += 1;
        SessionId(self.last_id)
    }

    pub(crate) fn insert(&mut self, id: SessionId, peer: Arc<str>, max_frame_len: usize) {
        self.by_peer.insert(peer.clone(), id);
        self.sessions.insert(id, Session::new(peer, max_frame_len));
    }

    pub(crate) fn remove(&mut self, id: SessionId) -> Option<Session> {
        let session = self.sessions.remove(&id)?;
        self.by_peer.remove(&session.peer);
        Some(session)
    }

    pub(crate) fn get(&self, id: SessionId) -> Option<&Session> {
        self.sessions.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: SessionId) -> Option<&mut Session> {
        self.sessions.get_mut(&id)
    }

    pub(crate) fn by_peer(&self, peer: &str) -> Option<SessionId> {
        self.by_peer.get(peer).copied()
    }

    pub(crate) fn ids(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.sessions.keys().copied()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (SessionId, &Session)> + '_ {
        self.sessions.iter().map(|(id, s)| (*id, s))
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = (SessionId, &mut Session)> + '_ {
        self.sessions.iter_mut().map(|(id, s)| (*id, s))
    }

    /// Sessions accepted after `after` (all of them for `None`), oldest first.
    pub(crate) fn iter_after(
        &self,
        after: Option<SessionId>,
    ) -> impl Iterator<Item = (SessionId, &Session)> + '_ {
        use std::ops::Bound;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.sessions
            .range((start, Bound::Unbounded))
            .map(|(id, s)| (*id, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table_with(peers: &[&str]) -> (SessionTable, Vec<SessionId>) {
        let mut table = SessionTable::default();
        let ids = peers
            .iter()
            .map(|peer| {
                let id = table.next_id();
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
        let next = table.next_id();
        assert!(next > ids[1], "{next} after {}", ids[1]);
        assert!(table.get(ids[1]).is_none());
    }

    #[test]
    fn peer_index_follows_inserts_and_removes() {
        let (mut table, ids) = table_with(&["a:1", "b:1", "c:1"]);
        assert_eq!(table.by_peer("b:1"), Some(ids[1]));
        assert!(table.contains_peer("c:1"));
        table.remove(ids[1]);
        assert_eq!(table.by_peer("b:1"), None);
        assert_eq!(table.len(), 2);
        assert!(table.remove(ids[1]).is_none(), "removing twice is a no-op");
    }

    #[test]
    fn iteration_is_in_accept_order() {
        let (table, ids) = table_with(&["z:9", "a:1", "m:5"]);
        assert_eq!(table.ids().collect::<Vec<_>>(), ids);
        let peers: Vec<&str> = table.iter().map(|(_, s)| &*s.peer).collect();
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
