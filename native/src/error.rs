//! Errors of the server library.

use std::net::SocketAddr;

use tcphub_core::HubError;

/// The server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listening socket could not be set up (address in use, no
    /// permission for the port, address not available on this machine).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A setting of the hub is out of range.
    #[error(transparent)]
    Config(#[from] HubError),
    /// A setting of the server ([`ServerOptions`](crate::ServerOptions)) is
    /// out of range.
    #[error("invalid {option} {value}: {reason}")]
    InvalidOption {
        /// The field of `ServerOptions`, such as `shutdown_grace` (the
        /// hub's own settings, such as `max_queued_bytes`, are refused as
        /// [`ServeError::Config`]).
        option: &'static str,
        /// The value given.
        value: String,
        /// What the bound is.
        reason: String,
    },
    /// `--cluster`: Redis could not be reached, or refused this node.
    /// The URL is shown without its password.
    #[error("cannot join the cluster at {url}: {source}")]
    Cluster {
        /// The Redis URL, password hidden.
        url: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A TLS file ([`TlsOptions`](crate::TlsOptions)) cannot be read or
    /// used: the error names the option and the file.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsConfigError),
    /// The task that owns the hub panicked: a bug in tcphub.
    #[error("the hub task failed: {0}")]
    HubTask(String),
}

/// A host command sent through a [`HubHandle`](crate::HubHandle) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The hub refused the command (unknown alias or session id, a message
    /// that is not valid JSON, ...).
    #[error(transparent)]
    Hub(#[from] HubError),
    /// The server has stopped (or was never run); nothing was sent.
    #[error("the server has stopped")]
    Stopped,
}
