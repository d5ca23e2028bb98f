//! Request and reply on one hub: a request reaches the alias asked (or the
//! host), exactly one reply comes back with the requester's id, and every
//! other ending (nobody holds the alias, nobody answers in time, the
//! requester left) is said once and forgets the request.

mod common;

use std::time::Duration;

use common::{error_code, Harness};
use serde_json::{json, Value};
use tcphub_core::{
    AliasPolicy, Event, HubConfig, HubError, HubFrame, ReplyAddress, SessionHandle, HUB_NAME,
};

fn hub() -> Harness {
    Harness::new(HubConfig::default())
}

/// Connects and syncs each alias, forgetting the `synced` frames.
fn clients<const N: usize>(h: &mut Harness, aliases: [&str; N]) -> [SessionHandle; N] {
    aliases.map(|alias| {
        let id = h.connect(&format!("10.0.0.1:{}", 1000 + h.inboxes.len()));
        h.sync(id, alias);
        h.take(id);
        id
    })
}

/// The `replyTo` of the one request `id` received.
fn the_request(h: &mut Harness, id: SessionHandle) -> (String, String, Value) {
    match &h.take(id)[..] {
        [HubFrame::Request {
            from,
            reply_to,
            message,
        }] => (from.clone(), reply_to.clone(), message.clone()),
        other => panic!("expected one request, got {other:?}"),
    }
}

fn reply(from: &str, message: Value, id: Option<Value>) -> HubFrame {
    HubFrame::Reply {
        from: from.into(),
        message,
        id,
    }
}

/// The code and id of the one error `id` received.
fn the_error(h: &mut Harness, id: SessionHandle) -> (String, Option<Value>) {
    match &h.take(id)[..] {
        [frame @ HubFrame::Error { id, .. }] => (error_code(frame).to_owned(), id.clone()),
        other => panic!("expected one error, got {other:?}"),
    }
}

#[test]
fn a_reply_reaches_the_requester_once_with_its_id() {
    let mut h = hub();
    let [a, b, c] = clients(&mut h, ["A", "B", "C"]);
    h.send(
        a,
        br#"{"type":"request","to":"B","message":{"q":"time?"},"id":"r1"}"#,
    );
    let (from, reply_to, message) = the_request(&mut h, b);
    assert_eq!((from.as_str(), &message), ("A", &json!({"q": "time?"})));
    assert!(h.take(a).is_empty() && h.take(c).is_empty());

    let answer = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":"12:00"}}"#);
    h.send(b, answer.as_bytes());
    assert_eq!(h.take(a), [reply("B", json!("12:00"), Some(json!("r1")))]);
    // A second answer finds nothing waiting, and says so with its own id.
    let again = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":1,"id":9}}"#);
    h.send(b, again.as_bytes());
    assert_eq!(
        the_error(&mut h, b),
        ("unknown_request".into(), Some(json!(9)))
    );
    assert!(h.take(a).is_empty());
    assert_eq!(h.hub.poll_timeout(), None, "no deadline left behind");
}

