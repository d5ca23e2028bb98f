//! `tcphub serve`'s authentication options: `--auth FILE` or
//! `--auth-jwt-key FILE` (one way at a time), and `--auth-timeout`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tcphub_native::{jwt_auth, Auth, AuthConfigError, AuthFile, JwtAlgorithm, JwtOptions};

use crate::units::parse_duration;

/// The longest `--auth-timeout`: a session is held (and its input kept)
/// while its credential is checked, so not for ever.
const MAX_AUTH_TIMEOUT: Duration = Duration::from_secs(3600);

#[derive(Debug, clap::Args)]
pub struct AuthArgs {
    /// Aliases need a credential: the secret listed for them, hashed, in
    /// this TOML file (see `tcphub hash-secret` and docs/security.md). A
    /// file with any mistake exits 1 before listening.
    #[arg(
        long,
        value_name = "FILE",
        env = "TCPHUB_AUTH",
        conflicts_with = "auth_jwt_key"
    )]
    auth: Option<PathBuf>,
    /// Aliases need a credential: a JWT whose `sub` is the alias, checked
    /// with this key: the HS256 secret, or the EdDSA/RS256 public key
    /// (PEM). Needs --auth-jwt-algorithm.
    #[arg(
        long,
        value_name = "FILE",
        env = "TCPHUB_AUTH_JWT_KEY",
        requires = "auth_jwt_algorithm"
    )]
    auth_jwt_key: Option<PathBuf>,
    /// The one algorithm JWTs may be signed with.
    #[arg(
        long,
        value_name = "hs256|eddsa|rs256",
        value_parser = parse_algorithm,
        env = "TCPHUB_AUTH_JWT_ALGORITHM",
        requires = "auth_jwt_key"
    )]
    auth_jwt_algorithm: Option<JwtAlgorithm>,
    /// Refuse JWTs whose `aud` does not name this (without it, a JWT with
    /// any `aud` is refused: it was meant for someone else).
    #[arg(
        long,
        value_name = "AUD",
        env = "TCPHUB_AUTH_JWT_AUDIENCE",
        requires = "auth_jwt_key"
    )]
    auth_jwt_audience: Option<String>,
    /// Refuse JWTs whose `iss` is not this.
    #[arg(
        long,
        value_name = "ISS",
        env = "TCPHUB_AUTH_JWT_ISSUER",
        requires = "auth_jwt_key"
    )]
    auth_jwt_issuer: Option<String>,
    /// How far a JWT's `exp` and `nbf` may be off, for clocks that
    /// disagree (0s to 10m).
    #[arg(
        long,
        value_name = "D",
        default_value = "5s",
        value_parser = parse_leeway,
        env = "TCPHUB_AUTH_JWT_LEEWAY"
    )]
    auth_jwt_leeway: Duration,
    /// How long a credential may take to be checked before the client is
    /// told `unauthorized` (1ms to 1h).
    #[arg(
        long,
        value_name = "D",
        default_value = "10s",
        value_parser = parse_auth_timeout,
        env = "TCPHUB_AUTH_TIMEOUT"
    )]
    pub auth_timeout: Duration,
}

/// The authenticator `serve` runs with, and the auth file behind it (to
/// reload on SIGHUP), if it is one.
pub struct Authentication {
    pub auth: Auth,
    pub file: Option<AuthFile>,
}

impl AuthArgs {
    /// The authenticator the options ask for, if any; the error names the
    /// option as typed, the file and the problem.
    pub fn build(&self) -> Result<Option<Authentication>, String> {
        if let Some(path) = &self.auth {
            let file = AuthFile::load(path).map_err(|e| as_typed(&e))?;
            return Ok(Some(Authentication {
                auth: file.auth(),
                file: Some(file),
            }));
        }
        let (Some(key), Some(algorithm)) = (&self.auth_jwt_key, self.auth_jwt_algorithm) else {
            // clap requires the key and the algorithm together.
            return Ok(None);
        };
        let auth = jwt_auth(JwtOptions {
            audience: self.auth_jwt_audience.clone(),
            issuer: self.auth_jwt_issuer.clone(),
            leeway: self.auth_jwt_leeway,
            ..JwtOptions::new(algorithm, key)
        })
        .map_err(|e| as_typed(&e))?;
        Ok(Some(Authentication { auth, file: None }))
    }
}

/// Reads `file` again on each SIGHUP, keeping the previous one if the new
/// one has a mistake. Installed only with `--auth`: otherwise SIGHUP stops
/// the hub, as it always did.
pub fn reload_on_hangup(file: AuthFile) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => {
                tracing::warn!(error = %e, "cannot handle SIGHUP: the auth file will not be reloaded");
                return;
            }
        };
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                let reloading = file.clone();
                match tokio::task::spawn_blocking(move || reloading.reload()).await {
                    Ok(Ok(aliases)) => tracing::info!(
                        path = %file.path().display(),
                        aliases,
                        "auth file reloaded"
                    ),
                    Ok(Err(e)) => tracing::error!(
                        "auth file not reloaded, the previous one stays: {}",
                        as_typed(&e)
                    ),
                    Err(e) => tracing::error!(error = %e, "auth file reload failed"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    let _ = file;
}

/// `error`, naming the option as typed on the command line.
fn as_typed(error: &AuthConfigError) -> String {
    let flag = match error.option() {
        "auth_file" => "--auth",
        "jwt_key" => "--auth-jwt-key",
        "jwt_leeway" => "--auth-jwt-leeway",
        "jwt_audience" => "--auth-jwt-audience",
        "jwt_issuer" => "--auth-jwt-issuer",
        other => other,
    };
    match error {
        AuthConfigError::File { path, problem, .. } => {
            format!("{flag} {}: {problem}", path.display())
        }
        AuthConfigError::Setting { problem, .. } => format!("{flag}: {problem}"),
        other => other.to_string(),
    }
}

/// Says so when the hub can be reached from other machines and anyone
/// reaching it may claim any alias.
pub fn warn_if_exposed(addr: SocketAddr, auth: Option<&Auth>) {
    if auth.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            %addr,
            "listening beyond loopback without authentication: anyone who can reach this port \
             can claim any alias; turn it on with --auth FILE or --auth-jwt-key FILE (see \
             docs/security.md)"
        );
    }
}

fn parse_algorithm(text: &str) -> Result<JwtAlgorithm, String> {
    text.parse()
}

fn parse_leeway(text: &str) -> Result<Duration, String> {
    let leeway = parse_duration(text)?;
    if leeway > tcphub_native::MAX_JWT_LEEWAY {
        return Err(format!(
            "must be at most {:?}",
            tcphub_native::MAX_JWT_LEEWAY
        ));
    }
    Ok(leeway)
}

fn parse_auth_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if timeout < Duration::from_millis(1) || timeout > MAX_AUTH_TIMEOUT {
        return Err(format!("must be 1ms to {MAX_AUTH_TIMEOUT:?}"));
    }
    Ok(timeout)
}
