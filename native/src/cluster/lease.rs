//! This node's lease, refreshed every lease/3, and the reaper, run every
//! lease/2 by every node: a node killed with SIGKILL stops refreshing, its
//! lease runs out, and the next reaper run frees what it held.

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::{Client, RedisResult, Value};
use tokio::time::MissedTickBehavior;
use tracing::{debug, info, warn};

use super::codec::bytes_of;
use super::connect;
use super::scripts::{evalsha, Scripts};
use super::{Shared, REAPED_INBOX_GRACE, STREAM_MAXLEN};

pub(crate) async fn run(shared: Arc<Shared>, client: Client) {
    let scripts = Scripts::new();
    let mut conn: Option<MultiplexedConnection> = None;
    let mut refresh = tokio::time::interval(shared.lease / 3);
    let mut reap = tokio::time::interval(shared.lease / 2);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    reap.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        let reaping = tokio::select! {
            _ = refresh.tick() => false,
            _ = reap.tick() => true,
        };
        let result = step(&shared, &client, &scripts, &mut conn, reaping).await;
        match result {
            Ok(()) => failing = false,
            Err(e) => {
                conn = None;
                if !failing {
                    warn!(error = %e, "cluster: cannot refresh this node's lease; retrying");
                }
                failing = true;
            }
        }
    }
}

async fn step(
    shared: &Shared,
    client: &Client,
    scripts: &Scripts,
    conn: &mut Option<MultiplexedConnection>,
    reaping: bool,
) -> RedisResult<()> {
    if conn.is_none() {
        let mut new = connect::open(client, std::time::Duration::ZERO).await?;
        scripts.load(&mut new).await?;
        *conn = Some(new);
    }
    let Some(conn) = conn.as_mut() else {
        return Ok(());
    };
    if !reaping {
        return shared.register(conn).await;
    }
    let mut cmd = evalsha(&scripts.reap);
    cmd.arg(&shared.keys.prefix)
        .arg(STREAM_MAXLEN)
        .arg(REAPED_INBOX_GRACE.as_millis() as u64);
    let reply: Value = match cmd.query_async(conn).await {
        Err(e) if e.code() == Some("NOSCRIPT") => {
            scripts.load(conn).await?;
            cmd.query_async(conn).await?
        }
        other => other?,
    };
    if let Value::Array(gone) = &reply {
        for node in gone {
            let node = bytes_of(node)
                .map(String::from_utf8_lossy)
                .unwrap_or_default();
            info!(node = %node, "cluster: reaped a node whose lease ran out; its aliases are free");
        }
    } else {
        debug!(reply = ?reply, "cluster: unexpected answer from the reaper");
    }
    Ok(())
}
