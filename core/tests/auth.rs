//! Authentication and permissions in the core: a `sync` with a credential
//! waits for the driver's decision, wrong or missing credentials get
//! `unauthorized`, an address that keeps failing is slowed down, an alias
//! passes only between sessions of one identity, and an identity is
//! refused what it may not do. Nobody else notices any of it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{error_code, info, info_numbers, Harness};
use serde_json::json;
use tcphub_core::{
    AliasPattern, AliasPolicy, AuthDecision, CloseReason, Grant, HubConfig, HubFrame, Permissions,
    FIRST_AUTH_SPACING, FREE_AUTH_FAILURES,
};

fn authenticated() -> HubConfig {
    HubConfig {
        authentication: true,
        ..HubConfig::default()
    }
}

fn sync_with(alias: &str, token: &str) -> Vec<u8> {
    tcphub_core::encode_sync_request(alias, Some(token), None)
}

fn grant() -> AuthDecision {
    AuthDecision::Grant(Grant::allow_all())
}

fn grant_as(identity: &str, permissions: Permissions) -> AuthDecision {
    AuthDecision::Grant(Grant {
        identity: Some(Arc::from(identity)),
        permissions,
    })
}

fn synced_alias(frames: &[HubFrame]) -> Option<&str> {
    frames.iter().find_map(|f| match f {
        HubFrame::Synced { client_name, .. } => Some(client_name.as_str()),
        _ => None,
    })
}

/// A session connected from `peer` and granted `alias`.
fn signed_in(h: &mut Harness, peer: &str, alias: &str) -> tcphub_core::SessionHandle {
    let s = h.connect(peer);
    h.send(s, &sync_with(alias, "good"));
    assert!(h.decide(grant()));
    assert_eq!(synced_alias(&h.take(s)), Some(alias));
    s
}

#[test]
fn a_granted_credential_syncs_and_the_request_carries_what_was_sent() {
    let mut h = Harness::new(authenticated());
    let s = h.connect("10.0.0.1:1");
    h.send(
        s,
        br#"{"type":"sync","clientName":"Client-1","token":"s3cret","id":7}"#,
    );
    assert!(
        h.take(s).is_empty(),
        "nothing is answered before the decision"
    );
    let request = h.auth_requests[0].clone();
    assert_eq!(request.alias.as_str(), "Client-1");
    assert_eq!(&*request.token, "s3cret");
    assert_eq!(request.handle, s);
    assert_eq!(&*request.session_id, "10.0.0.1:1");
    assert!(h.decide(grant()));
    let frames = h.take(s);
    assert!(
        matches!(&frames[..], [HubFrame::Synced { client_name, id, .. }]
            if client_name == "Client-1" && id == &Some(json!(7))),
        "{frames:?}"
    );
    assert_eq!(h.hub.session(s).unwrap().identity, Some("Client-1"));
}

