//! Which authenticator a `Server` runs, from its options as Python names
//! them: none, the host program (`authentication=True`), a file of hashed
//! secrets (`auth_file=`) or signed tokens (`auth_jwt_key=` and its
//! companions). The file and the key are read here, before the server
//! listens, so a mistake is a `ConfigError` naming the option and the file
//! rather than a client locked out later.

use std::path::PathBuf;
use std::time::Duration;

use pyo3::prelude::*;
use tcphub_native::{
    jwt_auth, Auth, AuthConfigError, AuthFile, JwtAlgorithm, JwtOptions, DEFAULT_JWT_LEEWAY,
};

use crate::errors::error;
use crate::options::Seconds;

/// The authentication options as given, before any check.
#[derive(Debug, Default)]
pub struct AuthOptions {
    /// The host program decides (`authentication=True`).
    pub host: bool,
    pub file: Option<PathBuf>,
    pub jwt_key: Option<PathBuf>,
    pub jwt_algorithm: Option<String>,
    pub jwt_audience: Option<String>,
    pub jwt_issuer: Option<String>,
    pub jwt_leeway: Option<Seconds>,
}

/// Who checks credentials.
pub enum Checker {
    /// Nobody: authentication is off.
    Off,
    /// The host program, through `host_auth`.
    Host,
    /// A native authenticator, built and ready, and the auth file behind
    /// it (to read again on `reload_auth_file`), if it is one.
    Native(Auth, Option<AuthFile>),
}

/// The one way to check credentials the options ask for, built. More than
/// one, or a companion option without its main one, is a `ConfigError`
/// naming them.
pub fn checker(py: Python<'_>, o: AuthOptions) -> PyResult<Checker> {
    let chosen: Vec<&str> = [
        (o.host, "authentication=True (or authenticate=)"),
        (o.file.is_some(), "auth_file"),
        (o.jwt_key.is_some(), "auth_jwt_key"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    if chosen.len() > 1 {
        return Err(config(
            py,
            format!(
                "a server checks credentials one way: {} were given together",
                chosen.join(" and ")
            ),
        ));
    }
    if o.jwt_key.is_none() {
        let companions = [
            ("auth_jwt_algorithm", o.jwt_algorithm.is_some()),
            ("auth_jwt_audience", o.jwt_audience.is_some()),
            ("auth_jwt_issuer", o.jwt_issuer.is_some()),
            ("auth_jwt_leeway", o.jwt_leeway.is_some()),
        ];
        if let Some((name, _)) = companions.iter().find(|(_, given)| *given) {
            return Err(config(py, format!("{name} needs auth_jwt_key")));
        }
    }
    if o.host {
        return Ok(Checker::Host);
    }
    if let Some(path) = o.file {
        // Reading and checking every hash takes a moment: without the GIL.
        let file = py
            .detach(|| AuthFile::load(&path))
            .map_err(|e| auth_config_error(py, e))?;
        return Ok(Checker::Native(file.auth(), Some(file)));
    }
    let Some(key_path) = o.jwt_key else {
        return Ok(Checker::Off);
    };
    // No default: a public key read as an HS256 secret would accept
    // tokens anyone holding the public key can sign.
    let algorithm: JwtAlgorithm = match o.jwt_algorithm.as_deref() {
        None => {
            return Err(config(
                py,
                "auth_jwt_key needs auth_jwt_algorithm: 'hs256', 'eddsa' or 'rs256'",
            ))
        }
        Some(name) => name.parse().map_err(|_| {
            config(
                py,
                format!("auth_jwt_algorithm must be 'hs256', 'eddsa' or 'rs256', got {name:?}"),
            )
        })?,
    };
    let leeway = match o.jwt_leeway {
        None => DEFAULT_JWT_LEEWAY,
        Some(secs) => Duration::try_from_secs_f64(secs.0).map_err(|_| {
            config(
                py,
                format!(
                    "auth_jwt_leeway must be a finite number of seconds, 0 or more, got {secs}"
                ),
            )
        })?,
    };
    let options = JwtOptions {
        audience: o.jwt_audience,
        issuer: o.jwt_issuer,
        leeway,
        ..JwtOptions::new(algorithm, key_path)
    };
    let auth = py
        .detach(|| jwt_auth(options))
        .map_err(|e| auth_config_error(py, e))?;
    Ok(Checker::Native(auth, None))
}

/// Reads the auth file again: the number of aliases it lists now. On error
/// the file loaded before stays in use.
pub fn reload(py: Python<'_>, file: &AuthFile) -> PyResult<usize> {
    py.detach(|| file.reload())
        .map_err(|e| auth_config_error(py, e))
}

fn config(py: Python<'_>, message: impl Into<String>) -> PyErr {
    error(py, "ConfigError", message)
}

/// The option as the Python argument is named.
fn python_option(native: &str) -> &str {
    match native {
        "jwt_key" => "auth_jwt_key",
        "jwt_leeway" => "auth_jwt_leeway",
        "jwt_audience" => "auth_jwt_audience",
        "jwt_issuer" => "auth_jwt_issuer",
        other => other,
    }
}

/// A `ConfigError` naming the option as Python names it, and the file.
fn auth_config_error(py: Python<'_>, err: AuthConfigError) -> PyErr {
    let message = match &err {
        AuthConfigError::File {
            option,
            path,
            problem,
        } => format!("{} {}: {problem}", python_option(option), path.display()),
        AuthConfigError::Setting { option, problem } => {
            format!("{}: {problem}", python_option(option))
        }
        // A kind of error this crate does not know yet: its own words.
        _ => err.to_string(),
    };
    config(py, message)
}
