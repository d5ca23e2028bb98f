//! `tcphub serve`: runs the hub until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use tcphub_core::{
    Alias, AliasPolicy, Event, HubConfig, NodeId, RawValue, RelayTarget, ReplyAddress,
    BROADCAST_TARGET,
};
use tcphub_native::{
    default_node_id, ClusterOptions, CommandError, HostEvents, HubHandle, ServeError, Server,
    ServerOptions, TlsOptions,
};
use tokio::io::AsyncBufReadExt;

use super::display;
use super::line::{ConsoleLine, SERVE_COMMANDS};
use super::message::typed_message;
use super::serve_auth::{reload_on_hangup, warn_if_exposed, AuthArgs};
use crate::units::{bytes_within, count_within, parse_optional_duration, positive_duration};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Messages sent to the host (an `info` without `to`) are printed on \
    stdout as `[alias] text`; logs go to stderr. With --observe, every message \
    clients relay to each other is printed too, as `[Client-1 -> Client-2] text`, \
    `[Client-1 -> #lobby] text` or `[Client-1 -> *] text` (a last will as \
    `[Client-2 -> #lobby] (last will) text`); with --observe or --console, room \
    joins and leaves as `Client-1 joined #lobby`.\n\n\
    With --console, lines typed on stdin are host commands, read as `tcphub connect` \
    reads its lines: `* text` or plain text broadcasts, `@alias text` sends to one \
    alias, `#room text` to a room's members, `//text` broadcasts `/text`, `/list` \
    shows the sessions and `/list ROOM` a room's members, `/rooms` the rooms, \
    `/join SESSION_ID ROOM` puts a session in a room and `/leave SESSION_ID ROOM` \
    takes it out, `/close SESSION_ID` closes one, `/reply REPLYTO MESSAGE` answers \
    a request; any other `/command` is refused.\n\n\
    A request to the host (a `request` without `to`) is printed as \
    `[alias] (request 2.1) text`; with --console, `/reply 2.1 MESSAGE` answers it \
    (MESSAGE: valid JSON is sent as that value, other text as text). Without \
    --console nothing can answer, so such requests end with `request_timeout`."
)]
pub struct ServeArgs {
    // Help given as a string: `[::1]` in a doc comment reads as a doc link.
    #[arg(
        help = "Address to listen on (IPv6 too, e.g. [::1]:9000; port 0 picks a free port)",
        long,
        short = 'l',
        default_value = "127.0.0.1:9000",
        env = "TCPHUB_LISTEN"
    )]
    listen: SocketAddr,
    /// What happens when a client claims an alias another session holds.
    #[arg(long, value_enum, default_value_t = PolicyArg::Takeover, env = "TCPHUB_ALIAS_POLICY")]
    alias_policy: PolicyArg,
    /// Largest frame a client may send (e.g. 65536, 64KiB, 1M; 256 bytes to
    /// 16MiB); a larger one closes that session.
    #[arg(long, default_value = "64KiB", value_parser = parse_max_frame_bytes, env = "TCPHUB_MAX_FRAME_BYTES")]
    max_frame_bytes: usize,
    /// Most sessions open at once (1 to 1073741824); a connection beyond that is told
    /// `too_many_sessions` and closed.
    #[arg(long, default_value_t = tcphub_core::DEFAULT_MAX_SESSIONS, value_parser = parse_max_sessions, env = "TCPHUB_MAX_SESSIONS")]
    max_sessions: usize,
    /// Close sessions that send nothing for this long (e.g. 30s, 5m; `off` or `inf`).
    #[arg(long, default_value = "off", value_parser = parse_optional_timeout, env = "TCPHUB_IDLE_TIMEOUT")]
    idle_timeout: OptionalTimeout,
    /// Let clients send to each other (`on`) or only to the host (`off`).
    #[arg(long, value_enum, default_value_t = Switch::On, env = "TCPHUB_RELAY")]
    relay: Switch,
    /// Hard cap on unsent bytes for one session, however fast it reads; past
    /// it the session is closed as a slow consumer (e.g. 64MiB; at least
    /// 512KiB plus --max-frame-bytes, at most 1TiB). Senders filling a
    /// session's queue are paused long before that.
    #[arg(long, default_value = "64MiB", value_parser = parse_max_queued_bytes, env = "TCPHUB_MAX_QUEUED_BYTES")]
    max_queued_bytes: usize,
    /// Close a session as a slow consumer when nothing queued for it could
    /// be written for this long (e.g. 10s; `off` never does).
    #[arg(long, default_value = "10s", value_parser = parse_optional_timeout, env = "TCPHUB_WRITE_DEADLINE")]
    write_deadline: OptionalTimeout,
    /// Close a session with `frame_timeout` when one frame takes longer than
    /// this from its first byte to its last (e.g. 30s; `off` never does).
    #[arg(long, default_value = "30s", value_parser = parse_optional_timeout, env = "TCPHUB_FRAME_TIMEOUT")]
    frame_timeout: OptionalTimeout,
    /// Most rows in one `list` reply; clients page through the rest (1 to 100000).
    #[arg(long, default_value_t = tcphub_core::DEFAULT_MAX_LIST_ROWS, value_parser = parse_max_list_rows, env = "TCPHUB_MAX_LIST_ROWS")]
    max_list_rows: usize,
    /// On Ctrl-C or SIGTERM, how long to flush queued messages before exiting
    /// (longer than zero; `inf` waits as long as it takes).
    #[arg(long, default_value = "5s", value_parser = positive_duration, env = "TCPHUB_SHUTDOWN_GRACE")]
    shutdown_grace: Duration,
    /// Most rooms one session may be in at once (1 to 100000); one more
    /// `join` gets `too_many_rooms`.
    #[arg(long, default_value_t = tcphub_core::DEFAULT_MAX_ROOMS_PER_SESSION, value_parser = parse_per_session_cap, env = "TCPHUB_MAX_ROOMS_PER_SESSION")]
    max_rooms_per_session: usize,
    /// Most aliases one session may watch by name (1 to 100000); a `watch`
    /// past it gets `too_many_watches`.
    #[arg(long, default_value_t = tcphub_core::DEFAULT_MAX_WATCHED_ALIASES, value_parser = parse_per_session_cap, env = "TCPHUB_MAX_WATCHED_ALIASES")]
    max_watched_aliases: usize,
    /// Largest last will a client may leave, in bytes of its message (e.g.
    /// 4KiB; 1 byte to 16MiB). A will is held for its whole session.
    #[arg(long, default_value = "4KiB", value_parser = parse_max_last_will_bytes, env = "TCPHUB_MAX_LAST_WILL_BYTES")]
    max_last_will_bytes: usize,
    /// Frames each session may send per second (every frame but `bye`
    /// counts; 1 to 1000000000); one over gets `rate_limited`, and a session
    /// refused more than 100 times in 10 s is closed. Off by default.
    #[arg(long, value_name = "N", value_parser = parse_rate_limit_messages, env = "TCPHUB_RATE_LIMIT_MESSAGES")]
    rate_limit_messages: Option<u32>,
    /// Frames a session may send at once after a quiet spell (default: one
    /// second's worth); needs --rate-limit-messages.
    #[arg(long, value_name = "N", value_parser = parse_rate_limit_messages, env = "TCPHUB_RATE_LIMIT_MESSAGE_BURST", requires = "rate_limit_messages")]
    rate_limit_message_burst: Option<u32>,
    /// Bytes each session may send per second (e.g. 1MiB; 1 byte to 1TiB);
    /// a frame over it gets `rate_limited`. Off by default.
    #[arg(long, value_name = "SIZE", value_parser = parse_rate_limit_bytes, env = "TCPHUB_RATE_LIMIT_BYTES")]
    rate_limit_bytes: Option<u64>,
    /// Bytes a session may send at once after a quiet spell (default: one
    /// second's worth, at least --max-frame-bytes, which is also the least
    /// accepted); needs --rate-limit-bytes.
    #[arg(long, value_name = "SIZE", value_parser = parse_rate_limit_bytes, env = "TCPHUB_RATE_LIMIT_BYTES_BURST", requires = "rate_limit_bytes")]
    rate_limit_bytes_burst: Option<u64>,
    /// Most sessions open at once from one IP address (1 to 1073741824); one
    /// more is told `too_many_connections` and closed. Off by default.
    #[arg(long, value_name = "N", value_parser = parse_max_sessions, env = "TCPHUB_MAX_CONNECTIONS_PER_ADDRESS")]
    max_connections_per_address: Option<usize>,
    /// How long a request waits for its reply when it names no `timeout`
    /// (e.g. 5s, 500ms; 1ms up to --max-request-timeout); then its sender
    /// is told `request_timeout`.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_request_timeout, env = "TCPHUB_REQUEST_TIMEOUT")]
    request_timeout: Duration,
    /// The longest a request may ask to wait for its reply (e.g. 60s, 5m;
    /// at least 1ms); longer `timeout`s are cut to it. It bounds how long
    /// the hub remembers an unanswered request.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_request_timeout, env = "TCPHUB_MAX_REQUEST_TIMEOUT")]
    max_request_timeout: Duration,
    /// Most requests one session may have waiting for replies (1 to
    /// 100000); one more gets `too_many_requests`.
    #[arg(long, value_name = "N", default_value_t = tcphub_core::DEFAULT_MAX_PENDING_REQUESTS, value_parser = parse_per_session_cap, env = "TCPHUB_MAX_PENDING_REQUESTS")]
    max_pending_requests: usize,
    /// Print every message clients relay to each other (to an alias, a
    /// room or `*`, last wills included) on stdout.
    #[arg(long, env = "TCPHUB_OBSERVE")]
    observe: bool,
    /// Join a cluster: several nodes sharing this Redis act as one hub
    /// (e.g. redis://127.0.0.1:6379). Without it, nothing touches the
    /// network but the listener. Redis unreachable at start exits 1.
    #[arg(long, value_name = "URL", env = "TCPHUB_CLUSTER")]
    cluster: Option<String>,
    /// This node's id in the cluster: 1 to 32 ASCII letters, digits, `-`
    /// or `_`, unique among the nodes (default: short host name, process
    /// id and four random hex digits).
    #[arg(long, value_parser = parse_node_id, env = "TCPHUB_NODE_ID", requires = "cluster")]
    node_id: Option<NodeId>,
    /// How long a node that died without leaving keeps its aliases (e.g.
    /// 10s; 300ms to 1h); the lease is refreshed every third of it.
    #[arg(long, default_value = "10s", value_parser = parse_cluster_lease, env = "TCPHUB_CLUSTER_LEASE")]
    cluster_lease: Duration,
    /// The cluster's name, so several clusters can share one Redis (keys
    /// live under `tcphub:{NAME}:`).
    #[arg(long, default_value = tcphub_native::DEFAULT_CLUSTER_NAME, value_parser = parse_cluster_name, env = "TCPHUB_CLUSTER_NAME")]
    cluster_name: String,
    #[command(flatten)]
    auth: AuthArgs,
    /// Read host commands from stdin (see below). Off by default, so a hub
    /// started in the background never waits on the terminal.
    #[arg(long, env = "TCPHUB_CONSOLE")]
    console: bool,
    /// Speak TLS, with this certificate chain (PEM, leaf first); needs
    /// --tls-key. Clients then connect with `--tls` (and `--ca`).
    #[arg(
        long,
        value_name = "PEM",
        env = "TCPHUB_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM); needs --tls-cert.
    #[arg(
        long,
        value_name = "PEM",
        env = "TCPHUB_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Close a TLS connection whose handshake is not done in this time
    /// (e.g. 10s); until then it holds no session.
    #[arg(long, default_value = "10s", value_parser = positive_duration, env = "TCPHUB_TLS_HANDSHAKE_TIMEOUT")]
    tls_handshake_timeout: Duration,
    /// Serve Prometheus metrics on http://ADDR/metrics (e.g.
    /// 127.0.0.1:9100); `tcphub stats --metrics ADDR` shows them.
    #[arg(long, value_name = "ADDR", env = "TCPHUB_METRICS")]
    metrics: Option<SocketAddr>,
}

