//! Authentication as a user meets it: the real `tcphub` binary with
//! `--auth FILE` or `--auth-jwt-key`, clients over TCP with and without the
//! right credential, the `hash-secret` and `token` subcommands, and (for a
//! host-decided identity and a slow decision) a Rust closure in-process.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::SaltString;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};
use common::serve::{tcphub, tcphub_with_env, wait_for_text, ServeProcess};
use common::{expect_info, text, within, TestServer};
use tcphub_core::{AuthDecision, AuthRequest, Grant, HubFrame, Permissions};
use tcphub_native::client::{Client, ClientError};
use tcphub_native::{Auth, JwtClaims};

/// A directory of the test's own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("tcphub-auth-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    fn arg(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An argon2id hash with tiny costs, so debug builds verify it quickly.
/// The hub accepts any costs within its bounds.
fn cheap_hash(secret: &str) -> String {
    let params = Params::new(64, 1, 1, None).unwrap();
    let salt = SaltString::generate(&mut OsRng);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(secret.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// A client of `hub` that asked for `alias` with `token`: the client and
/// the hub's answer.
async fn sync_as(
    addr: impl tokio::net::ToSocketAddrs,
    alias: &str,
    token: Option<&str>,
) -> (Client, Result<String, ClientError>) {
    let mut client = within(Client::connect(addr)).await.expect("connect");
    let answer = within(client.sync_with_token(alias, token, None)).await;
    (client, answer)
}

/// The message of an `unauthorized` answer; anything else fails.
fn unauthorized(answer: Result<String, ClientError>) -> String {
    match answer {
        Err(ClientError::Hub { code, message }) if code == "unauthorized" => message,
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Runs `tcphub ARGS` and returns its stdout line (a hash or a token).
fn output_of(args: &[&str], input: &str) -> String {
    let out = tcphub(args, input);
    assert!(
        out.status.success(),
        "tcphub {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A hub reading `file` as its auth file.
fn file_hub(file: &Path) -> ServeProcess {
    ServeProcess::start(&["--auth", file.to_str().unwrap()], &[])
}

#[tokio::test]
async fn the_auth_file_grants_the_right_secret_and_refuses_the_rest_alike() {
    let dir = TempDir::new("file");
    // Client-2's hash comes from the subcommand, as the docs make them.
    let client2_hash = output_of(&["hash-secret"], "two-secret\n");
    assert!(
        client2_hash.starts_with("$argon2id$v=19$"),
        "{client2_hash}"
    );
    let file = dir.write(
        "auth.toml",
        &format!(
            "[aliases.Client-1]\nsecret = {:?}\nrelay = [\"Client-*\"]\nbroadcast = false\n\n\
             [aliases.Client-2]\nsecret = {client2_hash:?}\n",
            cheap_hash("one-secret")
        ),
    );
    let hub = file_hub(&file);
    let (mut one, answer) = sync_as(hub.addr, "Client-1", Some("one-secret")).await;
    answer.expect("the right secret is granted");
    let (mut two, answer) = sync_as(hub.addr, "Client-2", Some("two-secret")).await;
    answer.expect("a hash made by tcphub hash-secret works");

    // Permissions from the file: Client-1 may relay to Client-*, and not
    // to everyone.
    one.send_text(Some("Client-2"), "hi").await.unwrap();
    expect_info(&mut two, "Client-1", serde_json::json!("hi")).await;
    one.send_text(Some("*"), "all").await.unwrap();
    let frames = within(one.until_pong()).await.unwrap();
    assert!(
        matches!(&frames[..], [HubFrame::Error { code, message, .. }]
            if code == "forbidden" && message.contains("\"*\"")),
        "{frames:?}"
    );

    // Wrong secret, unknown alias, no token: `unauthorized`, and the first
    // two read the same but for the alias (nothing tells whether it exists).
    let (_c, answer) = sync_as(hub.addr, "Client-1", Some("wrong")).await;
    let wrong = unauthorized(answer);
    let (_c, answer) = sync_as(hub.addr, "Nobody", Some("one-secret")).await;
    let unknown = unauthorized(answer);
    assert_eq!(
        wrong.replace("Client-1", "X"),
        unknown.replace("Nobody", "X")
    );
    let (_c, answer) = sync_as(hub.addr, "Client-1", None).await;
    unauthorized(answer);

    // The holders noticed nothing.
    common::expect_nothing_more(&mut two).await;
    common::expect_nothing_more(&mut one).await;
}

#[tokio::test]
async fn sighup_reloads_the_auth_file_and_a_bad_one_leaves_the_previous_in_place() {
    let dir = TempDir::new("reload");
    let first = format!("[aliases.A]\nsecret = {:?}\n", cheap_hash("a"));
    let file = dir.write("auth.toml", &first);
    let hub = file_hub(&file);
    let (_c, answer) = sync_as(hub.addr, "B", Some("b")).await;
    unauthorized(answer);

    let second = format!("{first}[aliases.B]\nsecret = {:?}\n", cheap_hash("b"));
    dir.write("auth.toml", &second);
    hub.signal("HUP");
    wait_for_text(&hub.stderr, "auth file reloaded");
    let (_b, answer) = sync_as(hub.addr, "B", Some("b")).await;
    answer.expect("B is in the reloaded file");

    dir.write("auth.toml", "[aliases.A]\nsecret = \"hunter2\"\n");
    hub.signal("HUP");
    wait_for_text(&hub.stderr, "auth file not reloaded");
    let (_a, answer) = sync_as(hub.addr, "A", Some("a")).await;
    answer.expect("the previous file stays");
    let (status, _out, logs) = hub.terminate();
    assert!(status.success(), "{logs}");
    assert!(
        logs.contains("never stored in clear"),
        "the log says why: {logs}"
    );
}

#[tokio::test]
async fn a_relay_outside_the_granted_patterns_is_forbidden_naming_the_alias() {
    let dir = TempDir::new("forbidden");
    let file = dir.write(
        "auth.toml",
        &format!(
            "[aliases.Client-1]\nsecret = {:?}\nrelay = [\"Client-*\"]\n\n\
             [aliases.ops]\nsecret = {:?}\nlist = false\n",
            cheap_hash("one"),
            cheap_hash("ops")
        ),
    );
    let hub = file_hub(&file);
    let (mut one, answer) = sync_as(hub.addr, "Client-1", Some("one")).await;
    answer.unwrap();
    let (mut ops, answer) = sync_as(hub.addr, "ops", Some("ops")).await;
    answer.unwrap();
    one.send_text(Some("ops"), "psst").await.unwrap();
    let frames = within(one.until_pong()).await.unwrap();
    assert!(
        matches!(&frames[..], [HubFrame::Error { code, message, .. }]
            if code == "forbidden" && message.contains("\"ops\"")),
        "{frames:?}"
    );
    match within(ops.list()).await {
        Err(ClientError::Hub { code, .. }) => assert_eq!(code, "forbidden"),
        other => panic!("ops may not list: {other:?}"),
    }
    common::expect_nothing_more(&mut ops).await;
}

#[tokio::test]
async fn the_cli_clients_send_their_token_and_list_needs_one() {
    let dir = TempDir::new("cli");
    let file = dir.write(
        "auth.toml",
        &format!(
            "[aliases.Client-1]\nsecret = {:?}\n[aliases.ops]\nsecret = {:?}\n",
            cheap_hash("one"),
            cheap_hash("ops")
        ),
    );
    let hub = file_hub(&file);
    let server = hub.server_arg();
    let (mut one, answer) = sync_as(hub.addr, "Client-1", Some("one")).await;
    answer.unwrap();
    let sent = tcphub_with_env(
        &[
            "send", "-s", &server, "--name", "ops", "--to", "Client-1", "hello",
        ],
        &[("TCPHUB_TOKEN", "ops")],
        "",
    );
    assert!(
        sent.status.success(),
        "{}",
        String::from_utf8_lossy(&sent.stderr)
    );
    expect_info(&mut one, "ops", serde_json::json!("hello")).await;

    let listed = tcphub(
        &["list", "-s", &server, "--name", "ops", "--token", "ops"],
        "",
    );
    let table = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.status.success() && table.contains("Client-1"),
        "{table}"
    );

    let refused = tcphub(&["list", "-s", &server], "");
    let error = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{error}");
    assert!(
        error.contains("unauthorized") && error.contains("--token"),
        "{error}"
    );

    let wrong = tcphub(
        &[
            "send", "-s", &server, "--name", "ops", "--token", "nope", "hi",
        ],
        "",
    );
    let error = String::from_utf8_lossy(&wrong.stderr);
    assert_eq!(wrong.status.code(), Some(1), "{error}");
    assert!(error.contains("unauthorized"), "{error}");
}

#[test]
fn a_bad_auth_file_stops_serve_before_it_listens_naming_the_problem() {
    let dir = TempDir::new("bad");
    let file = dir.write(
        "auth.toml",
        &format!(
            "[aliases.Client-1]\nsecret = {:?}\nbrodcast = false\n",
            cheap_hash("x")
        ),
    );
    let out = tcphub(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--auth",
            file.to_str().unwrap(),
        ],
        "",
    );
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{error}");
    assert!(
        error.contains(&format!("--auth {}", file.display()))
            && error.contains("alias \"Client-1\"")
            && error.contains("brodcast"),
        "{error}"
    );
    assert!(!error.contains("listening"), "{error}");

    let clear = dir.write("clear.toml", "[aliases.Client-1]\nsecret = \"hunter2\"\n");
    let out = tcphub(
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--auth",
            clear.to_str().unwrap(),
        ],
        "",
    );
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{error}");
    assert!(error.contains("never stored in clear"), "{error}");

    // One way at a time: clap names both and exits 2.
    let out = tcphub(
        &[
            "serve",
            "--auth",
            "a.toml",
            "--auth-jwt-key",
            "k",
            "--auth-jwt-algorithm",
            "hs256",
        ],
        "",
    );
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{error}");
    assert!(
        error.contains("--auth <FILE>") && error.contains("--auth-jwt-key"),
        "{error}"
    );
}

#[tokio::test]
async fn repeated_failures_from_one_address_are_slowed() {
    let dir = TempDir::new("slowed");
    let file = dir.write(
        "auth.toml",
        &format!("[aliases.Client-1]\nsecret = {:?}\n", cheap_hash("right")),
    );
    let hub = file_hub(&file);
    let mut client = within(Client::connect(hub.addr)).await.unwrap();
    let mut answered = Vec::new();
    for _ in 0..5 {
        let answer = within(client.sync_with_token("Client-1", Some("wrong"), None)).await;
        unauthorized(answer);
        answered.push(Instant::now());
    }
    // Three failures are free, the fourth arms a 0.5 s spacing.
    let gap = answered[4] - answered[3];
    assert!(
        gap >= Duration::from_millis(400),
        "the 5th came {gap:?} after the 4th"
    );
}

/// An HS256 secret file of 64 hex characters, as `openssl rand -hex 32`
/// writes it.
const HS256_SECRET: &str = "8d3c5c1a0f6e4b2a9c7d1e3f5a7b9c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a0b\n";

fn hs256_claims(alias: &str) -> JwtClaims {
    JwtClaims {
        sub: alias.to_owned(),
        exp: now() + 3600,
        nbf: None,
        iat: Some(now()),
        aud: None,
        iss: None,
        tcphub: None,
    }
}

fn sign_hs256(secret_file: &Path, claims: &JwtClaims) -> String {
    tcphub_native::issue_jwt(tcphub_native::JwtAlgorithm::Hs256, secret_file, claims).unwrap()
}

#[tokio::test]
async fn hs256_tokens_are_granted_only_when_valid_signed_current_and_for_the_alias() {
    let dir = TempDir::new("hs256");
    let secret = dir.write("jwt.secret", HS256_SECRET);
    let other = dir.write("other.secret", &HS256_SECRET.replace('8', "9"));
    let hub = ServeProcess::start(
        &[
            "--auth-jwt-key",
            secret.to_str().unwrap(),
            "--auth-jwt-algorithm",
            "hs256",
        ],
        &[],
    );
    // Issued by the subcommand, with permissions in the `tcphub` claim.
    let token = output_of(
        &[
            "token",
            "--alias",
            "Client-1",
            "--key",
            &dir.arg("jwt.secret"),
            "--algorithm",
            "hs256",
            "--expires-in",
            "10m",
            "--relay",
            "Client-*",
            "--no-broadcast",
        ],
        "",
    );
    let (mut one, answer) = sync_as(hub.addr, "Client-1", Some(&token)).await;
    answer.expect("a valid token is granted");
    one.send_text(Some("*"), "all").await.unwrap();
    let frames = within(one.until_pong()).await.unwrap();
    assert!(
        matches!(&frames[..], [HubFrame::Error { code, .. }] if code == "forbidden"),
        "--no-broadcast is honoured: {frames:?}"
    );

    let expired = JwtClaims {
        exp: now() - 60,
        ..hs256_claims("Client-2")
    };
    let not_yet = output_of(
        &[
            "token",
            "--alias",
            "Client-2",
            "--key",
            &dir.arg("jwt.secret"),
            "--algorithm",
            "hs256",
            "--not-before",
            "10m",
        ],
        "",
    );
    let refused = [
        ("forged", sign_hs256(&other, &hs256_claims("Client-2"))),
        ("expired", sign_hs256(&secret, &expired)),
        ("not yet valid", not_yet),
        (
            "another alias's",
            sign_hs256(&secret, &hs256_claims("Client-3")),
        ),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in refused {
        let (_c, answer) = sync_as(hub.addr, "Client-2", Some(&token)).await;
        let message = unauthorized(answer);
        assert!(
            !message.contains("expired") && !message.contains("signature"),
            "{what}: {message}"
        );
    }
    common::expect_nothing_more(&mut one).await;
    let (_status, _out, logs) = hub.terminate();
    for reason in [
        "bad signature",
        "expired",
        "not valid yet",
        "is not the alias",
    ] {
        assert!(
            logs.contains(reason),
            "the hub logs why ({reason}):\n{logs}"
        );
    }
}

/// An Ed25519 key pair as PEM: (private, public).
fn ed25519_pair() -> (String, String) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
    (pair.serialize_pem(), pair.public_key_pem())
}

#[tokio::test]
async fn eddsa_refuses_another_keys_signature_and_an_hs256_token_signed_with_the_public_key() {
    let dir = TempDir::new("eddsa");
    let (private, public) = ed25519_pair();
    let (stranger, _) = ed25519_pair();
    dir.write("private.pem", &private);
    let public_file = dir.write("public.pem", &public);
    dir.write("stranger.pem", &stranger);
    let hub = ServeProcess::start(
        &[
            "--auth-jwt-key",
            public_file.to_str().unwrap(),
            "--auth-jwt-algorithm",
            "eddsa",
        ],
        &[],
    );
    let issue = |key: &str| {
        output_of(
            &[
                "token",
                "--alias",
                "Client-1",
                "--key",
                &dir.arg(key),
                "--algorithm",
                "eddsa",
            ],
            "",
        )
    };
    let (_one, answer) = sync_as(hub.addr, "Client-1", Some(&issue("private.pem"))).await;
    answer.expect("signed with the private key of the configured public key");

    let (_c, answer) = sync_as(hub.addr, "Client-1", Some(&issue("stranger.pem"))).await;
    unauthorized(answer);
    // Algorithm confusion: HS256 "signed" with the public key as secret.
    let confused = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &hs256_claims("Client-1"),
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    let (_c, answer) = sync_as(hub.addr, "Client-1", Some(&confused)).await;
    unauthorized(answer);
    let (_status, _out, logs) = hub.terminate();
    assert!(logs.contains("another algorithm"), "{logs}");
}

#[tokio::test]
async fn rs256_tokens_signed_with_the_private_key_are_granted() {
    let dir = TempDir::new("rs256");
    let made = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(dir.0.join("private.pem"))
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let made = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(dir.0.join("private.pem"))
        .arg("-out")
        .arg(dir.0.join("public.pem"))
        .output()
        .expect("openssl");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let hub = ServeProcess::start(
        &[
            "--auth-jwt-key",
            &dir.arg("public.pem"),
            "--auth-jwt-algorithm",
            "rs256",
        ],
        &[],
    );
    let token = output_of(
        &[
            "token",
            "--alias",
            "ops",
            "--key",
            &dir.arg("private.pem"),
            "--algorithm",
            "rs256",
        ],
        "",
    );
    let (_ops, answer) = sync_as(hub.addr, "ops", Some(&token)).await;
    answer.expect("granted");
}

#[tokio::test]
async fn takeover_passes_an_alias_only_within_one_identity() {
    // The host decides: the token names the person; anyone may be Client-1.
    let auth = Auth::from_fn("people", |request: AuthRequest| async move {
        match &*request.token {
            "alice" | "bob" => AuthDecision::Grant(Grant {
                identity: Some(Arc::from(&*request.token)),
                permissions: Permissions::default(),
            }),
            _ => AuthDecision::Deny,
        }
    });
    let server = TestServer::with(|o| o.auth = Some(auth)).await;
    let (mut alice, answer) = sync_as(server.addr, "Client-1", Some("alice")).await;
    answer.unwrap();
    let (_bob, answer) = sync_as(server.addr, "Client-1", Some("bob")).await;
    match answer {
        Err(ClientError::Hub { code, .. }) => assert_eq!(code, "alias_taken"),
        other => panic!("bob may not take alice's alias: {other:?}"),
    }
    common::expect_nothing_more(&mut alice).await;
    // Alice reconnecting takes her alias back, as takeover is for.
    let (_alice_again, answer) = sync_as(server.addr, "Client-1", Some("alice")).await;
    answer.expect("the same identity takes its alias back");
    match within(alice.expect_frame()).await {
        Ok(HubFrame::Bye { reason, .. }) => assert_eq!(reason, "taken_over"),
        other => panic!("{other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_slow_decision_holds_only_the_session_asking() {
    // The decision for "Slow" waits until the test lets it go.
    let (release, released) = tokio::sync::watch::channel(false);
    let auth = Auth::from_fn("slow for one", move |request: AuthRequest| {
        let mut released = released.clone();
        async move {
            if request.alias.as_str() == "Slow" {
                let _ = released.wait_for(|go| *go).await;
            }
            AuthDecision::Grant(Grant::allow_all())
        }
    });
    let server = TestServer::with(|o| o.auth = Some(auth)).await;
    let mut slow = within(Client::connect(server.addr)).await.unwrap();
    slow.send_raw(&tcphub_core::encode_sync_request("Slow", Some("t"), None))
        .await
        .unwrap();
    // Meanwhile two other sessions sign in and talk.
    let (mut a, answer) = sync_as(server.addr, "A", Some("t")).await;
    answer.unwrap();
    let (mut b, answer) = sync_as(server.addr, "B", Some("t")).await;
    answer.unwrap();
    for i in 0..20 {
        a.send_text(Some("B"), &format!("m{i}")).await.unwrap();
    }
    for i in 0..20 {
        expect_info(&mut b, "A", serde_json::json!(format!("m{i}"))).await;
    }
    release.send(true).unwrap();
    match within(slow.expect_frame()).await {
        Ok(HubFrame::Synced { client_name, .. }) => assert_eq!(client_name, "Slow"),
        other => panic!("{other:?}"),
    }
    a.send_info(Some("Slow"), &text("welcome")).await.unwrap();
    expect_info(&mut slow, "A", serde_json::json!("welcome")).await;
    server.shutdown().await;
}

#[tokio::test]
async fn without_auth_the_tutorial_clients_sync_with_no_token() {
    let hub = ServeProcess::start(&[], &[]);
    // The tutorial's frames exactly: no newline, no token.
    let mut one = within(Client::connect(hub.addr)).await.unwrap();
    one.send_raw(br#"{"type":"sync","clientName":"Client-1"}"#)
        .await
        .unwrap();
    let mut two = within(Client::connect(hub.addr)).await.unwrap();
    two.send_raw(br#"{"type":"sync","clientName":"Client-2"}"#)
        .await
        .unwrap();
    // Each is answered `synced`; then Client-1's message reaches Client-2.
    assert!(matches!(
        within(one.expect_frame()).await,
        Ok(HubFrame::Synced { .. })
    ));
    assert!(matches!(
        within(two.expect_frame()).await,
        Ok(HubFrame::Synced { .. })
    ));
    one.send_raw(br#"{"type":"info","to":"Client-2","message":"hi"}"#)
        .await
        .unwrap();
    expect_info(&mut two, "Client-1", serde_json::json!("hi")).await;
}

#[test]
fn listening_beyond_loopback_without_auth_warns_how_to_turn_it_on() {
    let warning = "without authentication";
    let exposed = ServeProcess::start_exactly(
        &["serve", "--listen", "0.0.0.0:0", "--log-format", "json"],
        &[],
    );
    let (_status, _out, logs) = exposed.terminate();
    assert!(
        logs.contains(warning) && logs.contains("--auth FILE") && logs.contains("--auth-jwt-key"),
        "{logs}"
    );

    let local = ServeProcess::start(&[], &[]);
    let (_status, _out, logs) = local.terminate();
    assert!(!logs.contains(warning), "{logs}");

    let dir = TempDir::new("exposed");
    let file = dir.write(
        "auth.toml",
        &format!("[aliases.A]\nsecret = {:?}\n", cheap_hash("a")),
    );
    let guarded = ServeProcess::start_exactly(
        &[
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--log-format",
            "json",
            "--auth",
            file.to_str().unwrap(),
        ],
        &[],
    );
    let (_status, _out, logs) = guarded.terminate();
    assert!(!logs.contains(warning), "{logs}");
}

#[test]
fn the_credential_subcommands_refuse_what_they_cannot_use() {
    let out = tcphub(&["hash-secret"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no secret on stdin"));

    let dir = TempDir::new("subcommands");
    dir.write("jwt.secret", HS256_SECRET);
    let secret = dir.arg("jwt.secret");
    for (args, expected) in [
        (vec!["--alias", "#hub"], "--alias: invalid alias"),
        (
            vec!["--alias", "A", "--relay", ""],
            "--relay: an alias pattern may not be empty",
        ),
        (vec!["--alias", "A", "--expires-in", "soon"], "--expires-in"),
    ] {
        let mut command = vec!["token", "--key", &secret, "--algorithm", "hs256"];
        command.extend(args);
        let out = tcphub(&command, "");
        let error = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && error.contains(expected),
            "{command:?}: {error}"
        );
    }
    let short = dir.write("short.secret", "too short\n");
    let out = tcphub(
        &[
            "token",
            "--alias",
            "A",
            "--key",
            short.to_str().unwrap(),
            "--algorithm",
            "hs256",
        ],
        "",
    );
    let error = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{error}");
    assert!(
        error.contains("--key") && error.contains("at least 32"),
        "{error}"
    );
}
