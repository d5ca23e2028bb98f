//! What a host decides about a server before it starts.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tcphub_core::HubConfig;

use crate::auth::Auth;
use crate::cluster::ClusterOptions;
use crate::error::ServeError;
use crate::tls::TlsOptions;

/// The tutorial's address: clients written for it connect here unchanged.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)), 9000);
/// Default time allowed to flush queues when a session or the server closes.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Default number of hub events buffered for a host that reads them late.
pub const DEFAULT_EVENT_QUEUE_LEN: usize = 16 * 1024;
/// Largest `event_queue_len`, the most a tokio channel holds.
pub const MAX_EVENT_QUEUE_LEN: usize = tokio::sync::Semaphore::MAX_PERMITS;

/// Settings of a [`Server`](crate::Server).
///
/// Build with `ServerOptions::default()` and change the fields you need;
/// [`Server::bind`](crate::Server::bind) checks them all (see
/// [`ServerOptions::validate`]) and refuses a value out of range with an
/// error naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// Address to listen on; port 0 lets the OS choose (see
    /// [`Server::local_addr`](crate::Server::local_addr)).
    pub listen: SocketAddr,
    /// Everything the hub decides: alias policy, frame and session limits,
    /// timeouts, and flow control (watermarks, the queue cap and the write
    /// deadline that close a slow consumer).
    pub hub: HubConfig,
    /// How long a closing session (and the whole server on shutdown) may
    /// take to flush what is queued for it before the socket is dropped.
    pub shutdown_grace: Duration,
    /// Hub events buffered for the host program ([`HostEvents`](crate::HostEvents)).
    /// When the host falls this far behind, newer events are dropped (and
    /// counted in a warning) rather than stalling every client.
    pub event_queue_len: usize,
    /// Join a cluster of nodes that act as one hub over Redis; `None`
    /// serves alone and touches no network but the listener. The hub's
    /// [`node`](HubConfig::node) is set from it.
    pub cluster: Option<ClusterOptions>,
    /// Speak TLS on the listener with this certificate and key; `None`
    /// speaks plain TCP. The files are read by
    /// [`Server::bind`](crate::Server::bind).
    pub tls: Option<TlsOptions>,
    /// Aliases need a credential, checked by this authenticator; `None`
    /// (the default): anyone may claim any alias. Setting it turns the
    /// hub's [`authentication`](HubConfig::authentication) on.
    pub auth: Option<Auth>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            listen: DEFAULT_LISTEN,
            hub: HubConfig::default(),
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            event_queue_len: DEFAULT_EVENT_QUEUE_LEN,
            cluster: None,
            tls: None,
            auth: None,
        }
    }
}

impl ServerOptions {
    /// Checks the server's own settings against their bounds; the hub's
    /// are checked by [`HubConfig::validate`]. [`Server::bind`](crate::Server::bind)
    /// calls both.
    ///
    /// Durations take any value: `Duration::MAX` means "practically never".
    /// A zero `shutdown_grace` is refused, since every closing session
    /// would lose its last frame.
    pub fn validate(&self) -> Result<(), ServeError> {
        fn refuse(option: &'static str, value: impl std::fmt::Debug, reason: String) -> ServeError {
            ServeError::InvalidOption {
                option,
                value: format!("{value:?}"),
                reason,
            }
        }
        if self.shutdown_grace.is_zero() {
            return Err(refuse(
                "shutdown_grace",
                self.shutdown_grace,
                "must be longer than zero (Duration::MAX waits as long as it takes)".into(),
            ));
        }
        if self.event_queue_len == 0 {
            return Err(refuse(
                "event_queue_len",
                self.event_queue_len,
                "must be at least 1".into(),
            ));
        }
        if self.event_queue_len > MAX_EVENT_QUEUE_LEN {
            return Err(refuse(
                "event_queue_len",
                self.event_queue_len,
                format!("must be at most {MAX_EVENT_QUEUE_LEN}"),
            ));
        }
        if let Some(tls) = &self.tls {
            if tls.handshake_timeout.is_zero() {
                return Err(refuse(
                    "tls.handshake_timeout",
                    tls.handshake_timeout,
                    "must be longer than zero".into(),
                ));
            }
        }
        match (&self.cluster, &self.hub.node) {
            (Some(cluster), node) => {
                cluster.validate()?;
                if node.as_ref().is_some_and(|n| *n != cluster.node) {
                    return Err(refuse(
                        "hub.node",
                        node,
                        format!("must be None or the cluster's node id {}", cluster.node),
                    ));
                }
            }
            (None, Some(node)) => {
                return Err(refuse(
                    "hub.node",
                    node,
                    "a node id needs a cluster to carry its outputs: set `cluster` instead".into(),
                ))
            }
            (None, None) => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(options: ServerOptions) -> (&'static str, String) {
        match options.validate() {
            Err(ServeError::InvalidOption { option, value, .. }) => (option, value),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_and_extremes_within_bounds_are_valid() {
        ServerOptions::default().validate().unwrap();
        ServerOptions {
            shutdown_grace: Duration::MAX,
            event_queue_len: 1,
            ..ServerOptions::default()
        }
        .validate()
        .unwrap();
        ServerOptions {
            shutdown_grace: Duration::from_nanos(1),
            event_queue_len: MAX_EVENT_QUEUE_LEN,
            ..ServerOptions::default()
        }
        .validate()
        .unwrap();
    }

    #[test]
    fn a_node_id_needs_a_cluster_and_a_lease_its_bounds() {
        let node = tcphub_core::NodeId::new("n1").unwrap();
        let alone = ServerOptions {
            hub: HubConfig {
                node: Some(node.clone()),
                ..HubConfig::default()
            },
            ..ServerOptions::default()
        };
        assert_eq!(refused(alone).0, "hub.node");
        let mut cluster = ClusterOptions::new("redis://127.0.0.1:6379");
        cluster.node = node;
        let joined = ServerOptions {
            cluster: Some(cluster.clone()),
            ..ServerOptions::default()
        };
        joined.validate().unwrap();
        for lease in [Duration::from_millis(299), Duration::from_secs(3601)] {
            let options = ServerOptions {
                cluster: Some(ClusterOptions {
                    lease,
                    ..cluster.clone()
                }),
                ..ServerOptions::default()
            };
            assert_eq!(refused(options).0, "cluster.lease");
        }
        let options = ServerOptions {
            cluster: Some(ClusterOptions {
                name: "a:b".into(),
                ..cluster
            }),
            ..ServerOptions::default()
        };
        assert_eq!(refused(options).0, "cluster.name");
    }

    #[test]
    fn out_of_range_values_are_named() {
        let base = ServerOptions::default;
        for (options, name, value) in [
            (
                ServerOptions {
                    shutdown_grace: Duration::ZERO,
                    ..base()
                },
                "shutdown_grace",
                "0ns",
            ),
            (
                ServerOptions {
                    event_queue_len: 0,
                    ..base()
                },
                "event_queue_len",
                "0",
            ),
            (
                ServerOptions {
                    event_queue_len: usize::MAX,
                    ..base()
                },
                "event_queue_len",
                "18446744073709551615",
            ),
        ] {
            let message = options.validate().unwrap_err().to_string();
            assert_eq!(refused(options), (name, value.to_owned()));
            assert!(
                message.contains(name) && message.contains(value),
                "{message}"
            );
        }
    }
}
