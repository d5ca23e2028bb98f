//! The reader: follows the directory stream, this node's inbox and `all`
//! with `XREAD BLOCK`, from the last id it processed, and feeds what it
//! reads to the core. A node that loses Redis for a while resumes from
//! those ids, so what was sent to it meanwhile arrives after all (as long
//! as the streams still hold it: see `STREAM_MAXLEN`); the directory is
//! read again whole (a snapshot) and fed as the changes since.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Client, RedisResult, Value};
use tcphub_core::{ClusterInput, NodeId};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::codec::{bytes_of, xread_reply, DirectoryEntry, Fields, FramesEntry, InboxEntry};
use super::connect::{self, Backoff};
use super::holdings::{SharedHoldings, TakenOver};
use super::link::Reassert;
use super::replica::{ReplicaMirror, Snapshot};
use super::scripts::{evalsha, Scripts};
use super::Shared;

/// How long one `XREAD` blocks when nothing comes.
const BLOCK: Duration = Duration::from_secs(5);
/// Most entries per stream in one `XREAD`. An entry of frames holds up
/// to 8 KiB and one more frame (the link's `ENTRY_BYTES`), so this bounds
/// what one reply holds: about 3 × 256 × (8 KiB + the largest frame).
const COUNT: usize = 256;

/// The last id processed in each stream.
#[derive(Debug, Clone)]
pub(crate) struct Positions {
    pub(crate) directory: String,
    pub(crate) inbox: String,
    pub(crate) all: String,
}

/// Which stream an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Stream {
    Directory,
    Inbox,
    All,
}

/// The hub task is gone: nothing more to feed.
#[derive(Debug)]
struct HubGone;

#[derive(Debug)]
pub(crate) struct Reader {
    shared: Arc<Shared>,
    client: Client,
    scripts: Scripts,
    inputs: mpsc::Sender<ClusterInput>,
    holdings: SharedHoldings,
    reassert: Arc<Reassert>,
    mirror: ReplicaMirror,
    positions: Positions,
    /// Nodes the last resync did not find, with when to decide they are
    /// gone (see `judge_missing`).
    probation: BTreeMap<NodeId, Instant>,
    /// The last sequence number read per stream and origin, to drop a
    /// frame a retried batch wrote twice.
    seen: HashMap<(Stream, String), u64>,
}

impl Reader {
    pub(crate) fn new(
        shared: Arc<Shared>,
        client: Client,
        inputs: mpsc::Sender<ClusterInput>,
        holdings: SharedHoldings,
        reassert: Arc<Reassert>,
        mirror: ReplicaMirror,
        positions: Positions,
    ) -> Self {
        Reader {
            shared,
            client,
            scripts: Scripts::new(),
            inputs,
            holdings,
            reassert,
            mirror,
            positions,
            probation: BTreeMap::new(),
            seen: HashMap::new(),
        }
    }

    /// Runs until the hub task is gone.
    pub(crate) async fn run(mut self) {
        let mut backoff = Backoff::new();
        // The first connection goes on from the snapshot taken at start.
        let mut resync = false;
        loop {
            let result = self.connected(resync, &mut backoff).await;
            match result {
                Ok(Err(HubGone)) => return,
                Ok(Ok(())) => {}
                Err(e) => {
                    if backoff.failures == 0 {
                        warn!(url = %self.shared.url, error = %e,
                            "cluster: lost Redis; will read on from where this node stopped");
                    } else {
                        debug!(error = %e, "cluster: Redis still unreachable for the reader");
                    }
                    backoff.wait().await;
                }
            }
            resync = true;
        }
    }

    /// One connection's life: catch up with the directory, then read.
    async fn connected(
        &mut self,
        resync: bool,
        backoff: &mut Backoff,
    ) -> RedisResult<Result<(), HubGone>> {
        let mut conn = connect::open(&self.client, BLOCK).await?;
        if resync {
            if let Err(HubGone) = self.resync(&mut conn).await? {
                return Ok(Err(HubGone));
            }
            info!(url = %self.shared.url, "cluster: reading from Redis again");
            // Redis may have restarted empty, and the link, idle, may not
            // have noticed: have it re-assert what this node holds.
            self.reassert.request();
        }
        backoff.reset();
        loop {
            let reply: Value = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(COUNT)
                .arg("BLOCK")
                .arg(BLOCK.as_millis() as u64)
                .arg("STREAMS")
                .arg(self.shared.keys.directory())
                .arg(self.shared.keys.inbox(self.shared.keys.node()))
                .arg(self.shared.keys.all())
                .arg(&self.positions.directory)
                .arg(&self.positions.inbox)
                .arg(&self.positions.all)
                .query_async(&mut conn)
                .await?;
            if let Err(HubGone) = self.process(&reply).await {
                return Ok(Err(HubGone));
            }
            if let Err(HubGone) = self.judge_missing(&mut conn).await? {
                return Ok(Err(HubGone));
            }
        }
    }

