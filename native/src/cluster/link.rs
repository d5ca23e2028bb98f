//! The link: carries the core's cluster outputs to Redis, in order, one
//! pipeline per batch, and answers claims. Owns the reconnect: when Redis
//! is lost it waits with backoff, reloads the scripts, registers the node
//! again and re-asserts what the node holds, then sends what waited.
//!
//! A claim, release, directory change or resolve is one `EVALSHA` each.
//! Frames go by the entry: within one batch, a run of consecutive
//! `Forward`s and `Publish`es (no other output between them) becomes one
//! `XADD` per stream it writes to, each node's inbox and `all`, carrying
//! that stream's frames in order, cut at `ENTRY_BYTES`. Another output
//! ends the run, so what a script writes (a resolve, a directory change)
//! keeps its place among the frames.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::{Client, Cmd, RedisResult, Value};
use tcphub_core::{
    Alias, AliasPolicy, ClusterInput, ClusterOutput, DirectoryChange, Envelope, NodeId,
    RemoteTarget,
};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, error, info, warn};

use super::codec::{change_args, Frames};
use super::connect::{self, Backoff};
use super::holdings::SharedHoldings;
use super::keys::{hex, Keys};
use super::outbox::Outbox;
use super::scripts::{evalsha, is_noscript, Scripts};
use super::{Shared, REAPED_INBOX_GRACE, STREAM_MAXLEN};

/// Outputs sent in one pipeline.
const BATCH: usize = 512;
/// An entry of frames takes no more after it reaches this many bytes, so
/// an entry (and a reader's `XREAD`) stays small whatever the batch holds.
/// It also bounds Redis's memory: a stream keeps `STREAM_MAXLEN` entries
/// under sustained load, each about this big (8 KiB × 50,000 ≈ 400 MiB
/// at most per stream). At 8 KiB an entry still carries about 25 frames
/// of 64 bytes, so a command costs each frame little.
const ENTRY_BYTES: usize = 8 * 1024;

/// Asks the link to re-assert this node's holdings (the reader saw this
/// node reaped).
#[derive(Debug, Default)]
pub(crate) struct Reassert {
    wanted: AtomicBool,
    wake: Notify,
}

impl Reassert {
    pub(crate) fn request(&self) {
        self.wanted.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    fn take(&self) -> bool {
        self.wanted.swap(false, Ordering::SeqCst)
    }
}

/// The hub task is gone: nothing more to answer.
#[derive(Debug)]
struct HubGone;

#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) shared: Arc<Shared>,
    pub(crate) client: Client,
    pub(crate) scripts: Scripts,
    pub(crate) policy: AliasPolicy,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) inputs: mpsc::Sender<ClusterInput>,
    pub(crate) holdings: SharedHoldings,
    pub(crate) reassert: Arc<Reassert>,
    /// `node.incarnation`, written in every frame entry with its sequence
    /// number, so readers can drop one a retried batch sent twice.
    pub(crate) origin: String,
    pub(crate) conn: Option<MultiplexedConnection>,
}

impl Link {
    fn keys(&self) -> &Keys {
        &self.shared.keys
    }

