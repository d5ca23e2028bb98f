//! The reader's record of what it has told the core about other nodes, so
//! a snapshot taken after a reconnect can be fed as the changes that bring
//! the core's replica up to date (whatever the directory stream lost
//! meanwhile: trimmed entries, or everything, when Redis restarted empty).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use redis::Value;
use tcphub_core::{node_of, Alias, ClusterInput, DirectoryChange, NodeId, Room};
use tracing::warn;

use super::codec::{bytes_of, node_id, DirectoryEntry};
use super::keys::unhex;

/// What one node holds.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct NodeHoldings {
    pub(crate) aliases: BTreeSet<Alias>,
    pub(crate) rooms: BTreeSet<Room>,
    /// Its sessions and the alias each holds, for `list`.
    pub(crate) sessions: BTreeMap<Arc<str>, Option<Alias>>,
    /// Whether it has presence watchers.
    pub(crate) watching: bool,
}

/// The snapshot script's answer.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    /// Where the directory stream was when the snapshot was taken.
    pub(crate) directory_id: String,
    /// The last entry of this node's inbox, and of `all`.
    pub(crate) inbox_id: String,
    pub(crate) all_id: String,
    pub(crate) nodes: BTreeMap<NodeId, NodeHoldings>,
}

impl Snapshot {
    /// Reads the snapshot script's reply; `None` when it has not the shape
    /// the script gives. A name that fails validation is logged and left
    /// out, as a malformed stream entry is.
    pub(crate) fn parse(value: &Value, me: &NodeId) -> Option<Snapshot> {
        let Value::Array(items) = value else {
            return None;
        };
        let text =
            |v: &Value| bytes_of(v).and_then(|b| std::str::from_utf8(b).ok().map(str::to_owned));
        let mut snapshot = Snapshot {
            directory_id: text(items.first()?)?,
            inbox_id: text(items.get(1)?)?,
            all_id: text(items.get(2)?)?,
            nodes: BTreeMap::new(),
        };
        for node in &items[3..] {
            let Value::Array(parts) = node else {
                return None;
            };
            let [id, Value::Array(aliases), Value::Array(rooms), Value::Array(rows), Value::Int(watching)] =
                &parts[..]
            else {
                return None;
            };
            let id = match node_id(&text(id)?, "node") {
                Ok(id) => id,
                Err(e) => {
                    warn!(error = %e, "cluster: skipping a malformed node in the directory");
                    continue;
                }
            };
            if id == *me {
                continue;
            }
            let names = |values: &[Value]| -> Vec<String> {
                values
                    .iter()
                    .filter_map(|v| {
                        let name = bytes_of(v).and_then(unhex);
                        if name.is_none() {
                            warn!(node = %id, "cluster: skipping a name in the directory that is not hex of UTF-8");
                        }
                        name
                    })
                    .collect()
            };
            let holdings = NodeHoldings {
                aliases: names(aliases)
                    .iter()
                    .filter_map(|n| valid(Alias::new(n), n))
                    .collect(),
                rooms: names(rooms)
                    .iter()
                    .filter_map(|n| valid(Room::new(n), n))
                    .collect(),
                sessions: rows
                    .chunks(2)
                    .filter_map(|row| session_row(row, &id))
                    .collect(),
                watching: *watching == 1,
            };
            snapshot.nodes.insert(id, holdings);
        }
        Some(snapshot)
    }
}

/// One `rows:` entry (session id, alias or `""`), checked; a bad one is
/// logged and left out.
fn session_row(row: &[Value], node: &NodeId) -> Option<(Arc<str>, Option<Alias>)> {
    fn text(v: Option<&Value>) -> Option<&str> {
        bytes_of(v?).and_then(|b| std::str::from_utf8(b).ok())
    }
    let (Some(id), Some(alias)) = (text(row.first()), text(row.get(1))) else {
        warn!(node = %node, "cluster: skipping a session row in the directory that is not text");
        return None;
    };
    if node_of(id).is_none() {
        warn!(node = %node, session = id, "cluster: skipping a session row with a malformed id");
        return None;
    }
    let alias = match alias {
        "" => None,
        name => Some(valid(Alias::new(name), name)?),
    };
    Some((id.into(), alias))
}

