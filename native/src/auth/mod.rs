//! Who decides whether a credential proves the right to an alias.
//!
//! The core asks ([`tcphub_core::Output::Authenticate`]); the server hands
//! the question to the configured [`Authenticator`] on a task of its own,
//! so a slow decision (a password hash, a call to another service) holds
//! up only the session asking, and feeds the answer back to the hub.

mod config_error;
mod file;
mod jwt;
mod permissions;

pub use config_error::AuthConfigError;
pub use file::{
    auth_file, hash_secret, AuthFile, MAX_AUTH_FILE_BYTES, MAX_HASH_LANES, MAX_HASH_MEMORY_KIB,
    MAX_HASH_PASSES,
};
pub use jwt::{
    issue_jwt, jwt_auth, JwtAlgorithm, JwtClaims, JwtOptions, DEFAULT_JWT_LEEWAY, MAX_JWT_LEEWAY,
    MAX_TOKEN_BYTES, MIN_HS256_SECRET_BYTES,
};
pub use permissions::{PermissionSpec, MAX_RELAY_PATTERNS};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use tcphub_core::{AuthDecision, AuthRequest};

/// A boxed future, as an [`Authenticator`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Decides whether a credential proves the right to an alias.
///
/// A closure `Fn(AuthRequest) -> impl Future<Output = AuthDecision>` is
/// one:
///
/// ```
/// use tcphub_native::{Auth, ServerOptions};
/// use tcphub_core::{AuthDecision, AuthRequest, Grant};
///
/// let auth = Auth::from_fn("static token", |request: AuthRequest| async move {
///     if &*request.token == "let-me-in" {
///         AuthDecision::Grant(Grant::allow_all())
///     } else {
///         AuthDecision::Deny
///     }
/// });
/// let options = ServerOptions { auth: Some(auth), ..ServerOptions::default() };
/// # let _ = options;
/// ```
pub trait Authenticator: Send + Sync + 'static {
    /// Decides one request. Runs on a task of its own; a future that
    /// never finishes is cut off by the hub's `auth_timeout`.
    fn authenticate(&self, request: AuthRequest) -> BoxFuture<AuthDecision>;
}

impl<F, Fut> Authenticator for F
where
    F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = AuthDecision> + Send + 'static,
{
    fn authenticate(&self, request: AuthRequest) -> BoxFuture<AuthDecision> {
        Box::pin(self(request))
    }
}

/// The authenticator a server runs with, and a name for logs. Cloning
/// shares it.
#[derive(Clone)]
pub struct Auth {
    name: Arc<str>,
    authenticator: Arc<dyn Authenticator>,
}

impl Auth {
    /// Runs `authenticator`, called `name` in logs (such as `file
    /// /etc/tcphub/auth.toml`).
    pub fn new(name: impl Into<Arc<str>>, authenticator: impl Authenticator) -> Self {
        Auth {
            name: name.into(),
            authenticator: Arc::new(authenticator),
        }
    }

    /// Runs a closure (or any `Fn(AuthRequest) -> Future`).
    pub fn from_fn<F, Fut>(name: impl Into<Arc<str>>, decide: F) -> Self
    where
        F: Fn(AuthRequest) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = AuthDecision> + Send + 'static,
    {
        Auth::new(name, decide)
    }

    /// What it is called in logs.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Asks it about one request.
    pub fn authenticate(&self, request: AuthRequest) -> BoxFuture<AuthDecision> {
        self.authenticator.authenticate(request)
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Auth").field(&self.name).finish()
    }
}

/// Two options are equal when they run the very same authenticator.
impl PartialEq for Auth {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.authenticator, &other.authenticator)
    }
}

impl Eq for Auth {}
