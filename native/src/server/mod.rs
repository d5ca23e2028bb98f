//! The tokio server: an accept loop, one task that owns the hub, and a
//! reader and a writer per connection.
//!
//! ```text
//!  acceptor ──Accepted──┐
//!  readers  ──Data/Closed──▶ hub task (owns Hub) ──frames──▶ send queues ──▶ writers
//!  HubHandle ──Command──┘          │
//!                                  └──events──▶ HostEvents (host program), logs
//! ```

mod accept;
mod busy;
mod connection;
mod deadline;
mod events;
#[cfg(test)]
mod footprint;
mod handle;
mod hub_task;
mod input;
mod reader;
mod send_queue;
mod transport;
mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tcphub_core::{Hub, HubConfig};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tracing::{info, warn};

pub use handle::{HostEvents, HubHandle};
pub use input::RoomEntry;

use crate::cluster::Joined;
use crate::error::ServeError;
use crate::options::ServerOptions;
use busy::BusyClock;
use hub_task::HubTask;
use input::Input;

/// Inputs (reads, accepts, commands) waiting for the hub task. When it is
/// full, readers wait: the back-pressure on clients sending faster than the
/// hub task takes their input (pacing senders to their recipients is the
/// core's flow control). At most this many read chunks (64 KiB each at
/// most, 16 MiB in all) wait.
const INPUT_QUEUE_LEN: usize = 256;
/// Connections waiting for `accept`, as far as the kernel allows
/// (`net.core.somaxconn`): bursts of thousands of connects are common.
const LISTEN_BACKLOG: u32 = 4096;
/// Longest a stopping node waits for Redis to take its last updates
/// (releases of the sessions it closed) before leaving it to its lease.
const CLUSTER_STOP_LIMIT: Duration = Duration::from_secs(5);
/// Time beyond the grace period for connections to finish closing.
const STOP_MARGIN: Duration = Duration::from_millis(500);

/// A bound server, ready to [`run`](Server::run).
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    options: ServerOptions,
    hub: Hub,
    /// The hub's clock starts at bind, so commands queued before `run`
    /// already have a time.
    start: Instant,
    inputs_tx: mpsc::Sender<Input>,
    inputs_rx: mpsc::Receiver<Input>,
    events_tx: mpsc::Sender<tcphub_core::Event>,
    /// With `--cluster`: Redis reached and the directory read.
    cluster: Option<Joined>,
    /// With TLS: the acceptor built from the certificate and key, read at
    /// bind so a bad file fails before anything listens.
    tls: Option<accept::TlsAccept>,
    /// The hub task's working time, which the [`HubHandle`]s read.
    busy: BusyClock,
}

impl Server {
    /// Checks the options and binds the listener. An address in use is an
    /// error naming the address.
    pub async fn bind(
        options: ServerOptions,
    ) -> Result<(Server, HubHandle, HostEvents), ServeError> {
        let mut options = options;
        options.validate()?;
        if let Some(cluster) = &options.cluster {
            options.hub.node = Some(cluster.node.clone());
        }
        if options.auth.is_some() {
            options.hub.authentication = true;
        } else if options.hub.authentication {
            return Err(ServeError::InvalidOption {
                option: "hub.authentication",
                value: "true".to_owned(),
                reason: "authentication needs an authenticator: set ServerOptions::auth".to_owned(),
            });
        }
        let hub = Hub::new(HubConfig {
            hash_seed: crate::random::os_random_u64(),
            // The hub task writes whatever a `Transmit` holds; merged,
            // a flood of directed messages costs no allocation per frame.
            merge_transmits: true,
            ..options.hub.clone()
        })?;
        let tls = match &options.tls {
            Some(tls) => Some(accept::TlsAccept {
                acceptor: tokio_rustls::TlsAcceptor::from(crate::tls::server_config(tls)?),
                timeout: tls.handshake_timeout,
            }),
            None => None,
        };
        let listener = listen(options.listen).map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: options.listen,
            source,
        })?;
        // After the listener, so a port in use fails before this node
        // registers in Redis.
        let cluster = match &options.cluster {
            Some(cluster) => Some(Joined::join(cluster, options.hub.alias_policy).await?),
            None => None,
        };
        let (inputs_tx, inputs_rx) = mpsc::channel(INPUT_QUEUE_LEN);
        let (events_tx, events_rx) = mpsc::channel(options.event_queue_len);
        let busy = BusyClock::default();
        let handle = HubHandle::new(inputs_tx.clone(), busy.clone());
        let server = Server {
            listener,
            local_addr,
            options,
            hub,
            start: Instant::now(),
            inputs_tx,
            inputs_rx,
            events_tx,
            cluster,
            tls,
            busy,
        };
        Ok((server, handle, HostEvents::new(events_rx)))
    }

    /// The address the server listens on, with the port the OS chose.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves. Then it stops accepting, sends
    /// every session a `bye`, flushes what was queued (for at most
    /// `shutdown_grace`) and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServeError> {
        let Server {
            listener,
            local_addr,
            options,
            mut hub,
            start,
            inputs_tx,
            inputs_rx,
            events_tx,
            cluster,
            tls,
            busy,
        } = self;
        let (port, cluster_tasks) = match cluster {
            Some(joined) => {
                let (port, from_nodes, tasks) = joined.start(&mut hub, start.elapsed());
                (Some((port, from_nodes)), Some(tasks))
            }
            None => (None, None),
        };
        // Permits are counted in u32 by tokio; no machine holds more
        // sessions than that anyway.
        let permits = options.hub.max_sessions.min(u32::MAX as usize) as u32;
        let limit = Arc::new(Semaphore::new(permits as usize));
        let task = HubTask::new(
            hub,
            start,
            inputs_rx,
            inputs_tx.downgrade(),
            events::EventSink::new(events_tx, options.hub.observe),
            options.shutdown_grace,
            port,
        )
        .with_auth(options.auth.clone())
        .with_busy_clock(busy);
        let mut hub_task = AbortOnDrop(tokio::spawn(task.run()));
        info!(addr = %local_addr, tls = tls.is_some(), "listening");

        tokio::pin!(shutdown);
        let refusal = tcphub_core::encode_too_many_sessions(options.hub.max_sessions);
        accept::accept_until(listener, limit.clone(), refusal, &inputs_tx, tls, shutdown).await;

        info!("shutting down: saying bye to every session and flushing their queues");
        let _ = inputs_tx.send(Input::Shutdown).await;
        let stop_by = deadline::deadline_after(options.shutdown_grace.saturating_add(STOP_MARGIN));
        if tokio::time::timeout_at(stop_by, limit.acquire_many(permits))
            .await
            .is_err()
        {
            warn!(
                open = permits as usize - limit.available_permits(),
                "connections still open after the grace period; dropping them"
            );
        }
        let _ = inputs_tx.send(Input::Stop).await;
        drop(inputs_tx);
        let result = (&mut hub_task.0).await;
        result.map_err(|e| ServeError::HubTask(e.to_string()))?;
        if let Some(tasks) = cluster_tasks {
            tasks
                .stop(options.shutdown_grace.min(CLUSTER_STOP_LIMIT))
                .await;
        }
        info!("stopped");
        Ok(())
    }
}

/// A listener with a deep backlog and `SO_REUSEADDR`, so a restart does not
/// wait for old connections in `TIME_WAIT`.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Aborts the hub task if `run` itself is dropped before it finished.
#[derive(Debug)]
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