    /// Runs until the outbox is closed and drained, then takes this node
    /// out of the directory.
    pub(crate) async fn run(mut self) {
        let mut pending: VecDeque<Planned> = VecDeque::new();
        let mut seq = 0u64;
        let mut backoff = Backoff::new();
        loop {
            // Idle and connected: wait for work. Not connected: connect
            // first, even with nothing to send, so this node's holdings are
            // back in Redis before anyone needs them.
            if pending.is_empty() && self.conn.is_some() {
                tokio::select! {
                    batch = self.outbox.take(BATCH) => match batch {
                        Some(batch) => {
                            let planned = plan_batch(&self.shared, &self.scripts, &self.origin, &mut seq, batch);
                            for planned in &planned {
                                if let Then::Settle { alias, session_id, .. } = &planned.then {
                                    self.holdings.lock().claim_sent(session_id, alias);
                                }
                            }
                            pending.extend(planned);
                        }
                        None => break,
                    },
                    () = self.reassert.wake.notified() => {}
                }
            }
            if self.conn.is_none() || self.reassert.take() {
                match self.reconnect().await {
                    Ok(()) => backoff.reset(),
                    Err(Failure::Redis(e)) => {
                        self.conn = None;
                        self.lost(&mut backoff, &e).await;
                        continue;
                    }
                    Err(Failure::HubGone) => break,
                }
            }
            match self.send(&mut pending).await {
                Ok(()) => {}
                Err(Failure::Redis(e)) => {
                    self.conn = None;
                    self.lost(&mut backoff, &e).await;
                }
                Err(Failure::HubGone) => break,
            }
        }
        self.leave().await;
    }

    async fn lost(&self, backoff: &mut Backoff, e: &redis::RedisError) {
        if backoff.failures == 0 {
            warn!(url = %self.shared.url, error = %e,
                "cluster: lost Redis; queueing what other nodes must get and retrying");
        } else {
            debug!(url = %self.shared.url, error = %e, "cluster: Redis still unreachable");
        }
        backoff.wait().await;
    }