/// A timeout or none (`off`); a newtype because clap reads a bare
/// `Option` as "the option may be absent".
#[derive(Debug, Clone, Copy)]
struct OptionalTimeout(Option<Duration>);

fn parse_optional_timeout(text: &str) -> Result<OptionalTimeout, String> {
    parse_optional_duration(text).map(OptionalTimeout)
}

fn parse_per_session_cap(text: &str) -> Result<usize, String> {
    count_within(text, 1, tcphub_core::MAX_PER_SESSION_CAP)
}

/// A request timeout: at least a millisecond, the wire's unit (`inf`
/// waits practically for ever).
fn parse_request_timeout(text: &str) -> Result<Duration, String> {
    let timeout = crate::units::parse_duration(text)?;
    if timeout < Duration::from_millis(1) {
        return Err("must be at least 1ms".into());
    }
    Ok(timeout)
}

fn parse_max_last_will_bytes(text: &str) -> Result<usize, String> {
    bytes_within(text, 1, tcphub_core::MAX_MAX_FRAME_LEN)
}

fn parse_max_list_rows(text: &str) -> Result<usize, String> {
    count_within(text, 1, tcphub_core::MAX_MAX_LIST_ROWS)
}

fn parse_node_id(text: &str) -> Result<NodeId, String> {
    NodeId::new(text).map_err(|e| e.to_string())
}