fn valid<T>(name: Result<T, tcphub_core::PeerError>, text: &str) -> Option<T> {
    name.map_err(
        |e| warn!(name = text, error = %e, "cluster: skipping an invalid name in the directory"),
    )
    .ok()
}

/// What the core's replica was told, per other node.
#[derive(Debug, Default)]
pub(crate) struct ReplicaMirror {
    nodes: BTreeMap<NodeId, NodeHoldings>,
}

impl ReplicaMirror {
    /// Records an entry about another node, as it is fed to the core.
    pub(crate) fn apply(&mut self, entry: &DirectoryEntry) {
        let change = match entry {
            DirectoryEntry::NodeGone(node) => {
                self.nodes.remove(node);
                return;
            }
            DirectoryEntry::Change(change) => change,
        };
        let h = self.nodes.entry(change.node().clone()).or_default();
        match change {
            DirectoryChange::AliasHeld { alias, .. } => {
                h.aliases.insert(alias.clone());
            }
            DirectoryChange::AliasReleased { alias, .. } => {
                h.aliases.remove(alias);
            }
            DirectoryChange::RoomJoined { room, .. } => {
                h.rooms.insert(room.clone());
            }
            DirectoryChange::RoomLeft { room, .. } => {
                h.rooms.remove(room);
            }
            DirectoryChange::Session {
                session_id, alias, ..
            } => {
                h.sessions.insert(session_id.clone(), alias.clone());
            }
            DirectoryChange::SessionClosed { session_id, .. } => {
                h.sessions.remove(session_id);
            }
            DirectoryChange::Watching { watching, .. } => h.watching = *watching,
        }
    }

    /// The inputs that turn what the core was told into `snapshot`, which
    /// becomes the record, and the nodes the core knows that the snapshot
    /// lacks. Those are kept as they were: after a Redis restart a live
    /// node is missing until it re-asserts itself, and frames for it, in
    /// its inbox meanwhile, still reach it. The caller declares them gone
    /// ([`forget`](Self::forget)) if they do not come back.
    pub(crate) fn resync(
        &mut self,
        mut snapshot: BTreeMap<NodeId, NodeHoldings>,
    ) -> (Vec<ClusterInput>, Vec<NodeId>) {
        let mut inputs = Vec::new();
        let mut missing = Vec::new();
        for (node, holdings) in &self.nodes {
            if !snapshot.contains_key(node) {
                missing.push(node.clone());
                snapshot.insert(node.clone(), holdings.clone());
            }
        }
        let empty = NodeHoldings::default();
        for (node, now) in &snapshot {
            let was = self.nodes.get(node).unwrap_or(&empty);
            let change = |c| ClusterInput::Directory(c);
            for alias in was.aliases.difference(&now.aliases) {
                inputs.push(change(DirectoryChange::AliasReleased {
                    node: node.clone(),
                    alias: alias.clone(),
                }));
            }
            for room in was.rooms.difference(&now.rooms) {
                inputs.push(change(DirectoryChange::RoomLeft {
                    node: node.clone(),
                    room: room.clone(),
                }));
            }
            for alias in now.aliases.difference(&was.aliases) {
                inputs.push(change(DirectoryChange::AliasHeld {
                    node: node.clone(),
                    alias: alias.clone(),
                }));
            }
            for room in now.rooms.difference(&was.rooms) {
                inputs.push(change(DirectoryChange::RoomJoined {
                    node: node.clone(),
                    room: room.clone(),
                }));
            }
            for session_id in was.sessions.keys() {
                if !now.sessions.contains_key(session_id) {
                    inputs.push(change(DirectoryChange::SessionClosed {
                        node: node.clone(),
                        session_id: session_id.clone(),
                    }));
                }
            }
            for (session_id, alias) in &now.sessions {
                if was.sessions.get(session_id) != Some(alias) {
                    inputs.push(change(DirectoryChange::Session {
                        node: node.clone(),
                        session_id: session_id.clone(),
                        alias: alias.clone(),
                    }));
                }
            }
            if was.watching != now.watching {
                inputs.push(change(DirectoryChange::Watching {
                    node: node.clone(),
                    watching: now.watching,
                }));
            }
        }
        self.nodes = snapshot;
        (inputs, missing)
    }