    /// Connects, loads the scripts, registers this node and re-asserts
    /// what it holds: a restarted Redis has forgotten everything, and one
    /// that was away longer than the lease has reaped this node.
    async fn reconnect(&mut self) -> Result<(), Failure> {
        let mut conn = match self.conn.take() {
            Some(conn) => conn,
            None => connect::open(&self.client, std::time::Duration::ZERO).await?,
        };
        self.scripts.load(&mut conn).await?;
        self.shared.register(&mut conn).await?;
        let claims = self.holdings.lock().claims.clone();
        // Under `share` a node adds itself whatever others hold; otherwise
        // it gets its alias back only if no one else took it meanwhile.
        let policy = match self.policy {
            AliasPolicy::Share => AliasPolicy::Share,
            AliasPolicy::Reject | AliasPolicy::Takeover => AliasPolicy::Reject,
        };
        let mut pipe = redis::pipe();
        for (session_id, alias) in &claims {
            pipe.add_command(self.claim_cmd(alias, session_id, policy));
        }
        let answers: Vec<Value> = if claims.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut conn).await?
        };
        let mut lost = 0;
        for ((session_id, alias), answer) in claims.iter().zip(answers) {
            if answer != Value::Int(1) {
                lost += 1;
                self.holdings.lock().released(session_id, alias);
                warn!(alias = %alias, session_id = %session_id,
                    "cluster: an alias was claimed elsewhere while Redis was lost; closing its session");
                let input = ClusterInput::TakenOver {
                    alias: alias.clone(),
                    session_id: session_id.clone(),
                };
                self.inputs
                    .send(input)
                    .await
                    .map_err(|_| Failure::HubGone)?;
            }
        }
        let node = self.keys().node().clone();
        let restatement = self.holdings.lock().restatement(&node);
        let mut pipe = redis::pipe();
        for change in &restatement {
            pipe.add_command(directory_cmd(&self.shared, &self.scripts, change))
                .ignore();
        }
        if !restatement.is_empty() {
            pipe.exec_async(&mut conn).await?;
        }
        info!(url = %self.shared.url, node = %node, aliases = claims.len() - lost, lost,
            entries = restatement.len(), "cluster: connected to Redis; this node's holdings asserted");
        self.conn = Some(conn);
        Ok(())
    }

    /// Sends the pending outputs in one pipeline and settles what came
    /// back; on a lost connection they stay pending, to be sent again.
    async fn send(&mut self, pending: &mut VecDeque<Planned>) -> Result<(), Failure> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        if pending.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for cmd in pending.iter().filter_map(|p| p.cmd.as_ref()) {
            pipe.add_command(cmd.clone());
        }
        let answers: Vec<Value> = if pipe.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(conn).await?
        };
        let mut answers = answers.into_iter();
        while let Some(planned) = pending.pop_front() {
            let answer = match planned.cmd {
                Some(_) => answers.next().unwrap_or(Value::Nil),
                None => Value::Nil,
            };
            if let Value::ServerError(e) = &answer {
                if is_noscript(e) {
                    // Redis restarted between batches: load the scripts
                    // and send this and the rest again (frames sent twice
                    // are dropped by their readers).
                    pending.push_front(planned);
                    if let Some(conn) = self.conn.as_mut() {
                        self.scripts.load(conn).await?;
                    }
                    // Its holdings are gone too.
                    self.reassert.request();
                    return Ok(());
                }
            }
            self.settle(planned, answer)
                .await
                .map_err(|HubGone| Failure::HubGone)?;
        }
        Ok(())
    }

    /// What Redis answered to one output.
    async fn settle(&mut self, planned: Planned, answer: Value) -> Result<(), HubGone> {
        if let Value::ServerError(e) = &answer {
            // A script or command refused: a bug, or Redis out of memory.
            error!(error = ?e, output = planned.kind, "cluster: Redis refused an update");
        }
        match planned.then {
            Then::Settle {
                claim,
                alias,
                session_id,
            } => {
                let granted = answer == Value::Int(1);
                debug!(alias = %alias, session_id = %session_id, granted, "cluster: claim settled");
                // The answer goes to the core before the holdings change,
                // so a takeover the reader finds for this claim from now on
                // reaches the core after it (see `Holdings::taken_over`).
                self.inputs
                    .send(ClusterInput::ClaimSettled { claim, granted })
                    .await
                    .map_err(|_| HubGone)?;
                let displaced = self
                    .holdings
                    .lock()
                    .claim_settled(&session_id, &alias, granted);
                if displaced {
                    let input = ClusterInput::TakenOver { alias, session_id };
                    self.inputs.send(input).await.map_err(|_| HubGone)?;
                }
            }
            Then::Released { alias, session_id } => {
                self.holdings.lock().released(&session_id, &alias);
            }
            Then::Announced(change) => self.holdings.lock().announced(&change),
            Then::Resolve(envelope) => {
                // The script answers how many nodes it carried it to. Any
                // other answer (an error, logged above) says nothing of
                // where it went: a request then waits for a reply or its
                // timeout, never told `unknown_alias` for an alias that
                // may be held. (A script run again after a lost connection
                // counts the nodes anew: a holder gone in between is
                // counted out, though its node may have answered the
                // first run, so a request can end a reply early.)
                let nodes = match (&planned.cmd, answer) {
                    (None, _) => Some(0),
                    (Some(_), Value::Int(n)) => Some(u64::try_from(n).unwrap_or(0)),
                    (Some(_), _) => None,
                };
                if let Some(nodes) = nodes {
                    let input = ClusterInput::resolved(envelope, nodes);
                    self.inputs.send(input).await.map_err(|_| HubGone)?;
                }
            }
            Then::Nothing => {}
        }
        Ok(())
    }

    fn claim_cmd(&self, alias: &Alias, session_id: &str, policy: AliasPolicy) -> Cmd {
        claim_cmd(&self.shared, &self.scripts, alias, session_id, policy)
    }

    /// A node stopping cleanly frees its aliases at once rather than after
    /// its lease: it drops its lease and reaps itself.
    async fn leave(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut reap = evalsha(&self.scripts.reap);
        reap.arg(&self.shared.keys.prefix)
            .arg(STREAM_MAXLEN)
            .arg(REAPED_INBOX_GRACE.as_millis() as u64);
        let result: RedisResult<()> = redis::pipe()
            .cmd("DEL")
            .arg(self.shared.keys.lease())
            .ignore()
            .add_command(reap)
            .ignore()
            .exec_async(conn)
            .await;
        match result {
            Ok(()) => info!(node = %self.shared.keys.node(), "cluster: left the cluster"),
            Err(e) => {
                warn!(error = %e, "cluster: could not leave the cluster; the lease will expire")
            }
        }
    }
}

