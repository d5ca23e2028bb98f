//! What a host decides about a server before it starts.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tcphub_core::HubConfig;

/// The tutorial's address: clients written for it connect here unchanged.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9000);
/// Default cap on bytes queued for one session before it is closed as a
/// slow consumer: 8 MiB.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;
/// Default time allowed to flush queues when a session or the server closes.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Default number of hub events buffered for a host that reads them late.
pub const DEFAULT_EVENT_QUEUE_LEN: usize = 16 * 1024;

/// Settings of a [`Server`](crate::Server).
///
/// Build with `ServerOptions::default()` and change the fields you need;
/// the hub settings are checked by [`Server::bind`](crate::Server::bind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Address to listen on; port 0 lets the OS choose (see
    /// [`Server::local_addr`](crate::Server::local_addr)).
    pub listen: SocketAddr,
    /// Alias policy, frame and session limits, idle timeout, relay switch.
    pub hub: HubConfig,
    /// Bytes that may wait unsent for one session. Past this the session is
    /// closed with reason `slow_consumer`, so one client that stops reading
    /// can neither stall the others nor grow the server's memory.
    pub max_queued_bytes: usize,
    /// How long a closing session (and the whole server on shutdown) may
    /// take to flush what is queued for it before the socket is dropped.
    pub shutdown_grace: Duration,
    /// Hub events buffered for the host program ([`HostEvents`](crate::HostEvents)).
    /// When the host falls this far behind, newer events are dropped (and
    /// counted in a warning) rather than stalling every client.
    pub event_queue_len: usize,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen: DEFAULT_LISTEN,
            hub: HubConfig::default(),
            max_queued_bytes: DEFAULT_MAX_QUEUED_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            event_queue_len: DEFAULT_EVENT_QUEUE_LEN,
        }
    }
}
