//! The accept loop: a session permit first, then the connection.
//!
//! As in mini-redis, a permit from the session semaphore is taken *before*
//! `accept`, so when the hub is full new connections wait in the kernel's
//! listen backlog and cost this process nothing; the permit travels with
//! the connection and frees itself when the connection is done. Accept errors
//! (out of file descriptors, above all) back off instead of spinning.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tracing::{error, warn};

use super::hub_task::Input;

const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts connections and hands them to the hub task until `shutdown`
/// resolves (or the hub task is gone). The listener is dropped on return,
/// so later connection attempts are refused by the OS.
pub(crate) async fn accept_until(
    listener: TcpListener,
    limit: Arc<Semaphore>,
    inputs: &mpsc::Sender<Input>,
    mut shutdown: Pin<&mut (impl Future<Output = ()> + Send)>,
) {
    let mut warned_full = false;
    loop {
        let permit = match limit.clone().try_acquire_owned() {
            Ok(permit) => {
                warned_full = false;
                permit
            }
            Err(_) => {
                if !warned_full {
                    warn!("session limit reached; new connections wait in the listen backlog");
                    warned_full = true;
                }
                tokio::select! {
                    permit = limit.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return, // the semaphore is never closed
                    },
                    () = shutdown.as_mut() => return,
                }
            }
        };
        let (stream, peer) = tokio::select! {
            accepted = accept(&listener) => accepted,
            () = shutdown.as_mut() => return,
        };
        let input = Input::Accepted {
            stream,
            peer,
            permit,
        };
        if inputs.send(input).await.is_err() {
            return;
        }
    }
}

/// Accepts one connection, waiting out errors with a growing pause.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                // The writer batches frames itself; Nagle would only add
                // latency to a lone frame.
                let _ = stream.set_nodelay(true);
                return (stream, peer);
            }
            // The client gave up before we got to it: nothing to wait for.
            Err(e) if is_per_connection(&e) => {}
            Err(e) => {
                if backoff == MAX_BACKOFF {
                    error!(error = %e, "accept keeps failing; retrying every second");
                } else {
                    warn!(error = %e, pause_ms = backoff.as_millis() as u64, "accept failed; pausing");
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