/// Why a step of the link stopped.
#[derive(Debug)]
enum Failure {
    Redis(redis::RedisError),
    HubGone,
}

impl From<redis::RedisError> for Failure {
    fn from(e: redis::RedisError) -> Self {
        Failure::Redis(e)
    }
}

/// An output ready to send: its command (fixed once, so a retry sends
/// the same bytes and sequence number) and what to do with the answer.
#[derive(Debug)]
struct Planned {
    /// `None` for an output that needs no command (it is settled at once).
    cmd: Option<Cmd>,
    then: Then,
    kind: &'static str,
}

/// What the answer to an output's command settles.
#[derive(Debug)]
enum Then {
    /// A claim: answer the core, and remember a granted one.
    Settle {
        claim: tcphub_core::ClaimId,
        alias: Alias,
        session_id: Arc<str>,
    },
    Released {
        alias: Alias,
        session_id: Arc<str>,
    },
    Announced(DirectoryChange),
    /// Answer the core `Resolved` with how many nodes the script carried
    /// the envelope to, or `Unresolved` when no node held the alias.
    Resolve(Envelope),
    Nothing,
}

/// The commands that carry a batch of outputs to Redis, in order: each
/// run of consecutive frames becomes one entry per stream it writes to (in
/// the order the streams first appear in the run), every other output its
/// own command. Each command takes the next sequence number.
fn plan_batch(
    shared: &Shared,
    scripts: &Scripts,
    origin: &str,
    seq: &mut u64,
    outputs: Vec<ClusterOutput>,
) -> Vec<Planned> {
    let mut planned = Vec::new();
    // The entries of the current run not yet planned: for one node's inbox
    // (`Some`) or for `all` (`None`).
    let mut open: Vec<(Option<NodeId>, Frames)> = Vec::new();
    let close = |seq: &mut u64, node: Option<NodeId>, frames: Frames| {
        *seq += 1;
        frames_entry(shared, node.as_ref(), &frames, origin, *seq)
    };
    for output in outputs {
        let (node, envelope) = match output {
            ClusterOutput::Forward { node, envelope } => (Some(node), envelope),
            ClusterOutput::Publish(envelope) => (None, envelope),
            other => {
                for (node, frames) in open.drain(..) {
                    planned.push(close(seq, node, frames));
                }
                *seq += 1;
                planned.push(plan(shared, scripts, origin, *seq, other));
                continue;
            }
        };
        let at = match open.iter().position(|(n, _)| *n == node) {
            Some(at) => at,
            None => {
                open.push((node, Frames::default()));
                open.len() - 1
            }
        };
        open[at].1.push(&envelope);
        if open[at].1.len() >= ENTRY_BYTES {
            let (node, frames) = open.remove(at);
            planned.push(close(seq, node, frames));
        }
    }
    for (node, frames) in open {
        planned.push(close(seq, node, frames));
    }
    planned
}

/// One `XADD` of frames, to `node`'s inbox or to `all`.
fn frames_entry(
    shared: &Shared,
    node: Option<&NodeId>,
    frames: &Frames,
    origin: &str,
    seq: u64,
) -> Planned {
    let (key, kind) = match node {
        Some(node) => (shared.keys.inbox(node), "forward"),
        None => (shared.keys.all(), "publish"),
    };
    let mut cmd = xadd(&key);
    frames.fields(&mut cmd, origin, seq);
    Planned {
        cmd: Some(cmd),
        then: Then::Nothing,
        kind,
    }
}

