//! The tutorial's scenario, in memory: two clients sync, the host broadcasts
//! and sends to each alias, each client's `info` reaches the host.

mod common;

use common::{info, Harness};
use serde_json::json;
use tcphub_core::{CloseReason, Event, HubConfig, HubFrame, HUB_NAME};

#[test]
fn tutorial_scenario() {
    let mut h = Harness::new(HubConfig::default());
    let c1 = h.connect("127.0.0.1:53412");
    let c2 = h.connect("127.0.0.1:53413");

    // Exactly what the tutorial's clients write: no delimiter between the
    // `sync` and (three seconds later) the `info`, and a `clientName` in the
    // `info` that the hub must not trust.
    h.send(
        c1,
        r#"{"type":"sync","clientName":"Client-1","message":"同步基础信息"}"#.as_bytes(),
    );
    h.send(
        c2,
        r#"{"type":"sync","clientName":"Client-2","message":"同步基础信息"}"#.as_bytes(),
    );
    assert_eq!(
        h.take(c1),
        [HubFrame::Synced {
            client_name: "Client-1".into(),
            session_id: "127.0.0.1:53412".into(),
            id: None,
        }]
    );
    assert_eq!(
        h.take(c2),
        [HubFrame::Synced {
            client_name: "Client-2".into(),
            session_id: "127.0.0.1:53413".into(),
            id: None,
        }]
    );

    assert_eq!(h.hub.broadcast("大家来领物资了").unwrap(), 2);
    assert_eq!(
        h.hub.send_to_alias("Client-1", "赶紧来做核酸了").unwrap(),
        1
    );
    assert_eq!(
        h.hub.send_to_alias("Client-2", "一会儿上门做核酸").unwrap(),
        1
    );
    h.drain();
    assert_eq!(
        h.take(c1),
        [
            info(HUB_NAME, json!("大家来领物资了")),
            info(HUB_NAME, json!("赶紧来做核酸了"))
        ]
    );
    assert_eq!(
        h.take(c2),
        [
            info(HUB_NAME, json!("大家来领物资了")),
            info(HUB_NAME, json!("一会儿上门做核酸"))
        ]
    );

    h.take_events();
    h.send(
        c1,
        r#"{"type":"info","clientName":"Client-2","message":"1111"}"#.as_bytes(),
    );
    h.send(
        c2,
        r#"{"type":"info","clientName":"Client-2","message":"222"}"#.as_bytes(),
    );
    let messages: Vec<(String, String)> = h
        .take_events()
        .into_iter()
        .map(|e| match e {
            Event::Message { alias, message, .. } => {
                (alias.unwrap().to_string(), message.get().to_owned())
            }
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(
        messages,
        [
            ("Client-1".into(), "\"1111\"".into()),
            ("Client-2".into(), "\"222\"".into())
        ],
        "the sender is who the session synced as, not the clientName it claims"
    );
    assert!(
        h.take(c1).is_empty() && h.take(c2).is_empty(),
        "messages for the host go nowhere else"
    );

    // A close removes the session and frees its alias for a newcomer.
    h.disconnect(c1);
    let events = h.take_events();
    assert!(
        matches!(&events[0], Event::Released { handle: session, alias, .. } if *session == c1 && alias.as_str() == "Client-1")
    );
    assert!(
        matches!(&events[1], Event::Closed { handle: session, reason: CloseReason::PeerClosed, .. } if *session == c1)
    );
    assert_eq!(h.hub.session_count(), 1);
    assert!(h.hub.alias_holders("Client-1").is_empty());
    assert!(h.hub.send_to_alias("Client-1", "anyone?").is_err());

    let c3 = h.connect("127.0.0.1:53414");
    h.sync(c3, "Client-1");
    assert!(
        matches!(&h.take(c3)[0], HubFrame::Synced { client_name, .. } if client_name == "Client-1")
    );
    assert!(h.closed(c2).is_none());
}