    /// Reads the whole directory again and feeds the core what changed.
    async fn resync(
        &mut self,
        conn: &mut MultiplexedConnection,
    ) -> RedisResult<Result<(), HubGone>> {
        self.scripts.load(conn).await?;
        let mut cmd = evalsha(&self.scripts.snapshot);
        cmd.arg(&self.shared.keys.prefix)
            .arg(self.shared.keys.node().as_str());
        let reply: Value = cmd.query_async(conn).await?;
        let Some(snapshot) = Snapshot::parse(&reply, self.shared.keys.node()) else {
            warn!(reply = ?reply, "cluster: the directory snapshot has an unexpected shape; reading on");
            return Ok(Ok(()));
        };
        self.positions.directory = snapshot.directory_id;
        for (key, position) in [
            (
                self.shared.keys.inbox(self.shared.keys.node()),
                &self.positions.inbox,
            ),
            (self.shared.keys.all(), &self.positions.all),
        ] {
            report_gap(conn, &key, position).await;
        }
        let (inputs, missing) = self.mirror.resync(snapshot.nodes);
        let deadline = Instant::now() + self.shared.lease;
        for node in missing {
            self.probation.entry(node).or_insert(deadline);
        }
        for input in inputs {
            if self.inputs.send(input).await.is_err() {
                return Ok(Err(HubGone));
            }
        }
        Ok(Ok(()))
    }

    /// Nodes a resync did not find, a lease later: one whose lease is held
    /// again is alive (it just had nothing to re-assert); one without is
    /// gone, and the core is told, as the reaper would have.
    async fn judge_missing(
        &mut self,
        conn: &mut MultiplexedConnection,
    ) -> RedisResult<Result<(), HubGone>> {
        let now = Instant::now();
        let due: Vec<NodeId> = self
            .probation
            .iter()
            .filter(|(_, deadline)| **deadline <= now)
            .map(|(node, _)| node.clone())
            .collect();
        for node in due {
            self.probation.remove(&node);
            let alive: bool = redis::cmd("EXISTS")
                .arg(format!("{}node:{node}", self.shared.keys.prefix))
                .query_async(conn)
                .await?;
            if !alive {
                info!(node = %node, "cluster: a node missing since Redis came back is gone");
                let input = self.mirror.forget(&node);
                if self.inputs.send(input).await.is_err() {
                    return Ok(Err(HubGone));
                }
            }
        }
        Ok(Ok(()))
    }

    /// Feeds the core what one `XREAD` brought: directory changes first,
    /// so frames that follow find the replica up to date.
    async fn process(&mut self, reply: &Value) -> Result<(), HubGone> {
        let Some(streams) = xread_reply(reply) else {
            warn!(reply = ?reply, "cluster: an XREAD reply of unexpected shape; skipped");
            return Ok(());
        };
        let keys = &self.shared.keys;
        let (directory, inbox) = (keys.directory(), keys.inbox(keys.node()));
        let mut streams: Vec<(Stream, Vec<(String, &Value)>)> = streams
            .into_iter()
            .map(|(name, entries)| {
                let stream = if name == directory {
                    Stream::Directory
                } else if name == inbox {
                    Stream::Inbox
                } else {
                    Stream::All
                };
                let entries = entries
                    .into_iter()
                    .map(|(id, v)| (id.to_owned(), v))
                    .collect();
                (stream, entries)
            })
            .collect();
        streams.sort_by_key(|(stream, _)| *stream as u8);
        for (stream, entries) in streams {
            for (id, fields) in entries {
                let inputs = match Fields::parse(fields) {
                    Ok(fields) => self.entry(stream, &fields),
                    Err(e) => Err(e),
                };
                match inputs {
                    Ok(inputs) => {
                        for input in inputs {
                            self.inputs.send(input).await.map_err(|_| HubGone)?;
                        }
                    }
                    Err(e) => warn!(stream = ?stream, id = %id, error = %e,
                        "cluster: skipping a malformed stream entry"),
                }
                match stream {
                    Stream::Directory => self.positions.directory = id,
                    Stream::Inbox => self.positions.inbox = id,
                    Stream::All => self.positions.all = id,
                }
            }
        }
        Ok(())
    }