fn parse_cluster_lease(text: &str) -> Result<Duration, String> {
    let lease = crate::units::parse_duration(text)?;
    let (min, max) = (tcphub_native::MIN_LEASE, tcphub_native::MAX_LEASE);
    if lease < min || lease > max {
        return Err(format!("must be {min:?} to {max:?}"));
    }
    Ok(lease)
}

fn parse_cluster_name(text: &str) -> Result<String, String> {
    // The same rules as a node id: it sits in every key.
    NodeId::new(text)
        .map(|_| text.to_owned())
        .map_err(|_| format!("{text:?} must be 1 to 32 ASCII letters, digits, '-' or '_'"))
}

/// The largest `--max-frame-bytes`: a frame is held whole in memory.
const MAX_FRAME_BYTES: usize = tcphub_core::MAX_MAX_FRAME_LEN;
/// The largest `--max-sessions`, as the core bounds it.
const MAX_SESSIONS: usize = tcphub_core::MAX_MAX_SESSIONS;

fn parse_max_frame_bytes(text: &str) -> Result<usize, String> {
    bytes_within(text, tcphub_core::MIN_MAX_FRAME_LEN, MAX_FRAME_BYTES)
}

fn parse_max_sessions(text: &str) -> Result<usize, String> {
    count_within(text, 1, MAX_SESSIONS)
}

