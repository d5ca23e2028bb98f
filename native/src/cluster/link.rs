//! The link: carries the core's cluster outputs to Redis, in order, one
//! pipeline per batch, and answers claims. Owns the reconnect: when Redis
//! is lost it waits with backoff, reloads the scripts, registers the node
//! again and re-asserts what the node holds, then sends what waited.
//!
//! Per output, one command: a claim, release or directory change is one
//! `EVALSHA`; a frame for one node (`Forward`) one `XADD` to its inbox; a
//! frame for every node (`Publish`) one `XADD` to `all`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::{Client, Cmd, RedisResult, Value};
use tcphub_core::{
    Alias, AliasPolicy, ClusterInput, ClusterOutput, DirectoryChange, Envelope, RemoteTarget,
};
use tokio::sync::{mpsc, Notify};
use tracing::{debug, error, info, warn};

use super::codec::{change_args, frame_fields};
use super::connect::{self, Backoff};
use super::holdings::SharedHoldings;
use super::keys::{hex, Keys};
use super::outbox::Outbox;
use super::scripts::{evalsha, is_noscript, Scripts};
use super::{Shared, REAPED_INBOX_GRACE, STREAM_MAXLEN};

/// Outputs sent in one pipeline.
const BATCH: usize = 512;

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
                        Some(batch) => pending.extend(batch.into_iter().map(|output| {
                            seq += 1;
                            let planned = plan(&self.shared, &self.scripts, &self.origin, seq, output);
                            if let Then::Settle { alias, session_id, .. } = &planned.then {
                                self.holdings.lock().claim_sent(session_id, alias);
                            }
                            planned
                        })),
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
                warn!(alias = %alias, session = %session_id,
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
                debug!(alias = %alias, session = %session_id, granted, "cluster: claim settled");
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
                // The script answers how many nodes it carried it to.
                if answer == Value::Int(0) || planned.cmd.is_none() {
                    self.inputs
                        .send(ClusterInput::Unresolved(envelope))
                        .await
                        .map_err(|_| HubGone)?;
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
    /// Answer the core `Unresolved` when no node held the alias.
    Resolve(Envelope),
    Nothing,
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
            frame_fields(&mut cmd, &envelope, origin, seq);
            (cmd, Then::Resolve(envelope), "resolve")
        }
        ClusterOutput::Forward { node, envelope } => {
            let mut cmd = xadd(&keys.inbox(&node));
            frame_fields(&mut cmd, &envelope, origin, seq);
            (cmd, Then::Nothing, "forward")
        }
        ClusterOutput::Publish(envelope) => {
            let mut cmd = xadd(&keys.all());
            frame_fields(&mut cmd, &envelope, origin, seq);
            (cmd, Then::Nothing, "publish")
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