    /// What one entry means for the core, in order (nothing, one input, or
    /// one per frame of the entry).
    fn entry(
        &mut self,
        stream: Stream,
        fields: &Fields<'_>,
    ) -> Result<Vec<ClusterInput>, super::codec::Malformed> {
        let me = self.shared.keys.node();
        if stream == Stream::Directory {
            let entry = fields.directory_entry()?;
            let about = match &entry {
                DirectoryEntry::NodeGone(node) => node,
                DirectoryEntry::Change(change) => change.node(),
            };
            if about == me {
                if let DirectoryEntry::NodeGone(_) = entry {
                    // Reaped while away: the directory forgot this node.
                    warn!(node = %me, "cluster: this node's lease ran out and it was reaped; re-asserting what it holds");
                    self.reassert.request();
                }
                return Ok(Vec::new());
            }
            self.probation.remove(about);
            self.mirror.apply(&entry);
            return Ok(vec![match entry {
                DirectoryEntry::NodeGone(node) => {
                    info!(node = %node, "cluster: a node is gone");
                    self.seen
                        .retain(|(_, origin), _| origin.split('.').next() != Some(node.as_str()));
                    ClusterInput::NodeGone(node)
                }
                DirectoryEntry::Change(change) => ClusterInput::Directory(change),
            }]);
        }
        match fields.inbox_entry()? {
            InboxEntry::TakenOver { alias, session_id } if stream == Stream::Inbox => {
                let session_id: Arc<str> = session_id.into();
                match self.holdings.lock().taken_over(&session_id, &alias) {
                    TakenOver::Now => Ok(vec![ClusterInput::TakenOver { alias, session_id }]),
                    TakenOver::Deferred => Ok(Vec::new()),
                }
            }
            InboxEntry::TakenOver { .. } => Err(super::codec::Malformed::Kind("x".into())),
            InboxEntry::Frames(frames) => Ok(self.frames(stream, frames)),
        }
    }

    fn frames(&mut self, stream: Stream, entry: FramesEntry) -> Vec<ClusterInput> {
        if stream == Stream::All && entry.origin_node() == self.shared.keys.node().as_str() {
            return Vec::new();
        }
        let last = self.seen.entry((stream, entry.origin.clone())).or_insert(0);
        if entry.seq <= *last {
            debug!(origin = %entry.origin, seq = entry.seq, frames = entry.envelopes.len(),
                "cluster: dropping an entry read twice");
            return Vec::new();
        }
        *last = entry.seq;
        entry
            .envelopes
            .into_iter()
            .map(ClusterInput::Deliver)
            .collect()
    }
}

/// Says so in the log when a stream was trimmed past what this node had
/// read while it was away: those frames are lost (`STREAM_MAXLEN` bounds
/// the outage a node survives whole).
async fn report_gap(conn: &mut MultiplexedConnection, key: &str, position: &str) {
    // A stream that does not exist (nothing sent yet, or a restarted
    // Redis) has no gap to report.
    let Ok(Value::Array(info)) = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query_async::<Value>(conn)
        .await
    else {
        return;
    };
    let deleted = info
        .chunks(2)
        .find(|pair| bytes_of(&pair[0]) == Some(b"max-deleted-entry-id".as_slice()))
        .and_then(|pair| bytes_of(&pair[1]))
        .and_then(|id| std::str::from_utf8(id).ok())
        .and_then(stream_id);
    if let (Some(deleted), Some(read)) = (deleted, stream_id(position)) {
        if deleted > read {
            warn!(
                stream = key,
                last_read = position,
                "cluster: the stream was trimmed past what this node had read while Redis was \
                 away; frames sent to it meanwhile are lost"
            );
        }
    }
}

/// A stream id `MS-SEQ` as a pair that orders as Redis orders ids.
fn stream_id(text: &str) -> Option<(u64, u64)> {
    let (ms, seq) = text.split_once('-').unwrap_or((text, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::stream_id;

    #[test]
    fn stream_ids_order_as_redis_orders_them() {
        assert!(stream_id("10-2") > stream_id("9-99"));
        assert!(stream_id("10-10") > stream_id("10-9"));
        assert_eq!(stream_id("0-0"), Some((0, 0)));
        assert_eq!(stream_id("x-1"), None);
    }
}