fn parse_rate_limit_messages(text: &str) -> Result<u32, String> {
    let max = tcphub_core::MAX_RATE_LIMIT_MESSAGES;
    // Within 1..=u32 max, so the cast is exact.
    count_within(text, 1, max as usize).map(|n| n as u32)
}

fn parse_rate_limit_bytes(text: &str) -> Result<u64, String> {
    let max = usize::try_from(tcphub_core::MAX_RATE_LIMIT_BYTES).unwrap_or(usize::MAX);
    bytes_within(text, 1, max).map(|n| n as u64)
}

fn parse_max_queued_bytes(text: &str) -> Result<usize, String> {
    // The least a cap may be depends on --max-frame-bytes too; the hub
    // checks that when it starts.
    bytes_within(
        text,
        tcphub_core::MIN_MAX_FRAME_LEN,
        tcphub_core::MAX_MAX_QUEUED_BYTES,
    )
}

/// An option that is `on` or `off`, as typed and as the help shows it.
/// (clap's boolish parser showed `[possible values: true, false]` under
/// `--relay <on|off>` and said "value was not a boolean".) `true` and
/// `false` are still taken, unlisted, for settings written before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Switch {
    #[value(alias = "true")]
    On,
    #[value(alias = "false")]
    Off,
}

/// The alias policies, as typed on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PolicyArg {
    /// The newest claimant gets the alias; the old holder is closed.
    Takeover,
    /// The claimant gets an `alias_taken` error.
    Reject,
    /// Several sessions share the alias; messages to it reach them all.
    Share,
}

