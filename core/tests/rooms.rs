//! Rooms, presence, last wills and observation, one behaviour per test.

mod common;

use common::{error_code, room_info, Harness};
use serde_json::json;
use tcphub_core::{
    AliasPolicy, CloseReason, Event, HubConfig, HubError, HubFrame, RelayTarget, SessionHandle,
};

fn hub() -> Harness {
    Harness::new(HubConfig::default())
}

/// Connects and syncs one session per alias, and clears what they got.
fn clients<const N: usize>(h: &mut Harness, aliases: [&str; N]) -> [SessionHandle; N] {
    aliases.map(|alias| {
        let id = h.connect(&format!("{alias}:1"));
        h.sync(id, alias);
        h.take(id);
        id
    })
}

fn join(h: &mut Harness, id: SessionHandle, room: &str) {
    h.send(
        id,
        format!(r#"{{"type":"join","room":"{room}"}}"#).as_bytes(),
    );
}

fn say(h: &mut Harness, id: SessionHandle, room: &str, text: &str) {
    h.send(
        id,
        format!(r#"{{"type":"info","room":"{room}","message":"{text}"}}"#).as_bytes(),
    );
}

/// A `presence` frame's (event, alias, room, reason).
type Presence = (String, Option<String>, Option<String>, Option<String>);

/// The `presence` frames in `frames`.
fn presence(frames: &[HubFrame]) -> Vec<Presence> {
    frames
        .iter()
        .filter_map(|f| match f {
            HubFrame::Presence {
                event,
                alias,
                room,
                reason,
                ..
            } => Some((event.clone(), alias.clone(), room.clone(), reason.clone())),
            _ => None,
        })
        .collect()
}

fn p(event: &str, alias: &str, room: Option<&str>, reason: Option<&str>) -> Presence {
    (
        event.into(),
        Some(alias.into()),
        room.map(Into::into),
        reason.map(Into::into),
    )
}

#[test]
fn a_room_message_reaches_every_other_member_and_nobody_else() {
    let mut h = hub();
    let [a, b, c, d] = clients(&mut h, ["A", "B", "C", "D"]);
    for id in [a, b, c] {
        join(&mut h, id, "lobby");
    }
    assert_eq!(
        h.take(c),
        [HubFrame::Joined {
            room: "lobby".into(),
            members: 3,
            id: None
        }]
    );
    h.take(a);
    h.take(b);
    say(&mut h, a, "lobby", "hi");
    assert_eq!(h.take(b), [room_info("A", "lobby", json!("hi"))]);
    assert_eq!(h.take(c), [room_info("A", "lobby", json!("hi"))]);
    assert!(
        h.take(a).is_empty(),
        "the sender is not sent its own message"
    );
    assert!(h.take(d).is_empty(), "non-members get nothing");
    // A non-member may send to a room; members get it, it does not.
    say(&mut h, d, "lobby", "knock");
    for id in [a, b, c] {
        assert_eq!(h.take(id), [room_info("D", "lobby", json!("knock"))]);
    }
    assert!(h.take(d).is_empty());
}

#[test]
fn a_room_message_is_encoded_once_for_all_members() {
    let mut h = hub();
    let ids = clients(&mut h, ["A", "B", "C", "D"]);
    for &id in &ids {
        h.hub.join_room(id, "lobby").unwrap();
    }
    h.drain();
    h.hub
        .handle_data(
            h.now,
            ids[0],
            br#"{"type":"info","room":"lobby","message":1}"#,
        )
        .unwrap();
    let mut frames = Vec::new();
    while let Some(output) = h.hub.poll_output() {
        if let tcphub_core::Output::Transmit { frame, .. } = output {
            frames.push(frame);
        }
    }
    assert_eq!(frames.len(), 3);
    assert!(frames.windows(2).all(|w| w[0].as_ptr() == w[1].as_ptr()));
}

#[test]
fn leave_and_disconnect_end_membership_and_an_empty_room_is_gone() {
    let mut h = hub();
    let [a, b, c] = clients(&mut h, ["A", "B", "C"]);
    for id in [a, b, c] {
        join(&mut h, id, "lobby");
    }
    h.send(b, br#"{"type":"leave","room":"lobby","id":7}"#);
    assert_eq!(
        h.take(b).last(),
        Some(&HubFrame::Left {
            room: "lobby".into(),
            id: Some(json!(7))
        })
    );
    h.disconnect(c);
    let members: Vec<_> = h.hub.room_members("lobby").map(|s| s.handle).collect();
    assert_eq!(members, [a]);
    h.take(a);
    say(&mut h, a, "lobby", "anyone?");
    assert!(h.take(b).is_empty());
    h.send(a, br#"{"type":"leave","room":"lobby"}"#);
    assert_eq!(
        h.hub.rooms().count(),
        0,
        "a room lives while it has members"
    );
    h.take(a);
    say(&mut h, b, "lobby", "hello?");
    assert_eq!(error_code(&h.take(b)[0]), "unknown_room");
    h.send(b, br#"{"type":"leave","room":"lobby"}"#);
    assert_eq!(error_code(&h.take(b)[0]), "not_in_room");
}

#[test]
fn the_host_puts_sessions_in_rooms_and_sends_to_them() {
    let mut h = hub();
    let [a, b] = clients(&mut h, ["A", "B"]);
    assert!(h.hub.join_room(a, "ops").unwrap());
    assert!(!h.hub.join_room(a, "ops").unwrap(), "already a member");
    h.hub.join_room(b, "ops").unwrap();
    h.drain();
    assert!(matches!(&h.take(a)[0], HubFrame::Joined { room, .. } if room == "ops"));
    assert_eq!(h.hub.send_to_room("ops", "deploy at 5").unwrap(), 2);
    h.drain();
    assert_eq!(
        h.take(b).last(),
        Some(&room_info("#hub", "ops", json!("deploy at 5")))
    );
    let rooms: Vec<_> = h.hub.rooms().map(|(r, n)| (r.to_string(), n)).collect();
    assert_eq!(rooms, [("ops".to_string(), 2)]);
    assert!(h.hub.leave_room(b, "ops").unwrap());
    assert!(!h.hub.leave_room(b, "ops").unwrap());
    h.drain();
    assert!(matches!(h.take(b).last(), Some(HubFrame::Left { room, .. }) if room == "ops"));
    assert!(matches!(
        h.hub.send_to_room("nowhere", "x"),
        Err(HubError::UnknownRoom(_))
    ));
    assert!(matches!(
        h.hub.join_room(a, "#bad"),
        Err(HubError::InvalidRoom(_))
    ));
    let events = h.take_events();
    assert!(events.iter().any(|e| matches!(e, Event::Joined { handle, room, .. } if *handle == b && room.as_str() == "ops")));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::Left { handle, .. } if *handle == b)));
}

#[test]
fn bad_room_requests_get_typed_errors() {
    let mut h = Harness::new(HubConfig {
        max_rooms_per_session: 2,
        max_watched_aliases: 2,
        ..HubConfig::default()
    });
    let [a] = clients(&mut h, ["A"]);
    let cases: [(&[u8], &str); 7] = [
        (br#"{"type":"join","room":"*"}"#, "invalid_room"),
        (br#"{"type":"join","room":""}"#, "invalid_room"),
        (br#"{"type":"join"}"#, "missing_field"),
        (
            br#"{"type":"info","to":"A","room":"r","message":1}"#,
            "invalid_field",
        ),
        (br#"{"type":"list","room":"r"}"#, "not_in_room"),
        (br#"{"type":"watch","room":"r"}"#, "not_in_room"),
        (
            br#"{"type":"watch","aliases":["x","y","z"]}"#,
            "too_many_watches",
        ),
    ];
    for (input, code) in cases {
        h.send(a, input);
        let frames = h.take(a);
        assert_eq!(frames.len(), 1, "{}", String::from_utf8_lossy(input));
        assert_eq!(
            error_code(&frames[0]),
            code,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
    join(&mut h, a, "r1");
    join(&mut h, a, "r2");
    h.take(a);
    join(&mut h, a, "r3");
    assert_eq!(error_code(&h.take(a)[0]), "too_many_rooms");
    join(&mut h, a, "r1");
    assert!(
        matches!(&h.take(a)[0], HubFrame::Joined { .. }),
        "rejoining is not one more"
    );
    assert!(matches!(
        h.hub.join_room(a, "r3"),
        Err(HubError::TooManyRooms { max: 2, .. })
    ));
}

#[test]
fn list_with_a_room_pages_through_its_members() {
    let mut h = Harness::new(HubConfig {
        max_list_rows: 2,
        ..HubConfig::default()
    });
    let ids = clients(&mut h, ["A", "B", "C", "D"]);
    for &id in &ids[..3] {
        join(&mut h, id, "lobby");
    }
    h.take(ids[0]);
    h.send(ids[0], br#"{"type":"list","room":"lobby"}"#);
    let Some(HubFrame::Sessions {
        sessions,
        total,
        next,
        room,
        ..
    }) = h.take(ids[0]).pop()
    else {
        panic!("expected sessions");
    };
    assert_eq!(total, 3);
    assert_eq!(room.as_deref(), Some("lobby"));
    let names: Vec<_> = sessions
        .iter()
        .map(|s| s.client_name.clone().unwrap())
        .collect();
    assert_eq!(names, ["A", "B"]);
    let next = next.expect("a second page");
    h.send(
        ids[0],
        format!(r#"{{"type":"list","room":"lobby","after":"{next}"}}"#).as_bytes(),
    );
    let Some(HubFrame::Sessions { sessions, next, .. }) = h.take(ids[0]).pop() else {
        panic!("expected sessions");
    };
    assert_eq!(sessions[0].client_name.as_deref(), Some("C"));
    assert_eq!(next, None);
}

#[test]
fn a_takeover_hands_the_old_holders_rooms_to_nobody() {
    let mut h = Harness::new(HubConfig {
        alias_policy: AliasPolicy::Takeover,
        ..HubConfig::default()
    });
    let [old, other] = clients(&mut h, ["A", "B"]);
    join(&mut h, old, "lobby");
    join(&mut h, other, "lobby");
    let new = h.connect("new:1");
    h.sync(new, "A");
    assert_eq!(h.closed(old), Some(CloseReason::TakenOver));
    let members: Vec<_> = h.hub.room_members("lobby").map(|s| s.handle).collect();
    assert_eq!(
        members,
        [other],
        "the new holder joins only what it asks for"
    );
}

#[test]
fn alias_watchers_see_aliases_come_and_go_in_order_with_reasons() {
    let mut h = hub();
    let [w] = clients(&mut h, ["W"]);
    h.send(w, br#"{"type":"watch","id":1}"#);
    assert_eq!(h.take(w), [HubFrame::Watching { id: Some(json!(1)) }]);
    let a = h.connect("a:1");
    h.sync(a, "A");
    h.sync(a, "A2");
    let b = h.connect("b:1");
    h.sync(b, "A2"); // takes A2 over from a
    h.disconnect(b);
    assert_eq!(
        presence(&h.take(w)),
        [
            p("synced", "A", None, None),
            p("released", "A", None, None),
            p("synced", "A2", None, None),
            p("taken_over", "A2", None, None),
            p("synced", "A2", None, None),
            p("closed", "A2", None, Some("peer_closed")),
        ]
    );
}

#[test]
fn named_alias_watches_see_only_those_aliases_and_never_themselves() {
    let mut h = hub();
    let w = h.connect("w:1");
    h.send(w, br#"{"type":"watch","aliases":["A","W"]}"#);
    h.sync(w, "W");
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.disconnect(b);
    h.close_by_host(a);
    assert_eq!(
        presence(&h.take(w)),
        [
            p("synced", "A", None, None),
            p("closed", "A", None, Some("closed_by_host")),
        ]
    );
    h.send(w, br#"{"type":"unwatch","aliases":["A"]}"#);
    assert_eq!(h.take(w), [HubFrame::Unwatched { id: None }]);
    let [_a] = clients(&mut h, ["A"]);
    assert!(presence(&h.take(w)).is_empty());
}

#[test]
fn room_watchers_see_members_join_leave_and_drop() {
    let mut h = hub();
    let [w, a, outsider] = clients(&mut h, ["W", "A", "X"]);
    join(&mut h, w, "lobby");
    h.send(w, br#"{"type":"watch","room":"lobby"}"#);
    h.take(w);
    join(&mut h, a, "lobby");
    h.send(a, br#"{"type":"leave","room":"lobby"}"#);
    join(&mut h, a, "lobby");
    h.disconnect(outsider);
    h.disconnect(a);
    assert_eq!(
        presence(&h.take(w)),
        [
            p("joined", "A", Some("lobby"), None),
            p("left", "A", Some("lobby"), None),
            p("joined", "A", Some("lobby"), None),
            p("closed", "A", None, Some("peer_closed")),
        ]
    );
    // Leaving the room ends the room watch.
    let [b] = clients(&mut h, ["B"]);
    h.send(w, br#"{"type":"leave","room":"lobby"}"#);
    join(&mut h, b, "lobby");
    h.take(w);
    join(&mut h, w, "lobby");
    h.take(w);
    h.disconnect(b);
    assert!(presence(&h.take(w)).is_empty());
}

#[test]
fn a_last_will_goes_out_when_the_connection_drops() {
    let mut h = hub();
    let [b, c] = clients(&mut h, ["B", "C"]);
    join(&mut h, b, "lobby");
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"room":"lobby","message":"A dropped"}}"#,
    );
    join(&mut h, a, "lobby");
    h.take(b);
    h.disconnect(a);
    assert_eq!(
        h.take(b),
        [HubFrame::Info {
            from: "A".into(),
            room: Some("lobby".into()),
            last_will: true,
            message: json!("A dropped"),
        }]
    );
    assert!(h.take(c).is_empty());
}

#[test]
fn a_last_will_to_aliases_reaches_whoever_holds_them_then() {
    let mut h = hub();
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"to":["B","C"],"message":{"gone":true}}}"#,
    );
    let [b] = clients(&mut h, ["B"]);
    h.advance(std::time::Duration::from_secs(1));
    h.close_by_host(a);
    assert_eq!(
        h.take(b),
        [HubFrame::Info {
            from: "A".into(),
            room: None,
            last_will: true,
            message: json!({"gone": true}),
        }]
    );
}

#[test]
fn no_last_will_after_bye_or_takeover_and_a_resync_replaces_it() {
    let mut h = hub();
    let [b] = clients(&mut h, ["B"]);
    let will = br#"{"type":"sync","clientName":"A","lastWill":{"to":"B","message":"x"}}"#;
    // A clean bye: answered, closed, no will.
    let a = h.connect("a:1");
    h.send(a, will);
    h.send(a, br#"{"type":"ping"}{"type":"bye"}{"type":"ping"}"#);
    let frames = h.take(a);
    assert!(matches!(frames[frames.len() - 2], HubFrame::Pong { .. }));
    assert!(
        matches!(&frames[frames.len() - 1], HubFrame::Bye { reason, .. } if reason == "client_bye")
    );
    assert_eq!(h.closed(a), Some(CloseReason::ClientBye));
    // Taken over: the alias lives on, so no will.
    let a = h.connect("a:2");
    h.send(a, will);
    let a2 = h.connect("a:3");
    h.sync(a2, "A");
    assert_eq!(h.closed(a), Some(CloseReason::TakenOver));
    // Re-synced without a will: the will is gone.
    h.sync(a2, "A");
    h.disconnect(a2);
    assert!(h.take(b).is_empty(), "no will in any of these");
}

#[test]
fn bad_last_wills_are_refused_and_change_nothing() {
    let mut h = Harness::new(HubConfig {
        max_last_will_bytes: 100,
        ..HubConfig::default()
    });
    let a = h.connect("a:1");
    let big = "x".repeat(99); // 101 bytes with its quotes
    let too_many: Vec<String> = (0..101).map(|i| format!("\"a{i}\"")).collect();
    let cases = [
        (
            r#"{"type":"sync","clientName":"A","lastWill":{"message":1}}"#.to_string(),
            "invalid_field",
        ),
        (
            r#"{"type":"sync","clientName":"A","lastWill":{"room":"r","to":"B","message":1}}"#
                .to_string(),
            "invalid_field",
        ),
        (
            r#"{"type":"sync","clientName":"A","lastWill":{"to":[],"message":1}}"#.to_string(),
            "invalid_field",
        ),
        (
            r#"{"type":"sync","clientName":"A","lastWill":{"room":"r"}}"#.to_string(),
            "missing_field",
        ),
        (
            r##"{"type":"sync","clientName":"A","lastWill":{"room":"#r","message":1}}"##
                .to_string(),
            "invalid_room",
        ),
        (
            r#"{"type":"sync","clientName":"A","lastWill":{"to":["*"],"message":1}}"#.to_string(),
            "invalid_alias",
        ),
        (
            r#"{"type":"sync","clientName":"A","lastWill":7}"#.to_string(),
            "invalid_field",
        ),
        (
            format!(
                r#"{{"type":"sync","clientName":"A","lastWill":{{"to":"B","message":"{big}"}}}}"#
            ),
            "last_will_too_large",
        ),
        (
            format!(
                r#"{{"type":"sync","clientName":"A","lastWill":{{"to":[{}],"message":1}}}}"#,
                too_many.join(",")
            ),
            "invalid_field",
        ),
    ];
    for (input, code) in cases {
        h.send(a, input.as_bytes());
        let frames = h.take(a);
        assert_eq!(error_code(&frames[0]), code, "{input}");
        assert!(
            h.hub.session(a).unwrap().alias.is_none(),
            "{input}: no alias claimed"
        );
    }
    // The largest will kept is exactly the cap.
    let fits = "x".repeat(98);
    h.send(
        a,
        format!(r#"{{"type":"sync","clientName":"A","lastWill":{{"to":"B","message":"{fits}"}}}}"#)
            .as_bytes(),
    );
    assert!(matches!(h.take(a)[..], [HubFrame::Synced { .. }]));
}

#[test]
fn invalid_room_names_are_invalid_room_everywhere() {
    let mut h = hub();
    let [a] = clients(&mut h, ["A"]);
    for input in [
        r##"{"type":"leave","room":"#x"}"##,
        r#"{"type":"list","room":"*"}"#,
        r#"{"type":"watch","room":""}"#,
        r#"{"type":"unwatch","room":"*"}"#,
        r#"{"type":"info","room":"*","message":1}"#,
    ] {
        h.send(a, input.as_bytes());
        assert_eq!(error_code(&h.take(a)[0]), "invalid_room", "{input}");
    }
    h.send(a, br#"{"type":"watch","aliases":[]}"#);
    assert_eq!(error_code(&h.take(a)[0]), "invalid_field");
    assert!(matches!(
        h.hub.leave_room(a, "#x"),
        Err(HubError::InvalidRoom(_))
    ));
    assert!(matches!(
        h.hub.send_to_room("*", &1),
        Err(HubError::InvalidRoom(_))
    ));
}

#[test]
fn observation_reports_every_relay_in_delivery_order_when_on() {
    for observe in [false, true] {
        let mut h = Harness::new(HubConfig {
            observe,
            ..HubConfig::default()
        });
        let [a, b, c] = clients(&mut h, ["A", "B", "C"]);
        join(&mut h, b, "lobby");
        join(&mut h, c, "lobby");
        h.take_events();
        h.send(a, br#"{"type":"info","to":"B","message":1}{"type":"info","room":"lobby","message":2}{"type":"info","to":"*","message":3}{"type":"info","message":4}"#);
        let relayed: Vec<_> = h
            .take_events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Relayed {
                    handle,
                    alias,
                    target,
                    message,
                    recipients,
                    last_will,
                    ..
                } => Some((
                    handle,
                    alias.map(|a| a.to_string()),
                    target,
                    message.get().to_owned(),
                    recipients,
                    last_will,
                )),
                _ => None,
            })
            .collect();
        if !observe {
            assert!(relayed.is_empty(), "off by default: nothing reported");
            continue;
        }
        let target_names: Vec<String> = relayed
            .iter()
            .map(|r| match &r.2 {
                RelayTarget::Alias(a) => format!("alias:{a}"),
                RelayTarget::Room(r) => format!("room:{r}"),
                RelayTarget::Everyone => "*".into(),
            })
            .collect();
        assert_eq!(target_names, ["alias:B", "room:lobby", "*"]);
        let messages: Vec<_> = relayed.iter().map(|r| (r.3.as_str(), r.4)).collect();
        assert_eq!(messages, [("1", 1), ("2", 2), ("3", 2)]);
        assert!(relayed
            .iter()
            .all(|r| r.0 == a && r.1.as_deref() == Some("A") && !r.5));
    }
}

#[test]
fn observed_relays_follow_their_frames_in_the_output_order() {
    let mut h = Harness::new(HubConfig {
        observe: true,
        ..HubConfig::default()
    });
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.drain();
    h.hub
        .handle_data(
            h.now,
            a,
            br#"{"type":"info","to":"B","message":1}{"type":"info","to":"B","message":2}"#,
        )
        .unwrap();
    let mut order = Vec::new();
    while let Some(output) = h.hub.poll_output() {
        match output {
            tcphub_core::Output::Transmit { handle, frame } if handle == b => {
                order.push(format!("frame {}", String::from_utf8_lossy(&frame).trim()))
            }
            tcphub_core::Output::Event(Event::Relayed { message, .. }) => {
                order.push(format!("event {}", message.get()))
            }
            _ => {}
        }
    }
    assert_eq!(
        order,
        [
            r#"frame {"type":"info","from":"A","message":1}"#,
            "event 1",
            r#"frame {"type":"info","from":"A","message":2}"#,
            "event 2",
        ]
    );
}

#[test]
fn an_observed_last_will_is_marked() {
    let mut h = Harness::new(HubConfig {
        observe: true,
        ..HubConfig::default()
    });
    let [b] = clients(&mut h, ["B"]);
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"to":"B","message":"bye"}}"#,
    );
    h.take_events();
    h.disconnect(a);
    assert!(h.take_events().iter().any(|e| matches!(
        e,
        Event::Relayed { last_will: true, recipients: 1, target: RelayTarget::Alias(to), .. } if to.as_str() == "B"
    )));
    assert_eq!(h.take(b).len(), 1);
}

#[test]
fn with_relay_off_clients_cannot_reach_a_room_or_leave_a_will() {
    let mut h = Harness::new(HubConfig {
        relay: false,
        ..HubConfig::default()
    });
    let [a, b] = clients(&mut h, ["A", "B"]);
    join(&mut h, b, "lobby");
    say(&mut h, a, "lobby", "hi");
    assert_eq!(error_code(&h.take(a)[0]), "relay_disabled");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A2","lastWill":{"to":"B","message":1}}"#,
    );
    assert_eq!(error_code(&h.take(a)[0]), "relay_disabled");
    assert_eq!(h.hub.session(a).unwrap().alias.unwrap().as_str(), "A");
    // The host still reaches the room.
    assert_eq!(h.hub.send_to_room("lobby", "from the host").unwrap(), 1);
}

#[test]
fn a_small_room_in_a_big_hub_reaches_exactly_its_members() {
    // Fewer than 1 in 8 sessions are members: members are looked up rather
    // than walked to, and the result must be the same.
    let mut h = hub();
    let ids: Vec<SessionHandle> = (0..40)
        .map(|i| h.connect(&format!("10.1.0.{i}:1")))
        .collect();
    for &id in [ids[3], ids[17], ids[39]].iter() {
        join(&mut h, id, "small");
    }
    for &id in &ids {
        h.take(id);
    }
    say(&mut h, ids[17], "small", "psst");
    for (i, &id) in ids.iter().enumerate() {
        let got = h.take(id);
        if i == 3 || i == 39 {
            assert_eq!(
                got,
                [room_info("10.1.0.17:1", "small", json!("psst"))],
                "member {i}"
            );
        } else {
            assert!(got.is_empty(), "session {i} got {got:?}");
        }
    }
}

#[test]
fn an_observing_host_that_falls_behind_paces_the_clients_instead_of_missing_messages() {
    let mut h = Harness::new(HubConfig {
        observe: true,
        ..HubConfig::default()
    });
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.take_events();
    h.hub.handle_host_backlog(true);
    assert!(h.hub.is_host_behind());
    h.send(
        a,
        br#"{"type":"info","to":"B","message":1}{"type":"info","to":"B","message":2}{"type":"info","message":3}"#,
    );
    // The first relay is delivered and observed; then A waits for the host.
    assert_eq!(h.take(b).len(), 1);
    assert!(h.inboxes[&a].paused);
    let observed = |events: Vec<Event>| -> Vec<String> {
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Relayed { message, .. } | Event::Message { message, .. } => {
                    Some(message.get().to_owned())
                }
                _ => None,
            })
            .collect()
    };
    assert_eq!(observed(h.take_events()), ["1"]);
    // B is not held: it relays nothing the host observes until it does.
    h.send(b, br#"{"type":"ping"}"#);
    assert!(!h.inboxes[&b].paused);
    assert!(matches!(h.take(b)[..], [HubFrame::Pong { .. }]));
    h.hub.handle_host_backlog(false);
    h.drain();
    assert!(!h.inboxes[&a].paused, "resumed once the host caught up");
    assert_eq!(h.take(b).len(), 1);
    assert_eq!(
        observed(h.take_events()),
        ["2", "3"],
        "nothing missed, in order"
    );
}

#[test]
fn a_host_that_does_not_observe_is_never_waited_for() {
    let mut h = hub();
    let [a, b] = clients(&mut h, ["A", "B"]);
    h.hub.handle_host_backlog(true);
    assert!(
        !h.hub.is_host_behind(),
        "without observe the backlog is the driver's"
    );
    h.send(
        a,
        br#"{"type":"info","to":"B","message":1}{"type":"info","message":2}{"type":"info","to":"B","message":3}"#,
    );
    assert_eq!(h.take(b).len(), 2);
    assert!(!h.inboxes[&a].paused);
}

#[test]
fn a_last_will_reaches_every_member_whoever_joined_first() {
    // The dropped member is the room's oldest: it is gone from the session
    // table while its will goes out, and every member after it must still
    // get the will (the golden chat_room trace caught the walk stopping at
    // it).
    let mut h = hub();
    let a = h.connect("a:1");
    h.send(
        a,
        br#"{"type":"sync","clientName":"A","lastWill":{"room":"lobby","message":"gone"}}"#,
    );
    join(&mut h, a, "lobby");
    let others: Vec<SessionHandle> = (0..3)
        .map(|i| h.connect(&format!("10.2.0.{i}:1")))
        .collect();
    for &id in &others {
        join(&mut h, id, "lobby");
        h.take(id);
    }
    h.disconnect(a);
    for &id in &others {
        assert!(
            matches!(
                &h.take(id)[..],
                [HubFrame::Info {
                    last_will: true,
                    ..
                }]
            ),
            "{id} got the will"
        );
    }
}
