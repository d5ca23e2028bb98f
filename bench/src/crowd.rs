//! Many connections at once: joining them with bounded concurrency, and
//! counting what each receives.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use tokio::io::AsyncRead;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use super::progress::Progress;
use super::scan::Inbox;
use super::target::Target;
use super::wire::{self, Conn, Join, Proto};

/// Joins in flight at once: enough to hide round trips, few enough not to
/// overflow a listen backlog.
const JOIN_CONCURRENCY: usize = 64;

/// Where the subscribers of a one-to-many scenario sit on a cluster (see
/// [`Target::node`]); the publisher is always on the first node, and
/// without `--cluster` everyone is on `--server`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spread {
    /// Round-robin over every node, the publisher's included.
    All,
    /// Round-robin over the nodes other than the publisher's, so every
    /// delivery crosses from one node to another.
    Others,
}

impl Spread {
    /// The node of subscriber `i`.
    fn node(self, target: &Target, i: usize) -> SocketAddr {
        match self {
            Spread::Others if target.nodes() > 1 => target.node(1 + i % (target.nodes() - 1)),
            _ => target.node(i),
        }
    }
}

/// `count` subscribers to `subject` (named `sub-N`; with a tcphub `room`,
/// each a member of it) placed as `spread` says, then one publisher named
/// `pub`, in no room: the cast of every one-to-many scenario.
pub async fn audience(
    target: &Target,
    count: usize,
    subject: &str,
    room: Option<&str>,
    spread: Spread,
) -> anyhow::Result<(Vec<Conn>, Conn)> {
    let subs = join_all_in(
        target,
        count,
        |i| (format!("sub-{i}"), Some(subject.to_string())),
        |i| spread.node(target, i),
        room,
        "subscribers",
    )
    .await?;
    let join = Join {
        name: "pub",
        subscribe: None,
        room: None,
    };
    let publisher = wire::connect(&target.dial, target.node(0), target.proto, join).await?;
    target.settle().await;
    Ok((subs, publisher))
}

/// Connects `count` clients; `naming(i)` gives client `i`'s name and,
/// for NATS, its subject.
pub async fn join_all(
    target: &Target,
    count: usize,
    naming: impl Fn(usize) -> (String, Option<String>),
    what: &str,
) -> anyhow::Result<Vec<Conn>> {
    join_all_in(target, count, naming, |_| target.server, None, what).await
}

/// [`join_all`], client `i` on the node `place(i)`; on a cluster, waits
/// for the subscriptions to spread (see [`Target::settle`]).
pub async fn join_all_at(
    target: &Target,
    count: usize,
    naming: impl Fn(usize) -> (String, Option<String>),
    place: impl Fn(usize) -> SocketAddr,
    what: &str,
) -> anyhow::Result<Vec<Conn>> {
    let conns = join_all_in(target, count, naming, place, None, what).await?;
    target.settle().await;
    Ok(conns)
}

/// [`join_all`], client `i` on the node `place(i)`, each also joining the
/// tcphub `room` when given.
async fn join_all_in(
    target: &Target,
    count: usize,
    naming: impl Fn(usize) -> (String, Option<String>),
    place: impl Fn(usize) -> SocketAddr,
    room: Option<&str>,
    what: &str,
) -> anyhow::Result<Vec<Conn>> {
    let progress = Progress::counting(what, count as u64, !target.no_progress && count >= 500);
    let mut conns: Vec<Option<Conn>> = (0..count).map(|_| None).collect();
    let mut joining = JoinSet::new();
    let mut next = 0;
    let mut done = 0;
    while done < count {
        while next < count && joining.len() < JOIN_CONCURRENCY {
            let (name, subject) = naming(next);
            let (addr, proto, i) = (place(next), target.proto, next);
            let room = room.map(str::to_owned);
            let dial = target.dial.clone();
            joining.spawn(async move {
                let join = Join {
                    name: &name,
                    subscribe: subject.as_deref(),
                    room: room.as_deref(),
                };
                (i, wire::connect(&dial, addr, proto, join).await)
            });
            next += 1;
        }
        let (i, conn) = joining.join_next().await.context("a join task ended")??;
        let conn = conn.with_context(|| format!("client {i} of {count}"))?;
        conns[i] = Some(conn);
        done += 1;
        progress.step();
    }
    progress.finish();
    Ok(conns.into_iter().flatten().collect())
}

/// A message counter on its own cache line, so receivers on different
/// threads do not slow each other down.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Counter(pub AtomicU64);

impl Counter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }
}

/// Counts messages arriving on `reader` into `counter`, waking `wake`
/// after every read, until `stop` turns true or the connection ends.
/// An error frame or an early close is an error.
pub async fn count_messages<R: AsyncRead + Unpin>(
    proto: Proto,
    mut reader: R,
    pending: Vec<u8>,
    counter: Arc<Counter>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut inbox = Inbox::new(proto, &pending);
    drop(pending);
    loop {
        let tally = inbox.drain(|_| {});
        if tally.messages > 0 {
            counter.0.fetch_add(tally.messages, Ordering::Release);
            wake.notify_one();
        }
        if let Some(error) = tally.error {
            anyhow::bail!("the hub sent an error: {error}");
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return Ok(()),
            read = inbox.read_from(&mut reader) => {
                if read? == 0 {
                    anyhow::bail!("the hub closed a receiving connection");
                }
            }
        }
    }
}
