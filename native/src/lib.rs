//! tcphub's tokio server and clients.
//!
//! The server drives the sans-IO [`tcphub_core::Hub`] over real TCP: one
//! task owns the hub, each connection has a reader and a writer, and a
//! host program talks to the hub through a [`HubHandle`] and reads its
//! events from [`HostEvents`]. The `tcphub` binary and the Python module
//! both run this same server.
//!
//! ```no_run
//! use tcphub_native::{Server, ServerOptions};
//! use tcphub_core::RawValue;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let options = ServerOptions { listen: "127.0.0.1:0".parse()?, ..ServerOptions::default() };
//! let (server, hub, mut events) = Server::bind(options).await?;
//! println!("listening on {}", server.local_addr());
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let serving = tokio::spawn(server.run(async { let _ = stopped.await; }));
//! while let Some(event) = events.recv().await {
//!     if let tcphub_core::Event::Synced { alias, .. } = event {
//!         hub.send_to_alias(alias.to_string(), RawValue::from_string("\"welcome\"".into())?).await?;
//!         break;
//!     }
//! }
//! let _ = stop.send(());
//! serving.await??;
//! # Ok(()) }
//! ```

mod auth;
pub mod client;
mod cluster;
mod error;
pub mod logging;
pub mod metrics;
mod options;
mod random;
mod server;
mod tls;

pub use auth::{
    auth_file, hash_secret, issue_jwt, jwt_auth, AuthConfigError, AuthFile, JwtAlgorithm,
    JwtClaims, JwtOptions, PermissionSpec, DEFAULT_JWT_LEEWAY, MAX_AUTH_FILE_BYTES, MAX_HASH_LANES,
    MAX_HASH_MEMORY_KIB, MAX_HASH_PASSES, MAX_JWT_LEEWAY, MAX_RELAY_PATTERNS, MAX_TOKEN_BYTES,
    MIN_HS256_SECRET_BYTES,
};
pub use auth::{Auth, Authenticator, BoxFuture};
pub use cluster::{
    default_node_id, ClusterOptions, DEFAULT_CLUSTER_NAME, DEFAULT_LEASE, MAX_LEASE, MIN_LEASE,
    STREAM_MAXLEN,
};
pub use error::{CommandError, ServeError};
pub use options::{
    ServerOptions, DEFAULT_EVENT_QUEUE_LEN, DEFAULT_LISTEN, DEFAULT_SHUTDOWN_GRACE,
    MAX_EVENT_QUEUE_LEN,
};
pub use random::os_random_u64;
pub use server::{HostEvents, HubHandle, RoomEntry, Server};
pub use tls::{ClientTlsOptions, TlsConfigError, TlsOptions, DEFAULT_TLS_HANDSHAKE_TIMEOUT};
