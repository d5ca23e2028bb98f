//! How every client of a run reaches the hub: over plain TCP or TLS, and
//! with which credential it syncs. Built once from the options, before
//! the first connection, so a bad file fails the run at once and names
//! the option, not a thousand connections later.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use rustls::pki_types::ServerName;
use tcphub_native::ClientTlsOptions;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::stream::Stream;

/// TLS and credentials, as the command line gives them.
#[derive(Debug, Clone, Default, Args)]
pub struct DialArgs {
    /// Connect over TLS (to a hub serving with `--tls-cert`); tcphub's
    /// protocol only.
    #[arg(long, global = true)]
    pub tls: bool,
    /// Trust the certificates in this PEM file (the hub's own, or its
    /// CA's) instead of the public web's CAs; implies --tls.
    #[arg(long, value_name = "PEM", global = true)]
    pub ca: Option<PathBuf>,
    /// The name the hub's certificate must carry, when it is not the host
    /// of --server (e.g. `localhost` while connecting to 127.0.0.1);
    /// implies --tls.
    #[arg(long, value_name = "NAME", global = true)]
    pub server_name: Option<String>,
    /// Every client syncs with this credential (`"token"` of `sync`), for
    /// a hub serving with authentication.
    #[arg(long, value_name = "TOKEN", global = true)]
    pub token: Option<String>,
    /// A file of `ALIAS TOKEN` lines (blank lines and `#` comments
    /// skipped): the client syncing as ALIAS sends TOKEN. A client not
    /// named in it sends --token, if given.
    #[arg(long, value_name = "FILE", global = true)]
    pub tokens: Option<PathBuf>,
}

impl DialArgs {
    /// Whether the run speaks TLS.
    pub fn tls(&self) -> bool {
        self.tls || self.ca.is_some() || self.server_name.is_some()
    }

    /// Whether the clients send a credential.
    pub fn authenticates(&self) -> bool {
        self.token.is_some() || self.tokens.is_some()
    }
}

/// What a client needs to reach the hub: the TLS connector if any, and
/// the credentials.
#[derive(Debug, Clone, Default)]
pub struct Dial {
    tls: Option<Tls>,
    token: Option<Arc<str>>,
    tokens: Arc<HashMap<String, Arc<str>>>,
}

#[derive(Clone)]
struct Tls {
    connector: TlsConnector,
    options: ClientTlsOptions,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Dial {
    /// Reads the files `args` names (the CA, the tokens).
    pub fn new(args: &DialArgs) -> anyhow::Result<Self> {
        let tls = if args.tls() {
            let options = ClientTlsOptions {
                ca: args.ca.clone(),
                server_name: args.server_name.clone(),
            };
            let config = options.config().map_err(|e| {
                let option = if e.option == "ca" { "--ca" } else { e.option };
                anyhow::anyhow!("{option} {}: {}", e.path.display(), e.reason)
            })?;
            Some(Tls {
                connector: TlsConnector::from(config),
                options,
            })
        } else {
            None
        };
        let tokens = match &args.tokens {
            Some(path) => read_tokens(path)?,
            None => HashMap::new(),
        };
        Ok(Dial {
            tls,
            token: args.token.as_deref().map(Arc::from),
            tokens: Arc::new(tokens),
        })
    }

    /// Whether connections are TLS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The name a TLS connection to `addr` checks the certificate for
    /// (resolved before timing starts, so the handshake figure is the
    /// handshake's alone).
    pub fn server_name(&self, addr: SocketAddr) -> anyhow::Result<Option<ServerName<'static>>> {
        let Some(tls) = &self.tls else {
            return Ok(None);
        };
        let name = tls.options.name_for(&addr.to_string()).map_err(|e| {
            let option = match e.option {
                "server_name" => "--server-name",
                _ => "--server",
            };
            anyhow::anyhow!("{option} {}: {}", e.path.display(), e.reason)
        })?;
        Ok(Some(name))
    }

    /// A TCP connection to `addr` (no Nagle: the benchmarks time small
    /// frames).
    pub async fn tcp(&self, addr: SocketAddr) -> anyhow::Result<TcpStream> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    /// `tcp` as a [`Stream`], after the TLS handshake for `name` when the
    /// run speaks TLS.
    pub async fn secure(
        &self,
        tcp: TcpStream,
        name: Option<ServerName<'static>>,
    ) -> anyhow::Result<Stream> {
        match (&self.tls, name) {
            (Some(tls), Some(name)) => {
                let shown = name.to_str().into_owned();
                let stream = tls.connector.connect(name, tcp).await.with_context(|| {
                    format!(
                        "the TLS handshake with {shown} failed (a hub serving --tls-cert, \
                         with a certificate --ca trusts, for that name?)"
                    )
                })?;
                Ok(Stream::Tls(Box::new(stream)))
            }
            _ => Ok(Stream::Plain(tcp)),
        }
    }

    /// Connects to `addr`, over TLS when the run speaks it.
    pub async fn open(&self, addr: SocketAddr) -> anyhow::Result<Stream> {
        let name = self.server_name(addr)?;
        let tcp = self.tcp(addr).await?;
        self.secure(tcp, name).await
    }

    /// The credential the client syncing as `alias` sends.
    pub fn token_for(&self, alias: &str) -> Option<&str> {
        self.tokens.get(alias).or(self.token.as_ref()).map(|t| &**t)
    }
}

/// The `ALIAS TOKEN` lines of `path`.
fn read_tokens(path: &Path) -> anyhow::Result<HashMap<String, Arc<str>>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--tokens {}: cannot read it", path.display()))?;
    parse_tokens(&text).with_context(|| format!("--tokens {}", path.display()))
}

fn parse_tokens(text: &str) -> anyhow::Result<HashMap<String, Arc<str>>> {
    let mut tokens = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut words = line.split_whitespace();
        let (Some(alias), Some(token), None) = (words.next(), words.next(), words.next()) else {
            bail!("line {}: expected `ALIAS TOKEN`", n + 1);
        };
        if tokens.insert(alias.to_string(), Arc::from(token)).is_some() {
            bail!("line {}: alias {alias:?} named twice", n + 1);
        }
    }
    if tokens.is_empty() {
        bail!("no `ALIAS TOKEN` line in it");
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_read_per_alias_with_the_default_behind() {
        let tokens = parse_tokens("# who\nhs-0 aaa\n\n  hs-1   bbb  \n").unwrap();
        let dial = Dial {
            token: Some("ccc".into()),
            tokens: Arc::new(tokens),
            ..Dial::default()
        };
        assert_eq!(dial.token_for("hs-0"), Some("aaa"));
        assert_eq!(dial.token_for("hs-1"), Some("bbb"));
        assert_eq!(dial.token_for("hs-2"), Some("ccc"));
        assert_eq!(Dial::default().token_for("hs-0"), None);
    }

    #[test]
    fn bad_token_files_name_the_line() {
        let err = parse_tokens("a 1\nb\n").unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        let err = parse_tokens("a 1 2\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = parse_tokens("a 1\na 2\n").unwrap_err().to_string();
        assert!(err.contains("named twice"), "{err}");
        assert!(parse_tokens("# nothing\n").is_err());
    }

    #[test]
    fn a_missing_ca_is_named() {
        let args = DialArgs {
            ca: Some("/nonexistent/ca.pem".into()),
            ..DialArgs::default()
        };
        let err = Dial::new(&args).unwrap_err().to_string();
        assert!(err.starts_with("--ca /nonexistent/ca.pem"), "{err}");
    }
}
