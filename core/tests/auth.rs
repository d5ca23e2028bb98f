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
    // Signed in as Fast, it asks for Slow too.
    let s = signed_in(&mut h, "10.0.0.1:1", "Fast");
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
    assert!(message.contains("within 2000 ms"), "{message}");
    assert_eq!(id, &Some(json!("x")));
    assert!(!h.decide(grant()), "too late");
    assert!(h.take(s).is_empty());
    assert_eq!(h.hub.session(s).unwrap().alias.unwrap().as_str(), "Fast");

    // Not signed in yet, its time to sign in is up too: told, then closed.
    let t = h.connect("10.0.0.2:1");
    h.send(t, &sync_with("Slow", "t"));
    h.advance(Duration::from_secs(2));
    let frames = h.take(t);
    assert_eq!(error_code(&frames[0]), "unauthorized");
    assert_eq!(h.closed(t), Some(CloseReason::AuthTimeout));
    assert!(!h.decide(grant()), "too late");
    assert!(h.hub.poll_timeout().is_none_or(|at| at > h.now));
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
fn everything_sent_to_everyone_reaches_only_signed_in_sessions() {
    let mut h = Harness::new(authenticated());
    let a = signed_in(&mut h, "10.0.0.1:1", "A");
    let b = signed_in(&mut h, "10.0.0.2:1", "B");
    let lurker = h.connect("10.0.0.3:1");
    // Asked about, not answered yet.
    let waiting = h.connect("10.0.0.4:1");
    h.send(waiting, &sync_with("W", "t"));
    h.send(a, br#"{"type":"info","to":"*","message":"from A"}"#);
    assert_eq!(h.hub.broadcast("from the host").unwrap(), 2);
    h.drain();
    assert_eq!(
        h.take(b),
        [
            info("A", json!("from A")),
            info("#hub", json!("from the host"))
        ]
    );
    assert_eq!(h.take(a), [info("#hub", json!("from the host"))]);
    assert!(h.take(lurker).is_empty(), "not signed in, it hears nothing");
    assert!(h.take(waiting).is_empty());
}

#[test]
fn a_connection_that_never_signs_in_is_closed_after_auth_timeout() {
    let config = HubConfig {
        auth_timeout: Duration::from_secs(5),
        ..authenticated()
    };
    let mut h = Harness::new(config);
    let idle = h.connect("10.0.0.1:1");
    let pinger = h.connect("10.0.0.2:1");
    let member = h.connect("10.0.0.3:1");
    h.send(member, &sync_with("Member", "good"));
    h.advance(Duration::from_secs(1));
    assert!(h.decide(grant()));
    h.take(member);
    for _ in 0..4 {
        h.send(pinger, br#"{"type":"ping"}"#);
        h.advance(Duration::from_millis(999));
    }
    assert_eq!(h.closed(idle), None);
    h.advance(Duration::from_millis(4));
    assert_eq!(h.closed(idle), Some(CloseReason::AuthTimeout));
    assert_eq!(
        h.closed(pinger),
        Some(CloseReason::AuthTimeout),
        "pings do not sign in"
    );
    let farewell = h.take(idle).pop().unwrap();
    assert!(
        matches!(&farewell, HubFrame::Bye { reason, message } if reason == "auth_timeout" && message.contains("5000 ms")),
        "{farewell:?}"
    );
    h.advance(Duration::from_secs(60));
    assert_eq!(
        h.closed(member),
        None,
        "a signed-in session has no deadline"
    );
}

#[test]
fn a_question_open_at_the_sign_in_deadline_is_answered_before_the_close() {
    let config = HubConfig {
        auth_timeout: Duration::from_secs(5),
        ..authenticated()
    };
    let mut h = Harness::new(config);
    let s = h.connect("10.0.0.1:1");
    h.advance(Duration::from_secs(4));
    h.send(s, &sync_with("Late", "t"));
    h.advance(Duration::from_secs(2));
    assert_eq!(h.closed(s), None, "its question is still open");
    assert!(h.decide(AuthDecision::Deny));
    h.advance(Duration::ZERO);
    let frames = h.take(s);
    assert_eq!(error_code(&frames[0]), "unauthorized");
    assert_eq!(h.closed(s), Some(CloseReason::AuthTimeout));
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

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use tcphub_core::SessionHandle;

    #[derive(Debug, Clone)]
    enum Op {
        Connect {
            address: u8,
        },
        Sync {
            session: u8,
            alias: u8,
        },
        Grant {
            request: u8,
            identity: u8,
            relay_all: bool,
        },
        Deny {
            request: u8,
        },
        Relay {
            session: u8,
            to: u8,
        },
        Advance {
            ms: u16,
        },
        Disconnect {
            session: u8,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            2 => (0..3u8).prop_map(|address| Op::Connect { address }),
            4 => (any::<u8>(), 0..3u8).prop_map(|(session, alias)| Op::Sync { session, alias }),
            3 => (any::<u8>(), 0..2u8, any::<bool>())
                .prop_map(|(request, identity, relay_all)| Op::Grant { request, identity, relay_all }),
            2 => any::<u8>().prop_map(|request| Op::Deny { request }),
            3 => (any::<u8>(), 0..4u8).prop_map(|(session, to)| Op::Relay { session, to }),
            2 => (0..3000u16).prop_map(|ms| Op::Advance { ms }),
            1 => any::<u8>().prop_map(|session| Op::Disconnect { session }),
        ]
    }

    const ALIASES: [&str; 3] = ["A", "B", "Client-1"];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever credentials come and go, in any order, with answers
        /// late or never: an alias is held only by sessions of one
        /// identity that were granted it, a session waiting for its
        /// credential is not read, no one unauthenticated reaches anyone,
        /// and (the harness checks) nothing is sent to a closed session.
        #[test]
        fn aliases_follow_grants_whatever_the_order(
            policy in prop_oneof![Just(AliasPolicy::Takeover), Just(AliasPolicy::Share), Just(AliasPolicy::Reject)],
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let mut h = Harness::new(HubConfig {
                alias_policy: policy,
                auth_timeout: Duration::from_secs(2),
                ..authenticated()
            });
            let mut sessions: Vec<SessionHandle> = Vec::new();
            // What each session was granted, by the answer the hub took.
            let mut granted: BTreeMap<SessionHandle, Vec<(String, String)>> = BTreeMap::new();
            let mut ports = 0u32;
            let pick = |sessions: &[SessionHandle], i: u8| {
                (!sessions.is_empty()).then(|| sessions[usize::from(i) % sessions.len()])
            };
            for op in ops {
                match op {
                    Op::Connect { address } => {
                        ports += 1;
                        sessions.push(h.connect(&format!("10.0.0.{address}:{ports}")));
                    }
                    Op::Sync { session, alias } => {
                        if let Some(s) = pick(&sessions, session) {
                            if h.hub.session(s).is_some() {
                                h.send(s, &sync_with(ALIASES[usize::from(alias)], "t"));
                            }
                        }
                    }
                    Op::Grant { request, identity, relay_all } => {
                        if h.auth_requests.is_empty() { continue; }
                        let request = h.auth_requests.remove(usize::from(request) % h.auth_requests.len());
                        let identity = ["alice", "bob"][usize::from(identity)];
                        let permissions = if relay_all { Permissions::default() } else { restricted() };
                        let took = h.hub.handle_auth_decision(h.now, request.id, grant_as(identity, permissions)).unwrap();
                        h.drain();
                        if took {
                            granted.entry(request.handle).or_default().push((request.alias.to_string(), identity.to_owned()));
                        }
                    }
                    Op::Deny { request } => {
                        if h.auth_requests.is_empty() { continue; }
                        let request = h.auth_requests.remove(usize::from(request) % h.auth_requests.len());
                        h.hub.handle_auth_decision(h.now, request.id, AuthDecision::Deny).unwrap();
                        h.drain();
                    }
                    Op::Relay { session, to } => {
                        if let Some(s) = pick(&sessions, session) {
                            if h.hub.session(s).is_some() {
                                let to = ["A", "B", "Client-1", "*"][usize::from(to)];
                                h.send(s, format!(r#"{{"type":"info","to":"{to}","message":0}}"#).as_bytes());
                            }
                        }
                    }
                    Op::Advance { ms } => {
                        h.advance(Duration::from_millis(u64::from(ms)));
                        // Every deadline due was acted on: none is left
                        // in the past for a driver to spin on.
                        prop_assert!(h.hub.poll_timeout().is_none_or(|at| at > h.now));
                    }
                    Op::Disconnect { session } => {
                        if let Some(s) = pick(&sessions, session) {
                            if h.hub.session(s).is_some() {
                                h.disconnect(s);
                            }
                        }
                    }
                }
                // Questions the hub forgot (deadline, close) stay in the
                // harness's list; answering them later must be harmless.
                for alias in ALIASES {
                    let holders = h.hub.alias_holders(alias).to_vec();
                    let mut identities = Vec::new();
                    for holder in &holders {
                        let info = h.hub.session(*holder).expect("holders are open");
                        let identity = info.identity.expect("holders authenticated");
                        identities.push(identity.to_owned());
                        // It holds the alias under an identity a grant
                        // gave it for that alias.
                        let grants = granted.get(holder).map(Vec::as_slice).unwrap_or_default();
                        prop_assert!(
                            grants.iter().any(|(a, i)| a == alias && i == identity),
                            "{holder} holds {alias} as {identity}, granted {grants:?}"
                        );
                    }
                    identities.dedup();
                    prop_assert!(identities.len() <= 1, "{alias} held by {identities:?}");
                    if policy != AliasPolicy::Share {
                        prop_assert!(holders.len() <= 1);
                    }
                }
                for info in h.hub.sessions() {
                    if info.alias.is_some() {
                        prop_assert!(info.identity.is_some());
                    }
                }
                for inbox in h.inboxes.values() {
                    for frame in &inbox.frames {
                        if let HubFrame::Info { from, .. } = frame {
                            prop_assert!(
                                from == "#hub" || ALIASES.contains(&from.as_str()),
                                "only authenticated senders reach anyone: {from}"
                            );
                        }
                    }
                }
            }
        }
    }
}