#[test]
fn wrong_and_missing_credentials_get_unauthorized_with_no_hint() {
    let mut h = Harness::new(authenticated());
    let holder = signed_in(&mut h, "10.0.0.1:1", "Client-1");
    let s = h.connect("10.0.0.2:1");
    h.send(s, br#"{"type":"sync","clientName":"Client-1","id":1}"#);
    let frames = h.take(s);
    assert_eq!(error_code(&frames[0]), "unauthorized");
    assert!(h.auth_requests.is_empty(), "no token, nothing to ask");

    // A wrong credential for a held alias and for a free one read alike.
    h.send(s, &sync_with("Client-1", "wrong"));
    assert!(h.decide(AuthDecision::Deny));
    h.send(s, &sync_with("Nobody", "wrong"));
    assert!(h.decide(AuthDecision::Deny));
    let frames = h.take(s);
    let messages: Vec<String> = frames
        .iter()
        .map(|f| match f {
            HubFrame::Error { code, message, .. } => {
                assert_eq!(code, "unauthorized");
                message.replace("Client-1", "X").replace("Nobody", "X")
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(messages[0], messages[1]);
    assert!(!messages[0].contains("held"), "{}", messages[0]);
    assert_eq!(h.closed(s), None, "a failure does not close the session");
    assert!(h.take(holder).is_empty(), "the holder notices nothing");
}

#[test]
fn before_authenticating_only_sync_ping_and_bye_are_served() {
    let mut h = Harness::new(authenticated());
    let member = signed_in(&mut h, "10.0.0.1:1", "Member");
    let s = h.connect("10.0.0.2:1");
    for request in [
        r#"{"type":"info","to":"Member","message":"hi","id":1}"#,
        r#"{"type":"info","to":"*","message":"hi","id":2}"#,
        r#"{"type":"info","message":"to the host","id":3}"#,
        r#"{"type":"list","id":4}"#,
        r#"{"type":"join","room":"r","id":5}"#,
        r#"{"type":"watch","id":6}"#,
    ] {
        h.send(s, request.as_bytes());
    }
    let frames = h.take(s);
    assert_eq!(frames.len(), 6, "{frames:?}");
    for (n, frame) in frames.iter().enumerate() {
        assert_eq!(error_code(frame), "unauthorized");
        let HubFrame::Error { id, .. } = frame else {
            unreachable!()
        };
        assert_eq!(id, &Some(json!(n + 1)));
    }
    h.send(s, br#"{"type":"ping","id":"p"}"#);
    assert!(matches!(&h.take(s)[..], [HubFrame::Pong { .. }]));
    assert!(h.take(member).is_empty());
    assert!(
        !h.take_events()
            .iter()
            .any(|e| matches!(e, tcphub_core::Event::Message { .. })),
        "the host got nothing"
    );
    h.send(s, br#"{"type":"bye"}"#);
    assert_eq!(h.closed(s), Some(CloseReason::ClientBye));
}

#[test]
fn the_session_waits_for_the_decision_with_its_input_kept_in_order() {
    let mut h = Harness::new(authenticated());
    let r = signed_in(&mut h, "10.0.0.1:1", "R");
    let s = h.connect("10.0.0.2:1");
    let mut input = sync_with("S", "good");
    input.extend_from_slice(br#"{"type":"info","to":"R","message":1}"#);
    h.send(s, &input);
    assert!(
        h.inboxes[&s].paused,
        "reading stops while the credential is checked"
    );
    h.send(s, br#"{"type":"info","to":"R","message":2}"#);
    // Other sessions go on meanwhile.
    h.send(r, br#"{"type":"ping"}"#);
    assert!(matches!(&h.take(r)[..], [HubFrame::Pong { .. }]));
    assert!(h.decide(grant()));
    assert!(!h.inboxes[&s].paused);
    assert_eq!(info_numbers(&h.take(r)), [1, 2]);
}

#[test]
fn no_decision_in_time_is_unauthorized_and_a_late_answer_is_ignored() {
    let config = HubConfig {
        auth_timeout: Duration::from_secs(2),
        ..authenticated()
    };
    let mut h = Harness::new(config);
    let s = h.connect("10.0.0.1:1");
    h.send(
        s,
        br#"{"type":"sync","clientName":"Slow","token":"t","id":"x"}"#,
    );
    h.advance(Duration::from_millis(1999));
    assert!(h.take(s).is_empty());
    h.advance(Duration::from_millis(1));
    let frames = h.take(s);
    assert_eq!(error_code(&frames[0]), "unauthorized");
    let HubFrame::Error { message, id, .. } = &frames[0] else {
        unreachable!()
    };
    assert!(
        message.contains("in time") || message.contains("within"),
        "{message}"
    );
    assert_eq!(id, &Some(json!("x")));
    assert!(!h.decide(grant()), "too late");
    assert!(h.take(s).is_empty());
    assert_eq!(h.hub.session(s).unwrap().alias, None);
}

#[test]
fn a_session_that_closes_while_waiting_leaves_no_question_open() {
    let mut h = Harness::new(authenticated());
    let s = h.connect("10.0.0.1:1");
    h.send(s, &sync_with("Gone", "t"));
    h.disconnect(s);
    assert!(!h.decide(grant()));
    assert!(h.hub.alias_holders("Gone").is_empty());
}

#[test]
fn repeated_failures_from_one_address_are_slowed_down_and_others_are_not() {
    let mut h = Harness::new(authenticated());
    let s = h.connect("10.9.9.9:1");
    for _ in 0..=FREE_AUTH_FAILURES {
        h.send(s, &sync_with("Victim", "guess"));
        assert_eq!(h.auth_requests.len(), 1, "asked at once");
        assert!(h.decide(AuthDecision::Deny));
    }
    // The next attempt, even from a new connection, waits its turn.
    let t = h.connect("10.9.9.9:2");
    h.send(t, &sync_with("Victim", "guess"));
    assert!(h.auth_requests.is_empty(), "held until its turn");
    // Another address is not slowed.
    let other = h.connect("10.1.1.1:1");
    h.send(other, &sync_with("Other", "good"));
    assert_eq!(h.auth_requests.len(), 1);
    assert!(h.decide(grant()));
    assert_eq!(synced_alias(&h.take(other)), Some("Other"));

    h.advance(FIRST_AUTH_SPACING - Duration::from_millis(1));
    assert!(h.auth_requests.is_empty());
    h.advance(Duration::from_millis(1));
    assert_eq!(h.auth_requests.len(), 1, "its turn came");
    assert!(h.decide(grant()));
    assert_eq!(synced_alias(&h.take(t)), Some("Victim"));
}

#[test]
fn takeover_passes_an_alias_only_within_one_identity() {
    let mut h = Harness::new(authenticated());
    let first = h.connect("10.0.0.1:1");
    h.send(first, &sync_with("Client-1", "t"));
    h.decide(grant_as("alice", Permissions::default()));
    h.take(first);

    // Another identity with a valid credential for the same alias.
    let intruder = h.connect("10.0.0.2:1");
    h.send(intruder, &sync_with("Client-1", "t"));
    h.decide(grant_as("mallory", Permissions::default()));
    let frames = h.take(intruder);
    assert_eq!(error_code(&frames[0]), "alias_taken");
    assert_eq!(h.closed(first), None);
    assert!(h.take(first).is_empty(), "the holder notices nothing");

    // The same identity reconnecting takes its alias back.
    let again = h.connect("10.0.0.1:2");
    h.send(again, &sync_with("Client-1", "t"));
    h.decide(grant_as("alice", Permissions::default()));
    assert_eq!(synced_alias(&h.take(again)), Some("Client-1"));
    assert_eq!(h.closed(first), Some(CloseReason::TakenOver));
}

#[test]
fn share_admits_only_the_same_identity_too() {
    let config = HubConfig {
        alias_policy: AliasPolicy::Share,
        ..authenticated()
    };
    let mut h = Harness::new(config);
    let a = h.connect("10.0.0.1:1");
    h.send(a, &sync_with("Team", "t"));
    h.decide(grant_as("alice", Permissions::default()));
    let b = h.connect("10.0.0.1:2");
    h.send(b, &sync_with("Team", "t"));
    h.decide(grant_as("alice", Permissions::default()));
    let c = h.connect("10.0.0.2:1");
    h.send(c, &sync_with("Team", "t"));
    h.decide(grant_as("bob", Permissions::default()));
    assert_eq!(h.hub.alias_holders("Team"), [a, b]);
    assert_eq!(error_code(&h.take(c)[0]), "alias_taken");
}

fn restricted() -> Permissions {
    Permissions {
        relay: vec![AliasPattern::new("Client-*").unwrap()],
        broadcast: false,
        list: false,
    }
}

#[test]
fn an_identity_is_refused_what_it_may_not_do_naming_it() {
    let mut h = Harness::new(authenticated());
    let client = signed_in(&mut h, "10.0.0.1:1", "Client-2");
    let admin = signed_in(&mut h, "10.0.0.2:1", "Admin");
    let s = h.connect("10.0.0.3:1");
    h.send(s, &sync_with("Client-1", "t"));
    h.decide(grant_as("Client-1", restricted()));
    h.take(s);

    h.send(s, br#"{"type":"info","to":"Client-2","message":"ok"}"#);
    assert_eq!(h.take(client), [info("Client-1", json!("ok"))]);

    for (request, names) in [
        (
            r#"{"type":"info","to":"Admin","message":1,"id":1}"#,
            "\"Admin\"",
        ),
        (
            r#"{"type":"info","to":"Nobody","message":1,"id":2}"#,
            "\"Nobody\"",
        ),
        (r#"{"type":"info","to":"*","message":1,"id":3}"#, "\"*\""),
        (r#"{"type":"list","id":4}"#, "list"),
        (r#"{"type":"watch","id":5}"#, "watch"),
    ] {
        h.send(s, request.as_bytes());
        let frames = h.take(s);
        let HubFrame::Error { code, message, .. } = &frames[0] else {
            panic!("{frames:?}")
        };
        assert_eq!(code, "forbidden");
        assert!(message.contains(names), "{message} names {names}");
        assert!(message.contains("Client-1"), "{message} names the identity");
    }
    assert!(h.take(admin).is_empty() && h.take(client).is_empty());
}

#[test]
fn a_last_will_to_a_forbidden_alias_is_refused_before_the_claim() {
    let mut h = Harness::new(authenticated());
    let admin = signed_in(&mut h, "10.0.0.2:1", "Admin");
    let s = h.connect("10.0.0.3:1");
    h.send(
        s,
        br#"{"type":"sync","clientName":"Client-1","token":"t","lastWill":{"to":"Admin","message":"x"}}"#,
    );
    h.decide(grant_as("Client-1", restricted()));
    let frames = h.take(s);
    assert_eq!(error_code(&frames[0]), "forbidden");
    assert!(h.hub.alias_holders("Client-1").is_empty());
    h.disconnect(s);
    assert!(h.take(admin).is_empty(), "no will was kept, none is sent");
}

#[test]
fn with_authentication_off_a_token_is_ignored_and_nothing_is_asked() {
    let mut h = Harness::new(HubConfig::default());
    let s = h.connect("10.0.0.1:1");
    h.send(s, &sync_with("Client-1", "whatever"));
    assert!(h.auth_requests.is_empty());
    assert_eq!(synced_alias(&h.take(s)), Some("Client-1"));
    assert_eq!(h.hub.session(s).unwrap().identity, None);
}
