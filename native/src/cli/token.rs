//! `tcphub token`: signs a JWT for an alias, for tests, operations and the
//! docs, so that issuing credentials needs no other tool.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tcphub_core::Alias;
use tcphub_native::{issue_jwt, AuthConfigError, JwtAlgorithm, JwtClaims, PermissionSpec};

use crate::units::parse_duration;

#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  \
    tcphub token --alias Client-1 --key jwt.secret --algorithm hs256\n  \
    tcphub token --alias Client-1 --key jwt-private.pem --algorithm eddsa --expires-in 15m \
    --relay 'Client-*' --no-broadcast\n\n\
    The token is printed on stdout; a client sends it with `--token` (or \
    TCPHUB_TOKEN). A hub given --auth-jwt-key (the same HS256 secret, or the \
    public key of the EdDSA/RS256 pair) and the same --auth-jwt-algorithm \
    accepts it.")]
pub struct TokenArgs {
    /// The alias the token grants (its `sub`).
    #[arg(long)]
    alias: String,
    /// The HS256 secret, or the EdDSA/RS256 private key (PEM), to sign with.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The algorithm to sign with.
    #[arg(long, value_name = "hs256|eddsa|rs256", value_parser = parse_algorithm)]
    algorithm: JwtAlgorithm,
    /// How long from now it is good for (`exp`), e.g. 15m, 1h, 30d... in h.
    #[arg(long, value_name = "D", default_value = "1h", value_parser = parse_lifetime)]
    expires_in: Duration,
    /// Not good until this long from now (`nbf`), e.g. 10m.
    #[arg(long, value_name = "D", value_parser = parse_lifetime)]
    not_before: Option<Duration>,
    /// Its `aud`, for a hub started with --auth-jwt-audience.
    #[arg(long, value_name = "AUD")]
    audience: Option<String>,
    /// Its `iss`, for a hub started with --auth-jwt-issuer.
    #[arg(long, value_name = "ISS")]
    issuer: Option<String>,
    /// May relay only to aliases matching PATTERN (`*` and `?`); repeat for
    /// several. Without it (or --no-relay), to any alias.
    #[arg(long, value_name = "PATTERN")]
    relay: Vec<String>,
    /// May relay to no alias.
    #[arg(long, conflicts_with = "relay")]
    no_relay: bool,
    /// May not send to everyone (`*`).
    #[arg(long)]
    no_broadcast: bool,
    /// May not list who is connected, nor watch.
    #[arg(long)]
    no_list: bool,
}

pub fn run(args: TokenArgs) -> Result<ExitCode, String> {
    Alias::new(&args.alias).map_err(|e| format!("--alias: {}", e.message))?;
    let permissions = PermissionSpec {
        relay: match (args.no_relay, args.relay.is_empty()) {
            (true, _) => Some(Vec::new()),
            (false, true) => None,
            (false, false) => Some(args.relay.clone()),
        },
        broadcast: args.no_broadcast.then_some(false),
        list: args.no_list.then_some(false),
    };
    // Checked as the hub will check it, so a bad pattern fails here. Its
    // errors start with the field, `relay`: the option is `--relay`.
    permissions.permissions().map_err(|e| format!("--{e}"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| "the system clock is before 1970".to_owned())?
        .as_secs();
    let claims = JwtClaims {
        sub: args.alias.clone(),
        exp: now.saturating_add(args.expires_in.as_secs()),
        nbf: args.not_before.map(|d| now.saturating_add(d.as_secs())),
        iat: Some(now),
        aud: args.audience.clone(),
        iss: args.issuer.clone(),
        tcphub: (!permissions.is_empty()).then_some(permissions),
    };
    let token = issue_jwt(args.algorithm, &args.key, &claims).map_err(|e| match e {
        AuthConfigError::File { path, problem, .. } => {
            format!("--key {}: {problem}", path.display())
        }
        other => other.to_string(),
    })?;
    println!("{token}");
    Ok(ExitCode::SUCCESS)
}

fn parse_algorithm(text: &str) -> Result<JwtAlgorithm, String> {
    text.parse()
}

/// A lifetime in whole seconds (as JWT times are), at most 100 years.
fn parse_lifetime(text: &str) -> Result<Duration, String> {
    const MAX: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let lifetime = parse_duration(text)?;
    if lifetime > MAX {
        return Err("must be at most 100 years".into());
    }
    Ok(lifetime)
}
