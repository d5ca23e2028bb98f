//! `tcphub serve --cluster`: several nodes act as one hub over Redis.
//!
//! The core decides everything (docs/design/cluster.md); this module only
//! carries its [`ClusterOutput`](tcphub_core::ClusterOutput)s to Redis and
//! feeds what comes back as [`ClusterInput`]s:
//!
//! ```text
//!  hub task ──outputs──▶ Outbox ──▶ link ──pipelines──▶ Redis (scripts, XADD)
//!     ▲                                │ ClaimSettled
//!     └────────inputs──────────────────┤
//!                                      └◀── reader ◀──XREAD BLOCK── directory, inbox:{node}, all
//!                    lease: SET node:{id} PX every lease/3, reaper script every lease/2
//! ```
//!
//! One task each for the link (outputs, in order; reconnect and
//! re-assert), the reader (streams, from the last id read) and the lease,
//! each with its own connection, since a blocked `XREAD` holds its own.

mod codec;
mod connect;
mod holdings;
mod keys;
mod lease;
mod link;
mod node_id;
mod outbox;
mod reader;
mod replica;
mod scripts;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{Client, RedisResult, Value};
use tcphub_core::{AliasPolicy, ClusterInput, ClusterOutput, Hub, NodeId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::error::ServeError;
use holdings::SharedHoldings;
use keys::Keys;
use link::{Link, Reassert};
use outbox::Outbox;
use reader::{Positions, Reader};
use replica::{ReplicaMirror, Snapshot};
use scripts::{evalsha, Scripts};

pub use node_id::default_node_id;

/// How long a node's lease lasts unless `--cluster-lease` says otherwise:
/// a node killed without warning holds its aliases this long at most.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
/// The shortest lease: it is refreshed every third of it.
pub const MIN_LEASE: Duration = Duration::from_millis(300);
/// The longest lease.
pub const MAX_LEASE: Duration = Duration::from_secs(3600);
/// The cluster's name unless told otherwise: keys live under
/// `tcphub:{NAME}:`, so several clusters can share one Redis.
pub const DEFAULT_CLUSTER_NAME: &str = "tcphub";
/// Entries kept per stream (`XADD ... MAXLEN ~`): a node that loses Redis
/// reads on from where it stopped as long as its inbox and `all` have not
/// grown past this many entries meanwhile: at least 50,000 frames (one
/// per entry, as under light load: about 16 s at 3,000 frames a second to
/// it), far more under load, when frames share entries. Under sustained
/// load a stream stays at this many entries, so with the link's entry
/// bound it caps Redis's memory per stream (about 400 MiB).
pub const STREAM_MAXLEN: usize = 50_000;
/// How long a reaped node's inbox is kept, for a node that was only cut
/// off from Redis and comes back: what was sent to it before the others
/// learned it was gone is still there.
pub(crate) const REAPED_INBOX_GRACE: Duration = Duration::from_secs(300);
/// Cluster inputs the reader and link may have waiting for the hub task.
const INPUT_QUEUE_LEN: usize = 1024;

/// How a server joins a cluster (`tcphub serve --cluster URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOptions {
    /// The Redis every node of the cluster uses, as `redis://HOST:PORT`
    /// (`redis://:PASSWORD@HOST:PORT/DB` and `rediss://` work too).
    pub url: String,
    /// This node's name, unique in the cluster; it prefixes session ids.
    pub node: NodeId,
    /// How long this node's aliases outlive it if it dies without leaving.
    pub lease: Duration,
    /// The cluster's name, for several clusters on one Redis.
    pub name: String,
}

impl ClusterOptions {
    /// Options for joining the cluster at `url` with a node id of
    /// [`default_node_id`] and the default lease and name.
    pub fn new(url: impl Into<String>) -> Self {
        ClusterOptions {
            url: url.into(),
            node: default_node_id(),
            lease: DEFAULT_LEASE,
            name: DEFAULT_CLUSTER_NAME.to_owned(),
        }
    }