#[test]
fn only_the_alias_asked_can_answer() {
    let mut h = hub();
    let [a, b, c] = clients(&mut h, ["A", "B", "C"]);
    h.send(a, br#"{"type":"request","to":"B","message":1,"id":1}"#);
    let (_, reply_to, _) = the_request(&mut h, b);
    // C saw the number somewhere (or guessed it): its reply is refused,
    // and so is the requester's own.
    for forger in [c, a] {
        let forged = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":"forged"}}"#);
        h.send(forger, forged.as_bytes());
        assert_eq!(the_error(&mut h, forger).0, "unknown_request");
    }
    let answer = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":"real"}}"#);
    h.send(b, answer.as_bytes());
    assert_eq!(h.take(a), [reply("B", json!("real"), Some(json!(1)))]);
}

#[test]
fn a_request_to_nobody_is_refused_at_once_and_waits_for_nothing() {
    let mut h = hub();
    let [a] = clients(&mut h, ["A"]);
    for to in ["Nobody", "not an alias!"] {
        let frame = format!(r#"{{"type":"request","to":"{to}","message":1,"id":"x"}}"#);
        h.send(a, frame.as_bytes());
        assert_eq!(
            the_error(&mut h, a),
            ("unknown_alias".into(), Some(json!("x")))
        );
    }
    assert_eq!(h.hub.poll_timeout(), None);
    h.advance(Duration::from_secs(120));
    assert!(h.take(a).is_empty());
}

#[test]
fn nobody_answering_in_time_is_a_request_timeout_and_a_late_reply_is_refused() {
    let mut h = hub();
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.send(
        a,
        br#"{"type":"request","to":"B","message":1,"id":"slow","timeout":250}"#,
    );
    let (_, reply_to, _) = the_request(&mut h, b);
    assert_eq!(
        h.hub.poll_timeout(),
        Some(h.now + Duration::from_millis(250))
    );
    h.advance(Duration::from_millis(249));
    assert!(h.take(a).is_empty());
    h.advance(Duration::from_millis(1));
    match &h.take(a)[..] {
        [HubFrame::Error { code, message, id }] => {
            assert_eq!(
                (code.as_str(), id),
                ("request_timeout", &Some(json!("slow")))
            );
            assert!(
                message.contains("\"B\"") && message.contains("250 ms"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let late = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":1}}"#);
    h.send(b, late.as_bytes());
    assert_eq!(the_error(&mut h, b).0, "unknown_request");
    assert!(h.take(a).is_empty());
    assert_eq!(h.hub.poll_timeout(), None);
}

#[test]
fn timeouts_default_to_the_hub_s_and_are_cut_to_its_maximum() {
    let mut h = Harness::new(HubConfig {
        request_timeout: Duration::from_secs(2),
        max_request_timeout: Duration::from_secs(3),
        ..HubConfig::default()
    });
    let [a, _b] = clients(&mut h, ["A", "B"]);
    h.send(a, br#"{"type":"request","to":"B","message":1}"#);
    assert_eq!(h.hub.poll_timeout(), Some(h.now + Duration::from_secs(2)));
    h.send(
        a,
        br#"{"type":"request","to":"B","message":1,"timeout":99999999999999}"#,
    );
    h.advance(Duration::from_secs(2));
    assert_eq!(the_error(&mut h, a).0, "request_timeout");
    assert_eq!(h.hub.poll_timeout(), Some(Duration::from_secs(3)));
    h.advance(Duration::from_secs(1));
    assert_eq!(the_error(&mut h, a).0, "request_timeout");
}

#[test]
fn the_host_answers_requests_sent_without_to() {
    let mut h = hub();
    let [a] = clients(&mut h, ["A"]);
    h.take_events();
    h.send(a, br#"{"type":"request","message":{"sum":[1,2]},"id":5}"#);
    let events = h.take_events();
    let [Event::Request {
        handle,
        alias,
        reply_to,
        message,
        ..
    }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        (*handle, alias.as_ref().map(|a| a.as_str())),
        (a, Some("A"))
    );
    assert_eq!(message.get(), r#"{"sum":[1,2]}"#);
    assert_eq!(
        ReplyAddress::parse(&reply_to.to_string()).as_ref(),
        Some(reply_to)
    );
    h.hub.reply(reply_to, &3).unwrap();
    h.drain();
    assert_eq!(h.take(a), [reply(HUB_NAME, json!(3), Some(json!(5)))]);
    // Answered once only.
    assert!(matches!(
        h.hub.reply(reply_to, &4),
        Err(HubError::UnknownRequest(n)) if n == reply_to.to_string()
    ));
    // A message that is not JSON-encodable is refused, and the request
    // still waits for a good one.
    h.send(a, br#"{"type":"request","message":1}"#);
    let Some(Event::Request { reply_to, .. }) = h.take_events().pop() else {
        panic!()
    };
    let not_json = std::collections::HashMap::from([((1, 2), 3)]);
    assert!(matches!(
        h.hub.reply(&reply_to, &not_json),
        Err(HubError::InvalidMessage(_))
    ));
    h.hub.reply(&reply_to, "ok").unwrap();
    h.drain();
    assert_eq!(h.take(a), [reply(HUB_NAME, json!("ok"), None)]);
}

#[test]
fn the_host_cannot_answer_for_an_alias_nor_a_client_for_the_host() {
    let mut h = hub();
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.send(a, br#"{"type":"request","to":"B","message":1}"#);
    let (_, reply_to, _) = the_request(&mut h, b);
    let address = ReplyAddress::parse(&reply_to).unwrap();
    assert!(matches!(
        h.hub.reply(&address, &1),
        Err(HubError::UnknownRequest(_))
    ));
    h.send(a, br#"{"type":"request","message":1}"#);
    let Some(Event::Request { reply_to, .. }) = h.take_events().pop() else {
        panic!()
    };
    let forged = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":1}}"#);
    h.send(b, forged.as_bytes());
    assert_eq!(the_error(&mut h, b).0, "unknown_request");
    h.hub.reply(&reply_to, &2).unwrap();
    h.drain();
    assert_eq!(h.take(a), [reply(HUB_NAME, json!(2), None)]);
}

#[test]
fn a_requester_that_leaves_is_forgotten_with_its_requests() {
    let mut h = hub();
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.send(a, br#"{"type":"request","to":"B","message":1}"#);
    let (_, reply_to, _) = the_request(&mut h, b);
    h.send(a, br#"{"type":"request","message":1}"#);
    let Some(Event::Request {
        reply_to: for_host, ..
    }) = h
        .take_events()
        .into_iter()
        .rfind(|e| matches!(e, Event::Request { .. }))
    else {
        panic!()
    };
    h.disconnect(a);
    assert_eq!(h.hub.poll_timeout(), None, "its deadlines went with it");
    let answer = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":1}}"#);
    h.send(b, answer.as_bytes());
    assert_eq!(the_error(&mut h, b).0, "unknown_request");
    assert!(h.hub.reply(&for_host, &1).is_err());
}

#[test]
fn a_session_may_have_only_so_many_requests_waiting() {
    let mut h = Harness::new(HubConfig {
        max_pending_requests: 2,
        ..HubConfig::default()
    });
    let [a, b] = clients(&mut h, ["A", "B"]);
    for n in 0..2 {
        let frame = format!(r#"{{"type":"request","to":"B","message":{n}}}"#);
        h.send(a, frame.as_bytes());
    }
    h.send(
        a,
        br#"{"type":"request","to":"B","message":2,"id":"third"}"#,
    );
    assert_eq!(
        the_error(&mut h, a),
        ("too_many_requests".into(), Some(json!("third")))
    );
    // Answering one makes room for one more.
    let frames = h.take(b);
    let [HubFrame::Request { reply_to, .. }, _] = &frames[..] else {
        panic!("{frames:?}")
    };
    let answer = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":0}}"#);
    h.send(b, answer.as_bytes());
    h.take(a);
    h.send(a, br#"{"type":"request","to":"B","message":3}"#);
    assert!(h.take(a).is_empty());
    assert_eq!(h.take(b).len(), 1);
}

#[test]
fn malformed_requests_and_replies_are_refused_naming_the_problem() {
    let mut h = hub();
    let [a, b] = clients(&mut h, ["A", "B"]);
    let cases: [(&[u8], &str, &str); 9] = [
        (
            br#"{"type":"request","to":"*","message":1}"#,
            "invalid_field",
            "one alias",
        ),
        (
            br#"{"type":"request","room":"r","message":1}"#,
            "invalid_field",
            "room",
        ),
        (
            br#"{"type":"request","to":"B","message":1,"timeout":0}"#,
            "invalid_field",
            "timeout",
        ),
        (
            br#"{"type":"request","to":"B","message":1,"timeout":"5s"}"#,
            "invalid_field",
            "timeout",
        ),
        (
            br#"{"type":"request","to":"B","message":1,"timeout":1.5}"#,
            "invalid_field",
            "timeout",
        ),
        (
            br#"{"type":"request","to":"B"}"#,
            "missing_field",
            "message",
        ),
        (
            br#"{"type":"reply","message":1}"#,
            "missing_field",
            "replyTo",
        ),
        (
            br#"{"type":"reply","replyTo":7,"message":1}"#,
            "invalid_field",
            "replyTo",
        ),
        (
            br#"{"type":"reply","replyTo":"n1/+7","message":1}"#,
            "unknown_request",
            "n1/+7",
        ),
    ];
    for (frame, code, names) in cases {
        h.send(a, frame);
        match &h.take(a)[..] {
            [HubFrame::Error {
                code: got, message, ..
            }] => {
                assert_eq!(got, code, "{}", String::from_utf8_lossy(frame));
                assert!(message.contains(names), "{message}");
            }
            other => panic!("{}: {other:?}", String::from_utf8_lossy(frame)),
        }
    }
    assert!(h.take(b).is_empty());
    assert_eq!(h.hub.poll_timeout(), None);
}

#[test]
fn with_relaying_off_only_the_host_can_be_asked() {
    let mut h = Harness::new(HubConfig {
        relay: false,
        ..HubConfig::default()
    });
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.send(a, br#"{"type":"request","to":"B","message":1}"#);
    assert_eq!(the_error(&mut h, a).0, "relay_disabled");
    assert!(h.take(b).is_empty());
    h.take_events();
    h.send(a, br#"{"type":"request","message":1}"#);
    assert!(h
        .take_events()
        .iter()
        .any(|e| matches!(e, Event::Request { .. })));
}

#[test]
fn under_share_every_holder_is_asked_and_the_first_answer_wins() {
    let mut h = Harness::new(HubConfig {
        alias_policy: AliasPolicy::Share,
        ..HubConfig::default()
    });
    let [a, b1, b2] = clients(&mut h, ["A", "B", "B"]);
    h.send(a, br#"{"type":"request","to":"B","message":1,"id":1}"#);
    let (_, first, _) = the_request(&mut h, b1);
    let (_, second, _) = the_request(&mut h, b2);
    assert_eq!(first, second);
    let answer = |n: u8| format!(r#"{{"type":"reply","replyTo":"{first}","message":{n}}}"#);
    h.send(b2, answer(2).as_bytes());
    h.send(b1, answer(1).as_bytes());
    assert_eq!(h.take(a), [reply("B", json!(2), Some(json!(1)))]);
    assert_eq!(the_error(&mut h, b1).0, "unknown_request");
}

#[test]
fn request_settings_are_checked() {
    for (config, names) in [
        (
            HubConfig {
                request_timeout: Duration::ZERO,
                ..HubConfig::default()
            },
            "request_timeout",
        ),
        (
            HubConfig {
                request_timeout: Duration::from_secs(61),
                ..HubConfig::default()
            },
            "max_request_timeout",
        ),
        (
            HubConfig {
                max_pending_requests: 0,
                ..HubConfig::default()
            },
            "max_pending_requests",
        ),
    ] {
        let error = tcphub_core::Hub::new(config).unwrap_err().to_string();
        assert!(error.contains(names), "{error}");
    }
}

mod properties {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    #[derive(Debug, Clone)]
    enum Op {
        /// Session `from` asks alias `to` (or the host, for `None`).
        Ask {
            from: u8,
            to: Option<u8>,
            timeout_ms: u16,
        },
        /// Session `by` answers the `which`th request it was sent.
        Answer {
            by: u8,
            which: u8,
        },
        /// The host answers the `which`th request sent to it.
        HostAnswers {
            which: u8,
        },
        Advance {
            ms: u16,
        },
        /// Session `who` drops and a new session claims its alias.
        Reconnect {
            who: u8,
        },
    }

    const ALIASES: [&str; 4] = ["A", "B", "C", "Nobody"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3u8, proptest::option::of(0..4u8), 1..3000u16)
                .prop_map(|(from, to, timeout_ms)| Op::Ask { from, to, timeout_ms }),
            3 => (0..3u8, any::<u8>()).prop_map(|(by, which)| Op::Answer { by, which }),
            1 => any::<u8>().prop_map(|which| Op::HostAnswers { which }),
            2 => (1..2000u16).prop_map(|ms| Op::Advance { ms }),
            1 => (0..3u8).prop_map(|who| Op::Reconnect { who }),
        ]
    }

    /// How a request ended, as its requester was told.
    fn ending(frame: &HubFrame) -> Option<(u64, String)> {
        match frame {
            HubFrame::Reply { id: Some(id), .. } => Some((id.as_u64()?, "reply".into())),
            HubFrame::Error {
                id: Some(id), code, ..
            } => Some((id.as_u64()?, code.clone())),
            _ => None,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Whatever is asked, answered, forged, late or abandoned: every
        /// request whose requester stays ends exactly once, each reply
        /// comes from the alias asked, and no deadline is left in the past.
        #[test]
        fn every_request_ends_exactly_once(ops in proptest::collection::vec(op(), 1..80)) {
            let mut h = hub();
            let mut ports = 0u32;
            let mut connect = |h: &mut Harness, alias: &str| {
                ports += 1;
                let id = h.connect(&format!("10.0.0.9:{ports}"));
                h.sync(id, alias);
                h.take(id);
                id
            };
            let mut sessions: Vec<SessionHandle> =
                ALIASES[..3].iter().map(|a| connect(&mut h, a)).collect();
            // Requests by id: who asked (a session handle) and whom.
            let mut asked: BTreeMap<u64, (SessionHandle, Option<u8>)> = BTreeMap::new();
            let mut ended: BTreeMap<u64, Vec<String>> = BTreeMap::new();
            // What each session was asked, and what the host was.
            let mut inbox: BTreeMap<SessionHandle, Vec<String>> = BTreeMap::new();
            let mut host_inbox: Vec<ReplyAddress> = Vec::new();
            let mut next_id = 0u64;
            let mut collect = |h: &mut Harness, sessions: &[SessionHandle],
                               inbox: &mut BTreeMap<SessionHandle, Vec<String>>,
                               host_inbox: &mut Vec<ReplyAddress>,
                               ended: &mut BTreeMap<u64, Vec<String>>,
                               asked: &BTreeMap<u64, (SessionHandle, Option<u8>)>| {
                for (i, &id) in sessions.iter().enumerate() {
                    for frame in h.take(id) {
                        if let HubFrame::Request { reply_to, .. } = &frame {
                            inbox.entry(id).or_default().push(reply_to.clone());
                        }
                        if let Some((n, how)) = ending(&frame) {
                            let (requester, to) = asked[&n];
                            assert_eq!(requester, id, "request {n} ended at the wrong session");
                            if let HubFrame::Reply { from, .. } = &frame {
                                let expected = to.map_or(HUB_NAME, |t| ALIASES[usize::from(t)]);
                                assert_eq!(from, expected, "session {i}: reply from the wrong party");
                            }
                            ended.entry(n).or_default().push(how);
                        }
                    }
                }
                for event in h.take_events() {
                    if let Event::Request { reply_to, .. } = event {
                        host_inbox.push(reply_to);
                    }
                }
            };
            for op in ops {
                match op {
                    Op::Ask { from, to, timeout_ms } => {
                        next_id += 1;
                        let requester = sessions[usize::from(from)];
                        asked.insert(next_id, (requester, to));
                        let to = to.map(|t| format!(r#","to":"{}""#, ALIASES[usize::from(t)])).unwrap_or_default();
                        let frame = format!(r#"{{"type":"request"{to},"message":1,"id":{next_id},"timeout":{timeout_ms}}}"#);
                        h.send(requester, frame.as_bytes());
                    }
                    Op::Answer { by, which } => {
                        let by = sessions[usize::from(by)];
                        let got = inbox.entry(by).or_default();
                        if !got.is_empty() {
                            let reply_to = got[usize::from(which) % got.len()].clone();
                            let frame = format!(r#"{{"type":"reply","replyTo":"{reply_to}","message":2}}"#);
                            h.send(by, frame.as_bytes());
                        }
                    }
                    Op::HostAnswers { which } => {
                        if !host_inbox.is_empty() {
                            let reply_to = host_inbox[usize::from(which) % host_inbox.len()].clone();
                            let _ = h.hub.reply(&reply_to, &3);
                            h.drain();
                        }
                    }
                    Op::Advance { ms } => h.advance(Duration::from_millis(u64::from(ms))),
                    Op::Reconnect { who } => {
                        let i = usize::from(who);
                        collect(&mut h, &sessions, &mut inbox, &mut host_inbox, &mut ended, &asked);
                        h.disconnect(sessions[i]);
                        sessions[i] = connect(&mut h, ALIASES[i]);
                    }
                }
                collect(&mut h, &sessions, &mut inbox, &mut host_inbox, &mut ended, &asked);
                if let Some(at) = h.hub.poll_timeout() {
                    prop_assert!(at > h.now, "a deadline left at or before now");
                }
            }
            // Past every timeout, every request of a session still open has
            // ended, exactly once.
            h.advance(Duration::from_secs(10));
            collect(&mut h, &sessions, &mut inbox, &mut host_inbox, &mut ended, &asked);
            for (n, (requester, _)) in &asked {
                let endings = ended.get(n).map_or(&[][..], Vec::as_slice);
                if sessions.contains(requester) {
                    prop_assert_eq!(endings.len(), 1, "request {} ended {:?}", n, endings);
                } else {
                    prop_assert!(endings.len() <= 1, "request {} ended {:?}", n, endings);
                }
            }
            prop_assert_eq!(h.hub.poll_timeout(), None);
        }
    }
}
