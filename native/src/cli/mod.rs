//! The command line: `tcphub serve | connect | sub | send | request |
//! reply | list | hash-secret | token | stats`.

mod connect;
mod display;
mod exit;
mod hash_secret;
mod line;
mod list;
mod message;
mod reply;
mod request;
mod send;
mod serve;
mod serve_auth;
mod stats;
mod sub;
mod token;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use tcphub_native::logging::{self, LogFormat};

/// The address clients connect to unless told otherwise.
const DEFAULT_SERVER: &str = "127.0.0.1:9000";

#[derive(Debug, Parser)]
#[command(
    name = "tcphub",
    version,
    about = "A TCP hub where named clients exchange JSON messages",
    long_about = "A TCP hub where named clients exchange JSON messages.\n\n\
        Start a hub with `tcphub serve`, then from other terminals join it with \
        `tcphub connect --name Client-1` (add `--join lobby` to be in a room), send \
        one message with `tcphub send --to Client-1 hello` (or `--room lobby`), \
        print what arrives as JSON lines with `tcphub sub`, or see who is there \
        with `tcphub list`. `tcphub reply --name clock --command date` answers \
        requests, which `tcphub request clock 'what time is it?'` sends.\n\n\
        Clients send JSON objects over TCP, one after another (a newline between \
        them is optional; the hub's replies are one per line): \
        {\"type\":\"sync\",\"clientName\":\"Client-1\"} claims an alias, \
        {\"type\":\"info\",\"to\":\"Client-2\",\"message\":\"hi\"} sends to an alias \
        (\"*\" for everyone, no \"to\" for the host), \
        {\"type\":\"join\",\"room\":\"lobby\"} joins a room and \
        {\"type\":\"info\",\"room\":\"lobby\",\"message\":\"hi\"} sends to its members.",
    after_help = "Every option can also be set by the environment variable shown \
        next to it. Run `tcphub <COMMAND> --help` for a command's options."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log detail: -v debug (one line per message), -vv trace. RUST_LOG,
    /// when set, takes precedence (e.g. RUST_LOG=tcphub_native=debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Log line format on stderr.
    #[arg(
        long,
        value_enum,
        default_value_t = LogFormat::Human,
        env = "TCPHUB_LOG_FORMAT",
        global = true
    )]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub.
    // Boxed: its options are several times the size of any other command's.
    Serve(Box<serve::ServeArgs>),
    /// Join the hub under an alias and chat: type lines to send, see what arrives.
    Connect(connect::ConnectArgs),
    /// Listen, printing what arrives as one JSON object per line (for jq).
    Sub(sub::SubArgs),
    /// Send one message (or one per stdin line) and exit, non-zero with
    /// the hub's error.
    Send(send::SendArgs),
    /// Ask an alias (or the host) and print its reply; exit 4 on a timeout.
    Request(request::RequestArgs),
    /// Claim an alias and answer the requests sent to it, with a message or
    /// a shell command's output.
    Reply(reply::ReplyArgs),
    /// Show who is connected: session ids and aliases.
    List(list::ListArgs),
    /// Hash a secret read on stdin for a `serve --auth` file (argon2id).
    HashSecret(hash_secret::HashSecretArgs),
    /// Sign a JWT granting an alias, for a hub with --auth-jwt-key.
    Token(token::TokenArgs),
    /// Show a hub's metrics (from `serve --metrics`) for a person.
    Stats(stats::StatsArgs),
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    logging::try_init(cli.log_format, cli.verbose);
    let runtime = runtime(matches!(cli.command, Command::Serve(_)));
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(*args).await,
            Command::Connect(args) => connect::run(args).await,
            Command::Sub(args) => sub::run(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Request(args) => request::run(args).await,
            Command::Reply(args) => reply::run(args).await,
            Command::List(args) => list::run(args).await,
            Command::HashSecret(args) => hash_secret::run(args),
            Command::Token(args) => token::run(args),
            Command::Stats(args) => stats::run(args).await,
        }
    });
    // A read of stdin may still be blocked in its thread; dropping the
    // runtime normally would wait for it forever.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(message) => {
            display::print_failure(&message);
            ExitCode::FAILURE
        }
    }
}

/// The server uses every core; a client needs one thread.
fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    let mut builder = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