    /// Checks the lease and the name; the URL is checked by connecting.
    pub fn validate(&self) -> Result<(), ServeError> {
        let refuse = |option, value: String, reason: String| ServeError::InvalidOption {
            option,
            value,
            reason,
        };
        if self.lease < MIN_LEASE || self.lease > MAX_LEASE {
            return Err(refuse(
                "cluster.lease",
                format!("{:?}", self.lease),
                format!("must be {MIN_LEASE:?} to {MAX_LEASE:?}"),
            ));
        }
        if NodeId::new(&self.name).is_err() {
            return Err(refuse(
                "cluster.name",
                format!("{:?}", self.name),
                "must be 1 to 32 ASCII letters, digits, '-' or '_'".into(),
            ));
        }
        Ok(())
    }
}

/// What every cluster task of a node shares.
#[derive(Debug)]
pub(crate) struct Shared {
    keys: Keys,
    /// The Redis URL without its password, for logs and errors.
    url: String,
    lease: Duration,
}

impl Shared {
    /// Sets this node's lease and lists it among the nodes (which the
    /// reaper visits); an inbox the reaper left to expire is kept again.
    async fn register(&self, conn: &mut MultiplexedConnection) -> RedisResult<()> {
        let lease_ms = self.lease.as_millis().min(u64::MAX as u128) as u64;
        redis::pipe()
            .cmd("SET")
            .arg(self.keys.lease())
            .arg(1)
            .arg("PX")
            .arg(lease_ms)
            .ignore()
            .cmd("SADD")
            .arg(self.keys.nodes())
            .arg(self.keys.node().as_str())
            .ignore()
            .cmd("PERSIST")
            .arg(self.keys.inbox(self.keys.node()))
            .ignore()
            .exec_async(conn)
            .await
    }
}

/// A node that reached Redis and read the directory, ready to serve.
#[derive(Debug)]
pub(crate) struct Joined {
    shared: Arc<Shared>,
    client: Client,
    conn: MultiplexedConnection,
    policy: AliasPolicy,
    mirror: ReplicaMirror,
    /// The directory as the snapshot had it, for the core before it serves.
    initial: Vec<ClusterInput>,
    positions: Positions,
}

impl Joined {
    /// Connects to Redis, registers this node and reads the directory.
    /// Redis unreachable is an error naming the URL: a node serving alone
    /// would hand out aliases it cannot know are free.
    pub(crate) async fn join(
        options: &ClusterOptions,
        policy: AliasPolicy,
    ) -> Result<Joined, ServeError> {
        let url = connect::redacted(&options.url);
        let failed = |source: redis::RedisError| ServeError::Cluster {
            url: url.clone(),
            source: Box::new(source),
        };
        let client = Client::open(options.url.as_str()).map_err(failed)?;
        let mut conn = connect::open(&client, Duration::ZERO)
            .await
            .map_err(failed)?;
        let scripts = Scripts::new();
        scripts.load(&mut conn).await.map_err(failed)?;
        let shared = Arc::new(Shared {
            keys: Keys::new(&options.name, &options.node),
            url: url.clone(),
            lease: options.lease,
        });
        let mut probe = redis::cmd("EXISTS");
        probe.arg(shared.keys.lease());
        let taken: i64 = probe.query_async(&mut conn).await.map_err(failed)?;
        if taken == 1 {
            // Two live nodes with one id would take each other's frames.
            warn!(node = %options.node, "cluster: a node with this id seems alive (its lease is held); \
                if it is a previous run of this node, its lease runs out within {:?}", options.lease);
        }
        shared.register(&mut conn).await.map_err(failed)?;
        let mut snapshot = evalsha(&scripts.snapshot);
        snapshot.arg(&shared.keys.prefix).arg(options.node.as_str());
        let reply: Value = snapshot.query_async(&mut conn).await.map_err(failed)?;
        let snapshot =
            Snapshot::parse(&reply, &options.node).ok_or_else(|| ServeError::Cluster {
                url: url.clone(),
                source: format!("the directory snapshot has an unexpected shape: {reply:?}").into(),
            })?;
        let positions = Positions {
            directory: snapshot.directory_id,
            inbox: snapshot.inbox_id,
            all: snapshot.all_id,
        };
        let mut mirror = ReplicaMirror::default();
        // A new mirror has no nodes to miss.
        let (initial, _) = mirror.resync(snapshot.nodes);
        info!(url = %url, node = %options.node, lease = ?options.lease, cluster = %options.name,
            "cluster: joined");
        Ok(Joined {
            shared,
            client,
            conn,
            policy,
            mirror,
            initial,
            positions,
        })
    }