impl From<PolicyArg> for AliasPolicy {
    fn from(policy: PolicyArg) -> Self {
        match policy {
            PolicyArg::Takeover => AliasPolicy::Takeover,
            PolicyArg::Reject => AliasPolicy::Reject,
            PolicyArg::Share => AliasPolicy::Share,
        }
    }
}

impl ServeArgs {
    /// Checks what one option's parser cannot see: how options agree.
    fn check(&self) -> Result<(), String> {
        if self.request_timeout > self.max_request_timeout {
            return Err(format!(
                "--request-timeout {:?} must not be longer than --max-request-timeout {:?} \
                 (its default is 5s: set it too when the maximum is shorter)",
                self.request_timeout, self.max_request_timeout
            ));
        }
        Ok(())
    }

    fn options(&self) -> ServerOptions {
        ServerOptions {
            listen: self.listen,
            hub: HubConfig {
                alias_policy: self.alias_policy.into(),
                max_frame_len: self.max_frame_bytes,
                max_sessions: self.max_sessions,
                idle_timeout: self.idle_timeout.0,
                relay: self.relay == Switch::On,
                max_queued_bytes: self.max_queued_bytes,
                write_deadline: self.write_deadline.0,
                frame_timeout: self.frame_timeout.0,
                max_list_rows: self.max_list_rows,
                max_rooms_per_session: self.max_rooms_per_session,
                max_watched_aliases: self.max_watched_aliases,
                max_last_will_bytes: self.max_last_will_bytes,
                observe: self.observe,
                rate_limit_messages: self.rate_limit_messages,
                rate_limit_message_burst: self.rate_limit_message_burst,
                rate_limit_bytes: self.rate_limit_bytes,
                rate_limit_bytes_burst: self.rate_limit_bytes_burst,
                max_connections_per_address: self.max_connections_per_address,
                auth_timeout: self.auth.auth_timeout,
                request_timeout: self.request_timeout,
                max_request_timeout: self.max_request_timeout,
                max_pending_requests: self.max_pending_requests,
                ..HubConfig::default()
            },
            shutdown_grace: self.shutdown_grace,
            cluster: self.cluster.as_ref().map(|url| ClusterOptions {
                node: self.node_id.clone().unwrap_or_else(default_node_id),
                lease: self.cluster_lease,
                name: self.cluster_name.clone(),
                ..ClusterOptions::new(url.clone())
            }),
            tls: match (&self.tls_cert, &self.tls_key) {
                (Some(cert), Some(key)) => Some(TlsOptions {
                    handshake_timeout: self.tls_handshake_timeout,
                    ..TlsOptions::new(cert, key)
                }),
                // clap requires both or neither.
                _ => None,
            },
            ..ServerOptions::default()
        }
    }
}