/// The one command that carries `output` to Redis, and what its answer
/// settles. Every kind of `ClusterOutput` is handled here, in one match.
fn plan(
    shared: &Shared,
    scripts: &Scripts,
    origin: &str,
    seq: u64,
    output: ClusterOutput,
) -> Planned {
    let keys = &shared.keys;
    let (cmd, then, kind) = match output {
        ClusterOutput::Claim {
            claim,
            alias,
            session_id,
            policy,
        } => (
            claim_cmd(shared, scripts, &alias, &session_id, policy),
            Then::Settle {
                claim,
                alias,
                session_id,
            },
            "claim",
        ),
        ClusterOutput::Release { alias, session_id } => {
            let mut cmd = evalsha(&scripts.release);
            cmd.arg(&keys.prefix)
                .arg(hex(alias.as_str()))
                .arg(&*session_id)
                .arg(keys.node().as_str());
            (cmd, Then::Released { alias, session_id }, "release")
        }
        ClusterOutput::Directory(change) => {
            let cmd = directory_cmd(shared, scripts, &change);
            (cmd, Then::Announced(change), "directory")
        }
        ClusterOutput::Resolve(envelope) => {
            let RemoteTarget::Alias(alias) = &envelope.target else {
                // The core resolves only messages to an alias.
                error!(target = ?envelope.target, "cluster: a resolve not for an alias; answered unresolved");
                return Planned {
                    cmd: None,
                    then: Then::Resolve(envelope),
                    kind: "resolve",
                };
            };
            let mut cmd = evalsha(&scripts.resolve);
            cmd.arg(&keys.prefix)
                .arg(hex(alias.as_str()))
                .arg(STREAM_MAXLEN);
            let mut frames = Frames::default();
            frames.push(&envelope);
            frames.fields(&mut cmd, origin, seq);
            (cmd, Then::Resolve(envelope), "resolve")
        }
        // `plan_batch` gathers frames into entries; one alone is an entry
        // of its own.
        ClusterOutput::Forward { node, envelope } => {
            let mut frames = Frames::default();
            frames.push(&envelope);
            return frames_entry(shared, Some(&node), &frames, origin, seq);
        }
        ClusterOutput::Publish(envelope) => {
            let mut frames = Frames::default();
            frames.push(&envelope);
            return frames_entry(shared, None, &frames, origin, seq);
        }
    };
    Planned {
        cmd: Some(cmd),
        then,
        kind,
    }
}

fn directory_cmd(shared: &Shared, scripts: &Scripts, change: &DirectoryChange) -> Cmd {
    let mut cmd = evalsha(&scripts.directory);
    cmd.arg(&shared.keys.prefix).arg(STREAM_MAXLEN);
    change_args(&mut cmd, change);
    cmd
}

fn claim_cmd(
    shared: &Shared,
    scripts: &Scripts,
    alias: &Alias,
    session_id: &str,
    policy: AliasPolicy,
) -> Cmd {
    let keys = &shared.keys;
    let mut cmd = evalsha(&scripts.claim);
    cmd.arg(&keys.prefix)
        .arg(hex(alias.as_str()))
        .arg(alias.as_str())
        .arg(session_id)
        .arg(keys.node().as_str())
        .arg(policy.as_str())
        .arg(STREAM_MAXLEN);
    cmd
}