    /// A node that did not come back: the core forgets it.
    pub(crate) fn forget(&mut self, node: &NodeId) -> ClusterInput {
        self.nodes.remove(node);
        ClusterInput::NodeGone(node.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str) -> NodeId {
        NodeId::new(id).unwrap()
    }

    fn holding(aliases: &[&str], rooms: &[&str]) -> NodeHoldings {
        NodeHoldings {
            aliases: aliases.iter().map(|a| Alias::new(a).unwrap()).collect(),
            rooms: rooms.iter().map(|r| Room::new(r).unwrap()).collect(),
            ..NodeHoldings::default()
        }
    }

    #[test]
    fn a_resync_feeds_only_the_differences() {
        let mut mirror = ReplicaMirror::default();
        let first = BTreeMap::from([
            (n("n2"), holding(&["A", "B"], &["lobby"])),
            (n("n3"), holding(&["C"], &[])),
        ]);
        assert_eq!(mirror.resync(first.clone()).0.len(), 4);
        assert_eq!(mirror.resync(first).0.len(), 0);
        let second = BTreeMap::from([(n("n2"), holding(&["B", "D"], &[]))]);
        let (inputs, missing) = mirror.resync(second);
        assert_eq!(missing, [n("n3")], "kept, for the caller to decide");
        assert_eq!(mirror.forget(&n("n3")), ClusterInput::NodeGone(n("n3")));
        assert_eq!(
            inputs,
            [
                ClusterInput::Directory(DirectoryChange::AliasReleased {
                    node: n("n2"),
                    alias: Alias::new("A").unwrap()
                }),
                ClusterInput::Directory(DirectoryChange::RoomLeft {
                    node: n("n2"),
                    room: Room::new("lobby").unwrap()
                }),
                ClusterInput::Directory(DirectoryChange::AliasHeld {
                    node: n("n2"),
                    alias: Alias::new("D").unwrap()
                }),
            ]
        );
    }

    #[test]
    fn a_snapshot_with_bad_names_keeps_the_good_ones() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let empty = || Value::Array(vec![]);
        let reply = Value::Array(vec![
            bulk("5-0"),
            bulk("0-0"),
            bulk("7-1"),
            Value::Array(vec![
                bulk("n2"),
                Value::Array(vec![bulk("41"), bulk("zz"), bulk("2a")]),
                empty(),
                Value::Array(vec![
                    bulk("n2/1.2.3.4:5"),
                    bulk("A"),
                    bulk("nonode"),
                    bulk(""),
                ]),
                Value::Int(1),
            ]),
            Value::Array(vec![
                bulk("n1"),
                Value::Array(vec![bulk("42")]),
                empty(),
                empty(),
                Value::Int(0),
            ]),
            Value::Array(vec![
                bulk("bad/node"),
                empty(),
                empty(),
                empty(),
                Value::Int(0),
            ]),
        ]);
        let snapshot = Snapshot::parse(&reply, &n("n1")).unwrap();
        assert_eq!(snapshot.directory_id, "5-0");
        assert_eq!(snapshot.all_id, "7-1");
        // "2a" is `*`, not an alias; "zz" is not hex; "nonode" names no
        // node; n1 is this node.
        let mut expected = holding(&["A"], &[]);
        expected
            .sessions
            .insert("n2/1.2.3.4:5".into(), Some(Alias::new("A").unwrap()));
        expected.watching = true;
        assert_eq!(snapshot.nodes, BTreeMap::from([(n("n2"), expected)]));
        assert!(Snapshot::parse(&Value::Int(1), &n("n1")).is_none());
    }
}
