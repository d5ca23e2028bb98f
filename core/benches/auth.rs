//! What authentication costs the core, on one core (the credential check
//! itself is the driver's, and measured by tests/bench/security).
//!
//! - `auth/sync/off` against `auth/sync/on`: a session is accepted,
//!   syncs (with a token, answered at once with a grant, when on) and
//!   closes; reported per session.
//! - `auth/direct/unrestricted` against `auth/direct/restricted`: the
//!   `core/direct` stream of 1,000 directed messages, from an identity
//!   with every permission and from one whose relays are checked against
//!   two alias patterns; reported per message.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tcphub_core::{
    AliasPattern, AuthDecision, Grant, Hub, HubConfig, Output, Permissions, SessionHandle,
};

const BATCH: usize = 1_000;

/// Runs every output: frames are written at once, questions about
/// credentials granted with `grant`.
fn drain(hub: &mut Hub, grant: &Grant) {
    while let Some(out) = hub.poll_output() {
        match out {
            Output::Transmit { handle, frame } => {
                hub.handle_written(Duration::ZERO, handle, frame.len())
                    .unwrap();
            }
            Output::Authenticate(request) => {
                let decision = AuthDecision::Grant(grant.clone());
                assert!(hub
                    .handle_auth_decision(Duration::ZERO, request.id, decision)
                    .unwrap());
            }
            _ => {}
        }
    }
}

fn config(authentication: bool) -> HubConfig {
    HubConfig {
        authentication,
        ..HubConfig::default()
    }
}

fn sync(c: &mut Criterion) {
    let grant = Grant::allow_all();
    let mut group = c.benchmark_group("auth/sync");
    group.throughput(Throughput::Elements(BATCH as u64));
    for authentication in [false, true] {
        let mut hub = Hub::new(config(authentication)).unwrap();
        let token = authentication.then_some("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJDbGllbnQtMSJ9.sig");
        let frames: Vec<Vec<u8>> = (0..BATCH)
            .map(|i| tcphub_core::encode_sync_request(&format!("Client-{i}"), token, None))
            .collect();
        let name = if authentication { "on" } else { "off" };
        group.bench_function(name, |b| {
            b.iter(|| {
                for (i, frame) in frames.iter().enumerate() {
                    let peer = format!("10.0.{}.{}:1", i / 250, i % 250);
                    let id = hub.handle_accept(Duration::ZERO, &peer).unwrap();
                    hub.handle_data(Duration::ZERO, id, frame).unwrap();
                    drain(&mut hub, &grant);
                    hub.handle_close(Duration::ZERO, id).unwrap();
                    drain(&mut hub, &grant);
                }
            })
        });
    }
    group.finish();
}

/// Two sessions, `Client-0` granted `permissions` and `Client-1`.
fn pair(permissions: Permissions) -> (Hub, SessionHandle) {
    let mut hub = Hub::new(config(true)).unwrap();
    let sender_grant = Grant {
        identity: None,
        permissions,
    };
    let mut ids = Vec::new();
    for (i, grant) in [sender_grant, Grant::allow_all()].iter().enumerate() {
        let id = hub
            .handle_accept(Duration::ZERO, &format!("127.0.0.1:{}", 10_000 + i))
            .unwrap();
        let sync = tcphub_core::encode_sync_request(&format!("Client-{i}"), Some("t"), None);
        hub.handle_data(Duration::ZERO, id, &sync).unwrap();
        drain(&mut hub, grant);
        ids.push(id);
    }
    (hub, ids[0])
}

fn direct(c: &mut Criterion) {
    let frame = r#"{"type":"info","to":"Client-1","message":{"seq":12345,"text":"赶紧来做核酸了, 就差你了"}}"#.as_bytes();
    let stream: Vec<u8> = frame.repeat(BATCH);
    let restricted = Permissions {
        relay: vec![
            AliasPattern::new("Ops-?").unwrap(),
            AliasPattern::new("Client-*").unwrap(),
        ],
        ..Permissions::default()
    };
    let mut group = c.benchmark_group("auth/direct");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, permissions) in [
        ("unrestricted", Permissions::default()),
        ("restricted", restricted),
    ] {
        let (mut hub, sender) = pair(permissions);
        group.bench_function(name, |b| {
            b.iter(|| {
                hub.handle_data(Duration::ZERO, sender, &stream).unwrap();
                drain(&mut hub, &Grant::allow_all());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sync, direct);
criterion_main!(benches);