pub async fn run(args: ServeArgs) -> Result<ExitCode, String> {
    if let Err(problem) = args.check() {
        // A mistake on the command line: clap's status and form.
        display::print_failure(&problem);
        return Ok(ExitCode::from(2));
    }
    // Before anything can connect: see `stop_signal`.
    let stop = stop_signal();
    raise_open_file_limit();
    // A bad auth file or key stops the hub before it listens.
    let authentication = args.auth.build()?;
    let auth = authentication.as_ref().map(|a| a.auth.clone());
    let options = ServerOptions {
        auth: auth.clone(),
        ..args.options()
    };
    let node = options.cluster.as_ref().map(|c| c.node.to_string());
    // Bound first, so an address in use stops the hub before it listens.
    let metrics = match args.metrics {
        Some(addr) => Some(
            tcphub_native::metrics::MetricsServer::bind(addr)
                .await
                .map_err(|e| format!("--metrics {addr}: {e}"))?,
        ),
        None => None,
    };
    let (server, hub, events) = Server::bind(options).await.map_err(|e| match e {
        // Named as on the command line.
        ServeError::Tls(e) => {
            let option = match e.option {
                "tls.cert" => "--tls-cert",
                "tls.key" => "--tls-key",
                other => other,
            };
            format!("{option} {}: {}", e.path.display(), e.reason)
        }
        e => e.to_string(),
    })?;
    tracing::info!(
        policy = %AliasPolicy::from(args.alias_policy),
        max_frame_bytes = args.max_frame_bytes,
        max_sessions = args.max_sessions,
        idle_timeout = ?args.idle_timeout.0,
        relay = args.relay == Switch::On,
        max_queued_bytes = args.max_queued_bytes,
        write_deadline = ?args.write_deadline.0,
        frame_timeout = ?args.frame_timeout.0,
        max_rooms_per_session = args.max_rooms_per_session,
        max_watched_aliases = args.max_watched_aliases,
        observe = args.observe,
        auth = auth.as_ref().map(|a| a.name()),
        node,
        "tcphub {} ready; stop with Ctrl-C",
        env!("CARGO_PKG_VERSION")
    );
    warn_if_exposed(server.local_addr(), auth.as_ref());
    if let Some(file) = authentication.and_then(|a| a.file) {
        reload_on_hangup(file);
    }
    // Joins and leaves are for someone watching: the console's user, or
    // one who asked to observe.
    let show_rooms = args.console || args.observe;
    tokio::spawn(print_host_events(events, show_rooms));
    if let Some(metrics) = metrics {
        let addr = metrics.local_addr();
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        tokio::spawn(metrics.run(hub.clone()));
    }
    if args.console {
        tokio::spawn(console(hub));
    }
    server.run(stop).await.map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: the server polls it only
/// between accepts, and a SIGTERM arriving before that would otherwise
/// kill the process with no `bye` to anyone (seen under load in CI).
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The host's inbox on stdout: what clients sent to the host, what they
/// relayed to each other when observed, and (with `show_rooms`) who joined
/// or left which room.
///
/// Lines are written a batch at a time and flushed after each: an
/// observed hub may relay a million messages a second, and Rust's stdout
/// writes (and takes its lock) a line at a time.
async fn print_host_events(mut events: HostEvents, show_rooms: bool) {
    let mut batch = Vec::new();
    let mut out = Vec::new();
    while events.recv_many(&mut batch, 256).await > 0 {
        for event in batch.drain(..) {
            if let Some(line) = event_line(&event, show_rooms) {
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
        }
        if !out.is_empty() {
            let mut stdout = std::io::stdout().lock();
            // stdout closed (`| head`, say): nothing to do but go on serving.
            let _ = stdout.write_all(&out).and_then(|()| stdout.flush());
            out.clear();
        }
    }
}

/// The stdout line for one event, if it gets one.
fn event_line(event: &Event, show_rooms: bool) -> Option<String> {
    let name = |alias: &Option<Alias>, peer: &str| {
        alias.as_ref().map_or(peer.to_owned(), |a| a.to_string())
    };
    match event {
        Event::Message {
            alias,
            session_id,
            message,
            ..
        } => Some(format!(
            "[{}] {}",
            name(alias, session_id),
            message_text(message)
        )),
        Event::Request {
            alias,
            session_id,
            reply_to,
            message,
            ..
        } => Some(format!(
            "[{}] {}{}",
            name(alias, session_id),
            display::request_mark(&reply_to.to_string()),
            message_text(message)
        )),
        Event::Relayed {
            alias,
            session_id,
            target,
            message,
            last_will,
            ..
        } => {
            let target = match target {
                RelayTarget::Alias(alias) => alias.to_string(),
                RelayTarget::Room(room) => display::room_mark(room.as_str()),
                RelayTarget::Everyone => BROADCAST_TARGET.to_owned(),
            };
            let will = if *last_will {
                display::LAST_WILL_MARK
            } else {
                ""
            };
            Some(format!(
                "[{} -> {target}] {will}{}",
                name(alias, session_id),
                message_text(message)
            ))
        }
        Event::Joined {
            alias,
            session_id,
            room,
            ..
        } if show_rooms => Some(format!(
            "{} joined {}",
            name(alias, session_id),
            display::room_mark(room.as_str())
        )),
        Event::Left {
            alias,
            session_id,
            room,
            ..
        } if show_rooms => Some(format!(
            "{} left {}",
            name(alias, session_id),
            display::room_mark(room.as_str())
        )),
        _ => None,
    }
}

/// Prints `text` and a newline on stdout; a closed stdout is ignored, as
/// the hub goes on serving.
fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

fn message_text(message: &RawValue) -> String {
    let value: serde_json::Value = serde_json::from_str(message.get()).unwrap_or_default();
    display::message_text(&value)
}

/// Host commands typed on stdin, in the grammar `connect` reads too.
async fn console(hub: HubHandle) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Err(e) = console_line(&hub, ConsoleLine::parse(&line, SERVE_COMMANDS)).await {
            display::print_failure(&e.to_string());
        }
    }
}

