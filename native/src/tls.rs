//! TLS settings of the server and the client, and the rustls
//! configurations built from their PEM files.
//!
//! rustls with the ring provider, named explicitly rather than taken from
//! the process default, so another crate in the same program that enables
//! aws-lc-rs cannot make the choice ambiguous. Files are read once, when
//! the server binds or the client connects; a file that cannot be used is
//! an error naming the option and the file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// Default time a TLS client has to finish its handshake.
pub const DEFAULT_TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The listener speaks TLS with this certificate and key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the server's certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// A connection that has not finished its handshake by then is
    /// dropped. Until it finishes it holds no session and no place under
    /// the session limit.
    pub handshake_timeout: Duration,
}

impl TlsOptions {
    /// TLS with `cert` and `key` and the default handshake timeout.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        TlsOptions {
            cert: cert.into(),
            key: key.into(),
            handshake_timeout: DEFAULT_TLS_HANDSHAKE_TIMEOUT,
        }
    }
}

/// How a client checks the hub's certificate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsOptions {
    /// PEM file with the certificates to trust (the hub's own, or the CA
    /// that signed it); `None` trusts the public web's CAs (Mozilla's list).
    pub ca: Option<PathBuf>,
    /// The name the certificate must carry; `None` takes the host of the
    /// address connected to (an IP address then has to be among the
    /// certificate's IP SANs).
    pub server_name: Option<String>,
}

impl ClientTlsOptions {
    /// The rustls configuration: the roots to trust, read from `ca` now.
    /// For clients of their own (the Python client drives rustls itself).
    pub fn config(&self) -> Result<Arc<ClientConfig>, TlsConfigError> {
        client_config(self)
    }

    /// The name to verify when connecting to `addr` (`host:port`).
    pub fn name_for(&self, addr: &str) -> Result<ServerName<'static>, TlsConfigError> {
        server_name(self, addr)
    }
}

/// A TLS file or setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{option} {}: {reason}", path.display())]
pub struct TlsConfigError {
    /// The option that named the file, such as `--tls-cert`/`tls_cert`
    /// (given as the library field: `tls.cert`, `tls.key`, `ca`).
    pub option: &'static str,
    /// The file, or the value, refused.
    pub path: PathBuf,
    /// What is wrong with it.
    pub reason: String,
}

fn refuse(option: &'static str, path: &Path, reason: impl ToString) -> TlsConfigError {
    TlsConfigError {
        option,
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Every certificate in the PEM file at `path`; at least one.
fn certificates(
    option: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    std::fs::metadata(path).map_err(|e| refuse(option, path, format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| refuse(option, path, format!("not a PEM file: {e}")))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| refuse(option, path, format!("not a PEM file: {e}")))?;
    if certs.is_empty() {
        return Err(refuse(option, path, "no CERTIFICATE in it"));
    }
    Ok(certs)
}

/// The server's rustls configuration from `options`' files.
pub(crate) fn server_config(options: &TlsOptions) -> Result<Arc<ServerConfig>, TlsConfigError> {
    let certs = certificates("tls.cert", &options.cert)?;
    let key_path = &options.key;
    std::fs::metadata(key_path)
        .map_err(|e| refuse("tls.key", key_path, format!("cannot read it: {e}")))?;
    let key = PrivateKeyDer::from_pem_file(key_path)
        .map_err(|e| refuse("tls.key", key_path, format!("no private key in it: {e}")))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| refuse("tls.cert", &options.cert, e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            refuse(
                "tls.key",
                key_path,
                format!("does not fit the certificate: {e}"),
            )
        })?;
    Ok(Arc::new(config))
}

/// A client's rustls configuration: the roots it trusts.
pub(crate) fn client_config(
    options: &ClientTlsOptions,
) -> Result<Arc<ClientConfig>, TlsConfigError> {
    let mut roots = RootCertStore::empty();
    match &options.ca {
        Some(path) => {
            for cert in certificates("ca", path)? {
                roots
                    .add(cert)
                    .map_err(|e| refuse("ca", path, format!("not a usable certificate: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| refuse("ca", Path::new(""), e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name to verify: `server_name` if given, else the host part of
/// `addr` (`host:port`, `[v6]:port`).
pub(crate) fn server_name(
    options: &ClientTlsOptions,
    addr: &str,
) -> Result<ServerName<'static>, TlsConfigError> {
    let (option, name) = match &options.server_name {
        Some(name) => ("server_name", name.as_str()),
        None => {
            let host = match addr.rsplit_once(':') {
                Some((host, port)) if port.parse::<u16>().is_ok() => host,
                _ => addr,
            };
            ("server", host.trim_start_matches('[').trim_end_matches(']'))
        }
    };
    ServerName::try_from(name.to_owned()).map_err(|e| {
        refuse(
            option,
            Path::new(name),
            format!("not a host name or IP address: {e}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_name_defaults_to_the_host_of_the_address() {
        let none = ClientTlsOptions::default();
        let name = |addr| server_name(&none, addr).unwrap().to_str().into_owned();
        assert_eq!(name("127.0.0.1:9000"), "127.0.0.1");
        assert_eq!(name("[::1]:9000"), "::1");
        assert_eq!(name("hub.example:9000"), "hub.example");
        let given = ClientTlsOptions {
            server_name: Some("localhost".into()),
            ..ClientTlsOptions::default()
        };
        assert_eq!(
            server_name(&given, "127.0.0.1:1").unwrap().to_str(),
            "localhost"
        );
    }

    #[test]
    fn missing_files_are_named() {
        let options = TlsOptions::new("/nonexistent/cert.pem", "/nonexistent/key.pem");
        let err = server_config(&options).unwrap_err();
        assert_eq!(err.option, "tls.cert");
        assert!(err.to_string().contains("/nonexistent/cert.pem"), "{err}");
    }
}