/// `--token`, the credential the client commands sign in with.
#[derive(Debug, clap::Args)]
struct TokenArg {
    /// The credential for the alias (--name), on a hub with
    /// authentication: its secret, or a JWT (prefer the environment
    /// variable: a command line is visible to other users of the machine).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "TCPHUB_TOKEN",
        hide_env_values = true,
        requires = "name"
    )]
    token: Option<String>,
}

impl TokenArg {
    fn get(&self) -> Option<&str> {
        self.token.as_deref()
    }
}

/// How long a client command waits for the hub to answer its `bye`.
const BYE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Says `bye` and waits (briefly) for the hub's, so the session ends
/// cleanly: the hub logs a client bye, not a dropped connection, and sends
/// no last will.
async fn leave(client: tcphub_native::client::Client) {
    let _ = tokio::time::timeout(BYE_WAIT, client.bye()).await;
}

/// `--count`: one or more.
fn parse_count(text: &str) -> Result<usize, String> {
    crate::units::count_within(text, 1, usize::MAX)
}

/// The `--server` and TLS options shared by the client commands.
#[derive(Debug, clap::Args)]
struct ServerArg {
    /// Address of the hub.
    #[arg(long, short = 's', default_value = DEFAULT_SERVER, env = "TCPHUB_SERVER")]
    server: String,
    /// Connect over TLS (to a hub serving with --tls-cert).
    #[arg(long, env = "TCPHUB_TLS")]
    tls: bool,
    /// Trust the certificates in this PEM file (the hub's own, or its
    /// CA's) instead of the public web's CAs; implies --tls.
    #[arg(long, value_name = "PEM", env = "TCPHUB_CA")]
    ca: Option<PathBuf>,
    /// The name the hub's certificate must carry, when it is not the host
    /// of --server (e.g. `localhost` while connecting to 127.0.0.1);
    /// implies --tls.
    #[arg(long, value_name = "NAME", env = "TCPHUB_SERVER_NAME")]
    server_name: Option<String>,
}

impl ServerArg {
    async fn connect(&self) -> Result<tcphub_native::client::Client, String> {
        use tcphub_native::client::{Client, ClientError};
        let tls = self.tls || self.ca.is_some() || self.server_name.is_some();
        let connected = if tls {
            let options = tcphub_native::ClientTlsOptions {
                ca: self.ca.clone(),
                server_name: self.server_name.clone(),
            };
            Client::connect_tls(&self.server, &options).await
        } else {
            Client::connect(&self.server)
                .await
                .map_err(ClientError::from)
        };
        connected.map_err(|e| match e {
            ClientError::TlsConfig(e) => {
                let option = match e.option {
                    "server_name" => "--server-name",
                    "server" => "--server",
                    _ => "--ca",
                };
                format!("{option} {}: {}", e.path.display(), e.reason)
            }
            e => {
                let over = if tls { " over TLS" } else { "" };
                format!(
                    "cannot connect to {}{over}: {e}{}",
                    self.server,
                    connect_hint(&e, tls)
                )
            }
        })
    }
}

impl ServerArg {
    /// Connects and, when `name` is given, syncs it with the credential:
    /// how every client command but `connect` starts.
    async fn connect_as(
        &self,
        name: Option<&str>,
        token: &TokenArg,
    ) -> Result<tcphub_native::client::Client, String> {
        let mut client = self.connect().await?;
        if let Some(name) = name {
            client
                .sync_with_token(name, token.get(), None)
                .await
                .map_err(|e| format!("cannot sync alias {name:?}: {e}"))?;
        }
        Ok(client)
    }
}

/// What to check after a failed connection, when the failure says: a
/// refused connection means nothing listens there; a bad address is a
/// mistake in --server. A name that does not resolve, or a network that
/// cannot be reached, speaks for itself.
fn connect_hint(error: &tcphub_native::client::ClientError, tls: bool) -> &'static str {
    use std::io::ErrorKind;
    use tcphub_native::client::ClientError;
    let ClientError::Io(e) = error else {
        return "";
    };
    match e.kind() {
        ErrorKind::ConnectionRefused if tls => " (is `tcphub serve --tls-cert ...` running there?)",
        ErrorKind::ConnectionRefused => " (is `tcphub serve` running there?)",
        ErrorKind::InvalidInput => " (--server takes HOST:PORT, such as 127.0.0.1:9000)",
        // rustls refused the hub's certificate.
        ErrorKind::InvalidData if tls => {
            " (does --ca trust the hub's certificate, for the name connected to?)"
        }
        _ => "",
    }
}