/// `XADD key MAXLEN ~ N *`: streams are trimmed as they grow.
fn xadd(key: &str) -> Cmd {
    let mut cmd = redis::cmd("XADD");
    cmd.arg(key)
        .arg("MAXLEN")
        .arg("~")
        .arg(STREAM_MAXLEN)
        .arg("*");
    cmd
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use bytes::Bytes;
    use tcphub_core::Room;

    use super::super::codec::{Fields, InboxEntry};
    use super::*;

    fn node(name: &str) -> NodeId {
        NodeId::new(name).unwrap()
    }

    /// Where each planned command writes, and the frames and sequence
    /// number of those that are entries of frames.
    fn written(planned: &[Planned]) -> Vec<(String, Vec<Bytes>, u64)> {
        planned
            .iter()
            .map(|p| {
                let args: Vec<Vec<u8>> = p
                    .cmd
                    .as_ref()
                    .unwrap()
                    .args_iter()
                    .map(|a| match a {
                        redis::Arg::Simple(bytes) => bytes.to_vec(),
                        _ => Vec::new(),
                    })
                    .collect();
                let name = String::from_utf8(args[0].clone()).unwrap();
                if name != "XADD" {
                    return (name, Vec::new(), 0);
                }
                let key = String::from_utf8(args[1].clone()).unwrap();
                // XADD key MAXLEN ~ N * fields...
                let fields = Value::Array(
                    args[6..]
                        .iter()
                        .map(|a| Value::BulkString(a.clone()))
                        .collect(),
                );
                let entry = Fields::parse(&fields).unwrap().inbox_entry().unwrap();
                let InboxEntry::Frames(entry) = entry else {
                    panic!("{entry:?}")
                };
                let frames = entry.envelopes.into_iter().map(|e| e.frame).collect();
                (key, frames, entry.seq)
            })
            .collect()
    }

    #[test]
    fn a_run_of_frames_becomes_one_entry_per_stream_in_order() {
        let shared = Shared {
            keys: Keys::new("t", &node("me")),
            url: String::new(),
            lease: Duration::from_secs(10),
        };
        let scripts = Scripts::new();
        let frame = |n: usize| Bytes::from(format!("{n}\n"));
        let to = |name: &str, n| ClusterOutput::Forward {
            node: node(name),
            envelope: Envelope::new(RemoteTarget::Everyone, frame(n)),
        };
        let all = |n| ClusterOutput::Publish(Envelope::new(RemoteTarget::Everyone, frame(n)));
        let change = ClusterOutput::Directory(DirectoryChange::RoomJoined {
            node: node("me"),
            room: Room::new("r").unwrap(),
        });
        let outputs = vec![
            to("b", 1),
            all(2),
            to("c", 3),
            to("b", 4),
            all(5),
            change,
            to("b", 6),
        ];
        let mut seq = 10;
        let planned = plan_batch(&shared, &scripts, "me.1", &mut seq, outputs);
        let (b, c, all) = ("tcphub:{t}:inbox:b", "tcphub:{t}:inbox:c", "tcphub:{t}:all");
        assert_eq!(
            written(&planned),
            [
                (b.into(), vec![frame(1), frame(4)], 11),
                (all.into(), vec![frame(2), frame(5)], 12),
                (c.into(), vec![frame(3)], 13),
                // The directory change ends the run: what follows it is
                // written after it.
                ("EVALSHA".into(), vec![], 0),
                (b.into(), vec![frame(6)], 15),
            ]
        );
        assert_eq!(seq, 15);
        // An entry takes no more frames once it holds `ENTRY_BYTES`.
        // Frames of 5/16 of the bound: the fourth takes an entry past it.
        let width = ENTRY_BYTES * 5 / 16 - 1;
        let big = |n: usize| {
            let frame = Bytes::from(format!("{n:0width$}\n"));
            ClusterOutput::Forward {
                node: node("b"),
                envelope: Envelope::new(RemoteTarget::Everyone, frame),
            }
        };
        let planned = plan_batch(
            &shared,
            &scripts,
            "me.1",
            &mut seq,
            (0..10).map(big).collect(),
        );
        let written = written(&planned);
        let sizes: Vec<usize> = written.iter().map(|(_, f, _)| f.len()).collect();
        assert_eq!(sizes, [4, 4, 2]);
        let seqs: Vec<u64> = written.iter().map(|(_, _, q)| *q).collect();
        assert_eq!(seqs, [16, 17, 18]);
        let frames: Vec<Bytes> = written.into_iter().flat_map(|(_, f, _)| f).collect();
        let expected: Vec<Bytes> = (0..10)
            .map(|n| Bytes::from(format!("{n:0width$}\n")))
            .collect();
        assert_eq!(frames, expected);
    }
}