    /// Feeds the directory to `hub` and starts the cluster's tasks.
    pub(crate) fn start(
        self,
        hub: &mut Hub,
        now: Duration,
    ) -> (ClusterPort, ClusterInputs, ClusterTasks) {
        for input in self.initial {
            if let Err(e) = hub.handle_cluster(now, input) {
                warn!(error = %e, "cluster: the hub refused the directory snapshot");
            }
        }
        let outbox = Arc::new(Outbox::default());
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE_LEN);
        let holdings = SharedHoldings::default();
        let reassert = Arc::new(Reassert::default());
        let origin = format!(
            "{}.{:016x}",
            self.shared.keys.node(),
            crate::random::os_random_u64()
        );
        let link = Link {
            shared: self.shared.clone(),
            client: self.client.clone(),
            scripts: Scripts::new(),
            policy: self.policy,
            outbox: outbox.clone(),
            inputs: inputs_tx.clone(),
            holdings: holdings.clone(),
            reassert: reassert.clone(),
            origin,
            conn: Some(self.conn),
        };
        let reader = Reader::new(
            self.shared.clone(),
            self.client.clone(),
            inputs_tx,
            holdings,
            reassert,
            self.mirror,
            self.positions,
        );
        let tasks = ClusterTasks {
            outbox: outbox.clone(),
            link: Some(tokio::spawn(link.run())),
            reader: tokio::spawn(reader.run()),
            lease: tokio::spawn(lease::run(self.shared, self.client)),
        };
        (
            ClusterPort { outbox },
            ClusterInputs { inputs: inputs_rx },
            tasks,
        )
    }
}

/// The hub task's end of the cluster, outbound: outputs go in.
#[derive(Debug)]
pub(crate) struct ClusterPort {
    outbox: Arc<Outbox>,
}

/// The hub task's end of the cluster, inbound: what other nodes sent, and
/// the answers to claims and resolves.
#[derive(Debug)]
pub(crate) struct ClusterInputs {
    inputs: mpsc::Receiver<ClusterInput>,
}

impl ClusterPort {
    /// Queues an output for Redis; true when the hub must now pause the
    /// senders to other nodes (`Hub::handle_backplane_backlog`).
    pub(crate) fn push(&self, output: ClusterOutput) -> bool {
        self.outbox.push(output)
    }

    /// Waits until the queue for Redis has caught up; true when it still
    /// has (it may have fallen behind again meanwhile).
    pub(crate) async fn caught_up(&self) -> bool {
        self.outbox.caught_up().await;
        !self.outbox.is_behind()
    }
}

impl ClusterInputs {
    /// Waits for inputs from other nodes and takes up to `max`; 0 only
    /// when the cluster's tasks are gone.
    pub(crate) async fn recv_many(&mut self, buf: &mut Vec<ClusterInput>, max: usize) -> usize {
        self.inputs.recv_many(buf, max).await
    }
}

/// The cluster's tasks; dropping this aborts them.
#[derive(Debug)]
pub(crate) struct ClusterTasks {
    outbox: Arc<Outbox>,
    link: Option<JoinHandle<()>>,
    reader: JoinHandle<()>,
    lease: JoinHandle<()>,
}

impl ClusterTasks {
    /// After the hub task stopped: sends what it left for Redis (the
    /// releases of the sessions it closed), for at most `grace`, then
    /// leaves the cluster and stops the tasks.
    pub(crate) async fn stop(mut self, grace: Duration) {
        self.outbox.close();
        self.lease.abort();
        self.reader.abort();
        if let Some(link) = self.link.take() {
            let abort = link.abort_handle();
            if tokio::time::timeout(grace, link).await.is_err() {
                abort.abort();
                warn!("cluster: Redis did not take the last updates in time; this node's lease will expire instead");
            }
        }
    }
}

impl Drop for ClusterTasks {
    fn drop(&mut self) {
        if let Some(link) = &self.link {
            link.abort();
        }
        self.reader.abort();
        self.lease.abort();
    }
}