async fn console_line(hub: &HubHandle, line: ConsoleLine<'_>) -> Result<(), CommandError> {
    match line {
        ConsoleLine::List { room: None } => {
            let rows = hub.sessions().await;
            print_out(&display::sessions_table(&rows, None));
        }
        ConsoleLine::List { room: Some(room) } => {
            let rows = hub.room_members(room.to_owned()).await;
            if rows.is_empty() {
                display::status(&format!("no session is in room {room:?}"));
            } else {
                print_out(&display::sessions_table(&rows, None));
            }
        }
        ConsoleLine::Rooms => {
            let rooms = hub.rooms().await;
            let width = rooms
                .iter()
                .map(|r| r.room.len())
                .max()
                .unwrap_or(0)
                .max("ROOM".len());
            let mut table = format!("{:width$}  MEMBERS", "ROOM");
            for row in rooms {
                table.push_str(&format!("\n{:width$}  {}", row.room, row.members));
            }
            print_out(&table);
        }
        ConsoleLine::Close { session_id } => hub.close_session(session_id.to_owned()).await?,
        ConsoleLine::Join {
            session_id: Some(session_id),
            room,
        } => {
            // A new member is shown by its `joined` event.
            if !hub
                .join_room(session_id.to_owned(), room.to_owned())
                .await?
            {
                display::status(&format!("{session_id} is in room {room:?} already"));
            }
        }
        ConsoleLine::Leave {
            session_id: Some(session_id),
            room,
        } => {
            if !hub
                .leave_room(session_id.to_owned(), room.to_owned())
                .await?
            {
                display::status(&format!("{session_id} is not in room {room:?}"));
            }
        }
        // No `to`: the host's own recipient is everyone.
        ConsoleLine::Send { to, text } => match to {
            None | Some(BROADCAST_TARGET) => {
                hub.broadcast(text_message(text)).await?;
            }
            Some(alias) => {
                hub.send_to_alias(alias.to_owned(), text_message(text))
                    .await?;
            }
        },
        ConsoleLine::SendToRoom { room, text } => {
            hub.send_to_room(room.to_owned(), text_message(text))
                .await?;
        }
        ConsoleLine::Reply { reply_to, text } => {
            let Some(address) = ReplyAddress::parse(reply_to) else {
                display::print_failure(&format!(
                    "{reply_to:?} is not a replyTo: copy it from the request's `(request ...)` mark"
                ));
                return Ok(());
            };
            hub.reply(address, typed_message(text)).await?;
        }
        ConsoleLine::Usage(hint) => display::status(&hint),
        // Not commands of this console: parsing refuses them (a host's
        // join and leave always name a session).
        ConsoleLine::Join {
            session_id: None, ..
        }
        | ConsoleLine::Leave {
            session_id: None, ..
        }
        | ConsoleLine::Watch(_)
        | ConsoleLine::Unwatch(_)
        | ConsoleLine::Request { .. }
        | ConsoleLine::Quit => {}
        ConsoleLine::Blank => {}
    }
    Ok(())
}

fn text_message(text: &str) -> Box<RawValue> {
    serde_json::value::to_raw_value(text).expect("a string always serializes")
}

/// Every connection is a file descriptor; the usual soft limit of 1024
/// would cap the hub far below its session limit, so raise it to the hard
/// limit (as Go programs such as nats-server do at start).
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open file limit"),
    }
}
