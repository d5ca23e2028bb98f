//! Extreme values for every `tcphub serve` option, on the command line and
//! in the environment: each one either works (a huge duration means
//! "practically never") or is refused at startup with an error naming the
//! option and the value. Never a panic, never a hub that listens but serves
//! nobody.

mod common;

use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::serve::*;
use common::{frame, within};
use tcphub_core::HubFrame;
use tcphub_native::client::Client;
use tcphub_native::{ServeError, Server, ServerOptions};

/// Ten billion billion seconds: far past what a clock can add to now.
const HUGE: &str = "10000000000000000000s";
/// 2^70 bytes.
const TWO_POW_70: &str = "1180591620717411303424";

/// What a prompt stop takes at most, however long the grace period is (the
/// clients here read everything and leave).
const PROMPT: Duration = Duration::from_secs(10);

/// Starts `serve` with `args` and `env` and checks that it serves: a client
/// connects, syncs, pings and gets its `pong`; then SIGTERM stops it with
/// status 0.
async fn serves(args: &[&str], env: &[(&str, &str)]) {
    let serve = ServeProcess::start(args, env);
    let mut client = Client::connect(serve.addr).await.expect("connect");
    let session = within(client.sync("Client-1"))
        .await
        .unwrap_or_else(|e| panic!("sync with {args:?} {env:?}: {e}"));
    assert!(!session.is_empty());
    client.ping().await.unwrap();
    let before = within(client.until_pong()).await.expect("pong");
    assert!(before.is_empty(), "{before:?}");
    drop(client);
    let (status, _, err) = serve.terminate();
    assert!(status.success(), "{args:?} {env:?}: {status}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// Runs `serve` with `args` and `env`, which must refuse to start: returns
/// its exit status and stderr. Fails at once if it logs `listening`.
fn refused(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let mut child = Command::new(TCPHUB)
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcphub serve");
    let stderr = collect_output(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        let started = stderr.lock().unwrap().contains("\"listening\"");
        if started || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve {args:?} {env:?} should have refused to start:\n{}",
                stderr.lock().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // The collector thread ends with the pipe; give it a moment to finish.
    let finished = Instant::now() + Duration::from_secs(5);
    while !stderr.lock().unwrap().contains('\n') && Instant::now() < finished {
        std::thread::sleep(Duration::from_millis(10));
    }
    let err = stderr.lock().unwrap().clone();
    (status, err)
}

/// `--option value` is refused, and so is `VARIABLE=value`: a non-zero
/// exit, no panic, and an error on stderr naming the option and the value,
/// with `reason` among its words.
fn refused_everywhere(option: &str, variable: &str, value: &str, reason: &str) {
    let flag = format!("{option}={value}");
    for (args, env) in [
        (vec![flag.as_str()], vec![]),
        (vec![], vec![(variable, value)]),
    ] {
        let (status, err) = refused(&args, &env);
        let context = format!("{args:?} {env:?}: {status}\n{err}");
        assert!(!status.success(), "{context}");
        assert!(!err.contains("panicked"), "{context}");
        assert!(err.contains(option), "names the option: {context}");
        assert!(err.contains(value), "names the value: {context}");
        assert!(err.contains(reason), "says why ({reason:?}): {context}");
    }
}

// ----- durations: huge means "practically never" -----

#[tokio::test]
async fn huge_idle_timeout_serves() {
    serves(&["--idle-timeout", HUGE], &[]).await;
}

#[tokio::test]
async fn huge_idle_timeout_from_the_environment_serves() {
    serves(&[], &[("TCPHUB_IDLE_TIMEOUT", HUGE)]).await;
}

#[tokio::test]
async fn infinite_idle_timeouts_serve() {
    for value in [
        "inf",
        "infinity",
        "never",
        "1e400s",
        "18446744073709551616s",
        "18446744073709549568s",
        "1000000000000000000s",
        "1e19h",
    ] {
        serves(&["--idle-timeout", value], &[]).await;
    }
    serves(&[], &[("TCPHUB_IDLE_TIMEOUT", "inf")]).await;
}

#[tokio::test]
async fn zero_idle_timeout_is_off() {
    for value in ["0", "0s", "off"] {
        serves(&["--idle-timeout", value], &[]).await;
    }
}

#[test]
fn meaningless_idle_timeouts_are_refused() {
    for value in ["nan", "NaN", "-5s", "-inf"] {
        refused_everywhere("--idle-timeout", "TCPHUB_IDLE_TIMEOUT", value, "");
    }
    refused_everywhere(
        "--idle-timeout",
        "TCPHUB_IDLE_TIMEOUT",
        "nan",
        "not a number",
    );
    refused_everywhere("--idle-timeout", "TCPHUB_IDLE_TIMEOUT", "-5s", "negative");
    refused_everywhere(
        "--idle-timeout",
        "TCPHUB_IDLE_TIMEOUT",
        "5 fortnights",
        "unit",
    );
}

/// A takeover closes the old holder with the grace period as its flush
/// deadline; a huge one must not overflow the clock. Then SIGTERM, with a
/// client still connected, stops the hub promptly and cleanly.
async fn takeover_then_sigterm(args: &[&str], env: &[(&str, &str)]) {
    let serve = ServeProcess::start(args, env);
    let mut first = Client::connect(serve.addr).await.expect("connect");
    within(first.sync("Client-1")).await.expect("first sync");
    let mut second = Client::connect(serve.addr).await.expect("connect");
    within(second.sync("Client-1"))
        .await
        .expect("the takeover is answered");
    match frame(&mut first).await {
        HubFrame::Bye { reason, .. } => assert_eq!(reason, "taken_over"),
        other => panic!("{other:?}"),
    }
    assert!(within(first.next_frame()).await.unwrap().is_none());
    second.ping().await.unwrap();
    assert!(within(second.until_pong()).await.unwrap().is_empty());

    // The second client stays connected and reads until the hub closes it.
    let reading = tokio::spawn(async move {
        let mut frames = Vec::new();
        while let Ok(Some(frame)) = second.next_frame().await {
            frames.push(frame);
        }
        frames
    });
    let started = Instant::now();
    let (status, _, err) = tokio::task::spawn_blocking(move || serve.terminate())
        .await
        .unwrap();
    let took = started.elapsed();
    assert!(status.success(), "{status}\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(took < PROMPT, "SIGTERM took {took:?}\n{err}");
    let frames = within(reading).await.unwrap();
    assert!(
        matches!(frames.last(), Some(HubFrame::Bye { reason, .. }) if reason == "shutdown"),
        "{frames:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_shutdown_grace_survives_a_takeover_and_sigterm() {
    takeover_then_sigterm(&["--shutdown-grace", HUGE], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_shutdown_grace_from_the_environment() {
    takeover_then_sigterm(&[], &[("TCPHUB_SHUTDOWN_GRACE", HUGE)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn infinite_shutdown_grace() {
    takeover_then_sigterm(&["--shutdown-grace", "inf"], &[]).await;
    takeover_then_sigterm(&["--shutdown-grace", "1e400s"], &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_idle_timeout_and_grace_together() {
    takeover_then_sigterm(&["--idle-timeout", HUGE, "--shutdown-grace", HUGE], &[]).await;
}

#[test]
fn meaningless_shutdown_graces_are_refused() {
    let (option, variable) = ("--shutdown-grace", "TCPHUB_SHUTDOWN_GRACE");
    refused_everywhere(option, variable, "0", "longer than zero");
    refused_everywhere(option, variable, "0ms", "longer than zero");
    refused_everywhere(option, variable, "nan", "not a number");
    refused_everywhere(option, variable, "-1s", "negative");
    refused_everywhere(option, variable, "off", "");
}

// ----- sizes and counts -----

#[test]
fn zero_max_queued_bytes_is_refused() {
    let (option, variable) = ("--max-queued-bytes", "TCPHUB_MAX_QUEUED_BYTES");
    refused_everywhere(option, variable, "0", "at least");
    refused_everywhere(option, variable, "1", "at least");
}

#[test]
fn huge_max_queued_bytes_is_refused() {
    let (option, variable) = ("--max-queued-bytes", "TCPHUB_MAX_QUEUED_BYTES");
    refused_everywhere(option, variable, TWO_POW_70, "at most");
    refused_everywhere(option, variable, "18446744073709551615", "at most");
    refused_everywhere(option, variable, "99999999G", "at most");
    refused_everywhere(option, variable, "8 lightyears", "unit");
}

#[tokio::test]
async fn large_but_sane_sizes_serve() {
    serves(
        &["--max-queued-bytes", "1G", "--max-frame-bytes", "16M"],
        &[],
    )
    .await;
    serves(
        &["--max-queued-bytes", "1MiB", "--max-frame-bytes", "256"],
        &[],
    )
    .await;
}

#[test]
fn extreme_max_frame_bytes_are_refused() {
    let (option, variable) = ("--max-frame-bytes", "TCPHUB_MAX_FRAME_BYTES");
    refused_everywhere(option, variable, "0", "at least");
    refused_everywhere(option, variable, "255", "at least");
    refused_everywhere(option, variable, TWO_POW_70, "at most");
    refused_everywhere(option, variable, "18446744073709551615", "at most");
    refused_everywhere(option, variable, "1000000000G", "at most");
    refused_everywhere(option, variable, "64XB", "unit");
    refused_everywhere(option, variable, "1e3", "unit");
    refused_everywhere(option, variable, "-1", "");
    refused_everywhere(option, variable, "lots", "not a size");
}

#[test]
fn extreme_max_sessions_are_refused() {
    let (option, variable) = ("--max-sessions", "TCPHUB_MAX_SESSIONS");
    refused_everywhere(option, variable, "0", "at least 1");
    refused_everywhere(option, variable, "99999999999999999999999", "at most");
    refused_everywhere(option, variable, "18446744073709551615", "at most");
    refused_everywhere(option, variable, "-1", "");
    refused_everywhere(option, variable, "many", "");
}

#[tokio::test]
async fn largest_max_sessions_serves() {
    serves(&["--max-sessions", "1073741824"], &[]).await;
    serves(&["--max-sessions", "1"], &[]).await;
}

#[test]
fn bad_switches_are_refused() {
    refused_everywhere("--relay", "TCPHUB_RELAY", "maybe", "");
    refused_everywhere("--alias-policy", "TCPHUB_ALIAS_POLICY", "steal", "");
}

// ----- the library: ServerOptions are checked by Server::bind -----

fn options() -> ServerOptions {
    ServerOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerOptions::default()
    }
}

/// Default options but for the hub's settings that `change` sets.
fn with_hub(change: impl FnOnce(&mut tcphub_core::HubConfig)) -> ServerOptions {
    let mut options = options();
    change(&mut options.hub);
    options
}

async fn bind_error(options: ServerOptions) -> ServeError {
    match Server::bind(options).await {
        Ok(_) => panic!("bind accepted out-of-range options"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn bind_refuses_options_out_of_range_naming_them() {
    for (options, name, value) in [
        (
            with_hub(|hub| hub.max_queued_bytes = 0),
            "max_queued_bytes",
            "0",
        ),
        (
            with_hub(|hub| hub.max_queued_bytes = usize::MAX),
            "max_queued_bytes",
            "18446744073709551615",
        ),
        (
            with_hub(|hub| hub.max_frame_len = usize::MAX),
            "max_frame_len",
            "18446744073709551615",
        ),
        (
            ServerOptions {
                event_queue_len: 0,
                ..options()
            },
            "event_queue_len",
            "0",
        ),
        (
            ServerOptions {
                event_queue_len: usize::MAX,
                ..options()
            },
            "event_queue_len",
            "18446744073709551615",
        ),
        (
            ServerOptions {
                shutdown_grace: Duration::ZERO,
                ..options()
            },
            "shutdown_grace",
            "0ns",
        ),
    ] {
        let text = bind_error(options).await.to_string();
        assert!(text.contains(name) && text.contains(value), "{text}");
    }
}

/// The library takes any duration: the longest there is means "never".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_takes_the_longest_durations() {
    let mut options = options();
    options.shutdown_grace = Duration::MAX;
    options.hub.idle_timeout = Some(Duration::from_secs(10_000_000_000_000_000_000));
    let (server, _hub, _events) = Server::bind(options).await.expect("bind");
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let mut first = Client::connect(addr).await.unwrap();
    within(first.sync("Client-1")).await.unwrap();
    let mut second = Client::connect(addr).await.unwrap();
    within(second.sync("Client-1")).await.unwrap();
    assert!(matches!(frame(&mut first).await, HubFrame::Bye { .. }));
    second.ping().await.unwrap();
    assert!(within(second.until_pong()).await.unwrap().is_empty());
    let _ = stop.send(());
    within(running).await.unwrap().unwrap();
}
